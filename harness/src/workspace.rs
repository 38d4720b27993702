//! Where the project's files are: the repository root, the proto folder, the Python services, the Rust binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The repository root: `INTEROP_ROOT` if set, else the folder above this crate.
pub fn root() -> PathBuf {
    match std::env::var_os("INTEROP_ROOT") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the harness crate has a parent")
            .to_path_buf(),
    }
}

/// Every `.proto` under `proto/`, relative to it, sorted.
pub fn proto_files() -> Result<Vec<PathBuf>> {
    let base = root().join("proto");
    let mut files = Vec::new();
    collect(&base, &base, &mut files).with_context(|| format!("cannot list {}", base.display()))?;
    files.sort();
    Ok(files)
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(base).expect("under base").to_path_buf());
        }
    }
    Ok(())
}

/// The path of a Rust service binary (`discount`, `catalog`, ...), built beside the running executable.
///
/// Under cargo (tests, `cargo run`), the service binaries are built first with the same profile, once per process,
/// so a test never runs a stale service. `INTEROP_RUST_BIN_DIR` points elsewhere (and skips that build).
pub fn rust_binary(name: &str) -> Result<PathBuf> {
    let path = rust_binary_dir()?.join(name);
    if !path.is_file() {
        bail!(
            "no Rust service binary at {} (build it with `cargo build --bins`)",
            path.display()
        );
    }
    Ok(path)
}

/// The folder of the Rust service binaries (`{bin}` in the Rust reference's manifest): `INTEROP_RUST_BIN_DIR`, else
/// beside the running executable, built first under cargo (see [`rust_binary`]).
pub fn rust_binary_dir() -> Result<PathBuf> {
    Ok(match std::env::var_os("INTEROP_RUST_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = profile_dir()?;
            build_services_once(&dir)?;
            dir
        }
    })
}

/// `target/<profile>` of the running executable (a test binary lives one level down, in `deps/`).
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    let mut dir = exe
        .parent()
        .context("the executable has no folder")?
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    Ok(dir)
}

fn build_services_once(profile_dir: &Path) -> Result<()> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_services(profile_dir).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_services(profile_dir: &Path) -> Result<()> {
    // Only when running under cargo; an installed `interop` uses the binaries beside it as they are.
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let mut command = Command::new(cargo);
    // The same package selection as a plain `cargo test`, so cargo resolves the same features and finds everything
    // fresh; building `-p interop-services` alone would resolve other features and rebuild it on every run.
    command
        .current_dir(root())
        .args(["test", "--workspace", "--no-run", "--quiet"]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
        None => bail!("cannot tell the cargo profile of {}", profile_dir.display()),
    }
    // cargo gives a test process the variables of the package under test; passed on, they would look like a
    // changed environment to build scripts that watch them (ring watches CARGO_MANIFEST_DIR) and rebuild half the tree.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_package = key.starts_with("CARGO_PKG_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            );
        if per_package {
            command.env_remove(&*key);
        }
    }
    if let Some(target_dir) = profile_dir.parent() {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let status = command
        .status()
        .context("cannot run cargo to build the Rust services")?;
    if !status.success() {
        bail!("building the Rust services failed ({status}); run `cargo build --bins` to see why");
    }
    Ok(())
}

/// Runs `command` to completion; an error (saying what it was for, with its output) if it fails.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot {what}: {command:?} did not start"))?;
    if !output.status.success() {
        bail!(
            "cannot {what}: {command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
