//! [`AuthUser`]: the bearer token's user, checked against `{user_id}` in the
//! path when the route has one, and against the revocations in the
//! database; [`ClientIp`]: the address a request comes from.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::token::{Credential, CredentialKind, Scope};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::service::sessions::{self, Presented};
use crate::state::AppState;

/// The authenticated user a request acts for, with the token it presented:
/// a login token (JWT) or a personal API token (`tsk_…`). A read-only token
/// may use the safe methods (GET, HEAD) only: anything else is a 403 —
/// unless the handler takes [`AnyScope`] instead.
#[derive(Debug, Clone)]
pub struct AuthUser(Credential);

impl AuthUser {
    pub fn id(&self) -> &UserId {
        &self.0.user
    }

    /// The token this request presented.
    pub fn credential(&self) -> &Credential {
        &self.0
    }

    /// Refuses anything but a login token (e.g. for managing API tokens:
    /// a leaked API token must not be able to mint more).
    pub fn require_login(&self) -> Result<(), AppError> {
        match self.0.kind {
            CredentialKind::Login => Ok(()),
            CredentialKind::ApiToken(_) => Err(AppError::Forbidden(
                "API tokens are managed from a login session, not with an API token",
            )),
        }
    }

    /// Authenticates `req`: token from the `Authorization: Bearer` header or
    /// `fallback_token` (WebSocket clients that cannot set headers); refused
    /// when forged, expired, for another user's path, or revoked. The scope
    /// is not checked here.
    pub async fn authenticate(
        req: &HttpRequest,
        fallback_token: Option<&str>,
    ) -> Result<Self, AppError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::internal("application state missing"))?;
        let token = bearer(req)
            .or(fallback_token)
            .ok_or(AppError::Unauthorized("missing bearer token"))?;
        let presented = sessions::present(&state.service, token)?;
        if let Presented::Login(credential) = &presented {
            // Record who this is for the request log before any 403.
            req.extensions_mut().insert(credential.user.clone());
        }
        let credential = match sessions::cached(&state.service, &presented) {
            Some(credential) => credential,
            // The check is spawned rather than awaited in place: actix drops
            // the extractors of a request that another extractor refused,
            // and a SQLite query must not be dropped half-way (its blocking
            // task would be waited for on this single-threaded runtime).
            None => {
                actix_rt::spawn(async move { sessions::confirm(&state.service, presented).await })
                    .await
                    .map_err(AppError::internal)??
            }
        };
        req.extensions_mut().insert(credential.user.clone());
        if let Some(path_user) = req.match_info().get("user_id")
            && path_user != credential.user.as_str()
        {
            return Err(AppError::Forbidden("this token may not act for that user"));
        }
        Ok(Self(credential))
    }
}

/// Refuses a read-only token on a method that changes something.
fn check_scope(req: &HttpRequest, user: &AuthUser) -> Result<(), AppError> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if safe || user.0.scope == Scope::Write {
        Ok(())
    } else {
        Err(AppError::Forbidden("this token may only read"))
    }
}

/// An authenticated user whatever the token's scope: for the few changes a
/// read-only token may make (logging itself out).
#[derive(Debug, Clone)]
pub struct AnyScope(pub AuthUser);

impl FromRequest for AnyScope {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { AuthUser::authenticate(&req, None).await.map(Self) })
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
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = Self::authenticate(&req, None).await?;
            check_scope(&req, &user)?;
            Ok(user)
        })
    }
}

/// The client's address: the TCP peer, or — when the peer is one of the
/// `TRUSTED_PROXIES` — the nearest address in `X-Forwarded-For` that is
/// not itself a trusted proxy. Anything a client could forge is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return ready(Err(AppError::internal("request without a peer address")));
        };
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.trusted_proxies.clone())
            .unwrap_or_default();
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return ready(Ok(Self(peer)));
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer);
        ready(Ok(Self(client)))
    }
}
