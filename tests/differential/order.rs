//! Order totals: `interop_services::order::validation::{total_cents, unit_price}` against their Python twins in
//! `interop_services.order.validation`. Totals are int64 cents with overflow refused at any step (`None` in both
//! languages); the inputs lean on the edges where that happens.

use interop_services::order::validation::{total_cents, unit_price};
use interop_services::proto::ecommerce::DiscountValue;

use crate::compare::{Seeded, assert_agree, scaled};
use crate::python::{call_batch, with_python};

/// Seeded orders; each has up to `MAX_LINES` lines.
const ORDERS: usize = 40_000;
/// Lines of the longest order.
const MAX_LINES: u64 = 60;
/// Seeded (list price, discount) pairs for the unit price.
const UNIT_PRICES: usize = 40_000;

type Lines = Vec<(i64, i64)>;

#[test]
fn differential_order_totals() {
    let orders = orders();
    let rust: Vec<Option<i64>> = orders
        .iter()
        .map(|lines| total_cents(lines.iter().copied()))
        .collect();
    let python: Vec<Option<i64>> = with_python(|py, side| {
        let args: Vec<(Lines,)> = orders.iter().map(|lines| (lines.clone(),)).collect();
        call_batch::<_, Option<i64>>(
            py,
            side,
            "interop_services.order.validation:total_cents",
            args,
        )
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|e| panic!("Python's total_cents raised: {e}")))
        .collect()
    });
    let refused = rust.iter().filter(|t| t.is_none()).count();
    assert!(
        refused > orders.len() / 10,
        "the inputs must reach the overflow edge often (only {refused} refused)"
    );
    assert_agree(
        "order totals",
        &orders,
        &rust,
        &python,
        scaled(ORDERS) + EDGE_ORDERS,
    );
}

#[test]
fn differential_order_unit_prices() {
    let inputs = unit_price_inputs();
    let rust: Vec<i64> = inputs
        .iter()
        .map(|&(list, discount)| {
            let value = discount.map(|(pct, value_in_cents)| DiscountValue {
                pct,
                value_in_cents,
            });
            unit_price(list, value.as_ref())
        })
        .collect();
    let python: Vec<i64> = with_python(|py, side| {
        let args: Vec<(i32, Option<(f32, i32)>)> = inputs.clone();
        call_batch::<_, i64>(py, side, "interop_differential:order_unit_price", args)
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|e| panic!("Python's unit_price raised: {e}")))
            .collect()
    });
    assert_agree(
        "order unit prices",
        &inputs,
        &rust,
        &python,
        scaled(UNIT_PRICES),
    );
}

/// Hand-picked orders at the int64 edges.
const EDGE_ORDERS: usize = 8;

fn orders() -> Vec<Lines> {
    let max = i64::MAX;
    let mut orders: Vec<Lines> = vec![
        vec![],
        vec![(max, 1)],
        vec![(max, 1), (1, 1)],
        vec![(max, 2)],
        vec![(max / 2, 2), (1, 1)],
        vec![(i64::MIN, 1), (-1, 1)],
        vec![(3_037_000_500, 3_037_000_500)],
        vec![
            (3_037_000_499, 3_037_000_499),
            (max - 9_223_372_030_926_249_001, 1),
        ],
    ];
    assert_eq!(orders.len(), EDGE_ORDERS);
    let mut random = Seeded::new(0x0_4d_e4);
    for _ in 0..scaled(ORDERS) {
        let lines = 1 + random.below(MAX_LINES);
        // Magnitudes spread over every power of two, so products and sums cross i64::MAX in many ways.
        let order = (0..lines)
            .map(|_| {
                let unit = (random.next_u64() >> random.below(64)) as i64;
                let quantity = (random.next_u64() >> (32 + random.below(32))) as i64;
                (unit, quantity)
            })
            .collect();
        orders.push(order);
    }
    orders
}

fn unit_price_inputs() -> Vec<(i32, Option<(f32, i32)>)> {
    let mut random = Seeded::new(0x0_b1_11);
    (0..scaled(UNIT_PRICES))
        .map(|i| {
            let list = if i % 3 == 0 {
                random.next_i32()
            } else {
                random.below(200_000) as i32
            };
            let discount = match i % 4 {
                0 => None,
                1 => Some((0.0, 0)),
                2 => Some((0.1, (i64::from(list) * 9 / 10) as i32)),
                _ => Some((f32::from_bits(random.next_u32()), random.next_i32())),
            };
            (list, discount.filter(|(pct, _)| !pct.is_nan()))
        })
        .collect()
}
