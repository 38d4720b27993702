"""JSON exactly as the tutorial's Go Catalog writes it: `json.NewEncoder(w).Encode(products)` of protoc-gen-go structs.

Every language's Catalog must produce the same bytes, so nothing here is left to a JSON library's taste: key order,
omitempty, float32 digits and string escaping all follow Go's encoding/json.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Iterable

from interop_services.proto import ecommerce_pb2

_FLOAT32_MAX_DIGITS = 9  # 9 significant digits always identify a float32
_POW10 = [10**k for k in range(64)]  # past any exponent a float32's digits need (about 10**-54 to 10**38)


def _to_float32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


# Go compares float32(abs) against these constants converted to float32, so the exact thresholds are the rounded ones
# (a float32 of 0.000001 is just below 1e-6 as a real number, yet Go prints it as 0.000001).
_SCIENTIFIC_BELOW = _to_float32(1e-6)
_SCIENTIFIC_FROM = _to_float32(1e21)


def format_float32(x: float) -> str:
    """Format `x` (rounded to float32) as Go's encoding/json formats a float32 field."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"json: unsupported value: {x!r}")  # Go's encoder refuses these too
    try:
        value = _to_float32(x)
    except OverflowError as err:
        raise ValueError(f"json: {x!r} does not fit in a float32") from err
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    magnitude = abs(value)
    if magnitude == 0:
        return sign + "0"
    digits, exponent = _shortest_digits(magnitude)
    if magnitude < _SCIENTIFIC_BELOW or magnitude >= _SCIENTIFIC_FROM:
        return sign + _scientific(digits, exponent)
    return sign + _plain(digits, exponent)


def _shortest_digits(value: float) -> tuple[str, int]:
    """Fewest significant digits that read back as this positive float32, and their decimal exponent.

    Returns (digits, exponent) meaning d1.d2d3... x 10**exponent. Among candidates of the same length the closest to
    the exact value wins (ties to an even digit), as in Go's strconv. Exact integer arithmetic: reading a decimal back
    through a float64 first (float(s) then float32) can round twice and accept a candidate Go would reject.

    The float32 is m * 2**e exactly. Its rounding interval runs halfway to each neighbour, so in units of 2**(e-2)
    the value is 4m, the upper bound 4m + 2 and the lower bound 4m - 2, or 4m - 1 at a power of two, whose lower
    neighbour is half as far (the largest float32's upper neighbour is 2**128, one ulp up as for any other value).
    """
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    biased, fraction = bits >> 23, bits & 0x7FFFFF
    if biased == 0:  # subnormal: no implicit leading bit, the smallest exponent
        mantissa, exponent2 = fraction, -149
    else:
        mantissa, exponent2 = fraction | 0x800000, biased - 150
    exact = 4 * mantissa
    high = exact + 2
    low = exact - (1 if fraction == 0 and biased > 1 else 2)
    ties_round_here = bits % 2 == 0  # round-half-to-even: a tie goes to the even mantissa
    shift = exponent2 - 2  # the interval's unit is 2**shift

    leading_exponent = Decimal(value).adjusted()  # Decimal(float) is exact, so this is floor(log10(value))

    def closest_fitting(precision: int) -> tuple[int, int] | None:
        """The `precision`-digit decimal closest to the value that reads back as it: (units, scale exponent)."""
        scale_exponent = leading_exponent - precision + 1
        # A candidate `units * 10**scale_exponent` against a bound `b * 2**shift`, both sides in integers:
        # units * step against b * factor.
        step = _POW10[max(scale_exponent, 0)] << max(-shift, 0)
        factor = _POW10[max(-scale_exponent, 0)] << max(shift, 0)
        exact_n, low_n, high_n = exact * factor, low * factor, high * factor
        best = None
        floor_units = exact_n // step
        for units in (floor_units, floor_units + 1):
            candidate = units * step
            inside = low_n <= candidate <= high_n if ties_round_here else low_n < candidate < high_n
            # Closest wins; an exact tie goes to the even last digit, as Go rounds half to even.
            if inside and (best is None or (abs(candidate - exact_n), units % 2) < best[0]):
                best = ((abs(candidate - exact_n), units % 2), units)
        return None if best is None else (best[1], scale_exponent)

    # If some precision fits, every longer one does (the fitting candidate's neighbour towards the value, one digit
    # longer, lies between the two), so the shortest is found by bisection; 9 digits always fit.
    found = closest_fitting(_FLOAT32_MAX_DIGITS)
    fewest, most = 1, _FLOAT32_MAX_DIGITS - 1
    while fewest <= most:
        middle = (fewest + most) // 2
        fit = closest_fitting(middle)
        if fit is None:
            fewest = middle + 1
        else:
            found, most = fit, middle - 1
    if found is None:
        raise AssertionError(f"no {_FLOAT32_MAX_DIGITS}-digit decimal reads back as {value!r}")
    units, scale_exponent = found
    text = str(units)
    return text.rstrip("0"), scale_exponent + len(text) - 1


def _scientific(digits: str, exponent: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    # Go writes at least two exponent digits, then its JSON encoder trims "e-07" to "e-7" (but keeps "e+21").
    return f"{mantissa}e-{-exponent}" if exponent < 0 else f"{mantissa}e+{exponent:02d}"


def _plain(digits: str, exponent: int) -> str:
    point = exponent + 1  # digits before the decimal point
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _string_escapes() -> dict[int, str]:
    table = {code: f"\\u{code:04x}" for code in range(0x20)}
    table.update({ord(char): escape for char, escape in {
        '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
        # HTML-safe, Go's Encoder default, so the output can be embedded in a page.
        "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
        # Line separators JavaScript would break lines on.
        "\u2028": "\\u2028", "\u2029": "\\u2029",
    }.items()})
    # Lone surrogates are invalid UTF-8; Go writes the replacement character for invalid bytes.
    table.update({code: "\\ufffd" for code in range(0xD800, 0xE000)})
    return table


_STRING_ESCAPES = _string_escapes()


def format_string(text: str) -> str:
    """A JSON string literal escaped as Go's encoding/json does; other non-ASCII stays raw UTF-8."""
    return '"' + text.translate(_STRING_ESCAPES) + '"'


def _discount_value_json(discount: ecommerce_pb2.DiscountValue) -> str:
    fields = []
    if discount.pct:  # omitempty: 0 and -0 are left out
        fields.append(f'"pct":{format_float32(discount.pct)}')
    if discount.value_in_cents:
        fields.append(f'"value_in_cents":{discount.value_in_cents}')
    return "{" + ",".join(fields) + "}"


def _product_json(product: ecommerce_pb2.Product) -> str:
    # Field-number order with the proto names, as protoc-gen-go's json tags give; every field is omitempty.
    fields = []
    if product.id:
        fields.append(f'"id":{product.id}')
    if product.slug:
        fields.append(f'"slug":{format_string(product.slug)}')
    if product.description:
        fields.append(f'"description":{format_string(product.description)}')
    if product.price_in_cents:
        fields.append(f'"price_in_cents":{product.price_in_cents}')
    # A set-but-empty message is a non-nil pointer in Go, which omitempty keeps: `{}`.
    if product.HasField("discount_value"):
        fields.append(f'"discount_value":{_discount_value_json(product.discount_value)}')
    return "{" + ",".join(fields) + "}"


def render_products(products: Iterable[ecommerce_pb2.Product]) -> str:
    """The whole response body, with the newline Go's Encoder.Encode appends."""
    return "[" + ",".join(_product_json(product) for product in products) + "]\n"
