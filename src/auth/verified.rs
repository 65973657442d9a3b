//! Tokens found good recently, so that most requests need not ask the
//! database whether their token was revoked.
//!
//! An entry is only ever a token the database said was good, and it is
//! dropped the moment a revocation that ends it is known: at once for a
//! logout handled by this replica, within a second for one handled by
//! another (the revocation watcher reports it). An entry is re-checked after
//! [`MAX_AGE`] in any case, which bounds how long a revocation this replica
//! somehow did not hear of (the database unreachable meanwhile) can go
//! unnoticed. Bounded: the least recently used tokens are forgotten first.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use super::token::{Credential, Revocation};

/// Tokens remembered at most.
const CAPACITY: usize = 100_000;
/// How long a good answer is trusted without asking again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

struct Entry {
    credential: Credential,
    checked: Instant,
}

/// The verified-token cache of one replica.
pub struct VerifiedTokens {
    entries: Mutex<LruCache<String, Entry>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedTokens")
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl VerifiedTokens {
    fn entries(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        // Only a cache: a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the database recently said this token was good and nothing
    /// since has ended it.
    pub fn is_known_good(&self, credential: &Credential) -> bool {
        let mut entries = self.entries();
        match entries.get(&credential.token_hash) {
            Some(entry) if entry.checked.elapsed() < MAX_AGE => entry.credential == *credential,
            Some(_) => {
                entries.pop(&credential.token_hash);
                false
            }
            None => false,
        }
    }

    /// The credential of the token with this hash, if the database recently
    /// said it was good (personal API tokens are known by their hash alone).
    pub fn get(&self, token_hash: &str) -> Option<Credential> {
        let mut entries = self.entries();
        match entries.get(token_hash) {
            Some(entry) if entry.checked.elapsed() < MAX_AGE => Some(entry.credential.clone()),
            Some(_) => {
                entries.pop(token_hash);
                None
            }
            None => None,
        }
    }

    /// The database just said this token is good.
    pub fn remember(&self, credential: &Credential) {
        self.entries().put(
            credential.token_hash.clone(),
            Entry {
                credential: credential.clone(),
                checked: Instant::now(),
            },
        );
    }

    /// Forgets every remembered token of `user` that `revocation` ends.
    pub fn forget(&self, user: &str, revocation: &Revocation) {
        let mut entries = self.entries();
        match revocation {
            Revocation::Token(hash) => {
                entries.pop(hash);
            }
            Revocation::Before { .. } => {
                let ended: Vec<String> = entries
                    .iter()
                    .filter(|(_, e)| {
                        e.credential.user.as_str() == user && e.credential.is_ended_by(revocation)
                    })
                    .map(|(hash, _)| hash.clone())
                    .collect();
                for hash in ended {
                    entries.pop(&hash);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::UserId;

    fn credential(user: &str, hash: &str, epoch: i64) -> Credential {
        Credential {
            user: UserId::parse(user).unwrap_or_else(|_| UserId::generate()),
            token_hash: hash.into(),
            epoch: Some(epoch),
            issued_at: 0,
            expires_at: i64::MAX,
            scope: super::super::Scope::Write,
            kind: super::super::CredentialKind::Login,
        }
    }

    #[test]
    fn remembers_good_tokens_until_a_revocation_ends_them() {
        let cache = VerifiedTokens::default();
        let (a1, a2, b) = (
            credential("ann", "a1", 0),
            credential("ann", "a2", 0),
            credential("bob", "b", 0),
        );
        for c in [&a1, &a2, &b] {
            assert!(!cache.is_known_good(c));
            cache.remember(c);
            assert!(cache.is_known_good(c));
        }
        // A token with the same hash but other claims is not the one checked.
        assert!(!cache.is_known_good(&credential("bob", "a1", 0)));
        cache.forget("ann", &Revocation::Token("a1".into()));
        assert!(!cache.is_known_good(&a1));
        assert!(cache.is_known_good(&a2));
        let everywhere = Revocation::Before {
            epoch: 1,
            valid_after: chrono::NaiveDateTime::MIN,
        };
        cache.forget("ann", &everywhere);
        assert!(!cache.is_known_good(&a2));
        assert!(cache.is_known_good(&b), "other users' tokens stay");
    }
}
