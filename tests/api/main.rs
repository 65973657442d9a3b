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

mod auth;
mod events;
mod helpers;
mod isolation;
mod list;
mod mcp;
mod ops;
mod process;
mod quick_add;
mod recurrence;
mod reminders;
mod retention;
mod security;
mod service;
mod sessions;
mod tags;
mod tasks;
mod tokens;
mod ws;

#[path = "../support/mod.rs"]
mod support;
