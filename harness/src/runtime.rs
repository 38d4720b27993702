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
