//! A stand-in Dapr sidecar: the parts of Dapr's HTTP API taskstream calls,
//! on a free loopback port, recording every request and failing on demand.
//!
//! Faithful to Dapr's documented contract where it matters to the caller:
//! `POST /v1.0/publish/{pubsubname}/{topic}` answers 204 on success; an
//! unknown pub/sub component answers 404 `ERR_PUBSUB_NOT_FOUND`; a broker
//! failure answers 500 `ERR_PUBSUB_PUBLISH_MESSAGE`; with an API token
//! configured, a request without a matching `dapr-api-token` header answers
//! 401. `metadata.*` query parameters are passed through as metadata. Bulk
//! publish (`POST /v1.0-alpha1/publish/bulk/{pubsubname}/{topic}`, a JSON
//! array of `{entryId, event, contentType, metadata}`) answers 204 when
//! every entry was published, and 500 with `failedEntries` (each `entryId`
//! and `error`) when some were not — the others were; an unknown component
//! answers 400, a malformed body 400; a sidecar without the API (Dapr before
//! 1.10) can be played with [`Sidecar::without_bulk`]. Each bulk entry is
//! recorded as a message of its own, with its metadata as `metadata.*`. The
//! Jobs API (`POST|DELETE /{version}/jobs/{name}`) answers 204 and is
//! recorded with the job name as `topic`, at its stable path (`/v1.0/…`,
//! Dapr 1.18 and later) and at the alpha path older sidecars serve.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::server::Restartable;

/// How the sidecar answers publish calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 204, as Dapr does when the broker accepted the message.
    Accept,
    /// This status with Dapr's error body (e.g. 500 broker down, 404).
    Fail(u16),
    /// Never answers (until the caller gives up).
    Hang,
}

/// One request the sidecar received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub pubsub: String,
    pub topic: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// Whether it was answered with success (and so counts as delivered).
    pub accepted: bool,
    /// Which request it came in (each bulk entry is a message of its own).
    pub request: u64,
    /// Whether it came in a bulk request.
    pub bulk: bool,
}

#[derive(Default)]
struct Shared {
    mode: Mutex<Option<Mode>>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    api_token: Mutex<Option<String>>,
    /// Partition keys (user ids) whose messages fail with this status.
    failing_partitions: Mutex<HashMap<String, u16>>,
    /// Messages that fail, by `(topic, userid, sequence)`, and how many
    /// more times.
    failing_messages: Mutex<HashMap<(String, String, String), u32>>,
    /// Set: the bulk API answers this status, as a sidecar without it.
    no_bulk: Mutex<Option<u16>>,
    /// How long each publish call takes (a real sidecar's round trip to
    /// the broker).
    latency: Mutex<Duration>,
    requests: std::sync::atomic::AtomicU64,
    /// Messages answered with success so far.
    accepted: std::sync::atomic::AtomicUsize,
    /// Set: messages are counted, not kept ([`Sidecar::count_only`]).
    count_only: std::sync::atomic::AtomicBool,
}

/// The running stand-in.
pub struct Sidecar {
    server: Restartable,
    shared: Arc<Shared>,
}

const PUBSUB: &str = "pubsub-kafka";

impl Sidecar {
    /// Starts accepting on a free port.
    pub async fn start() -> Self {
        let (server, listener) = Restartable::bind();
        let sidecar = Self {
            server,
            shared: Arc::new(Shared::default()),
        };
        sidecar.set_mode(Mode::Accept);
        sidecar.serve(listener);
        sidecar
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .route("/v1.0/publish/{pubsub}/{topic}", web::post().to(publish))
                .route(
                    "/v1.0-alpha1/publish/bulk/{pubsub}/{topic}",
                    web::post().to(publish_bulk),
                )
                .route(
                    "/{version:v1\\.0(?:-alpha1)?}/jobs/{name}",
                    web::post().to(job),
                )
                .route(
                    "/{version:v1\\.0(?:-alpha1)?}/jobs/{name}",
                    web::delete().to(job),
                )
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("sidecar listens")
        .run();
        self.server.run(server);
    }

    /// `http://127.0.0.1:PORT`, for `DAPR_HTTP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().expect("lock") = Some(mode);
    }

    /// Fails every message for this partition key with `status` (`None`
    /// heals it): one user's failures, while others' go through.
    pub fn fail_partition(&self, key: &str, status: Option<u16>) {
        let mut failing = self.shared.failing_partitions.lock().expect("lock");
        match status {
            Some(status) => failing.insert(key.to_owned(), status),
            None => failing.remove(key),
        };
    }

    /// Fails the message of `topic` with this CloudEvent `userid` and
    /// `sequence` the next `times` times it comes (500, as a broker
    /// refusing it).
    pub fn fail_message(&self, topic: &str, user: &str, sequence: i64, times: u32) {
        self.shared.failing_messages.lock().expect("lock").insert(
            (topic.to_owned(), user.to_owned(), sequence.to_string()),
            times,
        );
    }

    /// Plays a sidecar without the bulk publish API: it answers `status`
    /// (404, 405 or 501) there.
    pub fn without_bulk(&self, status: u16) {
        *self.shared.no_bulk.lock().expect("lock") = Some(status);
    }

    /// Keeps no message, only the count of those accepted (and answers as
    /// before): for benchmarks, where the stand-in shares a core with the
    /// load while a real sidecar has CPU of its own.
    pub fn count_only(&self) {
        self.shared
            .count_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every publish call (single or bulk) take this long.
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("lock") = latency;
    }

    /// Requires this `dapr-api-token` on every call.
    pub fn require_token(&self, token: &str) {
        *self.shared.api_token.lock().expect("lock") = Some(token.to_owned());
    }

    /// Stops listening: connections are refused until [`Sidecar::up`].
    pub async fn down(&self) {
        self.server.down().await;
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let listener = self.server.rebind().await;
        self.serve(listener);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    /// Requests answered with success (what the broker got), in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    /// Waits until `pred` holds for what was delivered, or panics after
    /// `timeout`. It copies every delivered message on each arrival: for
    /// tests; a benchmark counting thousands uses [`Self::wait_for_count`].
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let delivered = self.delivered();
            if pred(&delivered) {
                return delivered;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let delivered = self.delivered();
                if pred(&delivered) {
                    return delivered;
                }
                panic!(
                    "timed out waiting for {what}: {} delivered, {} received",
                    delivered.len(),
                    self.received().len()
                );
            }
        }
    }

    /// How many messages were delivered so far (on any topic).
    pub fn accepted(&self) -> usize {
        self.shared
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until at least `n` messages were delivered (on any topic),
    /// without copying them: for benchmarks that count many.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.accepted() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {n} messages"
            );
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until at least `n` messages were delivered on `topic`.
    pub async fn wait_for(&self, topic: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let all = self
            .wait_until(timeout, &format!("{n} messages on {topic}"), |d| {
                d.iter().filter(|r| r.topic == topic).count() >= n
            })
            .await;
        all.into_iter().filter(|r| r.topic == topic).collect()
    }
}

async fn publish(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let (pubsub, topic) = path.into_inner();
    shared.delay().await;
    let mut mode = shared.mode.lock().expect("lock").unwrap_or(Mode::Accept);
    let token_ok = shared.token_ok(&req);
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let parsed = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let key = query.get("metadata.partitionKey").map(String::as_str);
    if let Some(status) = shared.refusal(&topic, key, &parsed) {
        mode = Mode::Fail(status);
    }
    let message = Message::of(&req, &shared, &pubsub, &topic, query);
    let response = if !token_ok {
        unauthorized()
    } else if pubsub != PUBSUB {
        no_such_pubsub(404, &pubsub)
    } else {
        match mode {
            Mode::Accept => HttpResponse::NoContent().finish(),
            Mode::Fail(status) => broker_failure(status),
            Mode::Hang => {
                shared.record(message.with(parsed, false, false));
                actix_rt::time::sleep(Duration::from_secs(3600)).await;
                return HttpResponse::GatewayTimeout().finish();
            }
        }
    };
    let accepted = response.status().is_success();
    shared.record(message.with(parsed, accepted, false));
    response
}

async fn publish_bulk(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let (pubsub, topic) = path.into_inner();
    shared.delay().await;
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let request = Message::of(&req, &shared, &pubsub, &topic, query);
    let entries: Option<Vec<Value>> = serde_json::from_slice(&body).ok();
    if let Some(status) = *shared.no_bulk.lock().expect("lock") {
        shared.record(request.with(Value::Null, false, true));
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
            .body("404 page not found");
    }
    if !shared.token_ok(&req) {
        shared.record(request.with(Value::Null, false, true));
        return unauthorized();
    }
    if pubsub != PUBSUB {
        shared.record(request.with(Value::Null, false, true));
        return no_such_pubsub(400, &pubsub);
    }
    let well_formed = entries.as_ref().is_some_and(|entries| {
        entries.iter().all(|e| {
            e["entryId"].as_str().is_some_and(|id| !id.is_empty())
                && !e["event"].is_null()
                && e["contentType"].is_string()
        })
    });
    let Some(entries) = entries.filter(|_| well_formed) else {
        shared.record(request.with(Value::Null, false, true));
        return dapr_error(
            400,
            "ERR_PUBSUB_EVENTS_SER",
            "malformed bulk publish request",
        );
    };
    let mode = shared.mode.lock().expect("lock").unwrap_or(Mode::Accept);
    match mode {
        Mode::Hang => {
            for entry in entries {
                shared.record_entry(&request, entry, false);
            }
            actix_rt::time::sleep(Duration::from_secs(3600)).await;
            return HttpResponse::GatewayTimeout().finish();
        }
        Mode::Fail(status) if status != 500 => {
            for entry in entries {
                shared.record_entry(&request, entry, false);
            }
            return broker_failure(status);
        }
        _ => {}
    }
    let mut failed = Vec::new();
    for entry in entries {
        let key = entry["metadata"]["partitionKey"].as_str();
        let refused =
            mode != Mode::Accept || shared.refusal(&topic, key, &entry["event"]).is_some();
        if refused {
            failed.push(
                json!({"entryId": entry["entryId"], "error": "the broker refused the message"}),
            );
        }
        shared.record_entry(&request, entry, !refused);
    }
    if failed.is_empty() {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::InternalServerError()
            .json(json!({"failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"}))
    }
}

/// An error answer in Dapr's shape: `{errorCode, message}`.
fn dapr_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"errorCode": code, "message": message}))
}

fn unauthorized() -> HttpResponse {
    dapr_error(401, "ERR_UNAUTHORIZED", "invalid api token")
}

/// An unknown pub/sub component: 404 from the publish API, 400 from bulk.
fn no_such_pubsub(status: u16, pubsub: &str) -> HttpResponse {
    dapr_error(
        status,
        "ERR_PUBSUB_NOT_FOUND",
        &format!("pubsub {pubsub} not found"),
    )
}

fn broker_failure(status: u16) -> HttpResponse {
    dapr_error(
        status,
        "ERR_PUBSUB_PUBLISH_MESSAGE",
        "error when publishing to topic",
    )
}

fn headers_of(req: &HttpRequest) -> HashMap<String, String> {
    req.headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect()
}

/// What every message of a request shares.
#[derive(Clone)]
struct Message {
    method: String,
    path: String,
    pubsub: String,
    topic: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    request: u64,
}

impl Message {
    /// The request's shared parts; numbers the request.
    fn of(
        req: &HttpRequest,
        shared: &Shared,
        pubsub: &str,
        topic: &str,
        query: HashMap<String, String>,
    ) -> Self {
        Self {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            pubsub: pubsub.to_owned(),
            topic: topic.to_owned(),
            query,
            headers: headers_of(req),
            request: shared
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1,
        }
    }

    fn with(self, body: Value, accepted: bool, bulk: bool) -> Received {
        Received {
            method: self.method,
            path: self.path,
            pubsub: self.pubsub,
            topic: self.topic,
            query: self.query,
            headers: self.headers,
            body,
            accepted,
            request: self.request,
            bulk,
        }
    }

    /// A bulk entry as a message: its metadata as `metadata.*` parameters,
    /// its content type as the header.
    fn entry(&self, mut entry: Value, accepted: bool) -> Received {
        let mut message = self.clone();
        if let Some(metadata) = entry["metadata"].as_object() {
            for (key, value) in metadata {
                let value = value.as_str().unwrap_or_default().to_owned();
                message.query.insert(format!("metadata.{key}"), value);
            }
        }
        let content_type = entry["contentType"].as_str().unwrap_or_default().to_owned();
        message.headers.insert("content-type".into(), content_type);
        message.with(entry["event"].take(), accepted, true)
    }
}

impl Shared {
    async fn delay(&self) {
        let latency = *self.latency.lock().expect("lock");
        if !latency.is_zero() {
            actix_rt::time::sleep(latency).await;
        }
    }

    fn token_ok(&self, req: &HttpRequest) -> bool {
        match self.api_token.lock().expect("lock").as_deref() {
            None => true,
            Some(expected) => {
                req.headers()
                    .get("dapr-api-token")
                    .and_then(|v| v.to_str().ok())
                    == Some(expected)
            }
        }
    }

    /// The status a message is refused with, if it is to fail: its
    /// partition is failing, or it is one of the messages set to fail.
    fn refusal(&self, topic: &str, partition_key: Option<&str>, event: &Value) -> Option<u16> {
        let key = (
            topic.to_owned(),
            event["userid"].as_str().unwrap_or_default().to_owned(),
            event["sequence"].as_str().unwrap_or_default().to_owned(),
        );
        let mut failing = self.failing_messages.lock().expect("lock");
        if let Some(times) = failing.get_mut(&key).filter(|times| **times > 0) {
            *times -= 1;
            return Some(500);
        }
        drop(failing);
        let partitions = self.failing_partitions.lock().expect("lock");
        partition_key.and_then(|key| partitions.get(key).copied())
    }

    /// Records a message of the request being answered.
    fn record(&self, message: Received) {
        let accepted = message.accepted;
        if !self.counting_only() {
            self.received.lock().expect("lock").push(message);
        }
        self.counted(accepted);
    }

    /// Records a bulk entry as a message of its own (without building it,
    /// with [`Sidecar::count_only`]).
    fn record_entry(&self, request: &Message, entry: Value, accepted: bool) {
        if self.counting_only() {
            self.counted(accepted);
        } else {
            self.record(request.entry(entry, accepted));
        }
    }

    fn counting_only(&self) -> bool {
        self.count_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn counted(&self, accepted: bool) {
        if accepted {
            self.accepted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.arrived.notify_waiters();
    }
}

async fn job(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let (_version, name) = path.into_inner();
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let message = Message::of(&req, &shared, "", &name, HashMap::new());
    shared.record(message.with(parsed, true, false));
    HttpResponse::NoContent().finish()
}
