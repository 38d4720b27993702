//! The command-line contract every service shares, and the errors a user reads when it is broken.
//!
//! A bad flag or an unreadable file ends the process with exit code 2 and ONE line on stderr saying what and why;
//! anything that fails after start-up (a port already taken) ends it with exit code 1.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Flags every server takes: where to listen and how to secure what it serves.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks any free port (the READY line tells which).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Certificate chain (PEM) to serve TLS with; without it the service speaks plaintext.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Also stop gracefully when standard input closes, so a child never outlives the harness that started it.
    #[arg(long)]
    pub exit_on_stdin_eof: bool,
}

/// Flags of a service that calls others: how it trusts them and who it is to them.
#[derive(clap::Args, Debug, Clone)]
pub struct UpstreamArgs {
    /// Trust roots (PEM) for upstream calls; upstream calls use TLS if and only if this is given.
    #[arg(long, value_name = "PATH")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) presented to upstreams (mutual TLS).
    #[arg(long, value_name = "PATH", requires_all = ["key", "ca"])]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "PATH", requires = "cert")]
    pub key: Option<PathBuf>,
}

/// Why a service could not start or run.
#[derive(Debug)]
pub enum Failure {
    /// The command line or a file it names is wrong: exit code 2.
    Usage(String),
    /// Something failed at run time: exit code 1.
    Runtime(anyhow::Error),
}

impl Failure {
    /// A usage failure about one flag and its value.
    pub fn flag(flag: &str, value: impl fmt::Display, why: impl fmt::Display) -> Self {
        Failure::Usage(format!("{flag} {value}: {why}"))
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => f.write_str(message),
            // The whole cause chain on one line.
            Failure::Runtime(error) => write!(f, "{error:#}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Runtime(error)
    }
}

/// Parses the command line; on error prints one line `<program>: error: ...` and exits 2 (help and version exit 0).
pub fn parse<T: Parser>(program: &str) -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            crate::lifecycle::say(&format!(
                "{program}: error: {}",
                one_line(&error.to_string())
            ));
            std::process::exit(2);
        }
    }
}

/// Clap's message without its usage block, folded onto one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

/// A `HOST:PORT` address as given on the command line (the host may be a name, resolved when used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl HostPort {
    /// Parses `host:port` or `[v6]:port`, naming `flag` in the error.
    pub fn parse(flag: &str, value: &str) -> Result<Self, Failure> {
        let bad = |why: &str| Failure::flag(flag, value, why);
        let (host, port) = value
            .rsplit_once(':')
            .ok_or_else(|| bad("expected HOST:PORT"))?;
        let host = match host.strip_prefix('[') {
            Some(rest) => rest
                .strip_suffix(']')
                .ok_or_else(|| bad("unbalanced '[' in the host"))?,
            None if host.contains(':') => {
                return Err(bad("an IPv6 host must be written in brackets: [::1]:PORT"));
            }
            None => host,
        };
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Binds the `--listen` address (or `default`), returning a listener and the address to announce.
pub async fn bind(
    listen: Option<&str>,
    default: &str,
) -> Result<(tokio::net::TcpListener, HostPort), Failure> {
    let wanted = HostPort::parse("--listen", listen.unwrap_or(default))?;
    let listener = tokio::net::TcpListener::bind((wanted.host.as_str(), wanted.port))
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {wanted}: {e}")))?;
    let bound: SocketAddr = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    Ok((
        listener,
        HostPort {
            host: wanted.host,
            port: bound.port(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            HostPort::parse("--listen", "127.0.0.1:0")
                .unwrap()
                .to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(HostPort::parse("--listen", "[::1]:80").unwrap().host, "::1");
        assert_eq!(
            HostPort::parse("--listen", "[::1]:80").unwrap().to_string(),
            "[::1]:80"
        );
        assert_eq!(
            HostPort::parse("--x", "discount:11443").unwrap().port,
            11443
        );
        for bad in ["nope", ":80", "h:99999", "h:x", "::1:80", "[::1:80"] {
            assert!(
                HostPort::parse("--listen", bad).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn clap_errors_fold_to_one_line() {
        let message = "error: the following required arguments were not provided:\n  --tls-key <PATH>\n\nUsage: discount --tls-cert <PATH> --tls-key <PATH>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(message),
            "the following required arguments were not provided: --tls-key <PATH>"
        );
    }
}
