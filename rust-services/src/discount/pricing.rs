//! The tutorial's pricing rule, free of any server so it can be compared in-process with the Python one.

use crate::proto::ecommerce::{DiscountRequest, DiscountValue, Product};

/// The only customer the tutorial discounts.
pub const DISCOUNTED_CUSTOMER: i32 = 1;

/// The tutorial's discount: 10 %.
pub const DISCOUNT_PCT: f32 = 0.1;

/// The discount for `customer_id` on a product priced `price_in_cents`: `(pct, value_in_cents)`, or `None`.
///
/// The tutorial computes `int((price/100 - price/100 * 0.1) * 100)` in Python's `Decimal`, which is exact for every
/// int32 price, so it equals `price * 9 / 10` truncated; integer arithmetic reproduces it without floats.
pub fn apply_discount(customer_id: i32, price_in_cents: i32) -> Option<(f32, i32)> {
    if customer_id != DISCOUNTED_CUSTOMER || price_in_cents <= 0 {
        return None;
    }
    let value = i64::from(price_in_cents) * 9 / 10;
    // 0 < value < price_in_cents, so it always fits.
    Some((DISCOUNT_PCT, value as i32))
}

/// The product of `request`, echoed with its discount; the discount value is always set, empty when none applies.
pub fn discounted_product(request: &DiscountRequest) -> Product {
    let customer_id = request.customer.as_ref().map_or(0, |c| c.id);
    let product = request.product.clone().unwrap_or_default();
    let discount_value = match apply_discount(customer_id, product.price_in_cents) {
        Some((pct, value_in_cents)) => DiscountValue {
            pct,
            value_in_cents,
        },
        None => DiscountValue::default(),
    };
    Product {
        discount_value: Some(discount_value),
        ..product
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_sample_values() {
        assert_eq!(apply_discount(1, 99_999), Some((0.1, 89_999)));
        assert_eq!(apply_discount(1, 150_000), Some((0.1, 135_000)));
        assert_eq!(apply_discount(1, 32_999), Some((0.1, 29_699)));
    }

    #[test]
    fn edges() {
        assert_eq!(apply_discount(1, 1), Some((0.1, 0)));
        assert_eq!(apply_discount(1, 10), Some((0.1, 9)));
        assert_eq!(apply_discount(1, i32::MAX), Some((0.1, 1_932_735_282)));
        assert_eq!(apply_discount(1, 0), None);
        assert_eq!(apply_discount(1, -5), None);
        assert_eq!(apply_discount(2, 99_999), None);
        assert_eq!(apply_discount(0, 99_999), None);
    }
}
