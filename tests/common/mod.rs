//! What every contract test shares: the pool of running stacks and how a case names itself.
#![allow(dead_code, unused_macros)]

use interop::{Lang, Security, Service, Stack, StackBuilder, StackPool};

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
    let mut request = stack
        .http()?
        .get(format!("{}/products", stack.url(Service::Catalog)?));
    if let Some(user) = user {
        request = request.header("X-USER-ID", user);
    }
    let response = request.send().await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let body = response.text().await?;
    if content_type.as_deref() == Some("application/json") {
        serde_json::from_str::<serde_json::Value>(&body)
            .map_err(|e| anyhow::anyhow!("the body is not JSON ({e}): {body:?}"))?;
    }
    // The length pins down what a text snapshot could hide, such as the JSON encoder's final newline.
    Ok(format!(
        "status: {}\ncontent-type: {}\nlength: {}\n\n{body}",
        status.as_u16(),
        content_type.unwrap_or_default(),
        body.len()
    ))
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
    use interop::{Lang, Security};

    /// The Rust implementation.
    pub const rust: Lang = Lang::Rust;
    /// The Python implementation.
    pub const python: Lang = Lang::Python;
    /// Server authentication.
    pub const tls: Security = Security::Tls;
    /// Server and client authentication.
    pub const mtls: Security = Security::MutualTls;
}
