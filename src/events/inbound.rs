//! CloudEvents Dapr delivered from other replicas, as they reach the
//! in-process fan-out (the WebSocket hub listens). Consuming them is a use
//! case: `service::deliveries`.

use std::sync::Arc;

use cloudevents::Event;
use tokio::sync::broadcast;

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

    pub(crate) fn send(&self, inbound: Inbound) {
        let _ = self.sender.send(Arc::new(inbound));
    }
}
