//! What every gRPC service here shares: TLS, health and reflection, the READY line, a graceful stop, channels to
//! upstreams, and the google.rpc error model (BadRequest field violations in the status details).

use std::convert::Infallible;
use std::time::Duration;

use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use tower::util::MapResponseLayer;

use crate::cli::{self, Failure, HostPort, ServeArgs};
use crate::lifecycle;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::tls::{ClientTls, ServerTls};

/// The message of every INVALID_ARGUMENT with field violations; the violations say what is wrong.
pub const INVALID_REQUEST: &str = "invalid request";

/// One google.rpc.BadRequest field violation: the field's path (`items[0].quantity`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field path, as in AIP-193: proto field names, `[i]` for list elements.
    pub field: String,
    /// What is wrong, for a person.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// INVALID_ARGUMENT carrying `violations` as a google.rpc.BadRequest, in their order.
pub fn invalid(violations: Vec<Violation>) -> Status {
    let violations: Vec<FieldViolation> = violations
        .into_iter()
        .map(|v| FieldViolation::new(v.field, v.description))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        INVALID_REQUEST,
        ErrorDetails::with_bad_request(violations),
    )
}

/// The canonical name of a status code (`UNAVAILABLE`), as grpcio and the gRPC spec write it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// INTERNAL for a failure the caller cannot act on; the cause goes to the log, not to the caller.
pub fn internal(what: &str, error: anyhow::Error) -> Status {
    tracing::error!(error = format!("{error:#}"), "{what} failed");
    Status::internal(format!("{what} failed"))
}

/// A lazily connected channel to an upstream given by `--<name>-addr` (and `--<name>-server-name`), over TLS iff
/// `tls`; tonic reconnects it when it drops.
pub fn upstream_channel(
    name: &str,
    addr: &str,
    server_name: Option<&str>,
    tls: Option<&ClientTls>,
) -> Result<Channel, Failure> {
    let addr_flag = format!("--{name}-addr");
    let parsed = HostPort::parse(&addr_flag, addr)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{parsed}"))
        .map_err(|e| Failure::flag(&addr_flag, addr, e))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        let server_name = server_name.unwrap_or(&parsed.host);
        endpoint = endpoint
            .tls_config(tls.tonic_config(server_name))
            .map_err(|e| Failure::flag(&format!("--{name}-server-name"), server_name, e))?;
    }
    Ok(endpoint.connect_lazy())
}

/// Serves the service `make` builds, with health and reflection, until a shutdown signal, announcing READY once the
/// port is bound. Every flag is checked before `make` runs (it may create files, such as a database).
pub async fn serve<S>(
    program: &str,
    args: &ServeArgs,
    default_listen: &str,
    make: impl FnOnce() -> Result<S, Failure>,
) -> Result<(), Failure>
where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: axum::response::IntoResponse,
    S::Future: Send + 'static,
{
    // We accept TLS ourselves (to log why a handshake failed), so ALPN is ours to set too.
    let tls = ServerTls::from_args(args, &[b"h2"])?;
    HostPort::parse("--listen", args.listen.as_deref().unwrap_or(default_listen))?;
    let service = make()?;
    let (listener, addr) = cli::bind(args.listen.as_deref(), default_listen).await?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<S>().await;
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
        .add_service(service);

    tracing::info!(
        %addr,
        tls = tls.is_some(),
        mtls = tls.as_ref().is_some_and(ServerTls::mutual),
        "serving {program}"
    );
    let stop = lifecycle::shutdown_signal(args.exit_on_stdin_eof);
    lifecycle::announce_ready(&addr);
    let stopping = async move {
        stop.await;
        health_reporter.set_not_serving::<S>().await;
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

/// A request above a size limit, answered in gRPC's own words: RESOURCE_EXHAUSTED, as the gRPC specification asks,
/// with grpc-core's message, which grpcio sends. tonic answers OUT_OF_RANGE "Error, decoded message length too
/// large: found N bytes, the limit is: M bytes" (from the length prefix, before it buffers anything); every other
/// response passes untouched.
fn size_limit_in_grpc_words(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    if headers.get("grpc-status").map(|v| v.as_bytes()) != Some(b"11") {
        return response;
    }
    let Some((found, limit)) = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .and_then(|m| tonic_size_limit(&percent_decode(m)))
    else {
        return response;
    };
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
mod size_limit_tests {
    use super::*;

    #[test]
    fn tonic_size_limit_becomes_resource_exhausted() {
        let status = Status::out_of_range(
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
            Status::out_of_range("found 1 bytes"),
            Status::permission_denied(
                "Error, decoded message length too large: found 1 bytes, the limit is: 0 bytes",
            ),
        ] {
            let code = status.code();
            let response = size_limit_in_grpc_words(status.into_http());
            assert_eq!(
                Status::from_header_map(response.headers()).unwrap().code(),
                code
            );
        }
    }
}
