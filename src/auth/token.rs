//! HS256 access tokens. `sub` is the user id; tokens minted by an external
//! identity provider that shares the secret are accepted the same way.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::user::UserId;
use crate::error::AppError;

/// The claims this service issues and reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
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

    /// A fresh token for `user`.
    pub fn issue(&self, user: &UserId) -> Result<String, AppError> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: user.as_str().to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// The user a token speaks for; any defect is a 401.
    pub fn verify(&self, token: &str) -> Result<UserId, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::Unauthorized("token has expired")
                }
                _ => AppError::Unauthorized("invalid token"),
            })?;
        UserId::parse(&data.claims.sub).map_err(|_| AppError::Unauthorized("invalid token subject"))
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
        let token = keys.issue(&user).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), user);
        let other = JwtKeys::new(b"another secret that is long enough", 60);
        assert!(other.verify(&token).is_err());
        let expired = JwtKeys::new(b"0123456789abcdef0123456789abcdef", -60)
            .issue(&user)
            .unwrap();
        assert!(matches!(
            keys.verify(&expired),
            Err(AppError::Unauthorized("token has expired"))
        ));
    }
}
