//! Reminder jobs in the Dapr Jobs API: scheduled when a reminder is
//! (re)scheduled, deleted when it is cancelled, in order. A failed call is
//! logged; the reminder still fires through the scheduler's safety sweep.

use std::sync::Arc;

use slog::{Logger, warn};
use tokio::sync::mpsc;

use crate::events::dapr::DaprClient;
use crate::events::{DomainEvent, EventType};
use crate::settings::Settings;

/// Reminder job calls queued for the Dapr Jobs API.
pub(super) const QUEUE: usize = 4096;

/// A call to make on the Dapr Jobs API after a reminder changed.
#[derive(Debug)]
pub(super) enum Job {
    Schedule {
        name: String,
        due: chrono::DateTime<chrono::Utc>,
        reminder_id: String,
    },
    Delete {
        name: String,
    },
}

impl Job {
    pub(super) fn for_event(event: &DomainEvent) -> Option<Self> {
        let reminder = event.reminder.as_ref()?;
        let name = format!("reminder-{}", reminder.id);
        match event.event_type {
            EventType::ReminderScheduled | EventType::ReminderRescheduled => Some(Self::Schedule {
                name,
                due: reminder.remind_at,
                reminder_id: reminder.id.to_string(),
            }),
            EventType::ReminderCancelled => Some(Self::Delete { name }),
            _ => None,
        }
    }
}

/// Makes the Jobs API calls, in order. A failed call is logged; the
/// reminder still fires through the scheduler's safety sweep.
pub(super) async fn run(mut pending: mpsc::Receiver<Job>, settings: Arc<Settings>, log: Logger) {
    let dapr = DaprClient::new(&settings);
    while let Some(job) = pending.recv().await {
        let result = match &job {
            Job::Schedule {
                name,
                due,
                reminder_id,
            } => {
                dapr.schedule_job(
                    name,
                    *due,
                    serde_json::json!({ "reminder_id": reminder_id }),
                )
                .await
            }
            Job::Delete { name } => dapr.delete_job(name).await,
        };
        if let Err(e) = result {
            warn!(log, "a Dapr Jobs call failed; the scheduler's sweep will fire the reminder";
                "job" => format!("{job:?}"), "error" => e.to_string());
        }
    }
}
