//! Logging: slog, JSON lines by default (pretty for a terminal on request),
//! written from a background thread. Dropping the guard flushes it.

use slog::{Drain, Level, Logger, o};

use crate::settings::{LogFormat, Settings};

/// Flushes pending log lines when dropped; keep it alive until exit.
pub struct LogGuard(#[expect(dead_code, reason = "held only for its Drop")] slog_async::AsyncGuard);

/// Parses a `LOG_LEVEL` (`warn` and `warning` both work).
pub fn parse_level(s: &str) -> Level {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" | "warning" => Level::Warning,
        "error" => Level::Error,
        "critical" | "crit" => Level::Critical,
        _ => Level::Info,
    }
}

/// The service's root logger.
pub fn init(settings: &Settings) -> (Logger, LogGuard) {
    let level = parse_level(&settings.log_level);
    let drain: Box<dyn Drain<Ok = (), Err = slog::Never> + Send> = match settings.log_format {
        LogFormat::Json => Box::new(
            // A closed or full stdout must never take the service down:
            // failed writes are dropped, not escalated into a panic.
            slog_json::Json::new(std::io::stdout())
                .add_default_keys()
                .set_newlines(true)
                .build()
                .ignore_res(),
        ),
        LogFormat::Pretty => {
            let decorator = slog_term::TermDecorator::new().stdout().build();
            Box::new(slog_term::FullFormat::new(decorator).build().ignore_res())
        }
    };
    let (drain, guard) = slog_async::Async::new(drain.filter_level(level).fuse())
        .chan_size(16 * 1024)
        .thread_name("taskstream-log".into())
        .build_with_guard();
    let logger = Logger::root(drain.fuse(), o!("service" => "taskstream"));
    (logger, LogGuard(guard))
}
