//! `/api/{user_id}/tasks…` (and the same under `/api/v1/…`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, IfMatch, TagPath, TaskPath, etag, query_pairs};
use crate::auth::AuthUser;
use crate::domain::task::{Task, TaskInput, TaskPatch};
use crate::error::AppError;
use crate::events::Trace;
use crate::service::reminders::{self, Reminder, ReminderInput};
use crate::service::tasks::{self, TaskPage};
use crate::state::AppState;

/// A task with its `ETag`.
fn task_response(status: StatusCode, task: &Task) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(task.version)))
        .json(task)
}

#[utoipa::path(post, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path)), request_body = TaskInput,
    responses((status = 201, body = Task, headers(("Location"), ("ETag")))
        , (status = 401), (status = 403), (status = 422)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    body: ApiJson<TaskInput>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::create(&state, &trace, user.id(), body.0).await?;
    let location = format!("{}/{}", req.path().trim_end_matches('/'), task.id);
    let mut res = task_response(StatusCode::CREATED, &task);
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path),
        ("search" = Option<String>, Query, description = "case-insensitive substring of title or description"),
        ("status" = Option<String>, Query, description = "all | pending | completed"),
        ("priority" = Option<String>, Query, description = "comma list of priorities"),
        ("tags" = Option<String>, Query, description = "comma list; a task must carry all"),
        ("due_date_start" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD (user's zone), inclusive"),
        ("due_date_end" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD (user's zone), inclusive"),
        ("sort_by" = Option<String>, Query, description = "created_at | updated_at | due_at | priority | title"),
        ("sort_order" = Option<String>, Query, description = "asc | desc (default)"),
        ("limit" = Option<i64>, Query, description = "1-500, default 50"),
        ("offset" = Option<i64>, Query)),
    responses((status = 200, body = TaskPage), (status = 422)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    let pairs = query_pairs(&req)?;
    Ok(HttpResponse::Ok().json(tasks::list(&state, user.id(), &pairs).await?))
}

#[utoipa::path(get, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task), (status = 404)))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::get(&state, user.id(), id.0).await?,
    ))
}

#[utoipa::path(put, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = TaskInput,
    responses((status = 200, body = Task), (status = 404), (status = 412), (status = 422)))]
pub async fn replace(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
    body: ApiJson<TaskInput>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::replace(&state, &trace, user.id(), id.0, body.0, if_match.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(patch, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = TaskPatch,
    responses((status = 200, body = Task), (status = 404), (status = 412), (status = 422)))]
pub async fn patch(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
    body: ApiJson<TaskPatch>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::patch(&state, &trace, user.id(), id.0, body.0, if_match.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404), (status = 412)))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    tasks::delete(&state, &trace, user.id(), id.0, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task), (status = 404)))]
pub async fn complete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::complete(&state, &trace, user.id(), id.0).await?,
    ))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/uncomplete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task), (status = 404)))]
pub async fn uncomplete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::uncomplete(&state, &trace, user.id(), id.0).await?,
    ))
}

/// How many tasks `clear-completed` deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: usize,
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/clear-completed", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Deleted)))]
pub async fn clear_completed(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
) -> Result<HttpResponse, AppError> {
    let deleted = tasks::clear_completed(&state, &trace, user.id()).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

/// Body of `POST …/tasks/{task_id}/tags`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRef {
    /// Tag name; created if the user has no tag of that name.
    pub tag: String,
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/tags", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)), request_body = TagRef,
    responses((status = 200, body = Task), (status = 404), (status = 409, description = "20 tags already"), (status = 422)))]
pub async fn add_tag(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    body: ApiJson<TagRef>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::add_tag(&state, &trace, user.id(), id.0, &body.0.tag).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}/tags/{tag_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path), ("tag_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task), (status = 404)))]
pub async fn remove_tag(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    tag: TagPath,
) -> Result<HttpResponse, AppError> {
    let task = tasks::remove_tag(&state, &trace, user.id(), id.0, &tag.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/skip-occurrence", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, description = "due date moved to the following occurrence"),
        (status = 404), (status = 409, description = "not recurring, or the last occurrence")))]
pub async fn skip_occurrence(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    let task = tasks::skip_occurrence(&state, &trace, user.id(), id.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/reminder", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)), request_body = ReminderInput,
    responses((status = 200, body = Reminder), (status = 404), (status = 409, description = "task completed"),
        (status = 422, description = "in the past, no due date for an offset, or not exactly one of the fields")))]
pub async fn set_reminder(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    body: ApiJson<ReminderInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(reminders::set(&state, &trace, user.id(), id.0, body.0).await?))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}/reminder", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, description = "no such task, or no pending reminder")))]
pub async fn remove_reminder(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    reminders::remove(&state, &trace, user.id(), id.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/{user_id}/reminders", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = String, Path), ("state" = Option<String>, Query, description = "pending | sent | cancelled")),
    responses((status = 200, body = Vec<Reminder>), (status = 422)))]
pub async fn list_reminders(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    let pairs = query_pairs(&req)?;
    Ok(HttpResponse::Ok().json(reminders::list(&state, user.id(), &pairs).await?))
}
