//! The images the containers backend runs, built on this machine from nothing: no registry is needed.
//!
//! - `interop-base`: a minimal Debian root filesystem (debootstrap from the mirror in the machine's apt sources)
//!   with Python 3, imported into the engine.
//! - `interop-python`: the base, a venv with the pinned wheels (downloaded on the host into a wheelhouse, installed
//!   offline), the Python services and the stubs generated from `proto/`.
//! - `interop-rust`: the base and the Rust service binaries built on the host (same Debian, same glibc).
//!
//! Each is tagged by a hash of its inputs and built only when no image has that tag: a warm run builds nothing.
//! Every step says what it does and how long it took.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptions, RemoveImageOptionsBuilder,
};

use crate::model::{Lang, Service};
use crate::registry::{Implementation, Places, Runtime};
use crate::workspace::run;
use crate::{docker, python, runtime, workspace};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The base image's name.
pub const BASE: &str = "interop-base";
/// Where the Python image keeps its venv.
pub const VENV: &str = "/opt/interop/venv";
/// Where the Rust image keeps the service binaries.
pub const BIN_DIR: &str = "/opt/interop/bin";

const SUITE: &str = "bookworm";
/// An imported root filesystem has no configuration: the base gets it at import (a build step each would cost a
/// commit in every service image).
const BASE_CONFIG: [&str; 4] = [
    "ENV LANG=C.UTF-8",
    "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /opt/interop",
    r#"CMD ["/bin/bash"]"#,
];
const PACKAGES: &str = "python3,python3-venv,ca-certificates";
/// The Python in the base image, which the wheels are chosen for.
const PYTHON_VERSION: &str = "3.11";
/// The base's glibc is 2.36: every manylinux up to that runs on it. pip takes the platforms literally.
const GLIBC_MINOR: u32 = 36;
/// Bump when the way an image is made changes in a way its Dockerfile does not show.
const RECIPE: &str = "interop-images v1";

/// How long one engine call about images may take (an import or a build included).
const ENGINE_TIMEOUT: Duration = Duration::from_secs(600);

/// Where an implementation's folder is copied in its image.
pub const IMPL_DIR: &str = "/opt/interop/impl";

/// The name of a runtime's image.
fn runtime_name(runtime: Runtime) -> String {
    match runtime {
        Runtime::Python => "interop-python".into(),
        Runtime::Rust => "interop-rust".into(),
        Runtime::Native => BASE.into(),
    }
}

/// The name of an implementation's own image (its folder and build output on top of its runtime's image).
fn impl_name(implementation: &Implementation) -> String {
    format!("interop-impl-{}", implementation.name)
}

/// What a manifest's placeholders stand for inside `implementation`'s image.
pub fn places(implementation: Lang) -> Places {
    let manifest = implementation.manifest();
    let dir = format!("{IMPL_DIR}/{}", manifest.name);
    Places {
        out: format!("{dir}/out"),
        dir,
        python: (manifest.runtime == Runtime::Python).then(|| format!("{VENV}/bin/python")),
        bin: (manifest.runtime == Runtime::Rust).then(|| BIN_DIR.to_string()),
    }
}

/// Whether an implementation needs an image of its own: when its folder holds more than its manifest, or it is
/// built. The references run straight from their runtime's image.
fn needs_own_image(implementation: &Implementation) -> Result<bool> {
    if implementation.build.is_some() {
        return Ok(true);
    }
    let mut found = Vec::new();
    walk(&implementation.dir, &implementation.dir, &mut found)
        .with_context(|| format!("cannot read {}", implementation.dir.display()))?;
    Ok(found
        .iter()
        .any(|f| f != Path::new(crate::registry::MANIFEST)))
}

/// The image for `implementation`'s services (`interop-rust:<hash>`, `interop-impl-go:<hash>`), built first if it is
/// missing. Once per process, and safe against concurrent processes.
pub fn ensure(implementation: Lang) -> Result<String> {
    type Cell = Arc<OnceLock<Result<String, String>>>;
    static IMAGES: Mutex<BTreeMap<Lang, Cell>> = Mutex::new(BTreeMap::new());
    let cell = IMAGES
        .lock()
        .expect("images lock")
        .entry(implementation)
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let built = lock().and_then(|_lock| Builder::new()?.image(implementation.manifest()));
        built.map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// [`ensure`] from async code: the work (hashing, maybe a build) runs on a blocking thread.
pub async fn ensure_async(implementation: Lang) -> Result<String> {
    runtime::get()
        .spawn_blocking(move || ensure(implementation))
        .await
        .map_err(|e| anyhow!("the image task failed: {e}"))?
}

/// What `make images` does: every image, with progress; returns their names.
pub fn build_all() -> Result<Vec<String>> {
    let started = Instant::now();
    let _lock = lock()?;
    let builder = Builder::new()?;
    // The wheels come from the network as the base does: fetch both at once.
    let names = std::thread::scope(|scope| {
        let wheels = scope.spawn(|| wheelhouse(&requirements_path()));
        let base = builder.base();
        let wheels = wheels
            .join()
            .map_err(|_| anyhow!("the wheel download panicked"))?;
        base?;
        wheels?;
        crate::registry::get()?
            .implementations()
            .map(|(_, implementation)| builder.image(implementation))
            .collect::<Result<Vec<_>>>()
    })?;
    say(&format!(
        "all images ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(names)
}

/// Removes every image of ours and the caches (root filesystem tarball, wheelhouse): the next build starts cold.
pub fn remove_all() -> Result<()> {
    let docker = docker::client()?;
    let removed = engine(async move {
        let mut removed = Vec::new();
        // Service images first: the base is their parent.
        let mut names: Vec<String> = crate::registry::get()?
            .implementations()
            .map(|(_, i)| impl_name(i))
            .collect();
        names.extend([Runtime::Python, Runtime::Rust, Runtime::Native].map(runtime_name));
        for name in names {
            for tag in tags(&docker, &name).await? {
                let reference = format!("{name}:{tag}");
                docker
                    .remove_image(
                        &reference,
                        Some(RemoveImageOptionsBuilder::new().force(true).build()),
                        None,
                    )
                    .await
                    .with_context(|| format!("cannot remove {reference}"))?;
                removed.push(reference);
            }
        }
        Ok(removed)
    })?;
    for reference in removed {
        say(&format!("removed {reference}"));
    }
    for cache in [cache_dir().join("wheelhouse"), cache_dir().join("images")] {
        if cache.exists() {
            fs::remove_dir_all(&cache)
                .with_context(|| format!("cannot remove {}", cache.display()))?;
            say(&format!("removed {}", cache.display()));
        }
    }
    Ok(())
}

fn requirements_path() -> PathBuf {
    workspace::root().join("python-services/requirements.txt")
}

/// Where images' inputs are cached: `target/interop`.
fn cache_dir() -> PathBuf {
    workspace::root().join("target/interop")
}

fn lock() -> Result<fs::File> {
    let dir = cache_dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("images.lock");
    let file =
        fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

fn say(what: &str) {
    eprintln!("interop images: {what}");
}

/// A step of a build, timed: says what it starts and how long it took.
struct Step {
    what: String,
    started: Instant,
}

impl Step {
    fn start(what: impl Into<String>) -> Self {
        let what = what.into();
        say(&format!("{what} ..."));
        Step {
            what,
            started: Instant::now(),
        }
    }

    fn done(self) {
        say(&format!(
            "{}: done in {:.1} s",
            self.what,
            self.started.elapsed().as_secs_f64()
        ));
    }
}

/// Runs an engine call on the harness runtime from synchronous code.
fn engine<T: Send + 'static>(
    future: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    runtime::block_on_harness(future, ENGINE_TIMEOUT).unwrap_or_else(|| {
        Err(anyhow!(
            "the Docker engine did not answer within {ENGINE_TIMEOUT:?}"
        ))
    })
}

async fn tags(docker: &Docker, name: &str) -> Result<Vec<String>> {
    let filters = std::collections::HashMap::from([("reference", vec![name.to_string()])]);
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .with_context(|| format!("cannot list the {name} images"))?;
    let prefix = format!("{name}:");
    Ok(images
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
        .collect())
}

/// A short hash of some inputs: an image tag.
#[derive(Default)]
struct Inputs(Sha256);

impl Inputs {
    fn add(&mut self, label: &str, bytes: &[u8]) {
        // Length-prefixed, so that two inputs can never run together into a third.
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn tag(self) -> String {
        self.0.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A build context: files by their path in the context.
#[derive(Default)]
struct BuildContext {
    files: Vec<(String, Vec<u8>, u32)>,
}

impl BuildContext {
    fn file(&mut self, path: impl Into<String>, bytes: Vec<u8>, mode: u32) {
        self.files.push((path.into(), bytes, mode));
    }

    /// Every file under `dir` (caches left out) under `prefix/`, in a stable order.
    fn tree(&mut self, prefix: &str, dir: &Path) -> Result<()> {
        let mut found = Vec::new();
        walk(dir, dir, &mut found).with_context(|| format!("cannot read {}", dir.display()))?;
        found.sort();
        for relative in found {
            let bytes = fs::read(dir.join(&relative))?;
            self.file(format!("{prefix}/{}", relative.display()), bytes, 0o644);
        }
        Ok(())
    }

    /// Every file under `dir` under `prefix/`, keeping whether it is executable (a build's output).
    fn executables(&mut self, prefix: &str, dir: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut found = Vec::new();
        walk(dir, dir, &mut found).with_context(|| format!("cannot read {}", dir.display()))?;
        found.sort();
        for relative in found {
            let path = dir.join(&relative);
            let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
            self.file(
                format!("{prefix}/{}", relative.display()),
                fs::read(&path)?,
                mode,
            );
        }
        Ok(())
    }

    fn hash_into(&self, inputs: &mut Inputs) {
        for (path, bytes, mode) in &self.files {
            inputs.add(&format!("{path}:{mode:o}"), bytes);
        }
    }

    fn tar(&self) -> Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, bytes, mode) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, path, bytes.as_slice())?;
        }
        Ok(tar.into_inner()?)
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            walk(base, &path, out)?;
        } else {
            out.push(path.strip_prefix(base).expect("under base").to_path_buf());
        }
    }
    Ok(())
}

struct Builder {
    docker: Docker,
    base: OnceLock<String>,
}

impl Builder {
    fn new() -> Result<Self> {
        let docker = docker::client()?;
        let check = runtime::block_on_harness(docker::check(), Duration::from_secs(30))
            .unwrap_or_else(|| Err(anyhow!("the Docker engine did not answer within 30 s")))?;
        tracing::debug!("{check}");
        Ok(Builder {
            docker,
            base: OnceLock::new(),
        })
    }

    fn exists(&self, reference: &str) -> Result<bool> {
        let docker = self.docker.clone();
        let reference = reference.to_string();
        engine(async move {
            match docker.inspect_image(&reference).await {
                Ok(_) => Ok(true),
                Err(e) if docker::status(&e) == Some(404) => Ok(false),
                Err(e) => Err(anyhow!("cannot inspect the image {reference}: {e}")),
            }
        })
    }

    /// An implementation's image: its runtime's, plus its folder (at [`IMPL_DIR`]`/<name>`) and its build output
    /// (`out/` inside that) when it has either.
    fn image(&self, implementation: &Implementation) -> Result<String> {
        let runtime = match implementation.runtime {
            Runtime::Python => self.python()?,
            Runtime::Rust => self.rust()?,
            Runtime::Native => self.base()?,
        };
        if !needs_own_image(implementation)? {
            return Ok(runtime);
        }
        implementation.ensure_built()?;
        let mut context = BuildContext::default();
        context.tree("impl", &implementation.dir)?;
        let mut dockerfile = format!(
            "FROM {runtime}\nCOPY impl {IMPL_DIR}/{}\n",
            implementation.name
        );
        if implementation.build.is_some() {
            context.executables("out", &implementation.out_dir())?;
            dockerfile.push_str(&format!(
                "COPY out {IMPL_DIR}/{}/out\n",
                implementation.name
            ));
        }
        self.build(&impl_name(implementation), &dockerfile, context)
    }

    /// The base image: debootstrap, packed, imported. The packed root filesystem is kept, so a removed image comes
    /// back in seconds.
    fn base(&self) -> Result<String> {
        if let Some(base) = self.base.get() {
            return Ok(base.clone());
        }
        let mut inputs = Inputs::default();
        inputs.add("recipe", RECIPE.as_bytes());
        inputs.add("suite", SUITE.as_bytes());
        inputs.add("packages", PACKAGES.as_bytes());
        let rootfs = inputs.tag();
        let mut inputs = Inputs::default();
        inputs.add("rootfs", rootfs.as_bytes());
        inputs.add("config", BASE_CONFIG.join("\n").as_bytes());
        let tag = inputs.tag();
        let reference = format!("{BASE}:{tag}");
        if !self.exists(&reference)? {
            let tarball = cache_dir()
                .join("images")
                .join(format!("rootfs-{rootfs}.tar"));
            if !tarball.is_file() {
                debootstrap(&tarball)?;
            }
            self.import(&tarball, &tag)?;
            self.prune(BASE, &tag)?;
        }
        let _ = self.base.set(reference.clone());
        Ok(reference)
    }

    fn import(&self, tarball: &Path, tag: &str) -> Result<()> {
        let step = Step::start(format!("import {} as {BASE}:{tag}", tarball.display()));
        let bytes =
            fs::read(tarball).with_context(|| format!("cannot read {}", tarball.display()))?;
        let docker = self.docker.clone();
        let tag = tag.to_string();
        engine(async move {
            let options = CreateImageOptionsBuilder::new()
                .from_src("-")
                .repo(BASE)
                .tag(&tag)
                .changes(BASE_CONFIG.map(String::from).to_vec())
                .build();
            let mut progress = docker.create_image(
                Some(options),
                Some(testcontainers::bollard::body_full(bytes::Bytes::from(
                    bytes,
                ))),
                None,
            );
            while let Some(item) = progress.next().await {
                item.map_err(|e| anyhow!("the engine refused the import: {e}"))?;
            }
            Ok(())
        })?;
        step.done();
        Ok(())
    }

    fn rust(&self) -> Result<String> {
        let base = self.base()?;
        let mut context = BuildContext::default();
        let mut copies = Vec::new();
        for service in Service::ALL {
            let binary = workspace::rust_binary(service.name())?;
            let bytes =
                fs::read(&binary).with_context(|| format!("cannot read {}", binary.display()))?;
            context.file(format!("bin/{}", service.name()), bytes, 0o755);
            copies.push(format!("bin/{}", service.name()));
        }
        let dockerfile = format!("FROM {base}\nCOPY {} {BIN_DIR}/\n", copies.join(" "));
        self.build(&runtime_name(Runtime::Rust), &dockerfile, context)
    }

    fn python(&self) -> Result<String> {
        let base = self.base()?;
        let root = workspace::root();
        let requirements = requirements_path();
        let wheelhouse = wheelhouse(&requirements)?;
        let env = python::ensure()?;
        let mut context = BuildContext::default();
        context.file(
            "requirements.txt",
            fs::read(&requirements)
                .with_context(|| format!("cannot read {}", requirements.display()))?,
            0o644,
        );
        context.tree("wheels", &wheelhouse)?;
        context.tree(
            "interop_services",
            &root.join("python-services/interop_services"),
        )?;
        context.tree("gen", &env.generated)?;
        // The wheels and the venv come first, so that a change to the services rebuilds only the layers after.
        let dockerfile = format!(
            "FROM {base}\n\
             COPY requirements.txt /opt/interop/requirements.txt\n\
             COPY wheels /tmp/wheels\n\
             RUN python3 -m venv {VENV} \\\n \
             && {VENV}/bin/pip install --quiet --disable-pip-version-check --no-index --find-links /tmp/wheels \
                -r /opt/interop/requirements.txt \\\n \
             && rm -rf /tmp/wheels\n\
             COPY interop_services /opt/interop/python-services/interop_services\n\
             COPY gen /opt/interop/gen\n\
             RUN printf '%s\\n' /opt/interop/python-services /opt/interop/gen \
                > \"$({VENV}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')/interop.pth\" \\\n \
             && {VENV}/bin/python -c 'import interop_services.proto'\n"
        );
        self.build(&runtime_name(Runtime::Python), &dockerfile, context)
    }

    /// Builds `name` from `dockerfile` and `context` unless an image already has their hash as its tag; then
    /// removes the older tags of `name` (those no container uses).
    fn build(&self, name: &str, dockerfile: &str, mut context: BuildContext) -> Result<String> {
        context.file("Dockerfile", dockerfile.as_bytes().to_vec(), 0o644);
        let mut inputs = Inputs::default();
        inputs.add("recipe", RECIPE.as_bytes());
        context.hash_into(&mut inputs);
        let tag = inputs.tag();
        let reference = format!("{name}:{tag}");
        if self.exists(&reference)? {
            tracing::debug!("{reference} is up to date");
            return Ok(reference);
        }
        let step = Step::start(format!("build {reference}"));
        let tar = context.tar()?;
        let docker = self.docker.clone();
        let target = reference.clone();
        engine(async move { legacy_build(&docker, &target, tar).await })?;
        step.done();
        self.prune(name, &tag)?;
        Ok(reference)
    }

    /// Removes the tags of `name` other than `keep`: they pile up as inputs change. One still in use (by a
    /// container, or as another image's parent) stays: the engine refuses without force.
    fn prune(&self, name: &str, keep: &str) -> Result<()> {
        let docker = self.docker.clone();
        let (name, keep) = (name.to_string(), keep.to_string());
        engine(async move {
            for old in tags(&docker, &name).await? {
                if old != keep {
                    let _ = docker
                        .remove_image(&format!("{name}:{old}"), None::<RemoveImageOptions>, None)
                        .await;
                }
            }
            Ok(())
        })
    }
}

/// A build with the engine's classic builder (no BuildKit, which needs buildx here), its steps shown as they go.
/// A failure names the step and shows its output.
async fn legacy_build(docker: &Docker, reference: &str, context: Vec<u8>) -> Result<()> {
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(reference)
        .rm(true)
        .forcerm(true)
        .build();
    let mut build = docker.build_image(
        options,
        None,
        Some(testcontainers::bollard::body_full(context.into())),
    );
    let mut step = String::from("(before the first step)");
    let mut output: Vec<String> = Vec::new();
    let mut step_started = Instant::now();
    let took = |step: &str, started: Instant| {
        if let Some(number) = step.split(" :").next().filter(|s| s.starts_with("Step ")) {
            say(&format!(
                "  {number}: {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
    };
    while let Some(item) = build.next().await {
        match item {
            Ok(info) => {
                for line in info.stream.iter().flat_map(|s| s.lines()) {
                    let line = line.trim_end();
                    if line.starts_with("Step ") {
                        took(&step, step_started);
                        step = line.to_string();
                        output.clear();
                        step_started = Instant::now();
                        say(&format!("  {line}"));
                    } else if !line.is_empty() {
                        output.push(strip_colours(line));
                    }
                }
            }
            Err(e) => {
                let shown = output.len().saturating_sub(40);
                bail!(
                    "building {reference} failed at {step}: {e}\n--- output of that step ---\n{}\n---",
                    output[shown..].join("\n")
                );
            }
        }
    }
    took(&step, step_started);
    Ok(())
}

/// The engine colours a failing step's stderr red: plain text reads better in an error.
fn strip_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The pinned wheels for the image's Python, downloaded on the host (containers cannot reach a package index).
/// Kept in `target/interop/wheelhouse` and downloaded again only when the requirements change.
fn wheelhouse(requirements: &Path) -> Result<PathBuf> {
    let dir = cache_dir().join("wheelhouse");
    let mut inputs = Inputs::default();
    inputs.add("recipe", RECIPE.as_bytes());
    inputs.add("python", PYTHON_VERSION.as_bytes());
    inputs.add("platform", &GLIBC_MINOR.to_le_bytes());
    inputs.add(
        "requirements",
        &fs::read(requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?,
    );
    let stamp = inputs.tag();
    let stamp_path = dir.join(".stamp");
    if fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(dir);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir)?;
    let step = Step::start(format!(
        "download the pinned wheels for CPython {PYTHON_VERSION} (manylinux, glibc <= 2.{GLIBC_MINOR}) into {}",
        dir.display()
    ));
    let env = python::ensure()?;
    let mut command = Command::new(&env.python);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--only-binary=:all:", "--implementation", "cp"])
        .args(["--python-version", PYTHON_VERSION])
        .args(
            manylinux_platforms()
                .iter()
                .flat_map(|p| ["--platform", p.as_str()]),
        )
        .args(["--abi", "cp311", "--abi", "abi3", "--abi", "none"])
        .arg("--dest")
        .arg(&dir)
        .arg("--requirement")
        .arg(requirements);
    run(&mut command, "download the wheels")?;
    fs::write(&stamp_path, stamp)?;
    step.done();
    Ok(dir)
}

/// Every manylinux platform tag the base image runs, newest first (the legacy aliases included).
fn manylinux_platforms() -> Vec<String> {
    let mut platforms: Vec<String> = (5..=GLIBC_MINOR)
        .rev()
        .map(|minor| format!("manylinux_2_{minor}_x86_64"))
        .collect();
    platforms.extend(
        [
            "manylinux2014_x86_64",
            "manylinux2010_x86_64",
            "manylinux1_x86_64",
        ]
        .map(String::from),
    );
    platforms
}

/// A Debian root filesystem with Python, packed into `tarball`.
fn debootstrap(tarball: &Path) -> Result<()> {
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!(
            "debootstrap is not installed; `make images` installs it (apt-get install -y debootstrap), or install it \
             yourself"
        );
    }
    let mirror = debian_mirror()?;
    let dir = tarball.parent().expect("the tarball has a folder");
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        // Left by an interrupted run.
        fs::remove_dir_all(&rootfs)
            .with_context(|| format!("cannot clear {}", rootfs.display()))?;
    }
    fs::create_dir_all(dir)?;
    let step = Step::start(format!(
        "debootstrap {SUITE} (minbase + {PACKAGES}) from {mirror}; about 1-2 minutes"
    ));
    let log = dir.join("debootstrap.log");
    let mut command = Command::new("debootstrap");
    command
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
        .arg(&rootfs)
        .arg(&mirror);
    let output = command.output().context("cannot run debootstrap")?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    fs::File::create(&log)?.write_all(text.as_bytes())?;
    if !output.status.success() {
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "debootstrap failed ({}); its last lines (all of them in {}):\n{}",
            output.status,
            log.display(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        );
    }
    step.done();
    let step = Step::start(format!(
        "pack the root filesystem into {}",
        tarball.display()
    ));
    let partial = tarball.with_extension("tar.partial");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["--numeric-owner", "-cf"])
            .arg(&partial)
            .arg("."),
        "pack the root filesystem",
    )?;
    fs::rename(&partial, tarball)?;
    fs::remove_dir_all(&rootfs).with_context(|| format!("cannot remove {}", rootfs.display()))?;
    step.done();
    Ok(())
}

/// The Debian mirror this machine's apt uses: `INTEROP_DEBIAN_MIRROR`, else the first `URIs:` for our suite in
/// `/etc/apt/sources.list.d/debian.sources`, else the first `deb` line for it in `/etc/apt/sources.list`.
fn debian_mirror() -> Result<String> {
    if let Ok(mirror) = std::env::var("INTEROP_DEBIAN_MIRROR") {
        return Ok(mirror);
    }
    let deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let classic = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    mirror_from_deb822(&deb822, SUITE)
        .or_else(|| mirror_from_list(&classic, SUITE))
        .ok_or_else(|| {
            anyhow!(
                "no Debian mirror for {SUITE} in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; \
                 set INTEROP_DEBIAN_MIRROR"
            )
        })
}

fn mirror_from_deb822(text: &str, suite: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let is_deb = field("Types")?.split_whitespace().any(|t| t == "deb");
        let has_suite = field("Suites")?.split_whitespace().any(|s| s == suite);
        (is_deb && has_suite)
            .then(|| field("URIs")?.split_whitespace().next().map(str::to_string))?
    })
}

fn mirror_from_list(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        // Options (`[arch=amd64 signed-by=...]`) sit between the type and the URI.
        let line = match (line.find('['), line.find(']')) {
            (Some(open), Some(close)) if open < close => {
                format!("{} {}", &line[..open], &line[close + 1..])
            }
            _ => line.to_string(),
        };
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["deb", uri, found, ..] if *found == suite => Some(uri.to_string()),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_comes_from_the_stanza_of_our_suite() {
        let sources = "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\
                       Components: main\n\nTypes: deb deb-src\nURIs: http://mirror.example/debian\n\
                       Suites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(
            mirror_from_deb822(sources, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(mirror_from_deb822(sources, "trixie"), None);
    }

    #[test]
    fn the_mirror_comes_from_a_classic_deb_line() {
        let list = "# comment\ndeb-src http://src.example/debian bookworm main\n\
                    deb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_list(list, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn a_tag_changes_with_any_input() {
        let tag = |files: &[(&str, &[u8])]| {
            let mut context = BuildContext::default();
            for (path, bytes) in files {
                context.file(*path, bytes.to_vec(), 0o644);
            }
            let mut inputs = Inputs::default();
            context.hash_into(&mut inputs);
            inputs.tag()
        };
        let one = tag(&[("a", b"1"), ("b", b"2")]);
        assert_eq!(one, tag(&[("a", b"1"), ("b", b"2")]));
        assert_ne!(one, tag(&[("a", b"1"), ("b", b"3")]));
        assert_ne!(one, tag(&[("a", b"12"), ("b", b"")]));
        assert_eq!(one.len(), 12);
    }
}
