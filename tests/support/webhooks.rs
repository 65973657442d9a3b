//! A webhook receiver: an HTTP server on a free loopback port that records
//! every delivery, verifies its Standard Webhooks signature with an
//! implementation of its own (HMAC-SHA256 over `{id}.{timestamp}.{body}`
//! with the base64-decoded `whsec_` key, compared with each `v1,` signature
//! of the header), and answers as told: accept, fail with a status, hang,
//! redirect, or refuse connections altogether. It speaks plain HTTP, or
//! HTTPS with a certificate of the tests' CA (`support::tls`).

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use tokio::sync::Notify;

use super::server::Restartable;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 204.
    Accept,
    /// This status, with a short body.
    Fail(u16),
    /// Fails with 500 this many more times, then accepts.
    FailTimes(u32),
    /// Never answers.
    Hang,
    /// 204, after this long (listed as accepted when it arrives).
    Slow(Duration),
    /// 302 to this URL.
    Redirect(String),
}

/// One delivery received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub signature: String,
    pub content_type: String,
    pub body: Value,
    /// Answered with a 2xx.
    pub accepted: bool,
    /// Which of the receiver's secrets verify it (indices into the list
    /// given to [`Receiver::verify_with`]).
    pub verified_by: Vec<usize>,
}

impl Delivery {
    /// The CloudEvent `type`.
    pub fn event_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }

    /// The CloudEvent `sequence` extension, as a number.
    pub fn sequence(&self) -> i64 {
        self.body["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1)
    }
}

#[derive(Default)]
struct Shared {
    answer: Mutex<Option<Answer>>,
    secrets: Mutex<Vec<String>>,
    received: Mutex<Vec<Delivery>>,
    arrived: Notify,
    /// Deliveries answered with a 2xx so far.
    accepted: std::sync::atomic::AtomicUsize,
    /// Accept everything and keep only the count (see [`Receiver::count_only`]).
    count_only: std::sync::atomic::AtomicBool,
}

/// The running receiver.
pub struct Receiver {
    server: Restartable,
    shared: Arc<Shared>,
    /// Served over TLS with this.
    tls: Option<rustls::ServerConfig>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_with(None)
    }

    /// An `https` receiver, with a certificate for 127.0.0.1 issued by `ca`.
    pub async fn start_tls(ca: &super::tls::TestCa) -> Self {
        Self::start_with(Some(ca.server_config()))
    }

    fn start_with(tls: Option<rustls::ServerConfig>) -> Self {
        let (server, listener) = Restartable::bind();
        let receiver = Self {
            server,
            shared: Arc::new(Shared::default()),
            tls,
        };
        receiver.answer(Answer::Accept);
        receiver.serve(listener);
        receiver
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0);
        let server = match &self.tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls.clone()),
            None => server.listen(listener),
        };
        self.server.run(server.expect("receiver listens").run());
    }

    /// `http://127.0.0.1:PORT/hook` (`https` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/hook", self.server.addr())
    }

    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().expect("lock") = Some(answer);
    }

    /// From now on, accepts every delivery and keeps nothing but the count
    /// (a benchmark's receiver: as little work as a receiver can do, since
    /// it shares the machine with what it measures).
    #[allow(
        dead_code,
        reason = "the benchmark's: the tests look at every delivery"
    )]
    pub fn count_only(&self) {
        self.shared
            .count_only
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The secrets deliveries are checked against from now on.
    pub fn verify_with(&self, secrets: &[&str]) {
        *self.shared.secrets.lock().expect("lock") =
            secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Refuses connections until [`Receiver::up`].
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let listener = self.server.rebind().await;
        self.serve(listener);
    }

    /// Every delivery so far (accepted or not), in arrival order.
    pub fn received(&self) -> Vec<Delivery> {
        self.shared.received.lock().expect("lock").clone()
    }

    /// The accepted deliveries, in arrival order.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.received().into_iter().filter(|d| d.accepted).collect()
    }

    /// Waits until `pred` holds for everything received, or panics.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let received = self.received();
            if pred(&received) {
                return received;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let received = self.received();
                if pred(&received) {
                    return received;
                }
                panic!(
                    "timed out waiting for {what}: {} received, {:?}",
                    received.len(),
                    received
                        .iter()
                        .map(|d| (d.event_type().to_owned(), d.sequence(), d.accepted))
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    /// How many deliveries were accepted so far (without copying them).
    pub fn accepted_count(&self) -> usize {
        self.shared
            .accepted
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until `n` deliveries were accepted, by count (cheap at any
    /// volume); whether they all came in time.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            if self.accepted_count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.accepted_count() >= n;
            }
        }
    }

    /// Waits for `n` accepted deliveries; returns the accepted ones.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        if !self.wait_for_count(n, timeout).await {
            let received = self.received();
            panic!(
                "timed out waiting for {n} accepted deliveries: {:?}",
                received
                    .iter()
                    .map(|d| (d.event_type().to_owned(), d.sequence(), d.accepted))
                    .collect::<Vec<_>>()
            );
        }
        self.accepted()
    }
}

/// The signatures of `{id}.{timestamp}.{body}` under `secret`, as the
/// Standard Webhooks specification defines them.
pub fn signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .expect("a base64 secret");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` (space-separated `v1,<signature>`s) carries the
/// signature of this delivery under `secret`, and its timestamp is within
/// five minutes of now.
pub fn verifies(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Ok(sent) = timestamp.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - sent).abs() > 300 {
        return false;
    }
    let expected = signature(secret, id, timestamp, body);
    header
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .any(|(version, sig)| version == "v1" && sig == expected)
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if shared.count_only.load(std::sync::atomic::Ordering::Relaxed) {
        shared
            .accepted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        shared.arrived.notify_waiters();
        return HttpResponse::NoContent().finish();
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let verified_by: Vec<usize> = shared
        .secrets
        .lock()
        .expect("lock")
        .iter()
        .enumerate()
        .filter(|(_, secret)| verifies(secret, &id, &timestamp, &body, &signature))
        .map(|(i, _)| i)
        .collect();
    let answer = {
        let mut answer = shared.answer.lock().expect("lock");
        let now = answer.clone().unwrap_or(Answer::Accept);
        if let Answer::FailTimes(n) = now {
            *answer = Some(if n <= 1 {
                Answer::Accept
            } else {
                Answer::FailTimes(n - 1)
            });
            Answer::Fail(500)
        } else {
            now
        }
    };
    let record = |accepted: bool| {
        let delivery = Delivery {
            id: id.clone(),
            signature: signature.clone(),
            content_type: header("content-type"),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            accepted,
            verified_by: verified_by.clone(),
        };
        shared.received.lock().expect("lock").push(delivery);
        if accepted {
            shared
                .accepted
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        shared.arrived.notify_waiters();
    };
    // A delayed answer is listed while it is under way: a hanging one as
    // not accepted (it never is), a slow one as accepted.
    let delayed = match answer {
        Answer::Hang => Some((false, Duration::from_secs(3600))),
        Answer::Slow(wait) => Some((true, wait)),
        _ => None,
    };
    if let Some((accepted, wait)) = delayed {
        record(accepted);
        actix_rt::time::sleep(wait).await;
        return HttpResponse::NoContent().finish();
    }
    let response = match &answer {
        Answer::Accept => HttpResponse::NoContent().finish(),
        Answer::Fail(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).expect("a status"))
                .body(format!("refused with {status}"))
        }
        Answer::FailTimes(_) => HttpResponse::InternalServerError().finish(),
        Answer::Hang | Answer::Slow(_) => unreachable!("answered above"),
        Answer::Redirect(to) => HttpResponse::Found()
            .insert_header(("Location", to.as_str()))
            .finish(),
    };
    record(response.status().is_success());
    response
}
