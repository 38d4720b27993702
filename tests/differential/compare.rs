//! How the comparisons are made: seeded inputs in numbers that fit `cargo test`, and answers judged equal for every
//! input, or a failure naming the first input the two implementations disagree on, with both answers.

use std::fmt::Debug;

/// Asserts that Rust and Python gave equal answers for every input (`rust[i]` and `python[i]` answer `inputs[i]`),
/// and that there were at least `at_least` inputs, so a comparison cannot quietly shrink to nothing.
pub fn assert_agree<I: Debug, O: PartialEq + Debug>(
    what: &str,
    inputs: &[I],
    rust: &[O],
    python: &[O],
    at_least: usize,
) {
    assert_eq!(
        (rust.len(), python.len()),
        (inputs.len(), inputs.len()),
        "{what}: each side must answer every input"
    );
    assert!(
        inputs.len() >= at_least,
        "{what}: only {} inputs, expected at least {at_least}",
        inputs.len()
    );
    let mut differing = (0..inputs.len()).filter(|&i| rust[i] != python[i]);
    if let Some(first) = differing.next() {
        let more = differing.count();
        panic!(
            "{what}: Rust and Python disagree on {} of {} inputs; the first is input #{first}: {:?}\n  \
             rust:   {:?}\n  python: {:?}",
            more + 1,
            inputs.len(),
            inputs[first],
            rust[first],
            python[first],
        );
    }
    eprintln!(
        "{what}: Rust and Python agree on all {} inputs",
        inputs.len()
    );
}

/// `count` times `INTEROP_DIFFERENTIAL_SCALE` (default 1): the seeded random inputs of a comparison, more of them
/// for a deeper run than `cargo test` has time for. The first `count` are the same at every scale.
pub fn scaled(count: usize) -> usize {
    static SCALE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    count
        * *SCALE.get_or_init(|| match std::env::var("INTEROP_DIFFERENTIAL_SCALE") {
            Ok(scale) => scale.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
                panic!("INTEROP_DIFFERENTIAL_SCALE={scale:?}: expected a positive integer")
            }),
            Err(_) => 1,
        })
}

/// A small seeded generator (SplitMix64): the same inputs on every run and machine, without a dependency whose
/// stream could change under a version bump.
pub struct Seeded(u64);

impl Seeded {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Seeded(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Any int32, every bit pattern equally likely.
    pub fn next_i32(&mut self) -> i32 {
        self.next_u32() as i32
    }

    /// A value in `0..bound` (`bound` > 0); the modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
