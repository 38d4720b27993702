//! What every gRPC service here serves besides its own (Python twin: `interop_services.grpc_server`): the standard
//! health service, reflection (v1, and v1alpha for grpcio's reflection client, which speaks only that), TLS when
//! asked, and a graceful stop that turns the service's health to NOT_SERVING before connections close.

use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::server::HealthReporter;

use crate::cli::{Failure, HostPort};
use crate::lifecycle;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::tls::ServerTls;

/// A router secured by `tls` that already serves health (SERVING for `S`) and reflection; add the service itself.
pub async fn router<S: NamedService>(
    tls: Option<&ServerTls>,
) -> Result<(Router, HealthReporter), Failure> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<S>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls.tonic_config())
            .map_err(|e| Failure::Runtime(e.into()))?;
    }
    let router = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((router, health_reporter))
}

/// Announces READY at `addr`, then serves `router` on `listener` until a stop signal; `S` turns NOT_SERVING first.
pub async fn serve<S: NamedService>(
    router: Router,
    health_reporter: HealthReporter,
    listener: tokio::net::TcpListener,
    addr: &HostPort,
    exit_on_stdin_eof: bool,
) -> Result<(), Failure> {
    lifecycle::announce_ready(addr);
    let stop = lifecycle::shutdown_signal(exit_on_stdin_eof);
    let stopping = async move {
        stop.await;
        health_reporter.set_not_serving::<S>().await;
    };
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    lifecycle::graceful(router.serve_with_incoming_shutdown(incoming, stopping))
        .await
        .map_err(|e| Failure::Runtime(e.into()))
}
