//! Benchmark of the plugin runtime (not a test): the cost of one plugin call, measured on the
//! calling thread with no cross-thread hand-off.
//!
//! ```text
//! cargo run --release -p guildhost-tests --bin runtime-bench [-- <reps> <calls per rep> [<case filter>]]
//! ```
//!
//! Cases: a warm call for a small message (the noop guest, then the echo guest, which also builds
//! JSON and logs), a warm realistic automod call (two KV reads, one log line, two outputs), and a fresh instance per call with the pooling allocator
//! (and with on-demand allocation, for comparison). Prints the median and best µs per call and
//! calls per second over the repetitions. Targets on the reference machine: warm realistic
//! ≤ 5 µs, fresh ≤ 50 µs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guildhost::runtime::bindings::{CustomMessage, Envelope, Message, MessageCreated, Source};
use guildhost::runtime::kv::{KvNamespace, KvQuota, KvStore};
use guildhost::runtime::{
    Allocator, GuildContext, LoadedPlugin, Manifest, MemoryKv, Origin, Runtime, RuntimeConfig,
};

// The allocator of the `guildhost` binary, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GUILD: &str = "100000000000000042";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let reps: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(7);
    let calls: u32 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let filter = args.next().unwrap_or_default();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }

    let kv = Arc::new(MemoryKv::new());
    let pooled = Runtime::new(RuntimeConfig::default(), kv.clone())?;
    let on_demand = Runtime::new(
        RuntimeConfig {
            pooling: false,
            ..RuntimeConfig::default()
        },
        kv.clone(),
    )?;
    let unmetered = Runtime::new(
        RuntimeConfig {
            fuel_metering: false,
            ..RuntimeConfig::default()
        },
        kv.clone(),
    )?;
    println!(
        "allocator: {:?}; fuel metering: {}; {reps} reps x {calls} calls",
        pooled.engine().allocator(),
        pooled.engine().fuel_metering()
    );
    if !matches!(pooled.engine().allocator(), Allocator::Pooling { .. }) {
        println!("note: the pooling allocator is unavailable here; 'pooled' rows use on-demand");
    }
    // The automod guest reads the author's strike count: give it one, so the read finds a value.
    kv.set(
        &KvNamespace {
            plugin: "automod-like".into(),
            guild: Some(GUILD.into()),
        },
        "strikes:100000000000000001",
        b"1",
        KvQuota {
            max_keys: 10,
            max_bytes: 1000,
        },
    )?;

    let noop = load(&pooled, "noop", "")?;
    let echo = load(&pooled, "echo", "")?;
    let automod = load(&pooled, "automod-like", "")?;
    let fresh_section = "\n[instance]\nmode = \"fresh\"\n";
    let noop_fresh = load(&pooled, "noop", fresh_section)?;
    let automod_fresh = load(&pooled, "automod-like", fresh_section)?;
    let automod_fresh_on_demand = load(&on_demand, "automod-like", fresh_section)?;
    let automod_unmetered = load(&unmetered, "automod-like", "")?;

    let small = small_message();
    let realistic = automod_message();
    let check = automod
        .call(&realistic.0, &realistic.1, &GuildContext::default())
        .map_err(|failure| anyhow::anyhow!("{failure}"))?;
    anyhow::ensure!(
        check.outputs.len() == 2 && check.logs.len() == 1,
        "the realistic call should give 2 outputs and 1 log line, got {} and {}",
        check.outputs.len(),
        check.logs.len()
    );

    println!(
        "{:<44} {:>10} {:>10} {:>12} {:>10}",
        "case", "median µs", "best µs", "calls/s", "fuel/call"
    );
    let run_case =
        |label: &str, plugin: &LoadedPlugin, message: &(Envelope, Message), calls: u32| {
            if label.contains(filter.as_str()) {
                bench(label, plugin, message, reps, calls)
            } else {
                Ok(())
            }
        };
    run_case("warm, small message (noop)", &noop, &small, calls)?;
    run_case(
        "warm, small message (echo: json, log)",
        &echo,
        &small,
        calls,
    )?;
    run_case(
        "warm, realistic automod (2 kv, 1 log, 2 out)",
        &automod,
        &realistic,
        calls,
    )?;
    run_case(
        "warm, realistic automod, fuel metering off",
        &automod_unmetered,
        &realistic,
        calls,
    )?;
    let fresh_calls = (calls / 4).max(1);
    run_case(
        "fresh instance, small (noop, pooling)",
        &noop_fresh,
        &small,
        fresh_calls,
    )?;
    run_case(
        "fresh instance, realistic (pooling)",
        &automod_fresh,
        &realistic,
        fresh_calls,
    )?;
    run_case(
        "fresh instance, realistic (on-demand)",
        &automod_fresh_on_demand,
        &realistic,
        fresh_calls,
    )?;
    Ok(())
}

fn load(runtime: &Runtime, name: &str, extra_manifest: &str) -> anyhow::Result<Arc<LoadedPlugin>> {
    let guests = PathBuf::from(env!("GUILDHOST_TEST_GUESTS"));
    let text = std::fs::read_to_string(guests.join(format!("{name}.toml")))?;
    let manifest = Manifest::parse(&format!("{text}{extra_manifest}"), &runtime.config().limits)?;
    let bytes = std::fs::read(guests.join(format!("{name}.wasm")))?;
    Ok(runtime.load(Origin::Directory, manifest, &bytes)?)
}

fn envelope(type_name: &str) -> Envelope {
    Envelope {
        id: "bench-1".into(),
        type_name: type_name.into(),
        timestamp: 1_796_000_000_000,
        source: Source::Bot,
        guild_id: Some(GUILD.into()),
        user_id: None,
        request_id: None,
        priority: None,
    }
}

fn small_message() -> (Envelope, Message) {
    (
        envelope("ECHO_PING"),
        Message::Custom(CustomMessage {
            type_name: "ECHO_PING".into(),
            data: "{}".into(),
        }),
    )
}

fn automod_message() -> (Envelope, Message) {
    (
        envelope("MESSAGE_CREATED"),
        Message::MessageCreated(MessageCreated {
            is_bot: Some(false),
            ..guildhost_tests::messages::wit_message_created(
                "300000000000000003",
                "200000000000000002",
                "100000000000000001",
                "this message contains a badword, sadly",
            )
        }),
    )
}

fn bench(
    label: &str,
    plugin: &LoadedPlugin,
    (envelope, message): &(Envelope, Message),
    reps: usize,
    calls: u32,
) -> anyhow::Result<()> {
    let context = GuildContext::default();
    // A call can miss its wall-time deadline when the machine is overloaded (the thread is
    // descheduled past the epoch deadline): such calls are counted and shown, not fatal.
    let failures = std::cell::Cell::new(0u32);
    let call = || match plugin.call(envelope, message, &context) {
        Ok(result) => result.fuel.unwrap_or(0),
        Err(failure) => {
            if failures.get() == 0 {
                eprintln!("{label}: {failure}");
            }
            failures.set(failures.get() + 1);
            0
        }
    };
    let mut fuel = 0;
    for _ in 0..calls.min(1_000) {
        // The steady-state figure: the first call on an instance also runs its initialisation.
        let used = call();
        if used > 0 {
            fuel = used;
        }
    }
    let mut per_call: Vec<Duration> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        for _ in 0..calls {
            call();
        }
        per_call.push(started.elapsed() / calls);
    }
    per_call.sort();
    let median = per_call[per_call.len() / 2];
    let best = per_call[0];
    println!(
        "{label:<44} {:>10.2} {:>10.2} {:>12.0} {fuel:>10}{}",
        median.as_secs_f64() * 1e6,
        best.as_secs_f64() * 1e6,
        1.0 / median.as_secs_f64(),
        match failures.get() {
            0 => String::new(),
            failed => format!("  ({failed} calls failed)"),
        }
    );
    Ok(())
}
