//! Leases in `relay_leases`: a named right held by one instance until it
//! expires, taken over by another once it has. The publisher's shards and
//! its replicas' membership are leases.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::relay_leases;
use super::{Conn, now};
use crate::db_run;

/// When a free lease "expired": long ago.
fn long_ago() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

/// Makes sure these leases exist (free ones are created expired).
pub async fn ensure(conn: &mut Conn<'_>, names: &[String]) -> QueryResult<()> {
    // One row at a time: SQLite takes no batch insert with ON CONFLICT.
    for name in names {
        db_run!(conn, |c| diesel::insert_into(relay_leases::table)
            .values((
                relay_leases::name.eq(name),
                relay_leases::holder.eq(""),
                relay_leases::expires_at.eq(long_ago()),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// Takes or renews the lease `name` for `holder` until `until`, creating it
/// first if it does not exist yet; `true` when `holder` has it.
pub async fn acquire(
    conn: &mut Conn<'_>,
    name: &str,
    holder: &str,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    ensure(conn, &[name.to_owned()]).await?;
    take(conn, name, holder, until).await
}

/// Takes or renews the existing lease `name` for `holder` until `until`;
/// `true` when `holder` has it (it was free, expired, or already ours),
/// `false` when another instance holds it.
pub async fn take(
    conn: &mut Conn<'_>,
    name: &str,
    holder: &str,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let t = now();
    let taken = db_run!(conn, |c| diesel::update(
        relay_leases::table
            .filter(relay_leases::name.eq(name))
            .filter(
                relay_leases::holder
                    .eq(holder)
                    .or(relay_leases::expires_at.lt(t))
            )
    )
    .set((
        relay_leases::holder.eq(holder),
        relay_leases::expires_at.eq(until)
    ))
    .execute(c)
    .await)?;
    Ok(taken == 1)
}

/// Renews every unexpired lease named `{prefix}…` that `holder` has, until
/// `until`; returns their names.
pub async fn renew_held(
    conn: &mut Conn<'_>,
    prefix: &str,
    holder: &str,
    until: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let t = now();
    db_run!(conn, |c| diesel::update(
        relay_leases::table
            .filter(relay_leases::name.like(format!("{prefix}%")))
            .filter(relay_leases::holder.eq(holder))
            .filter(relay_leases::expires_at.ge(t))
    )
    .set(relay_leases::expires_at.eq(until))
    .returning(relay_leases::name)
    .get_results(c)
    .await)
}

/// Names of leases `{prefix}…` that nobody holds (expired), at most `limit`.
pub async fn free(conn: &mut Conn<'_>, prefix: &str, limit: i64) -> QueryResult<Vec<String>> {
    let t = now();
    db_run!(conn, |c| relay_leases::table
        .filter(relay_leases::name.like(format!("{prefix}%")))
        .filter(relay_leases::expires_at.lt(t))
        .order(relay_leases::name.asc())
        .select(relay_leases::name)
        .limit(limit)
        .load(c)
        .await)
}

/// How many leases `{prefix}…` are held (unexpired).
pub async fn held_count(conn: &mut Conn<'_>, prefix: &str) -> QueryResult<i64> {
    let t = now();
    db_run!(conn, |c| relay_leases::table
        .filter(relay_leases::name.like(format!("{prefix}%")))
        .filter(relay_leases::expires_at.ge(t))
        .count()
        .get_result(c)
        .await)
}

/// Who holds the lease `name` now, if anyone.
pub async fn holder(conn: &mut Conn<'_>, name: &str) -> QueryResult<Option<String>> {
    let t = now();
    db_run!(conn, |c| relay_leases::table
        .filter(relay_leases::name.eq(name))
        .filter(relay_leases::expires_at.ge(t))
        .select(relay_leases::holder)
        .first(c)
        .await
        .optional())
}

/// Gives these leases up, so another instance need not wait for them to
/// expire.
pub async fn release(conn: &mut Conn<'_>, names: &[String], holder: &str) -> QueryResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    db_run!(conn, |c| diesel::update(
        relay_leases::table
            .filter(relay_leases::name.eq_any(names))
            .filter(relay_leases::holder.eq(holder))
    )
    .set((
        relay_leases::holder.eq(""),
        relay_leases::expires_at.eq(long_ago())
    ))
    .execute(c)
    .await
    .map(drop))
}
