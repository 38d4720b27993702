"""The discount rule, kept pure (no server, no I/O) so it can be compared in-process with other implementations."""

from __future__ import annotations

from decimal import Decimal

from interop_services.proto import ecommerce_pb2

DISCOUNTED_CUSTOMER_ID = 1

# Decimal, as the tutorial does: prices are cents, and binary floats would round 0.9 * price the wrong way.
_PCT = Decimal(10) / 100
_PCT_FLOAT = float(_PCT)


def apply_discount(customer_id: int, price_in_cents: int) -> tuple[float, int] | None:
    """Return (pct, discounted price in cents) for a discounted purchase, or None when no discount applies."""
    if customer_id != DISCOUNTED_CUSTOMER_ID or price_in_cents <= 0:
        return None
    price = Decimal(price_in_cents) / 100
    new_price = price - price * _PCT
    # int() truncates toward zero, as the tutorial's does: 32999 -> 29699.1 -> 29699.
    return _PCT_FLOAT, int(new_price * 100)


def discount_value(customer_id: int, price_in_cents: int) -> ecommerce_pb2.DiscountValue:
    """The DiscountValue message for a purchase: empty (but still sent) when no discount applies."""
    discount = apply_discount(customer_id, price_in_cents)
    if discount is None:
        return ecommerce_pb2.DiscountValue()
    pct, value_in_cents = discount
    return ecommerce_pb2.DiscountValue(pct=pct, value_in_cents=value_in_cents)


def discount_response(request: ecommerce_pb2.DiscountRequest) -> ecommerce_pb2.DiscountResponse:
    """Echo the product with its discount_value always set, which is what callers see on the wire."""
    product = request.product
    priced = ecommerce_pb2.Product(
        id=product.id,
        slug=product.slug,
        description=product.description,
        price_in_cents=product.price_in_cents,
        discount_value=discount_value(request.customer.id, product.price_in_cents),
    )
    return ecommerce_pb2.DiscountResponse(product=priced)
