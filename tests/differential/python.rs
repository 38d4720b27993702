//! The Python that the test binary embeds: the project's venv, found and made as the harness makes it, entered as
//! its own `bin/python` would, and called in batches.

use std::ffi::CString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// The Python half of the tests, as a module of the embedded interpreter.
const SIDE_SOURCE: &str = include_str!("python_side.py");
const SIDE_MODULE: &str = "interop_differential";

/// Runs `f` with the interpreter attached and the Python half loaded; panics with the reason if the venv cannot be
/// made or entered, so every differential test says why rather than failing on an import deep inside.
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyModule>) -> R) -> R {
    // Made before attaching: the first run creates the venv (pip, tens of seconds) and must not hold the GIL.
    let venv = venv().unwrap_or_else(|e| panic!("the project's Python venv: {e}"));
    Python::attach(|py| {
        static SIDE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
        let side = SIDE
            .get_or_try_init(py, || load_side(py, venv))
            .unwrap_or_else(|e| panic!("the embedded Python: {e:#}"));
        f(py, side.bind(py))
    })
}

/// `module:function` applied in Python to every tuple of arguments in `inputs`, in one call: per input the result
/// converted to `P`, or the text of the exception it raised.
pub fn call_batch<'py, A, P>(
    py: Python<'py>,
    side: &Bound<'py, PyModule>,
    target: &str,
    inputs: A,
) -> Vec<Result<P, String>>
where
    A: IntoPyObject<'py>,
    P: FromPyObjectOwned<'py>,
{
    let outcomes = side
        .getattr("call_batch")
        .and_then(|call| call.call1((target, inputs)))
        .and_then(|list| list.extract::<Vec<(bool, Bound<'py, PyAny>)>>())
        .unwrap_or_else(|e| panic!("calling {target} in Python: {}", describe(py, e)));
    outcomes
        .into_iter()
        .map(|(ok, value)| {
            if ok {
                Ok(value.extract::<P>().unwrap_or_else(|e| {
                    panic!(
                        "{target} returned {value}, which is not what the Rust side expects: {}",
                        describe(py, e.into())
                    )
                }))
            } else {
                Err(value.to_string())
            }
        })
        .collect()
}

/// A Python exception with its traceback, for a failure message.
pub fn describe(py: Python<'_>, error: PyErr) -> String {
    let traceback = error
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .unwrap_or_default();
    format!("{error}\n{traceback}")
}

/// What the embedded interpreter needs to know about the venv.
#[derive(Debug)]
pub struct Venv {
    /// Its site-packages, where `interop.pth` puts the services and the generated stubs on the path.
    pub site_packages: PathBuf,
    /// `sys.version` of its interpreter: the embedded one must be the very same build.
    pub version: String,
}

/// The venv, made or refreshed by the harness (`interop::python::ensure`), once per test binary.
pub fn venv() -> Result<&'static Venv, String> {
    static VENV: OnceLock<Result<Venv, String>> = OnceLock::new();
    VENV.get_or_init(|| describe_venv().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn describe_venv() -> Result<Venv> {
    let env = interop::python::ensure()?;
    let output = Command::new(&env.python)
        .args([
            "-c",
            "import sys, sysconfig; print(sysconfig.get_paths()['purelib']); print(sys.version)",
        ])
        .output()
        .with_context(|| format!("cannot run {}", env.python.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            env.python.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    let (site_packages, version) = stdout
        .trim_end()
        .split_once('\n')
        .context("the venv's Python printed less than asked")?;
    Ok(Venv {
        site_packages: site_packages.into(),
        version: version.into(),
    })
}

fn load_side(py: Python<'_>, venv: &Venv) -> Result<Py<PyModule>> {
    // Comparing full version strings (build date included) tells pyenv's libpython from the system's same-minor one,
    // which the loader picks when the build script's rpath is missing.
    if Python::version_str() != venv.version {
        bail!(
            "the test binary runs Python {:?}, but the venv was made by Python {:?}; the root build.rs points the \
             tests at the libpython of PYO3_PYTHON, else INTEROP_PYTHON, else python3: make them the same \
             interpreter (`ldd` on the test binary shows which libpython it loads)",
            Python::version_str(),
            venv.version
        );
    }
    let source = CString::new(SIDE_SOURCE)?;
    let file = CString::new("tests/differential/python_side.py")?;
    let name = CString::new(SIDE_MODULE)?;
    let side = PyModule::from_code(py, &source, &file, &name)
        .and_then(|side| {
            side.getattr("enter_venv")?
                .call1((venv.site_packages.as_path(),))?;
            Ok(side)
        })
        .map_err(|e| anyhow::anyhow!("cannot load {SIDE_MODULE}: {}", describe(py, e)))?;
    Ok(side.unbind())
}
