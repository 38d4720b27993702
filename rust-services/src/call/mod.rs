//! `interop-call`, the Rust client of the process contract (docs/implementing.md, "The process contract: clients"):
//! calls described one JSON object per line on stdin, one JSON outcome per call on stdout, in order.
//!
//! gRPC calls are dynamic: the method and its messages come from the descriptors of `proto/` (compiled by build.rs)
//! plus google.rpc's (from tonic-types), the request is read from proto3 JSON and the response written back as proto3
//! JSON through prost-reflect. HTTP calls go through reqwest. Channels and HTTP clients are kept per (address, server
//! name, TLS files), so a long-lived client reuses its connections unless a call asks for a `fresh` one.
//!
//! Exit 0 at the end of the input; exit 2 and one line `interop-call: error: ...` for a line that is not a JSON
//! object; a call that cannot be made is an outcome with code `CLIENT_ERROR`, and the next line is read.

pub mod grpc;
pub mod http;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use prost_reflect::{DescriptorPool, DynamicMessage};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::cli::{Failure, HostPort};
use crate::tls::ClientTls;

/// The code of an outcome whose call could not be made (bad address, unknown method, unreadable file).
pub const CLIENT_ERROR: &str = "CLIENT_ERROR";

/// The deadline of a call that gives no `timeout_ms`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long establishing a connection may take, whatever the call's deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Command line of the `interop-call` binary: no flags, the calls come on stdin.
#[derive(clap::Parser, Debug)]
#[command(
    name = "interop-call",
    about = "Makes the gRPC and HTTP calls read from stdin (one JSON object a line) and prints one JSON outcome each"
)]
pub struct Args {}

/// One call, as the harness writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// Echoed in the outcome.
    #[serde(default)]
    pub id: serde_json::Value,
    /// Where to connect, `HOST:PORT`.
    pub addr: String,
    /// The name the server's certificate must carry (default: the host of `addr`).
    #[serde(default)]
    pub server_name: Option<String>,
    /// TLS files; absent or null for plaintext.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// The call's deadline.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Make this call on a new connection, neither taken from nor kept in the cache.
    #[serde(default)]
    pub fresh: bool,
    /// A gRPC call.
    #[serde(default)]
    pub grpc: Option<GrpcCall>,
    /// An HTTP call.
    #[serde(default)]
    pub http: Option<HttpCall>,
}

/// The TLS files of a call: trust roots, and a client identity for mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Trust roots (PEM).
    pub ca: PathBuf,
    /// Client certificate (PEM); with `key`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Private key of `cert` (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// What a gRPC call sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcCall {
    /// `package.Service/Method`.
    pub method: String,
    /// Extra request metadata (ASCII values).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The request in proto3 JSON (default: the empty message).
    #[serde(default)]
    pub request: Option<serde_json::Value>,
}

/// What an HTTP call sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Request headers, order kept, repeats allowed.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The request body, as text.
    #[serde(default)]
    pub body: String,
}

impl Call {
    /// The call's deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
    }

    /// The name the server's certificate must carry.
    fn server_name<'a>(&'a self, addr: &'a HostPort) -> &'a str {
        self.server_name.as_deref().unwrap_or(&addr.host)
    }

    /// What connections of this call may be shared with.
    fn key(&self) -> ConnectionKey {
        ConnectionKey {
            addr: self.addr.clone(),
            server_name: self.server_name.clone(),
            tls: self.tls.clone(),
        }
    }
}

/// Calls with the same key share a channel (gRPC) or a client and its pool (HTTP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConnectionKey {
    addr: String,
    server_name: Option<String>,
    tls: Option<TlsFiles>,
}

/// The outcome of one call: the JSON line written for it.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The call's `id`.
    pub id: serde_json::Value,
    /// The gRPC status code name, or `CLIENT_ERROR`; absent for an HTTP call that got a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The status message (or why the call could not be made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The response in proto3 JSON (gRPC unary calls; null unless OK). Serialized straight from the message, never
    /// through `serde_json::Value`, which would widen a float to 0.10000000149011612.
    #[serde(skip_serializing_if = "Absent::is_absent")]
    pub response: Absent<DynamicMessage>,
    /// The responses of a server-streaming call, in order (those received before a failure included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<Vec<DynamicMessage>>,
    /// The google.rpc.Status details of a failed gRPC call, each an Any in proto3 JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Detail>>,
    /// Everything the library said about a failure: the error and its sources, `a <- b <- c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// An HTTP call's response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpResponse>,
}

/// A field that is either left out of the line, or written (null included).
#[derive(Debug, Default)]
pub enum Absent<T> {
    /// Not written.
    #[default]
    Absent,
    /// Written: the value, or null.
    Present(Option<T>),
}

impl<T> Absent<T> {
    fn is_absent(&self) -> bool {
        matches!(self, Absent::Absent)
    }
}

impl<T: Serialize> Serialize for Absent<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Absent::Absent | Absent::Present(None) => serializer.serialize_none(),
            Absent::Present(Some(value)) => value.serialize(serializer),
        }
    }
}

/// One status detail: an Any whose type the client knows (written as proto3 JSON with its `@type`), or one it does
/// not (its `@type` and its bytes in base64, as `value`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// A google.protobuf.Any of a known type.
    Known(DynamicMessage),
    /// An Any of a type outside the client's descriptors.
    Unknown {
        /// The Any's type URL.
        #[serde(rename = "@type")]
        type_url: String,
        /// The Any's value, base64.
        value: String,
    },
}

/// An HTTP response as the outcome reports it.
#[derive(Debug, Serialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Lowercase names; the values of a repeated header joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body as received, as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Outcome {
    fn empty(id: serde_json::Value) -> Self {
        Outcome {
            id,
            code: None,
            message: None,
            response: Absent::Absent,
            responses: None,
            details: None,
            error: None,
            http: None,
        }
    }

    /// A gRPC outcome: `code`, `message`, `response`, `details`.
    fn grpc(id: serde_json::Value, code: &str, message: String) -> Self {
        Outcome {
            code: Some(code.to_string()),
            message: Some(message),
            response: Absent::Present(None),
            details: Some(Vec::new()),
            ..Outcome::empty(id)
        }
    }

    /// A call that could not be made, and why.
    pub fn client_error(id: serde_json::Value, why: impl std::fmt::Display) -> Self {
        Outcome::grpc(id, CLIENT_ERROR, why.to_string())
    }
}

/// A call that could not be made: the outcome's message.
#[derive(Debug)]
pub struct CannotCall(pub String);

impl<T: std::fmt::Display> From<T> for CannotCall {
    fn from(why: T) -> Self {
        CannotCall(why.to_string())
    }
}

/// The error and its sources on one line, `error <- source <- source's source`, leaving out a source whose text
/// the previous part already holds (wrappers often repeat their cause).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(" <- ")
}

/// The descriptors calls are made with: proto/ (compiled by build.rs), google.rpc's Status and error details
/// (tonic-types), and the well-known types (prost-reflect).
pub fn descriptor_pool() -> Result<DescriptorPool, prost_reflect::DescriptorError> {
    let mut pool = DescriptorPool::global();
    pool.decode_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)?;
    pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
    Ok(pool)
}

/// What lives as long as the process: the descriptors and the connections.
pub struct Caller {
    pool: DescriptorPool,
    channels: HashMap<ConnectionKey, tonic::transport::Channel>,
    http_clients: HashMap<ConnectionKey, reqwest::Client>,
}

impl Caller {
    /// A caller with no connection yet.
    pub fn new() -> Result<Self, Failure> {
        let pool = descriptor_pool().map_err(|e| {
            Failure::Runtime(anyhow::anyhow!("the compiled descriptors do not load: {e}"))
        })?;
        Ok(Caller {
            pool,
            channels: HashMap::new(),
            http_clients: HashMap::new(),
        })
    }

    /// Makes one call and says what happened.
    pub async fn call(&mut self, call: Call) -> Outcome {
        let id = call.id.clone();
        let made = match (&call.grpc, &call.http) {
            (Some(grpc), None) => self.grpc(&call, grpc).await,
            (None, Some(http)) => self.http(&call, http).await,
            (Some(_), Some(_)) => Err(CannotCall(
                "a call has either grpc or http, not both".into(),
            )),
            (None, None) => Err(CannotCall("a call needs grpc or http".into())),
        };
        made.unwrap_or_else(|CannotCall(why)| Outcome::client_error(id, why))
    }

    async fn grpc(&mut self, call: &Call, grpc: &GrpcCall) -> Result<Outcome, CannotCall> {
        let prepared = grpc::prepare(&self.pool, grpc)?;
        let channel = match (call.fresh, self.channels.get(&call.key())) {
            (false, Some(channel)) => channel.clone(),
            _ => {
                let channel = grpc::channel(call)?;
                if !call.fresh {
                    self.channels.insert(call.key(), channel.clone());
                }
                channel
            }
        };
        Ok(grpc::call(&self.pool, channel, call, prepared).await)
    }

    async fn http(&mut self, call: &Call, http: &HttpCall) -> Result<Outcome, CannotCall> {
        let (client, base) = match (call.fresh, self.http_clients.get(&call.key())) {
            (false, Some(client)) => (client.clone(), http::base_url(call)?),
            _ => {
                let client = http::client(call).await?;
                if !call.fresh {
                    self.http_clients.insert(call.key(), client.clone());
                }
                (client, http::base_url(call)?)
            }
        };
        http::call(&client, &base, call, http).await
    }
}

/// Reads the TLS files of a call, naming its fields in errors.
fn client_tls(files: &TlsFiles) -> Result<ClientTls, CannotCall> {
    let identity = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => Some((("tls.cert", cert.as_path()), ("tls.key", key.as_path()))),
        (None, None) => None,
        _ => return Err(CannotCall("tls: give both cert and key, or neither".into())),
    };
    ClientTls::read(("tls.ca", &files.ca), identity).map_err(CannotCall::from)
}

/// Reads calls from stdin until its end, answering each on stdout in order.
pub async fn run(_args: Args) -> Result<(), Failure> {
    let mut caller = Caller::new()?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let mut number = 0u64;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot read stdin: {e}")))?
    {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let outcome = match parse(&line) {
            Ok(Ok(call)) => caller.call(call).await,
            Ok(Err((id, why))) => Outcome::client_error(id, why),
            Err(why) => return Err(Failure::Usage(format!("line {number}: {why}"))),
        };
        let mut text = serde_json::to_string(&outcome).unwrap_or_else(|e| {
            serde_json::to_string(&Outcome::client_error(
                outcome.id.clone(),
                format!("cannot write the outcome as JSON: {e}"),
            ))
            .expect("an outcome without messages serializes")
        });
        text.push('\n');
        stdout
            .write_all(text.as_bytes())
            .await
            .and(stdout.flush().await)
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot write stdout: {e}")))?;
    }
    Ok(())
}

/// A line as a call: `Err` when it is not a JSON object at all (exit 2), `Ok(Err)` when it is an object that does not
/// describe a call (a `CLIENT_ERROR` outcome, with the id if it has one).
#[allow(clippy::type_complexity)]
fn parse(line: &str) -> Result<Result<Call, (serde_json::Value, String)>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err("not a JSON object".to_string());
    };
    let id = object.get("id").cloned().unwrap_or_default();
    Ok(serde_json::from_value(value).map_err(|e| (id, format!("not a call: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_objects_are_refused() {
        assert!(parse("nope").is_err());
        assert!(parse("[1]").is_err());
        let (id, why) = parse(r#"{"id": "3", "adr": "x"}"#).unwrap().unwrap_err();
        assert_eq!(id, "3");
        assert!(why.contains("adr"), "{why}");
        let call = parse(r#"{"id": 4, "addr": "h:1", "grpc": {"method": "a.B/C"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(call.timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn the_pool_knows_the_contracts_and_google_rpc() {
        let pool = descriptor_pool().unwrap();
        for name in [
            "ecommerce.DiscountRequest",
            "order.CreateOrderRequest",
            "google.rpc.Status",
            "google.rpc.BadRequest",
            "google.protobuf.Any",
        ] {
            assert!(pool.get_message_by_name(name).is_some(), "{name}");
        }
    }
}
