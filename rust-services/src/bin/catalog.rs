//! `catalog`: the tutorial's Catalog HTTP service.
use std::process::ExitCode;

use interop_services::{catalog, cli, lifecycle};

fn main() -> ExitCode {
    let args: catalog::Args = cli::parse("catalog");
    lifecycle::run("catalog", catalog::serve(args))
}
