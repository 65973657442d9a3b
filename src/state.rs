//! The one piece of shared state handlers receive through `web::Data`.

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::db::Db;
use crate::settings::Settings;

/// Everything a request may need: the database, token keys, settings and
/// the logger. Cheap to clone; no globals.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jwt: JwtKeys,
    pub settings: Arc<Settings>,
    pub log: slog::Logger,
}
