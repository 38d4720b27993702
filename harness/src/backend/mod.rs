//! Where a stack's services run. A backend starts one service from its command line, reports its address, and can
//! stop, start, pause, resume and kill it; certificates, wiring, readiness and clients are shared above it.
//!
//! What differs between backends is only how a command line refers to things: a local process reads the stack's
//! certificate files where they are and reaches its peers on loopback; a container gets copies of the files and
//! reaches its peers by container name, on the stack's own network.

pub mod containers;
pub mod local;
pub mod log;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::model::{Lang, Service};
pub use log::LogTail;

/// Which backend runs a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Backend {
    /// Child processes on loopback.
    #[default]
    Local,
    /// One container per service (testcontainers), on a network of the stack's own.
    Containers,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 2] = [Backend::Local, Backend::Containers];

    /// `INTEROP_BACKEND=local|containers` (default: local).
    pub fn from_env() -> Result<Self> {
        match std::env::var("INTEROP_BACKEND").as_deref() {
            Err(_) | Ok("") => Ok(Backend::Local),
            Ok(name) => name
                .parse()
                .map_err(|e: String| anyhow::anyhow!("INTEROP_BACKEND: {e}")),
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Containers => "containers",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend {s:?} (known: local, containers)"))
    }
}

/// How to start one service: the program and the contract's flags, except `--listen`, which the backend adds.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Which service.
    pub service: Service,
    /// In which language.
    pub lang: Lang,
    /// The executable.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Host files the command line names, each with the path the service reads it by.
    pub files: Vec<(PathBuf, String)>,
    /// Host folders the service writes in, each with the path it sees the folder at.
    pub mounts: Vec<(PathBuf, String)>,
    /// Where copies of those files go when the service does not run on this machine's file system.
    copy_dir: Option<String>,
}

/// Where a container sees the host folder of the files it writes (its database).
pub const DATA_DIR: &str = "/var/lib/interop";

impl Launch {
    /// A service that runs here and reads files where they are.
    pub fn on_host(service: Service, lang: Lang, program: impl Into<String>) -> Self {
        Launch {
            service,
            lang,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
            mounts: Vec::new(),
            copy_dir: None,
        }
    }

    /// A service that reads copies of its files from `copy_dir` (a container's).
    pub fn with_copies_in(
        service: Service,
        lang: Lang,
        program: impl Into<String>,
        copy_dir: &str,
    ) -> Self {
        Launch {
            copy_dir: Some(copy_dir.to_string()),
            ..Launch::on_host(service, lang, program)
        }
    }

    /// A service run by `command` (a manifest's, placeholders filled in) with the implementation's environment; its
    /// files are copied into `copy_dir` when it does not run on this machine's file system.
    pub fn from_command(
        service: Service,
        implementation: Lang,
        command: Vec<String>,
        copy_dir: Option<&str>,
    ) -> Self {
        let mut parts = command.into_iter();
        let program = parts.next().unwrap_or_default();
        let mut launch = Launch {
            copy_dir: copy_dir.map(str::to_string),
            ..Launch::on_host(service, implementation, program)
        }
        .args(parts);
        for (key, value) in &implementation.manifest().env {
            launch = launch.env(key, value);
        }
        launch
    }

    /// Adds arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The path by which the service reads the host file `path`: the path itself, or that of its copy.
    pub fn file(&mut self, path: &Path) -> String {
        let Some(dir) = &self.copy_dir else {
            return path.display().to_string();
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let seen = format!("{dir}/{name}");
        if !self.files.iter().any(|(_, s)| *s == seen) {
            self.files.push((path.to_path_buf(), seen.clone()));
        }
        seen
    }

    /// The path by which the service writes the host file `path` (a database, kept across restarts and read by
    /// tests): the path itself, or, in a container, the path of the file in its folder, mounted at [`DATA_DIR`].
    pub fn data_file(&mut self, path: &Path) -> String {
        if self.copy_dir.is_none() {
            return path.display().to_string();
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return path.display().to_string();
        };
        if !self.mounts.iter().any(|(d, _)| d == dir) {
            self.mounts.push((dir.to_path_buf(), DATA_DIR.to_string()));
        }
        format!("{DATA_DIR}/{}", name.to_string_lossy())
    }

    /// `discount (python)`: how errors and logs name this service.
    pub fn label(&self) -> String {
        format!("{} ({})", self.service, self.lang)
    }
}

/// How a service reaches another: the address it dials and the name it verifies, if not the dialled host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// `host:port`.
    pub addr: String,
    /// The name to verify in the peer's certificate instead of the dialled host (`None`: the host itself).
    pub server_name: Option<String>,
}

/// A running service, whatever runs it.
pub(crate) enum Instance {
    Local(local::Process),
    Container(containers::Container),
}

impl Instance {
    /// Where the test process reaches it.
    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Instance::Local(p) => p.addr(),
            Instance::Container(c) => c.addr(),
        }
    }

    /// Where the other services of its stack reach it.
    pub(crate) fn peer(&self) -> Peer {
        match self {
            Instance::Local(p) => Peer {
                addr: p.addr().to_string(),
                // Verify the service's identity by its name, as in production, not by the loopback IP.
                server_name: Some(p.service().name().to_string()),
            },
            Instance::Container(c) => c.peer(),
        }
    }

    pub(crate) fn log(&self) -> &LogTail {
        match self {
            Instance::Local(p) => p.log(),
            Instance::Container(c) => c.log(),
        }
    }

    /// The process id of a local process (a container's processes are the engine's).
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Instance::Local(p) => p.pid(),
            Instance::Container(_) => None,
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        self.log().text()
    }

    pub(crate) async fn stop(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.stop().await,
            Instance::Container(c) => c.stop().await,
        }
    }

    pub(crate) async fn start(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.start().await,
            Instance::Container(c) => c.start().await,
        }
    }

    pub(crate) async fn pause(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.pause(),
            Instance::Container(c) => c.pause().await,
        }
    }

    pub(crate) async fn resume(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.resume(),
            Instance::Container(c) => c.resume().await,
        }
    }

    pub(crate) async fn kill(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.kill().await,
            Instance::Container(c) => c.kill().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_reads_copies_and_a_process_the_files() {
        let path = Path::new("/tmp/pki-x/discount.pem");
        let mut here = Launch::on_host(Service::Discount, Lang::named("rust"), "discount");
        assert_eq!(here.file(path), "/tmp/pki-x/discount.pem");
        assert!(here.files.is_empty());
        let mut there =
            Launch::with_copies_in(Service::Discount, Lang::named("rust"), "discount", "/tls");
        assert_eq!(there.file(path), "/tls/discount.pem");
        assert_eq!(there.file(path), "/tls/discount.pem");
        assert_eq!(
            there.files,
            vec![(path.to_path_buf(), "/tls/discount.pem".to_string())]
        );
    }

    #[test]
    fn backends_parse_by_name() {
        assert_eq!("containers".parse(), Ok(Backend::Containers));
        assert_eq!("local".parse(), Ok(Backend::Local));
        assert!("docker".parse::<Backend>().is_err());
    }
}
