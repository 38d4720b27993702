//! The local backend: each service a child process on loopback.
//!
//! A child never outlives the harness: it is started with `--exit-on-stdin-eof` and its stdin is a pipe held here,
//! which the kernel closes when this process ends, however it ends; dropping the handle also stops it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::Launch;
use super::log::{self, LogTail};
use crate::model::{Lang, Service};
use crate::runtime;

/// How long a service may take from spawn to its READY line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopped service may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many ports a new service may try when others take the chosen one first.
const PORT_ATTEMPTS: u32 = 5;

/// A free loopback port below the kernel's ephemeral range.
///
/// Port 0 would come from the ephemeral range, where the kernel also picks the source port of every outgoing
/// connection: after a service stops, some client's connection can take its port before it starts again on it.
/// Below that range only another listener can take a port, and [`Process::spawn`] then tries another one.
pub fn free_port() -> Result<u16> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = if low > 4096 {
        (low / 2, low)
    } else {
        (20000, 30000)
    };
    for _ in 0..200 {
        let port = fastrand::u16(from..to);
        if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between {from} and {to} after 200 tries")
}

/// A service running as a child process.
pub struct Process {
    launch: Launch,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    tail: Arc<LogTail>,
    port: u16,
}

/// The command that runs `service` of `implementation` here, as its manifest says (built first if it must be).
pub fn launch(service: Service, implementation: Lang) -> Result<Launch> {
    let manifest = implementation.manifest();
    let command = manifest.server_command(service, &manifest.local_places()?)?;
    Ok(Launch::from_command(service, implementation, command, None))
}

impl Process {
    /// Starts `launch` listening on `127.0.0.1:port` and waits for its READY line. Port 0 means a free port chosen
    /// outside the kernel's ephemeral range (see [`free_port`]); if another process takes it between the choice and
    /// the bind, another port is tried.
    pub async fn spawn(launch: Launch, port: u16) -> Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let chosen = if port == 0 { free_port()? } else { port };
            let mut process = Process {
                launch: launch.clone(),
                child: None,
                stdin: None,
                tail: Arc::default(),
                port: chosen,
            };
            match process.start().await {
                Ok(()) => return Ok(process),
                Err(e) if port == 0 && attempt < PORT_ATTEMPTS && process.lost_port() => {
                    tracing::debug!(service = %launch.label(), port = chosen, "port taken before the bind: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn lost_port(&self) -> bool {
        self.log_tail().contains("Address already in use")
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Which service it is.
    pub fn service(&self) -> Service {
        self.launch.service
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The last lines of its output (stderr and any stdout after READY).
    pub fn log_tail(&self) -> String {
        self.tail.text()
    }

    /// Its log, to wait on.
    pub fn log(&self) -> &LogTail {
        &self.tail
    }

    /// Starts it again after a stop or kill, on the same port so that callers' addresses stay valid.
    pub async fn start(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.launch.label());
        }
        let mut command = Command::new(&self.launch.program);
        command
            .args(&self.launch.args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--exit-on-stdin-eof")
            .envs(self.launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Children belong to the harness runtime, which outlives any one test's runtime.
        let mut child = {
            let _guard = runtime::get().enter();
            command
                .spawn()
                .with_context(|| format!("cannot start {}: {:?}", self.launch.label(), command))?
        };
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        self.stdin = child.stdin.take();
        let stderr_done =
            runtime::get().spawn(collect_lines(BufReader::new(stderr), self.tail.clone()));
        let mut stdout = BufReader::new(stdout);
        let first = tokio::time::timeout(READY_TIMEOUT, read_line(&mut stdout)).await;
        let addr = match first {
            Ok(Ok(Some(line))) => parse_ready(&line),
            Ok(Ok(None)) => Err(self.exited_early(&mut child, stderr_done).await),
            Ok(Err(e)) => Err(anyhow!("cannot read its stdout: {e}")),
            Err(_) => Err(anyhow!("no READY line within {READY_TIMEOUT:?}")),
        };
        match addr {
            Ok(addr) => {
                runtime::get().spawn(collect_lines(stdout, self.tail.clone()));
                self.port = addr.port();
                self.child = Some(child);
                Ok(())
            }
            Err(why) => {
                let _ = child.start_kill();
                Err(anyhow!(
                    "{} did not become ready: {why}\n{}",
                    self.launch.label(),
                    self.describe_tail()
                ))
            }
        }
    }

    async fn exited_early(&self, child: &mut Child, stderr_done: JoinHandle<()>) -> anyhow::Error {
        // Its last words arrive on stderr just before the exit: read them all before reporting.
        let _ = tokio::time::timeout(Duration::from_secs(5), stderr_done).await;
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(status)) => anyhow!("it exited before READY ({status})"),
            _ => anyhow!("it closed its stdout before READY"),
        }
    }

    /// The log tail framed for an error message.
    pub fn describe_tail(&self) -> String {
        log::describe(&self.launch.label(), &self.tail)
    }

    /// SIGTERM, then SIGKILL if it has not exited within the stop timeout.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.launch.label())
        };
        self.stdin = None;
        if let Some(pid) = pid(&child) {
            // A paused process cannot act on SIGTERM until it runs again.
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => {
                let status = status?;
                tracing::debug!(service = %self.launch.label(), %status, "stopped");
                Ok(())
            }
            Err(_) => {
                child.kill().await?;
                bail!(
                    "{} did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed",
                    self.launch.label()
                )
            }
        }
    }

    /// SIGSTOP: the port still accepts connections but nothing answers.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT after a pause.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.launch.label())
        };
        self.stdin = None;
        child
            .kill()
            .await
            .with_context(|| format!("cannot kill {}", self.launch.label()))
    }

    fn signal(&mut self, signal: Signal) -> Result<()> {
        let pid = self
            .child
            .as_ref()
            .and_then(pid)
            .with_context(|| format!("{} is not running", self.launch.label()))?;
        kill(pid, signal)
            .with_context(|| format!("cannot send {signal} to {}", self.launch.label()))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        self.stdin = None;
        if let Some(pid) = pid(&child) {
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGTERM);
        }
        // Give it the graceful stop it asked for, in the background; kill it if it lingers.
        runtime::get().spawn(async move {
            if tokio::time::timeout(STOP_TIMEOUT, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        });
    }
}

fn pid(child: &Child) -> Option<Pid> {
    child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
}

async fn read_line(stdout: &mut BufReader<ChildStdout>) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    match stdout.read_line(&mut line).await? {
        0 => Ok(None),
        _ => Ok(Some(line.trim_end().to_string())),
    }
}

/// The contract's first stdout line: `READY <host>:<port>`.
pub fn parse_ready(line: &str) -> Result<SocketAddr> {
    let addr = line
        .strip_prefix("READY ")
        .with_context(|| format!("its first stdout line is not READY: {line:?}"))?;
    let (_, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("READY without a port: {line:?}"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("READY with a bad port: {line:?}"))?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

async fn collect_lines<R: tokio::io::AsyncBufRead + Unpin>(reader: R, tail: Arc<LogTail>) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tail.push(line);
    }
}
