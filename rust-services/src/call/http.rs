//! HTTP calls through reqwest (rustls with the ring provider): the URL names `server_name`, resolved to `addr`, so
//! the server's certificate is verified against the name, not the address.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use reqwest::Method;

use super::{Call, CannotCall, HttpCall, HttpResponse, Outcome, client_tls, error_chain};
use crate::cli::HostPort;

/// What HTTP clients offer in ALPN, as browsers do.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The scheme, host and port every request of the call goes to: `https://server_name:port` over TLS (with
/// `server_name` resolved to `addr` by the client), `http://addr` in plaintext.
pub fn base_url(call: &Call) -> Result<String, CannotCall> {
    let addr = HostPort::parse("addr", &call.addr)?;
    Ok(match call.tls {
        Some(_) => {
            let name = HostPort {
                host: call.server_name(&addr).to_string(),
                port: addr.port,
            };
            format!("https://{name}")
        }
        None => format!("http://{addr}"),
    })
}

/// A new client for the call's address and TLS files.
pub async fn client(call: &Call) -> Result<reqwest::Client, CannotCall> {
    let addr = HostPort::parse("addr", &call.addr)?;
    let builder = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(super::CONNECT_TIMEOUT);
    let builder = match &call.tls {
        Some(files) => {
            let config = client_tls(files)?.rustls_config(&ALPN)?;
            let server_name = call.server_name(&addr);
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((addr.host.as_str(), addr.port))
                    .await
                    .map_err(|e| format!("addr {}: cannot resolve: {e}", call.addr))?
                    .collect();
            builder
                .resolve_to_addrs(server_name, &resolved)
                .tls_backend_preconfigured(config)
        }
        // reqwest builds a TLS configuration even for a client that never uses one, and without a default
        // provider (ring is chosen explicitly, never installed globally) it would panic: give it an inert one.
        None => builder.tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    };
    builder
        .build()
        .map_err(|e| CannotCall(format!("cannot build the HTTP client: {}", error_chain(&e))))
}

/// Sends the request and reports the response; a request that gets none (refused, TLS, deadline) is reported as
/// gRPC would: UNAVAILABLE, or DEADLINE_EXCEEDED once `timeout_ms` passed, with reqwest's whole error chain.
pub async fn call(
    client: &reqwest::Client,
    base: &str,
    call: &Call,
    http: &HttpCall,
) -> Result<Outcome, CannotCall> {
    let method = Method::from_bytes(http.method.as_bytes())
        .map_err(|e| format!("http.method {}: {e}", http.method))?;
    if !http.path.starts_with('/') {
        return Err(CannotCall(format!(
            "http.path {}: must start with /",
            http.path
        )));
    }
    let mut request = client
        .request(method, format!("{base}{}", http.path))
        .timeout(call.timeout());
    for (name, value) in &http.headers {
        request = request.header(name, value);
    }
    if !http.body.is_empty() {
        request = request.body(http.body.clone());
    }
    // Bad header names and URLs show up here, before anything is sent.
    let request = request
        .build()
        .map_err(|e| CannotCall(format!("http: {}", error_chain(&e))))?;
    let sent = async {
        let response = client.execute(request).await?;
        let status = response.status().as_u16();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str().to_string())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    Ok(match sent.await {
        Ok(response) => Outcome {
            http: Some(response),
            ..Outcome::empty(call.id.clone())
        },
        Err(error) => {
            let code = if error.is_timeout() {
                "DEADLINE_EXCEEDED"
            } else {
                "UNAVAILABLE"
            };
            let mut outcome = Outcome::grpc(call.id.clone(), code, error.to_string());
            outcome.error = Some(error_chain(&error));
            outcome
        }
    })
}
