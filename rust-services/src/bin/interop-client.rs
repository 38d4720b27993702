//! `interop-client`: runs one of the interop spec's test cases against a TestService.
use std::process::ExitCode;

use interop_services::{cli, lifecycle, testing};

fn main() -> ExitCode {
    let args: testing::client::Args = cli::parse("interop-client");
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(testing::client::run(args)),
        Err(e) => {
            lifecycle::say(&format!(
                "interop-client: error: cannot start a runtime: {e}"
            ));
            ExitCode::FAILURE
        }
    }
}
