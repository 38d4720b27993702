//! Order's gRPC contract through a three-hop chain (Order -> Discount, Order -> Payment): every combination of
//! Order, Discount and Payment languages, over TLS and mutual TLS, shows a client the same codes, messages, google.rpc
//! error details and responses. One snapshot per scenario, shared by all 16 cells; only generated ids and timestamps
//! are redacted (and their format is checked on the way). The strings are specified in docs/order-payment.md.

mod common;

use std::time::{Duration, Instant};

use interop::{Lang, Security, Service, Stack};
use rstest::{Context, rstest};

use common::axes::{mtls, python, rust, tls};
use common::order::*;
use common::{STACKS, case_name, order_stack};

/// The Python services' `--delay-ms`, for the slow-Discount scenario: far longer than the caller's deadline.
const SLOW_DISCOUNT_MS: u64 = 60_000;
/// The caller's deadline in the slow-Discount scenario: long enough for Order to reach Discount on a busy machine.
const SHORT_DEADLINE: Duration = Duration::from_secs(3);

#[rstest]
#[case::create_then_get(Scenario::CreateThenGet)]
#[case::invalid_user_id_zero(Scenario::Invalid(user_id_zero))]
#[case::invalid_user_id_above_int32(Scenario::Invalid(user_id_above_int32))]
#[case::invalid_no_items(Scenario::Invalid(no_items))]
#[case::invalid_quantity_zero(Scenario::Invalid(quantity_zero))]
#[case::invalid_more_than_50_items(Scenario::Invalid(more_than_50_items))]
#[case::invalid_unknown_product(Scenario::Invalid(unknown_product))]
#[case::invalid_total_overflows(Scenario::Invalid(total_overflows))]
#[case::invalid_several_violations(Scenario::Invalid(several_violations))]
#[case::payment_refused(Scenario::PaymentRefused)]
#[case::unknown_order(Scenario::UnknownOrder)]
#[case::same_idempotency_key_twice(Scenario::SameIdempotencyKeyTwice)]
#[tokio::test]
async fn order_scenario(
    #[context] context: Context,
    #[values(rust, python)] order: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(rust, python)] payment: Lang,
    #[values(tls, mtls)] security: Security,
    #[case] scenario: Scenario,
) {
    let stack = STACKS
        .get(order_stack(order, discount, payment, security))
        .await
        .expect("the stack starts");
    let steps = run(common::axes::rust, &stack, scenario).await;
    let name = case_name(&context);
    assert_transcript(name, &format!("order scenario {name}"), &steps);
}

/// Rows of `table` in the database file of `service`: the test reads what the service wrote, to count charges.
fn count_rows(stack: &Stack, service: Service, sql: &str) -> i64 {
    let path = stack
        .database(service)
        .expect("the service keeps a database");
    let connection =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens");
    connection
        .query_row(sql, [], |row| row.get(0))
        .expect("the count runs")
}

/// Payment stops and starts between two Creates: the second is paid all the same (Order reconnects, retrying while
/// Payment is UNAVAILABLE), the first is still paid, and Payment's database holds one charge per order.
#[rstest]
#[tokio::test]
async fn order_payment_restarted(
    #[values(rust, python)] order: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(rust, python)] payment: Lang,
    #[values(tls, mtls)] security: Security,
) {
    let mut stack = order_stack(order, discount, payment, security)
        .start()
        .await
        .expect("the stack starts");
    let first = call_create(
        common::axes::rust,
        &stack,
        create(1, vec![item("iphone-x", 1)], ""),
        None,
    )
    .await;
    restart(&mut stack, Service::Payment).await;
    let second = call_create(
        common::axes::rust,
        &stack,
        create(1, vec![item("playstation-4-slim", 2)], ""),
        None,
    )
    .await;
    let again = call_get(common::axes::rust, &stack, &order_id(&first)).await;
    assert_eq!(again.order, first.order, "the first order is unchanged");
    assert_ne!(order_id(&first), order_id(&second));
    let steps = [first, second, again];
    assert_transcript(
        "payment_restarted",
        "Create; Payment stopped and started; Create; Get the first",
        &steps,
    );
    assert_eq!(
        count_rows(&stack, Service::Payment, "SELECT count(*) FROM payments"),
        2
    );
    assert_eq!(
        count_rows(
            &stack,
            Service::Order,
            "SELECT count(*) FROM orders WHERE status = 'ORDER_STATUS_PAID'"
        ),
        2
    );
}

/// Order stops and starts: the order it stored is read back from its database file.
#[rstest]
#[tokio::test]
async fn order_restarted(
    #[values(rust, python)] order: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(rust, python)] payment: Lang,
    #[values(tls, mtls)] security: Security,
) {
    let mut stack = order_stack(order, discount, payment, security)
        .start()
        .await
        .expect("the stack starts");
    let created = call_create(
        common::axes::rust,
        &stack,
        create(1, vec![item("iphone-x", 1)], "before-restart"),
        None,
    )
    .await;
    restart(&mut stack, Service::Order).await;
    let got = call_get(common::axes::rust, &stack, &order_id(&created)).await;
    assert_eq!(got.order, created.order, "the order survives the restart");
    // The idempotency key survives too: the same Create answers the stored order, charging nothing more.
    let repeated = call_create(
        common::axes::rust,
        &stack,
        create(1, vec![item("iphone-x", 1)], "before-restart"),
        None,
    )
    .await;
    assert_eq!(repeated.order, created.order);
    let steps = [created, got, repeated];
    assert_transcript(
        "order_restarted",
        "Create; Order stopped and started; Get; Create with the same key",
        &steps,
    );
    assert_eq!(
        count_rows(&stack, Service::Payment, "SELECT count(*) FROM payments"),
        1
    );
}

/// A caller's deadline shorter than a slow Discount: the caller gets DEADLINE_EXCEEDED at its deadline, and Discount
/// saw the deadline arrive with the call (Order passed it on).
#[rstest]
#[tokio::test]
async fn order_deadline_shorter_than_slow_discount(
    #[values(rust, python)] order: Lang,
    #[values(rust, python)] discount: Lang,
    #[values(rust, python)] payment: Lang,
    #[values(tls, mtls)] security: Security,
) {
    let stack = order_stack(order, discount, payment, security)
        .args(
            Service::Discount,
            ["--delay-ms".to_string(), SLOW_DISCOUNT_MS.to_string()],
        )
        .start()
        .await
        .expect("the stack starts");
    let started = Instant::now();
    let step = call_create(
        common::axes::rust,
        &stack,
        create(1, vec![item("iphone-x", 1)], ""),
        Some(SHORT_DEADLINE),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        step.failed(),
        "a slow Discount must fail the call: {:?}",
        step.json
    );
    assert!(
        elapsed < SHORT_DEADLINE,
        "Order answers within the caller's deadline; it took {elapsed:?} of {SHORT_DEADLINE:?}"
    );
    stack
        .wait_for_log(
            Service::Discount,
            &format!("delaying the answer delay_ms={SLOW_DISCOUNT_MS} caller_deadline=true"),
            Duration::from_secs(10),
        )
        .await
        .expect("Discount received the caller's deadline from Order");
    assert_transcript(
        "deadline_shorter_than_slow_discount",
        "Create with a 3 s deadline; Discount answers after 60 s",
        &[step],
    );
}

/// Stops `service` and starts it again on the same port; a failed start shows the service's last log lines.
async fn restart(stack: &mut Stack, service: Service) {
    stack.stop(service).await.expect("the service stops");
    if let Err(e) = stack.start(service).await {
        let log = stack.logs(service).unwrap_or_default();
        panic!("{service} does not start again: {e:#}\n--- its last lines ---\n{log}");
    }
}
