//! How SQLite's synchronous connections run under async code, and how its
//! one writer is kept busy with nothing but writing.
//!
//! diesel-async wraps a SQLite connection so that every query is a trip to
//! a blocking thread and back. For reads that keeps HTTP workers free. A
//! write transaction, though, runs with SQLite's one write lock held, and
//! every trip (a wake-up on another thread, twice) lengthens the time it is
//! held: with the lock taken in turn, that length is the write throughput.
//! So a write transaction waits for the lock on a blocking thread, like any
//! query, and once it holds it runs its statements, the commit included,
//! on the thread that drives the request ([`inline`]): they wait on nothing
//! but SQLite's own work on pages it already has. Two more things keep that
//! work small: every write transaction uses the same connection (the queue's,
//! see `WriteQueue`), whose page cache stays valid between them, and the WAL
//! is copied back into the database file by [`checkpointer`] beside the
//! writer rather than inside one of its commits.

use std::cell::Cell;
use std::error::Error;
use std::future::Future;
use std::pin::pin;
use std::sync::Weak;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::sqlite::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// SQLite behind diesel-async's wrapper, with [`Spawner`] deciding where
/// each query runs.
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection, Spawner>;

thread_local! {
    /// Set while a write transaction that holds the lock is being polled.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Runs a connection's work on tokio's blocking pool, or right away on the
/// calling thread while [`inline`] polls a write transaction.
pub struct Spawner(tokio::runtime::Handle);

impl SpawnBlocking for Spawner {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        if INLINE.get() {
            return std::future::ready(Ok(task())).boxed();
        }
        // A caller that stops waiting leaves the task to finish: the
        // connection's own mutex keeps the next user out until it has.
        let task = self.0.spawn_blocking(task);
        async move { task.await.map_err(Into::into) }.boxed()
    }

    fn get_runtime() -> Self {
        Self(tokio::runtime::Handle::current())
    }
}

/// Restores the flag however the poll ends.
struct InlineGuard(bool);

impl InlineGuard {
    fn set() -> Self {
        Self(INLINE.replace(true))
    }
}

impl Drop for InlineGuard {
    fn drop(&mut self) {
        INLINE.set(self.0);
    }
}

/// Polls `fut` with its SQLite queries run on the polling thread.
pub async fn inline<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| {
        let _guard = InlineGuard::set();
        fut.as_mut().poll(cx)
    })
    .await
}

/// `BEGIN IMMEDIATE` on a blocking thread: it may wait on SQLite's busy
/// handler for another process's writer.
pub async fn begin_immediate(c: &mut SqliteConn) -> diesel::QueryResult<()> {
    c.spawn_blocking(|inner| {
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
    })
    .await
}

/// Commits, on the calling thread.
pub async fn commit(c: &mut SqliteConn) -> diesel::QueryResult<()> {
    inline(async {
        c.spawn_blocking(AnsiTransactionManager::commit_transaction)
            .await
    })
    .await
}

/// Rolls back, on the calling thread.
pub async fn rollback(c: &mut SqliteConn) -> diesel::QueryResult<()> {
    inline(async {
        c.spawn_blocking(AnsiTransactionManager::rollback_transaction)
            .await
    })
    .await
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL frames beyond which the checkpointer takes the writers' turn.
const WAL_FRAMES_LIMIT: i64 = 4000;

/// What `PRAGMA wal_checkpoint` reports.
#[derive(diesel::QueryableByName)]
struct Checkpoint {
    /// Frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

async fn checkpoint(conn: &mut SqliteConn) -> diesel::QueryResult<Checkpoint> {
    use diesel::RunQueryDsl;
    conn.spawn_blocking(|c| diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(c))
        .await
}

/// Copies the WAL into the database file in the background, off the write
/// path: SQLite's own automatic checkpoint runs inside the commit that
/// crosses the threshold, holding the one write lock for a file's worth of
/// writes and two `fsync`s while every other writer waits. Runs until the
/// queue is gone.
pub(super) async fn checkpointer(readers: Pool<SqliteConn>, queue: Weak<super::WriteQueue>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(queue) = queue.upgrade() else { return };
        let Ok(mut reader) = readers.get().await else {
            continue;
        };
        let Ok(done) = checkpoint(&mut reader).await else {
            continue;
        };
        drop(reader);
        if done.log < WAL_FRAMES_LIMIT {
            continue;
        }
        // The WAL starts over only when a write begins with every frame
        // already copied, which a busy writer never sees: copy the last
        // frames while it waits its turn.
        let Ok(_turn) = queue.turn().await else {
            continue;
        };
        if let Ok(mut writer) = queue.connection.get().await {
            let _ = checkpoint(&mut writer).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside [`inline`] a query goes to the blocking pool; inside, it runs
    /// on the thread that polls, and the flag is cleared after.
    #[tokio::test]
    async fn inline_runs_on_the_polling_thread() {
        let here = std::thread::current().id();
        let mut spawner = Spawner::get_runtime();
        let away = spawner
            .spawn_blocking(|| std::thread::current().id())
            .await
            .expect("ran");
        assert_ne!(away, here);
        let near = inline(async {
            tokio::task::yield_now().await;
            spawner.spawn_blocking(|| std::thread::current().id()).await
        })
        .await
        .expect("ran");
        assert_eq!(near, here);
        assert!(!INLINE.get());
    }
}
