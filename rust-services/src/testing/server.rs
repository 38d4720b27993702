//! The interop TestService server (tonic): every server feature of the interop spec the cases need, with the
//! standard health and reflection services, following the project's service contract and the spec's flags.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use http_body::Frame;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http::{self, HeaderName, HeaderValue};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status, Streaming};

use super::wire::{FlagsBody, MessageFlags};
use super::{ECHO_INITIAL, ECHO_TRAILING_BIN, zeros};
use crate::cli::{Failure, ServeArgs};
use crate::deadline::incoming_timeout;
use crate::proto::grpc_testing::test_service_server::{TestService, TestServiceServer};
use crate::proto::grpc_testing::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use crate::rpc;
use crate::tls::ServerTls;

/// Where the server listens without `--listen` or `--port`: any free loopback port (the READY line tells which).
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// Where `--port` listens: every interface, as the spec's servers do.
const PORT_HOST: &str = "0.0.0.0";

/// The certificate `--use_tls` serves when no `--tls-cert` is given: what `make keys` writes, relative to the
/// working directory (the repository root).
pub const DEFAULT_TLS_CERT: &str = "keys/interop-server.pem";
/// The key of [`DEFAULT_TLS_CERT`].
pub const DEFAULT_TLS_KEY: &str = "keys/interop-server-key.pem";

/// Command line of the `interop-server` binary: the project's contract plus the interop spec's server flags.
#[derive(clap::Parser, Debug)]
#[command(
    name = "interop-server",
    about = "gRPC's interop TestService (grpc.testing), for the interop spec's test cases"
)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    /// The spec's flag: the port to listen on, on every interface (same as --listen 0.0.0.0:PORT).
    #[arg(long = "port", value_name = "PORT", conflicts_with = "listen")]
    pub port: Option<u16>,
    /// The spec's flag: serve TLS. Without --tls-cert it serves keys/interop-server.pem (written by `make keys`).
    #[arg(long = "use_tls", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub use_tls: bool,
}

/// The address to bind: `--listen`, or `--port` on every interface, or any free loopback port.
fn listen_address(args: &Args) -> String {
    match (&args.serve.listen, args.port) {
        (Some(listen), _) => listen.clone(),
        (None, Some(port)) => format!("{PORT_HOST}:{port}"),
        (None, None) => DEFAULT_LISTEN.to_string(),
    }
}

/// The contract's TLS flags, with `--use_tls` filling in the default certificate when none is given.
fn tls_args(args: &Args) -> Result<ServeArgs, Failure> {
    let mut serve = args.serve.clone();
    if args.use_tls && serve.tls_cert.is_none() {
        for path in [DEFAULT_TLS_CERT, DEFAULT_TLS_KEY] {
            if !std::path::Path::new(path).is_file() {
                return Err(Failure::flag(
                    "--use_tls",
                    "true",
                    format!(
                        "no --tls-cert given and {path} is missing: run `make keys` in the repository root, or \
                         pass --tls-cert/--tls-key"
                    ),
                ));
            }
        }
        serve.tls_cert = Some(PathBuf::from(DEFAULT_TLS_CERT));
        serve.tls_key = Some(PathBuf::from(DEFAULT_TLS_KEY));
    }
    Ok(serve)
}

/// Implements `grpc.testing.TestService`; `UnimplementedCall` is deliberately left unimplemented.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestServiceImpl;

/// Where a streaming handler's task sends the call's responses, or the status that ends it.
type Responses = mpsc::Sender<Result<StreamingOutputCallResponse, Status>>;

type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<StreamingOutputCallResponse, Status>> + Send>>;

#[tonic::async_trait]
impl TestService for TestServiceImpl {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let arrived_compressed = request
            .extensions()
            .get::<MessageFlags>()
            .and_then(MessageFlags::next);
        let request = request.into_inner();
        check_compression(request.expect_compressed.as_ref(), arrived_compressed)?;
        echo_status(request.response_status.as_ref())?;
        let mut response = Response::new(SimpleResponse {
            payload: Some(payload(request.response_size)?),
            ..SimpleResponse::default()
        });
        if !is_true(request.response_compressed.as_ref()) {
            response.disable_compression();
        }
        Ok(response)
    }

    type StreamingOutputCallStream = ResponseStream;

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let deadline = deadline(&request);
        let request = request.into_inner();
        Ok(respond(deadline, |tx| async move {
            let _ = answer(&request, &tx).await;
        }))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let flags = request.extensions().get::<MessageFlags>().cloned();
        let mut stream = request.into_inner();
        let mut aggregated_payload_size = 0usize;
        while let Some(message) = stream.message().await? {
            let arrived_compressed = flags.as_ref().and_then(MessageFlags::next);
            check_compression(message.expect_compressed.as_ref(), arrived_compressed)?;
            aggregated_payload_size += message.payload.map_or(0, |p| p.body.len());
        }
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: i32::try_from(aggregated_payload_size)
                .map_err(|_| Status::invalid_argument("more than 2 GiB of payload"))?,
        }))
    }

    type FullDuplexCallStream = ResponseStream;

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let deadline = deadline(&request);
        let mut stream = request.into_inner();
        Ok(respond(deadline, |tx| async move {
            loop {
                match stream.message().await {
                    Ok(Some(message)) => {
                        if answer(&message, &tx).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
            }
        }))
    }

    type HalfDuplexCallStream = ResponseStream;

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let deadline = deadline(&request);
        let mut stream = request.into_inner();
        let mut requests = Vec::new();
        while let Some(message) = stream.message().await? {
            requests.push(message);
        }
        Ok(respond(deadline, |tx| async move {
            for message in &requests {
                if answer(message, &tx).await.is_err() {
                    return;
                }
            }
        }))
    }

    async fn unimplemented_call(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "grpc.testing.TestService/UnimplementedCall is not implemented, on purpose",
        ))
    }
}

/// Sends the responses one streaming request asks for, or the status it asks to end with. `Err` when the call is
/// over (status sent, or the client gone).
async fn answer(request: &StreamingOutputCallRequest, tx: &Responses) -> Result<(), ()> {
    if let Err(status) = echo_status(request.response_status.as_ref()) {
        let _ = tx.send(Err(status)).await;
        return Err(());
    }
    for parameters in &request.response_parameters {
        let message = response_for(parameters).await;
        let failed = message.is_err();
        tx.send(message).await.map_err(|_| ())?;
        if failed {
            return Err(());
        }
    }
    Ok(())
}

async fn response_for(
    parameters: &ResponseParameters,
) -> Result<StreamingOutputCallResponse, Status> {
    if parameters.interval_us > 0 {
        tokio::time::sleep(Duration::from_micros(
            parameters.interval_us.unsigned_abs().into(),
        ))
        .await;
    }
    Ok(StreamingOutputCallResponse {
        payload: Some(payload(parameters.size)?),
    })
}

/// The client's deadline, from its `grpc-timeout` header.
fn deadline<T>(request: &Request<T>) -> Option<Instant> {
    Some(Instant::now() + incoming_timeout(request.metadata())?)
}

/// A streaming response fed by `feed`, its headers sent at once. tonic's server enforces a deadline only until the
/// response headers leave, and then as CANCELLED (its TimeoutExpired); past that, the stream would stay open
/// forever. So the call's deadline is enforced here: past it, the stream ends DEADLINE_EXCEEDED, as the spec's
/// servers end it.
fn respond<F, Fut>(deadline: Option<Instant>, feed: F) -> Response<ResponseStream>
where
    F: FnOnce(Responses) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let work = feed(tx.clone());
    tokio::spawn(async move {
        match deadline {
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, work).await.is_err() {
                    let _ = tx
                        .send(Err(Status::deadline_exceeded("deadline exceeded")))
                        .await;
                }
            }
            None => work.await,
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::new(Box::pin(stream))
}

fn is_true(value: Option<&BoolValue>) -> bool {
    value.is_some_and(|v| v.value)
}

/// The spec's CompressedRequest feature: when the client says whether a message is compressed, it must be so.
fn check_compression(
    expect: Option<&BoolValue>,
    arrived_compressed: Option<bool>,
) -> Result<(), Status> {
    let Some(expect) = expect else {
        return Ok(());
    };
    let arrived_compressed = arrived_compressed.unwrap_or(false);
    if expect.value != arrived_compressed {
        let (want, got) = match expect.value {
            true => ("compressed", "uncompressed"),
            false => ("uncompressed", "compressed"),
        };
        return Err(Status::invalid_argument(format!(
            "expected a {want} request message, got an {got} one"
        )));
    }
    Ok(())
}

/// The spec's Echo Status feature: a non-zero code ends the call with that code and message.
fn echo_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => Err(Status::new(
            Code::from_i32(status.code),
            status.message.clone(),
        )),
        _ => Ok(()),
    }
}

fn payload(size: i32) -> Result<crate::proto::grpc_testing::Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("negative payload size {size}")))?;
    Ok(zeros(size))
}

/// The TestService behind the spec's Echo Metadata feature and the per-message compression check: tonic hands a
/// handler neither trailers to add on success nor the compressed flag of a request message, so this wraps the
/// generated service at the HTTP level.
#[derive(Clone)]
struct Interop<S> {
    inner: S,
}

impl<S: NamedService> NamedService for Interop<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Interop<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let echo_initial = request.headers().get(ECHO_INITIAL).cloned();
        let echo_trailing = request.headers().get(ECHO_TRAILING_BIN).cloned();
        let flags = MessageFlags::default();
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(flags.clone());
        let request = http::Request::from_parts(parts, Body::new(FlagsBody::new(body, flags)));
        // The clone that was made ready is the one to call (tower's rule); keep a fresh clone for next time.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if let Some(value) = echo_initial {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(ECHO_INITIAL), value);
            }
            if let Some(value) = echo_trailing {
                let name = HeaderName::from_static(ECHO_TRAILING_BIN);
                // A trailers-only response (an error status) carries its trailers in the headers.
                if response.headers().contains_key("grpc-status") {
                    response.headers_mut().insert(name, value);
                } else {
                    response = response.map(|body| {
                        Body::new(WithTrailer {
                            inner: body,
                            trailer: Some((name, value)),
                        })
                    });
                }
            }
            Ok(response)
        })
    }
}

/// A response body whose trailers get one more entry.
struct WithTrailer {
    inner: Body,
    trailer: Option<(HeaderName, HeaderValue)>,
}

impl http_body::Body for WithTrailer {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    if let Some((name, value)) = self.trailer.take() {
                        trailers.insert(name, value);
                    }
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

/// Serves the TestService until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    let mut serve_args = tls_args(&args)?;
    serve_args.listen = Some(listen_address(&args));
    // Checked here as well as in rpc::serve, so that the line naming the certificate is logged only for a good one.
    if ServerTls::from_args(&serve_args, &[])?.is_some()
        && let Some(cert) = &serve_args.tls_cert
    {
        tracing::info!(cert = %cert.display(), "TLS certificate");
    }
    rpc::serve("interop TestService", &serve_args, DEFAULT_LISTEN, || {
        Ok(Interop {
            inner: TestServiceServer::new(TestServiceImpl)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        })
    })
    .await
}
