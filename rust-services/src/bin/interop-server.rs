//! `interop-server`: gRPC's interop TestService, for the interop spec's test cases.
use std::process::ExitCode;

use interop_services::{cli, lifecycle, testing};

fn main() -> ExitCode {
    let args: testing::server::Args = cli::parse("interop-server");
    lifecycle::run("interop-server", testing::server::serve(args))
}
