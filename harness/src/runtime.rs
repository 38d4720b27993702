//! The harness's own tokio runtime. Services, their output readers and their reapers live here, not on a test's
//! runtime, so a stack shared by many tests outlives the test that started it.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// The runtime, started on first use and never stopped.
pub fn get() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("interop-harness")
            .enable_all()
            .build()
            .expect("the harness runtime starts")
    })
}

/// Runs `future` on the harness runtime and awaits it from any runtime: connections to the Docker engine and the
/// tasks that read containers' logs must outlive the test runtime that asked for them.
pub async fn on_harness<F>(future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match get().spawn(future).await {
        Ok(output) => output,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a harness task was cancelled: {e}"),
    }
}

/// Runs `future` on the harness runtime and blocks this thread until it ends, up to `timeout`; `None` if it did not.
/// For `Drop` and other synchronous callers; never call it from a harness worker (it would wait on itself).
pub fn block_on_harness<F>(future: F, timeout: std::time::Duration) -> Option<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (done, outcome) = std::sync::mpsc::sync_channel(1);
    get().spawn(async move {
        let _ = done.send(future.await);
    });
    outcome.recv_timeout(timeout).ok()
}
