//! Where a stack's services run. A backend starts one service from its command line, reports its address, and can
//! stop, start, pause, resume and kill it; certificates, wiring, readiness and clients are shared above it.

pub mod local;

use std::net::SocketAddr;

use anyhow::Result;

use crate::model::{Lang, Service};

/// Which backend runs a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Backend {
    /// Child processes on loopback.
    #[default]
    Local,
}

impl Backend {
    /// `INTEROP_BACKEND=local` (the default).
    pub fn from_env() -> Result<Self> {
        match std::env::var("INTEROP_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("local") => Ok(Backend::Local),
            Ok(other) => anyhow::bail!("INTEROP_BACKEND={other:?} is not a backend (known: local)"),
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
        }
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
}

impl Launch {
    /// `discount (python)`: how errors and logs name this service.
    pub fn label(&self) -> String {
        format!("{} ({})", self.service, self.lang)
    }
}

/// A running service, whatever runs it.
pub(crate) enum Instance {
    Local(local::Process),
}

impl Instance {
    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Instance::Local(p) => p.addr(),
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Instance::Local(p) => p.pid(),
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        match self {
            Instance::Local(p) => p.log_tail(),
        }
    }

    pub(crate) fn log(&self) -> &local::LogTail {
        match self {
            Instance::Local(p) => p.log(),
        }
    }

    pub(crate) async fn stop(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.stop().await,
        }
    }

    pub(crate) async fn start(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.start().await,
        }
    }

    pub(crate) fn pause(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.pause(),
        }
    }

    pub(crate) fn resume(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.resume(),
        }
    }

    pub(crate) async fn kill(&mut self) -> Result<()> {
        match self {
            Instance::Local(p) => p.kill().await,
        }
    }
}
