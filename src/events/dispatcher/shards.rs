//! Lease shards: users are hashed into [`SHARDS`] shards, each a lease in
//! the database, and a replica works for the users of the shards it holds
//! (the publisher publishes their events, the webhook deliverer delivers
//! them; each has a [`Kind`] of shards of its own). A user belongs to one
//! shard, so one replica at a time works for them, in order; every replica
//! works, so the work grows with the deployment.
//!
//! Each replica also holds a membership lease, so all know how many are
//! alive and what a fair share is (`ceil(SHARDS / replicas)`). On each tick
//! a replica renews what it holds, gives back what is over its share (a
//! newcomer takes it) and takes expired shards up to its share (a replica
//! that stopped renewing loses its shards when their lease runs out). Ticks
//! happen between publishing rounds, so a shard is never handed over while
//! its replica is publishing it. A graceful stop gives everything back at
//! once.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::{self, Conn, now};

/// How many shards the outbox is split into: enough for a fair spread over
/// any sensible number of replicas. Fixed: every replica must agree.
pub const SHARDS: u16 = 64;

/// A set of shards and the membership leases of those who hold them.
#[derive(Debug)]
pub struct Kind {
    shard_prefix: &'static str,
    member_prefix: &'static str,
    /// A single lease of earlier releases: while an instance of such a
    /// release holds it (during a rolling upgrade), no shard is taken.
    legacy: Option<&'static str>,
}

/// The outbox publisher's shards.
pub const OUTBOX: Kind = Kind {
    shard_prefix: "outbox-shard-",
    member_prefix: "outbox-member-",
    legacy: Some("outbox-publisher"),
};

/// The webhook deliverer's shards.
pub const WEBHOOKS: Kind = Kind {
    shard_prefix: "webhook-shard-",
    member_prefix: "webhook-member-",
    legacy: None,
};

/// The shard a user's events are published from: FNV-1a of the id, so
/// every replica and release agrees.
pub fn shard_of(user_id: &str) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u16::try_from(hash % u64::from(SHARDS)).unwrap_or(0)
}

impl Kind {
    fn shard_name(&self, shard: u16) -> String {
        format!("{}{shard:02}", self.shard_prefix)
    }

    fn shard_of_name(&self, name: &str) -> Option<u16> {
        name.strip_prefix(self.shard_prefix)?.parse().ok()
    }
}

/// The shards of one kind this replica holds.
#[derive(Clone)]
pub(super) struct Shards {
    kind: &'static Kind,
    instance: String,
    ttl: Duration,
    held: BTreeSet<u16>,
    /// Until when the held shards are surely ours (renewed well before).
    until: Option<NaiveDateTime>,
    created: bool,
}

impl Shards {
    pub(super) fn new(kind: &'static Kind, instance: String, ttl: Duration) -> Self {
        Self {
            kind,
            instance,
            ttl,
            held: BTreeSet::new(),
            until: None,
            created: false,
        }
    }

    fn ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.ttl).unwrap_or_else(|_| chrono::Duration::seconds(15))
    }

    /// Whether a tick is due: once a third of the lease has passed.
    pub(super) fn due(&self, t: NaiveDateTime) -> bool {
        self.until
            .is_none_or(|until| until - t <= self.ttl() * 2 / 3)
    }

    /// Whether this replica works for `user_id`.
    pub(super) fn serves(&self, user_id: &str) -> bool {
        self.held.contains(&shard_of(user_id))
    }

    /// Whether this replica holds `shard`.
    pub(super) fn held_shard(&self, shard: u16) -> bool {
        self.held.contains(&shard)
    }

    pub(super) fn held(&self) -> usize {
        self.held.len()
    }

    /// Renews, gives back what is over the fair share (but the shards
    /// `busy` says are at work: at a later tick), takes free shards up to
    /// it.
    pub(super) async fn tick(
        &mut self,
        conn: &mut Conn<'_>,
        busy: impl Fn(u16) -> bool,
    ) -> QueryResult<()> {
        let kind = self.kind;
        let until = now() + self.ttl();
        if !self.created {
            let names: Vec<String> = (0..SHARDS).map(|s| kind.shard_name(s)).collect();
            db::leases::ensure(conn, &names).await?;
            self.created = true;
        }
        let member = format!("{}{}", kind.member_prefix, self.instance);
        db::leases::acquire(conn, &member, &self.instance, until).await?;
        if let Some(legacy) = kind.legacy {
            let holder = db::leases::holder(conn, legacy).await?;
            if holder.is_some_and(|holder| holder != self.instance) {
                // An older release works for everyone until it is gone.
                self.held.clear();
                self.until = Some(until);
                return Ok(());
            }
        }
        let renewed =
            db::leases::renew_held(conn, kind.shard_prefix, &self.instance, until).await?;
        self.held = renewed
            .iter()
            .filter_map(|n| kind.shard_of_name(n))
            .collect();

        let replicas = usize::try_from(db::leases::held_count(conn, kind.member_prefix).await?)
            .unwrap_or(1)
            .max(1);
        let fair = usize::from(SHARDS).div_ceil(replicas);
        if self.held.len() > fair {
            let surplus: Vec<u16> = self
                .held
                .iter()
                .rev()
                .copied()
                .filter(|s| !busy(*s))
                .take(self.held.len() - fair)
                .collect();
            let names: Vec<String> = surplus.iter().map(|s| kind.shard_name(*s)).collect();
            db::leases::release(conn, &names, &self.instance).await?;
            for shard in surplus {
                self.held.remove(&shard);
            }
        } else if self.held.len() < fair {
            let wanted = i64::try_from(fair - self.held.len()).unwrap_or(0);
            for name in db::leases::free(conn, kind.shard_prefix, wanted).await? {
                if db::leases::take(conn, &name, &self.instance, until).await?
                    && let Some(shard) = kind.shard_of_name(&name)
                {
                    self.held.insert(shard);
                }
            }
        }
        self.until = Some(until);
        Ok(())
    }

    /// Forgets what was held (it could not be renewed): nothing is
    /// published until the next tick takes shards again.
    pub(super) fn lapse(&mut self) {
        self.held.clear();
        self.until = None;
    }

    /// Gives every shard and the membership back (at a graceful stop).
    pub(super) async fn release_all(&mut self, conn: &mut Conn<'_>) -> QueryResult<()> {
        let kind = self.kind;
        let mut names: Vec<String> = self.held.iter().map(|s| kind.shard_name(*s)).collect();
        names.push(format!("{}{}", kind.member_prefix, self.instance));
        self.lapse();
        db::leases::release(conn, &names, &self.instance).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_spread_over_every_shard_and_stay_in_theirs() {
        let mut counts = [0u32; SHARDS as usize];
        for i in 0..64_000 {
            let user = uuid::Uuid::from_u128(i * 7_919).to_string();
            let shard = shard_of(&user);
            assert_eq!(shard, shard_of(&user), "the same shard every time");
            counts[usize::from(shard)] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 800 && *max < 1200, "an even spread: {min}..{max}");
        // Fixed values: every replica and release must agree.
        assert_eq!(shard_of(""), (0xcbf2_9ce4_8422_2325u64 % 64) as u16);
        assert_eq!(OUTBOX.shard_of_name(&OUTBOX.shard_name(7)), Some(7));
        assert_eq!(WEBHOOKS.shard_of_name(&OUTBOX.shard_name(7)), None);
    }
}
