//! Real-time sync over WebSocket: `GET /api/ws/{user_id}`.
//!
//! One [`hub::Hub`] actor knows every user's sessions; one
//! [`session::Session`] actor per connection. The dispatcher's in-process
//! fan-out feeds the hub, so sessions get every change at once whatever Dapr
//! or Kafka are doing; events of other replicas arrive through Dapr on
//! `task-updates` and reach the hub as sequence hints. The event log is the
//! source of truth: a session that sees a gap in its user's sequence (a
//! reconnect with `?since=`, an overflowed channel, a lagging fan-out, a hint
//! from another replica) reads what it missed from the log, so every session
//! gets every event of its user exactly once, in order.

pub mod hub;
pub mod protocol;
pub mod session;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;

use crate::auth::AuthUser;
use crate::domain::query::QueryInteger;
use crate::error::AppError;
use crate::routes::extract::parse_query;
use crate::state::AppState;
use session::Session;

/// Largest text frame a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The query parameters of the upgrade request.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WsParams {
    token: Option<String>,
    since: Option<QueryInteger>,
}

/// The token a browser passes as the subprotocol pair `bearer, <token>`.
fn subprotocol_token(req: &HttpRequest) -> Option<String> {
    let offered = req.headers().get("sec-websocket-protocol")?.to_str().ok()?;
    let mut parts = offered.split(',').map(str::trim);
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() =>
        {
            Some(token.to_owned())
        }
        _ => None,
    }
}

#[utoipa::path(get, path = "/api/ws/{user_id}", tag = "realtime", security(("bearer" = [])),
    params(("user_id" = crate::domain::schema::UserIdPath, Path),
        ("token" = Option<String>, Query, description = "the bearer token, for clients that cannot set headers"),
        ("since" = Option<i64>, Query, minimum = 0, description = "replay every event after this sequence number first")),
    responses((status = 101, description = "WebSocket; see the README for the message protocol"),
        (status = 400, body = crate::routes::docs::ErrorBody, description = "not a WebSocket handshake, or a query string that cannot be read")))]
pub async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let params: WsParams = parse_query(req.query_string())?;
    let fallback = params.token.or_else(|| subprotocol_token(&req));
    let user = AuthUser::authenticate(&req, fallback.as_deref()).await?;
    let since = match params.since {
        None => None,
        Some(QueryInteger(n)) if n >= 0 => Some(n),
        Some(_) => return Err(AppError::invalid("since", "must be a non-negative integer")),
    };
    let session = Session::new(user.credential().clone(), since, &state);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(MAX_FRAME_BYTES)
        .protocols(&["bearer"])
        .start()
        .map_err(|e| AppError::BadRequest(format!("not a WebSocket handshake: {e}")))
}
