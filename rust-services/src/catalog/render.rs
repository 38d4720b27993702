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
pub fn format_float32(value: f32) -> String {
    let abs = value.abs();
    if abs != 0.0 && (abs < 1e-6 || abs >= 1e21) {
        // Rust's `{:e}` gives the same shortest digits with a bare exponent (`1e-7`, `3.4028235e38`); Go writes the
        // sign of a positive exponent and at least two digits there.
        let text = format!("{value:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent:0>2}")
            }
            _ => text,
        }
    } else {
        // Display is the shortest round-trip form without an exponent, and no `.0` on whole numbers (as Go).
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
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
