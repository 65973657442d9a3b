//! Queries on `users`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::users;
use super::{Conn, now};
use crate::db_run;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
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
    ) -> Self {
        let t = now();
        Self {
            id: id.to_owned(),
            email: email.map(str::to_owned),
            name,
            password_hash,
            timezone: timezone.to_owned(),
            last_event_seq: 0,
            created_at: t,
            updated_at: t,
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
pub async fn ensure(conn: &mut Conn<'_>, id: &str) -> QueryResult<()> {
    let row = UserRow::new(id, None, None, None, "UTC");
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

/// The user's IANA time zone name; UTC for a user without a row yet.
pub async fn timezone(conn: &mut Conn<'_>, id: &str) -> QueryResult<String> {
    let tz: Option<String> = db_run!(conn, |c| users::table
        .find(id)
        .select(users::timezone)
        .first(c)
        .await
        .optional())?;
    Ok(tz.unwrap_or_else(|| "UTC".to_owned()))
}

pub async fn update_profile(
    conn: &mut Conn<'_>,
    id: &str,
    name: Option<Option<String>>,
    timezone: Option<String>,
) -> QueryResult<UserRow> {
    let current = find(conn, id)
        .await?
        .ok_or(diesel::result::Error::NotFound)?;
    let name = name.unwrap_or(current.name);
    let timezone = timezone.unwrap_or(current.timezone);
    let t = now();
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
