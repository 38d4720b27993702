//! Payments in SQLite, one per order: the order id is unique, so a retried Create can never charge twice.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use crate::cli::Failure;
use crate::sqlite::{self, Database};

/// Schema migrations, oldest first (the same SQL as the Python twin's).
pub const MIGRATIONS: &[&str] = &["CREATE TABLE payments (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL,
        total_price_cents INTEGER NOT NULL,
        created_at_unix_ms INTEGER NOT NULL
    )"];

/// What recording a charge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new payment, with its id.
    Charged(String),
    /// The order was already paid with the same details: that payment's id, nothing charged.
    AlreadyPaid(String),
    /// The order was already paid with other details: nothing charged.
    Conflict,
}

/// The payments table.
#[derive(Clone)]
pub struct PaymentStore {
    db: Database,
}

impl PaymentStore {
    /// Opens the `--db` file, creating or migrating its schema.
    pub fn open(path: &Path) -> Result<Self, Failure> {
        Ok(PaymentStore {
            db: Database::open(path, MIGRATIONS)?,
        })
    }

    /// Records a charge of `total_price_cents` for `order_id`, unless that order already has a payment.
    pub async fn record(
        &self,
        user_id: i64,
        order_id: String,
        total_price_cents: i64,
    ) -> anyhow::Result<Recorded> {
        self.db
            .call(move |connection| {
                let tx = connection.transaction()?;
                let id = sqlite::new_id("pay");
                let inserted = tx.execute(
                    "INSERT INTO payments (id, order_id, user_id, total_price_cents, created_at_unix_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (order_id) DO NOTHING",
                    params![id, order_id, user_id, total_price_cents, sqlite::now_unix_ms()],
                )?;
                let recorded = if inserted == 1 {
                    Recorded::Charged(id)
                } else {
                    let (existing_id, existing_user, existing_total): (String, i64, i64) = tx
                        .query_row(
                            "SELECT id, user_id, total_price_cents FROM payments WHERE order_id = ?1",
                            [&order_id],
                            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                        )
                        .optional()?
                        .ok_or_else(|| anyhow::anyhow!("payment of {order_id} vanished"))?;
                    if existing_user == user_id && existing_total == total_price_cents {
                        Recorded::AlreadyPaid(existing_id)
                    } else {
                        Recorded::Conflict
                    }
                };
                tx.commit()?;
                Ok(recorded)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_payment_per_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = PaymentStore::open(&dir.path().join("payment.sqlite3")).unwrap();
        let Recorded::Charged(first) = store.record(1, "ord-1".into(), 500).await.unwrap() else {
            panic!("the first charge is new");
        };
        assert_eq!(
            store.record(1, "ord-1".into(), 500).await.unwrap(),
            Recorded::AlreadyPaid(first.clone())
        );
        assert_eq!(
            store.record(1, "ord-1".into(), 501).await.unwrap(),
            Recorded::Conflict
        );
        // The data outlives the process's handle on it.
        drop(store);
        let store = PaymentStore::open(&dir.path().join("payment.sqlite3")).unwrap();
        assert_eq!(
            store.record(1, "ord-1".into(), 500).await.unwrap(),
            Recorded::AlreadyPaid(first)
        );
    }
}
