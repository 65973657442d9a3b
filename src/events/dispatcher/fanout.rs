//! The in-process fan-out: every committed event, at once, to whatever in
//! the process listens (the WebSocket hub), and word to the publisher and
//! the Jobs caller.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::MissedTickBehavior;

use super::Fresh;
use super::jobs::Job;
use super::recent::Recent;
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

/// Takes committed batches off the channel until it closes.
///
/// A batch the bus dropped (its channel full) is revealed to sessions by the
/// gap before the next event they receive — but when the dropped ones were
/// the last for a while there is no next event. So whenever the channel is
/// empty and the bus has dropped something since the last look, listeners
/// are told to read the log.
pub(super) async fn run(
    mut receiver: mpsc::Receiver<Batch>,
    fanout: FanOut,
    recent: Arc<Recent>,
    fresh: Vec<Arc<Fresh>>,
    jobs: Option<mpsc::Sender<Job>>,
    metrics: Arc<Metrics>,
) {
    let mut dropped = metrics.channel_full.get();
    let mut check = tokio::time::interval(DROPPED_CHECK);
    check.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let batch = tokio::select! {
            batch = receiver.recv() => match batch {
                Some(batch) => Some(batch),
                None => break,
            },
            _ = check.tick() => None,
        };
        if let Some(batch) = batch {
            deliver(batch, &fanout, &recent, &fresh, jobs.as_ref());
        }
        let now_dropped = metrics.channel_full.get();
        if now_dropped != dropped && receiver.is_empty() {
            dropped = now_dropped;
            let _ = fanout.missed.send(());
        }
    }
}

fn deliver(
    batch: Batch,
    fanout: &FanOut,
    recent: &Recent,
    fresh: &[Arc<Fresh>],
    jobs: Option<&mpsc::Sender<Job>>,
) {
    if let Some(jobs) = jobs {
        for job in batch.iter().filter_map(|e| Job::for_event(e)) {
            // A full queue is recovered by the scheduler's safety sweep.
            let _ = jobs.try_send(job);
        }
    }
    if !fresh.is_empty() {
        recent.keep(&batch);
    }
    for listener in fresh {
        if let Ok(mut users) = listener.users.lock() {
            users.extend(batch.iter().map(|e| e.user_id.clone()));
        }
    }
    for event in batch {
        fanout.send(event);
    }
    for listener in fresh {
        listener.wake.notify_one();
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
        actix_rt::spawn(run(
            receiver,
            fanout.clone(),
            Arc::default(),
            Vec::new(),
            None,
            metrics.clone(),
        ));

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
