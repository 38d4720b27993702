//! The Discount gRPC server (tonic), with the standard health and reflection services.

use std::time::Duration;

use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::auth::{AuthArgs, Guard};
use crate::cli::{Failure, ServeArgs};
use crate::proto::ecommerce::discount_server::{Discount, DiscountServer};
use crate::proto::ecommerce::{DiscountRequest, DiscountResponse};
use crate::{deadline, rpc};

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
    /// TEST ONLY: wait this long before every answer, so tests can make a slow Discount without a mock.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay_ms: u64,
}

/// The service's full gRPC name.
const SERVICE_NAME: &str = <DiscountServer<DiscountService> as NamedService>::NAME;

/// Implements `ecommerce.Discount`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscountService {
    delay: Duration,
}

impl DiscountService {
    /// A Discount that waits `delay` before answering (zero: answers at once).
    pub fn with_delay(delay: Duration) -> Self {
        DiscountService { delay }
    }
}

#[tonic::async_trait]
impl Discount for DiscountService {
    async fn apply_discount(
        &self,
        request: Request<DiscountRequest>,
    ) -> Result<Response<DiscountResponse>, Status> {
        if !self.delay.is_zero() {
            // Whether the caller passed a deadline on: tests read this line to see deadlines propagate.
            let caller_deadline = deadline::incoming_timeout(request.metadata()).is_some();
            tracing::info!(
                delay_ms = self.delay.as_millis() as u64,
                caller_deadline,
                "delaying the answer"
            );
            tokio::time::sleep(self.delay).await;
        }
        let product = discounted_product(request.get_ref());
        Ok(Response::new(DiscountResponse {
            product: Some(product),
        }))
    }
}

/// Serves Discount until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    let service = DiscountService::with_delay(Duration::from_millis(args.delay_ms));
    let guard = Guard::from_args(&args.auth, args.serve.client_ca.is_some(), SERVICE_NAME)?;
    rpc::serve("discount", &args.serve, DEFAULT_LISTEN, || {
        Ok(InterceptedService::new(
            DiscountServer::new(service).max_decoding_message_size(MAX_REQUEST_BYTES),
            guard,
        ))
    })
    .await
}
