//! `/api/{user_id}/tags…` (and the same under `/api/v1/…`).

use actix_web::{HttpResponse, web};

use super::extract::{ApiJson, TagPath};
use crate::auth::AuthUser;
use crate::domain::schema::UserIdPath;
use crate::domain::tag::Tag;
use crate::error::AppError;
use crate::events::Trace;
use crate::routes::docs::ErrorBody;
use crate::service::tags::{self, TagInput};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/{user_id}/tags", tag = "tags", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), responses((status = 200, body = Vec<Tag>)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(tags::list(&state.service, user.id()).await?))
}

#[utoipa::path(post, path = "/api/{user_id}/tags", tag = "tags", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), request_body = TagInput,
    responses((status = 201, body = Tag), (status = 409, body = ErrorBody, description = "a tag of that name exists (`tag_exists`)")))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<TagInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(tags::create(&state.service, user.id(), body.0).await?))
}

#[utoipa::path(put, path = "/api/{user_id}/tags/{tag_id}", tag = "tags", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("tag_id" = uuid::Uuid, Path)), request_body = TagInput,
    responses((status = 200, body = Tag, description = "renamed and/or recoloured (every task carrying it gets a new version)"),
        (status = 409, body = ErrorBody, description = "another tag has that name (`tag_exists`)")))]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    tag: TagPath,
    body: ApiJson<TagInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(tags::update(&state.service, &trace, user.id(), &tag.0, body.0).await?))
}

#[utoipa::path(delete, path = "/api/{user_id}/tags/{tag_id}", tag = "tags", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("tag_id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted and detached from every task")))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    trace: Trace,
    tag: TagPath,
) -> Result<HttpResponse, AppError> {
    tags::delete(&state.service, &trace, user.id(), &tag.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
