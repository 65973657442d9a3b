//! Cross-cutting request handling: the request id, one log line per request,
//! limits on the request line and headers, security headers on every
//! response, panics turned into a 500 JSON body, and JSON bodies for errors
//! that the router itself produces (unknown route, wrong method).

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::FutureExt;
use slog::{crit, error, info};

use crate::domain::user::UserId;
use crate::error::{AppError, error_body};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request target (path and query) accepted; longer ones get 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) accepted; more get 431. Requests
/// beyond the HTTP parser's own limits (a 64 KiB target, 128 KiB of head,
/// 96 headers) are refused by the parser before any of this runs, with a
/// bare status line.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The policy for pages (the web UI and the API docs): scripts, styles and
/// connections only from this origin, no inline script, never framed.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The policy for the API docs: the same, but for the one inline style the
/// vendored Swagger UI applies, allowed by its hash (not `unsafe-inline`).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The policy for everything else (JSON, text): nothing may load from it.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Refuses a request whose target or headers are too large, before any
/// handler reads them.
fn oversized(req: &ServiceRequest) -> Option<HttpResponse> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Some(HttpResponse::UriTooLong().json(error_body(
            "uri_too_long",
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
            serde_json::json!({ "limit": MAX_URI_BYTES }),
        )));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(
            HttpResponse::build(actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).json(
                error_body(
                    "headers_too_large",
                    format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
                    serde_json::json!({ "limit": MAX_HEADER_BYTES }),
                ),
            ),
        );
    }
    None
}

/// Headers every response carries: no MIME sniffing, no referrer, a
/// Content-Security-Policy (strict for pages, none-at-all for data), never
/// framed.
fn secure<B>(res: &mut ServiceResponse<B>) {
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = match (is_page, res.request().path().starts_with("/docs")) {
        (true, true) => DOCS_CSP,
        (true, false) => PAGE_CSP,
        (false, _) => DATA_CSP,
    };
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
}

/// The request's correlation id (echoed from `x-request-id` or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn usable_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?.trim();
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    ok.then(|| s.to_owned())
}

/// A handler panicked: answered as a 500 JSON body carrying the request id.
#[derive(Debug, thiserror::Error)]
#[error("internal server error")]
struct Panicked {
    request_id: String,
}

impl ResponseError for Panicked {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError()
            .insert_header((REQUEST_ID, self.request_id.clone()))
            .json(error_body(
                "internal_error",
                "internal server error",
                serde_json::Value::Null,
            ))
    }
}

/// Assigns the request id, catches panics and logs the request. It must not
/// keep a clone of the request while the router runs (routing needs the
/// request to itself), so everything logged is captured up front.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(usable_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let log = state
        .as_ref()
        .map(|s| s.service.log.clone())
        .unwrap_or_else(|| slog::Logger::root(slog::Discard, slog::o!()));
    let method = req.method().to_string();
    let path: String = req.path().chars().take(256).collect();

    let call = async {
        match oversized(&req) {
            Some(refusal) => Ok(req.into_response(refusal).map_into_right_body()),
            None => next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body),
        }
    };
    let mut res = match AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(res)) => res,
        Ok(Err(err)) => {
            info!(log, "request"; "method" => method, "path" => path,
                "status" => err.as_response_error().status_code().as_u16(), "request_id" => request_id);
            return Err(err);
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            crit!(log, "handler panicked"; "request_id" => &request_id, "method" => method, "path" => path,
                "status" => 500, "panic" => what);
            return Err(Panicked { request_id }.into());
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    secure(&mut res);
    let status = res.status().as_u16();
    if status >= 500
        && let Some(err) = res.response().error()
    {
        let cause = err
            .as_error::<AppError>()
            .map_or_else(|| err.to_string(), AppError::chain);
        error!(log, "request failed"; "request_id" => &request_id, "path" => &path, "error" => cause);
    }
    if let Some(state) = &state {
        // Label by route pattern, not path: ids would explode the series.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let status_label = status.to_string();
        state
            .service
            .metrics
            .http_requests
            .with_label_values(&[method.as_str(), route.as_str(), status_label.as_str()])
            .inc();
        state
            .service
            .metrics
            .http_latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    let user_id = res
        .request()
        .extensions()
        .get::<UserId>()
        .map(ToString::to_string);
    info!(log, "request";
        "method" => method,
        "path" => path,
        "status" => status,
        "latency_ms" => started.elapsed().as_secs_f64() * 1000.0,
        "request_id" => request_id,
        "user_id" => user_id,
    );
    Ok(res)
}

/// Gives a JSON error body to error responses that have none (the router's
/// 404 and 405, actix's own extractor errors).
pub fn json_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status.as_u16() {
        404 => ("not_found", "no such route".to_owned()),
        405 => (
            "method_not_allowed",
            "method not allowed on this route".to_owned(),
        ),
        _ => (
            "http_error",
            status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase(),
        ),
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    if status == actix_web::http::StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110: a 405 says which methods the resource does answer.
        let allowed = req
            .match_pattern()
            .and_then(|pattern| super::docs::allowed_methods(&pattern))
            .unwrap_or("GET");
        new.insert_header((header::ALLOW, allowed));
    }
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.insert_header((name.clone(), value.clone()));
        }
    }
    let res = ServiceResponse::new(
        req,
        new.json(error_body(code, message, serde_json::Value::Null)),
    );
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}
