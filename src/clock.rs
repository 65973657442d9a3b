//! The time use cases read: the system clock, or — in tests — a clock that
//! stands still until it is moved, so time-dependent behaviour (reminders
//! coming due, recurrence, retention) is tested without sleeping.

use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;

/// A source of "now", in stored form (naive UTC, microseconds).
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<NaiveDateTime>>>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock(system)"),
            Some(_) => write!(f, "Clock(manual, {})", self.now()),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock showing `at` until it is set or advanced.
    pub fn manual(at: NaiveDateTime) -> Self {
        Self(Some(Arc::new(Mutex::new(truncate(at)))))
    }

    /// The current time.
    pub fn now(&self) -> NaiveDateTime {
        match &self.0 {
            None => crate::db::now(),
            Some(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock by `by` (a system clock cannot be moved).
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(at) = &self.0 {
            let mut at = at.lock().unwrap_or_else(|e| e.into_inner());
            *at = truncate(*at + by);
        }
    }
}

fn truncate(at: NaiveDateTime) -> NaiveDateTime {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved() {
        let start = chrono::DateTime::from_timestamp(1_800_000_000, 123_456_789)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        let clock = Clock::manual(start);
        let shown = clock.now();
        assert_eq!(shown, clock.now());
        assert_eq!(
            shown.and_utc().timestamp_subsec_nanos(),
            123_456_000,
            "microseconds, as stored"
        );
        clock.advance(chrono::Duration::minutes(5));
        assert_eq!(clock.now() - shown, chrono::Duration::minutes(5));
        let system = Clock::system();
        let (a, b) = (system.now(), system.now());
        assert!(b >= a);
    }
}
