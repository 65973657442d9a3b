//! Task use cases: create, read, list, replace, patch, complete, uncomplete,
//! delete, clear completed, and attaching or detaching tags.

use serde::Serialize;
use utoipa::ToSchema;

use super::{check_version, user_tz};
use crate::db::tasks::TaskRow;
use crate::db::{self, Conn, now};
use crate::domain::query::TaskQuery;
use crate::domain::tag::{MAX_TAGS_PER_TASK, TagName};
use crate::domain::task::{Task, TaskFields, TaskId, TaskInput, TaskPatch};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::state::AppState;
use crate::transaction;

/// One page of tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// How many tasks match, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

const NOT_FOUND: AppError = AppError::NotFound("task");

pub async fn create(state: &AppState, user: &UserId, input: TaskInput) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let fields = input.validate(user_tz(conn, user).await?)?;
        db::users::ensure(conn, user.as_str()).await?;
        let row = TaskRow::new(TaskId::generate(), user.as_str(), &fields, None);
        db::tasks::insert(conn, &row).await?;
        set_tags(conn, user, &row.id, &fields.tags).await?;
        db::tasks::load(conn, row).await
    })
}

pub async fn get(state: &AppState, user: &UserId, id: TaskId) -> Result<Task, AppError> {
    let mut pooled = state.db.get().await?;
    let conn = &mut pooled.conn();
    let row = db::tasks::find(conn, user.as_str(), id)
        .await?
        .ok_or(NOT_FOUND)?;
    db::tasks::load(conn, row).await
}

/// Parses the raw query string pairs (dates in the user's zone) and lists.
pub async fn list(
    state: &AppState,
    user: &UserId,
    pairs: &[(String, String)],
) -> Result<TaskPage, AppError> {
    let mut pooled = state.db.get().await?;
    let conn = &mut pooled.conn();
    let query = TaskQuery::parse(pairs, user_tz(conn, user).await?)?;
    let (rows, total) = db::tasks::list(conn, user.as_str(), &query).await?;
    let items = db::tasks::with_tags(conn, rows).await?;
    Ok(TaskPage {
        items,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// PUT: every editable field is replaced; absent optional fields reset.
pub async fn replace(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    input: TaskInput,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, if_match).await?;
        let fields = input.validate(user_tz(conn, user).await?)?;
        save(conn, user, row, &fields).await
    })
}

/// PATCH: only the fields given change.
pub async fn patch(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    patch: TaskPatch,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, if_match).await?;
        let current = db::tasks::load(conn, row.clone()).await?;
        let fields = patch.apply(current.fields(), user_tz(conn, user).await?)?;
        save(conn, user, row, &fields).await
    })
}

/// Marks the task completed; completing a completed task changes nothing.
pub async fn complete(state: &AppState, user: &UserId, id: TaskId) -> Result<Task, AppError> {
    set_completed(state, user, id, true).await
}

/// Marks the task pending again; a pending task is left as it is.
pub async fn uncomplete(state: &AppState, user: &UserId, id: TaskId) -> Result<Task, AppError> {
    set_completed(state, user, id, false).await
}

async fn set_completed(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    completed: bool,
) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, None).await?;
        let current = db::tasks::load(conn, row.clone()).await?;
        if current.completed == completed {
            return Ok(current);
        }
        let mut fields = current.fields();
        fields.completed = completed;
        save(conn, user, row, &fields).await
    })
}

/// Deletes the task; returns its last state.
pub async fn delete(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, if_match).await?;
        let last = db::tasks::load(conn, row).await?;
        db::tasks::delete(conn, &last.id.to_string()).await?;
        Ok(last)
    })
}

/// Deletes all the user's completed tasks; returns how many.
pub async fn clear_completed(state: &AppState, user: &UserId) -> Result<usize, AppError> {
    transaction!(state.db, |conn| {
        let rows = db::tasks::completed(conn, user.as_str()).await?;
        for row in &rows {
            db::tasks::delete(conn, &row.id).await?;
        }
        Ok(rows.len())
    })
}

/// Attaches a tag by name, creating the tag if the user has none of that name.
pub async fn add_tag(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    tag: &str,
) -> Result<Task, AppError> {
    let name = TagName::parse(tag).map_err(|why| AppError::invalid("tag", why))?;
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, None).await?;
        let current = db::tasks::load(conn, row.clone()).await?;
        let mut fields = current.fields();
        if fields.tags.iter().any(|t| t.key() == name.key()) {
            return Ok(current);
        }
        if fields.tags.len() >= MAX_TAGS_PER_TASK {
            return Err(AppError::conflict(
                "too_many_tags",
                format!("a task has at most {MAX_TAGS_PER_TASK} tags"),
            ));
        }
        fields.tags.push(name.clone());
        save(conn, user, row, &fields).await
    })
}

/// Detaches a tag; detaching one the task does not carry changes nothing.
pub async fn remove_tag(
    state: &AppState,
    user: &UserId,
    id: TaskId,
    tag_id: &str,
) -> Result<Task, AppError> {
    transaction!(state.db, |conn| {
        let row = locked(conn, user, id, None).await?;
        let tag = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(AppError::NotFound("tag"))?;
        let current = db::tasks::load(conn, row.clone()).await?;
        let mut fields = current.fields();
        let before = fields.tags.len();
        fields.tags.retain(|t| t.key() != tag.name_key);
        if fields.tags.len() == before {
            return Ok(current);
        }
        save(conn, user, row, &fields).await
    })
}

/// The user's task, locked for the rest of the transaction, at the version
/// the client expects.
async fn locked(
    conn: &mut Conn<'_>,
    user: &UserId,
    id: TaskId,
    if_match: Option<i32>,
) -> Result<TaskRow, AppError> {
    let row = db::tasks::find_for_update(conn, user.as_str(), id)
        .await?
        .ok_or(NOT_FOUND)?;
    check_version(if_match, row.version)?;
    Ok(row)
}

/// Writes new fields into an existing task: one more version.
async fn save(
    conn: &mut Conn<'_>,
    user: &UserId,
    mut row: TaskRow,
    fields: &TaskFields,
) -> Result<Task, AppError> {
    let t = now();
    row.assign(fields, t);
    row.version += 1;
    row.updated_at = t;
    db::tasks::update(conn, &row).await?;
    set_tags(conn, user, &row.id, &fields.tags).await?;
    db::tasks::load(conn, row).await
}

async fn set_tags(
    conn: &mut Conn<'_>,
    user: &UserId,
    task_id: &str,
    names: &[TagName],
) -> Result<(), AppError> {
    let tags = db::tags::ensure(conn, user.as_str(), names).await?;
    let ids: Vec<String> = tags.into_iter().map(|t| t.id).collect();
    db::tags::set_for_task(conn, task_id, &ids).await?;
    Ok(())
}
