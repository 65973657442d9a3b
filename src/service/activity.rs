//! The activity log: a user's own events, newest first, read from the event
//! log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Context;
use crate::db;
use crate::domain::Problems;
use crate::domain::query::{DEFAULT_LIMIT, MAX_LIMIT, QueryInteger};
use crate::domain::time::to_utc;
use crate::domain::user::UserId;
use crate::error::AppError;

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

/// The parameters of the activity log.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// default 50
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<QueryInteger>,
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<QueryInteger>,
    /// only events after this sequence number
    #[param(value_type = Option<i64>, minimum = 0)]
    pub since_seq: Option<QueryInteger>,
}

/// A page of the user's events, newest first.
pub async fn list(
    ctx: &Context,
    user: &UserId,
    params: ActivityParams,
) -> Result<ActivityPage, AppError> {
    let mut p = Problems::new();
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(QueryInteger(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            p.add("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    };
    let mut non_negative = |name: &str, value: Option<QueryInteger>| match value {
        None => 0,
        Some(QueryInteger(n)) if n >= 0 => n,
        Some(_) => {
            p.add(name, "must be a non-negative integer");
            0
        }
    };
    let offset = non_negative("offset", params.offset);
    let since = non_negative("since_seq", params.since_seq);
    p.finish()?;
    let mut pooled = ctx.db.get().await?;
    let conn = &mut pooled.conn();
    let (rows, total) = db::events::page(conn, user.as_str(), since, limit, offset).await?;
    let oldest_seq = db::events::oldest_seq(conn, user.as_str()).await?;
    let items = crate::events::log::readable(&rows, &ctx.metrics, &ctx.log)
        .into_iter()
        .map(|event| {
            Ok(ActivityEntry {
                seq: event.seq,
                id: event.id,
                event_type: event.event_type.as_str().to_owned(),
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
