//! Publishing shards across replicas on one PostgreSQL: every replica
//! publishes (each holds a fair share of the shards), each event goes out
//! once and in per-user order, and a replica killed under load has its
//! shards taken over without losing or reordering anything.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, TestUser, dapr_on, start, start_on};
use crate::support::dapr::{Received, Sidecar};

const WAIT: Duration = Duration::from_secs(60);
/// Short leases, so takeovers and rebalancing happen within a test.
const LEASE_TTL: f64 = 1.5;

/// Each user's `task-events` sequence numbers, in arrival order.
fn by_user(messages: &[Received]) -> HashMap<String, Vec<i64>> {
    let mut users: HashMap<String, Vec<i64>> = HashMap::new();
    for m in messages.iter().filter(|m| m.topic == "task-events") {
        let seq = m.body["sequence"].as_str().unwrap().parse().unwrap();
        users
            .entry(m.body["userid"].as_str().unwrap().to_owned())
            .or_default()
            .push(seq);
    }
    users
}

/// The shards a replica holds, from its metrics.
async fn shards_of(base: &str) -> i64 {
    let mut res = awc::Client::default()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("taskstream_publisher_shards "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Waits until the shards the replicas hold (in their order) are `what`
/// `settled` says; panics, naming `what`, after `WAIT`.
async fn shards_settle(bases: &[&str], what: &str, settled: impl Fn(&[i64]) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut held = Vec::new();
        for base in bases {
            held.push(shards_of(base).await);
        }
        if settled(&held) {
            return;
        }
        assert!(Instant::now() < deadline, "not {what}: {held:?}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the replicas hold these many shards each (in any order).
async fn balanced(bases: &[&str], shares: &[i64]) {
    let mut want = shares.to_vec();
    want.sort_unstable();
    shards_settle(bases, &format!("{want:?}"), |held| {
        let mut held = held.to_vec();
        held.sort_unstable();
        held == want
    })
    .await;
}

fn short_leases(s: &mut taskstream::settings::Settings) {
    s.outbox_lease_ttl = LEASE_TTL;
}

#[actix_web::test]
async fn three_replicas_share_the_shards_and_publish_each_event_once_in_order() {
    let sidecar = Sidecar::start().await;
    let (db, url) = TestDb::create(Backend::Postgres).await;
    let mut db = Some(db);
    let mut replicas: Vec<TestApp> = Vec::new();
    for name in ["replica-a", "replica-b", "replica-c"] {
        let dapr = dapr_on(&sidecar);
        let configure = move |s: &mut taskstream::settings::Settings| {
            dapr(s);
            short_leases(s);
            s.instance_id = name.into();
        };
        // The first owns the database (dropped with it).
        replicas.push(match db.take() {
            Some(db) => start(db, url.clone(), configure).await,
            None => start_on(url.clone(), configure).await,
        });
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.address.clone()).collect();
    // 64 shards over three replicas: 22, 21 and 21, or 22, 22 and 20.
    let refs: Vec<&str> = bases.iter().map(String::as_str).collect();
    shards_settle(&refs, "balanced", |held| {
        held.iter().sum::<i64>() == 64 && held.iter().all(|h| (20..=22).contains(h))
    })
    .await;

    let mut users: Vec<TestUser> = Vec::new();
    for _ in 0..24 {
        users.push(replicas[0].signup().await);
    }
    // Each user's changes land on every replica in turn.
    let writes = users.iter().enumerate().map(|(u, user)| {
        let replicas = &replicas;
        async move {
            for i in 0..6 {
                replicas[(u + i) % 3]
                    .create_task(user, json!({"title": format!("task {i}")}))
                    .await;
            }
        }
    });
    futures_util::future::join_all(writes).await;

    sidecar.wait_for_count(24 * 6 * 3, WAIT).await;
    let delivered = sidecar.delivered();
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let seqs = by_user(&sidecar.delivered());
    assert_eq!(seqs.len(), 24);
    for (user, seqs) in &seqs {
        assert_eq!(
            seqs,
            &(1..=6).collect::<Vec<_>>(),
            "{user}: once each, in order"
        );
    }
    assert!(!delivered.is_empty());

    // Every replica published some of them.
    for replica in &replicas {
        let text = replica
            .call(actix_web::http::Method::GET, "/metrics", None, None)
            .await
            .body
            .as_str()
            .unwrap()
            .to_owned();
        let published: f64 = text
            .lines()
            .filter_map(|l| {
                l.strip_prefix("taskstream_events_published_total{topic=\"task-events\"} ")
            })
            .map(|v| v.trim().parse::<f64>().unwrap())
            .sum();
        assert!(published > 0.0, "{} published nothing", replica.address);
    }

    // A replica that stops gracefully hands its shards over at once.
    let mut leaving = replicas.pop().unwrap();
    leaving.stop().await;
    balanced(&[&bases[0], &bases[1]], &[32, 32]).await;
}

/// A replica as a process of its own, so that it can be killed.
struct Process {
    child: std::process::Child,
    base: String,
}

fn replica_process(dir: &std::path::Path, url: &str, sidecar: &Sidecar, name: &str) -> Process {
    let endpoint = sidecar.endpoint();
    let ttl = LEASE_TTL.to_string();
    let (child, base) = crate::process::start_in(
        dir,
        &[
            ("DATABASE_URL", url),
            ("JWT_SECRET", "shards-test-secret-0123456789abcdef"),
            ("DAPR_ENABLED", "true"),
            ("DAPR_HTTP_ENDPOINT", &endpoint),
            ("DAPR_PUBLISH_TIMEOUT", "0.5"),
            ("OUTBOX_SWEEP_INTERVAL", "0.1"),
            ("OUTBOX_RETRY_CAP", "0.3"),
            ("OUTBOX_LEASE_TTL", &ttl),
            ("INSTANCE_ID", name),
        ],
    );
    Process { child, base }
}

async fn signup(base: &str, n: usize) -> TestUser {
    let mut res = awc::Client::default()
        .post(format!("{base}/api/auth/signup"))
        .send_json(&json!({"email": format!("shard-{n}@example.com"), "password": "correct horse battery"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    TestUser {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        token: body["token"].as_str().unwrap().to_owned(),
    }
}

async fn create(base: &str, user: &TestUser, title: &str) -> bool {
    awc::Client::default()
        .post(format!("{base}/api/v1/tasks"))
        .bearer_auth(&user.token)
        .send_json(&json!({"title": title}))
        .await
        .is_ok_and(|res| res.status() == 201)
}

#[actix_web::test]
async fn a_replica_killed_under_load_has_its_shards_taken_over_losing_nothing() {
    let sidecar = Sidecar::start().await;
    let (_db, url) = TestDb::create(Backend::Postgres).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut processes: Vec<Process> = (0..3)
        .map(|i| replica_process(dirs[i].path(), &url, &sidecar, &format!("process-{i}")))
        .collect();
    let bases: Vec<String> = processes.iter().map(|p| p.base.clone()).collect();
    let refs: Vec<&str> = bases.iter().map(String::as_str).collect();
    shards_settle(&refs, "held by every replica", |held| {
        held.iter().sum::<i64>() == 64 && held.iter().all(|h| *h > 0)
    })
    .await;
    let mut users = Vec::new();
    for n in 0..12 {
        users.push(signup(&bases[0], n).await);
    }

    // Load: each user writes in turn through every replica; the third is
    // killed (SIGKILL) part way, after which writes go to the other two.
    let killed = std::cell::Cell::new(false);
    let answered: HashMap<String, i64> = {
        let load = users.iter().enumerate().map(|(u, user)| {
            let (bases, killed) = (&bases, &killed);
            async move {
                let mut made = 0;
                for i in 0..20 {
                    let alive = if killed.get() { 2 } else { 3 };
                    if create(&bases[(u + i) % alive], user, &format!("load {i}")).await {
                        made += 1;
                    }
                    actix_rt::time::sleep(Duration::from_millis(20)).await;
                }
                (user.id.clone(), made)
            }
        });
        let kill = async {
            actix_rt::time::sleep(Duration::from_millis(150)).await;
            processes[2].child.kill().unwrap();
            let _ = processes[2].child.wait();
            killed.set(true);
        };
        let (written, ()) = futures_util::join!(futures_util::future::join_all(load), kill);
        written.into_iter().collect()
    };
    assert!(killed.get());
    // What was written, from the database: a create the killed replica
    // committed may not have been answered.
    let mut written: HashMap<String, i64> = HashMap::new();
    for user in &users {
        let mut res = awc::Client::default()
            .get(format!("{}/api/v1/tasks?limit=1", bases[0]))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        let page: Value = res.json().await.unwrap();
        written.insert(user.id.clone(), page["total"].as_i64().unwrap());
    }
    assert!(
        answered.iter().all(|(user, n)| written[user] >= *n),
        "every answered create is in the database"
    );

    let total: i64 = written.values().sum();
    sidecar
        .wait_until(WAIT, "every event written", |d| {
            let seqs = by_user(d);
            written.iter().all(|(user, n)| {
                seqs.get(user)
                    .is_some_and(|s| s.iter().collect::<HashSet<_>>().len() as i64 == *n)
            })
        })
        .await;
    assert!(total > 12 * 15, "the load ran: {total} tasks");
    for (user, seqs) in by_user(&sidecar.delivered()) {
        let mut seen = HashSet::new();
        let first: Vec<i64> = seqs.into_iter().filter(|s| seen.insert(*s)).collect();
        assert_eq!(
            first,
            (1..=written[&user]).collect::<Vec<_>>(),
            "{user}: none lost, in order"
        );
    }
    // The survivors split the shards once the dead replica's leases lapse.
    balanced(&[bases[0].as_str(), bases[1].as_str()], &[32, 32]).await;
    for process in &mut processes[..2] {
        let _ = process.child.kill();
        let _ = process.child.wait();
    }
}
