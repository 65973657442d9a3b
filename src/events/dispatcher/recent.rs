//! The events this instance committed a moment ago, as they were committed.
//!
//! The publisher and the webhook deliverer read the log to learn what to
//! send (it stays the source of truth: a dropped batch, a restart or
//! another replica's commits are all found there), then take each event
//! from here while it is still held instead of decoding its stored payload
//! again. Events never change once written, so the two are the same event;
//! what is no longer held (or never was) is decoded as before.
//!
//! Both go further where they know how far they are (the publisher a
//! user's watermark, the deliverer an endpoint's cursor): the events held
//! right after it are sent without reading the log at all
//! ([`Recent::after`]). A user's sequence numbers have no gaps, so an
//! unbroken run of held events after that point is what the log holds
//! there, as far as this instance has committed; what other replicas commit
//! is found in the log, as before.

use std::collections::{BTreeMap, HashMap, VecDeque, btree_map};
use std::sync::{Arc, Mutex};

use slog::Logger;
use uuid::Uuid;

use crate::db::events::EventRow;
use crate::events::DomainEvent;
use crate::events::log::{self, Stored};
use crate::metrics::Metrics;

/// Events held: a few seconds of commits at saturation, far more than the
/// publisher's and the deliverer's rounds lag behind.
const HELD: usize = 4_096;

#[derive(Default)]
pub(super) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each user's held events by sequence number.
    by_user: HashMap<String, BTreeMap<i64, Arc<DomainEvent>>>,
    /// Oldest first, to let go of.
    order: VecDeque<Arc<DomainEvent>>,
}

impl Recent {
    /// Holds a committed batch, letting go of the oldest beyond [`HELD`].
    pub(super) fn keep(&self, events: &[Arc<DomainEvent>]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        for event in events {
            let held = inner.by_user.entry(event.user_id.clone()).or_default();
            if let btree_map::Entry::Vacant(slot) = held.entry(event.seq) {
                slot.insert(event.clone());
                inner.order.push_back(event.clone());
            }
        }
        while inner.order.len() > HELD {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(held) = inner.by_user.get_mut(&old.user_id) {
                held.remove(&old.seq);
                if held.is_empty() {
                    inner.by_user.remove(&old.user_id);
                }
            }
        }
    }

    /// The user's events held right after `seq`, in order, up to the first
    /// one not held (at most `limit`).
    pub(super) fn after(&self, user_id: &str, seq: i64, limit: usize) -> Vec<Arc<DomainEvent>> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let Some(held) = inner.by_user.get(user_id) else {
            return Vec::new();
        };
        held.range(seq + 1..)
            .zip(seq + 1..)
            .take_while(|((held, _), expected)| *held == expected)
            .take(limit)
            .map(|((_, event), _)| event.clone())
            .collect()
    }

    /// The event of `row`: held, or decoded from its payload; `None` when
    /// it cannot be read (logged and counted, see [`log`]).
    pub(super) fn read(
        &self,
        row: &EventRow,
        metrics: &Metrics,
        log: &Logger,
    ) -> Option<Arc<DomainEvent>> {
        if let Some(event) = self.held(row) {
            return Some(event);
        }
        match log::decode(row, metrics, log) {
            Stored::Event(event) => Some(Arc::new(*event)),
            Stored::Unreadable { .. } => None,
        }
    }

    fn held(&self, row: &EventRow) -> Option<Arc<DomainEvent>> {
        let inner = self.inner.lock().ok()?;
        let event = inner.by_user.get(&row.user_id)?.get(&row.seq)?;
        (Uuid::parse_str(&row.id).ok()? == event.id).then(|| event.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventType, Trace};

    fn event(seq: i64) -> DomainEvent {
        DomainEvent {
            id: Uuid::now_v7(),
            user_id: "u".into(),
            seq,
            event_type: EventType::TaskDeleted,
            task_id: None,
            time: chrono::Utc::now(),
            task: None,
            changes: Default::default(),
            summary: format!("event {seq}"),
            trace: Trace::for_request("t", None),
            instance_id: "i".into(),
            schema_version: log::SCHEMA_VERSION,
            reminder: None,
            webhook: None,
        }
    }

    fn row(event: &DomainEvent, payload: String) -> EventRow {
        EventRow {
            id: event.id.to_string(),
            user_id: event.user_id.clone(),
            seq: event.seq,
            event_type: event.event_type.as_str().into(),
            task_id: None,
            payload,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn held_events_are_not_decoded_and_the_rest_are() {
        let metrics = Metrics::new().expect("metrics");
        let log = Logger::root(slog::Discard, slog::o!());
        let recent = Recent::default();
        let held = Arc::new(event(1));
        recent.keep(std::slice::from_ref(&held));

        // Held: the very event, whatever the payload says.
        let read = recent.read(&row(&held, "{not json".into()), &metrics, &log);
        assert!(read.is_some_and(|e| Arc::ptr_eq(&e, &held)));
        assert_eq!(metrics.events_unreadable.get(), 0);

        // Not held: decoded from the payload.
        let other = event(2);
        let payload = serde_json::to_string(&other).expect("json");
        let read = recent.read(&row(&other, payload), &metrics, &log);
        assert_eq!(read.as_deref(), Some(&other));

        // A row that is not the held event's (another sequence number) is
        // not answered from memory.
        let mut stale = row(&held, "{not json".into());
        stale.seq = 7;
        assert!(recent.read(&stale, &metrics, &log).is_none());
        assert_eq!(metrics.events_unreadable.get(), 1);
    }

    #[test]
    fn the_oldest_are_let_go_beyond_the_limit() {
        let recent = Recent::default();
        let events: Vec<Arc<DomainEvent>> = (1..=HELD as i64 + 10)
            .map(|seq| Arc::new(event(seq)))
            .collect();
        for batch in events.chunks(7) {
            recent.keep(batch);
        }
        {
            let inner = recent.inner.lock().expect("lock");
            assert_eq!(inner.order.len(), HELD);
            assert_eq!(inner.by_user["u"].len(), HELD);
            assert!(!inner.by_user["u"].contains_key(&events[9].seq));
            assert!(inner.by_user["u"].contains_key(&events[10].seq));
        }
        // What was let go of is no longer a run to publish from memory.
        assert!(recent.after("u", 5, 10).is_empty());
        assert_eq!(recent.after("u", 10, 3).len(), 3);
    }

    #[test]
    fn a_run_after_a_sequence_number_stops_at_the_first_gap() {
        let recent = Recent::default();
        let mut mine: Vec<Arc<DomainEvent>> = [1, 2, 3, 5].map(|seq| Arc::new(event(seq))).into();
        let mut theirs = event(4);
        theirs.user_id = "v".into();
        mine.push(Arc::new(theirs));
        // Batches may arrive out of order: held by sequence number.
        recent.keep(&mine[2..]);
        recent.keep(&mine[..2]);
        let seqs = |run: Vec<Arc<DomainEvent>>| run.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(recent.after("u", 0, 10)), [1, 2, 3]);
        assert_eq!(seqs(recent.after("u", 1, 10)), [2, 3]);
        assert_eq!(seqs(recent.after("u", 1, 1)), [2]);
        // Event 4 of "u" is not held: nothing after 3 goes from memory.
        assert!(recent.after("u", 3, 10).is_empty());
        assert_eq!(seqs(recent.after("u", 4, 10)), [5]);
        assert_eq!(seqs(recent.after("v", 3, 10)), [4]);
        assert!(recent.after("w", 0, 10).is_empty());
    }
}
