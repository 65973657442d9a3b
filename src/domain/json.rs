//! Reading JSON input into the domain's input types, whatever carried it (a
//! REST body, an MCP tool's arguments): a value of the wrong shape is a
//! `validation_failed` naming the field by its path.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AppError;

/// Deserialises an already-parsed JSON value.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        shape_error(path, &err.into_inner())
    })
}

/// The validation error for JSON that parsed but does not fit: `path` is
/// where serde stopped (`.` for the top level).
pub fn shape_error(path: String, inner: &serde_json::Error) -> AppError {
    let message = inner.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    // The path names the offending field, except for a missing field, where
    // it names the object that lacks it.
    let field = match (missing_field(&message), path.as_str()) {
        (Some(name), ".") => name,
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => "body".into(),
        (None, _) => path,
    };
    AppError::invalid(field, message)
}

/// serde names a missing field in backticks: "missing field `title`".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        title: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: i64,
    }

    fn field_of(value: Value) -> String {
        match from_value::<Outer>(value) {
            Err(AppError::Validation(fields)) => fields.into_keys().next().unwrap_or_default(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_by_its_path() {
        assert_eq!(field_of(json!({})), "title");
        assert_eq!(field_of(json!({"title": 3})), "title");
        assert_eq!(field_of(json!({"title": "a", "inner": {}})), "inner.count");
        assert_eq!(
            field_of(json!({"title": "a", "inner": {"count": "x"}})),
            "inner.count"
        );
        assert_eq!(field_of(json!({"title": "a", "extra": 1})), "extra");
        assert_eq!(field_of(json!("text")), "body");
        assert!(from_value::<Outer>(json!({"title": "a"})).is_ok());
    }
}
