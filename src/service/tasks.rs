//! Task use cases: create, read, list, replace, patch, complete, uncomplete,
//! delete, clear completed, and attaching or detaching tags.
//!
//! Every mutation writes its domain event(s) into the event log inside its
//! transaction and hands them to the dispatcher only after commit: a
//! committed change always has its events, a rolled-back one never does.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Context;
use super::{check_version, ensure_user_tz, reminders, user_tz};
use crate::db::tasks::TaskRow;
use crate::db::{self, Conn, now};
use crate::domain::query::{TaskListParams, TaskQuery};
use crate::domain::quick_add::{self, QuickAddInput, QuickAddResult};
use crate::domain::recurrence::{Occurrence, next_due};
use crate::domain::tag::{MAX_TAGS_PER_TASK, TagName};
use crate::domain::task::{RecurrenceMode, Task, TaskFields, TaskId, TaskInput, TaskPatch};
use crate::domain::time::to_utc;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::{DomainEvent, Trace};
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

/// A tag to attach, by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRef {
    /// Tag name; created if the user has no tag of that name.
    #[schema(value_type = crate::domain::schema::TagName)]
    pub tag: String,
}

const NOT_FOUND: AppError = AppError::NotFound("task");

/// The result of a mutation and the events it committed.
type Changed<T> = (T, Vec<DomainEvent>);

/// Hands the committed events on and returns the value.
fn committed<T>(ctx: &Context, (value, events): Changed<T>) -> T {
    ctx.events.committed(events);
    value
}

pub async fn create(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    input: TaskInput,
) -> Result<Task, AppError> {
    let (task, ()) = create_from(ctx, trace, user, |tz| Ok((input.validate(tz)?, ()))).await?;
    Ok(task)
}

/// Creates a task from fields read in the user's time zone by `read`, which
/// may also return something of its own (quick add: how the text read).
async fn create_from<T: Send>(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    read: impl FnOnce(Tz) -> Result<(TaskFields, T), AppError> + Send,
) -> Result<(Task, T), AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (fields, extra) = read(ensure_user_tz(ctx, conn, user).await?)?;
        let row = TaskRow::new(TaskId::generate(), user.as_str(), &fields, None, ctx.now());
        db::tasks::insert(conn, &row).await?;
        let task = tag_new(ctx, conn, user, row, &fields.tags).await?;
        let events = record_change(ctx, conn, trace, user, None, Some(&task)).await?;
        Ok(((task, extra), events))
    })?;
    Ok(committed(ctx, changed))
}

/// Quick add: reads one line in the user's time zone at the current time
/// and, unless only the reading is asked for, creates the task as
/// [`create`] does (the same events, reminder and activity).
pub async fn quick_add(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    input: QuickAddInput,
) -> Result<QuickAddResult, AppError> {
    let text = input.text()?;
    let now = to_utc(ctx.now());
    if !input.create() {
        let mut pooled = ctx.db.get().await?;
        let tz = user_tz(&mut pooled.conn(), user).await?;
        let parsed = quick_add::parse(text, now, tz);
        parsed.fields()?;
        return Ok(QuickAddResult {
            parse: parsed.into_view(),
            task: None,
        });
    }
    let (task, parsed) = create_from(ctx, trace, user, |tz| {
        let parsed = quick_add::parse(text, now, tz);
        Ok((parsed.fields()?, parsed))
    })
    .await?;
    Ok(QuickAddResult {
        parse: parsed.into_view(),
        task: Some(task),
    })
}

pub async fn get(ctx: &Context, user: &UserId, id: TaskId) -> Result<Task, AppError> {
    let mut pooled = ctx.db.get().await?;
    let conn = &mut pooled.conn();
    let row = db::tasks::find(conn, user.as_str(), id)
        .await?
        .ok_or(NOT_FOUND)?;
    db::tasks::load(conn, row).await
}

/// Parses the list parameters (dates in the user's zone) and lists.
pub async fn list(
    ctx: &Context,
    user: &UserId,
    params: TaskListParams,
) -> Result<TaskPage, AppError> {
    let mut pooled = ctx.db.get().await?;
    let conn = &mut pooled.conn();
    // The time zone only places calendar dates of the due range; without
    // one, the list needs no query for it.
    let dated = params.due_date_start.is_some() || params.due_date_end.is_some();
    let tz = if dated {
        user_tz(conn, user).await?
    } else {
        chrono_tz::Tz::UTC
    };
    let query = TaskQuery::parse(params, tz)?;
    let (items, total) = db::tasks::list(conn, user.as_str(), &query).await?;
    Ok(TaskPage {
        items,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// PUT: every editable field is replaced; absent optional fields reset.
pub async fn replace(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    input: TaskInput,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, if_match).await?;
        let fields = input.validate(user_tz(conn, user).await?)?;
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// PATCH: only the fields given change.
pub async fn patch(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    patch: TaskPatch,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, if_match).await?;
        let fields = patch.apply(current.fields(), user_tz(conn, user).await?)?;
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// Marks the task completed; completing a completed task changes nothing
/// and records no event.
pub async fn complete(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
) -> Result<Task, AppError> {
    set_completed(ctx, trace, user, id, true).await
}

/// Marks the task pending again; a pending task is left as it is.
pub async fn uncomplete(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
) -> Result<Task, AppError> {
    set_completed(ctx, trace, user, id, false).await
}

async fn set_completed(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    completed: bool,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, None).await?;
        if current.completed == completed {
            return Ok((current, Vec::new()));
        }
        let mut fields = current.fields();
        fields.completed = completed;
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// Deletes the task; returns its last state.
pub async fn delete(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    if_match: Option<i32>,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, last) = locked(conn, user, id, if_match).await?;
        db::tasks::delete(conn, &row.id).await?;
        let events = record_change(ctx, conn, trace, user, Some(&last), None).await?;
        Ok((last, events))
    })?;
    Ok(committed(ctx, changed))
}

/// Deletes all the user's completed tasks (one `task.deleted` each);
/// returns how many.
pub async fn clear_completed(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
) -> Result<usize, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let rows = db::tasks::completed(conn, user.as_str()).await?;
        let tasks = db::tasks::with_tags(conn, rows).await?;
        let mut events = Vec::with_capacity(tasks.len());
        for task in &tasks {
            db::tasks::delete(conn, &task.id.to_string()).await?;
            events.extend(record_change(ctx, conn, trace, user, Some(task), None).await?);
        }
        Ok((tasks.len(), events))
    })?;
    Ok(committed(ctx, changed))
}

/// Attaches a tag by name, creating the tag if the user has none of that name.
pub async fn add_tag(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    tag: &str,
) -> Result<Task, AppError> {
    let name = TagName::parse(tag).map_err(|why| AppError::invalid("tag", why))?;
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, None).await?;
        let mut fields = current.fields();
        if fields.tags.iter().any(|t| t.key() == name.key()) {
            return Ok((current, Vec::new()));
        }
        if fields.tags.len() >= MAX_TAGS_PER_TASK {
            return Err(AppError::conflict(
                "too_many_tags",
                format!("a task has at most {MAX_TAGS_PER_TASK} tags"),
            ));
        }
        fields.tags.push(name.clone());
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// Detaches a tag; detaching one the task does not carry changes nothing.
pub async fn remove_tag(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    tag_id: &str,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, None).await?;
        let tag = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(AppError::NotFound("tag"))?;
        let mut fields = current.fields();
        let before = fields.tags.len();
        fields.tags.retain(|t| t.key() != tag.name_key);
        if fields.tags.len() == before {
            return Ok((current, Vec::new()));
        }
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// The user's task (row and view), locked for the rest of the transaction,
/// at the version the client expects.
async fn locked(
    conn: &mut Conn<'_>,
    user: &UserId,
    id: TaskId,
    if_match: Option<i32>,
) -> Result<(TaskRow, Task), AppError> {
    let row = db::tasks::find_for_update(conn, user.as_str(), id)
        .await?
        .ok_or(NOT_FOUND)?;
    check_version(if_match, row.version)?;
    let task = db::tasks::load(conn, row.clone()).await?;
    Ok((row, task))
}

/// Writes new fields into an existing task — one more version — and records
/// the change. Completing a recurring task also creates its next occurrence,
/// in the same transaction (events: task.completed, then task.created).
pub(crate) async fn save_fields(
    ctx: &Context,
    conn: &mut Conn<'_>,
    trace: &Trace,
    user: &UserId,
    mut row: TaskRow,
    before: &Task,
    fields: &TaskFields,
) -> Result<Changed<Task>, AppError> {
    let t = ctx.now();
    row.assign(fields, t);
    row.version += 1;
    row.updated_at = t;
    db::tasks::update(conn, &row).await?;
    set_tags(ctx, conn, user, &row.id, &fields.tags).await?;
    let task = db::tasks::load(conn, row.clone()).await?;
    let mut events = record_change(ctx, conn, trace, user, Some(before), Some(&task)).await?;
    if !before.completed && task.completed {
        events.extend(ensure_successor(ctx, conn, trace, user, &row, &task).await?);
    }
    Ok((task, events))
}

/// Creates the next occurrence of a completed recurring task unless it has
/// one (or the series has ended). Idempotent: the unique index on
/// `parent_task_id` admits one successor however often this runs.
async fn ensure_successor(
    ctx: &Context,
    conn: &mut Conn<'_>,
    trace: &Trace,
    user: &UserId,
    row: &TaskRow,
    task: &Task,
) -> Result<Vec<DomainEvent>, AppError> {
    let fields = task.fields();
    let Some(rule) = &fields.recurrence else {
        return Ok(Vec::new());
    };
    if row.successor_created {
        return Ok(Vec::new());
    }
    let current = Occurrence {
        due_at: fields.due_at,
        number: row.occurrence,
    };
    let completed_at = row.completed_at.unwrap_or_else(now);
    let tz = user_tz(conn, user).await?;
    let Some(due) = next_due(
        rule,
        fields.recurrence_mode,
        current,
        completed_at,
        fields.recurrence_end_date,
        tz,
    ) else {
        return Ok(Vec::new());
    };
    let next = TaskFields {
        completed: false,
        due_at: Some(due),
        ..fields
    };
    let mut successor = TaskRow::new(
        TaskId::generate(),
        user.as_str(),
        &next,
        Some(task.id()),
        ctx.now(),
    );
    successor.occurrence = row.occurrence + 1;
    let inserted = db::tasks::insert_successor(conn, &successor).await?;
    db::tasks::mark_successor_created(conn, &row.id).await?;
    if !inserted {
        return Ok(Vec::new());
    }
    let created = tag_new(ctx, conn, user, successor, &next.tags).await?;
    record_change(ctx, conn, trace, user, None, Some(&created)).await
}

/// Moves a recurring task's due date to the following instance of its rule.
pub async fn skip_occurrence(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
) -> Result<Task, AppError> {
    let changed = transaction!(ctx.db, |conn| {
        let (row, current) = locked(conn, user, id, None).await?;
        let mut fields = current.fields();
        let Some(rule) = fields.recurrence.clone() else {
            return Err(AppError::conflict(
                "not_recurring",
                "the task does not recur: there is no occurrence to skip",
            ));
        };
        let tz = user_tz(conn, user).await?;
        let occurrence = Occurrence {
            due_at: fields.due_at,
            number: row.occurrence,
        };
        // The following instance, counted from the due date (or now).
        let Some(due) = next_due(
            &rule,
            RecurrenceMode::Due,
            occurrence,
            ctx.now(),
            fields.recurrence_end_date,
            tz,
        ) else {
            return Err(AppError::conflict(
                "series_ended",
                "this is the last occurrence: there is none to skip to",
            ));
        };
        fields.due_at = Some(due);
        save_fields(ctx, conn, trace, user, row, &current, &fields).await
    })?;
    Ok(committed(ctx, changed))
}

/// A `task.completed` delivered from another producer: makes sure the
/// completed recurring task has its successor (idempotently).
pub async fn ensure_successor_of(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
) -> Result<(), AppError> {
    let events = transaction!(ctx.db, |conn| {
        let Some(row) = db::tasks::find_for_update(conn, user.as_str(), id).await? else {
            return Ok(Vec::new());
        };
        let task = db::tasks::load(conn, row.clone()).await?;
        if !task.completed {
            return Ok(Vec::new());
        }
        ensure_successor(ctx, conn, trace, user, &row, &task).await
    })?;
    ctx.events.committed(events);
    Ok(())
}

/// Records a task change (`None`: did not exist / no longer exists) and
/// brings the task's reminder in line: every mutation of a task — its own
/// use cases and a tag's rename or deletion — ends here, inside its
/// transaction.
pub(crate) async fn record_change(
    ctx: &Context,
    conn: &mut Conn<'_>,
    trace: &Trace,
    user: &UserId,
    before: Option<&Task>,
    after: Option<&Task>,
) -> Result<Vec<DomainEvent>, AppError> {
    let last = after
        .or(before)
        .ok_or_else(|| AppError::internal("a task change without a task"))?;
    let mut events = vec![
        ctx.events
            .record_task(conn, trace, user.as_str(), before, after)
            .await?,
    ];
    events.extend(reminders::sync(ctx, conn, trace, user, before.is_none(), after, last).await?);
    Ok(events)
}

/// Attaches its tags to a task inserted in this transaction and returns
/// it: nothing to detach first, and the tags' names are those just looked
/// up.
async fn tag_new(
    ctx: &Context,
    conn: &mut Conn<'_>,
    user: &UserId,
    row: TaskRow,
    names: &[TagName],
) -> Result<Task, AppError> {
    let tags = db::tags::ensure(conn, user.as_str(), names, ctx.now()).await?;
    for tag in &tags {
        db::tags::attach(conn, &row.id, &tag.id).await?;
    }
    row.into_task(tags.into_iter().map(|t| t.name).collect())
}

async fn set_tags(
    ctx: &Context,
    conn: &mut Conn<'_>,
    user: &UserId,
    task_id: &str,
    names: &[TagName],
) -> Result<(), AppError> {
    let tags = db::tags::ensure(conn, user.as_str(), names, ctx.now()).await?;
    let ids: Vec<String> = tags.into_iter().map(|t| t.id).collect();
    db::tags::set_for_task(conn, task_id, &ids).await?;
    Ok(())
}
