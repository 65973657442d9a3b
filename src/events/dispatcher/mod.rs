//! The background dispatcher: what happens to committed events after the
//! request that made them has been answered. Four jobs, one module each, on
//! the actix runtime (awc is `!Send`):
//!
//! * [`fanout`]: takes committed events off the channel and hands them to the
//!   in-process fan-out at once — WebSocket sessions get every change
//!   whatever Dapr or Kafka are doing — then tells the publisher and the
//!   webhook deliverer which users have something new, and the Jobs caller
//!   which reminders changed; the events themselves are held a while
//!   ([`recent`]) so neither has to decode them from the log again;
//! * [`jobs`] (with `REMINDER_SCHEDULER=dapr-jobs`): schedules and deletes
//!   reminder jobs in the Dapr Jobs API;
//! * [`publisher`] (with `DAPR_ENABLED`): publishes the outbox through the
//!   sidecar, in bulk, each user's events in order, retrying with backoff,
//!   sweeping for anything the channel dropped or a crash left behind; each
//!   replica publishes the users of the lease shards it holds;
//! * [`webhooks`] (always): delivers each user's events to their webhook
//!   endpoints, each endpoint in order, from its cursor in the log, with
//!   lease shards of its own (`shards`, shared with the publisher).

mod fanout;
mod jobs;
mod publisher;
mod recent;
mod shards;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use slog::Logger;
use tokio::sync::{mpsc, oneshot};

use super::bus::{Batch, EventBus};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::settings::Settings;
pub use fanout::FanOut;
pub use webhooks::Webhooks;

/// Users with newly committed events, from the fan-out to the publisher and
/// the webhook deliverer.
#[derive(Default)]
pub(super) struct Fresh {
    pub(super) users: std::sync::Mutex<std::collections::HashSet<String>>,
    pub(super) wake: tokio::sync::Notify,
}

impl Fresh {
    pub(super) fn take(&self) -> std::collections::HashSet<String> {
        self.users
            .lock()
            .map(|mut u| std::mem::take(&mut *u))
            .unwrap_or_default()
    }
}

/// Stops the dispatcher, letting the publisher and the webhook deliverer
/// flush first.
pub struct DispatcherHandle {
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<actix_rt::task::JoinHandle<()>>,
}

impl DispatcherHandle {
    /// Asks the publisher for a last round and the webhook deliverer to
    /// record what it did (bounded by `deadline`), and waits.
    pub async fn shutdown(mut self, deadline: Duration) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        let all = futures_util::future::join_all(self.tasks.drain(..));
        let _ = tokio::time::timeout(deadline + Duration::from_secs(1), all).await;
    }
}

/// What the dispatcher serves.
pub struct Parts {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub bus: EventBus,
    pub receiver: mpsc::Receiver<Batch>,
    pub fanout: FanOut,
    pub webhooks: Webhooks,
    pub metrics: Arc<Metrics>,
    pub log: Logger,
}

/// Starts the dispatcher's tasks on the current (actix) runtime.
pub fn spawn(parts: Parts) -> DispatcherHandle {
    let Parts {
        settings,
        db,
        bus,
        receiver,
        fanout,
        webhooks,
        metrics,
        log,
    } = parts;
    let mut handle = DispatcherHandle {
        stops: Vec::new(),
        tasks: Vec::new(),
    };
    let jobs = settings.dapr_jobs().then(|| {
        let (jobs, pending) = mpsc::channel(jobs::QUEUE);
        actix_rt::spawn(jobs::run(pending, settings.clone(), log.clone()));
        jobs
    });
    let mut fresh = Vec::new();
    let recent = Arc::new(recent::Recent::default());
    match webhooks::Deliverer::new(
        settings.clone(),
        db.clone(),
        bus.clone(),
        recent.clone(),
        metrics.clone(),
        log.clone(),
    ) {
        Ok((deliverer, reports)) => {
            let wanted = Arc::new(Fresh::default());
            fresh.push(wanted.clone());
            let (stop, stopped) = oneshot::channel();
            handle.stops.push(stop);
            handle.tasks.push(actix_rt::spawn(
                deliverer.run(wanted, webhooks, reports, stopped),
            ));
        }
        Err(e) => slog::error!(log, "webhooks are not delivered"; "error" => e),
    }
    if settings.dapr_enabled {
        let wanted = Arc::new(Fresh::default());
        fresh.push(wanted.clone());
        let (stop, stopped) = oneshot::channel();
        let publisher = publisher::Publisher::new(
            settings,
            db,
            bus.topics().clone(),
            recent.clone(),
            metrics.clone(),
            log,
        );
        handle.stops.push(stop);
        handle
            .tasks
            .push(actix_rt::spawn(publisher.run(wanted, stopped)));
    }
    actix_rt::spawn(fanout::run(receiver, fanout, recent, fresh, jobs, metrics));
    handle
}
