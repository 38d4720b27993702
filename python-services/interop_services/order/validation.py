"""Order's rules, free of any server: what a valid Create is, how an item is priced, and the total in cents with
64-bit overflow checked (Python's integers never overflow, so the limit is explicit). The exact violation texts are
shared with the Rust twin (docs/order-payment.md)."""

from __future__ import annotations

from typing import Iterable, Sequence

from interop_services.proto import ecommerce_pb2, order_pb2
from interop_services.rpc import Violation

MAX_ITEMS = 50
MAX_USER_ID = 2**31 - 1  # Discount's customer id is an int32
INT64_MAX = 2**63 - 1

USER_ID_RANGE = "must be from 1 to 2147483647"
NO_ITEMS = "must hold at least one item"
QUANTITY_BELOW_ONE = "must be at least 1"
TOO_MANY_ITEMS = "more than 50 items in total"
TOTAL_OVERFLOWS = "the total overflows 64-bit cents"
ORDER_ID_EMPTY = "must not be empty"


def unknown_product(code: str) -> str:
    return f'unknown product code "{code}"'


class Invalid(Exception):
    """A request that breaks the rules; `violations` says how, in field order."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(violations)
        self.violations = violations


def validate_create(request: order_pb2.CreateOrderRequest,
                    catalog: Sequence[ecommerce_pb2.Product]) -> list[tuple[ecommerce_pb2.Product, int]]:
    """Check a Create request against the catalog; every violation is reported (as Invalid). When there is none,
    the catalog product of each item comes back with its quantity."""
    violations = []
    if not 1 <= request.user_id <= MAX_USER_ID:
        violations.append(Violation("user_id", USER_ID_RANGE))
    if not request.items:
        violations.append(Violation("items", NO_ITEMS))
    by_code = {product.slug: product for product in catalog}
    lines = []
    units = 0
    for i, item in enumerate(request.items):
        product = by_code.get(item.product_code)
        if product is None:
            violations.append(Violation(f"items[{i}].product_code", unknown_product(item.product_code)))
        if item.quantity < 1:
            violations.append(Violation(f"items[{i}].quantity", QUANTITY_BELOW_ONE))
        else:
            units += item.quantity
        if product is not None:
            lines.append((product, item.quantity))
    if units > MAX_ITEMS:
        violations.append(Violation("items", TOO_MANY_ITEMS))
    # Checked on list prices, before anyone is asked: a discount only lowers a price, so a list total that fits means
    # the discounted one fits too. Reported with the unit cap, not instead of it.
    if total_cents((product.price_in_cents, quantity) for product, quantity in lines if quantity >= 1) is None:
        violations.append(Violation("items", TOTAL_OVERFLOWS))
    if violations:
        raise Invalid(violations)
    return lines


def total_cents(lines: Iterable[tuple[int, int]]) -> int | None:
    """The sum of `unit_price_cents * quantity`, or None if it, or any step of it, leaves the int64 range."""
    total = 0
    for unit, quantity in lines:
        line = unit * quantity
        total += line
        if not -INT64_MAX - 1 <= line <= INT64_MAX or not -INT64_MAX - 1 <= total <= INT64_MAX:
            return None
    return total


def unit_price(list_price_cents: int, discount: ecommerce_pb2.DiscountValue | None) -> int:
    """Discount's value when it gave a discount (pct > 0) within 0..list price, else the list price (Discount answers
    an empty value when none applies)."""
    if discount is not None and discount.pct > 0 and 0 <= discount.value_in_cents <= list_price_cents:
        return discount.value_in_cents
    return list_price_cents
