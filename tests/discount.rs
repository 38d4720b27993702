//! Discount's gRPC contract: a Rust (tonic) client and a Python (grpcio) client call each Discount server over TLS
//! and mutual TLS. Every client/server pair must decode the same response for each request: one snapshot per case.

#[macro_use]
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use interop::certs::CLIENT_IDENTITY;
use interop::{Lang, Security, Service, Stack};
use interop_services::proto::ecommerce::discount_client::DiscountClient;
use interop_services::proto::ecommerce::{Customer, DiscountRequest, DiscountResponse, Product};
use prost::Message;
use rstest::{Context, rstest};

use common::axes::{mtls, python, rust, tls};
use common::{STACKS, case_name};

/// What a client saw: the status code and the response it decoded.
struct Outcome {
    code: String,
    response: Option<DiscountResponse>,
}

async fn call_with_rust(stack: &Stack, request: DiscountRequest) -> anyhow::Result<Outcome> {
    let mut client = DiscountClient::new(stack.grpc_channel(Service::Discount)?);
    Ok(match client.apply_discount(request).await {
        Ok(response) => Outcome {
            code: "OK".into(),
            response: Some(response.into_inner()),
        },
        Err(status) => Outcome {
            code: format!("{:?}", status.code()),
            response: None,
        },
    })
}

/// The grpcio client side, as a process: `interop_services.discount.client` prints what it decoded.
async fn call_with_python(stack: &Stack, request: DiscountRequest) -> anyhow::Result<Outcome> {
    let env = interop::python::ensure()?;
    let mut command = tokio::process::Command::new(&env.python);
    command
        .args([
            "-m",
            "interop_services.discount.client",
            "--server-name",
            Service::Discount.name(),
        ])
        .arg("--addr")
        .arg(stack.addr(Service::Discount)?.to_string())
        .arg("--request-b64")
        .arg(BASE64.encode(request.encode_to_vec()));
    if stack.security().tls() {
        command.arg("--ca").arg(stack.pki().ca_path());
    }
    if stack.security().mutual() {
        let (cert, key) = stack.pki().identity(CLIENT_IDENTITY)?;
        command.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let output = command.output().await?;
    anyhow::ensure!(
        output.status.success(),
        "the Python client failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let code = answer["code"].as_str().unwrap_or_default().to_string();
    let response = match answer["response_b64"].as_str() {
        Some(b64) if !b64.is_empty() => {
            Some(DiscountResponse::decode(BASE64.decode(b64)?.as_slice())?)
        }
        _ => None,
    };
    Ok(Outcome { code, response })
}

fn request(customer: Option<i32>, price_in_cents: i32) -> DiscountRequest {
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

#[rstest]
#[case::customer_1(Some(1), 99_999)]
#[case::customer_1_rounds_down(Some(1), 32_999)]
#[case::customer_1_one_cent(Some(1), 1)]
#[case::customer_1_int32_max(Some(1), i32::MAX)]
#[case::customer_1_free(Some(1), 0)]
#[case::customer_1_negative_price(Some(1), -100)]
#[case::customer_2(Some(2), 99_999)]
#[case::no_customer(None, 99_999)]
#[tokio::test]
async fn apply_discount(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[values(tls, mtls)] security: Security,
    #[case] customer: Option<i32>,
    #[case] price_in_cents: i32,
) {
    let builder = Stack::builder()
        .service(Service::Discount, server)
        .security(security)
        .backend(interop::Backend::from_env().expect("INTEROP_BACKEND names a backend"));
    let stack = STACKS.get(builder).await.expect("the stack starts");
    let request = request(customer, price_in_cents);
    let outcome = match client {
        Lang::Rust => call_with_rust(&stack, request.clone()).await,
        Lang::Python => call_with_python(&stack, request.clone()).await,
    }
    .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    let answer = format!("code: {}\nresponse: {:#?}", outcome.code, outcome.response);
    assert_shared_snapshot!(
        case_name(&context),
        &format!("ApplyDiscount({request:?})"),
        &answer
    );
}
