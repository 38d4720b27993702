//! The Discount gRPC server (tonic), with the standard health and reflection services.

use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

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
