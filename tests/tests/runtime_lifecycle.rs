//! Instance lifecycle and runtime services: warm reuse and recycling, fresh mode, fuel, the
//! artifact cache, KV namespacing and configuration, the circuit breaker, and per-guild ordering.

mod runtime_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhost::runtime::bindings::{Message, Output, Severity};
use guildhost::runtime::breaker::BreakerPolicy;
use guildhost::runtime::cache::CompiledFrom;
use guildhost::runtime::kv::{KvNamespace, KvQuota, KvStore};
use guildhost::runtime::lanes::{LaneKey, Lanes};
use guildhost::runtime::{GuildContext, PluginError, RuntimeConfig};
use runtime_support::{
    GUILD, config, eventually, load, load_with_manifest, message_created, ping, runtime_with,
};

#[test]
fn warm_instances_are_reused_and_recycled_after_n_calls() {
    let (runtime, _kv) = runtime_with(config());
    let echo = load_with_manifest(&runtime, "echo", |text| {
        format!("{text}\n[instance]\nmode = \"warm\"\nrecycle-after = 3\n")
    });
    let fresh: Vec<bool> = (0..7)
        .map(|index| {
            let (envelope, message) = ping(&format!("m{index}"), Some(GUILD));
            echo.call(&envelope, &message, &GuildContext::default())
                .expect("echo answers")
                .fresh_instance
        })
        .collect();
    assert_eq!(fresh, [true, false, false, true, false, false, true]);
    assert_eq!(echo.idle_instances(), 1);
}

#[test]
fn fresh_mode_uses_a_new_instance_for_every_message() {
    let (runtime, _kv) = runtime_with(config());
    let echo = load_with_manifest(&runtime, "echo", |text| {
        format!("{text}\n[instance]\nmode = \"fresh\"\n")
    });
    for index in 0..3 {
        let (envelope, message) = ping(&format!("m{index}"), Some(GUILD));
        let result = echo
            .call(&envelope, &message, &GuildContext::default())
            .expect("echo answers");
        assert!(result.fresh_instance);
    }
    assert_eq!(echo.idle_instances(), 0);
}

#[test]
fn fuel_is_reported_and_a_fuel_budget_is_enforced() {
    let (runtime, _kv) = runtime_with(config());
    let echo = load(&runtime, "echo");
    let (envelope, message) = ping("fuel", Some(GUILD));
    let used = echo
        .call(&envelope, &message, &GuildContext::default())
        .expect("echo answers")
        .fuel
        .expect("fuel is metered by default");
    assert!(used > 0);
    let starved = load_with_manifest(&runtime, "echo", |text| {
        text.replace("[limits]", &format!("[limits]\nfuel = {}", used / 4))
    });
    let failure = starved
        .call(&envelope, &message, &GuildContext::default())
        .expect_err("a quarter of the fuel is not enough");
    assert_eq!(
        failure.error,
        PluginError::Limit {
            plugin: "echo".into(),
            limit: format!("fuel {}", used / 4)
        }
    );
}

#[test]
fn compiled_components_come_from_the_artifact_cache_the_second_time() {
    let cache = tempdir("artifact-cache");
    let config = || RuntimeConfig {
        cache_dir: Some(cache.clone()),
        ..config()
    };
    let (first, _) = runtime_with(config());
    assert_eq!(load(&first, "echo").compiled_from(), CompiledFrom::Compiled);
    let (second, _) = runtime_with(config());
    let cached = load(&second, "echo");
    assert_eq!(cached.compiled_from(), CompiledFrom::Cache);
    let (envelope, message) = ping("cached", Some(GUILD));
    cached
        .call(&envelope, &message, &GuildContext::default())
        .expect("a cached artifact runs");
}

#[test]
fn a_second_load_of_the_same_bytes_shares_the_compiled_code() {
    let (runtime, _) = runtime_with(RuntimeConfig {
        cache_dir: None,
        ..config()
    });
    let first = load(&runtime, "echo");
    assert_eq!(first.compiled_from(), CompiledFrom::Compiled);
    let second = load(&runtime, "echo");
    assert_eq!(second.compiled_from(), CompiledFrom::Memory);
    // Once no plugin holds it, the code is compiled again.
    drop((first, second));
    assert_eq!(
        load(&runtime, "echo").compiled_from(),
        CompiledFrom::Compiled
    );
}

#[test]
fn kv_is_namespaced_per_plugin_and_guild_and_config_overlays_defaults() {
    let (runtime, kv) = runtime_with(config());
    let automod = load(&runtime, "automod-like");
    let quota = KvQuota {
        max_keys: 10,
        max_bytes: 1000,
    };
    let strikes = |plugin: &str, guild: &str| KvNamespace {
        plugin: plugin.into(),
        guild: Some(guild.into()),
    };
    // Strikes recorded for this plugin in another guild, and for another plugin in this guild,
    // must not be visible.
    kv.set(
        &strikes("automod-like", "7"),
        "strikes:100000000000000001",
        b"9",
        quota,
    )
    .expect("seed");
    kv.set(
        &strikes("echo", GUILD),
        "strikes:100000000000000001",
        b"9",
        quota,
    )
    .expect("seed");
    let severity = |id: &str| {
        let (envelope, message) = message_created(id, GUILD, "a badword here");
        let result = automod
            .call(&envelope, &message, &GuildContext::default())
            .expect("automod answers");
        assert_eq!(result.outputs.len(), 2);
        assert_eq!(result.logs.len(), 1);
        match &result.outputs[1] {
            Output::Publish(emission) => match &emission.message {
                Message::AutomodTriggered(triggered) => triggered.severity,
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(severity("a"), Severity::Low);
    kv.set(
        &strikes("automod-like", GUILD),
        "strikes:100000000000000001",
        b"4",
        quota,
    )
    .expect("seed");
    assert_eq!(severity("b"), Severity::High);

    let echo = load(&runtime, "echo");
    let reply = |context: &GuildContext| {
        let (envelope, message) = message_created("c", GUILD, "hi");
        let result = echo
            .call(&envelope, &message, context)
            .expect("echo answers");
        let Output::Execute(emission) = &result.outputs[0] else {
            panic!("unexpected {:?}", result.outputs)
        };
        let Message::SendMessage(sent) = &emission.message else {
            panic!("unexpected message")
        };
        sent.content.clone().unwrap_or_default()
    };
    assert_eq!(reply(&GuildContext::default()), "echo: hi");
    let guild_config = GuildContext {
        config: Some(Arc::new(serde_json::json!({"prefix": "guild says: "}))),
    };
    assert_eq!(reply(&guild_config), "guild says: hi");
}

#[test]
fn the_circuit_breaker_suspends_a_failing_plugin_and_lets_it_retry_after_the_backoff() {
    let backoff = Duration::from_millis(300);
    let (runtime, _kv) = runtime_with(RuntimeConfig {
        breaker: BreakerPolicy {
            failures: 3,
            window: Duration::from_secs(60),
            backoff,
            max_backoff: backoff,
        },
        ..config()
    });
    let panicking = load(&runtime, "panic");
    let echo = load(&runtime, "echo");
    let (envelope, message) = ping("x", Some(GUILD));
    for _ in 0..3 {
        let failure = panicking
            .call(&envelope, &message, &GuildContext::default())
            .expect_err("panics");
        assert!(
            matches!(failure.error, PluginError::Trap { .. }),
            "{}",
            failure.error
        );
    }
    let suspended = panicking
        .call(&envelope, &message, &GuildContext::default())
        .expect_err("suspended");
    let PluginError::Suspended {
        plugin, failures, ..
    } = &suspended.error
    else {
        panic!("expected a suspension, got {}", suspended.error)
    };
    assert_eq!((plugin.as_str(), *failures), ("panic", 3));
    assert!(
        panicking.suspended(Some(GUILD)).is_some(),
        "the suspension is visible for reports"
    );
    assert_eq!(panicking.suspended_guilds(), vec![Some(GUILD.to_owned())]);
    // Failure is accounted per (plugin, guild): the same plugin still runs for another guild.
    let (elsewhere, elsewhere_message) = ping("y", Some("100000000000000077"));
    let other_guild = panicking
        .call(&elsewhere, &elsewhere_message, &GuildContext::default())
        .expect_err("still panics, but runs");
    assert!(
        matches!(other_guild.error, PluginError::Trap { .. }),
        "another guild's call runs instead of being suspended: {}",
        other_guild.error
    );
    echo.call(&envelope, &message, &GuildContext::default())
        .expect("other plugins are unaffected");
    let retried = eventually(Duration::from_secs(5), || {
        matches!(
            panicking.call(&envelope, &message, &GuildContext::default()),
            Err(failure) if matches!(failure.error, PluginError::Trap { .. })
        )
    });
    assert!(retried, "after the back-off the plugin is tried again");
}

#[test]
fn messages_of_one_guild_reach_a_plugin_in_submission_order() {
    let (runtime, _kv) = runtime_with(config());
    runtime
        .registry()
        .install(load(&runtime, "echo"))
        .expect("echo installs");
    let lanes = Lanes::new(4).expect("workers start");
    let seen: Arc<Mutex<HashMap<String, Vec<u32>>>> = Arc::default();
    let guilds = [
        "100000000000000001",
        "100000000000000002",
        "100000000000000003",
    ];
    let total = 150u32;
    for index in 0..total {
        let guild = guilds[index as usize % guilds.len()].to_owned();
        let runtime = runtime.clone();
        let seen = seen.clone();
        lanes.submit(
            LaneKey {
                plugin: "echo".into(),
                guild: Some(guild.clone()),
            },
            move || {
                let (envelope, message) = ping(&index.to_string(), Some(&guild));
                runtime
                    .call("echo", &envelope, &message, &GuildContext::default())
                    .expect("echo answers");
                seen.lock()
                    .expect("lock")
                    .entry(guild)
                    .or_default()
                    .push(index);
            },
        );
    }
    assert!(eventually(Duration::from_secs(30), || {
        seen.lock()
            .expect("lock")
            .values()
            .map(Vec::len)
            .sum::<usize>()
            == total as usize
    }));
    for (guild, order) in seen.lock().expect("lock").iter() {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, &sorted, "guild {guild} ran out of order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_delivers_results_to_async_callers() {
    let (runtime, _kv) = runtime_with(config());
    runtime
        .registry()
        .install(load(&runtime, "echo"))
        .expect("echo installs");
    let lanes = Lanes::new(2).expect("workers start");
    let receivers: Vec<_> = (0..20)
        .map(|index| {
            let (envelope, message) = ping(&format!("a{index}"), Some(GUILD));
            runtime.submit(
                &lanes,
                "echo".into(),
                envelope,
                message,
                GuildContext::default(),
            )
        })
        .collect();
    for receiver in receivers {
        let result = receiver
            .await
            .expect("a result arrives")
            .expect("echo answers");
        assert_eq!(result.outputs.len(), 1);
    }
}

fn tempdir(label: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

#[test]
fn plugin_check_and_run_describe_a_plugin_and_run_a_seed_message() {
    let report = guildhost::runtime::tool::check(&runtime_support::wasm("automod-like"), None)
        .expect("check succeeds");
    assert!(
        report.contains("world      guildhost:plugin@0.1.x"),
        "{report}"
    );
    assert!(report.contains("subscribes MESSAGE_CREATED"), "{report}");
    assert!(
        report.contains("emits      AUTOMOD_TRIGGERED, DELETE_MESSAGE"),
        "{report}"
    );
    assert!(report.contains("guildhost:plugin/kv@0.1.0"), "{report}");

    let fixture = tempdir("fixture").join("ping.json");
    std::fs::write(
        &fixture,
        format!(
            r#"{{"id":"cli-1","type":"ECHO_PING","timestamp":"2026-11-30T17:36:20.950Z","source":"api","guildId":"{GUILD}","data":{{}}}}"#
        ),
    )
    .expect("write the fixture");
    let (report, ok) = guildhost::ops::plugin_run(
        &runtime_support::wasm("echo"),
        None,
        &fixture,
        Some(r#"{"prefix": "cli: "}"#),
    )
    .expect("run succeeds");
    assert!(ok, "{report}");
    assert!(report.contains("outputs (1)"), "{report}");
    assert!(report.contains("ECHOED"), "{report}");
    assert!(report.contains("logs (1)"), "{report}");
    assert!(report.contains("fuel    "), "{report}");

    let (report, ok) =
        guildhost::ops::plugin_run(&runtime_support::wasm("panic"), None, &fixture, None)
            .expect("run reports the failure");
    assert!(!ok);
    assert!(report.contains("panicked on purpose"), "{report}");
}

/// A KV store in front of another that takes `delay` per operation and, when `down`, answers
/// every operation with `Unavailable` after that delay (a Redis restarting or far away).
struct SlowStore {
    inner: guildhost::runtime::MemoryKv,
    delay: Duration,
    down: bool,
}

impl SlowStore {
    fn wait(&self) -> Result<(), guildhost::runtime::kv::KvError> {
        std::thread::sleep(self.delay);
        if self.down {
            return Err(guildhost::runtime::kv::KvError::Unavailable(
                "connection refused".to_owned(),
            ));
        }
        Ok(())
    }
}

impl KvStore for SlowStore {
    fn get(
        &self,
        namespace: &KvNamespace,
        key: &str,
    ) -> Result<Option<Vec<u8>>, guildhost::runtime::kv::KvError> {
        self.wait()?;
        self.inner.get(namespace, key)
    }
    fn set(
        &self,
        namespace: &KvNamespace,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<(), guildhost::runtime::kv::KvError> {
        self.wait()?;
        self.inner.set(namespace, key, value, quota)
    }
    fn delete(
        &self,
        namespace: &KvNamespace,
        key: &str,
    ) -> Result<bool, guildhost::runtime::kv::KvError> {
        self.wait()?;
        self.inner.delete(namespace, key)
    }
    fn increment(
        &self,
        namespace: &KvNamespace,
        key: &str,
        delta: i64,
        quota: KvQuota,
    ) -> Result<i64, guildhost::runtime::kv::KvError> {
        self.wait()?;
        self.inner.increment(namespace, key, delta, quota)
    }
}

fn runtime_on(store: SlowStore, config: RuntimeConfig) -> Arc<guildhost::runtime::Runtime> {
    Arc::new(guildhost::runtime::Runtime::new(config, Arc::new(store)).expect("the runtime starts"))
}

/// The time the host's store takes is the host's, not the plugin's: an automod call of two KV
/// reads at 80 ms each passes under its 50 ms wall-time limit.
#[test]
fn time_spent_in_the_hosts_store_is_not_the_plugins_wall_time() {
    let runtime = runtime_on(
        SlowStore {
            inner: guildhost::runtime::MemoryKv::new(),
            delay: Duration::from_millis(80),
            down: false,
        },
        config(),
    );
    let plugin = load(&runtime, "automod-like");
    let (envelope, message) = message_created("slow", GUILD, "a badword here");
    let done = plugin
        .call(&envelope, &message, &GuildContext::default())
        .unwrap_or_else(|failure| panic!("the call failed: {}", failure.error));
    assert_eq!(done.outputs.len(), 2);
}

/// When the host's store fails during a call, the call's failure is the host's trouble: it is
/// reported as such and never opens the plugin's breaker, however often it happens (a Redis
/// restart must not suspend every plugin that uses the store).
#[test]
fn a_store_failure_is_never_held_against_the_plugin() {
    let runtime = runtime_on(
        SlowStore {
            inner: guildhost::runtime::MemoryKv::new(),
            // Longer than the host's allowance for store time: the call runs out of time.
            delay: Duration::from_millis(300),
            down: true,
        },
        RuntimeConfig {
            breaker: BreakerPolicy {
                failures: 2,
                window: Duration::from_secs(60),
                backoff: Duration::from_secs(60),
                max_backoff: Duration::from_secs(60),
            },
            limits: guildhost::runtime::RuntimeLimits {
                max_wall_time: Duration::from_millis(100),
                ..guildhost::runtime::RuntimeLimits::default()
            },
            ..config()
        },
    );
    let plugin = load(&runtime, "automod-like");
    for n in 0..4 {
        let (envelope, message) = message_created(&format!("down-{n}"), GUILD, "badword");
        let failure = plugin
            .call(&envelope, &message, &GuildContext::default())
            .expect_err("the store is down");
        assert!(
            !failure.error.counts_as_failure(),
            "call {n}: held against the plugin: {}",
            failure.error
        );
    }
    assert!(plugin.suspended(Some(GUILD)).is_none());
}
