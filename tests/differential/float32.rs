//! The Catalog's float32 JSON text: `interop_services::catalog::render::format_float32` against
//! `interop_services.catalog.render.format_float32`, both meant to write what Go's encoding/json writes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use interop_services::catalog::render::format_float32;

use crate::compare::{Seeded, assert_agree, scaled};
use crate::python::{call_batch, with_python};

// Python's format_float32 costs about 15 us a value (exact integer arithmetic), so these counts are what fits the
// time budget of `cargo test`; INTEROP_DIFFERENTIAL_SCALE multiplies them for a deeper run.

/// Seeded bit patterns over every finite float32.
const RANDOM_BITS: usize = 300_000;
/// Seeded dyadic values (an integer below 2^24 over a power of two up to 2^11): their exact decimals are short, and
/// about one in twelve lies exactly between two shortest candidates, where the rounding rule shows (one in 250
/// for random bits).
const RANDOM_DYADIC: usize = 150_000;

/// A float32 input, shown with its bits: its shortest text alone would hide a tie (230181.625 prints as 230181.63).
#[derive(Clone, Copy)]
struct Input(f32);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} (bits {:#010x})", self.0, self.0.to_bits())
    }
}

/// What a renderer made of one float: its text, or a refusal (Go's encoder refuses NaN and the infinities).
#[derive(Debug, PartialEq)]
enum Text {
    Written(String),
    Refused,
}

#[test]
fn differential_catalog_float32_text() {
    let inputs = inputs();
    let rust: Vec<Text> = inputs
        .iter()
        .map(|&Input(value)| rust_text(value))
        .collect();
    let python: Vec<Text> = with_python(|py, side| {
        let args: Vec<(f64,)> = inputs.iter().map(|&Input(v)| (f64::from(v),)).collect();
        call_batch::<_, String>(
            py,
            side,
            "interop_services.catalog.render:format_float32",
            args,
        )
        .into_iter()
        .map(|answer| answer.map_or(Text::Refused, Text::Written))
        .collect()
    });
    assert_agree(
        "catalog float32 text",
        &inputs,
        &rust,
        &python,
        scaled(RANDOM_BITS) + scaled(RANDOM_DYADIC),
    );
}

/// The Rust renderer has no error path: it panics on a value it cannot write, which counts as a refusal here.
fn rust_text(value: f32) -> Text {
    if value.is_finite() {
        return Text::Written(format_float32(value));
    }
    catch_unwind(AssertUnwindSafe(|| format_float32(value))).map_or(Text::Refused, Text::Written)
}

fn inputs() -> Vec<Input> {
    let mut inputs = special_values();
    // One stream per family, so a larger scale extends each family without changing the other.
    let mut bits = Seeded::new(0xf10a_0001);
    let mut random_bits = 0;
    while random_bits < scaled(RANDOM_BITS) {
        let value = f32::from_bits(bits.next_u32());
        // The non-finite values are all among the special ones; thousands of panics would only be noise.
        if value.is_finite() {
            inputs.push(value);
            random_bits += 1;
        }
    }
    let mut seeded = Seeded::new(0xf10a_0002);
    for _ in 0..scaled(RANDOM_DYADIC) {
        // Below 2^24 every integer is exact in float32, and so is its quotient by a power of two.
        let numerator = seeded.below(1 << 24) as f32;
        let value = numerator / (1u32 << seeded.below(12)) as f32;
        inputs.push(if seeded.below(2) == 0 { value } else { -value });
    }
    inputs.into_iter().map(Input).collect()
}

/// The edges of float32 and of Go's formatting rules, each with its neighbours.
fn special_values() -> Vec<f32> {
    let mut centres = vec![
        0.0,
        1.0,
        0.1,
        0.5,
        f32::EPSILON,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        16_777_216.0,
        // 230181.625, exactly between 230181.62 and 230181.63 (clippy would have the literal shortened).
        f32::from_bits(0x4860_c968),
        // Where Go switches between plain and exponent notation.
        1e-6,
        1e21,
        1e-7,
        1e20,
    ];
    // Every power of two and of ten float32 can get near.
    centres.extend((-149..=127).map(|e| 2f32.powi(e)));
    centres.extend((-45..=38).map(|e| format!("1e{e}").parse::<f32>().expect("a float")));
    let mut values = Vec::new();
    for centre in centres {
        let bits = centre.to_bits();
        for neighbour in [bits.wrapping_sub(1), bits, bits + 1] {
            let value = f32::from_bits(neighbour);
            values.extend([value, -value]);
        }
    }
    values.extend([
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7f80_0001),
    ]);
    values
}
