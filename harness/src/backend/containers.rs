//! The containers backend: each service in a container of its own (testcontainers), on a fresh network per stack.
//!
//! A container is named `interop-<stack>-<service>`; its peers dial it by that name and verify that name in its
//! certificate, with no override. The test process reaches it on a loopback port the engine maps to it. Readiness
//! is the READY line on its stdout, read from the container's log stream (the same stream carries the log tail for
//! errors and survives restarts), then the stack's health check. Dropping a container removes it; the reaper and
//! the sweep (see [`crate::docker`]) remove what a process could not.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, PortBinding};
use testcontainers::bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptionsBuilder, LogsOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use testcontainers::core::{IntoContainerPort, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::local::{READY_TIMEOUT, parse_ready};
use super::log::{self, LogTail};
use super::{Launch, Peer};
use crate::docker::{self, PREFIX};
use crate::images;
use crate::model::{Lang, Protocol, Service};
use crate::runtime::{self, on_harness};

/// Where a container finds its copies of the stack's certificates.
pub const TLS_DIR: &str = "/etc/interop/tls";

/// How long a stopped container may take to exit before the engine kills it.
const STOP_TIMEOUT_SECS: i32 = 10;

/// Where stacks' networks take their addresses: a /16 of private space, in /28 blocks.
const SUBNETS: &str = "10.213";
const SUBNET_BLOCKS: u32 = 4096;
const SUBNET_TRIES: usize = 20;

/// How long removing a container or a network may take.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The port a service listens on inside its container (each has its own network namespace).
pub fn port(service: Service) -> u16 {
    match service.protocol() {
        Protocol::Grpc => 50051,
        Protocol::Http => 8080,
    }
}

/// A new stack id, unique on this engine: `<session>-<n>`.
pub fn stack_id() -> String {
    static STACKS: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        docker::session(),
        STACKS.fetch_add(1, Ordering::Relaxed) + 1
    )
}

/// The container name of `service` in stack `stack_id`: also a DNS name in its certificate.
pub fn container_name(stack_id: &str, service: Service) -> String {
    format!("{PREFIX}{stack_id}-{service}")
}

/// How the other containers of stack `stack_id` reach `service`: by its container's name, which its certificate
/// holds, so no name override is needed.
pub fn peer(stack_id: &str, service: Service) -> Peer {
    peer_named(&container_name(stack_id, service), service)
}

fn peer_named(name: &str, service: Service) -> Peer {
    Peer {
        addr: format!("{name}:{}", port(service)),
        server_name: None,
    }
}

/// Once per process, before the first container: the engine answers, what dead runs left is swept, and the
/// reaper watches this process.
pub async fn prepare() -> Result<()> {
    static PREPARED: tokio::sync::OnceCell<Result<(), String>> = tokio::sync::OnceCell::const_new();
    PREPARED
        .get_or_init(|| async {
            let outcome: Result<()> = async {
                let engine = docker::check().await?;
                tracing::debug!("{engine}");
                let swept = docker::sweep(docker::Scope::Abandoned, false).await?;
                if swept != docker::Swept::default() {
                    eprintln!(
                        "interop: removed {} containers and {} networks left by runs that ended",
                        swept.containers, swept.networks
                    );
                }
                runtime::get()
                    .spawn_blocking(docker::ensure_reaper)
                    .await
                    .map_err(|e| anyhow!("the reaper task failed: {e}"))?
            }
            .await;
            outcome.map_err(|e| format!("{e:#}"))
        })
        .await
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The command that runs `service` of `implementation` inside its image, as its manifest says; certificate files
/// become copies in [`TLS_DIR`].
pub fn launch(service: Service, implementation: Lang) -> Result<Launch> {
    let command = implementation
        .manifest()
        .server_command(service, &images::places(implementation))?;
    Ok(Launch::from_command(
        service,
        implementation,
        command,
        Some(TLS_DIR),
    ))
}

/// A stack's own network; removed when dropped, after its containers.
pub struct Network {
    name: String,
}

impl Network {
    /// Creates `interop-<stack_id>`, labelled for the reaper and the sweep.
    ///
    /// The engine's default address pools hold about 30 networks, fewer than a test run's stacks: each network gets
    /// a /28 (13 containers) of [`SUBNETS`] instead, a free one found by trying random blocks.
    pub async fn create(stack_id: &str) -> Result<Self> {
        let docker = docker::client()?;
        let name = format!("{PREFIX}{stack_id}");
        let mut last_refusal = String::new();
        for _ in 0..SUBNET_TRIES {
            let block = fastrand::u32(0..SUBNET_BLOCKS);
            let subnet = format!("{SUBNETS}.{}.{}/28", block / 16, (block % 16) * 16);
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(docker::labels()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let docker = docker.clone();
            match on_harness(async move { docker.create_network(request).await }).await {
                Ok(_) => return Ok(Network { name }),
                // Taken by another network (ours or not): try another block.
                Err(e) if e.to_string().contains("overlap") => last_refusal = e.to_string(),
                Err(e) => {
                    return Err(anyhow!(e))
                        .with_context(|| format!("cannot create the docker network {name}"));
                }
            }
        }
        bail!(
            "cannot create the docker network {name}: no free /28 in {SUBNETS}.0.0/16 after {SUBNET_TRIES} tries \
             ({last_refusal})"
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let Ok(docker) = docker::client() else { return };
        let name = self.name.clone();
        let removed = runtime::block_on_harness(
            async move { docker.remove_network(&name).await },
            REMOVE_TIMEOUT,
        );
        match removed {
            Some(Ok(())) => {}
            Some(Err(e)) if docker::status(&e) == Some(404) => {}
            // The reaper or the next run's sweep takes it.
            Some(Err(e)) => tracing::warn!(network = %self.name, "cannot remove the network: {e}"),
            None => tracing::warn!(network = %self.name, "removing the network timed out"),
        }
    }
}

/// A service running in a container.
pub struct Container {
    launch: Launch,
    name: String,
    container: Option<Arc<ContainerAsync<GenericImage>>>,
    addr: SocketAddr,
    running: bool,
    paused: bool,
    tail: Arc<LogTail>,
    /// Log entries read so far, over every run: a restarted container's log begins with its earlier runs'.
    seen: Arc<AtomicUsize>,
    follower: Option<JoinHandle<()>>,
}

impl Container {
    /// Creates `name` on `network` from `image`, copies the files `launch` names into it, starts it and waits for
    /// its READY line.
    pub async fn spawn(launch: Launch, name: &str, network: &Network, image: &str) -> Result<Self> {
        let (repository, tag) = image
            .split_once(':')
            .with_context(|| format!("{image} has no tag"))?;
        let port = port(launch.service);
        let mut command = vec![launch.program.clone()];
        command.extend(launch.args.iter().cloned());
        command.extend(["--listen".to_string(), format!("0.0.0.0:{port}")]);
        let mut request = GenericImage::new(repository, tag)
            .with_exposed_port(port.tcp())
            .with_container_name(name)
            .with_network(network.name())
            .with_labels(docker::labels())
            .with_cmd(command)
            .with_startup_timeout(READY_TIMEOUT)
            // Published on loopback only: nothing outside this machine reaches a test service.
            .with_host_config_modifier(move |host| {
                host.publish_all_ports = Some(false);
                host.port_bindings = Some(HashMap::from([(
                    format!("{port}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                        host_port: Some(String::new()),
                    }]),
                )]));
            });
        for (key, value) in &launch.env {
            request = request.with_env_var(key, value);
        }
        for (host, seen) in &launch.mounts {
            request = request.with_mount(Mount::bind_mount(host.display().to_string(), seen));
        }
        for (host, seen) in &launch.files {
            let bytes =
                std::fs::read(host).with_context(|| format!("cannot read {}", host.display()))?;
            request = request.with_copy_to(seen.clone(), bytes);
        }
        let label = launch.label();
        let started = std::time::Instant::now();
        let container = on_harness(request.start())
            .await
            .map_err(|e| anyhow!("cannot start {label} in container {name} from {image}: {e}"))?;
        let mut container = Container {
            launch,
            name: name.to_string(),
            container: Some(Arc::new(container)),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            running: true,
            paused: false,
            tail: Arc::default(),
            seen: Arc::default(),
            follower: None,
        };
        let created = started.elapsed();
        container.come_up().await?;
        tracing::debug!(container = %container.name, ?created, ready = ?started.elapsed(), "up");
        Ok(container)
    }

    fn label(&self) -> String {
        format!("{} in container {}", self.launch.label(), self.name)
    }

    fn inner(&self) -> Result<Arc<ContainerAsync<GenericImage>>> {
        self.container
            .clone()
            .with_context(|| format!("{} is gone", self.label()))
    }

    /// Where the test process reaches it: a loopback port mapped to the container's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where its peers reach it: its name, which its certificate holds, so no override is needed.
    pub fn peer(&self) -> Peer {
        peer_named(&self.name, self.launch.service)
    }

    /// Its log.
    pub fn log(&self) -> &LogTail {
        &self.tail
    }

    fn fail(&self, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{} did not become ready: {why}\n{}",
            self.label(),
            log::describe(&self.launch.label(), &self.tail)
        )
    }

    /// Follows its log from the first entry not yet seen, waits for READY, then reads the mapped port.
    async fn come_up(&mut self) -> Result<()> {
        let docker = docker::client()?;
        let (ready, said) = oneshot::channel();
        self.follower = Some(runtime::get().spawn(follow(
            docker,
            self.name.clone(),
            self.tail.clone(),
            self.seen.clone(),
            ready,
        )));
        let line = match tokio::time::timeout(READY_TIMEOUT, said).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                let why = match self.exit_code().await {
                    Ok(code) => format!("it exited before READY (exit code {code})"),
                    Err(e) => format!("its log ended before READY ({e:#})"),
                };
                return Err(self.fail(why));
            }
            Err(_) => return Err(self.fail(format!("no READY line within {READY_TIMEOUT:?}"))),
        };
        let ready = parse_ready(&line).map_err(|e| self.fail(e))?;
        let port = port(self.launch.service);
        if ready.port() != port {
            return Err(self.fail(format!("it is ready on port {}, not {port}", ready.port())));
        }
        let container = self.inner()?;
        let host_port = on_harness(async move { container.get_host_port_ipv4(port.tcp()).await })
            .await
            .map_err(|e| self.fail(format!("port {port}/tcp is not exposed on the host: {e}")))?;
        self.addr = SocketAddr::from((Ipv4Addr::LOCALHOST, host_port));
        Ok(())
    }

    /// Waits until it has stopped (bounded) and returns its exit code.
    async fn exit_code(&self) -> Result<i64> {
        let docker = docker::client()?;
        let name = self.name.clone();
        on_harness(async move {
            let options = WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build();
            // The wait answers with an error for a non-zero exit; either way it has stopped: inspect says how.
            let _ = tokio::time::timeout(
                Duration::from_secs(STOP_TIMEOUT_SECS as u64 + 5),
                docker.wait_container(&name, Some(options)).next(),
            )
            .await;
            let state = docker
                .inspect_container(&name, None::<InspectContainerOptions>)
                .await?
                .state
                .context("the engine did not say its state")?;
            if state.running == Some(true) {
                bail!("it is still running");
            }
            state
                .exit_code
                .context("the engine did not say its exit code")
        })
        .await
    }

    /// Waits (bounded) until the log follower has read everything the last run wrote.
    async fn drain_log(&mut self) {
        if let Some(follower) = self.follower.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), follower).await;
        }
    }

    /// SIGTERM; the engine kills it if it has not exited within the stop timeout, which is an error here.
    pub async fn stop(&mut self) -> Result<()> {
        if !self.running {
            bail!("{} is not running", self.label());
        }
        if self.paused {
            self.resume().await?;
        }
        let container = self.inner()?;
        on_harness(async move { container.stop_with_timeout(Some(STOP_TIMEOUT_SECS)).await })
            .await
            .with_context(|| format!("cannot stop {}", self.label()))?;
        self.running = false;
        self.drain_log().await;
        let code = self.exit_code().await?;
        // 137 = 128 + SIGKILL: it ignored SIGTERM until the engine lost patience.
        if code == 137 {
            bail!(
                "{} did not stop within {STOP_TIMEOUT_SECS} s of SIGTERM and was killed",
                self.label()
            );
        }
        tracing::debug!(container = %self.name, code, "stopped");
        Ok(())
    }

    /// Starts it again after a stop or kill and waits for READY; the engine maps a new host port, read again.
    pub async fn start(&mut self) -> Result<()> {
        if self.running {
            bail!("{} is already running", self.label());
        }
        let container = self.inner()?;
        on_harness(async move { container.start().await })
            .await
            .with_context(|| format!("cannot start {} again", self.label()))?;
        self.running = true;
        self.come_up().await
    }

    /// Freezes every process of the container: its port accepts connections, nothing answers.
    pub async fn pause(&mut self) -> Result<()> {
        let container = self.inner()?;
        on_harness(async move { container.pause().await })
            .await
            .with_context(|| format!("cannot pause {}", self.label()))?;
        self.paused = true;
        Ok(())
    }

    /// Unfreezes it.
    pub async fn resume(&mut self) -> Result<()> {
        let container = self.inner()?;
        on_harness(async move { container.unpause().await })
            .await
            .with_context(|| format!("cannot resume {}", self.label()))?;
        self.paused = false;
        Ok(())
    }

    /// SIGKILL: no chance to clean up. Returns once it has stopped.
    pub async fn kill(&mut self) -> Result<()> {
        if !self.running {
            bail!("{} is not running", self.label());
        }
        let docker = docker::client()?;
        let name = self.name.clone();
        on_harness(async move {
            let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
            docker.kill_container(&name, Some(options)).await
        })
        .await
        .with_context(|| format!("cannot kill {}", self.label()))?;
        self.running = false;
        self.paused = false;
        self.exit_code().await?;
        self.drain_log().await;
        Ok(())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.take() {
            follower.abort();
        }
        let Some(container) = self.container.take() else {
            return;
        };
        // Removed before the drop returns, so that a dropped stack leaves nothing behind.
        let removed = runtime::block_on_harness(
            async move {
                match Arc::try_unwrap(container) {
                    Ok(container) => container.rm().await.map_err(|e| e.to_string()),
                    // Still shared by an operation in flight: its drop removes it.
                    Err(shared) => {
                        drop(shared);
                        Ok(())
                    }
                }
            },
            REMOVE_TIMEOUT,
        );
        match removed {
            Some(Ok(())) => {}
            // The reaper or the next run's sweep takes it.
            Some(Err(e)) => tracing::warn!(container = %self.name, "cannot remove it: {e}"),
            None => tracing::warn!(container = %self.name, "removing it timed out"),
        }
    }
}

/// Reads a container's log (stdout and stderr, from its first entry, following), skipping the entries already
/// `seen`; hands the first new stdout line to `ready` and every line to `tail`. Ends when the container stops.
async fn follow(
    docker: testcontainers::bollard::Docker,
    name: String,
    tail: Arc<LogTail>,
    seen: Arc<AtomicUsize>,
    ready: oneshot::Sender<String>,
) {
    let mut ready = Some(ready);
    let skip = seen.load(Ordering::SeqCst);
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut entries = docker.logs(&name, Some(options)).enumerate();
    while let Some((index, Ok(entry))) = entries.next().await {
        if index < skip {
            continue;
        }
        seen.store(index + 1, Ordering::SeqCst);
        let (stdout, message) = match entry {
            LogOutput::StdOut { message } => (true, message),
            LogOutput::StdErr { message } | LogOutput::Console { message } => (false, message),
            LogOutput::StdIn { .. } => continue,
        };
        for line in String::from_utf8_lossy(&message).lines() {
            if stdout && let Some(ready) = ready.take() {
                let _ = ready.send(line.to_string());
            }
            tail.push(line.to_string());
        }
    }
}
