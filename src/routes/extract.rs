//! Request extractors with the service's error shape: a JSON body that names
//! the bad field, `If-Match` versions, query-string pairs and path ids.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::domain::json;
use crate::domain::task::TaskId;
use crate::error::AppError;
use crate::events::Trace;
use crate::routes::middleware::RequestId;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body. Malformed JSON → 400; a wrong type, a missing or an unknown
/// field → 422 naming the field; over 64 KiB → 413; not JSON → 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let too_long = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_BODY_BYTES);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if too_long {
                return Err(AppError::PayloadTooLarge(MAX_BODY_BYTES));
            }
            if !content_type_ok {
                return Err(AppError::UnsupportedMediaType(
                    "request bodies must be JSON (Content-Type: application/json)".into(),
                ));
            }
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    AppError::PayloadTooLarge(MAX_BODY_BYTES)
                } else {
                    AppError::BadRequest(format!("could not read the request body: {e}"))
                }
            })?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// Deserialises a JSON object, telling malformed input (400) from input of
/// the wrong shape (422, naming the field by its path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // serde would also fill a struct from an array (`[null, null]`); every
    // body of this API is an object.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => json::shape_error(path, &inner),
            _ => malformed(&inner),
        }
    })?;
    // Trailing garbage after the JSON value is malformed too.
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(err: &serde_json::Error) -> AppError {
    AppError::BadRequest(format!("malformed JSON: {err}"))
}

/// The version an `If-Match` header asks for, if any.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl IfMatch {
    fn parse(value: &str) -> Option<Self> {
        if value == "*" {
            return Some(Self(None));
        }
        let tag = value.strip_prefix("W/").unwrap_or(value);
        let digits = match tag.strip_prefix('"') {
            Some(quoted) => quoted.strip_suffix('"')?,
            None if tag.len() == value.len() => tag,
            None => return None,
        };
        let ok = (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| digits.parse().ok().map(|v| Self(Some(v))))
            .flatten()
    }
}

/// Whether an `If-Match` value is one this service reads.
pub fn if_match_accepts(value: &str) -> bool {
    IfMatch::parse(value).is_some()
}

impl FromRequest for IfMatch {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return ready(Ok(Self(None)));
        };
        let parsed = value.to_str().ok().and_then(Self::parse);
        ready(parsed.ok_or_else(|| {
            AppError::BadRequest("If-Match must be an entity tag such as \"3\"".into())
        }))
    }
}

/// The ETag for a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Query parameters, deserialised into the use case's own parameter type:
/// an unknown, repeated or ill-typed parameter is a 422 naming it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Self))
    }
}

/// Deserialises a query string, naming the parameter in any error.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // Unknown, repeated and missing parameters are named in backticks.
        let named = ["unknown field `", "duplicate field `", "missing field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = named.unwrap_or(if path == "." { "query".into() } else { path });
        let message = match message.split_once(", expected one of") {
            Some((head, _)) => format!("{head}: not a parameter of this operation"),
            None => message,
        };
        AppError::invalid(field, message)
    })
}

/// A task id from the path; anything that is not one names no task (404).
pub fn task_id(raw: &str) -> Result<TaskId, AppError> {
    TaskId::parse(raw).ok_or(AppError::NotFound("task"))
}

/// The `{task_id}` path segment.
#[derive(Debug, Clone, Copy)]
pub struct TaskPath(pub TaskId);

impl FromRequest for TaskPath {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(task_id(req.match_info().get("task_id").unwrap_or_default()).map(Self))
    }
}

/// The `{tag_id}` path segment (a UUID; anything else names no tag).
#[derive(Debug, Clone)]
pub struct TagPath(pub String);

impl FromRequest for TagPath {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("tag_id").unwrap_or_default();
        ready(
            uuid::Uuid::parse_str(raw)
                .map(|u| Self(u.to_string()))
                .map_err(|_| AppError::NotFound("tag")),
        )
    }
}

/// The `{webhook_id}` path segment (a UUID; anything else names no webhook).
#[derive(Debug, Clone, Copy)]
pub struct WebhookPath(pub uuid::Uuid);

impl FromRequest for WebhookPath {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("webhook_id").unwrap_or_default();
        ready(
            uuid::Uuid::parse_str(raw)
                .map(Self)
                .map_err(|_| AppError::NotFound("webhook")),
        )
    }
}

/// The request's trace context, for the events it causes.
impl FromRequest for Trace {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), |r| r.0.clone());
        let traceparent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok());
        ready(Ok(Trace::for_request(&request_id, traceparent)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_entity_tags_and_bare_versions_only() {
        for (value, version) in [
            ("*", None),
            ("\"3\"", Some(3)),
            ("W/\"12\"", Some(12)),
            ("7", Some(7)),
        ] {
            assert_eq!(IfMatch::parse(value).map(|m| m.0), Some(version), "{value}");
        }
        for bad in [
            "",
            " 3",
            "\"3",
            "3\"",
            "W/3",
            "\"-1\"",
            "null",
            "\"1234567890\"",
            "3,4",
        ] {
            assert!(IfMatch::parse(bad).is_none(), "{bad}");
        }
    }
}
