"""The tutorial's fixed products and customers."""

from __future__ import annotations

from interop_services.proto import ecommerce_pb2

# (id, slug, description, price_in_cents), in the order the list is served.
_PRODUCTS: tuple[tuple[int, str, str, int], ...] = (
    (1, "iphone-x", "64GB, black and iOS 12", 99999),
    (2, "notebook-avell-g1511", "Notebook Gamer Intel Core i7", 150000),
    (3, "playstation-4-slim", "1TB Console", 32999),
)

# id -> (first_name, last_name)
_CUSTOMERS: dict[int, tuple[str, str]] = {
    1: ("John", "Snow"),
    2: ("Daenerys", "Targaryen"),
}


def products() -> list[ecommerce_pb2.Product]:
    """Fresh messages on every call: handlers may hand them on, and protobuf messages are mutable."""
    return [
        ecommerce_pb2.Product(id=id_, slug=slug, description=description, price_in_cents=price)
        for id_, slug, description, price in _PRODUCTS
    ]


def find_customer(customer_id: int) -> ecommerce_pb2.Customer | None:
    names = _CUSTOMERS.get(customer_id)
    if names is None:
        return None
    first_name, last_name = names
    return ecommerce_pb2.Customer(id=customer_id, first_name=first_name, last_name=last_name)
