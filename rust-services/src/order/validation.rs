//! Order's rules, free of any server: what a valid Create is, how an item is priced, and the total in cents with
//! overflow checked. The exact violation texts are shared with the Python twin (docs/order-payment.md).

use crate::proto::ecommerce::{DiscountValue, Product};
use crate::proto::order::CreateOrderRequest;
use crate::rpc::Violation;

/// Most units (the sum of quantities) one order may hold.
pub const MAX_ITEMS: i64 = 50;

/// The largest user id: Discount's customer id is an int32.
pub const MAX_USER_ID: i64 = i32::MAX as i64;

/// The description of a user id outside 1..=MAX_USER_ID.
pub const USER_ID_RANGE: &str = "must be from 1 to 2147483647";
/// The description of an order without items.
pub const NO_ITEMS: &str = "must hold at least one item";
/// The description of a quantity below 1.
pub const QUANTITY_BELOW_ONE: &str = "must be at least 1";
/// The description of an order of more than [`MAX_ITEMS`] units.
pub const TOO_MANY_ITEMS: &str = "more than 50 items in total";
/// The description of a total that does not fit a signed 64-bit number of cents.
pub const TOTAL_OVERFLOWS: &str = "the total overflows 64-bit cents";
/// The description of an empty order id.
pub const ORDER_ID_EMPTY: &str = "must not be empty";

/// The description of a product code the catalog does not have.
pub fn unknown_product(code: &str) -> String {
    format!("unknown product code \"{code}\"")
}

/// Checks a Create request against the catalog. Every violation is reported, in field order; when there is none,
/// the catalog product of each item comes back with its quantity.
pub fn validate_create(
    request: &CreateOrderRequest,
    catalog: &[Product],
) -> Result<Vec<(Product, i64)>, Vec<Violation>> {
    let mut violations = Vec::new();
    if !(1..=MAX_USER_ID).contains(&request.user_id) {
        violations.push(Violation::new("user_id", USER_ID_RANGE));
    }
    if request.items.is_empty() {
        violations.push(Violation::new("items", NO_ITEMS));
    }
    let mut lines = Vec::new();
    let mut units: i64 = 0;
    for (i, item) in request.items.iter().enumerate() {
        let product = catalog.iter().find(|p| p.slug == item.product_code);
        if product.is_none() {
            violations.push(Violation::new(
                format!("items[{i}].product_code"),
                unknown_product(&item.product_code),
            ));
        }
        if item.quantity < 1 {
            violations.push(Violation::new(
                format!("items[{i}].quantity"),
                QUANTITY_BELOW_ONE,
            ));
        } else {
            // Saturating: a sum past i64 is still "more than 50", never a wrapped small number.
            units = units.saturating_add(item.quantity);
        }
        if let Some(product) = product {
            lines.push((product.clone(), item.quantity));
        }
    }
    if units > MAX_ITEMS {
        violations.push(Violation::new("items", TOO_MANY_ITEMS));
    }
    // Checked on list prices, before anyone is asked: a discount only lowers a price, so a list total that fits
    // means the discounted one fits too. Reported with the unit cap, not instead of it.
    let list_total = total_cents(
        lines
            .iter()
            .filter(|(_, quantity)| *quantity >= 1)
            .map(|(product, quantity)| (i64::from(product.price_in_cents), *quantity)),
    );
    if list_total.is_none() {
        violations.push(Violation::new("items", TOTAL_OVERFLOWS));
    }
    if violations.is_empty() {
        Ok(lines)
    } else {
        Err(violations)
    }
}

/// The sum of `unit_price_cents * quantity` over `lines`, or `None` if any step overflows an i64.
pub fn total_cents(lines: impl IntoIterator<Item = (i64, i64)>) -> Option<i64> {
    lines.into_iter().try_fold(0i64, |total, (unit, quantity)| {
        total.checked_add(unit.checked_mul(quantity)?)
    })
}

/// The price of one unit: Discount's value when it gave a discount (pct > 0) within 0..=list price, else the list
/// price (Discount answers an empty value when none applies).
pub fn unit_price(list_price_cents: i32, discount: Option<&DiscountValue>) -> i64 {
    match discount {
        Some(d) if d.pct > 0.0 && (0..=list_price_cents).contains(&d.value_in_cents) => {
            i64::from(d.value_in_cents)
        }
        _ => i64::from(list_price_cents),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::data::products;
    use crate::proto::order::LineItem;

    fn item(code: &str, quantity: i64) -> LineItem {
        LineItem {
            product_code: code.into(),
            quantity,
        }
    }

    fn create(user_id: i64, items: Vec<LineItem>) -> CreateOrderRequest {
        CreateOrderRequest {
            user_id,
            items,
            idempotency_key: String::new(),
        }
    }

    fn violations(request: CreateOrderRequest) -> Vec<(String, String)> {
        validate_create(&request, &products())
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(f, d)| (f.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn a_valid_order_gives_its_catalog_lines() {
        let lines = validate_create(
            &create(1, vec![item("iphone-x", 2), item("playstation-4-slim", 1)]),
            &products(),
        )
        .unwrap();
        let summary: Vec<(&str, i32, i64)> = lines
            .iter()
            .map(|(p, q)| (p.slug.as_str(), p.price_in_cents, *q))
            .collect();
        assert_eq!(
            summary,
            vec![("iphone-x", 99_999, 2), ("playstation-4-slim", 32_999, 1)]
        );
        assert!(
            validate_create(
                &create(i64::from(i32::MAX), vec![item("iphone-x", 50)]),
                &products()
            )
            .is_ok()
        );
    }

    #[test]
    fn each_violation() {
        assert_eq!(
            violations(create(0, vec![item("iphone-x", 1)])),
            pairs(&[("user_id", USER_ID_RANGE)])
        );
        assert_eq!(
            violations(create(i64::from(i32::MAX) + 1, vec![item("iphone-x", 1)])),
            pairs(&[("user_id", USER_ID_RANGE)])
        );
        assert_eq!(violations(create(1, vec![])), pairs(&[("items", NO_ITEMS)]));
        assert_eq!(
            violations(create(1, vec![item("iphone-x", 1), item("iphone-x", 0)])),
            pairs(&[("items[1].quantity", QUANTITY_BELOW_ONE)])
        );
        assert_eq!(
            violations(create(1, vec![item("ipad", 1)])),
            pairs(&[("items[0].product_code", "unknown product code \"ipad\"")])
        );
        assert_eq!(
            violations(create(
                1,
                vec![item("iphone-x", 30), item("playstation-4-slim", 21)]
            )),
            pairs(&[("items", TOO_MANY_ITEMS)])
        );
    }

    #[test]
    fn an_overflowing_total_comes_with_the_unit_cap() {
        assert_eq!(
            violations(create(
                1,
                vec![item("notebook-avell-g1511", i64::MAX / 100_000)]
            )),
            pairs(&[("items", TOO_MANY_ITEMS), ("items", TOTAL_OVERFLOWS)])
        );
        // Quantities whose plain sum wraps around to a small number must still count as too many.
        assert_eq!(
            violations(create(
                1,
                vec![
                    item("iphone-x", i64::MAX),
                    item("iphone-x", i64::MAX),
                    item("iphone-x", 2)
                ]
            )),
            pairs(&[("items", TOO_MANY_ITEMS), ("items", TOTAL_OVERFLOWS)])
        );
    }

    #[test]
    fn every_violation_at_once_in_field_order() {
        assert_eq!(
            violations(create(-5, vec![item("", 0), item("iphone-x", 51)])),
            pairs(&[
                ("user_id", USER_ID_RANGE),
                ("items[0].product_code", "unknown product code \"\""),
                ("items[0].quantity", QUANTITY_BELOW_ONE),
                ("items", TOO_MANY_ITEMS),
            ])
        );
    }

    #[test]
    fn totals() {
        assert_eq!(total_cents([(89_999, 2), (29_699, 1)]), Some(209_697));
        assert_eq!(total_cents([]), Some(0));
        assert_eq!(total_cents([(i64::MAX, 1)]), Some(i64::MAX));
        assert_eq!(total_cents([(i64::MAX, 1), (1, 1)]), None);
        assert_eq!(total_cents([(2, i64::MAX / 2 + 1)]), None);
    }

    #[test]
    fn unit_prices() {
        let ten_pct = DiscountValue {
            pct: 0.1,
            value_in_cents: 89_999,
        };
        assert_eq!(unit_price(99_999, Some(&ten_pct)), 89_999);
        assert_eq!(unit_price(99_999, Some(&DiscountValue::default())), 99_999);
        assert_eq!(unit_price(99_999, None), 99_999);
        let above_list = DiscountValue {
            pct: 0.1,
            value_in_cents: 100_000,
        };
        assert_eq!(unit_price(99_999, Some(&above_list)), 99_999);
    }
}
