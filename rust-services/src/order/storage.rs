//! Orders in SQLite: an order and its items, its status, and the payment's refusal when it was canceled. The
//! (user, idempotency key) pair is unique, so a repeated Create finds the first order instead of making another.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};

use crate::cli::Failure;
use crate::payment::charge::Refusal;
use crate::proto::order::{OrderDetails, OrderItem, OrderStatus};
use crate::sqlite::Database;

/// Schema migrations, oldest first (the same SQL as the Python twin's).
pub const MIGRATIONS: &[&str] = &["CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        total_price_cents INTEGER NOT NULL,
        payment_id TEXT NOT NULL DEFAULT '',
        idempotency_key TEXT,
        created_at_unix_ms INTEGER NOT NULL,
        refusal_message TEXT,
        refusal_reason TEXT,
        refusal_domain TEXT,
        refusal_metadata TEXT,
        UNIQUE (user_id, idempotency_key)
    );
    CREATE TABLE order_items (
        order_id TEXT NOT NULL REFERENCES orders (id),
        position INTEGER NOT NULL,
        product_code TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price_cents INTEGER NOT NULL,
        PRIMARY KEY (order_id, position)
    )"];

/// An order as stored: what Get shows, and why Payment refused it if it did.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOrder {
    /// The order.
    pub order: OrderDetails,
    /// Payment's refusal, for a canceled order.
    pub refusal: Option<Refusal>,
}

/// The orders tables.
#[derive(Clone)]
pub struct OrderStore {
    db: Database,
}

impl OrderStore {
    /// Opens the `--db` file, creating or migrating its schema.
    pub fn open(path: &Path) -> Result<Self, Failure> {
        Ok(OrderStore {
            db: Database::open(path, MIGRATIONS)?,
        })
    }

    /// Stores a new PENDING `order`; if `idempotency_key` was already used by the same user, stores nothing and
    /// returns that first order.
    pub async fn insert(
        &self,
        order: OrderDetails,
        idempotency_key: Option<String>,
    ) -> anyhow::Result<StoredOrder> {
        self.db
            .call(move |connection| {
                let tx = connection.transaction()?;
                let inserted = tx.execute(
                    "INSERT INTO orders (id, user_id, status, total_price_cents, idempotency_key, created_at_unix_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
                    params![
                        order.id,
                        order.user_id,
                        order.status().as_str_name(),
                        order.total_price_cents,
                        idempotency_key,
                        order.created_at_unix_ms
                    ],
                )?;
                if inserted == 0 {
                    let key = idempotency_key.context("an order without a key cannot conflict")?;
                    let first = find_by_key(&tx, order.user_id, &key)?
                        .context("the conflicting order vanished")?;
                    tx.commit()?;
                    return Ok(first);
                }
                for (position, item) in order.items.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO order_items (order_id, position, product_code, quantity, unit_price_cents)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![order.id, position as i64, item.product_code, item.quantity, item.unit_price_cents],
                    )?;
                }
                tx.commit()?;
                Ok(StoredOrder {
                    order,
                    refusal: None,
                })
            })
            .await
    }

    /// The order `id`, if there is one.
    pub async fn find(&self, id: String) -> anyhow::Result<Option<StoredOrder>> {
        self.db.call(move |connection| find(connection, &id)).await
    }

    /// The order `user_id` created with `idempotency_key`, if there is one.
    pub async fn find_by_key(
        &self,
        user_id: i64,
        idempotency_key: String,
    ) -> anyhow::Result<Option<StoredOrder>> {
        self.db
            .call(move |connection| find_by_key(connection, user_id, &idempotency_key))
            .await
    }

    /// Marks a PENDING order PAID by `payment_id`; returns the order as it now is.
    pub async fn mark_paid(&self, id: String, payment_id: String) -> anyhow::Result<StoredOrder> {
        self.db
            .call(move |connection| {
                connection.execute(
                    "UPDATE orders SET status = ?2, payment_id = ?3 WHERE id = ?1 AND status = ?4",
                    params![
                        id,
                        OrderStatus::Paid.as_str_name(),
                        payment_id,
                        OrderStatus::Pending.as_str_name()
                    ],
                )?;
                find(connection, &id)?.context("the order vanished")
            })
            .await
    }

    /// Marks a PENDING order CANCELED because of `refusal`; returns the order as it now is.
    pub async fn mark_canceled(&self, id: String, refusal: Refusal) -> anyhow::Result<StoredOrder> {
        self.db
            .call(move |connection| {
                let metadata = serde_json::to_string(&refusal.metadata)?;
                connection.execute(
                    "UPDATE orders SET status = ?2, refusal_message = ?3, refusal_reason = ?4, refusal_domain = ?5,
                     refusal_metadata = ?6 WHERE id = ?1 AND status = ?7",
                    params![
                        id,
                        OrderStatus::Canceled.as_str_name(),
                        refusal.message,
                        refusal.reason,
                        refusal.domain,
                        metadata,
                        OrderStatus::Pending.as_str_name()
                    ],
                )?;
                find(connection, &id)?.context("the order vanished")
            })
            .await
    }
}

const COLUMNS: &str = "id, user_id, status, total_price_cents, payment_id, created_at_unix_ms, refusal_message, \
     refusal_reason, refusal_domain, refusal_metadata";

fn find(connection: &Connection, id: &str) -> anyhow::Result<Option<StoredOrder>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE id = ?1");
    load(connection, &sql, params![id])
}

fn find_by_key(
    connection: &Connection,
    user_id: i64,
    key: &str,
) -> anyhow::Result<Option<StoredOrder>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE user_id = ?1 AND idempotency_key = ?2");
    load(connection, &sql, params![user_id, key])
}

type Row = (
    String,
    i64,
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn load(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> anyhow::Result<Option<StoredOrder>> {
    let row: Option<Row> = connection
        .query_row(sql, params, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .optional()?;
    let Some((id, user_id, status, total, payment_id, created, message, reason, domain, metadata)) =
        row
    else {
        return Ok(None);
    };
    let status = OrderStatus::from_str_name(&status)
        .with_context(|| format!("order {id} has an unknown status {status:?}"))?;
    let mut statement = connection.prepare(
        "SELECT product_code, quantity, unit_price_cents FROM order_items WHERE order_id = ?1 ORDER BY position",
    )?;
    let items = statement
        .query_map([&id], |r| {
            Ok(OrderItem {
                product_code: r.get(0)?,
                quantity: r.get(1)?,
                unit_price_cents: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let refusal = match message {
        Some(message) => Some(Refusal {
            message,
            reason: reason.unwrap_or_default(),
            domain: domain.unwrap_or_default(),
            metadata: match metadata {
                Some(json) => serde_json::from_str::<BTreeMap<String, String>>(&json)?,
                None => BTreeMap::new(),
            },
        }),
        None => None,
    };
    Ok(Some(StoredOrder {
        order: OrderDetails {
            id,
            user_id,
            items,
            status: status as i32,
            total_price_cents: total,
            payment_id,
            created_at_unix_ms: created,
        },
        refusal,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::charge::check_limit;

    fn order(id: &str) -> OrderDetails {
        OrderDetails {
            id: id.into(),
            user_id: 1,
            items: vec![
                OrderItem {
                    product_code: "iphone-x".into(),
                    quantity: 2,
                    unit_price_cents: 89_999,
                },
                OrderItem {
                    product_code: "playstation-4-slim".into(),
                    quantity: 1,
                    unit_price_cents: 29_699,
                },
            ],
            status: OrderStatus::Pending as i32,
            total_price_cents: 209_697,
            payment_id: String::new(),
            created_at_unix_ms: 1_700_000_000_000,
        }
    }

    #[tokio::test]
    async fn an_order_round_trips_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("order.sqlite3");
        let store = OrderStore::open(&path).unwrap();
        let stored = store.insert(order("ord-1"), None).await.unwrap();
        assert_eq!(stored.order, order("ord-1"));
        let paid = store
            .mark_paid("ord-1".into(), "pay-1".into())
            .await
            .unwrap();
        assert_eq!(paid.order.status(), OrderStatus::Paid);
        assert_eq!(paid.order.payment_id, "pay-1");
        drop(store);
        let store = OrderStore::open(&path).unwrap();
        assert_eq!(store.find("ord-1".into()).await.unwrap(), Some(paid));
        assert_eq!(store.find("ord-2".into()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_same_key_finds_the_first_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = OrderStore::open(&dir.path().join("order.sqlite3")).unwrap();
        let first = store
            .insert(order("ord-1"), Some("k".into()))
            .await
            .unwrap();
        let second = store
            .insert(order("ord-2"), Some("k".into()))
            .await
            .unwrap();
        assert_eq!(second, first);
        assert_eq!(store.find("ord-2".into()).await.unwrap(), None);
        // Another user may use the same key; no key never conflicts.
        let mut other = order("ord-3");
        other.user_id = 2;
        assert_eq!(
            store
                .insert(other, Some("k".into()))
                .await
                .unwrap()
                .order
                .id,
            "ord-3"
        );
        store.insert(order("ord-4"), None).await.unwrap();
        store.insert(order("ord-5"), None).await.unwrap();
        assert_eq!(
            store
                .find_by_key(1, "k".into())
                .await
                .unwrap()
                .unwrap()
                .order
                .id,
            "ord-1"
        );
    }

    #[tokio::test]
    async fn a_canceled_order_keeps_the_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let store = OrderStore::open(&dir.path().join("order.sqlite3")).unwrap();
        store.insert(order("ord-1"), None).await.unwrap();
        let refusal = check_limit(209_697, 100_000).unwrap_err();
        let canceled = store
            .mark_canceled("ord-1".into(), refusal.clone())
            .await
            .unwrap();
        assert_eq!(canceled.order.status(), OrderStatus::Canceled);
        assert_eq!(canceled.refusal, Some(refusal));
        // A settled order does not change again.
        let still = store
            .mark_paid("ord-1".into(), "pay-1".into())
            .await
            .unwrap();
        assert_eq!(still, canceled);
    }
}
