//! Readiness after the READY line: one health check through the service's own protocol and security.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::clients::ClientSecurity;
use crate::model::{Protocol, Service};

/// How long one health check may take.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that `service` at `addr` answers its health check as SERVING (gRPC) or 200 (HTTP).
///
/// An implementation that does not claim the `health` feature is only checked to accept a connection: its READY line
/// is all it promises.
pub async fn check(
    service: Service,
    implementation: crate::Lang,
    addr: SocketAddr,
    clients: &ClientSecurity,
) -> Result<()> {
    if !implementation.manifest().has_feature(service, "health") {
        return tokio::time::timeout(HEALTH_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .with_context(|| format!("no connection within {HEALTH_TIMEOUT:?}"))?
            .map(drop)
            .with_context(|| format!("cannot connect to {addr}"));
    }
    tokio::time::timeout(HEALTH_TIMEOUT, probe(service, addr, clients))
        .await
        .with_context(|| format!("no health answer within {HEALTH_TIMEOUT:?}"))?
}

async fn probe(service: Service, addr: SocketAddr, clients: &ClientSecurity) -> Result<()> {
    match service.protocol() {
        Protocol::Grpc if !clients.verifies_server() => {
            grpc_health_over_http(addr, clients).await?
        }
        Protocol::Grpc => {
            let mut client = HealthClient::new(clients.grpc_channel(addr, service.name())?);
            let response = client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .context("gRPC health check failed")?;
            let status = response.into_inner().status();
            if status != ServingStatus::Serving {
                bail!("gRPC health status is {status:?}");
            }
        }
        Protocol::Http => {
            let scheme = if clients.tls() { "https" } else { "http" };
            let url = format!("{scheme}://{addr}/healthz");
            let response = clients
                .http()?
                .get(&url)
                .send()
                .await
                .with_context(|| format!("GET {url} failed"))?;
            if !response.status().is_success() {
                bail!("GET {url} answered {}", response.status());
            }
        }
    }
    Ok(())
}

/// The same gRPC health check made with a plain HTTP/2 client, for a server that shows a deliberately bad
/// certificate (tonic always verifies). A unary gRPC answer is an HTTP 200 whose body is one length-prefixed
/// message; SERVING is the message `08 01`.
async fn grpc_health_over_http(addr: SocketAddr, clients: &ClientSecurity) -> Result<()> {
    let url = format!("https://{addr}/grpc.health.v1.Health/Check");
    let response = clients
        .http_builder()?
        .http2_prior_knowledge()
        .build()?
        .post(&url)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        // An empty HealthCheckRequest: not compressed, zero bytes long.
        .body(vec![0u8; 5])
        .send()
        .await
        .with_context(|| format!("POST {url} failed"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() || body.as_ref() != [0, 0, 0, 0, 2, 0x08, 0x01] {
        bail!("gRPC health check over HTTP/2 answered {status} with {body:02x?}, not SERVING");
    }
    Ok(())
}
