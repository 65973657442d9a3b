//! The background dispatcher: what happens to committed events after the
//! request that made them has been answered. Four jobs, one module each, on
//! actix runtimes (awc is `!Send`): the service's main one, and the webhook
//! deliverer's own:
//!
//! * [`fanout`]: takes committed events off the channel and hands them to the
//!   in-process fan-out at once — WebSocket sessions get every change
//!   whatever Dapr or Kafka are doing — then tells the publisher which users
//!   have something new, hands the webhook deliverer the events themselves
//!   (a [`Feed`]), and tells the Jobs caller which reminders changed; the
//!   publisher and the deliverer each hold the events a while ([`recent`])
//!   so neither has to decode them from the log again;
//! * [`jobs`] (with `REMINDER_SCHEDULER=dapr-jobs`): schedules and deletes
//!   reminder jobs in the Dapr Jobs API;
//! * [`publisher`] (with `DAPR_ENABLED`): publishes the outbox through the
//!   sidecar, in bulk, each user's events in order, retrying with backoff,
//!   sweeping for anything the channel dropped or a crash left behind; each
//!   replica publishes the users of the lease shards it holds;
//! * [`webhooks`] (always): delivers each user's events to their webhook
//!   endpoints, each endpoint in order, from its cursor in the log, with
//!   lease shards of its own (`shards`, shared with the publisher); on a
//!   thread of its own, at background priority unless configured otherwise.

mod fanout;
mod jobs;
mod publisher;
mod recent;
mod shards;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use slog::Logger;
use tokio::sync::{mpsc, oneshot};

use super::bus::{Batch, EventBus};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::settings::Settings;
pub use fanout::FanOut;
pub use webhooks::Webhooks;

/// Users with newly committed events, from the fan-out to the publisher.
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

/// Batches waiting in a [`Feed`] at most; beyond, they are dropped and the
/// consumer told to look in the log.
const FEED_LIMIT: usize = 4096;

/// Committed batches, from the fan-out to a consumer on a thread of its own
/// (the webhook deliverer), handed over without a lock: the kernel may leave
/// that thread waiting at any moment (background priority), and a lock it
/// held would hold up the fan-out with it.
pub(super) fn feed() -> (Feed, FeedReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let missed = Arc::new(AtomicBool::new(false));
    (
        Feed {
            sender,
            queued: queued.clone(),
            missed: missed.clone(),
        },
        FeedReceiver {
            receiver,
            queued,
            missed,
        },
    )
}

pub(super) struct Feed {
    sender: mpsc::UnboundedSender<Batch>,
    queued: Arc<AtomicUsize>,
    missed: Arc<AtomicBool>,
}

impl Feed {
    /// Hands `batch` over, or (the consumer far behind) drops it and says so.
    pub(super) fn send(&self, batch: &Batch) {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= FEED_LIMIT {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            // The consumer, with all those batches to take first, learns
            // of it when it has taken them.
            self.missed.store(true, Ordering::Release);
            return;
        }
        let _ = self.sender.send(batch.clone());
    }
}

pub(super) struct FeedReceiver {
    receiver: mpsc::UnboundedReceiver<Batch>,
    queued: Arc<AtomicUsize>,
    missed: Arc<AtomicBool>,
}

impl FeedReceiver {
    /// The next batch; `None` once the fan-out is gone.
    pub(super) async fn recv(&mut self) -> Option<Batch> {
        let batch = self.receiver.recv().await?;
        self.counted(batch)
    }

    /// A batch already waiting, if any.
    pub(super) fn try_recv(&mut self) -> Option<Batch> {
        let batch = self.receiver.try_recv().ok()?;
        self.counted(batch)
    }

    fn counted(&self, batch: Batch) -> Option<Batch> {
        self.queued.fetch_sub(1, Ordering::AcqRel);
        Some(batch)
    }

    /// Whether batches were dropped since the last call.
    pub(super) fn missed(&self) -> bool {
        self.missed.swap(false, Ordering::AcqRel)
    }
}

/// Stops the dispatcher, letting the publisher and the webhook deliverer
/// flush first.
pub struct DispatcherHandle {
    stops: Vec<oneshot::Sender<()>>,
    /// Each resolves once its job has stopped.
    tasks: Vec<BoxFuture<'static, ()>>,
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
    let recent = Arc::new(recent::Recent::default());
    let (feed, fed) = feed();
    let (stop, stopped) = oneshot::channel();
    let started = webhooks::start(webhooks::Start {
        settings: settings.clone(),
        db: db.clone(),
        bus: bus.clone(),
        metrics: metrics.clone(),
        log: log.clone(),
        feed: fed,
        webhooks,
        stop: stopped,
    });
    let feed = match started {
        Ok(finished) => {
            handle.stops.push(stop);
            handle.tasks.push(Box::pin(async move {
                let _ = finished.await;
            }));
            Some(feed)
        }
        Err(e) => {
            slog::error!(log, "webhooks are not delivered: no thread for them"; "error" => e.to_string());
            None
        }
    };
    let publisher = settings.dapr_enabled.then(|| {
        let wanted = Arc::new(Fresh::default());
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
        let published = actix_rt::spawn(publisher.run(wanted.clone(), stopped));
        handle.tasks.push(Box::pin(async move {
            let _ = published.await;
        }));
        wanted
    });
    actix_rt::spawn(fanout::run(fanout::Listeners {
        receiver,
        fanout,
        recent,
        publisher,
        webhooks: feed,
        jobs,
        metrics,
    }));
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_feed_holds_its_limit_drops_the_rest_and_says_so() {
        let (feed, mut fed) = feed();
        for _ in 0..FEED_LIMIT + 3 {
            feed.send(&Batch::new());
        }
        let mut taken = 0;
        while fed.try_recv().is_some() {
            taken += 1;
        }
        assert_eq!(taken, FEED_LIMIT);
        assert!(fed.missed(), "the dropped ones are announced");
        assert!(!fed.missed(), "once");
        // Taken batches make room again.
        feed.send(&Batch::new());
        assert!(fed.recv().await.is_some());
        assert!(!fed.missed());
        drop(feed);
        assert!(fed.recv().await.is_none(), "ends with the fan-out");
    }
}
