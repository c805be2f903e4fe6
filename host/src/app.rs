//! The running host: connects to Redis, loads the plugins, starts one worker per queue (the
//! seed's inbound queues and the gateway queue feed the [`Dispatcher`], the execution queue
//! feeds the [`Executor`]) and stops them gracefully.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::config::Config;
use crate::discord::fetch::FetchPolicy;
use crate::discord::gateway::{self, GatewayIntents, GatewaySettings, Shards};
use crate::discord::recent::RecentActions;
use crate::discord::rest::{
    RateLimitObserver, RestMode, SerenityDiscord, http_client, observed_http_client,
};
use crate::discord::voice::{PlayerConfig, SongbirdPlayer, SourceConfig};
use crate::discord::{
    Action, Discord, DiscordError, DryRun, Interactions, Outcome, Registration, TargetLookup,
};
use crate::dispatch::budget::OutputBudget;
use crate::dispatch::routes::{EXECUTE_QUEUE, GATEWAY_QUEUE, INBOUND_QUEUES};
use crate::dispatch::targets::TargetDirectory;
use crate::dispatch::{
    CommandJobs, Dispatcher, DryRunLog, Executor, GuildConfigStore, KvGuilds, RedisKv,
};
use crate::http::{Endpoints, Health, HttpServer, WorkerRunning};
use crate::metrics::Metrics;
use crate::protocol::{Envelope, Message, Payload, Source};
use crate::queue::{JobHandler, RedisConn, Worker, WorkerOptions};
use crate::runtime::lanes::Lanes;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::PluginStore;
use crate::store::commands::{StoreCommands, StoreContext};
use crate::store::sync::StoreSync;

/// How long past the workers' shutdown timeout the host waits for them before giving up.
const WORKER_STOP_MARGIN: Duration = Duration::from_secs(10);

/// How often the plugins directory is checked for added, replaced or removed plugins.
const PLUGIN_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Bull worker options for `queue` from the operator's settings.
pub fn worker_options(config: &Config, queue: &str) -> WorkerOptions {
    let settings = config.queue(queue);
    WorkerOptions {
        concurrency: settings.concurrency,
        lock_duration: Duration::from_millis(settings.lock_duration_ms),
        // Renewed four times per lock: a host late by up to three renewals keeps its jobs.
        lock_renew_time: Some(Duration::from_millis(settings.lock_duration_ms / 4)),
        stalled_interval: Duration::from_millis(settings.stalled_interval_ms),
        max_stalled_count: settings.max_stalled_count,
        ..WorkerOptions::default()
    }
}

/// Runs the host until `shutdown` resolves, then finishes or releases in-flight jobs.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    run_serving(config, shutdown, |_| {}).await
}

/// How long startup waits at most between two tries of a step that needs Redis.
const REDIS_RETRY_CEILING: Duration = Duration::from_secs(5);

/// Connects to Redis, waiting for it while nothing answers (a host started before its Redis, or
/// during a restart, comes up on its own once Redis does); a refusal that waiting cannot fix (a
/// wrong password, a bad URL) fails at once.
async fn connect_when_redis_answers(config: &Config) -> anyhow::Result<RedisConn> {
    let url = crate::config::redact_url(&config.redis.url);
    let mut wait = Duration::from_millis(250);
    loop {
        match RedisConn::connect(&config.redis.url).await {
            Ok(conn) => return Ok(conn),
            Err(error) if error.is_transient() => {
                tracing::warn!(
                    %url,
                    %error,
                    retry_in_ms = wait.as_millis() as u64,
                    "Redis does not answer yet; waiting for it"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(REDIS_RETRY_CEILING);
            }
            Err(error) => {
                return Err(error).with_context(|| format!("connecting to Redis at {url}"));
            }
        }
    }
}

/// Registers the configured schedules, trying again while Redis is unavailable (until the host
/// stops); a schedule that is wrong is reported once.
async fn register_schedules(conn: RedisConn, config: Arc<Config>, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_millis(250);
    loop {
        match crate::scheduler::register(&conn, &config).await {
            Ok(report) => {
                tracing::info!(
                    registered = report.registered.len(),
                    kept = report.kept.len(),
                    removed = report.removed.len(),
                    "schedules in place"
                );
                return;
            }
            Err(crate::scheduler::ScheduleError::Queue(error)) if error.is_transient() => {
                tracing::warn!(
                    %error,
                    retry_in_ms = wait.as_millis() as u64,
                    "registering the schedules failed; trying again"
                );
            }
            Err(error) => {
                tracing::error!(%error, "registering the schedules failed");
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = (wait * 2).min(REDIS_RETRY_CEILING);
    }
}

/// [`run`], handing `serving` the address of the HTTP endpoints once they listen (`[http]
/// listen` may ask for port 0; tests learn the port this way instead of guessing a free one).
pub async fn run_serving(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
    serving: impl FnOnce(std::net::SocketAddr) + Send,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let prefix = config.redis.prefix.clone();
    let mut shutdown = std::pin::pin!(shutdown);
    let conn = tokio::select! {
        conn = connect_when_redis_answers(&config) => conn?,
        () = shutdown.as_mut() => {
            tracing::info!("stopped before Redis answered");
            return Ok(());
        }
    };
    tracing::info!(
        url = %crate::config::redact_url(&config.redis.url),
        prefix = %prefix,
        "connected to Redis"
    );
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(conn.clone()));
    // The runtime starts after the endpoints; /metrics lists its plugins once it exists.
    let serving_runtime: Arc<std::sync::OnceLock<Arc<Runtime>>> = Arc::default();
    let served_by = serving_runtime.clone();
    let endpoints = Endpoints {
        serving: Some(Arc::new(move || {
            let Some(runtime) = served_by.get() else {
                return Vec::new();
            };
            runtime
                .registry()
                .plugins()
                .iter()
                .map(|plugin| {
                    (
                        plugin.name().to_owned(),
                        plugin.origin().to_string(),
                        plugin.manifest().version.clone(),
                    )
                })
                .collect()
        })),
        metrics: metrics.clone(),
        health: health.clone(),
        redis: conn.clone(),
        prefix: prefix.clone(),
        queues: crate::ops::known_queues()
            .into_iter()
            .map(String::from)
            .collect(),
    };
    let http = HttpServer::start(config.http.listen, endpoints).await?;
    tracing::info!(address = %http.local_addr(), "serving /metrics, /healthz and /readyz");
    serving(http.local_addr());

    let kv = Arc::new(RedisKv::new(conn.clone(), &prefix));
    let runtime = Arc::new(
        Runtime::new(
            RuntimeConfig {
                // A restart (and a host catching up with the store) loads what it compiled before.
                cache_dir: Some(config.plugins.artifact_dir()),
                breaker: config.plugins.breaker.policy(),
                ..RuntimeConfig::default()
            },
            kv,
        )
        .context("starting the plugin runtime")?,
    );
    let _ = serving_runtime.set(runtime.clone());
    if config.plugins.first_party {
        for (name, outcome) in crate::bundled::install(&runtime) {
            match outcome {
                Ok(()) => tracing::info!(plugin = name, "first-party plugin loaded"),
                Err(error) => {
                    tracing::error!(plugin = name, %error, "first-party plugin failed to load")
                }
            }
        }
    }
    std::fs::create_dir_all(&config.plugins.dir).with_context(|| {
        format!(
            "creating the plugins directory {}",
            config.plugins.dir.display()
        )
    })?;
    let report = runtime.scan_dir(&config.plugins.dir);
    tracing::info!(dir = %config.plugins.dir.display(), ?report, "plugins loaded");
    health.set_plugins_loaded();
    let _watcher = runtime
        .watch(config.plugins.dir.clone(), PLUGIN_WATCH_INTERVAL)
        .context("watching the plugins directory")?;
    let lanes = Arc::new(Lanes::new(lane_threads()).context("starting the plugin threads")?);

    let mut discord_side = tokio::task::JoinSet::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (discord, dry_run_log, lookup) = match &config.discord.token {
        None => {
            tracing::warn!(
                "no Discord token configured ([discord] token or DISCORD_TOKEN): running dry, \
                 actions are logged and recorded in {}",
                DryRunLog::key(&prefix)
            );
            let log = DryRunLog::new(conn.clone(), &prefix);
            (Boundary::Dry(DryRun), Some(log), None)
        }
        Some(token) => {
            let intents = gateway_intents(&config, &runtime)?;
            let live = connect_discord(
                token,
                &config,
                intents,
                &conn,
                &metrics,
                &stop_rx,
                &mut discord_side,
            )?;
            let lookup: Arc<dyn TargetLookup> =
                Arc::new(SerenityDiscord::new(live.http().clone(), Arc::default()));
            (Boundary::Live(Box::new(live)), None, Some(lookup))
        }
    };
    let executor = Arc::new(
        Executor::new(discord, config.clone(), dry_run_log)
            .with_metrics(metrics.clone())
            .with_plugins(runtime.clone()),
    );
    let dispatcher = Arc::new(
        Dispatcher::new(
            runtime.clone(),
            lanes.clone(),
            GuildConfigStore::new(conn.clone(), &prefix),
            config.clone(),
        )
        .with_metrics(metrics.clone())
        .with_targets(Arc::new(TargetDirectory::new(lookup)))
        .with_budget(OutputBudget::new(
            config.plugins.budget.clone(),
            Some((conn.clone(), &prefix)),
        ))
        .with_kv_guilds(KvGuilds::new(conn.clone(), &prefix))
        .with_commands(CommandJobs::new(
            conn.clone(),
            &prefix,
            config.clone(),
            executor.clone(),
        )),
    );
    let store = PluginStore::new(conn.clone(), &prefix);
    let store_sync = config.plugins.store.enabled.then(|| {
        Arc::new(StoreSync::new(
            store.clone(),
            runtime.clone(),
            config.plugins.guild_policy.clone(),
        ))
    });
    if let Some(sync) = &store_sync {
        // Before the workers: a host started after an install serves it from its first message.
        match sync.reconcile().await {
            Ok(report) => tracing::info!(?report, "plugin store loaded"),
            Err(error) => {
                tracing::error!(%error, "reading the plugin store failed; the periodic check retries")
            }
        }
        tokio::spawn(sync.clone().run(
            Duration::from_millis(config.plugins.store.reconcile_interval_ms),
            stop_rx.clone(),
        ));
    }
    let handler = Arc::new(StoreCommands::new(
        StoreContext {
            store,
            runtime: runtime.clone(),
            config: config.clone(),
            guild_config: GuildConfigStore::new(conn.clone(), &prefix),
            sync: store_sync,
            compiles: crate::store::commands::compile_slots(),
        },
        dispatcher.clone(),
    ));
    let mut workers = tokio::task::JoinSet::new();
    // Bull gives each job to one consumer: the queues the API owns are left to it.
    let (consumed, left): (Vec<&str>, Vec<&str>) = INBOUND_QUEUES
        .iter()
        .map(|q| q.as_str())
        .partition(|q| config.consumes(q));
    tracing::info!(?consumed, left_to_the_api = ?left, "queue ownership");
    let dispatched = consumed.into_iter().chain([GATEWAY_QUEUE]);
    for queue in dispatched {
        spawn_worker(
            &mut workers,
            &conn,
            &config,
            queue,
            metrics.meter(handler.clone()),
            stop_rx.clone(),
            health.worker_running(),
        );
    }
    spawn_worker(
        &mut workers,
        &conn,
        &config,
        EXECUTE_QUEUE,
        metrics.meter(executor),
        stop_rx.clone(),
        health.worker_running(),
    );
    health.set_workers_expected(workers.len());
    tracing::info!(queues = workers.len(), "guildhost is running");
    // The host does its main work meanwhile; schedules other hosts registered still run.
    tokio::spawn(register_schedules(
        conn.clone(),
        config.clone(),
        stop_rx.clone(),
    ));

    shutdown.await;
    health.set_stopping();
    tracing::info!("shutting down: finishing jobs in flight, releasing the rest");
    let _ = stop_tx.send(true);
    // Workers finish in-flight jobs within their shutdown timeout; one whose Redis is gone for
    // good could wait on a reconnection forever, so the host gives up a little later (its jobs'
    // locks expire and the stalled check hands them to another host).
    let longest = INBOUND_QUEUES
        .iter()
        .map(|q| q.as_str())
        .chain([GATEWAY_QUEUE, EXECUTE_QUEUE])
        .map(|q| worker_options(&config, q).shutdown_timeout)
        .max()
        .unwrap_or_default();
    let joined_all = async {
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok((queue, Ok(stats))) => tracing::info!(%queue, ?stats, "worker stopped"),
                Ok((queue, Err(e))) => tracing::error!(%queue, error = %e, "worker failed"),
                Err(e) => tracing::error!(error = %e, "worker task panicked"),
            }
        }
    };
    if tokio::time::timeout(longest + WORKER_STOP_MARGIN, joined_all)
        .await
        .is_err()
    {
        tracing::error!(
            "workers did not stop in time (is Redis reachable?): leaving their jobs to the stalled check"
        );
        workers.abort_all();
    }
    // The gateway closes on the stop signal; the forwarding tasks drain what it sent, but the
    // voice player's event stream lives as long as the player, so they get a deadline.
    let drained = async { while discord_side.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .is_err()
    {
        discord_side.abort_all();
    }
    http.stop().await;
    Ok(())
}

/// The intents the gateway asks for: the configured ones, else what the plugins loaded at start
/// subscribe to (a plugin added later that needs more gets them at the next start).
fn gateway_intents(config: &Config, runtime: &Runtime) -> anyhow::Result<GatewayIntents> {
    if let Some(names) = &config.discord.intents {
        return gateway::parse_intents(names)
            .map_err(|problem| anyhow::anyhow!("discord.intents{problem}"));
    }
    let plugins = runtime.registry().plugins();
    let subscribed = plugins
        .iter()
        .flat_map(|plugin| plugin.manifest().subscribes.iter().map(String::as_str));
    Ok(gateway::intents_for(subscribed))
}

/// The Discord this host executes against: dry without a token, serenity with one.
enum Boundary {
    Dry(DryRun),
    Live(Box<SerenityDiscord>),
}

impl Discord for Boundary {
    async fn execute(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        match self {
            Self::Dry(dry) => dry.execute(action).await,
            Self::Live(live) => live.execute(action).await,
        }
    }

    async fn verify_token(&self) -> Result<(), DiscordError> {
        match self {
            Self::Dry(dry) => dry.verify_token().await,
            Self::Live(live) => live.verify_token().await,
        }
    }

    async fn register_commands(
        &self,
        registration: Registration<'_>,
    ) -> Result<Outcome, DiscordError> {
        match self {
            Self::Dry(dry) => dry.register_commands(registration).await,
            Self::Live(live) => live.register_commands(registration).await,
        }
    }
}

/// Starts Discord's side for `token`: the REST executor (with the voice player), the gateway
/// client, and the task that carries gateway events and track ends onto the gateway queue.
/// They stop when `stop` turns true.
fn connect_discord(
    token: &str,
    config: &Arc<Config>,
    intents: GatewayIntents,
    conn: &RedisConn,
    metrics: &Arc<Metrics>,
    stop: &watch::Receiver<bool>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<SerenityDiscord> {
    let mode = match &config.discord.proxy {
        Some(base) => RestMode::Proxy(base.clone()),
        None => RestMode::Direct,
    };
    tracing::info!(?mode, "executing against Discord");
    let fetch = FetchPolicy::from_config(&config.discord.fetch)
        .context("the [discord.fetch] configuration")?;
    let (player, mut track_ends) = SongbirdPlayer::new(PlayerConfig {
        sources: SourceConfig {
            media_dir: config.discord.media_dir.clone(),
            fetch: fetch.clone(),
            ..SourceConfig::default()
        },
        ..PlayerConfig::default()
    })
    .context("starting the voice player")?;
    let player = Arc::new(player);
    let recent = Arc::new(RecentActions::default());
    let interactions = Arc::new(Interactions::default());
    let observer: RateLimitObserver = {
        let metrics = metrics.clone();
        Arc::new(move |route, waited| metrics.discord_rate_limited(route, waited))
    };
    let http = observed_http_client(token, &mode, observer);
    let discord = SerenityDiscord::new(Arc::new(http), recent.clone())
        .with_fetch_policy(fetch)
        .with_voice(player.clone())
        .with_interactions(interactions.clone());

    let (events, received) = tokio::sync::mpsc::channel(1024);
    tasks.spawn(crate::dispatch::ingest::forward(
        conn.clone(),
        config.clone(),
        received,
    ));
    let track_events = events.clone();
    tasks.spawn(async move {
        while let Some(ended) = track_ends.recv().await {
            let message = Message {
                envelope: Envelope::new(Source::Bot).with_guild(ended.guild),
                payload: Payload::MusicEnded(ended.music_ended()),
            };
            if track_events.send(message).await.is_err() {
                break;
            }
        }
    });
    let settings = GatewaySettings {
        http: http_client(token, &mode),
        shards: match config.discord.shards {
            Some(s) => Shards::Range {
                range: s.first..s.last + 1,
                total: s.total,
            },
            None => Shards::Automatic,
        },
        message_cache: config.discord.message_cache,
        recent,
        voice: Some(player.gateway_manager()),
        interactions,
        intents,
    };
    let mut stop = stop.clone();
    tasks.spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(error) = gateway::run(settings, events, stopped).await {
            tracing::error!(%error, "the Discord gateway stopped");
        }
    });
    Ok(discord)
}

/// Plugin calls run on their own threads (they may block on KV): one per core, at least four,
/// so that the half one guild may occupy (`Lanes::per_guild_limit`) leaves at least two for the
/// others. A call holds its thread at most its wall time, blocked or not.
fn lane_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .max(4)
}

fn spawn_worker<H: JobHandler>(
    workers: &mut tokio::task::JoinSet<(
        String,
        crate::queue::QueueResult<crate::queue::WorkerStats>,
    )>,
    conn: &RedisConn,
    config: &Config,
    queue: &str,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
    running: WorkerRunning,
) {
    let worker = Worker::new(
        conn.clone(),
        &config.redis.prefix,
        queue,
        worker_options(config, queue),
    );
    let queue = queue.to_owned();
    workers.spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let result = worker
            .run(crate::scheduler::Runs(Shared(handler)), stopped)
            .await;
        drop(running);
        (queue, result)
    });
}

/// Lets several workers share one handler.
struct Shared<H>(Arc<H>);

impl<H: JobHandler> JobHandler for Shared<H> {
    fn handle(
        &self,
        job: &crate::queue::Job,
    ) -> impl Future<Output = Result<crate::queue::Completion, crate::queue::JobFailure>> + Send
    {
        // Every line logged about a job carries its queue, id and type; the handler records the
        // guild and request id once it has decoded the message (`dispatch::annotate_job_span`).
        let span = tracing::info_span!(
            "job",
            queue = %job.queue,
            job_id = %job.id,
            r#type = %job.name,
            guild = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        self.0.handle(job).instrument(span)
    }
}

/// Resolves when the process receives SIGINT or SIGTERM; a second signal exits at once.
pub async fn shutdown_signal() {
    // The listeners are made once, before the first signal, so a second one sent at any moment
    // after the first is handled is seen (a listener made later would miss it).
    let mut signals = Signals::new();
    signals.recv().await;
    tracing::warn!("signal received: stopping gracefully (send it again to exit at once)");
    tokio::spawn(async move {
        signals.recv().await;
        tracing::error!(
            "second signal: exiting now; unfinished jobs return to the queue when their locks expire"
        );
        std::process::exit(130);
    });
}

/// SIGINT and SIGTERM as one stream of stop requests.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)))
                .ok();
            Self { unix }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((interrupt, terminate)) = &mut self.unix {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `guildhost run`: reads the configuration (`path`, or the defaults when it is absent and
/// was not asked for explicitly), then runs until SIGINT/SIGTERM.
pub fn run_command(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = Config::find(path)?;
    if path.is_none() && !std::path::Path::new(crate::config::DEFAULT_FILE).exists() {
        tracing::info!("no guildhost.toml: using the defaults");
    }
    // Kept alive until the host stops; dropping it stops the child.
    let _local_redis = if crate::local_redis::is_default_url(&config.redis.url) {
        crate::local_redis::ensure_running()?
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(config, shutdown_signal()))
}
