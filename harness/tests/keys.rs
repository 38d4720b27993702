//! `interop keys` (what `make keys` runs): a CA and one leaf per service with the properties every runtime needs,
//! verified the way a TLS client verifies them, and never overwritten unless asked.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::*;

const SERVICES: [&str; 4] = ["discount", "catalog", "order", "payment"];

fn keys(dir: &Path, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_interop"))
        .arg("keys")
        .arg("--out")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "interop keys failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn der(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_leaf_verifies_for_its_names_and_is_a_p256_end_entity() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), &[]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(&dir.path().join("ca.pem"))).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();

    for service in SERVICES {
        let leaf = der(&dir.path().join(format!("{service}.pem")));
        assert!(dir.path().join(format!("{service}-key.pem")).is_file());
        for name in [service, "localhost", "127.0.0.1", "::1"] {
            let server_name = ServerName::try_from(name.to_string()).unwrap();
            verifier
                .verify_server_cert(&leaf, &[], &server_name, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{service}.pem does not verify for {name}: {e}"));
        }
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        let constraints = cert
            .basic_constraints()
            .unwrap()
            .expect("basicConstraints present")
            .value;
        assert!(!constraints.ca, "{service}: must be CA:FALSE");
        let usage = cert
            .extended_key_usage()
            .unwrap()
            .expect("extendedKeyUsage present")
            .value;
        assert!(
            usage.server_auth && usage.client_auth,
            "{service}: serverAuth and clientAuth"
        );
        let key = cert.public_key();
        assert_eq!(
            key.algorithm.algorithm,
            x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY,
            "{service}: an EC key"
        );
        let curve = key
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .expect("a named curve");
        assert_eq!(
            curve,
            x509_parser::oid_registry::OID_EC_P256,
            "{service}: on P-256"
        );
    }
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), &[]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let (ca, discount) = (read("ca.pem"), read("discount.pem"));

    let again = keys(dir.path(), &[]);
    assert!(again.contains("already there"), "{again}");
    assert_eq!(read("ca.pem"), ca);
    assert_eq!(read("discount.pem"), discount);

    // A missing leaf is issued by the kept CA; the others stay.
    std::fs::remove_file(dir.path().join("catalog.pem")).unwrap();
    let refill = keys(dir.path(), &[]);
    assert!(
        refill.contains("catalog.pem") && !refill.contains("discount.pem"),
        "{refill}"
    );
    assert_eq!(read("ca.pem"), ca);

    keys(dir.path(), &["--force"]);
    assert_ne!(read("ca.pem"), ca, "--force makes a new CA");
    assert_ne!(read("discount.pem"), discount, "--force makes new leaves");
}

#[test]
fn private_keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path(), &[]);
    for name in ["ca-key.pem", "discount-key.pem"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is mode {mode:o}");
    }
}
