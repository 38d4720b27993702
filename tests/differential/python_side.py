"""The Python half of tests/differential.rs, loaded into the interpreter the test binary embeds.

Each comparison crosses from Rust into Python once: the inputs go in as one list and the answers come back as one
list, so hundreds of thousands of cases cost two conversions instead of a call each.

It is loaded before the venv is entered, so the project's modules are imported inside the functions that use them.
"""

from __future__ import annotations

import importlib
import json
import site
import sys
from typing import Any, Iterable


def enter_venv(site_packages: str) -> None:
    """Use the project's venv as `bin/python` inside it would: its site-packages (and the `.pth` files there, which
    put the services and the generated stubs on the path), and not the base interpreter's own site-packages."""
    base = set(site.getsitepackages())
    base.add(site.getusersitepackages())
    kept = [entry for entry in sys.path if entry not in base]
    sys.path[:] = kept
    site.addsitedir(site_packages)


def call_batch(target: str, inputs: Iterable[tuple]) -> list[tuple[bool, Any]]:
    """`module:function` applied to each tuple of arguments: (True, result), or (False, message) when it raised."""
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    outcomes: list[tuple[bool, Any]] = []
    for args in inputs:
        try:
            outcomes.append((True, function(*args)))
        except Exception as error:  # a refusal is an answer to compare, not a failure of the batch
            outcomes.append((False, str(error)))
    return outcomes


def wire_vector(message_name: str, wire: bytes) -> tuple[bytes, str, str | None]:
    """What Python's protobuf makes of one wire vector: the message decoded from `wire` and serialized again, its
    proto3 JSON (json_format, written compactly), and for a Product the Catalog's rendering of it."""
    from google.protobuf import json_format

    from interop_services.catalog.render import render_products
    from interop_services.proto import ecommerce_pb2

    message = getattr(ecommerce_pb2, message_name).FromString(wire)
    reencoded = message.SerializeToString()
    rendered = json.dumps(json_format.MessageToDict(message), ensure_ascii=False, separators=(",", ":"))
    catalog = render_products([message]) if message_name == "Product" else None
    return reencoded, rendered, catalog


def render_product_list(wires: list[bytes]) -> str:
    """The Catalog's rendering of a list of Products, each given as wire bytes."""
    from interop_services.catalog.render import render_products
    from interop_services.proto import ecommerce_pb2

    return render_products([ecommerce_pb2.Product.FromString(wire) for wire in wires])


def order_unit_price(list_price_cents: int, discount: tuple[float, int] | None) -> int:
    """Order's unit price, with the discount given as Rust gives it: (pct, value_in_cents), or None."""
    from interop_services.order.validation import unit_price
    from interop_services.proto import ecommerce_pb2

    value = None if discount is None else ecommerce_pb2.DiscountValue(pct=discount[0], value_in_cents=discount[1])
    return unit_price(list_price_cents, value)
