//! The wire vectors: for each message of `ecommerce.proto`, the cases both languages must read alike, and the
//! places where they legitimately do not, each named and explained.

/// The two protobuf libraries compared in one process: prost (Rust) and protobuf (Python, embedded through pyo3).
/// They are the libraries under the reference implementations, not registry entries: this suite reads wire vectors
/// with each library directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// prost.
    Rust,
    /// Python's protobuf.
    Python,
}

impl Lang {
    /// Its name in vector file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

use crate::wire::Wire;

/// One output of reading a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The message encoded again.
    Wire,
    /// Its canonical proto3 JSON.
    Json,
}

/// A known, legitimate difference from the shared expectation: which language's output it changes, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quirk {
    /// prost's generated structs have no place for fields the schema lacks: it skips them when decoding, so they are
    /// gone when the message is encoded again. (JSON never shows unknown fields, in either language.)
    ProstDropsUnknownFields,
    /// Python's protobuf (upb) keeps unknown fields and writes them back, but after the known ones: a newer sender
    /// that interleaves them sees its bytes reordered.
    PythonPutsUnknownFieldsLast,
    /// prost writes a proto3 float only when it is `!= 0.0`, and `-0.0 == 0.0`: the sign is lost on the wire and so
    /// in JSON, where Python keeps the bits it read and writes `-0.0`.
    ProstDropsNegativeZero,
    /// Python's json_format keeps at least 6 significant digits (`1.4013e-45` where the shortest is `1e-45`) and
    /// prints them with `repr`, which pads a negative exponent to two digits (`1e-07`); Rust (prost-reflect through
    /// serde_json) writes the shortest digits with the exponent as it is (`1e-45`, `1e-7`). Both read back to the
    /// same float32: the numbers agree, the text does not. The other float edge values print alike.
    PythonFloatDigits,
    /// The input is valid but not what an encoder writes (a repeated scalar, a zero written out, a short negative
    /// varint); both languages read it the same way and write the canonical form, so neither gives the input back.
    NotCanonical,
}

impl Quirk {
    /// The outputs it changes.
    pub fn affects(self) -> &'static [(Lang, Output)] {
        match self {
            Quirk::ProstDropsUnknownFields => &[(Lang::Rust, Output::Wire)],
            Quirk::PythonPutsUnknownFieldsLast => &[(Lang::Python, Output::Wire)],
            Quirk::ProstDropsNegativeZero => {
                &[(Lang::Rust, Output::Wire), (Lang::Rust, Output::Json)]
            }
            Quirk::PythonFloatDigits => &[(Lang::Python, Output::Json)],
            Quirk::NotCanonical => &[(Lang::Rust, Output::Wire), (Lang::Python, Output::Wire)],
        }
    }
}

/// One vector: a message's bytes and what both languages must make of them.
#[derive(Clone, Debug)]
pub struct Case {
    /// The message type, in package `ecommerce`.
    pub message: &'static str,
    /// The file name, without extension.
    pub name: &'static str,
    /// The bytes, field by field.
    pub input: Wire,
    /// Bytes cut off the end of the input: a message that ends mid-field.
    pub cut: usize,
    /// Where an output legitimately differs from the shared expectation.
    pub quirks: &'static [Quirk],
    /// Both languages must refuse to decode it.
    pub rejected: bool,
}

impl Case {
    fn new(message: &'static str, name: &'static str, input: Wire) -> Self {
        Case {
            message,
            name,
            input,
            cut: 0,
            quirks: &[],
            rejected: false,
        }
    }

    fn quirks(self, quirks: &'static [Quirk]) -> Self {
        Case { quirks, ..self }
    }

    fn rejected(self) -> Self {
        Case {
            rejected: true,
            ..self
        }
    }

    fn cut(self, cut: usize) -> Self {
        Case { cut, ..self }
    }

    /// The input bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = self.input.bytes();
        bytes.truncate(bytes.len() - self.cut);
        bytes
    }

    /// Whether `quirk`s of this case change `output` of `lang`.
    pub fn differs(&self, lang: Lang, output: Output) -> bool {
        self.quirks
            .iter()
            .any(|quirk| quirk.affects().contains(&(lang, output)))
    }
}

// Field numbers of ecommerce.proto.
const CUSTOMER_ID: u32 = 1;
const CUSTOMER_FIRST_NAME: u32 = 2;
const CUSTOMER_LAST_NAME: u32 = 3;
const PRODUCT_ID: u32 = 1;
const PRODUCT_SLUG: u32 = 2;
const PRODUCT_DESCRIPTION: u32 = 3;
const PRODUCT_PRICE: u32 = 4;
const PRODUCT_DISCOUNT: u32 = 5;
const DISCOUNT_PCT: u32 = 1;
const DISCOUNT_VALUE: u32 = 2;
const REQUEST_CUSTOMER: u32 = 1;
const REQUEST_PRODUCT: u32 = 2;
const RESPONSE_PRODUCT: u32 = 1;

/// Float32 values at the edges, as (case name, bits).
const FLOAT_EDGES: &[(&str, u32)] = &[
    ("pct_0_1", 0x3dcc_cccd),
    ("pct_smallest_subnormal", 0x0000_0001),
    ("pct_largest_subnormal", 0x007f_ffff),
    ("pct_smallest_normal", 0x0080_0000),
    ("pct_largest_finite", 0x7f7f_ffff),
    ("pct_lowest_finite", 0xff7f_ffff),
    // 230181.625 lies exactly between the 8-digit candidates 230181.62 and 230181.63.
    ("pct_tie", 0x4860_c968),
    ("pct_1e_minus_7", 0x33d6_bf95),
    ("pct_1e21", 0x6258_d727),
    ("pct_2_pow_24", 0x4b80_0000),
];

/// Float32 values proto3 JSON writes as strings and Go's encoder refuses: only in DiscountValue, which the Catalog
/// never renders on its own.
const FLOAT_NON_FINITE: &[(&str, u32)] = &[
    ("pct_nan", 0x7fc0_0000),
    ("pct_nan_negative", 0xffc0_0000),
    ("pct_nan_signalling_payload", 0x7f80_0001),
    ("pct_infinity", 0x7f80_0000),
    ("pct_negative_infinity", 0xff80_0000),
];

const NEGATIVE_ZERO: u32 = 0x8000_0000;

fn customer(id: i32, first_name: &str, last_name: &str) -> Wire {
    Wire::new()
        .int32(CUSTOMER_ID, id)
        .string(CUSTOMER_FIRST_NAME, first_name)
        .string(CUSTOMER_LAST_NAME, last_name)
}

fn product(id: i32, slug: &str, description: &str, price: i32) -> Wire {
    Wire::new()
        .int32(PRODUCT_ID, id)
        .string(PRODUCT_SLUG, slug)
        .string(PRODUCT_DESCRIPTION, description)
        .int32(PRODUCT_PRICE, price)
}

fn discount(pct_bits: u32, value: i32) -> Wire {
    Wire::new()
        .float_bits(DISCOUNT_PCT, pct_bits)
        .int32(DISCOUNT_VALUE, value)
}

fn iphone() -> Wire {
    product(1, "iphone-x", "64GB, black and iOS 12", 99_999)
}

/// A newer schema's fields after the known ones: a string, a varint, both fixed widths, and a number past 2^11 so
/// its tag takes more than one byte.
fn newer_fields(wire: Wire, first_number: u32) -> Wire {
    wire.unknown_bytes(first_number, "sent by v2".as_bytes())
        .unknown_varint(first_number + 1, 300)
        .unknown_fixed32(first_number + 2, 0xdead_beef)
        .unknown_fixed64(first_number + 3, u64::MAX)
        .unknown_bytes(4096, &[0x08, 0x01])
}

const NON_ASCII: &str =
    "Daenerys Stormborn 🐉 of the house Targaryen, Δαινέρυς, 丹妮莉丝, e\u{301}";
const NEEDS_ESCAPES: &str = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7f} \
                             <b>&amp;</b> \u{2028}\u{2029} \u{feff}";

/// Every vector, in file order.
pub fn all() -> Vec<Case> {
    use Quirk::*;
    let mut cases = vec![
        // Customer
        Case::new("Customer", "defaults", Wire::new()),
        Case::new("Customer", "tutorial", customer(1, "John", "Snow")),
        Case::new(
            "Customer",
            "negative_id",
            Wire::new().int32(CUSTOMER_ID, -1),
        ),
        Case::new(
            "Customer",
            "int32_min",
            Wire::new().int32(CUSTOMER_ID, i32::MIN),
        ),
        Case::new("Customer", "int32_max", customer(i32::MAX, "Max", "Imum")),
        Case::new("Customer", "non_ascii", customer(2, NON_ASCII, "Таргариен")),
        Case::new(
            "Customer",
            "escapes",
            customer(3, NEEDS_ESCAPES, "\u{1f}\u{10ffff}"),
        ),
        // A length past 127 takes a two-byte varint.
        Case::new(
            "Customer",
            "long_name",
            customer(4, &"ä".repeat(200), &"x".repeat(127)),
        ),
        Case::new(
            "Customer",
            "unknown_fields",
            newer_fields(customer(1, "John", "Snow"), 4),
        )
        .quirks(&[ProstDropsUnknownFields]),
        Case::new(
            "Customer",
            "unknown_fields_first",
            Wire::new()
                .unknown_bytes(4, "john@example.com".as_bytes())
                .int32(CUSTOMER_ID, 1)
                .unknown_varint(5, 1)
                .string(CUSTOMER_FIRST_NAME, "John"),
        )
        .quirks(&[ProstDropsUnknownFields, PythonPutsUnknownFieldsLast]),
        Case::new(
            "Customer",
            "last_value_wins",
            Wire::new()
                .int32(CUSTOMER_ID, 1)
                .string(CUSTOMER_FIRST_NAME, "Jon")
                .int32(CUSTOMER_ID, 2)
                .string(CUSTOMER_FIRST_NAME, "Daenerys"),
        )
        .quirks(&[NotCanonical]),
        Case::new(
            "Customer",
            "explicit_zeros",
            Wire::new()
                .int32(CUSTOMER_ID, 0)
                .string(CUSTOMER_FIRST_NAME, "")
                .string(CUSTOMER_LAST_NAME, "Snow"),
        )
        .quirks(&[NotCanonical]),
        // Some encoders write a negative int32 as 5 bytes; readers take the low 32 bits.
        Case::new(
            "Customer",
            "negative_id_five_bytes",
            Wire::new().varint(CUSTOMER_ID, 0xffff_ffff),
        )
        .quirks(&[NotCanonical]),
        Case::new(
            "Customer",
            "invalid_utf8",
            Wire::new()
                .int32(CUSTOMER_ID, 1)
                .raw_string(CUSTOMER_FIRST_NAME, b"J\xffn"),
        )
        .rejected(),
        Case::new("Customer", "truncated", customer(1, "John", "Snow"))
            .cut(2)
            .rejected(),
        // Product
        Case::new("Product", "defaults", Wire::new()),
        Case::new("Product", "tutorial", iphone()),
        Case::new(
            "Product",
            "tutorial_discounted",
            iphone().message(PRODUCT_DISCOUNT, discount(0x3dcc_cccd, 89_999)),
        ),
        // Set but empty is not the same as absent: JSON shows `{}`, the Catalog too.
        Case::new(
            "Product",
            "discount_empty",
            iphone().message(PRODUCT_DISCOUNT, Wire::new()),
        ),
        Case::new(
            "Product",
            "negatives",
            product(-1, "refund", "money back", -99_999)
                .message(PRODUCT_DISCOUNT, discount((-0.5f32).to_bits(), -1)),
        ),
        Case::new(
            "Product",
            "maximum_values",
            product(i32::MAX, "max", "max", i32::MAX)
                .message(PRODUCT_DISCOUNT, discount(f32::MAX.to_bits(), i32::MAX)),
        ),
        Case::new(
            "Product",
            "minimum_values",
            product(i32::MIN, "min", "min", i32::MIN)
                .message(PRODUCT_DISCOUNT, discount(f32::MIN.to_bits(), i32::MIN)),
        ),
        Case::new(
            "Product",
            "non_ascii",
            product(7, "café-crème", "東京 🎮 ñandú", 1_999),
        ),
        Case::new(
            "Product",
            "escapes",
            product(8, "<slug>&", NEEDS_ESCAPES, 1),
        ),
        Case::new(
            "Product",
            "pct_negative_zero",
            iphone().message(PRODUCT_DISCOUNT, discount(NEGATIVE_ZERO, 89_999)),
        )
        .quirks(&[ProstDropsNegativeZero]),
        Case::new(
            "Product",
            "unknown_fields",
            newer_fields(
                iphone().message(
                    PRODUCT_DISCOUNT,
                    newer_fields(discount(0x3dcc_cccd, 89_999), 3),
                ),
                6,
            ),
        )
        .quirks(&[ProstDropsUnknownFields]),
        // DiscountValue
        Case::new("DiscountValue", "defaults", Wire::new()),
        Case::new("DiscountValue", "tutorial", discount(0x3dcc_cccd, 89_999)),
        Case::new(
            "DiscountValue",
            "pct_negative_zero",
            Wire::new().float_bits(DISCOUNT_PCT, NEGATIVE_ZERO),
        )
        .quirks(&[ProstDropsNegativeZero]),
        Case::new(
            "DiscountValue",
            "value_int32_min",
            Wire::new().int32(DISCOUNT_VALUE, i32::MIN),
        ),
        Case::new(
            "DiscountValue",
            "value_int32_max",
            Wire::new().int32(DISCOUNT_VALUE, i32::MAX),
        ),
        Case::new(
            "DiscountValue",
            "unknown_fields",
            newer_fields(discount(0x3dcc_cccd, 89_999), 3),
        )
        .quirks(&[ProstDropsUnknownFields]),
        // DiscountRequest
        Case::new("DiscountRequest", "defaults", Wire::new()),
        Case::new(
            "DiscountRequest",
            "tutorial",
            Wire::new()
                .message(REQUEST_CUSTOMER, customer(1, "John", "Snow"))
                .message(REQUEST_PRODUCT, iphone()),
        ),
        Case::new(
            "DiscountRequest",
            "empty_messages",
            Wire::new()
                .message(REQUEST_CUSTOMER, Wire::new())
                .message(REQUEST_PRODUCT, Wire::new()),
        ),
        Case::new(
            "DiscountRequest",
            "non_ascii",
            Wire::new()
                .message(REQUEST_CUSTOMER, customer(2, NON_ASCII, "Таргариен"))
                .message(
                    REQUEST_PRODUCT,
                    product(7, "café-crème", "東京 🎮 ñandú", 1_999),
                ),
        ),
        Case::new(
            "DiscountRequest",
            "unknown_fields_nested",
            newer_fields(
                Wire::new()
                    .message(
                        REQUEST_CUSTOMER,
                        newer_fields(customer(1, "John", "Snow"), 4),
                    )
                    .message(REQUEST_PRODUCT, newer_fields(iphone(), 6)),
                3,
            ),
        )
        .quirks(&[ProstDropsUnknownFields]),
        // DiscountResponse
        Case::new("DiscountResponse", "defaults", Wire::new()),
        Case::new(
            "DiscountResponse",
            "tutorial",
            Wire::new().message(
                RESPONSE_PRODUCT,
                iphone().message(PRODUCT_DISCOUNT, discount(0x3dcc_cccd, 89_999)),
            ),
        ),
        Case::new(
            "DiscountResponse",
            "no_discount",
            Wire::new().message(
                RESPONSE_PRODUCT,
                iphone().message(PRODUCT_DISCOUNT, Wire::new()),
            ),
        ),
        Case::new(
            "DiscountResponse",
            "unknown_fields",
            newer_fields(
                Wire::new().message(
                    RESPONSE_PRODUCT,
                    iphone().message(PRODUCT_DISCOUNT, discount(0x3dcc_cccd, 89_999)),
                ),
                2,
            ),
        )
        .quirks(&[ProstDropsUnknownFields]),
    ];
    for &(name, bits) in FLOAT_EDGES {
        let quirks: &'static [Quirk] = if float_text_differs(bits) {
            &[PythonFloatDigits]
        } else {
            &[]
        };
        cases.push(
            Case::new(
                "DiscountValue",
                name,
                Wire::new().float_bits(DISCOUNT_PCT, bits),
            )
            .quirks(quirks),
        );
        // The same value inside a Product: the Catalog's rendering of it is a shared vector as well.
        cases.push(
            Case::new(
                "Product",
                name,
                iphone().message(PRODUCT_DISCOUNT, discount(bits, 89_999)),
            )
            .quirks(quirks),
        );
    }
    for &(name, bits) in FLOAT_NON_FINITE {
        cases.push(Case::new(
            "DiscountValue",
            name,
            Wire::new().float_bits(DISCOUNT_PCT, bits),
        ));
    }
    cases
}

/// Where the two JSON writers print a float32 differently (see [`Quirk::PythonFloatDigits`]); written out per value
/// rather than computed, so the list says exactly which edge values differ.
fn float_text_differs(bits: u32) -> bool {
    matches!(bits, 0x0000_0001 | 0x33d6_bf95)
}
