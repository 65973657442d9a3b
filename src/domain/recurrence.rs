//! When the next occurrence of a recurring task is due.
//!
//! Rules are RFC 5545 RRULEs (presets expand to one), evaluated by the
//! `rrule` crate in the user's time zone, so "weekly on Monday 10:00" stays
//! 10:00 local across DST changes. Semantics that follow RFC 5545 exactly:
//! a monthly rule on the 31st skips months without a 31st; a yearly rule on
//! February 29 occurs only in leap years.
//!
//! * `due` mode: the first instance strictly after both the current due
//!   date and the completion time (Todoist "every"): an overdue task's
//!   successor skips the instances already past, keeping the rule's rhythm
//!   and time of day; without a due date, after the completion time.
//! * `completion` mode: the rule restarts at the completion time (Todoist
//!   "every!"): the first instance strictly after it, at the original due
//!   date's local time of day where the task had one.
//!
//! `COUNT` limits the series (the task's occurrence number is counted, the
//! rule re-anchored at each occurrence), and so do `UNTIL` and the task's
//! `recurrence_end_date`.

use chrono::{DateTime, LocalResult, NaiveDateTime, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, Unvalidated};

use super::task::{Recurrence, RecurrenceMode};

/// How many candidate instances to look at before giving up (a rule whose
/// BY-parts never match, e.g. February 30).
const SEARCH_LIMIT: usize = 1_000;

/// Where a task stands in its series.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence {
    pub due_at: Option<NaiveDateTime>,
    /// 1 for the first task of the series, 2 for its successor, …
    pub number: i32,
}

/// The due date (stored UTC) of the occurrence after `current`, completed at
/// `completed_at`; `None` when the series has ended.
pub fn next_due(
    rule: &Recurrence,
    mode: RecurrenceMode,
    current: Occurrence,
    completed_at: NaiveDateTime,
    end: Option<NaiveDateTime>,
    tz: Tz,
) -> Option<NaiveDateTime> {
    let parsed: RRule<Unvalidated> = rule.rrule().parse().ok()?;
    if let Some(count) = parsed.get_count()
        && i64::from(current.number) >= i64::from(count)
    {
        return None;
    }
    let zone = rrule::Tz::Tz(tz);
    let (anchor, after) = match (mode, current.due_at) {
        // Instances already past at completion are skipped: the successor
        // of an overdue task is not born overdue.
        (RecurrenceMode::Due, Some(due)) => (due, due.max(completed_at)),
        (RecurrenceMode::Due, None) => (completed_at, completed_at),
        (RecurrenceMode::Completion, due) => {
            let time_of_day = due.map_or_else(
                || tz.from_utc_datetime(&completed_at).time(),
                |d| tz.from_utc_datetime(&d).time(),
            );
            let local_day = tz.from_utc_datetime(&completed_at).date_naive();
            (local_utc(local_day.and_time(time_of_day), tz), completed_at)
        }
    };
    // COUNT is enforced by the occurrence number above; the rule itself is
    // re-anchored at each occurrence, where its own COUNT would restart.
    let without_count = strip_count(rule.rrule());
    let anchored: RRule<Unvalidated> = without_count.parse().ok()?;
    // The rrule crate counts whole seconds: carry the anchor's fraction over.
    let fraction = anchor - anchor.trunc_subsecs(0);
    let dtstart = zone.from_utc_datetime(&anchor.trunc_subsecs(0));
    let set = anchored.build(dtstart).ok()?;
    let after = zone.from_utc_datetime(&after);
    let next = set
        .into_iter()
        .take(SEARCH_LIMIT)
        .find(|instance| *instance > after)?
        .with_timezone(&Utc)
        .naive_utc()
        + fraction;
    match end {
        Some(end) if next > end => None,
        _ => Some(next),
    }
}

/// The rule without its `COUNT` part.
fn strip_count(rule: &str) -> String {
    rule.split(';')
        .filter(|part| !part.to_ascii_uppercase().starts_with("COUNT="))
        .collect::<Vec<_>>()
        .join(";")
}

/// A local wall-clock time in `tz` as stored UTC (the later instant when it
/// is ambiguous, the next existing one when it falls into a DST gap).
fn local_utc(local: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    let mut t = local;
    for _ in 0..4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(_, dt) => {
                return dt.with_timezone(&Utc).naive_utc();
            }
            LocalResult::None => t += chrono::Duration::minutes(30),
        }
    }
    DateTime::<Utc>::from_naive_utc_and_offset(local, Utc).naive_utc()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
            .naive_utc()
    }

    fn next(
        rule: &str,
        mode: RecurrenceMode,
        due: Option<&str>,
        number: i32,
        completed: &str,
        end: Option<&str>,
        tz: &str,
    ) -> Option<String> {
        let rule = Recurrence::parse(rule).unwrap();
        let current = Occurrence {
            due_at: due.map(utc),
            number,
        };
        next_due(
            &rule,
            mode,
            current,
            utc(completed),
            end.map(utc),
            tz.parse().unwrap(),
        )
        .map(|t| {
            DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    }

    use RecurrenceMode::{Completion, Due};

    #[rstest]
    // Presets, due mode: the next instance after the current due date.
    #[case::daily(
        "daily",
        Due,
        Some("2026-03-02T08:00:00Z"),
        "2026-03-02T07:00:00Z",
        "UTC",
        Some("2026-03-03T08:00:00Z")
    )]
    #[case::weekly(
        "weekly",
        Due,
        Some("2026-03-02T10:00:00Z"),
        "2026-03-02T11:00:00Z",
        "UTC",
        Some("2026-03-09T10:00:00Z")
    )]
    #[case::monthly(
        "monthly",
        Due,
        Some("2026-01-15T09:00:00Z"),
        "2026-01-15T09:00:00Z",
        "UTC",
        Some("2026-02-15T09:00:00Z")
    )]
    #[case::yearly(
        "yearly",
        Due,
        Some("2026-06-01T09:00:00Z"),
        "2026-06-01T09:00:00Z",
        "UTC",
        Some("2027-06-01T09:00:00Z")
    )]
    // Weekdays: Friday → Monday.
    #[case::weekdays(
        "weekdays",
        Due,
        Some("2026-03-06T09:00:00Z"),
        "2026-03-06T10:00:00Z",
        "UTC",
        Some("2026-03-09T09:00:00Z")
    )]
    // INTERVAL and BYDAY lists.
    #[case::every_other_day(
        "FREQ=DAILY;INTERVAL=2",
        Due,
        Some("2026-03-02T08:00:00Z"),
        "2026-03-02T09:00:00Z",
        "UTC",
        Some("2026-03-04T08:00:00Z")
    )]
    #[case::mon_wed_from_monday(
        "FREQ=WEEKLY;BYDAY=MO,WE",
        Due,
        Some("2026-03-02T10:00:00Z"),
        "2026-03-02T11:00:00Z",
        "UTC",
        Some("2026-03-04T10:00:00Z")
    )]
    #[case::mon_wed_from_wednesday(
        "FREQ=WEEKLY;BYDAY=MO,WE",
        Due,
        Some("2026-03-04T10:00:00Z"),
        "2026-03-04T11:00:00Z",
        "UTC",
        Some("2026-03-09T10:00:00Z")
    )]
    #[case::biweekly_friday(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
        Due,
        Some("2026-03-06T17:00:00Z"),
        "2026-03-06T18:00:00Z",
        "UTC",
        Some("2026-03-20T17:00:00Z")
    )]
    // Monthly on the 31st skips months without one (RFC 5545).
    #[case::monthly_31st(
        "FREQ=MONTHLY;BYMONTHDAY=31",
        Due,
        Some("2026-01-31T09:00:00Z"),
        "2026-01-31T10:00:00Z",
        "UTC",
        Some("2026-03-31T09:00:00Z")
    )]
    // Yearly on February 29: leap years only.
    #[case::leap_day(
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        Due,
        Some("2028-02-29T09:00:00Z"),
        "2028-02-29T10:00:00Z",
        "UTC",
        Some("2032-02-29T09:00:00Z")
    )]
    // DST: Monday 10:00 New York stays 10:00 local (14:00Z in EDT → 15:00Z in EST).
    #[case::dst_new_york(
        "FREQ=WEEKLY;BYDAY=MO",
        Due,
        Some("2026-10-26T14:00:00Z"),
        "2026-10-26T15:00:00Z",
        "America/New_York",
        Some("2026-11-02T15:00:00Z")
    )]
    #[case::dst_new_york_spring(
        "FREQ=WEEKLY;BYDAY=MO",
        Due,
        Some("2026-03-02T15:00:00Z"),
        "2026-03-02T16:00:00Z",
        "America/New_York",
        Some("2026-03-09T14:00:00Z")
    )]
    // Berlin: daily 09:00 local across the March change (08:00Z → 07:00Z).
    #[case::dst_berlin(
        "daily",
        Due,
        Some("2026-03-28T08:00:00Z"),
        "2026-03-28T09:00:00Z",
        "Europe/Berlin",
        Some("2026-03-29T07:00:00Z")
    )]
    // Completion mode: "daily", due 08:00, completed Tuesday 15:00 → Wednesday 08:00.
    #[case::completion_daily(
        "daily",
        Completion,
        Some("2026-03-02T08:00:00Z"),
        "2026-03-03T15:00:00Z",
        "UTC",
        Some("2026-03-04T08:00:00Z")
    )]
    // Completed before the time of day: the same day still counts.
    #[case::completion_same_day(
        "daily",
        Completion,
        Some("2026-03-01T20:00:00Z"),
        "2026-03-03T07:00:00Z",
        "UTC",
        Some("2026-03-03T20:00:00Z")
    )]
    #[case::completion_weekly(
        "weekly",
        Completion,
        Some("2026-03-02T09:00:00Z"),
        "2026-03-12T18:00:00Z",
        "UTC",
        Some("2026-03-19T09:00:00Z")
    )]
    // Late completion in due mode skips the instances already past: the
    // successor keeps the rule's time of day and is never born overdue.
    #[case::due_mode_late(
        "daily",
        Due,
        Some("2026-03-02T08:00:00Z"),
        "2026-03-10T15:00:00Z",
        "UTC",
        Some("2026-03-11T08:00:00Z")
    )]
    // Due yesterday 08:00, completed today 15:23: tomorrow 08:00, not today.
    #[case::due_mode_overdue_by_a_day(
        "daily",
        Due,
        Some("2026-03-09T08:00:00Z"),
        "2026-03-10T15:23:00Z",
        "UTC",
        Some("2026-03-11T08:00:00Z")
    )]
    // Completed before today's instance: today's is still ahead.
    #[case::due_mode_overdue_before_todays_instance(
        "daily",
        Due,
        Some("2026-03-09T08:00:00Z"),
        "2026-03-10T07:59:00Z",
        "UTC",
        Some("2026-03-10T08:00:00Z")
    )]
    // Completed at an instance's very time: strictly after, the next one.
    #[case::due_mode_completed_on_the_instance(
        "daily",
        Due,
        Some("2026-03-09T08:00:00Z"),
        "2026-03-10T08:00:00Z",
        "UTC",
        Some("2026-03-11T08:00:00Z")
    )]
    // Weekly on Monday, three weeks late on a Thursday: next Monday, in the
    // user's zone across the DST change (09:00 EST, then 09:00 EDT).
    #[case::due_mode_weeks_late_across_dst(
        "FREQ=WEEKLY;BYDAY=MO",
        Due,
        Some("2026-02-16T14:00:00Z"),
        "2026-03-12T18:00:00Z",
        "America/New_York",
        Some("2026-03-16T13:00:00Z")
    )]
    // Completion mode is unchanged: counted from the completion time.
    #[case::completion_mode_late(
        "daily",
        Completion,
        Some("2026-03-09T08:00:00Z"),
        "2026-03-10T15:23:00Z",
        "UTC",
        Some("2026-03-11T08:00:00Z")
    )]
    // No due date: counts from the completion time.
    #[case::no_due_date(
        "daily",
        Due,
        None,
        "2026-03-03T15:30:00Z",
        "UTC",
        Some("2026-03-04T15:30:00Z")
    )]
    fn next_occurrences(
        #[case] rule: &str,
        #[case] mode: RecurrenceMode,
        #[case] due: Option<&str>,
        #[case] completed: &str,
        #[case] tz: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(
            next(rule, mode, due, 1, completed, None, tz).as_deref(),
            expected
        );
    }

    #[test]
    fn series_end_with_count_until_and_end_date() {
        // COUNT=3: occurrences 1 and 2 have a successor, 3 does not.
        assert!(
            next(
                "FREQ=DAILY;COUNT=3",
                Due,
                Some("2026-03-02T08:00:00Z"),
                2,
                "2026-03-03T08:00:00Z",
                None,
                "UTC"
            )
            .is_some()
        );
        assert_eq!(
            next(
                "FREQ=DAILY;COUNT=3",
                Due,
                Some("2026-03-04T08:00:00Z"),
                3,
                "2026-03-04T09:00:00Z",
                None,
                "UTC"
            ),
            None
        );
        // UNTIL in the rule.
        assert_eq!(
            next(
                "FREQ=DAILY;UNTIL=20260303T235959Z",
                Due,
                Some("2026-03-03T08:00:00Z"),
                2,
                "2026-03-03T09:00:00Z",
                None,
                "UTC"
            ),
            None
        );
        // The task's end date.
        assert_eq!(
            next(
                "daily",
                Due,
                Some("2026-03-03T08:00:00Z"),
                1,
                "2026-03-03T09:00:00Z",
                Some("2026-03-03T23:59:59Z"),
                "UTC"
            ),
            None
        );
        assert!(
            next(
                "daily",
                Due,
                Some("2026-03-03T08:00:00Z"),
                1,
                "2026-03-03T09:00:00Z",
                Some("2026-03-04T23:59:59Z"),
                "UTC"
            )
            .is_some()
        );
    }
}
