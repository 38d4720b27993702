//! TLS refusals: every client language against every server language, on Discount's gRPC and on Catalog's HTTPS,
//! for each way a connection must be refused. Each call fails within a bound, gets no response data, and leaves
//! the server serving a good client; the reason is classified (`interop::refusal`) and is one snapshot per case,
//! shared by both services and every pair. docs/refusals.md explains where each reason is read.

#[macro_use]
mod common;

use interop::clients::ClientSecurity;
use interop::refusal::{Side, classify};
use interop::{BadCert, Lang, Security, Service, Stack, StackBuilder};
use rstest::{Context, rstest};

use common::axes::{catalog, discount, python, rust};
use common::{STACKS, calls, case_name, discount_request, server_reason, stack_for};

/// How the server under test is set up.
#[derive(Debug, Clone, Copy)]
enum Server {
    /// TLS with this bad certificate.
    Presenting(BadCert),
    /// Mutual TLS with a good certificate.
    Mutual,
    /// TLS with a good certificate, no client certificates.
    Tls,
    /// No TLS.
    Plaintext,
}

/// How the client under test connects.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// As the stack's good client would: trusting its CA (and presenting the good identity under mutual TLS).
    Trusting,
    /// Trusting the stack's CA, presenting no certificate.
    Anonymous,
    /// Trusting the stack's CA, presenting this bad certificate.
    Presenting(BadCert),
    /// Without TLS.
    Plaintext,
}

impl Server {
    fn stack(self, service: Service, lang: Lang, case: &str) -> StackBuilder {
        let builder = stack_for(service, lang).tag(case);
        match self {
            Server::Presenting(bad) => builder
                .security(Security::Tls)
                .server_identity(service, bad),
            Server::Mutual => builder.security(Security::MutualTls),
            Server::Tls => builder.security(Security::Tls),
            Server::Plaintext => builder.security(Security::Plaintext),
        }
    }

    /// Whether the server is the one that refuses (else the client refuses the server).
    fn refuses(self) -> bool {
        matches!(self, Server::Mutual | Server::Tls)
    }

    fn describe(self) -> String {
        match self {
            Server::Presenting(bad) => {
                format!("a TLS server presenting a {} certificate", bad.name())
            }
            Server::Mutual => "a mutual-TLS server".into(),
            Server::Tls => "a TLS server".into(),
            Server::Plaintext => "a plaintext server".into(),
        }
    }
}

impl Client {
    fn security(self, stack: &Stack) -> ClientSecurity {
        let ca = stack.pki().ca_path();
        let trusting = || ClientSecurity::trusting(&ca).expect("the stack's CA is readable");
        match self {
            // A TLS client even against a plaintext server: that is the mismatch under test.
            Client::Trusting if !stack.security().tls() => trusting(),
            Client::Trusting => stack.clients().clone(),
            Client::Anonymous => trusting(),
            Client::Presenting(bad) => {
                let (cert, key) = stack
                    .pki()
                    .bad_identity("client", bad)
                    .expect("the bad client certificate is made");
                trusting()
                    .presenting(&cert, &key)
                    .expect("the bad client certificate is readable")
            }
            Client::Plaintext => ClientSecurity::plaintext(),
        }
    }

    fn describe(self) -> String {
        match self {
            Client::Trusting => "a TLS client trusting the stack's CA".into(),
            Client::Anonymous => "a TLS client presenting no certificate".into(),
            Client::Presenting(bad) => {
                format!("a TLS client presenting a {} certificate", bad.name())
            }
            Client::Plaintext => "a plaintext client".into(),
        }
    }
}

/// What one attempt came to.
#[derive(Debug)]
enum Attempt {
    /// The client got an answer (a response message, or an HTTP status).
    Served(String),
    /// The client got nothing; its library said this.
    Refused(String),
}

/// One call from `client` to `service`, secured as `caller`: a unary ApplyDiscount, or GET /products as user 1.
async fn attempt(
    stack: &Stack,
    service: Service,
    client: Lang,
    caller: &ClientSecurity,
) -> Attempt {
    let addr = stack.addr(service).expect("the service runs");
    let failed = |e: anyhow::Error| -> ! { panic!("{client} client -> {}: {e:#}", stack.name()) };
    match service {
        Service::Discount => {
            let answer = calls::discount(
                client,
                addr,
                caller,
                &discount_request(Some(1), 99_999),
                None,
            )
            .await
            .unwrap_or_else(|e| failed(e));
            match (&answer.response, answer.code.as_str()) {
                (None, code) if code != "OK" => Attempt::Refused(answer.error),
                _ => Attempt::Served(format!("{answer:?}")),
            }
        }
        _ => {
            let answer = calls::http(
                client,
                addr,
                service.name(),
                caller,
                "GET",
                "/products",
                &[("X-USER-ID", "1")],
            )
            .await
            .unwrap_or_else(|e| failed(e));
            match answer.status {
                None => Attempt::Refused(answer.error),
                Some(_) => Attempt::Served(format!("{answer:?}")),
            }
        }
    }
}

#[rstest]
#[case::untrusted_server(Server::Presenting(BadCert::OtherCa), Client::Trusting)]
#[case::name_mismatch(Server::Presenting(BadCert::WrongName), Client::Trusting)]
#[case::expired_server(Server::Presenting(BadCert::Expired), Client::Trusting)]
#[case::not_yet_valid_server(Server::Presenting(BadCert::NotYetValid), Client::Trusting)]
#[case::no_client_cert(Server::Mutual, Client::Anonymous)]
#[case::client_cert_other_ca(Server::Mutual, Client::Presenting(BadCert::OtherCa))]
#[case::client_cert_expired(Server::Mutual, Client::Presenting(BadCert::Expired))]
#[case::client_cert_not_yet_valid(Server::Mutual, Client::Presenting(BadCert::NotYetValid))]
#[case::client_cert_without_client_auth(Server::Mutual, Client::Presenting(BadCert::NoClientAuth))]
#[case::plaintext_to_tls(Server::Tls, Client::Plaintext)]
#[case::tls_to_plaintext(Server::Plaintext, Client::Trusting)]
#[tokio::test]
async fn refused(
    #[context] context: Context,
    #[values(discount, catalog)] service: Service,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[case] server_setup: Server,
    #[case] client_setup: Client,
) {
    let case = case_name(&context);
    let stack = STACKS
        .get(server_setup.stack(service, server, case))
        .await
        .expect("the stack starts");
    let caller = client_setup.security(&stack);
    let error = match attempt(&stack, service, client, &caller).await {
        Attempt::Refused(error) => error,
        Attempt::Served(answer) => {
            panic!("{client} client was served by {}: {answer}", stack.name())
        }
    };
    let reported = classify(Side::Client, &error).unwrap_or_else(|| {
        panic!("no class for the {client} client's error (add a rule): {error}")
    });
    let reason = match server_setup.refuses() {
        true => {
            let (reason, line) = server_reason(&stack, service).await;
            assert!(
                reason.reported_as(reported),
                "{client} client reported {reported} ({error}), but the server refused for {reason} ({line})"
            );
            reason
        }
        false => reported,
    };
    assert_shared_snapshot!(
        case,
        &format!(
            "{} calls {}",
            client_setup.describe(),
            server_setup.describe()
        ),
        &format!("refused: {reason}")
    );
    stack
        .check(service)
        .await
        .expect("the server still serves a good client");
}

/// A CA certificate (CA:TRUE) used as a leaf: rustls refuses it on both sides, OpenSSL and BoringSSL accept it. A
/// known difference, kept as one snapshot of the whole matrix so that a change on either side shows.
#[rstest]
#[tokio::test]
async fn ca_certificate_as_leaf(#[values(discount, catalog)] service: Service) {
    let mut lines = Vec::new();
    for (server_setup, client_setup, what) in [
        (
            Server::Presenting(BadCert::CaAsLeaf),
            Client::Trusting,
            "server certificate",
        ),
        (
            Server::Mutual,
            Client::Presenting(BadCert::CaAsLeaf),
            "client certificate",
        ),
    ] {
        for server in [common::axes::rust, common::axes::python] {
            let tag = format!("ca_as_leaf_{}", what.replace(' ', "_"));
            let stack = STACKS
                .get(server_setup.stack(service, server, &tag))
                .await
                .expect("the stack starts");
            let caller = client_setup.security(&stack);
            for client in [common::axes::rust, common::axes::python] {
                let outcome = match attempt(&stack, service, client, &caller).await {
                    Attempt::Served(_) => "accepted".to_string(),
                    Attempt::Refused(_) if server_setup.refuses() => {
                        format!("refused: {}", server_reason(&stack, service).await.0)
                    }
                    Attempt::Refused(error) => match classify(Side::Client, &error) {
                        Some(reported) => format!("refused: {reported}"),
                        None => panic!("no class for the {client} client's error: {error}"),
                    },
                };
                lines.push(format!(
                    "{what}, {client} client -> {server} server: {outcome}"
                ));
            }
            stack
                .check(service)
                .await
                .expect("the server still serves a good client");
        }
    }
    assert_shared_snapshot!(
        "ca_certificate_as_leaf",
        "a CA certificate presented as a leaf, by the server and by the client",
        &lines.join("\n")
    );
}

/// After everything: one server of each kind, fresh, takes every refusal above from both client languages (and
/// random bytes), then still answers both client languages as it did before.
#[rstest]
#[tokio::test]
async fn serves_on_after_every_refusal(
    #[values(discount, catalog)] service: Service,
    #[values(rust, python)] server: Lang,
) {
    // Its own stack, started here, so that nothing else has touched it.
    let stack = stack_for(service, server)
        .security(Security::MutualTls)
        .start()
        .await
        .expect("the stack starts");
    let bad_clients = [
        Client::Anonymous,
        Client::Plaintext,
        Client::Presenting(BadCert::OtherCa),
        Client::Presenting(BadCert::Expired),
        Client::Presenting(BadCert::NotYetValid),
        Client::Presenting(BadCert::NoClientAuth),
    ];
    let good = |answer: Attempt| match answer {
        Attempt::Served(answer) => answer,
        Attempt::Refused(error) => panic!("{} refused a good client: {error}", stack.name()),
    };
    let before: Vec<String> = good_calls(&stack, service, good).await;
    for client in [common::axes::rust, common::axes::python] {
        for bad in bad_clients {
            let caller = bad.security(&stack);
            if let Attempt::Served(answer) = attempt(&stack, service, client, &caller).await {
                panic!("{client} client, {}, was served: {answer}", bad.describe());
            }
        }
    }
    let addr = stack.addr(service).expect("the service runs");
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut socket = std::net::TcpStream::connect(addr).expect("the port accepts connections");
        // Not TLS: 4 KiB of one byte.
        let _ = socket.write_all(&[0x5a; 4096]);
    })
    .await
    .expect("the writer ran");
    let after = good_calls(&stack, service, good).await;
    assert_eq!(
        before,
        after,
        "{} answers good clients differently after the refusals",
        stack.name()
    );
    stack
        .check(service)
        .await
        .expect("the server still serves a good client");
}

/// A good call from each client language, in order: what each was answered.
async fn good_calls(
    stack: &Stack,
    service: Service,
    good: impl Fn(Attempt) -> String,
) -> Vec<String> {
    let mut answers = Vec::new();
    for client in [common::axes::rust, common::axes::python] {
        answers.push(good(attempt(stack, service, client, stack.clients()).await));
    }
    answers
}
