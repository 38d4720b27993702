//! A stack: some services, each in a language, wired to each other and secured one way, on one backend.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use interop::{Backend, Lang, Security, Service, Stack};
//! let stack = Stack::builder()
//!     .service(Service::Catalog, Lang::named("rust"))
//!     .service(Service::Discount, Lang::named("python"))
//!     .security(Security::MutualTls)
//!     .backend(Backend::from_env()?)
//!     .start()
//!     .await?;
//! let body = stack.http()?.get(stack.url(Service::Catalog)? + "/products").send().await?.text().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::backend::containers::{self, Container};
use crate::backend::local::{self, Process};
use crate::backend::{Backend, Instance, Launch};
use crate::certs::{BadCert, CLIENT_IDENTITY, Pki, SERVICE_IDENTITIES};
use crate::clients::ClientSecurity;
use crate::model::{Lang, Protocol, Security, Service};
use crate::{images, ready};

/// What a stack is made of; also the key under which a [`StackPool`] shares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackBuilder {
    services: BTreeMap<Service, Lang>,
    extra_args: BTreeMap<Service, Vec<String>>,
    security: Security,
    backend: Backend,
    bad_identities: BTreeMap<Service, BadCert>,
    tokens: BTreeMap<Service, String>,
    tag: Option<String>,
}

impl StackBuilder {
    /// Adds `service`, implemented in `lang`.
    pub fn service(mut self, service: Service, lang: Lang) -> Self {
        self.services.insert(service, lang);
        self
    }

    /// Extra flags for `service`, after the contract's (such as Discount's test-only `--delay-ms`).
    pub fn args<I, S>(mut self, service: Service, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args
            .entry(service)
            .or_default()
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// How every hop is secured (default: mutual TLS).
    pub fn security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// Where the services run (default: local processes).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Makes `service` serve a deliberately bad certificate (TLS stacks only), for tests of client refusals. Its
    /// readiness check then accepts any certificate; calls to it from the rest of the stack fail.
    pub fn server_identity(mut self, service: Service, bad: BadCert) -> Self {
        self.bad_identities.insert(service, bad);
        self
    }

    /// Makes `service` require `authorization: Bearer TOKEN` on its calls (`--token-file`). No service of the stack
    /// may call it: they do not send tokens.
    pub fn bearer_token(mut self, service: Service, token: &str) -> Self {
        self.tokens.insert(service, token.to_string());
        self
    }

    /// Keeps this stack apart from otherwise equal ones in a [`StackPool`], for tests that read a service's log and
    /// must know that nobody else wrote to it. The tag ends the stack's name.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_string());
        self
    }

    /// Starts every service and waits until each is ready (READY line, then a health check): local processes
    /// upstreams first (a port is known once its service is ready), containers all at once (they reach each other
    /// by name).
    pub async fn start(self) -> Result<Stack> {
        for service in self.services.keys() {
            for upstream in service.upstreams() {
                if !self.services.contains_key(upstream) {
                    bail!("{service} calls {upstream}, which is not in the stack");
                }
                if self.tokens.contains_key(upstream) {
                    bail!(
                        "{service} calls {upstream}, which wants a bearer token {service} does not send"
                    );
                }
            }
        }
        if !self.security.tls() && !self.bad_identities.is_empty() {
            bail!(
                "a bad server certificate needs a TLS stack, not {}",
                self.security
            );
        }
        let mut identities: Vec<&str> = SERVICE_IDENTITIES.to_vec();
        identities.push(CLIENT_IDENTITY);
        let (pki, network) = match self.backend {
            Backend::Local => (Pki::temporary(&identities)?, None),
            Backend::Containers => {
                containers::prepare().await?;
                // Built (or found) before any service starts, so start-up times measure only starting.
                for lang in self.services.values() {
                    images::ensure_async(*lang).await?;
                }
                let id = containers::stack_id();
                // Peers dial a service by its container's name and verify that name: its certificate holds it.
                let pki = Pki::temporary_with_aliases(&identities, |identity| {
                    Service::ALL
                        .into_iter()
                        .filter(|s| s.name() == identity)
                        .map(|s| containers::container_name(&id, s))
                        .collect()
                })?;
                let network = containers::Network::create(&id).await?;
                (pki, Some((id, network)))
            }
        };
        let clients = ClientSecurity::new(self.security, &pki)?;
        let data = crate::scratch::tempdir("data")?;
        let mut stack = Stack {
            security: self.security,
            backend: self.backend,
            bad_identities: self.bad_identities,
            tokens: self.tokens,
            tag: self.tag,
            members: BTreeMap::new(),
            network,
            extra_args: self.extra_args,
            clients,
            pki,
            data,
        };
        let wanted = Service::ALL
            .into_iter()
            .filter_map(|s| self.services.get(&s).map(|&lang| (s, lang)));
        match stack.network {
            // Containers reach each other by name, known before any starts: all start at once.
            Some(_) => {
                let launches = wanted
                    .map(|(service, lang)| Ok((service, lang, stack.launch_spec(service, lang)?)))
                    .collect::<Result<Vec<_>>>()?;
                let members = futures::future::try_join_all(
                    launches
                        .into_iter()
                        .map(|(service, lang, launch)| stack.start_member(service, lang, launch)),
                )
                .await?;
                for (service, member) in members {
                    stack.members.insert(service, member);
                }
            }
            // A local process's port is known once it is ready: upstreams first.
            None => {
                for (service, lang) in wanted {
                    let launch = stack.launch_spec(service, lang)?;
                    let (service, member) = stack.start_member(service, lang, launch).await?;
                    stack.members.insert(service, member);
                }
            }
        }
        tracing::info!(stack = %stack.name(), "stack ready");
        Ok(stack)
    }
}

struct Member {
    lang: Lang,
    instance: Instance,
    /// The client its health checks use.
    health: ClientSecurity,
    startup: Startup,
}

/// How long a service took to start, from the moment its launch began (a container's creation included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// Until its READY line.
    pub ready: Duration,
    /// Until its health check passed.
    pub healthy: Duration,
}

/// Running services. Dropping it stops them all (and, with containers, removes them and their network).
pub struct Stack {
    security: Security,
    backend: Backend,
    bad_identities: BTreeMap<Service, BadCert>,
    tokens: BTreeMap<Service, String>,
    tag: Option<String>,
    // Dropped before the network: a network cannot be removed while containers are on it.
    members: BTreeMap<Service, Member>,
    /// The stack's id and its network (containers only).
    network: Option<(String, containers::Network)>,
    extra_args: BTreeMap<Service, Vec<String>>,
    clients: ClientSecurity,
    pki: Pki,
    /// The services' database files: one per service, kept across its stops and starts, removed with the stack.
    data: tempfile::TempDir,
}

impl Stack {
    /// An empty builder: mutual TLS, local processes.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            services: BTreeMap::new(),
            extra_args: BTreeMap::new(),
            security: Security::MutualTls,
            backend: Backend::Local,
            bad_identities: BTreeMap::new(),
            tokens: BTreeMap::new(),
            tag: None,
        }
    }

    /// Starts one service and checks its health.
    async fn start_member(
        &self,
        service: Service,
        lang: Lang,
        launch: Launch,
    ) -> Result<(Service, Member)> {
        let started = Instant::now();
        let label = launch.label();
        let instance = match (&self.network, self.backend) {
            (Some((id, network)), Backend::Containers) => {
                let image = images::ensure_async(lang).await?;
                let name = containers::container_name(id, service);
                Instance::Container(Container::spawn(launch, &name, network, &image).await?)
            }
            _ => Instance::Local(Process::spawn(launch, 0).await?),
        };
        let ready = started.elapsed();
        let health = match self.bad_identities.contains_key(&service) {
            true => self.clients.clone().accepting_any_server(),
            false => self.clients.clone(),
        };
        if let Err(e) = ready::check(service, lang, instance.addr(), &health).await {
            bail!(
                "{label} printed READY but is not healthy: {e:#}\n--- last lines of {label} ---\n{}",
                instance.log_tail()
            );
        }
        let startup = Startup {
            ready,
            healthy: started.elapsed(),
        };
        Ok((
            service,
            Member {
                lang,
                instance,
                health,
                startup,
            },
        ))
    }

    /// The program and the contract's flags for `service` in `lang`, wired to the members already running.
    fn launch_spec(&self, service: Service, lang: Lang) -> Result<Launch> {
        let mut launch = match self.backend {
            Backend::Local => local::launch(service, lang)?,
            Backend::Containers => containers::launch(service, lang)?,
        };
        let mut args = Vec::new();
        let ca = self.pki.ca_path();
        if self.security.tls() {
            let (cert, key) = match self.bad_identities.get(&service) {
                Some(&bad) => self.pki.bad_identity(service.name(), bad)?,
                None => {
                    let (cert, key) = self.pki.identity(service.name())?;
                    (cert.to_path_buf(), key.to_path_buf())
                }
            };
            args.extend([
                "--tls-cert".into(),
                launch.file(&cert),
                "--tls-key".into(),
                launch.file(&key),
            ]);
            if self.security.mutual() {
                args.extend(["--client-ca".into(), launch.file(&ca)]);
                // Only to servers that check their callers (the `allow-client` feature); others admit any client
                // the CA signed.
                if lang.manifest().has_feature(service, "allow-client") {
                    for caller in allowed_callers(service) {
                        args.extend(["--allow-client".into(), caller.to_string()]);
                    }
                }
            }
        }
        if let Some(token) = self.tokens.get(&service) {
            let file = self
                .pki
                .write_private(&format!("{service}-token"), &format!("{token}\n"))?;
            args.extend(["--token-file".into(), launch.file(&file)]);
        }
        if !service.upstreams().is_empty() && self.security.tls() {
            args.extend(["--ca".into(), launch.file(&ca)]);
            if self.security.mutual() {
                let (cert, key) = self.pki.identity(service.name())?;
                args.extend([
                    "--cert".into(),
                    launch.file(cert),
                    "--key".into(),
                    launch.file(key),
                ]);
            }
        }
        for upstream in service.upstreams() {
            let peer = match &self.network {
                Some((id, _)) => containers::peer(id, *upstream),
                None => self
                    .members
                    .get(upstream)
                    .with_context(|| format!("{upstream} must start before {service}"))?
                    .instance
                    .peer(),
            };
            args.extend([format!("--{upstream}-addr"), peer.addr]);
            if let Some(name) = peer.server_name {
                args.extend([format!("--{upstream}-server-name"), name]);
            }
        }
        if let Some(db) = self.database(service) {
            args.extend(["--db".into(), launch.data_file(&db)]);
        }
        args.extend(self.extra_args.get(&service).into_iter().flatten().cloned());
        Ok(launch.args(args))
    }

    /// The database file of `service`, if it keeps one (the same path across its restarts).
    pub fn database(&self, service: Service) -> Option<std::path::PathBuf> {
        service
            .has_database()
            .then(|| self.data.path().join(format!("{service}.sqlite3")))
    }

    /// `catalog=rust/discount=python/security=mtls`: the stack's axes, as test names and reports show them.
    pub fn name(&self) -> String {
        let mut parts: Vec<String> = self
            .members
            .iter()
            .rev()
            .map(|(s, m)| format!("{s}={}", m.lang))
            .collect();
        parts.push(format!("security={}", self.security));
        for (service, bad) in &self.bad_identities {
            parts.push(format!("{service}-cert={}", bad.name()));
        }
        for service in self.tokens.keys() {
            parts.push(format!("{service}-token"));
        }
        parts.extend(self.tag.clone());
        parts.join("/")
    }

    /// Where it runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long each service took to start.
    pub fn startup(&self) -> BTreeMap<Service, Startup> {
        self.members.iter().map(|(s, m)| (*s, m.startup)).collect()
    }

    /// How the stack is secured.
    pub fn security(&self) -> Security {
        self.security
    }

    /// The certificates of this stack (a fresh CA per stack).
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// Client TLS settings for this stack.
    pub fn clients(&self) -> &ClientSecurity {
        &self.clients
    }

    /// The language `service` runs in.
    pub fn lang(&self, service: Service) -> Result<Lang> {
        Ok(self.member(service)?.lang)
    }

    fn member(&self, service: Service) -> Result<&Member> {
        self.members
            .get(&service)
            .with_context(|| format!("{service} is not in the stack {}", self.name()))
    }

    fn member_mut(&mut self, service: Service) -> Result<&mut Member> {
        let name = self.name();
        self.members
            .get_mut(&service)
            .with_context(|| format!("{service} is not in the stack {name}"))
    }

    /// The address of `service`, reachable from this process.
    pub fn addr(&self, service: Service) -> Result<SocketAddr> {
        Ok(self.member(service)?.instance.addr())
    }

    /// The base URL of `service` (`https://127.0.0.1:PORT`, or `http` in plaintext).
    pub fn url(&self, service: Service) -> Result<String> {
        let scheme = if self.security.tls() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.addr(service)?))
    }

    /// A new HTTP client that trusts this stack (and presents the client identity under mutual TLS).
    pub fn http(&self) -> Result<reqwest::Client> {
        self.clients.http()
    }

    /// A new gRPC channel to `service`, verifying its certificate names the service.
    pub fn grpc_channel(&self, service: Service) -> Result<tonic::transport::Channel> {
        self.clients
            .grpc_channel(self.addr(service)?, service.name())
    }

    /// The process id of `service`, when it runs as a local process.
    pub fn pid(&self, service: Service) -> Result<Option<u32>> {
        Ok(self.member(service)?.instance.pid())
    }

    /// The last lines `service` wrote.
    pub fn logs(&self, service: Service) -> Result<String> {
        Ok(self.member(service)?.instance.log_tail())
    }

    /// Waits until `service` has logged a line containing `needle` (logs arrive through a pipe, after the answers
    /// they explain), up to `timeout`; the error holds what it did log.
    pub async fn wait_for_log(
        &self,
        service: Service,
        needle: &str,
        timeout: std::time::Duration,
    ) -> Result<()> {
        self.wait_for_log_line(service, |l| l.contains(needle), timeout)
            .await
            .with_context(|| format!("no log line contains {needle:?}"))
            .map(drop)
    }

    /// Waits until `service` has logged a line that `wanted` accepts, up to `timeout`, and returns the latest one.
    pub async fn wait_for_log_line(
        &self,
        service: Service,
        wanted: impl Fn(&str) -> bool,
        timeout: std::time::Duration,
    ) -> Result<String> {
        let member = self.member(service)?;
        member
            .instance
            .log()
            .wait_for_line(wanted, timeout)
            .await
            .with_context(|| {
                format!(
                    "{service} ({}) in {}; its last lines:\n{}",
                    member.lang,
                    self.name(),
                    member.instance.log_tail()
                )
            })
    }

    /// Stops `service` gracefully (SIGTERM); the others keep running. An error if it had to be killed.
    pub async fn stop(&mut self, service: Service) -> Result<()> {
        self.member_mut(service)?.instance.stop().await
    }

    /// Starts a stopped or killed `service` again and waits until it is ready. Its address may change (a container
    /// gets a new host port): ask [`Stack::addr`] again.
    pub async fn start(&mut self, service: Service) -> Result<()> {
        let member = self.member_mut(service)?;
        member.instance.start().await?;
        ready::check(service, member.lang, member.instance.addr(), &member.health).await
    }

    /// Checks that `service` still answers its health check, as at start: through its protocol and security, with
    /// a good client (one that accepts any certificate if the service was given a bad one).
    pub async fn check(&self, service: Service) -> Result<()> {
        let member = self.member(service)?;
        ready::check(service, member.lang, member.instance.addr(), &member.health)
            .await
            .with_context(|| {
                format!(
                    "{service} ({}) in {} no longer serves; its last lines:\n{}",
                    member.lang,
                    self.name(),
                    member.instance.log_tail()
                )
            })
    }

    /// Freezes `service` (SIGSTOP, or a paused container): its port accepts connections, nothing answers.
    pub async fn pause(&mut self, service: Service) -> Result<()> {
        self.member_mut(service)?.instance.pause().await
    }

    /// Unfreezes `service`.
    pub async fn resume(&mut self, service: Service) -> Result<()> {
        self.member_mut(service)?.instance.resume().await
    }

    /// Kills `service` without warning (SIGKILL); returns once it is dead.
    pub async fn kill(&mut self, service: Service) -> Result<()> {
        self.member_mut(service)?.instance.kill().await
    }

    /// One JSON object describing the stack: languages, addresses, URLs, and the files a client needs.
    pub fn describe(&self) -> Result<serde_json::Value> {
        let mut services = serde_json::Map::new();
        for (service, member) in &self.members {
            let addr = member.instance.addr();
            let mut entry = json!({ "lang": member.lang, "addr": addr.to_string(), "server_name": service.name() });
            if let Instance::Container(_) = member.instance {
                entry["container"] = json!(member.instance.peer().addr);
            }
            if let Some(pid) = member.instance.pid() {
                entry["pid"] = json!(pid);
            }
            if service.protocol() == Protocol::Http {
                entry["url"] = json!(self.url(*service)?);
            }
            if let Some(db) = self.database(*service) {
                entry["db"] = json!(db);
            }
            services.insert(service.name().into(), entry);
        }
        let mut description = json!({
            "stack": self.name(),
            "backend": self.backend.name(),
            "security": self.security,
            "services": services,
        });
        if let Some((_, network)) = &self.network {
            description["network"] = json!(network.name());
        }
        if self.security.tls() {
            description["ca"] = json!(self.pki.ca_path());
        }
        if self.security.mutual() {
            let (cert, key) = self.pki.identity(CLIENT_IDENTITY)?;
            description["client_cert"] = json!(cert);
            description["client_key"] = json!(key);
        }
        Ok(description)
    }
}

/// The identities allowed to call `service` when it checks its callers (under mutual TLS): its callers by design and
/// the test process. Passed explicitly, so that the services' own default (their callers only) stays strict.
fn allowed_callers(service: Service) -> &'static [&'static str] {
    match service {
        Service::Discount => &["catalog", "order", CLIENT_IDENTITY],
        _ => &[],
    }
}

/// Stacks shared by many tests: each distinct stack starts once, on first use, and lives as long as the process.
/// A `static` is never dropped: local services end with the process through their stdin lifeline, containers are
/// removed by the process's reaper (see [`crate::docker`]).
#[derive(Default)]
pub struct StackPool {
    stacks: Mutex<BTreeMap<StackBuilder, Arc<tokio::sync::OnceCell<Arc<Stack>>>>>,
}

impl StackPool {
    /// An empty pool, usable as a `static`.
    pub const fn new() -> Self {
        StackPool {
            stacks: Mutex::new(BTreeMap::new()),
        }
    }

    /// The stack `builder` describes, started if this is its first use.
    pub async fn get(&self, builder: StackBuilder) -> Result<Arc<Stack>> {
        let cell = self
            .stacks
            .lock()
            .expect("stack pool lock")
            .entry(builder.clone())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async { builder.start().await.map(Arc::new) })
            .await
            .cloned()
    }
}
