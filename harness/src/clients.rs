//! Clients for the test process. By default they are secured as the stack is: they trust the stack's CA and, under
//! mutual TLS, present the `client` identity. Refusal tests make others: trusting the CA but presenting no identity
//! or a bad one, plaintext against TLS, TLS against plaintext. Build them per use: a client is bound to the runtime
//! it was built on.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::certs::{CLIENT_IDENTITY, Pki};
use crate::model::Security;

/// How a client connects: plaintext, or TLS with one trust root and optionally a client identity.
#[derive(Clone)]
pub struct ClientSecurity {
    tls: Option<Tls>,
}

#[derive(Clone)]
struct Tls {
    ca: PemFile,
    identity: Option<(PemFile, PemFile)>,
    /// Accept whatever certificate the server shows: only to see that a server given a deliberately bad
    /// certificate is up, never to test a refusal.
    any_server: bool,
}

#[derive(Clone)]
struct PemFile {
    path: PathBuf,
    pem: Vec<u8>,
}

impl PemFile {
    fn read(path: &Path) -> Result<Self> {
        let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(PemFile {
            path: path.to_path_buf(),
            pem,
        })
    }
}

impl ClientSecurity {
    /// A good client of a stack secured as `security` with `pki`.
    pub fn new(security: Security, pki: &Pki) -> Result<Self> {
        if !security.tls() {
            return Ok(Self::plaintext());
        }
        let client = Self::trusting(&pki.ca_path())?;
        match security.mutual() {
            true => {
                let (cert, key) = pki.identity(CLIENT_IDENTITY)?;
                client.presenting(cert, key)
            }
            false => Ok(client),
        }
    }

    /// No TLS at all.
    pub fn plaintext() -> Self {
        ClientSecurity { tls: None }
    }

    /// TLS trusting only the CA certificate in `ca`, presenting no certificate.
    pub fn trusting(ca: &Path) -> Result<Self> {
        Ok(ClientSecurity {
            tls: Some(Tls {
                ca: PemFile::read(ca)?,
                identity: None,
                any_server: false,
            }),
        })
    }

    /// The same, presenting the certificate `cert` with its key `key`.
    pub fn presenting(mut self, cert: &Path, key: &Path) -> Result<Self> {
        let Some(tls) = &mut self.tls else {
            bail!("a plaintext client cannot present a certificate");
        };
        tls.identity = Some((PemFile::read(cert)?, PemFile::read(key)?));
        Ok(self)
    }

    /// The same, accepting any server certificate: only for checking that a server deliberately given a bad
    /// certificate is up (HTTP clients only; a gRPC channel refuses it).
    pub fn accepting_any_server(mut self) -> Self {
        if let Some(tls) = &mut self.tls {
            tls.any_server = true;
        }
        self
    }

    /// Whether it speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether it checks the server's certificate (always, except after [`Self::accepting_any_server`]).
    pub fn verifies_server(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| !t.any_server)
    }

    /// `--ca PATH [--cert PATH --key PATH]`: the flags with which every service and every Python client of the
    /// contract is told to connect this way (none for plaintext).
    pub fn flags(&self) -> Vec<OsString> {
        let Some(tls) = &self.tls else {
            return Vec::new();
        };
        let mut flags = vec!["--ca".into(), tls.ca.path.clone().into_os_string()];
        if let Some((cert, key)) = &tls.identity {
            flags.extend([
                "--cert".into(),
                cert.path.clone().into_os_string(),
                "--key".into(),
                key.path.clone().into_os_string(),
            ]);
        }
        flags
    }

    /// An HTTP(S) client: TLS offers h2 and http/1.1, as browsers do.
    pub fn http(&self) -> Result<reqwest::Client> {
        self.http_builder()?
            .build()
            .context("cannot build the HTTP client")
    }

    /// The builder behind [`Self::http`], for tests that need to change more (say, HTTP/1.1 only).
    pub fn http_builder(&self) -> Result<reqwest::ClientBuilder> {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy();
        let tls = match self.tls.is_some() {
            true => self.rustls_config(&[b"h2", b"http/1.1"])?,
            // reqwest builds a TLS configuration even for a client that never uses one, and without a default
            // provider (ring is chosen explicitly, never installed globally) it would panic: give it an inert one.
            false => rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        Ok(builder.tls_backend_preconfigured(tls))
    }

    /// The rustls configuration of this client, offering `alpn`. Plaintext has none: an error.
    fn rustls_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig> {
        let Some(tls) = &self.tls else {
            bail!("a plaintext client has no TLS configuration");
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match tls.any_server {
            true => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider))),
            false => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&tls.ca.pem) {
                    roots.add(cert?)?;
                }
                builder.with_root_certificates(roots)
            }
        };
        let mut config = match &tls.identity {
            Some((cert, key)) => {
                let chain =
                    CertificateDer::pem_slice_iter(&cert.pem).collect::<Result<Vec<_>, _>>()?;
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(&key.pem)?)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// A gRPC channel to `addr`, verifying that the server's certificate names `server_name`; connected lazily.
    pub fn grpc_channel(&self, addr: SocketAddr, server_name: &str) -> Result<Channel> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        if let Some(tls) = &self.tls {
            if tls.any_server {
                bail!("tonic cannot skip server verification; use an HTTP client");
            }
            let mut config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca.pem))
                .domain_name(server_name);
            if let Some((cert, key)) = &tls.identity {
                config = config.identity(Identity::from_pem(&cert.pem, &key.pem));
            }
            endpoint = endpoint.tls_config(config)?;
        }
        Ok(endpoint.connect_lazy())
    }
}

/// Accepts any server certificate, but still checks that the server holds its key: the handshake stays real.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
