//! [`AuthUser`]: the bearer token's user, checked against `{user_id}` in the
//! path when the route has one, and against the revocations in the
//! database; [`ClientIp`]: the address a request comes from.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::token::Credential;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::state::AppState;

/// The authenticated user a request acts for, with the token it presented.
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

    /// Authenticates `req`: token from the `Authorization: Bearer` header or
    /// `fallback_token` (WebSocket clients that cannot set headers); refused
    /// when forged, expired, for another user's path, or revoked.
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
        let credential = state.service.jwt.verify(token)?;
        // Record who this is for the request log before any 403.
        req.extensions_mut().insert(credential.user.clone());
        if let Some(path_user) = req.match_info().get("user_id")
            && path_user != credential.user.as_str()
        {
            return Err(AppError::Forbidden("this token may not act for that user"));
        }
        // A token verified recently needs no query. Otherwise the check is
        // spawned rather than awaited in place: actix drops the extractors
        // of a request that another extractor refused, and a SQLite query
        // must not be dropped half-way (its blocking task would be waited
        // for on this single-threaded runtime).
        if !state.service.verified.is_known_good(&credential) {
            let checked = credential.clone();
            actix_rt::spawn(async move {
                crate::service::sessions::check(&state.service, &checked).await
            })
            .await
            .map_err(AppError::internal)??;
        }
        Ok(Self(credential))
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
        Box::pin(async move { Self::authenticate(&req, None).await })
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
