//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! completed here, and the Swagger UI that renders it (vendored: works
//! offline).
//!
//! The document is the API's contract, checked in CI by schemathesis against
//! the running service: every status an operation can answer is declared.
//! Handlers declare their success responses and their own refusals; the
//! refusals every operation of a kind shares (a malformed body, a bad token,
//! a missing database, …) are added here from the operation's shape, so
//! they cannot be forgotten. The `/api/v1/…` aliases are added here too.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{activity, auth, dapr, ops, tags, tasks, webhooks};
// The schemas parameters refer to (bodies register theirs themselves).
use crate::domain::schema::{
    DateOrDateTime, EntityTag, PriorityList, ReminderState, SearchText, SortDirection, SortField,
    StatusFilter, TagList, Timestamp, UserIdPath,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "taskstream", description = "Event-driven task manager API. Every route under \
        `/api/{user_id}/…` is also served under `/api/v1/…` for the token's own user. Errors are \
        always `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        auth::signup, auth::login, auth::logout, auth::logout_all, auth::create_token,
        auth::list_tokens, auth::revoke_token, auth::me, auth::update_me,
        tasks::create, tasks::quick_add, tasks::list, tasks::get, tasks::replace, tasks::patch, tasks::delete,
        tasks::complete, tasks::uncomplete, tasks::skip_occurrence, tasks::set_reminder,
        tasks::remove_reminder, tasks::list_reminders,
        tasks::clear_completed, tasks::add_tag, tasks::remove_tag,
        tags::list, tags::create, tags::update, tags::delete,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate, webhooks::deliveries, webhooks::test, webhooks::replay,
        activity::list, activity::metrics, dapr::subscribe, dapr::deliver, dapr::job,
        crate::ws::connect,
        ops::healthz, ops::readyz,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, UserIdPath, SearchText, StatusFilter, PriorityList, TagList,
        DateOrDateTime, SortField, SortDirection, ReminderState, EntityTag, Timestamp
    )),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "tasks"), (name = "tags"), (name = "webhooks"), (name = "activity"), (name = "reminders"), (name = "realtime"), (name = "dapr"), (name = "ops")),
)]
pub struct ApiDoc;

/// The body of every error response.
#[derive(Debug, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Debug, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `validation_failed`, `not_found`, …
    pub code: String,
    pub message: String,
    /// For `validation_failed`: each refused field or parameter and why;
    /// for some other codes (e.g. `too_many_requests`) a few facts.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The completed document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        let mut value = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        complete(&mut value);
        value
    });
    &DOCUMENT
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document())
}

/// The methods each route pattern answers (for `Allow` on a 405).
pub fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static ALLOWED: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
        document()["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(m, _)| METHODS.contains(&m.as_str()))
                    .map(|(m, _)| m.to_ascii_uppercase())
                    .collect();
                (path.clone(), methods.join(", "))
            })
            .collect()
    });
    ALLOWED.get(pattern).map(String::as_str)
}

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// Routes that never touch the database (or hide its absence).
const WITHOUT_DATABASE: [&str; 4] = [
    "/healthz",
    "/metrics",
    "/dapr/subscribe",
    "/api/events/{topic}",
];

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the responses every operation of a kind shares, then the
/// `/api/v1` aliases.
fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            declare_shared_errors(path, method, op);
            // Handler names repeat across modules (`tasks::delete`,
            // `tags::delete`); operation ids must not.
            let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                op["operationId"] = json!(format!("{tag}_{id}"));
            }
        }
        // One handler may serve several methods of a path (POST and PUT of
        // a reminder): tell them apart by method.
        let ids: Vec<String> = item
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            let Some(id) = op["operationId"].as_str().map(str::to_owned) else {
                continue;
            };
            if ids.iter().filter(|i| **i == id).count() > 1 {
                op["operationId"] = json!(format!("{id}_{method}"));
            }
        }
    }
    let aliases: Vec<(String, Value)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let rest = path.strip_prefix("/api/{user_id}/")?;
            Some((format!("/api/v1/{rest}"), v1_alias(item.clone())))
        })
        .collect();
    paths.extend(aliases);
    link_created(paths);
}

/// A query or header parameter is a string in the request, never JSON
/// `null`: an optional one is simply absent.
fn without_null(schema: &mut Value) {
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let rest: Vec<Value> = branches
            .iter()
            .filter(|b| b.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if rest.len() == 1 {
            let description = schema.get("description").cloned();
            *schema = rest.into_iter().next().unwrap_or_default();
            if let Some(d) = description {
                schema["description"] = d;
            }
        }
    }
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types[0].clone();
        }
    }
}

/// Links from the operations that create tasks, tags and webhooks to every
/// operation on one of them, so that clients (and stateful fuzzers) can follow them.
fn link_created(paths: &mut serde_json::Map<String, Value>) {
    for prefix in ["/api/{user_id}", "/api/v1"] {
        for (collection, id) in [
            ("tasks", "task_id"),
            ("tags", "tag_id"),
            ("webhooks", "webhook_id"),
        ] {
            let create = format!("{prefix}/{collection}");
            let item = format!("{prefix}/{collection}/{{{id}}}");
            let mut links = serde_json::Map::new();
            for (path, path_item) in paths.iter() {
                if !path.starts_with(&item) {
                    continue;
                }
                for op in path_item.as_object().into_iter().flat_map(|o| o.values()) {
                    let Some(op_id) = op.get("operationId").and_then(Value::as_str) else {
                        continue;
                    };
                    let mut parameters = json!({ id: "$response.body#/id" });
                    if prefix.contains("{user_id}") {
                        parameters["user_id"] = json!("$request.path.user_id");
                    }
                    links.insert(
                        op_id.to_owned(),
                        json!({ "operationId": op_id, "parameters": parameters }),
                    );
                }
            }
            if let Some(created) = paths
                .get_mut(&create)
                .and_then(|p| p.get_mut("post"))
                .and_then(|op| op["responses"].get_mut("201"))
            {
                created["links"] = Value::Object(links);
            }
        }
    }
}

/// What a read-only API token gets on a change.
const READ_ONLY: &str = "the token may only read (a read-only API token)";
/// What a token of another user gets.
const OTHER_USER: &str = "the token's user is not `{user_id}`";
/// Both.
const OTHER_USER_OR_READ_ONLY: &str =
    "the token's user is not `{user_id}`, or the token may only read (a read-only API token)";

fn declare_shared_errors(path: &str, method: &str, op: &mut Value) {
    for param in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if param["in"] == "query" || param["in"] == "header" {
            without_null(&mut param["schema"]);
        }
    }
    let params: Vec<(String, String)> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["in"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let has = |name: &str, place: &str| params.iter().any(|(n, p)| n == name && p == place);
    let has_query = params.iter().any(|(_, p)| p == "query");
    // Bodies read as JSON request bodies (not Dapr's deliveries, taken as
    // they come).
    let json_body = op["requestBody"]["content"]
        .get("application/json")
        .is_some();
    let if_match = has("If-Match", "header");
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let mut shared: BTreeMap<&str, &str> = BTreeMap::new();
    if json_body || has_query || if_match {
        shared.insert(
            "400",
            "malformed: a JSON body that does not parse, a query string or header (If-Match) that cannot be read",
        );
    }
    if secured {
        shared.insert(
            "401",
            "no bearer token, or one that is invalid, expired or revoked",
        );
    }
    if secured && has("user_id", "path") {
        shared.insert("403", OTHER_USER);
    }
    // Any change refuses a read-only token, but a logout (a token may end
    // itself).
    if secured && method != "get" && path != "/api/auth/logout" {
        let refusal = if shared.contains_key("403") {
            OTHER_USER_OR_READ_ONLY
        } else {
            READ_ONLY
        };
        shared.insert("403", refusal);
    }
    if has("task_id", "path") || has("tag_id", "path") || has("webhook_id", "path") {
        shared.insert(
            "404",
            "no such task, tag or webhook for this user (also for another user's ids)",
        );
    }
    if if_match {
        shared.insert(
            "412",
            "`If-Match` names a version that is no longer current (details: current_version)",
        );
    }
    if json_body {
        shared.insert("413", "the body is over 64 KiB");
        shared.insert("415", "the body is not JSON");
    }
    if json_body || has_query {
        shared.insert(
            "422",
            "a field or query parameter is invalid: details name each one and why",
        );
    }
    shared.insert("414", "the request target is over 8 KiB");
    shared.insert("431", "the request headers are over 16 KiB");
    if !WITHOUT_DATABASE.contains(&path) {
        shared.insert("503", "the database cannot be reached right now");
    }
    let responses = &mut op["responses"];
    for (status, description) in shared {
        if responses.get(status).is_none() {
            responses[status] = error(description);
        }
    }
    // Every response object needs a description.
    for (status, response) in responses.as_object_mut().into_iter().flatten() {
        if response.get("description").is_none() {
            let reason = status
                .parse::<u16>()
                .ok()
                .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("response");
            response["description"] = json!(reason);
        }
    }
}

/// `/api/{user_id}/…` as `/api/v1/…`: the same operations for the token's
/// own user, without the path parameter (and so without its 403).
fn v1_alias(mut item: Value) -> Value {
    for (method, op) in item.as_object_mut().into_iter().flatten() {
        if !METHODS.contains(&method.as_str()) {
            continue;
        }
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| p["name"] != "user_id");
        }
        // No path user to differ from the token's: only a read-only token
        // is refused, and only on a change.
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            if method == "get" {
                responses.remove("403");
            } else if let Some(forbidden) = responses.get_mut("403") {
                *forbidden = error(READ_ONLY);
            }
        }
        if let Some(id) = op.get("operationId").and_then(Value::as_str) {
            op["operationId"] = json!(format!("{id}_v1"));
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain;

    /// Every `$ref` in `value`.
    fn refs<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// Random strings over characters where the rules differ: controls,
    /// every kind of white space (and a few that only look like it),
    /// delimiters, digits, letters of several scripts.
    fn samples(n: usize, max_len: usize) -> Vec<String> {
        use rand::{Rng, SeedableRng};
        const POOL: &[char] = &[
            'a', 'Z', 'é', '日', '😀', '\u{0301}', ' ', '\t', '\n', '\r', '\u{0}', '\u{7}',
            '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}', '\u{1680}', '\u{180e}', '\u{2000}',
            '\u{200a}', '\u{200b}', '\u{2028}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}',
            ',', '|', '"', '*', '/', 'W', '0', '9', '-', ':', 'T',
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(20261122);
        (0..n)
            .map(|_| {
                let len = rng.random_range(0..=max_len);
                (0..len)
                    .map(|_| POOL[rng.random_range(0..POOL.len())])
                    .collect()
            })
            .collect()
    }

    /// Whether `s` matches `pattern` (compiled once per pattern).
    fn matches(pattern: &'static str, s: &str) -> bool {
        use std::sync::Mutex;
        static COMPILED: LazyLock<Mutex<HashMap<&'static str, regex::Regex>>> =
            LazyLock::new(Default::default);
        let mut compiled = COMPILED.lock().unwrap();
        compiled
            .entry(pattern)
            .or_insert_with(|| {
                regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
            })
            .is_match(s)
    }

    /// The published patterns and the validators agree on every sample: a
    /// schema-valid value is accepted, a schema-invalid one refused.
    #[test]
    fn patterns_say_what_the_validators_do() {
        use crate::domain::query::{
            PRIORITY_LIST_PATTERN, TAG_LIST_PATTERN, TaskListParams, TaskQuery,
        };
        for s in samples(20_000, 8) {
            let within = |max: usize| s.chars().count() <= max;
            assert_eq!(
                matches(domain::LINE_PATTERN, &s) && within(500),
                domain::task::parse_title(&s).is_ok(),
                "title {s:?}"
            );
            assert_eq!(
                matches(domain::TEXT_PATTERN, &s),
                domain::task::parse_description(&s).is_ok(),
                "description {s:?}"
            );
            assert_eq!(
                matches(domain::NO_CONTROL_PATTERN, &s),
                domain::user::parse_name(&s).is_ok(),
                "name {s:?}"
            );
            assert_eq!(
                matches(domain::tag::TAG_NAME_PATTERN, &s) && within(50),
                domain::tag::TagName::parse(&s).is_ok(),
                "tag {s:?}"
            );
            let query = |name: &str| {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair(name, &s)
                    .finish();
                super::super::extract::parse_query::<TaskListParams>(&query)
                    .and_then(|params| TaskQuery::parse(params, chrono_tz::Tz::UTC))
                    .is_ok()
            };
            assert_eq!(matches(TAG_LIST_PATTERN, &s), query("tags"), "tags {s:?}");
            assert_eq!(
                matches(domain::NO_CONTROL_PATTERN, &s) && within(200),
                query("search"),
                "search {s:?}"
            );
            assert_eq!(
                matches(domain::task::VERSION_TAG_PATTERN, &s),
                super::super::extract::if_match_accepts(&s),
                "If-Match {s:?}"
            );
        }
        for s in [
            "",
            "high",
            "high,low",
            "none,urgent,medium",
            "high,",
            ",low",
            "High",
            "high low",
        ] {
            let params = TaskListParams {
                priority: Some(s.into()),
                ..TaskListParams::default()
            };
            let ok = TaskQuery::parse(params, chrono_tz::Tz::UTC).is_ok();
            assert_eq!(matches(PRIORITY_LIST_PATTERN, s), ok, "priority {s:?}");
        }
        for year in ["0999", "1000", "2026", "9998", "9999", "0000"] {
            let date = format!("{year}-06-01");
            assert_eq!(
                matches(domain::time::YEARS_PATTERN, &date),
                domain::time::parse_date(&date).is_some(),
                "{date}"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for item in document()["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                assert!(seen.insert(id.to_owned()), "{id} twice");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(found.len() > 50);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} does not resolve"
            );
        }
    }

    #[test]
    fn every_user_route_has_its_v1_alias_and_every_response_a_description() {
        let paths = document()["paths"].as_object().unwrap();
        for (path, item) in paths {
            if let Some(rest) = path.strip_prefix("/api/{user_id}/") {
                let alias = &paths[&format!("/api/v1/{rest}")];
                for (method, op) in item.as_object().unwrap() {
                    assert!(alias.get(method).is_some(), "{method} /api/v1/{rest}");
                    assert!(op["responses"].get("403").is_some(), "{method} {path}");
                    assert_eq!(
                        alias[method]["responses"].get("403").is_some(),
                        method != "get",
                        "{method} /api/v1/{rest}: only changes meet a read-only token"
                    );
                }
            }
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    assert!(
                        response["description"].is_string(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
        assert_eq!(allowed_methods("/api/v1/tasks"), Some("GET, POST"));
        assert_eq!(allowed_methods("/job/{name}"), Some("POST"));
    }
}
