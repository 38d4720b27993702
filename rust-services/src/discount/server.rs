//! The Discount gRPC server (tonic), with the standard health and reflection services (see `crate::grpc_server`).

use tonic::{Request, Response, Status};

use crate::cli::{self, Failure, ServeArgs};
use crate::grpc_server;
use crate::proto::ecommerce::discount_server::{Discount, DiscountServer};
use crate::proto::ecommerce::{DiscountRequest, DiscountResponse};
use crate::tls::ServerTls;

use super::pricing::discounted_product;

/// The tutorial's default port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:11443";

/// Command line of the `discount` binary.
#[derive(clap::Parser, Debug)]
#[command(name = "discount", about = "The tutorial's Discount gRPC service")]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
}

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
    let tls = ServerTls::from_args(&args.serve, &[])?;
    let (listener, addr) = cli::bind(args.serve.listen.as_deref(), DEFAULT_LISTEN).await?;

    let (router, health_reporter) =
        grpc_server::router::<DiscountServer<DiscountService>>(tls.as_ref()).await?;
    let router = router.add_service(DiscountServer::new(DiscountService));

    tracing::info!(
        %addr,
        tls = tls.is_some(),
        mtls = tls.as_ref().is_some_and(ServerTls::mutual),
        "serving discount"
    );
    grpc_server::serve::<DiscountServer<DiscountService>>(
        router,
        health_reporter,
        listener,
        &addr,
        args.serve.exit_on_stdin_eof,
    )
    .await
}
