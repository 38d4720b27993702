//! The command-line contract of the real binaries: a bad flag or file is exit code 2 and one line saying why.

use std::path::Path;
use std::process::Command;

fn run(binary: &str, args: &[&str]) -> (Option<i32>, String) {
    run_in(binary, Path::new("."), args)
}

fn run_in(binary: &str, cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Exit code 2 and one stderr line holding `needle`.
fn assert_usage_error(
    binary: &str,
    args: &[&str],
    (code, stderr): (Option<i32>, String),
    needle: &str,
) {
    assert_eq!(
        code,
        Some(2),
        "{binary} {args:?}: exit code; stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{binary} {args:?}: want one line, got: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{binary} {args:?}: want {needle:?} in {stderr:?}"
    );
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let garbage = garbage.to_str().unwrap();
    for binary in [
        env!("CARGO_BIN_EXE_discount"),
        env!("CARGO_BIN_EXE_catalog"),
        env!("CARGO_BIN_EXE_interop-server"),
        env!("CARGO_BIN_EXE_order"),
        env!("CARGO_BIN_EXE_payment"),
    ] {
        let cases: &[(&[&str], &str)] = &[
            (&["--no-such-flag"], "--no-such-flag"),
            (&["--tls-cert", "/nonexistent/cert.pem"], "--tls-key"),
            (
                &[
                    "--tls-cert",
                    "/nonexistent/c.pem",
                    "--tls-key",
                    "/nonexistent/k.pem",
                ],
                "/nonexistent/c.pem: cannot read",
            ),
            (
                &["--tls-cert", garbage, "--tls-key", garbage],
                "holds no PEM certificate",
            ),
            (&["--client-ca", garbage], "--tls-cert"),
            (
                &["--listen", "nowhere"],
                "--listen nowhere: expected HOST:PORT",
            ),
            (&["--listen", "127.0.0.1:99999"], "the port is not a number"),
        ];
        for (args, needle) in cases {
            assert_usage_error(binary, args, run(binary, args), needle);
        }
    }
}

#[test]
fn catalog_upstream_flags_are_checked() {
    let catalog = env!("CARGO_BIN_EXE_catalog");
    let (code, stderr) = run(catalog, &["--ca", "/nonexistent/ca.pem"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--ca /nonexistent/ca.pem: cannot read"),
        "{stderr}"
    );
    let (code, stderr) = run(catalog, &["--discount-addr", "no-port"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--discount-addr no-port"), "{stderr}");
}

/// The interop spec's flags: `--use_tls` and `--use_test_ca` read keys/ from the working directory, and say so
/// when it is not there.
#[test]
fn interop_spec_flag_mistakes_are_usage_errors() {
    let empty = tempfile::tempdir().unwrap();
    let server = env!("CARGO_BIN_EXE_interop-server");
    let client = env!("CARGO_BIN_EXE_interop-client");
    let cases: &[(&str, &[&str], &str)] = &[
        (
            server,
            &["--port=0", "--use_tls"],
            "keys/interop-server.pem is missing",
        ),
        (server, &["--port=0", "--listen=127.0.0.1:0"], "--listen"),
        (server, &["--use_tls=maybe"], "--use_tls"),
        (
            client,
            &["--server_port=1", "--test_case=no_such_case"],
            "no_such_case",
        ),
        (client, &["--test_case=empty_unary"], "--server_port"),
        (
            client,
            &["--server_port=1", "--use_tls", "--test_case=empty_unary"],
            "no trust roots",
        ),
        (
            client,
            &[
                "--server_port=1",
                "--use_test_ca",
                "--test_case=empty_unary",
            ],
            "keys/ca.pem: cannot read",
        ),
    ];
    for (binary, args, needle) in cases {
        assert_usage_error(binary, args, run_in(binary, empty.path(), args), needle);
    }
}
#[test]
fn discount_auth_flags_are_checked() {
    let discount = env!("CARGO_BIN_EXE_discount");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--allow-client", "catalog"], "--client-ca"),
        (
            &["--token-file", "/nonexistent/token"],
            "--token-file /nonexistent/token: cannot read",
        ),
        (&["--token-file", empty], "holds no token"),
    ];
    for (args, needle) in cases {
        let (code, stderr) = run(discount, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: want {needle:?} in {stderr:?}"
        );
    }
}

#[test]
fn a_database_that_cannot_be_opened_is_a_usage_error() {
    for binary in [env!("CARGO_BIN_EXE_order"), env!("CARGO_BIN_EXE_payment")] {
        let (code, stderr) = run(
            binary,
            &[
                "--listen",
                "127.0.0.1:0",
                "--db",
                "/nonexistent/dir/x.sqlite3",
            ],
        );
        assert_eq!(code, Some(2), "{binary}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{binary}: {stderr}");
        assert!(
            stderr.contains("--db /nonexistent/dir/x.sqlite3: cannot open"),
            "{binary}: {stderr}"
        );
    }
}

#[test]
fn order_upstream_flags_are_checked() {
    let order = env!("CARGO_BIN_EXE_order");
    let (code, stderr) = run(order, &["--payment-addr", "no-port"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--payment-addr no-port"), "{stderr}");
}

/// How a test asks a service to stop.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Sigterm,
    EndOfStdin,
}

/// Every service binary, with the flags it needs to serve on any free port from a scratch directory.
fn services(scratch: &Path) -> Vec<(&'static str, Vec<String>)> {
    let db = |name: &str| scratch.join(name).to_str().unwrap().to_string();
    let listen = || vec!["--listen".to_string(), "127.0.0.1:0".to_string()];
    vec![
        (env!("CARGO_BIN_EXE_discount"), listen()),
        (env!("CARGO_BIN_EXE_catalog"), listen()),
        (env!("CARGO_BIN_EXE_interop-server"), listen()),
        (
            env!("CARGO_BIN_EXE_order"),
            [listen(), vec!["--db".into(), db("order.sqlite3")]].concat(),
        ),
        (
            env!("CARGO_BIN_EXE_payment"),
            [listen(), vec!["--db".into(), db("payment.sqlite3")]].concat(),
        ),
    ]
}

/// A service whose log reader has gone (the harness that started it exited, a pipe was closed) must still stop
/// when asked, and stop cleanly: a log line it can no longer write must not take the stop path down with it.
#[test]
fn a_service_whose_stderr_is_gone_still_stops() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let scratch = tempfile::tempdir().unwrap();
    for (binary, args) in services(scratch.path()) {
        for stop in [Stop::Sigterm, Stop::EndOfStdin] {
            let mut child = Command::new(binary)
                .args(&args)
                .arg("--exit-on-stdin-eof")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the binary starts");
            let mut ready = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut ready)
                .unwrap();
            assert!(ready.starts_with("READY "), "{binary}: {ready:?}");
            // Nobody reads its logs any more: its next log line meets a broken pipe.
            drop(child.stderr.take());
            match stop {
                Stop::Sigterm => nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                )
                .unwrap(),
                Stop::EndOfStdin => drop(child.stdin.take()),
            }
            let status = wait_bounded(child);
            assert_eq!(
                status.and_then(|s| s.code()),
                Some(0),
                "{binary} after {stop:?} with its stderr gone: {status:?}"
            );
        }
    }
}

/// The child's exit status, or `None` (after killing it) if it is still running after a bound far beyond a
/// graceful stop's grace period: a hung service fails the test instead of hanging it.
fn wait_bounded(mut child: std::process::Child) -> Option<std::process::ExitStatus> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(status) => {
            waiter.join().unwrap();
            Some(status.unwrap())
        }
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            waiter.join().unwrap();
            None
        }
    }
}
