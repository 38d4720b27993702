//! Implementations' clients, driven through the client process contract (docs/implementing.md): a long-lived process
//! per implementation reads one JSON call a line and answers one JSON outcome a line. Every language's client is
//! reached the same way, so the client axis of a matrix is data like the servers.
//!
//! A client process ends with this one: its stdin is a pipe held here, and the contract says it exits at the end of
//! its input.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::registry::Impl;

/// How long one call may take before the client counts as hung (its own deadline is the call's `timeout_ms`).
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// Client processes kept per implementation: calls of concurrent cells spread over them.
const PROCESSES: usize = 2;

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    fn spawn(implementation: Impl) -> Result<Self> {
        let manifest = implementation.manifest();
        let command = manifest.client_command(&manifest.local_places()?)?;
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .envs(&manifest.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("the {implementation} client {command:?} did not start"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let tail = stderr.clone();
        crate::runtime::get().spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = tail.lock().expect("client log");
                tail.push_back(line);
                if tail.len() > 20 {
                    tail.pop_front();
                }
            }
        });
        Ok(Process {
            child,
            stdin,
            stdout,
            stderr,
        })
    }

    fn tail(&self) -> String {
        self.stderr
            .lock()
            .expect("client log")
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn call(&mut self, line: &str) -> Result<Value> {
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.write_all(b"\n").await?;
        self.stdin.flush().await?;
        match self.stdout.next_line().await? {
            Some(answer) => serde_json::from_str(&answer)
                .with_context(|| format!("its outcome is not JSON: {answer:?}")),
            None => {
                let status = self.child.wait().await.ok();
                bail!("it ended without an outcome ({status:?})")
            }
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Process>>>;

/// The client processes of this process, by implementation.
static CLIENTS: Mutex<BTreeMap<Impl, (usize, Vec<Slot>)>> = Mutex::new(BTreeMap::new());

/// Makes `call` (the contract's JSON, without `id`) with `implementation`'s client and returns its outcome. An error
/// when the client could not run, hung past [`CALL_LIMIT`] or broke the contract; the client is then restarted for
/// the next call.
pub async fn call(implementation: Impl, mut call: Value) -> Result<Value> {
    let slot = {
        let mut clients = CLIENTS.lock().expect("clients");
        let (next, slots) = clients
            .entry(implementation)
            .or_insert_with(|| (0, (0..PROCESSES).map(|_| Slot::default()).collect()));
        *next = (*next + 1) % slots.len();
        slots[*next].clone()
    };
    let mut guard = slot.lock().await;
    if guard.is_none() {
        let implementation_ = implementation;
        *guard = Some(
            crate::runtime::get()
                .spawn_blocking(move || Process::spawn(implementation_))
                .await
                .map_err(|e| anyhow!("starting the client failed: {e}"))??,
        );
    }
    static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = IDS
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string();
    call["id"] = Value::String(id.clone());
    let line = serde_json::to_string(&call)?;
    let process = guard.as_mut().expect("started above");
    let outcome = tokio::time::timeout(CALL_LIMIT, process.call(&line)).await;
    let failure = match outcome {
        Ok(Ok(outcome)) if outcome.get("id") == Some(&Value::String(id.clone())) => {
            return Ok(outcome);
        }
        Ok(Ok(outcome)) => anyhow!("its outcome answers another call (want id {id}): {outcome}"),
        Ok(Err(e)) => e,
        Err(_) => anyhow!("no outcome within {CALL_LIMIT:?}"),
    };
    let tail = process.tail();
    *guard = None;
    Err(failure.context(format!(
        "the {implementation} client broke the client contract on {line}\n--- its last lines ---\n{tail}"
    )))
}
