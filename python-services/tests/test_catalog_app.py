"""Catalog's HTTP behaviour driven in-process (no sockets to other processes), with real and fake pricers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
import samples
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from interop_services.catalog.server import DiscountPricer, build_app, parse_customer_id
from interop_services.discount.pricing import discount_response
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

TEXT_PLAIN = "text/plain; charset=utf-8"


class LocalPricer:
    """Prices with the Discount rule in-process and remembers who asked."""

    def __init__(self) -> None:
        self.customers: list[int] = []

    async def __call__(self, customer: Any, products: list[Any]) -> list[Any]:
        self.customers.append(customer.id)
        return [discount_response(ecommerce_pb2.DiscountRequest(customer=customer, product=p)).product
                for p in products]


async def _request(pricer: LocalPricer, method: str, path: str,
                   headers: CIMultiDict[str] | None = None) -> tuple[int, str | None, str]:
    # A fresh app per request: an aiohttp Application is bound to the event loop it first runs on.
    async with TestClient(TestServer(build_app(pricer))) as client:
        response = await client.request(method, path, headers=headers)
        return response.status, response.headers.get("Content-Type"), await response.text()


def request(pricer: LocalPricer, method: str, path: str, **headers: str) -> tuple[int, str | None, str]:
    return asyncio.run(_request(pricer, method, path, CIMultiDict(headers)))


@pytest.fixture
def pricer() -> LocalPricer:
    return LocalPricer()


def test_index(pricer: LocalPricer) -> None:
    assert request(pricer, "GET", "/") == (200, TEXT_PLAIN, "It is working.")


def test_healthz(pricer: LocalPricer) -> None:
    assert request(pricer, "GET", "/healthz") == (200, TEXT_PLAIN, "ok")


def test_unknown_path_is_go_404(pricer: LocalPricer) -> None:
    assert request(pricer, "GET", "/nope") == (404, TEXT_PLAIN, "404 page not found\n")
    assert request(pricer, "GET", "/products/") == (404, TEXT_PLAIN, "404 page not found\n")


@pytest.mark.parametrize("path", ["/", "/healthz", "/products"])
def test_wrong_method_is_go_405(pricer: LocalPricer, path: str) -> None:
    assert request(pricer, "POST", path) == (405, TEXT_PLAIN, "Method Not Allowed\n")
    assert request(pricer, "DELETE", path)[0] == 405


def test_head_allowed_where_get_is(pricer: LocalPricer) -> None:
    assert request(pricer, "HEAD", "/products")[:2] == (200, "application/json")
    assert request(pricer, "HEAD", "/")[0] == 200


@pytest.mark.parametrize(
    ("user_id", "body"),
    [("1", samples.USER_1), ("2", samples.USER_2), ("+1", samples.USER_1), ("01", samples.USER_1),
     ("42", samples.NO_DISCOUNT), ("0", samples.NO_DISCOUNT), ("-1", samples.NO_DISCOUNT)],
)
def test_products_by_user(pricer: LocalPricer, user_id: str, body: str) -> None:
    assert request(pricer, "GET", "/products", **{"X-USER-ID": user_id}) == (200, "application/json", body)


def test_no_header_means_no_discount_calls(pricer: LocalPricer) -> None:
    assert request(pricer, "GET", "/products") == (200, "application/json", samples.NO_DISCOUNT)
    assert request(pricer, "GET", "/products", **{"X-USER-ID": ""}) == (200, "application/json", samples.NO_DISCOUNT)
    assert request(pricer, "GET", "/products", **{"X-USER-ID": "42"})[0] == 200
    assert pricer.customers == []


@pytest.mark.parametrize("user_id", ["abc", "1.0", "1e3", "0x10", "1_0", "+", "-", "++1", "\u0661", "\uff11",
                                     "9223372036854775808", "-9223372036854775809"])
def test_non_numbers_are_400(pricer: LocalPricer, user_id: str) -> None:
    status, content_type, body = request(pricer, "GET", "/products", **{"X-USER-ID": user_id})
    assert (status, content_type, body) == (400, TEXT_PLAIN, samples.NOT_A_NUMBER), f"X-USER-ID {user_id!r}"


def test_first_of_repeated_headers_wins(pricer: LocalPricer) -> None:
    headers: CIMultiDict[str] = CIMultiDict([("X-USER-ID", "1"), ("X-USER-ID", "abc")])
    status, _, body = asyncio.run(_request(pricer, "GET", "/products", headers))
    assert (status, body) == (200, samples.USER_1)


@pytest.mark.parametrize(
    ("text", "want"),
    [("1", 1), ("+7", 7), ("-7", -7), ("007", 7), ("9223372036854775807", 2**63 - 1),
     ("-9223372036854775808", -(2**63)), ("9223372036854775808", None), (" 1", None), ("1 ", None),
     ("1\n", None), ("", None), ("\u0661", None)],
)
def test_parse_customer_id_is_atoi(text: str, want: int | None) -> None:
    assert parse_customer_id(text) == want


class SlowDiscount(ecommerce_pb2_grpc.DiscountServicer):
    """The real rule, after a delay, to see how the Catalog's calls overlap and time out."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def ApplyDiscount(self, request: Any, context: Any) -> Any:
        await asyncio.sleep(self.delay)
        return discount_response(request)


async def _price_with_slow_discount(delay: float, timeout: float) -> tuple[list[Any], float]:
    server = grpc.aio.server()
    ecommerce_pb2_grpc.add_DiscountServicer_to_server(SlowDiscount(delay), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await channel.channel_ready()
            pricer = DiscountPricer(ecommerce_pb2_grpc.DiscountStub(channel), timeout)
            customer = ecommerce_pb2.Customer(id=1)
            products = [ecommerce_pb2.Product(id=i, price_in_cents=100 * i) for i in (1, 2, 3)]
            started = time.monotonic()
            priced = await pricer(customer, products)
            return priced, time.monotonic() - started
    finally:
        await server.stop(0)


def test_discount_calls_run_concurrently() -> None:
    priced, elapsed = asyncio.run(_price_with_slow_discount(delay=0.6, timeout=5.0))
    assert [p.discount_value.value_in_cents for p in priced] == [90, 180, 270]
    assert elapsed < 1.5, f"3 calls of 0.6s took {elapsed:.2f}s: they ran one after another"


def test_one_deadline_for_all_calls(caplog: pytest.LogCaptureFixture) -> None:
    priced, elapsed = asyncio.run(_price_with_slow_discount(delay=3.0, timeout=0.3))
    assert [p.HasField("discount_value") for p in priced] == [False, False, False]
    assert [p.id for p in priced] == [1, 2, 3]
    assert elapsed < 2.0, f"a 0.3s deadline took {elapsed:.2f}s"
    warnings = [r.getMessage() for r in caplog.records if r.name == "interop.catalog"]
    assert len(warnings) == 3
    assert all("code=DEADLINE_EXCEEDED" in w and "customer_id=1" in w for w in warnings), warnings


def test_too_many_header_bytes_is_go_431(pricer: LocalPricer) -> None:
    # Three fields under aiohttp's own per-field limit, together above the 16 KiB the service allows.
    padding = {f"X-Padding-{i}": "p" * 6000 for i in range(3)}
    assert request(pricer, "GET", "/products", **padding) == (431, TEXT_PLAIN, "431 Request Header Fields Too Large")


def test_too_many_header_fields_is_go_431(pricer: LocalPricer) -> None:
    fields = {f"X-Field-{i}": "f" for i in range(101)}
    assert request(pricer, "GET", "/products", **fields) == (431, TEXT_PLAIN, "431 Request Header Fields Too Large")
    assert pricer.customers == []
