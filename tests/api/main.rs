//! Integration tests: the real application over HTTP, each case on SQLite and
//! on PostgreSQL.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use rstest_reuse::template;

/// Runs a test once per backend.
#[template]
#[rstest::rstest]
#[case::sqlite(crate::helpers::Backend::Sqlite)]
#[case::postgres(crate::helpers::Backend::Postgres)]
fn backends(#[case] backend: crate::helpers::Backend) {}

/// Runs a test once per backend and way of publishing (one call per event,
/// or Dapr's bulk publish API).
#[template]
#[rstest::rstest]
#[case::sqlite_single(crate::helpers::Backend::Sqlite, crate::helpers::Publishing::Single)]
#[case::sqlite_bulk(crate::helpers::Backend::Sqlite, crate::helpers::Publishing::Bulk)]
#[case::postgres_single(crate::helpers::Backend::Postgres, crate::helpers::Publishing::Single)]
#[case::postgres_bulk(crate::helpers::Backend::Postgres, crate::helpers::Publishing::Bulk)]
fn backends_and_publishing(
    #[case] backend: crate::helpers::Backend,
    #[case] publishing: crate::helpers::Publishing,
) {
}

mod auth;
mod events;
mod helpers;
mod isolation;
mod list;
mod mcp;
mod migrations;
mod ops;
mod process;
mod quick_add;
mod recurrence;
mod reminders;
mod retention;
mod security;
mod service;
mod sessions;
mod shards;
mod tags;
mod tasks;
mod tokens;
mod webhooks;
mod ws;

#[path = "../support/mod.rs"]
mod support;
