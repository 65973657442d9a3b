//! The background dispatcher: what happens to committed events after the
//! request that made them has been answered. Three jobs, one file each, on
//! the actix runtime (awc is `!Send`):
//!
//! * [`fanout`]: takes committed events off the channel and hands them to the
//!   in-process fan-out at once — WebSocket sessions get every change
//!   whatever Dapr or Kafka are doing — then tells the publisher which users
//!   have something new, and the Jobs caller which reminders changed;
//! * [`jobs`] (with `REMINDER_SCHEDULER=dapr-jobs`): schedules and deletes
//!   reminder jobs in the Dapr Jobs API;
//! * [`publisher`] (with `DAPR_ENABLED`): publishes the outbox through the
//!   sidecar, in bulk, each user's events in order, retrying with backoff,
//!   sweeping for anything the channel dropped or a crash left behind; each
//!   replica publishes the users of the lease shards it holds.

mod fanout;
mod jobs;
mod publisher;

use std::sync::Arc;
use std::time::Duration;

use slog::Logger;
use tokio::sync::{mpsc, oneshot};

use super::bus::{Batch, Topics};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::settings::Settings;
pub use fanout::FanOut;

/// Stops the dispatcher, letting the publisher flush first.
pub struct DispatcherHandle {
    stop: Option<oneshot::Sender<()>>,
    publisher: Option<actix_rt::task::JoinHandle<()>>,
}

impl DispatcherHandle {
    /// Asks the publisher for a last round (bounded by `deadline`) and waits.
    pub async fn shutdown(mut self, deadline: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.publisher.take() {
            let _ = tokio::time::timeout(deadline + Duration::from_secs(1), task).await;
        }
    }
}

/// Starts the dispatcher's tasks on the current (actix) runtime.
pub fn spawn(
    settings: Arc<Settings>,
    db: Db,
    topics: Topics,
    receiver: mpsc::Receiver<Batch>,
    fanout: FanOut,
    metrics: Arc<Metrics>,
    log: Logger,
) -> DispatcherHandle {
    let fresh = Arc::new(publisher::Fresh::default());
    let jobs = settings.dapr_jobs().then(|| {
        let (jobs, pending) = mpsc::channel(jobs::QUEUE);
        actix_rt::spawn(jobs::run(pending, settings.clone(), log.clone()));
        jobs
    });
    actix_rt::spawn(fanout::run(
        receiver,
        fanout,
        settings.dapr_enabled.then(|| fresh.clone()),
        jobs,
        metrics.clone(),
    ));
    if !settings.dapr_enabled {
        return DispatcherHandle {
            stop: None,
            publisher: None,
        };
    }
    let (stop, stopped) = oneshot::channel();
    let publisher = publisher::Publisher::new(settings, db, topics, metrics, log);
    let task = actix_rt::spawn(publisher.run(fresh, stopped));
    DispatcherHandle {
        stop: Some(stop),
        publisher: Some(task),
    }
}
