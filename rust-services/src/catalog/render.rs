//! JSON exactly as the tutorial's Go program renders it: `json.NewEncoder(w).Encode(products)` over protoc-gen-go
//! structs. Field names are the proto names, zero and empty values are omitted (`omitempty`), a set but empty
//! message is `{}`, strings are escaped as Go escapes them, float32 is the shortest text that round-trips as float32,
//! and the encoder ends the document with a newline.

use std::fmt::Write;

use crate::proto::ecommerce::{DiscountValue, Product};

/// The products as the tutorial's Go encoder renders them, newline included.
pub fn render_products(products: &[Product]) -> String {
    let mut out = String::from("[");
    for (i, product) in products.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        render_product(&mut out, product);
    }
    out.push_str("]\n");
    out
}

fn render_product(out: &mut String, product: &Product) {
    let mut object = Object::new(out);
    object.int("id", product.id.into());
    object.string("slug", &product.slug);
    object.string("description", &product.description);
    object.int("price_in_cents", product.price_in_cents.into());
    if let Some(discount) = &product.discount_value {
        object.key("discount_value");
        render_discount(object.out, discount);
    }
    object.close();
}

fn render_discount(out: &mut String, discount: &DiscountValue) {
    let mut object = Object::new(out);
    if discount.pct != 0.0 {
        object.key("pct");
        object.out.push_str(&format_float32(discount.pct));
    }
    object.int("value_in_cents", discount.value_in_cents.into());
    object.close();
}

/// Writes a JSON object's members, omitting zero values as `omitempty` does.
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    fn key(&mut self, name: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        let _ = write!(self.out, "\"{name}\":");
    }

    fn int(&mut self, name: &str, value: i64) {
        if value != 0 {
            self.key(name);
            let _ = write!(self.out, "{value}");
        }
    }

    fn string(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.key(name);
            escape_into(self.out, value);
        }
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// A JSON string as Go's encoder escapes it (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 are escaped too).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    escape_into(&mut out, value);
    out
}

fn escape_into(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float32 as Go's `encoding/json` writes it: the shortest digits that round-trip as float32, in plain notation
/// unless the magnitude is below 1e-6 or at least 1e21, where it uses an exponent (`1e-7`, `1e+21`).
///
/// Rust's own shortest formatting (`{}`) breaks exact ties upwards (230181.625 gives `230181.63`) where Go rounds
/// half to even (`230181.62`), so the digits are searched here with Rust's exact formatting, which rounds half to
/// even, and Rust's parser, which reads back exactly as Go's does.
pub fn format_float32(value: f32) -> String {
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let abs = value.abs();
    if abs == 0.0 {
        return format!("{sign}0");
    }
    let (digits, exponent) = shortest_digits(abs);
    if !(1e-6..1e21).contains(&abs) {
        let mantissa = match digits.split_at(1) {
            (first, "") => first.to_string(),
            (first, rest) => format!("{first}.{rest}"),
        };
        // Go writes at least two exponent digits, then its JSON encoder trims `e-07` to `e-7` (but keeps `e+21`).
        if exponent < 0 {
            format!("{sign}{mantissa}e-{}", -exponent)
        } else {
            format!("{sign}{mantissa}e+{exponent:02}")
        }
    } else {
        format!("{sign}{}", plain(&digits, exponent))
    }
}

/// The fewest significant digits (no trailing zeros) that read back as `value` (positive, finite), closest first,
/// and the decimal exponent of the first digit.
fn shortest_digits(value: f32) -> (String, i32) {
    for precision in 1..=9usize {
        let nearest = format!("{value:.*e}", precision - 1);
        let (mantissa, exponent) = nearest.split_once('e').expect("exponent form");
        let units: u64 = mantissa.replace('.', "").parse().expect("decimal digits");
        let scale = exponent.parse::<i32>().expect("decimal exponent") - (precision as i32 - 1);
        // The nearest candidate first; a neighbour can read back when the float's interval is lopsided (at a power
        // of two the gap below is half the gap above).
        for candidate in [units, units - 1, units + 1] {
            if format!("{candidate}e{scale}").parse::<f32>() == Ok(value) {
                let text = candidate.to_string();
                let leading = scale + text.len() as i32 - 1;
                return (text.trim_end_matches('0').to_string(), leading);
            }
        }
    }
    unreachable!("nine significant digits always identify a float32")
}

/// `digits` × 10^`exponent` (exponent of the first digit) without an exponent.
fn plain(digits: &str, exponent: i32) -> String {
    let point = exponent + 1;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // 230181.625 is exact in float32 and is the point: a tie between two shortest candidates.
    #[allow(clippy::excessive_precision)]
    fn float32_like_go() {
        let cases: &[(f32, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1"),
            (0.5, "0.5"),
            (-0.25, "-0.25"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (1.5e-10, "1.5e-10"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (f32::MAX, "3.4028235e+38"),
            (f32::from_bits(1), "1e-45"),
            (f32::MIN_POSITIVE, "1.1754944e-38"),
            (16_777_216.0, "16777216"),
            // Ties: Go rounds half to even where Rust's shortest `{}` rounds up.
            (230_181.625, "230181.62"),
            (0.000_001, "0.000001"),
            (123.456, "123.456"),
            (-0.0, "-0"),
        ];
        for &(value, want) in cases {
            assert_eq!(format_float32(value), want, "format_float32({value:?})");
        }
    }

    #[test]
    fn strings_like_go() {
        assert_eq!(escape("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(
            escape("q\"\\\n\r\t\u{8}\u{c}\u{1}"),
            r#""q\"\\\n\r\t\b\f\u0001""#
        );
        assert_eq!(escape("\u{2028}\u{2029}é"), "\"\\u2028\\u2029é\"");
    }

    #[test]
    fn omitempty_and_set_but_empty() {
        let mut products = crate::catalog::data::products();
        products.truncate(1);
        assert_eq!(
            render_products(&products),
            "[{\"id\":1,\"slug\":\"iphone-x\",\"description\":\"64GB, black and iOS 12\",\"price_in_cents\":99999}]\n"
        );
        products[0].discount_value = Some(DiscountValue::default());
        assert!(
            render_products(&products)
                .ends_with("\"price_in_cents\":99999,\"discount_value\":{}}]\n")
        );
        products[0].discount_value = Some(DiscountValue {
            pct: 0.1,
            value_in_cents: 89_999,
        });
        assert!(
            render_products(&products)
                .ends_with("\"discount_value\":{\"pct\":0.1,\"value_in_cents\":89999}}]\n")
        );
    }
}
