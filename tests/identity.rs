//! Who may call Discount. Under mutual TLS, Discount lets in the client identities it is given (a DNS name in the
//! certificate; the harness passes catalog, order and client) and answers any other certificate from the same CA
//! with PERMISSION_DENIED. With a bearer token, a missing or wrong token gets UNAUTHENTICATED. Every client language
//! against every server language, one snapshot per case: the same code and message everywhere.

#[macro_use]
mod common;

use interop::clients::ClientSecurity;
use interop::{BadCert, Lang, Security, Service};
use rstest::{Context, rstest};

use common::axes::{python, rust};
use common::{STACKS, calls, case_name, discount_request, stack_for};

/// The token of the token-protected stacks.
const TOKEN: &str = "s3cret-token_for.tests~";

/// Which certificate a client presents.
#[derive(Debug, Clone, Copy)]
enum Identity {
    /// The stack's certificate for this identity.
    Named(&'static str),
    /// The client identity spoiled this way (same CA).
    Bad(BadCert),
}

#[rstest]
#[case::catalog_allowed(Identity::Named("catalog"))]
#[case::order_allowed(Identity::Named("order"))]
#[case::test_client_allowed(Identity::Named("client"))]
#[case::payment_denied(Identity::Named("payment"))]
#[case::unknown_name_denied(Identity::Bad(BadCert::WrongName))]
#[tokio::test]
async fn client_identity(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[case] identity: Identity,
) {
    let stack = STACKS
        .get(stack_for(Service::Discount, server).security(Security::MutualTls))
        .await
        .expect("the stack starts");
    let pki = stack.pki();
    let (cert, key) = match identity {
        Identity::Named(name) => {
            let (cert, key) = pki.identity(name).expect("the identity exists");
            (cert.to_path_buf(), key.to_path_buf())
        }
        Identity::Bad(bad) => pki
            .bad_identity("client", bad)
            .expect("the bad identity is made"),
    };
    let caller = ClientSecurity::trusting(&pki.ca_path())
        .and_then(|c| c.presenting(&cert, &key))
        .expect("the certificates are readable");
    let addr = stack.addr(Service::Discount).expect("discount runs");
    let answer = calls::discount(
        client,
        addr,
        &caller,
        &discount_request(Some(1), 99_999),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    assert_eq!(
        answer.code == "OK",
        answer.response.is_some(),
        "a response comes with OK and only with OK: {answer:?}"
    );
    assert_shared_snapshot!(
        case_name(&context),
        &format!("ApplyDiscount over mutual TLS presenting {identity:?}"),
        &format!("code: {}\nmessage: {}", answer.code, answer.message)
    );
    stack
        .check(Service::Discount)
        .await
        .expect("discount still serves a good client");
}

#[rstest]
#[case::right_token(Some(TOKEN))]
#[case::wrong_token(Some("s3cret-token_for.tests"))]
#[case::no_token(None)]
#[tokio::test]
async fn bearer_token(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[case] token: Option<&str>,
) {
    let builder = stack_for(Service::Discount, server)
        .security(Security::MutualTls)
        .bearer_token(Service::Discount, TOKEN);
    let stack = STACKS.get(builder).await.expect("the stack starts");
    let addr = stack.addr(Service::Discount).expect("discount runs");
    let answer = calls::discount(
        client,
        addr,
        stack.clients(),
        &discount_request(Some(1), 99_999),
        token,
    )
    .await
    .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    assert_eq!(answer.code == "OK", answer.response.is_some(), "{answer:?}");
    let request = match token {
        Some(token) => format!("ApplyDiscount with authorization: Bearer {token}"),
        None => "ApplyDiscount without authorization".to_string(),
    };
    assert_shared_snapshot!(
        case_name(&context),
        &request,
        &format!("code: {}\nmessage: {}", answer.code, answer.message)
    );
}
