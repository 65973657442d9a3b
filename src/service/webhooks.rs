//! Webhook endpoint use cases: a user's receivers of their events, each with
//! a signing secret (shown once, rotatable with a grace period), a filter of
//! event types, its recent delivery attempts, a test delivery and replays.
//! Delivery itself is the dispatcher's (`events::dispatcher::webhooks`).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Context;
use crate::db;
use crate::db::webhooks::{AttemptRow, EndpointChanges, EndpointRow};
use crate::domain::query::QueryInteger;
use crate::domain::time::to_utc;
use crate::domain::user::UserId;
use crate::domain::webhook::{self as rules, AddressPolicy, AttemptKind};
use crate::domain::{Integer, Problems};
use crate::error::AppError;
use crate::events::dispatcher::webhooks::Answer;
use crate::events::log::{self, Stored};
use crate::events::{DomainEvent, EventType, Trace, WebhookInfo};
use crate::transaction;

/// Attempts listed at most.
pub const MAX_ATTEMPTS_LISTED: i64 = db::webhooks::ATTEMPTS_KEPT;

/// Body of `POST …/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where events are POSTed: an http(s) URL outside the service's
    /// network (unless the operator allows it).
    #[schema(value_type = crate::domain::schema::WebhookUrl)]
    pub url: String,
    /// What it is for.
    #[schema(value_type = Option<crate::domain::schema::WebhookDescription>)]
    pub description: Option<String>,
    /// Event types (`task.completed`) or families (`task.*`); empty or
    /// absent: every type.
    #[schema(value_type = Option<Vec<crate::domain::schema::EventTypePattern>>, max_items = 20)]
    pub event_types: Option<Vec<String>>,
    /// Deliver to it (default true).
    pub enabled: Option<bool>,
}

/// Body of `PATCH …/webhooks/{id}`: the fields given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(value_type = Option<crate::domain::schema::WebhookUrl>)]
    pub url: Option<String>,
    #[schema(value_type = Option<crate::domain::schema::WebhookDescription>)]
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<crate::domain::schema::EventTypePattern>>, max_items = 20)]
    pub event_types: Option<Vec<String>>,
    /// `false` pauses it: its events wait. `true` enables a paused or
    /// disabled endpoint again: delivery resumes at the event where it
    /// stopped, with a fresh retry schedule.
    pub enabled: Option<bool>,
}

/// A webhook endpoint as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled by the service (410 Gone, or the retry schedule
    /// spent); `null` when enabled or paused by the user.
    pub disabled_reason: Option<String>,
    /// Since when it is disabled or paused.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Every event of the user up to this sequence number is delivered (or
    /// not for this endpoint).
    pub delivered_seq: i64,
    /// Failed attempts at the next event; 0 when all is well.
    pub failures: i32,
    /// When the next event is tried again after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// After a rotation: the previous secret signs too until then.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its new secret — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: the key receivers verify signatures with (Standard
    /// Webhooks). It cannot be shown again.
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub id: Uuid,
    /// The event (also the `webhook-id` header).
    pub event_id: Uuid,
    /// Its sequence number (0 for `webhook.test`).
    pub seq: i64,
    pub event_type: String,
    /// 1 for the first try of this event.
    pub attempt: i32,
    /// The receiver's HTTP status; `null`: it never answered.
    pub status: Option<i32>,
    pub latency_ms: f64,
    pub error: Option<String>,
    /// When this event is tried again, if this attempt failed.
    pub next_retry_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    /// What made it: the deliverer (`scheduled`), a replay or a test.
    pub kind: AttemptKind,
}

/// Body of `POST …/webhooks/{id}/replay`: one delivery again, now
/// (`event_id`), or everything from a sequence number on, in order
/// (`since_seq`).
/// (Its schema, a `oneOf`, is in `domain::schema`.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    pub event_id: Option<Uuid>,
    pub since_seq: Option<Integer>,
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Replayed {
    /// The one delivery made again.
    Once(WebhookAttempt),
    /// Everything from `from_seq` on is delivered again, in order.
    From { from_seq: i64 },
}

/// Query of `GET …/webhooks/{id}/deliveries`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// At most this many, newest first (1–100, default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<QueryInteger>,
}

const NOT_FOUND: AppError = AppError::NotFound("webhook");

fn view(row: &EndpointRow, at: NaiveDateTime) -> Result<Webhook, AppError> {
    Ok(Webhook {
        id: Uuid::parse_str(&row.id).map_err(AppError::internal)?,
        url: row.url.clone(),
        description: row.description.clone(),
        event_types: row
            .event_types
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason.clone(),
        disabled_at: row.disabled_at.map(to_utc),
        delivered_seq: row.delivered_seq,
        failures: row.failures,
        next_attempt_at: row.next_attempt_at.map(to_utc),
        previous_secret_expires_at: row
            .previous_secret_until
            .filter(|until| *until > at)
            .map(to_utc),
        created_at: to_utc(row.created_at),
        updated_at: to_utc(row.updated_at),
    })
}

fn attempt_view(row: AttemptRow) -> Result<WebhookAttempt, AppError> {
    Ok(WebhookAttempt {
        id: Uuid::parse_str(&row.id).map_err(AppError::internal)?,
        event_id: Uuid::parse_str(&row.event_id).map_err(AppError::internal)?,
        seq: row.seq,
        event_type: row.event_type,
        attempt: row.attempt,
        status: row.status,
        latency_ms: row.latency_ms,
        error: row.error,
        next_retry_at: row.next_retry_at.map(to_utc),
        at: to_utc(row.created_at),
        kind: AttemptKind::parse(&row.kind),
    })
}

fn policy(ctx: &Context) -> Result<AddressPolicy, AppError> {
    ctx.settings.webhook_policy().map_err(AppError::internal)
}

/// The fields of an input or a patch, checked (each `None` when absent).
struct Checked {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<String>,
}

fn check(
    ctx: &Context,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
) -> Result<Checked, AppError> {
    let policy = policy(ctx)?;
    let mut p = Problems::new();
    let url = url.and_then(|u| p.check("url", rules::parse_url(u, &policy)));
    let description = description.and_then(|d| p.check("description", rules::parse_description(d)));
    let event_types = event_types
        .and_then(|t| p.check("event_types", rules::parse_event_types(t)))
        .map(|t| t.join(" "));
    p.finish()?;
    Ok(Checked {
        url,
        description,
        event_types,
    })
}

/// Creates an endpoint; it receives the user's events from now on.
pub async fn create(
    ctx: &Context,
    user: &UserId,
    input: WebhookInput,
) -> Result<NewWebhook, AppError> {
    let checked = check(
        ctx,
        Some(&input.url),
        input.description.as_deref(),
        input.event_types.as_deref(),
    )?;
    let now = ctx.now();
    let secret = rules::new_secret();
    let max = ctx.settings.webhook_max_endpoints;
    let row = transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), now).await?;
        if db::webhooks::of_user(conn, user.as_str()).await?.len() >= max {
            return Err(AppError::conflict(
                "too_many_webhooks",
                format!("a user has at most {max} webhook endpoints: delete one first"),
            ));
        }
        let row = EndpointRow {
            id: Uuid::now_v7().to_string(),
            user_id: user.as_str().to_owned(),
            url: checked.url.clone().unwrap_or_default(),
            description: checked.description.clone().unwrap_or_default(),
            event_types: checked.event_types.clone().unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            secret: secret.clone(),
            previous_secret: None,
            previous_secret_until: None,
            delivered_seq: db::events::last_seq(conn, user.as_str()).await?,
            cursor_epoch: 0,
            failures: 0,
            next_attempt_at: None,
            disabled_reason: None,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        };
        db::webhooks::insert(conn, &row).await?;
        Ok(row)
    })?;
    Ok(NewWebhook {
        webhook: view(&row, now)?,
        secret,
    })
}

pub async fn list(ctx: &Context, user: &UserId) -> Result<Vec<Webhook>, AppError> {
    let mut pooled = ctx.db.get().await?;
    let now = ctx.now();
    db::webhooks::of_user(&mut pooled.conn(), user.as_str())
        .await?
        .iter()
        .map(|row| view(row, now))
        .collect()
}

async fn endpoint(ctx: &Context, user: &UserId, id: Uuid) -> Result<EndpointRow, AppError> {
    let mut pooled = ctx.db.get().await?;
    db::webhooks::get(&mut pooled.conn(), user.as_str(), &id.to_string())
        .await?
        .ok_or(NOT_FOUND)
}

pub async fn get(ctx: &Context, user: &UserId, id: Uuid) -> Result<Webhook, AppError> {
    view(&endpoint(ctx, user, id).await?, ctx.now())
}

/// Changes the given fields; enabling a disabled endpoint resumes its
/// deliveries where they stopped.
pub async fn update(
    ctx: &Context,
    user: &UserId,
    id: Uuid,
    patch: WebhookPatch,
) -> Result<Webhook, AppError> {
    let checked = check(
        ctx,
        patch.url.as_deref(),
        patch.description.as_deref(),
        patch.event_types.as_deref(),
    )?;
    let now = ctx.now();
    let id = id.to_string();
    let row = transaction!(ctx.db, |conn| {
        let before = db::webhooks::get(conn, user.as_str(), &id)
            .await?
            .ok_or(NOT_FOUND)?;
        let changes = EndpointChanges {
            url: checked.url.clone(),
            description: checked.description.clone(),
            event_types: checked.event_types.clone(),
            updated_at: Some(now),
        };
        db::webhooks::update(conn, user.as_str(), &id, &changes).await?;
        match patch.enabled {
            Some(true) if !before.enabled => db::webhooks::enable(conn, &id, now).await?,
            Some(false) if before.enabled => db::webhooks::pause(conn, &id, now).await?,
            _ => {}
        }
        db::webhooks::get(conn, user.as_str(), &id)
            .await?
            .ok_or(NOT_FOUND)
    })?;
    ctx.webhooks.wake(user.as_str());
    view(&row, now)
}

pub async fn delete(ctx: &Context, user: &UserId, id: Uuid) -> Result<(), AppError> {
    let deleted = transaction!(ctx.db, |conn| {
        Ok(db::webhooks::delete(conn, user.as_str(), &id.to_string()).await?)
    })?;
    if deleted { Ok(()) } else { Err(NOT_FOUND) }
}

/// A new secret, shown once; the previous one signs too for
/// `WEBHOOK_SECRET_GRACE_HOURS`, so receivers can switch without losing a
/// delivery.
pub async fn rotate(ctx: &Context, user: &UserId, id: Uuid) -> Result<NewWebhook, AppError> {
    let now = ctx.now();
    let grace = chrono::Duration::from_std(std::time::Duration::from_secs_f64(
        ctx.settings.webhook_secret_grace_hours * 3600.0,
    ))
    .map_err(AppError::internal)?;
    let secret = rules::new_secret();
    let id = id.to_string();
    let row = transaction!(ctx.db, |conn| {
        db::webhooks::get(conn, user.as_str(), &id)
            .await?
            .ok_or(NOT_FOUND)?;
        db::webhooks::rotate(conn, &id, &secret, now, now + grace).await?;
        db::webhooks::get(conn, user.as_str(), &id)
            .await?
            .ok_or(NOT_FOUND)
    })?;
    Ok(NewWebhook {
        webhook: view(&row, now)?,
        secret,
    })
}

/// The endpoint's recent attempts, newest first.
pub async fn attempts(
    ctx: &Context,
    user: &UserId,
    id: Uuid,
    query: AttemptsQuery,
) -> Result<Vec<WebhookAttempt>, AppError> {
    let limit = match query.limit {
        None => 50,
        Some(QueryInteger(n)) if (1..=MAX_ATTEMPTS_LISTED).contains(&n) => n,
        Some(_) => {
            return Err(AppError::invalid(
                "limit",
                format!("must be from 1 to {MAX_ATTEMPTS_LISTED}"),
            ));
        }
    };
    let endpoint = endpoint(ctx, user, id).await?;
    let mut pooled = ctx.db.get().await?;
    db::webhooks::attempts(&mut pooled.conn(), &endpoint.id, limit)
        .await?
        .into_iter()
        .map(attempt_view)
        .collect()
}

/// Sends a `webhook.test` event to the endpoint now (enabled or not) and
/// tells how the receiver answered.
pub async fn test(ctx: &Context, user: &UserId, id: Uuid) -> Result<WebhookAttempt, AppError> {
    let endpoint = endpoint(ctx, user, id).await?;
    let now = ctx.now();
    let event = DomainEvent {
        schema_version: log::SCHEMA_VERSION,
        id: Uuid::now_v7(),
        user_id: user.as_str().to_owned(),
        // Not one of the user's events: outside their sequence.
        seq: 0,
        event_type: EventType::WebhookTest,
        task_id: None,
        time: to_utc(now),
        task: None,
        changes: Default::default(),
        summary: "A test delivery".into(),
        trace: Trace::for_request(&Uuid::now_v7().to_string(), None),
        instance_id: ctx.settings.instance_id.clone(),
        reminder: None,
        webhook: Some(WebhookInfo {
            endpoint_id: id,
            url: endpoint.url.clone(),
            reason: "a test delivery asked for by the endpoint's owner".into(),
        }),
    };
    once(ctx, &endpoint, event, AttemptKind::Test, 1).await
}

/// Delivers one of the user's events again now (`event_id`), or sets the
/// endpoint back so that everything from `since_seq` on is delivered again,
/// in order.
pub async fn replay(
    ctx: &Context,
    user: &UserId,
    id: Uuid,
    input: ReplayInput,
) -> Result<Replayed, AppError> {
    let endpoint = endpoint(ctx, user, id).await?;
    match (input.event_id, input.since_seq) {
        (Some(event_id), None) => {
            let row = {
                let mut pooled = ctx.db.get().await?;
                db::events::by_id(&mut pooled.conn(), user.as_str(), &event_id.to_string())
                    .await?
                    .ok_or(AppError::NotFound("event"))?
            };
            let Stored::Event(event) = log::decode(&row, &ctx.metrics, &ctx.log) else {
                return Err(AppError::conflict(
                    "event_unreadable",
                    "this event cannot be read by this release",
                ));
            };
            let attempt = {
                let mut pooled = ctx.db.get().await?;
                db::webhooks::attempts(&mut pooled.conn(), &endpoint.id, MAX_ATTEMPTS_LISTED)
                    .await?
                    .iter()
                    .filter(|a| a.event_id == row.id)
                    .map(|a| a.attempt)
                    .max()
                    .unwrap_or(0)
                    + 1
            };
            Ok(Replayed::Once(
                once(ctx, &endpoint, *event, AttemptKind::Replay, attempt).await?,
            ))
        }
        (None, Some(Integer(since))) => {
            let (oldest, last) = {
                let mut pooled = ctx.db.get().await?;
                let conn = &mut pooled.conn();
                (
                    db::events::oldest_seq(conn, user.as_str()).await?,
                    db::events::last_seq(conn, user.as_str()).await?,
                )
            };
            if since < 1 {
                return Err(AppError::invalid("since_seq", "must be at least 1"));
            }
            let first_kept = oldest.unwrap_or(last + 1);
            if since > last || since < first_kept {
                return Err(AppError::conflict(
                    "replay_out_of_range",
                    format!(
                        "the event log holds sequence numbers {first_kept} to {last} of this user"
                    ),
                ));
            }
            transaction!(ctx.db, |conn| {
                Ok(db::webhooks::rewind(conn, &endpoint.id, since - 1).await?)
            })?;
            ctx.webhooks.wake(user.as_str());
            Ok(Replayed::From { from_seq: since })
        }
        _ => Err(AppError::invalid(
            "event_id",
            "give exactly one of event_id and since_seq",
        )),
    }
}

/// One delivery made now, recorded with the endpoint's attempts.
async fn once(
    ctx: &Context,
    endpoint: &EndpointRow,
    event: DomainEvent,
    kind: AttemptKind,
    attempt: i32,
) -> Result<WebhookAttempt, AppError> {
    let (event_id, seq, event_type) = (event.id, event.seq, event.event_type);
    let answer: Answer = ctx.webhooks.deliver_once(endpoint, event).await?;
    let row = AttemptRow {
        id: Uuid::now_v7().to_string(),
        endpoint_id: endpoint.id.clone(),
        event_id: event_id.to_string(),
        seq,
        event_type: event_type.as_str().to_owned(),
        attempt,
        status: answer.status.map(i32::from),
        latency_ms: answer.latency.as_secs_f64() * 1000.0,
        error: answer.error,
        next_retry_at: None,
        created_at: ctx.now(),
        kind: kind.as_str().to_owned(),
    };
    transaction!(ctx.db, |conn| {
        db::webhooks::insert_attempts(conn, std::slice::from_ref(&row)).await?;
        Ok(db::webhooks::prune_attempts(conn, &endpoint.id, None).await?)
    })?;
    attempt_view(row)
}
