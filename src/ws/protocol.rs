//! The JSON messages of the WebSocket protocol.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::task::Task;
use crate::events::{DomainEvent, FieldChange, WebhookInfo};

/// Server → client.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// First message: who this is and the newest sequence number.
    Hello {
        user_id: &'a str,
        last_seq: i64,
    },
    /// One change.
    Event {
        seq: i64,
        event_id: Uuid,
        event_type: &'a str,
        task_id: Option<Uuid>,
        /// The task after the change; `null` for deletions.
        task: Option<&'a Task>,
        changes: &'a std::collections::BTreeMap<String, FieldChange>,
        time: DateTime<Utc>,
        /// For `webhook.*` events: the endpoint, and what happened to it.
        #[serde(skip_serializing_if = "Option::is_none")]
        webhook: Option<&'a WebhookInfo>,
    },
    /// A reminder fired.
    Reminder {
        seq: i64,
        task_id: Uuid,
        title: &'a str,
        due_at: Option<DateTime<Utc>>,
        remind_at: DateTime<Utc>,
        fired_at: Option<DateTime<Utc>>,
        late: bool,
    },
    /// A replay asked for with `since` is complete; live events follow.
    ReplayDone {
        last_seq: i64,
    },
    /// The replay cannot be served from the log: reload through REST.
    ResyncRequired {
        last_seq: i64,
    },
    Pong,
    Error {
        message: String,
    },
}

impl<'a> ServerMessage<'a> {
    pub fn event(event: &'a DomainEvent) -> Self {
        if let (crate::events::EventType::ReminderTriggered, Some(r)) =
            (event.event_type, &event.reminder)
        {
            return Self::Reminder {
                seq: event.seq,
                task_id: r.task_id,
                title: &r.title,
                due_at: r.due_at,
                remind_at: r.remind_at,
                fired_at: r.fired_at,
                late: r.late.unwrap_or(false),
            };
        }
        let deleted = event.event_type == crate::events::EventType::TaskDeleted;
        Self::Event {
            seq: event.seq,
            event_id: event.id,
            event_type: event.event_type.as_str(),
            task_id: event.task_id,
            task: if deleted { None } else { event.task.as_ref() },
            changes: &event.changes,
            time: event.time,
            webhook: event.webhook.as_ref(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"type":"error","message":"{e}"}}"#))
    }
}

/// Client → server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Ping,
    /// Replay everything after `since`, then continue live.
    Resume {
        since: i64,
    },
}
