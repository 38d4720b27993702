//! No orphans: a stack's services end when the stack is dropped, when the code holding it panics, and when the
//! process holding it is killed outright (their stdin lifeline closes).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interop::{Lang, Security, Service, Stack};

/// Waits for a process that is not our child to be gone: a bounded check of /proc, the only view we have of it.
fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            // A zombie has exited; only its parent's reaping is left.
            .is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_none_or(|(_, rest)| !rest.starts_with('Z'))
            });
        if !alive {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Starts `interop up ARGS` and reads the JSON line describing its stack.
fn up(args: &[&str]) -> (std::process::Child, serde_json::Value) {
    let mut up = Command::new(env!("CARGO_BIN_EXE_interop"))
        .arg("up")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(up.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let description = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (up, description)
}

fn pids(stack: &Stack) -> Vec<u32> {
    [Service::Discount, Service::Catalog]
        .into_iter()
        .map(|s| stack.pid(s).unwrap().expect("a local process"))
        .collect()
}

async fn start() -> Stack {
    Stack::builder()
        .service(Service::Discount, Lang::named("python"))
        .service(Service::Catalog, Lang::named("rust"))
        .security(Security::Tls)
        .start()
        .await
        .expect("the stack starts")
}

#[tokio::test]
async fn dropping_a_stack_stops_its_services() {
    let stack = start().await;
    let pids = pids(&stack);
    drop(stack);
    for pid in pids {
        assert!(
            wait_gone(pid, Duration::from_secs(15)),
            "service pid {pid} outlived its dropped stack"
        );
    }
}

#[tokio::test]
async fn a_panic_holding_a_stack_stops_its_services() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let stack = start().await;
        tx.send(pids(&stack)).unwrap();
        panic!("a test failing while it holds a stack");
    });
    let pids = rx.await.expect("the stack started before the panic");
    assert!(task.await.unwrap_err().is_panic());
    for pid in pids {
        assert!(
            wait_gone(pid, Duration::from_secs(15)),
            "service pid {pid} outlived a panic"
        );
    }
}

#[test]
fn killing_the_harness_outright_ends_its_services() {
    let (mut up, description) = up(&[
        "--catalog",
        "python",
        "--discount",
        "rust",
        "--security",
        "mtls",
    ]);
    let line = description.to_string();
    let pids: Vec<u64> = ["discount", "catalog"]
        .iter()
        .map(|s| {
            description["services"][s]["pid"]
                .as_u64()
                .unwrap_or_else(|| panic!("no pid for {s}: {line}"))
        })
        .collect();
    assert!(
        description["client_cert"].is_string(),
        "mtls names the client certificate: {line}"
    );
    // SIGKILL: no destructor, no signal handler runs; only the kernel closing the lifeline pipes can stop them.
    up.kill().unwrap();
    up.wait().unwrap();
    for pid in pids {
        assert!(
            wait_gone(pid as u32, Duration::from_secs(15)),
            "service pid {pid} outlived a SIGKILLed harness"
        );
    }
}

/// `interop up --test-server LANG` serves the gRPC interop TestService: the spec's client passes a case against
/// the address and certificates the JSON line names, and closing stdin ends the stack and every service in it.
#[test]
fn up_serves_a_test_server_until_its_stdin_ends() {
    let client =
        interop::workspace::rust_binary("interop-client").expect("the interop client is built");
    for lang in ["rust", "python"] {
        let (mut up, description) = up(&["--test-server", lang, "--security", "mtls"]);
        let line = description.to_string();
        let server = &description["services"]["interop-server"];
        assert_eq!(server["lang"], lang, "{line}");
        let addr: std::net::SocketAddr = server["addr"].as_str().unwrap().parse().unwrap();
        let text = |key: &str| description[key].as_str().unwrap().to_string();
        let status = Command::new(&client)
            .args(["--server_host", &addr.ip().to_string()])
            .args(["--server_port", &addr.port().to_string()])
            .args([
                "--server_host_override",
                server["server_name"].as_str().unwrap(),
            ])
            .args(["--ca", &text("ca"), "--cert", &text("client_cert")])
            .args(["--key", &text("client_key"), "--test_case", "large_unary"])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "large_unary against the {lang} TestServer: {status}"
        );
        let pid = server["pid"].as_u64().unwrap() as u32;
        drop(up.stdin.take());
        assert!(
            up.wait().unwrap().success(),
            "interop up ends cleanly at the end of its stdin"
        );
        assert!(
            wait_gone(pid, Duration::from_secs(15)),
            "the {lang} TestServer (pid {pid}) outlived interop up"
        );
    }
}
