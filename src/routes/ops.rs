//! Liveness and readiness for orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::error_body;
use crate::state::AppState;

/// `{"status": "ok"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// `{"status": "ready", "database": "ok"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    pub status: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health, description = "the process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Ready, description = "the database answers"),
        (status = 503, body = crate::routes::docs::ErrorBody, description = "it does not")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.service.db.ping().await {
        HttpResponse::Ok().json(Ready {
            status: "ready",
            database: "ok",
        })
    } else {
        HttpResponse::ServiceUnavailable().json(error_body(
            "service_unavailable",
            "the database does not answer",
            json!({ "database": "unreachable" }),
        ))
    }
}
