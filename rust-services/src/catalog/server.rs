//! The Catalog HTTP server (axum) and its one long-lived Discount channel (tonic).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::join_all;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::cli::{self, Failure, ServeArgs, UpstreamArgs};
use crate::proto::ecommerce::discount_client::DiscountClient;
use crate::proto::ecommerce::{Customer, DiscountRequest, DiscountResponse, Product};
use crate::tls::{ClientTls, ServerTls};
use crate::{lifecycle, rpc};

use super::data::{find_customer, parse_customer_id, products};
use super::render::render_products;

/// The tutorial's default port.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:11080";

/// The tutorial's Discount address: where Catalog (when neither the flag nor `DISCOUNT_SERVICE_HOST` gives one) and
/// Order look for Discount by default.
pub const DEFAULT_DISCOUNT_ADDR: &str = "localhost:11443";

const TEXT: &str = "text/plain; charset=utf-8";

/// The most header bytes (names and values) a request may carry; more gets 431. The tutorial's Go server allowed
/// 1 MB; every language here answers the same above 16 KiB, a common proxy limit.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The most header fields a request may carry; more gets 431.
pub const MAX_HEADER_FIELDS: usize = 100;

/// What the HTTP parser itself accepts, set explicitly well above the limits the application enforces, so that the
/// application, not a library default, decides (hyper and aiohttp have different defaults, and answer differently).
pub const PARSER_MAX_BYTES: usize = 1024 * 1024;

/// See [`PARSER_MAX_BYTES`].
pub const PARSER_MAX_FIELDS: usize = 1000;

/// Command line of the `catalog` binary.
#[derive(clap::Parser, Debug)]
#[command(
    name = "catalog",
    about = "The tutorial's Catalog HTTP service, pricing products through Discount"
)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub upstream: UpstreamArgs,
    /// Discount's gRPC address.
    #[arg(long, value_name = "HOST:PORT", env = "DISCOUNT_SERVICE_HOST", default_value = DEFAULT_DISCOUNT_ADDR)]
    pub discount_addr: String,
    /// Name Discount's certificate must carry (default: the host part of --discount-addr).
    #[arg(long, value_name = "NAME")]
    pub discount_server_name: Option<String>,
    /// One deadline for all Discount calls of one HTTP request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub discount_timeout_ms: u64,
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    discount: DiscountClient<Channel>,
    discount_timeout: Duration,
}

impl AppState {
    /// State over an existing Discount channel.
    pub fn new(channel: Channel, discount_timeout: Duration) -> Self {
        AppState {
            discount: DiscountClient::new(channel),
            discount_timeout,
        }
    }
}

/// The HTTP routes, separate from any socket so tests can drive them in-process.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, TEXT)], "It is working.") }),
        )
        .route(
            "/healthz",
            get(|| async { ([(header::CONTENT_TYPE, TEXT)], "ok") }),
        )
        .route("/products", get(get_products))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, TEXT)],
                "404 page not found\n",
            )
        })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::CONTENT_TYPE, TEXT)],
                "Method Not Allowed\n",
            )
        })
        .layer(from_fn(limit_headers))
        .with_state(Arc::new(state))
}

/// 431 for a request whose headers exceed [`MAX_HEADER_BYTES`] or [`MAX_HEADER_FIELDS`], with the body Go's net/http
/// answers when its own limit is passed.
async fn limit_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADER_FIELDS {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            [(header::CONTENT_TYPE, TEXT)],
            "431 Request Header Fields Too Large",
        )
            .into_response();
    }
    next.run(request).await
}

async fn get_products(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let products = products();
    // Go's Header.Get: the first value; a missing or empty header means no customer. Whitespace around a value is
    // not part of it (RFC 9110 section 5.5): HTTP/1.1 parsers drop it, HTTP/2 carries it, so it is dropped here.
    let raw = headers
        .get("x-user-id")
        .map(|v| v.to_str().map(|s| s.trim_matches([' ', '\t'])));
    let customer = match raw {
        None | Some(Ok("")) => None,
        Some(Ok(text)) => match parse_customer_id(text) {
            Some(id) => find_customer(id),
            None => return not_a_number(),
        },
        Some(Err(_)) => return not_a_number(),
    };
    let products = match customer {
        Some(customer) => state.price(&customer, products).await,
        None => products,
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        render_products(&products),
    )
        .into_response()
}

fn not_a_number() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, TEXT)],
        "Customer ID is not a number.\n",
    )
        .into_response()
}

impl AppState {
    /// Prices every product through Discount concurrently, all calls under one deadline; a product whose call
    /// fails stays in the list unpriced.
    async fn price(&self, customer: &Customer, products: Vec<Product>) -> Vec<Product> {
        let deadline = Instant::now() + self.discount_timeout;
        let calls = products.into_iter().map(|product| {
            let mut client = self.discount.clone();
            let request = DiscountRequest {
                customer: Some(customer.clone()),
                product: Some(product.clone()),
            };
            async move {
                let mut request = tonic::Request::new(request);
                request.set_timeout(deadline.saturating_duration_since(Instant::now()));
                let outcome =
                    match tokio::time::timeout_at(deadline, client.apply_discount(request)).await {
                        Ok(Ok(response)) => priced_product(response.into_inner()),
                        Ok(Err(status)) => Err(status),
                        Err(_) => Err(tonic::Status::deadline_exceeded(
                            "discount deadline exceeded",
                        )),
                    };
                outcome.unwrap_or_else(|status| {
                    tracing::warn!(
                        product_id = product.id,
                        customer_id = customer.id,
                        code = crate::rpc::code_name(status.code()),
                        details = status.message(),
                        "discount failed"
                    );
                    product
                })
            }
        });
        join_all(calls).await
    }
}

/// The product of a Discount answer, if the answer can be shown: one without a product, or with a pct that JSON
/// cannot carry (Go's encoder refuses NaN and infinities), counts as a failed call.
fn priced_product(response: DiscountResponse) -> Result<Product, tonic::Status> {
    let product = response
        .product
        .ok_or_else(|| tonic::Status::internal("invalid answer: no product"))?;
    match &product.discount_value {
        Some(discount) if !discount.pct.is_finite() => Err(tonic::Status::internal(format!(
            "invalid answer: pct {} is not a finite number",
            discount.pct
        ))),
        _ => Ok(product),
    }
}

/// The one long-lived Discount channel: connected lazily, reconnected by tonic when it drops.
pub fn discount_channel(args: &Args) -> Result<Channel, Failure> {
    let tls = ClientTls::from_args(&args.upstream)?;
    rpc::upstream_channel(
        "discount",
        &args.discount_addr,
        args.discount_server_name.as_deref(),
        tls.as_ref(),
    )
}

/// Serves Catalog until a shutdown signal, announcing READY once the port is bound.
pub async fn serve(args: Args) -> Result<(), Failure> {
    let tls = ServerTls::from_args(&args.serve, &[b"h2", b"http/1.1"])?;
    let channel = discount_channel(&args)?;
    let (listener, addr) = cli::bind(args.serve.listen.as_deref(), DEFAULT_LISTEN).await?;
    let app = app(AppState::new(
        channel,
        Duration::from_millis(args.discount_timeout_ms),
    ));

    let handle = axum_server::Handle::<std::net::SocketAddr>::new();
    let stop = lifecycle::shutdown_signal(args.serve.exit_on_stdin_eof);
    let stopper = handle.clone();
    tokio::spawn(async move {
        stop.await;
        stopper.graceful_shutdown(Some(lifecycle::SHUTDOWN_GRACE));
    });

    tracing::info!(
        %addr,
        tls = tls.is_some(),
        mtls = tls.as_ref().is_some_and(ServerTls::mutual),
        discount = %args.discount_addr,
        "serving catalog"
    );
    lifecycle::announce_ready(&addr);
    let mut server = axum_server::Server::from_listener(listener).handle(handle);
    let parser = server.http_builder();
    parser
        .http1()
        .max_buf_size(PARSER_MAX_BYTES)
        .max_headers(PARSER_MAX_FIELDS);
    parser.http2().max_header_list_size(PARSER_MAX_BYTES as u32);
    let served = match tls {
        Some(tls) => {
            let server = server.acceptor(tls.acceptor());
            lifecycle::graceful(server.serve(app.into_make_service())).await
        }
        None => lifecycle::graceful(server.serve(app.into_make_service())).await,
    };
    served.map_err(|e| Failure::Runtime(e.into()))
}
