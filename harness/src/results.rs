//! Structured results: one JSON line per cell (name, axes, outcome, reason, duration), appended to a results file as
//! each cell ends. Every report (the terminal table, Markdown, JUnit XML, GitHub's step summary) is made from such
//! files, and shards merge by reading several.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As expected.
    Pass,
    /// Not as expected.
    Fail,
    /// Listed as failing, and failed as listed.
    Xfail,
    /// Listed as failing, but passed (a failure of the run: the list is stale).
    Xpass,
    /// Not run: an implementation does not claim what the cell needs.
    Skip,
}

impl Outcome {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "xpass",
            Outcome::Skip => "skip",
        }
    }

    /// Whether it fails the run.
    pub fn fails(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Xpass)
    }
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The cell's name.
    pub name: String,
    /// Its contract.
    pub contract: String,
    /// Its case.
    pub case: String,
    /// Its axes.
    pub axes: BTreeMap<String, String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why (a failure's first difference or error; a skip's missing feature; a known failure's evidence).
    pub reason: String,
    /// How long it took.
    pub duration_ms: u64,
    /// The case file and line.
    pub location: String,
    /// Where its services ran.
    pub backend: String,
}

/// Whether the pattern `pattern` names `name`: `*` stands for any text within one axis value or path segment (no
/// `/`, `,`, `[` or `]`), `**` for any text at all; everything else, brackets included, is literal (cell names hold
/// brackets, so glob character classes would get in the way).
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| go(rest, &n[i..])),
            [b'*', rest @ ..] => {
                for i in 0..=n.len() {
                    if go(rest, &n[i..]) {
                        return true;
                    }
                    if i < n.len() && matches!(n[i], b'/' | b',' | b'[' | b']') {
                        return false;
                    }
                }
                false
            }
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The results file of this run: `INTEROP_RESULTS`, else `target/interop/results.jsonl`.
pub fn default_path() -> PathBuf {
    std::env::var_os("INTEROP_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace::root().join("target/interop/results.jsonl"))
}

/// Appends `record` to `path` as one line (one write, so concurrent cells and processes do not interleave).
pub fn append(path: &Path, record: &Record) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut line = serde_json::to_string(record)?;
    line.push('\n');
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .with_context(|| format!("cannot append to {}", path.display()))
}

/// Reads results files (shards, runs); a cell recorded twice keeps its last record. An error names the file and
/// line of anything that is not a record, and says so when there are no records at all.
pub fn read(paths: &[PathBuf]) -> Result<Vec<Record>> {
    let mut by_name: BTreeMap<String, Record> = BTreeMap::new();
    for path in paths {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).with_context(|| {
                format!("{}:{}: not a result record", path.display(), number + 1)
            })?;
            by_name.insert(record.name.clone(), record);
        }
    }
    if by_name.is_empty() {
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!("no results in {}: did the matrix run?", files.join(", "));
    }
    Ok(by_name.into_values().collect())
}

/// Counts by outcome, in a fixed order.
pub fn totals(records: &[Record]) -> String {
    let count = |o: Outcome| records.iter().filter(|r| r.outcome == o).count();
    format!(
        "{} passed, {} failed, {} xfail, {} xpass, {} skipped",
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Xfail),
        count(Outcome::Xpass),
        count(Outcome::Skip)
    )
}

/// The cell name without the case: `[client=python,server=rust,security=mtls]`, the column of a table.
fn column(record: &Record) -> String {
    record
        .name
        .split_once('[')
        .map(|(_, axes)| format!("[{axes}"))
        .unwrap_or_default()
}

/// One table per contract: a row per case, a column per combination of axes (numbered, with a legend), then the
/// reasons of every cell that did not pass.
pub fn table(records: &[Record], markdown: bool) -> String {
    let mut out = String::new();
    let mut contracts: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for record in records {
        contracts.entry(&record.contract).or_default().push(record);
    }
    for (contract, records) in contracts {
        let mut columns: Vec<String> = records.iter().map(|r| column(r)).collect();
        columns.sort();
        columns.dedup();
        let mut rows: BTreeMap<&str, BTreeMap<String, Outcome>> = BTreeMap::new();
        for record in &records {
            rows.entry(&record.case)
                .or_default()
                .insert(column(record), record.outcome);
        }
        if markdown {
            let _ = writeln!(out, "## {contract}\n");
            for (i, c) in columns.iter().enumerate() {
                let _ = writeln!(out, "- [{}] `{c}`", i + 1);
            }
            let _ = writeln!(out);
            let header: Vec<String> = (1..=columns.len()).map(|i| format!("[{i}]")).collect();
            let _ = writeln!(out, "| case | {} |", header.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
            for (case, cells) in &rows {
                let marks: Vec<&str> = columns
                    .iter()
                    .map(|c| cells.get(c).map(|o| o.name()).unwrap_or(""))
                    .collect();
                let _ = writeln!(out, "| {case} | {} |", marks.join(" | "));
            }
        } else {
            let _ = writeln!(out, "== {contract}");
            for (i, c) in columns.iter().enumerate() {
                let _ = writeln!(out, "  [{}] {c}", i + 1);
            }
            let width = rows.keys().map(|c| c.len()).max().unwrap_or(4).max(4);
            let header: Vec<String> = (1..=columns.len())
                .map(|i| format!("{:>5}", format!("[{i}]")))
                .collect();
            let _ = writeln!(out, "{:<width$} {}", "case", header.join(""));
            for (case, cells) in &rows {
                let marks: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{:>5}", cells.get(c).map(|o| o.name()).unwrap_or("-")))
                    .collect();
                let _ = writeln!(out, "{case:<width$} {}", marks.join(""));
            }
        }
        let _ = writeln!(out);
        let noted: Vec<&&Record> = records
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .collect();
        if !noted.is_empty() {
            if markdown {
                let _ = writeln!(
                    out,
                    "<details><summary>{} cells did not pass</summary>\n",
                    noted.len()
                );
            }
            for record in noted {
                let first = record.reason.lines().next().unwrap_or_default();
                match markdown {
                    true => {
                        let _ = writeln!(
                            out,
                            "- **{}** `{}`: {}",
                            record.outcome.name(),
                            record.name,
                            first
                        );
                    }
                    false => {
                        let _ = writeln!(
                            out,
                            "  {:<5} {}: {first}",
                            record.outcome.name(),
                            record.name
                        );
                    }
                }
            }
            if markdown {
                let _ = writeln!(out, "\n</details>");
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(out, "matrix: {}", totals(records));
    out
}

/// The heading of a Markdown report: where, which commit, when, how long.
pub fn markdown_heading(records: &[Record]) -> String {
    let backends: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.backend.as_str()).collect();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::workspace::root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let cell_time: u64 = records.iter().map(|r| r.duration_ms).sum();
    format!(
        "# interop matrix\n\nbackend: {}; commit: {commit}; date: {date}; {} cells, {:.1} s of cell time\n\n",
        backends.into_iter().collect::<Vec<_>>().join(", "),
        records.len(),
        cell_time as f64 / 1000.0
    )
}

/// JUnit XML: a test suite per contract, a test case per cell; failures and xpasses are failures, skips skipped,
/// xfails pass with their reason in system-out.
pub fn junit(records: &[Record]) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("interop");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for record in records {
        let suite = suites
            .entry(&record.contract)
            .or_insert_with(|| TestSuite::new(record.contract.clone()));
        let status = match record.outcome {
            Outcome::Pass | Outcome::Xfail => TestCaseStatus::success(),
            Outcome::Fail | Outcome::Xpass => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(record.reason.lines().next().unwrap_or_default().to_string());
                status.set_description(record.reason.clone());
                status
            }
            Outcome::Skip => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(record.reason.clone());
                status
            }
        };
        let mut case = TestCase::new(record.name.clone(), status);
        case.set_classname(record.contract.clone());
        case.set_time(std::time::Duration::from_millis(record.duration_ms));
        if record.outcome == Outcome::Xfail {
            case.set_system_out(format!("xfail: {}", record.reason));
        }
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().context("cannot write the JUnit XML")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, outcome: Outcome, reason: &str) -> Record {
        let (path, _) = name.split_once('[').unwrap();
        let (contract, case) = path.split_once('/').unwrap();
        Record {
            name: name.into(),
            contract: contract.into(),
            case: case.into(),
            axes: BTreeMap::new(),
            outcome,
            reason: reason.into(),
            duration_ms: 3,
            location: "contracts/x/contract.toml:1".into(),
            backend: "local".into(),
        }
    }

    #[test]
    fn patterns_match_within_an_axis_or_across_everything() {
        let name = "discount/customer_1[client=python,server=rust,security=mtls]";
        assert!(matches(name, name));
        assert!(matches(
            "discount/*[client=python,server=*,security=mtls]",
            name
        ));
        assert!(matches("discount/**", name));
        assert!(matches("**security=mtls]", name));
        assert!(!matches("discount/*[client=*]", name));
        assert!(!matches("catalog/**", name));
        assert!(!matches("discount/*", name));
    }

    #[test]
    fn the_reports_come_from_the_same_records_and_carry_the_reasons() {
        let records = vec![
            record(
                "discount/a[client=rust,server=rust,security=tls]",
                Outcome::Pass,
                "",
            ),
            record(
                "discount/a[client=rust,server=go,security=tls]",
                Outcome::Fail,
                "response.x: got 1, want 2\nmore",
            ),
            record(
                "discount/b[client=rust,server=go,security=tls]",
                Outcome::Xfail,
                "evidence",
            ),
            record(
                "discount/b[client=rust,server=rust,security=tls]",
                Outcome::Skip,
                "no mtls",
            ),
        ];
        let text = table(&records, false);
        assert!(text.contains("response.x: got 1, want 2"), "{text}");
        assert!(
            text.ends_with("matrix: 1 passed, 1 failed, 1 xfail, 0 xpass, 1 skipped\n"),
            "{text}"
        );
        let md = table(&records, true);
        assert!(md.contains("| a | fail | pass |"), "{md}");
        let xml = junit(&records).unwrap();
        assert!(
            xml.contains("tests=\"4\"") && xml.contains("failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("response.x: got 1, want 2"), "{xml}");
    }

    #[test]
    fn no_records_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("r.jsonl");
        fs::write(&empty, "").unwrap();
        let err = read(&[empty.clone()]).unwrap_err().to_string();
        assert!(err.starts_with("no results in"), "{err}");
        fs::write(&empty, "not json\n").unwrap();
        let err = format!("{:#}", read(&[empty]).unwrap_err());
        assert!(err.contains("r.jsonl:1: not a result record"), "{err}");
    }
}
