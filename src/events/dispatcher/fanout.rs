//! The in-process fan-out: every committed event, at once, to whatever in
//! the process listens (the WebSocket hub), and word to the publisher, the
//! webhook deliverer and the Jobs caller.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::MissedTickBehavior;

use super::jobs::Job;
use super::recent::Recent;
use super::{Feed, Fresh};
use crate::events::DomainEvent;
use crate::events::bus::Batch;
use crate::metrics::Metrics;

/// How often the fan-out looks whether the bus dropped a batch that no later
/// batch has revealed.
const DROPPED_CHECK: Duration = Duration::from_millis(200);

/// The in-process fan-out point: every committed event of this instance, for
/// WebSocket sessions and anything else in the process that listens.
#[derive(Clone)]
pub struct FanOut {
    local: broadcast::Sender<Arc<DomainEvent>>,
    /// Some committed events never reached the fan-out (the bus's channel
    /// was full): listeners must read the log.
    missed: broadcast::Sender<()>,
}

impl FanOut {
    pub fn new(capacity: usize) -> Self {
        Self {
            local: broadcast::channel(capacity.max(16)).0,
            missed: broadcast::channel(1).0,
        }
    }

    /// Every event committed from now on (a lagging receiver learns that it
    /// missed some and reads them from the log).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.local.subscribe()
    }

    /// Word that events were committed that [`subscribe`](Self::subscribe)
    /// will never carry.
    pub fn subscribe_missed(&self) -> broadcast::Receiver<()> {
        self.missed.subscribe()
    }

    pub fn send(&self, event: Arc<DomainEvent>) {
        // No receivers is fine: nobody is listening right now.
        let _ = self.local.send(event);
    }
}

/// Who hears of committed batches.
pub(super) struct Listeners {
    pub receiver: mpsc::Receiver<Batch>,
    pub fanout: FanOut,
    /// Held for the publisher.
    pub recent: Arc<Recent>,
    /// The publisher's word of who has something new.
    pub publisher: Option<Arc<Fresh>>,
    /// The webhook deliverer's feed.
    pub webhooks: Option<Feed>,
    pub jobs: Option<mpsc::Sender<Job>>,
    pub metrics: Arc<Metrics>,
}

/// Takes committed batches off the channel until it closes.
///
/// A batch the bus dropped (its channel full) is revealed to sessions by the
/// gap before the next event they receive — but when the dropped ones were
/// the last for a while there is no next event. So whenever the channel is
/// empty and the bus has dropped something since the last look, listeners
/// are told to read the log.
pub(super) async fn run(mut listeners: Listeners) {
    let metrics = listeners.metrics.clone();
    let mut dropped = metrics.channel_full.get();
    let mut check = tokio::time::interval(DROPPED_CHECK);
    check.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let batch = tokio::select! {
            batch = listeners.receiver.recv() => match batch {
                Some(batch) => Some(batch),
                None => break,
            },
            _ = check.tick() => None,
        };
        if let Some(batch) = batch {
            listeners.deliver(batch);
        }
        let now_dropped = metrics.channel_full.get();
        if now_dropped != dropped && listeners.receiver.is_empty() {
            dropped = now_dropped;
            let _ = listeners.fanout.missed.send(());
        }
    }
}

impl Listeners {
    fn deliver(&self, batch: Batch) {
        if let Some(jobs) = &self.jobs {
            for job in batch.iter().filter_map(|e| Job::for_event(e)) {
                // A full queue is recovered by the scheduler's safety sweep.
                let _ = jobs.try_send(job);
            }
        }
        if let Some(feed) = &self.webhooks {
            feed.send(&batch);
        }
        if let Some(publisher) = &self.publisher {
            self.recent.keep(&batch);
            if let Ok(mut users) = publisher.users.lock() {
                users.extend(batch.iter().map(|e| e.user_id.clone()));
            }
        }
        for event in batch {
            self.fanout.send(event);
        }
        if let Some(publisher) = &self.publisher {
            publisher.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch dropped while nothing follows it: listeners still hear of it.
    #[actix_rt::test]
    async fn a_dropped_batch_with_nothing_after_it_is_still_announced() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let (sender, receiver) = mpsc::channel::<Batch>(1);
        let fanout = FanOut::new(16);
        let mut missed = fanout.subscribe_missed();
        actix_rt::spawn(run(Listeners {
            receiver,
            fanout: fanout.clone(),
            recent: Arc::default(),
            publisher: None,
            webhooks: None,
            jobs: None,
            metrics: metrics.clone(),
        }));

        // Nothing dropped: nothing announced.
        let quiet = tokio::time::timeout(DROPPED_CHECK * 3, missed.recv()).await;
        assert!(quiet.is_err(), "no word without a drop");

        // The bus drops a batch (as `EventBus::committed` does on a full
        // channel) and nothing is committed after it.
        metrics.channel_full.inc();
        let heard = tokio::time::timeout(DROPPED_CHECK * 5, missed.recv()).await;
        assert!(matches!(heard, Ok(Ok(()))), "{heard:?}");

        // Once only, until the next drop.
        let again = tokio::time::timeout(DROPPED_CHECK * 3, missed.recv()).await;
        assert!(again.is_err(), "announced once");
        drop(sender);
    }
}
