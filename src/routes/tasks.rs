//! `/api/{user_id}/tasks…` (and the same under `/api/v1/…`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, IfMatch, TagPath, TaskPath, etag};
use crate::auth::AuthUser;
use crate::domain::query::TaskListParams;
use crate::domain::quick_add::{QuickAddInput, QuickAddResult};
use crate::domain::schema::{EntityTag, UserIdPath};
use crate::domain::task::{Task, TaskInput, TaskPatch};
use crate::error::AppError;
use crate::events::Trace;
use crate::routes::docs::ErrorBody;
use crate::service::reminders::{self, Reminder, ReminderInput, ReminderListParams};
use crate::service::tasks::{self, TagRef, TaskPage};
use crate::state::AppState;

/// A task with its `ETag`.
fn task_response(status: StatusCode, task: &Task) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(task.version)))
        .json(task)
}

/// 201 for a new `task`: its `ETag`, its URL under `tasks_url` in
/// `Location`, and `body`.
fn created(tasks_url: &str, task: &Task, body: &impl Serialize) -> HttpResponse {
    let mut res = HttpResponse::Created();
    res.insert_header((header::ETAG, etag(task.version)));
    let location = format!("{}/{}", tasks_url.trim_end_matches('/'), task.id);
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        res.insert_header((header::LOCATION, v));
    }
    res.json(body)
}

#[utoipa::path(post, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), request_body = TaskInput,
    responses((status = 201, body = Task, description = "created",
        headers(("Location" = String, description = "the task's URL"), ("ETag" = String, description = "its version")))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    body: ApiJson<TaskInput>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::create(&state.service, &trace, user.id(), body.0).await?;
    Ok(created(req.path(), &task, &task))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/quick-add", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), request_body = QuickAddInput,
    responses(
        (status = 201, body = QuickAddResult, description = "created: the task and how the text read",
            headers(("Location" = String, description = "the task's URL"), ("ETag" = String, description = "its version"))),
        (status = 200, body = QuickAddResult, description = "`create` was false: how the text reads")))]
pub async fn quick_add(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    body: ApiJson<QuickAddInput>,
) -> Result<HttpResponse, AppError> {
    let result = tasks::quick_add(&state.service, &trace, user.id(), body.0).await?;
    let Some(task) = &result.task else {
        return Ok(HttpResponse::Ok().json(&result));
    };
    let tasks_url = req
        .path()
        .trim_end_matches('/')
        .trim_end_matches("/quick-add");
    Ok(created(tasks_url, task, &result))
}

#[utoipa::path(get, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), TaskListParams),
    responses((status = 200, body = TaskPage)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    params: ApiQuery<TaskListParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(tasks::list(&state.service, user.id(), params.0).await?))
}

#[utoipa::path(get, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version")))))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::get(&state.service, user.id(), id.0).await?,
    ))
}

#[utoipa::path(put, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<EntityTag>, Header, description = "the version the change expects: `\"3\"`")),
    request_body = TaskInput,
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version")))))]
pub async fn replace(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
    body: ApiJson<TaskInput>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::replace(&state.service, &trace, user.id(), id.0, body.0, if_match.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(patch, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<EntityTag>, Header, description = "the version the change expects: `\"3\"`")),
    request_body = TaskPatch,
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version")))))]
pub async fn patch(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
    body: ApiJson<TaskPatch>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::patch(&state.service, &trace, user.id(), id.0, body.0, if_match.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path), ("If-Match" = Option<EntityTag>, Header, description = "the version the change expects: `\"3\"`")),
    responses((status = 204, description = "deleted")))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    tasks::delete(&state.service, &trace, user.id(), id.0, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, description = "completed (a recurring task's next occurrence is created too)",
        headers(("ETag" = String, description = "its version")))))]
pub async fn complete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::complete(&state.service, &trace, user.id(), id.0).await?,
    ))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/uncomplete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version")))))]
pub async fn uncomplete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    Ok(task_response(
        StatusCode::OK,
        &tasks::uncomplete(&state.service, &trace, user.id(), id.0).await?,
    ))
}

/// How many tasks `clear-completed` deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: usize,
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/clear-completed", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), responses((status = 200, body = Deleted)))]
pub async fn clear_completed(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
) -> Result<HttpResponse, AppError> {
    let deleted = tasks::clear_completed(&state.service, &trace, user.id()).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/tags", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)), request_body = TagRef,
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version"))),
        (status = 409, body = ErrorBody, description = "the task has 20 tags already (`too_many_tags`)")))]
pub async fn add_tag(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    body: ApiJson<TagRef>,
) -> Result<HttpResponse, AppError> {
    let task = tasks::add_tag(&state.service, &trace, user.id(), id.0, &body.0.tag).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}/tags/{tag_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path), ("tag_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, headers(("ETag" = String, description = "its version")))))]
pub async fn remove_tag(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    tag: TagPath,
) -> Result<HttpResponse, AppError> {
    let task = tasks::remove_tag(&state.service, &trace, user.id(), id.0, &tag.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(post, path = "/api/{user_id}/tasks/{task_id}/skip-occurrence", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Task, description = "due date moved to the following occurrence",
            headers(("ETag" = String, description = "its version"))),
        (status = 409, body = ErrorBody, description = "the task does not recur (`not_recurring`), or this is its last occurrence (`series_ended`)")))]
pub async fn skip_occurrence(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    let task = tasks::skip_occurrence(&state.service, &trace, user.id(), id.0).await?;
    Ok(task_response(StatusCode::OK, &task))
}

#[utoipa::path(method(post, put), path = "/api/{user_id}/tasks/{task_id}/reminder", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)), request_body = ReminderInput,
    responses((status = 200, body = Reminder, description = "the task's reminder, scheduled or moved"),
        (status = 409, body = ErrorBody, description = "the task is completed (`task_completed`), or an offset was given for a task without a due date (`no_due_date`)"),
        (status = 422, body = ErrorBody, description = "the time is in the past, or not exactly one of the fields was given")))]
pub async fn set_reminder(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
    body: ApiJson<ReminderInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(reminders::set(&state.service, &trace, user.id(), id.0, body.0).await?))
}

#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}/reminder", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("task_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "cancelled"), (status = 404, body = ErrorBody, description = "no such task, or it has no pending reminder")))]
pub async fn remove_reminder(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    id: TaskPath,
) -> Result<HttpResponse, AppError> {
    reminders::remove(&state.service, &trace, user.id(), id.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/{user_id}/reminders", tag = "reminders", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ReminderListParams),
    responses((status = 200, body = Vec<Reminder>)))]
pub async fn list_reminders(
    state: web::Data<AppState>,
    user: AuthUser,
    params: ApiQuery<ReminderListParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(reminders::list(&state.service, user.id(), params.0).await?))
}
