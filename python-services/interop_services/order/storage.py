"""Orders in SQLite: an order and its items, its status, and the payment's refusal when it was canceled. The
(user, idempotency key) pair is unique, so a repeated Create finds the first order instead of making another."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from interop_services import sqlite
from interop_services.payment.charge import Refusal
from interop_services.proto import order_pb2

# Schema migrations, oldest first (the same SQL as the Rust twin's).
MIGRATIONS = ["""CREATE TABLE orders (
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
    )"""]

_COLUMNS = ("id, user_id, status, total_price_cents, payment_id, created_at_unix_ms, refusal_message, "
            "refusal_reason, refusal_domain, refusal_metadata")
_PENDING = order_pb2.OrderStatus.Name(order_pb2.ORDER_STATUS_PENDING)


@dataclass(frozen=True)
class StoredOrder:
    """An order as stored: what Get shows, and why Payment refused it if it did."""

    order: order_pb2.OrderDetails
    refusal: Refusal | None = None


class OrderStore:
    def __init__(self, db: sqlite.Database) -> None:
        self._db = db

    @classmethod
    def open(cls, path: str) -> OrderStore:
        return cls(sqlite.Database.open(path, MIGRATIONS))

    async def insert(self, order: order_pb2.OrderDetails, idempotency_key: str | None) -> StoredOrder:
        """Store a new PENDING `order`; if `idempotency_key` was already used by the same user, store nothing and
        return that first order."""

        def work(connection: sqlite3.Connection) -> StoredOrder:
            with sqlite.transaction(connection):
                inserted = connection.execute(
                    "INSERT INTO orders (id, user_id, status, total_price_cents, idempotency_key, created_at_unix_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
                    (order.id, order.user_id, order_pb2.OrderStatus.Name(order.status), order.total_price_cents,
                     idempotency_key, order.created_at_unix_ms),
                ).rowcount
                if inserted == 0:
                    first = _find_by_key(connection, order.user_id, idempotency_key or "")
                    if first is None:
                        raise RuntimeError("the conflicting order vanished")
                    return first
                connection.executemany(
                    "INSERT INTO order_items (order_id, position, product_code, quantity, unit_price_cents) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(order.id, position, item.product_code, item.quantity, item.unit_price_cents)
                     for position, item in enumerate(order.items)],
                )
                return StoredOrder(order)

        return await self._db.call(work)

    async def find(self, order_id: str) -> StoredOrder | None:
        return await self._db.call(lambda connection: _find(connection, order_id))

    async def find_by_key(self, user_id: int, idempotency_key: str) -> StoredOrder | None:
        return await self._db.call(lambda connection: _find_by_key(connection, user_id, idempotency_key))

    async def mark_paid(self, order_id: str, payment_id: str) -> StoredOrder:
        """Mark a PENDING order PAID by `payment_id`; return the order as it now is."""

        def work(connection: sqlite3.Connection) -> StoredOrder:
            connection.execute(
                "UPDATE orders SET status = ?, payment_id = ? WHERE id = ? AND status = ?",
                (order_pb2.OrderStatus.Name(order_pb2.ORDER_STATUS_PAID), payment_id, order_id, _PENDING),
            )
            return _existing(connection, order_id)

        return await self._db.call(work)

    async def mark_canceled(self, order_id: str, refusal: Refusal) -> StoredOrder:
        """Mark a PENDING order CANCELED because of `refusal`; return the order as it now is."""

        def work(connection: sqlite3.Connection) -> StoredOrder:
            connection.execute(
                "UPDATE orders SET status = ?, refusal_message = ?, refusal_reason = ?, refusal_domain = ?, "
                "refusal_metadata = ? WHERE id = ? AND status = ?",
                (order_pb2.OrderStatus.Name(order_pb2.ORDER_STATUS_CANCELED), refusal.message, refusal.reason,
                 refusal.domain, json.dumps(refusal.metadata, sort_keys=True), order_id, _PENDING),
            )
            return _existing(connection, order_id)

        return await self._db.call(work)


def _existing(connection: sqlite3.Connection, order_id: str) -> StoredOrder:
    stored = _find(connection, order_id)
    if stored is None:
        raise RuntimeError(f"order {order_id} vanished")
    return stored


def _find(connection: sqlite3.Connection, order_id: str) -> StoredOrder | None:
    return _load(connection, f"SELECT {_COLUMNS} FROM orders WHERE id = ?", (order_id,))


def _find_by_key(connection: sqlite3.Connection, user_id: int, key: str) -> StoredOrder | None:
    return _load(connection, f"SELECT {_COLUMNS} FROM orders WHERE user_id = ? AND idempotency_key = ?",
                 (user_id, key))


def _load(connection: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> StoredOrder | None:
    row = connection.execute(sql, params).fetchone()
    if row is None:
        return None
    order_id, user_id, status, total, payment_id, created, message, reason, domain, metadata = row
    items = [
        order_pb2.OrderItem(product_code=code, quantity=quantity, unit_price_cents=unit)
        for code, quantity, unit in connection.execute(
            "SELECT product_code, quantity, unit_price_cents FROM order_items WHERE order_id = ? ORDER BY position",
            (order_id,),
        )
    ]
    order = order_pb2.OrderDetails(id=order_id, user_id=user_id, items=items, status=order_pb2.OrderStatus.Value(status),
                                   total_price_cents=total, payment_id=payment_id, created_at_unix_ms=created)
    refusal = None
    if message is not None:
        refusal = Refusal(message, reason or "", domain or "", json.loads(metadata) if metadata else {})
    return StoredOrder(order, refusal)
