//! `interop-call` against the real `discount` and `catalog` binaries, over TLS and mutual TLS, with certificates
//! made here (rcgen).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// A CA, leaves for `discount` and `catalog`, and a second CA nobody trusts.
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            (cert.pem(), Issuer::new(params, key))
        };
        let (ca_pem, issuer) = ca("test CA");
        write("ca.pem", &ca_pem);
        let (other_pem, _) = ca("other CA");
        write("other-ca.pem", &other_pem);
        for name in ["discount", "catalog"] {
            let key = KeyPair::generate().unwrap();
            let params =
                CertificateParams::new(vec![name.to_string(), "localhost".to_string()]).unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            write(&format!("{name}.pem"), &cert.pem());
            write(&format!("{name}-key.pem"), &key.serialize_pem());
        }
        Keys { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// A server binary, stopped when dropped (stdin closes: `--exit-on-stdin-eof`).
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(binary: &str, args: &[String]) -> Server {
        let mut child = Command::new(binary)
            .args(args)
            .arg("--listen=127.0.0.1:0")
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{binary}: want READY, got {line:?}"))
            .to_string();
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn serve_args(keys: &Keys, name: &str, mutual: bool) -> Vec<String> {
    let mut args = vec![
        format!("--tls-cert={}", keys.path(&format!("{name}.pem"))),
        format!("--tls-key={}", keys.path(&format!("{name}-key.pem"))),
    ];
    if mutual {
        args.push(format!("--client-ca={}", keys.path("ca.pem")));
    }
    args
}

/// Runs `interop-call` on `lines`; its exit code, its outcomes, and its stderr.
fn call(lines: &[String]) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_interop-call"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let outcomes = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (
        output.status.code(),
        outcomes,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn discount_call(id: &str, addr: &str, tls: serde_json::Value) -> String {
    serde_json::json!({
        "id": id, "addr": addr, "server_name": "discount", "tls": tls, "timeout_ms": 10000,
        "grpc": {"method": "ecommerce.Discount/ApplyDiscount",
                 "request": {"customer": {"id": 1}, "product": {"id": 1, "priceInCents": 99999}}}
    })
    .to_string()
}

fn customer_1_response() -> serde_json::Value {
    serde_json::json!({"product": {"id": 1, "priceInCents": 99999,
                                   "discountValue": {"pct": 0.1, "valueInCents": 89999}}})
}

#[test]
fn customer_1_over_tls_and_mtls_in_order() {
    let keys = Keys::new();
    let tls = Server::start(
        env!("CARGO_BIN_EXE_discount"),
        &serve_args(&keys, "discount", false),
    );
    let mtls = Server::start(
        env!("CARGO_BIN_EXE_discount"),
        &serve_args(&keys, "discount", true),
    );
    let ca = serde_json::json!({"ca": keys.path("ca.pem")});
    // Discount's default allow list names its callers: the client presents Catalog's identity.
    let identity = serde_json::json!({"ca": keys.path("ca.pem"),
        "cert": keys.path("catalog.pem"), "key": keys.path("catalog-key.pem")});
    let lines = vec![
        discount_call("tls", &tls.addr, ca.clone()),
        discount_call("mtls", &mtls.addr, identity.clone()),
        discount_call("again", &mtls.addr, identity),
        discount_call(
            "untrusted",
            &tls.addr,
            serde_json::json!({"ca": keys.path("other-ca.pem")}),
        ),
        serde_json::json!({"id": "unknown", "addr": tls.addr, "tls": ca,
                           "grpc": {"method": "ecommerce.Discount/Nope"}})
        .to_string(),
    ];
    let (code, outcomes, stderr) = call(&lines);
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<_> = outcomes.iter().map(|o| o["id"].clone()).collect();
    assert_eq!(ids, ["tls", "mtls", "again", "untrusted", "unknown"]);
    for outcome in &outcomes[..3] {
        assert_eq!(outcome["code"], "OK", "{outcome}");
        assert_eq!(outcome["response"], customer_1_response(), "{outcome}");
        assert_eq!(outcome["details"], serde_json::json!([]));
    }
    // pct is a float32: written as 0.1, not widened to 0.10000000149011612.
    assert!(
        serde_json::to_string(&outcomes[0])
            .unwrap()
            .contains("\"pct\":0.1,")
    );
    let untrusted = &outcomes[3];
    assert_eq!(untrusted["code"], "UNAVAILABLE", "{untrusted}");
    assert!(
        untrusted["error"]
            .as_str()
            .unwrap()
            .contains("UnknownIssuer"),
        "{untrusted}"
    );
    assert_eq!(outcomes[4]["code"], "CLIENT_ERROR");
    assert!(outcomes[4]["message"].as_str().unwrap().contains("Nope"));
}

#[test]
fn catalog_products_for_user_1_over_https() {
    let keys = Keys::new();
    let discount = Server::start(
        env!("CARGO_BIN_EXE_discount"),
        &serve_args(&keys, "discount", true),
    );
    let mut args = serve_args(&keys, "catalog", false);
    args.extend([
        format!("--discount-addr={}", discount.addr),
        "--discount-server-name=discount".to_string(),
        format!("--ca={}", keys.path("ca.pem")),
        format!("--cert={}", keys.path("catalog.pem")),
        format!("--key={}", keys.path("catalog-key.pem")),
    ]);
    let catalog = Server::start(env!("CARGO_BIN_EXE_catalog"), &args);
    let line = serde_json::json!({
        "id": "8", "addr": catalog.addr, "server_name": "catalog", "tls": {"ca": keys.path("ca.pem")},
        "timeout_ms": 10000,
        "http": {"method": "GET", "path": "/products", "headers": [["X-USER-ID", "1"]], "body": ""}
    });
    let (code, outcomes, stderr) = call(&[line.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    let http = &outcomes[0]["http"];
    assert_eq!(http["status"], 200, "{}", outcomes[0]);
    assert_eq!(http["headers"]["content-type"], "application/json");
    let snapshot = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/snapshots/catalog__user_1.snap"),
    )
    .unwrap();
    let want = snapshot.split_once("\n\n").unwrap().1.trim_end();
    assert_eq!(http["body"].as_str().unwrap().trim_end(), want);
}

#[test]
fn a_line_that_is_not_json_exits_2_after_the_calls_before_it() {
    let unreachable = PathBuf::from("/nonexistent/ca.pem");
    let lines = vec![
        serde_json::json!({"id": 1, "addr": "127.0.0.1:1", "tls": {"ca": unreachable},
                           "grpc": {"method": "ecommerce.Discount/ApplyDiscount"}})
        .to_string(),
        "not json".to_string(),
        serde_json::json!({"id": 2, "addr": "nowhere"}).to_string(),
    ];
    let (code, outcomes, stderr) = call(&lines);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["code"], "CLIENT_ERROR");
    assert!(
        outcomes[0]["message"]
            .as_str()
            .unwrap()
            .contains("tls.ca /nonexistent/ca.pem: cannot read"),
        "{}",
        outcomes[0]
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("interop-call: error: line 2: not JSON"),
        "{stderr}"
    );
}
