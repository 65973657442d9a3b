//! [`AuthUser`]: the bearer token's user, checked against `{user_id}` in the
//! path when the route has one.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::domain::user::UserId;
use crate::error::AppError;
use crate::state::AppState;

/// The authenticated user a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser(pub UserId);

impl AuthUser {
    pub fn id(&self) -> &UserId {
        &self.0
    }

    /// Authenticates `req`: token from the `Authorization: Bearer` header or
    /// `fallback_token` (WebSocket clients that cannot set headers).
    pub fn authenticate(req: &HttpRequest, fallback_token: Option<&str>) -> Result<Self, AppError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| AppError::internal("application state missing"))?;
        let token = bearer(req)
            .or(fallback_token)
            .ok_or(AppError::Unauthorized("missing bearer token"))?;
        let user = state.jwt.verify(token)?;
        // Record who this is for the request log before any 403.
        req.extensions_mut().insert(user.clone());
        if let Some(path_user) = req.match_info().get("user_id")
            && path_user != user.as_str()
        {
            return Err(AppError::Forbidden("this token may not act for that user"));
        }
        Ok(Self(user))
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::authenticate(req, None))
    }
}
