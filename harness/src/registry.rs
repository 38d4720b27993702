//! The implementation registry: every implementation is a folder with an `implementation.toml` (docs/implementing.md).
//!
//! The harness knows nothing about any language: what runs a service, what its client is, what it claims and what
//! it is known to fail all come from its manifest. Manifests are read once per process, from `implementations/*/`
//! of the repository and from the folders named by `INTEROP_IMPLEMENTATIONS` (separated by `:`) or added with
//! [`add`] before first use (`interop verify --impl PATH`).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::model::Service;
use crate::workspace;

/// The manifest's file name inside an implementation's folder.
pub const MANIFEST: &str = "implementation.toml";

/// An implementation's id, as it appears on every matrix axis: one of the registry's names, interned (so it is
/// `Copy` and compares cheaply).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Impl(&'static str);

impl Impl {
    /// Every implementation of the registry, by name.
    pub fn all() -> Vec<Impl> {
        get().map(|r| r.ids()).unwrap_or_default()
    }

    /// The implementation called `name`; panics if the registry has none (for tests naming the references).
    pub fn named(name: &str) -> Impl {
        name.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The implementation called `name`, unchecked until first used (for constants naming the references).
    pub const fn unchecked(name: &'static str) -> Impl {
        Impl(name)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// Its manifest.
    pub fn manifest(self) -> &'static Implementation {
        get()
            .expect("an Impl exists only once the registry loaded")
            .by_name
            .get(self.0)
            .expect("an Impl names a registered implementation")
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Impl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl FromStr for Impl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let registry = get().map_err(|e| format!("{e:#}"))?;
        match registry.by_name.get_key_value(s) {
            Some((name, _)) => Ok(Impl(name)),
            None => Err(format!(
                "unknown implementation {s}; known: {}; manifests are read from {}",
                registry
                    .ids()
                    .iter()
                    .map(|i| i.0)
                    .collect::<Vec<_>>()
                    .join(", "),
                registry.sources()
            )),
        }
    }
}

/// Where an implementation's commands run, and which container image they start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// The project's Python environment (`{python}`); image: the Python image.
    Python,
    /// The workspace's Rust binaries (`{bin}`); image: the Rust image.
    Rust,
    /// Executables the build step writes into `{out}`; image: the Debian base image.
    Native,
}

/// A manifest, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    #[serde(default)]
    description: String,
    runtime: Runtime,
    #[serde(default)]
    env: BTreeMap<String, String>,
    build: Option<Build>,
    #[serde(default)]
    services: BTreeMap<String, ServerEntry>,
    client: Option<ClientEntry>,
    /// gRPC's interop client (the spec's flags: `--server_host`, `--test_case`, ...), if it has one.
    interop_client: Option<Vec<String>>,
    #[serde(default)]
    known_failing: Vec<KnownFailing>,
}

/// The optional build step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The command, run from the manifest's folder.
    pub command: Vec<String>,
    /// Files or folders (relative to the manifest's folder) whose contents decide whether to run it again.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Extra environment for the command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEntry {
    server: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    command: Vec<String>,
    services: Vec<String>,
}

/// A cell this implementation is known to fail, and how.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailing {
    /// A pattern on cell names (see [`crate::results::matches`]).
    pub cell: String,
    /// The failure it must show: a status code, a refusal class or a substring of the failure's first line.
    pub expect: String,
    /// The evidence.
    pub why: String,
}

/// What a server claims.
pub const FEATURES: [&str; 8] = [
    "tls",
    "mtls",
    "allow-client",
    "bearer-token",
    "delay",
    "upstream-tls",
    "health",
    "log-events",
];

/// One registered implementation.
#[derive(Debug, Clone)]
pub struct Implementation {
    /// Its id.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Where its commands run.
    pub runtime: Runtime,
    /// Its folder (where the manifest is).
    pub dir: PathBuf,
    /// Environment for all its commands.
    pub env: BTreeMap<String, String>,
    /// Its build step.
    pub build: Option<Build>,
    servers: BTreeMap<Service, ServerEntry>,
    client: Option<(Vec<String>, Vec<Service>)>,
    interop_client: Option<Vec<String>>,
    /// Its known failures.
    pub known_failing: Vec<KnownFailing>,
}

/// What the placeholders of a command stand for, where it runs.
#[derive(Debug, Clone)]
pub struct Places {
    /// `{dir}`: the implementation's folder.
    pub dir: String,
    /// `{out}`: its build output folder.
    pub out: String,
    /// `{python}`: the Python environment's interpreter (runtime `python` only).
    pub python: Option<String>,
    /// `{bin}`: the folder of the workspace's Rust binaries (runtime `rust` only).
    pub bin: Option<String>,
}

impl Implementation {
    fn from_manifest(manifest: Manifest, dir: PathBuf) -> Result<Self> {
        let valid_name = !manifest.name.is_empty()
            && manifest
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_name {
            bail!(
                "name {:?}: an implementation's name is [a-z0-9-]+",
                manifest.name
            );
        }
        let mut servers = BTreeMap::new();
        for (service, entry) in manifest.services {
            let service: Service = service
                .parse()
                .map_err(|e: String| anyhow!("[services.{service}]: {e}"))?;
            if entry.server.is_empty() {
                bail!("[services.{service}] server: an empty command");
            }
            for feature in &entry.features {
                if !FEATURES.contains(&feature.as_str()) {
                    bail!(
                        "[services.{service}] features: unknown feature {feature:?} (known: {})",
                        FEATURES.join(", ")
                    );
                }
            }
            if entry.features.iter().any(|f| f == "mtls")
                && !entry.features.iter().any(|f| f == "tls")
            {
                bail!("[services.{service}] features: mtls needs tls");
            }
            servers.insert(service, entry);
        }
        let client = match manifest.client {
            None => None,
            Some(client) => {
                if client.command.is_empty() {
                    bail!("[client] command: an empty command");
                }
                let services = client
                    .services
                    .iter()
                    .map(|s| {
                        s.parse()
                            .map_err(|e: String| anyhow!("[client] services: {e}"))
                    })
                    .collect::<Result<Vec<Service>>>()?;
                Some((client.command, services))
            }
        };
        if let Some(build) = &manifest.build
            && build.command.is_empty()
        {
            bail!("[build] command: an empty command");
        }
        Ok(Implementation {
            name: manifest.name,
            description: manifest.description,
            runtime: manifest.runtime,
            dir,
            env: manifest.env,
            build: manifest.build,
            servers,
            client,
            interop_client: manifest.interop_client,
            known_failing: manifest.known_failing,
        })
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }

    /// The services it serves.
    pub fn services(&self) -> impl Iterator<Item = Service> + '_ {
        self.servers.keys().copied()
    }

    /// Whether it serves `service`.
    pub fn serves(&self, service: Service) -> bool {
        self.servers.contains_key(&service)
    }

    /// Whether its `service` server claims `feature`.
    pub fn has_feature(&self, service: Service, feature: &str) -> bool {
        self.servers
            .get(&service)
            .is_some_and(|s| s.features.iter().any(|f| f == feature))
    }

    /// The features its `service` server claims.
    pub fn features(&self, service: Service) -> &[String] {
        self.servers
            .get(&service)
            .map(|s| s.features.as_slice())
            .unwrap_or_default()
    }

    /// Whether its client can call `service`.
    pub fn calls(&self, service: Service) -> bool {
        self.client
            .as_ref()
            .is_some_and(|(_, services)| services.contains(&service))
    }

    /// The server command of `service`, placeholders filled in for `places`.
    pub fn server_command(&self, service: Service, places: &Places) -> Result<Vec<String>> {
        let entry = self.servers.get(&service).with_context(|| {
            format!(
                "{} does not serve {service} (it serves: {}; see {})",
                self.name,
                self.services()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.manifest_path().display()
            )
        })?;
        self.expand(&entry.server, places)
    }

    /// The client command, placeholders filled in for `places`.
    pub fn client_command(&self, places: &Places) -> Result<Vec<String>> {
        let (command, _) = self.client.as_ref().with_context(|| {
            format!(
                "{} has no client (see {})",
                self.name,
                self.manifest_path().display()
            )
        })?;
        self.expand(command, places)
    }

    /// Whether it has a gRPC interop client.
    pub fn has_interop_client(&self) -> bool {
        self.interop_client.is_some()
    }

    /// The gRPC interop client's command, placeholders filled in for `places`.
    pub fn interop_client_command(&self, places: &Places) -> Result<Vec<String>> {
        let command = self.interop_client.as_ref().with_context(|| {
            format!(
                "{} has no interop_client (see {})",
                self.name,
                self.manifest_path().display()
            )
        })?;
        self.expand(command, places)
    }

    fn expand(&self, template: &[String], places: &Places) -> Result<Vec<String>> {
        template
            .iter()
            .map(|part| {
                let mut out = part.replace("{dir}", &places.dir).replace("{out}", &places.out);
                for (key, value) in [("{python}", &places.python), ("{bin}", &places.bin)] {
                    if out.contains(key) {
                        let value = value.as_ref().with_context(|| {
                            format!(
                                "{}: {key} is not available to runtime {:?} (in {})",
                                self.name,
                                self.runtime,
                                self.manifest_path().display()
                            )
                        })?;
                        out = out.replace(key, value);
                    }
                }
                if let Some(start) = out.find('{')
                    && out[start..].contains('}')
                {
                    bail!(
                        "{}: unknown placeholder in {part:?} (known: {{dir}}, {{out}}, {{python}}, {{bin}}; in {})",
                        self.name,
                        self.manifest_path().display()
                    );
                }
                Ok(out)
            })
            .collect()
    }

    /// Its build output folder on this machine: `target/interop/impl/<name>`.
    pub fn out_dir(&self) -> PathBuf {
        workspace::root()
            .join("target/interop/impl")
            .join(&self.name)
    }

    /// The placeholders' values for commands run on this machine. Prepares what they name: builds the
    /// implementation if its inputs changed, makes the Python environment or the Rust binaries.
    pub fn local_places(&self) -> Result<Places> {
        self.ensure_built()?;
        Ok(Places {
            dir: self.dir.display().to_string(),
            out: self.out_dir().display().to_string(),
            python: match self.runtime {
                Runtime::Python => Some(crate::python::ensure()?.python.display().to_string()),
                _ => None,
            },
            bin: match self.runtime {
                Runtime::Rust => Some(workspace::rust_binary_dir()?.display().to_string()),
                _ => None,
            },
        })
    }

    /// Runs the build step if the hash of its command and inputs differs from the stamp of the last build. Once
    /// per process, and safe against concurrent processes.
    pub fn ensure_built(&self) -> Result<()> {
        let Some(build) = &self.build else {
            return Ok(());
        };
        static DONE: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
        let mut done = DONE.lock().expect("build lock");
        if let Some(outcome) = done.get(&self.name) {
            return outcome.clone().map_err(anyhow::Error::msg);
        }
        let outcome = self.build(build).map_err(|e| format!("{e:#}"));
        done.insert(self.name.clone(), outcome.clone());
        outcome.map_err(anyhow::Error::msg)
    }

    fn build(&self, build: &Build) -> Result<()> {
        let out = self.out_dir();
        fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let lock_path = out.with_extension("lock");
        let lock = fs::File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let stamp = self.build_digest(build)?;
        let stamp_path = out.join(".interop-build-stamp");
        if fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(());
        }
        let places = Places {
            dir: self.dir.display().to_string(),
            out: out.display().to_string(),
            python: None,
            bin: None,
        };
        let command = self.expand(&build.command, &places)?;
        let started = Instant::now();
        eprintln!(
            "interop: building {} ({}) ...",
            self.name,
            command.join(" ")
        );
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .current_dir(&self.dir)
            .envs(&self.env)
            .envs(&build.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("{}: cannot start the build {command:?}", self.name))?;
        // Both streams, prefixed, as they come; the last lines are kept for the error.
        let tail = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
        let pipes: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ];
        let readers: Vec<_> = pipes
            .into_iter()
            .map(|pipe| {
                let tail = tail.clone();
                let name = self.name.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                        let _ = writeln!(std::io::stderr(), "[build {name}] {line}");
                        let mut tail = tail.lock().expect("tail");
                        tail.push(line);
                        if tail.len() > 30 {
                            tail.remove(0);
                        }
                    }
                })
            })
            .collect();
        let status = child.wait().context("waiting for the build")?;
        for reader in readers {
            let _ = reader.join();
        }
        if !status.success() {
            bail!(
                "building {} failed ({status}): {}\n--- its last lines ---\n{}",
                self.name,
                command.join(" "),
                tail.lock().expect("tail").join("\n")
            );
        }
        fs::write(&stamp_path, &stamp)
            .with_context(|| format!("cannot write {}", stamp_path.display()))?;
        eprintln!(
            "interop: built {} in {:.1} s",
            self.name,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn build_digest(&self, build: &Build) -> Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(format!("{:?}{:?}{:?}", build.command, build.env, self.env));
        for input in &build.inputs {
            let path = self.dir.join(input);
            let mut files = Vec::new();
            list_files(&path, &mut files).with_context(|| {
                format!(
                    "{}: build input {input}: cannot read {}",
                    self.name,
                    path.display()
                )
            })?;
            files.sort();
            for file in files {
                hasher.update(file.display().to_string());
                hasher.update(
                    fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?,
                );
            }
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

fn list_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in fs::read_dir(path)? {
            let entry = entry?.path();
            let skip = entry
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.') || n == "__pycache__");
            if !skip {
                list_files(&entry, out)?;
            }
        }
    } else {
        fs::metadata(path)?;
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Every implementation the harness knows.
#[derive(Debug)]
pub struct Registry {
    by_name: BTreeMap<&'static str, Implementation>,
    folders: Vec<PathBuf>,
}

impl Registry {
    /// The ids, sorted by name.
    pub fn ids(&self) -> Vec<Impl> {
        self.by_name.keys().map(|&n| Impl(n)).collect()
    }

    /// Every implementation.
    pub fn implementations(&self) -> impl Iterator<Item = (Impl, &Implementation)> {
        self.by_name.iter().map(|(&n, i)| (Impl(n), i))
    }

    /// Where its manifests were read from, for error messages.
    pub fn sources(&self) -> String {
        let mut sources = vec![format!(
            "{}/*/{MANIFEST}",
            workspace::root().join("implementations").display()
        )];
        sources.extend(
            self.folders
                .iter()
                .map(|f| f.join(MANIFEST).display().to_string()),
        );
        sources.join(", ")
    }

    /// The implementations serving `service`.
    pub fn servers(&self, service: Service) -> Vec<Impl> {
        self.implementations()
            .filter(|(_, i)| i.serves(service))
            .map(|(id, _)| id)
            .collect()
    }

    /// The implementations whose client calls `service`.
    pub fn clients(&self, service: Service) -> Vec<Impl> {
        self.implementations()
            .filter(|(_, i)| i.calls(service))
            .map(|(id, _)| id)
            .collect()
    }
}

/// The implementation a stack uses for a service the test does not vary (an upstream it only needs to be there):
/// `INTEROP_REFERENCE`, else `rust`.
pub fn reference() -> Result<Impl> {
    let name = std::env::var("INTEROP_REFERENCE").unwrap_or_else(|_| "rust".into());
    name.parse()
        .map_err(|e: String| anyhow!("INTEROP_REFERENCE: {e}"))
}

static EXTRA: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static REGISTRY: OnceLock<Result<Registry, String>> = OnceLock::new();

/// Adds an implementation folder (or its manifest's path) to those read; only before the registry is first used.
pub fn add(path: &Path) -> Result<()> {
    if REGISTRY.get().is_some() {
        bail!(
            "the registry is already loaded: add {} before first use",
            path.display()
        );
    }
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    EXTRA.lock().expect("registry folders").push(dir);
    Ok(())
}

/// The registry, read on first use.
pub fn get() -> Result<&'static Registry> {
    REGISTRY
        .get_or_init(|| load().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

fn load() -> Result<Registry> {
    let root = workspace::root().join("implementations");
    let mut dirs = Vec::new();
    let entries = fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))?;
    for entry in entries {
        let dir = entry?.path();
        if dir.join(MANIFEST).is_file() {
            dirs.push(dir);
        }
    }
    dirs.sort();
    let mut folders = EXTRA.lock().expect("registry folders").clone();
    if let Some(list) = std::env::var_os("INTEROP_IMPLEMENTATIONS") {
        folders.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut by_name: BTreeMap<&'static str, Implementation> = BTreeMap::new();
    for dir in dirs.into_iter().chain(folders.iter().cloned()) {
        let dir = fs::canonicalize(&dir)
            .with_context(|| format!("implementation folder {}: not found", dir.display()))?;
        let implementation = read(&dir)?;
        if let Some(other) = by_name.get(implementation.name.as_str()) {
            if other.dir == implementation.dir {
                continue;
            }
            bail!(
                "two implementations are called {}: {} and {}",
                implementation.name,
                other.manifest_path().display(),
                implementation.manifest_path().display()
            );
        }
        let name: &'static str = Box::leak(implementation.name.clone().into_boxed_str());
        by_name.insert(name, implementation);
    }
    if by_name.is_empty() {
        bail!(
            "no implementation manifests in {}/*/{MANIFEST}",
            root.display()
        );
    }
    Ok(Registry { by_name, folders })
}

/// Reads and checks the manifest in `dir`.
pub fn read(dir: &Path) -> Result<Implementation> {
    let path = dir.join(MANIFEST);
    let text =
        fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Implementation::from_manifest(manifest, dir.to_path_buf())
        .with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Result<Implementation> {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MANIFEST), text).unwrap();
        read(dir.path())
    }

    #[test]
    fn the_references_are_registered() {
        let names: Vec<&str> = Impl::all().iter().map(|i| i.name()).collect();
        assert!(
            names.contains(&"rust") && names.contains(&"python"),
            "{names:?}"
        );
    }

    #[test]
    fn an_unknown_implementation_is_named_with_the_known_ones() {
        let err = "cobol".parse::<Impl>().unwrap_err();
        assert!(
            err.starts_with("unknown implementation cobol; known: "),
            "{err}"
        );
        assert!(
            err.contains("python") && err.contains("manifests are read from"),
            "{err}"
        );
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let err = manifest("name = \"x\"\nruntime = \"native\"\n[services.discount]\nserver = [\"a\"]\nfeatures = []\nfeatur = 1\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `featur`"),
            "{err:#}"
        );
    }

    #[test]
    fn unknown_services_features_and_placeholders_are_refused() {
        let err =
            manifest("name = \"x\"\nruntime = \"native\"\n[services.cobol]\nserver = [\"a\"]\n")
                .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown service \"cobol\""),
            "{err:#}"
        );
        let err = manifest("name = \"x\"\nruntime = \"native\"\n[services.discount]\nserver = [\"a\"]\nfeatures = [\"teleport\"]\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown feature \"teleport\""),
            "{err:#}"
        );
        let ok = manifest("name = \"x\"\nruntime = \"native\"\n[services.discount]\nserver = [\"{out}/d\", \"{nope}\"]\n").unwrap();
        let places = Places {
            dir: "D".into(),
            out: "O".into(),
            python: None,
            bin: None,
        };
        let err = ok.server_command(Service::Discount, &places).unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown placeholder in \"{nope}\""),
            "{err:#}"
        );
    }

    #[test]
    fn placeholders_are_filled_in() {
        let ok = manifest("name = \"x\"\nruntime = \"python\"\n[services.discount]\nserver = [\"{python}\", \"{dir}/s.py\"]\n").unwrap();
        let places = Places {
            dir: "/d".into(),
            out: "/o".into(),
            python: Some("/py".into()),
            bin: None,
        };
        assert_eq!(
            ok.server_command(Service::Discount, &places).unwrap(),
            ["/py", "/d/s.py"]
        );
        let err = ok.server_command(Service::Catalog, &places).unwrap_err();
        assert!(
            format!("{err:#}").contains("x does not serve catalog"),
            "{err:#}"
        );
    }
}
