//! The Docker engine: one client for the harness, the labels that mark what it made, the sweep of what dead runs
//! left, and a reaper process that removes this process's containers when it ends, however it ends.
//!
//! Why a reaper: a stack shared through a `static` pool is never dropped, a killed test process drops nothing, and
//! there is no registry to pull testcontainers' own reaper image from. The reaper is `interop reap`, started in its
//! own process group (Ctrl-C on the terminal does not reach it) with a pipe as its stdin: when this process ends the
//! kernel closes the pipe and the reaper removes every container and network labelled with this process's session.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};

use crate::{runtime, workspace};

/// Every container and network the harness makes is named with this prefix.
pub const PREFIX: &str = "interop-";

/// The label testcontainers puts on every container it starts.
pub const MANAGED_BY: (&str, &str) = ("org.testcontainers.managed-by", "testcontainers");

/// Label: the process that made it, as `<pid>:<start time>`, so that a reused pid is not mistaken for it.
pub const OWNER: &str = "interop.owner";

/// Label: the session (one per process) that made it; what its reaper removes.
pub const SESSION: &str = "interop.session";

/// The engine's client; connecting is lazy, the first call reaches the engine.
pub fn client() -> Result<Docker> {
    static CLIENT: OnceLock<Result<Docker, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // Runs on the harness runtime: the client's connection pool lives where it is first used.
            let _guard = runtime::get().enter();
            Docker::connect_with_defaults().map_err(|e| unreachable_message(&e.to_string()))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn unreachable_message(why: &str) -> String {
    format!(
        "the Docker engine at {} does not answer: {why}\n\
         The containers backend needs a running engine (`docker info` must answer); start it, point DOCKER_HOST at \
         one, or run the local backend (INTEROP_BACKEND=local).",
        engine_address()
    )
}

/// Checks that the engine answers; on success, says which engine it is.
pub async fn check() -> Result<String> {
    let docker = client()?;
    runtime::on_harness(async move {
        let version = tokio::time::timeout(Duration::from_secs(10), docker.version())
            .await
            .map_err(|_| anyhow!(unreachable_message("no answer within 10 s")))?
            .map_err(|e| anyhow!(unreachable_message(&e.to_string())))?;
        Ok(format!(
            "Docker engine {} (API {}) at {}",
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default(),
            engine_address()
        ))
    })
    .await
}

/// This process's session: random, so that names never collide across processes or runs.
pub fn session() -> &'static str {
    static SESSION_ID: OnceLock<String> = OnceLock::new();
    SESSION_ID.get_or_init(|| {
        let mut hash = Sha256::new();
        hash.update(owner().as_bytes());
        hash.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
        hash.update(format!("{:?}", std::thread::current().id()).as_bytes());
        hash.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// This process, as the owner label names it.
pub fn owner() -> &'static str {
    static OWNER_ID: OnceLock<String> = OnceLock::new();
    OWNER_ID.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}:{}", start_time(pid).unwrap_or_default())
    })
}

/// A live process's start time in clock ticks since boot (`/proc/PID/stat`, field 22); `None` once it has died,
/// zombies included (a killed test process may wait a while for its parent to reap it).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | None) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process an owner label names still runs; unknown (no /proc) counts as alive, so nothing live is
/// ever swept.
fn alive(owner: &str) -> bool {
    let Some((pid, started)) = owner.split_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    start_time(pid).is_some_and(|t| t.to_string() == started)
}

/// The labels of everything this process makes.
pub fn labels() -> HashMap<String, String> {
    HashMap::from([
        (OWNER.to_string(), owner().to_string()),
        (SESSION.to_string(), session().to_string()),
    ])
}

/// What a sweep removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// What one session made (its reaper's job).
    Session(String),
    /// What processes that no longer run made (the start of a run).
    Abandoned,
}

/// Whether a sweep of `scope` removes a thing of ours labelled `labels`.
fn doomed(scope: &Scope, labels: &HashMap<String, String>) -> bool {
    match scope {
        Scope::Session(session) => labels.get(SESSION) == Some(session),
        Scope::Abandoned => labels.get(OWNER).is_none_or(|owner| !alive(owner)),
    }
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
}

/// How long a sweep after a process's end watches for containers that process's last requests still create.
const SETTLE: Duration = Duration::from_millis(500);

/// Removes our containers (testcontainers' label and our name prefix), then our networks (name prefix), that
/// `scope` covers. With `settle`, it also removes those created in the moments after: a process that was just
/// killed may have left requests the engine is still carrying out.
pub async fn sweep(scope: Scope, settle: bool) -> Result<Swept> {
    let docker = client()?;
    runtime::on_harness(async move {
        // Events from a second ago on (the request goes out when first polled), so no creation slips between.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(1))
            .unwrap_or_default();
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("event", vec!["create".to_string()]),
            ("label", vec![format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)]),
        ]);
        let mut created = docker.events(Some(
            EventsOptionsBuilder::new()
                .since(&since.to_string())
                .filters(&filters)
                .build(),
        ));
        let mut swept = Swept {
            containers: remove_containers(&docker, &scope).await?,
            networks: 0,
        };
        // Bounded: a few more passes at most, each after a creation was seen.
        for _ in 0..5 {
            let seen = settle
                && matches!(
                    tokio::time::timeout(SETTLE, created.next()).await,
                    Ok(Some(Ok(_)))
                );
            if !seen {
                break;
            }
            swept.containers += remove_containers(&docker, &scope).await?;
        }
        let filters = HashMap::from([("name", vec![PREFIX.to_string()])]);
        let networks = docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await?;
        for network in networks {
            let Some(name) = network.name else { continue };
            let labels = network.labels.unwrap_or_default();
            if name.starts_with(PREFIX) && doomed(&scope, &labels) {
                match docker.remove_network(&name).await {
                    Ok(()) => swept.networks += 1,
                    // Gone, or still used by a container that is not ours to remove.
                    Err(e) if status(&e).is_some_and(|s| s == 404 || s == 403 || s == 409) => {}
                    Err(e) => bail!("cannot remove network {name}: {e}"),
                }
            }
        }
        Ok(swept)
    })
    .await
}

/// One pass: removes the containers `scope` covers; returns how many.
async fn remove_containers(docker: &Docker, scope: &Scope) -> Result<usize> {
    let filters = HashMap::from([
        ("label", vec![format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)]),
        ("name", vec![PREFIX.to_string()]),
    ]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| anyhow!(unreachable_message(&e.to_string())))?;
    let mut removed = 0;
    for container in containers {
        let ours = container
            .names
            .iter()
            .flatten()
            .any(|n| n.trim_start_matches('/').starts_with(PREFIX));
        let labels = container.labels.unwrap_or_default();
        let Some(id) = container.id else { continue };
        if !ours || !doomed(scope, &labels) {
            continue;
        }
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => removed += 1,
            Err(e) if status(&e) == Some(404) => {}
            // Being removed by someone else (its stack's drop, a reaper): done only once it is gone.
            Err(e) if status(&e) == Some(409) => {
                let options = WaitContainerOptionsBuilder::new()
                    .condition("removed")
                    .build();
                let mut wait = docker.wait_container(&id, Some(options));
                if tokio::time::timeout(Duration::from_secs(30), wait.next())
                    .await
                    .is_err()
                {
                    bail!("container {id} is still being removed after 30 s");
                }
            }
            Err(e) => bail!("cannot remove container {id}: {e}"),
        }
    }
    Ok(removed)
}

/// The HTTP status of an engine's refusal.
pub fn status(error: &testcontainers::bollard::errors::Error) -> Option<u16> {
    match error {
        testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code, ..
        } => Some(*status_code),
        _ => None,
    }
}

/// Starts this process's reaper, once. Everything labelled with [`session`] is removed when this process ends.
pub fn ensure_reaper() -> Result<()> {
    static REAPER: OnceLock<Result<Mutex<(Child, ChildStdin)>, String>> = OnceLock::new();
    REAPER
        .get_or_init(|| start_reaper().map(Mutex::new).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map(|_| ())
        .map_err(|e| anyhow!("cannot start the container reaper: {e}"))
}

fn start_reaper() -> Result<(Child, ChildStdin)> {
    let program = workspace::rust_binary("interop")?;
    let mut child = Command::new(&program)
        .args(["reap", "--session", session()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: a Ctrl-C on the terminal stops the run, not the clean-up after it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    // It says it is watching before any container exists, so none can escape it.
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = said.send(line);
    });
    match heard.recv_timeout(Duration::from_secs(10)) {
        Ok(line) if line.trim() == format!("REAPING {}", session()) => Ok((child, stdin)),
        Ok(line) => {
            let _ = child.kill();
            bail!("{} reap answered {line:?}", program.display())
        }
        Err(_) => {
            let _ = child.kill();
            bail!("{} reap said nothing within 10 s", program.display())
        }
    }
}

/// `interop reap`: waits for the end of stdin (its owner gone), then removes what `session` made.
pub fn reap(session: &str) -> Result<Swept> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "REAPING {session}")?;
    stdout.flush()?;
    drop(stdout);
    let mut sink = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    while stdin.read(&mut sink).unwrap_or(0) > 0 {}
    runtime::get().block_on(sweep(Scope::Session(session.to_string()), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_session_sweep_takes_only_that_session() {
        let scope = Scope::Session("abc".into());
        assert!(doomed(&scope, &labelled(&[(SESSION, "abc")])));
        assert!(!doomed(&scope, &labelled(&[(SESSION, "abd")])));
        assert!(!doomed(&scope, &labelled(&[])));
    }

    #[test]
    fn an_abandoned_sweep_spares_live_owners() {
        assert!(!doomed(&Scope::Abandoned, &labelled(&[(OWNER, owner())])));
        let pid = std::process::id();
        // This pid with another start time is a dead process whose pid was reused.
        assert!(doomed(
            &Scope::Abandoned,
            &labelled(&[(OWNER, &format!("{pid}:1"))])
        ));
        assert!(doomed(&Scope::Abandoned, &labelled(&[(OWNER, "garbage")])));
        assert!(doomed(&Scope::Abandoned, &labelled(&[])));
    }

    #[test]
    fn the_owner_names_this_process() {
        let (pid, started) = owner().split_once(':').expect("pid:start");
        assert_eq!(pid, std::process::id().to_string());
        assert!(started.parse::<u64>().is_ok_and(|t| t > 0), "{started}");
    }
}
