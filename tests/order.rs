//! Order's gRPC contract through a three-hop chain (Order -> Discount, Order -> Payment): every combination of
//! Order, Discount and Payment languages, over TLS and mutual TLS, shows a client the same codes, messages, google.rpc
//! error details and responses. One snapshot per scenario, shared by all 16 cells; only generated ids and timestamps
//! are redacted (and their format is checked on the way). The strings are specified in docs/order-payment.md.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use interop::{Lang, Security, Service, Stack};
use interop_services::proto::order::order_client::OrderClient;
use interop_services::proto::order::{CreateOrderRequest, GetOrderRequest, LineItem, OrderDetails};
use rstest::{Context, rstest};
use serde_json::{Value, json};
use tonic_types::{ErrorDetail, StatusExt};

use common::axes::{mtls, python, rust, tls};
use common::{STACKS, case_name, order_stack};

/// The Python services' `--delay-ms`, for the slow-Discount scenario: far longer than the caller's deadline.
const SLOW_DISCOUNT_MS: u64 = 60_000;
/// The caller's deadline in the slow-Discount scenario: long enough for Order to reach Discount on a busy machine.
const SHORT_DEADLINE: Duration = Duration::from_secs(3);

fn item(code: &str, quantity: i64) -> LineItem {
    LineItem {
        product_code: code.into(),
        quantity,
    }
}

fn create(user_id: i64, items: Vec<LineItem>, key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        user_id,
        items,
        idempotency_key: key.into(),
    }
}

/// One call as a client sees it, for the transcript.
struct Step {
    json: Value,
    order: Option<OrderDetails>,
    status: Option<tonic::Status>,
}

fn order_json(order: &OrderDetails) -> Value {
    json!({
        "id": order.id,
        "user_id": order.user_id,
        "items": order.items.iter().map(|i| json!({
            "product_code": i.product_code,
            "quantity": i.quantity,
            "unit_price_cents": i.unit_price_cents,
        })).collect::<Vec<_>>(),
        "status": order.status().as_str_name(),
        "total_price_cents": order.total_price_cents,
        "payment_id": order.payment_id,
        "created_at_unix_ms": order.created_at_unix_ms,
    })
}

/// The google.rpc details a status carries, decoded, in the order they came.
fn details_json(status: &tonic::Status) -> Value {
    let details = status
        .check_error_details_vec()
        .unwrap_or_else(|e| panic!("undecodable status details in {status:?}: {e}"));
    Value::Array(
        details
            .into_iter()
            .map(|detail| match detail {
                ErrorDetail::BadRequest(bad) => json!({
                    "type": "google.rpc.BadRequest",
                    "field_violations": bad.field_violations.iter().map(|v| json!({
                        "field": v.field,
                        "description": v.description,
                    })).collect::<Vec<_>>(),
                }),
                ErrorDetail::ErrorInfo(info) => json!({
                    "type": "google.rpc.ErrorInfo",
                    "reason": info.reason,
                    "domain": info.domain,
                    "metadata": info.metadata.into_iter().collect::<BTreeMap<_, _>>(),
                }),
                other => json!({ "type": "unexpected", "debug": format!("{other:?}") }),
            })
            .collect(),
    )
}

fn outcome(call: &str, request: Value, answer: Result<OrderDetails, tonic::Status>) -> Step {
    match answer {
        Ok(order) => Step {
            json: json!({ "call": call, "request": request, "code": "OK", "response": order_json(&order) }),
            order: Some(order),
            status: None,
        },
        Err(status) => Step {
            json: json!({
                "call": call,
                "request": request,
                "code": interop_services::rpc::code_name(status.code()),
                "message": status.message(),
                "details": details_json(&status),
            }),
            order: None,
            status: Some(status),
        },
    }
}

async fn call_create(
    stack: &Stack,
    request: CreateOrderRequest,
    deadline: Option<Duration>,
) -> Step {
    let mut client = OrderClient::new(stack.grpc_channel(Service::Order).expect("a channel"));
    let json = json!({
        "user_id": request.user_id,
        "items": request.items.iter().map(|i| json!({"product_code": i.product_code, "quantity": i.quantity}))
            .collect::<Vec<_>>(),
        "idempotency_key": request.idempotency_key,
    });
    let mut request = tonic::Request::new(request);
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    let answer = client.create(request).await.map(|r| {
        r.into_inner()
            .order
            .expect("CreateOrderResponse.order is set")
    });
    outcome("Create", json, answer)
}

async fn call_get(stack: &Stack, order_id: &str) -> Step {
    let mut client = OrderClient::new(stack.grpc_channel(Service::Order).expect("a channel"));
    let answer = client
        .get(GetOrderRequest {
            order_id: order_id.into(),
        })
        .await
        .map(|r| r.into_inner().order.expect("GetOrderResponse.order is set"));
    outcome("Get", json!({ "order_id": order_id }), answer)
}

/// `ord-` or `pay-` and 16 hex digits: the id format both languages generate.
fn is_generated_id(value: &str, prefix: &str) -> bool {
    value.len() == prefix.len() + 17
        && value.starts_with(prefix)
        && value[prefix.len()..].starts_with('-')
        && value[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

fn redact_id(prefix: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |value, path| match value.as_str() {
        Some(id) if is_generated_id(id, prefix) => format!("[{prefix} id]").into(),
        // Anything else stays in the snapshot, where a wrong format or a missing id shows up.
        _ => {
            let _ = path;
            value
        }
    })
}

/// Asserts the transcript against the scenario's one snapshot.
fn assert_transcript(name: &str, description: &str, steps: &[Step]) {
    let transcript = Value::Array(steps.iter().map(|s| s.json.clone()).collect());
    insta::with_settings!({ description => description, omit_expression => true }, {
        insta::assert_json_snapshot!(name, transcript, {
            "[].response.id" => redact_id("ord"),
            "[].response.payment_id" => redact_id("pay"),
            "[].request.order_id" => redact_id("ord"),
            "[].details[].metadata.order_id" => redact_id("ord"),
            "[].response.created_at_unix_ms" => insta::dynamic_redaction(|value, _| {
                match value.as_i64() {
                    Some(ms) if ms > 1_600_000_000_000 => "[timestamp]".into(),
                    _ => value,
                }
            }),
        });
    });
}

fn order_id(step: &Step) -> String {
    match (&step.order, &step.status) {
        (Some(order), _) => order.id.clone(),
        (None, Some(status)) => status
            .get_error_details()
            .error_info()
            .and_then(|info| info.metadata.get("order_id").cloned())
            .unwrap_or_else(|| panic!("no order id in {:?}", step.json)),
        _ => unreachable!(),
    }
}

/// Scenarios that leave the shared stack as they found it (new orders apart).
#[derive(Debug, Clone, Copy)]
enum Scenario {
    CreateThenGet,
    Invalid(fn() -> CreateOrderRequest),
    PaymentRefused,
    UnknownOrder,
    SameIdempotencyKeyTwice,
}

async fn run(stack: &Stack, scenario: Scenario) -> Vec<Step> {
    match scenario {
        Scenario::CreateThenGet => {
            let created = call_create(
                stack,
                // Two lines of one product: 3 x 29699 cents for user 1, under Payment's limit.
                create(
                    1,
                    vec![item("playstation-4-slim", 1), item("playstation-4-slim", 2)],
                    "",
                ),
                None,
            )
            .await;
            let got = call_get(stack, &order_id(&created)).await;
            assert_eq!(got.order, created.order, "Get returns what Create returned");
            vec![created, got]
        }
        Scenario::Invalid(request) => vec![call_create(stack, request(), None).await],
        Scenario::PaymentRefused => {
            // User 2 gets no discount: 150000 cents, above Payment's default limit of 100000.
            let refused = call_create(
                stack,
                create(2, vec![item("notebook-avell-g1511", 1)], ""),
                None,
            )
            .await;
            let got = call_get(stack, &order_id(&refused)).await;
            vec![refused, got]
        }
        Scenario::UnknownOrder => vec![call_get(stack, "no-such-order").await],
        Scenario::SameIdempotencyKeyTwice => {
            let request = create(1, vec![item("iphone-x", 1)], "checkout-42");
            let first = call_create(stack, request.clone(), None).await;
            // A different body under the same key still answers the first order: the key names the purchase.
            let mut changed = request.clone();
            changed.items = vec![item("playstation-4-slim", 3)];
            let second = call_create(stack, changed, None).await;
            let third = call_create(stack, request, None).await;
            for again in [&second, &third] {
                assert_eq!(
                    again.order, first.order,
                    "the same key returns the first order, paid once"
                );
            }
            vec![first, second, third]
        }
    }
}

fn user_id_zero() -> CreateOrderRequest {
    create(0, vec![item("iphone-x", 1)], "")
}
fn user_id_above_int32() -> CreateOrderRequest {
    create(i64::from(i32::MAX) + 1, vec![item("iphone-x", 1)], "")
}
fn no_items() -> CreateOrderRequest {
    create(1, vec![], "")
}
fn quantity_zero() -> CreateOrderRequest {
    create(
        1,
        vec![item("iphone-x", 1), item("playstation-4-slim", 0)],
        "",
    )
}
fn more_than_50_items() -> CreateOrderRequest {
    create(
        1,
        vec![item("iphone-x", 30), item("playstation-4-slim", 21)],
        "",
    )
}
fn unknown_product() -> CreateOrderRequest {
    create(1, vec![item("ipad", 1)], "")
}
fn total_overflows() -> CreateOrderRequest {
    // 150000 cents times this is past i64::MAX (the unit cap is broken too, and said so).
    create(
        1,
        vec![item("notebook-avell-g1511", i64::MAX / 100_000)],
        "",
    )
}
fn several_violations() -> CreateOrderRequest {
    create(-5, vec![item("", 0), item("iphone-x", 51)], "")
}

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
    let steps = run(&stack, scenario).await;
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
    let first = call_create(&stack, create(1, vec![item("iphone-x", 1)], ""), None).await;
    stack.stop(Service::Payment).await.expect("payment stops");
    if let Err(e) = stack.start(Service::Payment).await {
        let log = stack.logs(Service::Payment).unwrap_or_default();
        panic!("payment does not start again: {e:#}\n--- its last lines ---\n{log}");
    }
    let second = call_create(
        &stack,
        create(1, vec![item("playstation-4-slim", 2)], ""),
        None,
    )
    .await;
    let again = call_get(&stack, &order_id(&first)).await;
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
        &stack,
        create(1, vec![item("iphone-x", 1)], "before-restart"),
        None,
    )
    .await;
    stack.stop(Service::Order).await.expect("order stops");
    if let Err(e) = stack.start(Service::Order).await {
        let log = stack.logs(Service::Order).unwrap_or_default();
        panic!("order does not start again: {e:#}\n--- its last lines ---\n{log}");
    }
    let got = call_get(&stack, &order_id(&created)).await;
    assert_eq!(got.order, created.order, "the order survives the restart");
    // The idempotency key survives too: the same Create answers the stored order, charging nothing more.
    let repeated = call_create(
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
        &stack,
        create(1, vec![item("iphone-x", 1)], ""),
        Some(SHORT_DEADLINE),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        step.status.is_some(),
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
