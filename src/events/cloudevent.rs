//! Domain events as CloudEvents 1.0 (structured JSON), built with the
//! `cloudevents-sdk` crate. [`to_cloud_event`] is the only place a domain
//! event becomes a CloudEvent.

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use serde_json::json;
use uuid::Uuid;

use super::DomainEvent;

/// The CloudEvents media type for structured mode.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Which projection of a domain event a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// `task.*`: the full change (snapshot and changed fields).
    TaskEvents,
    /// `sync.task`: a lightweight "this task changed" for other replicas.
    TaskUpdates,
    /// `activity.logged`: one line for audit consumers.
    ActivityLogs,
    /// `reminder.*`: a reminder's life cycle.
    Reminders,
}

impl Projection {
    /// Stable name used to derive the projection's CloudEvent id.
    fn name(self) -> &'static str {
        match self {
            Self::TaskEvents => "task-events",
            Self::TaskUpdates => "task-updates",
            Self::ActivityLogs => "activity-logs",
            Self::Reminders => "reminders",
        }
    }

    /// The CloudEvent `type` this projection of `event` carries.
    pub fn event_type(self, event: &DomainEvent) -> &'static str {
        match self {
            Self::TaskEvents | Self::Reminders => event.event_type.as_str(),
            Self::TaskUpdates => "sync.task",
            Self::ActivityLogs => "activity.logged",
        }
    }

    /// The CloudEvent id of this projection of `event`: the event's own id
    /// for `task-events`, a name-based UUID derived from it otherwise, so a
    /// retried publication carries the same id and consumers can dedupe.
    pub fn id(self, event: &DomainEvent) -> Uuid {
        match self {
            Self::TaskEvents | Self::Reminders => event.id,
            other => Uuid::new_v5(&event.id, other.name().as_bytes()),
        }
    }
}

/// Builds the CloudEvent for one projection of `event`.
pub fn to_cloud_event(
    event: &DomainEvent,
    projection: Projection,
    source: &str,
) -> Result<Event, cloudevents::event::EventBuilderError> {
    let timestamp = event
        .time
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let task_id = event.task_id.map(|id| id.to_string());
    let data = match projection {
        Projection::TaskEvents => json!({
            "event_type": event.event_type.as_str(),
            "task_id": task_id,
            "user_id": event.user_id,
            "task_data": event.task,
            "changes": event.changes,
            "timestamp": timestamp,
            "seq": event.seq,
        }),
        Projection::TaskUpdates => json!({
            "task_id": task_id,
            "user_id": event.user_id,
            "action": event.event_type.action(),
            "seq": event.seq,
            "version": event.task.as_ref().map(|t| t.version),
            "timestamp": timestamp,
        }),
        Projection::ActivityLogs => json!({
            "seq": event.seq,
            "user_id": event.user_id,
            "task_id": task_id,
            "action": event.event_type.action(),
            "summary": event.summary,
        }),
        Projection::Reminders => {
            let r = event.reminder.as_ref();
            let mut data = json!({
                "task_id": task_id,
                "user_id": event.user_id,
                "title": r.map(|r| r.title.as_str()),
                "due_at": r.and_then(|r| r.due_at),
                "remind_at": r.map(|r| r.remind_at),
            });
            if let (Some(r), Some(obj)) = (r, data.as_object_mut())
                && event.event_type == super::EventType::ReminderTriggered
            {
                obj.insert("fired_at".into(), json!(r.fired_at));
                obj.insert("late".into(), json!(r.late.unwrap_or(false)));
            }
            data
        }
    };
    let mut builder = EventBuilderV10::new()
        .id(projection.id(event).to_string())
        .source(source)
        .ty(projection.event_type(event))
        .time(event.time)
        .data("application/json", data)
        .extension("traceid", event.trace.traceid.clone())
        .extension("traceparent", event.trace.traceparent.clone())
        .extension("sequence", event.seq.to_string())
        .extension("userid", event.user_id.clone())
        .extension("instanceid", event.instance_id.clone());
    if let Some(task_id) = task_id {
        builder = builder.subject(task_id);
    }
    builder.build()
}
