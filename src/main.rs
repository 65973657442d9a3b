//! The `taskstream` binary: load settings, start logging, run the service.
//!
//! `taskstream` serves; `taskstream healthcheck [PATH|URL]` asks the running
//! service (same settings) for `PATH`, default `/healthz`, or fetches `URL`,
//! and exits 0 on a 2xx (container health checks without a shell or curl).

use std::path::PathBuf;
use std::process::ExitCode;

use slog::{error, info};
use taskstream::settings::Settings;
use taskstream::startup::Application;
use taskstream::telemetry;

/// mimalloc: per-thread heaps, so memory freed on another thread (actix
/// workers, the database's blocking threads) costs no lock hand-off; glibc's
/// arenas spent a third of a list request's CPU in malloc and its locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: taskstream [healthcheck [PATH|URL]]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => Command::Serve,
        ["healthcheck"] => Command::Healthcheck("/healthz".into()),
        ["healthcheck", path] => Command::Healthcheck(path.into()),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        ["-V" | "--version"] => {
            println!("taskstream {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config_dir = std::env::var_os("TASKSTREAM_CONFIG_DIR")
        .map_or_else(|| PathBuf::from("config"), PathBuf::from);
    let settings = match Settings::load(&config_dir) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("taskstream: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Healthcheck(path) = command {
        return match taskstream::healthcheck::check(&settings, &path) {
            Ok(status) => {
                println!("{status}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("taskstream healthcheck: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let (log, guard) = telemetry::init(&settings);
    // actix and awc log through the `log` crate: route it into slog.
    let scope_guard = slog_scope::set_global_logger(log.clone());
    let bridge_level = match telemetry::parse_level(&settings.log_level) {
        slog::Level::Trace => log::Level::Trace,
        slog::Level::Debug => log::Level::Debug,
        slog::Level::Info => log::Level::Info,
        slog::Level::Warning => log::Level::Warn,
        slog::Level::Error | slog::Level::Critical => log::Level::Error,
    };
    let _ = slog_stdlog::init_with_level(bridge_level);

    let result = actix_rt::System::new().block_on({
        let log = log.clone();
        async move {
            let app = Application::build(settings, log).await?.handle_signals()?;
            app.announce();
            app.run_until_stopped()
                .await
                .map_err(|e| e.to_string().into())
        }
    });
    let code = match result {
        Ok(()) => {
            info!(log, "stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let err: Box<dyn std::error::Error> = err;
            error!(log, "taskstream could not run"; "error" => err.to_string());
            eprintln!("taskstream: {err}");
            ExitCode::FAILURE
        }
    };
    drop(scope_guard);
    drop(log);
    drop(guard);
    code
}

/// What the binary was asked to do.
enum Command {
    Serve,
    Healthcheck(String),
}
