//! SQLite as the services use it: one connection per process, its schema created and migrated at start under a
//! `schema_version` table, and every query run on tokio's blocking pool so a slow disk never stalls the runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use rusqlite::Connection;

use crate::cli::Failure;

/// A service's database.
#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
}

impl Database {
    /// Opens (creating if needed) the file `path` given with `--db`, and brings its schema up to date:
    /// `migrations[n]` takes the schema from version `n` to `n + 1`. A file newer than this program is refused.
    pub fn open(path: &Path, migrations: &[&str]) -> Result<Self, Failure> {
        let bad = |why: String| Failure::flag("--db", path.display(), why);
        let mut connection =
            Connection::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
        migrate(&mut connection, migrations).map_err(|e| bad(format!("{e:#}")))?;
        Ok(Database {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection, off the async runtime.
    pub async fn call<R, F>(&self, work: F) -> anyhow::Result<R>
    where
        F: FnOnce(&mut Connection) -> anyhow::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| anyhow!("the database lock is poisoned"))?;
            work(&mut connection)
        })
        .await
        .context("a database task failed")?
    }
}

/// The schema version this file is at, after applying every migration it lacks in one transaction.
pub fn migrate(connection: &mut Connection, migrations: &[&str]) -> anyhow::Result<usize> {
    // Waits for a lock held by another connection instead of failing at once with SQLITE_BUSY.
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let tx = connection.transaction()?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: Option<i64> = tx
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .context("cannot read the schema version")?;
    let current = usize::try_from(current.unwrap_or(0)).context("negative schema version")?;
    if current > migrations.len() {
        anyhow::bail!(
            "schema version {current} is newer than this program knows ({})",
            migrations.len()
        );
    }
    for (version, sql) in migrations.iter().enumerate().skip(current) {
        tx.execute_batch(sql)
            .with_context(|| format!("migration to schema version {}", version + 1))?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [migrations.len() as i64],
    )?;
    tx.commit()?;
    Ok(migrations.len())
}

/// A new random id such as `ord-1f0c9a3b5d7e2468`: 64 random bits, hex.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

/// Milliseconds since the Unix epoch, as stored and sent.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_in_order() {
        let mut connection = Connection::open_in_memory().unwrap();
        let v1 = ["CREATE TABLE a (x INTEGER)"];
        assert_eq!(migrate(&mut connection, &v1).unwrap(), 1);
        // Re-running does not re-create the table (which would fail).
        assert_eq!(migrate(&mut connection, &v1).unwrap(), 1);
        let v2 = [
            "CREATE TABLE a (x INTEGER)",
            "ALTER TABLE a ADD COLUMN y TEXT",
        ];
        assert_eq!(migrate(&mut connection, &v2).unwrap(), 2);
        connection
            .execute("INSERT INTO a (x, y) VALUES (1, 'z')", [])
            .unwrap();
        let error = migrate(&mut connection, &v1).unwrap_err();
        assert!(error.to_string().contains("newer"), "{error:#}");
    }

    #[test]
    fn ids_are_prefixed_hex() {
        let id = new_id("ord");
        assert_eq!(id.len(), "ord-".len() + 16, "{id}");
        assert!(id.starts_with("ord-") && id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(new_id("ord"), new_id("ord"));
    }
}
