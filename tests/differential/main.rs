//! In-process differential tests: the Rust and the Python implementations, called in one process through pyo3, must
//! agree on every input, and both must read the wire vectors in `vectors/` as stored there.
//!
//! The embedded interpreter is the one the project's venv was made from (the root build.rs points the test binary
//! at its libpython); the venv is made and found as the harness does it (`interop::python::ensure`). See
//! docs/differential.md.

mod cases;
mod compare;
mod float32;
mod order;
mod pricing;
mod python;
mod vectors;
mod wire;

use pyo3::prelude::PyAnyMethods;

/// The embedded interpreter is the venv's own build, and the services and protobuf come from the venv and the
/// repository, not from whatever the base interpreter has installed.
#[test]
fn differential_python_is_the_venvs() {
    let venv = python::venv().expect("the venv");
    let (version, protobuf, services) = python::with_python(|py, _| {
        let file = |module: &str| -> String {
            py.import(module)
                .and_then(|m| m.getattr("__file__"))
                .and_then(|f| f.extract())
                .unwrap_or_else(|e| panic!("import {module}: {}", python::describe(py, e)))
        };
        (
            pyo3::Python::version_str().to_string(),
            file("google.protobuf"),
            file("interop_services.discount.pricing"),
        )
    });
    assert_eq!(
        version, venv.version,
        "the embedded Python is not the venv's"
    );
    assert!(
        std::path::Path::new(&protobuf).starts_with(&venv.site_packages),
        "protobuf comes from {protobuf}, not from the venv's {}",
        venv.site_packages.display()
    );
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python-services");
    assert!(
        std::path::Path::new(&services).starts_with(&repository),
        "interop_services comes from {services}, not from {}",
        repository.display()
    );
}
