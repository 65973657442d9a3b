//! Tag use cases. Renaming or deleting a tag changes every task that carries
//! it, so those tasks get a new version too.

use serde::Deserialize;
use utoipa::ToSchema;

use super::Context;
use crate::db::tags::TagRow;
use crate::db::{self, Conn};
use crate::domain::Problems;
use crate::domain::tag::{Tag, TagName, parse_color};
use crate::domain::task::Task;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::{DomainEvent, Trace};
use crate::transaction;

/// Body of `POST …/tags` and `PUT …/tags/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    #[schema(value_type = crate::domain::schema::TagName)]
    pub name: String,
    #[schema(value_type = Option<crate::domain::schema::Color>)]
    pub color: Option<String>,
}

impl TagInput {
    fn validate(self) -> Result<(TagName, Option<String>), AppError> {
        let mut p = Problems::new();
        let name = p.check("name", TagName::parse(&self.name));
        let color = self
            .color
            .as_deref()
            .map(|c| p.check("color", parse_color(c)));
        p.finish()?;
        let name = name.ok_or_else(|| AppError::internal("validated name missing"))?;
        Ok((name, color.flatten()))
    }
}

const NOT_FOUND: AppError = AppError::NotFound("tag");

fn name_taken(name: &TagName) -> AppError {
    AppError::conflict(
        "tag_exists",
        format!("a tag named {:?} already exists", name.as_str()),
    )
}

pub async fn list(ctx: &Context, user: &UserId) -> Result<Vec<Tag>, AppError> {
    let mut pooled = ctx.db.get().await?;
    db::tags::list(&mut pooled.conn(), user.as_str())
        .await?
        .into_iter()
        .map(|(row, n)| row.into_tag(n))
        .collect()
}

pub async fn create(ctx: &Context, user: &UserId, input: TagInput) -> Result<Tag, AppError> {
    let (name, color) = input.validate()?;
    transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), ctx.now()).await?;
        let row = TagRow::new(user.as_str(), &name, color, ctx.now());
        if !db::tags::insert(conn, &row).await? {
            return Err(name_taken(&name));
        }
        row.into_tag(0)
    })
}

/// Renames and/or recolours a tag. A rename changes every task carrying
/// it: each gets a new version and a `task.updated` event.
pub async fn update(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    tag_id: &str,
    input: TagInput,
) -> Result<Tag, AppError> {
    let (name, color) = input.validate()?;
    let (tag, events) = transaction!(ctx.db, |conn| {
        let row = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(NOT_FOUND)?;
        let clash = db::tags::find_by_keys(conn, user.as_str(), &[name.key()]).await?;
        if clash.iter().any(|t| t.id != row.id) {
            return Err(name_taken(&name));
        }
        let carriers = tasks_carrying(conn, &row.id).await?;
        db::tags::update(conn, &row.id, &name, color.clone()).await?;
        let events = if row.name == name.as_str() {
            Vec::new()
        } else {
            retag(ctx, conn, trace, user, &carriers).await?
        };
        let count = i64::try_from(carriers.len()).unwrap_or(i64::MAX);
        let tag = TagRow {
            name: name.as_str().to_owned(),
            name_key: name.key().to_owned(),
            color,
            ..row
        }
        .into_tag(count)?;
        Ok((tag, events))
    })?;
    ctx.events.committed(events);
    Ok(tag)
}

/// Deletes a tag and detaches it from every task (a `task.updated` each).
pub async fn delete(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    tag_id: &str,
) -> Result<(), AppError> {
    let events = transaction!(ctx.db, |conn| {
        let row = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(NOT_FOUND)?;
        let carriers = tasks_carrying(conn, &row.id).await?;
        db::tags::delete(conn, &row.id).await?;
        retag(ctx, conn, trace, user, &carriers).await
    })?;
    ctx.events.committed(events);
    Ok(())
}

/// The tasks that carry the tag, as they are now.
async fn tasks_carrying(conn: &mut Conn<'_>, tag_id: &str) -> Result<Vec<Task>, AppError> {
    let ids = db::tags::task_ids(conn, tag_id).await?;
    let rows = db::tasks::find_many(conn, &ids).await?;
    db::tasks::with_tags(conn, rows).await
}

/// After a tag change: re-reads each task's tags into a new version and
/// records the change from `before`.
async fn retag(
    ctx: &Context,
    conn: &mut Conn<'_>,
    trace: &Trace,
    user: &UserId,
    before: &[Task],
) -> Result<Vec<DomainEvent>, AppError> {
    let ids: Vec<String> = before.iter().map(|t| t.id.to_string()).collect();
    db::tasks::touch(conn, &ids, ctx.now()).await?;
    let rows = db::tasks::find_many(conn, &ids).await?;
    let after = db::tasks::with_tags(conn, rows).await?;
    let mut events = Vec::with_capacity(after.len());
    for (old, new) in before.iter().zip(&after) {
        events.extend(
            super::tasks::record_change(ctx, conn, trace, user, Some(old), Some(new)).await?,
        );
    }
    Ok(events)
}
