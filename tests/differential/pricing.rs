//! Discount pricing: `interop_services::discount::pricing::apply_discount` against
//! `interop_services.discount.pricing.apply_discount`, on every price a shop would use and on the int32 edges.

use interop_services::discount::pricing::apply_discount;

use crate::compare::{Seeded, assert_agree, scaled};
use crate::python::{call_batch, with_python};

/// Every price from 0 to this, for customers 1 and 2.
const EVERY_PRICE_UP_TO: i32 = 200_000;
/// Seeded prices over the whole int32 range, for the discounted customer.
const RANDOM_PRICES: usize = 60_000;
/// Seeded (customer, price) pairs, both over the whole int32 range.
const RANDOM_PAIRS: usize = 10_000;
/// Seeded prices where a binary-float version of the tutorial's formula would round to another cent.
const FLOAT_TRAPS: usize = 10_000;

/// A discount as it goes on the wire: `pct` is a proto `float`, so Python's `float` (a double) is compared after
/// rounding to float32, as protobuf rounds it when it sets the field.
type Priced = Option<(f32, i64)>;

#[test]
fn differential_discount_pricing() {
    let inputs = inputs();
    let rust: Vec<Priced> = inputs
        .iter()
        .map(|&(customer, price)| {
            apply_discount(customer, price).map(|(pct, value)| (pct, i64::from(value)))
        })
        .collect();
    let python: Vec<Priced> = with_python(|py, side| {
        call_batch::<_, Option<(f64, i64)>>(
            py,
            side,
            "interop_services.discount.pricing:apply_discount",
            &inputs,
        )
        .into_iter()
        .map(|answer| {
            answer
                .unwrap_or_else(|e| panic!("Python's apply_discount raised: {e}"))
                .map(|(pct, value)| (pct as f32, value))
        })
        .collect()
    });
    assert_agree(
        "discount pricing",
        &inputs,
        &rust,
        &python,
        2 * (EVERY_PRICE_UP_TO as usize + 1)
            + scaled(RANDOM_PRICES)
            + scaled(RANDOM_PAIRS)
            + 2 * scaled(FLOAT_TRAPS),
    );
}

/// `(customer_id, price_in_cents)` pairs.
fn inputs() -> Vec<(i32, i32)> {
    let mut inputs = Vec::new();
    for customer in [1, 2] {
        inputs.extend((0..=EVERY_PRICE_UP_TO).map(|price| (customer, price)));
    }
    let customers = [i32::MIN, -1, 0, 1, 2, 3, i32::MAX];
    let mut prices = vec![
        i32::MIN,
        i32::MIN + 1,
        -1_000_000,
        -1,
        0,
        1,
        2,
        9,
        10,
        11,
        99,
        100,
        101,
        999,
        1_000,
        1_001,
        // The largest price whose discounted value still fits when computed as price * 9 in int32.
        i32::MAX / 9,
        i32::MAX / 9 + 1,
        // 2^24: above it float32 can no longer hold every integer.
        16_777_216,
        16_777_217,
    ];
    prices.extend(i32::MAX - 20..=i32::MAX);
    for customer in customers {
        inputs.extend(prices.iter().map(|&price| (customer, price)));
    }
    // One stream per family, so a larger scale extends each family without changing the others.
    let mut prices = Seeded::new(0xd15c_0001);
    inputs.extend((0..scaled(RANDOM_PRICES)).map(|_| (1, prices.next_i32())));
    let mut pairs = Seeded::new(0xd15c_0002);
    inputs.extend((0..scaled(RANDOM_PAIRS)).map(|_| (pairs.next_i32(), pairs.next_i32())));
    let traps = scaled(FLOAT_TRAPS);
    let mut float64_traps = Seeded::new(0xd15c_0003);
    inputs.extend(float_traps(&mut float64_traps, traps, float64_cents).map(|price| (1, price)));
    let mut float32_traps = Seeded::new(0xd15c_0004);
    inputs.extend(float_traps(&mut float32_traps, traps, float32_cents).map(|price| (1, price)));
    inputs
}

/// `count` positive prices where `float_formula` (the tutorial's formula in binary floats) gives another number of
/// cents than the exact one, which is where an implementation that slipped into floats would show.
fn float_traps(
    seeded: &mut Seeded,
    count: usize,
    float_formula: fn(i32) -> i64,
) -> impl Iterator<Item = i32> {
    // About one random price in seventy is a trap for float64 and nearly every one for float32; the bound only
    // stops a formula that never differs from looping forever.
    let mut found = Vec::with_capacity(count);
    for _ in 0..count * 100 {
        let price = (seeded.next_u32() >> 1) as i32;
        if price > 0 && float_formula(price) != i64::from(price) * 9 / 10 {
            found.push(price);
            if found.len() == count {
                return found.into_iter();
            }
        }
    }
    panic!(
        "found only {} of {count} prices where float maths rounds differently",
        found.len()
    );
}

/// The tutorial's `int((price/100 - price/100 * 0.1) * 100)`, in float64.
fn float64_cents(price: i32) -> i64 {
    let price = f64::from(price) / 100.0;
    ((price - price * 0.1) * 100.0) as i64
}

/// The same in float32.
fn float32_cents(price: i32) -> i64 {
    let price = price as f32 / 100.0;
    ((price - price * 0.1) * 100.0) as i64
}
