//! The interop client (tonic): the spec's client flags, one channel, one case per run.
//!
//! Exit 0 when the case passes; exit 1 and one line `<case>: got X, want Y` when it fails; exit 2 and one line
//! `interop-client: error: ...` when the command line or a certificate file is wrong.

use std::path::PathBuf;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::codegen::http;
use tonic::codegen::{BoxFuture, Service};
use tonic::transport::{Channel, Endpoint};

use super::cases::{self, CASES};
use super::wire::{FlagsBody, MessageFlags};
use crate::cli::{Failure, HostPort, UpstreamArgs};
use crate::tls::ClientTls;

/// The CA `--use_test_ca` trusts: what `make keys` writes, relative to the working directory (the repository
/// root). It signs `keys/interop-server.pem`, which the servers serve under `--use_tls` without `--tls-cert`.
pub const TEST_CA: &str = "keys/ca.pem";

/// How long one case may take, start to finish, so a server that never answers fails the case instead of hanging.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Command line of the `interop-client` binary: the interop spec's client flags, plus a client identity for mTLS.
#[derive(clap::Parser, Debug)]
#[command(
    name = "interop-client",
    about = "Runs one of the interop spec's test cases against a grpc.testing.TestService"
)]
pub struct Args {
    /// The server host to connect to.
    #[arg(long = "server_host", value_name = "HOST", default_value = "localhost")]
    pub server_host: String,
    /// The server port to connect to.
    #[arg(long = "server_port", value_name = "PORT")]
    pub server_port: u16,
    /// The name to verify the server's certificate against and to send as :authority (default: --server_host).
    #[arg(long = "server_host_override", value_name = "HOST")]
    pub server_host_override: Option<String>,
    /// Connect with TLS.
    #[arg(long = "use_tls", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub use_tls: bool,
    /// Trust the test CA (keys/ca.pem, written by `make keys`) instead of a --ca file.
    #[arg(long = "use_test_ca", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub use_test_ca: bool,
    /// CA certificate(s) (PEM) to trust; implies TLS.
    #[arg(long = "ca", alias = "ca_file", value_name = "PATH")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "PATH", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "PATH", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The test case to run.
    #[arg(long = "test_case", value_name = "CASE", value_parser = clap::builder::PossibleValuesParser::new(CASES))]
    pub test_case: String,
}

/// A channel that records the compressed flag of every response message it receives, for the compression cases.
#[derive(Clone)]
pub struct RecordingChannel {
    inner: Channel,
    flags: MessageFlags,
}

impl RecordingChannel {
    /// The flags of the response messages received since the last [`MessageFlags::clear`].
    pub fn flags(&self) -> &MessageFlags {
        &self.flags
    }
}

impl Service<http::Request<Body>> for RecordingChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let flags = self.flags.clone();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            Ok(response.map(|body| Body::new(FlagsBody::new(body, flags))))
        })
    }
}

/// The channel the flags describe, connected lazily (a refused connection fails the case, not the start-up).
pub fn channel(args: &Args) -> Result<RecordingChannel, Failure> {
    let addr = HostPort {
        host: args.server_host.clone(),
        port: args.server_port,
    };
    let server_name = args
        .server_host_override
        .clone()
        .unwrap_or_else(|| args.server_host.clone());
    let ca = match (&args.ca, args.use_test_ca) {
        (Some(ca), _) => Some(ca.clone()),
        (None, true) => Some(PathBuf::from(TEST_CA)),
        (None, false) => None,
    };
    let tls = args.use_tls || ca.is_some();
    if tls && ca.is_none() {
        return Err(Failure::flag(
            "--use_tls",
            "true",
            "no trust roots: give --use_test_ca (keys/ca.pem) or --ca PATH",
        ));
    }
    let scheme = if tls { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| Failure::flag("--server_host", &args.server_host, e))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    if tls {
        let upstream = UpstreamArgs {
            ca,
            cert: args.cert.clone(),
            key: args.key.clone(),
        };
        let tls = ClientTls::from_args(&upstream)?.expect("a CA was given");
        // The spec's override names the server in TLS and in :authority alike.
        let origin = format!(
            "https://{}",
            HostPort {
                host: server_name.clone(),
                port: args.server_port
            }
        );
        endpoint = endpoint
            .tls_config(tls.tonic_config(&server_name))
            .map_err(|e| Failure::flag("--server_host_override", &server_name, e))?
            .origin(
                origin
                    .parse()
                    .map_err(|e| Failure::flag("--server_host_override", &server_name, e))?,
            );
    }
    Ok(RecordingChannel {
        inner: endpoint.connect_lazy(),
        flags: MessageFlags::default(),
    })
}

/// Runs the case the flags name and maps its outcome to the exit code.
pub async fn run(args: Args) -> ExitCode {
    let channel = match channel(&args) {
        Ok(channel) => channel,
        Err(failure) => {
            crate::lifecycle::say(&format!("interop-client: error: {failure}"));
            return ExitCode::from(failure.exit_code());
        }
    };
    let case = args.test_case.as_str();
    let outcome = match tokio::time::timeout(CASE_TIMEOUT, cases::run(case, channel)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(cases::Mismatch::new(
            format!("no outcome within {CASE_TIMEOUT:?}"),
            "the case to finish",
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(mismatch) => {
            crate::lifecycle::say(&format!("{case}: {mismatch}"));
            ExitCode::FAILURE
        }
    }
}
