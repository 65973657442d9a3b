//! The attempts an endpoint's deliveries list shows, on their way to the
//! database.
//!
//! The list keeps an endpoint's newest [`ATTEMPTS_KEPT`] attempts. A quiet
//! endpoint's attempts are written with the next record, as they happen. A
//! busy one's would mostly be written only to be pruned a moment later:
//! once an endpoint has had [`BUDGET`] attempts written in a [`WINDOW`],
//! its successful attempts are held (the newest [`ATTEMPTS_KEPT`] of them)
//! and written when the window ends. So an endpoint costs the database at
//! most `BUDGET + ATTEMPTS_KEPT` rows a window, whatever its rate, and its
//! list is at most a window behind. A failure is never held: it goes with
//! the next record, and what was held for its endpoint with it.
//!
//! Deliveries do not depend on this: the cursor says what was delivered.
//! What is held when the process dies is missing from the list, not from
//! the receiver.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::db::webhooks::{ATTEMPTS_KEPT, AttemptRow};

/// Attempts an endpoint may have written as they happen, per window.
const BUDGET: usize = 20;
/// How far behind a busy endpoint's list may be.
const WINDOW: Duration = Duration::from_secs(10);

/// Each endpoint's window and held attempts.
#[derive(Default)]
pub(super) struct Attempts {
    windows: HashMap<String, Window>,
}

struct Window {
    started: Instant,
    /// Attempts written since it started.
    written: usize,
    /// Not yet written, oldest first.
    held: VecDeque<AttemptRow>,
    /// A failure is among them: write at once.
    urgent: bool,
}

impl Attempts {
    /// Takes an endpoint's attempts in; `failed`: the last one failed.
    pub(super) fn add(
        &mut self,
        endpoint_id: &str,
        rows: Vec<AttemptRow>,
        failed: bool,
        now: Instant,
    ) {
        if rows.is_empty() {
            return;
        }
        let window = self
            .windows
            .entry(endpoint_id.to_owned())
            .or_insert_with(|| Window::new(now));
        window.urgent |= failed;
        window.held.extend(rows);
        // Older ones would be pruned as soon as written.
        let kept = usize::try_from(ATTEMPTS_KEPT).unwrap_or(usize::MAX);
        let excess = window.held.len().saturating_sub(kept);
        window.held.drain(..excess);
    }

    /// The attempts to write now (`all`: everything held, as when the
    /// deliverer stops).
    pub(super) fn take_due(&mut self, now: Instant, all: bool) -> Vec<AttemptRow> {
        let mut due = Vec::new();
        self.windows.retain(|_, window| {
            if all || window.due(now) {
                if now.duration_since(window.started) >= WINDOW {
                    window.started = now;
                    window.written = 0;
                }
                window.written += window.held.len();
                window.urgent = false;
                due.extend(window.held.drain(..));
            }
            // A window with nothing held and its time up is as good as none.
            !window.held.is_empty() || now.duration_since(window.started) < WINDOW
        });
        due
    }

    /// Attempts whose write failed: written with the next record.
    pub(super) fn put_back(&mut self, rows: Vec<AttemptRow>, now: Instant) {
        let mut by_endpoint: HashMap<String, Vec<AttemptRow>> = HashMap::new();
        for row in rows {
            by_endpoint
                .entry(row.endpoint_id.clone())
                .or_default()
                .push(row);
        }
        for (endpoint_id, mut rows) in by_endpoint {
            let window = self
                .windows
                .entry(endpoint_id)
                .or_insert_with(|| Window::new(now));
            window.written = window.written.saturating_sub(rows.len());
            window.urgent = true;
            rows.extend(window.held.drain(..));
            window.held = rows.into();
        }
    }
}

impl Window {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            written: 0,
            held: VecDeque::new(),
            urgent: false,
        }
    }

    fn due(&self, now: Instant) -> bool {
        !self.held.is_empty()
            && (self.urgent
                || self.written + self.held.len() <= BUDGET
                || now.duration_since(self.started) >= WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(endpoint: &str, seq: i64) -> AttemptRow {
        AttemptRow {
            id: uuid::Uuid::now_v7().to_string(),
            endpoint_id: endpoint.into(),
            event_id: uuid::Uuid::now_v7().to_string(),
            seq,
            event_type: "task.created".into(),
            attempt: 1,
            status: Some(204),
            latency_ms: 1.0,
            error: None,
            next_retry_at: None,
            created_at: chrono::NaiveDateTime::default(),
            kind: "scheduled".into(),
        }
    }

    fn seqs(rows: &[AttemptRow]) -> Vec<i64> {
        rows.iter().map(|r| r.seq).collect()
    }

    fn run(endpoint: &str, seqs: std::ops::RangeInclusive<i64>) -> Vec<AttemptRow> {
        seqs.map(|seq| attempt(endpoint, seq)).collect()
    }

    #[test]
    fn a_quiet_endpoints_attempts_are_written_as_they_happen() {
        let mut attempts = Attempts::default();
        let t = Instant::now();
        attempts.add("a", run("a", 1..=3), false, t);
        assert_eq!(seqs(&attempts.take_due(t, false)), [1, 2, 3]);
        assert!(attempts.take_due(t, false).is_empty());
        // Up to the budget, each record takes what came.
        attempts.add("a", run("a", 4..=20), false, t);
        assert_eq!(attempts.take_due(t, false).len(), 17);
        // Long after, a quiet endpoint starts afresh.
        let later = t + WINDOW * 3;
        attempts.add("a", run("a", 21..=21), false, later);
        assert_eq!(seqs(&attempts.take_due(later, false)), [21]);
    }

    #[test]
    fn a_busy_endpoint_writes_its_newest_attempts_once_a_window() {
        let mut attempts = Attempts::default();
        let t = Instant::now();
        attempts.add("busy", run("busy", 1..=20), false, t);
        assert_eq!(attempts.take_due(t, false).len(), 20);
        // Past the budget: held, even over many records.
        let mut seq = 20;
        for step in 1..=40 {
            let at = t + WINDOW * step / 50;
            attempts.add("busy", run("busy", seq + 1..=seq + 10), false, at);
            seq += 10;
            assert!(
                attempts.take_due(at, false).is_empty(),
                "held at step {step}"
            );
        }
        // The window ends: the newest that the list keeps, in order.
        let end = t + WINDOW;
        let written = attempts.take_due(end, false);
        assert_eq!(written.len(), usize::try_from(ATTEMPTS_KEPT).unwrap());
        assert_eq!(
            written.first().map(|r| r.seq),
            Some(seq - ATTEMPTS_KEPT + 1)
        );
        assert_eq!(written.last().map(|r| r.seq), Some(seq));
        // The next window begins there, its budget spent by that write.
        attempts.add("busy", run("busy", seq + 1..=seq + 1), false, end);
        assert!(attempts.take_due(end + WINDOW / 2, false).is_empty());
        assert_eq!(attempts.take_due(end + WINDOW, false).len(), 1);
    }

    #[test]
    fn a_failure_goes_at_once_with_what_was_held_and_others_wait() {
        let mut attempts = Attempts::default();
        let t = Instant::now();
        attempts.add("a", run("a", 1..=30), false, t);
        attempts.add("b", run("b", 1..=30), false, t);
        // Each over its budget: held.
        assert!(attempts.take_due(t, false).is_empty());
        let mut failed = run("a", 31..=31);
        failed[0].status = Some(500);
        attempts.add("a", failed, true, t);
        let written = attempts.take_due(t, false);
        assert!(written.iter().all(|r| r.endpoint_id == "a"));
        assert_eq!(seqs(&written), (1..=31).collect::<Vec<_>>());
        // `b` is still held; stopping writes it.
        assert!(attempts.take_due(t, false).is_empty());
        let rest = attempts.take_due(t, true);
        assert_eq!(rest.len(), 30);
        assert!(rest.iter().all(|r| r.endpoint_id == "b"));
    }

    #[test]
    fn attempts_whose_write_failed_go_with_the_next_record_before_newer_ones() {
        let mut attempts = Attempts::default();
        let t = Instant::now();
        attempts.add("a", run("a", 1..=30), false, t);
        assert!(attempts.take_due(t, false).is_empty());
        let first = attempts.take_due(t, true);
        attempts.add("a", run("a", 31..=32), false, t);
        attempts.put_back(first, t);
        assert_eq!(
            seqs(&attempts.take_due(t, false)),
            (1..=32).collect::<Vec<_>>()
        );
    }
}
