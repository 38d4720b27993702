"""Payments in SQLite, one per order: the order id is unique, so a retried Create can never charge twice."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from interop_services import sqlite

# Schema migrations, oldest first (the same SQL as the Rust twin's).
MIGRATIONS = ["""CREATE TABLE payments (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL,
        total_price_cents INTEGER NOT NULL,
        created_at_unix_ms INTEGER NOT NULL
    )"""]


@dataclass(frozen=True)
class Recorded:
    """What recording a charge did: `charged` (a new payment), or the order's existing payment when it matched
    (`payment_id` set, `charged` false), or a conflict with other details (`payment_id` empty)."""

    payment_id: str
    charged: bool

    @property
    def conflict(self) -> bool:
        return not self.payment_id


class PaymentStore:
    def __init__(self, db: sqlite.Database) -> None:
        self._db = db

    @classmethod
    def open(cls, path: str) -> PaymentStore:
        return cls(sqlite.Database.open(path, MIGRATIONS))

    async def record(self, user_id: int, order_id: str, total_price_cents: int) -> Recorded:
        """Record a charge of `total_price_cents` for `order_id`, unless that order already has a payment."""

        def work(connection: sqlite3.Connection) -> Recorded:
            with sqlite.transaction(connection):
                payment_id = sqlite.new_id("pay")
                inserted = connection.execute(
                    "INSERT INTO payments (id, order_id, user_id, total_price_cents, created_at_unix_ms) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                    (payment_id, order_id, user_id, total_price_cents, sqlite.now_unix_ms()),
                ).rowcount
                if inserted == 1:
                    return Recorded(payment_id, charged=True)
                existing_id, existing_user, existing_total = connection.execute(
                    "SELECT id, user_id, total_price_cents FROM payments WHERE order_id = ?", (order_id,)
                ).fetchone()
                if (existing_user, existing_total) == (user_id, total_price_cents):
                    return Recorded(existing_id, charged=False)
                return Recorded("", charged=False)

        return await self._db.call(work)
