//! What Dapr calls on us: the subscription list and the delivery endpoints.
//!
//! Deliveries always answer 200 with a Dapr status, never 404 (Dapr drops
//! on 404) and never a 5xx loop (Dapr's Kafka component retries a failing
//! message forever and blocks its partition): `SUCCESS` when consumed or
//! already consumed, `DROP` for a malformed or unknown event, `RETRY` when
//! the database is unavailable.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use slog::warn;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::routes::docs::ErrorBody;
use crate::service::deliveries::{self, Outcome};
use crate::service::reminders::JobOutcome;
use crate::state::AppState;

/// One subscription, as Dapr's programmatic subscription API expects it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub pubsubname: String,
    pub topic: String,
    pub route: String,
}

/// How a delivery was taken, in Dapr's terms.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryAck {
    /// `SUCCESS` (consumed, or consumed before), `DROP` (malformed, not an
    /// event of ours, or a topic not subscribed), `RETRY` (the database is
    /// away).
    #[schema(value_type = DeliveryStatus)]
    pub status: &'static str,
}

/// Dapr's delivery statuses.
#[derive(Debug, utoipa::ToSchema)]
pub enum DeliveryStatus {
    SUCCESS,
    DROP,
    RETRY,
}

/// What a job callback did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobAck {
    /// `fired`, `done` (fired or cancelled before, or no such reminder) or
    /// `ignored` (not a reminder job).
    #[schema(value_type = JobStatus)]
    pub status: &'static str,
}

/// What a job callback did.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Fired,
    Done,
    Ignored,
}

/// Largest CloudEvent accepted from Dapr.
pub const MAX_DELIVERY_BYTES: usize = 1024 * 1024;

/// A caller allowed on the routes only Dapr calls (deliveries, job
/// callbacks). With `APP_API_TOKEN` set, one that presents it as
/// `dapr-api-token` (Dapr's app token model); without it, only a loopback
/// caller — the sidecar runs beside the app — so nobody on the network can
/// deliver events or fire reminders. Production refuses to start with Dapr
/// and no token (see `Settings`).
#[derive(Debug)]
pub struct DaprCaller;

impl FromRequest for DaprCaller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.service.settings.app_api_token.clone());
        let given = req.headers().get("dapr-api-token").map(|v| v.as_bytes());
        let peer = req.peer_addr().map(|a| a.ip());
        ready(admit(expected.as_deref(), given, peer).map(|()| Self))
    }
}

/// The rule [`DaprCaller`] applies.
fn admit(
    expected: Option<&str>,
    given: Option<&[u8]>,
    peer: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    match expected.filter(|token| !token.is_empty()) {
        Some(expected) => {
            if given.unwrap_or_default().ct_eq(expected.as_bytes()).into() {
                Ok(())
            } else {
                Err(AppError::Unauthorized("missing or wrong dapr-api-token"))
            }
        }
        None if peer.is_some_and(|ip| ip.is_loopback()) => Ok(()),
        None => Err(AppError::Forbidden(
            "only the local Dapr sidecar may call this route (set APP_API_TOKEN to allow others)",
        )),
    }
}

#[utoipa::path(get, path = "/dapr/subscribe", tag = "dapr",
    responses((status = 200, body = Vec<Subscription>, description = "the topics this app subscribes to, with their components and routes: `task-updates` on `DAPR_UPDATES_PUBSUB_NAME` (a per-replica consumer), the others on `DAPR_PUBSUB_NAME`")))]
pub async fn subscribe(state: web::Data<AppState>) -> HttpResponse {
    let topics = state.service.events.topics();
    let settings = &state.service.settings;
    let list: Vec<Subscription> = [
        (settings.dapr_pubsub_name.as_str(), &topics.task_events),
        (settings.dapr_pubsub_name.as_str(), &topics.reminders),
        (settings.updates_pubsub(), &topics.task_updates),
    ]
    .into_iter()
    .map(|(pubsub, topic)| Subscription {
        pubsubname: pubsub.to_owned(),
        topic: topic.clone(),
        route: format!("/api/events/{topic}"),
    })
    .collect();
    HttpResponse::Ok().json(list)
}

#[utoipa::path(post, path = "/api/events/{topic}", tag = "dapr",
    params(("topic" = String, Path, description = "a subscribed topic; any other is answered DROP")),
    request_body(content = Option<serde_json::Value>, content_type = "application/cloudevents+json",
        description = "a CloudEvent, as Dapr delivers it; anything else is answered DROP"),
    responses((status = 200, body = DeliveryAck),
        (status = 401, body = ErrorBody, description = "APP_API_TOKEN is set and `dapr-api-token` does not match"),
        (status = 403, body = ErrorBody, description = "APP_API_TOKEN is not set and the caller is not on loopback"),
        (status = 413, body = ErrorBody, description = "the body is over 1 MiB")))]
pub async fn deliver(
    _caller: DaprCaller,
    state: web::Data<AppState>,
    topic: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let outcome = deliveries::consume(&state.service, &topic, &body).await;
    let status = match &outcome {
        Outcome::Consumed | Outcome::Duplicate | Outcome::Own => "SUCCESS",
        Outcome::Dropped(why) => {
            warn!(state.service.log, "dropping a delivered event"; "topic" => topic.as_str(), "reason" => why.as_str());
            "DROP"
        }
        Outcome::Retry(why) => {
            warn!(state.service.log, "cannot consume a delivered event now; asking Dapr to retry"; "topic" => topic.as_str(), "reason" => why.as_str());
            "RETRY"
        }
    };
    state
        .service
        .metrics
        .events_received
        .with_label_values(&[topic.as_str(), outcome.label()])
        .inc();
    Ok(HttpResponse::Ok().json(DeliveryAck { status }))
}

#[utoipa::path(post, path = "/job/{name}", tag = "dapr",
    params(("name" = String, Path, description = "`reminder-{id}`")),
    responses((status = 200, body = JobAck),
        (status = 401, body = ErrorBody, description = "APP_API_TOKEN is set and `dapr-api-token` does not match"),
        (status = 403, body = ErrorBody, description = "APP_API_TOKEN is not set and the caller is not on loopback"),
        (status = 409, body = ErrorBody, description = "the reminder is not due yet (`not_due`): not fired, Dapr retries"),
        (status = 503, body = ErrorBody, description = "the database cannot be reached: Dapr retries by the job's failure policy")))]
pub async fn job(
    _caller: DaprCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // Dapr counts any 2xx and a 404 as done; anything else is retried by the
    // job's failure policy.
    let Some(id) = name.strip_prefix("reminder-") else {
        return Ok(HttpResponse::Ok().json(JobAck { status: "ignored" }));
    };
    let status = match crate::service::reminders::fire_one(&state.service, id).await? {
        JobOutcome::Fired => "fired",
        JobOutcome::Done => "done",
        JobOutcome::NotDue(at) => {
            return Err(AppError::conflict(
                "not_due",
                format!(
                    "the reminder is due at {}: not fired",
                    crate::domain::time::to_utc(at).to_rfc3339()
                ),
            ));
        }
    };
    Ok(HttpResponse::Ok().json(JobAck { status }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_only_loopback_callers_are_admitted() {
        let ip = |s: &str| s.parse().ok();
        assert!(admit(None, None, ip("127.0.0.1")).is_ok());
        assert!(admit(None, None, ip("::1")).is_ok());
        for outsider in ["10.1.2.3", "192.168.0.7", "2001:db8::1"] {
            assert!(
                matches!(admit(None, None, ip(outsider)), Err(AppError::Forbidden(_))),
                "{outsider}"
            );
            // A token presented when none is configured changes nothing.
            assert!(admit(None, Some(b"guess"), ip(outsider)).is_err());
        }
        assert!(
            admit(Some(""), None, ip("10.1.2.3")).is_err(),
            "empty is unset"
        );
    }

    #[test]
    fn with_a_token_every_caller_must_present_it() {
        let ip = |s: &str| s.parse().ok();
        for peer in ["127.0.0.1", "10.1.2.3"] {
            assert!(admit(Some("s3cret"), Some(b"s3cret"), ip(peer)).is_ok());
            for wrong in [None, Some(&b"s3cre"[..]), Some(b"s3cret!"), Some(b"")] {
                assert!(
                    matches!(
                        admit(Some("s3cret"), wrong, ip(peer)),
                        Err(AppError::Unauthorized(_))
                    ),
                    "{peer} {wrong:?}"
                );
            }
        }
    }
}
