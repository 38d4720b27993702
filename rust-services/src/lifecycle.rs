//! How every service starts, announces itself and stops: logging to stderr, the READY line on stdout, and a
//! graceful stop on SIGTERM, SIGINT or (when asked) the end of standard input.

use std::future::Future;
use std::io::{Read, Write};
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use crate::cli::{Failure, HostPort};

/// Runs a service's `serve` future on a fresh runtime and maps its outcome to the contract's exit codes.
pub fn run<F: Future<Output = Result<(), Failure>>>(program: &str, serve: F) -> ExitCode {
    init_tracing();
    let outcome = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(serve),
        Err(e) => Err(Failure::Runtime(e.into())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            say(&format!("{program}: error: {failure}"));
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Writes one line to stderr, ignoring a stderr nobody reads any more (`eprintln!` would panic there).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Logs go to stderr; RUST_LOG filters them (default `info`).
///
/// A log line that cannot be written is dropped without a word: the process that read our stderr may be gone (a
/// harness that exited, a closed pipe), and tracing's default answer to a failed write, `eprintln!`, panics on the
/// same broken pipe. A panic there would end whichever task was logging, the one that stops the server included,
/// and leave a service that ignores SIGTERM.
fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .init();
}

/// Prints the READY line: the first and only line a service writes to stdout.
pub fn announce_ready(addr: &HostPort) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout means nobody waits for the line; serving matters more than announcing.
    let _ = writeln!(stdout, "READY {addr}").and_then(|()| stdout.flush());
}

/// Resolves when the service should stop: SIGTERM, SIGINT, or the end of stdin if `exit_on_stdin_eof`.
///
/// The signal handlers are installed by this call, not when the future is first polled: call it before announcing
/// READY, so that a SIGTERM sent as soon as READY is read stops the service gracefully instead of killing it.
/// Must be called within a tokio runtime.
pub fn shutdown_signal(exit_on_stdin_eof: bool) -> impl Future<Output = ()> + Send + 'static {
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler can be installed");
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler can be installed");
    let stdin_closed = exit_on_stdin_eof.then(watch_stdin);
    async move {
        let stdin_closed = async {
            match stdin_closed {
                Some(closed) => {
                    let _ = closed.await;
                }
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            () = stdin_closed => "end of stdin",
        };
        // Stop first, talk after: nothing that can fail may stand between the signal and the stop.
        STOP_ASKED
            .get_or_init(tokio::sync::Notify::new)
            .notify_one();
        tracing::info!(signal = why, "stopping");
    }
}

/// A plain thread, not tokio's blocking pool: a read pending on stdin must never hold up runtime shutdown.
fn watch_stdin() -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 512];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    rx
}

/// How long in-flight requests get to finish once a stop is asked for.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Drives a server whose shutdown future is already wired to [`shutdown_signal`]; once the signal fires, the
/// server gets [`SHUTDOWN_GRACE`] to drain, after which the process stops anyway (an idle HTTP/2 peer that never
/// closes its connection must not keep a stopped service alive).
pub async fn graceful<E>(server: impl Future<Output = Result<(), E>>) -> Result<(), E> {
    // The deadline starts when the server stops accepting, which the caller's shutdown future decides; bounding the
    // whole serve call is wrong, so poll the server and arm the deadline only after a stop was asked for.
    let stop_asked = STOP_ASKED.get_or_init(tokio::sync::Notify::new);
    let server = std::pin::pin!(server);
    tokio::select! {
        result = server => result,
        () = async {
            stop_asked.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}

static STOP_ASKED: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
