//! Consuming CloudEvents that Dapr delivers: validate, dedupe by id, hand
//! to the in-process fan-out.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use tokio::sync::broadcast;

use crate::db;
use crate::domain::task::TaskId;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::Trace;
use crate::state::AppState;

/// A CloudEvent delivered by Dapr from another instance or producer.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub event: Event,
}

impl Inbound {
    /// A string extension attribute, if present.
    pub fn extension(&self, name: &str) -> Option<String> {
        self.event.extension(name).map(ToString::to_string)
    }
}

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

/// Where inbound events go in the process (the hub listens).
#[derive(Clone)]
pub struct InboundFanOut {
    sender: broadcast::Sender<Arc<Inbound>>,
}

impl InboundFanOut {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity.max(16)).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Inbound>> {
        self.sender.subscribe()
    }

    fn send(&self, inbound: Inbound) {
        let _ = self.sender.send(Arc::new(inbound));
    }
}

/// Validates, dedupes and hands on one delivery.
pub async fn consume(state: &AppState, topic: &str, body: &[u8]) -> Outcome {
    let topics = state.events.topics();
    if ![&topics.task_events, &topics.reminders, &topics.task_updates]
        .iter()
        .any(|t| t.as_str() == topic)
    {
        return Outcome::Dropped(format!("not subscribed to topic {topic:?}"));
    }
    let event: Event = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(e) => return Outcome::Dropped(format!("not a CloudEvent: {e}")),
    };
    if event
        .extension("instanceid")
        .map(ToString::to_string)
        .as_deref()
        == Some(state.events.instance_id())
    {
        return Outcome::Own;
    }
    // A completion from another producer: make sure the recurring task has
    // its successor. Idempotent, so it runs before the delivery is recorded
    // as consumed: a failure here is retried, never lost.
    if topic == topics.task_events.as_str() && event.ty() == "task.completed" {
        let user = event
            .extension("userid")
            .map(ToString::to_string)
            .and_then(|u| UserId::parse(&u).ok());
        let task = event.subject().and_then(TaskId::parse);
        if let (Some(user), Some(task)) = (user, task) {
            let trace = Trace {
                traceid: event
                    .extension("traceid")
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                traceparent: event
                    .extension("traceparent")
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            };
            if let Err(e) =
                crate::service::tasks::ensure_successor_of(state, &trace, &user, task).await
            {
                return Outcome::Retry(e.chain());
            }
        }
    }
    let recorded = async {
        let mut pooled = state.db.get().await?;
        Ok::<_, AppError>(db::events::mark_processed(&mut pooled.conn(), event.id(), topic).await?)
    }
    .await;
    match recorded {
        Ok(true) => {
            state.inbound.send(Inbound {
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
