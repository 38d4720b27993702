"""SQLite storage: schema versions, one payment per order, orders that survive reopening, idempotency keys."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from interop_services import sqlite
from interop_services.cli import ConfigError
from interop_services.order.storage import OrderStore
from interop_services.payment import charge
from interop_services.payment.storage import PaymentStore
from interop_services.proto import order_pb2


def test_migrations_apply_once_and_in_order() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    v1 = ["CREATE TABLE a (x INTEGER)"]
    assert sqlite.migrate(connection, v1) == 1
    assert sqlite.migrate(connection, v1) == 1
    assert sqlite.migrate(connection, [*v1, "ALTER TABLE a ADD COLUMN y TEXT"]) == 2
    connection.execute("INSERT INTO a (x, y) VALUES (1, 'z')")
    with pytest.raises(ValueError, match="newer"):
        sqlite.migrate(connection, v1)


def test_an_unopenable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open"):
        sqlite.Database.open(str(tmp_path / "missing" / "x.sqlite3"), [])


def test_ids_are_prefixed_hex() -> None:
    first = sqlite.new_id("ord")
    assert len(first) == 20 and first.startswith("ord-") and int(first[4:], 16) >= 0
    assert first != sqlite.new_id("ord")


def test_one_payment_per_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = str(tmp_path / "payment.sqlite3")
        store = PaymentStore.open(path)
        first = await store.record(1, "ord-1", 500)
        assert first.charged and first.payment_id.startswith("pay-")
        again = await store.record(1, "ord-1", 500)
        assert (again.payment_id, again.charged) == (first.payment_id, False)
        assert (await store.record(1, "ord-1", 501)).conflict
        reopened = PaymentStore.open(path)
        assert (await reopened.record(1, "ord-1", 500)).payment_id == first.payment_id

    asyncio.run(scenario())


def order(order_id: str, user_id: int = 1) -> order_pb2.OrderDetails:
    return order_pb2.OrderDetails(
        id=order_id, user_id=user_id, status=order_pb2.ORDER_STATUS_PENDING, total_price_cents=209_697,
        created_at_unix_ms=1_700_000_000_000,
        items=[order_pb2.OrderItem(product_code="iphone-x", quantity=2, unit_price_cents=89_999),
               order_pb2.OrderItem(product_code="playstation-4-slim", quantity=1, unit_price_cents=29_699)])


def test_an_order_round_trips_and_survives_reopening(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = str(tmp_path / "order.sqlite3")
        store = OrderStore.open(path)
        assert (await store.insert(order("ord-1"), None)).order == order("ord-1")
        paid = await store.mark_paid("ord-1", "pay-1")
        assert paid.order.status == order_pb2.ORDER_STATUS_PAID and paid.order.payment_id == "pay-1"
        reopened = OrderStore.open(path)
        assert await reopened.find("ord-1") == paid
        assert await reopened.find("ord-2") is None

    asyncio.run(scenario())


def test_the_same_key_finds_the_first_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = OrderStore.open(str(tmp_path / "order.sqlite3"))
        first = await store.insert(order("ord-1"), "k")
        assert await store.insert(order("ord-2"), "k") == first
        assert await store.find("ord-2") is None
        assert (await store.insert(order("ord-3", user_id=2), "k")).order.id == "ord-3"
        await store.insert(order("ord-4"), None)
        await store.insert(order("ord-5"), None)
        found = await store.find_by_key(1, "k")
        assert found is not None and found.order.id == "ord-1"

    asyncio.run(scenario())


def test_a_canceled_order_keeps_the_refusal(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = OrderStore.open(str(tmp_path / "order.sqlite3"))
        await store.insert(order("ord-1"), None)
        refusal = charge.check_limit(209_697, 100_000)
        assert refusal is not None
        canceled = await store.mark_canceled("ord-1", refusal)
        assert canceled.order.status == order_pb2.ORDER_STATUS_CANCELED and canceled.refusal == refusal
        assert await store.mark_paid("ord-1", "pay-1") == canceled

    asyncio.run(scenario())
