//! `/api/auth/…`: sign-up, login and the caller's profile.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::auth::{AuthUser, ClientIp};
use crate::domain::user::User;
use crate::error::AppError;
use crate::routes::docs::ErrorBody;
use crate::service::sessions;
use crate::service::users::{self, LoginInput, ProfilePatch, SignupInput};
use crate::state::AppState;

/// A user and a bearer token for them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub user: User,
    /// HS256 JWT for `Authorization: Bearer …`.
    pub token: String,
    pub token_type: &'static str,
}

fn session(user: User, token: String) -> Session {
    Session {
        user,
        token,
        token_type: "Bearer",
    }
}

#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupInput,
    responses((status = 201, body = Session),
        (status = 409, body = ErrorBody, description = "an account with this e-mail address exists (`email_taken`)"),
        (status = 429, body = ErrorBody, description = "too many sign-ups from this address (`Retry-After`)",
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = ErrorBody, description = "the database cannot be reached, or too many logins and sign-ups are being hashed (`server_busy`, `Retry-After`)")))]
pub async fn signup(
    state: web::Data<AppState>,
    client: ClientIp,
    body: ApiJson<SignupInput>,
) -> Result<HttpResponse, AppError> {
    let (user, token) = users::signup(&state.service, body.0, client.0).await?;
    Ok(HttpResponse::Created().json(session(user, token)))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = Session),
        (status = 401, body = ErrorBody, description = "wrong e-mail address or password (alike)"),
        (status = 429, body = ErrorBody, description = "too many failed logins for this account or from this address (`Retry-After`)",
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = ErrorBody, description = "the database cannot be reached, or too many logins and sign-ups are being hashed (`server_busy`, `Retry-After`)")))]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientIp,
    body: ApiJson<LoginInput>,
) -> Result<HttpResponse, AppError> {
    let (user, token) = users::login(&state.service, body.0, client.0).await?;
    Ok(HttpResponse::Ok().json(session(user, token)))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "the presented token no longer works anywhere (open WebSockets with it are closed)")))]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    sessions::logout(&state.service, user.credential()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "every token of the user, this one included, no longer works")))]
pub async fn logout_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    sessions::logout_everywhere(&state.service, user.id()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User)))]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(users::me(&state.service, user.id()).await?))
}

#[utoipa::path(patch, path = "/api/auth/me", tag = "auth", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = User)))]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<ProfilePatch>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(users::update_me(&state.service, user.id(), body.0).await?))
}
