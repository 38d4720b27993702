"""Order's and Payment's pure rules: the same cases as the Rust unit tests, so the twins agree before any process
runs (the cross-language snapshots in tests/snapshots/order__*.snap then hold them to the same bytes)."""

from __future__ import annotations

import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from interop_services.catalog import data
from interop_services.order import validation
from interop_services.order.validation import (NO_ITEMS, QUANTITY_BELOW_ONE, TOO_MANY_ITEMS, TOTAL_OVERFLOWS,
                                               USER_ID_RANGE)
from interop_services.payment import charge
from interop_services.proto import ecommerce_pb2, order_pb2, payment_pb2

INT64_MAX = 2**63 - 1


def create(user_id: int, *items: tuple[str, int]) -> order_pb2.CreateOrderRequest:
    return order_pb2.CreateOrderRequest(
        user_id=user_id, items=[order_pb2.LineItem(product_code=code, quantity=quantity) for code, quantity in items])


def violations(request: order_pb2.CreateOrderRequest) -> list[tuple[str, str]]:
    with pytest.raises(validation.Invalid) as invalid:
        validation.validate_create(request, data.products())
    return [(v.field, v.description) for v in invalid.value.violations]


def test_a_valid_order_gives_its_catalog_lines() -> None:
    lines = validation.validate_create(create(1, ("iphone-x", 2), ("playstation-4-slim", 1)), data.products())
    assert [(p.slug, p.price_in_cents, q) for p, q in lines] == [("iphone-x", 99999, 2),
                                                                 ("playstation-4-slim", 32999, 1)]
    validation.validate_create(create(2**31 - 1, ("iphone-x", 50)), data.products())


@pytest.mark.parametrize(("request_", "expected"), [
    (create(0, ("iphone-x", 1)), [("user_id", USER_ID_RANGE)]),
    (create(2**31, ("iphone-x", 1)), [("user_id", USER_ID_RANGE)]),
    (create(1), [("items", NO_ITEMS)]),
    (create(1, ("iphone-x", 1), ("iphone-x", 0)), [("items[1].quantity", QUANTITY_BELOW_ONE)]),
    (create(1, ("ipad", 1)), [("items[0].product_code", 'unknown product code "ipad"')]),
    (create(1, ("iphone-x", 30), ("playstation-4-slim", 21)), [("items", TOO_MANY_ITEMS)]),
], ids=["user_0", "user_above_int32", "no_items", "quantity_0", "unknown_product", "51_items"])
def test_each_violation(request_: order_pb2.CreateOrderRequest, expected: list[tuple[str, str]]) -> None:
    assert violations(request_) == expected


def test_an_overflowing_total_comes_with_the_unit_cap() -> None:
    both = [("items", TOO_MANY_ITEMS), ("items", TOTAL_OVERFLOWS)]
    assert violations(create(1, ("notebook-avell-g1511", INT64_MAX // 100_000))) == both
    # Python's integers never wrap; Rust's would, so its sum saturates. Both must say the same.
    assert violations(create(1, ("iphone-x", INT64_MAX), ("iphone-x", INT64_MAX), ("iphone-x", 2))) == both


def test_every_violation_at_once_in_field_order() -> None:
    assert violations(create(-5, ("", 0), ("iphone-x", 51))) == [
        ("user_id", USER_ID_RANGE),
        ("items[0].product_code", 'unknown product code ""'),
        ("items[0].quantity", QUANTITY_BELOW_ONE),
        ("items", TOO_MANY_ITEMS),
    ]


def test_totals_stay_within_int64() -> None:
    assert validation.total_cents([(89_999, 2), (29_699, 1)]) == 209_697
    assert validation.total_cents([]) == 0
    assert validation.total_cents([(INT64_MAX, 1)]) == INT64_MAX
    assert validation.total_cents([(INT64_MAX, 1), (1, 1)]) is None
    assert validation.total_cents([(2, INT64_MAX // 2 + 1)]) is None


def test_unit_prices() -> None:
    assert validation.unit_price(99_999, ecommerce_pb2.DiscountValue(pct=0.1, value_in_cents=89_999)) == 89_999
    assert validation.unit_price(99_999, ecommerce_pb2.DiscountValue()) == 99_999
    assert validation.unit_price(99_999, None) == 99_999
    assert validation.unit_price(99_999, ecommerce_pb2.DiscountValue(pct=0.1, value_in_cents=100_000)) == 99_999


def test_payment_violations_in_field_order() -> None:
    assert charge.validate(payment_pb2.CreatePaymentRequest(user_id=1, order_id="ord-1")) == []
    found = charge.validate(payment_pb2.CreatePaymentRequest(user_id=0, order_id="", total_price_cents=-1))
    assert [(v.field, v.description) for v in found] == [
        ("user_id", "must be at least 1"),
        ("order_id", "must not be empty"),
        ("total_price_cents", "must not be negative"),
    ]


def test_the_limit_is_inclusive() -> None:
    assert charge.check_limit(100_000, charge.DEFAULT_LIMIT_CENTS) is None
    refusal = charge.check_limit(100_001, charge.DEFAULT_LIMIT_CENTS)
    assert refusal == charge.Refusal(
        "payment refused: the total of 100001 cents is above the limit of 100000 cents",
        "TOTAL_ABOVE_LIMIT", "payment.interop", {"limit_cents": "100000", "total_cents": "100001"})


def test_a_refusal_survives_the_status_round_trip() -> None:
    refusal = charge.check_limit(150_000, 100_000)
    assert refusal is not None
    status = refusal.to_status()
    [(key, value)] = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    decoded = status_pb2.Status.FromString(value)
    assert decoded.code == code_pb2.FAILED_PRECONDITION and decoded.message == refusal.message
    assert charge.Refusal.from_status(decoded, status.details) == refusal
    info = error_details_pb2.ErrorInfo()
    assert decoded.details[0].Unpack(info) and info.reason == "TOTAL_ABOVE_LIMIT"
