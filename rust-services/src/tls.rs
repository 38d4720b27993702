//! Certificates and keys from the command line, checked up front, turned into what tonic and rustls need.
//!
//! Everything is read and validated before the service announces READY, so a bad file is a one-line usage error
//! (exit 2) rather than a handshake failure discovered by the first client.
//!
//! Servers accept TLS themselves ([`LoggedTls`]) rather than through tonic's or axum-server's built-in TLS, for one
//! reason: to log why a handshake failed. A client that is refused often cannot tell why (TLS 1.3 lets it send its
//! request before the server has checked its certificate), so the server's log is where the reason is read.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::cli::{Failure, ServeArgs, UpstreamArgs};

/// The crypto provider of the whole workspace (one provider, chosen here, not by a default feature).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM file read from disk, remembered with the flag that named it for error messages.
#[derive(Clone)]
pub struct PemFile {
    flag: &'static str,
    path: String,
    bytes: Vec<u8>,
}

impl PemFile {
    /// Reads `path`, given with `flag`.
    pub fn read(flag: &'static str, path: &Path) -> Result<Self, Failure> {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::flag(flag, path.display(), format!("cannot read: {e}")))?;
        Ok(PemFile {
            flag,
            path: path.display().to_string(),
            bytes,
        })
    }

    fn invalid(&self, why: impl std::fmt::Display) -> Failure {
        Failure::flag(self.flag, &self.path, why)
    }

    /// The certificates in the file; at least one.
    pub fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, Failure> {
        let certs = CertificateDer::pem_slice_iter(&self.bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.invalid(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(self.invalid("holds no PEM certificate"));
        }
        Ok(certs)
    }

    /// The private key in the file.
    pub fn private_key(&self) -> Result<PrivateKeyDer<'static>, Failure> {
        PrivateKeyDer::from_pem_slice(&self.bytes)
            .map_err(|e| self.invalid(format!("holds no usable PEM private key: {e}")))
    }

    /// The raw PEM text, as tonic wants it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// How long a client may take to finish its TLS handshake; a connection that says nothing is closed after that.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's TLS settings: its identity and, for mutual TLS, the CA its clients must be signed by.
pub struct ServerTls {
    client_ca: Option<PemFile>,
    rustls: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// Reads and checks `--tls-cert/--tls-key/--client-ca`; `None` when the service serves plaintext.
    pub fn from_args(args: &ServeArgs, alpn: &[&[u8]]) -> Result<Option<Self>, Failure> {
        let (Some(cert_path), Some(key_path)) = (&args.tls_cert, &args.tls_key) else {
            return Ok(None);
        };
        let cert = PemFile::read("--tls-cert", cert_path)?;
        let key = PemFile::read("--tls-key", key_path)?;
        let client_ca = args
            .client_ca
            .as_deref()
            .map(|p| PemFile::read("--client-ca", p))
            .transpose()?;

        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::Runtime(e.into()))?;
        let builder = match &client_ca {
            Some(ca) => {
                let roots = root_store(ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| ca.invalid(format!("unusable as a client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        // with_single_cert also checks that the key belongs to the certificate.
        let mut config = builder
            .with_single_cert(cert.certificates()?, key.private_key()?)
            .map_err(|e| key.invalid(format!("does not fit {} {}: {e}", cert.flag, cert.path)))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Some(ServerTls {
            client_ca,
            rustls: Arc::new(config),
        }))
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// An acceptor for these settings.
    pub fn acceptor(&self) -> LoggedTls {
        LoggedTls(
            RustlsAcceptor::new(RustlsConfig::from_config(self.rustls.clone()))
                .handshake_timeout(HANDSHAKE_TIMEOUT),
        )
    }
}

/// Accepts TLS on TCP connections, and logs every handshake that fails with the peer and the reason, at warn
/// (`tls handshake failed peer=... error=...`, the same line as the Python services).
#[derive(Clone)]
pub struct LoggedTls(RustlsAcceptor);

impl<S: Send + 'static> Accept<TcpStream, S> for LoggedTls {
    type Stream = TlsStream<TcpStream>;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, S)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let peer = stream.peer_addr().ok();
        let _ = stream.set_nodelay(true);
        let handshake = self.0.accept(stream, service);
        Box::pin(async move {
            handshake.await.inspect_err(|error| {
                let peer = peer.map_or_else(|| "?".to_string(), |p: SocketAddr| p.to_string());
                tracing::warn!(%peer, %error, "tls handshake failed");
            })
        })
    }
}

impl LoggedTls {
    /// The TLS connections accepted on `listener`, for a tonic server. Each handshake runs in its own task, so that
    /// a client that connects and says nothing delays nobody; failed ones are logged and left out.
    pub fn incoming(
        self,
        listener: TcpListener,
    ) -> impl Stream<Item = io::Result<TlsStream<TcpStream>>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    // The server stopped reading: stop accepting.
                    () = tx.closed() => break,
                };
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    // tonic decides which accept errors end the server, as with its own listener.
                    Err(e) => {
                        if tx.send(Err(e)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                };
                let (acceptor, tx) = (self.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok((tls, ())) = acceptor.accept(tcp, ()).await {
                        let _ = tx.send(Ok(tls)).await;
                    }
                });
            }
        });
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }
}

fn root_store(ca: &PemFile) -> Result<rustls::RootCertStore, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in ca.certificates()? {
        roots
            .add(cert)
            .map_err(|e| ca.invalid(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// A file given on a command line or in a JSON call: the name to use in errors (a flag, a field) and its path.
pub type NamedPath<'a> = (&'static str, &'a Path);

/// How a service calls its upstreams: plaintext, or TLS with our roots and optionally our client identity.
pub struct ClientTls {
    ca: PemFile,
    identity: Option<(PemFile, PemFile)>,
}

impl ClientTls {
    /// Reads and checks `--ca/--cert/--key`; `None` when upstream calls are plaintext.
    pub fn from_args(args: &UpstreamArgs) -> Result<Option<Self>, Failure> {
        let Some(ca_path) = &args.ca else {
            return Ok(None);
        };
        let identity = match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => Some((("--cert", cert.as_path()), ("--key", key.as_path()))),
            _ => None,
        };
        Self::read(("--ca", ca_path), identity).map(Some)
    }

    /// Reads and checks a CA file and an optional identity (certificate, key), each given as the name to use in
    /// errors (a flag, a JSON field) and its path.
    pub fn read(
        ca: NamedPath<'_>,
        identity: Option<(NamedPath<'_>, NamedPath<'_>)>,
    ) -> Result<Self, Failure> {
        let ca = PemFile::read(ca.0, ca.1)?;
        root_store(&ca)?;
        let identity = match identity {
            Some(((cert_name, cert_path), (key_name, key_path))) => {
                let cert = PemFile::read(cert_name, cert_path)?;
                let key = PemFile::read(key_name, key_path)?;
                // Build a client config once to prove the key belongs to the certificate.
                rustls::ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Failure::Runtime(e.into()))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_client_auth_cert(cert.certificates()?, key.private_key()?)
                    .map_err(|e| {
                        key.invalid(format!("does not fit {} {}: {e}", cert.flag, cert.path))
                    })?;
                Some((cert, key))
            }
            None => None,
        };
        Ok(ClientTls { ca, identity })
    }

    /// rustls's client settings (for an HTTP client), offering `alpn`, with the ring provider.
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, Failure> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::Runtime(e.into()))?
            .with_root_certificates(root_store(&self.ca)?);
        let mut config = match &self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(cert.certificates()?, key.private_key()?)
                .map_err(|e| {
                    key.invalid(format!("does not fit {} {}: {e}", cert.flag, cert.path))
                })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// tonic's client settings, verifying the upstream's certificate against `server_name`.
    pub fn tonic_config(&self, server_name: &str) -> ClientTlsConfig {
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.ca.bytes()))
            .domain_name(server_name);
        match &self.identity {
            Some((cert, key)) => config.identity(Identity::from_pem(cert.bytes(), key.bytes())),
            None => config,
        }
    }
}
