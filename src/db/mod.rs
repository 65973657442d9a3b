//! Database access for both backends, chosen at run time by `DATABASE_URL`.
//!
//! diesel-async has no runtime multi-backend connection, so [`Db`] is an enum
//! of two deadpool pools and [`Conn`] an enum of the two connection types.
//! Query functions take `&mut Conn` and use [`db_run!`], which compiles the
//! same query body once per backend; [`transaction!`] opens one transaction
//! (SQLite: in turn, through [`WriteQueue`], on its one writer connection,
//! with `BEGIN IMMEDIATE`; see [`sqlite`]).

pub mod api_tokens;
pub mod events;
pub mod leases;
pub mod reminders;
pub mod schema;
pub mod sqlite;
pub mod stamp;
pub mod tags;
pub mod tasks;
pub mod users;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection as _;
use diesel::sqlite::SqliteConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::settings::Settings;

pub use sqlite::SqliteConn;

/// Error from checking a connection out of the pool.
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Pragmas every SQLite connection gets. WAL itself is persistent and set
/// once at migration time; checkpoints are [`sqlite::checkpointer`]'s.
/// The page cache and memory map let a count scan a whole index without a
/// system call per page (a 100 000-task count drops from ~40 to ~2 ms).
const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -16000; \
     PRAGMA mmap_size = 268435456; \
     PRAGMA temp_store = MEMORY; \
     PRAGMA wal_autocheckpoint = 0; \
     PRAGMA journal_size_limit = 67108864;";

/// Which backend a pool or connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A connection pool for one of the two backends, with the runtime its
/// connections live on.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    /// SQLite's single writer, taken in arrival order (see [`WriteQueue`]).
    writers: Option<Arc<WriteQueue>>,
    runtime: Arc<DbRuntime>,
}

/// A first-come, first-served queue in front of SQLite's one writer. SQLite
/// itself makes a blocked writer sleep and retry (its busy handler), so
/// under contention some wait far longer than others; here they wait their
/// turn, each at most `DATABASE_TIMEOUT`, and never hold a pooled
/// connection while waiting.
pub struct WriteQueue {
    /// One permit; tokio's semaphore hands permits out in FIFO order.
    turn: tokio::sync::Semaphore,
    /// The one connection write transactions use. Its page cache stays
    /// valid from one transaction to the next: a connection that did not
    /// make the last change must drop its cache and read every page again.
    connection: Pool<SqliteConn>,
    waiting: std::sync::atomic::AtomicI64,
    timeout: std::time::Duration,
}

impl WriteQueue {
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, WriteQueueTimeout> {
        use std::sync::atomic::Ordering::Relaxed;
        self.waiting.fetch_add(1, Relaxed);
        let turn = tokio::time::timeout(self.timeout, self.turn.acquire()).await;
        self.waiting.fetch_sub(1, Relaxed);
        match turn {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => Err(WriteQueueTimeout(self.timeout)),
        }
    }
}

/// The caller's turn to write; the next waiter's comes when it is dropped.
pub type WriteTurn<'a> = Option<tokio::sync::SemaphorePermit<'a>>;

/// No turn came within `DATABASE_TIMEOUT` (answered 503).
#[derive(Debug, thiserror::Error)]
#[error("the database is busy: no turn to write within {0:?}")]
pub struct WriteQueueTimeout(std::time::Duration);

#[derive(Clone)]
enum Pools {
    Pg(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteConn>),
}

/// The pool's own runtime. A connection is bound to the runtime it was
/// opened on (SQLite runs on that runtime's blocking pool, PostgreSQL's
/// driver task is spawned there), while the pool is shared by every HTTP
/// worker — and a graceful shutdown stops idle workers first. Opening every
/// connection here keeps them alive for as long as the pool.
struct DbRuntime(Option<tokio::runtime::Runtime>);

impl DbRuntime {
    fn new() -> Result<Self, DbError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("taskstream-db")
            .enable_all()
            .build()
            .map(|rt| Self(Some(rt)))
            .map_err(|e| DbError::Pool(format!("database runtime: {e}")))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle().clone(),
            None => unreachable!("the runtime is only taken on drop"),
        }
    }
}

impl Drop for DbRuntime {
    fn drop(&mut self) {
        // May run inside an async context, where a blocking shutdown panics.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `fut` on the database runtime and waits for it.
async fn on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl std::future::Future<Output = diesel::ConnectionResult<T>> + Send + 'static,
) -> diesel::ConnectionResult<T> {
    handle
        .spawn(fut)
        .await
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?
}

/// A connection checked out of a [`Db`]; returns to the pool on drop.
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, short-lived; boxing buys nothing"
)]
pub enum PooledConn {
    Pg(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
}

/// A borrowed connection of either backend: what query functions take.
pub enum Conn<'c> {
    Pg(&'c mut AsyncPgConnection),
    Sqlite(&'c mut SqliteConn),
}

/// Runs `$body` with `$c` bound to the concrete connection of `$conn`
/// (a `&mut Conn`). The body is type-checked once for each backend.
#[macro_export]
macro_rules! db_run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Pg(inner) => {
                let $c: &mut ::diesel_async::AsyncPgConnection = &mut **inner;
                $body
            }
            $crate::db::Conn::Sqlite(inner) => {
                let $c: &mut $crate::db::SqliteConn = &mut **inner;
                $body
            }
        }
    };
}

/// Runs `$body` in one write transaction on a connection from `$db`, with
/// `$conn` bound to a `&mut Conn`. The body evaluates to
/// `Result<T, AppError>`; an `Err` rolls everything back. On SQLite the
/// transaction waits its turn in the [`WriteQueue`] first.
#[macro_export]
macro_rules! transaction {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let _turn = $db.write_turn().await?;
        let mut writing = $crate::db::Writing::new($db.get_for_write().await?);
        let result = match writing.pooled() {
            $crate::db::PooledConn::Pg(inner) => {
                let c: &mut ::diesel_async::AsyncPgConnection = &mut **inner;
                ::diesel_async::AsyncConnection::transaction(
                    c,
                    async |c| -> ::std::result::Result<_, $crate::error::AppError> {
                        let $conn = &mut $crate::db::Conn::Pg(c);
                        $body
                    },
                )
                .await
            }
            $crate::db::PooledConn::Sqlite(inner) => {
                let c: &mut $crate::db::SqliteConn = &mut **inner;
                'transaction: {
                    if let Err(e) = $crate::db::sqlite::begin_immediate(c).await {
                        break 'transaction Err($crate::error::AppError::from(e));
                    }
                    let result: ::std::result::Result<_, $crate::error::AppError> =
                        $crate::db::sqlite::inline(async {
                            let $conn = &mut $crate::db::Conn::Sqlite(&mut *c);
                            $body
                        })
                        .await;
                    match result {
                        Ok(value) => $crate::db::sqlite::commit(c)
                            .await
                            .map(|()| value)
                            .map_err($crate::error::AppError::from),
                        Err(e) => {
                            // A failed rollback leaves the connection
                            // marked broken: the pool drops it.
                            let _ = $crate::db::sqlite::rollback(c).await;
                            Err(e)
                        }
                    }
                }
            }
        };
        writing.ended();
        result
    }};
}

/// A write transaction's connection until the transaction has ended. The
/// transaction's future may be dropped before it commits or rolls back (a
/// background task aborted at a stop, a request still running when a
/// stop's deadline ends the server, a caller that stops waiting):
/// back in the pool, the connection would keep the transaction open, and
/// its locks (SQLite's one write lock, PostgreSQL's row locks) with it,
/// until the pool next handed it out, which may be never. So a connection
/// whose transaction did not end is taken out of the pool and closed, which
/// rolls the transaction back at once.
pub struct Writing(Option<PooledConn>);

impl Writing {
    pub fn new(pooled: PooledConn) -> Self {
        Self(Some(pooled))
    }

    /// The connection, while the transaction is under way.
    pub fn pooled(&mut self) -> &mut PooledConn {
        match &mut self.0 {
            Some(pooled) => pooled,
            None => unreachable!("only `ended` takes the connection, and it consumes `self`"),
        }
    }

    /// The transaction committed or rolled back: the connection goes back
    /// to the pool.
    pub fn ended(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        match self.0.take() {
            Some(PooledConn::Pg(pooled)) => drop(Object::take(pooled)),
            // A statement still running on a blocking thread holds the
            // connection until it is done: it closes then.
            Some(PooledConn::Sqlite(pooled)) => drop(Object::take(pooled)),
            None => {}
        }
    }
}

impl PooledConn {
    /// Borrows the connection for query functions.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Pg(obj) => Conn::Pg(obj),
            Self::Sqlite(obj) => Conn::Sqlite(obj),
        }
    }
}

/// Why the database could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("could not build the connection pool: {0}")]
    Pool(String),
}

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// Path of the SQLite file.
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") || path == ":memory:" {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }
}

impl Db {
    /// Opens the database named by the settings, creating (SQLite) and
    /// migrating it first.
    pub async fn connect(settings: &Settings) -> Result<Self, DbError> {
        let timeout = settings.database_timeout();
        let runtime = Arc::new(DbRuntime::new()?);
        let handle = runtime.handle();
        let (pools, writers) = match DatabaseUrl::parse(&settings.database_url)? {
            DatabaseUrl::Postgres(url) => {
                migrate_postgres(url.clone()).await?;
                let mut config = ManagerConfig::default();
                // Fast: a connection whose server went away reports itself
                // closed and is dropped; a test query on every checkout
                // would cost each request a round trip.
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(move |url| {
                    let url = url.to_owned();
                    let handle = handle.clone();
                    async move {
                        on(
                            &handle,
                            async move { AsyncPgConnection::establish(&url).await },
                        )
                        .await
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
                let pool =
                    pool_builder(Pool::builder(manager), settings.database_pool_size, timeout)
                        .build()
                        .map_err(|e| DbError::Pool(e.to_string()))?;
                (Pools::Pg(pool), None)
            }
            DatabaseUrl::Sqlite(path) => {
                migrate_sqlite(path.clone()).await?;
                let readers = sqlite_pool(&path, &handle, settings.database_pool_size, timeout)?;
                let queue = Arc::new(WriteQueue {
                    turn: tokio::sync::Semaphore::new(1),
                    connection: sqlite_pool(&path, &handle, 1, timeout)?,
                    waiting: std::sync::atomic::AtomicI64::new(0),
                    timeout,
                });
                handle.spawn(sqlite::checkpointer(
                    readers.clone(),
                    Arc::downgrade(&queue),
                ));
                (Pools::Sqlite(readers), Some(queue))
            }
        };
        Ok(Self {
            pools,
            writers,
            runtime,
        })
    }

    /// Runs `work` on the pool's own runtime and waits for it. For callers on
    /// a thread the kernel may leave waiting (the webhook deliverer's, at
    /// background priority): a write transaction run there holds the write
    /// turn, SQLite's lock and PostgreSQL's row locks only while a thread of
    /// normal priority is at work. `None` if it panicked or the runtime is
    /// stopping.
    pub async fn on_own_runtime<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        self.runtime.handle().spawn(work).await.ok()
    }

    /// Waits for this process's turn to write (SQLite; PostgreSQL takes
    /// concurrent writers itself and needs none).
    pub async fn write_turn(&self) -> Result<WriteTurn<'_>, WriteQueueTimeout> {
        match &self.writers {
            Some(queue) => queue.turn().await.map(Some),
            None => Ok(None),
        }
    }

    /// A connection for a write transaction, once its turn has come: on
    /// SQLite the one writer connection, on PostgreSQL any.
    pub async fn get_for_write(&self) -> Result<PooledConn, PoolError> {
        match &self.writers {
            Some(queue) => Ok(PooledConn::Sqlite(queue.connection.get().await?)),
            None => self.get().await,
        }
    }

    /// Writers waiting for their turn (always 0 on PostgreSQL).
    pub fn writers_waiting(&self) -> i64 {
        self.writers.as_ref().map_or(0, |queue| {
            queue.waiting.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Pg(_) => Backend::Postgres,
            Pools::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Checks a connection out of the pool (waits at most the configured
    /// timeout; the error maps to 503).
    pub async fn get(&self) -> Result<PooledConn, PoolError> {
        Ok(match &self.pools {
            Pools::Pg(pool) => PooledConn::Pg(pool.get().await?),
            Pools::Sqlite(pool) => PooledConn::Sqlite(pool.get().await?),
        })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let Ok(mut pooled) = self.get().await else {
            return false;
        };
        db_run!(&mut pooled.conn(), |c| c
            .batch_execute("SELECT 1")
            .await
            .is_ok())
    }
}

/// A pool of `size` SQLite connections to the file at `path`, each opened
/// on the database runtime with [`SQLITE_CONNECTION_PRAGMAS`].
fn sqlite_pool(
    path: &str,
    handle: &tokio::runtime::Handle,
    size: usize,
    timeout: Duration,
) -> Result<Pool<SqliteConn>, DbError> {
    let mut config = ManagerConfig::<SqliteConn>::default();
    // Fast: a SQLite file does not drop connections under us.
    config.recycling_method = RecyclingMethod::Fast;
    let handle = handle.clone();
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        let handle = handle.clone();
        let open = async move {
            let mut conn = SqliteConn::establish(&url).await?;
            conn.batch_execute(SQLITE_CONNECTION_PRAGMAS)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        };
        async move { on(&handle, open).await }.boxed()
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
    pool_builder(Pool::builder(manager), size, timeout)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

fn pool_builder<M: deadpool::managed::Manager>(
    builder: deadpool::managed::PoolBuilder<M>,
    size: usize,
    timeout: Duration,
) -> deadpool::managed::PoolBuilder<M> {
    builder
        .max_size(size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
}

/// Migrations run on a blocking thread: diesel's harness is synchronous.
async fn migrate_sqlite(path: String) -> Result<(), DbError> {
    blocking(move || {
        let mut conn =
            SqliteConnection::establish(&path).map_err(|e| DbError::Connect(e.to_string()))?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            // The busy timeout first: another instance may be checkpointing.
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| DbError::Connect(e.to_string()))?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(())
    })
    .await
}

/// PostgreSQL migrations go through diesel-async's sync wrapper on a blocking
/// thread (its own harness needs a multi-threaded runtime; actix's is not).
async fn migrate_postgres(url: String) -> Result<(), DbError> {
    blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .map_err(|e| DbError::Connect(e.to_string()))?;
        // Two replicas starting at once must not both migrate.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "SELECT pg_advisory_lock(7346721001)",
        )
        .map_err(|e| DbError::Migration(e.to_string()))?;
        let result = conn
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(drop)
            .map_err(|e| DbError::Migration(e.to_string()));
        let _ = diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "SELECT pg_advisory_unlock(7346721001)",
        );
        result
    })
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Migration(format!("migration thread failed: {e}")))?
}

/// The current time as stored: UTC, truncated to microseconds so that values
/// round-trip identically through both backends.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://taskstream.db").unwrap(),
            DatabaseUrl::Sqlite("taskstream.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/t.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/t.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("data/t.db").unwrap(),
            DatabaseUrl::Sqlite("data/t.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }
}
