//! The Payment gRPC server (tonic), with the standard health and reflection services.

use std::path::PathBuf;

use tonic::{Request, Response, Status};

use crate::cli::{Failure, ServeArgs};
use crate::proto::payment::payment_server::{Payment, PaymentServer};
use crate::proto::payment::{CreatePaymentRequest, CreatePaymentResponse};
use crate::rpc;

use super::charge::{self, DEFAULT_LIMIT_CENTS};
use super::storage::{PaymentStore, Recorded};

/// Payment's default port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:11444";

/// Command line of the `payment` binary.
#[derive(clap::Parser, Debug)]
#[command(
    name = "payment",
    about = "The Payment gRPC service: one charge per order, up to a limit"
)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    /// SQLite database file (created if missing).
    #[arg(long, value_name = "PATH", default_value = "payment.sqlite3")]
    pub db: PathBuf,
    /// Refuse totals above this many cents.
    #[arg(long, value_name = "CENTS", default_value_t = DEFAULT_LIMIT_CENTS)]
    pub limit_cents: i64,
}

/// Implements `payment.Payment`.
#[derive(Clone)]
pub struct PaymentService {
    store: PaymentStore,
    limit_cents: i64,
}

impl PaymentService {
    /// Payment over `store`, refusing totals above `limit_cents`.
    pub fn new(store: PaymentStore, limit_cents: i64) -> Self {
        PaymentService { store, limit_cents }
    }
}

#[tonic::async_trait]
impl Payment for PaymentService {
    async fn create(
        &self,
        request: Request<CreatePaymentRequest>,
    ) -> Result<Response<CreatePaymentResponse>, Status> {
        let request = request.into_inner();
        let violations = charge::validate(&request);
        if !violations.is_empty() {
            return Err(rpc::invalid(violations));
        }
        if let Err(refusal) = charge::check_limit(request.total_price_cents, self.limit_cents) {
            tracing::info!(
                order_id = request.order_id,
                total_cents = request.total_price_cents,
                reason = refusal.reason,
                "payment refused"
            );
            return Err(refusal.to_status());
        }
        let recorded = self
            .store
            .record(
                request.user_id,
                request.order_id.clone(),
                request.total_price_cents,
            )
            .await
            .map_err(|e| rpc::internal("storing the payment", e))?;
        let payment_id = match recorded {
            Recorded::Charged(id) => {
                tracing::info!(
                    order_id = request.order_id,
                    total_cents = request.total_price_cents,
                    payment_id = id,
                    "charged"
                );
                id
            }
            Recorded::AlreadyPaid(id) => {
                tracing::info!(
                    order_id = request.order_id,
                    payment_id = id,
                    "already paid, not charged again"
                );
                id
            }
            Recorded::Conflict => {
                return Err(Status::already_exists(format!(
                    "order {} already has a payment with other details",
                    request.order_id
                )));
            }
        };
        Ok(Response::new(CreatePaymentResponse { payment_id }))
    }
}

/// Serves Payment until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    rpc::serve("payment", &args.serve, DEFAULT_LISTEN, || {
        let store = PaymentStore::open(&args.db)?;
        Ok(PaymentServer::new(PaymentService::new(
            store,
            args.limit_cents,
        )))
    })
    .await
}
