//! `discount`: the tutorial's Discount gRPC service.
use std::process::ExitCode;

use interop_services::{cli, discount, lifecycle};

fn main() -> ExitCode {
    let args: discount::Args = cli::parse("discount");
    lifecycle::run("discount", discount::serve(args))
}
