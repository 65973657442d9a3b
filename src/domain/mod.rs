//! Domain types. Input is parsed into these at the edge (REST, MCP, Dapr);
//! past that point an invalid title, priority, recurrence rule or time zone
//! cannot be represented.

pub mod json;
pub mod query;
pub mod quick_add;
pub mod recurrence;
pub mod schema;
pub mod tag;
pub mod task;
pub mod time;
pub mod user;
pub mod webhook;

use std::collections::BTreeMap;

use crate::error::{AppError, FieldErrors};

/// A JSON integer, as JSON Schema counts them: `5` and also `5.0` (a number
/// with no fractional part), which serde would refuse for an `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub i64);

impl<'de> serde::Deserialize<'de> for Integer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntegerVisitor {
            whole_floats: true,
            text: false,
        })
        .map(Self)
    }
}

/// Reads an integer: a JSON integer always; a number with no fractional
/// part when `whole_floats`; text written exactly as JSON Schema's
/// `integer` (an optional minus and digits) when `text` (query strings).
pub(crate) struct IntegerVisitor {
    pub whole_floats: bool,
    pub text: bool,
}

impl serde::de::Visitor<'_> for IntegerVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        // Exactly representable and whole: 2^53 bounds both.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if self.whole_floats && v.fract() == 0.0 && v.abs() <= EXACT {
            #[expect(clippy::cast_possible_truncation, reason = "whole and within 2^53")]
            Ok(v as i64)
        } else {
            Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        let unexpected = serde::de::Unexpected::Str(v);
        if !self.text {
            return Err(E::invalid_type(unexpected, &self));
        }
        query::parse_integer(v).ok_or_else(|| E::invalid_value(unexpected, &self))
    }
}

/// Collects field errors so a request learns about every bad field at once.
#[derive(Debug, Default)]
pub struct Problems(FieldErrors);

impl Problems {
    pub fn new() -> Self {
        Self(BTreeMap::new())
    }

    /// Records the error of `result` under `field` and returns its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(why) => {
                self.0.entry(field.to_owned()).or_insert(why);
                None
            }
        }
    }

    pub fn add(&mut self, field: &str, why: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| why.into());
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

/// The rules below are also published as JSON Schema patterns in the
/// OpenAPI document, so clients (and the schemathesis run in CI) know exactly
/// what is accepted. The patterns use only character classes that mean the
/// same in ECMA-262, Python and Rust; "white space" is what `str::trim`
/// removes (Unicode `White_Space`), spelled out rather than `\s`, whose
/// meaning differs between them.
///
/// A one-line value: no control characters (Unicode `Cc`).
pub const NO_CONTROL_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
/// Multi-line text: no control characters but tab, line feed and carriage
/// return.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";
/// A one-line value with something besides white space in it.
pub const LINE_PATTERN: &str = concat!(
    r"^[^\x00-\x1F\x7F-\x9F]*",
    r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\x00-\x1F\x7F-\x9F]*$"
);

/// Refuses control characters (NUL, escape, …), which have no place in a
/// one-line field and which PostgreSQL cannot even store (NUL).
pub fn no_control_chars(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Like [`no_control_chars`], for multi-line text: tabs and line breaks are
/// fine.
pub fn no_control_chars_in_text(s: &str) -> Result<(), String> {
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters other than tabs and line breaks".into());
    }
    Ok(())
}

/// Refuses values longer than `max` characters, as sent (before trimming).
pub fn at_most(s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

/// Lower-cases for case-insensitive comparison, sorting and search (Unicode
/// aware, unlike SQLite's `lower()`).
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        let parse = |s: &str| serde_json::from_str::<Integer>(s).map(|i| i.0);
        assert_eq!(parse("5").ok(), Some(5));
        assert_eq!(parse("-5").ok(), Some(-5));
        assert_eq!(parse("516.0").ok(), Some(516));
        assert_eq!(parse("1e3").ok(), Some(1000));
        assert!(parse("516.5").is_err());
        assert!(parse("1e300").is_err());
        assert!(parse("\"5\"").is_err());
        assert!(parse("18446744073709551615").is_err());
    }
}
