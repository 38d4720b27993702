//! `payment`: the Payment gRPC service.
use std::process::ExitCode;

use interop_services::{cli, lifecycle, payment};

fn main() -> ExitCode {
    let args: payment::Args = cli::parse("payment");
    lifecycle::run("payment", payment::serve(args))
}
