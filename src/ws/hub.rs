//! The hub actor: which sessions each user has, and fan-out to them.
//!
//! The hub never waits on a session: it offers each push with `try_send`
//! into the session's bounded mailbox. A session whose mailbox is full has a
//! client that stopped reading; the hub drops it and flags it to close
//! (telling the client to reconnect and resume), and carries on with
//! everyone else.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::prelude::*;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Revocation;
use crate::events::DomainEvent;
use crate::events::dispatcher::FanOut;
use crate::events::inbound::InboundFanOut;
use crate::service::Revocations;

/// What the hub hands a session.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum Push {
    /// A committed event of this instance.
    Event(Arc<DomainEvent>),
    /// Some event up to this sequence number exists (another replica wrote
    /// it, or the fan-out lagged): read the log.
    Behind(Option<i64>),
    /// Some of the user's tokens were revoked: a session whose token is one
    /// of them closes.
    Revoked(Arc<Revocation>),
    /// The server is going away: close with 1001.
    Shutdown,
}

/// Tokens of a user were revoked (logout, log out everywhere).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Revoke {
    pub user_id: String,
    pub revocation: Revocation,
}

/// A session registers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub user_id: String,
    pub session: u64,
    pub recipient: Recipient<Push>,
    /// Set by the hub when it drops the session as too slow.
    pub evicted: Arc<AtomicBool>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user_id: String,
    pub session: u64,
}

/// An event committed here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Arc<DomainEvent>);

/// Another replica wrote the user's event `seq`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoteSeq {
    pub user_id: String,
    pub seq: i64,
}

/// The fan-out lagged: every session must check the log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckAll;

/// Close every session (server shutdown); answers when all were told.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseAll;

struct Member {
    recipient: Recipient<Push>,
    evicted: Arc<AtomicBool>,
}

/// The hub actor.
#[derive(Default)]
pub struct Hub {
    users: HashMap<String, HashMap<u64, Member>>,
}

impl Actor for Hub {
    type Context = Context<Self>;
}

impl Hub {
    /// Starts the hub and feeds it from the in-process fan-outs and from
    /// `topics` delivered by Dapr from other instances.
    pub fn start_fed(
        fanout: &FanOut,
        inbound: &InboundFanOut,
        revocations: &Revocations,
        instance_id: String,
        topics: Vec<String>,
    ) -> Addr<Self> {
        let hub = Self::default().start();
        let mut local = fanout.subscribe();
        let mut missed = fanout.subscribe_missed();
        let mut remote = inbound.subscribe();
        let mut revoked = revocations.subscribe();
        let addr = hub.clone();
        actix_rt::spawn(async move {
            loop {
                tokio::select! {
                    received = local.recv() => match received {
                        Ok(event) => addr.do_send(Deliver(event)),
                        Err(RecvError::Lagged(_)) => addr.do_send(CheckAll),
                        Err(RecvError::Closed) => break,
                    },
                    received = missed.recv() => match received {
                        Ok(()) | Err(RecvError::Lagged(_)) => addr.do_send(CheckAll),
                        Err(RecvError::Closed) => break,
                    },
                    received = remote.recv() => match received {
                        Ok(inbound) => {
                            let from_elsewhere = inbound.extension("instanceid").as_deref() != Some(instance_id.as_str());
                            let seq = inbound.extension("sequence").and_then(|s| s.parse::<i64>().ok());
                            let user = inbound.extension("userid");
                            if topics.contains(&inbound.topic) && from_elsewhere
                                && let (Some(user_id), Some(seq)) = (user, seq)
                            {
                                addr.do_send(RemoteSeq { user_id, seq });
                            }
                        }
                        Err(RecvError::Lagged(_)) => addr.do_send(CheckAll),
                        Err(RecvError::Closed) => break,
                    },
                    received = revoked.recv() => match received {
                        Ok(notice) => {
                            let (user_id, revocation) = (*notice).clone();
                            addr.do_send(Revoke { user_id, revocation });
                        }
                        // Missed revocations are seen again by the watcher,
                        // whose look-back overlaps.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        });
        hub
    }

    /// Offers `push` to every session of `user_id`, dropping the ones that
    /// cannot take it.
    fn push_to(&mut self, user_id: &str, push: &Push) {
        let Some(sessions) = self.users.get_mut(user_id) else {
            return;
        };
        sessions.retain(|_, member| offer(member, push.clone()));
        if sessions.is_empty() {
            self.users.remove(user_id);
        }
    }
}

/// `false` when the session is gone or too slow (and so flagged).
fn offer(member: &Member, push: Push) -> bool {
    match member.recipient.try_send(push) {
        Ok(()) => true,
        Err(SendError::Full(_)) => {
            member.evicted.store(true, Ordering::Release);
            false
        }
        Err(SendError::Closed(_)) => false,
    }
}

impl Handler<Connect> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        self.users.entry(msg.user_id).or_default().insert(
            msg.session,
            Member {
                recipient: msg.recipient,
                evicted: msg.evicted,
            },
        );
    }
}

impl Handler<Disconnect> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        if let Some(sessions) = self.users.get_mut(&msg.user_id) {
            sessions.remove(&msg.session);
            if sessions.is_empty() {
                self.users.remove(&msg.user_id);
            }
        }
    }
}

impl Handler<Deliver> for Hub {
    type Result = ();

    fn handle(&mut self, Deliver(event): Deliver, _: &mut Context<Self>) {
        let user_id = event.user_id.clone();
        self.push_to(&user_id, &Push::Event(event));
    }
}

impl Handler<RemoteSeq> for Hub {
    type Result = ();

    fn handle(&mut self, msg: RemoteSeq, _: &mut Context<Self>) {
        self.push_to(&msg.user_id, &Push::Behind(Some(msg.seq)));
    }
}

impl Handler<Revoke> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) {
        self.push_to(&msg.user_id, &Push::Revoked(Arc::new(msg.revocation)));
    }
}

impl Handler<CheckAll> for Hub {
    type Result = ();

    fn handle(&mut self, _: CheckAll, _: &mut Context<Self>) {
        let users: Vec<String> = self.users.keys().cloned().collect();
        for user in users {
            self.push_to(&user, &Push::Behind(None));
        }
    }
}

impl Handler<CloseAll> for Hub {
    type Result = ();

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) {
        for (_, sessions) in self.users.drain() {
            for member in sessions.values() {
                // Best effort: a full mailbox means the client is gone anyway.
                let _ = member.recipient.try_send(Push::Shutdown);
            }
        }
    }
}
