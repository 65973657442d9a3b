//! The webhook deliverer: each enabled endpoint gets its user's events from
//! the event log, in sequence order, as signed CloudEvents (`client`).
//!
//! The log drives everything. An endpoint's cursor (`delivered_seq`) says
//! how far it is; a run of deliveries takes the events after it (from
//! memory while this instance still holds the ones it committed, see
//! [`Recent`], else from the log), posts them one at a time, and reports
//! back. The reports are written in one transaction every [`FLUSH`]
//! (cursors, failures, the attempts kept for the user to see: a busy
//! endpoint's only once in a while, see [`attempts`]), or at once when a run
//! ends on a failure. A run that starts before its endpoint's last report is
//! written starts from the cursor that report holds. A crash or a restart
//! loses nothing: what was delivered but not yet recorded is delivered again
//! (the `webhook-id` tells receivers it is the same event).
//!
//! A failed delivery stops its endpoint at that event, to be retried after
//! the waits of `WEBHOOK_RETRY_SCHEDULE` (about three days in all); an
//! endpoint that fails the whole schedule, or answers `410 Gone`, is
//! disabled, and a `webhook.disabled` event tells its user. Each endpoint
//! runs on its own: a slow or dead receiver holds up nobody else.
//!
//! Users are split into lease shards of their own kind (`shards::WEBHOOKS`),
//! so with several replicas each endpoint is served by one of them at a
//! time; a shard is given back only when none of its endpoints is being
//! delivered to.
//!
//! The deliverer has a thread of its own ([`THREAD`]), which by default
//! (`WEBHOOK_PRIORITY=background`) the kernel runs only with CPU that no
//! other thread wants (`SCHED_IDLE`): requests come first. While a core is
//! saturated, deliveries fall behind and catch up when it is not; the runs
//! then carry more events each, which costs less per delivery. Nothing
//! waits on the deliverer but its own receivers.

mod attempts;
pub mod client;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::QueryResult;
use futures_util::future::BoxFuture;
use rand::Rng;
use slog::{Logger, info, warn};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::FeedReceiver;
use super::recent::Recent;
use super::shards::{self, Shards, shard_of};
use crate::db::events::EventRow;
use crate::db::webhooks::{AttemptRow, EndpointRow};
use crate::db::{self, Db, PooledConn, now};
use crate::domain::webhook;
use crate::error::AppError;
use crate::events::bus::EventBus;
use crate::events::cloudevent::{CloudEvent, Projection};
use crate::events::{DomainEvent, EventType, Trace, WebhookInfo};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::transaction;
use attempts::Attempts;
pub use client::Answer;
use client::Signer;

/// Events read per batch of a run.
const BATCH: i64 = 100;
/// Reports are written at least this often.
const FLUSH: Duration = Duration::from_secs(1);
/// Endpoints a sweep looks at.
const SWEEP_LIMIT: i64 = 1_000;
/// After a wake-up, wait this long so one look serves a burst of commits.
const DEBOUNCE: Duration = Duration::from_millis(10);
/// Looks for fresh commits start at most this often: under a steady stream
/// each run then carries more events per batch (its reads and its record
/// are per batch), which costs the requests less; a lone change still goes
/// out after `DEBOUNCE`.
const LOOK_GAP: Duration = Duration::from_millis(100);
/// Commands waiting for the deliverer.
const COMMANDS: usize = 256;

/// The deliverer's thread.
const THREAD: &str = "taskstream-hook";

/// What the deliverer's thread starts with.
pub(super) struct Start {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub bus: EventBus,
    pub metrics: Arc<Metrics>,
    pub log: Logger,
    /// The batches this instance commits.
    pub feed: FeedReceiver,
    pub webhooks: Webhooks,
    pub stop: oneshot::Receiver<()>,
}

/// Starts the deliverer on its own thread, with an actix runtime for its
/// client and runs; what is returned resolves once it has stopped (and
/// recorded what it did).
pub(super) fn start(start: Start) -> std::io::Result<oneshot::Receiver<()>> {
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name(THREAD.into())
        .spawn(move || {
            let Start {
                settings,
                db,
                bus,
                metrics,
                log,
                feed,
                webhooks,
                stop,
            } = start;
            if settings.webhook_priority == "background" {
                yield_to_requests(&log);
            }
            actix_rt::System::new().block_on(async move {
                match Deliverer::new(settings, db, bus, metrics, log.clone()) {
                    Ok((deliverer, reports)) => deliverer.run(feed, webhooks, reports, stop).await,
                    Err(e) => slog::error!(log, "webhooks are not delivered"; "error" => e),
                }
            });
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// Puts the calling thread in `SCHED_IDLE`. Failing (a seccomp profile
/// that forbids it) is logged; deliveries then compete with requests.
fn yield_to_requests(log: &Logger) {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id, thread_schedule_policy,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let set = set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        idle,
    );
    // The crate sets the policy, then the nice value; only the second fails
    // in a process started nicer than 0 without the right to lower it, and
    // the thread is idle all the same.
    if let Err(e) = set
        && thread_schedule_policy().ok() != Some(idle)
    {
        warn!(log, "webhook deliveries could not be given background priority: they run at normal priority";
            "error" => format!("{e:?}"));
    }
}

/// What a use case asks of the deliverer.
enum Command {
    /// Deliver `event` to `url` once, now (a test, or a replay of one
    /// delivery), and answer.
    Once {
        url: String,
        secrets: Vec<String>,
        event: Box<DomainEvent>,
        reply: oneshot::Sender<Answer>,
    },
    /// The user's endpoints changed (created, enabled, rewound): look again.
    Wake(String),
}

/// The use cases' handle on the deliverer (Send; cheap to clone).
#[derive(Clone)]
pub struct Webhooks {
    commands: mpsc::Sender<Command>,
    /// The receiving end, until the dispatcher takes it.
    receiver: Arc<Mutex<Option<mpsc::Receiver<Command>>>>,
    /// How long a one-off delivery may take, answer included.
    timeout: Duration,
}

impl Webhooks {
    pub fn new(settings: &Settings) -> Self {
        let (commands, receiver) = mpsc::channel(COMMANDS);
        Self {
            commands,
            receiver: Arc::new(Mutex::new(Some(receiver))),
            timeout: Duration::from_secs_f64(
                settings.webhook_timeout + settings.webhook_connect_timeout + 1.0,
            ),
        }
    }

    fn take_receiver(&self) -> Option<mpsc::Receiver<Command>> {
        self.receiver.lock().ok()?.take()
    }

    /// Delivers `event` to the endpoint once, now, and tells how it went.
    pub async fn deliver_once(
        &self,
        endpoint: &EndpointRow,
        event: DomainEvent,
    ) -> Result<Answer, AppError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Once {
            url: endpoint.url.clone(),
            secrets: signing_secrets(endpoint, now())
                .into_iter()
                .map(str::to_owned)
                .collect(),
            event: Box::new(event),
            reply,
        };
        let busy = || AppError::Busy {
            retry_after: 1,
            message: "webhook deliveries are busy: try again",
        };
        self.commands.try_send(command).map_err(|_| busy())?;
        tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// Tells the deliverer that the user's endpoints changed.
    pub fn wake(&self, user_id: &str) {
        // A full queue is recovered by the next sweep.
        let _ = self.commands.try_send(Command::Wake(user_id.to_owned()));
    }
}

/// The secrets that sign now: the current one, and the previous one while
/// its grace lasts.
pub fn signing_secrets(endpoint: &EndpointRow, at: NaiveDateTime) -> Vec<&str> {
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) =
        (&endpoint.previous_secret, endpoint.previous_secret_until)
        && until > at
    {
        secrets.push(previous);
    }
    secrets
}

/// How a run ended.
#[derive(Debug)]
enum End {
    /// Nothing left to deliver.
    CaughtUp,
    /// Told to stop (its shard is going, the service stops), or the
    /// endpoint is gone or disabled.
    Stopped,
    /// The event after the cursor failed for the `failures`th time.
    Retry { failures: i32, at: NaiveDateTime },
    /// The endpoint is to be disabled.
    Disable { reason: String, gone: bool },
}

/// What a run tells the deliverer.
pub(super) struct Report {
    endpoint_id: String,
    user_id: String,
    url: String,
    epoch: i32,
    /// The cursor now (everything up to it delivered or not for it).
    through: Option<i64>,
    attempts: Vec<AttemptRow>,
    /// `None`: the run goes on.
    end: Option<End>,
}

/// What runs share.
struct Shared {
    settings: Arc<Settings>,
    db: Db,
    metrics: Arc<Metrics>,
    log: Logger,
    client: client::Client,
    retries: Vec<Duration>,
    /// The events committed here a moment ago, as committed (this
    /// thread's own: see [`FeedReceiver`]).
    recent: Recent,
}

/// A run under way.
struct Running {
    user_id: String,
    shard: u16,
    stop: Rc<Cell<bool>>,
    /// A look found more for it while it ran.
    again: Option<Again>,
}

/// What a look found for a run under way: when the run ends without having
/// delivered up to `newest`, the next starts with the endpoint as the look
/// read it (as any run starts with its look's row), without reading it
/// again if that was a moment ago ([`LOOK_GAP`]).
struct Again {
    newest: i64,
    endpoint: EndpointRow,
    read: Instant,
}

/// Per user, the newest event a look is for; [`ANY`] when not known (a
/// sweep, a changed endpoint): then a run under way goes on again (see
/// [`Again`]) whatever it delivered.
type Seen = HashMap<String, i64>;
const ANY: i64 = i64::MAX;

pub(super) struct Deliverer {
    shared: Rc<Shared>,
    bus: EventBus,
    shards: Shards,
    running: HashMap<String, Running>,
    /// Endpoints waiting for a retry, and when.
    retry_at: HashMap<String, NaiveDateTime>,
    pending: Vec<Report>,
    /// The attempts taken from reports, until they are written.
    attempts: Attempts,
    reports: mpsc::Sender<Report>,
    /// Attempts written per endpoint since its old ones were last pruned.
    unpruned: HashMap<String, i64>,
}

impl Deliverer {
    /// The deliverer, and where its runs report; `None` (logged) when the
    /// settings do not make a client.
    pub(super) fn new(
        settings: Arc<Settings>,
        db: Db,
        bus: EventBus,
        metrics: Arc<Metrics>,
        log: Logger,
    ) -> Result<(Self, mpsc::Receiver<Report>), String> {
        let client = client::Client::new(&settings, &log)?;
        let retries = settings.webhook_retries()?;
        let shards = Shards::new(
            &shards::WEBHOOKS,
            settings.instance_id.clone(),
            Duration::from_secs_f64(settings.outbox_lease_ttl),
        );
        let (reports, receiver) = mpsc::channel(256);
        let shared = Rc::new(Shared {
            settings,
            db,
            metrics,
            log,
            client,
            retries,
            recent: Recent::default(),
        });
        Ok((
            Self {
                shared,
                bus,
                shards,
                running: HashMap::new(),
                retry_at: HashMap::new(),
                pending: Vec::new(),
                attempts: Attempts::default(),
                reports,
                unpruned: HashMap::new(),
            },
            receiver,
        ))
    }

    pub(super) async fn run(
        mut self,
        mut feed: FeedReceiver,
        webhooks: Webhooks,
        mut reports: mpsc::Receiver<Report>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let Some(mut commands) = webhooks.take_receiver() else {
            warn!(
                self.shared.log,
                "webhook deliverer started twice: not delivering"
            );
            return;
        };
        let sweep_every = Duration::from_secs_f64(self.shared.settings.webhook_sweep_interval);
        let mut next_sweep = tokio::time::Instant::now();
        let mut last_look = tokio::time::Instant::now();
        // A look to come: when, and the newest event it is for, per user.
        let mut look: Option<(tokio::time::Instant, Seen)> = None;
        let mut flush = tokio::time::interval(FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake_at = self
                .retry_at
                .values()
                .min()
                .map(|at| tokio::time::Instant::now() + (*at - now()).to_std().unwrap_or_default())
                .map_or(next_sweep, |at| at.min(next_sweep));
            let look_due = look.as_ref().map_or(next_sweep, |(at, _)| *at);
            tokio::select! {
                _ = &mut stop => break,
                Some(report) = reports.recv() => {
                    // A failure is recorded at once (the retry count must
                    // survive anything); progress with the next flush.
                    let failed = matches!(report.end, Some(End::Retry { .. } | End::Disable { .. }));
                    self.take(report).await;
                    if failed || self.pending.len() >= 1024 {
                        self.flush(false).await;
                    }
                }
                _ = flush.tick() => self.flush(false).await,
                Some(batch) = feed.recv() => {
                    // Keep what came in; the look waits for the next batches
                    // (the runs' reports are taken meanwhile).
                    let (_, users) = look.get_or_insert_with(|| {
                        let paced = last_look + LOOK_GAP;
                        (paced.max(tokio::time::Instant::now() + DEBOUNCE), Seen::new())
                    });
                    let mut next = Some(batch);
                    while let Some(batch) = next {
                        for event in &batch {
                            let newest = users.entry(event.user_id.clone()).or_default();
                            *newest = event.seq.max(*newest);
                        }
                        self.shared.recent.keep(&batch);
                        next = feed.try_recv();
                    }
                    if feed.missed() {
                        // Batches were dropped: the log says whose.
                        self.sweep().await;
                    }
                }
                () = tokio::time::sleep_until(look_due), if look.is_some() => {
                    last_look = tokio::time::Instant::now();
                    if let Some((_, users)) = look.take() {
                        self.look_at(users).await;
                    }
                }
                Some(command) = commands.recv() => match command {
                    Command::Once { url, secrets, event, reply } => {
                        let shared = self.shared.clone();
                        actix_rt::spawn(async move {
                            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
                            let answer = shared.post(&url, &event, &Signer::new(&secrets)).await;
                            let _ = reply.send(answer);
                        });
                    }
                    Command::Wake(user) => self.look_at(Seen::from([(user, ANY)])).await,
                },
                () = tokio::time::sleep_until(wake_at) => {
                    if tokio::time::Instant::now() >= next_sweep {
                        next_sweep = tokio::time::Instant::now() + sweep_every;
                        self.tick().await;
                    }
                    self.sweep().await;
                }
            }
        }
        // Stop every run after its current delivery; record what they did.
        for run in self.running.values() {
            run.stop.set(true);
        }
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs_f64(self.shared.settings.webhook_timeout + 1.0);
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline, reports.recv()).await {
                Ok(Some(report)) => self.take(report).await,
                _ => break,
            }
        }
        self.flush(true).await;
        let mut shards = self.shards.clone();
        let _ = on_db(&self.shared.db, move |pooled| {
            Box::pin(async move { shards.release_all(&mut pooled.conn()).await })
        })
        .await;
    }

    /// Renews, rebalances and takes webhook shards; stops the runs of
    /// shards no longer held.
    async fn tick(&mut self) {
        if !self.shards.due(now()) {
            return;
        }
        let busy: HashSet<u16> = self.running.values().map(|r| r.shard).collect();
        let before = self.shards.held();
        let mut shards = self.shards.clone();
        let ticked = on_db(&self.shared.db, move |pooled| {
            Box::pin(async move {
                let result = shards
                    .tick(&mut pooled.conn(), |shard| busy.contains(&shard))
                    .await;
                Ok((shards, result))
            })
        })
        .await;
        // No connection: nothing changed, try again next time.
        let Ok((shards, result)) = ticked else {
            return;
        };
        self.shards = shards;
        if let Err(e) = result {
            warn!(self.shared.log, "renewing webhook shards failed"; "error" => e.to_string());
            self.shards.lapse();
        }
        if self.shards.held() != before {
            info!(self.shared.log, "webhook shards rebalanced";
                "held" => self.shards.held(), "before" => before, "of" => shards::SHARDS);
        }
        self.shared
            .metrics
            .webhook_shards
            .set(i64::try_from(self.shards.held()).unwrap_or(0));
        for (id, run) in &self.running {
            if !self.shards.held_shard(run.shard) {
                slog::debug!(self.shared.log, "webhook run stops: its shard went"; "endpoint" => id);
                run.stop.set(true);
            }
        }
    }

    /// Starts the runs due: endpoints behind their user's log whose retry
    /// (if any) has come.
    async fn sweep(&mut self) {
        let t = now();
        self.retry_at.retain(|_, at| *at > t);
        let due = on_db(&self.shared.db, move |pooled| {
            Box::pin(async move { db::webhooks::due(&mut pooled.conn(), t, SWEEP_LIMIT).await })
        })
        .await;
        match due {
            Ok(endpoints) => self.start(endpoints, &Seen::new()),
            Err(e) => {
                warn!(self.shared.log, "looking for webhook deliveries failed"; "error" => e.to_string());
            }
        }
    }

    /// Starts (or marks for another look) the enabled endpoints of `users`.
    async fn look_at(&mut self, users: Seen) {
        if users.is_empty() || self.shards.held() == 0 {
            return;
        }
        let ids: Vec<String> = users
            .keys()
            .filter(|u| self.shards.serves(u))
            .cloned()
            .collect();
        if ids.is_empty() {
            return;
        }
        let found = on_db(&self.shared.db, move |pooled| {
            Box::pin(async move {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                db::webhooks::enabled_of_users(&mut pooled.conn(), &ids).await
            })
        })
        .await;
        match found {
            Ok(endpoints) => {
                // A run whose endpoint the look did not find (disabled or
                // deleted since) does not go on with an older reading.
                let found: HashSet<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
                for (id, run) in &mut self.running {
                    if users.contains_key(&run.user_id) && !found.contains(id.as_str()) {
                        run.again = None;
                    }
                }
                self.start(endpoints, &users);
            }
            Err(e) => {
                warn!(self.shared.log, "reading webhook endpoints failed"; "error" => e.to_string());
            }
        }
    }

    /// Starts runs for `endpoints` (read a moment ago); one already under
    /// way is marked to look again for the events `seen` says are new.
    fn start(&mut self, endpoints: Vec<EndpointRow>, seen: &Seen) {
        let t = now();
        for endpoint in endpoints {
            if !self.shards.serves(&endpoint.user_id) {
                continue;
            }
            if let Some(run) = self.running.get_mut(&endpoint.id) {
                let seen = seen.get(&endpoint.user_id).copied().unwrap_or(ANY);
                let newest = run.again.as_ref().map_or(seen, |a| a.newest.max(seen));
                run.again = Some(Again {
                    newest,
                    endpoint,
                    read: Instant::now(),
                });
                continue;
            }
            let waiting = self
                .retry_at
                .get(&endpoint.id)
                .copied()
                .or(endpoint.next_attempt_at)
                .filter(|at| *at > t);
            if let Some(at) = waiting {
                self.retry_at.insert(endpoint.id.clone(), at);
                continue;
            }
            let endpoint = self.with_unflushed(endpoint);
            let stop = Rc::new(Cell::new(false));
            self.running.insert(
                endpoint.id.clone(),
                Running {
                    user_id: endpoint.user_id.clone(),
                    shard: shard_of(&endpoint.user_id),
                    stop: stop.clone(),
                    again: None,
                },
            );
            actix_rt::spawn(deliver(
                self.shared.clone(),
                endpoint,
                stop,
                self.reports.clone(),
            ));
        }
    }

    /// The endpoint with the cursor its runs reached, though perhaps not
    /// yet written: a new run starts there, not from the older cursor the
    /// database still has (it would deliver those events twice).
    fn with_unflushed(&self, mut endpoint: EndpointRow) -> EndpointRow {
        let reached = self
            .pending
            .iter()
            .filter(|r| r.endpoint_id == endpoint.id && r.epoch == endpoint.cursor_epoch)
            .filter_map(|r| r.through)
            .max();
        if let Some(seq) = reached {
            endpoint.delivered_seq = endpoint.delivered_seq.max(seq);
        }
        endpoint
    }

    /// Takes a run's report in; a run that ended is forgotten (and started
    /// again when events it did not deliver came in meanwhile).
    async fn take(&mut self, mut report: Report) {
        let failed = matches!(report.end, Some(End::Retry { .. } | End::Disable { .. }));
        let attempts = std::mem::take(&mut report.attempts);
        self.attempts
            .add(&report.endpoint_id, attempts, failed, Instant::now());
        if let Some(end) = &report.end {
            let run = self.running.remove(&report.endpoint_id);
            match end {
                End::Retry { at, .. } => {
                    self.retry_at.insert(report.endpoint_id.clone(), *at);
                }
                End::CaughtUp => {
                    let again = run
                        .and_then(|r| r.again)
                        .filter(|a| report.through.is_none_or(|t| t < a.newest));
                    if let Some(again) = again {
                        // After the report, whose cursor the next run starts at.
                        let user = report.user_id.clone();
                        self.pending.push(report);
                        if again.read.elapsed() < LOOK_GAP {
                            self.start(vec![again.endpoint], &Seen::new());
                        } else {
                            self.look_at(Seen::from([(user, ANY)])).await;
                        }
                        return;
                    }
                }
                _ => {}
            }
        }
        self.pending.push(report);
    }

    /// Writes the reports taken so far and the attempts due (`all`: every
    /// attempt held) in one transaction (on the database's runtime: see
    /// [`Db::on_own_runtime`]); a disabled endpoint's `webhook.disabled`
    /// event goes in with it.
    async fn flush(&mut self, all: bool) {
        let attempts = self.attempts.take_due(Instant::now(), all);
        if self.pending.is_empty() && attempts.is_empty() {
            return;
        }
        let reports = Arc::new(std::mem::take(&mut self.pending));
        let attempts = Arc::new(attempts);
        // Old attempts go once an endpoint has written half as many again as
        // are kept: a delete per endpoint and flush would cost more (a
        // failed write counts twice: it prunes a little early).
        for attempt in attempts.iter() {
            *self
                .unpruned
                .entry(attempt.endpoint_id.clone())
                .or_default() += 1;
        }
        let prune: Vec<String> = self
            .unpruned
            .iter()
            .filter(|(_, n)| **n >= db::webhooks::ATTEMPTS_KEPT / 2)
            .map(|(id, _)| id.clone())
            .collect();
        let work = write(
            self.shared.db.clone(),
            self.bus.clone(),
            reports.clone(),
            attempts.clone(),
            prune.clone(),
            now(),
        );
        let written = self
            .shared
            .db
            .on_own_runtime(work)
            .await
            .unwrap_or_else(|| Err(AppError::internal("the database runtime is stopping")));
        match written {
            Ok(events) => {
                for endpoint in &prune {
                    self.unpruned.remove(endpoint);
                }
                for report in reports.iter() {
                    if let Some(End::Disable { reason, gone }) = &report.end {
                        let why = if *gone { "gone" } else { "failing" };
                        self.shared
                            .metrics
                            .webhook_endpoints_disabled
                            .with_label_values(&[why])
                            .inc();
                        warn!(self.shared.log, "webhook endpoint disabled";
                            "endpoint" => &report.endpoint_id, "user_id" => &report.user_id,
                            "url" => &report.url, "reason" => reason);
                    }
                }
                self.bus.committed(events);
            }
            Err(e) => {
                // Kept for the next flush; what was delivered meanwhile is
                // delivered again after a crash (at least once).
                warn!(self.shared.log, "recording webhook deliveries failed"; "error" => e.chain());
                // The write's share is gone once it has ended (or unwound).
                if let Ok(mut reports) = Arc::try_unwrap(reports) {
                    reports.append(&mut self.pending);
                    self.pending = reports;
                }
                if let Ok(attempts) = Arc::try_unwrap(attempts) {
                    self.attempts.put_back(attempts, Instant::now());
                }
            }
        }
    }
}

/// The flush's transaction: every report, the attempts, the pruning.
async fn write(
    db: Db,
    bus: EventBus,
    reports: Arc<Vec<Report>>,
    attempts: Arc<Vec<AttemptRow>>,
    prune: Vec<String>,
    at: NaiveDateTime,
) -> Result<Vec<DomainEvent>, AppError> {
    // An endpoint's progress is one cursor: its reports' newest, for all of
    // them in one statement. An endpoint with a failure among its reports
    // keeps their order (its cursor, then the failure).
    let failing: HashSet<&str> = reports
        .iter()
        .filter(|r| matches!(r.end, Some(End::Retry { .. } | End::Disable { .. })))
        .map(|r| r.endpoint_id.as_str())
        .collect();
    let mut through: HashMap<(&str, i32), i64> = HashMap::new();
    for report in reports.iter() {
        if let Some(seq) = report.through
            && !failing.contains(report.endpoint_id.as_str())
        {
            let newest = through
                .entry((report.endpoint_id.as_str(), report.epoch))
                .or_insert(seq);
            *newest = seq.max(*newest);
        }
    }
    let through: Vec<(&str, i32, i64)> = through
        .into_iter()
        .map(|((id, epoch), seq)| (id, epoch, seq))
        .collect();
    let kept = usize::try_from(db::webhooks::ATTEMPTS_KEPT).unwrap_or(usize::MAX);
    transaction!(db, |conn| {
        let mut events = Vec::new();
        db::webhooks::advance_all(conn, &through).await?;
        for report in reports
            .iter()
            .filter(|r| failing.contains(r.endpoint_id.as_str()))
        {
            events.extend(record(conn, &bus, report, at).await?);
        }
        db::webhooks::insert_attempts(conn, &attempts).await?;
        for endpoint in &prune {
            // A full list's worth just written: older ones go.
            let written: Vec<&str> = attempts
                .iter()
                .filter(|a| a.endpoint_id == *endpoint)
                .map(|a| a.id.as_str())
                .collect();
            let oldest_kept = (written.len() >= kept)
                .then(|| written.iter().copied().min())
                .flatten();
            db::webhooks::prune_attempts(conn, endpoint, oldest_kept).await?;
        }
        Ok(events)
    })
}

/// Runs `work` with a pooled connection on the database's runtime (see
/// [`Db::on_own_runtime`]): the deliverer's thread never holds a connection
/// of the pool that requests share.
async fn on_db<T: Send + 'static>(
    db: &Db,
    work: impl for<'c> FnOnce(&'c mut PooledConn) -> BoxFuture<'c, QueryResult<T>> + Send + 'static,
) -> Result<T, String> {
    let pool = db.clone();
    db.on_own_runtime(async move {
        let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
        work(&mut pooled).await.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|| Err("the database runtime is stopping".into()))
}

/// Writes what one report says (inside the flush's transaction); the
/// `webhook.disabled` event, when it disables its endpoint.
async fn record(
    conn: &mut db::Conn<'_>,
    bus: &EventBus,
    report: &Report,
    at: NaiveDateTime,
) -> Result<Option<DomainEvent>, AppError> {
    if let Some(seq) = report.through {
        db::webhooks::advance(conn, &report.endpoint_id, report.epoch, seq).await?;
    }
    match &report.end {
        Some(End::Retry { failures, at }) => {
            db::webhooks::failed(conn, &report.endpoint_id, report.epoch, *failures, *at).await?;
            Ok(None)
        }
        Some(End::Disable { reason, .. }) => {
            if !db::webhooks::disable(conn, &report.endpoint_id, reason, at).await? {
                return Ok(None);
            }
            let info = WebhookInfo {
                endpoint_id: Uuid::parse_str(&report.endpoint_id).map_err(AppError::internal)?,
                url: report.url.clone(),
                reason: reason.clone(),
            };
            let trace = Trace::for_request(&Uuid::now_v7().to_string(), None);
            let event = bus
                .record_webhook(
                    conn,
                    &trace,
                    &report.user_id,
                    EventType::WebhookDisabled,
                    info,
                )
                .await?;
            Ok(Some(event))
        }
        _ => Ok(None),
    }
}

impl Shared {
    /// Posts `event` to `url`, signed by `signer`, and counts it.
    async fn post(&self, url: &str, event: &DomainEvent, signer: &Signer) -> Answer {
        let body = CloudEvent::new(
            event,
            Projection::primary(event.event_type),
            &self.settings.event_source,
        )
        .to_vec();
        let id = event.id.to_string();
        let answer = self
            .client
            .deliver(client::Delivery {
                url,
                id: &id,
                body,
                signer,
            })
            .await;
        let outcome = if answer.delivered() {
            "delivered"
        } else if answer.gone() {
            "gone"
        } else {
            "failed"
        };
        self.metrics
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc();
        self.metrics
            .webhook_latency
            .observe(answer.latency.as_secs_f64());
        answer
    }

    /// The wait before the `failures`th retry, with ±10 % jitter; `None`
    /// once the schedule is spent.
    fn retry_after(&self, failures: i32) -> Option<chrono::Duration> {
        let wait = self
            .retries
            .get(usize::try_from(failures).ok()?.checked_sub(1)?)?;
        let jittered = wait.mul_f64(0.9 + rand::rng().random::<f64>() * 0.2);
        chrono::Duration::from_std(jittered).ok()
    }

    /// The whole schedule, for the message that disables an endpoint.
    fn schedule_span(&self) -> String {
        let total: Duration = self.retries.iter().sum();
        let hours = total.as_secs_f64() / 3600.0;
        if hours >= 1.0 {
            format!("{hours:.0} h")
        } else {
            format!("{:.0} s", total.as_secs_f64())
        }
    }
}

/// A run: delivers the endpoint's events after its cursor, in order, until
/// none is left, one fails, or it is told to stop; reports after each batch.
async fn deliver(
    shared: Rc<Shared>,
    endpoint: EndpointRow,
    stop: Rc<Cell<bool>>,
    reports: mpsc::Sender<Report>,
) {
    let mut run = Run {
        cursor: endpoint.delivered_seq,
        epoch: endpoint.cursor_epoch,
        failures: endpoint.failures,
        attempts: Vec::new(),
        fresh: true,
    };
    loop {
        let (current, end) = match run.batch(&shared, &endpoint, &stop).await {
            Ok((current, end)) => (current, end),
            Err(why) => {
                warn!(shared.log, "a webhook run stopped"; "endpoint" => &endpoint.id, "error" => why);
                (None, Some(End::Stopped))
            }
        };
        let of = current.as_ref().unwrap_or(&endpoint);
        let report = Report {
            endpoint_id: of.id.clone(),
            user_id: of.user_id.clone(),
            url: of.url.clone(),
            epoch: run.epoch,
            through: current.is_some().then_some(run.cursor),
            attempts: std::mem::take(&mut run.attempts),
            end,
        };
        let ended = report.end.is_some();
        if reports.send(report).await.is_err() || ended {
            return;
        }
    }
}

/// Where a run at (cursor, epoch, failures) stands once it has read its
/// endpoint again: at the later cursor of the same epoch, or wherever a new
/// epoch (a replay set the endpoint back) puts it.
fn repositioned(
    (cursor, epoch, failures): (i64, i32, i32),
    current: &EndpointRow,
) -> (i64, i32, i32) {
    if current.cursor_epoch == epoch {
        (cursor.max(current.delivered_seq), epoch, failures)
    } else {
        (
            current.delivered_seq,
            current.cursor_epoch,
            current.failures,
        )
    }
}

/// Where a run is.
struct Run {
    cursor: i64,
    epoch: i32,
    /// Failed attempts at the event after the cursor.
    failures: i32,
    /// Attempts not yet reported.
    attempts: Vec<AttemptRow>,
    /// The endpoint as the run was given it was read a moment ago (by the
    /// look or sweep that started the run): the first batch need not read
    /// it again.
    fresh: bool,
}

impl Run {
    /// One batch: the endpoint as it is now (`None`: gone, disabled, or the
    /// run was told to stop) and how the run ends, if it does.
    async fn batch(
        &mut self,
        shared: &Shared,
        endpoint: &EndpointRow,
        stop: &Cell<bool>,
    ) -> Result<(Option<EndpointRow>, Option<End>), String> {
        // The events this instance committed right after the cursor, if it
        // still holds them, are the log's (a user's sequence numbers have
        // no gaps, and events never change): the log is read only for what
        // is not held.
        let limit = usize::try_from(BATCH).unwrap_or(usize::MAX);
        let held = shared.recent.after(&endpoint.user_id, self.cursor, limit);
        let held_after = (!held.is_empty()).then_some(self.cursor);
        let read = self.read(shared, endpoint, held_after).await?;
        let Some((current, rows)) = read.filter(|(c, _)| c.enabled && !stop.get()) else {
            return Ok((None, Some(End::Stopped)));
        };
        (self.cursor, self.epoch, self.failures) =
            repositioned((self.cursor, self.epoch, self.failures), &current);
        let events: Vec<(i64, Option<Arc<DomainEvent>>)> = match rows {
            None => held.into_iter().map(|e| (e.seq, Some(e))).collect(),
            Some(rows) => rows
                .iter()
                // Unreadable (logged): stepped over.
                .map(|row| {
                    (
                        row.seq,
                        shared.recent.read(row, &shared.metrics, &shared.log),
                    )
                })
                .collect(),
        };
        // A short batch was all there was: no need to read again (what is
        // committed meanwhile starts another run).
        let last = events.len() < limit;
        if events.is_empty() {
            return Ok((Some(current), Some(End::CaughtUp)));
        }
        let signer = Signer::new(&signing_secrets(&current, now()));
        for (seq, event) in events {
            if stop.get() {
                return Ok((Some(current), Some(End::Stopped)));
            }
            if let Some(event) = event
                && webhook::matches(&current.event_types, event.event_type.as_str())
                && let Some(end) = self.post(shared, &current, &signer, &event).await
            {
                return Ok((Some(current), Some(end)));
            }
            self.cursor = seq;
        }
        Ok((Some(current), last.then_some(End::CaughtUp)))
    }

    /// The endpoint as it is now (`None`: gone) and, unless the events held
    /// after `held_after` are the next to deliver, the log's after the
    /// cursor.
    async fn read(
        &mut self,
        shared: &Shared,
        endpoint: &EndpointRow,
        held_after: Option<i64>,
    ) -> Result<Option<(EndpointRow, Option<Vec<EventRow>>)>, String> {
        let (id, cursor, epoch) = (endpoint.id.clone(), self.cursor, self.epoch);
        if std::mem::take(&mut self.fresh) {
            if held_after.is_some() || !endpoint.enabled {
                return Ok(Some((endpoint.clone(), None)));
            }
            let user_id = endpoint.user_id.clone();
            let rows = on_db(&shared.db, move |pooled| {
                Box::pin(async move {
                    db::events::after(&mut pooled.conn(), &user_id, cursor, BATCH).await
                })
            })
            .await?;
            return Ok(Some((endpoint.clone(), Some(rows))));
        }
        // Each later batch reads the endpoint again: a change of URL, filter
        // or secret applies from the next batch on; a replay moves the cursor.
        on_db(&shared.db, move |pooled| {
            Box::pin(async move {
                let Some(current) = db::webhooks::by_id(&mut pooled.conn(), &id).await? else {
                    return Ok(None);
                };
                let (from, _, _) = repositioned((cursor, epoch, 0), &current);
                if !current.enabled || held_after == Some(from) {
                    return Ok(Some((current, None)));
                }
                let rows =
                    db::events::after(&mut pooled.conn(), &current.user_id, from, BATCH).await?;
                Ok(Some((current, Some(rows))))
            })
        })
        .await
    }

    /// Delivers one event; how the run ends if it failed.
    async fn post(
        &mut self,
        shared: &Shared,
        endpoint: &EndpointRow,
        signer: &Signer,
        event: &DomainEvent,
    ) -> Option<End> {
        let t = now();
        let answer = shared.post(&endpoint.url, event, signer).await;
        let mut attempt = AttemptRow {
            id: Uuid::now_v7().to_string(),
            endpoint_id: endpoint.id.clone(),
            event_id: event.id.to_string(),
            seq: event.seq,
            event_type: event.event_type.as_str().to_owned(),
            attempt: self.failures + 1,
            status: answer.status.map(i32::from),
            latency_ms: answer.latency.as_secs_f64() * 1000.0,
            error: answer.error.clone(),
            next_retry_at: None,
            created_at: t,
            kind: webhook::AttemptKind::Scheduled.as_str().to_owned(),
        };
        if answer.delivered() {
            self.attempts.push(attempt);
            self.failures = 0;
            return None;
        }
        self.failures += 1;
        let end = if answer.gone() {
            End::Disable {
                reason: "the receiver answered 410 Gone".into(),
                gone: true,
            }
        } else {
            match shared.retry_after(self.failures) {
                Some(wait) => {
                    attempt.next_retry_at = Some(t + wait);
                    End::Retry {
                        failures: self.failures,
                        at: t + wait,
                    }
                }
                None => End::Disable {
                    reason: format!(
                        "{} delivery attempts over {} failed; the last: {}",
                        self.failures,
                        shared.schedule_span(),
                        answer.error.unwrap_or_default()
                    ),
                    gone: false,
                },
            }
        };
        self.attempts.push(attempt);
        Some(end)
    }
}
