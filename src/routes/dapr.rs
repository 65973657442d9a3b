//! What Dapr calls on us: the subscription list and the delivery endpoints.
//!
//! Deliveries always answer 200 with a Dapr status, never 404 (Dapr drops
//! on 404) and never a 5xx loop (Dapr's Kafka component retries a failing
//! message forever and blocks its partition): `SUCCESS` when consumed or
//! already consumed, `DROP` for a malformed or unknown event, `RETRY` when
//! the database is unavailable.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use slog::warn;

use crate::error::AppError;
use crate::events::inbound::{self, Outcome};
use crate::state::AppState;

#[utoipa::path(get, path = "/dapr/subscribe", tag = "dapr",
    responses((status = 200, description = "the topics this app subscribes to, with their routes")))]
pub async fn subscribe(state: web::Data<AppState>) -> HttpResponse {
    let topics = state.events.topics();
    let pubsub = &state.settings.dapr_pubsub_name;
    let list: Vec<_> = [&topics.task_events, &topics.reminders, &topics.task_updates]
        .into_iter()
        .map(|topic| json!({"pubsubname": pubsub, "topic": topic, "route": format!("/api/events/{topic}")}))
        .collect();
    HttpResponse::Ok().json(list)
}

#[utoipa::path(post, path = "/api/events/{topic}", tag = "dapr",
    params(("topic" = String, Path)),
    request_body(content = Object, content_type = "application/cloudevents+json", description = "a CloudEvent, as Dapr delivers it"),
    responses((status = 200, description = "{\"status\": \"SUCCESS\" | \"DROP\" | \"RETRY\"}"), (status = 401, description = "APP_API_TOKEN set and not given")))]
pub async fn deliver(
    req: HttpRequest,
    state: web::Data<AppState>,
    topic: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if let Some(expected) = &state.settings.app_api_token {
        let given = req
            .headers()
            .get("dapr-api-token")
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Err(AppError::Unauthorized("missing or wrong dapr-api-token"));
        }
    }
    let outcome = inbound::consume(&state, &topic, &body).await;
    let status = match &outcome {
        Outcome::Consumed | Outcome::Duplicate | Outcome::Own => "SUCCESS",
        Outcome::Dropped(why) => {
            warn!(state.log, "dropping a delivered event"; "topic" => topic.as_str(), "reason" => why.as_str());
            "DROP"
        }
        Outcome::Retry(why) => {
            warn!(state.log, "cannot consume a delivered event now; asking Dapr to retry"; "topic" => topic.as_str(), "reason" => why.as_str());
            "RETRY"
        }
    };
    state
        .metrics
        .events_received
        .with_label_values(&[topic.as_str(), outcome.label()])
        .inc();
    Ok(HttpResponse::Ok().json(json!({ "status": status })))
}

#[utoipa::path(post, path = "/job/{name}", tag = "dapr",
    params(("name" = String, Path, description = "reminder-{id}")),
    responses((status = 200, description = "fired now, or already fired or cancelled (done either way)"),
        (status = 503, description = "could not fire: Dapr retries by the job's failure policy")))]
pub async fn job(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // Dapr counts any 2xx and a 404 as done, so only a real failure (5xx)
    // may keep this from answering 200.
    let Some(id) = name.strip_prefix("reminder-") else {
        return Ok(HttpResponse::Ok().json(json!({ "status": "ignored" })));
    };
    let fired = crate::service::reminders::fire_one(&state, id).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": if fired { "fired" } else { "done" } })))
}
