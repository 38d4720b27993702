//! The matrix, generated at run time: cells = contract cases × an implementation per axis × security mode, from the
//! registry and the contracts. A cell's name says its axes and is the same string in the test list, in failures and
//! in every report: `discount/customer_1[client=python,server=rust,security=mtls]`.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::certs::CLIENT_IDENTITY;
use crate::contract::{self, Case, Contract, Request};
use crate::registry::{self, Impl, KnownFailing};
use crate::results::{self, Outcome, Record};
use crate::{Security, Service, Stack, StackPool, caller};

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    /// `contract/case[axis=impl,...,security=mode]`.
    pub name: String,
    /// Its contract.
    pub contract: &'static Contract,
    /// Its case.
    pub case: &'static Case,
    /// The implementation whose client calls.
    pub client: Impl,
    /// The implementation of each service of the stack.
    pub servers: BTreeMap<Service, Impl>,
    /// How every hop is secured.
    pub security: Security,
    /// The axes, in name order.
    pub axes: Vec<(String, String)>,
    /// Why it cannot run, if it cannot (a feature not claimed).
    pub skip: Option<String>,
    /// The known-failing entry that lists it, and whose entry it is.
    pub known: Option<(Impl, KnownFailing)>,
}

/// Every cell of every contract, for the implementations of the registry.
pub fn cells() -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for contract in contract::all()? {
        cells.extend(contract_cells(contract)?);
    }
    attach_known_failures(&mut cells)?;
    Ok(cells)
}

fn contract_cells(contract: &'static Contract) -> Result<Vec<Cell>> {
    let registry = registry::get()?;
    let clients = if contract.client_axis {
        registry.clients(contract.target)
    } else {
        vec![registry::reference()?]
    };
    // Every combination of the stack's servers, first service slowest.
    let mut stacks: Vec<BTreeMap<Service, Impl>> = vec![BTreeMap::new()];
    for &service in &contract.stack {
        let servers = registry.servers(service);
        stacks = stacks
            .into_iter()
            .flat_map(|stack| {
                servers.iter().map(move |&server| {
                    let mut stack = stack.clone();
                    stack.insert(service, server);
                    stack
                })
            })
            .collect();
    }
    let single = contract.stack.len() == 1;
    let mut cells = Vec::new();
    for case in &contract.cases {
        for &client in &clients {
            for stack in &stacks {
                for &security in &case.security {
                    let mut axes = Vec::new();
                    if contract.client_axis {
                        axes.push(("client".to_string(), client.to_string()));
                    }
                    for &service in &contract.stack {
                        let axis = if single {
                            "server".into()
                        } else {
                            service.to_string()
                        };
                        axes.push((axis, stack[&service].to_string()));
                    }
                    axes.push(("security".into(), security.to_string()));
                    let name = format!(
                        "{}/{}[{}]",
                        contract.name,
                        case.name,
                        axes.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    let skip = why_skip(contract, case, client, stack, security);
                    cells.push(Cell {
                        name,
                        contract,
                        case,
                        client,
                        servers: stack.clone(),
                        security,
                        axes,
                        skip,
                        known: None,
                    });
                }
            }
        }
    }
    Ok(cells)
}

/// What a cell needs that one of its implementations does not claim.
fn why_skip(
    contract: &Contract,
    case: &Case,
    client: Impl,
    stack: &BTreeMap<Service, Impl>,
    security: Security,
) -> Option<String> {
    if !client.manifest().calls(contract.target) {
        return Some(format!(
            "{client}'s client does not call {}",
            contract.target
        ));
    }
    for (&service, &server) in stack {
        let manifest = server.manifest();
        let mut needs: Vec<&str> = Vec::new();
        if security.tls() {
            needs.push("tls");
        }
        if security.mutual() {
            needs.push("mtls");
        }
        let calls_upstream = service.upstreams().iter().any(|u| stack.contains_key(u));
        if calls_upstream && security.tls() {
            needs.push("upstream-tls");
        }
        if service == contract.target {
            needs.extend(case.features.iter().map(String::as_str));
        }
        if let Some(missing) = needs.iter().find(|f| !manifest.has_feature(service, f)) {
            return Some(format!("{server}'s {service} does not claim {missing}"));
        }
    }
    None
}

/// Puts each implementation's known-failing entries on the cells they name; an entry that names no cell is an error.
fn attach_known_failures(cells: &mut [Cell]) -> Result<()> {
    let registry = registry::get()?;
    let mut unmatched = Vec::new();
    for (id, implementation) in registry.implementations() {
        for entry in &implementation.known_failing {
            let mut matched = false;
            for cell in cells.iter_mut() {
                let involved = cell.client == id || cell.servers.values().any(|&s| s == id);
                if involved && results::matches(&entry.cell, &cell.name) {
                    matched = true;
                    cell.known = Some((id, entry.clone()));
                }
            }
            if !matched {
                unmatched.push(format!(
                    "{}: known_failing {:?} names no cell of the matrix",
                    implementation.manifest_path().display(),
                    entry.cell
                ));
            }
        }
    }
    if !unmatched.is_empty() {
        bail!("{}", unmatched.join("\n"));
    }
    Ok(())
}

/// Which cells `interop verify` runs: those where `implementation` plays `role` (any role if none), in a contract
/// about `service` (any if none), whose other implementations are all in `against` (any if empty), matching
/// `filter` (a pattern, see [`results::matches`]).
pub fn select(
    cells: Vec<Cell>,
    implementation: Impl,
    service: Option<Service>,
    role: Option<Role>,
    against: &[Impl],
    filter: Option<&str>,
) -> Vec<Cell> {
    cells
        .into_iter()
        .filter(|cell| {
            let as_client = cell.client == implementation && cell.contract.client_axis;
            let as_server = cell.servers.values().any(|&s| s == implementation);
            let plays = match role {
                None => as_client || as_server,
                Some(Role::Client) => as_client,
                Some(Role::Server) => as_server,
            };
            let others_ok = against.is_empty()
                || std::iter::once(cell.client)
                    .chain(cell.servers.values().copied())
                    .all(|i| i == implementation || against.contains(&i));
            plays
                && others_ok
                && service.is_none_or(|s| cell.contract.stack.contains(&s))
                && filter.is_none_or(|f| results::matches(f, &cell.name))
        })
        .collect()
}

/// A role an implementation plays in a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its client calls.
    Client,
    /// It serves one of the stack's services.
    Server,
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client" => Ok(Role::Client),
            "server" => Ok(Role::Server),
            other => Err(format!("unknown role {other:?} (known: client, server)")),
        }
    }
}

/// Runs `cells` on `backend`, up to `concurrency` at once, appending each record to `results` as it ends.
pub async fn run_all(
    cells: Vec<Cell>,
    backend: Backend,
    concurrency: usize,
    results_path: &std::path::Path,
) -> Result<Vec<Record>> {
    use futures::StreamExt;
    let records: Vec<Record> = futures::stream::iter(cells)
        .map(|cell| async move { run(&cell, backend).await })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for record in &records {
        results::append(results_path, record)?;
    }
    Ok(records)
}

/// Stacks shared by the cells of this process: each distinct stack starts once.
static STACKS: StackPool = StackPool::new();

/// Runs one cell on `backend` and judges it: pass, fail, or for a listed cell xfail (it failed as listed) or xpass.
pub async fn run(cell: &Cell, backend: Backend) -> Record {
    let started = Instant::now();
    let (outcome, reason) = match &cell.skip {
        Some(why) => (Outcome::Skip, why.clone()),
        None => {
            let verdict = attempt(cell, backend).await;
            judge(cell, verdict)
        }
    };
    Record {
        name: cell.name.clone(),
        contract: cell.contract.name.clone(),
        case: cell.case.name.clone(),
        axes: cell.axes.iter().cloned().collect(),
        outcome,
        reason,
        duration_ms: started.elapsed().as_millis() as u64,
        location: cell.case.location.clone(),
        backend: backend.name().to_string(),
    }
}

/// A listed cell must fail, and as listed.
fn judge(cell: &Cell, verdict: Result<()>) -> (Outcome, String) {
    match (&cell.known, verdict) {
        (None, Ok(())) => (Outcome::Pass, String::new()),
        (None, Err(e)) => (Outcome::Fail, format!("{e:#}")),
        (Some((owner, entry)), Ok(())) => (
            Outcome::Xpass,
            format!(
                "listed as failing by {owner} ({:?}: {}), but it passes: remove the entry",
                entry.cell, entry.why
            ),
        ),
        (Some((owner, entry)), Err(e)) => {
            let failure = format!("{e:#}");
            if failure.contains(&entry.expect) {
                (Outcome::Xfail, format!("{} (listed by {owner})", entry.why))
            } else {
                (
                    Outcome::Fail,
                    format!(
                        "fails, but not as listed: got {}; listed by {owner}: {:?}",
                        failure.lines().next().unwrap_or_default(),
                        entry.expect
                    ),
                )
            }
        }
    }
}

async fn attempt(cell: &Cell, backend: Backend) -> Result<()> {
    let mut builder = Stack::builder().security(cell.security).backend(backend);
    for (&service, &server) in &cell.servers {
        builder = builder.service(service, server);
    }
    let stack = STACKS
        .get(builder)
        .await
        .context("the stack did not start")?;
    let target = cell.contract.target;
    let mut call = json!({
        "addr": stack.addr(target)?.to_string(),
        "server_name": target.name(),
        "timeout_ms": cell.case.timeout_ms,
    });
    if cell.security.tls() {
        let mut tls = json!({ "ca": stack.pki().ca_path() });
        if cell.security.mutual() {
            let (cert, key) = stack.pki().identity(CLIENT_IDENTITY)?;
            tls["cert"] = json!(cert);
            tls["key"] = json!(key);
        }
        call["tls"] = tls;
    }
    match &cell.case.request {
        Request::Grpc {
            method,
            request,
            metadata,
            ..
        } => {
            call["grpc"] = json!({ "method": method, "request": request, "metadata": metadata });
        }
        Request::Http {
            method,
            path,
            headers,
            body,
        } => {
            call["http"] =
                json!({ "method": method, "path": path, "headers": headers, "body": body });
        }
    }
    let outcome = caller::call(cell.client, call).await?;
    let logs = || {
        cell.servers
            .keys()
            .map(|&s| {
                format!(
                    "--- last lines of {s} ({}) ---\n{}",
                    cell.servers[&s],
                    stack.logs(s).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    compare(cell.case, &outcome).map_err(|e| {
        anyhow!(
            "{e:#}\n  case: {}\n  outcome: {outcome}\n{}",
            cell.case.location,
            logs()
        )
    })
}

/// Compares a client's outcome with the case's expectation; the error is the first difference, as a path.
pub fn compare(case: &Case, outcome: &Value) -> Result<()> {
    let expect = &case.expect;
    match &case.request {
        Request::Grpc { output, .. } => {
            let code = outcome["code"].as_str().unwrap_or("(none)");
            let want = expect.code.as_deref().unwrap_or("OK");
            if code != want {
                bail!(
                    "code: got {code}, want {want} (message: {:?}; {})",
                    outcome["message"].as_str().unwrap_or_default(),
                    outcome["error"]
                        .as_str()
                        .unwrap_or_default()
                        .lines()
                        .next()
                        .unwrap_or_default()
                );
            }
            if let Some(message) = &expect.message {
                let got = outcome["message"].as_str().unwrap_or_default();
                if got != message {
                    bail!("message: got {got:?}, want {message:?}");
                }
            }
            if let Some(response) = &expect.response {
                let want = contract::canonical(output, &contract::to_json(response.clone()))?;
                let got_json = &outcome["response"];
                if got_json.is_null() {
                    bail!("response: got none, want {want}");
                }
                let got = contract::canonical(output, got_json).with_context(|| {
                    format!("response: the client's is not proto3 JSON: {got_json}")
                })?;
                first_difference("response", &got, &want)?;
            }
            if let Some(details) = &expect.details {
                let want: Vec<Value> = details.iter().cloned().map(contract::to_json).collect();
                let got = outcome["details"].as_array().cloned().unwrap_or_default();
                first_difference("details", &Value::Array(got), &Value::Array(want))?;
            }
        }
        Request::Http { .. } => {
            let http = &outcome["http"];
            if http.is_null() {
                bail!(
                    "no HTTP response: {} {}",
                    outcome["code"].as_str().unwrap_or_default(),
                    outcome["error"]
                        .as_str()
                        .or(outcome["message"].as_str())
                        .unwrap_or_default()
                );
            }
            let status = http["status"].as_u64().unwrap_or(0);
            if let Some(want) = expect.status
                && status != u64::from(want)
            {
                bail!("status: got {status}, want {want}");
            }
            for (name, want) in &expect.headers {
                let got = http["headers"][name.to_ascii_lowercase()].as_str();
                if got != Some(want.as_str()) {
                    bail!("header {name}: got {got:?}, want {want:?}");
                }
            }
            if let Some(want) = &case.body {
                let got = http["body"].as_str().unwrap_or_default();
                if got != want {
                    let at = got
                        .bytes()
                        .zip(want.bytes())
                        .position(|(a, b)| a != b)
                        .unwrap_or(got.len().min(want.len()));
                    let around = |s: &str| {
                        let from = s.floor_char_boundary(at.saturating_sub(30));
                        let to = s.ceil_char_boundary((at + 30).min(s.len()));
                        s[from..to].to_string()
                    };
                    bail!(
                        "body: differs at byte {at} (got {} bytes, want {}): got ...{:?}..., want ...{:?}...",
                        got.len(),
                        want.len(),
                        around(got),
                        around(want)
                    );
                }
            }
        }
    }
    Ok(())
}

/// The first place where `got` and `want` differ, as a path: `response.product.discountValue.valueInCents: got
/// 89998, want 89999`.
pub fn first_difference(path: &str, got: &Value, want: &Value) -> Result<()> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let mut keys: Vec<&String> = g.keys().chain(w.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let here = format!("{path}.{key}");
                match (g.get(key), w.get(key)) {
                    (Some(a), Some(b)) => first_difference(&here, a, b)?,
                    (Some(a), None) => bail!("{here}: got {a}, want it absent"),
                    (None, Some(b)) => bail!("{here}: got it absent, want {b}"),
                    (None, None) => {}
                }
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                first_difference(&format!("{path}[{i}]"), a, b)?;
            }
            if g.len() != w.len() {
                bail!("{path}: got {} items, want {}", g.len(), w.len());
            }
            Ok(())
        }
        (a, b) if a == b => Ok(()),
        (a, b) => bail!("{path}: got {a}, want {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discount_case(name: &str) -> &'static Case {
        contract::all()
            .unwrap()
            .iter()
            .find(|c| c.name == "discount")
            .unwrap()
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
    }

    #[test]
    fn the_oracle_fails_on_a_wrong_value_and_names_its_path() {
        let case = discount_case("customer_1");
        let good = json!({"code": "OK", "response": {"product": {"id": 1, "slug": "iphone-x",
            "description": "64GB, black and iOS 12", "priceInCents": 99999,
            "discountValue": {"pct": 0.1, "valueInCents": 89999}}}});
        compare(case, &good).unwrap();
        let mut wrong = good.clone();
        wrong["response"]["product"]["discountValue"]["valueInCents"] = json!(89998);
        let err = compare(case, &wrong).unwrap_err().to_string();
        assert_eq!(
            err,
            "response.product.discountValue.valueInCents: got 89998, want 89999"
        );
        let mut absent = good.clone();
        absent["response"]["product"]
            .as_object_mut()
            .unwrap()
            .remove("discountValue");
        let err = compare(case, &absent).unwrap_err().to_string();
        assert!(
            err.starts_with("response.product.discountValue: got it absent"),
            "{err}"
        );
        let err = compare(case, &json!({"code": "UNAVAILABLE", "message": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("code: got UNAVAILABLE, want OK"), "{err}");
    }

    #[test]
    fn an_empty_discount_is_not_an_absent_one() {
        let case = discount_case("customer_2");
        let set = json!({"code": "OK", "response": {"product": {"id": 1, "slug": "iphone-x",
            "description": "64GB, black and iOS 12", "priceInCents": 99999, "discountValue": {}}}});
        compare(case, &set).unwrap();
        let mut unset = set.clone();
        unset["response"]["product"]
            .as_object_mut()
            .unwrap()
            .remove("discountValue");
        assert!(compare(case, &unset).is_err());
    }

    #[test]
    fn cells_are_named_by_their_axes() {
        let cells = cells().unwrap();
        let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"discount/customer_1[client=python,server=rust,security=mtls]"),
            "{names:?}"
        );
        assert!(
            names.contains(&"catalog/products/user_1[catalog=rust,discount=python,security=tls]")
        );
        let tutorial_mtls = cells
            .iter()
            .find(|c| {
                c.name == "discount/customer_1[client=rust,server=tutorial-grpcio,security=mtls]"
            })
            .unwrap();
        assert_eq!(
            tutorial_mtls.skip.as_deref(),
            Some("tutorial-grpcio's discount does not claim mtls")
        );
    }

    #[test]
    fn a_listed_cell_must_fail_as_listed() {
        let mut cell = cells().unwrap().remove(0);
        let owner = cell.client;
        cell.known = Some((
            owner,
            KnownFailing {
                cell: cell.name.clone(),
                expect: "UNAVAILABLE".into(),
                why: "a fixture".into(),
            },
        ));
        assert_eq!(
            judge(&cell, Err(anyhow!("code: got UNAVAILABLE, want OK"))).0,
            Outcome::Xfail
        );
        let (outcome, reason) = judge(&cell, Err(anyhow!("code: got INTERNAL, want OK")));
        assert_eq!(outcome, Outcome::Fail);
        assert!(
            reason.starts_with("fails, but not as listed: got code: got INTERNAL"),
            "{reason}"
        );
        assert_eq!(judge(&cell, Ok(())).0, Outcome::Xpass);
    }
}
