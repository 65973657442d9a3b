//! The in-process fan-out: every committed event, at once, to whatever in
//! the process listens (the WebSocket hub), and word to the publisher and
//! the Jobs caller.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use super::jobs::Job;
use super::publisher::Fresh;
use crate::events::DomainEvent;
use crate::events::bus::Batch;

/// The in-process fan-out point: every committed event of this instance, for
/// WebSocket sessions and anything else in the process that listens.
#[derive(Clone)]
pub struct FanOut {
    local: broadcast::Sender<Arc<DomainEvent>>,
}

impl FanOut {
    pub fn new(capacity: usize) -> Self {
        Self {
            local: broadcast::channel(capacity.max(16)).0,
        }
    }

    /// Every event committed from now on (a lagging receiver learns that it
    /// missed some and reads them from the log).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.local.subscribe()
    }

    pub fn send(&self, event: Arc<DomainEvent>) {
        // No receivers is fine: nobody is listening right now.
        let _ = self.local.send(event);
    }
}

/// Takes committed batches off the channel until it closes.
pub(super) async fn run(
    mut receiver: mpsc::Receiver<Batch>,
    fanout: FanOut,
    publisher: Option<Arc<Fresh>>,
    jobs: Option<mpsc::Sender<Job>>,
) {
    while let Some(batch) = receiver.recv().await {
        if let Some(jobs) = &jobs {
            for job in batch.iter().filter_map(|e| Job::for_event(e)) {
                // A full queue is recovered by the scheduler's safety sweep.
                let _ = jobs.try_send(job);
            }
        }
        if let Some(fresh) = &publisher
            && let Ok(mut users) = fresh.users.lock()
        {
            users.extend(batch.iter().map(|e| e.user_id.clone()));
        }
        for event in batch {
            fanout.send(event);
        }
        if let Some(fresh) = &publisher {
            fresh.wake.notify_one();
        }
    }
}
