//! What the benchmarks share: scratch databases, the release binary as a
//! process of its own, and what the kernel says about that process.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::Value;

/// The administrative PostgreSQL URL (`BENCH_DATABASE_URL`).
pub fn admin_url() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one run: a file in `dir` for SQLite, a fresh
/// database for PostgreSQL (`None` if PostgreSQL is not reachable). The
/// second half is what [`drop_scratch`] needs to remove it again.
pub async fn scratch_database(
    backend: &str,
    dir: &std::path::Path,
    admin: &str,
) -> Option<(String, Option<(AsyncPgConnection, String)>)> {
    if backend == "SQLite" {
        return Some((format!("sqlite://{}", dir.join("bench.db").display()), None));
    }
    let mut conn = AsyncPgConnection::establish(admin).await.ok()?;
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("bench_{}_{run}", std::process::id());
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop database");
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').expect("url has a path").0
    );
    Some((url, Some((conn, name))))
}

/// Removes a PostgreSQL scratch database (a SQLite file goes with its directory).
pub async fn drop_scratch(scratch: Option<(AsyncPgConnection, String)>) {
    if let Some((mut conn, name)) = scratch {
        let _ = conn
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await;
    }
}

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Clock ticks per second as Linux reports CPU time in /proc (USER_HZ, 100
/// on every architecture it runs on).
const TICKS: f64 = 100.0;

/// CPU time a process has used so far (user + system), in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_cpu(&format!("/proc/{pid}/stat")).map_or(0.0, |(_, seconds)| seconds)
}

/// CPU time each of a process's threads has used so far, summed by thread
/// name, in seconds; what threads that have exited used is under
/// `"(exited)"`.
pub fn cpu_by_thread(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        if let Some((name, seconds)) = stat_cpu(&task.path().join("stat").to_string_lossy()) {
            *by_name.entry(name).or_insert(0.0) += seconds;
        }
    }
    let live: f64 = by_name.values().sum();
    by_name.insert("(exited)".into(), (cpu_seconds(pid) - live).max(0.0));
    by_name
}

/// The command name and the CPU time (user + system, seconds) of a
/// `/proc/…/stat` file.
fn stat_cpu(path: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces; the fields that follow it are fixed.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(').map_or("", |(_, name)| name).to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    Some((name, (ticks(11)? + ticks(12)?) / TICKS))
}

/// CPU time used so far by every process whose command name is `name`
/// (e.g. `postgres`: the server and each of its connections), in seconds.
pub fn cpu_of_processes(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| stat_cpu(&e.path().join("stat").to_string_lossy()))
        .filter(|(command, _)| command == name)
        .map(|(_, seconds)| seconds)
        .sum()
}

/// CPU time the whole machine has spent busy so far (everything but idle
/// and I/O wait, over all cores), in seconds.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let busy: f64 = cpu
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / TICKS
}

/// Starts the release binary in `dir` with these settings (besides
/// `PORT=0` and info logging), on the cores `cpus` names (a `taskset` list)
/// if given; returns it and its base URL once it listens. `BENCH_BINARY`
/// runs another build (e.g. of an earlier commit) instead.
pub fn start_binary(
    dir: &std::path::Path,
    env: &[(&str, String)],
    cpus: Option<&str>,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let binary =
        std::env::var("BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_taskstream").into());
    let mut command = match cpus {
        // taskset execs the binary: the child's pid is the service's.
        Some(cpus) => {
            let mut command = std::process::Command::new("taskset");
            command.args(["--cpu-list", cpus]).arg(binary);
            command
        }
        None => std::process::Command::new(binary),
    };
    let mut child = command
        .current_dir(dir)
        .env("PORT", "0")
        .env("LOG_LEVEL", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("the binary logs").expect("a line");
        let json: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if json["msg"] == "listening" {
            break json["address"].as_str().expect("address").to_owned();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// The machine split in two for a measurement: the service on the first
/// core, this process (the load and the stand-in sidecar) on the others —
/// as in a pod, where the service container and the sidecar each have CPU
/// of their own. Dropping it gives this process back every core it had.
pub struct CoreSplit {
    restore: String,
}

impl CoreSplit {
    /// The cores the service runs on (a `taskset` list).
    pub const SERVICE: &str = "0";

    /// Moves every thread of this process (and so every thread it starts
    /// later) off the service's core; `None` on a single-core machine or
    /// without `taskset`.
    pub fn new() -> Option<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores < 2 {
            return None;
        }
        let pid = std::process::id().to_string();
        let current = taskset(&["--cpu-list", "--pid", &pid])?;
        // "pid 123's current affinity list: 0,1"
        let restore = current.rsplit_once(": ")?.1.trim().to_owned();
        taskset(&[
            "--all-tasks",
            "--cpu-list",
            "--pid",
            &format!("1-{}", cores - 1),
            &pid,
        ])?;
        Some(Self { restore })
    }
}

impl Drop for CoreSplit {
    fn drop(&mut self) {
        let pid = std::process::id().to_string();
        taskset(&["--all-tasks", "--cpu-list", "--pid", &self.restore, &pid]);
    }
}

/// Runs `taskset` with these arguments; its output, if it succeeded.
fn taskset(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("taskset")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
