//! Queries on `reminders`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::reminders;
use crate::db_run;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reminders)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ReminderRow {
    pub id: String,
    pub task_id: String,
    pub user_id: String,
    pub remind_at: NaiveDateTime,
    pub state: String,
    pub fired_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const CANCELLED: &str = "cancelled";

impl ReminderRow {
    pub fn new(task_id: &str, user_id: &str, remind_at: NaiveDateTime, at: NaiveDateTime) -> Self {
        let t = at;
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            task_id: task_id.to_owned(),
            user_id: user_id.to_owned(),
            remind_at,
            state: PENDING.to_owned(),
            fired_at: None,
            created_at: t,
            updated_at: t,
        }
    }
}

pub async fn insert(conn: &mut Conn<'_>, row: &ReminderRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(reminders::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// The task's pending reminder, if any.
pub async fn pending_of(conn: &mut Conn<'_>, task_id: &str) -> QueryResult<Option<ReminderRow>> {
    db_run!(conn, |c| reminders::table
        .filter(reminders::task_id.eq(task_id))
        .filter(reminders::state.eq(PENDING))
        .select(ReminderRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn reschedule(
    conn: &mut Conn<'_>,
    id: &str,
    remind_at: NaiveDateTime,
    at: NaiveDateTime,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(reminders::table.find(id))
        .set((
            reminders::remind_at.eq(remind_at),
            reminders::updated_at.eq(at)
        ))
        .execute(c)
        .await
        .map(drop))
}

pub async fn cancel(conn: &mut Conn<'_>, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::state.eq(PENDING))
    )
    .set((reminders::state.eq(CANCELLED), reminders::updated_at.eq(at)))
    .execute(c)
    .await
    .map(drop))
}

/// The user's reminders in `state` (all when `None`), soonest first.
pub async fn list(
    conn: &mut Conn<'_>,
    user_id: &str,
    state: Option<&str>,
) -> QueryResult<Vec<ReminderRow>> {
    let state = state.map(str::to_owned);
    db_run!(conn, |c| {
        let mut query = reminders::table
            .filter(reminders::user_id.eq(user_id))
            .into_boxed();
        if let Some(state) = &state {
            query = query.filter(reminders::state.eq(state.clone()));
        }
        query
            .order((reminders::remind_at.asc(), reminders::id.asc()))
            .limit(1000)
            .select(ReminderRow::as_select())
            .load(c)
            .await
    })
}

/// A pending reminder by id.
pub async fn pending_by_id(conn: &mut Conn<'_>, id: &str) -> QueryResult<Option<ReminderRow>> {
    db_run!(conn, |c| reminders::table
        .find(id)
        .filter(reminders::state.eq(PENDING))
        .select(ReminderRow::as_select())
        .first(c)
        .await
        .optional())
}

/// When the soonest pending reminder is due (any user, any instance).
pub async fn next_due(conn: &mut Conn<'_>) -> QueryResult<Option<NaiveDateTime>> {
    db_run!(conn, |c| reminders::table
        .filter(reminders::state.eq(PENDING))
        .select(diesel::dsl::min(reminders::remind_at))
        .first(c)
        .await)
}

/// Pending reminders due by `at`, soonest first.
pub async fn due_by(
    conn: &mut Conn<'_>,
    at: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ReminderRow>> {
    db_run!(conn, |c| reminders::table
        .filter(reminders::state.eq(PENDING))
        .filter(reminders::remind_at.le(at))
        .order(reminders::remind_at.asc())
        .limit(limit)
        .select(ReminderRow::as_select())
        .load(c)
        .await)
}

/// Claims a due reminder for firing: `true` for exactly one caller, however
/// many instances try (the update is conditional on it still pending).
pub async fn claim(conn: &mut Conn<'_>, id: &str, fired_at: NaiveDateTime) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::state.eq(PENDING))
    )
    .set((
        reminders::state.eq(SENT),
        reminders::fired_at.eq(Some(fired_at)),
        reminders::updated_at.eq(fired_at)
    ))
    .execute(c)
    .await
    .map(|n| n == 1))
}
