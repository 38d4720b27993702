//! The matrix report: `cargo test` output in, one table per contract (test file) out, cases × cells.
//!
//! A contract test is named by rstest from its case and its axes, e.g.
//! `products::case_1_user_1::catalog_2_python::discount_1_rust::security_2_mtls`; the row is the case
//! (`products/user_1`), the column the axes (`catalog=python/discount=rust/security=mtls`).

use std::collections::BTreeMap;
use std::fmt::Write;

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It was ignored.
    Skip,
}

/// Results of every contract, one table each.
#[derive(Debug, Default)]
pub struct Matrix {
    contracts: BTreeMap<String, Table>,
    known_failures: std::collections::BTreeSet<String>,
}

/// One contract's results, by case (rows) and cell (columns).
#[derive(Debug, Default)]
struct Table {
    cells: BTreeMap<String, BTreeMap<String, Outcome>>,
    columns: Vec<String>,
}

impl Matrix {
    /// Reads libtest's `test NAME ... ok|FAILED|ignored` lines, grouped by cargo's `Running tests/FILE.rs` lines
    /// (one contract per test file); other lines are ignored.
    pub fn from_test_output<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut matrix = Matrix::default();
        let mut contract = String::from("tests");
        for line in lines {
            if let Some(target) = line.trim().strip_prefix("Running ") {
                let file = target.split_whitespace().next().unwrap_or(target);
                contract = file
                    .trim_start_matches("tests/")
                    .trim_end_matches(".rs")
                    .to_string();
                continue;
            }
            let Some(rest) = line.strip_prefix("test ") else {
                continue;
            };
            let Some((name, result)) = rest.rsplit_once(" ... ") else {
                continue;
            };
            let outcome = match result.trim() {
                "ok" => Outcome::Pass,
                "FAILED" => Outcome::Fail,
                r if r.starts_with("ignored") => Outcome::Skip,
                _ => continue,
            };
            let (row, column) = split_name(name);
            let table = matrix.contracts.entry(contract.clone()).or_default();
            if !table.columns.contains(&column) {
                table.columns.push(column.clone());
                table.columns.sort();
            }
            table.cells.entry(row).or_default().insert(column, outcome);
        }
        matrix
    }

    /// Marks the cells of a known-failing list (`client/server/security/case  # why` lines) as `xfail`: their tests
    /// pass because the case failed as listed.
    pub fn with_known_failures(mut self, list: &str) -> Self {
        self.known_failures = list
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default().trim())
            .filter(|entry| !entry.is_empty())
            .map(str::to_string)
            .collect();
        self
    }

    fn symbol(&self, row: &str, column: &str, outcome: Option<&Outcome>) -> &'static str {
        let case = row.rsplit('/').next().unwrap_or(row);
        let values: Vec<&str> = column
            .split('/')
            .filter_map(|axis| axis.split_once('=').map(|(_, v)| v))
            .collect();
        let known = self
            .known_failures
            .contains(&format!("{}/{case}", values.join("/")));
        match outcome {
            Some(Outcome::Pass) if known => "xfail",
            _ => symbol(outcome),
        }
    }

    fn outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.contracts
            .values()
            .flat_map(|t| t.cells.values())
            .flat_map(|r| r.values().copied())
    }

    /// Whether anything ran and nothing failed.
    pub fn all_passed(&self) -> bool {
        self.outcomes().next().is_some() && self.outcomes().all(|o| o != Outcome::Fail)
    }

    /// Plain-text tables for a terminal, ending with a `matrix: N passed, N failed, N skipped` line.
    pub fn text_table(&self) -> String {
        let mut out = String::new();
        for (contract, table) in &self.contracts {
            let _ = writeln!(out, "== {contract}");
            table.write_text(&mut out, |r, c, o| self.symbol(r, c, o));
            out.push('\n');
        }
        let count = |o| self.outcomes().filter(|&x| x == o).count();
        let (passed, failed, skipped) = (
            count(Outcome::Pass),
            count(Outcome::Fail),
            count(Outcome::Skip),
        );
        let _ = writeln!(
            out,
            "matrix: {passed} passed, {failed} failed, {skipped} skipped"
        );
        out
    }

    /// The same tables in Markdown.
    pub fn markdown_table(&self) -> String {
        let mut out = String::new();
        for (contract, table) in &self.contracts {
            let _ = writeln!(out, "### {contract}\n");
            table.write_markdown(&mut out, |r, c, o| self.symbol(r, c, o));
            out.push('\n');
        }
        out
    }
}

impl Table {
    fn write_text(
        &self,
        out: &mut String,
        symbol: impl Fn(&str, &str, Option<&Outcome>) -> &'static str,
    ) {
        for (i, column) in self.columns.iter().enumerate() {
            let _ = writeln!(out, "  [{}] {column}", i + 1);
        }
        let width = self.cells.keys().map(String::len).max().unwrap_or(4).max(4);
        let _ = write!(out, "{:width$}", "case");
        for i in 0..self.columns.len() {
            let _ = write!(out, " {:>5}", format!("[{}]", i + 1));
        }
        out.push('\n');
        for (row, results) in &self.cells {
            let _ = write!(out, "{row:width$}");
            for column in &self.columns {
                let _ = write!(out, " {:>5}", symbol(row, column, results.get(column)));
            }
            out.push('\n');
        }
    }

    fn write_markdown(
        &self,
        out: &mut String,
        symbol: impl Fn(&str, &str, Option<&Outcome>) -> &'static str,
    ) {
        out.push_str("| case |");
        for column in &self.columns {
            let _ = write!(out, " {column} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(self.columns.len()));
        out.push('\n');
        for (row, results) in &self.cells {
            let _ = write!(out, "| {row} |");
            for column in &self.columns {
                let _ = write!(out, " {} |", symbol(row, column, results.get(column)));
            }
            out.push('\n');
        }
    }
}

fn symbol(outcome: Option<&Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "FAIL",
        Some(Outcome::Skip) => "skip",
        None => "-",
    }
}

/// `products::case_1_user_1::catalog_2_python::security_2_mtls` → (`products/user_1`, `catalog=python/security=mtls`).
fn split_name(name: &str) -> (String, String) {
    let mut row = Vec::new();
    let mut axes = Vec::new();
    for (i, part) in name.split("::").enumerate() {
        if let Some(case) = part
            .strip_prefix("case_")
            .and_then(|r| r.split_once('_'))
            .map(|(_, c)| c)
        {
            row.push(case.to_string());
        } else if let Some((axis, value)) = axis_value(part).filter(|_| i > 0) {
            axes.push(format!("{axis}={value}"));
        } else {
            row.push(part.to_string());
        }
    }
    // A test outside any matrix is a row of its own with a single result.
    (
        row.join("/"),
        if axes.is_empty() {
            "result".to_string()
        } else {
            axes.join("/")
        },
    )
}

/// `catalog_2_python` → (`catalog`, `python`): rstest's `<arg>_<index>_<value>`.
fn axis_value(part: &str) -> Option<(&str, &str)> {
    let mut pieces = part.splitn(3, '_');
    let (axis, index, value) = (pieces.next()?, pieces.next()?, pieces.next()?);
    (index.parse::<u32>().is_ok() && !axis.is_empty()).then_some((axis, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_case_and_axes() {
        assert_eq!(
            split_name(
                "products::case_1_user_1::catalog_2_python::discount_1_rust::security_2_mtls"
            ),
            (
                "products/user_1".into(),
                "catalog=python/discount=rust/security=mtls".into()
            )
        );
        assert_eq!(
            split_name("discount_stopped::catalog_1_rust::discount_1_rust::security_1_tls"),
            (
                "discount_stopped".into(),
                "catalog=rust/discount=rust/security=tls".into()
            )
        );
        assert_eq!(
            split_name("rust_catalog_against_the_tutorial"),
            ("rust_catalog_against_the_tutorial".into(), "result".into())
        );
    }

    #[test]
    fn a_failure_fails_the_matrix() {
        let output = [
            "     Running tests/catalog.rs (target/debug/deps/catalog-0123)",
            "test products::case_1_user_1::catalog_1_rust::security_1_tls ... ok",
            "test products::case_1_user_1::catalog_2_python::security_1_tls ... FAILED",
            "random line",
        ];
        let matrix = Matrix::from_test_output(output);
        assert!(!matrix.all_passed());
        let text = matrix.text_table();
        assert!(text.starts_with("== catalog\n"), "{text}");
        assert!(text.contains("FAIL"), "{text}");
        assert!(
            text.ends_with("matrix: 1 passed, 1 failed, 0 skipped\n"),
            "{text}"
        );
        assert!(
            !Matrix::from_test_output([]).all_passed(),
            "an empty run is not a pass"
        );
    }

    #[test]
    fn known_failures_show_as_xfail() {
        let output = [
            "     Running tests/grpc_interop.rs (target/debug/deps/grpc_interop-0123)",
            "test grpc_interop::case_17_zip::client_1_rust::server_2_python::security_1_tls ... ok",
            "test grpc_interop::case_17_zip::client_1_rust::server_1_rust::security_1_tls ... ok",
        ];
        let list = "# comment\nrust/python/tls/zip  # no such switch\n";
        let text = Matrix::from_test_output(output)
            .with_known_failures(list)
            .text_table();
        assert!(text.contains("grpc_interop/zip xfail  pass"), "{text}");
    }
}
