//! The tutorial's fixed products and customers, and how a customer id arrives over HTTP.

use crate::proto::ecommerce::{Customer, Product};

/// The tutorial's three products, in its order.
pub fn products() -> Vec<Product> {
    [
        (1, "iphone-x", "64GB, black and iOS 12", 99_999),
        (
            2,
            "notebook-avell-g1511",
            "Notebook Gamer Intel Core i7",
            150_000,
        ),
        (3, "playstation-4-slim", "1TB Console", 32_999),
    ]
    .into_iter()
    .map(|(id, slug, description, price_in_cents)| Product {
        id,
        slug: slug.into(),
        description: description.into(),
        price_in_cents,
        discount_value: None,
    })
    .collect()
}

/// The tutorial's customers by id.
pub fn find_customer(id: i64) -> Option<Customer> {
    let (id, first_name, last_name) = match id {
        1 => (1, "John", "Snow"),
        2 => (2, "Daenerys", "Targaryen"),
        _ => return None,
    };
    Some(Customer {
        id,
        first_name: first_name.into(),
        last_name: last_name.into(),
    })
}

/// Parses `X-USER-ID` as the tutorial's Go code does with `strconv.Atoi` on a 64-bit machine: an optional sign and
/// ASCII digits, within int64. Anything else (spaces, `_`, non-ASCII digits, overflow) is not a number.
pub fn parse_customer_id(value: &str) -> Option<i64> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_parse_like_go_atoi() {
        assert_eq!(parse_customer_id("1"), Some(1));
        assert_eq!(parse_customer_id("+2"), Some(2));
        assert_eq!(parse_customer_id("-7"), Some(-7));
        assert_eq!(parse_customer_id("007"), Some(7));
        assert_eq!(parse_customer_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "+",
            "abc",
            " 1",
            "1 ",
            "1_0",
            "١",
            "9223372036854775808",
            "1.0",
            "0x1",
        ] {
            assert_eq!(parse_customer_id(bad), None, "{bad:?}");
        }
    }
}
