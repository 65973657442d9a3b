//! Instants and calendar dates as the API accepts them: RFC 3339 date-times
//! (stored as UTC) or `YYYY-MM-DD` dates read in the user's time zone.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A point in time as stored: naive UTC with microsecond precision.
pub type Instant = NaiveDateTime;

/// The years a date or date-time may be written with: far enough to plan
/// anything, near enough that every instant, in any offset, is a valid RFC
/// 3339 time in UTC on both databases.
pub const YEARS: std::ops::RangeInclusive<i32> = 1000..=9998;

/// The same, as a pattern on the start of a written date or date-time.
pub const YEARS_PATTERN: &str = "^([1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-";

fn year_in_range(s: &str) -> bool {
    s.get(..4)
        .and_then(|y| y.parse::<i32>().ok())
        .is_some_and(|y| YEARS.contains(&y))
}

/// Parses an RFC 3339 date-time (`date-time` in JSON Schema: `T` between
/// date and time, an offset or `Z`), written with a year in [`YEARS`], into
/// stored UTC.
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    let refused =
        || format!("must be an RFC 3339 date-time such as 2026-05-01T09:00:00Z, got {s:?}");
    // chrono also takes a space for the `T`; RFC 3339 (and JSON Schema) do not.
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(refused());
    }
    if !year_in_range(s) {
        return Err(format!(
            "must be in the years {} to {}",
            YEARS.start(),
            YEARS.end()
        ));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc).naive_utc().trunc_subsecs(6))
        .map_err(|_| refused())
}

/// Parses a `YYYY-MM-DD` calendar date (`date` in JSON Schema) in
/// [`YEARS`].
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    (shape && year_in_range(s))
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
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
    if let Some(date) = parse_date(s) {
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
        assert!(
            parse_instant("2026-03-01 10:00:00Z").is_err(),
            "a space for the T"
        );
        assert!(parse_instant(" 2026-03-01T10:00:00Z").is_err());
        assert!(parse_date("2026-3-1").is_none());
        assert!(parse_date("9999-12-31").is_none());
        assert!(parse_instant("9999-12-31T23:00:00-05:00").is_err());
        assert!(parse_instant("0001-01-01T00:00:00Z").is_err());
        assert!(parse_instant("9998-12-31T23:59:59-23:59").is_ok());
        assert!(parse_date("2026-02-30").is_none());
        assert_eq!(
            parse_date("2026-02-28").map(|d| d.to_string()).as_deref(),
            Some("2026-02-28")
        );
    }
}

/// Serialises instants exactly as chrono's `Serialize` does (RFC 3339, `Z`,
/// 0, 3, 6 or 9 fractional digits as the value needs), written digit by
/// digit into a buffer instead of through `fmt` one character at a time: a
/// list of 100 tasks writes 500 of them. Anything chrono would write
/// differently (years past 9999, leap seconds) is left to chrono.
pub mod rfc3339 {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    use serde::{Serialize, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 30];
        match write(at, &mut buf) {
            Some(text) => serializer.serialize_str(text),
            None => at.serialize(serializer),
        }
    }

    /// The same for `Option`al instants (`null` for none).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, serializer),
                None => serializer.serialize_none(),
            }
        }
    }

    fn write<'b>(at: &DateTime<Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
        let (year, nanos) = (at.year(), at.nanosecond());
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return None;
        }
        let mut len = 0;
        // `value` as `digits` digits, then `then`.
        let mut put = |value: u32, digits: u32, then: u8| {
            for i in (0..digits).rev() {
                buf[len] = b'0' + (value / 10u32.pow(i) % 10) as u8;
                len += 1;
            }
            buf[len] = then;
            len += 1;
        };
        put(year.unsigned_abs(), 4, b'-');
        put(at.month(), 2, b'-');
        put(at.day(), 2, b'T');
        put(at.hour(), 2, b':');
        put(at.minute(), 2, b':');
        match nanos {
            0 => put(at.second(), 2, b'Z'),
            _ => {
                put(at.second(), 2, b'.');
                if nanos % 1_000_000 == 0 {
                    put(nanos / 1_000_000, 3, b'Z');
                } else if nanos % 1_000 == 0 {
                    put(nanos / 1_000, 6, b'Z');
                } else {
                    put(nanos, 9, b'Z');
                }
            }
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, TimeZone, Utc};

        #[derive(serde::Serialize)]
        struct Fast(#[serde(serialize_with = "super::serialize")] DateTime<Utc>);

        #[test]
        fn writes_exactly_what_chrono_writes() {
            let mut at = Utc.with_ymd_and_hms(1000, 1, 1, 0, 0, 0).unwrap();
            let steps = [
                chrono::Duration::seconds(86_400 * 3_650 + 3_599),
                chrono::Duration::milliseconds(123_456_789_012),
                chrono::Duration::microseconds(98_765_432_101_234),
                chrono::Duration::nanoseconds(1_234_567_890_123_457),
            ];
            let mut checked = 0;
            for round in 0..400 {
                at += steps[round % steps.len()];
                for value in [
                    at,
                    at + chrono::Duration::nanoseconds(1),
                    at + chrono::Duration::microseconds(1),
                ] {
                    assert_eq!(
                        serde_json::to_string(&Fast(value)).unwrap(),
                        serde_json::to_string(&value).unwrap(),
                        "{value:?}"
                    );
                    checked += 1;
                }
            }
            assert!(checked >= 1200);
            for text in [
                "2026-11-22T20:00:00Z",
                "2026-11-22T20:00:00.500Z",
                "2026-11-22T20:00:00.000001Z",
                "2026-11-22T20:00:00.120000Z",
                "9999-12-31T23:59:59.999999999Z",
            ] {
                let value: DateTime<Utc> = text.parse().unwrap();
                let fast = serde_json::to_string(&Fast(value)).unwrap();
                assert_eq!(fast, serde_json::to_string(&value).unwrap());
            }
        }
    }
}
