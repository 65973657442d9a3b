//! One WebSocket connection.
//!
//! A session remembers the last sequence number it sent (`last_sent`) and
//! sends an event only if it is exactly the next one. Anything else — a
//! replay request, a gap in the live stream, a hint that another replica
//! wrote something — makes it *catch up*: read the user's events after
//! `last_sent` from the log, in order, until there are none. Pushes that
//! arrive while it catches up only mark it dirty (the log has them), so the
//! replay/live boundary can neither lose nor repeat an event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws::{self, CloseCode, CloseReason};
use slog::{Logger, debug};

use super::hub::{Connect, Disconnect, Hub, Push};
use super::protocol::{ClientMessage, ServerMessage};
use crate::auth::Credential;
use crate::db::{self, Db};
use crate::domain::user::UserId;
use crate::events::DomainEvent;
use crate::events::log::{self, Stored};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Events read from the log per query while catching up.
const CATCH_UP_BATCH: i64 = 500;
/// Close code for a client too slow to keep up: reconnect with `?since=`.
pub const CLOSE_RESUME: u16 = 4000;
/// Close code for a session whose token was revoked or has expired: log in
/// again.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What reading the log after a sequence number found.
enum Read {
    Events(Vec<Stored>),
    /// The events after `after` were deleted by retention; the user's
    /// newest is `newest`.
    Pruned {
        after: i64,
        newest: i64,
    },
}

/// Where the session stands with its user's event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading from the log; pushes only mark it dirty.
    CatchingUp {
        dirty: bool,
    },
    Live,
}

pub struct Session {
    id: u64,
    user_id: UserId,
    /// The token the session authenticated with.
    credential: Credential,
    hub: Addr<Hub>,
    db: Db,
    log: Logger,
    metrics: Arc<Metrics>,
    /// Replay after this sequence number first (`?since=`).
    since: Option<i64>,
    last_sent: i64,
    phase: Phase,
    /// A replay is under way: say `replay_done` when it is complete.
    replaying: bool,
    heard_from: Instant,
    evicted: Arc<AtomicBool>,
    ping_every: Duration,
    silent_limit: Duration,
    queue: usize,
}

impl Session {
    pub fn new(credential: Credential, since: Option<i64>, state: &AppState) -> Self {
        let settings = &state.service.settings;
        Self {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            user_id: credential.user.clone(),
            credential,
            hub: state.hub.clone(),
            db: state.service.db.clone(),
            log: state.service.log.clone(),
            metrics: state.service.metrics.clone(),
            since,
            last_sent: 0,
            phase: Phase::CatchingUp { dirty: false },
            replaying: false,
            heard_from: Instant::now(),
            evicted: Arc::new(AtomicBool::new(false)),
            ping_every: Duration::from_secs_f64(settings.ws_ping_interval),
            silent_limit: Duration::from_secs_f64(settings.ws_client_timeout),
            queue: settings.ws_session_queue,
        }
    }

    fn send(&self, ctx: &mut ws::WebsocketContext<Self>, message: &ServerMessage<'_>) {
        ctx.text(message.to_json());
    }

    fn close(&self, ctx: &mut ws::WebsocketContext<Self>, code: CloseCode, why: &str) {
        ctx.close(Some(CloseReason {
            code,
            description: Some(why.to_owned()),
        }));
        ctx.stop();
    }

    /// Sends `event` if it is the next one; `false` if there is a gap.
    fn send_if_next(&mut self, ctx: &mut ws::WebsocketContext<Self>, event: &DomainEvent) -> bool {
        if event.seq <= self.last_sent {
            return true; // already sent
        }
        if event.seq != self.last_sent + 1 {
            return false;
        }
        self.send(ctx, &ServerMessage::event(event));
        self.last_sent = event.seq;
        true
    }

    /// Reads everything after `last_sent` from the log (unless already
    /// doing so, in which case it goes round once more).
    fn catch_up(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if let Phase::CatchingUp { .. } = self.phase {
            self.phase = Phase::CatchingUp { dirty: true };
            return;
        }
        self.phase = Phase::CatchingUp { dirty: false };
        self.read_log(ctx);
    }

    fn read_log(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let db = self.db.clone();
        let user = self.user_id.as_str().to_owned();
        let after = self.last_sent;
        let (metrics, events_log) = (self.metrics.clone(), self.log.clone());
        let read = async move {
            let mut pooled = db.get().await.map_err(|e| e.to_string())?;
            let conn = &mut pooled.conn();
            let rows = db::events::after(conn, &user, after, CATCH_UP_BATCH)
                .await
                .map_err(|e| e.to_string())?;
            // The log is gapless but for what retention deleted: if the
            // next event is missing, the client must resync.
            let missing = match rows.first() {
                Some(first) => first.seq > after + 1,
                None => {
                    let newest = db::events::last_seq(conn, &user)
                        .await
                        .map_err(|e| e.to_string())?;
                    // Everything up to `newest` is visible by now: read
                    // again to tell "deleted" from "committed meanwhile".
                    newest > after
                        && db::events::after(conn, &user, after, 1)
                            .await
                            .map_err(|e| e.to_string())?
                            .first()
                            .is_none_or(|row| row.seq > after + 1)
                }
            };
            if missing {
                let newest = db::events::last_seq(conn, &user)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(Read::Pruned { after, newest });
            }
            Ok::<_, String>(Read::Events(log::decode_all(&rows, &metrics, &events_log)))
        };
        ctx.spawn(read.into_actor(self).map(|result, session, ctx| match result {
            Ok(Read::Events(events)) => session.caught_up(ctx, events),
            Ok(Read::Pruned { after, newest }) => session.pruned(ctx, after, newest),
            Err(error) => {
                debug!(session.log, "catching up failed; retrying"; "user_id" => session.user_id.as_str(), "error" => error);
                ctx.run_later(Duration::from_millis(500), |session, ctx| session.read_log(ctx));
            }
        }));
    }

    fn caught_up(&mut self, ctx: &mut ws::WebsocketContext<Self>, read: Vec<Stored>) {
        let full_batch = read.len() as i64 == CATCH_UP_BATCH;
        // The log is gapless, so each is the next one — unless a resume
        // moved `last_sent` meanwhile; then read again from there. A row
        // that cannot be read is stepped over: it must not stall the session.
        let in_step = read.iter().all(|stored| match stored {
            Stored::Event(event) => self.send_if_next(ctx, event),
            Stored::Unreadable { seq } if *seq == self.last_sent + 1 => {
                self.last_sent = *seq;
                true
            }
            Stored::Unreadable { seq } => *seq <= self.last_sent,
        });
        let dirty = !in_step || matches!(self.phase, Phase::CatchingUp { dirty: true });
        if full_batch || dirty {
            self.phase = Phase::CatchingUp { dirty: false };
            self.read_log(ctx);
            return;
        }
        self.phase = Phase::Live;
        if self.replaying {
            self.replaying = false;
            self.send(
                ctx,
                &ServerMessage::ReplayDone {
                    last_seq: self.last_sent,
                },
            );
        }
    }

    /// The events after `after` are no longer in the log (retention): the
    /// client must reload through REST; live events continue after `newest`.
    fn pruned(&mut self, ctx: &mut ws::WebsocketContext<Self>, after: i64, newest: i64) {
        if self.last_sent != after {
            // A resume moved the starting point meanwhile: read from there.
            self.phase = Phase::CatchingUp { dirty: false };
            self.read_log(ctx);
            return;
        }
        self.last_sent = newest;
        self.replaying = false;
        self.send(ctx, &ServerMessage::ResyncRequired { last_seq: newest });
        // Anything committed after `newest` is read as usual.
        self.phase = Phase::CatchingUp { dirty: false };
        self.read_log(ctx);
    }

    /// Starts from `since` (a replay) or from now.
    fn begin(&mut self, ctx: &mut ws::WebsocketContext<Self>, since: Option<i64>, newest: i64) {
        match since {
            Some(since) if since > newest => {
                // Ahead of the log: the client's state is not ours.
                self.last_sent = newest;
                self.send(ctx, &ServerMessage::ResyncRequired { last_seq: newest });
                self.phase = Phase::Live;
            }
            Some(since) => {
                self.last_sent = since;
                self.replaying = true;
                self.phase = Phase::Live;
                self.catch_up(ctx);
            }
            None => {
                // Live from here; anything committed meanwhile is caught up.
                self.last_sent = newest;
                let dirty = matches!(self.phase, Phase::CatchingUp { dirty: true });
                self.phase = Phase::Live;
                if dirty {
                    self.catch_up(ctx);
                }
            }
        }
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        if self.evicted.load(Ordering::Acquire) {
            return self.close(
                ctx,
                CloseCode::Other(CLOSE_RESUME),
                "too slow: reconnect and resume with since",
            );
        }
        if self.heard_from.elapsed() > self.silent_limit {
            return self.close(ctx, CloseCode::Policy, "no pong: connection presumed dead");
        }
        ctx.ping(b"");
    }
}

impl Actor for Session {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Bounded: the hub never queues more than this for a slow client.
        ctx.set_mailbox_capacity(self.queue);
        // Register first, so nothing committed from now on can be missed;
        // then read where the user's stream stands.
        self.hub.do_send(Connect {
            user_id: self.user_id.as_str().to_owned(),
            session: self.id,
            recipient: ctx.address().recipient(),
            evicted: self.evicted.clone(),
        });
        // The token's life is the session's (capped: a timer a year out is
        // as good as never, and far-future instants overflow).
        let expires_in =
            (self.credential.expires_at - chrono::Utc::now().timestamp()).clamp(0, 365 * 24 * 3600);
        ctx.run_later(
            Duration::from_secs(u64::try_from(expires_in).unwrap_or(0)),
            |session, ctx| {
                session.close(
                    ctx,
                    CloseCode::Other(CLOSE_UNAUTHORIZED),
                    "token expired: log in again",
                );
            },
        );
        let tick = self.ping_every.min(Duration::from_secs(1));
        let ping_every = self.ping_every;
        let mut last_ping = Instant::now();
        ctx.run_interval(tick, move |session, ctx| {
            if session.evicted.load(Ordering::Acquire) || last_ping.elapsed() >= ping_every {
                last_ping = Instant::now();
                session.heartbeat(ctx);
            }
        });
        let db = self.db.clone();
        let user = self.user_id.as_str().to_owned();
        let newest = async move {
            let mut pooled = db.get().await.map_err(|e| e.to_string())?;
            db::events::last_seq(&mut pooled.conn(), &user)
                .await
                .map_err(|e| e.to_string())
        };
        ctx.wait(
            newest
                .into_actor(self)
                .map(|result, session, ctx| match result {
                    Ok(newest) => {
                        session.send(
                            ctx,
                            &ServerMessage::Hello {
                                user_id: session.user_id.as_str(),
                                last_seq: newest,
                            },
                        );
                        let since = session.since.take();
                        session.begin(ctx, since, newest);
                    }
                    Err(_) => {
                        session.close(ctx, CloseCode::Again, "database unavailable: retry shortly")
                    }
                }),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.hub.do_send(Disconnect {
            user_id: self.user_id.as_str().to_owned(),
            session: self.id,
        });
    }
}

impl Handler<Push> for Session {
    type Result = ();

    fn handle(&mut self, push: Push, ctx: &mut Self::Context) {
        // While catching up the log has whatever is pushed: just go round again.
        if matches!(self.phase, Phase::CatchingUp { .. })
            && matches!(push, Push::Event(_) | Push::Behind(_))
        {
            self.phase = Phase::CatchingUp { dirty: true };
            return;
        }
        match push {
            Push::Event(event) => {
                if !self.send_if_next(ctx, &event) {
                    self.catch_up(ctx);
                }
            }
            Push::Behind(Some(seq)) if seq <= self.last_sent => {}
            Push::Behind(_) => self.catch_up(ctx),
            Push::Revoked(revocation) => {
                if self.credential.is_ended_by(&revocation) {
                    self.close(
                        ctx,
                        CloseCode::Other(CLOSE_UNAUTHORIZED),
                        "token revoked: log in again",
                    );
                }
            }
            Push::Shutdown => self.close(
                ctx,
                CloseCode::Away,
                "server shutting down: reconnect and resume",
            ),
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Session {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.heard_from = Instant::now();
        let msg = match msg {
            Ok(msg) => msg,
            Err(ws::ProtocolError::Overflow) => {
                return self.close(ctx, CloseCode::Size, "frames are limited to 64 KiB");
            }
            Err(e) => return self.close(ctx, CloseCode::Protocol, &e.to_string()),
        };
        match msg {
            ws::Message::Ping(bytes) => ctx.pong(&bytes),
            ws::Message::Pong(_) => {}
            ws::Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Ping) => self.send(ctx, &ServerMessage::Pong),
                Ok(ClientMessage::Resume { since }) if since >= 0 => {
                    self.last_sent = since;
                    self.replaying = true;
                    self.catch_up(ctx);
                }
                Ok(ClientMessage::Resume { .. }) => self.send(
                    ctx,
                    &ServerMessage::Error {
                        message: "since must be a non-negative integer".into(),
                    },
                ),
                Err(e) => self.send(
                    ctx,
                    &ServerMessage::Error {
                        message: format!("unrecognised message: {e}"),
                    },
                ),
            },
            ws::Message::Binary(_) => self.send(
                ctx,
                &ServerMessage::Error {
                    message: "binary frames are not part of the protocol; send JSON text".into(),
                },
            ),
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
            ws::Message::Continuation(_) | ws::Message::Nop => {}
        }
    }
}
