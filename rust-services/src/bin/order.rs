//! `order`: the Order gRPC service (calls Discount and Payment).
use std::process::ExitCode;

use interop_services::{cli, lifecycle, order};

fn main() -> ExitCode {
    let args: order::Args = cli::parse("order");
    lifecycle::run("order", order::serve(args))
}
