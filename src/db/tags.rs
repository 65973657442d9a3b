//! Queries on `tags` and `task_tags`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::{tags, task_tags};
use crate::db_run;
use crate::domain::tag::{Tag, TagName};
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tags)]
// NULL rather than DEFAULT for `None`: one SQL text, so one prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct TagRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub name_key: String,
    pub color: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

impl TagRow {
    pub fn new(user_id: &str, name: &TagName, color: Option<String>, at: NaiveDateTime) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            name: name.as_str().to_owned(),
            name_key: name.key().to_owned(),
            color,
            created_at: at,
        }
    }

    pub fn into_tag(self, task_count: i64) -> Result<Tag, AppError> {
        Ok(Tag {
            id: uuid::Uuid::parse_str(&self.id).map_err(AppError::internal)?,
            name: self.name,
            color: self.color,
            task_count,
        })
    }
}

/// Inserts the tag; `false` if the user already has one of that name.
pub async fn insert(conn: &mut Conn<'_>, row: &TagRow) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::insert_into(tags::table)
        .values(row)
        .on_conflict((tags::user_id, tags::name_key))
        .do_nothing()
        .execute(c)
        .await
        .map(|n| n == 1))
}

pub async fn find(conn: &mut Conn<'_>, user_id: &str, id: &str) -> QueryResult<Option<TagRow>> {
    db_run!(conn, |c| tags::table
        .filter(tags::id.eq(id))
        .filter(tags::user_id.eq(user_id))
        .select(TagRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn find_by_keys(
    conn: &mut Conn<'_>,
    user_id: &str,
    keys: &[&str],
) -> QueryResult<Vec<TagRow>> {
    db_run!(conn, |c| tags::table
        .filter(tags::user_id.eq(user_id))
        .filter(tags::name_key.eq_any(keys))
        .select(TagRow::as_select())
        .load(c)
        .await)
}

/// The user's tags by name, with how many tasks carry each.
pub async fn list(conn: &mut Conn<'_>, user_id: &str) -> QueryResult<Vec<(TagRow, i64)>> {
    let rows: Vec<TagRow> = db_run!(conn, |c| tags::table
        .filter(tags::user_id.eq(user_id))
        .order(tags::name_key.asc())
        .select(TagRow::as_select())
        .load(c)
        .await)?;
    let counts: Vec<(String, i64)> = db_run!(conn, |c| task_tags::table
        .inner_join(tags::table)
        .filter(tags::user_id.eq(user_id))
        .group_by(task_tags::tag_id)
        .select((task_tags::tag_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = counts.get(&r.id).copied().unwrap_or(0);
            (r, n)
        })
        .collect())
}

/// Ids of the tasks that carry the tag.
pub async fn task_ids(conn: &mut Conn<'_>, tag_id: &str) -> QueryResult<Vec<String>> {
    db_run!(conn, |c| task_tags::table
        .filter(task_tags::tag_id.eq(tag_id))
        .select(task_tags::task_id)
        .load(c)
        .await)
}

pub async fn update(
    conn: &mut Conn<'_>,
    id: &str,
    name: &TagName,
    color: Option<String>,
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::update(tags::table.find(id))
        .set((
            tags::name.eq(name.as_str()),
            tags::name_key.eq(name.key()),
            tags::color.eq(&color)
        ))
        .execute(c)
        .await
        .map(drop))
}

pub async fn delete(conn: &mut Conn<'_>, id: &str) -> QueryResult<()> {
    db_run!(conn, |c| diesel::delete(tags::table.find(id))
        .execute(c)
        .await
        .map(drop))
}

/// The user's tags of these names, creating the missing ones.
pub async fn ensure(
    conn: &mut Conn<'_>,
    user_id: &str,
    names: &[TagName],
    at: NaiveDateTime,
) -> QueryResult<Vec<TagRow>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    for name in names {
        insert(conn, &TagRow::new(user_id, name, None, at)).await?;
    }
    let keys: Vec<&str> = names.iter().map(TagName::key).collect();
    find_by_keys(conn, user_id, &keys).await
}

/// Makes `tag_ids` exactly the tags of the task.
pub async fn set_for_task(
    conn: &mut Conn<'_>,
    task_id: &str,
    tag_ids: &[String],
) -> QueryResult<()> {
    db_run!(conn, |c| diesel::delete(
        task_tags::table.filter(task_tags::task_id.eq(task_id))
    )
    .execute(c)
    .await)?;
    for tag_id in tag_ids {
        attach(conn, task_id, tag_id).await?;
    }
    Ok(())
}

pub async fn attach(conn: &mut Conn<'_>, task_id: &str, tag_id: &str) -> QueryResult<()> {
    db_run!(conn, |c| diesel::insert_into(task_tags::table)
        .values((task_tags::task_id.eq(task_id), task_tags::tag_id.eq(tag_id)))
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(drop))
}

/// Removes the tag from the task; `false` if it was not attached.
pub async fn detach(conn: &mut Conn<'_>, task_id: &str, tag_id: &str) -> QueryResult<bool> {
    db_run!(conn, |c| diesel::delete(
        task_tags::table
            .filter(task_tags::task_id.eq(task_id))
            .filter(task_tags::tag_id.eq(tag_id))
    )
    .execute(c)
    .await
    .map(|n| n == 1))
}
