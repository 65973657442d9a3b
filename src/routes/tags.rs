//! `/api/{user_id}/tags…` (and the same under `/api/v1/…`).

use actix_web::{HttpResponse, web};

use super::extract::{ApiJson, TagPath};
use crate::auth::AuthUser;
use crate::domain::tag::Tag;
use crate::error::AppError;
use crate::events::Trace;
use crate::service::tags::{self, TagInput};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/{user_id}/tags", tag = "tags", security(("bearer" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Vec<Tag>)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(tags::list(&state, user.id()).await?))
}

#[utoipa::path(post, path = "/api/{user_id}/tags", tag = "tags", security(("bearer" = [])),
    params(("user_id" = String, Path)), request_body = TagInput,
    responses((status = 201, body = Tag), (status = 409, description = "name taken"), (status = 422)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<TagInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(tags::create(&state, user.id(), body.0).await?))
}

#[utoipa::path(put, path = "/api/{user_id}/tags/{tag_id}", tag = "tags", security(("bearer" = [])),
    params(("user_id" = String, Path), ("tag_id" = uuid::Uuid, Path)), request_body = TagInput,
    responses((status = 200, body = Tag), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    tag: TagPath,
    body: ApiJson<TagInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(tags::update(&state, &trace, user.id(), &tag.0, body.0).await?))
}

#[utoipa::path(delete, path = "/api/{user_id}/tags/{tag_id}", tag = "tags", security(("bearer" = [])),
    params(("user_id" = String, Path), ("tag_id" = uuid::Uuid, Path)), responses((status = 204), (status = 404)))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    tag: TagPath,
) -> Result<HttpResponse, AppError> {
    tags::delete(&state, &trace, user.id(), &tag.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
