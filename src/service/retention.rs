//! Retention: published events older than `EVENT_RETENTION_DAYS`, consumed
//! CloudEvent ids older than `DEDUP_RETENTION_HOURS` and revoked tokens past
//! their own expiry are deleted every `RETENTION_INTERVAL`. Each batch of a
//! few hundred rows is a short transaction of its own, with a pause between
//! batches, so writers never queue behind a long delete (SQLite has one
//! write lock). Unpublished events are never deleted, however old.

use std::time::Duration;

use super::Context;
use crate::db;
use crate::error::AppError;
use crate::transaction;

/// Rows deleted per transaction.
const BATCH: i64 = 500;
/// Pause between batches, for the writers.
const PAUSE: Duration = Duration::from_millis(20);

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub events: usize,
    pub processed_ids: usize,
    pub revoked_tokens: usize,
}

/// Runs a pass now and then every `RETENTION_INTERVAL`.
pub async fn run(ctx: Context) {
    loop {
        match prune(&ctx).await {
            Ok(p) if p != Pruned::default() => {
                slog::info!(ctx.log, "retention pass";
                    "events" => p.events, "processed_ids" => p.processed_ids,
                    "revoked_tokens" => p.revoked_tokens);
            }
            Ok(_) => {}
            Err(e) => {
                slog::warn!(ctx.log, "retention pass failed; retrying later"; "error" => e.chain())
            }
        }
        tokio::time::sleep(ctx.settings.retention_interval()).await;
    }
}

/// The oldest instant an event is kept from.
pub fn events_kept_since(ctx: &Context) -> chrono::NaiveDateTime {
    ctx.now() - chrono::Duration::days(i64::from(ctx.settings.event_retention_days))
}

/// One retention pass.
pub async fn prune(ctx: &Context) -> Result<Pruned, AppError> {
    let events_before = events_kept_since(ctx);
    let ids_before =
        ctx.now() - chrono::Duration::hours(i64::from(ctx.settings.dedup_retention_hours));
    let tokens_before = ctx.now();
    Ok(Pruned {
        events: in_batches(ctx, |conn| {
            Box::pin(db::events::delete_published_before(
                conn,
                events_before,
                BATCH,
            ))
        })
        .await?,
        processed_ids: in_batches(ctx, |conn| {
            Box::pin(db::events::forget_processed_before(conn, ids_before, BATCH))
        })
        .await?,
        revoked_tokens: in_batches(ctx, |conn| {
            Box::pin(db::users::forget_expired_tokens(conn, tokens_before, BATCH))
        })
        .await?,
    })
}

type Deletion<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = diesel::QueryResult<usize>> + Send + 'a>>;

/// Repeats a batch deletion, one transaction each, until a batch comes back
/// short.
async fn in_batches(
    ctx: &Context,
    delete: impl for<'a, 'c> Fn(&'a mut db::Conn<'c>) -> Deletion<'a> + Sync,
) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let n = transaction!(ctx.db, |conn| Ok(delete(conn).await?))?;
        total += n;
        if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}
