//! Webhooks: how fast deliveries go out to a local receiver, and what ten
//! subscribed endpoints cost the API (`BENCH_ONLY=webhooks`). The release
//! binary runs on a core of its own; the load and the receiver (which
//! verifies every signature) on the other.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{SECRET, common, create_load, ms, percentiles, print_cpu_by_thread, receiver, tokens};

/// Closed-loop runs per mode, interleaved in pairs; the run of median
/// throughput is shown, the cost is the mean over the pairs.
const REPEATS: usize = 10;
const CLIENTS: usize = 16;
const EACH: usize = 600;
/// Endpoints subscribed in the API-cost runs (one each for as many users).
const ENDPOINTS: usize = 10;

pub async fn benchmark() {
    let split = common::CoreSplit::new();
    let cpus = split.as_ref().map(|_| common::CoreSplit::SERVICE);
    let admin = common::admin_url();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    println!("## Webhooks\n");
    println!(
        "Deliveries to a local receiver: a backlog written while the endpoints were paused, delivered once they are enabled (each endpoint's events one after another, endpoints side by side):\n"
    );
    println!("| backend | endpoints | events each | all delivered in | deliveries/s |");
    println!("|---|---:|---:|---:|---:|");
    for backend in ["SQLite", "PostgreSQL"] {
        for (endpoints, each) in [(1, 2_000), (ENDPOINTS, 500)] {
            let dir = tempfile::tempdir().expect("temp dir");
            let Some((url, scratch)) = common::scratch_database(backend, dir.path(), &admin).await
            else {
                println!("PostgreSQL not reachable: {backend} skipped");
                return;
            };
            let (mut child, base) = common::start_binary(dir.path(), &env(url), cpus);
            let users = tokens(endpoints);
            let receiver = receiver::Receiver::start().await;
            receiver.count_only();
            let mut ids = Vec::new();
            for token in &users {
                ids.push(subscribe(&client, &base, token, &receiver, false).await);
            }
            create_load(&base, &client, &users, each).await;
            let started = Instant::now();
            for (token, id) in users.iter().zip(&ids) {
                call(
                    &client,
                    "PATCH",
                    &base,
                    &format!("/api/v1/webhooks/{id}"),
                    token,
                    json!({"enabled": true}),
                )
                .await;
            }
            let total = endpoints * each;
            let all = receiver
                .wait_for_count(total, Duration::from_secs(300))
                .await;
            let took = started.elapsed().as_secs_f64();
            assert!(
                all,
                "only {} of {total} delivered",
                receiver.accepted_count()
            );
            println!(
                "| {backend} | {endpoints} | {each} | {took:.2} s | {:.0} |",
                total as f64 / took
            );
            let _ = child.kill();
            let _ = child.wait();
            common::drop_scratch(scratch).await;
        }
    }

    println!(
        "\nWhat {ENDPOINTS} subscribed endpoints cost the API: closed loop, {CLIENTS} clients x {EACH} task creations as fast as they go; with endpoints, {ENDPOINTS} of the {CLIENTS} users have one each taking every event; {REPEATS} runs of each mode interleaved, the run of median throughput shown; \"vs. none\" is the mean over rounds of each run against the run without endpoints of its round (throughput, with the median and the range over rounds; CPU per creation):\n"
    );
    println!(
        "| backend | endpoints | p50 ms | p95 ms | throughput | service CPU per 1 000 | vs. none (throughput, CPU) | delivered during the load / all after it |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|");
    let mut by_thread = Vec::new();
    let mut machines = Vec::new();
    for backend in ["SQLite", "PostgreSQL"] {
        let mut runs: HashMap<usize, Vec<Run>> = HashMap::new();
        for repeat in 0..REPEATS {
            let modes = if repeat % 2 == 0 {
                [0, ENDPOINTS]
            } else {
                [ENDPOINTS, 0]
            };
            for endpoints in modes {
                let dir = tempfile::tempdir().expect("temp dir");
                let Some((url, scratch)) =
                    common::scratch_database(backend, dir.path(), &admin).await
                else {
                    return;
                };
                let (mut child, base) = common::start_binary(dir.path(), &env(url), cpus);
                let users = tokens(CLIENTS);
                let receiver = receiver::Receiver::start().await;
                receiver.count_only();
                for token in users.iter().take(endpoints) {
                    subscribe(&client, &base, token, &receiver, true).await;
                }
                let threads_before = common::cpu_by_thread(child.id());
                let machine_before = Machine::now();
                let (mut times, wall) = create_load(&base, &client, &users, EACH).await;
                let load_ended = Instant::now();
                let during = receiver.accepted_count();
                let delivered = (endpoints > 0).then(|| {
                    let expected = endpoints * EACH;
                    (
                        expected,
                        receiver.wait_for_count(expected, Duration::from_secs(300)),
                    )
                });
                let drained = match delivered {
                    Some((expected, wait)) => {
                        assert!(
                            wait.await,
                            "only {} of {expected} delivered",
                            receiver.accepted_count()
                        );
                        Some((
                            during as f64 / expected as f64,
                            load_ended.elapsed().as_secs_f64(),
                        ))
                    }
                    None => None,
                };
                let per_1000 = 1000.0 / times.len() as f64;
                // Taken once the deliveries are all made, as the service's.
                let machine = Machine::now();
                let mut threads = common::cpu_by_thread(child.id());
                for (name, seconds) in &mut threads {
                    *seconds -= threads_before.get(name).copied().unwrap_or(0.0);
                    *seconds *= per_1000;
                }
                let cpu = threads.values().sum();
                let machine = machine.since(&machine_before, cpu, per_1000);
                let (p50, p95) = percentiles(&mut times);
                runs.entry(endpoints).or_default().push(Run {
                    p50: ms(p50),
                    p95: ms(p95),
                    throughput: (CLIENTS * EACH) as f64 / wall.as_secs_f64(),
                    cpu,
                    drained,
                    threads,
                    machine,
                });
                let _ = child.kill();
                let _ = child.wait();
                common::drop_scratch(scratch).await;
            }
        }
        for endpoints in [0, ENDPOINTS] {
            let mut all = runs[&endpoints].clone();
            all.sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
            let run = all.swap_remove(all.len() / 2);
            let versus = if endpoints == 0 {
                "baseline".to_owned()
            } else {
                // Single rounds move by several points on this machine: the
                // mean over rounds, their median (a round the host disturbed
                // moves it less), and the range.
                let ratios = |of: fn(&Run) -> f64| -> (f64, f64, f64, f64) {
                    let mut each: Vec<f64> = runs[&endpoints]
                        .iter()
                        .zip(&runs[&0])
                        .map(|(run, base)| (of(run) / of(base) - 1.0) * 100.0)
                        .collect();
                    each.sort_by(f64::total_cmp);
                    let mean = each.iter().sum::<f64>() / each.len() as f64;
                    let median = (each[(each.len() - 1) / 2] + each[each.len() / 2]) / 2.0;
                    (mean, median, each[0], each[each.len() - 1])
                };
                let (mean, median, low, high) = ratios(|r| r.throughput);
                let (cpu, ..) = ratios(|r| r.cpu);
                format!("{mean:+.1}% (median {median:+.1}; {low:+.1} to {high:+.1}), {cpu:+.1}%")
            };
            let drained = run.drained.map_or("—".to_owned(), |(during, after)| {
                format!("{:.0} % / {after:.2} s", during * 100.0)
            });
            println!(
                "| {backend} | {endpoints} | {:.2} | {:.2} | {:.0}/s | {:.2} s | {versus} | {drained} |",
                run.p50, run.p95, run.throughput, run.cpu
            );
            let mode = if endpoints == 0 {
                "no endpoints"
            } else {
                "endpoints"
            };
            by_thread.push((backend, mode, run.threads));
            machines.push((backend, mode, Machine::mean(&runs[&endpoints])));
        }
    }
    drop(split);
    print_cpu_by_thread(&by_thread);
    Machine::print(&machines);
    println!();
}

/// One closed-loop run.
#[derive(Clone)]
struct Run {
    p50: f64,
    p95: f64,
    throughput: f64,
    cpu: f64,
    /// Of the deliveries, the share made during the load, and the seconds
    /// after it until the last.
    drained: Option<(f64, f64)>,
    /// The service's CPU seconds per 1 000 creations, by thread name.
    threads: std::collections::BTreeMap<String, f64>,
    machine: Machine,
}

/// Where the machine's CPU went during a run (seconds; per 1 000 creations
/// once taken `since` an earlier reading): with both cores shared, a
/// creation's throughput follows what all of it costs, not only the
/// service's part.
#[derive(Clone, Copy, Default)]
struct Machine {
    /// The service (every thread).
    service: f64,
    /// The PostgreSQL server's processes.
    database: f64,
    /// This process's receiver (its HTTP server's threads).
    receiver: f64,
    /// This process's other threads: the load.
    load: f64,
    /// Everything busy on the machine.
    busy: f64,
}

impl Machine {
    fn now() -> Self {
        let mut machine = Self {
            database: common::cpu_of_processes("postgres"),
            busy: common::machine_busy_seconds(),
            ..Self::default()
        };
        // The receiver's HTTP server runs on threads of its own (its worker's
        // named as actix names a runtime's); the load on the main thread.
        for (name, seconds) in common::cpu_by_thread(std::process::id()) {
            if name.starts_with("actix-server") || name.starts_with("actix-rt") {
                machine.receiver += seconds;
            } else {
                machine.load += seconds;
            }
        }
        machine
    }

    /// What was used since `before`, per 1 000 creations (`per_1000` scales
    /// the run's seconds); the service's share is measured apart.
    fn since(self, before: &Self, service: f64, per_1000: f64) -> Self {
        Self {
            service,
            // A server process that exits takes its time along: never below 0.
            database: ((self.database - before.database) * per_1000).max(0.0),
            receiver: (self.receiver - before.receiver) * per_1000,
            load: (self.load - before.load) * per_1000,
            busy: (self.busy - before.busy) * per_1000,
        }
    }

    fn mean(runs: &[Run]) -> Self {
        let n = runs.len().max(1) as f64;
        let sum = |of: fn(&Self) -> f64| runs.iter().map(|r| of(&r.machine)).sum::<f64>() / n;
        Self {
            service: sum(|m| m.service),
            database: sum(|m| m.database),
            receiver: sum(|m| m.receiver),
            load: sum(|m| m.load),
            busy: sum(|m| m.busy),
        }
    }

    fn print(of: &[(&str, &str, Self)]) {
        println!(
            "\nThe machine's CPU seconds per 1 000 creations, by process (mean over the runs of each mode; the rest is what else the machine did):\n"
        );
        let columns: Vec<String> = of.iter().map(|(b, m, _)| format!("{b}, {m}")).collect();
        println!("| process | {} |", columns.join(" | "));
        println!("|---|{}", "---:|".repeat(of.len()));
        type Row = (&'static str, fn(&Machine) -> f64);
        let rows: [Row; 6] = [
            ("service", |m| m.service),
            ("database server", |m| m.database),
            ("load", |m| m.load),
            ("receiver", |m| m.receiver),
            ("rest", |m| {
                m.busy - m.service - m.database - m.load - m.receiver
            }),
            ("machine", |m| m.busy),
        ];
        for (name, value) in rows {
            let cells: Vec<String> = of
                .iter()
                .map(|(_, _, m)| format!("{:.3}", value(m)))
                .collect();
            println!("| {name} | {} |", cells.join(" | "));
        }
    }
}

fn env(url: String) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url),
        ("JWT_SECRET", SECRET.into()),
        ("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1".into()),
    ]
}

/// Subscribes the token's user to `receiver` (every event); the endpoint's
/// id.
async fn subscribe(
    client: &awc::Client,
    base: &str,
    token: &str,
    receiver: &receiver::Receiver,
    enabled: bool,
) -> String {
    let created = call(
        client,
        "POST",
        base,
        "/api/v1/webhooks",
        token,
        json!({"url": receiver.url(), "enabled": enabled}),
    )
    .await;
    assert!(created["secret"].is_string());
    created["id"].as_str().expect("id").to_owned()
}

async fn call(
    client: &awc::Client,
    method: &str,
    base: &str,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut res = client
        .request(method, format!("{base}{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&body)
        .await
        .expect("request");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.expect("JSON")
}
