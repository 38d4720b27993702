//! Certificates the harness makes itself with rcgen: a CA and one leaf per identity, ECDSA P-256.
//!
//! ECDSA P-256 is the one key type every runtime here accepts (grpcio refuses Ed25519). Leaves are always
//! `CA:FALSE` (rustls refuses a CA certificate used as a server certificate) and carry SANs, never a bare CN.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::{Duration, OffsetDateTime};

/// The identities a stack's services and its test client use.
pub const SERVICE_IDENTITIES: [&str; 5] = [
    "discount",
    "catalog",
    "order",
    "payment",
    INTEROP_SERVER_IDENTITY,
];

/// The identity of the interop TestService server.
pub const INTEROP_SERVER_IDENTITY: &str = "interop-server";

/// Names the interop spec's runners verify by default (`--server_host_override=foo.test.google.fr`, the name in
/// grpc/grpc's test certificate). The interop server's certificate carries them as well, so a client written to
/// the spec needs nothing from us but our CA.
const INTEROP_SPEC_NAMES: [&str; 1] = ["*.test.google.fr"];

/// The identity the test process presents to mutual-TLS servers.
pub const CLIENT_IDENTITY: &str = "client";

/// A certificate authority that can issue leaves.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

impl Authority {
    /// A new self-signed CA named `common_name`, valid for ten years.
    pub fn generate(common_name: &str) -> Result<Self> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Authority {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// An existing CA, from its certificate and key in PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let key = KeyPair::from_pem(key_pem).context("the CA key is not a PEM private key")?;
        let issuer =
            Issuer::from_ca_cert_pem(cert_pem, key).context("the CA certificate is not usable")?;
        Ok(Authority {
            issuer,
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        })
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key in PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a leaf as `spec` describes.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Leaf> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(&spec.common_name);
        params.subject_alt_names = spec.sans.clone();
        params.is_ca = if spec.ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = spec.usages.clone();
        params.use_authority_key_identifier_extension = true;
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "interop");
    dn
}

/// What a leaf certificate says about itself.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name (informational: names are checked against the SANs).
    pub common_name: String,
    /// Subject alternative names.
    pub sans: Vec<SanType>,
    /// Extended key usages.
    pub usages: Vec<ExtendedKeyUsagePurpose>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Marks the leaf `CA:TRUE` (only to test that peers refuse it).
    pub ca: bool,
}

impl LeafSpec {
    /// A service identity: SANs DNS:`name`, DNS:localhost, IP:127.0.0.1, IP:::1; serverAuth and clientAuth;
    /// valid from an hour ago for `days`.
    pub fn identity(name: &str, days: i64) -> Result<Self> {
        Self::identity_with_aliases(name, &[], days)
    }

    /// A service identity that also answers to `aliases` (DNS names, such as its container's name), listed after
    /// `name`.
    pub fn identity_with_aliases(name: &str, aliases: &[String], days: i64) -> Result<Self> {
        let now = OffsetDateTime::now_utc();
        let mut sans = vec![SanType::DnsName(name.try_into()?)];
        for alias in aliases {
            sans.push(SanType::DnsName(alias.as_str().try_into()?));
        }
        sans.extend([
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress([127, 0, 0, 1].into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        ]);
        if name == INTEROP_SERVER_IDENTITY {
            for spec_name in INTEROP_SPEC_NAMES {
                sans.push(SanType::DnsName(spec_name.try_into()?));
            }
        }
        Ok(LeafSpec {
            common_name: name.to_string(),
            sans,
            usages: vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
            ca: false,
        })
    }
}

/// A deliberately bad leaf, for tests that check that peers refuse it. Each differs from a good identity
/// ([`LeafSpec::identity`]) in one way only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadCert {
    /// Signed by a CA that nobody in the stack trusts.
    OtherCa,
    /// Expired a day ago.
    Expired,
    /// Valid only from tomorrow.
    NotYetValid,
    /// Names only `wrong-name.invalid`: no service name, no loopback address.
    WrongName,
    /// A CA certificate (`CA:TRUE`) presented as a leaf.
    CaAsLeaf,
    /// serverAuth only: not valid for client authentication.
    NoClientAuth,
}

impl BadCert {
    /// Every kind.
    pub const ALL: [BadCert; 6] = [
        BadCert::OtherCa,
        BadCert::Expired,
        BadCert::NotYetValid,
        BadCert::WrongName,
        BadCert::CaAsLeaf,
        BadCert::NoClientAuth,
    ];

    /// Its name in file names and test names.
    pub fn name(self) -> &'static str {
        match self {
            BadCert::OtherCa => "other-ca",
            BadCert::Expired => "expired",
            BadCert::NotYetValid => "not-yet-valid",
            BadCert::WrongName => "wrong-name",
            BadCert::CaAsLeaf => "ca-as-leaf",
            BadCert::NoClientAuth => "no-client-auth",
        }
    }

    /// The leaf for identity `name`, spoiled this way (who signs it is the caller's business).
    pub fn spec(self, name: &str) -> Result<LeafSpec> {
        let mut spec = LeafSpec::identity(name, 30)?;
        let now = OffsetDateTime::now_utc();
        match self {
            BadCert::OtherCa => {}
            BadCert::Expired => {
                spec.not_before = now - Duration::days(30);
                spec.not_after = now - Duration::days(1);
            }
            BadCert::NotYetValid => {
                spec.not_before = now + Duration::days(1);
                spec.not_after = now + Duration::days(30);
            }
            BadCert::WrongName => {
                spec.sans = vec![SanType::DnsName("wrong-name.invalid".try_into()?)];
            }
            BadCert::CaAsLeaf => spec.ca = true,
            BadCert::NoClientAuth => spec.usages = vec![ExtendedKeyUsagePurpose::ServerAuth],
        }
        Ok(spec)
    }
}

/// A leaf certificate and its private key, in PEM.
pub struct Leaf {
    /// Certificate.
    pub cert_pem: String,
    /// PKCS#8 private key.
    pub key_pem: String,
}

/// A CA and leaves written to a directory: `ca.pem`, `ca-key.pem`, `NAME.pem`, `NAME-key.pem`, and bad leaves
/// `NAME.KIND.pem`, `NAME.KIND-key.pem` made on demand.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    leaves: BTreeMap<String, (PathBuf, PathBuf)>,
    bad: Mutex<BTreeMap<(String, BadCert), (PathBuf, PathBuf)>>,
    _temp: Option<tempfile::TempDir>,
}

impl Pki {
    /// A fresh CA and a leaf for each of `names`, in a temporary directory removed when this is dropped.
    pub fn temporary(names: &[&str]) -> Result<Self> {
        Self::temporary_with_aliases(names, |_| Vec::new())
    }

    /// Like [`Pki::temporary`], each leaf also naming the DNS names `aliases` gives for its identity.
    pub fn temporary_with_aliases(
        names: &[&str],
        aliases: impl Fn(&str) -> Vec<String>,
    ) -> Result<Self> {
        let temp = crate::scratch::tempdir("pki")?;
        let authority = Authority::generate("interop test CA")?;
        let mut pki = Pki {
            dir: temp.path().to_path_buf(),
            leaves: BTreeMap::new(),
            bad: Mutex::default(),
            _temp: None,
        };
        write_private(&pki.ca_path(), authority.cert_pem())?;
        write_private(&pki.dir.join("ca-key.pem"), authority.key_pem())?;
        for name in names {
            let spec = LeafSpec::identity_with_aliases(name, &aliases(name), 30)?;
            pki.add(&authority, name, &spec)?;
        }
        pki._temp = Some(temp);
        Ok(pki)
    }

    fn add(&mut self, authority: &Authority, name: &str, spec: &LeafSpec) -> Result<()> {
        let files = write_leaf(&self.dir, name, &authority.issue(spec)?)?;
        self.leaves.insert(name.to_string(), files);
        Ok(())
    }

    /// Certificate and key of identity `name` spoiled as `kind`, made on first use. Every kind but
    /// [`BadCert::OtherCa`] is signed by this PKI's CA, so that it fails for its one reason only.
    pub fn bad_identity(&self, name: &str, kind: BadCert) -> Result<(PathBuf, PathBuf)> {
        let mut bad = self.bad.lock().expect("bad identities lock");
        if let Some(files) = bad.get(&(name.to_string(), kind)) {
            return Ok(files.clone());
        }
        let authority = match kind {
            BadCert::OtherCa => Authority::generate("another CA, trusted by nobody")?,
            _ => {
                let read = |f: &str| {
                    let path = self.dir.join(f);
                    fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))
                };
                Authority::from_pem(&read("ca.pem")?, &read("ca-key.pem")?)?
            }
        };
        let leaf = authority.issue(&kind.spec(name)?)?;
        let files = write_leaf(&self.dir, &format!("{name}.{}", kind.name()), &leaf)?;
        bad.insert((name.to_string(), kind), files.clone());
        Ok(files)
    }

    /// Writes `contents` to the private file `name` beside the certificates (a token, say) and returns its path.
    pub fn write_private(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        write_private(&path, contents)?;
        Ok(path)
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Certificate and key of identity `name`.
    pub fn identity(&self, name: &str) -> Result<(&Path, &Path)> {
        self.leaves
            .get(name)
            .map(|(c, k)| (c.as_path(), k.as_path()))
            .with_context(|| {
                format!(
                    "no certificate for identity {name:?} in {}",
                    self.dir.display()
                )
            })
    }
}

/// What `make keys` does: a CA and a leaf per service in `dir`. Existing files are kept unless `force`; a kept CA
/// signs any leaf that is missing. Returns the files written.
pub fn write_keys(dir: &Path, names: &[&str], force: bool) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let mut written = Vec::new();
    let authority = if !force && ca.exists() && ca_key.exists() {
        let read = |p: &Path| {
            fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
        };
        Authority::from_pem(&read(&ca)?, &read(&ca_key)?)
            .with_context(|| format!("in {}", dir.display()))?
    } else {
        let authority = Authority::generate("interop CA")?;
        write_private(&ca, authority.cert_pem())?;
        write_private(&ca_key, authority.key_pem())?;
        written.extend([ca, ca_key]);
        // A new CA invalidates every leaf the old one signed.
        return write_leaves(dir, &authority, names, true).map(|leaves| [written, leaves].concat());
    };
    written.extend(write_leaves(dir, &authority, names, force)?);
    Ok(written)
}

fn write_leaves(
    dir: &Path,
    authority: &Authority,
    names: &[&str],
    force: bool,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for name in names {
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        if !force && cert.exists() && key.exists() {
            continue;
        }
        let (cert, key) = write_leaf(
            dir,
            name,
            &authority.issue(&LeafSpec::identity(name, 365)?)?,
        )?;
        written.extend([cert, key]);
    }
    Ok(written)
}

/// Writes `STEM.pem` and `STEM-key.pem` into `dir`.
fn write_leaf(dir: &Path, stem: &str, leaf: &Leaf) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    write_private(&cert, &leaf.cert_pem)?;
    write_private(&key, &leaf.key_pem)?;
    Ok((cert, key))
}

/// Writes a file readable by its owner only (keys must not be world-readable; certificates do not mind).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use rustls::{CertificateError, Error};

    use super::*;

    /// rustls's verdict on `cert` as a server certificate for `discount` and as a client certificate.
    fn verdicts(pki: &Pki, cert: &Path) -> (Result<(), Error>, Result<(), Error>) {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(pki.ca_path()).unwrap())
            .unwrap();
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let leaf = CertificateDer::from_pem_file(cert).unwrap();
        let now = UnixTime::now();
        let as_server =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .unwrap()
                .verify_server_cert(
                    &leaf,
                    &[],
                    &ServerName::try_from("discount").unwrap(),
                    &[],
                    now,
                )
                .map(drop);
        let as_client = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap()
            .verify_client_cert(&leaf, &[], now)
            .map(drop);
        (as_server, as_client)
    }

    #[test]
    fn each_bad_certificate_fails_for_its_one_reason() {
        let pki = Pki::temporary(&["discount"]).unwrap();
        let (good, _) = pki.identity("discount").unwrap();
        assert!(matches!(verdicts(&pki, good), (Ok(()), Ok(()))));
        let invalid = |e: &Result<(), Error>| match e {
            Err(Error::InvalidCertificate(why)) => Some(why.clone()),
            _ => None,
        };
        for bad in BadCert::ALL {
            let (cert, _) = pki.bad_identity("discount", bad).unwrap();
            let (as_server, as_client) = verdicts(&pki, &cert);
            let (server_why, client_why) = (invalid(&as_server), invalid(&as_client));
            let expected = match bad {
                BadCert::OtherCa => {
                    matches!(server_why, Some(CertificateError::UnknownIssuer))
                        && matches!(client_why, Some(CertificateError::UnknownIssuer))
                }
                BadCert::Expired => {
                    matches!(server_why, Some(CertificateError::ExpiredContext { .. }))
                        && matches!(client_why, Some(CertificateError::ExpiredContext { .. }))
                }
                BadCert::NotYetValid => {
                    matches!(
                        server_why,
                        Some(CertificateError::NotValidYetContext { .. })
                    ) && matches!(
                        client_why,
                        Some(CertificateError::NotValidYetContext { .. })
                    )
                }
                // Names matter to a client checking a server, not to a server checking a client.
                BadCert::WrongName => {
                    matches!(
                        server_why,
                        Some(CertificateError::NotValidForNameContext { .. })
                    ) && as_client.is_ok()
                }
                BadCert::CaAsLeaf => {
                    format!("{as_server:?}").contains("CaUsedAsEndEntity")
                        && format!("{as_client:?}").contains("CaUsedAsEndEntity")
                }
                BadCert::NoClientAuth => {
                    as_server.is_ok()
                        && matches!(
                            client_why,
                            Some(CertificateError::InvalidPurposeContext { .. })
                        )
                }
            };
            assert!(
                expected,
                "{bad:?}: as server {as_server:?}, as client {as_client:?}"
            );
        }
    }

    #[test]
    fn bad_identities_are_made_once() {
        let pki = Pki::temporary(&[]).unwrap();
        let first = pki.bad_identity("client", BadCert::Expired).unwrap();
        let cert = fs::read(&first.0).unwrap();
        let again = pki.bad_identity("client", BadCert::Expired).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            fs::read(&again.0).unwrap(),
            cert,
            "the certificate was made again"
        );
        assert!(first.0.ends_with("client.expired.pem"));
    }
}
