//! The HTTP service: [`Application::build`] binds first (port 0 picks a free port, which tests use) and
//! serves later with [`Application::run_until_stopped`]; SIGTERM stops it gracefully (in-flight requests
//! get `shutdown_timeout_secs`). Routes live one file each under `routes/`, each with its `configure`;
//! authentication is a per-route middleware, metrics an app-wide one, and every failure goes through the
//! one [`ApiError`](error::ApiError) mapper.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tagcenter::server::{Application, config::ServerConfig};
//! let app = Application::build(ServerConfig::defaults()?).await?;
//! println!("listening on {}", app.port());
//! app.run_until_stopped().await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod config;
pub mod dto;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod render;
pub mod routes;
pub mod state;

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};

use self::config::ServerConfig;
use self::state::AppState;
use crate::inference::ModelError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configured bundle exists but cannot be served.
    #[error("cannot serve the configured bundle: {0}")]
    Bundle(#[from] ModelError),
    /// The address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The error.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server stopped with an error: {0}")]
    Run(std::io::Error),
}

/// Builds the application and serves it on a new actix system, blocking until it is stopped (SIGTERM or
/// SIGINT). `on_ready` is told the bound port first. For binaries that are not async themselves, such as
/// the training binary's `demo --serve`.
pub fn serve_blocking(config: ServerConfig, on_ready: impl FnOnce(u16)) -> Result<(), StartError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).await?;
        on_ready(app.port());
        app.run_until_stopped().await.map_err(StartError::Run)
    })
}

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

/// Registers extractor settings, every route and the JSON 404 on a service config; used by the server and
/// usable with `actix_web::test::init_service` (add the state with `app_data` first).
pub fn configure_app(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::JsonConfig::default().limit(max_body_bytes).error_handler(error::json_error(max_body_bytes)))
        .app_data(web::PayloadConfig::default().limit(max_body_bytes))
        .configure(routes::configure)
        .default_service(web::to(routes::not_found));
}

impl Application {
    /// Loads the configured bundle (if present), binds the address and prepares the server.
    pub async fn build(config: ServerConfig) -> Result<Self, StartError> {
        let state = web::Data::new(AppState::new(config));
        state.load_initial()?;
        if state.keys.is_empty() {
            tracing::warn!("no API keys configured: every /v1 route will answer 401");
        }
        let config = &state.config;
        let listener = TcpListener::bind(&config.bind)
            .map_err(|source| StartError::Bind { address: config.bind.clone(), source })?;
        let bind_err = |source| StartError::Bind { address: config.bind.clone(), source };
        let port = listener.local_addr().map_err(bind_err)?.port();
        let max_body = config.limits.max_body_bytes;
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .configure(|cfg| configure_app(cfg, max_body))
                .wrap(Compress::default())
                .wrap(from_fn(metrics::track))
        })
        .shutdown_timeout(config.shutdown_timeout_secs);
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        let server = server.listen(listener).map_err(bind_err)?.run();
        tracing::info!(address = %config.bind, port, keys = state.keys.len(), "listening");
        Ok(Self { port, server, state })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The shared state (to inspect the active model).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until stopped (SIGTERM / SIGINT, or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
