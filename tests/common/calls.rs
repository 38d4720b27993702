//! One call from each client language, secured as the test chooses, reporting what that client saw. Rust calls
//! with tonic and reqwest in this process; Python with grpcio and aiohttp in a child process
//! (`interop_services.discount.client`, `interop_services.catalog.client`) that prints one JSON line.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use interop::Lang;
use interop::clients::ClientSecurity;
use interop::refusal::error_chain;
use interop_services::proto::ecommerce::discount_client::DiscountClient;
use interop_services::proto::ecommerce::{DiscountRequest, DiscountResponse};
use interop_services::rpc::code_name;
use prost::Message;

/// How long any one call may take before it counts as a hang. Generous: a refusal is immediate, and this bound
/// only turns a hang into a failure; it does not measure speed.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// What a gRPC client saw.
#[derive(Debug)]
pub struct GrpcAnswer {
    /// The status code in gRPC's own spelling (`OK`, `PERMISSION_DENIED`).
    pub code: String,
    /// The status message.
    pub message: String,
    /// Everything the client library said about a failure, for classification.
    pub error: String,
    /// The response it decoded, if any.
    pub response: Option<DiscountResponse>,
}

/// Calls `Discount.ApplyDiscount` at `addr` from `lang`'s client, verifying the name `discount`, with a bearer
/// `token` if given. Fails only when the client itself could not run or did not finish within [`CALL_LIMIT`].
pub async fn discount(
    lang: Lang,
    addr: SocketAddr,
    client: &ClientSecurity,
    request: &DiscountRequest,
    token: Option<&str>,
) -> Result<GrpcAnswer> {
    bounded(lang, "gRPC", async {
        match lang.name() {
            "rust" => discount_rust(addr, client, request, token).await,
            "python" => discount_python(addr, client, request, token).await,
            other => panic!("{other}: {}", super::LEGACY_CLIENTS),
        }
    })
    .await
}

/// `call`, failed if it has no outcome within [`CALL_LIMIT`]: a hang is a failure of its own.
pub async fn bounded<T>(
    lang: Lang,
    what: &str,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(CALL_LIMIT, call)
        .await
        .with_context(|| {
            format!("the {lang} {what} client hung: no outcome within {CALL_LIMIT:?}")
        })?
}

async fn discount_rust(
    addr: SocketAddr,
    client: &ClientSecurity,
    request: &DiscountRequest,
    token: Option<&str>,
) -> Result<GrpcAnswer> {
    let mut stub = DiscountClient::new(client.grpc_channel(addr, "discount")?);
    let mut request = tonic::Request::new(request.clone());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    Ok(match stub.apply_discount(request).await {
        Ok(response) => GrpcAnswer {
            code: "OK".into(),
            message: String::new(),
            error: String::new(),
            response: Some(response.into_inner()),
        },
        Err(status) => GrpcAnswer {
            code: code_name(status.code()).into(),
            message: status.message().to_string(),
            error: format!("{}: {}", code_name(status.code()), error_chain(&status)),
            response: None,
        },
    })
}

async fn discount_python(
    addr: SocketAddr,
    client: &ClientSecurity,
    request: &DiscountRequest,
    token: Option<&str>,
) -> Result<GrpcAnswer> {
    let request = request.encode_to_vec();
    let mut files = vec![("--request-file", request.as_slice())];
    files.extend(token.map(|token| ("--token-file", token.as_bytes())));
    let answer = python_grpc_call(
        "interop_services.discount.client",
        addr,
        "discount",
        client,
        &[],
        &files,
    )
    .await?;
    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_string();
    let response = match answer["response_b64"].as_str() {
        Some(b64) if !b64.is_empty() => {
            Some(DiscountResponse::decode(BASE64.decode(b64)?.as_slice())?)
        }
        _ => None,
    };
    Ok(GrpcAnswer {
        error: match text("code").as_str() {
            "OK" => String::new(),
            code => format!("{code}: {}", text("message")),
        },
        code: text("code"),
        message: text("message"),
        response,
    })
}

/// What an HTTP client saw: a response, or the error that stopped it.
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status, if a response arrived.
    pub status: Option<u16>,
    /// Its content type.
    pub content_type: String,
    /// Its body.
    pub body: String,
    /// Everything the client library said about a failure, for classification.
    pub error: String,
}

impl HttpAnswer {
    /// What a snapshot holds of a response: status, content type, body length (it pins down what a text snapshot
    /// could hide, such as the JSON encoder's final newline) and the exact body. A JSON content type must come
    /// with a JSON body; no response at all is an error that names the client's.
    pub fn render(&self) -> Result<String> {
        let Some(status) = self.status else {
            anyhow::bail!("no response: {}", self.error);
        };
        if self.content_type == "application/json" {
            serde_json::from_str::<serde_json::Value>(&self.body)
                .with_context(|| format!("the body is not JSON: {:?}", self.body))?;
        }
        Ok(format!(
            "status: {status}\ncontent-type: {}\nlength: {}\n\n{}",
            self.content_type,
            self.body.len(),
            self.body
        ))
    }
}

/// One HTTP request from `lang`'s client to `addr`, verifying the name `server_name` under TLS.
pub async fn http(
    lang: Lang,
    addr: SocketAddr,
    server_name: &str,
    client: &ClientSecurity,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpAnswer> {
    bounded(lang, "HTTP", async {
        match lang.name() {
            "rust" => http_rust(addr, server_name, client, method, path, headers).await,
            "python" => http_python(addr, server_name, client, method, path, headers).await,
            other => panic!("{other}: {}", super::LEGACY_CLIENTS),
        }
    })
    .await
}

async fn http_rust(
    addr: SocketAddr,
    server_name: &str,
    client: &ClientSecurity,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpAnswer> {
    // The URL names the service, resolved to its address, so that TLS verifies the service's name as in
    // production, not the loopback address.
    let scheme = if client.tls() { "https" } else { "http" };
    let http = client.http_builder()?.resolve(server_name, addr).build()?;
    let url = format!("{scheme}://{server_name}:{}{path}", addr.port());
    let mut request = http.request(method.parse()?, &url);
    for (name, value) in headers {
        // From bytes: a value may be non-ASCII on purpose.
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value.as_bytes())?,
        );
    }
    Ok(match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            match response.text().await {
                Ok(body) => HttpAnswer {
                    status: Some(status),
                    content_type,
                    body,
                    error: String::new(),
                },
                Err(e) => HttpAnswer {
                    status: Some(status),
                    content_type,
                    body: String::new(),
                    error: error_chain(&e),
                },
            }
        }
        Err(e) => HttpAnswer {
            status: None,
            content_type: String::new(),
            body: String::new(),
            error: error_chain(&e),
        },
    })
}

async fn http_python(
    addr: SocketAddr,
    server_name: &str,
    client: &ClientSecurity,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpAnswer> {
    let env = interop::python::ensure()?;
    let scheme = if client.tls() { "https" } else { "http" };
    let mut command = tokio::process::Command::new(&env.python);
    command
        .args(["-m", "interop_services.catalog.client", "--method", method])
        .arg("--url")
        .arg(format!("{scheme}://{addr}{path}"))
        .arg("--server-name")
        .arg(server_name)
        .args(client.flags());
    for (name, value) in headers {
        command.arg("--header").arg(format!("{name}:{value}"));
    }
    let answer = run_json(command, "interop_services.catalog.client").await?;
    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_string();
    Ok(HttpAnswer {
        status: answer["status"]
            .as_u64()
            .filter(|&s| s != 0)
            .map(|s| s as u16),
        content_type: text("content_type"),
        body: text("body"),
        error: text("error"),
    })
}

/// Runs a one-shot Python client and parses its one JSON line.
/// Runs a grpcio one-shot client (`python -m MODULE`, see python-services/interop_services/oneshot.py) against
/// `addr`, verifying `server_name`, with `args`, and each of `files` written to a file given as its flag (the
/// request as `--request-file`: a request may be larger than one argument may be, 128 KiB on Linux). Returns the
/// JSON line it printed.
pub async fn python_grpc_call(
    module: &str,
    addr: SocketAddr,
    server_name: &str,
    client: &ClientSecurity,
    args: &[String],
    files: &[(&str, &[u8])],
) -> Result<serde_json::Value> {
    let env = interop::python::ensure()?;
    let dir = tempfile::tempdir()?;
    let mut command = tokio::process::Command::new(&env.python);
    command
        .args(["-m", module])
        .args(["--server-name", server_name, "--addr", &addr.to_string()])
        .args(client.flags())
        .args(args);
    for (flag, content) in files {
        let path = dir.path().join(flag.trim_start_matches('-'));
        std::fs::write(&path, content)?;
        command.arg(flag).arg(path);
    }
    run_json(command, module).await
}

async fn run_json(mut command: tokio::process::Command, what: &str) -> Result<serde_json::Value> {
    command.kill_on_drop(true);
    let output = command.output().await?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "{what} printed no JSON: {:?}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
