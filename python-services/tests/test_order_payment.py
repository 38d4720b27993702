"""Order -> Discount, Order -> Payment as real Python processes on loopback (plaintext; TLS and the other language
are the Rust harness's matrix): the saga, rich errors on the wire, restarts that keep data, deadlines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from conftest import Service, module_args, start
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from test_cli import assert_one_line_error, run

from interop_services.proto import order_pb2, order_pb2_grpc

LOCAL = "127.0.0.1:0"


@pytest.fixture
def chain(tmp_path: Path, services: list[Service]) -> Iterator[dict[str, Service]]:
    discount = start("discount", module_args("discount", "--listen", LOCAL, "--delay-ms", "0"))
    services.append(discount)
    payment = start("payment", module_args("payment", "--listen", LOCAL, "--db", str(tmp_path / "payment.sqlite3")))
    services.append(payment)
    order = start("order", module_args("order", "--listen", LOCAL, "--db", str(tmp_path / "order.sqlite3"),
                                       "--discount-addr", discount.address, "--payment-addr", payment.address))
    services.append(order)
    yield {"discount": discount, "payment": payment, "order": order}


def stub(service: Service) -> tuple[grpc.Channel, order_pb2_grpc.OrderStub]:
    channel = grpc.insecure_channel(service.address)
    return channel, order_pb2_grpc.OrderStub(channel)


def create(user_id: int, *items: tuple[str, int], key: str = "") -> order_pb2.CreateOrderRequest:
    return order_pb2.CreateOrderRequest(user_id=user_id, idempotency_key=key, items=[
        order_pb2.LineItem(product_code=code, quantity=quantity) for code, quantity in items])


def test_create_get_and_idempotency(chain: dict[str, Service]) -> None:
    channel, orders = stub(chain["order"])
    with channel:
        first = orders.Create(create(1, ("iphone-x", 1), key="k"), timeout=10).order
        assert first.status == order_pb2.ORDER_STATUS_PAID and first.total_price_cents == 89_999
        assert orders.Get(order_pb2.GetOrderRequest(order_id=first.id), timeout=10).order == first
        assert orders.Create(create(1, ("iphone-x", 1), key="k"), timeout=10).order == first
    assert chain["payment"].log().count("charged order_id=") == 1


def test_validation_errors_carry_bad_request(chain: dict[str, Service]) -> None:
    channel, orders = stub(chain["order"])
    with channel, pytest.raises(grpc.RpcError) as failure:
        orders.Create(create(0, ("ipad", 1)), timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT and failure.value.details() == "invalid request"
    status = rpc_status.from_call(failure.value)
    bad_request = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("user_id", "must be from 1 to 2147483647"),
        ("items[0].product_code", 'unknown product code "ipad"'),
    ]


def test_refused_payment_cancels_the_order(chain: dict[str, Service]) -> None:
    channel, orders = stub(chain["order"])
    with channel:
        with pytest.raises(grpc.RpcError) as failure:
            orders.Create(create(2, ("notebook-avell-g1511", 1)), timeout=10)
        assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        status = rpc_status.from_call(failure.value)
        info = error_details_pb2.ErrorInfo()
        assert status is not None and status.details[0].Unpack(info)
        assert (info.reason, info.domain) == ("TOTAL_ABOVE_LIMIT", "payment.interop")
        canceled = orders.Get(order_pb2.GetOrderRequest(order_id=info.metadata["order_id"]), timeout=10).order
        assert canceled.status == order_pb2.ORDER_STATUS_CANCELED and canceled.payment_id == ""


def test_unknown_order_is_not_found(chain: dict[str, Service]) -> None:
    channel, orders = stub(chain["order"])
    with channel, pytest.raises(grpc.RpcError) as failure:
        orders.Get(order_pb2.GetOrderRequest(order_id="nope"), timeout=10)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND and failure.value.details() == 'order "nope" not found'


def test_payment_down_then_back_charges_once(chain: dict[str, Service], tmp_path: Path,
                                             services: list[Service]) -> None:
    """While Payment is down the order stays PENDING; the same key later settles that order, charging it once."""
    channel, orders = stub(chain["order"])
    payment = chain["payment"]
    assert payment.stop() == 0
    with channel:
        with pytest.raises(grpc.RpcError) as failure:
            orders.Create(create(1, ("iphone-x", 1), key="outage"), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value
        assert failure.value.details() == "payment failed: UNAVAILABLE"
        back = start("payment", module_args("payment", "--listen", f"127.0.0.1:{payment.port}",
                                            "--db", str(tmp_path / "payment.sqlite3")))
        services.append(back)
        settled = orders.Create(create(1, ("iphone-x", 1), key="outage"), timeout=10).order
        assert settled.status == order_pb2.ORDER_STATUS_PAID
        assert orders.Create(create(1, ("iphone-x", 1), key="outage"), timeout=10).order == settled
    assert back.log().count("charged order_id=") == 1


def test_order_keeps_orders_across_a_restart(chain: dict[str, Service], tmp_path: Path,
                                             services: list[Service]) -> None:
    order = chain["order"]
    channel, orders = stub(order)
    with channel:
        created = orders.Create(create(1, ("playstation-4-slim", 2)), timeout=10).order
    assert order.stop() == 0
    again = start("order", module_args("order", "--listen", LOCAL, "--db", str(tmp_path / "order.sqlite3"),
                                       "--discount-addr", chain["discount"].address,
                                       "--payment-addr", chain["payment"].address))
    services.append(again)
    channel, orders = stub(again)
    with channel:
        assert orders.Get(order_pb2.GetOrderRequest(order_id=created.id), timeout=10).order == created


def test_deadline_shorter_than_a_slow_discount(tmp_path: Path, services: list[Service]) -> None:
    discount = start("discount", module_args("discount", "--listen", LOCAL, "--delay-ms", "30000"))
    services.append(discount)
    order = start("order", module_args("order", "--listen", LOCAL, "--db", str(tmp_path / "order.sqlite3"),
                                       "--discount-addr", discount.address, "--payment-addr", "127.0.0.1:9"))
    services.append(order)
    channel, orders = stub(order)
    started = time.monotonic()
    with channel, pytest.raises(grpc.RpcError) as failure:
        orders.Create(create(1, ("iphone-x", 1)), timeout=2)
    elapsed = time.monotonic() - started
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert failure.value.details() == "discount failed: DEADLINE_EXCEEDED"
    assert elapsed < 2, f"Order answers within the caller's deadline, took {elapsed:.2f}s"
    assert "delaying the answer delay_ms=30000 caller_deadline=true" in discount.log()


@pytest.mark.parametrize("service", ["order", "payment"])
def test_bad_db_is_a_usage_error(service: str) -> None:
    assert_one_line_error(run(service, "--db", "/nonexistent/dir/x.sqlite3"), service, 2,
                          "--db /nonexistent/dir/x.sqlite3: cannot open")
