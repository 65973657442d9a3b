//! Test harness: every test starts the real application on port 0 against a
//! database of its own — a fresh SQLite file, or a fresh PostgreSQL schema
//! (dropped afterwards) on the server named by `TEST_DATABASE_URL`.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};
use taskstream::settings::Settings;
use taskstream::startup::Application;

use crate::support::dapr::Sidecar;

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789";

/// The database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Administrative URL of the PostgreSQL server tests create schemas on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database owned by one test; removed when dropped.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    PgSchema { admin_url: String, schema: String },
    PgDatabase { admin_url: String, database: String },
}

impl TestDb {
    pub async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("taskstream.db").display());
                (Self::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                admin_exec(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                // Tagged, so that dropping the schema can first end this test's
                // connections (one may sit in a transaction driven by the test's
                // own, by then blocked, runtime).
                let url = format!(
                    "{admin_url}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
                );
                (Self::PgSchema { admin_url, schema }, url)
            }
        }
    }

    /// A whole PostgreSQL database (for tests that take it away).
    pub async fn create_pg_database() -> (Self, String) {
        let admin_url = postgres_admin_url();
        let database = format!("test_{}", uuid::Uuid::new_v4().simple());
        admin_exec(&admin_url, &format!("CREATE DATABASE {database}")).await;
        let url = replace_database(&admin_url, &database);
        (
            Self::PgDatabase {
                admin_url,
                database,
            },
            url,
        )
    }
}

/// `postgres://…/old?x` → `postgres://…/new?x`.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("database url has a path");
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

pub async fn admin_exec(admin_url: &str, sql: &str) {
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin_url} is needed for this test (set TEST_DATABASE_URL): {e}")
        });
    conn.batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = match self {
            Self::Sqlite { .. } => return,
            Self::PgSchema { schema, .. } => format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{schema}' AND pid <> pg_backend_pid(); \
                 DROP SCHEMA IF EXISTS {schema} CASCADE"
            ),
            Self::PgDatabase { database, .. } => {
                format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            }
        };
        let (Self::PgSchema { admin_url, .. } | Self::PgDatabase { admin_url, .. }) = self else {
            return;
        };
        let admin_url = admin_url.clone();
        // Drop runs inside the test's runtime: clean up from a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = conn.batch_execute(&sql).await;
                }
            });
        })
        .join();
    }
}

/// A response, its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub token: String,
}

/// A running application and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: awc::Client,
    /// The database URL, to start another instance on the same database.
    pub database_url: String,
    server: actix_web::dev::ServerHandle,
    running: Option<actix_rt::task::JoinHandle<std::io::Result<()>>>,
    /// Dropped with the app that created it: removes the database.
    _db: Option<TestDb>,
}

/// Settings for a test app on a given database URL.
pub fn test_settings(database_url: String) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        database_url,
        jwt_secret: Some(JWT_SECRET.into()),
        workers: 1,
        database_pool_size: 8,
        database_timeout: 3.0,
        static_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"),
        instance_id: "test-instance".into(),
        // Every test signs its users up from 127.0.0.1; the throttle's own
        // tests set these low.
        signup_per_address_per_hour: 100_000,
        login_attempts_per_address: 100_000,
        // Many instances share this process and its two cores with other
        // tests: a deliverer at background priority can then wait seconds
        // for CPU, and a stopped instance's outlives its stop. The binary's
        // own tests (`process`, the `kill -9` one, the browser's) run the
        // default.
        webhook_priority: "normal".into(),
        ..Settings::default()
    }
}

fn test_logger() -> slog::Logger {
    if std::env::var_os("TEST_LOG").is_some() {
        use slog::Drain;
        let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog::Logger::root(drain, slog::o!())
    } else {
        slog::Logger::root(slog::Discard, slog::o!())
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (db, url) = TestDb::create(backend).await;
    start(db, url, configure).await
}

/// Starts the application on an existing database it will own.
pub async fn start(db: TestDb, url: String, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut app = start_on(url, configure).await;
    app._db = Some(db);
    app
}

/// Starts another instance on a database some other app owns.
pub async fn start_on(url: String, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(url.clone());
    configure(&mut settings);
    let app = Application::build(settings, test_logger())
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.server_handle();
    let running = actix_rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    TestApp {
        address,
        client,
        database_url: url,
        server,
        running: Some(running),
        _db: None,
    }
}

impl TestApp {
    /// Stops like SIGTERM does: finish requests, flush the dispatcher.
    pub async fn stop(&mut self) {
        self.server.stop(true).await;
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("Authorization", a.as_str()))
            .collect();
        self.call_with(method, path, &headers, body).await
    }

    /// A request with extra headers (no token unless given in them).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        };
        let mut res = res.unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
        let bytes = res
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    /// Logs in; `client` is the address the request claims to come from
    /// (believed when the app trusts 127.0.0.1 as a proxy).
    pub async fn login(&self, email: &str, password: &str, client: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = client
            .map(|ip| vec![("X-Forwarded-For", ip)])
            .unwrap_or_default();
        self.call_with(
            Method::POST,
            "/api/auth/login",
            &headers,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a fresh user.
    pub async fn signup(&self) -> TestUser {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        self.signup_as(&email, json!({})).await
    }

    pub async fn signup_as(&self, email: &str, extra: Value) -> TestUser {
        let mut body = json!({ "email": email, "password": "correct horse battery" });
        if let (Some(obj), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            obj.extend(extra.clone());
        }
        let res = self
            .call(Method::POST, "/api/auth/signup", None, Some(body))
            .await
            .expect(201);
        TestUser {
            id: res.body["user"]["id"].as_str().expect("user id").to_owned(),
            token: res.body["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Completes the user's task and returns its JSON.
    pub async fn complete(&self, user: &TestUser, task_id: &str) -> Value {
        self.post(
            &format!("/api/{}/tasks/{task_id}/complete", user.id),
            &user.token,
            json!({}),
        )
        .await
        .expect(200)
        .body
    }

    /// Creates a task for `user` and returns its JSON.
    pub async fn create_task(&self, user: &TestUser, body: Value) -> Value {
        self.post(&format!("/api/{}/tasks", user.id), &user.token, body)
            .await
            .expect(201)
            .body
    }
}

/// A token for any subject, signed with the test secret, as an external
/// identity provider sharing the secret would issue it (no epoch claim).
pub fn token_for(sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "iat": now, "exp": now + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("token")
}

/// Unpadded base64url (to forge tokens the library would refuse to make).
pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Creates `n` tasks for `user` at once, spread over `apps` (instances on
/// one database), and asserts every one was created.
pub async fn create_concurrently(apps: &[&TestApp], user: &TestUser, n: usize, prefix: &str) {
    let creates = (0..n).map(|i| {
        let app = apps[i % apps.len()];
        async move {
            app.post(
                "/api/v1/tasks",
                &user.token,
                json!({"title": format!("{prefix} {i}")}),
            )
            .await
            .status
        }
    });
    let statuses = futures_util::future::join_all(creates).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}

/// Dapr on, pointing at the stand-in, with short timeouts and retries.
pub fn dapr_on(sidecar: &Sidecar) -> impl FnOnce(&mut Settings) + use<> {
    let endpoint = sidecar.endpoint();
    move |s| {
        s.dapr_enabled = true;
        s.dapr_http_endpoint = Some(endpoint);
        s.dapr_publish_timeout = 0.5;
        s.outbox_sweep_interval = 0.1;
        s.outbox_retry_cap = 0.3;
    }
}

/// How the app publishes: one call per event and topic, or a round's
/// events per topic in one bulk call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publishing {
    Single,
    Bulk,
}

/// [`dapr_on`], publishing this way.
pub fn publishing_through(
    sidecar: &Sidecar,
    publishing: Publishing,
) -> impl FnOnce(&mut Settings) + use<> {
    let dapr = dapr_on(sidecar);
    move |s| {
        dapr(s);
        s.dapr_bulk_publish = publishing == Publishing::Bulk;
    }
}

/// Another replica on `app`'s database (instance `elsewhere`), publishing
/// through `sidecar`: what it publishes is what Dapr delivers to `app`.
pub async fn other_replica(app: &TestApp, sidecar: &Sidecar) -> TestApp {
    let dapr = dapr_on(sidecar);
    start_on(app.database_url.clone(), move |s| {
        dapr(s);
        s.instance_id = "elsewhere".into();
    })
    .await
}

/// A connection pool on the app's database, for looking behind the API.
pub async fn database_of(app: &TestApp) -> taskstream::db::Db {
    taskstream::db::Db::connect(&test_settings(app.database_url.clone()))
        .await
        .expect("database")
}

/// How many delivered CloudEvent ids the app remembers.
pub async fn processed_ids(app: &TestApp) -> i64 {
    use diesel::QueryDsl;
    use diesel_async::RunQueryDsl;
    use taskstream::db::schema::processed_events;
    let db = database_of(app).await;
    let mut pooled = db.get().await.expect("connection");
    taskstream::db_run!(&mut pooled.conn(), |c| processed_events::table
        .count()
        .get_result::<i64>(c)
        .await
        .expect("count"))
}

/// A service [`Context`](taskstream::service::Context) on a database of its
/// own, with no web server: what the use cases are tested with directly.
pub struct TestContext {
    pub ctx: taskstream::service::Context,
    /// What the use cases hand on after commit (the dispatcher's input).
    pub bus: tokio::sync::mpsc::Receiver<taskstream::events::bus::Batch>,
    pub clock: taskstream::clock::Clock,
    /// The database URL, for another context on the same database.
    pub database_url: String,
    _db: TestDb,
}

/// A context on a fresh database whose clock stands at `at`.
pub async fn test_context(backend: Backend, at: chrono::NaiveDateTime) -> TestContext {
    let (db, url) = TestDb::create(backend).await;
    let clock = taskstream::clock::Clock::manual(at);
    let (ctx, bus) = context_on(url.clone(), clock.clone(), |_| {}).await;
    TestContext {
        ctx,
        bus,
        clock,
        database_url: url,
        _db: db,
    }
}

/// A context on an existing database.
pub async fn context_on(
    url: String,
    clock: taskstream::clock::Clock,
    configure: impl FnOnce(&mut Settings),
) -> (
    taskstream::service::Context,
    tokio::sync::mpsc::Receiver<taskstream::events::bus::Batch>,
) {
    let mut settings = test_settings(url);
    configure(&mut settings);
    let db = taskstream::db::Db::connect(&settings)
        .await
        .expect("database");
    taskstream::service::Context::new(
        std::sync::Arc::new(settings),
        db,
        JWT_SECRET.as_bytes(),
        clock,
        test_logger(),
    )
    .expect("context")
}
