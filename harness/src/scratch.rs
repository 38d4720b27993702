//! Scratch folders (a stack's certificates, its services' databases) that do not pile up in the temporary folder.
//!
//! A stack removes its folders when it is dropped, but the stacks a test binary shares through a `static` pool are
//! never dropped: the process exits with them. So every folder is named after the process that made it (its pid and
//! start time, which a reused pid does not repeat), and the folders of processes that have ended are removed by the
//! next run that makes one, and by `interop orphans` at the end of `make test` and `make interop`.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};

/// The kinds of scratch folder, the word in their names: `interop-<kind>-<pid>.<start>-<random>`.
const KINDS: [&str; 2] = ["pki", "data"];

/// A fresh folder of `kind` ("pki" or "data"), removed when the returned value is dropped.
pub fn tempdir(kind: &str) -> Result<tempfile::TempDir> {
    debug_assert!(KINDS.contains(&kind), "unknown scratch kind {kind}");
    // Once per process: who we are (the folders' owner tag), and the sweep of the folders of ended runs.
    static OWNER: OnceLock<Option<String>> = OnceLock::new();
    let owner = OWNER.get_or_init(|| {
        // Best effort: a folder another user owns, or one removed meanwhile, is not this run's concern.
        let _ = sweep_ended(&std::env::temp_dir());
        owner_tag(std::process::id())
    });
    let owner = owner
        .as_deref()
        .context("cannot read this process's start time")?;
    tempfile::Builder::new()
        .prefix(&format!("interop-{kind}-{owner}-"))
        .tempdir()
        .with_context(|| {
            format!(
                "cannot make a {kind} folder in {}",
                std::env::temp_dir().display()
            )
        })
}

/// Removes the scratch folders in `dir` whose process has ended; returns how many.
pub fn sweep_ended(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(owner_of) else {
            continue;
        };
        if owner_alive(&owner) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// `<pid>.<start time>` of a scratch folder's name, if it is one of ours.
fn owner_of(name: &str) -> Option<String> {
    KINDS.iter().find_map(|kind| {
        let rest = name
            .strip_prefix("interop-")?
            .strip_prefix(kind)?
            .strip_prefix('-')?;
        let (owner, _random) = rest.split_once('-')?;
        let (pid, start) = owner.split_once('.')?;
        (pid.parse::<u32>().is_ok() && start.parse::<u64>().is_ok()).then(|| owner.to_string())
    })
}

fn owner_alive(owner: &str) -> bool {
    let Some(pid) = owner.split_once('.').and_then(|(pid, _)| pid.parse().ok()) else {
        return false;
    };
    owner_tag(pid).is_some_and(|now| now == owner)
}

/// `<pid>.<start time in clock ticks since boot>` of a running process, from `/proc/<pid>/stat`.
fn owner_tag(pid: u32) -> Option<String> {
    let start = crate::orphans::stat_field(pid, 22)?;
    Some(format!("{pid}.{start}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        assert_eq!(owner_of("interop-pki-123.456-AbC9"), Some("123.456".into()));
        assert_eq!(owner_of("interop-data-1.2-x"), Some("1.2".into()));
        assert_eq!(owner_of("interop-pki-AbC9"), None);
        assert_eq!(owner_of("interop-keys-1.2-x"), None);
        assert_eq!(owner_of("other-pki-1.2-x"), None);
    }

    #[test]
    fn removes_the_folders_of_ended_processes_only() {
        let tmp = tempfile::tempdir().unwrap();
        let me = owner_tag(std::process::id()).unwrap();
        // A pid that cannot exist (above the kernel's maximum), and a live pid with another start time.
        let gone = "interop-pki-4194305.1-aaaa".to_string();
        let reused = format!("interop-data-{}.1-bbbb", std::process::id());
        let mine = format!("interop-pki-{me}-cccc");
        let other = "unrelated-folder".to_string();
        for name in [&gone, &reused, &mine, &other] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
            std::fs::write(tmp.path().join(name).join("ca.pem"), "x").unwrap();
        }
        assert_eq!(sweep_ended(tmp.path()).unwrap(), 2);
        let mut left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [mine, other]);
    }

    #[test]
    fn a_new_folder_is_named_after_this_process() {
        let dir = tempdir("pki").unwrap();
        let name = dir.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(owner_of(name), owner_tag(std::process::id()));
    }
}
