//! gRPC's interop test cases (grpc/grpc `doc/interop-test-descriptions.md`): the TestService server, the interop
//! client and its cases, named and sized as the spec names and sizes them. The Python twin is
//! `interop_services.testing` in `python-services/`.

pub mod cases;
pub mod client;
pub mod server;
pub mod wire;

use crate::proto::grpc_testing::{Payload, PayloadType};

/// Metadata the server echoes in its response headers (the spec's Echo Metadata feature).
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Binary metadata the server echoes in its trailers.
pub const ECHO_TRAILING_BIN: &str = "x-grpc-test-echo-trailing-bin";

/// A payload of `size` zero bytes, the only payload the spec asks for.
pub fn zeros(size: usize) -> Payload {
    Payload {
        r#type: PayloadType::Compressable as i32,
        body: vec![0; size],
    }
}
