//! The MCP server for AI assistants: Streamable HTTP at `/mcp`, one tool per
//! use case (see [`tools`]), every call made as the user whose token the
//! HTTP request carries — a login token or a personal API token; a read-only
//! token sees and may call only the tools that read.
//!
//! Requests are served without sessions (each message stands alone and
//! authenticates itself), so any replica can answer any message and nothing
//! is held per client between them. As the protocol asks of HTTP servers,
//! the `Host` is checked against the names the service is known by (a guard
//! against DNS rebinding), a browser's `Origin` must be the service's own or
//! one CORS allows, and a missing or refused token gets a 401 naming the
//! protected-resource metadata (RFC 9728).

mod schema;
mod server;
pub mod tools;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use rmcp_actix_web::transport::{LocalSessionManager, StreamableHttpService};
use serde_json::json;

use crate::auth::{AuthUser, Credential};
use crate::error::AppError;
use crate::events::Trace;
use crate::routes::extract::MAX_BODY_BYTES;
use crate::service::Context;
use crate::settings::Settings;
use crate::state::AppState;
pub use server::McpServer;

/// Where the MCP endpoint is mounted.
pub const PATH: &str = "/mcp";
/// The protected-resource metadata (RFC 9728), named in every 401; also
/// served at the path-suffixed form RFC 9728 §3.1 derives from `/mcp`.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The MCP transport, built once and shared by every worker.
pub type Service = StreamableHttpService<McpServer, LocalSessionManager>;

/// Who sent an MCP message, as the HTTP layer established it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
    /// The HTTP request's trace: events the call records carry it.
    pub trace: Trace,
}

/// The transport over `ctx`.
pub fn service(ctx: Context) -> Service {
    let hosts = ctx.settings.mcp_allowed_hosts().unwrap_or_default();
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(McpServer::new(ctx.clone()))))
        .session_manager(Arc::new(LocalSessionManager::default()))
        .stateful_mode(false)
        .json_response(true)
        .max_request_body_bytes(MAX_BODY_BYTES)
        .allowed_hosts(hosts)
        .on_request_fn(|req, extensions| {
            if let Some(caller) = req.extensions().get::<Caller>() {
                extensions.insert(caller.clone());
            }
        })
        .build()
}

/// Mounts the endpoint and its metadata.
pub fn configure(cfg: &mut web::ServiceConfig, mcp: &Service) {
    cfg.service(web::resource(METADATA_PATH).get(metadata))
        .service(web::resource(format!("{METADATA_PATH}{PATH}")).get(metadata))
        .service(mcp.clone().scope_with_path(PATH).wrap(from_fn(guard)));
}

/// Checks the `Origin` and the token before a message reaches the server.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The clone must be gone before the request moves on: routing below
    // needs it unshared.
    let checked = {
        let http = req.request().clone();
        match check_origin(&http) {
            Ok(()) => authenticate(&http).await,
            Err(err) => Err(err),
        }
        .map_err(|err| refusal(&http, &err))
    };
    match checked {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(res) => Ok(req.into_response(res)),
    }
}

/// The response to a refused message; a 401 names the metadata.
fn refusal(req: &HttpRequest, err: &AppError) -> HttpResponse {
    let mut res = err.error_response();
    if matches!(err, AppError::Unauthorized(_)) {
        let challenge = format!(
            "Bearer resource_metadata=\"{}{METADATA_PATH}\"",
            base_url(req)
        );
        if let Ok(value) = header::HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    res
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, AppError> {
    let user = AuthUser::authenticate(req, None).await?;
    let trace = Trace::extract(req).await?;
    Ok(Caller {
        credential: user.credential().clone(),
        trace,
    })
}

/// A browser may call from the service's own origin, or one CORS allows.
fn check_origin(req: &HttpRequest) -> Result<(), AppError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let settings = settings(req);
    let allowed = origin == base_url(req)
        || settings.is_some_and(|s| s.cors_allowed_origins().contains(&origin));
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the MCP endpoint does not answer pages from this origin",
        ))
    }
}

fn settings(req: &HttpRequest) -> Option<&Settings> {
    req.app_data::<web::Data<AppState>>()
        .map(|state| state.service.settings.as_ref())
}

/// The service's base URL: `PUBLIC_URL`, or where this request came to.
fn base_url(req: &HttpRequest) -> String {
    if let Some(url) = settings(req).and_then(Settings::public_origin) {
        return url.to_owned();
    }
    let info = req.connection_info();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(info.host());
    format!("{}://{host}", info.scheme())
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`: what the MCP endpoint
/// is and how to present a token to it. Tokens are taskstream's own (a
/// login or a personal API token) unless an external identity provider is
/// configured, which is then named as the authorization server.
async fn metadata(req: HttpRequest) -> HttpResponse {
    let base = base_url(&req);
    let mut document = json!({
        "resource": format!("{base}{PATH}"),
        "bearer_methods_supported": ["header"],
        "resource_name": "taskstream",
        "resource_documentation": format!("{base}/docs/"),
    });
    let servers = settings(&req)
        .map(Settings::oauth_authorization_servers)
        .unwrap_or_default();
    if !servers.is_empty() {
        document["authorization_servers"] = json!(servers);
    }
    HttpResponse::Ok().json(document)
}
