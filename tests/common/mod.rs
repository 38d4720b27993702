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
