//! The operator's HTTP endpoints on `[http] listen`: `GET /metrics` (OpenMetrics text, queue
//! depths read from Redis at scrape time), `GET /healthz` (the process answers) and `GET /readyz`
//! (Redis answers, every worker runs, the plugins are loaded, no shutdown under way).
//!
//! The server starts before the plugins load, so `/healthz` answers while `/readyz` still says
//! why the host is not ready, and stops after the workers, so `/readyz` reports the shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::queue::RedisConn;

/// How long `/readyz` waits for Redis to answer PING, and `/metrics` for the queue counts.
const REDIS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a stop waits for requests in flight before dropping them.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/readyz` checks: Redis (asked at each request) and the states `app::run` reports.
#[derive(Debug)]
pub struct Health {
    redis: RedisConn,
    plugins_loaded: AtomicBool,
    workers_expected: AtomicUsize,
    workers_running: Arc<AtomicUsize>,
    stopping: AtomicBool,
}

/// Held by a running worker task; dropping it (the worker stopped, failed or panicked) makes
/// the host not ready.
#[derive(Debug)]
pub struct WorkerRunning(Arc<AtomicUsize>);

impl Drop for WorkerRunning {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Health {
    /// Nothing loaded, no worker running yet; `redis` is pinged by each readiness check.
    pub fn new(redis: RedisConn) -> Self {
        Self {
            redis,
            plugins_loaded: AtomicBool::new(false),
            workers_expected: AtomicUsize::new(0),
            workers_running: Arc::new(AtomicUsize::new(0)),
            stopping: AtomicBool::new(false),
        }
    }

    /// The plugins (first-party and the plugins directory) have been loaded.
    pub fn set_plugins_loaded(&self) {
        self.plugins_loaded.store(true, Ordering::Release);
    }

    /// Counts a worker as running until the returned guard is dropped.
    pub fn worker_running(&self) -> WorkerRunning {
        self.workers_running.fetch_add(1, Ordering::AcqRel);
        WorkerRunning(self.workers_running.clone())
    }

    /// Every worker has been started: `count` of them must be running for the host to be ready.
    pub fn set_workers_expected(&self, count: usize) {
        self.workers_expected.store(count, Ordering::Release);
    }

    /// A shutdown has begun: the host is no longer ready.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// `Ok` when the host is ready to take jobs, else why not.
    pub async fn readiness(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Acquire) {
            return Err("shutting down".to_owned());
        }
        if !self.plugins_loaded.load(Ordering::Acquire) {
            return Err("plugins not loaded yet".to_owned());
        }
        let expected = self.workers_expected.load(Ordering::Acquire);
        let running = self.workers_running.load(Ordering::Acquire);
        if expected == 0 || running < expected {
            return Err(format!("workers: {running} of {expected} running"));
        }
        let mut conn = self.redis.clone();
        let ping = redis::cmd("PING");
        let ping = ping.query_async::<String>(&mut conn);
        match tokio::time::timeout(REDIS_PROBE_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("redis: {error}")),
            Err(_) => Err(format!(
                "redis: no answer to PING within {} ms",
                REDIS_PROBE_TIMEOUT.as_millis()
            )),
        }
    }
}

/// Lists the plugins served now as `(name, origin, version)`.
pub type ServingPlugins = Arc<dyn Fn() -> Vec<(String, String, String)> + Send + Sync>;

/// What the endpoints serve from.
#[derive(Clone)]
pub struct Endpoints {
    /// The host's metrics.
    pub metrics: Arc<Metrics>,
    /// The readiness state.
    pub health: Arc<Health>,
    /// Where the queue depths are read at scrape time.
    pub redis: RedisConn,
    /// Bull's key prefix.
    pub prefix: String,
    /// The queues whose depths `/metrics` reports.
    pub queues: Vec<String>,
    /// The plugins served now, `(name, origin, version)`, read at scrape time.
    pub serving: Option<ServingPlugins>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("prefix", &self.prefix)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

/// The running server.
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Binds `listen` (port 0 picks a free port) and serves the endpoints on a task.
    pub async fn start(listen: SocketAddr, endpoints: Endpoints) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| {
                format!(
                    "http.listen: cannot listen on {listen} (set [http] listen to a free address, \
                     or \"127.0.0.1:0\" for any free port)"
                )
            })?;
        let local_addr = listener
            .local_addr()
            .context("http.listen: reading the bound address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router(endpoints)).with_graceful_shutdown(async move {
            let _ = stopped.await;
            tracing::debug!(address = %local_addr, "the HTTP server is stopping");
        });
        let task = tokio::spawn(async move {
            match server.await {
                Ok(()) => tracing::debug!(address = %local_addr, "the HTTP server stopped"),
                Err(error) => tracing::error!(%error, "the HTTP server failed"),
            }
        });
        Ok(Self {
            local_addr,
            stop,
            task,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits (a bounded time) for requests in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// The routes, for serving on any listener.
pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(endpoints))
}

async fn metrics(State(endpoints): State<Arc<Endpoints>>) -> Response {
    if let Some(serving) = &endpoints.serving {
        endpoints.metrics.set_serving(serving());
    }
    let sample = endpoints.metrics.sample_queue_depths(
        &endpoints.redis,
        &endpoints.prefix,
        &endpoints.queues,
    );
    match tokio::time::timeout(REDIS_PROBE_TIMEOUT, sample).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "reading queue depths for /metrics failed"),
        Err(_) => tracing::warn!("reading queue depths for /metrics timed out"),
    }
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        endpoints.metrics.encode(),
    )
        .into_response()
}

async fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "alive" }))
}

async fn readyz(State(endpoints): State<Arc<Endpoints>>) -> Response {
    match endpoints.health.readiness().await {
        Ok(()) => json(StatusCode::OK, serde_json::json!({ "ready": true })),
        Err(reason) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "ready": false, "reason": reason }),
        ),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
