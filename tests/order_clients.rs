//! Order's contract from both client languages: a tonic client and a grpcio client against an Order in each
//! language, over TLS and mutual TLS, must see the same codes, messages, google.rpc details (each client decoding
//! them its own library's way) and responses. Every cell asserts the same snapshot as tests/order.rs, so a client
//! library that maps a status or a detail differently fails here. Discount and Payment run in Order's language: the
//! client never talks to them, and tests/order.rs covers their combinations.

mod common;

use interop::{Lang, Security};
use rstest::{Context, rstest};

use common::axes::{mtls, python, rust, tls};
use common::order::*;
use common::{STACKS, case_name, order_stack};

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
async fn order_client(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] order: Lang,
    #[values(tls, mtls)] security: Security,
    #[case] scenario: Scenario,
) {
    let stack = STACKS
        .get(order_stack(order, order, order, security))
        .await
        .expect("the stack starts");
    let steps = run(client, &stack, scenario).await;
    let name = case_name(&context);
    assert_transcript(name, &format!("order scenario {name}"), &steps);
}
