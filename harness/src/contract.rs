//! Contracts as data: a folder per contract (`contracts/<name>/contract.toml`) holding the stack it needs, its axes
//! and its cases, each a request (gRPC as proto3 JSON, or HTTP) and the expected outcome. The messages are dynamic
//! (prost-reflect over descriptors protox compiles from `proto/`), so a contract needs no generated code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{Security, Service};
use crate::workspace;

/// The file that describes a contract, in its folder.
pub const CONTRACT: &str = "contract.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractFile {
    name: String,
    #[serde(default)]
    description: String,
    stack: Vec<String>,
    target: String,
    #[serde(default)]
    client_axis: bool,
    security: Vec<String>,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default, rename = "case")]
    cases: Vec<CaseFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    grpc: Option<GrpcDefaults>,
    http: Option<HttpCall>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrpcDefaults {
    method: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: String,
    method: Option<String>,
    request: Option<toml::Value>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    http: Option<HttpCall>,
    #[serde(default)]
    features: Vec<String>,
    security: Option<Vec<String>>,
    timeout_ms: Option<u64>,
    expect: Expect,
}

/// An HTTP request of a case (fields a case leaves out come from the contract's defaults).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    /// `GET`, `POST`, ...
    pub method: Option<String>,
    /// The path and query.
    pub path: Option<String>,
    /// Name/value pairs, in order, repeats allowed.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(default)]
    pub body: String,
}

/// What a case expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// gRPC: the status code name (`OK`, `INVALID_ARGUMENT`, ...).
    pub code: Option<String>,
    /// gRPC: the status message, exactly.
    pub message: Option<String>,
    /// gRPC: the response, proto3 JSON (compared as messages: spelling does not count, values and presence do).
    pub response: Option<toml::Value>,
    /// gRPC: the google.rpc details, proto3 JSON `Any`s with `@type`, in order.
    pub details: Option<Vec<toml::Value>>,
    /// HTTP: the status.
    pub status: Option<u16>,
    /// HTTP: response headers that must have these values (names in lower case).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP: the exact body.
    pub body: Option<String>,
    /// HTTP: a file (relative to the contract's folder) holding the exact body.
    pub body_file: Option<String>,
}

/// A case's request.
#[derive(Debug, Clone)]
pub enum Request {
    /// A unary gRPC call.
    Grpc {
        /// `package.Service/Method`.
        method: String,
        /// The request in proto3 JSON.
        request: Value,
        /// Extra request metadata.
        metadata: BTreeMap<String, String>,
        /// The request type.
        input: MessageDescriptor,
        /// The response type.
        output: MessageDescriptor,
    },
    /// An HTTP request.
    Http {
        /// `GET`, ...
        method: String,
        /// The path.
        path: String,
        /// Headers, in order.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
}

/// One case of a contract.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its name inside the contract (`customer_1`, `products/user_1`).
    pub name: String,
    /// Where it is written: the contract file and the line of its `[[case]]`.
    pub location: String,
    /// What it sends.
    pub request: Request,
    /// What it expects.
    pub expect: Expect,
    /// The exact expected body, read from `body` or `body_file`.
    pub body: Option<String>,
    /// Server features it needs beyond those of its security mode.
    pub features: Vec<String>,
    /// The security modes it runs in.
    pub security: Vec<Security>,
    /// The call's deadline.
    pub timeout_ms: u64,
}

/// One contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Its name: the first part of every cell name.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The services of its stack, each an axis.
    pub stack: Vec<Service>,
    /// The service the client calls.
    pub target: Service,
    /// Whether the client is an axis (else the reference implementation's client calls).
    pub client_axis: bool,
    /// Its security modes.
    pub security: Vec<Security>,
    /// Its cases.
    pub cases: Vec<Case>,
}

/// The default deadline of a case's call.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The descriptors of every `.proto` under `proto/`, compiled once per process.
pub fn pool() -> Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let compile = || -> Result<DescriptorPool> {
            let files = workspace::proto_files()?;
            let set = protox::compile(&files, [workspace::root().join("proto")])
                .map_err(|e| anyhow!("cannot compile proto/: {e}"))?;
            DescriptorPool::from_file_descriptor_set(set)
                .map_err(|e| anyhow!("cannot read the compiled descriptors: {e}"))
        };
        compile().map_err(|e| format!("{e:#}"))
    })
    .as_ref()
    .map_err(|e| anyhow!("{e}"))
}

/// Every contract under `contracts/` of the repository, sorted by name.
pub fn all() -> Result<&'static [Contract]> {
    static ALL: OnceLock<Result<Vec<Contract>, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let load = || -> Result<Vec<Contract>> {
            let root = workspace::root().join("contracts");
            let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
                .with_context(|| format!("cannot list {}", root.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|d| d.join(CONTRACT).is_file())
                .collect();
            dirs.sort();
            dirs.iter().map(|d| read(d)).collect()
        };
        load().map_err(|e| format!("{e:#}"))
    })
    .as_deref()
    .map_err(|e| anyhow!("{e}"))
}

/// Reads and checks the contract in `dir`.
pub fn read(dir: &Path) -> Result<Contract> {
    let path = dir.join(CONTRACT);
    let text =
        fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let file: ContractFile =
        toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let here = |what: &str| format!("{}: {what}", path.display());
    let service = |name: &str| -> Result<Service> {
        name.parse().map_err(|e: String| anyhow!("{}", here(&e)))
    };
    let stack = file
        .stack
        .iter()
        .map(|s| service(s))
        .collect::<Result<Vec<_>>>()?;
    let target = service(&file.target)?;
    if !stack.contains(&target) {
        bail!("{}", here(&format!("target {target} is not in the stack")));
    }
    let security_modes = |names: &[String]| -> Result<Vec<Security>> {
        names
            .iter()
            .map(|s| s.parse().map_err(|e: String| anyhow!("{}", here(&e))))
            .collect()
    };
    let security = security_modes(&file.security)?;
    let case_lines = case_lines(&text);
    let mut cases = Vec::new();
    for (index, case) in file.cases.into_iter().enumerate() {
        let line = case_lines.get(index).copied().unwrap_or(0);
        let location = format!("{}:{line}", path.display());
        let at = |what: String| anyhow!("{location}: case {}: {what}", case.name);
        if cases.iter().any(|c: &Case| c.name == case.name) {
            return Err(at("a second case of this name".into()));
        }
        let is_http =
            case.http.is_some() || (file.defaults.http.is_some() && file.defaults.grpc.is_none());
        let request = match (is_http, &file.defaults.grpc) {
            (true, _) => {
                let defaults = file.defaults.http.clone().unwrap_or_default();
                let http = case.http.clone().unwrap_or_default();
                let mut headers = defaults.headers.clone();
                headers.extend(http.headers);
                Request::Http {
                    method: http
                        .method
                        .or(defaults.method)
                        .ok_or_else(|| at("no HTTP method".into()))?,
                    path: http
                        .path
                        .or(defaults.path)
                        .ok_or_else(|| at("no HTTP path".into()))?,
                    headers,
                    body: if http.body.is_empty() {
                        defaults.body
                    } else {
                        http.body
                    },
                }
            }
            (false, grpc) => {
                let method = case
                    .method
                    .or(grpc.as_ref().map(|g| g.method.clone()))
                    .ok_or_else(|| at("no method (and no [defaults.grpc] method)".into()))?;
                let (input, output) = method_types(&method).map_err(|e| at(format!("{e:#}")))?;
                let request = to_json(
                    case.request
                        .unwrap_or(toml::Value::Table(Default::default())),
                );
                // Checked now, so that a typo in a case is an error of the case, not of every cell.
                message_from_json(&input, &request).map_err(|e| at(format!("request: {e:#}")))?;
                let mut metadata = grpc
                    .as_ref()
                    .map(|g| g.metadata.clone())
                    .unwrap_or_default();
                metadata.extend(case.metadata);
                if let Some(response) = &case.expect.response {
                    message_from_json(&output, &to_json(response.clone()))
                        .map_err(|e| at(format!("expect.response: {e:#}")))?;
                }
                Request::Grpc {
                    method,
                    request,
                    metadata,
                    input,
                    output,
                }
            }
        };
        let body = match (&case.expect.body, &case.expect.body_file) {
            (Some(_), Some(_)) => return Err(at("expect has both body and body_file".into())),
            (Some(body), None) => Some(body.clone()),
            (None, Some(file)) => Some(
                fs::read_to_string(dir.join(file))
                    .map_err(|e| at(format!("expect.body_file {file}: {e}")))?,
            ),
            (None, None) => None,
        };
        let expects_grpc = case.expect.code.is_some();
        match (&request, expects_grpc) {
            (Request::Grpc { .. }, false) => {
                return Err(at("a gRPC case needs expect.code".into()));
            }
            (Request::Http { .. }, _) if case.expect.status.is_none() => {
                return Err(at("an HTTP case needs expect.status".into()));
            }
            _ => {}
        }
        for feature in &case.features {
            if !crate::registry::FEATURES.contains(&feature.as_str()) {
                return Err(at(format!("unknown feature {feature:?}")));
            }
        }
        cases.push(Case {
            name: case.name.clone(),
            location,
            request,
            expect: case.expect,
            body,
            features: case.features,
            security: match &case.security {
                Some(modes) => security_modes(modes)?,
                None => security.clone(),
            },
            timeout_ms: case.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        });
    }
    if cases.is_empty() {
        bail!("{}", here("no [[case]]"));
    }
    Ok(Contract {
        name: file.name,
        description: file.description,
        dir: dir.to_path_buf(),
        stack,
        target,
        client_axis: file.client_axis,
        security,
        cases,
    })
}

/// The line of each `[[case]]` header, in order: a failure names where its case is written.
fn case_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[case]]")
        .map(|(i, _)| i + 1)
        .collect()
}

/// The request and response types of `package.Service/Method`.
pub fn method_types(method: &str) -> Result<(MessageDescriptor, MessageDescriptor)> {
    let (service, name) = method
        .split_once('/')
        .with_context(|| format!("method {method:?}: not package.Service/Method"))?;
    let pool = pool()?;
    let service = pool
        .get_service_by_name(service)
        .with_context(|| format!("method {method:?}: no service {service} in proto/"))?;
    let found = service
        .methods()
        .find(|m| m.name() == name)
        .with_context(|| {
            format!(
                "method {method:?}: {} has no method {name}",
                service.full_name()
            )
        })?;
    Ok((found.input(), found.output()))
}

/// A TOML value as JSON.
pub fn to_json(value: toml::Value) -> Value {
    serde_json::to_value(value).expect("TOML values are JSON values")
}

/// Parses proto3 JSON as a message of `desc`.
pub fn message_from_json(desc: &MessageDescriptor, json: &Value) -> Result<DynamicMessage> {
    DynamicMessage::deserialize(desc.clone(), json.clone())
        .map_err(|e| anyhow!("not a {} in proto3 JSON: {e}", desc.full_name()))
}

/// The canonical proto3 JSON of a message given in any valid proto3 JSON spelling: what two languages' answers are
/// compared by (int64 as a string or a number, default values printed or left out, field names in either case all
/// read the same; presence of a message field is kept).
pub fn canonical(desc: &MessageDescriptor, json: &Value) -> Result<Value> {
    let message = message_from_json(desc, json)?;
    serde_json::to_value(&message).map_err(|e| anyhow!("cannot render {}: {e}", desc.full_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_read() {
        let contracts = all().unwrap();
        assert!(
            contracts.iter().any(|c| c.name == "discount"),
            "{contracts:?}"
        );
        for contract in contracts {
            assert!(!contract.cases.is_empty());
        }
    }

    #[test]
    fn spellings_do_not_count_but_values_and_presence_do() {
        let (_, output) = method_types("ecommerce.Discount/ApplyDiscount").unwrap();
        let a = serde_json::json!({"product": {"price_in_cents": 5, "id": "1", "discountValue": {"pct": 0.0}}});
        let b = serde_json::json!({"product": {"priceInCents": 5, "id": 1, "discountValue": {}}});
        assert_eq!(
            canonical(&output, &a).unwrap(),
            canonical(&output, &b).unwrap()
        );
        let absent = serde_json::json!({"product": {"priceInCents": 5, "id": 1}});
        assert_ne!(
            canonical(&output, &b).unwrap(),
            canonical(&output, &absent).unwrap()
        );
    }

    #[test]
    fn a_case_with_a_misspelt_field_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(CONTRACT),
            "name = \"x\"\nstack = [\"discount\"]\ntarget = \"discount\"\nsecurity = [\"tls\"]\n\n[[case]]\nname = \"a\"\nmethod = \"ecommerce.Discount/ApplyDiscount\"\nrequest = { custmer = {} }\nexpect = { code = \"OK\" }\n",
        )
        .unwrap();
        let err = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(
            err.contains(":6: case a: request: not a ecommerce.DiscountRequest"),
            "{err}"
        );
        assert!(err.contains("custmer"), "{err}");
    }
}
