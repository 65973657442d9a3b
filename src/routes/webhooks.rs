//! `/api/{user_id}/webhooks…` (and the same under `/api/v1/…`).

use actix_web::{HttpResponse, web};

use super::extract::{ApiJson, ApiQuery, WebhookPath};
use crate::auth::AuthUser;
use crate::domain::schema::UserIdPath;
use crate::error::AppError;
use crate::routes::docs::ErrorBody;
use crate::service::webhooks::{
    self, AttemptsQuery, NewWebhook, ReplayInput, Replayed, Webhook, WebhookAttempt, WebhookInput,
    WebhookPatch,
};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/{user_id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), responses((status = 200, body = Vec<Webhook>)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::list(&state.service, user.id()).await?))
}

#[utoipa::path(post, path = "/api/{user_id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path)), request_body = WebhookInput,
    responses((status = 201, body = NewWebhook, description = "created; `secret` is shown this once"),
        (status = 409, body = ErrorBody, description = "the user has the most endpoints allowed (`too_many_webhooks`)")))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<WebhookInput>,
) -> Result<HttpResponse, AppError> {
    let created = webhooks::create(&state.service, user.id(), body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(get, path = "/api/{user_id}/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Webhook)))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::get(&state.service, user.id(), id.0).await?))
}

#[utoipa::path(patch, path = "/api/{user_id}/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)), request_body = WebhookPatch,
    responses((status = 200, body = Webhook)))]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
    body: ApiJson<WebhookPatch>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::update(&state.service, user.id(), id.0, body.0).await?))
}

#[utoipa::path(delete, path = "/api/{user_id}/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "deleted; nothing more is delivered to it")))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
) -> Result<HttpResponse, AppError> {
    webhooks::delete(&state.service, user.id(), id.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/{user_id}/webhooks/{webhook_id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, body = NewWebhook, description = "a new secret, shown this once; the previous one signs too until `previous_secret_expires_at`")))]
pub async fn rotate(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::rotate(&state.service, user.id(), id.0).await?))
}

#[utoipa::path(get, path = "/api/{user_id}/webhooks/{webhook_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path), AttemptsQuery),
    responses((status = 200, body = Vec<WebhookAttempt>, description = "the most recent attempts, newest first")))]
pub async fn deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
    query: ApiQuery<AttemptsQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(
        HttpResponse::Ok()
            .json(webhooks::attempts(&state.service, user.id(), id.0, query.0).await?),
    )
}

#[utoipa::path(post, path = "/api/{user_id}/webhooks/{webhook_id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, body = WebhookAttempt, description = "a `webhook.test` event was sent; how the receiver answered"),
        (status = 503, body = ErrorBody, description = "deliveries are too busy right now (`server_busy`, with `Retry-After`)")))]
pub async fn test(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::test(&state.service, user.id(), id.0).await?))
}

#[utoipa::path(post, path = "/api/{user_id}/webhooks/{webhook_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ("webhook_id" = uuid::Uuid, Path)), request_body = ReplayInput,
    responses((status = 200, body = Replayed, description = "`event_id`: the delivery made again, now; `since_seq`: `{from_seq}`, everything from there is delivered again in order"),
        (status = 409, body = ErrorBody, description = "the log no longer (or not yet) holds that sequence number (`replay_out_of_range`)"),
        (status = 503, body = ErrorBody, description = "deliveries are too busy right now (`server_busy`, with `Retry-After`)")))]
pub async fn replay(
    state: web::Data<AppState>,
    user: AuthUser,
    id: WebhookPath,
    body: ApiJson<ReplayInput>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(webhooks::replay(&state.service, user.id(), id.0, body.0).await?))
}
