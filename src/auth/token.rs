//! HS256 access tokens. `sub` is the user id; tokens minted by an external
//! identity provider that shares the secret are accepted the same way.
//!
//! Tokens this service issues carry the user's token `epoch`: "log out
//! everywhere" moves the epoch on, which ends every token issued before at
//! once (an exact comparison, whatever the clocks of the replicas say).
//! External tokens have no epoch; for them the instant of the last "log out
//! everywhere" is compared with their `iat`. A single token is ended by
//! logging out with it: its SHA-256 is remembered until it would have
//! expired anyway.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::user::UserId;
use crate::error::AppError;

/// The claims this service issues and reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// The user's token epoch when issued (tokens of this service only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// Unique per token, so two logins in the same second get different
    /// tokens (and logging out of one leaves the other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A presented token that checked out: who it speaks for, what it may do,
/// and what is needed to tell whether it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub user: UserId,
    /// Hex SHA-256 of the token: the key a logout revokes it under.
    pub token_hash: String,
    pub epoch: Option<i64>,
    /// `iat`, seconds since the epoch (0 when the token has none).
    pub issued_at: i64,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    pub scope: Scope,
    pub kind: CredentialKind,
}

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read only: every change is refused (403).
    Read,
    /// Read and change.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err("must be read or write".into()),
        }
    }
}

/// Which kind of token it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// A login token (a JWT): ours, or an external identity provider's.
    Login,
    /// A personal API token (`tsk_…`), by its id.
    ApiToken(String),
}

/// What ended one or more tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One token, by its hash (logout).
    Token(String),
    /// Every token of the user issued before: those of an earlier epoch, and
    /// external ones issued before the instant (log out everywhere).
    Before {
        epoch: i64,
        valid_after: chrono::NaiveDateTime,
    },
}

impl Credential {
    /// Whether `revocation` ends this token.
    pub fn is_ended_by(&self, revocation: &Revocation) -> bool {
        match revocation {
            Revocation::Token(hash) => *hash == self.token_hash,
            // "Log out everywhere" ends login tokens; API tokens are revoked
            // one by one.
            Revocation::Before { .. } if self.kind != CredentialKind::Login => false,
            Revocation::Before { epoch, valid_after } => match self.epoch {
                Some(mine) => mine < *epoch,
                None => self.issued_at <= valid_after.and_utc().timestamp(),
            },
        }
    }
}

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Signing and verification keys for one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: chrono::Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_minutes: i64) -> Self {
        // Only HS256: `alg: none` and every other algorithm are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: chrono::Duration::minutes(ttl_minutes),
        }
    }

    /// A fresh token for `user` in their current token `epoch`.
    pub fn issue(&self, user: &UserId, epoch: i64) -> Result<String, AppError> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: user.as_str().to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            epoch: Some(epoch),
            jti: Some(uuid::Uuid::new_v4().to_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// Checks signature and expiry; any defect is a 401. Whether the token
    /// was revoked is the caller's question (it needs the database).
    pub fn verify(&self, token: &str) -> Result<Credential, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::Unauthorized("token has expired")
                }
                _ => AppError::Unauthorized("invalid token"),
            })?;
        let claims = data.claims;
        Ok(Credential {
            user: UserId::parse(&claims.sub)
                .map_err(|_| AppError::Unauthorized("invalid token subject"))?,
            token_hash: token_hash(token),
            epoch: claims.epoch,
            issued_at: claims.iat,
            expires_at: claims.exp,
            scope: Scope::Write,
            kind: CredentialKind::Login,
        })
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let user = UserId::parse("user-1").unwrap();
        let token = keys.issue(&user, 3).unwrap();
        assert_ne!(
            token,
            keys.issue(&user, 3).unwrap(),
            "every token is unique"
        );
        let credential = keys.verify(&token).unwrap();
        assert_eq!(credential.user, user);
        assert_eq!(credential.epoch, Some(3));
        assert_eq!(credential.token_hash, token_hash(&token));
        assert_eq!(credential.token_hash.len(), 64);
        let other = JwtKeys::new(b"another secret that is long enough", 60);
        assert!(other.verify(&token).is_err());
        let expired = JwtKeys::new(b"0123456789abcdef0123456789abcdef", -60)
            .issue(&user, 0)
            .unwrap();
        assert!(matches!(
            keys.verify(&expired),
            Err(AppError::Unauthorized("token has expired"))
        ));
    }

    #[test]
    fn revocations_end_the_tokens_they_name() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc();
        let own = Credential {
            user: UserId::parse("u").unwrap(),
            token_hash: "aa".into(),
            epoch: Some(2),
            issued_at: 1_000,
            expires_at: 2_000,
            scope: Scope::Write,
            kind: CredentialKind::Login,
        };
        assert!(own.is_ended_by(&Revocation::Token("aa".into())));
        assert!(!own.is_ended_by(&Revocation::Token("bb".into())));
        let everywhere = |epoch| Revocation::Before {
            epoch,
            valid_after: at(5_000),
        };
        assert!(own.is_ended_by(&everywhere(3)), "an earlier epoch ends");
        assert!(!own.is_ended_by(&everywhere(2)), "the current epoch lives");
        let external = Credential {
            epoch: None,
            ..own.clone()
        };
        assert!(external.is_ended_by(&everywhere(3)));
        let later = Credential {
            issued_at: 6_000,
            ..external.clone()
        };
        assert!(!later.is_ended_by(&everywhere(3)));
        let api = Credential {
            kind: CredentialKind::ApiToken("t1".into()),
            ..external
        };
        assert!(
            !api.is_ended_by(&everywhere(3)),
            "API tokens are revoked one by one"
        );
        assert!(api.is_ended_by(&Revocation::Token("aa".into())));
    }
}
