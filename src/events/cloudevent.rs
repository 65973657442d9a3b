//! Domain events as CloudEvents 1.0 in structured JSON. [`CloudEvent`] is
//! the only place a domain event becomes one: it is serialized straight
//! from the stored event, with no intermediate document, since the outbox
//! writes three per change. [`to_cloud_event`] reads it back as the
//! `cloudevents-sdk` crate's [`Event`], which also checks it in the tests.

use chrono::{DateTime, SecondsFormat, Utc};
use cloudevents::Event;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use uuid::Uuid;

use super::{DomainEvent, EventType, FieldChange};
use crate::domain::task::Task;

/// The CloudEvents media type for structured mode.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// About the size of one serialized event (a task's change with its data),
/// for sizing request bodies up front.
pub const SIZE_HINT: usize = 1536;

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
    /// `webhook.*`: what happened to a webhook endpoint (webhook deliveries
    /// only).
    Webhooks,
}

impl Projection {
    /// Stable name used to derive the projection's CloudEvent id.
    fn name(self) -> &'static str {
        match self {
            Self::TaskEvents => "task-events",
            Self::TaskUpdates => "task-updates",
            Self::ActivityLogs => "activity-logs",
            Self::Reminders => "reminders",
            Self::Webhooks => "webhooks",
        }
    }

    /// The projection that carries the whole of an event of this type: what
    /// a webhook receives.
    pub fn primary(event_type: EventType) -> Self {
        if event_type.is_reminder() {
            Self::Reminders
        } else if event_type.is_webhook() {
            Self::Webhooks
        } else {
            Self::TaskEvents
        }
    }

    /// The CloudEvent `type` this projection of `event` carries.
    pub fn event_type(self, event: &DomainEvent) -> &'static str {
        match self {
            Self::TaskEvents | Self::Reminders | Self::Webhooks => event.event_type.as_str(),
            Self::TaskUpdates => "sync.task",
            Self::ActivityLogs => "activity.logged",
        }
    }

    /// The CloudEvent id of this projection of `event`: the event's own id
    /// for `task-events`, a name-based UUID derived from it otherwise, so a
    /// retried publication carries the same id and consumers can dedupe.
    pub fn id(self, event: &DomainEvent) -> Uuid {
        match self {
            Self::TaskEvents | Self::Reminders | Self::Webhooks => event.id,
            other => Uuid::new_v5(&event.id, other.name().as_bytes()),
        }
    }
}

/// One projection of a domain event as a structured CloudEvent:
/// `specversion`, `id`, `type`, `source`, `subject` (the task, if any),
/// `time`, `datacontenttype` and the projection's `data`, with the
/// extensions `traceid`, `traceparent`, `sequence` (the user's sequence
/// number, as a string), `userid` and `instanceid`.
#[derive(Clone, Copy)]
pub struct CloudEvent<'a> {
    pub event: &'a DomainEvent,
    pub projection: Projection,
    /// The `source` attribute (a URI-reference).
    pub source: &'a str,
}

impl<'a> CloudEvent<'a> {
    pub fn new(event: &'a DomainEvent, projection: Projection, source: &'a str) -> Self {
        Self {
            event,
            projection,
            source,
        }
    }

    /// The structured-mode JSON (`application/cloudevents+json`).
    pub fn to_vec(&self) -> Vec<u8> {
        // Only string keys and serializable values: writing cannot fail.
        let mut out = Vec::with_capacity(SIZE_HINT);
        serde_json::to_writer(&mut out, self).map_or_else(|_| Vec::new(), |()| out)
    }
}

impl Serialize for CloudEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.event;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", "1.0")?;
        map.serialize_entry("id", &self.projection.id(event))?;
        map.serialize_entry("type", self.projection.event_type(event))?;
        map.serialize_entry("source", self.source)?;
        map.serialize_entry("datacontenttype", "application/json")?;
        if let Some(task_id) = &event.task_id {
            map.serialize_entry("subject", task_id)?;
        }
        map.serialize_entry("time", &event.time)?;
        map.serialize_entry("data", &Data(event, self.projection))?;
        map.serialize_entry("traceid", &event.trace.traceid)?;
        map.serialize_entry("traceparent", &event.trace.traceparent)?;
        map.serialize_entry("sequence", &Sequence(event.seq))?;
        map.serialize_entry("userid", &event.user_id)?;
        map.serialize_entry("instanceid", &event.instance_id)?;
        map.end()
    }
}

/// The `sequence` extension: a string, as CloudEvents' sequence extension
/// defines it.
struct Sequence(i64);

impl Serialize for Sequence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// `timestamp` in the data: RFC 3339 in UTC with microseconds.
struct Timestamp(DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Written directly: a format string would be parsed for every event.
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

/// The `data` of one projection.
struct Data<'a>(&'a DomainEvent, Projection);

#[derive(Serialize)]
struct TaskEventData<'a> {
    event_type: &'static str,
    task_id: Option<Uuid>,
    user_id: &'a str,
    task_data: Option<&'a Task>,
    changes: &'a std::collections::BTreeMap<String, FieldChange>,
    timestamp: Timestamp,
    seq: i64,
}

#[derive(Serialize)]
struct TaskUpdateData<'a> {
    task_id: Option<Uuid>,
    user_id: &'a str,
    action: &'static str,
    seq: i64,
    version: Option<i32>,
    timestamp: Timestamp,
}

#[derive(Serialize)]
struct ActivityData<'a> {
    seq: i64,
    user_id: &'a str,
    task_id: Option<Uuid>,
    action: &'static str,
    summary: &'a str,
}

#[derive(Serialize)]
struct WebhookData<'a> {
    endpoint_id: Option<Uuid>,
    url: Option<&'a str>,
    user_id: &'a str,
    /// Why the endpoint was disabled, or what a test says.
    reason: Option<&'a str>,
    timestamp: Timestamp,
}

#[derive(Serialize)]
struct ReminderData<'a> {
    task_id: Option<Uuid>,
    user_id: &'a str,
    title: Option<&'a str>,
    due_at: Option<DateTime<Utc>>,
    remind_at: Option<DateTime<Utc>>,
    /// Only on `reminder.triggered`: when it fired, and whether late.
    #[serde(skip_serializing_if = "Option::is_none")]
    fired_at: Option<Option<DateTime<Utc>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    late: Option<bool>,
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self(event, projection) = *self;
        let timestamp = Timestamp(event.time);
        match projection {
            Projection::TaskEvents => TaskEventData {
                event_type: event.event_type.as_str(),
                task_id: event.task_id,
                user_id: &event.user_id,
                task_data: event.task.as_ref(),
                changes: &event.changes,
                timestamp,
                seq: event.seq,
            }
            .serialize(serializer),
            Projection::TaskUpdates => TaskUpdateData {
                task_id: event.task_id,
                user_id: &event.user_id,
                action: event.event_type.action(),
                seq: event.seq,
                version: event.task.as_ref().map(|t| t.version),
                timestamp,
            }
            .serialize(serializer),
            Projection::ActivityLogs => ActivityData {
                seq: event.seq,
                user_id: &event.user_id,
                task_id: event.task_id,
                action: event.event_type.action(),
                summary: &event.summary,
            }
            .serialize(serializer),
            Projection::Webhooks => {
                let webhook = event.webhook.as_ref();
                WebhookData {
                    endpoint_id: webhook.map(|w| w.endpoint_id),
                    url: webhook.map(|w| w.url.as_str()),
                    user_id: &event.user_id,
                    reason: webhook.map(|w| w.reason.as_str()),
                    timestamp,
                }
                .serialize(serializer)
            }
            Projection::Reminders => {
                let reminder = event.reminder.as_ref();
                let triggered =
                    reminder.filter(|_| event.event_type == EventType::ReminderTriggered);
                ReminderData {
                    task_id: event.task_id,
                    user_id: &event.user_id,
                    title: reminder.map(|r| r.title.as_str()),
                    due_at: reminder.and_then(|r| r.due_at),
                    remind_at: reminder.map(|r| r.remind_at),
                    fired_at: triggered.map(|r| r.fired_at),
                    late: triggered.map(|r| r.late.unwrap_or(false)),
                }
                .serialize(serializer)
            }
        }
    }
}

/// One projection of `event` as the `cloudevents-sdk` crate's [`Event`]
/// (for code that hands CloudEvents on, and to check the wire form).
pub fn to_cloud_event(
    event: &DomainEvent,
    projection: Projection,
    source: &str,
) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(&CloudEvent::new(event, projection, source).to_vec())
}

#[cfg(test)]
mod tests {
    use cloudevents::event::ExtensionValue;
    use cloudevents::{AttributesReader, Data as CeData};
    use serde_json::{Value, json};

    use super::*;
    use crate::events::{ReminderInfo, Trace};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn event(event_type: EventType) -> DomainEvent {
        let task_id: Uuid = "0192a000-0000-7000-8000-000000000001".parse().unwrap();
        DomainEvent {
            schema_version: 1,
            id: "0192a000-0000-7000-8000-0000000000e1".parse().unwrap(),
            user_id: "user-1".into(),
            seq: 42,
            event_type,
            task_id: Some(task_id),
            time: at("2026-11-23T10:00:00.123456Z"),
            task: None,
            changes: [(
                "title".to_owned(),
                FieldChange {
                    old: json!("Old"),
                    new: json!("New"),
                },
            )]
            .into(),
            summary: "Updated 'New': title".into(),
            trace: Trace {
                traceid: "req-1".into(),
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            },
            instance_id: "instance-a".into(),
            reminder: Some(ReminderInfo {
                id: Uuid::nil(),
                task_id,
                title: "Call".into(),
                due_at: None,
                remind_at: at("2026-11-23T09:45:00Z"),
                fired_at: Some(at("2026-11-23T09:45:01Z")),
                late: None,
            }),
            webhook: None,
        }
    }

    /// The wire form, read by the CloudEvents SDK: attributes, extensions
    /// (`sequence` a string) and the data.
    fn read(event: &DomainEvent, projection: Projection) -> (Event, Value) {
        let ce = to_cloud_event(event, projection, "taskstream/api").expect("a valid CloudEvent");
        assert_eq!(ce.source().as_str(), "taskstream/api");
        assert_eq!(ce.subject(), Some("0192a000-0000-7000-8000-000000000001"));
        assert_eq!(ce.time(), Some(&event.time));
        assert_eq!(ce.datacontenttype(), Some("application/json"));
        for (name, value) in [
            ("traceid", "req-1"),
            ("traceparent", event.trace.traceparent.as_str()),
            ("sequence", "42"),
            ("userid", "user-1"),
            ("instanceid", "instance-a"),
        ] {
            let Some(ExtensionValue::String(got)) = ce.extension(name) else {
                panic!("extension {name} is a string: {:?}", ce.extension(name))
            };
            assert_eq!(got, value, "extension {name}");
        }
        let Some(CeData::Json(data)) = ce.data().cloned() else {
            panic!("JSON data")
        };
        (ce, data)
    }

    #[test]
    fn each_projection_is_a_cloud_event_with_its_data() {
        let updated = event(EventType::TaskUpdated);
        let (ce, data) = read(&updated, Projection::TaskEvents);
        assert_eq!(
            (ce.id(), ce.ty()),
            (updated.id.to_string().as_str(), "task.updated")
        );
        assert_eq!(
            data,
            json!({"event_type": "task.updated", "task_id": "0192a000-0000-7000-8000-000000000001",
                "user_id": "user-1", "task_data": null,
                "changes": {"title": {"old": "Old", "new": "New"}},
                "timestamp": "2026-11-23T10:00:00.123456Z", "seq": 42})
        );

        let (ce, data) = read(&updated, Projection::TaskUpdates);
        assert_eq!(ce.ty(), "sync.task");
        assert_eq!(
            ce.id(),
            Uuid::new_v5(&updated.id, b"task-updates").to_string(),
            "derived, stable across retries"
        );
        assert_eq!(
            data,
            json!({"task_id": "0192a000-0000-7000-8000-000000000001", "user_id": "user-1",
                "action": "updated", "seq": 42, "version": null,
                "timestamp": "2026-11-23T10:00:00.123456Z"})
        );

        let (ce, data) = read(&updated, Projection::ActivityLogs);
        assert_eq!(ce.ty(), "activity.logged");
        assert_eq!(
            data,
            json!({"seq": 42, "user_id": "user-1", "task_id": "0192a000-0000-7000-8000-000000000001",
                "action": "updated", "summary": "Updated 'New': title"})
        );

        let triggered = event(EventType::ReminderTriggered);
        let (ce, data) = read(&triggered, Projection::Reminders);
        assert_eq!(ce.ty(), "reminder.triggered");
        assert_eq!(
            data,
            json!({"task_id": "0192a000-0000-7000-8000-000000000001", "user_id": "user-1",
                "title": "Call", "due_at": null, "remind_at": "2026-11-23T09:45:00Z",
                "fired_at": "2026-11-23T09:45:01Z", "late": false})
        );
        let (_, data) = read(&event(EventType::ReminderScheduled), Projection::Reminders);
        assert_eq!(
            data.as_object()
                .map(|o| o.contains_key("fired_at") || o.contains_key("late")),
            Some(false),
            "only a triggered reminder says when it fired"
        );
    }
}
