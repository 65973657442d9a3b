//! Queries on `api_tokens`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::api_tokens;
use crate::db_run;

/// A row of `api_tokens`, exactly as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ApiTokenRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub scope: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub async fn insert(conn: &mut Conn<'_>, row: &ApiTokenRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(api_tokens::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// The token with this hash, revoked or not.
pub async fn by_hash(conn: &mut Conn<'_>, token_hash: &str) -> QueryResult<Option<ApiTokenRow>> {
    db_run!(conn, |c| api_tokens::table
        .filter(api_tokens::token_hash.eq(token_hash))
        .select(ApiTokenRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The user's tokens that are not revoked, oldest first.
pub async fn active_of(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<Vec<ApiTokenRow>> {
    db_run!(conn, |c| api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .order((api_tokens::created_at.asc(), api_tokens::id.asc()))
        .select(ApiTokenRow::as_select())
        .load(c)
        .await)
}

/// Revokes the user's token `id`; the row as it was, if it was active.
pub async fn revoke(
    conn: &mut Conn<'_>,
    user_id: &str,
    id: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<ApiTokenRow>> {
    db_run!(conn, |c| diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null())
    )
    .set(api_tokens::revoked_at.eq(Some(at)))
    .returning(ApiTokenRow::as_returning())
    .get_result(c)
    .await
    .optional())
}

/// Records a use of the token (callers do so at most about once a minute).
pub async fn used(conn: &mut Conn<'_>, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(Some(at)))
        .execute(c)
        .await
        .map(drop))
}
