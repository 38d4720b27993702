//! `interop check --impl PATH`: the process contract (docs/implementing.md), checked as a black box against every
//! server and the client an implementation's manifest names. Each check is one line of the report, with what was
//! expected and what happened.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::certs::{CLIENT_IDENTITY, Pki};
use crate::clients::ClientSecurity;
use crate::registry::Impl;
use crate::{Security, Service, ready};

/// How long a check waits for a READY line, an exit, or a client's answer.
const LIMIT: Duration = Duration::from_secs(30);

/// One check's verdict.
#[derive(Debug)]
pub struct Verdict {
    /// What was checked: `discount: exit 2 and one line on a bad flag`.
    pub what: String,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// Every check of `implementation`'s servers and client.
pub async fn run(implementation: Impl) -> Result<Vec<Verdict>> {
    let manifest = implementation.manifest();
    let places = manifest.local_places()?;
    let mut verdicts = Vec::new();
    let services: Vec<Service> = manifest.services().collect();
    for service in services {
        let command = manifest.server_command(service, &places)?;
        let pki = Pki::temporary(&[service.name(), CLIENT_IDENTITY])?;
        let tls = manifest.has_feature(service, "tls");
        let mut record = |what: &str, outcome: Result<()>| {
            verdicts.push(Verdict {
                what: format!("{service}: {what}"),
                failure: outcome.err().map(|e| format!("{e:#}")),
            })
        };
        let base = |extra: &[String]| -> Command {
            let mut c = Command::new(&command[0]);
            c.args(&command[1..])
                .args(extra)
                .envs(&manifest.env)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            c
        };
        record(
            "a bad flag ends it with exit code 2 and one line on stderr",
            usage_error(base(&["--no-such-flag".into()]), "--no-such-flag").await,
        );
        if tls {
            record(
                "a missing certificate ends it with exit code 2 and one line naming the file",
                usage_error(
                    base(&[
                        "--tls-cert".into(),
                        "/nonexistent/cert.pem".into(),
                        "--tls-key".into(),
                        "/nonexistent/key.pem".into(),
                    ]),
                    "/nonexistent/",
                )
                .await,
            );
        }
        let mut serve_args = vec![
            "--listen".to_string(),
            "127.0.0.1:0".into(),
            "--exit-on-stdin-eof".into(),
        ];
        let security = if tls {
            Security::Tls
        } else {
            Security::Plaintext
        };
        if tls {
            let (cert, key) = pki.identity(service.name())?;
            serve_args.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ]);
        }
        if service.has_database() {
            serve_args.extend([
                "--db".into(),
                pki.dir().join("check.sqlite3").display().to_string(),
            ]);
        }
        let clients = ClientSecurity::new(security, &pki)?;
        for ending in [Ending::Sigterm, Ending::StdinEof] {
            let what = format!(
                "prints READY host:port, answers its health check, and exits 0 on {}",
                ending.name()
            );
            let outcome =
                serve_and_end(base(&serve_args), service, implementation, &clients, ending).await;
            record(&what, outcome);
        }
    }
    if manifest.client_command(&places).is_ok() {
        let command = manifest.client_command(&places)?;
        let mut c = Command::new(&command[0]);
        c.args(&command[1..])
            .envs(&manifest.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let outcome = client_refuses_garbage(c).await;
        verdicts.push(Verdict {
            what: "client: a line that is not JSON ends it with exit code 2 and one line on stderr"
                .into(),
            failure: outcome.err().map(|e| format!("{e:#}")),
        });
    }
    Ok(verdicts)
}

#[derive(Clone, Copy)]
enum Ending {
    Sigterm,
    StdinEof,
}

impl Ending {
    fn name(self) -> &'static str {
        match self {
            Ending::Sigterm => "SIGTERM",
            Ending::StdinEof => "the end of stdin",
        }
    }
}

async fn usage_error(mut command: Command, mentions: &str) -> Result<()> {
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .context("it did not exit within 30 s")??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if output.status.code() != Some(2) {
        bail!("exit status {}, want 2; stderr: {stderr:?}", output.status);
    }
    if lines.len() != 1 {
        bail!("{} lines on stderr, want 1: {stderr:?}", lines.len());
    }
    if !lines[0].contains(mentions) {
        bail!("its line does not name {mentions:?}: {:?}", lines[0]);
    }
    Ok(())
}

async fn serve_and_end(
    mut command: Command,
    service: Service,
    implementation: Impl,
    clients: &ClientSecurity,
    ending: Ending,
) -> Result<()> {
    let mut child: Child = command.spawn().context("it did not start")?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let drain = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(LIMIT, lines.next_line())
        .await
        .context("no READY line within 30 s")??
        .ok_or_else(|| anyhow!("stdout closed before a READY line"))?;
    let addr: SocketAddr = line
        .strip_prefix("READY ")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("its first line is {line:?}, want READY host:port"))?;
    if addr.port() == 0 {
        bail!("READY names port 0, want the bound port");
    }
    ready::check(service, implementation, addr, clients)
        .await
        .context("no health answer")?;
    match ending {
        Ending::Sigterm => {
            let pid = child.id().context("it has no pid")?;
            kill(Pid::from_raw(pid as i32), Signal::SIGTERM)?;
        }
        Ending::StdinEof => {
            let mut stdin = child.stdin.take().expect("piped");
            stdin.shutdown().await?;
            drop(stdin);
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .with_context(|| format!("still running 10 s after {}", ending.name()))??;
    if !status.success() {
        let log = drain.await.unwrap_or_default();
        bail!("exit status {status}, want 0; its stderr: {log}");
    }
    Ok(())
}

async fn client_refuses_garbage(mut command: Command) -> Result<()> {
    let mut child = command.spawn().context("it did not start")?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(b"this is not JSON\n").await?;
    drop(stdin);
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .context("it did not exit within 30 s")??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = stderr.lines().filter(|l| !l.trim().is_empty()).count();
    if output.status.code() != Some(2) || lines != 1 {
        bail!(
            "exit status {} with {lines} lines on stderr, want 2 and one line: {stderr:?}",
            output.status
        );
    }
    Ok(())
}
