//! Configuration: built-in defaults, then `config/default.toml`, then
//! `config/{TASKSTREAM_ENV}.toml`, then environment variables with plain
//! names (`PORT`, `DATABASE_URL`, …). Every source is optional, so the
//! binary runs with nothing configured at all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where the service runs; production refuses unsafe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunEnv {
    #[default]
    Development,
    Production,
}

impl RunEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    #[default]
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

/// Every setting of the service. Field names are the lower-case forms of the
/// environment variables that override them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// `sqlite://PATH` (or a bare path) or `postgres://…`.
    pub database_url: String,
    /// Maximum connections in the database pool.
    pub database_pool_size: usize,
    /// Seconds to wait for a pooled connection before answering 503.
    pub database_timeout: f64,
    /// HS256 key for access tokens. Generated (with a warning) in development
    /// when absent; required in production.
    pub jwt_secret: Option<String>,
    /// Lifetime of the tokens this service issues, in minutes.
    pub jwt_ttl_minutes: i64,
    /// `development` or `production`.
    pub taskstream_env: RunEnv,
    /// Minimum level logged: trace, debug, info, warning, error, critical.
    pub log_level: String,
    /// `json` or `pretty`.
    pub log_format: LogFormat,
    /// Directory the web UI is served from.
    pub static_dir: PathBuf,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Publish events through the Dapr sidecar.
    pub dapr_enabled: bool,
    /// Sidecar base URL; `http://127.0.0.1:{DAPR_HTTP_PORT}` when unset.
    pub dapr_http_endpoint: Option<String>,
    /// Sidecar HTTP port (Dapr's default 3500).
    pub dapr_http_port: u16,
    /// Dapr pub/sub component to publish through, and to subscribe to
    /// `task-events` and `reminders` on (one consumer group: each message
    /// reaches one replica).
    pub dapr_pubsub_name: String,
    /// Dapr pub/sub component to subscribe to `task-updates` on. Every
    /// replica must see every sync message, so in a deployment of several
    /// replicas this is a component whose consumer is the pod itself
    /// (Kafka `consumerID: "{podName}"`, no `consumerGroup`). Empty: the
    /// `DAPR_PUBSUB_NAME` component.
    pub dapr_updates_pubsub_name: String,
    /// Path version of the Dapr Jobs API: `v1.0` (stable since Dapr 1.18)
    /// or `v1.0-alpha1` (older sidecars).
    pub dapr_jobs_api_version: String,
    /// Seconds allowed per publish call.
    pub dapr_publish_timeout: f64,
    /// Publish a round's events for a topic in one call to Dapr's bulk
    /// publish API (falling back to one call per event on a sidecar
    /// without it); `false` always publishes one event per call.
    pub dapr_bulk_publish: bool,
    /// Sent as `dapr-api-token` to the sidecar.
    pub dapr_api_token: Option<String>,
    /// Required as `dapr-api-token` on calls Dapr makes to us.
    pub app_api_token: Option<String>,
    /// CloudEvent `source`.
    pub event_source: String,
    /// Tells this replica's events from others' (default: the host name).
    pub instance_id: String,
    /// Topic of the full task events.
    pub topic_task_events: String,
    /// Topic of the lightweight sync events other replicas consume.
    pub topic_task_updates: String,
    /// Topic of reminder events.
    pub topic_reminders: String,
    /// Topic of the activity (audit) log.
    pub topic_activity_logs: String,
    /// Capacity of the channel from requests to the dispatcher.
    pub event_channel_capacity: usize,
    /// Seconds between sweeps of the outbox for anything unpublished.
    pub outbox_sweep_interval: f64,
    /// Longest wait, in seconds, between retries of a failed publication.
    pub outbox_retry_cap: f64,
    /// Seconds a replica's hold on its publishing shards lasts unless
    /// renewed (renewed every third of it): how long the shards of a replica
    /// that died wait before others take them over.
    pub outbox_lease_ttl: f64,
    /// Seconds between the server's WebSocket pings.
    pub ws_ping_interval: f64,
    /// Seconds of silence after which a WebSocket client is dropped.
    pub ws_client_timeout: f64,
    /// Messages queued for one WebSocket session before it counts as too
    /// slow and is closed (code 4000: reconnect and resume).
    pub ws_session_queue: usize,
    /// `builtin` (the service's own scheduler) or `dapr-jobs` (the Dapr Jobs
    /// API calls `POST /job/reminder-{id}` when a reminder is due).
    pub reminder_scheduler: String,
    /// Days a published event stays in the event log (activity log,
    /// WebSocket replay); older ones are deleted in small batches.
    pub event_retention_days: u32,
    /// Hours a consumed CloudEvent id is remembered for deduplication; must
    /// exceed how long Dapr may redeliver (the topic's retention).
    pub dedup_retention_hours: u32,
    /// Seconds between retention passes (event log, dedup ids, revoked
    /// tokens).
    pub retention_interval: f64,
    /// Failed logins allowed for one account from one client address before
    /// each further attempt must wait (the wait doubles, up to
    /// `LOGIN_LOCKOUT_MAX`).
    pub login_attempts_per_pair: u32,
    /// Failed logins allowed for one account from all addresses it has never
    /// logged in from, before it is locked for those addresses.
    pub login_attempts_per_account: u32,
    /// Failed logins allowed from one client address over all accounts.
    pub login_attempts_per_address: u32,
    /// Seconds of the first lockout once an allowance is used up.
    pub login_lockout_base: f64,
    /// Longest lockout, in seconds: no lock outlasts this.
    pub login_lockout_max: f64,
    /// Sign-ups accepted from one client address per hour.
    pub signup_per_address_per_hour: u32,
    /// Threads hashing passwords (argon2id, 19 MiB each); 0 means one per
    /// core.
    pub password_hash_workers: usize,
    /// Password hashes that may wait for a hashing thread; past that, logins
    /// and sign-ups get 503 with `Retry-After`.
    pub password_hash_queue: usize,
    /// Comma-separated addresses or CIDR ranges of reverse proxies whose
    /// `X-Forwarded-For` is believed when telling client addresses apart.
    pub trusted_proxies: String,
    /// Comma-separated origins a browser may call the API from (CORS);
    /// empty: same origin only.
    pub cors_allowed_origins: String,
    /// The service's public base URL (`https://tasks.example.com`), where
    /// clients reach it: named in the MCP server's protected-resource
    /// metadata, and its host is accepted by the MCP endpoint. Empty: the
    /// address each request came to.
    pub public_url: String,
    /// Comma-separated host names (or `host:port`) the MCP endpoint answers
    /// to, on top of loopback and `PUBLIC_URL`'s host (a guard against DNS
    /// rebinding); `*`: any.
    pub mcp_allowed_hosts: String,
    /// Comma-separated issuer URLs of the OAuth authorization servers whose
    /// tokens are accepted (an external identity provider signing with
    /// `JWT_SECRET`), named in the MCP server's protected-resource metadata.
    pub oauth_authorization_servers: String,
    /// Comma-separated hosts webhooks may be delivered to although they are
    /// (or resolve to) loopback, private, link-local or metadata addresses:
    /// host names as written in the URL, addresses, or CIDR ranges.
    pub webhook_allowed_hosts: String,
    /// Most webhook endpoints one user may have.
    pub webhook_max_endpoints: usize,
    /// Seconds to connect to a webhook receiver.
    pub webhook_connect_timeout: f64,
    /// Seconds a webhook delivery may take in all (connect, send, answer).
    pub webhook_timeout: f64,
    /// The waits before each retry of a failed delivery, comma-separated
    /// (`5s`, `1m`, `2h`, `1d`); once the last retry fails the endpoint is
    /// disabled.
    pub webhook_retry_schedule: String,
    /// Hours the previous secret of a rotated endpoint still signs.
    pub webhook_secret_grace_hours: f64,
    /// Seconds between looks for webhook deliveries that are due (retries,
    /// other replicas' commits).
    pub webhook_sweep_interval: f64,
    /// A PEM file of CA certificates that `https` webhook receivers may
    /// also be verified by (an internal CA), besides the system's.
    pub webhook_ca_file: String,
    /// `background` (webhook deliveries run on a thread the kernel gives
    /// only the CPU that nothing else wants: requests first) or `normal`.
    pub webhook_priority: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            database_url: "sqlite://taskstream.db".into(),
            database_pool_size: 16,
            database_timeout: 5.0,
            jwt_secret: None,
            jwt_ttl_minutes: 24 * 60,
            taskstream_env: RunEnv::Development,
            log_level: "info".into(),
            log_format: LogFormat::Json,
            static_dir: PathBuf::from("static"),
            workers: 0,
            dapr_enabled: false,
            dapr_http_endpoint: None,
            dapr_http_port: 3500,
            dapr_pubsub_name: "pubsub-kafka".into(),
            dapr_updates_pubsub_name: String::new(),
            dapr_jobs_api_version: "v1.0".into(),
            dapr_publish_timeout: 2.0,
            dapr_bulk_publish: true,
            dapr_api_token: None,
            app_api_token: None,
            event_source: "taskstream/api".into(),
            instance_id: hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "taskstream".into()),
            topic_task_events: "task-events".into(),
            topic_task_updates: "task-updates".into(),
            topic_reminders: "reminders".into(),
            topic_activity_logs: "activity-logs".into(),
            event_channel_capacity: 1024,
            outbox_sweep_interval: 1.0,
            outbox_retry_cap: 30.0,
            outbox_lease_ttl: 15.0,
            ws_ping_interval: 10.0,
            ws_client_timeout: 30.0,
            ws_session_queue: 1024,
            reminder_scheduler: "builtin".into(),
            event_retention_days: 90,
            dedup_retention_hours: 7 * 24,
            retention_interval: 300.0,
            login_attempts_per_pair: 5,
            login_attempts_per_account: 20,
            login_attempts_per_address: 50,
            login_lockout_base: 1.0,
            login_lockout_max: 900.0,
            signup_per_address_per_hour: 20,
            password_hash_workers: 0,
            password_hash_queue: 64,
            trusted_proxies: String::new(),
            cors_allowed_origins: String::new(),
            public_url: String::new(),
            mcp_allowed_hosts: String::new(),
            oauth_authorization_servers: String::new(),
            webhook_allowed_hosts: String::new(),
            webhook_max_endpoints: 10,
            webhook_connect_timeout: 5.0,
            webhook_timeout: 15.0,
            webhook_retry_schedule: DEFAULT_WEBHOOK_RETRIES.into(),
            webhook_secret_grace_hours: 24.0,
            webhook_sweep_interval: 5.0,
            webhook_ca_file: String::new(),
            webhook_priority: "background".into(),
        }
    }
}

/// About three days of retries: 71 h 36 min from the first failure to the
/// last try.
const DEFAULT_WEBHOOK_RETRIES: &str = "5s, 1m, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 20h";

/// Environment variables read as settings (the upper-case field names).
const ENV_KEYS: &[&str] = &[
    "HOST",
    "PORT",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_TIMEOUT",
    "JWT_SECRET",
    "JWT_TTL_MINUTES",
    "TASKSTREAM_ENV",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "STATIC_DIR",
    "WORKERS",
    "DAPR_ENABLED",
    "DAPR_HTTP_ENDPOINT",
    "DAPR_HTTP_PORT",
    "DAPR_PUBSUB_NAME",
    "DAPR_UPDATES_PUBSUB_NAME",
    "DAPR_JOBS_API_VERSION",
    "DAPR_PUBLISH_TIMEOUT",
    "DAPR_BULK_PUBLISH",
    "DAPR_API_TOKEN",
    "APP_API_TOKEN",
    "EVENT_SOURCE",
    "INSTANCE_ID",
    "TOPIC_TASK_EVENTS",
    "TOPIC_TASK_UPDATES",
    "TOPIC_REMINDERS",
    "TOPIC_ACTIVITY_LOGS",
    "EVENT_CHANNEL_CAPACITY",
    "OUTBOX_SWEEP_INTERVAL",
    "OUTBOX_RETRY_CAP",
    "OUTBOX_LEASE_TTL",
    "WS_PING_INTERVAL",
    "WS_CLIENT_TIMEOUT",
    "WS_SESSION_QUEUE",
    "REMINDER_SCHEDULER",
    "EVENT_RETENTION_DAYS",
    "DEDUP_RETENTION_HOURS",
    "RETENTION_INTERVAL",
    "LOGIN_ATTEMPTS_PER_PAIR",
    "LOGIN_ATTEMPTS_PER_ACCOUNT",
    "LOGIN_ATTEMPTS_PER_ADDRESS",
    "LOGIN_LOCKOUT_BASE",
    "LOGIN_LOCKOUT_MAX",
    "SIGNUP_PER_ADDRESS_PER_HOUR",
    "PASSWORD_HASH_WORKERS",
    "PASSWORD_HASH_QUEUE",
    "TRUSTED_PROXIES",
    "CORS_ALLOWED_ORIGINS",
    "PUBLIC_URL",
    "MCP_ALLOWED_HOSTS",
    "OAUTH_AUTHORIZATION_SERVERS",
    "WEBHOOK_ALLOWED_HOSTS",
    "WEBHOOK_MAX_ENDPOINTS",
    "WEBHOOK_CONNECT_TIMEOUT",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_SECRET_GRACE_HOURS",
    "WEBHOOK_SWEEP_INTERVAL",
    "WEBHOOK_CA_FILE",
    "WEBHOOK_PRIORITY",
];

/// A configuration that cannot be used, with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("{0}")]
    Refused(String),
}

impl Settings {
    /// Loads the settings from `config_dir` (normally `./config`) and the
    /// process environment.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(config_dir, &env)
    }

    /// Loads from an explicit environment, so tests need not touch the
    /// process's own.
    pub fn load_from(config_dir: &Path, env: &[(String, String)]) -> Result<Self, SettingsError> {
        let var = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let run_env = var("TASKSTREAM_ENV").unwrap_or_else(|| "development".into());
        let overrides: config::Map<String, String> = ENV_KEYS
            .iter()
            .filter_map(|key| var(key).map(|v| (key.to_ascii_lowercase(), v)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")).required(false))
            .add_source(
                config::File::from(config_dir.join(format!("{run_env}.toml"))).required(false),
            )
            .add_source(config::Environment::default().source(Some(overrides)))
            .build()?
            .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        if self.taskstream_env == RunEnv::Production
            && (self.dapr_enabled || self.dapr_jobs())
            && self.app_api_token.as_deref().is_none_or(str::is_empty)
        {
            return Err(SettingsError::Refused(
                "APP_API_TOKEN must be set when TASKSTREAM_ENV=production and Dapr is used \
                 (DAPR_ENABLED or REMINDER_SCHEDULER=dapr-jobs): without it anyone who can \
                 reach the service could deliver events or fire reminders. Dapr injects it \
                 from the secret named by the dapr.io/app-token-secret annotation"
                    .into(),
            ));
        }
        if self.taskstream_env == RunEnv::Production
            && self.jwt_secret.as_deref().is_none_or(str::is_empty)
        {
            return Err(SettingsError::Refused(
                "JWT_SECRET must be set when TASKSTREAM_ENV=production: \
                 refusing to start with a generated signing key"
                    .into(),
            ));
        }
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 16
        {
            return Err(SettingsError::Refused(
                "JWT_SECRET must be at least 16 bytes long".into(),
            ));
        }
        if self.database_pool_size == 0 {
            return Err(SettingsError::Refused(
                "DATABASE_POOL_SIZE must be at least 1".into(),
            ));
        }
        for (name, secs) in [
            ("DAPR_PUBLISH_TIMEOUT", self.dapr_publish_timeout),
            ("OUTBOX_SWEEP_INTERVAL", self.outbox_sweep_interval),
            ("OUTBOX_RETRY_CAP", self.outbox_retry_cap),
            ("OUTBOX_LEASE_TTL", self.outbox_lease_ttl),
            ("WS_PING_INTERVAL", self.ws_ping_interval),
            ("WS_CLIENT_TIMEOUT", self.ws_client_timeout),
        ] {
            if !(secs.is_finite() && secs > 0.0 && secs < 3600.0) {
                return Err(SettingsError::Refused(format!(
                    "{name} must be a positive number of seconds"
                )));
            }
        }
        if !["builtin", "dapr-jobs"].contains(&self.reminder_scheduler.as_str()) {
            return Err(SettingsError::Refused(
                "REMINDER_SCHEDULER must be builtin or dapr-jobs".into(),
            ));
        }
        if !["v1.0", "v1.0-alpha1"].contains(&self.dapr_jobs_api_version.as_str()) {
            return Err(SettingsError::Refused(
                "DAPR_JOBS_API_VERSION must be v1.0 (Dapr 1.18 and later) or v1.0-alpha1".into(),
            ));
        }
        if self.dapr_pubsub_name.is_empty() {
            return Err(SettingsError::Refused(
                "DAPR_PUBSUB_NAME must name a Dapr pub/sub component".into(),
            ));
        }
        if self.ws_session_queue == 0 {
            return Err(SettingsError::Refused(
                "WS_SESSION_QUEUE must be at least 1".into(),
            ));
        }
        if self.event_channel_capacity == 0 {
            return Err(SettingsError::Refused(
                "EVENT_CHANNEL_CAPACITY must be at least 1".into(),
            ));
        }
        for (name, secs) in [
            ("RETENTION_INTERVAL", self.retention_interval),
            ("LOGIN_LOCKOUT_BASE", self.login_lockout_base),
            ("LOGIN_LOCKOUT_MAX", self.login_lockout_max),
        ] {
            if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
                return Err(SettingsError::Refused(format!(
                    "{name} must be a positive number of seconds (at most a day)"
                )));
            }
        }
        if self.login_lockout_max < self.login_lockout_base {
            return Err(SettingsError::Refused(
                "LOGIN_LOCKOUT_MAX must not be shorter than LOGIN_LOCKOUT_BASE".into(),
            ));
        }
        for (name, n) in [
            ("EVENT_RETENTION_DAYS", self.event_retention_days),
            ("DEDUP_RETENTION_HOURS", self.dedup_retention_hours),
            ("LOGIN_ATTEMPTS_PER_PAIR", self.login_attempts_per_pair),
            (
                "LOGIN_ATTEMPTS_PER_ACCOUNT",
                self.login_attempts_per_account,
            ),
            (
                "LOGIN_ATTEMPTS_PER_ADDRESS",
                self.login_attempts_per_address,
            ),
            (
                "SIGNUP_PER_ADDRESS_PER_HOUR",
                self.signup_per_address_per_hour,
            ),
        ] {
            if n == 0 {
                return Err(SettingsError::Refused(format!("{name} must be at least 1")));
            }
        }
        if self.password_hash_queue == 0 {
            return Err(SettingsError::Refused(
                "PASSWORD_HASH_QUEUE must be at least 1".into(),
            ));
        }
        self.trusted_proxies()
            .map_err(|e| SettingsError::Refused(format!("TRUSTED_PROXIES: {e}")))?;
        for origin in self.cors_allowed_origins() {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.parse::<actix_web::http::Uri>().is_ok();
            if !ok {
                return Err(SettingsError::Refused(format!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin such as https://app.example.com"
                )));
            }
        }
        if !self.public_url.is_empty() && self.public_origin().is_none() {
            return Err(SettingsError::Refused(format!(
                "PUBLIC_URL: {:?} is not a base URL such as https://tasks.example.com",
                self.public_url
            )));
        }
        for server in self.oauth_authorization_servers() {
            let ok = server.starts_with("https://") || server.starts_with("http://");
            if !ok || server.parse::<actix_web::http::Uri>().is_err() {
                return Err(SettingsError::Refused(format!(
                    "OAUTH_AUTHORIZATION_SERVERS: {server:?} is not an issuer URL such as https://id.example.com"
                )));
            }
        }
        if !(self.database_timeout.is_finite() && self.database_timeout > 0.0) {
            return Err(SettingsError::Refused(
                "DATABASE_TIMEOUT must be a positive number of seconds".into(),
            ));
        }
        self.webhook_policy()
            .map_err(|e| SettingsError::Refused(format!("WEBHOOK_ALLOWED_HOSTS: {e}")))?;
        self.webhook_retries()
            .map_err(|e| SettingsError::Refused(format!("WEBHOOK_RETRY_SCHEDULE: {e}")))?;
        self.webhook_ca_certs().map_err(SettingsError::Refused)?;
        for (name, seconds) in [
            ("WEBHOOK_CONNECT_TIMEOUT", self.webhook_connect_timeout),
            ("WEBHOOK_TIMEOUT", self.webhook_timeout),
            (
                "WEBHOOK_SECRET_GRACE_HOURS",
                self.webhook_secret_grace_hours,
            ),
            ("WEBHOOK_SWEEP_INTERVAL", self.webhook_sweep_interval),
        ] {
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(SettingsError::Refused(format!(
                    "{name} must be a positive number"
                )));
            }
        }
        if !["background", "normal"].contains(&self.webhook_priority.as_str()) {
            return Err(SettingsError::Refused(
                "WEBHOOK_PRIORITY must be background or normal".into(),
            ));
        }
        if self.webhook_max_endpoints == 0 {
            return Err(SettingsError::Refused(
                "WEBHOOK_MAX_ENDPOINTS must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Where webhooks may be delivered (`WEBHOOK_ALLOWED_HOSTS`).
    pub fn webhook_policy(&self) -> Result<crate::domain::webhook::AddressPolicy, String> {
        crate::domain::webhook::AddressPolicy::parse(split_list(&self.webhook_allowed_hosts))
    }

    /// The CA certificates of `WEBHOOK_CA_FILE` (none when it is not set).
    pub fn webhook_ca_certs(
        &self,
    ) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let path = &self.webhook_ca_file;
        if path.is_empty() {
            return Ok(Vec::new());
        }
        let refused = |why: String| format!("WEBHOOK_CA_FILE {path}: {why}");
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| refused(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refused(e.to_string()))?;
        if certs.is_empty() {
            return Err(refused("holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    /// The waits before each retry of a failed webhook delivery.
    pub fn webhook_retries(&self) -> Result<Vec<Duration>, String> {
        let waits = split_list(&self.webhook_retry_schedule)
            .map(parse_wait)
            .collect::<Result<Vec<_>, _>>()?;
        if waits.is_empty() {
            return Err("name at least one wait, e.g. \"5s, 1m, 1h\"".into());
        }
        Ok(waits)
    }

    /// Whether reminders are scheduled through the Dapr Jobs API.
    pub fn dapr_jobs(&self) -> bool {
        self.reminder_scheduler == "dapr-jobs"
    }

    /// The pub/sub component `task-updates` is subscribed on.
    pub fn updates_pubsub(&self) -> &str {
        if self.dapr_updates_pubsub_name.is_empty() {
            &self.dapr_pubsub_name
        } else {
            &self.dapr_updates_pubsub_name
        }
    }

    /// The sidecar's base URL.
    pub fn dapr_base_url(&self) -> String {
        match &self.dapr_http_endpoint {
            Some(endpoint) if !endpoint.is_empty() => endpoint.trim_end_matches('/').to_owned(),
            _ => format!("http://127.0.0.1:{}", self.dapr_http_port),
        }
    }

    pub fn database_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.database_timeout)
    }

    /// The reverse proxies named by `TRUSTED_PROXIES`.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        split_list(&self.trusted_proxies)
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{item:?} is neither an address nor a CIDR range"))
            })
            .collect()
    }

    /// The origins named by `CORS_ALLOWED_ORIGINS`.
    pub fn cors_allowed_origins(&self) -> Vec<&str> {
        split_list(&self.cors_allowed_origins).collect()
    }

    /// The issuers named by `OAUTH_AUTHORIZATION_SERVERS`.
    pub fn oauth_authorization_servers(&self) -> Vec<&str> {
        split_list(&self.oauth_authorization_servers).collect()
    }

    /// `PUBLIC_URL` without a trailing slash, if set and an http(s) URL
    /// with a host.
    pub fn public_origin(&self) -> Option<&str> {
        let url = self.public_url.trim_end_matches('/');
        let uri = url.parse::<actix_web::http::Uri>().ok()?;
        let web = matches!(uri.scheme_str(), Some("http" | "https"));
        (web && uri.host().is_some_and(|h| !h.is_empty())).then_some(url)
    }

    /// The `Host` values the MCP endpoint accepts; `None`: any.
    pub fn mcp_allowed_hosts(&self) -> Option<Vec<String>> {
        let listed: Vec<&str> = split_list(&self.mcp_allowed_hosts).collect();
        if listed.contains(&"*") {
            return None;
        }
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .chain(listed)
            .map(str::to_owned)
            .collect();
        if let Some(host) = self
            .public_origin()
            .and_then(|url| url.parse::<actix_web::http::Uri>().ok())
            .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()))
        {
            hosts.push(host);
        }
        Some(hosts)
    }

    pub fn retention_interval(&self) -> Duration {
        Duration::from_secs_f64(self.retention_interval)
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `5s`, `1.5m`, `2h`, `1d` (or plain seconds).
fn parse_wait(item: &str) -> Result<Duration, String> {
    let (number, unit) = match item.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => item.split_at(i),
        None => (item, "s"),
    };
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("{item:?}: the unit is ms, s, m, h or d")),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok())
        .ok_or_else(|| format!("{item:?} is not a wait such as 30s or 2h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn runs_on_defaults_without_a_config_dir() {
        let s = Settings::load_from(Path::new("/nonexistent"), &[]).expect("defaults load");
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.database_url, "sqlite://taskstream.db");
        assert_eq!(s.taskstream_env, RunEnv::Development);
    }

    #[test]
    fn environment_overrides_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("default.toml"),
            "port = 9000\nlog_level = \"debug\"\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("production.toml"), "port = 9100\n").expect("write");
        let s = Settings::load_from(
            dir.path(),
            &env(&[
                ("TASKSTREAM_ENV", "production"),
                ("JWT_SECRET", "0123456789abcdef0123"),
                ("LOG_FORMAT", "pretty"),
            ]),
        )
        .expect("load");
        assert_eq!(s.port, 9100);
        assert_eq!(s.log_level, "debug");
        assert_eq!(s.log_format, LogFormat::Pretty);
        let s = Settings::load_from(dir.path(), &env(&[("PORT", "7000")])).expect("load");
        assert_eq!(s.port, 7000);
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[("TASKSTREAM_ENV", "production")]),
        )
        .expect_err("must refuse");
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn production_with_dapr_requires_an_app_api_token() {
        let base = [
            ("TASKSTREAM_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123"),
        ];
        for dapr in [
            ("DAPR_ENABLED", "true"),
            ("REMINDER_SCHEDULER", "dapr-jobs"),
        ] {
            let mut vars = base.to_vec();
            vars.push(dapr);
            let err = Settings::load_from(Path::new("/nonexistent"), &env(&vars))
                .expect_err("must refuse");
            assert!(err.to_string().contains("APP_API_TOKEN"), "{err}");
            vars.push(("APP_API_TOKEN", "dapr-to-app-token"));
            assert!(Settings::load_from(Path::new("/nonexistent"), &env(&vars)).is_ok());
        }
        // Without Dapr there is nothing for the token to guard.
        assert!(Settings::load_from(Path::new("/nonexistent"), &env(&base)).is_ok());
    }

    #[test]
    fn proxies_and_origins_are_checked() {
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[
                ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
                ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
            ]),
        )
        .expect("load");
        assert_eq!(s.trusted_proxies().unwrap().len(), 2);
        assert_eq!(s.cors_allowed_origins(), ["https://app.example.com"]);
        for (key, bad) in [
            ("TRUSTED_PROXIES", "proxy.local"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("PUBLIC_URL", "tasks.example.com"),
            ("PUBLIC_URL", "ftp://tasks.example.com"),
            ("OAUTH_AUTHORIZATION_SERVERS", "id.example.com"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
            ("DAPR_JOBS_API_VERSION", "v2"),
            ("WEBHOOK_PRIORITY", "high"),
        ] {
            let err = Settings::load_from(Path::new("/nonexistent"), &env(&[(key, bad)]))
                .expect_err("must refuse");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn task_updates_use_the_main_component_unless_another_is_named() {
        let s = Settings::load_from(Path::new("/nonexistent"), &[]).unwrap();
        assert_eq!(s.updates_pubsub(), "pubsub-kafka");
        assert_eq!(s.dapr_jobs_api_version, "v1.0");
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[
                ("DAPR_UPDATES_PUBSUB_NAME", "pubsub-kafka-broadcast"),
                ("DAPR_JOBS_API_VERSION", "v1.0-alpha1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.updates_pubsub(), "pubsub-kafka-broadcast");
        assert_eq!(s.dapr_pubsub_name, "pubsub-kafka");
    }

    #[test]
    fn webhook_retries_read_units_and_refuse_nonsense() {
        let s = Settings::load_from(Path::new("/nonexistent"), &[]).unwrap();
        let waits = s.webhook_retries().unwrap();
        let total: Duration = waits.iter().sum();
        assert_eq!(waits[0], Duration::from_secs(5));
        assert_eq!(total, Duration::from_secs(71 * 3600 + 36 * 60 + 5));
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[("WEBHOOK_RETRY_SCHEDULE", "50ms, 1.5m, 2")]),
        )
        .unwrap();
        assert_eq!(
            s.webhook_retries().unwrap(),
            [
                Duration::from_millis(50),
                Duration::from_secs(90),
                Duration::from_secs(2)
            ]
        );
        for bad in ["5 weeks", "-1s", "soon", ","] {
            let err = Settings::load_from(
                Path::new("/nonexistent"),
                &env(&[("WEBHOOK_RETRY_SCHEDULE", bad)]),
            )
            .expect_err(bad);
            assert!(err.to_string().contains("WEBHOOK_RETRY_SCHEDULE"), "{err}");
        }
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[("WEBHOOK_ALLOWED_HOSTS", "10.0.0.0/33")]),
        )
        .expect_err("a bad range");
        assert!(err.to_string().contains("WEBHOOK_ALLOWED_HOSTS"), "{err}");
    }

    #[test]
    fn a_webhook_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let missing = dir.path().join("missing.pem");
        for (path, why) in [(&empty, "no PEM certificate"), (&missing, "missing.pem")] {
            let err = Settings::load_from(
                Path::new("/nonexistent"),
                &env(&[("WEBHOOK_CA_FILE", path.to_str().unwrap())]),
            )
            .expect_err(why);
            let err = err.to_string();
            assert!(
                err.starts_with("WEBHOOK_CA_FILE") && err.contains(why),
                "{err}"
            );
        }
        let s = Settings::load_from(Path::new("/nonexistent"), &[]).unwrap();
        assert!(s.webhook_ca_certs().unwrap().is_empty(), "none unless set");
    }

    #[test]
    fn bad_values_are_reported() {
        let err = Settings::load_from(Path::new("/nonexistent"), &env(&[("PORT", "eighty")]))
            .expect_err("must refuse");
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn the_mcp_endpoint_answers_to_loopback_the_public_host_and_the_listed_ones() {
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[
                ("PUBLIC_URL", "https://tasks.example.com:8443/"),
                ("MCP_ALLOWED_HOSTS", "internal.svc, other:9000"),
            ]),
        )
        .unwrap();
        assert_eq!(s.public_origin(), Some("https://tasks.example.com:8443"));
        assert_eq!(
            s.mcp_allowed_hosts().unwrap(),
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "internal.svc",
                "other:9000",
                "tasks.example.com:8443"
            ]
        );
        let any = Settings::load_from(
            Path::new("/nonexistent"),
            &env(&[("MCP_ALLOWED_HOSTS", "*")]),
        )
        .unwrap();
        assert_eq!(any.mcp_allowed_hosts(), None);
        assert_eq!(any.public_origin(), None);
    }
}
