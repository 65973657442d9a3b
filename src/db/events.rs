//! Queries on the event log, its per-topic deliveries and consumed ids.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::{event_deliveries, events, processed_events, users, webhook_endpoints};
use crate::db_run;

/// A row of the event log.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct EventRow {
    pub id: String,
    pub user_id: String,
    pub seq: i64,
    pub event_type: String,
    pub task_id: Option<String>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// Publication state of one event on one topic (only kept while the
/// event's publication is under way).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_deliveries)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DeliveryRow {
    pub event_id: String,
    pub topic: String,
    pub published_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// Takes the next number of the user's gapless event sequence. The update
/// takes the user's row lock (SQLite: the database write lock), so writers
/// of one user queue here and numbers follow commit order.
///
/// Without an outbox (`outbox` false: Dapr is off) the event is not for
/// publishing, so the publication watermark follows along, unless the user
/// has a backlog from when publishing was on: that waits, with everything
/// after it, so that nothing is skipped if publishing comes back.
pub async fn next_seq(conn: &mut Conn<'_>, user_id: &str, outbox: bool) -> QueryResult<i64> {
    let user = users::table.find(user_id);
    let next = users::last_event_seq.eq(users::last_event_seq + 1);
    if outbox {
        return db_run!(conn, |c| diesel::update(user)
            .set(next)
            .returning(users::last_event_seq)
            .get_result(c)
            .await);
    }
    let published = users::published_seq.eq(diesel::dsl::case_when(
        users::published_seq.eq(users::last_event_seq),
        users::last_event_seq + 1,
    )
    .otherwise(users::published_seq));
    db_run!(conn, |c| diesel::update(user)
        .set((next, published))
        .returning(users::last_event_seq)
        .get_result(c)
        .await)
}

/// The user's newest sequence number (0 before any event).
pub async fn last_seq(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<i64> {
    let seq: Option<i64> = db_run!(conn, |c| users::table
        .find(user_id)
        .select(users::last_event_seq)
        .first(c)
        .await
        .optional())?;
    Ok(seq.unwrap_or(0))
}

/// The user's event with sequence number `seq`, if the log holds it.
pub async fn by_seq(conn: &mut Conn<'_>, user_id: &str, seq: i64) -> QueryResult<Option<EventRow>> {
    db_run!(conn, |c| events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::seq.eq(seq))
        .select(EventRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The user's event `id`, if the log holds it.
pub async fn by_id(conn: &mut Conn<'_>, user_id: &str, id: &str) -> QueryResult<Option<EventRow>> {
    db_run!(conn, |c| events::table
        .find(id)
        .filter(events::user_id.eq(user_id))
        .select(EventRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn insert(conn: &mut Conn<'_>, row: &EventRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(events::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// A page of the user's events, newest first, and how many there are.
pub async fn page(
    conn: &mut Conn<'_>,
    user_id: &str,
    since_seq: i64,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<EventRow>, i64)> {
    let total: i64 = db_run!(conn, |c| events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::seq.gt(since_seq))
        .count()
        .get_result(c)
        .await)?;
    let rows = db_run!(conn, |c| events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::seq.gt(since_seq))
        .order(events::seq.desc())
        .limit(limit)
        .offset(offset)
        .select(EventRow::as_select())
        .load(c)
        .await)?;
    Ok((rows, total))
}

/// The user's events after `since_seq`, oldest first (replay).
pub async fn after(
    conn: &mut Conn<'_>,
    user_id: &str,
    since_seq: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    db_run!(conn, |c| events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::seq.gt(since_seq))
        .order(events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(c)
        .await)
}

/// Users with something to publish (at most `limit` of them).
pub async fn users_with_pending(conn: &mut Conn<'_>, limit: i64) -> QueryResult<Vec<String>> {
    db_run!(conn, |c| users::table
        .filter(users::last_event_seq.gt(users::published_seq))
        .select(users::id)
        .limit(limit)
        .load(c)
        .await)
}

/// These users' unpublished events (past their watermark), by user, oldest
/// first.
pub async fn pending_for_users(
    conn: &mut Conn<'_>,
    user_ids: &[&str],
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| events::table
        .inner_join(users::table)
        .filter(events::user_id.eq_any(user_ids))
        .filter(events::seq.gt(users::published_seq))
        .order((events::user_id.asc(), events::seq.asc()))
        .limit(limit)
        .select(EventRow::as_select())
        .load(c)
        .await)
}

/// Each of these users' oldest unpublished event (none for a user with
/// nothing pending): a retry sends only that one, so only it is read.
pub async fn oldest_pending(conn: &mut Conn<'_>, user_ids: &[&str]) -> QueryResult<Vec<EventRow>> {
    let mut heads = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
        let head = db_run!(conn, |c| events::table
            .inner_join(users::table)
            .filter(events::user_id.eq(user_id))
            .filter(events::seq.gt(users::published_seq))
            .order(events::seq.asc())
            .select(EventRow::as_select())
            .first(c)
            .await
            .optional())?;
        heads.extend(head);
    }
    Ok(heads)
}

/// Per-topic state of these events, where any was recorded.
pub async fn deliveries_of(
    conn: &mut Conn<'_>,
    event_ids: &[&str],
) -> QueryResult<Vec<DeliveryRow>> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Rows exist only while some publication is partly done or failing:
    // in the common case one cheap fixed query answers, instead of one
    // with a parameter per event.
    let any: bool = db_run!(conn, |c| diesel::select(diesel::dsl::exists(
        event_deliveries::table.select(event_deliveries::event_id)
    ))
    .get_result(c)
    .await)?;
    if !any {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| event_deliveries::table
        .filter(event_deliveries::event_id.eq_any(event_ids))
        .select(DeliveryRow::as_select())
        .load(c)
        .await)
}

/// How many events wait to be published.
pub async fn pending_count(conn: &mut Conn<'_>) -> QueryResult<i64> {
    // A sum of BIGINTs is NUMERIC on PostgreSQL: cast back, on both.
    db_run!(conn, |c| users::table
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(last_event_seq - published_seq), 0) AS BIGINT)"
        ))
        .get_result(c)
        .await)
}

/// Each `(user, seq)`: the user's events up to `seq` are on every topic
/// they belong on. A watermark only moves forward, whoever else publishes
/// meanwhile.
///
/// On PostgreSQL one statement moves them all: each user's row is also
/// locked by every request that writes an event of theirs, so the locks are
/// held for one round trip, not one per user.
pub async fn mark_published(conn: &mut Conn<'_>, through: &[(&str, i64)]) -> QueryResult<()> {
    match conn {
        Conn::Pg(c) => {
            if through.is_empty() {
                return Ok(());
            }
            // In the order of the rows' keys, as every such statement locks them.
            let mut sorted = through.to_vec();
            sorted.sort_unstable();
            let (ids, seqs): (Vec<&str>, Vec<i64>) = sorted.into_iter().unzip();
            diesel::sql_query(
                "UPDATE users SET published_seq = v.seq \
                 FROM unnest($1::text[], $2::bigint[]) AS v(id, seq) \
                 WHERE users.id = v.id AND users.published_seq < v.seq",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
            .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(seqs)
            .execute(&mut **c)
            .await
            .map(drop)
        }
        Conn::Sqlite(c) => {
            for (user_id, seq) in through {
                diesel::update(
                    users::table
                        .find(*user_id)
                        .filter(users::published_seq.lt(*seq)),
                )
                .set(users::published_seq.eq(*seq))
                .execute(&mut **c)
                .await?;
            }
            Ok(())
        }
    }
}

/// Forgets the per-topic state of events now published as a whole.
pub async fn forget_deliveries(conn: &mut Conn<'_>, event_ids: &[&str]) -> QueryResult<()> {
    if event_ids.is_empty() {
        return Ok(());
    }
    db_run!(conn, |c| diesel::delete(
        event_deliveries::table.filter(event_deliveries::event_id.eq_any(event_ids))
    )
    .execute(c)
    .await
    .map(drop))
}

/// One topic of a partly published event is done.
pub async fn mark_topic_published(
    conn: &mut Conn<'_>,
    event_id: &str,
    topic: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(event_deliveries::table)
        .values((
            event_deliveries::event_id.eq(event_id),
            event_deliveries::topic.eq(topic),
            event_deliveries::published_at.eq(Some(at)),
            event_deliveries::attempts.eq(1),
        ))
        .on_conflict((event_deliveries::event_id, event_deliveries::topic))
        .do_update()
        .set((
            event_deliveries::published_at.eq(Some(at)),
            event_deliveries::attempts.eq(event_deliveries::attempts + 1),
            event_deliveries::last_error.eq(None::<String>),
            event_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Publishing the event on `topic` failed; retry it at `retry_at`.
pub async fn mark_topic_failed(
    conn: &mut Conn<'_>,
    event_id: &str,
    topic: &str,
    error: &str,
    retry_at: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(event_deliveries::table)
        .values((
            event_deliveries::event_id.eq(event_id),
            event_deliveries::topic.eq(topic),
            event_deliveries::attempts.eq(1),
            event_deliveries::last_error.eq(Some(error)),
            event_deliveries::next_attempt_at.eq(Some(retry_at)),
        ))
        .on_conflict((event_deliveries::event_id, event_deliveries::topic))
        .do_update()
        .set((
            event_deliveries::attempts.eq(event_deliveries::attempts + 1),
            event_deliveries::last_error.eq(Some(error)),
            event_deliveries::next_attempt_at.eq(Some(retry_at)),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Records a consumed CloudEvent id; `false` if it was consumed before.
pub async fn mark_processed(
    conn: &mut Conn<'_>,
    id: &str,
    topic: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::insert_into(processed_events::table)
        .values((
            processed_events::id.eq(id),
            processed_events::topic.eq(topic),
            processed_events::received_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(|n| n == 1))
}

/// Deletes up to `limit` published events written before `before`, oldest
/// first (their delivery rows go with them); returns how many.
pub async fn delete_published_before(
    conn: &mut Conn<'_>,
    before: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    // Kept while an enabled webhook endpoint of the user still has to
    // deliver them.
    let undelivered = diesel::dsl::exists(
        webhook_endpoints::table
            .filter(webhook_endpoints::user_id.eq(events::user_id))
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(webhook_endpoints::delivered_seq.lt(events::seq)),
    );
    let ids: Vec<String> = db_run!(conn, |c| events::table
        .inner_join(users::table)
        .filter(events::created_at.lt(before))
        .filter(events::seq.le(users::published_seq))
        .filter(diesel::dsl::not(undelivered))
        .order(events::created_at.asc())
        .select(events::id)
        .limit(limit)
        .load(c)
        .await)?;
    if ids.is_empty() {
        return Ok(0);
    }
    db_run!(conn, |c| diesel::delete(
        events::table.filter(events::id.eq_any(&ids))
    )
    .execute(c)
    .await)
}

/// Forgets up to `limit` consumed CloudEvent ids received before `before`.
pub async fn forget_processed_before(
    conn: &mut Conn<'_>,
    before: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = db_run!(conn, |c| processed_events::table
        .filter(processed_events::received_at.lt(before))
        .select(processed_events::id)
        .limit(limit)
        .load(c)
        .await)?;
    if ids.is_empty() {
        return Ok(0);
    }
    db_run!(conn, |c| diesel::delete(
        processed_events::table.filter(processed_events::id.eq_any(&ids))
    )
    .execute(c)
    .await)
}

/// The user's oldest event still in the log.
pub async fn oldest_seq(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<Option<i64>> {
    db_run!(conn, |c| events::table
        .filter(events::user_id.eq(user_id))
        .select(diesel::dsl::min(events::seq))
        .first(c)
        .await)
}
