//! The activity log: a user's own events, newest first, read from the event
//! log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Context;
use crate::db;
use crate::domain::Problems;
use crate::domain::query::{DEFAULT_LIMIT, MAX_LIMIT, parse_integer};
use crate::domain::time::to_utc;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::DomainEvent;

/// One line of the activity log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityEntry {
    pub seq: i64,
    /// The event id (also the `task-events` CloudEvent id).
    pub id: Uuid,
    /// `task.created`, `task.updated`, …
    #[serde(rename = "type")]
    pub event_type: String,
    pub task_id: Option<Uuid>,
    /// e.g. "Completed 'Buy milk'".
    pub summary: String,
    /// `{field: {old, new}}` for every changed field.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub time: DateTime<Utc>,
}

/// A page of the activity log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<ActivityEntry>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// How far back the log reaches: published events older than this are
    /// deleted (`EVENT_RETENTION_DAYS`).
    pub kept_since: DateTime<Utc>,
    /// The user's oldest event still kept (`null`: none); everything before
    /// it was deleted by retention.
    pub oldest_seq: Option<i64>,
}

/// `limit` (1–500, default 50), `offset`, `since_seq` (only newer events).
pub async fn list(
    ctx: &Context,
    user: &UserId,
    pairs: &[(String, String)],
) -> Result<ActivityPage, AppError> {
    let (mut limit, mut offset, mut since) = (DEFAULT_LIMIT, 0, 0);
    let mut p = Problems::new();
    for (name, value) in pairs {
        let n = parse_integer(value);
        match (name.as_str(), n) {
            ("limit", Some(n)) if (1..=MAX_LIMIT).contains(&n) => limit = n,
            ("limit", _) => p.add(name, format!("must be an integer from 1 to {MAX_LIMIT}")),
            ("offset", Some(n)) if n >= 0 => offset = n,
            ("since_seq", Some(n)) if n >= 0 => since = n,
            ("offset" | "since_seq", _) => p.add(name, "must be a non-negative integer"),
            _ => p.add(name, "unknown query parameter"),
        }
    }
    p.finish()?;
    let mut pooled = ctx.db.get().await?;
    let conn = &mut pooled.conn();
    let (rows, total) = db::events::page(conn, user.as_str(), since, limit, offset).await?;
    let oldest_seq = db::events::oldest_seq(conn, user.as_str()).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let event: DomainEvent =
                serde_json::from_str(&row.payload).map_err(AppError::internal)?;
            Ok(ActivityEntry {
                seq: event.seq,
                id: event.id,
                event_type: row.event_type,
                task_id: event.task_id,
                summary: event.summary,
                changes: serde_json::to_value(&event.changes).map_err(AppError::internal)?,
                time: event.time,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(ActivityPage {
        items,
        total,
        limit,
        offset,
        kept_since: to_utc(super::retention::events_kept_since(ctx)),
        oldest_seq,
    })
}
