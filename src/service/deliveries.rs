//! Consuming the CloudEvents Dapr delivers: check them against the event
//! log, dedupe by id, react (a recurring task's successor), hand them to the
//! in-process fan-out.

use cloudevents::{AttributesReader, Event};

use super::Context;
use crate::db;
use crate::domain::task::TaskId;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::cloudevent::Projection;
use crate::events::inbound::Inbound;
use crate::events::log::{self, Stored};
use crate::events::{DomainEvent, EventType};

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Consumed,
    /// Consumed before: acknowledged, ignored.
    Duplicate,
    /// Our own instance's event coming back: already fanned out locally.
    Own,
    Dropped(String),
    Retry(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Consumed => "consumed",
            Self::Duplicate => "duplicate",
            Self::Own => "own",
            Self::Dropped(_) => "dropped",
            Self::Retry(_) => "retry",
        }
    }
}

/// Validates, dedupes and hands on one delivery.
///
/// Every producer of these topics is a taskstream instance writing to the
/// same event log, so a delivery is acted on only if it is consistent with
/// that log: its `userid` and `sequence` name a logged event whose projection
/// on this topic has exactly this CloudEvent's id and type. A made-up event
/// is dropped without a trace (not even its id is remembered).
pub async fn consume(ctx: &Context, topic: &str, body: &[u8]) -> Outcome {
    let topics = ctx.events.topics();
    let subscribed = [&topics.task_events, &topics.reminders, &topics.task_updates]
        .iter()
        .any(|t| t.as_str() == topic);
    let Some(projection) = topics.projection(topic).filter(|_| subscribed) else {
        return Outcome::Dropped(format!("not subscribed to topic {topic:?}"));
    };
    let event: Event = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(e) => return Outcome::Dropped(format!("not a CloudEvent: {e}")),
    };
    if event
        .extension("instanceid")
        .map(ToString::to_string)
        .as_deref()
        == Some(ctx.events.instance_id())
    {
        return Outcome::Own;
    }
    let logged = match logged_event(ctx, &event, projection).await {
        Ok(Ok(logged)) => logged,
        Ok(Err(why)) => return Outcome::Dropped(why),
        Err(AppError::Unavailable(e)) => return Outcome::Retry(e.to_string()),
        Err(e) => return Outcome::Retry(e.chain()),
    };
    // A completion from another instance: make sure the recurring task has
    // its successor (idempotent, and only while the task is still completed).
    // It runs before the delivery is recorded as consumed, so a failure here
    // is retried, never lost.
    if projection == Projection::TaskEvents
        && logged.event_type == EventType::TaskCompleted
        && let (Ok(user), Some(task)) = (UserId::parse(&logged.user_id), logged.task_id.map(TaskId))
        && let Err(e) = super::tasks::ensure_successor_of(ctx, &logged.trace, &user, task).await
    {
        return Outcome::Retry(e.chain());
    }
    let recorded = async {
        let mut pooled = ctx.db.get().await?;
        Ok::<_, AppError>(
            db::events::mark_processed(&mut pooled.conn(), event.id(), topic, ctx.now()).await?,
        )
    }
    .await;
    match recorded {
        Ok(true) => {
            ctx.inbound.send(Inbound {
                topic: topic.to_owned(),
                event,
            });
            Outcome::Consumed
        }
        Ok(false) => Outcome::Duplicate,
        Err(AppError::Unavailable(e)) => Outcome::Retry(e.to_string()),
        Err(e) => Outcome::Retry(e.chain()),
    }
}

/// The logged domain event a delivery claims to be a projection of, or why
/// it is not one.
async fn logged_event(
    ctx: &Context,
    event: &Event,
    projection: Projection,
) -> Result<Result<DomainEvent, String>, AppError> {
    let user = event.extension("userid").map(ToString::to_string);
    let seq = event
        .extension("sequence")
        .and_then(|s| s.to_string().parse::<i64>().ok());
    let (Some(user), Some(seq)) = (user, seq) else {
        return Ok(Err("no userid and sequence: not an event of ours".into()));
    };
    let row = {
        let mut pooled = ctx.db.get().await?;
        db::events::by_seq(&mut pooled.conn(), &user, seq).await?
    };
    let Some(row) = row else {
        return Ok(Err(format!(
            "the event log holds no event {seq} of that user"
        )));
    };
    // An unreadable row is no reason to hold up the partition with retries.
    let Stored::Event(logged) = log::decode(&row, &ctx.metrics, &ctx.log) else {
        return Ok(Err(format!(
            "event {seq} of that user cannot be read from the log"
        )));
    };
    let logged = *logged;
    let consistent = projection.id(&logged).to_string() == event.id()
        && projection.event_type(&logged) == event.ty()
        && event.subject() == logged.task_id.map(|id| id.to_string()).as_deref();
    if consistent {
        Ok(Ok(logged))
    } else {
        Ok(Err(format!(
            "does not match event {seq} of that user in the event log"
        )))
    }
}
