//! Catalog's HTTP contract: every Catalog language against every Discount language, over TLS and mutual TLS,
//! answers each request byte for byte the same. One snapshot per case, shared by all cells of the matrix.

#[macro_use]
mod common;

use std::time::Duration;

use interop::{Lang, Security, Service};
use rstest::{Context, rstest};

use common::axes::{mtls, python, rust, tls};
use common::{STACKS, case_name, catalog_stack, get_products};

#[rstest]
#[case::user_1(Some("1"))]
#[case::user_2(Some("2"))]
#[case::no_header(None)]
#[case::not_a_number(Some("abc"))]
#[case::unknown_user(Some("42"))]
#[tokio::test]
async fn products(
    #[context] context: Context,
    #[values(rust, python)] catalog: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(tls, mtls)] security: Security,
    #[case] user: Option<&str>,
) {
    let stack = STACKS
        .get(catalog_stack(catalog, discount, security))
        .await
        .expect("the stack starts");
    let answer = get_products(&stack, user).await.unwrap_or_else(|e| {
        panic!(
            "{}: GET /products failed: {e:#}\n{}",
            stack.name(),
            stack.logs(Service::Catalog).unwrap_or_default()
        )
    });
    let request = match user {
        Some(user) => format!("GET /products with X-USER-ID: {user}"),
        None => "GET /products without X-USER-ID".to_string(),
    };
    assert_shared_snapshot!(case_name(&context), &request, &answer);
}

/// With Discount gone, Catalog still answers, every product unpriced, and says why in its log.
#[rstest]
#[tokio::test]
async fn discount_stopped(
    #[values(rust, python)] catalog: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(tls, mtls)] security: Security,
) {
    // Its own stack: stopping a service must not disturb the shared ones.
    let mut stack = catalog_stack(catalog, discount, security)
        .start()
        .await
        .expect("the stack starts");
    stack.stop(Service::Discount).await.expect("discount stops");
    let answer = get_products(&stack, Some("1"))
        .await
        .expect("catalog answers without discount");
    assert_shared_snapshot!(
        "discount_stopped",
        "GET /products with X-USER-ID: 1 after Discount stopped",
        &answer,
    );
    stack
        .wait_for_log(Service::Catalog, "discount failed", Duration::from_secs(10))
        .await
        .expect("catalog logs why the products are unpriced");
}
