//! Lets the differential tests (tests/differential.rs) embed the right Python.
//!
//! pyo3 links the test binaries against `libpython3.X.so` from the interpreter it was built for, but the dynamic
//! loader looks that name up in the system's library paths first: on Debian with a pyenv (or any non-system)
//! Python, the test would run the system's libpython, a different build than the one the venv was made from.
//! An rpath to the interpreter's own LIBDIR makes the loader find the right one, with no LD_LIBRARY_PATH to set.
//!
//! The interpreter is found as pyo3 finds it when `PYO3_PYTHON` is set, else as the harness does when it makes the
//! venv (`INTEROP_PYTHON`, else `python3`), so the embedded Python is the one the venv belongs to.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=INTEROP_PYTHON");
    let python = std::env::var("PYO3_PYTHON")
        .or_else(|_| std::env::var("INTEROP_PYTHON"))
        .unwrap_or_else(|_| "python3".into());
    match python_libdir(&python) {
        Ok(libdir) => println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{libdir}"),
        // Only the tests need it, and pyo3's own build fails with a clearer message if there is no Python at all.
        Err(why) => println!("cargo:warning=no rpath to libpython for the tests: {python}: {why}"),
    }
}

fn python_libdir(python: &str) -> Result<String, String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')",
        ])
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "it failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if libdir.is_empty() {
        return Err("its sysconfig has no LIBDIR".into());
    }
    Ok(libdir)
}
