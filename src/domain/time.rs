//! Instants and calendar dates as the API accepts them: RFC 3339 date-times
//! (stored as UTC) or `YYYY-MM-DD` dates read in the user's time zone.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A point in time as stored: naive UTC with microsecond precision.
pub type Instant = NaiveDateTime;

/// Parses an RFC 3339 date-time into stored UTC.
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc).naive_utc().trunc_subsecs(6))
        .map_err(|_| {
            format!("must be an RFC 3339 date-time such as 2026-05-01T09:00:00Z, got {s:?}")
        })
}

/// Which end of a calendar day a bare date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// 00:00 local.
    Start,
    /// The last microsecond of the day, local (inclusive ends).
    End,
}

/// Parses an RFC 3339 date-time, or a `YYYY-MM-DD` date taken in `tz` at the
/// given edge of the day.
pub fn parse_instant_or_date(s: &str, tz: Tz, edge: DayEdge) -> Result<Instant, String> {
    let s = s.trim();
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(day_edge(date, tz, edge));
    }
    parse_instant(s)
        .map_err(|_| format!("must be an RFC 3339 date-time or a YYYY-MM-DD date, got {s:?}"))
}

/// The first (or last) instant of a local calendar day, in UTC.
pub fn day_edge(date: NaiveDate, tz: Tz, edge: DayEdge) -> Instant {
    match edge {
        DayEdge::Start => local_start_of_day(date, tz),
        DayEdge::End => {
            let next = date.succ_opt().unwrap_or(date);
            local_start_of_day(next, tz) - chrono::Duration::microseconds(1)
        }
    }
}

fn local_start_of_day(date: NaiveDate, tz: Tz) -> Instant {
    // Midnight may not exist (DST gaps at 00:00, e.g. America/Havana): take
    // the first instant of the day that does.
    let mut time = NaiveTime::MIN;
    for _ in 0..4 {
        match tz.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                return t.with_timezone(&Utc).naive_utc();
            }
            LocalResult::None => time += chrono::Duration::minutes(30),
        }
    }
    date.and_time(NaiveTime::MIN)
}

/// Stored UTC to the API's `DateTime<Utc>`.
pub fn to_utc(t: Instant) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_the_users_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let start = parse_instant_or_date("2026-07-01", tz, DayEdge::Start).unwrap();
        assert_eq!(start.to_string(), "2026-07-01 04:00:00");
        let end = parse_instant_or_date("2026-07-01", tz, DayEdge::End).unwrap();
        assert_eq!(end.to_string(), "2026-07-02 03:59:59.999999");
    }

    #[test]
    fn instants_are_normalised_to_utc() {
        let t = parse_instant("2026-03-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-01 08:00:00");
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("2026-03-01").is_err());
    }
}
