//! The one piece of shared state handlers receive through `web::Data`.

use std::sync::Arc;

use crate::auth::{JwtKeys, PasswordHasher, Throttle, VerifiedTokens};
use crate::db::Db;
use crate::events::bus::EventBus;
use crate::events::dispatcher::FanOut;
use crate::events::inbound::InboundFanOut;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::ws::hub::Hub;

/// Everything a request may need: the database, token keys, the event bus
/// and fan-outs, metrics, settings and the logger. Cheap to clone; no
/// globals.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jwt: JwtKeys,
    /// The bounded pool that hashes passwords.
    pub passwords: PasswordHasher,
    /// Login and sign-up throttling (per replica).
    pub throttle: Arc<Throttle>,
    /// Tokens the database recently found good (per replica).
    pub verified: Arc<VerifiedTokens>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Records events in transactions and hands them to the dispatcher.
    pub events: EventBus,
    /// This instance's committed events, in process.
    pub fanout: FanOut,
    /// Events Dapr delivered from elsewhere, in process.
    pub inbound: InboundFanOut,
    pub metrics: Arc<Metrics>,
    /// The WebSocket hub actor.
    pub hub: actix::Addr<Hub>,
    pub settings: Arc<Settings>,
    pub log: slog::Logger,
}
