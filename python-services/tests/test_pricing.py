"""The discount rule against the tutorial's numbers and an independent integer formula."""

import pytest

from interop_services.discount.pricing import apply_discount, discount_response
from interop_services.proto import ecommerce_pb2

INT32_MAX = 2**31 - 1


@pytest.mark.parametrize(
    ("price", "want"),
    [(99999, 89999), (150000, 135000), (32999, 29699), (1, 0), (10, 9), (INT32_MAX, INT32_MAX * 9 // 10)],
)
def test_customer_1_gets_ten_percent_off_truncated(price: int, want: int) -> None:
    assert apply_discount(1, price) == (0.1, want), f"apply_discount(1, {price}): want {want}"


@pytest.mark.parametrize("price", [0, -1, -99999, -(2**31)])
def test_no_discount_without_a_positive_price(price: int) -> None:
    assert apply_discount(1, price) is None


@pytest.mark.parametrize("customer_id", [2, 0, -1, 3, INT32_MAX, -(2**31)])
def test_no_discount_for_other_customers(customer_id: int) -> None:
    assert apply_discount(customer_id, 99999) is None


def test_matches_integer_formula() -> None:
    # 10% off with truncation is exactly floor(9p/10) for positive p; Decimal must never drift from it.
    prices = [*range(1, 20_001), *range(INT32_MAX - 20_000, INT32_MAX + 1)]
    wrong = [p for p in prices if apply_discount(1, p) != (0.1, p * 9 // 10)]
    assert not wrong, f"first mismatches: {wrong[:5]}"


def _request(customer_id: int, price: int) -> ecommerce_pb2.DiscountRequest:
    product = ecommerce_pb2.Product(id=7, slug="s", description="d", price_in_cents=price)
    return ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=customer_id), product=product)


def test_response_echoes_product_with_discount() -> None:
    product = discount_response(_request(1, 99999)).product
    assert (product.id, product.slug, product.description, product.price_in_cents) == (7, "s", "d", 99999)
    assert product.discount_value.value_in_cents == 89999
    assert product.discount_value.pct == pytest.approx(0.1)


def test_no_discount_is_still_present_on_the_wire() -> None:
    response = discount_response(_request(2, 99999))
    decoded = ecommerce_pb2.DiscountResponse.FromString(response.SerializeToString())
    assert decoded.product.HasField("discount_value")
    assert decoded.product.discount_value == ecommerce_pb2.DiscountValue()
