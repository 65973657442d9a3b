//! Authentication: HS256 access tokens and their revocation, argon2id
//! password hashes on a bounded pool of threads, login and sign-up
//! throttling, and the [`AuthUser`] extractor that guards every user-scoped
//! route.

mod extractor;
mod password;
pub mod throttle;
mod token;
mod verified;

pub use extractor::{AnyScope, AuthUser, ClientIp};
pub use password::PasswordHasher;
pub use throttle::Throttle;
pub use token::{Claims, Credential, CredentialKind, JwtKeys, Revocation, Scope, token_hash};
pub use verified::VerifiedTokens;
