//! Queries on `tasks` and the tag names attached to them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::{tags, task_tags, tasks};
use super::stamp::{MaybeStamp, Stamp};
use crate::db_run;
use crate::domain::fold_case;
use crate::domain::query::{SortBy, SortOrder, Status, TaskQuery};
use crate::domain::tag::TagName;
use crate::domain::task::{Priority, RecurrenceMode, Task, TaskFields, TaskId};
use crate::domain::time::to_utc;
use crate::error::AppError;

/// A row of `tasks`, exactly as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tasks)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct TaskRow {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub title_key: String,
    pub description: Option<String>,
    pub search_key: String,
    pub tag_keys: String,
    pub completed: bool,
    #[diesel(deserialize_as = MaybeStamp)]
    pub completed_at: Option<NaiveDateTime>,
    pub priority: i16,
    #[diesel(deserialize_as = MaybeStamp)]
    pub due_at: Option<NaiveDateTime>,
    pub recurrence_pattern: Option<String>,
    pub recurrence_mode: String,
    #[diesel(deserialize_as = MaybeStamp)]
    pub recurrence_end_date: Option<NaiveDateTime>,
    pub reminder_offset_minutes: Option<i32>,
    pub parent_task_id: Option<String>,
    pub occurrence: i32,
    /// This occurrence has made its successor (kept when the successor is
    /// deleted, so a replayed completion cannot make another).
    pub successor_created: bool,
    pub version: i32,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

impl TaskRow {
    /// A new task's row: version 1, created now.
    pub fn new(
        id: TaskId,
        user_id: &str,
        fields: &TaskFields,
        parent: Option<TaskId>,
        at: NaiveDateTime,
    ) -> Self {
        let t = at;
        let mut row = Self {
            id: id.to_string(),
            user_id: user_id.to_owned(),
            title: String::new(),
            title_key: String::new(),
            description: None,
            search_key: String::new(),
            tag_keys: String::new(),
            completed: false,
            completed_at: None,
            priority: 0,
            due_at: None,
            recurrence_pattern: None,
            recurrence_mode: RecurrenceMode::Due.as_str().to_owned(),
            recurrence_end_date: None,
            reminder_offset_minutes: None,
            parent_task_id: parent.map(|p| p.to_string()),
            occurrence: 1,
            successor_created: false,
            version: 1,
            created_at: t,
            updated_at: t,
        };
        row.assign(fields, t);
        row
    }

    /// Writes `fields` into the row; completion keeps its first timestamp.
    pub fn assign(&mut self, f: &TaskFields, at: NaiveDateTime) {
        self.title = f.title.clone();
        self.title_key = f.title_key();
        self.description = f.description.clone();
        self.search_key = f.search_key();
        self.tag_keys = tag_keys(f.tags.iter().map(TagName::key));
        if f.completed != self.completed || (f.completed && self.completed_at.is_none()) {
            self.completed_at = f.completed.then_some(at);
        }
        self.completed = f.completed;
        self.priority = f.priority.rank();
        self.due_at = f.due_at;
        self.recurrence_pattern = f.recurrence.as_ref().map(|r| r.as_str().to_owned());
        self.recurrence_mode = f.recurrence_mode.as_str().to_owned();
        self.recurrence_end_date = f.recurrence_end_date;
        self.reminder_offset_minutes = f.reminder_offset_minutes;
    }

    /// The API view, given the task's tag names.
    pub fn into_task(self, tags: Vec<String>) -> Result<Task, AppError> {
        TaskView::from(self).into_task(tags)
    }
}

/// The columns of a task the API shows: what a list reads (the search and
/// sort keys, the biggest columns, stay in the database).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tasks)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct TaskView {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[diesel(deserialize_as = MaybeStamp)]
    pub completed_at: Option<NaiveDateTime>,
    pub priority: i16,
    #[diesel(deserialize_as = MaybeStamp)]
    pub due_at: Option<NaiveDateTime>,
    pub recurrence_pattern: Option<String>,
    pub recurrence_mode: String,
    #[diesel(deserialize_as = MaybeStamp)]
    pub recurrence_end_date: Option<NaiveDateTime>,
    pub reminder_offset_minutes: Option<i32>,
    pub parent_task_id: Option<String>,
    pub version: i32,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

impl From<TaskRow> for TaskView {
    fn from(row: TaskRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            title: row.title,
            description: row.description,
            completed: row.completed,
            completed_at: row.completed_at,
            priority: row.priority,
            due_at: row.due_at,
            recurrence_pattern: row.recurrence_pattern,
            recurrence_mode: row.recurrence_mode,
            recurrence_end_date: row.recurrence_end_date,
            reminder_offset_minutes: row.reminder_offset_minutes,
            parent_task_id: row.parent_task_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl TaskView {
    /// The API view, given the task's tag names.
    pub fn into_task(self, mut tags: Vec<String>) -> Result<Task, AppError> {
        let uuid = |s: &str| uuid::Uuid::parse_str(s).map_err(AppError::internal);
        tags.sort_by_cached_key(|t| t.to_lowercase());
        Ok(Task {
            id: uuid(&self.id)?,
            user_id: self.user_id,
            title: self.title,
            description: self.description,
            completed: self.completed,
            completed_at: self.completed_at.map(to_utc),
            priority: Priority::from_rank(self.priority),
            due_at: self.due_at.map(to_utc),
            tags,
            recurrence_pattern: self.recurrence_pattern,
            recurrence_mode: self.recurrence_mode.parse().unwrap_or_default(),
            recurrence_end_date: self.recurrence_end_date.map(to_utc),
            reminder_offset_minutes: self.reminder_offset_minutes,
            parent_task_id: self.parent_task_id.as_deref().map(uuid).transpose()?,
            version: self.version,
            created_at: to_utc(self.created_at),
            updated_at: to_utc(self.updated_at),
        })
    }
}

pub async fn insert(conn: &mut Conn<'_>, row: &TaskRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(tasks::table)
        .values(row)
        .execute(c)
        .await
        .map(drop))
}

/// The user's task, or `None` (also when it belongs to someone else).
pub async fn find(conn: &mut Conn<'_>, user_id: &str, id: TaskId) -> QueryResult<Option<TaskRow>> {
    let id = id.to_string();
    db_run!(conn, |c| tasks::table
        .filter(tasks::id.eq(&id))
        .filter(tasks::user_id.eq(user_id))
        .select(TaskRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Like [`find`], locking the row until the transaction ends (PostgreSQL;
/// SQLite's write transactions already hold the database lock).
pub async fn find_for_update(
    conn: &mut Conn<'_>,
    user_id: &str,
    id: TaskId,
) -> QueryResult<Option<TaskRow>> {
    let id = id.to_string();
    macro_rules! query {
        () => {
            tasks::table
                .filter(tasks::id.eq(&id))
                .filter(tasks::user_id.eq(user_id))
                .select(TaskRow::as_select())
        };
    }
    match conn {
        Conn::Pg(c) => query!().for_update().first(*c).await.optional(),
        Conn::Sqlite(c) => query!().first(*c).await.optional(),
    }
}

/// The tasks with these ids, ordered by id (callers pair them up by order).
pub async fn find_many(conn: &mut Conn<'_>, ids: &[String]) -> QueryResult<Vec<TaskRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| tasks::table
        .filter(tasks::id.eq_any(ids))
        .order(tasks::id.asc())
        .select(TaskRow::as_select())
        .load(c)
        .await)
}

/// Inserts the successor of a recurring task; `false` if that task already
/// has one (the unique index on `parent_task_id` decides, also in a race).
pub async fn insert_successor(conn: &mut Conn<'_>, row: &TaskRow) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::insert_into(tasks::table)
        .values(row)
        .on_conflict(tasks::parent_task_id)
        .do_nothing()
        .execute(c)
        .await
        .map(|n| n == 1))
}

/// Records that the task has made its successor.
pub async fn mark_successor_created(conn: &mut Conn<'_>, id: &str) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(tasks::table.find(id))
        .set(tasks::successor_created.eq(true))
        .execute(c)
        .await
        .map(drop))
}

/// Replaces the stored row with `row` (same id).
pub async fn update(conn: &mut Conn<'_>, row: &TaskRow) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(tasks::table.find(&row.id))
        .set(row)
        .execute(c)
        .await
        .map(drop))
}

pub async fn delete(conn: &mut Conn<'_>, id: &str) -> QueryResult<()> {
    db_run!(conn, |c| diesel::delete(tasks::table.find(id))
        .execute(c)
        .await
        .map(drop))
}

/// The user's completed tasks, oldest first.
pub async fn completed(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<Vec<TaskRow>> {
    db_run!(conn, |c| tasks::table
        .filter(tasks::user_id.eq(user_id))
        .filter(tasks::completed.eq(true))
        .order(tasks::created_at.asc())
        .select(TaskRow::as_select())
        .load(c)
        .await)
}

/// `(task id, tag name)` of the given tasks.
macro_rules! tag_pairs {
    ($ids:expr) => {
        task_tags::table
            .inner_join(tags::table)
            .filter(task_tags::task_id.eq_any($ids))
            .select((task_tags::task_id, tags::name))
    };
}

/// Tag names of each of the given tasks.
pub async fn tag_names(
    conn: &mut Conn<'_>,
    task_ids: &[String],
) -> QueryResult<HashMap<String, Vec<String>>> {
    if task_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pairs: Vec<(String, String)> = db_run!(conn, |c| tag_pairs!(task_ids).load(c).await)?;
    Ok(by_task(pairs))
}

fn by_task(pairs: Vec<(String, String)>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (task, name) in pairs {
        out.entry(task).or_default().push(name);
    }
    out
}

/// The rows as tasks, each with its tag names from `names`.
fn assemble(
    rows: Vec<TaskView>,
    mut names: HashMap<String, Vec<String>>,
) -> Result<Vec<Task>, AppError> {
    rows.into_iter()
        .map(|r| {
            let tags = names.remove(&r.id).unwrap_or_default();
            r.into_task(tags)
        })
        .collect()
}

/// Loads tasks with their tags, in the order given.
pub async fn with_tags(conn: &mut Conn<'_>, rows: Vec<TaskRow>) -> Result<Vec<Task>, AppError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let names = tag_names(conn, &ids).await?;
    assemble(rows.into_iter().map(TaskView::from).collect(), names)
}

/// One task with its tags.
pub async fn load(conn: &mut Conn<'_>, row: TaskRow) -> Result<Task, AppError> {
    let mut tasks = with_tags(conn, vec![row]).await?;
    tasks.pop().ok_or(AppError::NotFound("task"))
}

/// The `WHERE` clause of a list query, as a boxed query for the backend of
/// `$c` (a macro because diesel's boxed query type names backend-private
/// bounds that a generic function cannot spell).
macro_rules! filtered {
    ($user:expr, $q:expr) => {{
        let q: &TaskQuery = $q;
        let mut query = tasks::table.filter(tasks::user_id.eq($user)).into_boxed();
        match q.status {
            Status::All => {}
            Status::Pending => query = query.filter(tasks::completed.eq(false)),
            Status::Completed => query = query.filter(tasks::completed.eq(true)),
        }
        if let Some(search) = &q.search {
            query = query.filter(tasks::search_key.like(like_pattern(search)).escape('\\'));
        }
        if !q.priorities.is_empty() {
            query = query.filter(
                tasks::priority.eq_any(q.priorities.iter().map(|p| p.rank()).collect::<Vec<_>>()),
            );
        }
        for tag in &q.tags {
            query = query.filter(tasks::tag_keys.like(tag_pattern(tag)).escape('\\'));
        }
        if let Some(start) = q.due_start {
            query = query.filter(tasks::due_at.ge(start));
        }
        if let Some(end) = q.due_end {
            query = query.filter(tasks::due_at.le(end));
        }
        query
    }};
}

/// The page `q` asks for: [`filtered!`], ordered and limited, selecting
/// whole rows.
macro_rules! page {
    ($user:expr, $q:expr) => {{
        let q: &TaskQuery = $q;
        let mut query = filtered!($user, q);
        let asc = q.sort_order == SortOrder::Asc;
        query = match (q.sort_by, asc) {
            (SortBy::CreatedAt, true) => query.order_by(tasks::created_at.asc()),
            (SortBy::CreatedAt, false) => query.order_by(tasks::created_at.desc()),
            (SortBy::UpdatedAt, true) => query.order_by(tasks::updated_at.asc()),
            (SortBy::UpdatedAt, false) => query.order_by(tasks::updated_at.desc()),
            // Tasks without a due date go last in both directions.
            (SortBy::DueAt, true) => query
                .order_by(tasks::due_at.is_null().asc())
                .then_order_by(tasks::due_at.asc()),
            (SortBy::DueAt, false) => query
                .order_by(tasks::due_at.is_null().asc())
                .then_order_by(tasks::due_at.desc()),
            (SortBy::Priority, true) => query.order_by(tasks::priority.asc()),
            (SortBy::Priority, false) => query.order_by(tasks::priority.desc()),
            (SortBy::Title, true) => query.order_by(tasks::title_key.asc()),
            (SortBy::Title, false) => query.order_by(tasks::title_key.desc()),
        };
        // Ids are UUID v7 (time-ordered): a stable tie-break for paging.
        query = if asc {
            query.then_order_by(tasks::id.asc())
        } else {
            query.then_order_by(tasks::id.desc())
        };
        query
            .limit(q.limit)
            .offset(q.offset)
            .select(TaskView::as_select())
    }};
}

/// One page of the user's tasks matching `q`, with their tags, and how many
/// match in all.
///
/// On SQLite the three queries run in one call on the connection's thread,
/// with rows decoded where SQLite hands them out: each query through the
/// async wrapper would be a thread hop of its own and would copy every
/// value of every row first.
pub async fn list(
    conn: &mut Conn<'_>,
    user_id: &str,
    q: &TaskQuery,
) -> Result<(Vec<Task>, i64), AppError> {
    let (rows, pairs, total) = match conn {
        Conn::Pg(c) => {
            let c: &mut diesel_async::AsyncPgConnection = c;
            let total: i64 = filtered!(user_id, q).count().get_result(c).await?;
            if total <= q.offset {
                return Ok((Vec::new(), total));
            }
            let rows: Vec<TaskView> = page!(user_id, q).load(c).await?;
            let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            let pairs: Vec<(String, String)> = tag_pairs!(&ids).load(c).await?;
            (rows, pairs, total)
        }
        Conn::Sqlite(c) => {
            let (user, q) = (user_id.to_owned(), q.clone());
            c.spawn_blocking(move |c| sync::list(c, &user, &q)).await?
        }
    };
    Ok((assemble(rows, by_task(pairs))?, total))
}

/// The SQLite side of [`list`], with diesel's synchronous API on the
/// connection's own thread.
mod sync {
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    use super::{TaskView, like_pattern, tag_pattern};
    use crate::db::schema::{tags, task_tags, tasks};
    use crate::domain::query::{SortBy, SortOrder, Status, TaskQuery};

    type Page = (Vec<TaskView>, Vec<(String, String)>, i64);

    pub(super) fn list(c: &mut SqliteConnection, user: &str, q: &TaskQuery) -> QueryResult<Page> {
        let total: i64 = filtered!(user, q).count().get_result(c)?;
        if total <= q.offset {
            return Ok((Vec::new(), Vec::new(), total));
        }
        let rows: Vec<TaskView> = page!(user, q).load(c)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let pairs = tag_pairs!(&ids).load(c)?;
        Ok((rows, pairs, total))
    }
}

/// `%needle%` with LIKE's wildcards escaped.
fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// The `tag_keys` column: case-folded tag names, sorted, as `|a|b|` (empty
/// without tags), so "carries tag x" is `LIKE '%|x|%'` on one row.
pub fn tag_keys<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let mut keys: Vec<&str> = keys.collect();
    if keys.is_empty() {
        return String::new();
    }
    keys.sort_unstable();
    format!("|{}|", keys.join("|"))
}

fn tag_pattern(key: &str) -> String {
    like_pattern(&format!("|{key}|"))
}

/// Re-reads the tags of the given tasks into their `tag_keys` and gives each
/// a new version (a tag of theirs was renamed or deleted).
pub async fn touch(conn: &mut Conn<'_>, ids: &[String], at: NaiveDateTime) -> QueryResult<()> {
    let names = tag_names(conn, ids).await?;
    let t = at;
    for id in ids {
        let folded: Vec<String> = names
            .get(id)
            .into_iter()
            .flatten()
            .map(|n| fold_case(n))
            .collect();
        let keys = tag_keys(folded.iter().map(String::as_str));
        db_run!(conn, |c| diesel::update(tasks::table.find(id))
            .set((
                tasks::version.eq(tasks::version + 1),
                tasks::updated_at.eq(t),
                tasks::tag_keys.eq(&keys),
            ))
            .execute(c)
            .await)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tag_keys_are_sorted_and_delimited() {
        assert_eq!(super::tag_keys(["work", "home"].into_iter()), "|home|work|");
        assert_eq!(super::tag_keys(std::iter::empty()), "");
        assert_eq!(super::tag_pattern("50%"), "%|50\\%|%");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
