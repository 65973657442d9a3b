//! The outbox publisher: publishes the events not yet published through the
//! Dapr sidecar, each user's in sequence order, on all their topics, marking
//! them published on a 2xx. A round's events go out with one bulk request
//! per topic (`bulk`), or one call per event and topic where the sidecar
//! has no bulk API or `DAPR_BULK_PUBLISH` is off. A failure holds up only
//! that user, who is retried with exponential backoff and jitter
//! (`OUTBOX_RETRY_CAP`, 30 s), forever, with its oldest event alone (only
//! that event is read back).
//! It sweeps the whole outbox at start and on an interval, so events the
//! channel dropped or a crash left behind go out too. Users are split into
//! lease shards (`shards`): each replica publishes the users of the shards
//! it holds, so replicas sharing a database all publish, yet never one
//! user's events concurrently or out of order.
//!
//! The publisher shares SQLite's single write lock with the requests, so a
//! round costs two reads and one write transaction however many users it
//! serves. Under a steady stream it costs one write transaction alone: of a
//! user whose watermark it knows (it moved it last, and the shards have not
//! changed hands since), the events committed here right after it are
//! published from memory (`Recent`) without reading the log.

mod bulk;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::StreamExt;
use rand::Rng;
use slog::{Logger, error, info, warn};
use tokio::sync::oneshot;

use super::Fresh;
use super::recent::Recent;
use super::shards::{self, Shards};
use crate::db::events::{DeliveryRow, EventRow};
use crate::db::{self, Db, now};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::events::bus::Topics;
use crate::events::cloudevent::{CloudEvent, Projection};
use crate::events::dapr::{DaprClient, PublishError};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::transaction;

/// A round's pending events, their per-topic state, and the users of whom
/// only the oldest event was read (they are being retried).
type Loaded = (Vec<EventRow>, Vec<DeliveryRow>, HashSet<String>);

/// An event of a round: its place in the log, and the event (`None`:
/// unreadable, which counts as published; see `log`).
struct Item {
    id: String,
    seq: i64,
    event: Option<Arc<DomainEvent>>,
}

/// Each user's events of a round, in sequence order.
type ByUser = Vec<(String, Vec<Item>)>;

/// Users published concurrently in one round.
const USERS_IN_PARALLEL: usize = 16;
/// Events loaded per round (over all its users).
const ROUND_BATCH: i64 = 2_000;
/// Users a sweep looks at per round.
const SWEEP_USERS: i64 = 10_000;
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// After a wake-up, wait this long so one round serves a burst of commits.
const DEBOUNCE: Duration = Duration::from_millis(10);
/// Rounds for fresh commits start at most this often: under a steady
/// stream of writes each round (two reads, one write transaction, a request
/// per topic) serves more events, which costs the requests less (at
/// saturation on SQLite, 200 ms instead of 50 ms halved the publisher's
/// CPU per event); a lone change still goes out after `DEBOUNCE`. Kafka's
/// consumers are asynchronous anyway, and the WebSocket sessions do not
/// wait for this.
const ROUND_GAP: Duration = Duration::from_millis(200);

pub(super) struct Publisher {
    settings: Arc<Settings>,
    db: Db,
    topics: Topics,
    /// The events committed here a moment ago, as committed.
    recent: Arc<Recent>,
    metrics: Arc<Metrics>,
    log: Logger,
    /// The shards whose users this replica publishes.
    shards: Shards,
    /// Users whose oldest event failed, and when they may be retried.
    backoff: HashMap<String, NaiveDateTime>,
    /// Users whose oldest event failed and has not gone out since: their
    /// retry reads that event alone, not their whole backlog.
    failing: HashSet<String>,
    /// Watermarks this publisher moved, of users with no per-topic state
    /// left: the events held after them go out without reading the log.
    /// Forgotten whenever the shards are renewed (one may have changed
    /// hands) or a round's record fails.
    known: HashMap<String, i64>,
    /// Set once the sidecar answered that it has no bulk publish API.
    bulk_unsupported: AtomicBool,
}

/// What follows a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// More is ready: the next round at once.
    More,
    /// Nothing more now: the next fresh commit, retry or sweep.
    Idle,
    /// The database failed it: try again soon.
    Stalled,
}

/// What one user's turn achieved.
#[derive(Default)]
struct Outcome {
    /// Events now on every topic, `(id, seq)` in sequence order: the user's
    /// watermark moves to the last.
    done: Vec<(String, i64)>,
    /// Topics done of the event that then failed.
    partial: Vec<(String, String)>,
    /// (event, topic, error, retry at) that stopped the user.
    failed: Option<(String, String, String, NaiveDateTime)>,
}

impl Outcome {
    /// The user's oldest event waits for its retry at `at` (a failure in an
    /// earlier round, or on another instance): nothing is tried now.
    fn waiting(head: &Item, at: NaiveDateTime) -> Self {
        Self {
            failed: Some((head.id.clone(), String::new(), String::new(), at)),
            ..Self::default()
        }
    }
}

impl Publisher {
    pub(super) fn new(
        settings: Arc<Settings>,
        db: Db,
        topics: Topics,
        recent: Arc<Recent>,
        metrics: Arc<Metrics>,
        log: Logger,
    ) -> Self {
        let shards = Shards::new(
            &shards::OUTBOX,
            settings.instance_id.clone(),
            Duration::from_secs_f64(settings.outbox_lease_ttl),
        );
        Self {
            settings,
            db,
            topics,
            recent,
            metrics,
            log,
            shards,
            backoff: HashMap::new(),
            failing: HashSet::new(),
            known: HashMap::new(),
            bulk_unsupported: AtomicBool::new(false),
        }
    }

    pub(super) async fn run(mut self, fresh: Arc<Fresh>, mut stop: oneshot::Receiver<()>) {
        let dapr = DaprClient::new(&self.settings);
        let sweep_every = Duration::from_secs_f64(self.settings.outbox_sweep_interval);
        info!(self.log, "publishing events through the Dapr sidecar";
            "sidecar" => self.settings.dapr_base_url(), "pubsub" => &self.settings.dapr_pubsub_name);
        // Sweeps at start: whatever a crash or an outage left pending.
        let mut sweep = true;
        loop {
            let users = if sweep { None } else { Some(fresh.take()) };
            let started = tokio::time::Instant::now();
            let next = self.round(&dapr, users).await;
            if next == Next::More {
                // More is ready to go (a full round, or users whose retry
                // just succeeded): the next round follows at once.
                sweep = true;
                if futures_util::FutureExt::now_or_never(&mut stop).is_some() {
                    break;
                }
                continue;
            }
            let next_retry = self
                .backoff
                .values()
                .min()
                .map(|at| (*at - now()).to_std().unwrap_or_default());
            let sleep = match next {
                // The database failed the round: what it was to publish
                // (retries among it) is looked for again soon, whatever
                // the sweep interval.
                Next::Stalled => BACKOFF_BASE.min(sweep_every),
                _ => next_retry.map_or(sweep_every, |d| d.min(sweep_every)),
            };
            tokio::select! {
                _ = &mut stop => break,
                () = fresh.wake.notified() => {
                    let paced = started + ROUND_GAP;
                    tokio::time::sleep_until(paced.max(tokio::time::Instant::now() + DEBOUNCE)).await;
                    sweep = false;
                }
                () = tokio::time::sleep(sleep) => sweep = true,
            }
        }
        // A last sweep so that what was committed before the stop goes out.
        let deadline = Duration::from_secs_f64(self.settings.dapr_publish_timeout * 2.0)
            .max(Duration::from_secs(2));
        let _ = tokio::time::timeout(deadline, self.round(&dapr, None)).await;
        if let Ok(mut pooled) = self.db.get().await {
            let _ = self.shards.release_all(&mut pooled.conn()).await;
        }
    }

    fn retry_cap(&self) -> Duration {
        Duration::from_secs_f64(self.settings.outbox_retry_cap)
    }

    /// Publishes what `users` (all users with pending events, for a sweep)
    /// have waiting, except those in backoff. [`Next::More`] when it
    /// published something and knows more is waiting: the round was full,
    /// or a user's retry went through (only its oldest event was sent).
    async fn round(&mut self, dapr: &DaprClient, users: Option<HashSet<String>>) -> Next {
        let t = now();
        let waiting = self.backoff.len();
        self.backoff.retain(|_, at| *at > t);
        // A retry came due (perhaps while a round for fresh commits waited
        // its turn): this round looks at every user, or the retried ones
        // would wait for the next sweep.
        let users = users.filter(|_| self.backoff.len() == waiting);
        if users.as_ref().is_some_and(HashSet::is_empty) {
            return Next::Idle;
        }
        if let Err(e) = self.renew().await {
            warn!(self.log, "renewing publishing shards failed"; "error" => e);
            return Next::Stalled;
        }
        if self.shards.held() == 0 {
            return Next::Idle;
        }
        // Users whose next events are held go out from memory; the rest
        // (and every user, in a sweep) from the log.
        let mut by_user = ByUser::new();
        let users = users.map(|users| self.take_held(users, &mut by_user));
        let from_memory = by_user.len();
        let (states, heads_only, full) = if users.as_ref().is_some_and(HashSet::is_empty) {
            (Vec::new(), HashSet::new(), false)
        } else {
            match self.load(users).await {
                Ok((events, states, heads_only)) => {
                    let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= ROUND_BATCH;
                    self.group(events, &mut by_user);
                    (states, heads_only, full)
                }
                Err(e) => {
                    warn!(self.log, "reading the outbox failed"; "error" => e);
                    return Next::Stalled;
                }
            }
        };
        if by_user.is_empty() {
            return Next::Idle;
        }
        // A user whose oldest event failed before is retried with that event
        // alone: an outage costs one event per user and retry, not the
        // whole backlog; the rest follows once it is through.
        let mut recovered = false;
        // Users all of whose pending events with a per-topic state are in
        // this round: once it went well, their watermark is all there is to
        // know of them (the others' later events may have topics out).
        let mut whole = HashSet::new();
        for (i, (user, items)) in by_user.iter_mut().enumerate() {
            if items.len() > 1 && retrying(items, &states) {
                items.truncate(1);
                recovered = true;
            } else if i < from_memory || !(full || heads_only.contains(user)) {
                whole.insert(user.clone());
            }
        }
        let bulk =
            self.settings.dapr_bulk_publish && !self.bulk_unsupported.load(Ordering::Relaxed);
        let published = if bulk {
            self.publish_bulk(dapr, &by_user, &states).await
        } else {
            None
        };
        let outcomes = match published {
            Some(outcomes) => outcomes,
            None => {
                let states = &states;
                let this = &*self;
                futures_util::stream::iter(by_user)
                    .map(|(user, items)| async move {
                        let outcome = this.publish_user(dapr, &items, states).await;
                        (user, outcome)
                    })
                    .buffer_unordered(USERS_IN_PARALLEL)
                    .collect()
                    .await
            }
        };
        if let Err(e) = self.record(&outcomes, &states).await {
            // Published but not marked: sent again later; consumers dedupe.
            warn!(self.log, "could not record publication state"; "error" => e.chain());
            self.known.clear();
            return Next::Stalled;
        }
        let mut progress = false;
        for (user, outcome) in outcomes {
            progress |= !outcome.done.is_empty();
            match outcome.done.last() {
                Some((_, seq))
                    if outcome.failed.is_none()
                        && outcome.partial.is_empty()
                        && whole.contains(&user) =>
                {
                    self.known.insert(user.clone(), *seq);
                }
                Some(_) => {
                    self.known.remove(&user);
                }
                None if outcome.failed.is_some() => {
                    self.known.remove(&user);
                }
                None => {}
            }
            if let Some((_, _, _, at)) = outcome.failed {
                self.backoff.insert(user.clone(), at);
                self.failing.insert(user);
            } else if !outcome.done.is_empty() {
                // Its oldest event went out: what was behind it follows now.
                recovered |= heads_only.contains(&user);
                self.failing.remove(&user);
            }
        }
        if progress && (full || recovered) {
            Next::More
        } else {
            Next::Idle
        }
    }

    /// Renews, rebalances and takes shards once a third of the lease has
    /// passed (not on every round). The watermarks known are forgotten: a
    /// shard may have changed hands.
    async fn renew(&mut self) -> Result<(), String> {
        if !self.shards.due(now()) {
            return Ok(());
        }
        self.known.clear();
        let mut pooled = self.db.get().await.map_err(|e| e.to_string())?;
        let before = self.shards.held();
        if let Err(e) = self.shards.tick(&mut pooled.conn(), |_| false).await {
            // Not renewed: what is held lapses (and others take it).
            self.shards.lapse();
            return Err(e.to_string());
        }
        if self.shards.held() != before {
            info!(self.log, "publishing shards rebalanced";
                "held" => self.shards.held(), "before" => before, "of" => shards::SHARDS);
        }
        self.metrics
            .publisher_shards
            .set(i64::try_from(self.shards.held()).unwrap_or(0));
        Ok(())
    }

    /// Of `users`, those whose watermark is known and whose events after it
    /// are held go into `by_user`, read from memory; the others are
    /// returned, for the log.
    fn take_held(&self, users: HashSet<String>, by_user: &mut ByUser) -> HashSet<String> {
        let mut rest = HashSet::new();
        for user in users {
            let clear = self.shards.serves(&user)
                && !self.failing.contains(&user)
                && !self.backoff.contains_key(&user);
            let held = match self.known.get(&user) {
                Some(seq) if clear => self.recent.after(&user, *seq, ROUND_BATCH as usize),
                _ => Vec::new(),
            };
            if held.is_empty() {
                rest.insert(user);
                continue;
            }
            let items = held
                .into_iter()
                .map(|event| Item {
                    id: event.id.to_string(),
                    seq: event.seq,
                    event: Some(event),
                })
                .collect();
            by_user.push((user, items));
        }
        rest
    }

    /// The rows read from the log, user by user, as items of the round.
    fn group(&self, events: Vec<EventRow>, by_user: &mut ByUser) {
        let first = by_user.len();
        for row in events {
            let item = Item {
                event: self.recent.read(&row, &self.metrics, &self.log),
                id: row.id,
                seq: row.seq,
            };
            match by_user[first..].last_mut() {
                Some((user, items)) if *user == row.user_id => items.push(item),
                _ => by_user.push((row.user_id, vec![item])),
            }
        }
    }

    /// The pending events of the due users this replica publishes (of a
    /// user being retried, the oldest alone; those users are returned too),
    /// and their per-topic state.
    async fn load(&mut self, users: Option<HashSet<String>>) -> Result<Loaded, String> {
        let mut pooled = self.db.get().await.map_err(|e| e.to_string())?;
        let conn = &mut pooled.conn();
        let users: Vec<String> = match users {
            Some(users) => users.into_iter().collect(),
            None => db::events::users_with_pending(conn, SWEEP_USERS)
                .await
                .map_err(|e| e.to_string())?,
        };
        // Another replica publishes the users of its shards (its sweep finds
        // what was committed here).
        let due: Vec<&str> = users
            .iter()
            .map(String::as_str)
            .filter(|u| self.shards.serves(u) && !self.backoff.contains_key(*u))
            .collect();
        let (retried, whole): (Vec<&str>, Vec<&str>) =
            due.into_iter().partition(|u| self.failing.contains(*u));
        let mut events = db::events::pending_for_users(conn, &whole, ROUND_BATCH)
            .await
            .map_err(|e| e.to_string())?;
        let heads = db::events::oldest_pending(conn, &retried)
            .await
            .map_err(|e| e.to_string())?;
        let heads_only: HashSet<String> = heads.iter().map(|e| e.user_id.clone()).collect();
        // A retried user with nothing pending (its tasks were deleted, or
        // another replica published them) is forgotten.
        for user in retried {
            if !heads_only.contains(user) {
                self.failing.remove(user);
            }
        }
        events.extend(heads);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let states = db::events::deliveries_of(conn, &ids)
            .await
            .map_err(|e| e.to_string())?;
        Ok((events, states, heads_only))
    }

    /// Publishes one user's pending events in order, each on all its topics,
    /// stopping at the first failure.
    async fn publish_user(
        &self,
        dapr: &DaprClient,
        items: &[Item],
        states: &[DeliveryRow],
    ) -> Outcome {
        let state =
            |id: &str, topic: &str| states.iter().find(|d| d.event_id == id && d.topic == topic);
        let mut outcome = Outcome::default();
        if let Some((head, at)) = self.head_retry(items, states) {
            return Outcome::waiting(head, at);
        }
        'events: for item in items {
            let Some(event) = &item.event else {
                // Holding the user up forever would lose everything after
                // it: it counts as done.
                outcome.done.push((item.id.clone(), item.seq));
                continue;
            };
            let mut topics_done = Vec::new();
            for (topic, projection) in self.topics.for_event(event) {
                let previous = state(&item.id, topic);
                if previous.is_some_and(|d| d.published_at.is_some()) {
                    continue;
                }
                let attempts = previous.map_or(0, |d| d.attempts);
                if let Err(err) = self
                    .publish_one(dapr, event, topic, projection, attempts)
                    .await
                {
                    let retry = now() + backoff(attempts + 1, self.retry_cap());
                    outcome.partial = topics_done
                        .into_iter()
                        .map(|t| (item.id.clone(), t))
                        .collect();
                    outcome.failed =
                        Some((item.id.clone(), topic.to_owned(), err.to_string(), retry));
                    break 'events;
                }
                topics_done.push(topic.to_owned());
            }
            outcome.done.push((item.id.clone(), item.seq));
        }
        outcome
    }

    /// The user's oldest pending event and when it may be tried again, if
    /// that is still to come (a failure in an earlier round, or on another
    /// instance).
    fn head_retry<'r>(
        &self,
        items: &'r [Item],
        states: &[DeliveryRow],
    ) -> Option<(&'r Item, NaiveDateTime)> {
        let head = items.first()?;
        head_states(items, states)
            .filter_map(|d| d.next_attempt_at)
            .max()
            .filter(|at| *at > now())
            .map(|at| (head, at))
    }

    /// Marks what a round published (each user's watermark; the per-topic
    /// state of events now out as a whole is forgotten) and the failures
    /// that stopped users, in one transaction.
    async fn record(
        &self,
        outcomes: &[(String, Outcome)],
        states: &[DeliveryRow],
    ) -> Result<(), AppError> {
        let through: Vec<(&str, i64)> = outcomes
            .iter()
            .filter_map(|(user, o)| Some((user.as_str(), o.done.last()?.1)))
            .collect();
        let settled: Vec<&str> = outcomes
            .iter()
            .flat_map(|(_, o)| &o.done)
            .map(|(id, _)| id.as_str())
            .filter(|id| states.iter().any(|d| d.event_id == *id))
            .collect();
        let partial: Vec<&(String, String)> =
            outcomes.iter().flat_map(|(_, o)| &o.partial).collect();
        let failed: Vec<&(String, String, String, NaiveDateTime)> = outcomes
            .iter()
            .filter_map(|(_, o)| o.failed.as_ref())
            .filter(|(_, topic, _, _)| !topic.is_empty())
            .collect();
        if through.is_empty() && partial.is_empty() && failed.is_empty() {
            return Ok(());
        }
        transaction!(self.db, |conn| {
            let at = now();
            db::events::mark_published(conn, &through).await?;
            db::events::forget_deliveries(conn, &settled).await?;
            for (event_id, topic) in &partial {
                db::events::mark_topic_published(conn, event_id, topic, at).await?;
            }
            for (event_id, topic, error, retry) in &failed {
                db::events::mark_topic_failed(conn, event_id, topic, error, *retry).await?;
            }
            Ok(())
        })
    }

    async fn publish_one(
        &self,
        dapr: &DaprClient,
        event: &DomainEvent,
        topic: &str,
        projection: Projection,
        attempts: i32,
    ) -> Result<(), PublishError> {
        let body = CloudEvent::new(event, projection, &self.settings.event_source).to_vec();
        let result = self.send_one(dapr, topic, &event.user_id, body).await;
        if let Err(err) = &result {
            self.report(event, topic, err, attempts);
        }
        result
    }

    /// One message through the plain publish call, timed and counted.
    async fn send_one(
        &self,
        dapr: &DaprClient,
        topic: &str,
        partition_key: &str,
        body: Vec<u8>,
    ) -> Result<(), PublishError> {
        let timer = self.metrics.publish_latency.start_timer();
        let result = dapr.publish(topic, partition_key, body).await;
        timer.observe_duration();
        self.count(topic, &result);
        result
    }

    /// Counts a publication on `topic`, or its failure by reason.
    fn count(&self, topic: &str, result: &Result<(), PublishError>) {
        match result {
            Ok(()) => self
                .metrics
                .events_published
                .with_label_values(&[topic])
                .inc(),
            Err(err) => self
                .metrics
                .publish_failures
                .with_label_values(&[err.reason().as_str()])
                .inc(),
        }
    }

    /// Logs the failure that holds a user up, with the event's context.
    fn report(&self, event: &DomainEvent, topic: &str, err: &PublishError, attempts: i32) {
        let task_id = event.task_id.map(|id| id.to_string()).unwrap_or_default();
        macro_rules! report {
            ($level:ident) => {
                $level!(self.log, "publishing an event failed; will retry";
                    "event_type" => event.event_type.as_str(),
                    "topic" => topic,
                    "task_id" => task_id,
                    "user_id" => &event.user_id,
                    "correlation_id" => &event.trace.traceid,
                    "dapr_status" => err.reason(),
                    "attempt" => attempts + 1,
                    "error" => err.to_string())
            };
        }
        if err.is_unavailable() {
            report!(warn);
        } else {
            report!(error);
        }
    }
}

/// The topics not yet published of the user's oldest event (of `items`,
/// the user's pending events in order) that have a recorded state.
fn head_states<'s>(
    items: &[Item],
    states: &'s [DeliveryRow],
) -> impl Iterator<Item = &'s DeliveryRow> {
    let head = items.first().map(|item| item.id.as_str());
    states
        .iter()
        .filter(move |d| Some(d.event_id.as_str()) == head && d.published_at.is_none())
}

/// Whether the user's oldest event has failed before.
fn retrying(items: &[Item], states: &[DeliveryRow]) -> bool {
    head_states(items, states).any(|d| d.attempts > 0)
}

/// Exponential backoff with jitter: half the step plus a random half, capped.
fn backoff(attempt: i32, cap: Duration) -> chrono::Duration {
    let doublings = u32::try_from(attempt.max(1) - 1).unwrap_or(0).min(16);
    let step = BACKOFF_BASE.saturating_mul(2u32.pow(doublings)).min(cap);
    let jittered = step.mul_f64(0.5 + rand::rng().random::<f64>() * 0.5);
    chrono::Duration::from_std(jittered).unwrap_or_else(|_| chrono::Duration::seconds(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(30);
        for attempt in 1..40 {
            let d = backoff(attempt, cap).to_std().unwrap();
            let doublings = (attempt as u32 - 1).min(16);
            let step = BACKOFF_BASE.saturating_mul(2u32.pow(doublings)).min(cap);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(100, cap).to_std().unwrap() <= cap);
    }
}
