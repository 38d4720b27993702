//! The Python environment: a venv with the pinned requirements and the stubs generated from `proto/`.
//!
//! Made on first use and reused after; remade when its inputs change (requirements, any .proto, this recipe), so
//! the stubs can never go stale unnoticed. They are generated, never committed, never edited.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::workspace::{self, run};

/// Bump when the way the environment is made changes.
const RECIPE: &str = "interop-python-env v2";

/// A ready Python environment.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The venv folder.
    pub venv: PathBuf,
    /// Its interpreter.
    pub python: PathBuf,
    /// Where the generated stubs are (on the venv's path through `interop.pth`).
    pub generated: PathBuf,
}

/// The environment, made or refreshed if needed; once per process, and safe against concurrent processes.
pub fn ensure() -> Result<PythonEnv> {
    static ENV: OnceLock<Result<PythonEnv, String>> = OnceLock::new();
    ENV.get_or_init(|| prepare().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The venv folder: `INTEROP_VENV`, else `.venv` at the repository root.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join(".venv"))
}

fn prepare() -> Result<PythonEnv> {
    let root = workspace::root();
    let venv = venv_dir();
    let env = PythonEnv {
        python: venv.join("bin/python"),
        generated: venv.join("interop-gen"),
        venv: venv.clone(),
    };
    let lock_path = root.join(".interop-venv.lock");
    let lock = fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;

    let stamp = inputs_digest(&root)?;
    let stamp_path = venv.join("interop.stamp");
    if env.python.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(env);
    }
    let started = Instant::now();
    eprintln!(
        "interop: preparing the Python environment in {} ...",
        venv.display()
    );
    if !env.python.is_file() {
        let base = std::env::var("INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&base).arg("-m").arg("venv").arg(&venv),
            "create the venv",
        )?;
    }
    let requirements = root.join("python-services/requirements.txt");
    run(
        Command::new(&env.python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "install the pinned requirements",
    )?;
    generate_stubs(&root, &env)?;
    write_path_file(&root, &env)?;
    fs::write(&stamp_path, &stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    eprintln!(
        "interop: Python environment ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(env)
}

/// What the environment is made from; any change remakes it.
fn inputs_digest(root: &Path) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(RECIPE);
    let requirements = root.join("python-services/requirements.txt");
    hash.update(
        fs::read(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?,
    );
    for proto in workspace::proto_files()? {
        hash.update(proto.to_string_lossy().as_bytes());
        hash.update(fs::read(root.join("proto").join(&proto))?);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Proto folders whose Python modules would shadow an installed package, and the import root they move under.
/// `grpc/testing/test.proto` would generate the module `grpc.testing.test_pb2`, inside grpcio's own `grpc` package;
/// under `src/proto/` it is `src.proto.grpc.testing.test_pb2`, the name grpc/grpc's own Python interop code imports.
/// Only the Python module names move: packages, messages and services, and so the wire, stay as declared.
const RELOCATED: [(&str, &str); 1] = [("grpc/", "src/proto/grpc/")];

fn python_file_name(name: &str) -> String {
    RELOCATED
        .iter()
        .find_map(|(from, to)| name.strip_prefix(from).map(|rest| format!("{to}{rest}")))
        .unwrap_or_else(|| name.to_string())
}

fn generate_stubs(root: &Path, env: &PythonEnv) -> Result<()> {
    if env.generated.exists() {
        fs::remove_dir_all(&env.generated)
            .with_context(|| format!("cannot clear {}", env.generated.display()))?;
    }
    fs::create_dir_all(&env.generated)?;
    // Compiled once with protox (as the Rust build does), the relocated files renamed in the descriptors, then
    // handed to protoc as a descriptor set: protoc names modules and imports after the descriptors' file names.
    let protos = workspace::proto_files()?;
    let mut set = protox::compile(&protos, [root.join("proto")])
        .map_err(|e| anyhow::anyhow!("cannot compile proto/: {e}"))?;
    for file in &mut set.file {
        if let Some(name) = &mut file.name {
            *name = python_file_name(name);
        }
        for dependency in &mut file.dependency {
            *dependency = python_file_name(dependency);
        }
    }
    let descriptors = tempfile::NamedTempFile::new()?;
    fs::write(
        descriptors.path(),
        protox::prost::Message::encode_to_vec(&set),
    )?;
    let out = env.generated.to_string_lossy();
    let mut command = Command::new(&env.python);
    command
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!(
            "--descriptor_set_in={}",
            descriptors.path().display()
        ))
        .arg(format!("--python_out={out}"))
        .arg(format!("--grpc_python_out={out}"))
        .arg(format!("--pyi_out={out}"))
        .args(
            protos
                .iter()
                .map(|p| python_file_name(&p.to_string_lossy())),
        );
    run(&mut command, "generate the Python stubs from proto/")
}

/// `interop.pth` puts the services package and the stubs on the venv's path: no install step, no PYTHONPATH.
fn write_path_file(root: &Path, env: &PythonEnv) -> Result<()> {
    let output = Command::new(&env.python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .context("cannot ask the venv for its site-packages")?;
    let site = PathBuf::from(String::from_utf8(output.stdout)?.trim());
    let lines = format!(
        "{}\n{}\n",
        root.join("python-services").display(),
        env.generated.display()
    );
    fs::write(site.join("interop.pth"), lines)
        .with_context(|| format!("cannot write interop.pth in {}", site.display()))
}
