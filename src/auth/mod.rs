//! Authentication: HS256 access tokens, argon2id password hashes, and the
//! [`AuthUser`] extractor that guards every user-scoped route.

mod extractor;
mod password;
mod token;

pub use extractor::AuthUser;
pub use password::{hash_password, verify_password};
pub use token::{Claims, JwtKeys};
