//! Reminders: one per task at most, kept in step with the task inside the
//! task's own transaction (scheduled, rescheduled when the due date or
//! offset changes, cancelled on completion or deletion), and fired once by
//! the scheduler.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Context;
use crate::db::reminders::{CANCELLED, PENDING, ReminderRow, SENT};
use crate::db::{self, Conn};
use crate::domain::task::{Task, TaskId, parse_reminder_offset};
use crate::domain::time::{parse_instant, to_utc};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::{DomainEvent, EventType, ReminderInfo, Trace};
use crate::transaction;

/// A reminder as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reminder {
    pub id: Uuid,
    pub task_id: Uuid,
    pub remind_at: chrono::DateTime<chrono::Utc>,
    /// `pending`, `sent` or `cancelled`.
    pub state: String,
    pub fired_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Reminder {
    fn from_row(row: ReminderRow) -> Result<Self, AppError> {
        let uuid = |s: &str| Uuid::parse_str(s).map_err(AppError::internal);
        Ok(Self {
            id: uuid(&row.id)?,
            task_id: uuid(&row.task_id)?,
            remind_at: to_utc(row.remind_at),
            state: row.state,
            fired_at: row.fired_at.map(to_utc),
        })
    }
}

/// Body of `POST|PUT …/tasks/{id}/reminder`: exactly one of the two (its
/// OpenAPI schema is written out in `routes::docs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderInput {
    /// An RFC 3339 time, in the future.
    pub remind_at: Option<String>,
    /// Minutes before the task's due date (0–525600).
    pub offset_minutes: Option<crate::domain::Integer>,
}

fn info(
    reminder: &ReminderRow,
    task: &Task,
    fired_at: Option<NaiveDateTime>,
) -> Result<ReminderInfo, AppError> {
    Ok(ReminderInfo {
        id: Uuid::parse_str(&reminder.id).map_err(AppError::internal)?,
        task_id: task.id,
        title: task.title.clone(),
        due_at: task.due_at,
        remind_at: to_utc(reminder.remind_at),
        fired_at: fired_at.map(to_utc),
        late: fired_at.map(|f| f - reminder.remind_at > chrono::Duration::seconds(1)),
    })
}

/// Where the task's reminder should stand: `Some(time)` for a derived one,
/// `None` for none, or `Keep` for an explicit one left as it is.
enum Wanted {
    At(NaiveDateTime),
    Nothing,
    Keep,
}

fn wanted(task: Option<&Task>, now: NaiveDateTime) -> Wanted {
    let Some(task) = task.filter(|t| !t.completed) else {
        return Wanted::Nothing;
    };
    match (task.reminder_offset_minutes, task.due_at) {
        (Some(offset), Some(due)) => {
            let at = due.naive_utc() - chrono::Duration::minutes(i64::from(offset));
            if at > now {
                Wanted::At(at)
            } else {
                Wanted::Nothing
            }
        }
        (Some(_), None) => Wanted::Nothing,
        (None, _) => Wanted::Keep,
    }
}

/// Brings the reminder of `last` in line with `task` (its current state;
/// `None`: deleted; `created`: made in this transaction); runs inside the
/// caller's transaction and returns the events written.
pub(crate) async fn sync(
    ctx: &Context,
    conn: &mut Conn<'_>,
    trace: &Trace,
    user: &UserId,
    created: bool,
    task: Option<&Task>,
    last: &Task,
) -> Result<Vec<DomainEvent>, AppError> {
    let task_id = &last.id.to_string();
    // A task created in this transaction has no reminder yet.
    let pending = match created {
        true => None,
        false => db::reminders::pending_of(conn, task_id).await?,
    };
    let shown = task.unwrap_or(last);
    let event = match (wanted(task, ctx.now()), pending) {
        (Wanted::Keep, _) | (Wanted::Nothing, None) => None,
        (Wanted::Nothing, Some(r)) => {
            db::reminders::cancel(conn, &r.id, ctx.now()).await?;
            Some((EventType::ReminderCancelled, r))
        }
        (Wanted::At(at), None) => {
            let r = ReminderRow::new(task_id, user.as_str(), at, ctx.now());
            db::reminders::insert(conn, &r).await?;
            Some((EventType::ReminderScheduled, r))
        }
        (Wanted::At(at), Some(r)) if r.remind_at == at => {
            let _ = r;
            None
        }
        (Wanted::At(at), Some(r)) => {
            db::reminders::reschedule(conn, &r.id, at, ctx.now()).await?;
            Some((
                EventType::ReminderRescheduled,
                ReminderRow { remind_at: at, ..r },
            ))
        }
    };
    let mut events = Vec::new();
    if let Some((event_type, row)) = event {
        let info = info(&row, shown, None)?;
        events.push(
            ctx.events
                .record_reminder(conn, trace, user.as_str(), event_type, info)
                .await?,
        );
    }
    Ok(events)
}

/// Sets the task's reminder: an offset before its due date (kept in step
/// with it) or an explicit time.
pub async fn set(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
    input: ReminderInput,
) -> Result<Reminder, AppError> {
    let target = match (&input.remind_at, input.offset_minutes) {
        (Some(at), None) => {
            Target::At(parse_instant(at).map_err(|why| AppError::invalid("remind_at", why))?)
        }
        (None, Some(m)) => Target::Offset(
            parse_reminder_offset(m.0).map_err(|why| AppError::invalid("offset_minutes", why))?,
        ),
        _ => {
            return Err(AppError::invalid(
                "body",
                "give exactly one of remind_at and offset_minutes",
            ));
        }
    };
    let (reminder, events) = transaction!(ctx.db, |conn| {
        let row = db::tasks::find_for_update(conn, user.as_str(), id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        let task = db::tasks::load(conn, row.clone()).await?;
        if task.completed {
            return Err(AppError::conflict(
                "task_completed",
                "a completed task gets no reminder",
            ));
        }
        let at = match target {
            Target::At(at) => at,
            Target::Offset(m) => {
                let due = task.due_at.ok_or_else(|| {
                    AppError::conflict(
                        "no_due_date",
                        "the task has no due date to count the offset from",
                    )
                })?;
                due.naive_utc() - chrono::Duration::minutes(i64::from(m))
            }
        };
        if at <= ctx.now() {
            return Err(match target {
                Target::At(_) => AppError::invalid("remind_at", "must be in the future"),
                // The offset is fine; the task's due date makes it past.
                Target::Offset(_) => AppError::conflict(
                    "reminder_in_past",
                    "the task's due date less the offset is already past",
                ),
            });
        }
        let mut events = Vec::new();
        let offset = match target {
            Target::Offset(m) => Some(m),
            Target::At(_) => None,
        };
        let mut current = task.clone();
        if task.reminder_offset_minutes != offset {
            // The offset is a field of the task: a task change of its own.
            let mut fields = task.fields();
            fields.reminder_offset_minutes = offset;
            let (saved, mut saved_events) =
                super::tasks::save_fields(ctx, conn, trace, user, row, &task, &fields).await?;
            events.append(&mut saved_events);
            current = saved;
        }
        let pending = db::reminders::pending_of(conn, &current.id.to_string()).await?;
        let (event_type, reminder) = match pending {
            Some(r) if r.remind_at == at => (None, r),
            Some(r) => {
                db::reminders::reschedule(conn, &r.id, at, ctx.now()).await?;
                (
                    Some(EventType::ReminderRescheduled),
                    ReminderRow { remind_at: at, ..r },
                )
            }
            None => {
                let r = ReminderRow::new(&current.id.to_string(), user.as_str(), at, ctx.now());
                db::reminders::insert(conn, &r).await?;
                (Some(EventType::ReminderScheduled), r)
            }
        };
        if let Some(event_type) = event_type {
            let info = info(&reminder, &current, None)?;
            events.push(
                ctx.events
                    .record_reminder(conn, trace, user.as_str(), event_type, info)
                    .await?,
            );
        }
        Ok((reminder, events))
    })?;
    ctx.events.committed(events);
    Reminder::from_row(reminder)
}

#[derive(Clone, Copy)]
enum Target {
    At(NaiveDateTime),
    Offset(i32),
}

/// Cancels the task's reminder (and its offset); nothing to cancel is fine.
pub async fn remove(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    id: TaskId,
) -> Result<(), AppError> {
    let events = transaction!(ctx.db, |conn| {
        let row = db::tasks::find_for_update(conn, user.as_str(), id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        let task = db::tasks::load(conn, row.clone()).await?;
        let mut events = Vec::new();
        // Idempotent: with no pending reminder there is nothing to cancel.
        if let Some(pending) = db::reminders::pending_of(conn, &row.id).await? {
            db::reminders::cancel(conn, &pending.id, ctx.now()).await?;
            let info = info(&pending, &task, None)?;
            events.push(
                ctx.events
                    .record_reminder(
                        conn,
                        trace,
                        user.as_str(),
                        EventType::ReminderCancelled,
                        info,
                    )
                    .await?,
            );
        }
        if task.reminder_offset_minutes.is_some() {
            let mut fields = task.fields();
            fields.reminder_offset_minutes = None;
            let (_, mut saved) =
                super::tasks::save_fields(ctx, conn, trace, user, row, &task, &fields).await?;
            events.append(&mut saved);
        }
        Ok(events)
    })?;
    ctx.events.committed(events);
    Ok(())
}

/// The parameters of the reminder list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReminderListParams {
    /// only reminders in this state; all when absent
    #[param(value_type = Option<crate::domain::schema::ReminderState>)]
    pub state: Option<String>,
}

/// The user's reminders, optionally in one state.
pub async fn list(
    ctx: &Context,
    user: &UserId,
    params: ReminderListParams,
) -> Result<Vec<Reminder>, AppError> {
    let wanted_state = match params.state.as_deref() {
        None => None,
        Some(s @ (PENDING | SENT | CANCELLED)) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::invalid(
                "state",
                "must be pending, sent or cancelled",
            ));
        }
    };
    let mut pooled = ctx.db.get().await?;
    db::reminders::list(&mut pooled.conn(), user.as_str(), wanted_state.as_deref())
        .await?
        .into_iter()
        .map(Reminder::from_row)
        .collect()
}

/// Fires every reminder due by now, each once: the claim is a conditional
/// update, so of several instances exactly one fires a given reminder.
/// Returns how many this call fired.
pub async fn fire_due(ctx: &Context) -> Result<usize, AppError> {
    fire(ctx, None).await
}

/// What a Dapr Jobs callback achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// This call fired the reminder.
    Fired,
    /// Nothing to do: fired or cancelled already, or no such reminder.
    Done,
    /// Its time has not come: not fired (Dapr retries; the scheduler's sweep
    /// fires it on time in any case).
    NotDue(NaiveDateTime),
}

/// How early a job call may come (the scheduler's clock against ours) and
/// still fire the reminder.
const JOB_EARLY_TOLERANCE: chrono::Duration = chrono::Duration::seconds(1);

/// Fires one reminder for the Dapr Jobs callback, but only once it is due:
/// an early or forged call cannot fire a reminder ahead of its time.
pub async fn fire_one(ctx: &Context, id: &str) -> Result<JobOutcome, AppError> {
    let pending = {
        let mut pooled = ctx.db.get().await?;
        db::reminders::pending_by_id(&mut pooled.conn(), id).await?
    };
    let Some(reminder) = pending else {
        return Ok(JobOutcome::Done);
    };
    if reminder.remind_at > ctx.now() + JOB_EARLY_TOLERANCE {
        return Ok(JobOutcome::NotDue(reminder.remind_at));
    }
    Ok(match fire(ctx, Some(id)).await? {
        0 => JobOutcome::Done,
        _ => JobOutcome::Fired,
    })
}

async fn fire(ctx: &Context, only: Option<&str>) -> Result<usize, AppError> {
    let trace = Trace::for_request(&format!("scheduler-{}", Uuid::now_v7()), None);
    let events = transaction!(ctx.db, |conn| {
        let fired_at = ctx.now();
        let due = match only {
            // Checked again inside the transaction: the reminder may have
            // moved since the caller looked.
            Some(id) => db::reminders::pending_by_id(conn, id)
                .await?
                .into_iter()
                .filter(|r| r.remind_at <= fired_at + JOB_EARLY_TOLERANCE)
                .collect(),
            // With Dapr Jobs firing reminders, sweep only what is overdue:
            // the safety net for a job that was never scheduled.
            None => {
                let grace = if ctx.settings.dapr_jobs() {
                    chrono::Duration::seconds(5)
                } else {
                    chrono::Duration::zero()
                };
                db::reminders::due_by(conn, fired_at - grace, 200).await?
            }
        };
        let mut events = Vec::new();
        for reminder in due {
            if !db::reminders::claim(conn, &reminder.id, fired_at).await? {
                continue;
            }
            let Some(task) = db::tasks::find(
                conn,
                &reminder.user_id,
                TaskId(Uuid::parse_str(&reminder.task_id).map_err(AppError::internal)?),
            )
            .await?
            else {
                continue;
            };
            let task = db::tasks::load(conn, task).await?;
            let info = info(&reminder, &task, Some(fired_at))?;
            events.push(
                ctx.events
                    .record_reminder(
                        conn,
                        &trace,
                        &reminder.user_id,
                        EventType::ReminderTriggered,
                        info,
                    )
                    .await?,
            );
        }
        Ok(events)
    })?;
    let fired = events.len();
    ctx.events.committed(events);
    Ok(fired)
}

/// The built-in scheduler: sleeps until the soonest pending reminder (woken
/// early when a sooner one is scheduled), fires what is due, repeats. Runs
/// at start too, so reminders that came due while the service was down fire
/// then (marked late).
pub async fn run_scheduler(ctx: Context) {
    let wake = ctx.events.reminder_wake();
    loop {
        match fire_due(&ctx).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => {
                slog::warn!(ctx.log, "firing reminders failed; retrying"; "error" => e.chain())
            }
        }
        let next = match ctx.db.get().await {
            Ok(mut pooled) => db::reminders::next_due(&mut pooled.conn())
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        let idle = Duration::from_secs(60);
        let sleep = next.map_or(idle, |at| {
            (at - ctx.now()).to_std().unwrap_or_default().min(idle)
        });
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = wake.notified() => {}
        }
    }
}
