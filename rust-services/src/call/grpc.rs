//! gRPC calls with dynamic messages: the method and its types from the descriptor pool, a codec for
//! [`DynamicMessage`], tonic's `Grpc` client, and the outcome in proto3 JSON.

use std::str::FromStr;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor, Value};
use tonic::Status;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::{Channel, Endpoint};

use super::{Call, CannotCall, Detail, GrpcCall, Outcome, client_tls, error_chain};
use crate::cli::HostPort;
use crate::rpc::code_name;

/// A method found and its request read: what a call needs besides a channel.
pub struct Prepared {
    method: MethodDescriptor,
    request: DynamicMessage,
    metadata: Vec<(AsciiMetadataKey, AsciiMetadataValue)>,
}

/// Finds the method, reads the request from proto3 JSON and checks the metadata.
pub fn prepare(pool: &DescriptorPool, grpc: &GrpcCall) -> Result<Prepared, CannotCall> {
    let (service, name) = grpc
        .method
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| format!("method {}: expected package.Service/Method", grpc.method))?;
    let service = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("method {}: unknown service {service}", grpc.method))?;
    let method = service
        .methods()
        .find(|m| m.name() == name)
        .ok_or_else(|| {
            format!(
                "method {}: {} has no method {name}",
                grpc.method,
                service.full_name()
            )
        })?;
    if method.is_client_streaming() {
        return Err(CannotCall(format!(
            "method {}: streaming not supported yet (client streaming)",
            grpc.method
        )));
    }
    let request = match &grpc.request {
        Some(json) => DynamicMessage::deserialize(method.input(), json).map_err(|e| {
            format!(
                "request: not a {} in proto3 JSON: {e}",
                method.input().full_name()
            )
        })?,
        None => DynamicMessage::new(method.input()),
    };
    let metadata = grpc
        .metadata
        .iter()
        .map(|(key, value)| {
            let parsed_key = AsciiMetadataKey::from_str(key)
                .map_err(|e| format!("metadata {key}: not an ASCII metadata key: {e}"))?;
            let parsed_value = AsciiMetadataValue::from_str(value)
                .map_err(|e| format!("metadata {key}: not an ASCII value: {e}"))?;
            Ok((parsed_key, parsed_value))
        })
        .collect::<Result<_, String>>()?;
    Ok(Prepared {
        method,
        request,
        metadata,
    })
}

/// A new lazily connected channel for the call: TLS iff `tls`, verifying `server_name` (also the `:authority`).
pub fn channel(call: &Call) -> Result<Channel, CannotCall> {
    let addr = HostPort::parse("addr", &call.addr)?;
    let scheme = if call.tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| format!("addr {}: {e}", call.addr))?
        .tcp_nodelay(true)
        .connect_timeout(super::CONNECT_TIMEOUT);
    if let Some(files) = &call.tls {
        let tls = client_tls(files)?;
        let server_name = call.server_name(&addr);
        let origin = HostPort {
            host: server_name.to_string(),
            port: addr.port,
        };
        endpoint = endpoint
            .tls_config(tls.tonic_config(server_name))
            .map_err(|e| format!("server_name {server_name}: {e}"))?
            .origin(
                format!("https://{origin}")
                    .parse()
                    .map_err(|e| format!("server_name {server_name}: {e}"))?,
            );
    }
    Ok(endpoint.connect_lazy())
}

/// Makes the call and reports what tonic saw. The deadline is sent as `grpc-timeout` and kept here too.
pub async fn call(
    pool: &DescriptorPool,
    channel: Channel,
    call: &Call,
    prepared: Prepared,
) -> Outcome {
    let Prepared {
        method,
        request,
        metadata,
    } = prepared;
    let timeout = call.timeout();
    let mut request = tonic::Request::new(request);
    request.set_timeout(timeout);
    for (key, value) in metadata {
        request.metadata_mut().append(key, value);
    }
    let path = PathAndQuery::from_str(&format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ));
    let path = match path {
        Ok(path) => path,
        Err(e) => return Outcome::client_error(call.id.clone(), format!("method path: {e}")),
    };
    let codec = DynamicCodec(method.output());
    let mut grpc = Grpc::new(channel);
    let id = call.id.clone();
    let made = tokio::time::timeout(timeout, async {
        grpc.ready()
            .await
            .map_err(|e| Status::from_error(Box::new(e)))?;
        if method.is_server_streaming() {
            let mut stream = grpc
                .server_streaming(request, path, codec)
                .await?
                .into_inner();
            let mut responses = Vec::new();
            loop {
                match stream.message().await {
                    Ok(Some(message)) => responses.push(message),
                    Ok(None) => return Ok(Made::Stream(responses, None)),
                    Err(status) => return Ok(Made::Stream(responses, Some(status))),
                }
            }
        } else {
            Ok(Made::Unary(
                grpc.unary(request, path, codec).await?.into_inner(),
            ))
        }
    })
    .await;
    let made = made.unwrap_or_else(|_| {
        Err(Status::deadline_exceeded(format!(
            "no answer within the deadline ({} ms, client side)",
            timeout.as_millis()
        )))
    });
    match made {
        Ok(Made::Unary(response)) => {
            let mut outcome = Outcome::grpc(id, "OK", String::new());
            outcome.response = super::Absent::Present(Some(response));
            outcome
        }
        Ok(Made::Stream(responses, status)) => {
            let mut outcome = match status {
                None => Outcome::grpc(id, "OK", String::new()),
                Some(status) => failed(pool, id, &status),
            };
            outcome.responses = Some(responses);
            outcome
        }
        Err(status) => failed(pool, id, &status),
    }
}

enum Made {
    Unary(DynamicMessage),
    Stream(Vec<DynamicMessage>, Option<Status>),
}

/// The outcome of a failed call: code, message, decoded details, and tonic's whole error chain.
fn failed(pool: &DescriptorPool, id: serde_json::Value, status: &Status) -> Outcome {
    let mut outcome = Outcome::grpc(id, code_name(status.code()), status.message().to_string());
    let mut error = error_chain(status);
    match details(pool, status.details()) {
        Ok(details) => outcome.details = Some(details),
        Err(why) => error.push_str(&format!(" (grpc-status-details-bin: {why})")),
    }
    outcome.error = Some(error);
    outcome
}

/// The google.rpc.Status in a status's details bytes, each of its Anys as a [`Detail`], in order.
pub fn details(pool: &DescriptorPool, bytes: &[u8]) -> Result<Vec<Detail>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let status_type = pool
        .get_message_by_name("google.rpc.Status")
        .ok_or("google.rpc.Status is not in the descriptors")?;
    let status = DynamicMessage::decode(status_type, bytes)
        .map_err(|e| format!("not a google.rpc.Status: {e}"))?;
    let Some(field) = status.get_field_by_name("details") else {
        return Ok(Vec::new());
    };
    let Value::List(anys) = field.as_ref() else {
        return Err("google.rpc.Status.details is not a list".to_string());
    };
    Ok(anys
        .iter()
        .filter_map(Value::as_message)
        .map(|any| {
            let type_url = any
                .get_field_by_name("type_url")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let value = any
                .get_field_by_name("value")
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default();
            let type_name = type_url.rsplit('/').next().unwrap_or_default();
            // prost-reflect writes an Any as proto3 JSON only if it knows (and can decode) the type inside.
            let known = pool
                .get_message_by_name(type_name)
                .is_some_and(|t| DynamicMessage::decode(t, value.as_ref()).is_ok());
            if known {
                Detail::Known(any.clone())
            } else {
                Detail::Unknown {
                    type_url,
                    value: base64::engine::general_purpose::STANDARD.encode(&value),
                }
            }
        })
        .collect())
}

/// Encodes any [`DynamicMessage`], decodes the method's output type.
#[derive(Clone)]
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| {
                Status::internal(format!(
                    "cannot decode the response as {}: {e}",
                    self.0.full_name()
                ))
            })
    }
}
