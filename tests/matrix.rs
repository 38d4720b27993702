//! The matrix, generated at run time from the registry (`implementations/*/implementation.toml`) and the contracts
//! (`contracts/*/contract.toml`): one test per cell, named by its axes, so that `cargo test --test matrix FILTER`
//! and nextest list and filter cells like any test:
//!
//! ```text
//! cargo test --test matrix -- 'catalog/products/user_1[catalog=python'
//! ```
//!
//! Each cell's result is appended to the results file (`INTEROP_RESULTS`, else `target/interop/results.jsonl`), from
//! which `interop report` makes the tables, the Markdown and the JUnit XML. Cells an implementation cannot run (a
//! feature it does not claim) are listed as ignored, and recorded as skipped with the reason.

use std::process::ExitCode;

use interop::matrix::{self, Cell};
use interop::results::{self, Outcome};
use interop::{Backend, runtime};
use libtest_mimic::{Arguments, Trial};

/// Cells run concurrently unless `--test-threads` says otherwise: they mostly wait on sockets, not on the CPU.
const THREADS: usize = 8;

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(THREADS);
    }
    let cells = match matrix::cells() {
        Ok(cells) => cells,
        Err(e) => {
            eprintln!("interop: the matrix cannot be generated: {e:#}");
            return ExitCode::from(2);
        }
    };
    let backend = match Backend::from_env() {
        Ok(backend) => backend,
        Err(e) => {
            eprintln!("interop: {e:#}");
            return ExitCode::from(2);
        }
    };
    let path = results::default_path();
    let selected = |cell: &Cell| match &args.filter {
        None => true,
        Some(filter) if args.exact => &cell.name == filter,
        Some(filter) => cell.name.contains(filter.as_str()),
    };
    if !args.list {
        for cell in cells.iter().filter(|c| c.skip.is_some() && selected(c)) {
            let record = runtime::get().block_on(matrix::run(cell, backend));
            if let Err(e) = results::append(&path, &record) {
                eprintln!("interop: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    let trials = cells
        .into_iter()
        .map(|cell| {
            let ignored = cell.skip.is_some();
            let path = path.clone();
            Trial::test(cell.name.clone(), move || {
                let running = cell.clone();
                let record = runtime::block_on_harness(
                    async move { matrix::run(&running, backend).await },
                    std::time::Duration::from_secs(600),
                )
                .ok_or("the cell did not end within 600 s")?;
                results::append(&path, &record).map_err(|e| format!("{e:#}"))?;
                match record.outcome {
                    Outcome::Fail | Outcome::Xpass => {
                        Err(format!("{}: {}", record.outcome.name(), record.reason).into())
                    }
                    Outcome::Pass | Outcome::Xfail | Outcome::Skip => Ok(()),
                }
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
