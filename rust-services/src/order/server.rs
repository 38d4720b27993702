//! The Order gRPC server (tonic): Create runs the saga (price through Discount, store PENDING, charge through
//! Payment, then PAID or CANCELED), under the caller's deadline, retrying Payment while it is UNAVAILABLE.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::future::try_join_all;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::catalog::data::products;
use crate::cli::{Failure, ServeArgs, UpstreamArgs};
use crate::deadline;
use crate::payment::charge::Refusal;
use crate::proto::ecommerce::discount_client::DiscountClient;
use crate::proto::ecommerce::{Customer, DiscountRequest, Product};
use crate::proto::order::order_server::{Order as OrderApi, OrderServer};
use crate::proto::order::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, GetOrderResponse, OrderDetails,
    OrderItem, OrderStatus,
};
use crate::proto::payment::CreatePaymentRequest;
use crate::proto::payment::payment_client::PaymentClient;
use crate::rpc::{self, Violation};
use crate::sqlite;
use crate::tls::ClientTls;

use super::storage::{OrderStore, StoredOrder};
use super::validation::{self, ORDER_ID_EMPTY, TOTAL_OVERFLOWS};

/// Order's default port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:11445";

/// How long a Create may take when the caller sets no deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Payment retries on UNAVAILABLE: the first after about 50 ms, doubling up to 1 s, with jitter, at most 4 retries
/// (5 attempts, grpcio's cap, as the Python twin's retry policy) and never past the deadline.
pub fn payment_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_times(4)
        .with_jitter()
}

/// Command line of the `order` binary.
#[derive(clap::Parser, Debug)]
#[command(
    name = "order",
    about = "The Order gRPC service, pricing through Discount and charging through Payment"
)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub upstream: UpstreamArgs,
    /// Discount's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = crate::catalog::server::DEFAULT_DISCOUNT_ADDR)]
    pub discount_addr: String,
    /// Name Discount's certificate must carry (default: the host part of --discount-addr).
    #[arg(long, value_name = "NAME")]
    pub discount_server_name: Option<String>,
    /// Payment's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "localhost:11444")]
    pub payment_addr: String,
    /// Name Payment's certificate must carry (default: the host part of --payment-addr).
    #[arg(long, value_name = "NAME")]
    pub payment_server_name: Option<String>,
    /// SQLite database file (created if missing).
    #[arg(long, value_name = "PATH", default_value = "order.sqlite3")]
    pub db: PathBuf,
}

/// Implements `order.Order`.
#[derive(Clone)]
pub struct OrderService {
    store: OrderStore,
    discount: DiscountClient<Channel>,
    payment: PaymentClient<Channel>,
    catalog: Arc<Vec<Product>>,
}

impl OrderService {
    /// Order over `store`, calling Discount and Payment on these channels.
    pub fn new(store: OrderStore, discount: Channel, payment: Channel) -> Self {
        OrderService {
            store,
            discount: DiscountClient::new(discount),
            payment: PaymentClient::new(payment),
            catalog: Arc::new(products()),
        }
    }

    /// Each line's unit price for `user_id`, all Discount calls at once, each under the deadline.
    async fn price(
        &self,
        user_id: i64,
        lines: Vec<(Product, i64)>,
        deadline: Instant,
    ) -> Result<Vec<OrderItem>, Status> {
        // Validation bounds user ids to Discount's int32.
        let customer = Customer {
            id: i32::try_from(user_id).map_err(|_| Status::internal("user id out of range"))?,
            ..Customer::default()
        };
        let calls = lines.into_iter().map(|(product, quantity)| {
            let mut client = self.discount.clone();
            let request = DiscountRequest {
                customer: Some(customer.clone()),
                product: Some(product.clone()),
            };
            async move {
                let answer = deadline::bounded(
                    deadline,
                    client.apply_discount(deadline::request(request, deadline)),
                )
                .await
                .map_err(|status| upstream_failed("discount", &status))?;
                let discount = answer.into_inner().product.and_then(|p| p.discount_value);
                Ok::<_, Status>(OrderItem {
                    product_code: product.slug.clone(),
                    quantity,
                    unit_price_cents: validation::unit_price(
                        product.price_in_cents,
                        discount.as_ref(),
                    ),
                })
            }
        });
        try_join_all(calls).await
    }

    /// Charges a PENDING order and settles it: PAID, or CANCELED with Payment's refusal.
    async fn settle(&self, stored: StoredOrder, deadline: Instant) -> Result<OrderDetails, Status> {
        match stored.order.status() {
            OrderStatus::Paid => return Ok(stored.order),
            OrderStatus::Canceled => return Err(canceled(&stored)),
            _ => {}
        }
        let order = stored.order;
        let request = CreatePaymentRequest {
            user_id: order.user_id,
            order_id: order.id.clone(),
            total_price_cents: order.total_price_cents,
        };
        let attempt = || {
            let mut client = self.payment.clone();
            let request = request.clone();
            async move { client.create(deadline::request(request, deadline)).await }
        };
        let charged = deadline::bounded(
            deadline,
            attempt
                .retry(payment_backoff())
                .sleep(tokio::time::sleep)
                .when(|status: &Status| status.code() == Code::Unavailable)
                .notify(|status: &Status, after: Duration| {
                    tracing::warn!(
                        order_id = order.id,
                        retry_in_ms = after.as_millis() as u64,
                        details = status.message(),
                        "payment unavailable, retrying"
                    );
                }),
        )
        .await;
        match charged {
            Ok(response) => {
                let payment_id = response.into_inner().payment_id;
                let paid = self
                    .store
                    .mark_paid(order.id.clone(), payment_id)
                    .await
                    .map_err(|e| rpc::internal("storing the order", e))?;
                tracing::info!(
                    order_id = order.id,
                    payment_id = paid.order.payment_id,
                    "order paid"
                );
                Ok(paid.order)
            }
            Err(status) if status.code() == Code::FailedPrecondition => {
                let refusal = Refusal::from_status(&status);
                let canceled_order = self
                    .store
                    .mark_canceled(order.id.clone(), refusal)
                    .await
                    .map_err(|e| rpc::internal("storing the order", e))?;
                tracing::info!(
                    order_id = order.id,
                    reason = status.message(),
                    "order canceled"
                );
                Err(canceled(&canceled_order))
            }
            // The payment may or may not have happened: the order stays PENDING, and a Create with the same
            // idempotency key charges it again (Payment keys charges by order, so never twice).
            Err(status) => Err(upstream_failed("payment", &status)),
        }
    }
}

/// An upstream's failure as this service's: the same code, and a message that names the upstream and the code but
/// not the transport's words (which differ by language); those go to the log.
fn upstream_failed(upstream: &str, status: &Status) -> Status {
    let code = rpc::code_name(status.code());
    tracing::warn!(
        upstream,
        code,
        details = status.message(),
        "upstream call failed"
    );
    Status::new(status.code(), format!("{upstream} failed: {code}"))
}

/// The answer for a canceled order: Payment's refusal, naming the order.
fn canceled(stored: &StoredOrder) -> Status {
    let mut refusal = stored.refusal.clone().unwrap_or(Refusal {
        message: String::new(),
        reason: String::new(),
        domain: String::new(),
        metadata: Default::default(),
    });
    refusal.message = format!("order canceled: {}", refusal.message);
    refusal
        .metadata
        .insert("order_id".into(), stored.order.id.clone());
    refusal.to_status()
}

#[tonic::async_trait]
impl OrderApi for OrderService {
    async fn create(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let deadline = deadline::of(&request, DEFAULT_DEADLINE);
        let request = request.into_inner();
        let lines = validation::validate_create(&request, &self.catalog).map_err(rpc::invalid)?;
        let key = (!request.idempotency_key.is_empty()).then(|| request.idempotency_key.clone());
        if let Some(key) = &key {
            let first = self
                .store
                .find_by_key(request.user_id, key.clone())
                .await
                .map_err(|e| rpc::internal("reading the order", e))?;
            if let Some(first) = first {
                tracing::info!(
                    order_id = first.order.id,
                    "same idempotency key: first order"
                );
                let order = self.settle(first, deadline).await?;
                return Ok(Response::new(CreateOrderResponse { order: Some(order) }));
            }
        }
        let items = self.price(request.user_id, lines, deadline).await?;
        let total = validation::total_cents(items.iter().map(|i| (i.unit_price_cents, i.quantity)))
            .ok_or_else(|| rpc::invalid(vec![Violation::new("items", TOTAL_OVERFLOWS)]))?;
        let order = OrderDetails {
            id: sqlite::new_id("ord"),
            user_id: request.user_id,
            items,
            status: OrderStatus::Pending as i32,
            total_price_cents: total,
            payment_id: String::new(),
            created_at_unix_ms: sqlite::now_unix_ms(),
        };
        let stored = self
            .store
            .insert(order, key)
            .await
            .map_err(|e| rpc::internal("storing the order", e))?;
        tracing::info!(
            order_id = stored.order.id,
            total_cents = total,
            "order stored"
        );
        let order = self.settle(stored, deadline).await?;
        Ok(Response::new(CreateOrderResponse { order: Some(order) }))
    }

    async fn get(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<GetOrderResponse>, Status> {
        let id = request.into_inner().order_id;
        if id.is_empty() {
            return Err(rpc::invalid(vec![Violation::new(
                "order_id",
                ORDER_ID_EMPTY,
            )]));
        }
        let stored = self
            .store
            .find(id.clone())
            .await
            .map_err(|e| rpc::internal("reading the order", e))?
            .ok_or_else(|| Status::not_found(format!("order \"{id}\" not found")))?;
        Ok(Response::new(GetOrderResponse {
            order: Some(stored.order),
        }))
    }
}

/// Serves Order until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    let tls = ClientTls::from_args(&args.upstream)?;
    let discount = rpc::upstream_channel(
        "discount",
        &args.discount_addr,
        args.discount_server_name.as_deref(),
        tls.as_ref(),
    )?;
    let payment = rpc::upstream_channel(
        "payment",
        &args.payment_addr,
        args.payment_server_name.as_deref(),
        tls.as_ref(),
    )?;
    rpc::serve("order", &args.serve, DEFAULT_LISTEN, || {
        let store = OrderStore::open(&args.db)?;
        tracing::info!(
            discount = args.discount_addr,
            payment = args.payment_addr,
            "order upstreams"
        );
        Ok(OrderServer::new(OrderService::new(
            store, discount, payment,
        )))
    })
    .await
}
