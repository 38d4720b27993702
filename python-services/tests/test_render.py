"""Catalog JSON against what Go's encoding/json writes for the same protoc-gen-go structs."""

import struct

import pytest
import samples

from interop_services.catalog import data
from interop_services.catalog.render import format_float32, format_string, render_products
from interop_services.proto import ecommerce_pb2


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _priced(pct: float, values: list[int]) -> list[ecommerce_pb2.Product]:
    products = data.products()
    for product, value in zip(products, values):
        product.discount_value.CopyFrom(ecommerce_pb2.DiscountValue(pct=pct, value_in_cents=value))
    return products


def test_customer_1_sample_byte_for_byte() -> None:
    assert render_products(_priced(0.1, [89999, 135000, 29699])) == samples.USER_1


def test_set_but_empty_discount_renders_braces() -> None:
    products = data.products()
    for product in products:
        product.discount_value.SetInParent()
    assert render_products(products) == samples.USER_2


def test_unset_discount_has_no_key() -> None:
    assert render_products(data.products()) == samples.NO_DISCOUNT


def test_zero_values_are_omitted() -> None:
    empty = ecommerce_pb2.Product()
    only_pct = ecommerce_pb2.Product(discount_value=ecommerce_pb2.DiscountValue(pct=0.5))
    only_value = ecommerce_pb2.Product(id=-3, discount_value=ecommerce_pb2.DiscountValue(value_in_cents=-1))
    assert render_products([empty, only_pct, only_value]) == (
        '[{},{"discount_value":{"pct":0.5}},{"id":-3,"discount_value":{"value_in_cents":-1}}]\n'
    )


def test_empty_list() -> None:
    assert render_products([]) == "[]\n"


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (0.1, "0.1"),
        (1.0, "1"),
        (0.5, "0.5"),
        (0.0, "0"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (_f32(3.4028234663852886e38), "3.4028235e+38"),  # largest float32
        (2.0**-149, "1e-45"),  # smallest subnormal float32
        (2.0**-126, "1.1754944e-38"),  # smallest normal float32
        (1e20, "100000000000000000000"),
        (0.000001, "0.000001"),  # float32(1e-6) is the threshold itself, so plain
        (0.00000099, "9.9e-7"),
        (1.5e-10, "1.5e-10"),
        (123456789.0, "123456790"),
        (16777216.0, "16777216"),
        (-0.1, "-0.1"),
        (-1e-7, "-1e-7"),
        (-1e21, "-1e+21"),
        (-2.5, "-2.5"),
        (230181.625, "230181.62"),  # a tie between 8-digit candidates: Go rounds half to even
    ],
)
def test_float32_formatting(value: float, want: str) -> None:
    assert format_float32(value) == want, f"format_float32({value!r}): got {format_float32(value)!r}, want {want!r}"


def test_float32_rounds_doubles_first() -> None:
    # The message field is float32; a double such as 0.1 must print as the float32 it becomes, not as itself.
    assert format_float32(0.1000000000001) == "0.1"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e39])
def test_float32_refuses_what_go_refuses(value: float) -> None:
    with pytest.raises(ValueError):
        format_float32(value)


def test_float32_shortest_reads_back() -> None:
    # Every output must parse back to the same float32 and be no longer than repr-style shortest digits need.
    for bits in range(0x3DCCCCC0, 0x3DCCCCE0):  # around 0.1
        value = struct.unpack("<f", struct.pack("<I", bits))[0]
        text = format_float32(value)
        assert _f32(float(text)) == value, f"{text} does not read back as {value!r}"
        assert len(text.replace("0.", "", 1).lstrip("0")) <= 9


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("plain", '"plain"'),
        ("<b>&</b>", '"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"'),
        ('say "hi" \\', '"say \\"hi\\" \\\\"'),
        ("\n\r\t\b\f", '"\\n\\r\\t\\b\\f"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x7f", '"\x7f"'),
        ("a\u2028b\u2029c", '"a\\u2028b\\u2029c"'),
        ("café 日本 🙂", '"café 日本 🙂"'),
        ("\ud800", '"\\ufffd"'),
    ],
)
def test_string_escaping(text: str, want: str) -> None:
    assert format_string(text) == want


def test_non_ascii_is_raw_utf8_in_products() -> None:
    product = ecommerce_pb2.Product(id=9, slug="ação", description="<1TB> & \u2028")
    assert render_products([product]).encode() == (
        '[{"id":9,"slug":"ação","description":"\\u003c1TB\\u003e \\u0026 \\u2028"}]\n'.encode()
    )
