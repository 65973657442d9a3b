//! A stand-in Dapr sidecar: the parts of Dapr's HTTP API taskstream calls,
//! on a free loopback port, recording every request and failing on demand.
//!
//! Faithful to Dapr's documented contract where it matters to the caller:
//! `POST /v1.0/publish/{pubsubname}/{topic}` answers 204 on success; an
//! unknown pub/sub component answers 404 `ERR_PUBSUB_NOT_FOUND`; a broker
//! failure answers 500 `ERR_PUBSUB_PUBLISH_MESSAGE`; with an API token
//! configured, a request without a matching `dapr-api-token` header answers
//! 401. `metadata.*` query parameters are passed through as metadata. The
//! Jobs API (`POST|DELETE /{version}/jobs/{name}`) answers 204 and is
//! recorded with the job name as `topic`, at its stable path (`/v1.0/…`,
//! Dapr 1.18 and later) and at the alpha path older sidecars serve.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::Notify;

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
}

#[derive(Default)]
struct Shared {
    mode: Mutex<Option<Mode>>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    api_token: Mutex<Option<String>>,
    /// Partition keys (user ids) whose messages fail with this status.
    failing_partitions: Mutex<HashMap<String, u16>>,
}

/// The running stand-in.
pub struct Sidecar {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<ServerHandle>>,
}

const PUBSUB: &str = "pubsub-kafka";

impl Sidecar {
    /// Starts accepting on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sidecar");
        let addr = listener.local_addr().expect("sidecar address");
        let sidecar = Self {
            addr,
            shared: Arc::new(Shared::default()),
            server: Mutex::new(None),
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
        *self.server.lock().expect("lock") = Some(server.handle());
        actix_rt::spawn(server);
    }

    /// `http://127.0.0.1:PORT`, for `DAPR_HTTP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
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

    /// Requires this `dapr-api-token` on every call.
    pub fn require_token(&self, token: &str) {
        *self.shared.api_token.lock().expect("lock") = Some(token.to_owned());
    }

    /// Stops listening: connections are refused until [`Sidecar::up`].
    pub async fn down(&self) {
        let handle = self.server.lock().expect("lock").take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    actix_rt::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("could not rebind the sidecar port: {e}"),
            }
        };
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

    /// Waits until `pred` holds for what was delivered, or panics after `timeout`.
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
    let mut mode = shared.mode.lock().expect("lock").unwrap_or(Mode::Accept);
    let token_ok = match shared.api_token.lock().expect("lock").as_deref() {
        None => true,
        Some(expected) => {
            req.headers()
                .get("dapr-api-token")
                .and_then(|v| v.to_str().ok())
                == Some(expected)
        }
    };
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    if let Some(status) = query.get("metadata.partitionKey").and_then(|key| {
        shared
            .failing_partitions
            .lock()
            .expect("lock")
            .get(key)
            .copied()
    }) {
        mode = Mode::Fail(status);
    }
    let parsed = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let response = if !token_ok {
        HttpResponse::Unauthorized()
            .json(json!({"errorCode": "ERR_UNAUTHORIZED", "message": "invalid api token"}))
    } else if pubsub != PUBSUB {
        HttpResponse::NotFound().json(json!({"errorCode": "ERR_PUBSUB_NOT_FOUND", "message": format!("pubsub {pubsub} not found")}))
    } else {
        match mode {
            Mode::Accept => HttpResponse::NoContent().finish(),
            Mode::Fail(status) => HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                .json(json!({"errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE", "message": "error when publishing to topic"})),
            Mode::Hang => {
                record(&shared, &req, &pubsub, &topic, query, headers, parsed, false);
                actix_rt::time::sleep(Duration::from_secs(3600)).await;
                return HttpResponse::GatewayTimeout().finish();
            }
        }
    };
    let accepted = response.status().is_success();
    record(
        &shared, &req, &pubsub, &topic, query, headers, parsed, accepted,
    );
    response
}

#[expect(clippy::too_many_arguments, reason = "a test recorder")]
fn record(
    shared: &Shared,
    req: &HttpRequest,
    pubsub: &str,
    topic: &str,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Value,
    accepted: bool,
) {
    shared.received.lock().expect("lock").push(Received {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        pubsub: pubsub.to_owned(),
        topic: topic.to_owned(),
        query,
        headers,
        body,
        accepted,
    });
    shared.arrived.notify_waiters();
}

async fn job(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let (_version, name) = path.into_inner();
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    record(
        &shared,
        &req,
        "",
        &name,
        HashMap::new(),
        headers,
        parsed,
        true,
    );
    HttpResponse::NoContent().finish()
}
