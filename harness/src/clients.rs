//! Clients for the test process, secured as the stack is: they trust the stack's CA and, under mutual TLS,
//! present the `client` identity. Build them per use: a client is bound to the runtime it was built on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::certs::{CLIENT_IDENTITY, Pki};
use crate::model::Security;

/// TLS material for clients of one stack.
#[derive(Clone)]
pub struct ClientSecurity {
    security: Security,
    ca_pem: Vec<u8>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl ClientSecurity {
    /// Reads what a client of a stack secured as `security` with `pki` needs.
    pub fn new(security: Security, pki: &Pki) -> Result<Self> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
        };
        let ca_pem = read(&pki.ca_path())?;
        let identity = match security.mutual() {
            true => {
                let (cert, key) = pki.identity(CLIENT_IDENTITY)?;
                Some((read(cert)?, read(key)?))
            }
            false => None,
        };
        Ok(ClientSecurity {
            security,
            ca_pem,
            identity,
        })
    }

    /// Whether servers speak TLS.
    pub fn tls(&self) -> bool {
        self.security.tls()
    }

    /// An HTTP(S) client for the stack.
    pub fn http(&self) -> Result<reqwest::Client> {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy();
        let builder = match self.security.tls() {
            true => builder.tls_backend_preconfigured(self.rustls_client_config()?),
            false => builder,
        };
        builder.build().context("cannot build the HTTP client")
    }

    fn rustls_client_config(&self) -> Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            roots.add(cert?)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert).collect::<Result<Vec<_>, _>>()?;
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(key)?)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A gRPC channel to `addr`, verifying that the server's certificate names `server_name`; connected lazily.
    pub fn grpc_channel(&self, addr: SocketAddr, server_name: &str) -> Result<Channel> {
        let scheme = if self.security.tls() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        if self.security.tls() {
            let mut tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&self.ca_pem))
                .domain_name(server_name);
            if let Some((cert, key)) = &self.identity {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint.tls_config(tls)?;
        }
        Ok(endpoint.connect_lazy())
    }
}
