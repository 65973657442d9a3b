//! Timestamps read from the database without format strings. Diesel reads
//! SQLite's TEXT timestamps by trying chrono format strings in turn, which
//! re-parses the format for every value (a list of 100 tasks reads 500);
//! this reads the one shape it writes (`YYYY-MM-DD HH:MM:SS[.f…]`) digit by
//! digit and hands anything else to diesel. PostgreSQL's binary timestamps
//! are read by diesel as before.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::Sqlite;

/// A `TIMESTAMP` column read into a `NaiveDateTime` field
/// (`#[diesel(deserialize_as = Stamp)]`).
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct Stamp(NaiveDateTime);

/// A nullable `TIMESTAMP` column read into an `Option<NaiveDateTime>`.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct MaybeStamp(Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> Self {
        stamp.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(stamp: MaybeStamp) -> Self {
        stamp.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(at) = parse(value.read_text()) {
            return Ok(Self(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

impl<DB: diesel::backend::Backend> FromSql<Nullable<Timestamp>, DB> for MaybeStamp
where
    Stamp: FromSql<Timestamp, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <Stamp as FromSql<Timestamp, DB>>::from_sql(value).map(|s| Self(Some(s.0)))
    }

    fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        match value {
            None => Ok(Self(None)),
            Some(value) => Self::from_sql(value),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`, optionally `.` and 1 to 9 digits: what diesel
/// writes for a `NaiveDateTime`. `None` for anything else.
fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let value = num(20..b.len())?;
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?.and_hms_nano_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_diesel_writes_as_diesel_would() {
        let written = [
            "2026-11-22 20:00:00",
            "2026-11-22 20:00:00.5",
            "2026-11-22 20:00:00.123",
            "2026-02-28 23:59:59.123456",
            "1000-01-01 00:00:00.000001",
            "9998-12-31 23:59:59.999999999",
        ];
        for text in written {
            let expected = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        // Round trip through diesel's own format, over a spread of instants.
        let mut at = NaiveDate::from_ymd_opt(1999, 1, 1)
            .unwrap()
            .and_hms_micro_opt(0, 0, 0, 1)
            .unwrap();
        for _ in 0..2000 {
            at += chrono::Duration::microseconds(86_399_999_937);
            let text = at.format("%F %T%.f").to_string();
            assert_eq!(parse(&text), Some(at), "{text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_diesel() {
        for text in [
            "2026-11-22T20:00:00",
            "2026-11-22 20:00",
            "2026-11-22 20:00:00Z",
            "2026-11-22 20:00:00+01:00",
            "2026-11-22 20:00:00.",
            "2026-11-22 20:00:00.1234567890",
            "2026-02-30 20:00:00",
            "2026-11-22 24:00:00",
            "2026-1a-22 20:00:00",
            "2461001.5",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
