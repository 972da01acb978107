//! Finite numbers only: JSON has no NaN or infinity, and serde_json writes
//! them as `null`, which then reads back as no number at all (or not at
//! all). [`find_non_finite`] walks any serializable value the way serde
//! would encode it and names the first float that is not finite, so a
//! stage can record a failure instead and the store can refuse the value.

use std::fmt;

use serde::ser::{self, Serialize};

use crate::core::text::number;

/// A float that is not finite, and where it sits in the value.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// Where the number sits, as fields and indices (`estimate.se`,
    /// `rows[2].truth`); empty when the value itself is the number.
    pub path: String,
    /// The number: NaN or an infinity.
    pub value: f64,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "the number is {}", number(self.value))
        } else {
            write!(f, "`{}` is {}", self.path, number(self.value))
        }
    }
}

/// The first float in `value` that is NaN or infinite, in the order serde
/// encodes it; `None` when every float is finite (or the value cannot be
/// encoded at all, which encoding it reports).
pub fn find_non_finite<T: Serialize + ?Sized>(value: &T) -> Option<NonFinite> {
    let mut walk = Walk::default();
    match value.serialize(&mut walk) {
        Err(Stop::Found(found)) => Some(found),
        Err(Stop::Other) | Ok(()) => None,
    }
}

/// Why the walk stopped early.
#[derive(Debug)]
enum Stop {
    /// A float that is not finite.
    Found(NonFinite),
    /// The value's own `Serialize` failed.
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Found(found) => found.fmt(f),
            Stop::Other => f.write_str("the value cannot be encoded"),
        }
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop::Other
    }
}

/// The serializer that only looks at floats, keeping the path to them.
#[derive(Default)]
struct Walk {
    path: Vec<String>,
}

impl Walk {
    fn float(&self, value: f64) -> Result<(), Stop> {
        if value.is_finite() {
            return Ok(());
        }
        Err(Stop::Found(NonFinite {
            path: self.path.concat(),
            value,
        }))
    }

    /// Serializes `value` under the path segment `segment`.
    fn under<T: Serialize + ?Sized>(&mut self, segment: String, value: &T) -> Result<(), Stop> {
        self.path.push(segment);
        let result = value.serialize(&mut *self);
        self.path.pop();
        result
    }

    /// A compound value walked under the current path.
    fn compound(&mut self) -> Compound<'_> {
        Compound {
            walk: self,
            index: 0,
            key: None,
        }
    }

    /// An enum variant's fields sit under the variant's name, as serde_json
    /// writes them (`{"Variant": {...}}`); the segment is popped in `end`.
    fn variant(&mut self, variant: &str) -> Compound<'_> {
        let segment = self.field(variant);
        self.path.push(segment);
        self.compound()
    }

    /// `.name`, or `name` at the top.
    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!(".{name}")
        }
    }
}

/// A map key as the path shows it: its text for strings and numbers.
fn key_name<T: Serialize + ?Sized>(key: &T) -> String {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_string(),
    }
}

/// One compound value being walked: its elements are indexed, its fields
/// named, its map entries keyed.
struct Compound<'a> {
    walk: &'a mut Walk,
    index: usize,
    key: Option<String>,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let segment = format!("[{}]", self.index);
        self.index += 1;
        self.walk.under(segment, value)
    }

    fn named<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), Stop> {
        let segment = self.walk.field(name);
        self.walk.under(segment, value)
    }
}

impl<'a> ser::Serializer for &'a mut Walk {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, _: bool) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_i128(self, _: i128) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_u128(self, _: u128) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_f32(self, value: f32) -> Result<(), Stop> {
        self.float(f64::from(value))
    }
    fn serialize_f64(self, value: f64) -> Result<(), Stop> {
        self.float(value)
    }
    fn serialize_char(self, _: char) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        let segment = self.field(variant);
        self.under(segment, value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Stop> {
        Ok(self.compound())
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Stop> {
        Ok(self.compound())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Stop> {
        Ok(self.compound())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Stop> {
        Ok(self.variant(variant))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Stop> {
        Ok(self.compound())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Stop> {
        Ok(self.compound())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Stop> {
        Ok(self.variant(variant))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.walk.path.pop();
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        let name = key_name(key);
        self.walk.under(format!("[{name}]"), key)?;
        self.key = Some(name);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let name = self.key.take().unwrap_or_else(|| "?".to_string());
        self.named(&name, value)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.named(name, value)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.named(name, value)
    }
    fn end(self) -> Result<(), Stop> {
        self.walk.path.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Row {
        label: &'static str,
        value: Option<f64>,
        point: [f64; 2],
    }

    #[derive(Serialize)]
    enum Shape {
        Line { slope: f64 },
        Pair(f64, f32),
    }

    #[test]
    fn finite_values_pass() {
        let rows = vec![Row {
            label: "a",
            value: None,
            point: [0.0, f64::MAX],
        }];
        assert_eq!(find_non_finite(&rows), None);
        assert_eq!(find_non_finite(&1.5), None);
    }

    #[test]
    fn the_first_non_finite_float_is_named_by_its_path() {
        let rows = vec![
            Row {
                label: "a",
                value: Some(1.0),
                point: [0.0, 1.0],
            },
            Row {
                label: "b",
                value: Some(f64::INFINITY),
                point: [f64::NAN, 1.0],
            },
        ];
        let found = find_non_finite(&rows).expect("an infinity");
        assert_eq!(found.path, "[1].value");
        assert_eq!(found.to_string(), "`[1].value` is inf");
        let mut truth = BTreeMap::new();
        truth.insert("ate".to_string(), 1.0);
        truth.insert("late".to_string(), f64::NEG_INFINITY);
        assert_eq!(
            find_non_finite(&truth).map(|f| f.to_string()),
            Some("`late` is -inf".to_string())
        );
        assert_eq!(
            find_non_finite(&f64::NAN).map(|f| f.to_string()),
            Some("the number is nan".to_string())
        );
    }

    #[test]
    fn enum_variants_and_tuples_are_walked() {
        let found = find_non_finite(&vec![
            Shape::Line { slope: 1.0 },
            Shape::Line { slope: f64::NAN },
        ])
        .expect("a NaN");
        assert_eq!(found.path, "[1].Line.slope");
        let found = find_non_finite(&Shape::Pair(0.0, f32::INFINITY)).expect("an infinity");
        assert_eq!(found.path, "Pair[1]");
        let nested: BTreeMap<&str, Vec<(u8, f64)>> = [("a", vec![(1, 2.0), (2, f64::NAN)])].into();
        assert_eq!(
            find_non_finite(&nested).map(|f| f.path),
            Some("a[1][1]".to_string())
        );
    }
}
