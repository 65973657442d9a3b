//! One error type for every use case, free of any protocol: a stable
//! machine-readable `code`, a message, and field details. Its single JSON
//! shape is `{"error": {"code", "message", "details"}}`; REST maps it to a
//! status code (`routes::errors`), MCP to a tool error.
//!
//! Database and pool failures are classified here, in one place, so that no
//! use case decides on its own what a missing row or an unreachable database
//! means.

use std::collections::BTreeMap;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::Value;

/// Field name → why it was refused.
pub type FieldErrors = BTreeMap<String, String>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that parsed but broke a rule; `details` names each field.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// A body or parameter that could not be read at all (malformed JSON).
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// The named kind of resource does not exist *for this user*.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed: current version is {current}")]
    PreconditionFailed { current: i32 },
    /// Too many attempts (logins, sign-ups) from this client or for this
    /// account: try again after `retry_after` seconds.
    #[error("{message}")]
    TooManyRequests {
        retry_after: u64,
        message: &'static str,
    },
    /// The service is saturated (e.g. every password-hashing slot is taken
    /// and the queue is full): try again after `retry_after` seconds.
    #[error("{message}")]
    Busy {
        retry_after: u64,
        message: &'static str,
    },
    /// The database (or another dependency) cannot be reached right now.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug or an unexpected failure; the cause is logged, never returned.
    #[error("internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// A validation error for one field.
    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.into(), why.into())]))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } => code,
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Busy { .. } => "server_busy",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Facts a client can act on: the refused fields, the current version,
    /// how long to wait.
    pub fn details(&self) -> Value {
        match self {
            Self::Validation(fields) => serde_json::json!(fields),
            Self::PreconditionFailed { current } => {
                serde_json::json!({ "current_version": current })
            }
            Self::TooManyRequests { retry_after, .. } | Self::Busy { retry_after, .. } => {
                serde_json::json!({ "retry_after": retry_after })
            }
            _ => Value::Null,
        }
    }

    /// The whole cause chain, for logs.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }

    /// The message shown to clients (never the cause of an internal error).
    pub fn public_message(&self) -> String {
        match self {
            Self::Validation(_) => "the request has invalid fields".to_owned(),
            other => other.to_string(),
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Value {
        error_body(self.code(), self.public_message(), self.details())
    }
}

/// The JSON body every error response carries.
pub fn error_body(code: &str, message: impl Into<String>, details: Value) -> Value {
    serde_json::json!({ "error": { "code": code, "message": message.into(), "details": details } })
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound("resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::conflict("conflict", format!("already exists: {}", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::BrokenTransactionManager => Self::Unavailable(Box::new(err)),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if is_unavailable_message(info.message()) =>
            {
                Self::Unavailable(Box::new(err))
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Messages that mean "the database is not there right now" rather than "the
/// query is wrong": a dropped connection, a database being shut down, SQLite
/// refusing after its busy timeout.
fn is_unavailable_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "database is locked",
        "connection closed",
        "terminating connection",
        "database \"",
        "the database system is",
        "unable to open database",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl From<crate::db::WriteQueueTimeout> for AppError {
    fn from(err: crate::db::WriteQueueTimeout) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

impl From<crate::db::PoolError> for AppError {
    fn from(err: crate::db::PoolError) -> Self {
        Self::Unavailable(Box::new(err))
    }
}
