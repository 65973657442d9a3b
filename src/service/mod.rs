//! Use cases. Each mutation runs in exactly one database transaction, so a
//! change and everything recorded about it commit or roll back together.
//! REST handlers, the MCP server and Dapr consumers all call these.

pub mod activity;
pub mod reminders;
pub mod retention;
pub mod sessions;
pub mod tags;
pub mod tasks;
pub mod users;

use chrono_tz::Tz;

use crate::db::{self, Conn};
use crate::domain::user::{UserId, parse_timezone};
use crate::error::AppError;

/// The user's time zone (UTC until they set one).
pub(crate) async fn user_tz(conn: &mut Conn<'_>, user: &UserId) -> Result<Tz, AppError> {
    let name = db::users::timezone(conn, user.as_str()).await?;
    Ok(parse_timezone(&name).unwrap_or(Tz::UTC))
}

/// Checks an `If-Match` version against the current one.
pub fn check_version(expected: Option<i32>, current: i32) -> Result<(), AppError> {
    match expected {
        Some(v) if v != current => Err(AppError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}
