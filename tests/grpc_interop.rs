//! gRPC's own interop cases (grpc/grpc `doc/interop-test-descriptions.md`) across languages: each client language
//! runs each case, as a real process (`interop-client`, `python -m interop_services.testing.client`), against each
//! TestService server language, over TLS and mutual TLS; the test name carries every axis:
//! `grpc_interop::case_02_large_unary::client_1_rust::server_2_python::security_2_mtls`.
//!
//! A case a library cannot do is listed in `grpc_interop_known_failures.txt` as `client/server/security/case` with
//! its reason. A listed case must fail the way a client reports a failed case (exit 1, `<case>: got X, want Y`);
//! one that passes fails its test, so the list cannot go stale.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use interop::certs::{CLIENT_IDENTITY, SERVICE_IDENTITIES};
use interop::{Lang, Security, Service, Stack, workspace};
use rstest::rstest;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use common::STACKS;
use common::axes::{mtls, python, rust, tls};

/// How long one client process may run (its own case timeout is 30 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The known-failing list: `client/server/security/case` → why.
fn known_failures() -> BTreeMap<String, String> {
    let path = workspace::root().join("tests/grpc_interop_known_failures.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let (name, reason) = line.split_once('#').unwrap_or((line, ""));
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_string(), reason.trim().to_string()))
        })
        .collect()
}

/// What a client process did.
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// The interop client of `lang`, ready for its flags.
fn client_command(lang: Lang) -> Command {
    let manifest = lang.manifest();
    let places = manifest
        .local_places()
        .expect("the implementation is ready");
    let parts = manifest
        .interop_client_command(&places)
        .expect("the implementation has an interop client");
    let mut command = Command::new(&parts[0]);
    command.args(&parts[1..]).envs(&manifest.env);
    command
}

async fn run_client(mut command: Command, cwd: Option<&Path>) -> Run {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let output = tokio::time::timeout(CLIENT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} ran longer than {CLIENT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string(),
    }
}

/// Runs `case` with the `client` language's interop client against the stack's TestService.
async fn run_case(client: Lang, stack: &Stack, case: &str) -> Run {
    let addr = stack
        .addr(Service::TestServer)
        .expect("the stack has a TestService");
    let mut command = client_command(client);
    command
        .arg("--server_host")
        .arg(addr.ip().to_string())
        .arg("--server_port")
        .arg(addr.port().to_string())
        .arg("--use_tls=true")
        // Our stacks name each server by its service; the spec's override flag carries that name.
        .arg("--server_host_override")
        .arg(Service::TestServer.name())
        .arg("--ca")
        .arg(stack.pki().ca_path())
        .arg("--test_case")
        .arg(case);
    if stack.security().mutual() {
        let (cert, key) = stack
            .pki()
            .identity(CLIENT_IDENTITY)
            .expect("a client identity");
        command.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    run_client(command, None).await
}

/// A failure the client reported as a failed case: exit 1 and one `<case>: got X, want Y` line.
fn is_case_failure(run: &Run, case: &str) -> bool {
    run.code == Some(1)
        && run.stderr.lines().count() == 1
        && run.stderr.starts_with(&format!("{case}: got "))
        && run.stderr.contains(", want ")
}

#[rstest]
#[case::empty_unary("empty_unary")]
#[case::large_unary("large_unary")]
#[case::client_streaming("client_streaming")]
#[case::server_streaming("server_streaming")]
#[case::ping_pong("ping_pong")]
#[case::empty_stream("empty_stream")]
#[case::custom_metadata("custom_metadata")]
#[case::status_code_and_message("status_code_and_message")]
#[case::special_status_message("special_status_message")]
#[case::unimplemented_method("unimplemented_method")]
#[case::unimplemented_service("unimplemented_service")]
#[case::cancel_after_begin("cancel_after_begin")]
#[case::cancel_after_first_response("cancel_after_first_response")]
#[case::timeout_on_sleeping_server("timeout_on_sleeping_server")]
#[case::client_compressed_unary("client_compressed_unary")]
#[case::server_compressed_unary("server_compressed_unary")]
#[case::client_compressed_streaming("client_compressed_streaming")]
#[case::server_compressed_streaming("server_compressed_streaming")]
#[tokio::test]
async fn grpc_interop(
    #[case] case: &str,
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
    #[values(tls, mtls)] security: Security,
) {
    let name = format!("{client}/{server}/{security}/{case}");
    let builder = Stack::builder()
        .service(Service::TestServer, server)
        .security(security)
        .backend(interop::Backend::from_env().expect("INTEROP_BACKEND names a backend"));
    let stack = STACKS.get(builder).await.expect("the stack starts");
    let run = run_case(client, &stack, case).await;
    let known = known_failures();
    match (known.get(&name), run.code) {
        (None, Some(0)) => {}
        (None, _) => panic!(
            "{name}: the {client} client failed ({:?}):\n{}\n--- last lines of the {server} server ---\n{}",
            run.code,
            run.stderr,
            stack.logs(Service::TestServer).unwrap_or_default()
        ),
        (Some(reason), Some(0)) => panic!(
            "{name} is in tests/grpc_interop_known_failures.txt ({reason}) but passed: remove it from the list"
        ),
        (Some(reason), _) => {
            assert!(
                is_case_failure(&run, case),
                "{name} is a known failure ({reason}), but the client did not fail the case the way a client \
                 reports a failed case (exit 1, one `{case}: got X, want Y` line): exit {:?}, stderr:\n{}",
                run.code,
                run.stderr
            );
            eprintln!("{name}: known failure ({reason}): {}", run.stderr);
        }
    }
}

/// Every entry of the known-failing list names a real matrix cell, so a typo cannot hide a failure.
#[test]
fn known_failures_name_real_cells() {
    let source = std::fs::read_to_string(workspace::root().join("tests/grpc_interop.rs")).unwrap();
    for (name, reason) in known_failures() {
        let parts: Vec<&str> = name.split('/').collect();
        let [client, server, security, case] = parts[..] else {
            panic!("{name}: want client/server/security/case");
        };
        for lang in [client, server] {
            assert!(
                lang.parse::<Lang>().is_ok(),
                "{name}: {lang} is not a language"
            );
        }
        assert!(
            matches!(security, "tls" | "mtls"),
            "{name}: {security} is not a security mode of the matrix"
        );
        assert!(
            source.contains(&format!("#[case::{case}(\"{case}\")]")),
            "{name}: {case} is not a case of the matrix"
        );
        assert!(!reason.is_empty(), "{name}: every entry says why");
    }
}

/// A client that knows only the interop spec's flags reaches our servers started with only the spec's flags:
/// `--port`, `--use_tls` on the server; `--server_host`, `--server_port`, `--use_tls`, `--use_test_ca`,
/// `--server_host_override` (the spec runners' `foo.test.google.fr`) and `--test_case` on the client. Both run
/// where `make keys` wrote keys/ (here a temporary folder), as a spec runner would run them.
#[rstest]
#[tokio::test]
async fn spec_flags_only(
    #[values(rust, python)] client: Lang,
    #[values(rust, python)] server: Lang,
) {
    let dir = tempfile::tempdir().unwrap();
    interop::certs::write_keys(&dir.path().join("keys"), &SERVICE_IDENTITIES, false).unwrap();
    let manifest = server.manifest();
    let parts = manifest
        .server_command(Service::TestServer, &manifest.local_places().unwrap())
        .unwrap();
    let mut command = Command::new(&parts[0]);
    command.args(&parts[1..]).envs(&manifest.env);
    let mut child = command
        .args(["--port=0", "--use_tls=true"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut ready = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut ready))
        .await
        .expect("a READY line within 30 s")
        .unwrap();
    let port = interop::backend::local::parse_ready(ready.trim_end())
        .unwrap_or_else(|e| panic!("{server} server: {e:#}"))
        .port();

    for case in ["large_unary", "ping_pong", "custom_metadata"] {
        let mut command = client_command(client);
        command.args([
            "--server_host=localhost",
            &format!("--server_port={port}"),
            "--use_tls=true",
            "--use_test_ca=true",
            "--server_host_override=foo.test.google.fr",
            &format!("--test_case={case}"),
        ]);
        let run = run_client(command, Some(dir.path())).await;
        assert_eq!(
            run.code,
            Some(0),
            "{client} client, {server} server, {case}: {}",
            run.stderr
        );
    }
    child.kill().await.unwrap();
}
