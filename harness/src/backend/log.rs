//! What a service wrote, whatever runs it: the last lines for error messages, and a signal for each new one.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, bail};

/// Lines of a service's output kept for error messages.
const TAIL_LINES: usize = 40;

/// The last lines a service wrote, and a signal for each new one.
#[derive(Default)]
pub struct LogTail {
    lines: Mutex<VecDeque<String>>,
    grew: tokio::sync::Notify,
}

impl LogTail {
    pub(crate) fn push(&self, line: String) {
        tracing::debug!(target: "interop::service", "{line}");
        let mut lines = self.lines.lock().expect("log tail lock");
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
        drop(lines);
        self.grew.notify_waiters();
    }

    /// The kept lines, oldest first.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().expect("log tail lock");
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until a line containing `needle` has been written, up to `timeout`.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        self.wait_for_line(|line| line.contains(needle), timeout)
            .await
            .map(drop)
            .map_err(|_| anyhow::anyhow!("no log line containing {needle:?} within {timeout:?}"))
    }

    /// Waits until a line that `wanted` accepts has been written, up to `timeout`, and returns the latest such line.
    pub async fn wait_for_line(
        &self,
        wanted: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so a line arriving in between is not missed.
            let grew = self.grew.notified();
            let found = self
                .lines
                .lock()
                .expect("log tail lock")
                .iter()
                .rev()
                .find(|l| wanted(l))
                .cloned();
            if let Some(line) = found {
                return Ok(line);
            }
            if tokio::time::timeout_at(deadline, grew).await.is_err() {
                bail!("no such log line within {timeout:?}");
            }
        }
    }
}

/// A log tail framed for an error message.
pub(crate) fn describe(label: &str, tail: &LogTail) -> String {
    format!("--- last lines of {label} ---\n{}\n---", tail.text())
}
