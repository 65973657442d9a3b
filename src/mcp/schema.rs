//! Tool schemas, derived from the types REST documents itself with: the
//! named schemas of the OpenAPI document (bodies and results) and the
//! [`IntoParams`] structs of the lists. A tool's schema is self-contained
//! JSON Schema: every reference is written out in place, because assistants'
//! clients read schemas without resolving anything.

use serde_json::{Map, Value, json};
use utoipa::IntoParams;

/// How deep references may nest (none of this API's types is recursive).
const MAX_DEPTH: usize = 16;

/// The API's named schema `name`, written out.
pub fn named(name: &str) -> Value {
    inline(
        &json!({ "$ref": format!("#/components/schemas/{name}") }),
        0,
    )
}

/// An object whose properties are the parameters of `P`.
pub fn params<P: IntoParams>() -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for parameter in P::into_params(|| None) {
        let parameter = serde_json::to_value(parameter).unwrap_or_default();
        let Some(name) = parameter["name"].as_str().map(str::to_owned) else {
            continue;
        };
        let mut schema = inline(&parameter["schema"], 0);
        if let (Some(description), Some(object)) =
            (parameter.get("description"), schema.as_object_mut())
        {
            object.insert("description".into(), description.clone());
        }
        if parameter["required"] == json!(true) {
            required.push(json!(name));
        }
        properties.insert(name, schema);
    }
    object(properties, required)
}

/// An object with exactly these properties: `(name, schema, required)`.
pub fn fields(list: &[(&str, Value, bool)]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, schema, is_required) in list {
        properties.insert((*name).to_owned(), schema.clone());
        if *is_required {
            required.push(json!(name));
        }
    }
    object(properties, required)
}

/// `base` (an object schema, or a `oneOf` of object schemas, which are
/// merged: the service checks which combinations are allowed) with `extra`
/// properties in front.
pub fn extended(extra: &[(&str, Value, bool)], base: Value) -> Value {
    let mut out = fields(extra);
    let branches = match base.get("oneOf").and_then(Value::as_array) {
        Some(branches) => branches.clone(),
        None => vec![base.clone()],
    };
    let mut merged = Map::new();
    let mut base_required: Option<Vec<Value>> = None;
    for branch in &branches {
        for (name, schema) in branch["properties"].as_object().into_iter().flatten() {
            if schema.get("type") != Some(&json!("null")) {
                merged.entry(name.clone()).or_insert_with(|| schema.clone());
            }
        }
        let required = branch["required"].as_array().cloned().unwrap_or_default();
        // A property is required only if every branch requires it.
        base_required = Some(match base_required {
            None => required,
            Some(before) => before
                .into_iter()
                .filter(|r| required.contains(r))
                .collect(),
        });
    }
    if let Some(properties) = out["properties"].as_object_mut() {
        properties.extend(merged);
    }
    if let Some(required) = out["required"].as_array_mut() {
        required.extend(base_required.unwrap_or_default());
    }
    out
}

/// `schema` as compact as it can be without saying less that helps a
/// model: patterns (the service checks them and names the field) and
/// integer widths go; a `oneOf` of a type and `null` becomes a type list;
/// without `descriptions` (results), descriptions go too.
pub fn compact(schema: &Value, descriptions: bool) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let dropped = match key.as_str() {
                    "pattern" => true,
                    "format" => matches!(item.as_str(), Some("int32" | "int64")),
                    "description" => !descriptions && item.is_string(),
                    _ => false,
                };
                if !dropped {
                    out.insert(key.clone(), compact(item, descriptions));
                }
            }
            if let Some(merged) = nullable(&out) {
                return merged;
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| compact(v, descriptions)).collect())
        }
        other => other.clone(),
    }
}

/// `{"oneOf": [S, {"type": "null"}], …}` as S with `"null"` added to its
/// type, when S has a single type.
fn nullable(schema: &Map<String, Value>) -> Option<Value> {
    let branches = schema.get("oneOf")?.as_array()?;
    let null = json!({"type": "null"});
    let [first, second] = branches.as_slice() else {
        return None;
    };
    let other = match (first == &null, second == &null) {
        (true, false) => second,
        (false, true) => first,
        _ => return None,
    };
    let mut merged = other.as_object()?.clone();
    let kind = merged.get("type")?.as_str()?.to_owned();
    merged.insert("type".into(), json!([kind, "null"]));
    for (key, item) in schema {
        if key != "oneOf" {
            merged.insert(key.clone(), item.clone());
        }
    }
    Some(Value::Object(merged))
}

/// An object schema that admits no other property.
fn object(properties: Map<String, Value>, required: Vec<Value>) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// `value` with every `#/components/schemas/…` reference replaced by the
/// schema it names (a reference's own keywords, such as a description,
/// kept on top).
fn inline(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .filter(|_| depth < MAX_DEPTH)
                .and_then(|name| components().get(name));
            let mut out = match target {
                Some(schema) => match inline(schema, depth + 1) {
                    Value::Object(object) => object,
                    other => return other,
                },
                None => Map::new(),
            };
            for (key, item) in map {
                if target.is_none() || key != "$ref" {
                    out.insert(key.clone(), inline(item, depth));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline(v, depth)).collect()),
        other => other.clone(),
    }
}

/// The named schemas of the API, from its OpenAPI document.
fn components() -> &'static Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    crate::routes::docs::document()["components"]["schemas"]
        .as_object()
        .unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::TaskListParams;

    /// Whether any reference is left.
    fn has_ref(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
            Value::Array(items) => items.iter().any(has_ref),
            _ => false,
        }
    }

    #[test]
    fn named_schemas_are_written_out() {
        let task = named("Task");
        assert_eq!(task["type"], "object");
        assert!(task["properties"]["title"].is_object());
        assert!(!has_ref(&task), "{task}");
        let page = named("TaskPage");
        assert_eq!(page["properties"]["items"]["items"]["type"], "object");
        assert!(!has_ref(&page));
    }

    #[test]
    fn parameters_become_properties() {
        let schema = params::<TaskListParams>();
        let properties = schema["properties"].as_object().expect("properties");
        for name in [
            "search", "status", "priority", "tags", "sort_by", "limit", "offset",
        ] {
            assert!(
                properties.contains_key(name),
                "{name} missing from {schema}"
            );
        }
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!([]));
        assert!(!has_ref(&schema));
        assert!(
            properties["tags"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("comma list"))
        );
    }

    #[test]
    fn compact_schemas_keep_what_a_model_needs() {
        let schema = compact(&named("TaskInput"), true);
        let text = schema.to_string();
        assert!(
            !text.contains("\"pattern\"") && !text.contains("int64"),
            "{text}"
        );
        let due = &schema["properties"]["due_at"];
        assert_eq!(due["type"], json!(["string", "null"]));
        assert_eq!(due["format"], "date-time");
        assert!(
            due["description"]
                .as_str()
                .is_some_and(|d| d.contains("RFC 3339"))
        );
        let priority = &schema["properties"]["priority"];
        assert_eq!(
            priority["enum"],
            json!(["none", "low", "medium", "high", "urgent"])
        );
        let result = compact(&named("Task"), false);
        assert!(!result.to_string().contains("description\":\""));
        assert_eq!(result["required"], named("Task")["required"]);
    }

    #[test]
    fn alternatives_merge_into_one_object() {
        let schema = extended(
            &[("task_id", json!({"type": "string"}), true)],
            named("ReminderInput"),
        );
        let properties = schema["properties"].as_object().expect("properties");
        assert_eq!(properties["remind_at"]["type"], "string");
        assert_eq!(properties["offset_minutes"]["type"], "integer");
        assert_eq!(schema["required"], json!(["task_id"]));
    }
}
