//! Who may call a service: the identity in the client's certificate (under mutual TLS) and, optionally, a bearer
//! token. Both are checked by one tonic interceptor on the service's own RPCs; health and reflection stay open to
//! any client the TLS layer let in, so that probes need no special identity.
//!
//! The Python twin, `interop_services/auth.py`, takes the same flags and answers with the same codes and messages.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};
use x509_parser::extensions::GeneralName;

use crate::cli::Failure;

/// The identities allowed to call Discount unless `--allow-client` says otherwise: the services that call it.
pub const DEFAULT_ALLOWED_CLIENTS: [&str; 2] = ["catalog", "order"];

/// What a call without the right bearer token is told. One message for a missing and a wrong token: a caller
/// learns nothing about which tokens exist.
pub const BAD_TOKEN: &str = "missing or invalid bearer token";

/// Flags of a service that checks its callers.
#[derive(clap::Args, Debug, Clone)]
pub struct AuthArgs {
    /// A client identity (a DNS name in its certificate) allowed to call; repeat for more. Replaces the default
    /// (catalog, order). Needs --client-ca.
    #[arg(long = "allow-client", value_name = "NAME", requires = "client_ca")]
    pub allow_client: Vec<String>,
    /// Require `authorization: Bearer TOKEN` on every call, TOKEN being the content of this file.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// The checks one service makes on every call to it.
#[derive(Clone)]
pub struct Guard {
    service: &'static str,
    /// Allowed client identities; `None` when clients present no certificate (no mutual TLS).
    allowed: Option<Arc<[String]>>,
    token: Option<Arc<str>>,
}

impl Guard {
    /// The checks `args` ask for on calls to `service` (its full gRPC name); `mutual` says whether clients
    /// present certificates.
    pub fn from_args(
        args: &AuthArgs,
        mutual: bool,
        service: &'static str,
    ) -> Result<Self, Failure> {
        let token = args
            .token_file
            .as_ref()
            .map(|path| read_token("--token-file", path))
            .transpose()?;
        let allowed: Vec<String> = match args.allow_client.is_empty() {
            true => DEFAULT_ALLOWED_CLIENTS.map(String::from).to_vec(),
            false => args.allow_client.clone(),
        };
        Ok(Guard {
            service,
            allowed: mutual.then(|| allowed.into()),
            token: token.map(Arc::from),
        })
    }

    /// The identities this guard lets in, if it checks identities at all.
    pub fn allowed(&self) -> Option<&[String]> {
        self.allowed.as_deref()
    }

    /// Authentication first (the token says who may call at all), then authorization (whether this identity may).
    fn check(
        &self,
        metadata: &MetadataMap,
        peer_certs: Option<&[CertificateDer]>,
    ) -> Result<(), Status> {
        if let Some(token) = &self.token
            && !bearer_matches(metadata, token)
        {
            tracing::warn!(
                service = self.service,
                code = "UNAUTHENTICATED",
                "call refused"
            );
            return Err(Status::unauthenticated(BAD_TOKEN));
        }
        if let Some(allowed) = &self.allowed {
            let names = peer_certs
                .and_then(|chain| chain.first())
                .map(dns_names)
                .unwrap_or_default();
            if !names.iter().any(|name| allowed.contains(name)) {
                let client = names.first().map_or("", String::as_str);
                tracing::warn!(
                    service = self.service,
                    code = "PERMISSION_DENIED",
                    client,
                    "call refused"
                );
                return Err(Status::permission_denied(denied_message(
                    client,
                    self.service,
                )));
            }
        }
        Ok(())
    }
}

impl tonic::service::Interceptor for Guard {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let certs = request.peer_certs();
        self.check(request.metadata(), certs.as_ref().map(|c| c.as_slice()))?;
        Ok(request)
    }
}

/// What a client whose certificate names `client` (its first DNS name; empty if none) is told.
pub fn denied_message(client: &str, service: &str) -> String {
    format!("client identity \"{client}\" is not allowed to call {service}")
}

/// The DNS names in a certificate's subject alternative names, in order; none if it cannot be parsed.
pub fn dns_names(cert: &CertificateDer) -> Vec<String> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_string()),
            _ => None,
        })
        .collect()
}

fn bearer_matches(metadata: &MetadataMap, token: &str) -> bool {
    let Some(value) = metadata.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // The scheme is case-insensitive (RFC 9110 section 11.1); the token is not.
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && constant_time_eq(given.as_bytes(), token.as_bytes())
}

/// Compares without stopping at the first difference, so that timing does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads a token file: its content without surrounding whitespace, which must be printable ASCII without spaces
/// (what a header value can carry unchanged).
pub fn read_token(flag: &str, path: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::flag(flag, path.display(), format!("cannot read: {e}")))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::flag(flag, path.display(), "holds no token"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::flag(
            flag,
            path.display(),
            "the token must be printable ASCII without spaces",
        ));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allowed: Option<&[&str]>, token: Option<&str>) -> Guard {
        Guard {
            service: "ecommerce.Discount",
            allowed: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
            token: token.map(Arc::from),
        }
    }

    fn metadata(authorization: Option<&str>) -> MetadataMap {
        let mut map = MetadataMap::new();
        if let Some(value) = authorization {
            map.insert("authorization", value.parse().unwrap());
        }
        map
    }

    #[test]
    fn tokens() {
        let g = guard(None, Some("s3cret"));
        assert!(g.check(&metadata(Some("Bearer s3cret")), None).is_ok());
        assert!(g.check(&metadata(Some("bearer s3cret")), None).is_ok());
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret "),
            Some("Basic s3cret"),
            Some("s3cret"),
        ] {
            let status = g.check(&metadata(bad), None).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{bad:?}");
            assert_eq!(status.message(), BAD_TOKEN);
        }
    }

    #[test]
    fn no_certificate_is_no_identity() {
        let status = guard(Some(&["catalog"]), None)
            .check(&metadata(None), None)
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "client identity \"\" is not allowed to call ecommerce.Discount"
        );
    }

    #[test]
    fn the_default_allows_the_callers_of_discount() {
        let args = AuthArgs {
            allow_client: vec![],
            token_file: None,
        };
        let g = Guard::from_args(&args, true, "ecommerce.Discount").unwrap();
        assert_eq!(g.allowed().unwrap(), ["catalog", "order"]);
        assert!(
            Guard::from_args(&args, false, "x")
                .unwrap()
                .allowed()
                .is_none()
        );
    }
}
