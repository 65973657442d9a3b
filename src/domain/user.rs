//! Users: ids, e-mail addresses, passwords, display names and time zones.

use std::str::FromStr;

use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

/// A user id: ours are UUIDs; an external identity provider's may be any
/// URL-safe string of 1–128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("user ids are 1-128 URL-safe characters".into())
        }
    }

    /// A fresh id for a user who signs up here.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest e-mail address, in bytes.
pub const MAX_EMAIL: usize = 254;

/// A syntactically valid e-mail address (with a dot in its domain),
/// lower-cased (addresses are unique case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let valid = s.len() <= MAX_EMAIL
            && !s.chars().any(char::is_control)
            && email_address::EmailAddress::from_str(s).is_ok_and(|e| e.domain().contains('.'));
        if valid {
            Ok(Self(s.to_lowercase()))
        } else {
            Err("must be a valid e-mail address".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8–1024 characters (the cap keeps hashing bounded).
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(s: String) -> Result<Self, String> {
        match s.chars().count() {
            0..8 => Err("must be at least 8 characters".into()),
            8..=1024 => Ok(Self(s)),
            _ => Err("must be at most 1024 characters".into()),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: at most 100 characters, no control characters; trimmed,
/// and empty means none.
pub fn parse_name(s: &str) -> Result<Option<String>, String> {
    super::no_control_chars(s)?;
    super::at_most(s, MAX_NAME)?;
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// Longest display name, in characters.
pub const MAX_NAME: usize = 100;

/// An IANA time zone name such as `Europe/Berlin`.
pub fn parse_timezone(s: &str) -> Result<Tz, String> {
    Tz::from_str(s).map_err(|_| format!("unknown IANA time zone {s:?}"))
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// IANA time zone; dates without a time are read in it.
    pub timezone: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_url_safe() {
        assert!(UserId::parse("auth0|123").is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        assert!(UserId::parse("google-oauth2.1234_x~").is_ok());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("Ann@Example.COM").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "a b@example.com",
            " ann@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough".into()).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("secret123".into()).unwrap()),
            "Password(***)"
        );
    }
}
