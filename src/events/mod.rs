//! Domain events: every change becomes one event, written to the event log
//! in the same transaction as the change, then carried after commit to the
//! in-process fan-out (WebSocket sessions) and, through the outbox, to Dapr.
//!
//! One change = one domain event = one per-user sequence number; the
//! messages on `task-events`, `task-updates` and `activity-logs` are
//! projections of it ([`cloudevent`]).

pub mod bus;
pub mod cloudevent;
pub mod dapr;
pub mod dispatcher;
pub mod inbound;
pub mod log;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::task::Task;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    TaskUpdated,
    #[serde(rename = "task.completed")]
    TaskCompleted,
    #[serde(rename = "task.uncompleted")]
    TaskUncompleted,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
    #[serde(rename = "reminder.scheduled")]
    ReminderScheduled,
    #[serde(rename = "reminder.rescheduled")]
    ReminderRescheduled,
    #[serde(rename = "reminder.cancelled")]
    ReminderCancelled,
    #[serde(rename = "reminder.triggered")]
    ReminderTriggered,
    /// A webhook endpoint was disabled (it answered 410 Gone, or failed
    /// for the whole retry schedule).
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
    /// A test delivery asked for by the user; never in the log.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// Every type, for whoever lists or validates them.
    pub const ALL: [Self; 11] = [
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskCompleted,
        Self::TaskUncompleted,
        Self::TaskDeleted,
        Self::ReminderScheduled,
        Self::ReminderRescheduled,
        Self::ReminderCancelled,
        Self::ReminderTriggered,
        Self::WebhookDisabled,
        Self::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskCompleted => "task.completed",
            Self::TaskUncompleted => "task.uncompleted",
            Self::TaskDeleted => "task.deleted",
            Self::ReminderScheduled => "reminder.scheduled",
            Self::ReminderRescheduled => "reminder.rescheduled",
            Self::ReminderCancelled => "reminder.cancelled",
            Self::ReminderTriggered => "reminder.triggered",
            Self::WebhookDisabled => "webhook.disabled",
            Self::WebhookTest => "webhook.test",
        }
    }

    pub fn is_webhook(self) -> bool {
        matches!(self, Self::WebhookDisabled | Self::WebhookTest)
    }

    pub fn is_reminder(self) -> bool {
        matches!(
            self,
            Self::ReminderScheduled
                | Self::ReminderRescheduled
                | Self::ReminderCancelled
                | Self::ReminderTriggered
        )
    }

    /// The verb of the `sync.task` and `activity.logged` projections.
    pub fn action(self) -> &'static str {
        match self {
            Self::TaskCreated => "created",
            Self::TaskUpdated => "updated",
            Self::TaskCompleted => "completed",
            Self::TaskUncompleted => "uncompleted",
            Self::TaskDeleted => "deleted",
            Self::ReminderScheduled => "scheduled",
            Self::ReminderRescheduled => "rescheduled",
            Self::ReminderCancelled => "cancelled",
            Self::ReminderTriggered => "triggered",
            Self::WebhookDisabled => "disabled",
            Self::WebhookTest => "tested",
        }
    }
}

/// A field's value before and after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub old: Value,
    pub new: Value,
}

/// Correlation of an event with the request that caused it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The request's `x-request-id`.
    pub traceid: String,
    /// W3C trace context: the request's own, continued, or a fresh one.
    pub traceparent: String,
}

impl Trace {
    /// The trace of a request with this `x-request-id`, continuing its W3C
    /// `traceparent` (same trace, a new span of ours) or starting a new one.
    pub fn for_request(request_id: &str, traceparent: Option<&str>) -> Self {
        let span = hex(&rand::random::<[u8; 8]>());
        let traceparent = match traceparent.and_then(parse_traceparent) {
            Some((trace_id, flags)) => format!("00-{trace_id}-{span}-{flags}"),
            None => format!("00-{}-{span}-01", hex(&rand::random::<[u8; 16]>())),
        };
        Self {
            traceid: request_id.to_owned(),
            traceparent,
        }
    }
}

/// The trace id and flags of a valid version-00 `traceparent`.
fn parse_traceparent(value: &str) -> Option<(&str, &str)> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let is_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = parts.next().is_none()
        && version == "00"
        && is_hex(trace_id, 32)
        && is_hex(parent, 16)
        && is_hex(flags, 2)
        && trace_id.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then_some((trace_id, flags))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One domain event, as stored in the log and handed to the fan-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// The layout of this payload ([`log::SCHEMA_VERSION`] when written by
    /// this release; rows written before versions existed are version 1).
    #[serde(default = "log::first_version")]
    pub schema_version: u32,
    /// Also the `task-events` CloudEvent id; projections derive theirs.
    pub id: Uuid,
    pub user_id: String,
    /// The user's gapless sequence number.
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub task_id: Option<Uuid>,
    pub time: DateTime<Utc>,
    /// The task after the change (its last state for deletions).
    pub task: Option<Task>,
    /// Every changed field (empty for creations and deletions).
    pub changes: BTreeMap<String, FieldChange>,
    /// A line for people: "Completed 'Buy milk'".
    pub summary: String,
    pub trace: Trace,
    /// INSTANCE_ID of the replica that wrote it.
    pub instance_id: String,
    /// For reminder events: the reminder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<ReminderInfo>,
    /// For webhook events: the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookInfo>,
}

/// What a webhook event says about the endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub endpoint_id: Uuid,
    pub url: String,
    /// Why it was disabled, or what a test delivery says.
    pub reason: String,
}

/// What a reminder event says about the reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderInfo {
    pub id: Uuid,
    pub task_id: Uuid,
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub remind_at: DateTime<Utc>,
    /// When it fired (triggered only).
    pub fired_at: Option<DateTime<Utc>>,
    /// Fired more than a second after its time (e.g. it came due while the
    /// service was down).
    pub late: Option<bool>,
}

/// Fields that change on every write and say nothing by themselves.
const BOOKKEEPING: [&str; 2] = ["version", "updated_at"];

/// The type, changed fields and summary of a change from `before` to `after`.
pub fn describe(
    before: Option<&Task>,
    after: Option<&Task>,
) -> (EventType, BTreeMap<String, FieldChange>, String) {
    let title = after
        .or(before)
        .map(|t| t.title.as_str())
        .unwrap_or_default();
    match (before, after) {
        (None, _) => (
            EventType::TaskCreated,
            BTreeMap::new(),
            format!("Created '{title}'"),
        ),
        (Some(_), None) => (
            EventType::TaskDeleted,
            BTreeMap::new(),
            format!("Deleted '{title}'"),
        ),
        (Some(old), Some(new)) => {
            let changes = diff(old, new);
            let event_type = match (old.completed, new.completed) {
                (false, true) => EventType::TaskCompleted,
                (true, false) => EventType::TaskUncompleted,
                _ => EventType::TaskUpdated,
            };
            let summary = match event_type {
                EventType::TaskCompleted => format!("Completed '{title}'"),
                EventType::TaskUncompleted => format!("Reopened '{title}'"),
                _ if changes.is_empty() => format!("Updated '{title}'"),
                _ => {
                    let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
                    format!("Updated '{title}': {}", fields.join(", "))
                }
            };
            (event_type, changes, summary)
        }
    }
}

fn diff(old: &Task, new: &Task) -> BTreeMap<String, FieldChange> {
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return BTreeMap::new();
    };
    new.into_iter()
        .filter(|(field, _)| !BOOKKEEPING.contains(&field.as_str()))
        .filter_map(|(field, new_value)| {
            let old_value = old.get(&field).cloned().unwrap_or(Value::Null);
            let change = FieldChange {
                old: old_value,
                new: new_value,
            };
            (change.old != change.new).then_some((field, change))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_traceparent_and_starts_one_otherwise() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = Trace::for_request("req-1", Some(incoming));
        assert_eq!(t.traceid, "req-1");
        assert!(
            t.traceparent
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert!(t.traceparent.ends_with("-01"));
        assert_ne!(t.traceparent, incoming, "a new span of ours");
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ] {
            let t = Trace::for_request("req-2", bad);
            let parts: Vec<&str> = t.traceparent.split('-').collect();
            assert_eq!(parts.len(), 4);
            assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("00", 32, 16));
        }
    }

    #[test]
    fn describes_changes() {
        let task: Task = serde_json::from_value(serde_json::json!({
            "id": Uuid::now_v7(), "user_id": "u", "title": "Buy milk", "description": null,
            "completed": false, "completed_at": null, "priority": "none", "due_at": null, "tags": [],
            "recurrence_pattern": null, "recurrence_mode": "due", "recurrence_end_date": null,
            "reminder_offset_minutes": null, "parent_task_id": null, "version": 1,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut done = task.clone();
        done.completed = true;
        done.version = 2;
        let (t, changes, summary) = describe(Some(&task), Some(&done));
        assert_eq!(t, EventType::TaskCompleted);
        assert_eq!(summary, "Completed 'Buy milk'");
        assert_eq!(changes.keys().collect::<Vec<_>>(), ["completed"]);
        let (t, changes, summary) = describe(Some(&task), Some(&task));
        assert_eq!(
            (t, changes.len(), summary.as_str()),
            (EventType::TaskUpdated, 0, "Updated 'Buy milk'")
        );
        assert_eq!(describe(None, Some(&task)).0, EventType::TaskCreated);
        assert_eq!(describe(Some(&task), None).2, "Deleted 'Buy milk'");
    }
}
