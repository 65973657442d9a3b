//! Queries on `users`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::users;
use crate::db_run;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct UserRow {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub timezone: String,
    pub last_event_seq: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// Tokens of an earlier epoch are refused ("log out everywhere").
    pub token_epoch: i64,
    /// External tokens issued before this instant are refused.
    pub tokens_valid_after: Option<chrono::NaiveDateTime>,
}

impl UserRow {
    /// A row for a user created by signing up or on first use of an
    /// external token.
    pub fn new(
        id: &str,
        email: Option<&str>,
        name: Option<String>,
        password_hash: Option<String>,
        timezone: &str,
        at: chrono::NaiveDateTime,
    ) -> Self {
        let t = at;
        Self {
            id: id.to_owned(),
            email: email.map(str::to_owned),
            name,
            password_hash,
            timezone: timezone.to_owned(),
            last_event_seq: 0,
            created_at: t,
            updated_at: t,
            token_epoch: 0,
            tokens_valid_after: None,
        }
    }
}

pub async fn insert(conn: &mut Conn<'_>, row: &UserRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(users::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// Creates the row of an externally authenticated user unless it exists.
pub async fn ensure(conn: &mut Conn<'_>, id: &str, at: chrono::NaiveDateTime) -> QueryResult<()> {
    let row = UserRow::new(id, None, None, None, "UTC", at);
    db_run!(conn, |c| diesel::insert_into(users::table)
        .values(&row)
        .on_conflict(users::id)
        .do_nothing()
        .execute(c)
        .await
        .map(drop))
}

pub async fn find(conn: &mut Conn<'_>, id: &str) -> QueryResult<Option<UserRow>> {
    db_run!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn find_by_email(conn: &mut Conn<'_>, email: &str) -> QueryResult<Option<UserRow>> {
    db_run!(conn, |c| users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The user's IANA time zone name, or `None` when the user has no row yet.
pub async fn timezone(conn: &mut Conn<'_>, id: &str) -> QueryResult<Option<String>> {
    db_run!(conn, |c| users::table
        .find(id)
        .select(users::timezone)
        .first(c)
        .await
        .optional())
}

pub async fn update_profile(
    conn: &mut Conn<'_>,
    id: &str,
    name: Option<Option<String>>,
    timezone: Option<String>,
    at: chrono::NaiveDateTime,
) -> QueryResult<UserRow> {
    let current = find(conn, id)
        .await?
        .ok_or(diesel::result::Error::NotFound)?;
    let name = name.unwrap_or(current.name);
    let timezone = timezone.unwrap_or(current.timezone);
    let t = at;
    db_run!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::name.eq(&name),
            users::timezone.eq(&timezone),
            users::updated_at.eq(t)
        ))
        .returning(UserRow::as_returning())
        .get_result(c)
        .await)
}

/// Where a user's tokens stand: the current epoch and the instant external
/// tokens must be newer than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEpoch {
    pub epoch: i64,
    pub valid_after: Option<chrono::NaiveDateTime>,
}

/// The user's token epoch (`None`: no row yet, nothing revoked) and whether
/// the token with this hash was revoked, in one round trip.
pub async fn token_state(
    conn: &mut Conn<'_>,
    id: &str,
    token_hash: &str,
) -> QueryResult<(Option<TokenEpoch>, bool)> {
    use super::schema::revoked_tokens;
    let revoked = || {
        diesel::dsl::exists(revoked_tokens::table.filter(revoked_tokens::token_hash.eq(token_hash)))
    };
    let row: Option<(i64, Option<chrono::NaiveDateTime>, bool)> = db_run!(conn, |c| users::table
        .find(id)
        .select((users::token_epoch, users::tokens_valid_after, revoked()))
        .first(c)
        .await
        .optional())?;
    match row {
        Some((epoch, valid_after, revoked)) => {
            Ok((Some(TokenEpoch { epoch, valid_after }), revoked))
        }
        None => {
            let revoked = db_run!(conn, |c| diesel::select(revoked()).get_result(c).await)?;
            Ok((None, revoked))
        }
    }
}

/// Ends every token issued so far: the next epoch, and external tokens must
/// be newer than `at`. Returns the new state.
pub async fn next_token_epoch(
    conn: &mut Conn<'_>,
    id: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<TokenEpoch> {
    let (epoch, valid_after) = db_run!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::token_epoch.eq(users::token_epoch + 1),
            users::tokens_valid_after.eq(Some(at)),
        ))
        .returning((users::token_epoch, users::tokens_valid_after))
        .get_result::<(i64, Option<chrono::NaiveDateTime>)>(c)
        .await)?;
    Ok(TokenEpoch { epoch, valid_after })
}

/// Users who logged out everywhere after `since`, with their new state.
pub async fn epochs_changed_since(
    conn: &mut Conn<'_>,
    since: chrono::NaiveDateTime,
) -> QueryResult<Vec<(String, TokenEpoch)>> {
    let rows: Vec<(String, i64, Option<chrono::NaiveDateTime>)> = db_run!(conn, |c| users::table
        .filter(users::tokens_valid_after.gt(since))
        .select((users::id, users::token_epoch, users::tokens_valid_after))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, epoch, valid_after)| (id, TokenEpoch { epoch, valid_after }))
        .collect())
}

/// Remembers a revoked token until it would have expired; `false` if it
/// was revoked already.
pub async fn revoke_token(
    conn: &mut Conn<'_>,
    token_hash: &str,
    user_id: &str,
    expires_at: chrono::NaiveDateTime,
    at: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    use super::schema::revoked_tokens;
    db_run!(conn, |c| diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::token_hash.eq(token_hash),
            revoked_tokens::user_id.eq(user_id),
            revoked_tokens::expires_at.eq(expires_at),
            revoked_tokens::revoked_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(|n| n == 1))
}

/// Tokens revoked after `since`: (user, token hash).
pub async fn tokens_revoked_since(
    conn: &mut Conn<'_>,
    since: chrono::NaiveDateTime,
) -> QueryResult<Vec<(String, String)>> {
    use super::schema::revoked_tokens;
    db_run!(conn, |c| revoked_tokens::table
        .filter(revoked_tokens::revoked_at.gt(since))
        .select((revoked_tokens::user_id, revoked_tokens::token_hash))
        .load(c)
        .await)
}

/// Forgets revoked tokens that have expired by `now` (at most `limit`).
pub async fn forget_expired_tokens(
    conn: &mut Conn<'_>,
    now: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    use super::schema::revoked_tokens;
    let hashes: Vec<String> = db_run!(conn, |c| revoked_tokens::table
        .filter(revoked_tokens::expires_at.lt(now))
        .select(revoked_tokens::token_hash)
        .limit(limit)
        .load(c)
        .await)?;
    if hashes.is_empty() {
        return Ok(0);
    }
    db_run!(conn, |c| diesel::delete(
        revoked_tokens::table.filter(revoked_tokens::token_hash.eq_any(&hashes))
    )
    .execute(c)
    .await)
}
