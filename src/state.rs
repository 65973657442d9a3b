//! The one piece of shared state handlers receive through `web::Data`.

use std::sync::Arc;

use crate::events::dispatcher::FanOut;
use crate::service::Context;
use crate::ws::hub::Hub;

/// What a request may need: the use cases' [`Context`], and what only the
/// HTTP side has — the WebSocket hub, the in-process fan-out, the reverse
/// proxies to believe. Cheap to clone; no globals.
#[derive(Clone)]
pub struct AppState {
    /// What use cases run with.
    pub service: Context,
    /// This instance's committed events, in process.
    pub fanout: FanOut,
    /// The WebSocket hub actor.
    pub hub: actix::Addr<Hub>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}
