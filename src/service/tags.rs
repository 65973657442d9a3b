//! Tag use cases. Renaming or deleting a tag changes every task that carries
//! it, so those tasks get a new version too.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::db::tags::TagRow;
use crate::db::{self, Conn};
use crate::domain::Problems;
use crate::domain::tag::{Tag, TagName, parse_color};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::state::AppState;
use crate::transaction;

/// Body of `POST …/tags` and `PUT …/tags/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    pub name: String,
    /// `#rrggbb`.
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

pub async fn list(state: &AppState, user: &UserId) -> Result<Vec<Tag>, AppError> {
    let mut pooled = state.db.get().await?;
    db::tags::list(&mut pooled.conn(), user.as_str())
        .await?
        .into_iter()
        .map(|(row, n)| row.into_tag(n))
        .collect()
}

pub async fn create(state: &AppState, user: &UserId, input: TagInput) -> Result<Tag, AppError> {
    let (name, color) = input.validate()?;
    transaction!(state.db, |conn| {
        db::users::ensure(conn, user.as_str()).await?;
        let row = TagRow::new(user.as_str(), &name, color);
        if !db::tags::insert(conn, &row).await? {
            return Err(name_taken(&name));
        }
        row.into_tag(0)
    })
}

/// Renames and/or recolours a tag.
pub async fn update(
    state: &AppState,
    user: &UserId,
    tag_id: &str,
    input: TagInput,
) -> Result<Tag, AppError> {
    let (name, color) = input.validate()?;
    transaction!(state.db, |conn| {
        let row = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(NOT_FOUND)?;
        let clash = db::tags::find_by_keys(conn, user.as_str(), &[name.key()]).await?;
        if clash.iter().any(|t| t.id != row.id) {
            return Err(name_taken(&name));
        }
        db::tags::update(conn, &row.id, &name, color.clone()).await?;
        if row.name != name.as_str() {
            touch_tasks_of(conn, &row.id).await?;
        }
        let count = db::tags::task_count(conn, &row.id).await?;
        TagRow {
            name: name.as_str().to_owned(),
            name_key: name.key().to_owned(),
            color,
            ..row
        }
        .into_tag(count)
    })
}

/// Deletes a tag and detaches it from every task.
pub async fn delete(state: &AppState, user: &UserId, tag_id: &str) -> Result<(), AppError> {
    transaction!(state.db, |conn| {
        let row = db::tags::find(conn, user.as_str(), tag_id)
            .await?
            .ok_or(NOT_FOUND)?;
        // Detach first, then re-read the tasks' remaining tags.
        let task_ids = db::tags::task_ids(conn, &row.id).await?;
        db::tags::delete(conn, &row.id).await?;
        db::tasks::touch(conn, &task_ids).await?;
        Ok(())
    })
}

/// Gives every task carrying the tag a new version: its tag list changes.
async fn touch_tasks_of(conn: &mut Conn<'_>, tag_id: &str) -> Result<Vec<String>, AppError> {
    let ids = db::tags::task_ids(conn, tag_id).await?;
    db::tasks::touch(conn, &ids).await?;
    Ok(ids)
}
