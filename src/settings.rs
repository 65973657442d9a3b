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
    /// Dapr pub/sub component to publish through.
    pub dapr_pubsub_name: String,
    /// Seconds allowed per publish call.
    pub dapr_publish_timeout: f64,
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
            dapr_publish_timeout: 2.0,
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
            ws_ping_interval: 10.0,
            ws_client_timeout: 30.0,
            ws_session_queue: 1024,
            reminder_scheduler: "builtin".into(),
        }
    }
}

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
    "DAPR_PUBLISH_TIMEOUT",
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
    "WS_PING_INTERVAL",
    "WS_CLIENT_TIMEOUT",
    "WS_SESSION_QUEUE",
    "REMINDER_SCHEDULER",
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
        if !(self.database_timeout.is_finite() && self.database_timeout > 0.0) {
            return Err(SettingsError::Refused(
                "DATABASE_TIMEOUT must be a positive number of seconds".into(),
            ));
        }
        Ok(())
    }

    /// Whether reminders are scheduled through the Dapr Jobs API.
    pub fn dapr_jobs(&self) -> bool {
        self.reminder_scheduler == "dapr-jobs"
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
    fn bad_values_are_reported() {
        let err = Settings::load_from(Path::new("/nonexistent"), &env(&[("PORT", "eighty")]))
            .expect_err("must refuse");
        assert!(err.to_string().contains("port"), "{err}");
    }
}
