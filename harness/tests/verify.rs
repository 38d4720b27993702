//! `interop verify` from a user's side: an implementation outside the registry's folder joins through its manifest
//! alone, and a wrong one fails, naming the first differing case and field.

use std::process::Command;

fn verify(args: &[&str]) -> (bool, String) {
    let results = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_interop"))
        .arg("verify")
        .args(args)
        .arg("--results")
        .arg(results.path())
        .env("INTEROP_BACKEND", "local")
        .output()
        .expect("interop runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_discount_that_rounds_up_fails_and_says_where() {
    let (ok, text) = verify(&["--impl", &fixture("rounds-up"), "--service", "discount"]);
    assert!(!ok, "verify passed a wrong implementation:\n{text}");
    assert!(
        text.contains("discount/customer_1[client=rust,server=rounds-up,security=tls]"),
        "{text}"
    );
    assert!(
        text.contains("response.product.discountValue.valueInCents: got 90000, want 89999"),
        "{text}"
    );
    // Cells it cannot run are skipped with the reason, not failed.
    assert!(
        text.contains("rounds-up's discount does not claim mtls"),
        "{text}"
    );
}

#[test]
fn the_tutorial_server_passes_the_discount_and_catalog_contracts() {
    let (ok, text) = verify(&["--impl", "tutorial-grpcio"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "catalog/products/user_1[catalog=python,discount=tutorial-grpcio,security=tls]"
        ) || text.contains("== catalog"),
        "{text}"
    );
    assert!(text.contains(" 0 failed, 0 xfail, 0 xpass"), "{text}");
}

#[test]
fn an_unknown_implementation_is_named_with_the_known_ones() {
    let (ok, text) = verify(&["--impl", "cobol"]);
    assert!(!ok);
    assert!(
        text.contains("unknown implementation cobol; known: "),
        "{text}"
    );
    assert!(text.contains("manifests are read from"), "{text}");
}

fn check(implementation: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_interop"))
        .args(["check", "--impl", implementation])
        .output()
        .expect("interop runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_references_keep_the_process_contract() {
    for implementation in ["rust", "python"] {
        let (ok, text) = check(implementation);
        assert!(ok, "{implementation}:\n{text}");
        assert!(
            text.contains("exits 0 on SIGTERM") && text.contains("client: a line"),
            "{text}"
        );
    }
}

#[test]
fn the_check_fails_where_the_contract_is_broken() {
    // The tutorial's server uses plain argparse (a usage block, not one line) and lets a missing certificate end in
    // a traceback (exit 1): it serves well, but breaks the contract's error rules, and the check must say so.
    let (ok, text) = check("tutorial-grpcio");
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL  discount: a bad flag ends it with exit code 2 and one line"),
        "{text}"
    );
    assert!(
        text.contains("ok    discount: prints READY host:port"),
        "{text}"
    );
}
