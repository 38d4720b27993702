//! Fault hooks, on the backend INTEROP_BACKEND names: pause/resume, stop/start and kill Discount in a running
//! Catalog + Discount stack, each once, and what Catalog answers meanwhile (the committed `user_1` and
//! `discount_stopped` answers).

mod common;

use std::time::Duration;

use interop::{Lang, Security, Service, Stack, ready};
use rstest::rstest;

use common::axes::{python, rust};
use common::{catalog_stack, get_products, snapshot};

async fn products_for_user_1(stack: &Stack) -> String {
    get_products(stack, Some("1"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{}: GET /products failed: {e:#}\n{}",
                stack.name(),
                stack.logs(Service::Catalog).unwrap_or_default()
            )
        })
        .trim_end()
        .to_string()
}

/// Discount's health check, through the address the stack reports now, given `patience`.
async fn discount_health(stack: &Stack, patience: Duration) -> anyhow::Result<()> {
    let addr = stack.addr(Service::Discount)?;
    tokio::time::timeout(
        patience,
        ready::check(
            Service::Discount,
            stack.lang(Service::Discount).unwrap(),
            addr,
            stack.clients(),
        ),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no answer within {patience:?}"))?
}

#[rstest]
#[tokio::test]
async fn pause_stop_start_kill(#[values(rust, python)] discount: Lang) {
    let priced = snapshot("catalog__user_1");
    let unpriced = snapshot("catalog__discount_stopped");
    let mut stack = catalog_stack(common::axes::rust, discount, Security::MutualTls)
        .start()
        .await
        .expect("the stack starts");
    assert_eq!(
        products_for_user_1(&stack).await,
        priced,
        "before any fault"
    );

    // Paused: the port still takes connections, but nothing answers until it is resumed.
    stack
        .pause(Service::Discount)
        .await
        .expect("discount pauses");
    let frozen = discount_health(&stack, Duration::from_millis(500)).await;
    assert!(
        frozen.is_err(),
        "a paused discount answered its health check"
    );
    stack
        .resume(Service::Discount)
        .await
        .expect("discount resumes");
    discount_health(&stack, Duration::from_secs(10))
        .await
        .expect("discount answers again once resumed");

    // Stopped gracefully (an error if it had to be killed), then started again: its address is read anew.
    stack
        .stop(Service::Discount)
        .await
        .expect("discount stops on SIGTERM");
    assert_eq!(
        products_for_user_1(&stack).await,
        unpriced,
        "discount stopped"
    );
    let before = stack
        .addr(Service::Discount)
        .expect("discount is in the stack");
    stack
        .start(Service::Discount)
        .await
        .expect("discount starts again");
    let after = stack
        .addr(Service::Discount)
        .expect("discount is in the stack");
    discount_health(&stack, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("discount restarted ({before} -> {after}) but: {e:#}"));
    assert_eq!(
        products_for_user_1(&stack).await,
        priced,
        "discount restarted"
    );

    // Killed: no goodbye, and Catalog carries on without it.
    stack
        .kill(Service::Discount)
        .await
        .expect("discount is killed");
    assert_eq!(
        products_for_user_1(&stack).await,
        unpriced,
        "discount killed"
    );
}
