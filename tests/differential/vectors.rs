//! The wire vectors in `vectors/`: both languages decode each one, encode it again and render it to proto3 JSON (and
//! a Product through the Catalog's renderer), and must give what the files say. The files are written from
//! cases.rs by the generator below; a test fails when they differ from what it would write.
//!
//! Per case, in `vectors/ecommerce/<Message>/`: `<case>.bin` (the input, and what re-encoding must give back),
//! `<case>.json` (the JSON), `<case>.catalog.json` (Products: the Catalog's rendering of a list holding it),
//! `<case>.<lang>.bin` / `<case>.<lang>.json` (that language's output where a declared [`Quirk`] changes it), and
//! `<case>.rejected` instead of the outputs when both languages must refuse the bytes (with what each says).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cases::Lang;
use interop_services::catalog::render::render_products;
use interop_services::proto::FILE_DESCRIPTOR_SET;
use interop_services::proto::ecommerce::{
    Customer, DiscountRequest, DiscountResponse, DiscountValue, Product,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use pyo3::types::PyBytes;

use crate::cases::{self, Case, Output, Quirk};
use crate::python::{call_batch, with_python};

/// The proto package the vectors belong to, and their folder under `vectors/`.
const PACKAGE: &str = "ecommerce";

/// What one language made of a vector's bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    /// It refused them, saying this.
    Rejected(String),
    /// It decoded them.
    Read {
        /// The message encoded again.
        wire: Vec<u8>,
        /// Its proto3 JSON.
        json: String,
        /// For a Product, the Catalog's rendering of `[product]`.
        catalog: Option<String>,
    },
}

/// A vector to read: its message type and bytes.
#[derive(Clone, Debug)]
pub struct Vector {
    message: String,
    name: String,
    bytes: Vec<u8>,
}

impl Vector {
    /// A case's vector.
    fn of(case: &Case) -> Vector {
        Vector {
            message: case.message.into(),
            name: case.name.into(),
            bytes: case.bytes(),
        }
    }

    fn label(&self) -> String {
        format!("{PACKAGE}/{}/{}", self.message, self.name)
    }
}

/// The folder holding one package's vectors.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(PACKAGE)
}

// ---- Reading, in each language ----

fn descriptors() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set rust-services embeds")
    })
}

/// prost decodes into the generated struct and encodes that; the JSON is the struct's, written through
/// prost-reflect from the descriptors rust-services was built from.
fn read_with_rust(vector: &Vector) -> Reading {
    fn read<M: Message + Default>(vector: &Vector, catalog: Option<fn(&M) -> String>) -> Reading {
        let decoded = match M::decode(vector.bytes.as_slice()) {
            Ok(decoded) => decoded,
            Err(error) => return Reading::Rejected(error.to_string()),
        };
        let wire = decoded.encode_to_vec();
        let descriptor = descriptors()
            .get_message_by_name(&format!("{PACKAGE}.{}", vector.message))
            .expect("a message of the package");
        let dynamic = DynamicMessage::decode(descriptor, wire.as_slice())
            .expect("prost-reflect reads what prost wrote");
        Reading::Read {
            json: serde_json::to_string(&dynamic).expect("every message renders to JSON"),
            catalog: catalog.map(|render| render(&decoded)),
            wire,
        }
    }
    match vector.message.as_str() {
        "Customer" => read::<Customer>(vector, None),
        "Product" => read::<Product>(
            vector,
            Some(|product| render_products(std::slice::from_ref(product))),
        ),
        "DiscountValue" => read::<DiscountValue>(vector, None),
        "DiscountRequest" => read::<DiscountRequest>(vector, None),
        "DiscountResponse" => read::<DiscountResponse>(vector, None),
        other => panic!("no vectors for message {other}: add it to read_with_rust"),
    }
}

/// Python's protobuf (upb) and json_format, in the embedded interpreter, all vectors in one call.
fn read_with_python(vectors: &[Vector]) -> Vec<Reading> {
    with_python(|py, side| {
        let inputs: Vec<_> = vectors
            .iter()
            .map(|v| (v.message.as_str(), PyBytes::new(py, &v.bytes)))
            .collect();
        call_batch::<_, (Vec<u8>, String, Option<String>)>(
            py,
            side,
            "interop_differential:wire_vector",
            inputs,
        )
        .into_iter()
        .map(|answer| match answer {
            Ok((wire, json, catalog)) => Reading::Read {
                wire,
                json,
                catalog,
            },
            Err(error) => Reading::Rejected(error),
        })
        .collect()
    })
}

fn read_with(lang: Lang, vectors: &[Vector]) -> Vec<Reading> {
    match lang {
        Lang::Rust => vectors.iter().map(read_with_rust).collect(),
        Lang::Python => read_with_python(vectors),
    }
}

// ---- The generator ----

/// Every file the vectors consist of, by path under the package folder, from the cases and both languages'
/// readings; panics listing every case whose readings break its declared expectations.
fn generate() -> BTreeMap<PathBuf, Vec<u8>> {
    let cases = cases::all();
    let vectors: Vec<Vector> = cases.iter().map(Vector::of).collect();
    let rust = read_with(Lang::Rust, &vectors);
    let python = read_with(Lang::Python, &vectors);
    let mut files = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = PathBuf::from(case.message);
        let file = |suffix: &str| dir.join(format!("{}.{suffix}", case.name));
        files.insert(file("bin"), vectors[i].bytes.clone());
        match expected_files(case, &vectors[i].bytes, &rust[i], &python[i]) {
            Ok(expected) => files.extend(
                expected
                    .into_iter()
                    .map(|(suffix, bytes)| (file(&suffix), bytes)),
            ),
            Err(problem) => problems.push(format!(
                "{}: {problem}\n  rust:   {:?}\n  python: {:?}",
                vectors[i].label(),
                Shown(&rust[i]),
                Shown(&python[i])
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "the readings break the cases' declared expectations (fix the code, or declare a Quirk in cases.rs):\n{}",
        problems.join("\n")
    );
    files
}

/// The files besides `<case>.bin`, by suffix, or why the readings do not fit the case.
fn expected_files(
    case: &Case,
    input: &[u8],
    rust: &Reading,
    python: &Reading,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let (rust_read, python_read) = match (rust, python) {
        (Reading::Rejected(rust), Reading::Rejected(python)) if case.rejected => {
            return Ok(vec![(
                "rejected".into(),
                format!("rust: {rust}\npython: {python}\n").into_bytes(),
            )]);
        }
        (Reading::Read { .. }, Reading::Read { .. }) if !case.rejected => (rust, python),
        _ if case.rejected => return Err("both languages must refuse these bytes".into()),
        _ => return Err("both languages must decode these bytes".into()),
    };
    let outputs = |reading: &Reading| match reading {
        Reading::Read {
            wire,
            json,
            catalog,
        } => (
            wire.clone(),
            format!("{json}\n").into_bytes(),
            catalog.clone(),
        ),
        Reading::Rejected(_) => unreachable!("matched above"),
    };
    let by_lang = [
        (Lang::Rust, outputs(rust_read)),
        (Lang::Python, outputs(python_read)),
    ];
    let mut files = Vec::new();
    // The shared JSON is the one no quirk changes.
    let shared_json = match by_lang
        .iter()
        .find(|(lang, _)| !case.differs(*lang, Output::Json))
    {
        Some((_, (_, json, _))) => json.clone(),
        None => return Err("a quirk may change the JSON of one language, not both".into()),
    };
    files.push(("json".to_string(), shared_json.clone()));
    for (lang, (wire, json, _)) in &by_lang {
        for (output, got, shared, extension) in [
            (Output::Wire, wire, input, "bin"),
            (Output::Json, json, shared_json.as_slice(), "json"),
        ] {
            let declared = case.differs(*lang, output);
            if declared != (got.as_slice() != shared) {
                return Err(format!(
                    "{}'s {output:?} {} the shared one, but the quirks {:?} say it {}",
                    lang.name(),
                    if declared { "equals" } else { "differs from" },
                    case.quirks,
                    if declared { "differs" } else { "does not" },
                ));
            }
            if declared {
                files.push((format!("{}.{extension}", lang.name()), got.clone()));
            }
        }
    }
    match (&by_lang[0].1.2, &by_lang[1].1.2) {
        (Some(rust), Some(python)) if rust == python => {
            files.push(("catalog.json".into(), rust.clone().into_bytes()));
        }
        (None, None) => {}
        _ => return Err("the Catalog renderings differ, and no quirk may excuse that".into()),
    }
    Ok(files)
}

/// Every file now under the package folder, by path under it.
fn stored_files() -> BTreeMap<PathBuf, Vec<u8>> {
    let base = package_dir();
    let mut files = BTreeMap::new();
    for dir in fs::read_dir(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display())) {
        let dir = dir.expect("a folder entry").path();
        for file in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.expect("a folder entry").path();
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files.insert(
                path.strip_prefix(&base).expect("under base").to_path_buf(),
                bytes,
            );
        }
    }
    files
}

/// The stored vectors: every input file, `<Message>/<case>.bin` (names with one dot: the per-language outputs have
/// two).
fn stored_vectors(files: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<Vector> {
    files
        .iter()
        .filter_map(|(path, bytes)| {
            let name = path.file_name()?.to_str()?.strip_suffix(".bin")?;
            if name.contains('.') {
                return None;
            }
            Some(Vector {
                message: path.parent()?.to_str()?.to_string(),
                name: name.to_string(),
                bytes: bytes.clone(),
            })
        })
        .collect()
}

/// (Re)writes `vectors/`: run after changing cases.rs, then review the diff like any other change.
#[test]
#[ignore = "the generator: rewrites vectors/ (cargo test --test differential -- --ignored write_vectors)"]
fn write_vectors() {
    let base = package_dir();
    let generated = generate();
    for stale in stored_files_if_any()
        .keys()
        .filter(|path| !generated.contains_key(*path))
    {
        fs::remove_file(base.join(stale)).expect("remove a stale vector file");
    }
    for (path, bytes) in &generated {
        let path = base.join(path);
        fs::create_dir_all(path.parent().expect("in a message folder")).expect("make the folder");
        fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    eprintln!("wrote {} files under {}", generated.len(), base.display());
}

fn stored_files_if_any() -> BTreeMap<PathBuf, Vec<u8>> {
    if package_dir().is_dir() {
        stored_files()
    } else {
        BTreeMap::new()
    }
}

// ---- The tests ----

#[test]
fn differential_vectors_are_generated() {
    let stored = stored_files();
    let generated = generate();
    let missing: Vec<_> = generated
        .keys()
        .filter(|p| !stored.contains_key(*p))
        .collect();
    let extra: Vec<_> = stored
        .keys()
        .filter(|p| !generated.contains_key(*p))
        .collect();
    let changed: Vec<_> = generated
        .iter()
        .filter(|(path, bytes)| stored.get(*path).is_some_and(|stored| stored != *bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "vectors/{PACKAGE} is not what the generator writes; run `cargo test --test differential -- --ignored \
         write_vectors` and review the diff.\n  missing: {missing:?}\n  not generated: {extra:?}\n  different: {changed:?}",
    );
}

#[test]
fn differential_vectors_rust() {
    check_stored(Lang::Rust);
}

#[test]
fn differential_vectors_python() {
    check_stored(Lang::Python);
}

/// Every stored vector, read by `lang`, gives the stored outputs (that language's own files where a quirk made them).
fn check_stored(lang: Lang) {
    let files = stored_files();
    let vectors = stored_vectors(&files);
    assert!(
        vectors.len() >= 40,
        "only {} vectors in vectors/{PACKAGE}",
        vectors.len()
    );
    let readings = read_with(lang, &vectors);
    let mut failures = Vec::new();
    for (vector, reading) in vectors.iter().zip(&readings) {
        let file = |suffix: &str| {
            let path = PathBuf::from(&vector.message).join(format!("{}.{suffix}", vector.name));
            files.get(&path).cloned()
        };
        let own_or_shared = |extension: &str| {
            file(&format!("{}.{extension}", lang.name()))
                .or_else(|| file(extension))
                .unwrap_or_else(|| panic!("{}: no .{extension} file", vector.label()))
        };
        let expected = match file("rejected") {
            Some(said) => {
                let said = String::from_utf8(said).expect("UTF-8");
                let prefix = format!("{}: ", lang.name());
                Reading::Rejected(
                    said.lines()
                        .find_map(|line| line.strip_prefix(&prefix))
                        .unwrap_or_default()
                        .to_string(),
                )
            }
            None => Reading::Read {
                wire: own_or_shared("bin"),
                json: String::from_utf8(own_or_shared("json"))
                    .expect("UTF-8")
                    .trim_end_matches('\n')
                    .to_string(),
                catalog: file("catalog.json").map(|c| String::from_utf8(c).expect("UTF-8")),
            },
        };
        if *reading != expected {
            failures.push((vector, expected, reading));
        }
    }
    if let Some((vector, expected, reading)) = failures.first() {
        panic!(
            "{}: {} of {} vectors differ from the stored files; the first is {} (input {})\n  stored: {:?}\n  {}: {:?}",
            lang.name(),
            failures.len(),
            vectors.len(),
            vector.label(),
            hex(&vector.bytes),
            Shown(expected),
            lang.name(),
            Shown(reading),
        );
    }
    eprintln!(
        "{}: all {} vectors read as stored",
        lang.name(),
        vectors.len()
    );
}

/// What each language does with fields its schema lacks, stated independently of the stored files: prost drops them
/// at every depth; Python keeps them and writes them after the known fields.
#[test]
fn differential_unknown_fields() {
    let cases: Vec<Case> = cases::all()
        .into_iter()
        .filter(|case| case.input.has_unknown())
        .collect();
    assert!(
        cases.len() >= 5,
        "only {} cases with unknown fields",
        cases.len()
    );
    let vectors: Vec<Vector> = cases.iter().map(Vector::of).collect();
    for (lang, expected) in [
        (
            Lang::Rust,
            Box::new(|case: &Case| case.input.without_unknown().bytes())
                as Box<dyn Fn(&Case) -> Vec<u8>>,
        ),
        (
            Lang::Python,
            Box::new(|case: &Case| case.input.unknown_last().bytes()),
        ),
    ] {
        for ((case, vector), reading) in cases.iter().zip(&vectors).zip(read_with(lang, &vectors)) {
            let Reading::Read { wire, .. } = &reading else {
                panic!(
                    "{}: {} refused it: {reading:?}",
                    vector.label(),
                    lang.name()
                );
            };
            assert_eq!(
                hex(wire),
                hex(&expected(case)),
                "{}: {} re-encoded {} as shown (left), expected the right",
                vector.label(),
                lang.name(),
                hex(&vector.bytes),
            );
        }
    }
    assert!(
        cases
            .iter()
            .all(|case| case.quirks.contains(&Quirk::ProstDropsUnknownFields))
    );
}

/// The Catalog's renderer over a list of many products (every Product vector both languages decode) in one
/// response: separators and the order of products, beyond each product alone.
#[test]
fn differential_catalog_render_products() {
    let products: Vec<Vector> = cases::all()
        .iter()
        .filter(|case| case.message == "Product" && !case.rejected)
        .map(Vector::of)
        .collect();
    let decoded: Vec<Product> = products
        .iter()
        .map(|v| Product::decode(v.bytes.as_slice()).expect("a Product"))
        .collect();
    let rust = render_products(&decoded);
    let wires: Vec<Vec<u8>> = products.iter().map(|v| v.bytes.clone()).collect();
    let python = with_python(|py, side| {
        call_batch::<_, String>(
            py,
            side,
            "interop_differential:render_product_list",
            vec![(wires,)],
        )
    });
    let python = python
        .into_iter()
        .next()
        .expect("one answer")
        .unwrap_or_else(|e| panic!("Python's render_products raised: {e}"));
    assert!(products.len() >= 10, "only {} products", products.len());
    assert_eq!(
        rust,
        python,
        "render_products over {} products: Rust (left) and Python (right) differ",
        products.len()
    );
}

// ---- Showing bytes ----

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reading with its bytes in hex, for failure messages.
struct Shown<'a>(&'a Reading);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Reading::Rejected(said) => write!(f, "rejected: {said}"),
            Reading::Read {
                wire,
                json,
                catalog,
            } => {
                write!(f, "wire {} json {json}", hex(wire))?;
                if let Some(catalog) = catalog {
                    write!(f, " catalog {}", catalog.trim_end())?;
                }
                Ok(())
            }
        }
    }
}
