//! Bad input, answered the same way by every language, and the service serves on. Catalog: odd X-USER-ID values,
//! oversized headers, unknown paths and methods, from both client languages. Discount: a request above the size
//! limit. Both: random bytes on the port, and a connection that opens and says nothing (it must delay nobody).
//! Requests the tutorial never sends but that are well-formed (no customer, no product, an empty request) are
//! cases of the Discount contract itself, in tests/discount.rs.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use interop::{Lang, Security, Service, Stack};
use interop_services::proto::ecommerce::DiscountRequest;
use prost::Message;
use rstest::{Context, rstest};

use common::axes::{catalog, discount, python, rust};
use common::calls::{self, CALL_LIMIT};
use common::{STACKS, case_name, discount_request, server_reason, stack_for};

/// The request size limit both Discount servers set explicitly (4 MiB).
const MAX_REQUEST_BYTES: usize = interop_services::discount::server::MAX_REQUEST_BYTES;

/// Both servers close a connection that has not finished its TLS handshake after 10 s; this bounds the wait.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);

async fn stack(service: Service, lang: Lang, tag: Option<&str>) -> std::sync::Arc<Stack> {
    let builder = stack_for(service, lang).security(Security::MutualTls);
    let builder = match tag {
        Some(tag) => builder.tag(tag),
        None => builder,
    };
    STACKS.get(builder).await.expect("the stack starts")
}

#[rstest]
#[case::user_id_empty(&[("X-USER-ID", "")])]
#[case::user_id_negative(&[("X-USER-ID", "-1")])]
#[case::user_id_beyond_int32(&[("X-USER-ID", "2147483648")])]
#[case::user_id_beyond_int64(&[("X-USER-ID", "9223372036854775808")])]
#[case::user_id_padded(&[("X-USER-ID", "  1 ")])]
#[case::user_id_non_ascii(&[("X-USER-ID", "١")])]
#[case::user_id_repeated(&[("X-USER-ID", "1"), ("X-USER-ID", "2")])]
#[case::header_15_kib(&[("X-USER-ID", "1"), ("X-PADDING", &"p".repeat(15 * 1024))])]
#[case::header_64_kib(&[("X-USER-ID", "1"), ("X-PADDING", &"p".repeat(64 * 1024))])]
#[tokio::test]
async fn catalog_headers(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[case] headers: &[(&str, &str)],
) {
    catalog_request(context, client, server, "GET", "/products", headers).await;
}

#[rstest]
#[case::unknown_path("GET", "/nope")]
#[case::wrong_method("POST", "/products")]
#[tokio::test]
async fn catalog_routes(
    #[context] context: Context,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[case] method: &str,
    #[case] path: &str,
) {
    catalog_request(context, client, server, method, path, &[]).await;
}

async fn catalog_request(
    context: Context,
    client: Lang,
    server: Lang,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) {
    let stack = stack(Service::Catalog, server, None).await;
    let addr = stack.addr(Service::Catalog).expect("catalog runs");
    let answer = calls::http(
        client,
        addr,
        "catalog",
        stack.clients(),
        method,
        path,
        headers,
    )
    .await
    .and_then(|a| a.render())
    .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    let shown: Vec<String> = headers
        .iter()
        .map(|(name, value)| match value.len() {
            0..=64 => format!("{name}: {value:?}"),
            n => format!("{name}: <{n} bytes>"),
        })
        .collect();
    assert_shared_snapshot!(
        case_name(&context),
        &format!("{method} {path} with [{}]", shown.join(", ")),
        &answer
    );
    stack
        .check(Service::Catalog)
        .await
        .expect("catalog still serves a good client");
}

/// A request one byte above the limit: RESOURCE_EXHAUSTED, with the same message from both servers.
#[rstest]
#[tokio::test]
async fn oversized_request(
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
) {
    let stack = stack(Service::Discount, server, None).await;
    let request = request_of_size(MAX_REQUEST_BYTES + 1);
    let addr = stack.addr(Service::Discount).expect("discount runs");
    let answer = calls::discount(client, addr, stack.clients(), &request, None)
        .await
        .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
    assert!(answer.response.is_none(), "{answer:?}");
    assert_shared_snapshot!(
        "oversized_request",
        &format!(
            "ApplyDiscount with a request of {} bytes",
            MAX_REQUEST_BYTES + 1
        ),
        &format!("code: {}\nmessage: {}", answer.code, answer.message)
    );
    stack
        .check(Service::Discount)
        .await
        .expect("discount still serves a good client");
}

/// A valid request of exactly `size` bytes, its product description padded.
fn request_of_size(size: usize) -> DiscountRequest {
    let mut request = discount_request(Some(1), 99_999);
    let product = request.product.as_mut().expect("the request has a product");
    product.description = "x".repeat(size);
    // Shrink by the overshoot: the length prefixes keep their width at this size.
    let over = request.encoded_len() - size;
    let product = request.product.as_mut().expect("the request has a product");
    product.description.truncate(size - over);
    assert_eq!(request.encoded_len(), size);
    request
}

/// Bytes from a fixed-seed generator: random to the server, the same in every run.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Reads until the server closes the connection; `None` if it does not within `limit`.
fn read_until_closed(socket: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(limit)).ok()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return Some(answer),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(answer),
            Err(_) => return None,
        }
    }
}

/// 4 KiB of random bytes on the service's TLS port: the server closes the connection, logs why, and serves on.
#[rstest]
#[tokio::test]
async fn random_bytes_on_the_port(
    #[values(discount, catalog)] service: Service,
    #[values(rust, python)] server: Lang,
) {
    // A stack of its own: the test reads the server's log and must know who wrote to it.
    let stack = stack(service, server, Some("random_bytes")).await;
    let addr = stack.addr(service).expect("the service runs");
    let answer = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).expect("the port accepts connections");
        // The server may close before it has read everything: a failed write is part of the answer.
        let _ = socket.write_all(&random_bytes(4096));
        read_until_closed(&mut socket, CALL_LIMIT)
    })
    .await
    .expect("the reader ran");
    assert!(
        answer.is_some(),
        "{} did not close the connection within {CALL_LIMIT:?}",
        stack.name()
    );
    let (logged, _) = server_reason(&stack, service).await;
    assert_shared_snapshot!(
        "random_bytes_on_the_port",
        "4 KiB of random bytes written to the TLS port",
        &format!("connection: closed by the server\nlogged: {logged}")
    );
    stack
        .check(service)
        .await
        .expect("the server still serves a good client");
}

/// A connection that opens and says nothing delays nobody: a good call made meanwhile is answered while the silent
/// connection is still open, and the server closes the silent one by itself in the end.
#[rstest]
#[tokio::test]
async fn silent_connection(
    #[values(discount, catalog)] service: Service,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
) {
    let stack = stack(service, server, None).await;
    let addr: SocketAddr = stack.addr(service).expect("the service runs");
    let mut silent = TcpStream::connect(addr).expect("the port accepts connections");
    let answer = match service {
        Service::Discount => {
            let answer = calls::discount(
                client,
                addr,
                stack.clients(),
                &discount_request(Some(1), 99_999),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
            format!("code: {}", answer.code)
        }
        _ => {
            let answer = calls::http(
                client,
                addr,
                "catalog",
                stack.clients(),
                "GET",
                "/healthz",
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("{client} client -> {}: {e:#}", stack.name()));
            format!("status: {:?}", answer.status)
        }
    };
    silent
        .set_nonblocking(true)
        .expect("the socket can be non-blocking");
    let mut byte = [0u8; 1];
    let open =
        matches!(silent.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(
        open,
        "the silent connection was closed before the good call was answered: the call waited for it"
    );
    silent.set_nonblocking(false).expect("the socket can block");
    let closed = tokio::task::spawn_blocking(move || read_until_closed(&mut silent, SILENCE_LIMIT))
        .await
        .expect("the reader ran");
    assert!(
        closed.is_some(),
        "{} kept a silent connection open beyond {SILENCE_LIMIT:?}",
        stack.name()
    );
    assert_shared_snapshot!(
        format!("silent_connection_{service}"),
        "a good call while another connection is open and silent",
        &format!("good call: {answer}\nsilent connection: closed by the server")
    );
}
