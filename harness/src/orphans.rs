//! Finds processes of this project that outlived the run that started them: binaries from this build's target
//! folder and Python services run by this checkout's venv (`.venv/bin/python -m interop_services...`), whatever
//! their parent. Another checkout's processes are not ours, and are left alone.
//!
//! A service ends when its stack is dropped, when its harness dies (its stdin closes), on SIGTERM; a process still
//! there some seconds after every test process has exited is a bug that no test inside that process can see.
//! `make test` and `make interop` end with this check. Linux only: it reads `/proc`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// One process that should not be running any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its process id.
    pub pid: u32,
    /// Its parent's (1, or a subreaper's, for a true orphan).
    pub ppid: u32,
    /// Its command line.
    pub args: Vec<String>,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} (parent {}): {}",
            self.pid,
            self.ppid,
            self.args.join(" ")
        )
    }
}

/// Where this checkout's processes come from.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The cargo target folder whose binaries count as ours.
    pub target: PathBuf,
    /// The venv whose interpreter runs our Python services.
    pub venv: PathBuf,
}

impl Scope {
    /// The running `interop` binary's target folder (`target/<profile>/interop` → `target`) and the project's venv.
    pub fn of_this_build() -> Result<Self> {
        let exe = std::env::current_exe().context("cannot locate the running executable")?;
        let target = exe
            .parent()
            .and_then(Path::parent)
            .context("the executable is not inside a cargo target folder")?;
        Ok(Scope {
            target: target.to_path_buf(),
            venv: crate::python::venv_dir(),
        })
    }
}

/// The processes of `scope` now running, except this one and its ancestors.
pub fn find(scope: &Scope) -> Result<Vec<Leftover>> {
    let target = scope
        .target
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", scope.target.display()))?;
    // The venv may not exist (no Python service ever ran); then no process can be running from it.
    let venv = scope
        .venv
        .canonicalize()
        .unwrap_or_else(|_| scope.venv.clone());
    let spared = ancestors(std::process::id());
    let mut ours = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Some(pid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        if spared.contains(&pid) {
            continue;
        }
        // A process may end while it is read: whatever cannot be read is not there any more.
        let Some(args) = cmdline(pid) else { continue };
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        if is_ours(exe.as_deref(), &args, &target, &venv) {
            let ppid = parent(pid).unwrap_or(0);
            ours.insert(pid, Leftover { pid, ppid, args });
        }
    }
    let found = ours
        .values()
        .filter(|process| !held_by_a_user_stack(process.pid, &ours))
        .cloned()
        .collect();
    Ok(found)
}

/// Whether `pid` is, or runs under, an `interop up` that a person or script started (its parent is not ours and
/// still runs): a stack someone is using on purpose, not something a test run left behind. An `interop up` started
/// by a test, or orphaned (its parent is init), does not count.
fn held_by_a_user_stack(pid: u32, ours: &BTreeMap<u32, Leftover>) -> bool {
    let mut current = pid;
    // Bounded by the number of our processes: a parent chain has no cycles, but a bound costs nothing.
    for _ in 0..=ours.len() {
        let Some(process) = ours.get(&current) else {
            return false;
        };
        let is_up = process.args.get(1).is_some_and(|a| a == "up");
        let parent_is_ours = ours.contains_key(&process.ppid);
        if is_up && !parent_is_ours && process.ppid > 1 {
            return true;
        }
        if !parent_is_ours {
            return false;
        }
        current = process.ppid;
    }
    false
}

/// Waits up to `patience` for every process of ours to end (a graceful stop takes a few seconds); what remains then.
pub fn wait_gone(scope: &Scope, patience: Duration) -> Result<Vec<Leftover>> {
    let deadline = Instant::now() + patience;
    loop {
        let left = find(scope)?;
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left);
        }
        // Polling /proc is the only portable way to watch processes that are not our children.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A binary from our target folder (a rebuilt one shows as `path (deleted)`), or a Python service run by our venv's
/// interpreter (its path is the command's first word: the venv's `bin/python` is a link to the system's).
fn is_ours(exe: Option<&Path>, args: &[String], target: &Path, venv: &Path) -> bool {
    let from_target = exe.is_some_and(|exe| {
        let exe = exe.to_string_lossy();
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
        Path::new(exe).starts_with(target)
    });
    let python_service = args
        .first()
        .is_some_and(|first| Path::new(first).starts_with(venv))
        && args.iter().any(|a| a == "-m")
        && args.iter().any(|a| a.starts_with("interop_services"));
    from_target || python_service
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    // Kernel threads have an empty command line.
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

fn parent(pid: u32) -> Option<u32> {
    stat_field(pid, 4)?.parse().ok()
}

/// Field `n` (1-based, as proc(5) numbers them: 4 is the parent, 22 the start time) of `/proc/<pid>/stat`.
pub(crate) fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so count from after the last `)`, field 3.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm
        .split_whitespace()
        .nth(n.checked_sub(3)?)
        .map(str::to_string)
}

fn ancestors(mut pid: u32) -> Vec<u32> {
    let mut chain = vec![pid];
    while let Some(up) = parent(pid).filter(|p| *p > 1 && !chain.contains(p)) {
        chain.push(up);
        pid = up;
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ours_are_target_binaries_and_python_services_of_our_venv() {
        let target = Path::new("/w/target");
        let venv = Path::new("/w/.venv");
        let ours =
            |exe: &str, list: &[&str]| is_ours(Some(Path::new(exe)), &args(list), target, venv);
        assert!(ours("/w/target/debug/catalog", &["catalog"]));
        assert!(ours("/w/target/debug/catalog (deleted)", &["catalog"]));
        let service = [
            "/w/.venv/bin/python",
            "-m",
            "interop_services.discount",
            "--listen",
            "x:1",
        ];
        assert!(ours("/usr/bin/python3.11", &service));
        assert!(!ours(
            "/usr/bin/python3.11",
            &["/w/.venv/bin/python", "-m", "http.server"]
        ));
        let elsewhere = ["/w2/.venv/bin/python", "-m", "interop_services.discount"];
        assert!(
            !ours("/usr/bin/python3.11", &elsewhere),
            "another checkout's service"
        );
        assert!(!ours("/w2/target/debug/catalog", &["catalog"]));
        assert!(!is_ours(None, &args(&["catalog"]), target, venv));
    }

    #[test]
    fn a_stack_someone_runs_is_not_a_leftover() {
        let process = |pid, ppid, command: &str| {
            (
                pid,
                Leftover {
                    pid,
                    ppid,
                    args: command.split(' ').map(str::to_string).collect(),
                },
            )
        };
        let ours: BTreeMap<u32, Leftover> = [
            // A person's `interop up` (its parent, a shell, is not ours) and its services.
            process(10, 5, "/w/target/debug/interop up --catalog rust"),
            process(11, 10, "/w/target/debug/discount --listen x:0"),
            process(12, 10, "/w/target/debug/catalog --listen x:0"),
            // An `interop up` a test started (its parent is a test binary of ours), and its service.
            process(20, 19, "/w/target/debug/interop up --discount python"),
            process(19, 3, "/w/target/debug/deps/lifeline-abc"),
            process(21, 20, "/w/.venv/bin/python -m interop_services.discount"),
            // An orphaned `interop up`, and a service orphaned on its own.
            process(30, 1, "/w/target/debug/interop up"),
            process(40, 1, "/w/target/debug/catalog --listen x:0"),
        ]
        .into_iter()
        .collect();
        let held: Vec<u32> = ours
            .keys()
            .copied()
            .filter(|pid| held_by_a_user_stack(*pid, &ours))
            .collect();
        assert_eq!(held, [10, 11, 12]);
    }

    #[test]
    fn spares_itself_and_its_ancestors() {
        let chain = ancestors(std::process::id());
        assert_eq!(chain[0], std::process::id());
        assert!(chain.len() >= 2, "a test process has a parent: {chain:?}");
    }

    #[test]
    fn finds_a_process_of_ours_while_it_runs_and_not_after() {
        use std::io::BufRead;
        // A venv of one interpreter (a link to the system's, as a real venv's is), running what looks like a Python
        // service of ours to the check: it says it is up, and runs until its stdin closes.
        let root = tempfile::tempdir().unwrap();
        let venv = root.path().join(".venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        let python = venv.join("bin/python");
        // The interpreter itself, not a launcher script on PATH (pyenv's shims exec it under another name).
        let real = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        let system = String::from_utf8(real.stdout).unwrap().trim().to_string();
        std::os::unix::fs::symlink(system, &python).unwrap();
        let mut child = std::process::Command::new(&python)
            .args([
                "-c",
                "import sys; print('up', flush=True); sys.stdin.read()",
            ])
            .args(["-m", "interop_services.fake"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // spawn() returns while the kernel may still be setting up the new program (its command line reads empty
        // until then); the child's own line says it runs.
        let mut up = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut up)
            .unwrap();
        assert_eq!(up, "up\n");
        let pid = child.id();
        let scope = Scope {
            target: root.path().join("target"),
            venv,
        };
        std::fs::create_dir(&scope.target).unwrap();
        assert_eq!(
            find(&scope)
                .unwrap()
                .iter()
                .map(|l| l.pid)
                .collect::<Vec<_>>(),
            [pid]
        );
        let other = Scope {
            venv: root.path().join("other-venv"),
            ..scope.clone()
        };
        assert!(
            find(&other).unwrap().is_empty(),
            "another venv's processes are not ours"
        );
        drop(child.stdin.take());
        child.wait().unwrap();
        assert!(find(&scope).unwrap().is_empty());
    }
}
