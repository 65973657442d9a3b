//! `/api/{user_id}/activity-logs` and `/metrics`.

use actix_web::{HttpResponse, web};

use super::extract::ApiQuery;
use crate::auth::AuthUser;
use crate::db;
use crate::domain::schema::UserIdPath;
use crate::error::AppError;
use crate::service::activity::{self, ActivityPage, ActivityParams};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/{user_id}/activity-logs", tag = "activity", security(("bearer" = [])),
    params(("user_id" = UserIdPath, Path), ActivityParams),
    responses((status = 200, body = ActivityPage)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    params: ApiQuery<ActivityParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(activity::list(&state.service, user.id(), params.0).await?))
}

#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let service = &state.service;
    service
        .metrics
        .db_writers_waiting
        .set(service.db.writers_waiting());
    if let Ok(mut pooled) = service.db.get().await
        && let Ok(pending) = db::events::pending_count(&mut pooled.conn()).await
    {
        service.metrics.outbox_pending.set(pending);
    }
    if let Ok(mut pooled) = service.db.get().await
        && let Ok(backlog) = db::webhooks::backlog(&mut pooled.conn()).await
    {
        service.metrics.webhook_backlog.set(backlog);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(service.metrics.render())
}
