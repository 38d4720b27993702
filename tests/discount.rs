//! Discount's gRPC contract: a Rust (tonic) client and a Python (grpcio) client call each Discount server over TLS
//! and mutual TLS. Every client/server pair must decode the same response for each request: one snapshot per case.
//! Requests the tutorial never sends (no customer, no product, nothing at all, a free or negative price) are
//! answered as the tutorial's server answers them: OK, the product echoed with an empty discount.

#[macro_use]
mod common;

use interop::{Lang, Security, Service};
use interop_services::proto::ecommerce::DiscountRequest;
use rstest::{Context, rstest};

use common::axes::{mtls, python, rust, tls};
use common::{STACKS, calls, case_name, discount_request};

#[rstest]
#[case::customer_1(discount_request(Some(1), 99_999))]
#[case::customer_1_rounds_down(discount_request(Some(1), 32_999))]
#[case::customer_1_one_cent(discount_request(Some(1), 1))]
#[case::customer_1_int32_max(discount_request(Some(1), i32::MAX))]
#[case::customer_1_free(discount_request(Some(1), 0))]
#[case::customer_1_negative_price(discount_request(Some(1), -100))]
#[case::customer_2(discount_request(Some(2), 99_999))]
#[case::no_customer(discount_request(None, 99_999))]
#[case::no_product(DiscountRequest { product: None, ..discount_request(Some(1), 0) })]
#[case::empty_request(DiscountRequest::default())]
#[tokio::test]
async fn apply_discount(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[values(tls, mtls)] security: Security,
    #[case] request: DiscountRequest,
) {
    let builder = common::stack_for(Service::Discount, server).security(security);
    let stack = STACKS.get(builder).await.expect("the stack starts");
    let addr = stack.addr(Service::Discount).expect("discount runs");
    let outcome = calls::discount(client, addr, stack.clients(), &request, None)
        .await
        .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    let answer = format!("code: {}\nresponse: {:#?}", outcome.code, outcome.response);
    assert_shared_snapshot!(
        case_name(&context),
        &format!("ApplyDiscount({request:?})"),
        &answer
    );
}
