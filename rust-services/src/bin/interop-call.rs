//! `interop-call`: the Rust client of the process contract, calls on stdin, one JSON outcome a line on stdout.
use std::process::ExitCode;

use interop_services::{call, cli, lifecycle};

fn main() -> ExitCode {
    let args: call::Args = cli::parse("interop-call");
    lifecycle::run("interop-call", call::run(args))
}
