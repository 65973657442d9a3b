//! From a transaction to the dispatcher. [`EventBus::record_task`] writes a
//! change's event into the log inside the caller's transaction;
//! [`EventBus::committed`] hands the committed events to the dispatcher over
//! a bounded channel with `try_send`. A full channel never blocks or fails
//! the request: the log is the source of truth, and the dispatcher's sweep
//! (Dapr) and the hub's gap filling (sessions) pick up whatever was dropped.

use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::cloudevent::Projection;
use super::{DomainEvent, EventType, ReminderInfo, Trace, WebhookInfo, describe};
use crate::clock::Clock;
use crate::db::events::EventRow;
use crate::db::{self, Conn};
use crate::domain::task::Task;
use crate::domain::time::to_utc;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// What the channel carries: the events one transaction committed.
pub type Batch = Vec<Arc<DomainEvent>>;

/// Where task events are published, and as which projection.
#[derive(Debug, Clone)]
pub struct Topics {
    pub task_events: String,
    pub task_updates: String,
    pub reminders: String,
    pub activity_logs: String,
}

impl Topics {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            task_events: settings.topic_task_events.clone(),
            task_updates: settings.topic_task_updates.clone(),
            reminders: settings.topic_reminders.clone(),
            activity_logs: settings.topic_activity_logs.clone(),
        }
    }

    /// The topics `event` is published on, with their projections.
    pub fn for_event(&self, event: &DomainEvent) -> Vec<(&str, Projection)> {
        if event.event_type.is_reminder() {
            vec![(&self.reminders, Projection::Reminders)]
        } else if event.event_type.is_webhook() {
            // Of interest to audit consumers only.
            vec![(&self.activity_logs, Projection::ActivityLogs)]
        } else {
            self.for_task_events().to_vec()
        }
    }

    /// The topics a task event is published on, with their projections.
    pub fn for_task_events(&self) -> [(&str, Projection); 3] {
        [
            (&self.task_events, Projection::TaskEvents),
            (&self.task_updates, Projection::TaskUpdates),
            (&self.activity_logs, Projection::ActivityLogs),
        ]
    }

    /// Which projection a topic carries.
    pub fn projection(&self, topic: &str) -> Option<Projection> {
        self.for_task_events()
            .into_iter()
            .chain([(self.reminders.as_str(), Projection::Reminders)])
            .find(|(t, _)| *t == topic)
            .map(|(_, p)| p)
    }
}

/// What an event says besides its type.
#[derive(Default)]
struct Body {
    task: Option<Task>,
    changes: std::collections::BTreeMap<String, super::FieldChange>,
    summary: String,
    reminder: Option<ReminderInfo>,
    webhook: Option<WebhookInfo>,
}

/// Records events and hands them on. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    sender: mpsc::Sender<Batch>,
    instance_id: Arc<str>,
    topics: Arc<Topics>,
    /// Whether events wait to be published (Dapr enabled).
    publish: bool,
    metrics: Arc<Metrics>,
    /// Wakes the reminder scheduler when a reminder is (re)scheduled.
    reminder_wake: Arc<tokio::sync::Notify>,
    /// When events happen.
    clock: Clock,
}

impl EventBus {
    /// A bus and the receiving end the dispatcher consumes.
    pub fn new(
        settings: &Settings,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> (Self, mpsc::Receiver<Batch>) {
        let (sender, receiver) = mpsc::channel(settings.event_channel_capacity.max(1));
        let bus = Self {
            sender,
            instance_id: settings.instance_id.as_str().into(),
            topics: Arc::new(Topics::from_settings(settings)),
            publish: settings.dapr_enabled,
            metrics,
            reminder_wake: Arc::new(tokio::sync::Notify::new()),
            clock,
        };
        (bus, receiver)
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Notified when a reminder is scheduled or moved (the scheduler may
    /// need to wake sooner).
    pub fn reminder_wake(&self) -> Arc<tokio::sync::Notify> {
        self.reminder_wake.clone()
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Writes the event of a task change (`before` → `after`; `None` for
    /// "did not exist") into the log, with the user's next sequence number.
    /// Runs inside the caller's transaction.
    pub async fn record_task(
        &self,
        conn: &mut Conn<'_>,
        trace: &Trace,
        user_id: &str,
        before: Option<&Task>,
        after: Option<&Task>,
    ) -> Result<DomainEvent, AppError> {
        let (event_type, changes, summary) = describe(before, after);
        let body = Body {
            task: after.or(before).cloned(),
            changes,
            summary,
            ..Body::default()
        };
        self.record(conn, trace, user_id, event_type, body).await
    }

    /// Writes a reminder event into the log (inside the caller's transaction).
    pub async fn record_reminder(
        &self,
        conn: &mut Conn<'_>,
        trace: &Trace,
        user_id: &str,
        event_type: EventType,
        reminder: ReminderInfo,
    ) -> Result<DomainEvent, AppError> {
        let summary = match event_type {
            EventType::ReminderTriggered => format!("Reminder: '{}'", reminder.title),
            EventType::ReminderCancelled => {
                format!("Cancelled the reminder of '{}'", reminder.title)
            }
            _ => format!(
                "Reminder for '{}' at {}",
                reminder.title,
                reminder.remind_at.to_rfc3339()
            ),
        };
        let body = Body {
            summary,
            reminder: Some(reminder),
            ..Body::default()
        };
        self.record(conn, trace, user_id, event_type, body).await
    }

    /// Writes a webhook event into the log (inside the caller's transaction).
    pub async fn record_webhook(
        &self,
        conn: &mut Conn<'_>,
        trace: &Trace,
        user_id: &str,
        event_type: EventType,
        webhook: WebhookInfo,
    ) -> Result<DomainEvent, AppError> {
        let summary = match event_type {
            EventType::WebhookDisabled => {
                format!("Webhook to {} disabled: {}", webhook.url, webhook.reason)
            }
            _ => format!("Webhook to {}: {}", webhook.url, webhook.reason),
        };
        let body = Body {
            summary,
            webhook: Some(webhook),
            ..Body::default()
        };
        self.record(conn, trace, user_id, event_type, body).await
    }

    async fn record(
        &self,
        conn: &mut Conn<'_>,
        trace: &Trace,
        user_id: &str,
        event_type: EventType,
        body: Body,
    ) -> Result<DomainEvent, AppError> {
        let seq = db::events::next_seq(conn, user_id, self.publish).await?;
        let created_at = self.clock.now();
        let task_id = body
            .task
            .as_ref()
            .map(|t| t.id)
            .or(body.reminder.as_ref().map(|r| r.task_id));
        let event = DomainEvent {
            schema_version: super::log::SCHEMA_VERSION,
            id: Uuid::now_v7(),
            user_id: user_id.to_owned(),
            seq,
            event_type,
            task_id,
            time: to_utc(created_at),
            task: body.task,
            changes: body.changes,
            summary: body.summary,
            trace: trace.clone(),
            instance_id: self.instance_id.to_string(),
            reminder: body.reminder,
            webhook: body.webhook,
        };
        let row = EventRow {
            id: event.id.to_string(),
            user_id: event.user_id.clone(),
            seq,
            event_type: event_type.as_str().to_owned(),
            task_id: event.task_id.map(|id| id.to_string()),
            payload: serde_json::to_string(&event).map_err(AppError::internal)?,
            created_at,
        };
        db::events::insert(conn, &row).await?;
        Ok(event)
    }

    /// After commit: hands the events to the dispatcher without waiting.
    pub fn committed(&self, events: Vec<DomainEvent>) {
        if events.is_empty() {
            return;
        }
        self.metrics.events_written.inc_by(events.len() as u64);
        if events.iter().any(|e| {
            matches!(
                e.event_type,
                EventType::ReminderScheduled | EventType::ReminderRescheduled
            )
        }) {
            self.reminder_wake.notify_one();
        }
        let batch: Batch = events.into_iter().map(Arc::new).collect();
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(batch) {
            // Dropped on purpose: the request must not wait. The sweep and
            // the sessions' gap filling read these from the log instead.
            self.metrics.channel_full.inc();
        }
    }
}
