//! `/api/auth/…`: sign-up, login and the caller's profile.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::auth::{AnyScope, AuthUser, ClientIp};
use crate::domain::user::User;
use crate::error::AppError;
use crate::routes::docs::ErrorBody;
use crate::service::api_tokens::{self, ApiToken, ApiTokenInput, NewApiToken};
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
    responses((status = 204, description = "the presented token (login or API token) no longer works anywhere; open WebSockets with it are closed")))]
pub async fn logout(state: web::Data<AppState>, user: AnyScope) -> Result<HttpResponse, AppError> {
    sessions::logout(&state.service, user.0.credential()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "every login token of the user, this one included, no longer works (API tokens are revoked one by one)"),
        (status = 403, body = ErrorBody, description = "called with an API token: only a login session may")))]
pub async fn logout_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    user.require_login()?;
    sessions::logout_everywhere(&state.service, user.id()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/auth/tokens", tag = "auth", security(("bearer" = [])), request_body = ApiTokenInput,
    responses((status = 201, body = NewApiToken, description = "created; its secret is shown this once"),
        (status = 403, body = ErrorBody, description = "called with an API token: only a login session may manage them"),
        (status = 409, body = ErrorBody, description = "the user holds 50 tokens already (`too_many_tokens`)")))]
pub async fn create_token(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<ApiTokenInput>,
) -> Result<HttpResponse, AppError> {
    user.require_login()?;
    let token = api_tokens::create(&state.service, user.id(), body.0).await?;
    Ok(HttpResponse::Created().json(token))
}

#[utoipa::path(get, path = "/api/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiToken>, description = "the user's tokens that are not revoked; never their secrets"),
        (status = 403, body = ErrorBody, description = "called with an API token: only a login session may manage them")))]
pub async fn list_tokens(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    user.require_login()?;
    Ok(HttpResponse::Ok().json(api_tokens::list(&state.service, user.id()).await?))
}

#[utoipa::path(delete, path = "/api/auth/tokens/{token_id}", tag = "auth", security(("bearer" = [])),
    params(("token_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "revoked at once, everywhere"),
        (status = 403, body = ErrorBody, description = "called with an API token: only a login session may manage them"),
        (status = 404, body = ErrorBody, description = "no such active token of this user")))]
pub async fn revoke_token(
    state: web::Data<AppState>,
    user: AuthUser,
    token_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_login()?;
    let id = uuid::Uuid::parse_str(&token_id).map_err(|_| AppError::NotFound("API token"))?;
    api_tokens::revoke(&state.service, user.id(), id).await?;
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
