//! The binary itself: starts with nothing configured, refuses an unsafe
//! production configuration, and shuts down cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_taskstream");

/// Starts the binary in `dir` with only the given environment and waits for
/// its "listening" log line; returns the child and its base URL.
pub(crate) fn start_in(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PORT", "0")
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Forwarded so a failing test shows the service's own log.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("[taskstream] {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if json["msg"] == "listening" {
            return (child, json["address"].as_str().expect("address").to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the binary did not report that it was listening");
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn starts_with_nothing_configured_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = start_in(dir.path(), &[]);
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(
        dir.path().join("taskstream.db").exists(),
        "SQLite file created in the working directory"
    );
    let client = awc::Client::default();
    let res = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // A request in flight when SIGTERM arrives still completes. It is in
    // flight for sure: the service has read its head and asked for the body
    // (`Expect: 100-continue`), which is sent only after the signal.
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let body = r#"{"email": "term@example.com", "password": "long enough"}"#;
    let address = base.trim_start_matches("http://");
    let mut stream =
        tokio::io::BufReader::new(actix_rt::net::TcpStream::connect(address).await.unwrap());
    let head = format!(
        "POST /api/auth/signup HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert!(
        line.starts_with("HTTP/1.1 100"),
        "asked for the body: {line:?}"
    );
    sigterm(&child);
    actix_rt::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer
        .lines()
        .find(|l| l.starts_with("HTTP/1.1 ") && !l.starts_with("HTTP/1.1 100"));
    assert_eq!(
        status.map(|l| &l[9..12]),
        Some("201"),
        "the in-flight request is answered: {answer}"
    );
    let status = wait_exit(&mut child);
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status:?}"
    );
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("TASKSTREAM_ENV", "production")
        .env("PORT", "0")
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET"), "stderr: {stderr}");
    assert!(
        !dir.path().join("taskstream.db").exists(),
        "nothing was created"
    );
}

#[test]
fn production_with_dapr_refuses_to_start_without_an_app_token() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env_clear()
            .env("TASKSTREAM_ENV", "production")
            .env("JWT_SECRET", "a-secret-of-sufficient-length")
            .env("DAPR_ENABLED", "true")
            .env("PORT", "0");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().expect("binary runs")
    };
    let out = run(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("APP_API_TOKEN"), "stderr: {stderr}");
    assert!(
        stderr.contains("dapr.io/app-token-secret"),
        "says where the token comes from: {stderr}"
    );
    assert!(
        !dir.path().join("taskstream.db").exists(),
        "nothing was created"
    );
}

#[test]
fn config_files_and_environment_are_read_from_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/default.toml"),
        "database_url = \"sqlite://from-config.db\"\n",
    )
    .unwrap();
    let (child, _) = start_in(
        dir.path(),
        &[("JWT_SECRET", "a-secret-of-sufficient-length")],
    );
    assert!(dir.path().join("from-config.db").exists());
    sigterm(&child);
    let mut child = child;
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    let (mut child, _) = start_in(dir.path(), &[("DATABASE_URL", "sqlite://from-env.db")]);
    assert!(
        dir.path().join("from-env.db").exists(),
        "environment overrides the file"
    );
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

/// The scheduling policy (field 41 of `/proc/<pid>/task/<tid>/stat`) of
/// the process's thread named `name`, if it has one.
fn thread_policy(pid: u32, name: &str) -> Option<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim_end() != name {
            return None;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // After the name in parentheses come fields 3 (state) onwards.
        let (_, fields) = stat.rsplit_once(')')?;
        fields.split_whitespace().nth(41 - 3)?.parse().ok()
    })
}

#[test]
fn webhook_deliveries_run_on_a_thread_of_their_own_that_yields_to_requests() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;
    for (priority, expected) in [(None, SCHED_IDLE), (Some("normal"), SCHED_OTHER)] {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = priority
            .map(|p| ("WEBHOOK_PRIORITY", p))
            .into_iter()
            .collect();
        let (mut child, _) = start_in(dir.path(), &env);
        // The thread sets its policy as it starts: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut policy = thread_policy(child.id(), "taskstream-hook");
        while policy != Some(expected) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            policy = thread_policy(child.id(), "taskstream-hook");
        }
        // The rest of the service (here its main thread) keeps the normal one.
        let main = thread_policy(child.id(), "taskstream");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(policy, Some(expected), "WEBHOOK_PRIORITY={priority:?}");
        assert_eq!(main, Some(SCHED_OTHER));
    }
}
