//! Protobuf wire bytes written by hand, field by field, so the vectors do not depend on either encoder under test
//! and can hold what an encoder would never write: fields from a newer schema, -0.0, repeated or overlong values.

/// A message as a list of fields in the order they go on the wire.
#[derive(Clone, Debug, Default)]
pub struct Wire(Vec<Field>);

#[derive(Clone, Debug)]
struct Field {
    number: u32,
    value: Value,
    /// The field number is not in the schema the vectors are read with.
    unknown: bool,
}

#[derive(Clone, Debug)]
enum Value {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
    Bytes(Vec<u8>),
    Message(Wire),
}

impl Wire {
    /// An empty message (every field at its default).
    pub fn new() -> Self {
        Wire::default()
    }

    /// An int32 field: negative values are sign-extended to ten bytes, as the encoding requires.
    pub fn int32(self, number: u32, value: i32) -> Self {
        self.varint(number, i64::from(value) as u64)
    }

    /// A varint field holding exactly `value` (a short, non-canonical negative int32 too).
    pub fn varint(self, number: u32, value: u64) -> Self {
        self.push(number, Value::Varint(value), false)
    }

    /// A float field, given as its bits so -0.0 and every NaN keep theirs.
    pub fn float_bits(self, number: u32, bits: u32) -> Self {
        self.push(number, Value::Fixed32(bits), false)
    }

    /// A string field.
    pub fn string(self, number: u32, value: &str) -> Self {
        self.push(number, Value::Bytes(value.as_bytes().to_vec()), false)
    }

    /// A string field with bytes that need not be UTF-8.
    pub fn raw_string(self, number: u32, value: &[u8]) -> Self {
        self.push(number, Value::Bytes(value.to_vec()), false)
    }

    /// A message field.
    pub fn message(self, number: u32, value: Wire) -> Self {
        self.push(number, Value::Message(value), false)
    }

    /// A field of a newer schema: a number the current one lacks, of any wire type.
    pub fn unknown_varint(self, number: u32, value: u64) -> Self {
        self.push(number, Value::Varint(value), true)
    }

    /// An unknown length-delimited field (a string or message of a newer schema).
    pub fn unknown_bytes(self, number: u32, value: &[u8]) -> Self {
        self.push(number, Value::Bytes(value.to_vec()), true)
    }

    /// An unknown fixed32 field.
    pub fn unknown_fixed32(self, number: u32, value: u32) -> Self {
        self.push(number, Value::Fixed32(value), true)
    }

    /// An unknown fixed64 field.
    pub fn unknown_fixed64(self, number: u32, value: u64) -> Self {
        self.push(number, Value::Fixed64(value), true)
    }

    fn push(mut self, number: u32, value: Value, unknown: bool) -> Self {
        self.0.push(Field {
            number,
            value,
            unknown,
        });
        self
    }

    /// Whether any field, at any depth, is unknown.
    pub fn has_unknown(&self) -> bool {
        self.0.iter().any(|field| {
            field.unknown || matches!(&field.value, Value::Message(inner) if inner.has_unknown())
        })
    }

    /// The same message with every unknown field removed, at every depth.
    pub fn without_unknown(&self) -> Wire {
        Wire(
            self.0
                .iter()
                .filter(|field| !field.unknown)
                .map(|field| field.map_message(Wire::without_unknown))
                .collect(),
        )
    }

    /// The same message with, at every depth, the known fields first and the unknown ones after them, each group in
    /// its original order.
    pub fn unknown_last(&self) -> Wire {
        let (known, unknown): (Vec<&Field>, Vec<&Field>) =
            self.0.iter().partition(|field| !field.unknown);
        Wire(
            known
                .into_iter()
                .chain(unknown)
                .map(|field| field.map_message(Wire::unknown_last))
                .collect(),
        )
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in &self.0 {
            field.encode(&mut out);
        }
        out
    }
}

impl Field {
    fn map_message(&self, f: fn(&Wire) -> Wire) -> Field {
        let value = match &self.value {
            Value::Message(inner) => Value::Message(f(inner)),
            other => other.clone(),
        };
        Field {
            number: self.number,
            value,
            unknown: self.unknown,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let wire_type = match self.value {
            Value::Varint(_) => 0,
            Value::Fixed64(_) => 1,
            Value::Bytes(_) | Value::Message(_) => 2,
            Value::Fixed32(_) => 5,
        };
        put_varint(out, u64::from(self.number) << 3 | wire_type);
        match &self.value {
            Value::Varint(v) => put_varint(out, *v),
            Value::Fixed32(v) => out.extend(v.to_le_bytes()),
            Value::Fixed64(v) => out.extend(v.to_le_bytes()),
            Value::Bytes(bytes) => {
                put_varint(out, bytes.len() as u64);
                out.extend(bytes);
            }
            Value::Message(inner) => {
                let bytes = inner.bytes();
                put_varint(out, bytes.len() as u64);
                out.extend(bytes);
            }
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
