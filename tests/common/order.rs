//! Order's contract as a client sees it: the scenarios, one call from either client language (tonic in this process,
//! grpcio through `interop_services.order.client`), and the transcript every cell must match. Shared by
//! tests/order.rs (every server language combination, tonic client) and tests/order_clients.rs (both clients).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use interop::{Lang, Service, Stack};
use interop_services::proto::order::order_client::OrderClient;
use interop_services::proto::order::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, GetOrderResponse, LineItem,
    OrderDetails,
};
use prost::Message;
use serde_json::{Value, json};
use tonic_types::{ErrorDetail, StatusExt};

use super::calls;

pub fn item(code: &str, quantity: i64) -> LineItem {
    LineItem {
        product_code: code.into(),
        quantity,
    }
}

pub fn create(user_id: i64, items: Vec<LineItem>, key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        user_id,
        items,
        idempotency_key: key.into(),
    }
}

/// One call as a client sees it, for the transcript.
pub struct Step {
    /// What the transcript shows of it.
    pub json: Value,
    /// The order it answered, if it succeeded.
    pub order: Option<OrderDetails>,
}

impl Step {
    /// Whether the call failed.
    pub fn failed(&self) -> bool {
        self.json["code"] != "OK"
    }
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
pub fn details_json(status: &tonic::Status) -> Value {
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

/// A successful call's step.
fn answered(call: &str, request: Value, order: OrderDetails) -> Step {
    Step {
        json: json!({ "call": call, "request": request, "code": "OK", "response": order_json(&order) }),
        order: Some(order),
    }
}

/// A failed call's step: its code, message and decoded google.rpc details (see [`details_json`]).
fn refused(call: &str, request: Value, code: &str, message: &str, details: Value) -> Step {
    Step {
        json: json!({ "call": call, "request": request, "code": code, "message": message, "details": details }),
        order: None,
    }
}

fn tonic_step(call: &str, request: Value, answer: Result<OrderDetails, tonic::Status>) -> Step {
    match answer {
        Ok(order) => answered(call, request, order),
        Err(status) => refused(
            call,
            request,
            interop_services::rpc::code_name(status.code()),
            status.message(),
            details_json(&status),
        ),
    }
}

/// The step of a call made by the grpcio one-shot client, from the JSON line it printed: the response it decoded
/// and re-encoded, and the details as grpc_status decoded them, in the shape of [`details_json`].
fn python_step<R: prost::Message + Default>(
    call: &str,
    request: Value,
    answer: &Value,
    order: impl FnOnce(R) -> Option<OrderDetails>,
) -> Step {
    let code = answer["code"].as_str().expect("the client prints a code");
    if code != "OK" {
        let message = answer["message"].as_str().unwrap_or_default();
        return refused(call, request, code, message, answer["details"].clone());
    }
    let bytes = BASE64
        .decode(answer["response_b64"].as_str().unwrap_or_default())
        .expect("response_b64 is base64");
    let response = R::decode(bytes.as_slice()).expect("the client re-encoded a response");
    answered(
        call,
        request,
        order(response).expect("the response carries its order"),
    )
}

fn create_json(request: &CreateOrderRequest) -> Value {
    json!({
        "user_id": request.user_id,
        "items": request.items.iter().map(|i| json!({"product_code": i.product_code, "quantity": i.quantity}))
            .collect::<Vec<_>>(),
        "idempotency_key": request.idempotency_key,
    })
}

/// Order.Create from `client`'s language, with the caller's `deadline` if given.
pub async fn call_create(
    client: Lang,
    stack: &Stack,
    request: CreateOrderRequest,
    deadline: Option<Duration>,
) -> Step {
    let json = create_json(&request);
    match client.name() {
        "rust" => {
            let mut stub = OrderClient::new(stack.grpc_channel(Service::Order).expect("a channel"));
            let mut request = tonic::Request::new(request);
            if let Some(deadline) = deadline {
                request.set_timeout(deadline);
            }
            let answer = stub.create(request).await.map(|r| {
                r.into_inner()
                    .order
                    .expect("CreateOrderResponse.order is set")
            });
            tonic_step("Create", json, answer)
        }
        "python" => {
            let answer =
                python_order_call(stack, "Create", &request.encode_to_vec(), deadline).await;
            python_step("Create", json, &answer, |r: CreateOrderResponse| r.order)
        }
        other => panic!("{other}: {LEGACY_CLIENTS}"),
    }
}

use super::LEGACY_CLIENTS;

/// Order.Get from `client`'s language.
pub async fn call_get(client: Lang, stack: &Stack, order_id: &str) -> Step {
    let json = json!({ "order_id": order_id });
    let request = GetOrderRequest {
        order_id: order_id.into(),
    };
    match client.name() {
        "rust" => {
            let mut stub = OrderClient::new(stack.grpc_channel(Service::Order).expect("a channel"));
            let answer = stub
                .get(request)
                .await
                .map(|r| r.into_inner().order.expect("GetOrderResponse.order is set"));
            tonic_step("Get", json, answer)
        }
        "python" => {
            let answer = python_order_call(stack, "Get", &request.encode_to_vec(), None).await;
            python_step("Get", json, &answer, |r: GetOrderResponse| r.order)
        }
        other => panic!("{other}: {LEGACY_CLIENTS}"),
    }
}

async fn python_order_call(
    stack: &Stack,
    method: &str,
    request: &[u8],
    deadline: Option<Duration>,
) -> Value {
    let mut args = vec!["--method".to_string(), method.to_string()];
    if let Some(deadline) = deadline {
        args.extend(["--timeout-ms".to_string(), deadline.as_millis().to_string()]);
    }
    let addr = stack.addr(Service::Order).expect("Order's address");
    let files = [("--request-file", request)];
    let call = calls::python_grpc_call(
        "interop_services.order.client",
        addr,
        "order",
        stack.clients(),
        &args,
        &files,
    );
    calls::bounded(super::axes::python, "gRPC", call)
        .await
        .unwrap_or_else(|e| panic!("the grpcio Order client: {e:#}"))
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
pub fn assert_transcript(name: &str, description: &str, steps: &[Step]) {
    let transcript = Value::Array(steps.iter().map(|s| s.json.clone()).collect());
    // tests/snapshots/order__NAME.snap, whichever test file asserts it: every client shares one snapshot.
    insta::with_settings!({
        description => description,
        omit_expression => true,
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_json_snapshot!(format!("order__{name}"), transcript, {
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

/// The order a step names: the one it answered, or the one its ErrorInfo names (a refused payment).
pub fn order_id(step: &Step) -> String {
    if let Some(order) = &step.order {
        return order.id.clone();
    }
    step.json["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|detail| detail["metadata"]["order_id"].as_str())
        .unwrap_or_else(|| panic!("no order id in {:?}", step.json))
        .to_string()
}

/// Scenarios that leave the shared stack as they found it (new orders apart).
#[derive(Debug, Clone, Copy)]
pub enum Scenario {
    CreateThenGet,
    Invalid(fn() -> CreateOrderRequest),
    PaymentRefused,
    UnknownOrder,
    SameIdempotencyKeyTwice,
}

/// Runs `scenario` against `stack` with `client`'s language, returning its transcript.
pub async fn run(client: Lang, stack: &Stack, scenario: Scenario) -> Vec<Step> {
    match scenario {
        Scenario::CreateThenGet => {
            let created = call_create(
                client,
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
            let got = call_get(client, stack, &order_id(&created)).await;
            assert_eq!(got.order, created.order, "Get returns what Create returned");
            vec![created, got]
        }
        Scenario::Invalid(request) => vec![call_create(client, stack, request(), None).await],
        Scenario::PaymentRefused => {
            // User 2 gets no discount: 150000 cents, above Payment's default limit of 100000.
            let refused = call_create(
                client,
                stack,
                create(2, vec![item("notebook-avell-g1511", 1)], ""),
                None,
            )
            .await;
            let got = call_get(client, stack, &order_id(&refused)).await;
            vec![refused, got]
        }
        Scenario::UnknownOrder => vec![call_get(client, stack, "no-such-order").await],
        Scenario::SameIdempotencyKeyTwice => {
            let request = create(1, vec![item("iphone-x", 1)], "checkout-42");
            let first = call_create(client, stack, request.clone(), None).await;
            // A different body under the same key still answers the first order: the key names the purchase.
            let mut changed = request.clone();
            changed.items = vec![item("playstation-4-slim", 3)];
            let second = call_create(client, stack, changed, None).await;
            let third = call_create(client, stack, request, None).await;
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

pub fn user_id_zero() -> CreateOrderRequest {
    create(0, vec![item("iphone-x", 1)], "")
}
pub fn user_id_above_int32() -> CreateOrderRequest {
    create(i64::from(i32::MAX) + 1, vec![item("iphone-x", 1)], "")
}
pub fn no_items() -> CreateOrderRequest {
    create(1, vec![], "")
}
pub fn quantity_zero() -> CreateOrderRequest {
    create(
        1,
        vec![item("iphone-x", 1), item("playstation-4-slim", 0)],
        "",
    )
}
pub fn more_than_50_items() -> CreateOrderRequest {
    create(
        1,
        vec![item("iphone-x", 30), item("playstation-4-slim", 21)],
        "",
    )
}
pub fn unknown_product() -> CreateOrderRequest {
    create(1, vec![item("ipad", 1)], "")
}
pub fn total_overflows() -> CreateOrderRequest {
    // 150000 cents times this is past i64::MAX (the unit cap is broken too, and said so).
    create(
        1,
        vec![item("notebook-avell-g1511", i64::MAX / 100_000)],
        "",
    )
}
pub fn several_violations() -> CreateOrderRequest {
    create(-5, vec![item("", 0), item("iphone-x", 51)], "")
}
