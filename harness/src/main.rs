//! `interop`: the harness command. `interop keys` writes certificates, `interop up` starts a stack,
//! `interop python` prepares the Python environment, `interop report` turns a test run into the matrix table,
//! `interop images` builds the containers backend's images, `interop engine` checks the Docker engine,
//! `interop sweep` removes what killed runs left, `interop orphans` finds processes that outlived their runs,
//! `interop bench` measures start-up times.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use interop::{
    Backend, Lang, Security, Service, Stack, certs, docker, images, orphans, python, report,
};

#[derive(Parser)]
#[command(name = "interop", version, about = "Polyglot gRPC interop harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a CA and a certificate per service (ECDSA P-256, signed by the CA) into a folder.
    Keys {
        /// Where to write them.
        #[arg(long, default_value = "keys")]
        out: PathBuf,
        /// Replace existing files (a new CA, new leaves).
        #[arg(long)]
        force: bool,
    },
    /// Start a stack, print one JSON line describing it, run until Ctrl-C or the end of stdin. IMPL is an
    /// implementation of the registry (`interop impls` lists them: rust, python, ...).
    Up {
        /// Catalog's implementation (omit to leave Catalog out).
        #[arg(long, value_name = "IMPL")]
        catalog: Option<Lang>,
        /// Discount's implementation.
        #[arg(long, value_name = "IMPL", default_value = "rust")]
        discount: Lang,
        /// Order's implementation (omit to leave Order out; it needs --payment).
        #[arg(long, value_name = "IMPL", requires = "payment")]
        order: Option<Lang>,
        /// Payment's implementation (omit to leave Payment out).
        #[arg(long, value_name = "IMPL")]
        payment: Option<Lang>,
        /// The gRPC interop TestService server's implementation (omit to leave it out).
        #[arg(long, value_name = "IMPL")]
        test_server: Option<Lang>,
        /// plaintext, tls or mtls.
        #[arg(long, default_value = "mtls")]
        security: Security,
    },
    /// Make (or refresh) the Python environment and print its interpreter's path.
    Python,
    /// Run every contract IMPL takes part in against the other implementations of the registry; exit 1 on any
    /// unexpected result (a failure, a known failure that passes, a known-failing entry that names no cell).
    Verify {
        /// The implementation's folder (with its implementation.toml), or the name of a registered one.
        #[arg(long = "impl", value_name = "PATH|NAME")]
        implementation: String,
        /// Only contracts whose stack has this service.
        #[arg(long)]
        service: Option<Service>,
        /// Only cells where it plays this role: server or client.
        #[arg(long)]
        role: Option<interop::matrix::Role>,
        /// Only cells whose other implementations are among these (comma-separated; default: all).
        #[arg(long, value_delimiter = ',')]
        against: Vec<String>,
        /// Only cells whose name matches this pattern (`*` within an axis, `**` anything).
        #[arg(long)]
        filter: Option<String>,
        /// Where the services run (default: INTEROP_BACKEND, else local).
        #[arg(long)]
        backend: Option<Backend>,
        /// The results file to append to (default: INTEROP_RESULTS, else target/interop/results.jsonl).
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Check an implementation against the process contract, as a black box: flags, exit 2 with one line, READY,
    /// health, SIGTERM and end of stdin for every server, and its client's handling of bad input.
    Check {
        /// The implementation's folder (with its implementation.toml), or the name of a registered one.
        #[arg(long = "impl", value_name = "PATH|NAME")]
        implementation: String,
    },
    /// List the registry: each implementation, its runtime, what it serves and claims, and its client.
    Impls,
    /// Make the reports from results files (JSON lines, one per cell; several files merge, e.g. shards): the
    /// table on stdout, and Markdown, JUnit XML and GitHub's step summary on request; exit 1 if any cell failed.
    /// Without --results: read `cargo test` output on stdin (the rstest suites) instead.
    Report {
        /// Results files to read.
        #[arg(long, num_args = 1..)]
        results: Vec<PathBuf>,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Also write the table as Markdown to this file.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// A known-failing list (`client/server/security/case  # why` lines): those cells show as `xfail`.
        #[arg(long)]
        known_failures: Vec<PathBuf>,
    },
    /// Build the containers backend's images (base, Python, Rust) unless they are up to date.
    Images {
        /// Remove every image of ours and the caches instead (the next build is cold).
        #[arg(long)]
        remove: bool,
    },
    /// Check that the Docker engine answers; say why not if it does not.
    Engine,
    /// Remove containers and networks left by runs that no longer run.
    Sweep,
    /// Wait for the end of stdin, then remove what session SESSION made (started by the harness itself).
    #[command(hide = true)]
    Reap {
        /// The session whose containers and networks to remove.
        #[arg(long)]
        session: String,
    },
    /// List processes of this project (service binaries of this build, Python services) still running, waiting up
    /// to --wait seconds for them to end; fails if any remain. Also removes the scratch folders of runs that ended.
    /// Run it after every test process has exited.
    Orphans {
        /// How long stopping services may take to end.
        #[arg(long, default_value_t = 15)]
        wait: u64,
    },
    /// Measure start-up times: each service alone, and Discount + Catalog stacks; medians of several runs.
    Bench {
        /// Runs per measurement.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where the stacks run (default: INTEROP_BACKEND, else local).
        #[arg(long)]
        backend: Option<Backend>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // As in the services (see their lifecycle::init_tracing): a log line that meets a closed stderr is dropped,
        // not reported with eprintln!, which would panic on the same pipe in the middle of stopping a stack.
        .log_internal_errors(false)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("interop: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keys { out, force } => {
            let written = certs::write_keys(&out, &certs::SERVICE_IDENTITIES, force)?;
            if written.is_empty() {
                println!(
                    "{}: every certificate is already there (--force to replace them)",
                    out.display()
                );
            }
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Up {
            catalog,
            discount,
            order,
            payment,
            test_server,
            security,
        } => {
            let optional = [
                (Service::Catalog, catalog),
                (Service::Order, order),
                (Service::Payment, payment),
                (Service::TestServer, test_server),
            ];
            interop::runtime::get().block_on(up(discount, optional, security))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Python => {
            println!("{}", python::ensure()?.python.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            implementation,
            service,
            role,
            against,
            filter,
            backend,
            results,
        } => verify(
            implementation,
            service,
            role,
            against,
            filter,
            backend,
            results,
        ),
        Command::Check { implementation } => {
            let id = resolve(&implementation)?;
            let verdicts = interop::runtime::get().block_on(interop::check::run(id))?;
            let mut failed = 0;
            for verdict in &verdicts {
                match &verdict.failure {
                    None => println!("ok    {}", verdict.what),
                    Some(why) => {
                        failed += 1;
                        println!(
                            "FAIL  {}
      {why}",
                            verdict.what
                        );
                    }
                }
            }
            println!(
                "check {id}: {} passed, {failed} failed",
                verdicts.len() - failed
            );
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Impls => {
            for (id, i) in interop::registry::get()?.implementations() {
                println!("{id}  ({:?}) {}", i.runtime, i.description);
                println!("  manifest: {}", i.manifest_path().display());
                for service in i.services() {
                    println!("  serves {service}: {}", i.features(service).join(", "));
                }
                let calls: Vec<&str> = Service::ALL
                    .iter()
                    .filter(|s| i.calls(**s))
                    .map(|s| s.name())
                    .collect();
                if !calls.is_empty() {
                    println!("  client calls: {}", calls.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            results,
            junit,
            markdown,
            known_failures: _,
        } if !results.is_empty() => {
            let records = interop::results::read(&results)?;
            print!("{}", interop::results::table(&records, false));
            let markdown_text = || {
                interop::results::markdown_heading(&records)
                    + &interop::results::table(&records, true)
            };
            if let Some(path) = markdown {
                std::fs::write(&path, markdown_text())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if let Some(path) = junit {
                std::fs::write(&path, interop::results::junit(&records)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&summary)
                    .and_then(|mut f| f.write_all(markdown_text().as_bytes()))
                    .context("cannot append to $GITHUB_STEP_SUMMARY")?;
            }
            let failed = records.iter().any(|r| r.outcome.fails());
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Report {
            results: _,
            junit: _,
            markdown,
            known_failures,
        } => {
            let lines = std::io::stdin()
                .lock()
                .lines()
                .collect::<Result<Vec<_>, _>>()?;
            let mut list = String::new();
            for path in known_failures {
                list += &std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
            }
            let matrix = report::Matrix::from_test_output(lines.iter().map(String::as_str))
                .with_known_failures(&list);
            print!("{}", matrix.text_table());
            if let Some(path) = markdown {
                std::fs::write(&path, matrix.markdown_table())?;
            }
            Ok(if matrix.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Images { remove: true } => {
            images::remove_all()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Images { remove: false } => {
            for name in images::build_all()? {
                println!("{name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Engine => {
            println!("{}", interop::runtime::get().block_on(docker::check())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep => {
            let swept =
                interop::runtime::get().block_on(docker::sweep(docker::Scope::Abandoned, true))?;
            println!(
                "removed {} containers and {} networks left by runs that ended",
                swept.containers, swept.networks
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reap { session } => {
            let swept = docker::reap(&session)?;
            tracing::debug!(?swept, %session, "reaped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Orphans { wait } => {
            let scope = orphans::Scope::of_this_build()?;
            let left = orphans::wait_gone(&scope, Duration::from_secs(wait))?;
            let swept = interop::scratch::sweep_ended(&std::env::temp_dir())?;
            if swept > 0 {
                println!(
                    "removed {swept} scratch folders (certificates, databases) of runs that ended"
                );
            }
            if left.is_empty() {
                println!("no processes of ours left behind");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "interop: {} processes of ours still run {wait} s after their runs ended (a stop path is broken):",
                left.len()
            );
            for process in &left {
                eprintln!("  {process}");
            }
            Ok(ExitCode::FAILURE)
        }
        Command::Bench { runs, backend } => {
            let backend = match backend {
                Some(backend) => backend,
                None => Backend::from_env()?,
            };
            interop::runtime::get().block_on(bench(backend, runs.max(1)))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An implementation named on the command line: a folder with a manifest (added to the registry) or a name.
fn resolve(implementation: &str) -> Result<Lang> {
    let path = std::path::Path::new(implementation);
    let name = if path.join(interop::registry::MANIFEST).is_file() || path.is_file() {
        interop::registry::add(path)?;
        let dir = if path.is_file() {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        interop::registry::read(&std::fs::canonicalize(dir)?)?.name
    } else {
        implementation.to_string()
    };
    name.parse().map_err(anyhow::Error::msg)
}

/// `interop verify`: the cells the implementation takes part in, run here, reported as `interop report` does.
fn verify(
    implementation: String,
    service: Option<Service>,
    role: Option<interop::matrix::Role>,
    against: Vec<String>,
    filter: Option<String>,
    backend: Option<Backend>,
    results: Option<PathBuf>,
) -> Result<ExitCode> {
    let path = std::path::Path::new(&implementation);
    let name = if path.join(interop::registry::MANIFEST).is_file() || path.is_file() {
        interop::registry::add(path)?;
        let dir = if path.is_file() {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        interop::registry::read(&std::fs::canonicalize(dir)?)?.name
    } else {
        implementation
    };
    let id: Lang = name.parse().map_err(anyhow::Error::msg)?;
    let against = against
        .iter()
        .map(|a| a.parse::<Lang>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let backend = match backend {
        Some(backend) => backend,
        None => Backend::from_env()?,
    };
    let cells = interop::matrix::select(
        interop::matrix::cells()?,
        id,
        service,
        role,
        &against,
        filter.as_deref(),
    );
    if cells.is_empty() {
        anyhow::bail!("no cell of the matrix has {id} in it with these options");
    }
    let results = results.unwrap_or_else(interop::results::default_path);
    eprintln!(
        "interop verify: {} cells with {id} ({backend})",
        cells.len()
    );
    let records =
        interop::runtime::get().block_on(interop::matrix::run_all(cells, backend, 8, &results))?;
    print!("{}", interop::results::table(&records, false));
    println!("(results in {})", results.display());
    let failed = records.iter().any(|r| r.outcome.fails());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Start-up times, warm: one untimed stack of each kind first, so that image checks and the first connections are
/// not counted.
async fn bench(backend: Backend, runs: usize) -> Result<()> {
    let stack = |catalog: Option<Lang>, discount: Lang| {
        let builder = Stack::builder()
            .service(Service::Discount, discount)
            .security(Security::MutualTls)
            .backend(backend);
        match catalog {
            Some(lang) => builder.service(Service::Catalog, lang),
            None => builder,
        }
    };
    let registry = interop::registry::get()?;
    let (catalogs, discounts) = (
        registry.servers(Service::Catalog),
        registry.servers(Service::Discount),
    );
    let reference = interop::registry::reference()?;
    for &catalog in &catalogs {
        for &discount in &discounts {
            drop(stack(Some(catalog), discount).start().await?);
        }
    }
    println!("backend: {backend}, security: mtls, medians of {runs} runs, warm");
    println!("{:<48} {:>9} {:>9}", "", "READY", "healthy");
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let ms = |time: Duration| format!("{:.0} ms", time.as_secs_f64() * 1000.0);
    for lang in registry.ids() {
        for service in [Service::Discount, Service::Catalog] {
            if !lang.manifest().serves(service) {
                continue;
            }
            let (mut ready, mut healthy) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                // A service alone, its upstreams (if any) started beside it.
                let mut builder = stack(None, reference).service(service, lang);
                if service == Service::Discount {
                    builder = stack(None, lang);
                }
                let startup = builder.start().await?.startup()[&service];
                ready.push(startup.ready);
                healthy.push(startup.healthy);
            }
            let what = format!("{service} ({lang}): launch to");
            println!(
                "{what:<48} {:>9} {:>9}",
                ms(median(ready)),
                ms(median(healthy))
            );
        }
    }
    for &catalog in &catalogs {
        for &discount in &discounts {
            let mut whole = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                let running = stack(Some(catalog), discount).start().await?;
                whole.push(started.elapsed());
                drop(running);
            }
            let what = format!("stack catalog ({catalog}) + discount ({discount}): start");
            println!("{what:<48} {:>9} {:>9}", "", ms(median(whole)));
        }
    }
    Ok(())
}

async fn up(
    discount: Lang,
    optional: [(Service, Option<Lang>); 4],
    security: Security,
) -> Result<()> {
    let mut builder = Stack::builder()
        .service(Service::Discount, discount)
        .security(security)
        .backend(Backend::from_env()?);
    for (service, lang) in optional {
        if let Some(lang) = lang {
            builder = builder.service(service, lang);
        }
    }
    let stack = builder.start().await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", stack.describe()?)?;
    stdout.flush()?;
    drop(stdout);
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
    });
    let why = tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = stdin_closed => "end of stdin",
    };
    // Stop first: whoever read our stderr may be gone with our stdin, and a failed write must not come first.
    drop(stack);
    let _ = writeln!(std::io::stderr(), "interop: {why}, stopped the stack");
    Ok(())
}
