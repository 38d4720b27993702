//! What every contract test shares: the pool of running stacks and how a case names itself.
#![allow(dead_code, unused_macros)]

pub mod calls;
pub mod order;

use interop::refusal::{Refusal, Side, classify, is_handshake_failure};
use interop::{Lang, Security, Service, Stack, StackBuilder, StackPool};
use interop_services::proto::ecommerce::{Customer, DiscountRequest, Product};

/// Why the suites written before the registry call only two implementations' clients: each has an in-process
/// client (tonic) or a module of its own (grpcio) here. The generated matrix drives every implementation's client
/// through the process contract instead.
pub const LEGACY_CLIENTS: &str = "the rstest suites have clients for rust and python only; the generated matrix drives every implementation's client";

/// Stacks shared by all tests of one test binary: each distinct stack starts once.
pub static STACKS: StackPool = StackPool::new();

/// The Catalog + Discount stack for one matrix cell.
pub fn catalog_stack(catalog: Lang, discount: Lang, security: Security) -> StackBuilder {
    Stack::builder()
        .service(Service::Catalog, catalog)
        .service(Service::Discount, discount)
        .security(security)
        .backend(interop::Backend::from_env().expect("INTEROP_BACKEND names a backend"))
}

/// What a client of Catalog sees: status, content type and the exact body bytes (JSON rendering included).
pub async fn get_products(stack: &Stack, user: Option<&str>) -> anyhow::Result<String> {
    let headers: Vec<(&str, &str)> = user.map(|u| ("X-USER-ID", u)).into_iter().collect();
    let addr = stack.addr(Service::Catalog)?;
    calls::http(
        axes::rust,
        addr,
        "catalog",
        stack.clients(),
        "GET",
        "/products",
        &headers,
    )
    .await?
    .render()
}

/// The content of a committed snapshot (`catalog__user_1`), without its header: what an answer must equal.
pub fn snapshot(name: &str) -> String {
    let path = interop::workspace::root().join(format!("tests/snapshots/{name}.snap"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (_, content) = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .unwrap_or_else(|| panic!("{} has no header", path.display()));
    content.trim_end().to_string()
}

/// The Order + Discount + Payment stack for one matrix cell.
pub fn order_stack(order: Lang, discount: Lang, payment: Lang, security: Security) -> StackBuilder {
    Stack::builder()
        .service(Service::Order, order)
        .service(Service::Discount, discount)
        .service(Service::Payment, payment)
        .security(security)
        .backend(interop::Backend::from_env().expect("INTEROP_BACKEND names a backend"))
}

/// The stack serving `service` in `lang`: Discount alone, or Catalog with a Discount in the same language.
pub fn stack_for(service: Service, lang: Lang) -> StackBuilder {
    let builder = Stack::builder()
        .service(Service::Discount, lang)
        .backend(interop::Backend::from_env().expect("INTEROP_BACKEND names a backend"));
    match service {
        Service::Discount => builder,
        Service::Catalog => builder.service(Service::Catalog, lang),
        other => panic!("{other} is not served alone or with Discount alone"),
    }
}

/// A DiscountRequest for `customer` (John Snow's names) buying the iPhone at `price_in_cents`.
pub fn discount_request(customer: Option<i32>, price_in_cents: i32) -> DiscountRequest {
    DiscountRequest {
        customer: customer.map(|id| Customer {
            id,
            first_name: "John".into(),
            last_name: "Snow".into(),
        }),
        product: Some(Product {
            id: 1,
            slug: "iphone-x".into(),
            description: "64GB, black and iOS 12".into(),
            price_in_cents,
            discount_value: None,
        }),
    }
}

/// Why `service` refused a handshake, as its log says: the latest failed handshake it logged (give the stack a
/// tag if other tests could have made one). The line travels through a pipe after the refusal, hence the wait.
pub async fn server_reason(stack: &Stack, service: Service) -> (Refusal, String) {
    let line = stack
        .wait_for_log_line(service, is_handshake_failure, calls::CALL_LIMIT)
        .await
        .unwrap_or_else(|e| panic!("the server logged no failed handshake: {e:#}"));
    let reason = classify(Side::Server, &line)
        .unwrap_or_else(|| panic!("no class for the server's log line (add a rule): {line}"));
    (reason, line)
}

/// The snapshot name of an rstest case: its description (`user_1`), shared by every cell of the matrix.
pub fn case_name(context: &rstest::Context) -> &'static str {
    context
        .description
        .expect("every case is named: #[case::name(...)]")
}

/// Asserts `answer` against the snapshot `name`, shared by every cell of the matrix: the description says what
/// was asked, never which cell answered (the failing test's name says that). A macro, so that the snapshot lives
/// beside the test file that asserts it.
macro_rules! assert_shared_snapshot {
    ($name:expr, $request:expr, $answer:expr $(,)?) => {
        insta::with_settings!({ description => $request, omit_expression => true }, {
            insta::assert_snapshot!($name, $answer);
        })
    };
}

// Lower-case names for the matrix axes, so that rstest names each test by them:
// `products::case_1_user_1::catalog_2_python::discount_1_rust::security_2_mtls`.
#[allow(non_upper_case_globals)]
pub mod axes {
    use interop::{Lang, Security, Service};

    /// The Rust implementation.
    pub const rust: Lang = Lang::unchecked("rust");
    /// The Python implementation.
    pub const python: Lang = Lang::unchecked("python");
    /// Server authentication.
    pub const tls: Security = Security::Tls;
    /// Server and client authentication.
    pub const mtls: Security = Security::MutualTls;
    /// The gRPC service.
    pub const discount: Service = Service::Discount;
    /// The HTTP service.
    pub const catalog: Service = Service::Catalog;
}
