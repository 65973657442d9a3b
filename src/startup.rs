//! Wiring: open the database, build the shared state, bind the listener and
//! start the HTTP server. `main.rs` and the tests both start the service
//! through [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use rand::Rng;
use slog::{Logger, info, warn};

use crate::clock::Clock;
use crate::db::{Db, DbError};
use crate::events::dispatcher::{self, DispatcherHandle, FanOut};
use crate::routes::{self, middleware};
use crate::service::Context;
use crate::settings::Settings;
use crate::state::AppState;
use crate::ws::hub::{CloseAll, Hub};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Context(#[from] crate::service::ContextError),
    #[error("invalid configuration: {0}")]
    Settings(String),
    #[error("could not listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A bound, running (once awaited) service.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    signals: Option<Signals>,
    dispatcher: DispatcherHandle,
    /// The reminder scheduler, the revocation watcher and the retention
    /// passes; stopped with the server.
    background: Vec<actix_rt::task::JoinHandle<()>>,
}

/// How long an idle keep-alive connection stays open: longer than the idle
/// timeouts of the clients and proxies in front of the service (load
/// balancers and ingresses keep idle upstream connections 60 s), so that
/// they close it, not we. When the server closes first, a request sent at
/// that moment on the pooled connection is lost in flight ("connection
/// closed before message completed").
const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// Events buffered per in-process subscriber before it lags (and catches up
/// from the log).
const FANOUT_CAPACITY: usize = 4096;
/// How long the dispatcher may take to flush at shutdown.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// The stop signals, once taken over.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Application {
    /// Opens and migrates the database, then binds `HOST:PORT` (port 0 picks
    /// a free port; [`Application::port`] tells which).
    pub async fn build(settings: Settings, log: Logger) -> Result<Self, StartupError> {
        let db = Db::connect(&settings).await?;
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone().into_bytes(),
            None => {
                warn!(
                    log,
                    "JWT_SECRET is not set: using a random key for this run; \
                    tokens will not survive a restart (set JWT_SECRET, required in production)"
                );
                rand::rng().random::<[u8; 32]>().to_vec()
            }
        };
        let settings = Arc::new(settings);
        let (service, receiver) =
            Context::new(settings.clone(), db, &secret, Clock::system(), log.clone())?;
        let fanout = FanOut::new(FANOUT_CAPACITY);
        let dispatcher = dispatcher::spawn(dispatcher::Parts {
            settings: settings.clone(),
            db: service.db.clone(),
            bus: service.events.clone(),
            receiver,
            fanout: fanout.clone(),
            webhooks: service.webhooks.clone(),
            metrics: service.metrics.clone(),
            log: log.clone(),
        });
        let hub = Hub::start_fed(
            &fanout,
            &service.inbound,
            &service.revocations,
            settings.instance_id.clone(),
            vec![
                settings.topic_task_updates.clone(),
                settings.topic_reminders.clone(),
            ],
        );
        let trusted_proxies = settings
            .trusted_proxies()
            .map_err(StartupError::Settings)?
            .into();
        let background = vec![
            actix_rt::spawn(crate::service::reminders::run_scheduler(service.clone())),
            actix_rt::spawn(crate::service::sessions::watch_revocations(service.clone())),
            actix_rt::spawn(crate::service::retention::run(service.clone())),
        ];
        let state = AppState {
            service,
            fanout,
            hub,
            trusted_proxies,
        };
        let settings = &state.service.settings;
        let address = format!("{}:{}", settings.host, settings.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = serve(listener, state.clone()).map_err(bind_error)?;
        Ok(Self {
            port,
            server,
            state,
            signals: None,
            dispatcher,
            background,
        })
    }

    /// Takes over SIGTERM and SIGINT from here on (both stop gracefully).
    /// Installed before the service says it is listening, so a signal that
    /// arrives at any point after that is handled, never fatal.
    pub fn handle_signals(mut self) -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        self.signals = Some(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        });
        Ok(self)
    }

    /// Logs where the service is reachable.
    pub fn announce(&self) {
        let settings = &self.state.service.settings;
        info!(self.state.service.log, "listening";
            "address" => format!("http://{}:{}", settings.host, self.port),
            "database" => format!("{:?}", self.state.service.db.backend()),
            "env" => settings.taskstream_env.as_str(),
            "instance" => &settings.instance_id);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests, embedding).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. With [`Application::handle_signals`], SIGTERM
    /// or SIGINT stops it gracefully: stop accepting, finish in-flight
    /// requests (up to 30 s), return.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            signals,
            state,
            dispatcher,
            background,
            ..
        } = self;
        let result = match signals {
            None => server.await,
            Some(mut signals) => {
                let handle = server.handle();
                let mut server = std::pin::pin!(server);
                let signal = tokio::select! {
                    result = &mut server => return finish(result, dispatcher, background).await,
                    _ = signals.term.recv() => "SIGTERM",
                    _ = signals.int.recv() => "SIGINT",
                };
                info!(state.service.log, "stopping gracefully"; "signal" => signal);
                // WebSockets never finish by themselves: close them (1001)
                // so the server's graceful stop does not wait on them.
                let _ = state.hub.send(CloseAll).await;
                // The server future processes the stop command: poll both.
                let ((), result) = tokio::join!(handle.stop(true), server);
                result
            }
        };
        finish(result, dispatcher, background).await
    }
}

/// Ordered shutdown, once no request is in flight any more: the dispatcher
/// publishes what is still pending (within a deadline) and stops.
async fn finish(
    result: std::io::Result<()>,
    dispatcher: DispatcherHandle,
    background: Vec<actix_rt::task::JoinHandle<()>>,
) -> std::io::Result<()> {
    // No new reminders fire; what fired is already in the log. A retention
    // batch cut short rolls back and is redone next time.
    for task in background {
        task.abort();
    }
    dispatcher.shutdown(FLUSH_DEADLINE).await;
    result
}

/// Cross-origin access for the configured origins only (CORS stays closed
/// when none are configured: browsers then refuse cross-origin reads).
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::{Method, header};
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            middleware::REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            middleware::REQUEST_ID,
        ])
        .max_age(3600)
}

fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = match state.service.settings.workers {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let origins: Vec<String> = state
        .service
        .settings
        .cors_allowed_origins()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mcp = crate::mcp::service(state.service.clone());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let static_dir = data.service.settings.static_dir.clone();
        let mut app = App::new()
            .app_data(data.clone())
            // Every body extractor stops reading at the limit, whatever the
            // Content-Length says (chunked bodies included).
            .app_data(web::PayloadConfig::new(routes::extract::MAX_BODY_BYTES))
            .wrap(
                ErrorHandlers::new()
                    .default_handler_client(middleware::json_error_body)
                    .default_handler_server(middleware::json_error_body),
            )
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(from_fn(middleware::request_context))
            .configure(routes::configure)
            .configure(|cfg| crate::mcp::configure(cfg, &mcp));
        if static_dir.is_dir() {
            app = app.service(actix_files::Files::new("/", static_dir).index_file("index.html"));
        }
        app
    })
    .workers(workers)
    // Without it a response written in two parts (headers, then a streamed
    // body such as a static file) waits for the client's delayed ACK: 40 ms
    // per request on keep-alive connections.
    .tcp_nodelay(true)
    .keep_alive(KEEP_ALIVE)
    .shutdown_timeout(30)
    // Signals are ours (see Application::handle_signals), not actix's.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
