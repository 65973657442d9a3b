//! Reading the event log back: the one place a stored payload becomes a
//! [`DomainEvent`] again, with one policy for a row that cannot be read.
//!
//! Payloads carry their type and a schema version, so a later release can
//! read what an earlier one wrote (and tell what it cannot). A row that
//! cannot be read — corrupt, or written by a newer release — is logged,
//! counted in `taskstream_events_unreadable_total`, and skipped by every
//! reader: it never stalls a user's WebSocket sessions, the publisher or the
//! activity log.

use slog::{Logger, error};

use super::DomainEvent;
use crate::db::events::EventRow;
use crate::metrics::Metrics;

/// The payload layout this release writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The version of payloads written before versions were recorded.
pub fn first_version() -> u32 {
    1
}

/// A row of the log, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Event(Box<DomainEvent>),
    /// Skipped: its sequence number, so readers can step over it.
    Unreadable {
        seq: i64,
    },
}

/// Decodes one row, reporting an unreadable one.
pub fn decode(row: &EventRow, metrics: &Metrics, log: &Logger) -> Stored {
    match read(&row.payload) {
        Ok(event) => Stored::Event(Box::new(event)),
        Err(why) => {
            metrics.events_unreadable.inc();
            error!(log, "skipping an unreadable event in the log";
                "event_id" => &row.id, "user_id" => &row.user_id, "seq" => row.seq, "error" => why);
            Stored::Unreadable { seq: row.seq }
        }
    }
}

/// Decodes rows in order.
pub fn decode_all(rows: &[EventRow], metrics: &Metrics, log: &Logger) -> Vec<Stored> {
    rows.iter().map(|row| decode(row, metrics, log)).collect()
}

/// The readable events among `rows`, in order.
pub fn readable(rows: &[EventRow], metrics: &Metrics, log: &Logger) -> Vec<DomainEvent> {
    decode_all(rows, metrics, log)
        .into_iter()
        .filter_map(|stored| match stored {
            Stored::Event(event) => Some(*event),
            Stored::Unreadable { .. } => None,
        })
        .collect()
}

/// One parse for the common case (a payload this release reads); the
/// version is looked at on its own only to say why a payload cannot be read.
fn read(payload: &str) -> Result<DomainEvent, String> {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default = "first_version")]
        schema_version: u32,
    }
    let newer = |version: u32| {
        format!("schema version {version} is newer than this release reads ({SCHEMA_VERSION})")
    };
    match serde_json::from_str::<DomainEvent>(payload) {
        Ok(event) if event.schema_version <= SCHEMA_VERSION => Ok(event),
        Ok(event) => Err(newer(event.schema_version)),
        Err(e) => match serde_json::from_str::<Version>(payload) {
            Ok(v) if v.schema_version > SCHEMA_VERSION => Err(newer(v.schema_version)),
            _ => Err(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, payload: &str) -> EventRow {
        EventRow {
            id: format!("e{seq}"),
            user_id: "u".into(),
            seq,
            event_type: "task.created".into(),
            task_id: None,
            payload: payload.into(),
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    const V0: &str = r#"{"id":"01a20000-0000-7000-8000-000000000000","user_id":"u","seq":1,
        "type":"task.deleted","task_id":null,"time":"2026-01-01T00:00:00Z","task":null,
        "changes":{},"summary":"Deleted 'x'","trace":{"traceid":"t","traceparent":"p"},
        "instance_id":"i"}"#;

    #[test]
    fn versions_are_read_and_unreadable_rows_skipped_and_counted() {
        let metrics = Metrics::new().expect("metrics");
        let log = Logger::root(slog::Discard, slog::o!());
        let newer = V0.replacen('{', r#"{"schema_version":2,"#, 1);
        let rows = [row(1, V0), row(2, "{not json"), row(3, &newer)];
        let read = decode_all(&rows, &metrics, &log);
        let Stored::Event(first) = &read[0] else {
            panic!("a payload without a version is version 1")
        };
        assert_eq!(first.schema_version, 1);
        assert_eq!(read[1], Stored::Unreadable { seq: 2 });
        assert_eq!(read[2], Stored::Unreadable { seq: 3 });
        assert_eq!(metrics.events_unreadable.get(), 2);
        assert_eq!(readable(&rows, &metrics, &log).len(), 1);
    }
}
