//! Throttling of password guessing and of sign-ups, in memory, per replica.
//!
//! Failed logins are counted three ways, each with an allowance after which
//! every further attempt must wait — 1 s at first (`LOGIN_LOCKOUT_BASE`),
//! doubling with each failure, never longer than `LOGIN_LOCKOUT_MAX` — and
//! forgotten after a quiet `LOGIN_LOCKOUT_MAX`:
//!
//! * one account from one client address (`LOGIN_ATTEMPTS_PER_PAIR`): the
//!   plain brute force;
//! * one client address over all accounts (`LOGIN_ATTEMPTS_PER_ADDRESS`):
//!   password spraying;
//! * one account from all addresses (`LOGIN_ATTEMPTS_PER_ACCOUNT`): a
//!   distributed brute force. This lock does not apply to an address the
//!   account has logged in from before, so an attacker can never lock a user
//!   out of their own devices, and no lock outlasts `LOGIN_LOCKOUT_MAX`.
//!
//! A locked attempt is refused before the password is even hashed, so
//! guessing costs the service next to nothing. Sign-ups are a token bucket per
//! address (`SIGNUP_PER_ADDRESS_PER_HOUR`). IPv6 addresses count per /64 (one
//! host usually owns a whole /64). Every table is a bounded LRU, so the
//! bookkeeping itself cannot be used to exhaust memory.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::settings::Settings;

/// Entries per table.
const CAPACITY: usize = 100_000;
/// How long a successful login makes an address "known" to the account.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// An attempt that must wait: retry after this many whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub u64);

impl Wait {
    fn until(t: Instant, now: Instant) -> Self {
        let d = t.saturating_duration_since(now);
        Self(d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }
}

#[derive(Debug, Clone, Copy)]
struct Policy {
    per_pair: u32,
    per_account: u32,
    per_address: u32,
    base: Duration,
    max: Duration,
    signups_per_hour: u32,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Tables {
    pairs: LruCache<(String, IpAddr), Failures>,
    accounts: LruCache<String, Failures>,
    addresses: LruCache<IpAddr, Failures>,
    known: LruCache<(String, IpAddr), Instant>,
    signups: LruCache<IpAddr, Bucket>,
}

/// The login and sign-up throttle of one replica.
pub struct Throttle {
    policy: Policy,
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Throttle {
    pub fn new(settings: &Settings) -> Self {
        let cap = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Self {
            policy: Policy {
                per_pair: settings.login_attempts_per_pair,
                per_account: settings.login_attempts_per_account,
                per_address: settings.login_attempts_per_address,
                base: Duration::from_secs_f64(settings.login_lockout_base),
                max: Duration::from_secs_f64(settings.login_lockout_max),
                signups_per_hour: settings.signup_per_address_per_hour,
            },
            tables: Mutex::new(Tables {
                pairs: LruCache::new(cap),
                accounts: LruCache::new(cap),
                addresses: LruCache::new(cap),
                known: LruCache::new(cap),
                signups: LruCache::new(cap),
            }),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // The tables hold counters only: a panic elsewhere leaves them usable.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a login for `account` (its normalised e-mail) from `ip` may
    /// be tried now.
    pub fn check_login(&self, account: &str, ip: IpAddr) -> Result<(), Wait> {
        let now = Instant::now();
        let ip = client_key(ip);
        let pair = (account.to_owned(), ip);
        let mut t = self.tables();
        let known = t
            .known
            .peek(&pair)
            .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR);
        let locks = [
            locked(&mut t.pairs, &pair, now, self.policy.max),
            locked(&mut t.addresses, &ip, now, self.policy.max),
            if known {
                None
            } else {
                locked(&mut t.accounts, account, now, self.policy.max)
            },
        ];
        match locks.into_iter().flatten().max() {
            Some(until) => Err(Wait::until(until, now)),
            None => Ok(()),
        }
    }

    /// A wrong password (or unknown account) for `account` from `ip`.
    pub fn login_failed(&self, account: &str, ip: IpAddr) {
        let now = Instant::now();
        let ip = client_key(ip);
        let p = self.policy;
        let mut t = self.tables();
        fail(&mut t.pairs, (account.to_owned(), ip), p.per_pair, now, p);
        fail(&mut t.addresses, ip, p.per_address, now, p);
        fail(&mut t.accounts, account.to_owned(), p.per_account, now, p);
    }

    /// The right password: the pair starts afresh and the address becomes
    /// one the account is known to log in from.
    pub fn login_succeeded(&self, account: &str, ip: IpAddr) {
        let pair = (account.to_owned(), client_key(ip));
        let mut t = self.tables();
        t.pairs.pop(&pair);
        t.known.put(pair, Instant::now());
    }

    /// Takes one sign-up from `ip`'s hourly allowance.
    pub fn check_signup(&self, ip: IpAddr) -> Result<(), Wait> {
        let now = Instant::now();
        let capacity = f64::from(self.policy.signups_per_hour);
        let per_sec = capacity / 3600.0;
        let mut t = self.tables();
        let bucket = t.signups.get_or_insert_mut(client_key(ip), || Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let secs = (1.0 - bucket.tokens) / per_sec;
            Err(Wait(secs.ceil().max(1.0) as u64))
        }
    }
}

/// When the entry's lock ends, if it is locked now. Entries quiet for
/// longer than the longest lock are forgotten.
fn locked<K, Q>(
    table: &mut LruCache<K, Failures>,
    key: &Q,
    now: Instant,
    forget_after: Duration,
) -> Option<Instant>
where
    K: Hash + Eq + std::borrow::Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    let entry = table.peek(key).copied()?;
    if now.duration_since(entry.last) > forget_after && entry.locked_until.is_none_or(|u| u <= now)
    {
        table.pop(key);
        return None;
    }
    entry.locked_until.filter(|until| *until > now)
}

/// Counts a failure; from the `allowance`-th on, locks for base × 2^(n −
/// allowance), at most `max`.
fn fail<K: Hash + Eq>(
    table: &mut LruCache<K, Failures>,
    key: K,
    allowance: u32,
    now: Instant,
    p: Policy,
) {
    let entry = table.get_or_insert_mut(key, || Failures {
        count: 0,
        last: now,
        locked_until: None,
    });
    if now.duration_since(entry.last) > p.max {
        entry.count = 0;
        entry.locked_until = None;
    }
    entry.count = entry.count.saturating_add(1);
    entry.last = now;
    if entry.count >= allowance {
        let excess = (entry.count - allowance).min(30);
        let wait = p.base.saturating_mul(1u32 << excess).min(p.max);
        entry.locked_until = Some(now + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(pair: u32, account: u32, address: u32) -> Throttle {
        Throttle::new(&Settings {
            login_attempts_per_pair: pair,
            login_attempts_per_account: account,
            login_attempts_per_address: address,
            login_lockout_base: 10.0,
            login_lockout_max: 40.0,
            signup_per_address_per_hour: 2,
            ..Settings::default()
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn a_pair_is_locked_after_its_allowance_with_doubling_waits_up_to_the_cap() {
        let t = throttle(3, 100, 100);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(t.check_login("ann", a), Ok(()));
            t.login_failed("ann", a);
        }
        let mut waits = Vec::new();
        for _ in 0..4 {
            let Err(Wait(w)) = t.check_login("ann", a) else {
                panic!("locked")
            };
            waits.push(w);
            t.login_failed("ann", a);
        }
        assert_eq!(waits, [10, 20, 40, 40]);
        // Another address and another account are not affected.
        assert_eq!(t.check_login("ann", ip("192.0.2.2")), Ok(()));
        assert_eq!(t.check_login("bob", a), Ok(()));
    }

    #[test]
    fn the_account_lock_spares_addresses_the_account_logged_in_from() {
        let t = throttle(100, 3, 100);
        let home = ip("198.51.100.7");
        t.login_succeeded("ann", home);
        for n in 0..4 {
            t.login_failed("ann", ip(&format!("203.0.113.{n}")));
        }
        assert!(t.check_login("ann", ip("203.0.113.99")).is_err());
        assert_eq!(
            t.check_login("ann", home),
            Ok(()),
            "never locked out at home"
        );
    }

    #[test]
    fn one_address_spraying_many_accounts_is_locked() {
        let t = throttle(100, 100, 3);
        let a = ip("2001:db8::1");
        for n in 0..4 {
            t.login_failed(&format!("user{n}"), a);
        }
        assert!(t.check_login("someone-else", a).is_err());
        // The same /64 counts as the same client.
        assert!(t.check_login("someone-else", ip("2001:db8::ffff")).is_err());
        assert_eq!(t.check_login("someone-else", ip("2001:db8:0:1::1")), Ok(()));
    }

    #[test]
    fn signups_are_a_bucket_per_address() {
        let t = throttle(5, 5, 5);
        let a = ip("192.0.2.9");
        assert_eq!(t.check_signup(a), Ok(()));
        assert_eq!(t.check_signup(a), Ok(()));
        let Err(Wait(w)) = t.check_signup(a) else {
            panic!("third sign-up within the hour")
        };
        assert!((1..=1800).contains(&w), "{w}");
        assert_eq!(t.check_signup(ip("192.0.2.10")), Ok(()));
    }
}
