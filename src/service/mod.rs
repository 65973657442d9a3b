//! Use cases. Each mutation runs in exactly one database transaction, so a
//! change and everything recorded about it commit or roll back together.
//! REST handlers, the MCP server and Dapr's deliveries all call these, with
//! a [`Context`] that knows nothing of any protocol.

pub mod activity;
pub mod api_tokens;
pub mod deliveries;
pub mod reminders;
pub mod retention;
pub mod sessions;
pub mod tags;
pub mod tasks;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use slog::Logger;
use tokio::sync::{broadcast, mpsc};

use crate::auth::{JwtKeys, PasswordHasher, Revocation, Throttle, VerifiedTokens};
use crate::clock::Clock;
use crate::db::{self, Conn, Db};
use crate::domain::user::{UserId, parse_timezone};
use crate::error::AppError;
use crate::events::bus::{Batch, EventBus};
use crate::events::dispatcher::Webhooks;
use crate::events::inbound::InboundFanOut;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// Everything a use case may need, and nothing of any protocol: no HTTP, no
/// actors. A test or another protocol's server builds one without a web
/// server. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    /// Records events in transactions and hands them on after commit.
    pub events: EventBus,
    pub settings: Arc<Settings>,
    /// "Now", injectable.
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub log: Logger,
    pub jwt: JwtKeys,
    /// The bounded pool that hashes passwords.
    pub passwords: PasswordHasher,
    /// Login and sign-up throttling (per replica).
    pub throttle: Arc<Throttle>,
    /// Tokens the database recently found good (per replica).
    pub verified: Arc<VerifiedTokens>,
    /// Revocations, for whatever holds sessions of the tokens they end.
    pub revocations: Revocations,
    /// CloudEvents delivered from other replicas, for whatever listens.
    pub inbound: InboundFanOut,
    /// The webhook deliverer, for one-off deliveries and wake-ups.
    pub webhooks: Webhooks,
}

/// How many fan-out messages a slow listener may fall behind by.
const NOTICE_CAPACITY: usize = 4096;

impl Context {
    /// A context over `db`, with the settings' keys and limits; also the
    /// receiving end of the event bus, for the dispatcher.
    pub fn new(
        settings: Arc<Settings>,
        db: Db,
        jwt_secret: &[u8],
        clock: Clock,
        log: Logger,
    ) -> Result<(Self, mpsc::Receiver<Batch>), ContextError> {
        let metrics = Arc::new(Metrics::new().map_err(|e| ContextError::Metrics(e.to_string()))?);
        let (events, receiver) = EventBus::new(&settings, metrics.clone(), clock.clone());
        let passwords =
            PasswordHasher::start(settings.password_hash_workers, settings.password_hash_queue)
                .map_err(ContextError::Threads)?;
        let context = Self {
            db,
            events,
            jwt: JwtKeys::new(jwt_secret, settings.jwt_ttl_minutes),
            passwords,
            throttle: Arc::new(Throttle::new(&settings)),
            verified: Arc::default(),
            revocations: Revocations::new(NOTICE_CAPACITY),
            inbound: InboundFanOut::new(NOTICE_CAPACITY),
            webhooks: Webhooks::new(&settings),
            metrics,
            clock,
            log,
            settings,
        };
        Ok((context, receiver))
    }

    /// The current time.
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }
}

/// Why a [`Context`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("could not set up metrics: {0}")]
    Metrics(String),
    #[error("could not start the password hashing threads: {0}")]
    Threads(std::io::Error),
}

/// Where revocations are announced: `(user, revocation)`.
#[derive(Clone)]
pub struct Revocations(broadcast::Sender<Arc<(String, Revocation)>>);

impl Revocations {
    fn new(capacity: usize) -> Self {
        Self(broadcast::channel(capacity).0)
    }

    /// Every revocation from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<(String, Revocation)>> {
        self.0.subscribe()
    }

    pub(crate) fn announce(&self, user_id: String, revocation: Revocation) {
        // Nobody listening (no WebSocket sessions) is fine.
        let _ = self.0.send(Arc::new((user_id, revocation)));
    }
}

/// The user's time zone (UTC until they set one, and for a user without a
/// row yet).
pub(crate) async fn user_tz(conn: &mut Conn<'_>, user: &UserId) -> Result<Tz, AppError> {
    let name = db::users::timezone(conn, user.as_str()).await?;
    Ok(zone(name.as_deref()))
}

/// Like [`user_tz`], first creating the user's row if it has none yet (a
/// user known only from an external token).
pub(crate) async fn ensure_user_tz(
    ctx: &Context,
    conn: &mut Conn<'_>,
    user: &UserId,
) -> Result<Tz, AppError> {
    let name = db::users::timezone(conn, user.as_str()).await?;
    if name.is_none() {
        db::users::ensure(conn, user.as_str(), ctx.now()).await?;
    }
    Ok(zone(name.as_deref()))
}

fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| parse_timezone(n).ok()).unwrap_or(Tz::UTC)
}

/// Checks an `If-Match` version against the current one.
pub fn check_version(expected: Option<i32>, current: i32) -> Result<(), AppError> {
    match expected {
        Some(v) if v != current => Err(AppError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}
