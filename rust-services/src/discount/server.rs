//! The Discount gRPC server (tonic), with the standard health and reflection services.

use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tower::util::MapResponseLayer;

use crate::auth::{AuthArgs, Guard};
use crate::cli::{self, Failure, ServeArgs};
use crate::lifecycle;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::proto::ecommerce::discount_server::{Discount, DiscountServer};
use crate::proto::ecommerce::{DiscountRequest, DiscountResponse};
use crate::tls::ServerTls;

use super::pricing::discounted_product;

/// The tutorial's default port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:11443";

/// The largest request Discount decodes: gRPC's customary 4 MiB, set explicitly so that every language refuses the
/// same sizes (RESOURCE_EXHAUSTED).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Command line of the `discount` binary.
#[derive(clap::Parser, Debug)]
#[command(name = "discount", about = "The tutorial's Discount gRPC service")]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub auth: AuthArgs,
}

/// The service's full gRPC name.
const SERVICE_NAME: &str = <DiscountServer<DiscountService> as NamedService>::NAME;

/// Implements `ecommerce.Discount`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscountService;

#[tonic::async_trait]
impl Discount for DiscountService {
    async fn apply_discount(
        &self,
        request: Request<DiscountRequest>,
    ) -> Result<Response<DiscountResponse>, Status> {
        let product = discounted_product(request.get_ref());
        Ok(Response::new(DiscountResponse {
            product: Some(product),
        }))
    }
}

/// Serves Discount until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    let tls = ServerTls::from_args(&args.serve, &[b"h2"])?;
    let mutual = tls.as_ref().is_some_and(ServerTls::mutual);
    let guard = Guard::from_args(&args.auth, mutual, SERVICE_NAME)?;
    let (listener, addr) = cli::bind(args.serve.listen.as_deref(), DEFAULT_LISTEN).await?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<DiscountServer<DiscountService>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Failure::Runtime(e.into()))?;
    // grpcio's reflection client speaks only v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| Failure::Runtime(e.into()))?;

    let router = Server::builder()
        .layer(MapResponseLayer::new(size_limit_in_grpc_words))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(InterceptedService::new(
            DiscountServer::new(DiscountService).max_decoding_message_size(MAX_REQUEST_BYTES),
            guard.clone(),
        ));

    tracing::info!(
        %addr,
        tls = tls.is_some(),
        mtls = mutual,
        allowed_clients = guard.allowed().map(|a| a.join(",")).unwrap_or_else(|| "any".into()),
        token = args.auth.token_file.is_some(),
        "serving discount"
    );
    lifecycle::announce_ready(&addr);
    let stop = lifecycle::shutdown_signal(args.serve.exit_on_stdin_eof);
    let stopping = async move {
        stop.await;
        health_reporter
            .set_not_serving::<DiscountServer<DiscountService>>()
            .await;
    };
    let served = match &tls {
        Some(tls) => {
            let incoming = tls.acceptor().incoming(listener);
            lifecycle::graceful(router.serve_with_incoming_shutdown(incoming, stopping)).await
        }
        None => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            lifecycle::graceful(router.serve_with_incoming_shutdown(incoming, stopping)).await
        }
    };
    served.map_err(|e| Failure::Runtime(e.into()))
}

/// A request above the size limit, answered in gRPC's own words: RESOURCE_EXHAUSTED, as the gRPC specification
/// asks, with grpc-core's message, which grpcio sends. tonic answers OUT_OF_RANGE "Error, decoded message length too
/// large: found N bytes, the limit is: M bytes" (from the length prefix, before it buffers anything); every other
/// response passes untouched.
fn size_limit_in_grpc_words(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    if headers.get("grpc-status").map(|v| v.as_bytes()) != Some(b"11") {
        return response;
    }
    let Some(sizes) = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .and_then(|m| tonic_size_limit(&percent_decode(m)))
    else {
        return response;
    };
    let (found, limit) = sizes;
    let message = format!("SERVER: Received message larger than max ({found} vs. {limit})");
    if let Ok(message) = http::HeaderValue::from_str(&message) {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
        headers.insert("grpc-message", message);
    }
    response
}

/// `(found, limit)` from tonic's size-limit message.
fn tonic_size_limit(message: &str) -> Option<(u64, u64)> {
    let rest = message.strip_prefix("Error, decoded message length too large: found ")?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    Some((found.parse().ok()?, limit.parse().ok()?))
}

/// Undoes the percent-encoding of a grpc-message header (invalid escapes are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonic_size_limit_becomes_resource_exhausted() {
        let status = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 4194305 bytes, the limit is: 4194304 bytes",
        );
        let response = size_limit_in_grpc_words(status.into_http());
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("grpc-status"), "8");
        assert_eq!(
            header("grpc-message"),
            "SERVER: Received message larger than max (4194305 vs. 4194304)"
        );
    }

    #[test]
    fn other_statuses_pass_untouched() {
        for status in [
            tonic::Status::out_of_range("found 1 bytes"),
            tonic::Status::permission_denied(
                "Error, decoded message length too large: found 1 bytes, the limit is: 0 bytes",
            ),
        ] {
            let code = status.code();
            let response = size_limit_in_grpc_words(status.into_http());
            assert_eq!(
                tonic::Status::from_header_map(response.headers())
                    .unwrap()
                    .code(),
                code
            );
        }
    }
}
