//! A formula as written in a spec, kept as text until a world parses it.

use std::fmt;

/// A formula as written in a spec: text, or a bare number (`tau = 2`), kept
/// as text until a world parses it with its own variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormulaText(pub String);

impl FormulaText {
    /// The formula's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for FormulaText {
    fn from(text: &str) -> Self {
        FormulaText(text.to_string())
    }
}

impl fmt::Display for FormulaText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for FormulaText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FormulaText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = FormulaText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a formula (a string such as \"1 + x1\", or a number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FormulaText, E> {
                Ok(FormulaText(format!("{v:?}")))
            }
        }
        deserializer.deserialize_any(Text)
    }
}
