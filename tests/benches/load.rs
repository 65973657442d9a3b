//! The load proof: many concurrent users on one instance, each with an open
//! WebSocket, doing what people do with a task list — list with filters
//! (50 %), create (20 %), update (15 %), complete (10 %), delete (5 %), with
//! a think time between steps — on SQLite and on PostgreSQL, publishing on
//! against the stand-in sidecar.
//!
//! [Goose](https://book.goose.rs) runs the users and times every request.
//! This file adds what Goose cannot see: every change's event must arrive on
//! its user's socket exactly once (checked against the sequence numbers the
//! server logged), how long that took, that every event reached the
//! sidecar, and the server's CPU and memory. It prints Markdown tables and
//! writes a plot per backend (latency percentiles and throughput over time)
//! to `tests/benches/readme/`.
//!
//! Run: `cargo bench --bench load`. `BENCH_ONLY=sqlite` or `postgres` runs
//! one backend; `LOAD_USERS` (1000), `LOAD_RAMP` (20 s), `LOAD_SECONDS` (60 s)
//! and `LOAD_THINK_MS` (`1000-3000`) change the shape; PostgreSQL comes from
//! `BENCH_DATABASE_URL`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[expect(dead_code, reason = "the load benchmark gives the service every core")]
mod common;

#[path = "../support/server.rs"]
mod server;

#[path = "../support/dapr.rs"]
#[expect(dead_code, reason = "the benchmark uses only part of the stand-in")]
mod dapr;

const SECRET: &str = "load-bench-secret-0123456789abcdef";
/// The list requests users make, in turn.
const LIST_QUERIES: &[&str] = &[
    "status=pending&sort_by=due_at&sort_order=asc",
    "priority=high,urgent",
    "tags=work",
    "search=report",
    "status=pending&tags=home&sort_by=priority&sort_order=desc",
    "",
];
/// The operations, in the order the tables show them.
const OPERATIONS: [&str; 5] = ["list", "create", "update", "complete", "delete"];

/// The shape of one run.
#[derive(Debug, Clone, Copy)]
struct Shape {
    users: usize,
    ramp: u64,
    hold: u64,
    think: (u64, u64),
}

impl Shape {
    fn from_env() -> Self {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let think = std::env::var("LOAD_THINK_MS")
            .ok()
            .and_then(|v| {
                let (a, b) = v.split_once('-')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .unwrap_or((1000, 3000));
        Self {
            users: var("LOAD_USERS", 1000) as usize,
            ramp: var("LOAD_RAMP", 20),
            hold: var("LOAD_SECONDS", 60),
            think,
        }
    }
}

fn main() {
    let shape = Shape::from_env();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let sidecar = start_sidecar();
    // The users' side: two threads, as many as the machine has cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "# Load: {} users, each with a WebSocket; {} s ramp, {} s measured, think time {}–{} ms\n",
        shape.users, shape.ramp, shape.hold, shape.think.0, shape.think.1
    );
    for (backend, name) in [("SQLite", "sqlite"), ("PostgreSQL", "postgres")] {
        if !only.is_empty() && only != name {
            continue;
        }
        match runtime.block_on(run(backend, sidecar.clone(), shape)) {
            Some(report) => report.print(),
            None => println!("{backend}: not reachable, skipped\n"),
        }
    }
}

/// The stand-in sidecar, on a thread of its own (it is an actix server).
fn start_sidecar() -> Arc<dapr::Sidecar> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let sidecar = dapr::Sidecar::start().await;
            // A real sidecar's round trip to the broker.
            sidecar.set_latency(Duration::from_millis(2));
            tx.send(Arc::new(sidecar)).expect("the benchmark waits");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the sidecar starts")
}

/// What one user's socket saw, and when that user's changes went out.
#[derive(Debug, Default)]
struct Track {
    /// When each change's request was sent, in order (a user makes one
    /// change at a time, so the k-th event answers the k-th change).
    sent: Mutex<Vec<Instant>>,
    /// Each event that arrived: its sequence number and when.
    arrived: Mutex<Vec<(i64, Instant)>>,
    /// The newest sequence number when the socket opened.
    first: Mutex<i64>,
}

/// What every simulated user shares.
struct World {
    ws_base: String,
    tokens: Vec<String>,
    tracks: Vec<Arc<Track>>,
}

/// One user's state between transactions.
#[derive(Clone)]
struct Session {
    token: Arc<str>,
    track: Arc<Track>,
    /// Tasks not completed, and completed ones, by id.
    pending: Vec<String>,
    done: Vec<String>,
    /// Steps taken, to vary titles, queries and choices.
    step: usize,
    /// This user's own random sequence (xorshift), so that users do not
    /// move in step.
    random: u64,
}

impl Session {
    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }
}

fn user_id(n: usize) -> String {
    format!("load-user-{n}")
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl World {
    /// Opens user `n`'s WebSocket and reads its `hello`: the socket and the
    /// newest sequence number the server has for that user.
    async fn open(&self, n: usize) -> Result<(Socket, i64), String> {
        let url = format!(
            "{}/api/ws/{}?token={}",
            self.ws_base,
            user_id(n),
            self.tokens[n]
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("WebSocket: {e}"))?;
        match socket.next().await {
            Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|hello| hello["last_seq"].as_i64())
                .map(|last| (socket, last))
                .ok_or_else(|| format!("not a hello: {text}")),
            other => Err(format!("no hello: {other:?}")),
        }
    }
}

fn custom(message: impl std::fmt::Display) -> Box<TransactionError> {
    Box::new(TransactionError::Custom(message.to_string()))
}

/// On start: open the user's WebSocket, read its `hello`, keep reading
/// events in the background, then create a few tasks to work with.
fn connect(world: Arc<World>) -> TransactionFunction {
    Arc::new(move |user| {
        let world = world.clone();
        Box::pin(async move {
            let n = user.weighted_users_index;
            let track = world.tracks[n].clone();
            let (mut socket, first) = world.open(n).await.map_err(custom)?;
            *track.first.lock().expect("lock") = first;
            let reader = track.clone();
            tokio::spawn(async move {
                // Reading also answers the server's pings.
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        let at = Instant::now();
                        let event: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        if event["type"] == "event" {
                            let seq = event["seq"].as_i64().unwrap_or(-1);
                            reader.arrived.lock().expect("lock").push((seq, at));
                        }
                    }
                }
            });
            user.set_session_data(Session {
                token: world.tokens[n].as_str().into(),
                track,
                pending: Vec::new(),
                done: Vec::new(),
                step: n,
                random: 0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1),
            });
            for _ in 0..5 {
                create(user).await?;
            }
            Ok(())
        })
    })
}

/// Makes one change and keeps its send time for the event it causes;
/// returns the response body when it succeeded.
async fn change(
    user: &mut GooseUser,
    name: &str,
    method: GooseMethod,
    path: &str,
    body: Option<Value>,
) -> Result<Option<Value>, Box<TransactionError>> {
    let session = user.get_session_data_unchecked::<Session>();
    let (token, track) = (session.token.clone(), session.track.clone());
    let mut builder = user
        .get_request_builder(&method, path)?
        .bearer_auth(&*token);
    if let Some(body) = &body {
        builder = builder.json(body);
    }
    track.sent.lock().expect("lock").push(Instant::now());
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let outcome = match user.request(request).await {
        Ok(goose) => match goose.response {
            Ok(response) if response.status().is_success() => {
                Ok(Some(response.json::<Value>().await.unwrap_or(Value::Null)))
            }
            // Goose counts the error; its cause goes to the output.
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                eprintln!("{name} {path}: {status} {body}");
                Ok(None)
            }
            Err(e) => {
                eprintln!("{name} {path}: {e}");
                Ok(None)
            }
        },
        Err(e) => {
            eprintln!("{name} {path}: {e}");
            Err(e)
        }
    };
    if !matches!(outcome, Ok(Some(_))) {
        // No change, no event.
        track.sent.lock().expect("lock").pop();
    }
    outcome
}

fn session(user: &mut GooseUser) -> &mut Session {
    let session = user.get_session_data_unchecked_mut::<Session>();
    session.step += 1;
    session
}

/// One step: an operation drawn by its share of the mix (Goose's own
/// weighting runs every user through the same shuffled order).
async fn act(user: &mut GooseUser) -> TransactionResult {
    match session(user).next_random() % 20 {
        0..10 => list(user).await,
        10..14 => create(user).await,
        14..17 => update(user).await,
        17..19 => complete(user).await,
        _ => delete(user).await,
    }
}

async fn list(user: &mut GooseUser) -> TransactionResult {
    let (token, step) = {
        let s = session(user);
        (s.token.clone(), s.step)
    };
    let path = format!("/api/v1/tasks?{}", LIST_QUERIES[step % LIST_QUERIES.len()]);
    let builder = user
        .get_request_builder(&GooseMethod::Get, &path)?
        .bearer_auth(&*token);
    let request = GooseRequest::builder()
        .path(path.as_str())
        .name("list")
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

async fn create(user: &mut GooseUser) -> TransactionResult {
    let step = session(user).step;
    let priorities = ["low", "medium", "high", "urgent"];
    let tags: &[&str] = match step % 3 {
        0 => &["work"],
        1 => &["home", "errands"],
        _ => &[],
    };
    let mut body = json!({
        "title": format!("Weekly report {step}"),
        "priority": priorities[step % priorities.len()],
        "tags": tags,
    });
    if step.is_multiple_of(2) {
        body["due_at"] = json!(format!("2027-01-{:02}T09:00:00Z", 1 + step % 28));
    }
    let task = change(
        user,
        "create",
        GooseMethod::Post,
        "/api/v1/tasks",
        Some(body),
    )
    .await?;
    if let Some(id) = task.as_ref().and_then(|t| t["id"].as_str()) {
        user.get_session_data_unchecked_mut::<Session>()
            .pending
            .push(id.to_owned());
    }
    Ok(())
}

async fn update(user: &mut GooseUser) -> TransactionResult {
    let s = session(user);
    let Some(id) = s.pending.get(s.step % s.pending.len().max(1)).cloned() else {
        return create(user).await;
    };
    let body = json!({"title": format!("Weekly report, revised {}", s.step), "priority": "high"});
    change(
        user,
        "update",
        GooseMethod::Patch,
        &format!("/api/v1/tasks/{id}"),
        Some(body),
    )
    .await?;
    Ok(())
}

async fn complete(user: &mut GooseUser) -> TransactionResult {
    let s = session(user);
    if s.pending.is_empty() {
        return create(user).await;
    }
    let id = s.pending.swap_remove(s.step % s.pending.len());
    let path = format!("/api/v1/tasks/{id}/complete");
    if change(user, "complete", GooseMethod::Post, &path, None)
        .await?
        .is_some()
    {
        user.get_session_data_unchecked_mut::<Session>()
            .done
            .push(id);
    }
    Ok(())
}

async fn delete(user: &mut GooseUser) -> TransactionResult {
    let s = session(user);
    // Completed tasks first, as people clear them out.
    let id = match s.done.pop() {
        Some(id) => id,
        None if !s.pending.is_empty() => s.pending.swap_remove(s.step % s.pending.len()),
        None => return create(user).await,
    };
    change(
        user,
        "delete",
        GooseMethod::Delete,
        &format!("/api/v1/tasks/{id}"),
        None,
    )
    .await?;
    Ok(())
}

/// What autovacuum does for the planner in production, which this
/// machine's PostgreSQL has turned off: statistics once the tables hold
/// data, here when the ramp has seeded half the users (autovacuum analyzes
/// a table once a tenth of it changed, checking every minute). Without them the plans made
/// while the tables were empty (scanning every user's tags) stay cached in
/// the pool's connections for good.
async fn analyze_after(url: String, seconds: u64) {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    if let Ok(mut conn) = diesel_async::AsyncPgConnection::establish(&url).await {
        let _ = conn.batch_execute("ANALYZE").await;
    }
}

/// The server's CPU and memory, and the machine's, once a second.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    cpu: f64,
    rss: f64,
    machine: f64,
}

fn sampler(
    pid: u32,
    epoch: Instant,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            samples.push(Sample {
                at: epoch.elapsed().as_secs_f64(),
                cpu: common::cpu_seconds(pid),
                rss: common::rss_mib(pid),
                machine: common::machine_busy_seconds(),
            });
            std::thread::sleep(Duration::from_secs(1));
        }
        samples
    })
}

/// One line of Goose's request log.
#[derive(serde::Deserialize)]
struct Logged {
    elapsed: u64,
    name: String,
    response_time: u64,
    #[serde(default)]
    response_time_fraction_us: u16,
}

/// Everything one backend's run measured.
struct Report {
    backend: &'static str,
    shape: Shape,
    metrics: GooseMetrics,
    events: usize,
    delivered_once: usize,
    duplicates: usize,
    missing: usize,
    out_of_order: usize,
    ws_latencies: Vec<Duration>,
    published: usize,
    published_after: Option<f64>,
    samples: Vec<Sample>,
    hold_from: f64,
    hold_to: f64,
}

async fn run(backend: &'static str, sidecar: Arc<dapr::Sidecar>, shape: Shape) -> Option<Report> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, scratch) =
        common::scratch_database(backend, dir.path(), &common::admin_url()).await?;
    let (mut child, base) = common::start_binary(
        dir.path(),
        &[
            ("DATABASE_URL", url.clone()),
            ("JWT_SECRET", SECRET.into()),
            ("DAPR_ENABLED", "true".into()),
            ("DAPR_HTTP_ENDPOINT", sidecar.endpoint()),
        ],
        None,
    );
    let pid = child.id();
    let keys = taskstream::auth::JwtKeys::new(SECRET.as_bytes(), 600);
    let tokens = (0..shape.users)
        .map(|n| {
            let id = taskstream::domain::user::UserId::parse(&user_id(n)).expect("id");
            keys.issue(&id, 0).expect("token")
        })
        .collect();
    let world = Arc::new(World {
        ws_base: base.replacen("http", "ws", 1),
        tokens,
        tracks: (0..shape.users).map(|_| Arc::default()).collect(),
    });
    let published_before = sidecar.accepted();

    let log = dir.path().join("requests.json");
    let configuration = GooseConfiguration::parse_args_default(&[
        "--host",
        &base,
        "--users",
        &shape.users.to_string(),
        "--increase-time",
        &format!("{}s", shape.ramp),
        "--run-time",
        &format!("{}s", shape.hold),
        "--request-log",
        &log.display().to_string(),
        "--request-format",
        "json",
        "--no-print-metrics",
        "--no-telnet",
        "--quiet",
    ])
    .expect("Goose configuration");
    let think = (
        Duration::from_millis(shape.think.0),
        Duration::from_millis(shape.think.1),
    );
    let user = scenario!("TaskListUser")
        .set_wait_time(think.0, think.1)
        .expect("think time")
        .register_transaction(
            Transaction::new(connect(world.clone()))
                .set_name("connect")
                .set_on_start(),
        )
        .register_transaction(transaction!(act).set_name("act"));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let epoch = Instant::now();
    let samples = sampler(pid, epoch, stop.clone());
    let analyze =
        (backend == "PostgreSQL").then(|| tokio::spawn(analyze_after(url, shape.ramp / 2)));
    let metrics = GooseAttack::initialize_with_config(configuration)
        .expect("Goose starts")
        .register_scenario(user)
        .execute()
        .await
        .expect("the load runs");
    let load_ended = Instant::now();
    if let Some(analyze) = analyze {
        analyze.abort();
    }
    // How the sidecar's count grows from here, until it settles.
    let watch = {
        let sidecar = sidecar.clone();
        tokio::spawn(async move {
            let mut counts = vec![(0.0, sidecar.accepted() - published_before)];
            let mut settled = Instant::now();
            while settled.elapsed() < Duration::from_secs(3)
                && load_ended.elapsed() < Duration::from_secs(60)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let count = sidecar.accepted() - published_before;
                if count != counts.last().map_or(0, |c| c.1) {
                    settled = Instant::now();
                    counts.push((load_ended.elapsed().as_secs_f64(), count));
                }
            }
            counts
        })
    };

    // Every event the server logged for a user, against what its socket got.
    let mut last = Vec::with_capacity(shape.users);
    let mut probes = futures_util::stream::iter((0..shape.users).map(|n| {
        let world = world.clone();
        async move { world.open(n).await.expect("the probe's hello").1 }
    }))
    .buffered(50);
    while let Some(seq) = probes.next().await {
        last.push(seq);
    }
    // Let the last events reach the sockets (they went out before the probes' hello).
    tokio::time::sleep(Duration::from_secs(1)).await;

    let hold_from = shape.ramp as f64;
    let hold_to = hold_from + shape.hold as f64;
    let mut report = Report {
        backend,
        shape,
        metrics,
        events: 0,
        delivered_once: 0,
        duplicates: 0,
        missing: 0,
        out_of_order: 0,
        ws_latencies: Vec::new(),
        published: 0,
        published_after: None,
        samples: Vec::new(),
        hold_from,
        hold_to,
    };
    let mut timeline = Vec::new();
    for (track, &last) in world.tracks.iter().zip(&last) {
        let first = *track.first.lock().expect("lock");
        let arrived = track.arrived.lock().expect("lock");
        let sent = track.sent.lock().expect("lock");
        report.events += (last - first) as usize;
        let mut seen = BTreeMap::new();
        for &(seq, _) in arrived.iter() {
            *seen.entry(seq).or_insert(0usize) += 1;
        }
        report.out_of_order += arrived.windows(2).filter(|w| w[1].0 <= w[0].0).count();
        for seq in first + 1..=last {
            match seen.get(&seq) {
                Some(1) => report.delivered_once += 1,
                Some(n) => report.duplicates += n - 1,
                None => report.missing += 1,
            }
        }
        report.duplicates += seen.keys().filter(|&&s| s <= first || s > last).count();
        // The k-th event answers the k-th change.
        for (&(_, at), &went) in arrived.iter().zip(sent.iter()) {
            let latency = at.saturating_duration_since(went);
            let when = went.duration_since(epoch).as_secs_f64();
            timeline.push((when, latency));
            if (hold_from..hold_to).contains(&when) {
                report.ws_latencies.push(latency);
            }
        }
    }
    report.ws_latencies.sort();

    // Every event reaches the sidecar: one message per topic it goes to.
    let counts = watch.await.expect("watch");
    report.published = counts.last().map_or(0, |c| c.1);
    report.published_after = counts
        .iter()
        .find(|c| c.1 >= report.events * 3)
        .map(|c| c.0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    report.samples = samples.join().expect("sampler");
    let _ = child.kill();
    let _ = child.wait();
    common::drop_scratch(scratch).await;

    let requests: Vec<Logged> = std::fs::read_to_string(&log)
        .expect("request log")
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    plot::write(&report, &requests, &timeline);
    Some(report)
}

/// Quantile `q` (0 to 1) of a sorted slice; `None` when it is empty.
fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(last))
        .copied()
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Report {
    fn print(&self) {
        let m = &self.metrics;
        println!(
            "## {}: {} users, {} s measured after a {} s ramp\n",
            self.backend, self.shape.users, m.duration, self.shape.ramp
        );
        println!(
            "| operation | requests | per second | p50 ms | p95 ms | p99 ms | max ms | errors |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        let mut total = (0, 0);
        for op in OPERATIONS {
            let Some(a) = m.requests.values().find(|a| a.path == op) else {
                continue;
            };
            let t = &a.raw_data;
            total.0 += a.success_count + a.fail_count;
            total.1 += a.fail_count;
            println!(
                "| {op} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                a.success_count + a.fail_count,
                a.success_count as f64 / m.duration.max(1) as f64,
                ms(t.percentile_us(0.5)),
                ms(t.percentile_us(0.95)),
                ms(t.percentile_us(0.99)),
                ms(t.maximum_time_us),
                a.fail_count
            );
        }
        println!(
            "| all | {} | {:.1} | | | | | {} |\n",
            total.0,
            total.0 as f64 / m.duration.max(1) as f64,
            total.1
        );
        for e in m.errors.values() {
            println!(
                "Error: {} × {} {}: {}\n",
                e.occurrences, e.method, e.name, e.error
            );
        }
        let pct =
            |q: f64| quantile(&self.ws_latencies, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        println!(
            "WebSocket: {} events logged by the server over the whole run; {} delivered exactly once, {} missing, {} duplicated, {} out of order. Delivery latency (change request sent → event on the user's socket) over the measured window: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} events).\n",
            self.events,
            self.delivered_once,
            self.missing,
            self.duplicates,
            self.out_of_order,
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(1.0),
            self.ws_latencies.len()
        );
        println!(
            "Publishing: {} messages accepted by the sidecar for {} events (3 topics each){}.\n",
            self.published,
            self.events,
            self.published_after
                .map_or(" — NOT all published within 60 s".to_owned(), |s| format!(
                    ", all of them {s:.2} s after the load stopped"
                ))
        );
        let window: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| (self.hold_from..=self.hold_to).contains(&s.at))
            .collect();
        if let (Some(a), Some(b)) = (window.first(), window.last()) {
            let span = (b.at - a.at).max(1e-9);
            let peak = self.samples.iter().map(|s| s.rss).fold(0.0, f64::max);
            println!(
                "Server process over the measured window: CPU {:.0} % of one core (machine, everything included: {:.0} % of its 2 cores), RSS {:.0} MiB at the start of the window, {:.0} MiB peak.\n",
                (b.cpu - a.cpu) / span * 100.0,
                (b.machine - a.machine) / span / 2.0 * 100.0,
                a.rss,
                peak
            );
        }
    }
}

mod plot {
    //! The plot of one run: latency percentiles per second (all requests,
    //! and WebSocket delivery) above, throughput per second below.

    use std::time::Duration;

    use plotters::coord::Shift;
    use plotters::coord::types::RangedCoordf64;
    use plotters::prelude::*;

    use super::{Logged, Report, quantile};

    pub(super) fn write(report: &Report, requests: &[Logged], ws: &[(f64, Duration)]) {
        let seconds = (report.hold_to + 2.0).ceil() as usize;
        let mut http: Vec<Vec<f64>> = vec![Vec::new(); seconds];
        let mut per_op: Vec<[f64; 5]> = vec![[0.0; 5]; seconds];
        for r in requests {
            let s = (r.elapsed / 1000) as usize;
            if s >= seconds {
                continue;
            }
            http[s].push(r.response_time as f64 + f64::from(r.response_time_fraction_us) / 1000.0);
            if let Some(i) = super::OPERATIONS.iter().position(|op| *op == r.name) {
                per_op[s][i] += 1.0;
            }
        }
        let mut delivery: Vec<Vec<f64>> = vec![Vec::new(); seconds];
        for (when, latency) in ws {
            if let Some(slot) = delivery.get_mut(*when as usize) {
                slot.push(latency.as_secs_f64() * 1000.0);
            }
        }
        let series = |data: &mut [Vec<f64>], q: f64| -> Vec<(f64, f64)> {
            data.iter_mut()
                .enumerate()
                .filter_map(|(s, v)| {
                    v.sort_by(f64::total_cmp);
                    Some((s as f64 + 0.5, quantile(v, q)?))
                })
                .collect()
        };
        let lines = [
            ("requests p50", series(&mut http, 0.5), BLUE.mix(0.5)),
            ("requests p95", series(&mut http, 0.95), BLUE.mix(0.8)),
            ("requests p99", series(&mut http, 0.99), BLUE.mix(1.0)),
            (
                "WebSocket delivery p99",
                series(&mut delivery, 0.99),
                RED.mix(1.0),
            ),
        ];
        let top = lines
            .iter()
            .flat_map(|(_, l, _)| l.iter().map(|p| p.1))
            .fold(10.0, f64::max)
            .min(1000.0)
            * 1.1;

        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/benches/readme"))
            .expect("plot directory");
        // Another think time than the default is another plot.
        let think = match report.shape.think {
            (1000, 3000) => String::new(),
            (a, b) => format!("-think-{a}-{b}"),
        };
        let path = format!(
            "{}/tests/benches/readme/load-{}{think}.svg",
            env!("CARGO_MANIFEST_DIR"),
            report.backend.to_lowercase()
        );
        let root = SVGBackend::new(&path, (900, 640)).into_drawing_area();
        root.fill(&WHITE).expect("plot");
        let (upper, lower) = root.split_vertically(380);
        let x = 0f64..seconds as f64;
        let caption = format!(
            "{}: {} users, each with a WebSocket — latency per second",
            report.backend, report.shape.users
        );
        let mut chart = panel(
            &upper,
            &caption,
            18,
            x.clone(),
            top,
            "seconds since start",
            "ms",
        );
        for (name, points, color) in lines {
            line(&mut chart, points, color.stroke_width(2), name);
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight);

        let peak = per_op
            .iter()
            .map(|o| o.iter().sum::<f64>())
            .fold(10.0, f64::max)
            * 1.1;
        let x_desc = format!(
            "seconds since start (ramp until {:.0} s, measured window {:.0}–{:.0} s)",
            report.hold_from, report.hold_from, report.hold_to
        );
        let caption = "requests per second, by operation";
        let mut chart = panel(&lower, caption, 16, x, peak, &x_desc, "requests/s");
        let per_second = |count: &dyn Fn(&[f64; 5]) -> f64| -> Vec<(f64, f64)> {
            per_op
                .iter()
                .enumerate()
                .map(|(s, o)| (s as f64 + 0.5, count(o)))
                .collect()
        };
        line(
            &mut chart,
            per_second(&|o| o.iter().sum()),
            BLACK.stroke_width(2),
            "all",
        );
        let colors = [BLUE, GREEN, MAGENTA, CYAN, RED];
        for (i, op) in super::OPERATIONS.iter().enumerate() {
            line(
                &mut chart,
                per_second(&|o| o[i]),
                colors[i].stroke_width(1),
                op,
            );
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft);
        root.present().expect("plot");
        println!("(plot written to {path})\n");
    }

    type Chart<'a, 'b> =
        ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

    /// One panel: its caption, both axes from 0, and the mesh.
    fn panel<'a, 'b>(
        area: &'a DrawingArea<SVGBackend<'b>, Shift>,
        caption: &str,
        size: u32,
        x: std::ops::Range<f64>,
        top: f64,
        x_desc: &str,
        y_desc: &str,
    ) -> Chart<'a, 'b> {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", size))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(x, 0f64..top)
            .expect("plot");
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .expect("plot");
        chart
    }

    /// A line, with its entry in the legend.
    fn line(chart: &mut Chart<'_, '_>, points: Vec<(f64, f64)>, style: ShapeStyle, label: &str) {
        chart
            .draw_series(LineSeries::new(points, style))
            .expect("plot")
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
    }

    fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) {
        chart
            .configure_series_labels()
            .border_style(BLACK.mix(0.3))
            .background_style(WHITE.mix(0.9))
            .position(position)
            .draw()
            .expect("plot");
    }
}
