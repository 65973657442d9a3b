//! Queries on webhook endpoints and their recent delivery attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::{users, webhook_attempts, webhook_endpoints};
use crate::db_run;

/// Attempts kept per endpoint: the newest.
pub const ATTEMPTS_KEPT: i64 = 100;

/// A webhook endpoint.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct EndpointRow {
    pub id: String,
    pub user_id: String,
    pub url: String,
    pub description: String,
    /// Patterns, space-separated; empty: every type.
    pub event_types: String,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    /// Every event of the user up to this sequence number is done.
    pub delivered_seq: i64,
    /// Moved on by a replay: a delivery run of an older epoch records nothing.
    pub cursor_epoch: i32,
    /// Failed attempts at the event after the cursor.
    pub failures: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a user may change of an endpoint (`None`: unchanged).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AttemptRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub seq: i64,
    pub event_type: String,
    pub attempt: i32,
    pub status: Option<i32>,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub next_retry_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// `scheduled`, `replay` or `test` (`domain::webhook::AttemptKind`).
    pub kind: String,
}

pub async fn insert(conn: &mut Conn<'_>, row: &EndpointRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// The user's endpoints, oldest first.
pub async fn of_user(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<Vec<EndpointRow>> {
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::user_id.eq(user_id))
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc()
        ))
        .select(EndpointRow::as_select())
        .load(c)
        .await)
}

/// The user's endpoint `id`, if it is theirs.
pub async fn get(conn: &mut Conn<'_>, user_id: &str, id: &str) -> QueryResult<Option<EndpointRow>> {
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::user_id.eq(user_id))
        .select(EndpointRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Applies `changes` to the user's endpoint; whether it is theirs.
pub async fn update(
    conn: &mut Conn<'_>,
    user_id: &str,
    id: &str,
    changes: &EndpointChanges,
) -> QueryResult<bool> {
    let n = db_run!(conn, |c| diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::user_id.eq(user_id))
    )
    .set(changes)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Enables an endpoint again: its delivery starts over where it stopped,
/// with a fresh retry schedule.
pub async fn enable(conn: &mut Conn<'_>, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(true),
            webhook_endpoints::failures.eq(0),
            webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
            webhook_endpoints::disabled_reason.eq(None::<String>),
            webhook_endpoints::disabled_at.eq(None::<NaiveDateTime>),
            webhook_endpoints::cursor_epoch.eq(webhook_endpoints::cursor_epoch + 1),
            webhook_endpoints::updated_at.eq(at),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Pauses an endpoint at its user's wish: its events wait.
pub async fn pause(conn: &mut Conn<'_>, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::disabled_reason.eq(None::<String>),
            webhook_endpoints::disabled_at.eq(Some(at)),
            webhook_endpoints::updated_at.eq(at),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Disables an endpoint for `reason`; `false` if it was disabled already.
pub async fn disable(
    conn: &mut Conn<'_>,
    id: &str,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let n = db_run!(conn, |c| diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::enabled.eq(true))
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(reason)),
        webhook_endpoints::disabled_at.eq(Some(at)),
        webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
        webhook_endpoints::updated_at.eq(at),
    ))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

pub async fn delete(conn: &mut Conn<'_>, user_id: &str, id: &str) -> QueryResult<bool> {
    let n = db_run!(conn, |c| diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::user_id.eq(user_id))
    )
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// A new secret for the endpoint; the current one signs too until `until`.
pub async fn rotate(
    conn: &mut Conn<'_>,
    id: &str,
    secret: &str,
    at: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
            webhook_endpoints::previous_secret_until.eq(Some(until)),
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::updated_at.eq(at),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Sets the endpoint's cursor to `seq` (a replay: what follows is delivered
/// again, in order) and starts a new epoch, so a delivery run under way
/// records nothing over it.
pub async fn rewind(conn: &mut Conn<'_>, id: &str, seq: i64) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::delivered_seq.eq(seq),
            webhook_endpoints::cursor_epoch.eq(webhook_endpoints::cursor_epoch + 1),
            webhook_endpoints::failures.eq(0),
            webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Enabled endpoints of these users.
pub async fn enabled_of_users(
    conn: &mut Conn<'_>,
    user_ids: &[&str],
) -> QueryResult<Vec<EndpointRow>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::user_id.eq_any(user_ids))
        .filter(webhook_endpoints::enabled.eq(true))
        .select(EndpointRow::as_select())
        .load(c)
        .await)
}

/// Enabled endpoints with events to deliver whose retry (if any) is due.
pub async fn due(
    conn: &mut Conn<'_>,
    at: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<EndpointRow>> {
    db_run!(conn, |c| webhook_endpoints::table
        .inner_join(users::table)
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::delivered_seq.lt(users::last_event_seq))
        .filter(
            webhook_endpoints::next_attempt_at
                .is_null()
                .or(webhook_endpoints::next_attempt_at.le(at))
        )
        .select(EndpointRow::as_select())
        .limit(limit)
        .load(c)
        .await)
}

/// The endpoint as a delivery run reads it before each batch (`None`:
/// deleted).
pub async fn by_id(conn: &mut Conn<'_>, id: &str) -> QueryResult<Option<EndpointRow>> {
    db_run!(conn, |c| webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(c)
        .await
        .optional())
}

/// A run of epoch `epoch` delivered everything up to `seq`.
pub async fn advance(conn: &mut Conn<'_>, id: &str, epoch: i32, seq: i64) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::cursor_epoch.eq(epoch))
            .filter(webhook_endpoints::delivered_seq.lt(seq))
    )
    .set((
        webhook_endpoints::delivered_seq.eq(seq),
        webhook_endpoints::failures.eq(0),
        webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
    ))
    .execute(c)
    .await
    .map(drop))
}

/// [`advance`] for each `(endpoint, epoch, seq)`; on PostgreSQL in one
/// statement (in the order of the rows' keys, as a lock order), which takes
/// at most one entry per endpoint and epoch.
pub async fn advance_all(conn: &mut Conn<'_>, through: &[(&str, i32, i64)]) -> QueryResult<()> {
    match conn {
        Conn::Pg(c) => {
            if through.is_empty() {
                return Ok(());
            }
            let mut sorted = through.to_vec();
            sorted.sort_unstable();
            let mut ids = Vec::with_capacity(sorted.len());
            let mut epochs = Vec::with_capacity(sorted.len());
            let mut seqs = Vec::with_capacity(sorted.len());
            for (id, epoch, seq) in sorted {
                ids.push(id);
                epochs.push(epoch);
                seqs.push(seq);
            }
            diesel::sql_query(
                "UPDATE webhook_endpoints \
                 SET delivered_seq = v.seq, failures = 0, next_attempt_at = NULL \
                 FROM unnest($1::text[], $2::int4[], $3::int8[]) AS v(id, epoch, seq) \
                 WHERE webhook_endpoints.id = v.id \
                 AND webhook_endpoints.cursor_epoch = v.epoch \
                 AND webhook_endpoints.delivered_seq < v.seq",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(epochs)
            .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(seqs)
            .execute(&mut **c)
            .await
            .map(drop)
        }
        Conn::Sqlite(_) => {
            for (id, epoch, seq) in through {
                advance(conn, id, *epoch, *seq).await?;
            }
            Ok(())
        }
    }
}

/// A run of epoch `epoch` failed at the event after the cursor for the
/// `failures`th time; it is tried again at `retry_at`.
pub async fn failed(
    conn: &mut Conn<'_>,
    id: &str,
    epoch: i32,
    failures: i32,
    retry_at: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::cursor_epoch.eq(epoch))
    )
    .set((
        webhook_endpoints::failures.eq(failures),
        webhook_endpoints::next_attempt_at.eq(Some(retry_at)),
    ))
    .execute(c)
    .await
    .map(drop))
}

/// Records attempts (see [`prune_attempts`]) of the endpoints that still
/// exist: one deleted since its attempts were made took its list along.
pub async fn insert_attempts(conn: &mut Conn<'_>, rows: &[AttemptRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = rows.iter().map(|r| r.endpoint_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let existing = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(&ids))
        .select(webhook_endpoints::id);
    let existing: std::collections::HashSet<String> = match conn {
        // Locked against a delete until the attempts are in.
        Conn::Pg(c) => existing.for_key_share().load(&mut **c).await?,
        // Writers take turns: nobody deletes meanwhile.
        Conn::Sqlite(c) => existing.load(&mut **c).await?,
    }
    .into_iter()
    .collect();
    let kept: Vec<AttemptRow>;
    let rows = if existing.len() == ids.len() {
        rows
    } else {
        kept = rows
            .iter()
            .filter(|r| existing.contains(&r.endpoint_id))
            .cloned()
            .collect();
        &kept
    };
    match conn {
        // One statement per chunk: a round trip per row would cost the
        // deliverer's thread more than the rows themselves.
        Conn::Pg(c) => {
            for chunk in rows.chunks(ATTEMPTS_PER_STATEMENT) {
                diesel::insert_into(webhook_attempts::table)
                    .values(chunk)
                    .execute(&mut **c)
                    .await?;
            }
        }
        // In process: one prepared statement serves every row.
        Conn::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(webhook_attempts::table)
                    .values(row)
                    .execute(&mut **c)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Rows of one multi-row insert (eleven parameters each, well below
/// PostgreSQL's 65 535).
const ATTEMPTS_PER_STATEMENT: usize = 1_000;

/// Deletes the endpoint's attempts but the newest [`ATTEMPTS_KEPT`]; given
/// the oldest of those (`oldest_kept`, as when [`ATTEMPTS_KEPT`] newer ones
/// were just written), it need not look for it.
pub async fn prune_attempts(
    conn: &mut Conn<'_>,
    endpoint_id: &str,
    oldest_kept: Option<&str>,
) -> QueryResult<()> {
    let oldest_kept: Option<String> = match oldest_kept {
        Some(id) => Some(id.to_owned()),
        None => db_run!(conn, |c| webhook_attempts::table
            .filter(webhook_attempts::endpoint_id.eq(endpoint_id))
            .order(webhook_attempts::id.desc())
            .offset(ATTEMPTS_KEPT - 1)
            .select(webhook_attempts::id)
            .first(c)
            .await
            .optional())?,
    };
    if let Some(oldest_kept) = oldest_kept {
        db_run!(conn, |c| diesel::delete(
            webhook_attempts::table
                .filter(webhook_attempts::endpoint_id.eq(endpoint_id))
                .filter(webhook_attempts::id.lt(&oldest_kept))
        )
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// The endpoint's most recent attempts, newest first.
pub async fn attempts(
    conn: &mut Conn<'_>,
    endpoint_id: &str,
    limit: i64,
) -> QueryResult<Vec<AttemptRow>> {
    db_run!(conn, |c| webhook_attempts::table
        .filter(webhook_attempts::endpoint_id.eq(endpoint_id))
        .order(webhook_attempts::id.desc())
        .limit(limit)
        .select(AttemptRow::as_select())
        .load(c)
        .await)
}

/// Events still to deliver, over every enabled endpoint (for `/metrics`).
pub async fn backlog(conn: &mut Conn<'_>) -> QueryResult<i64> {
    db_run!(conn, |c| {
        webhook_endpoints::table
        .inner_join(users::table)
        .filter(webhook_endpoints::enabled.eq(true))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(users.last_event_seq - webhook_endpoints.delivered_seq), 0) AS BIGINT)"
        ))
        .get_result(c)
        .await
    })
}
