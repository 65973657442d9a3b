//! Benchmarks of the core service, reported in the README.
//!
//! 1. List, search, filter and sort over 100 000 tasks of one user, through
//!    HTTP against the running service: p50/p95 latency per query shape, on
//!    SQLite and on PostgreSQL, over two data sets with different
//!    distributions ([`DataSet`]), and the storage each task takes.
//! 2. 64 concurrent writers creating tasks on SQLite: throughput, latency and
//!    the number of failed writes ("database is locked" or otherwise).
//! 3. What publishing costs a request: task creation with Dapr disabled,
//!    enabled against a stand-in sidecar, and enabled with the sidecar down.
//! 4. WebSocket fan-out: 10 000 sessions over 1 000 users on the release
//!    binary; latency from a REST change's response to its delivery on every
//!    session of that user, and the server's memory.
//! 5. Reminders: 1 000 due within the same minute, and how late each fires.
//!
//! Run: `cargo bench --bench api` (PostgreSQL from `BENCH_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; a scratch database is created
//! and dropped). `BENCH_TASKS` changes the task count; `BENCH_ONLY=sqlite`,
//! `postgres`, `writers`, `publish`, `replicas`, `ws`, `reminders`, `logins` or `webhooks` runs one part;
//! `BENCH_KEEP=1` keeps the SQLite files of the list benchmark to look into.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use taskstream::db::schema::{task_tags, tasks};
use taskstream::db::tags::TagRow;
use taskstream::db::tasks::TaskRow;
use taskstream::db::{Conn, Db};
use taskstream::domain::tag::TagName;
use taskstream::domain::task::{Priority, TaskFields, TaskId};
use taskstream::settings::Settings;
use taskstream::startup::Application;

const QUERIES: &[(&str, &str)] = &[
    ("default (newest first)", ""),
    ("search substring", "search=milk"),
    ("search, no match", "search=zzzz"),
    ("status + priority", "status=pending&priority=high,urgent"),
    ("one tag", "tags=work"),
    ("two tags", "tags=work,home"),
    (
        "due range (dates)",
        "due_date_start=2026-03-01&due_date_end=2026-03-31",
    ),
    ("sort due_at asc", "sort_by=due_at&sort_order=asc"),
    ("sort priority desc", "sort_by=priority&sort_order=desc"),
    ("sort title asc", "sort_by=title&sort_order=asc"),
    ("page 100 (offset 5000)", "offset=5000&limit=50"),
    (
        "combined",
        "search=report&status=pending&tags=work&sort_by=due_at&sort_order=asc",
    ),
];
const ROUNDS: usize = 40;

fn main() {
    let tasks: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    actix_rt::System::new().block_on(async move {
        println!(
            "# taskstream benchmarks ({tasks} tasks of one user, {ROUNDS} rounds per query)\n"
        );
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        if only.is_empty() || only == "sqlite" {
            for data in DataSet::ALL {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                list_benchmark("SQLite", url.clone(), tasks, data).await;
                if std::env::var_os("BENCH_KEEP").is_some() {
                    println!("kept {url}\n");
                    std::mem::forget(dir);
                }
            }
        }
        let admin = common::admin_url();
        if only.is_empty() || only == "postgres" {
            for data in DataSet::ALL {
                let scratch_dir = tempfile::tempdir().expect("temp dir");
                match common::scratch_database("PostgreSQL", scratch_dir.path(), &admin).await {
                    Some((url, scratch)) => {
                        list_benchmark("PostgreSQL", url, tasks, data).await;
                        common::drop_scratch(scratch).await;
                    }
                    None => println!("PostgreSQL not reachable at {admin}: skipped\n"),
                }
            }
        }
        if only.is_empty() || only == "writers" {
            let dir = tempfile::tempdir().expect("temp dir");
            writers_benchmark(format!(
                "sqlite://{}",
                dir.path().join("writers.db").display()
            ))
            .await;
        }
        if only.is_empty() || only == "publish" {
            publish_benchmark().await;
        }
        if only.is_empty() || only == "replicas" {
            replicas_benchmark().await;
        }
        if only.is_empty() || only == "ws" {
            ws_benchmark().await;
        }
        if only.is_empty() || only == "reminders" {
            reminders_benchmark().await;
        }
        if only.is_empty() || only == "logins" {
            logins_benchmark().await;
        }
        if only.is_empty() || only == "webhooks" {
            webhooks::benchmark().await;
        }
    });
}

mod common;

#[path = "../support/webhooks.rs"]
#[expect(dead_code, reason = "the benchmark counts deliveries only")]
mod receiver;

mod webhooks;

#[path = "../support/server.rs"]
mod server;

#[path = "../support/tls.rs"]
#[expect(dead_code, reason = "the benchmark's receiver speaks plain HTTP")]
mod tls;

#[path = "../support/dapr.rs"]
#[expect(dead_code, reason = "the benchmark uses only part of the stand-in")]
mod dapr;

/// The service's token secret in every benchmark: the load signs its own
/// tokens with it instead of signing up (which costs a password hash).
const SECRET: &str = "bench-secret-0123456789abcdef";

/// Tokens for `n` new users, signed with [`SECRET`].
fn tokens(n: usize) -> Vec<String> {
    let keys = taskstream::auth::JwtKeys::new(SECRET.as_bytes(), 3600);
    (0..n)
        .map(|_| {
            let id = format!("bench-{}", uuid::Uuid::now_v7().simple());
            let id = taskstream::domain::user::UserId::parse(&id).expect("id");
            keys.issue(&id, 0).expect("token")
        })
        .collect()
}

fn settings(database_url: String) -> Settings {
    Settings {
        port: 0,
        database_url,
        jwt_secret: Some(SECRET.into()),
        ..Settings::default()
    }
}

async fn start(database_url: String) -> (String, awc::Client) {
    start_with(settings(database_url)).await
}

async fn start_with(settings: Settings) -> (String, awc::Client) {
    let (base, client, _) = start_stoppable(settings).await;
    (base, client)
}

/// Starts the service and returns a handle that stops it (and its dispatcher).
async fn start_stoppable(
    settings: Settings,
) -> (String, awc::Client, actix_web::dev::ServerHandle) {
    let app = Application::build(settings, slog::Logger::root(slog::Discard, slog::o!()))
        .await
        .expect("service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    actix_rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    (base, client, handle)
}

async fn signup(client: &awc::Client, base: &str) -> (String, String) {
    let mut res = client
        .post(format!("{base}/api/auth/signup"))
        .send_json(&json!({"email": format!("bench-{}@example.com", uuid::Uuid::now_v7().simple()), "password": "benchmark password"}))
        .await
        .expect("signup");
    let body: Value = res.json().await.expect("signup body");
    (
        body["user"]["id"].as_str().expect("id").to_owned(),
        body["token"].as_str().expect("token").to_owned(),
    )
}

/// The two data sets the list benchmark runs over: its own, and one made
/// independently with other distributions (a different mix of selective
/// and unselective filters).
#[derive(Debug, Clone, Copy)]
enum DataSet {
    /// Titles of three words of 12, a third with a description; 10 tags,
    /// the first three on about a quarter of tasks each; 3 of 10 with a due
    /// date; 1 of 10 completed.
    Benchmark,
    /// Titles from 8 phrases; each task 1-2 of 5 tags, "work" on 36 %;
    /// 6 of 7 with a due date spread over the year; 3 of 10 completed.
    Independent,
}

impl DataSet {
    const ALL: [Self; 2] = [Self::Benchmark, Self::Independent];

    fn label(self) -> &'static str {
        match self {
            Self::Benchmark => "benchmark data",
            Self::Independent => "independent data",
        }
    }

    fn tag_names(self) -> &'static [&'static str] {
        match self {
            Self::Benchmark => &[
                "work",
                "home",
                "errands",
                "health",
                "finance",
                "travel",
                "reading",
                "garden",
                "family",
                "urgent-ish",
            ],
            Self::Independent => &["work", "home", "errands", "health", "finance"],
        }
    }

    /// Task number `i` from the random word `r`: its fields and the indexes
    /// of its tags in [`Self::tag_names`].
    fn task(self, i: usize, r: u64) -> (TaskFields, Vec<usize>) {
        const WORDS: [&str; 12] = [
            "milk", "report", "call", "invoice", "plan", "review", "email", "book", "fix", "clean",
            "buy", "write",
        ];
        const PHRASES: [&str; 8] = [
            "Buy milk",
            "Write report",
            "Call the plumber",
            "Review pull request",
            "Plan the sprint",
            "Book flights",
            "Pay the rent",
            "Water the plants",
        ];
        let year = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time");
        let minute_of_year =
            |bits: u64| year + chrono::Duration::minutes((bits % (365 * 24 * 60)) as i64);
        let word = |shift: u32| WORDS[((r >> shift) % 12) as usize];
        let (title, description, completed, due_at, tags) = match self {
            Self::Benchmark => {
                let tags = (0..10)
                    .filter(|&k| {
                        // The first three on about a quarter of tasks each, the rest rarer.
                        (k < 3 && (r >> (44 + k)) & 0b11 == 0)
                            || (k >= 3 && (r >> (44 + k)).is_multiple_of(16))
                    })
                    .collect();
                (
                    format!("{} {} {} #{i}", word(0), word(8), word(16)),
                    r.is_multiple_of(3)
                        .then(|| format!("notes about {}", word(24))),
                    r.is_multiple_of(10),
                    (r % 10 < 3).then(|| minute_of_year(r >> 40)),
                    tags,
                )
            }
            Self::Independent => {
                // "work" on 36 %; one or two tags in all.
                let mut tags = Vec::new();
                if (r >> 8) % 100 < 36 {
                    tags.push(0);
                }
                let others = (r >> 16) % 4 + 1;
                if tags.is_empty() || (r >> 20) & 1 == 0 {
                    tags.push(others as usize);
                }
                if tags.len() == 1 && tags[0] != 0 && (r >> 21) & 1 == 0 {
                    tags.push(((others % 4) + 1) as usize);
                }
                (
                    PHRASES[(r % 8) as usize].to_owned(),
                    None,
                    (r >> 24) % 10 < 3,
                    (!(r >> 28).is_multiple_of(7)).then(|| minute_of_year(r >> 32)),
                    tags,
                )
            }
        };
        let fields = TaskFields {
            title,
            description,
            completed,
            priority: Priority::ALL[((r >> 56) % 5) as usize],
            due_at,
            recurrence: None,
            recurrence_mode: Default::default(),
            recurrence_end_date: None,
            reminder_offset_minutes: None,
            tags: Vec::new(),
        };
        (fields, tags)
    }
}

async fn list_benchmark(label: &str, url: String, count: usize, data: DataSet) {
    let (base, client) = start(url.clone()).await;
    let (user, token) = signup(&client, &base).await;
    let started = Instant::now();
    seed(&url, &user, count, data).await;
    println!(
        "## {label}, {}: list/search/filter/sort (seeded {count} tasks in {:.1} s)\n",
        data.label(),
        started.elapsed().as_secs_f64()
    );
    println!("| query | matches | p50 ms | p95 ms |\n|---|---:|---:|---:|");
    let mut medians = Vec::new();
    for (name, query) in QUERIES {
        let path = format!("{base}/api/{user}/tasks?{query}");
        let mut total = 0;
        let mut times = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS + 3 {
            let t = Instant::now();
            let mut res = client
                .get(&path)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send()
                .await
                .expect("list");
            let body: Value = res.json().limit(64 * 1024 * 1024).await.expect("list body");
            assert!(res.status().is_success(), "{query}: {body}");
            if round >= 3 {
                times.push(t.elapsed());
            }
            total = body["total"].as_i64().unwrap_or(0);
        }
        let (p50, p95) = percentiles(&mut times);
        medians.push(p50);
        println!(
            "| {name} (`{query}`) | {total} | {:.2} | {:.2} |",
            ms(p50),
            ms(p95)
        );
    }
    medians.sort();
    println!(
        "\nworst median: {:.2} ms (target < 20 ms)\n",
        ms(*medians.last().expect("queries"))
    );
    storage(&url, &base, &client, &token, count).await;
}

/// Bytes per task on disk: the task rows, their indexes and tag links (as
/// seeded), then the event log's share, from changes made through the API.
async fn storage(url: &str, base: &str, client: &awc::Client, token: &str, count: usize) {
    const CHANGES: usize = 300;
    for i in 0..CHANGES {
        let mut res = client
            .post(format!("{base}/api/v1/tasks"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send_json(
                &json!({"title": format!("Measured task {i}"), "priority": "high",
                "tags": ["work"], "due_at": "2026-06-01T09:00:00Z"}),
            )
            .await
            .expect("create");
        assert_eq!(res.status().as_u16(), 201, "{:?}", res.body().await);
    }
    let db = Db::connect(&settings(url.to_owned()))
        .await
        .expect("database");
    let mut pooled = db.get().await.expect("connection");
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    // Each table with its indexes, and the indexes of `tasks` apart.
    let sizes: Vec<Size> = match &mut pooled.conn() {
        Conn::Sqlite(c) => diesel::sql_query(
            "SELECT CASE WHEN m.type = 'index' AND m.tbl_name = 'tasks' THEN 'tasks indexes' \
             ELSE m.tbl_name END AS name, CAST(SUM(d.pgsize) AS BIGINT) AS bytes \
             FROM dbstat d JOIN sqlite_master m ON m.name = d.name GROUP BY 1 \
             UNION ALL SELECT 'event count', COUNT(*) FROM events",
        )
        .load(*c)
        .await
        .expect("dbstat"),
        Conn::Pg(c) => diesel::sql_query(
            "SELECT relname::text AS name, pg_total_relation_size(oid) AS bytes FROM pg_class \
             WHERE relname IN ('events', 'task_tags', 'tags') \
             UNION ALL SELECT 'tasks', pg_table_size('tasks') \
             UNION ALL SELECT 'tasks indexes', pg_indexes_size('tasks') \
             UNION ALL SELECT 'event count', COUNT(*) FROM events",
        )
        .load(*c)
        .await
        .expect("sizes"),
    };
    let size = |name: &str| {
        sizes
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.bytes)
            .sum::<i64>()
    };
    let events = size("event count");
    let tasks = count + CHANGES;
    let per_task = |name: &str| size(name) as f64 / tasks as f64;
    println!(
        "Storage ({tasks} tasks; {events} events from {CHANGES} creations through the API):\n"
    );
    println!("| part | bytes per task |\n|---|---:|");
    println!("| task rows | {:.0} |", per_task("tasks"));
    println!("| task indexes | {:.0} |", per_task("tasks indexes"));
    println!(
        "| tags and tag links | {:.0} |",
        per_task("task_tags") + per_task("tags")
    );
    println!(
        "| **a task, as stored** | **{:.0}** |",
        per_task("tasks") + per_task("tasks indexes") + per_task("task_tags") + per_task("tags")
    );
    println!(
        "| the event log, per change | {:.0} |\n",
        size("events") as f64 / events.max(1) as f64
    );
}

/// Writes `count` tasks of `data` straight into the database in batches.
async fn seed(url: &str, user: &str, count: usize, data: DataSet) {
    let db = Db::connect(&settings(url.to_owned()))
        .await
        .expect("database");
    let mut pooled = db.get().await.expect("connection");
    let conn = &mut pooled.conn();
    let mut tag_ids = Vec::new();
    for name in data.tag_names() {
        let row = TagRow::new(
            user,
            &TagName::parse(name).expect("tag"),
            None,
            taskstream::db::now(),
        );
        tag_ids.push(row.id.clone());
        insert_tags(conn, &[row]).await;
    }
    let mut rng: u64 = 0x5eed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time");
    let mut batch = Vec::new();
    let mut links = Vec::new();
    for i in 0..count {
        let (fields, tags) = data.task(i, next());
        let mut row = TaskRow::new(
            TaskId::generate(),
            user,
            &fields,
            None,
            taskstream::db::now(),
        );
        row.created_at = base + chrono::Duration::seconds(i as i64);
        row.updated_at = row.created_at;
        for &k in &tags {
            links.push((row.id.clone(), tag_ids[k].clone()));
        }
        row.tag_keys = taskstream::db::tasks::tag_keys(tags.iter().map(|&k| data.tag_names()[k]));
        batch.push(row);
        if batch.len() == 500 {
            insert_tasks(conn, &batch, &links).await;
            batch.clear();
            links.clear();
        }
    }
    insert_tasks(conn, &batch, &links).await;
    if let Conn::Pg(c) = conn {
        c.batch_execute("VACUUM ANALYZE").await.expect("analyze");
    }
    if let Conn::Sqlite(c) = conn {
        c.batch_execute("ANALYZE").await.expect("analyze");
    }
}

async fn insert_tags(conn: &mut Conn<'_>, rows: &[TagRow]) {
    for row in rows {
        taskstream::db::tags::insert(conn, row)
            .await
            .expect("insert tag");
    }
}

/// PostgreSQL takes a batch per statement; SQLite (through diesel-async) one
/// row per statement, inside one transaction.
async fn insert_tasks(conn: &mut Conn<'_>, rows: &[TaskRow], links: &[(String, String)]) {
    use diesel::ExpressionMethods;
    if rows.is_empty() {
        return;
    }
    let links: Vec<_> = links
        .iter()
        .map(|(t, g)| (task_tags::task_id.eq(t), task_tags::tag_id.eq(g)))
        .collect();
    match conn {
        Conn::Pg(c) => {
            diesel::insert_into(tasks::table)
                .values(rows)
                .execute(*c)
                .await
                .expect("insert tasks");
            if !links.is_empty() {
                diesel::insert_into(task_tags::table)
                    .values(&links)
                    .execute(*c)
                    .await
                    .expect("insert links");
            }
        }
        Conn::Sqlite(c) => {
            c.batch_execute("BEGIN IMMEDIATE").await.expect("begin");
            for row in rows {
                diesel::insert_into(tasks::table)
                    .values(row)
                    .execute(*c)
                    .await
                    .expect("insert task");
            }
            for link in &links {
                diesel::insert_into(task_tags::table)
                    .values(*link)
                    .execute(*c)
                    .await
                    .expect("insert link");
            }
            c.batch_execute("COMMIT").await.expect("commit");
        }
    }
}

async fn writers_benchmark(url: String) {
    const WRITERS: usize = 64;
    const EACH: usize = 50;
    let (base, client) = start(url).await;
    let (_, token) = signup(&client, &base).await;
    let started = Instant::now();
    let writers = (0..WRITERS).map(|w| {
        let client = &client;
        let base = &base;
        let token = &token;
        async move {
            let mut times = Vec::new();
            let mut failures = Vec::new();
            for i in 0..EACH {
                let t = Instant::now();
                let res = client
                    .post(format!("{base}/api/v1/tasks"))
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .send_json(&json!({"title": format!("writer {w} task {i}"), "tags": ["load"], "priority": "high"}))
                    .await;
                match res {
                    Ok(mut res) if res.status().as_u16() == 201 => {
                        let _ = res.body().await;
                        times.push(t.elapsed());
                    }
                    Ok(mut res) => failures.push(format!("{}: {:?}", res.status(), res.body().await)),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (times, failures)
        }
    });
    let results = futures_util::future::join_all(writers).await;
    let elapsed = started.elapsed();
    let mut times: Vec<Duration> = results.iter().flat_map(|(t, _)| t.clone()).collect();
    let failures: Vec<&String> = results.iter().flat_map(|(_, f)| f).collect();
    let (p50, p95) = percentiles(&mut times);
    let locked = failures.iter().filter(|f| f.contains("locked")).count();
    println!("## SQLite: {WRITERS} concurrent writers x {EACH} task creations\n");
    println!(
        "| writes | failed | \"database is locked\" | throughput | p50 ms | p95 ms |\n|---:|---:|---:|---:|---:|---:|"
    );
    println!(
        "| {} | {} | {locked} | {:.0}/s | {:.2} | {:.2} |\n",
        WRITERS * EACH,
        failures.len(),
        (WRITERS * EACH) as f64 / elapsed.as_secs_f64(),
        ms(p50),
        ms(p95)
    );
    if let Some(f) = <[&String]>::first(&failures) {
        println!("first failure: {f}");
    }
}

/// Creates `each` tasks for every token, one client per token, as fast as
/// they go; returns per-request latencies and the wall time.
async fn create_load(
    base: &str,
    client: &awc::Client,
    tokens: &[String],
    each: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let runs = tokens.iter().map(|token| async move {
        let mut times = Vec::with_capacity(each);
        for i in 0..each {
            let t = Instant::now();
            let mut res = client
                .post(format!("{base}/api/v1/tasks"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send_json(
                    &json!({"title": format!("task {i}"), "priority": "high", "tags": ["bench"]}),
                )
                .await
                .expect("create");
            assert_eq!(res.status().as_u16(), 201);
            let _ = res.body().await;
            times.push(t.elapsed());
        }
        times
    });
    let times = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    (times, started.elapsed())
}

/// Creates tasks at a fixed offered `rate` (requests per second, spread over
/// the users of `tokens`) for `seconds`: open loop, so a slow request does
/// not slow the load. Returns latencies and the achieved throughput.
async fn create_at_rate(
    base: &str,
    client: &awc::Client,
    tokens: &[String],
    rate: u32,
    seconds: u32,
) -> (Vec<Duration>, f64) {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let started = tokio::time::Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let request = client
            .post(format!("{base}/api/v1/tasks"))
            .insert_header((
                "Authorization",
                format!("Bearer {}", tokens[i % tokens.len()]),
            ))
            .send_json(
                &json!({"title": format!("task {i}"), "priority": "high", "tags": ["bench"]}),
            );
        pending.push(actix_rt::spawn(async move {
            let t = Instant::now();
            let mut res = request.await.expect("create");
            assert_eq!(res.status().as_u16(), 201);
            let _ = res.body().await;
            t.elapsed()
        }));
    }
    let mut times = Vec::with_capacity(total);
    for p in pending {
        times.push(p.await.expect("request task"));
    }
    (times, total as f64 / started.elapsed().as_secs_f64())
}

/// The ways publishing can stand: off; on, in bulk (the default) or one
/// call per event and topic (`DAPR_BULK_PUBLISH=false`); on with the
/// sidecar away.
const PUBLISH_MODES: [&str; 4] = [
    "disabled",
    "enabled, bulk",
    "enabled, one call per event",
    "enabled, sidecar down",
];

/// One run of the publishing benchmark.
#[derive(Clone)]
struct PublishRun {
    p50: f64,
    p95: f64,
    /// Creations per second.
    throughput: f64,
    /// The service's CPU seconds per 1 000 creations, until all were out
    /// (the sum of `threads`).
    cpu: f64,
    /// This process's (the clients' and the stand-in sidecar's) CPU
    /// seconds per 1 000 creations, over the same span.
    load_cpu: f64,
    /// Seconds from the load's end until the sidecar had every message.
    drained: Option<f64>,
    /// The service's CPU seconds per 1 000 creations, by thread name.
    threads: std::collections::BTreeMap<String, f64>,
}

/// What publishing costs: the release binary on a core of its own (the
/// load and the stand-in sidecar on the others, as a sidecar container has
/// CPU of its own), creating tasks in each [`PUBLISH_MODES`].
async fn publish_benchmark() {
    const CLIENTS: usize = 16;
    const EACH: usize = 600;
    const RATE: u32 = 250;
    const SECONDS: u32 = 8;
    /// Closed-loop runs per mode, interleaved; the median is reported.
    const REPEATS: usize = 5;
    let split = common::CoreSplit::new();
    let cpus = split.as_ref().map(|_| common::CoreSplit::SERVICE);
    let admin = common::admin_url();
    let header = "| backend | Dapr | p50 ms | p95 ms | throughput | service CPU per 1 000 | vs. disabled (throughput, CPU) | all published after the load | clients' and stand-in's CPU per 1 000 |\n|---|---|---:|---:|---:|---:|---|---:|---:|";
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let mut closed = Vec::new();
    let mut open = Vec::new();
    // Closed loop: each backend's median runs, for the CPU by thread.
    let mut by_thread = Vec::new();
    for backend in ["SQLite", "PostgreSQL"] {
        for open_loop in [false, true] {
            let repeats = if open_loop { 1 } else { REPEATS };
            let mut runs: HashMap<&str, Vec<PublishRun>> = HashMap::new();
            for repeat in 0..repeats {
                // Each repeat starts with another mode, so no mode always
                // follows the same one.
                for k in 0..PUBLISH_MODES.len() {
                    let mode = PUBLISH_MODES[(k + repeat) % PUBLISH_MODES.len()];
                    let sidecar = dapr::Sidecar::start().await;
                    sidecar.count_only();
                    if mode.ends_with("down") {
                        sidecar.down().await;
                    }
                    let dir = tempfile::tempdir().expect("temp dir");
                    let Some((url, scratch)) =
                        common::scratch_database(backend, dir.path(), &admin).await
                    else {
                        println!("PostgreSQL not reachable: {backend} skipped");
                        return;
                    };
                    let env = [
                        ("DATABASE_URL", url),
                        ("JWT_SECRET", SECRET.into()),
                        ("DAPR_ENABLED", (mode != "disabled").to_string()),
                        (
                            "DAPR_BULK_PUBLISH",
                            (mode != "enabled, one call per event").to_string(),
                        ),
                        ("DAPR_HTTP_ENDPOINT", sidecar.endpoint()),
                    ];
                    let (mut child, base) = common::start_binary(dir.path(), &env, cpus);
                    let tokens = tokens(CLIENTS);
                    let threads_before = common::cpu_by_thread(child.id());
                    let load_before = common::cpu_seconds(std::process::id());
                    let (mut times, throughput) = if open_loop {
                        create_at_rate(&base, &client, &tokens, RATE, SECONDS).await
                    } else {
                        let (times, wall) = create_load(&base, &client, &tokens, EACH).await;
                        (times, (CLIENTS * EACH) as f64 / wall.as_secs_f64())
                    };
                    let load_ended = Instant::now();
                    let (p50, p95) = percentiles(&mut times);
                    let drained = if mode.ends_with("bulk") || mode.ends_with("per event") {
                        let n = times.len() * 3;
                        sidecar.wait_for_count(n, Duration::from_secs(120)).await;
                        Some(load_ended.elapsed().as_secs_f64())
                    } else {
                        None
                    };
                    let per_1000 = 1000.0 / times.len() as f64;
                    let load_cpu =
                        (common::cpu_seconds(std::process::id()) - load_before) * per_1000;
                    let mut threads = common::cpu_by_thread(child.id());
                    for (name, seconds) in &mut threads {
                        *seconds -= threads_before.get(name).copied().unwrap_or(0.0);
                        *seconds *= per_1000;
                    }
                    let cpu = threads.values().sum();
                    runs.entry(mode).or_default().push(PublishRun {
                        p50: ms(p50),
                        p95: ms(p95),
                        throughput,
                        cpu,
                        load_cpu,
                        drained,
                        threads,
                    });
                    let _ = child.kill();
                    let _ = child.wait();
                    common::drop_scratch(scratch).await;
                }
            }
            // The run of median throughput stands for its mode.
            let median = |mode: &str| {
                let mut all = runs[mode].clone();
                all.sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
                all.swap_remove(all.len() / 2)
            };
            // Against the disabled run of the same repeat, the median of
            // those ratios: drift over the benchmark's minutes cancels out.
            let paired = |mode: &str, of: fn(&PublishRun) -> f64| {
                let mut ratios: Vec<f64> = runs[mode]
                    .iter()
                    .zip(&runs["disabled"])
                    .map(|(run, base)| (of(run) / of(base) - 1.0) * 100.0)
                    .collect();
                ratios.sort_by(f64::total_cmp);
                ratios[ratios.len() / 2]
            };
            for mode in PUBLISH_MODES {
                let run = median(mode);
                let versus = if mode == "disabled" {
                    "baseline".to_owned()
                } else {
                    format!(
                        "{:+.1}%, {:+.1}%",
                        paired(mode, |r| r.throughput),
                        paired(mode, |r| r.cpu)
                    )
                };
                let drained = run.drained.map_or("—".to_owned(), |d| format!("{d:.2} s"));
                let row = format!(
                    "| {backend} | {mode} | {:.2} | {:.2} | {:.0}/s | {:.2} s | {versus} | {drained} | {:.2} s |",
                    run.p50, run.p95, run.throughput, run.cpu, run.load_cpu
                );
                if open_loop { &mut open } else { &mut closed }.push(row);
                if !open_loop {
                    by_thread.push((backend, mode, run.threads));
                }
            }
        }
    }
    drop(split);
    let placement = if cpus.is_some() {
        "the service on one core, the clients and the stand-in sidecar on the other"
    } else {
        "one core: the service, the clients and the stand-in sidecar share it"
    };
    println!("## What publishing costs a request\n");
    println!(
        "Closed loop, {CLIENTS} clients x {EACH} task creations as fast as they go, {REPEATS} runs of each mode interleaved (each round of runs starting with another mode), the run of median throughput shown; \"vs. disabled\" is the median over rounds of each run against the disabled run of its round ({placement}):\n"
    );
    println!("{header}");
    for row in closed {
        println!("{row}");
    }
    print_cpu_by_thread(&by_thread);
    println!(
        "\nOpen loop, a steady {RATE} task creations per second for {SECONDS} s over {CLIENTS} users:\n"
    );
    println!("{header}");
    for row in open {
        println!("{row}");
    }
    println!();
}

/// The service's CPU per 1 000 creations by thread, one column per backend
/// and mode (the closed loop's median runs).
fn print_cpu_by_thread(runs: &[(&str, &str, std::collections::BTreeMap<String, f64>)]) {
    let mut names: Vec<&String> = runs.iter().flat_map(|(_, _, t)| t.keys()).collect();
    names.sort();
    names.dedup();
    println!("\nThe service's CPU seconds per 1 000 creations, by thread (same runs):\n");
    let columns: Vec<String> = runs.iter().map(|(b, m, _)| format!("{b}, {m}")).collect();
    println!("| thread | {} |", columns.join(" | "));
    println!("|---|{}", "---:|".repeat(runs.len()));
    for name in names {
        let cells: Vec<String> = runs
            .iter()
            .map(|(_, _, t)| format!("{:.3}", t.get(name).copied().unwrap_or(0.0)))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// Publishing capacity with 1, 2 and 3 replicas on one PostgreSQL: a
/// backlog of events (written while the sidecar was away) published through
/// a stand-in sidecar that takes 2 ms per call, as a real one does on its
/// way to the broker. Each way of publishing; events per second until the
/// last one is out.
async fn replicas_benchmark() {
    const USERS: usize = 200;
    const EACH: usize = 20;
    const LATENCY: Duration = Duration::from_millis(2);
    let admin = common::admin_url();
    println!(
        "## Publishing with several replicas
"
    );
    println!(
        "A backlog of {} events ({USERS} users x {EACH}, three messages each) published through a stand-in sidecar taking {} ms per call; all replicas in this process, on one PostgreSQL:
",
        USERS * EACH,
        LATENCY.as_millis()
    );
    println!("| publishing | replicas | all published in | events/s | messages/s |");
    println!("|---|---:|---:|---:|---:|");
    let dir = tempfile::tempdir().expect("temp dir");
    for bulk in [false, true] {
        for replicas in 1..=3 {
            let Some((url, scratch)) =
                common::scratch_database("PostgreSQL", dir.path(), &admin).await
            else {
                println!("| PostgreSQL not reachable: skipped | | | | |");
                return;
            };
            let sidecar = dapr::Sidecar::start().await;
            sidecar.down().await;
            let configure = |name: String| {
                let mut s = settings(url.clone());
                s.dapr_enabled = true;
                s.dapr_http_endpoint = Some(sidecar.endpoint());
                s.dapr_bulk_publish = bulk;
                s.outbox_sweep_interval = 0.1;
                s.outbox_retry_cap = 0.2;
                s.outbox_lease_ttl = 1.5;
                s.signup_per_address_per_hour = 100_000;
                s.instance_id = name;
                s
            };
            // The backlog, written by one replica while the sidecar is away.
            let (base, client, writer) = start_stoppable(configure("writer".into())).await;
            let tokens = tokens(USERS);
            let loads = tokens
                .chunks(20)
                .map(|tokens| create_load(&base, &client, tokens, EACH));
            futures_util::future::join_all(loads).await;
            writer.stop(true).await;

            let mut servers = Vec::new();
            for r in 0..replicas {
                servers.push(start_stoppable(configure(format!("replica-{r}"))).await.2);
            }
            // Every replica takes its share before the sidecar comes back.
            actix_rt::time::sleep(Duration::from_secs(3)).await;
            sidecar.set_latency(LATENCY);
            sidecar.up().await;
            let started = Instant::now();
            let messages = USERS * EACH * 3;
            sidecar
                .wait_for_count(messages, Duration::from_secs(600))
                .await;
            let took = started.elapsed().as_secs_f64();
            println!(
                "| {} | {replicas} | {took:.2} s | {:.0} | {:.0} |",
                if bulk { "bulk" } else { "one call per message" },
                (USERS * EACH) as f64 / took,
                messages as f64 / took
            );
            for server in servers {
                server.stop(true).await;
            }
            common::drop_scratch(scratch).await;
        }
    }
    println!();
}

/// The release binary's settings for the WebSocket and login benchmarks.
fn binary_settings(dir: &std::path::Path) -> [(&'static str, String); 2] {
    [
        ("JWT_SECRET", SECRET.into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("ws.db").display()),
        ),
    ]
}

async fn ws_benchmark() {
    use futures_util::{SinkExt, StreamExt};
    const USERS: usize = 1_000;
    const PER_USER: usize = 10;
    const CHANGES: usize = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = common::start_binary(dir.path(), &binary_settings(dir.path()), None);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let idle = common::rss_mib(child.id());
    let keys = taskstream::auth::JwtKeys::new(SECRET.as_bytes(), 600);
    let tokens: Vec<String> = (0..USERS)
        .map(|u| {
            keys.issue(
                &taskstream::domain::user::UserId::parse(&format!("ws-user-{u}")).expect("id"),
                0,
            )
            .expect("token")
        })
        .collect();
    // Receipts: (user, seq, when) from every session.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, i64, Instant)>();
    let ws_base = base.replacen("http", "ws", 1);
    let started = Instant::now();
    let connects = (0..USERS * PER_USER).map(|n| {
        let user = n % USERS;
        let url = format!("{ws_base}/api/ws/ws-user-{user}?token={}", tokens[user]);
        let tx = tx.clone();
        async move {
            let (_, mut framed) = awc::Client::new()
                .ws(url)
                .connect()
                .await
                .expect("WebSocket connects");
            actix_rt::spawn(async move {
                while let Some(Ok(frame)) = framed.next().await {
                    match frame {
                        awc::ws::Frame::Text(bytes) => {
                            let message: Value =
                                serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            if message["type"] == "event" {
                                let _ = tx.send((
                                    user,
                                    message["seq"].as_i64().unwrap_or(-1),
                                    Instant::now(),
                                ));
                            }
                        }
                        awc::ws::Frame::Ping(p) => {
                            let _ = framed.send(awc::ws::Message::Pong(p)).await;
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    futures_util::stream::iter(connects)
        .buffer_unordered(200)
        .collect::<Vec<()>>()
        .await;
    let connect_time = started.elapsed();
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let loaded = common::rss_mib(child.id());

    // Changes, one at a time, each to a different user; latency from the
    // REST response to each of that user's sessions receiving the event.
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut responded: HashMap<(usize, i64), Instant> = HashMap::new();
    let mut seq_of = vec![0i64; USERS];
    for k in 0..CHANGES {
        let user = (k * 7) % USERS;
        let mut res = client
            .post(format!("{base}/api/v1/tasks"))
            .insert_header(("Authorization", format!("Bearer {}", tokens[user])))
            .send_json(&json!({"title": format!("change {k}")}))
            .await
            .expect("create");
        assert_eq!(res.status().as_u16(), 201);
        let _ = res.body().await;
        seq_of[user] += 1;
        responded.insert((user, seq_of[user]), Instant::now());
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    drop(tx);
    let mut latencies = Vec::new();
    let mut early = 0;
    while let Ok((user, seq, at)) = rx.try_recv() {
        if let Some(sent) = responded.get(&(user, seq)) {
            match at.checked_duration_since(*sent) {
                Some(d) => latencies.push(d),
                None => {
                    early += 1;
                    latencies.push(Duration::ZERO);
                }
            }
        }
    }
    let expected = CHANGES * PER_USER;
    latencies.sort();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "## WebSocket fan-out: {} sessions over {USERS} users (one instance, release binary, SQLite)\n",
        USERS * PER_USER
    );
    println!(
        "| sessions | connected in | deliveries | p50 ms | p99 ms | max ms | RSS idle | RSS with sessions |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.1} s | {}/{expected} | {:.2} | {:.2} | {:.2} | {idle:.0} MiB | {loaded:.0} MiB |",
        USERS * PER_USER,
        connect_time.as_secs_f64(),
        latencies.len(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "\n({early} of the deliveries arrived before the REST response itself; counted as 0 ms.)\n"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// 1 000 reminders due within the same minute: how late does each fire?
async fn reminders_benchmark() {
    const COUNT: usize = 1_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, client) = start(format!(
        "sqlite://{}",
        dir.path().join("reminders.db").display()
    ))
    .await;
    let (_, token) = signup(&client, &base).await;
    let auth = ("Authorization", format!("Bearer {token}"));
    // Due within one minute, starting once all are scheduled.
    let window_start = chrono::Utc::now() + chrono::Duration::seconds(15);
    for i in 0..COUNT {
        let mut res = client
            .post(format!("{base}/api/v1/tasks"))
            .insert_header(auth.clone())
            .send_json(&json!({"title": format!("reminder {i}"), "due_at": (window_start + chrono::Duration::hours(1)).to_rfc3339()}))
            .await
            .expect("create");
        let task: Value = res.json().await.expect("task");
        let at = window_start + chrono::Duration::milliseconds((i as i64 * 60_000) / COUNT as i64);
        let res = client
            .post(format!(
                "{base}/api/v1/tasks/{}/reminder",
                task["id"].as_str().expect("id")
            ))
            .insert_header(auth.clone())
            .send_json(
                &json!({"remind_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
            )
            .await
            .expect("reminder");
        assert_eq!(res.status().as_u16(), 200);
    }
    let scheduled_by = chrono::Utc::now();
    assert!(
        scheduled_by < window_start,
        "scheduling took too long for the window"
    );
    actix_rt::time::sleep(
        (window_start + chrono::Duration::seconds(62) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
    .await;
    let mut res = client
        .get(format!("{base}/api/v1/reminders?state=sent"))
        .insert_header(auth.clone())
        .send()
        .await
        .expect("list");
    let sent: Vec<Value> = res.json().limit(16 * 1024 * 1024).await.expect("reminders");
    let mut lateness: Vec<Duration> = sent
        .iter()
        .map(|r| {
            let at =
                chrono::DateTime::parse_from_rfc3339(r["remind_at"].as_str().expect("remind_at"))
                    .expect("time");
            let fired =
                chrono::DateTime::parse_from_rfc3339(r["fired_at"].as_str().expect("fired_at"))
                    .expect("time");
            (fired - at).to_std().unwrap_or_default()
        })
        .collect();
    let (p50, p95) = percentiles(&mut lateness);
    let p99 = lateness[((lateness.len() as f64 * 0.99) as usize).min(lateness.len() - 1)];
    let within_1s = lateness
        .iter()
        .filter(|d| **d <= Duration::from_secs(1))
        .count();
    println!("## Reminders: {COUNT} due within one minute (SQLite, built-in scheduler)\n");
    println!("| fired | p50 late ms | p95 late ms | p99 late ms | max late ms | within 1 s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {}/{COUNT} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1}% |\n",
        sent.len(),
        ms(p50),
        ms(p95),
        ms(p99),
        ms(*lateness.last().unwrap_or(&Duration::ZERO)),
        within_1s as f64 * 100.0 / COUNT as f64
    );
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    if times.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.5), at(0.95))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Logins under load against the release binary: 1 000 logins of one
/// account, 64 at a time; resident memory at its peak and once idle again,
/// throughput and latency. Every login hashes a password (argon2id, 19 MiB).
async fn logins_benchmark() {
    use futures_util::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const LOGINS: usize = 1_000;
    const CONCURRENCY: usize = 64;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = common::start_binary(dir.path(), &binary_settings(dir.path()), None);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let idle = common::rss_mib(child.id());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let email = "logins-bench@example.com";
    let password = "benchmark password";
    client
        .post(format!("{base}/api/auth/signup"))
        .send_json(&json!({"email": email, "password": password}))
        .await
        .expect("signup");
    // Sample the resident set every 10 ms while the logins run.
    let pid = child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        std::thread::spawn(move || {
            while AtomicBool::load(&running, Ordering::Relaxed) {
                let kib = (common::rss_mib(pid) * 1024.0) as u64;
                peak.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = futures_util::stream::iter(0..LOGINS)
        .map(|_| {
            let client = &client;
            let base = &base;
            async move {
                let t = Instant::now();
                let status = client
                    .post(format!("{base}/api/auth/login"))
                    .send_json(&json!({"email": email, "password": password}))
                    .await
                    .map_or(0, |r| r.status().as_u16());
                (status, t.elapsed())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let settled = common::rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let busy = results.iter().filter(|(s, _)| *s == 503).count();
    let mut times: Vec<Duration> = results.iter().map(|(_, t)| *t).collect();
    times.sort();
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    println!("### Logins: {LOGINS} logins, {CONCURRENCY} at a time (release binary, SQLite)\n");
    println!(
        "| ok | 503 busy | other | throughput | p50 ms | p99 ms | RSS idle | RSS peak | RSS 2 s after |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {ok} | {busy} | {} | {:.0}/s | {:.0} | {:.0} | {idle:.0} MiB | {:.0} MiB | {settled:.0} MiB |\n",
        LOGINS - ok - busy,
        ok as f64 / elapsed.as_secs_f64(),
        ms(times[times.len() / 2]),
        ms(p99),
        AtomicU64::load(&peak, Ordering::Relaxed) as f64 / 1024.0,
    );
}
