//! Code generated at build time from `proto/` (see build.rs); never edited by hand.

/// The tutorial's `ecommerce` package: the Discount service and its messages.
#[allow(missing_docs, clippy::all)]
pub mod ecommerce {
    tonic::include_proto!("ecommerce");
}

/// gRPC's interop test service (`grpc.testing`): TestService, UnimplementedService and their messages.
#[allow(missing_docs, clippy::all)]
pub mod grpc_testing {
    tonic::include_proto!("grpc.testing");
}

/// The Order service and its messages.
#[allow(missing_docs, clippy::all)]
pub mod order {
    tonic::include_proto!("order");
}

/// The Payment service and its messages.
#[allow(missing_docs, clippy::all)]
pub mod payment {
    tonic::include_proto!("payment");
}

/// Every compiled .proto as an encoded `FileDescriptorSet`, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/interop_descriptor.bin"));
