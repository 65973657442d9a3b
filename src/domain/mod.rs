//! Domain types. Input is parsed into these at the edge (REST, MCP, Dapr);
//! past that point an invalid title, priority, recurrence rule or time zone
//! cannot be represented.

pub mod query;
pub mod recurrence;
pub mod tag;
pub mod task;
pub mod time;
pub mod user;

use std::collections::BTreeMap;

use crate::error::{AppError, FieldErrors};

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

/// Lower-cases for case-insensitive comparison, sorting and search (Unicode
/// aware, unlike SQLite's `lower()`).
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}
