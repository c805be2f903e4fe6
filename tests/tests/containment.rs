//! Containment against a live host and the fake Discord: a hostile guild plugin (the `hostile`
//! test guest, installed under a name and a scope per test) attacks through every channel the
//! campaign found open — targets in another guild, feedback loops, deferred work, blocking calls,
//! repeated failures — and each attack is refused or bounded, while the first-party automod
//! (global) keeps serving another guild within a second, and the host stops within its bound.

mod common;
mod host_support;

use std::path::Path;
use std::time::{Duration, Instant};

use guildhost::config::{BudgetConfig, Config};
use guildhost_tests::fake_discord::{FakeDiscord, fixtures};

use host_support::{Host, metric, metric_reaches};

/// The attacker's guild.
const GUILD_A: u64 = 100_000_000_000_000_042;
/// Another guild, served by the first-party automod.
const GUILD_B: u64 = 100_000_000_000_000_001;
/// Each guild's `general` channel at the fake is the guild id + 1.
const CHANNEL_A: u64 = GUILD_A + 1;
const CHANNEL_B: u64 = GUILD_B + 1;
/// A member of guild A who writes the attacks.
const AUTHOR: u64 = 300_000_000_000_000_001;
/// A user in no guild the attacker may reach.
const STRANGER: u64 = 300_000_000_000_000_777;

/// Installs the `hostile` guest in the host's plugins directory as `name`, with `scope` (a TOML
/// value) and `wall_ms`.
fn install_hostile(config: &Config, name: &str, scope: &str, wall_ms: u64) {
    let built = Path::new(env!("GUILDHOST_TEST_GUESTS"));
    let dir = &config.plugins.dir;
    if let Err(e) = std::fs::copy(built.join("hostile.wasm"), dir.join(format!("{name}.wasm"))) {
        panic!("hostile.wasm (built by host/build.rs): {e}");
    }
    let manifest = format!(
        "name = \"{name}\"\nversion = \"1.0.0\"\n\
         subscribes = [\"MESSAGE_CREATED\", \"MODERATION_ACTION_COMPLETED\"]\n\
         emits = [\"SEND_MESSAGE\", \"DELETE_MESSAGE\", \"SEND_DM\", \"RELOAD_COMMANDS\", \"TIMEOUT_USER\"]\n\
         scope = {scope}\n[limits]\nwall-time-ms = {wall_ms}\nmax-outputs = 256\n"
    );
    if let Err(e) = std::fs::write(dir.join(format!("{name}.toml")), manifest) {
        panic!("writing {name}.toml: {e}");
    }
}

fn guild_scope() -> String {
    format!("{{ guild = \"{GUILD_A}\" }}")
}

/// A host with the first-party automod and what `setup` installs, against `fake`.
async fn host_on(fake: &FakeDiscord, setup: impl FnOnce(&mut Config)) -> Host {
    let base = fake.base_url();
    let host = Host::start_and(&["automod"], move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
        setup(config);
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    host
}

async fn fake() -> FakeDiscord {
    match FakeDiscord::start(&[GUILD_A, GUILD_B]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    }
}

/// A message in `guild`'s general channel, as the gateway dispatches it.
fn say(fake: &FakeDiscord, id: u64, guild: u64, content: &str) {
    fake.dispatch(
        "MESSAGE_CREATE",
        fixtures::message(id, guild + 1, Some(guild), AUTHOR, content),
    );
}

/// The `/metrics` series of `plugin`'s outputs refused for `reason`.
fn refused(plugin: &str, reason: &str) -> String {
    format!("guildhost_plugin_outputs_refused_total{{plugin=\"{plugin}\",reason=\"{reason}\"}}")
}

/// Waits until the fake has received `method path`; fails naming `what` otherwise.
async fn expect_request(fake: &FakeDiscord, method: &str, path: &str, what: &str) {
    let found = fake
        .wait_for(Duration::from_secs(20), what, |requests| {
            requests
                .iter()
                .find(|r| r.method == method && r.path == path)
                .map(|_| ())
        })
        .await;
    if let Err(e) = found {
        panic!("{e:#}");
    }
}

/// Guild B's invite is deleted by the first-party automod within a second: the healthy global
/// plugin keeps serving another guild whatever the attacker does.
async fn healthy_in_guild_b(fake: &FakeDiscord, id: u64) -> Duration {
    let started = Instant::now();
    say(fake, id, GUILD_B, "join discord.gg/elsewhere");
    let path = format!("/channels/{CHANNEL_B}/messages/{id}");
    expect_request(fake, "DELETE", &path, "guild B's automod delete").await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "guild B's message took {took:?} (more than 1 s) while guild A attacked"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_outside_the_plugins_guild_are_refused() {
    let fake = fake().await;
    let host = host_on(&fake, |config| {
        install_hostile(config, "attacker", &guild_scope(), 100)
    })
    .await;
    say(
        &fake,
        400_000_000_000_000_101,
        GUILD_A,
        &format!("cross {CHANNEL_B} {STRANGER}"),
    );
    // The one legitimate output (a post in its own channel) is executed ...
    let home = format!("/channels/{CHANNEL_A}/messages");
    expect_request(&fake, "POST", &home, "the post at home").await;
    // ... the four reaching out (post and delete in guild B's channel, a DM to a stranger, a
    // global command registration) are dropped with their reason before they become jobs.
    let refused = metric_reaches(&host, &refused("attacker", "target"), 4.0).await;
    assert_eq!(refused, 4.0);
    healthy_in_guild_b(&fake, 400_000_000_000_000_102).await;
    let channel_b = format!("/channels/{CHANNEL_B}/messages");
    let forbidden: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| {
            (r.method == "POST" && r.path == channel_b)
                || r.path == format!("{channel_b}/400000000000000099")
                || r.path.starts_with("/users/@me/channels")
                || (r.method == "PUT" && r.path.contains("/commands"))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(forbidden.is_empty(), "reached Discord: {forbidden:?}");
    // The lookups that decided it asked Discord about guild B's channel and the stranger.
    assert!(
        !fake
            .requests_to("GET", &format!("/guilds/{GUILD_A}/members/{STRANGER}"))
            .is_empty(),
        "the DM's recipient was checked with Discord"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feedback_loop_is_bounded_by_the_chain_budget() {
    let fake = fake().await;
    let host = host_on(&fake, |config| {
        install_hostile(config, "looper", &guild_scope(), 100);
        config.plugins.budget = BudgetConfig {
            max_chain_outputs: 16,
            ..BudgetConfig::default()
        };
    })
    .await;
    // One timeout, then every report of one answered with two more: 1 + 2 + 4 + ... without end.
    say(&fake, 400_000_000_000_000_201, GUILD_A, "loop");
    metric_reaches(&host, &refused("looper", "budget_chain"), 1.0).await;
    // Everything the chain was granted gets executed, then nothing more: the first timeout
    // plus the chain's 16.
    let member = format!("/guilds/{GUILD_A}/members/{AUTHOR}");
    let executed = common::eventually(20, "the chain's 17 timeouts", || async {
        let done = fake.requests_to("PATCH", &member).len();
        (done >= 17).then_some(done)
    })
    .await;
    healthy_in_guild_b(&fake, 400_000_000_000_000_202).await;
    let settled = fake.requests_to("PATCH", &member).len();
    assert_eq!(
        (executed, settled),
        (17, 17),
        "one message caused at most 1 + max_chain_outputs executions"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_work_and_output_rate_are_capped_per_plugin_and_guild() {
    let fake = fake().await;
    let host = host_on(&fake, |config| {
        install_hostile(config, "deferrer", &guild_scope(), 100);
        config.plugins.budget = BudgetConfig {
            outputs_per_second: 1,
            outputs_burst: 300,
            max_pending_delayed: 100,
            ..BudgetConfig::default()
        };
    })
    .await;
    // Each asks for 256 posts due in ten years. The first gets its 256 through the rate and
    // 100 past the pending cap; the second gets about 44 through the rate, none past the cap.
    say(&fake, 400_000_000_000_000_301, GUILD_A, "delay");
    metric_reaches(&host, &refused("deferrer", "budget_delayed"), 156.0).await;
    say(&fake, 400_000_000_000_000_302, GUILD_A, "delay");
    // The bucket refills at 1/s, so the second message may get a token or two more than 44.
    metric_reaches(&host, &refused("deferrer", "budget_rate"), 200.0).await;
    metric_reaches(&host, &refused("deferrer", "budget_delayed"), 200.0).await;
    let rate = metric(&host, &refused("deferrer", "budget_rate")).await;
    let delayed = metric(&host, &refused("deferrer", "budget_delayed")).await;
    assert_eq!(
        rate + delayed,
        412.0,
        "every output past 100 was refused once"
    );
    let counts = match host.queue("guildhost:execute").job_counts().await {
        Ok(counts) => counts,
        Err(e) => panic!("counting jobs: {e}"),
    };
    assert_eq!(counts.delayed, 100, "pending delayed outputs are capped");
    healthy_in_guild_b(&fake, 400_000_000_000_000_303).await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_calls_end_at_the_wall_time_and_never_hold_other_guilds() {
    let fake = fake().await;
    let host = host_on(&fake, |config| {
        install_hostile(config, "sleeper-one", &guild_scope(), 100);
        install_hostile(config, "sleeper-two", &guild_scope(), 100);
    })
    .await;
    // Each message makes both plugins sleep 40 s in a WASI call.
    for id in 0..4 {
        say(&fake, 400_000_000_000_000_400 + id, GUILD_A, "sleep");
    }
    let mut host = host;
    healthy_in_guild_b(&fake, 400_000_000_000_000_410).await;
    for plugin in ["sleeper-one", "sleeper-two"] {
        metric_reaches(
            &host,
            &format!(
                "guildhost_plugin_limit_violations_total{{plugin=\"{plugin}\",limit=\"wall-time\"}}"
            ),
            1.0,
        )
        .await;
    }
    let automod_ok = metric(
        &host,
        "guildhost_plugin_calls_total{plugin=\"automod\",result=\"ok\"}",
    )
    .await;
    assert!(automod_ok >= 1.0, "automod served throughout");
    let stopping = Instant::now();
    host.begin_stop();
    host.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the host stopped in {took:?}, past its 10 s bound"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_failing_in_one_guild_keeps_serving_the_others() {
    let fake = fake().await;
    let host = host_on(&fake, |config| {
        install_hostile(config, "flaky", "\"global\"", 100)
    })
    .await;
    // Five traps in guild A open its breaker there.
    for id in 0..6 {
        say(&fake, 400_000_000_000_000_500 + id, GUILD_A, "trap");
    }
    metric_reaches(
        &host,
        "guildhost_plugin_calls_total{plugin=\"flaky\",result=\"suspended\"}",
        1.0,
    )
    .await;
    // The same plugin still acts in guild B.
    say(&fake, 400_000_000_000_000_510, GUILD_B, "loop");
    let member = format!("/guilds/{GUILD_B}/members/{AUTHOR}");
    expect_request(&fake, "PATCH", &member, "flaky's timeout in guild B").await;
    healthy_in_guild_b(&fake, 400_000_000_000_000_511).await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guild_plugin_cannot_take_a_first_party_plugins_name() {
    let fake = fake().await;
    let base = fake.base_url();
    let host = Host::start_and(&[], move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
        // The embedded first-party plugins, and an impostor named like one of them.
        config.plugins.first_party = true;
        install_hostile(config, "automod", &guild_scope(), 100);
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    // The first-party automod still serves every guild, the impostor's own included.
    healthy_in_guild_b(&fake, 400_000_000_000_000_601).await;
    let invite = 400_000_000_000_000_602;
    say(&fake, invite, GUILD_A, "join discord.gg/elsewhere");
    let path = format!("/channels/{CHANNEL_A}/messages/{invite}");
    expect_request(&fake, "DELETE", &path, "guild A's automod delete").await;
    host.stop().await;
}

/// A plugin suspended in a guild holds nothing back: the guild's gateway events still reach the
/// API at once, and a message the plugin missed waits for it (no attempt used, not
/// dead-lettered, though each job has a single attempt here) and reaches it once the suspension
/// ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_plugins_messages_wait_for_it_and_events_still_reach_the_api() {
    let fake = fake().await;
    let base = fake.base_url();
    let host = Host::start_and(&[], move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
        config.queues.defaults.attempts = 1;
        config.plugins.breaker = guildhost::config::BreakerConfig {
            failures: 2,
            window_ms: 60_000,
            backoff_ms: 2_000,
            max_backoff_ms: 2_000,
        };
        install_hostile(config, "flaky", "\"global\"", 100);
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    let first = 400_000_000_000_000_600;
    say(&fake, first, GUILD_A, "trap");
    say(&fake, first + 1, GUILD_A, "trap");
    metric_reaches(
        &host,
        "guildhost_plugin_calls_total{plugin=\"flaky\",result=\"trap\"}",
        2.0,
    )
    .await;
    let missed = first + 2;
    say(&fake, missed, GUILD_A, "loop");
    metric_reaches(
        &host,
        "guildhost_plugin_calls_total{plugin=\"flaky\",result=\"suspended\"}",
        1.0,
    )
    .await;
    // The API hears of the message though the only plugin's call was refused.
    host.expect_on("discord:events", "MESSAGE_CREATED", |message| {
        message.to_string().contains(&missed.to_string())
    })
    .await;
    // The plugin acts on it once resumed: the job waited instead of failing for good.
    let member = format!("/guilds/{GUILD_A}/members/{AUTHOR}");
    expect_request(
        &fake,
        "PATCH",
        &member,
        "flaky's timeout after its suspension",
    )
    .await;
    let events = host
        .waiting("discord:events")
        .await
        .into_iter()
        .filter(|message| message.to_string().contains(&missed.to_string()))
        .count();
    assert_eq!(
        events, 1,
        "the event went to the API once, not once per attempt"
    );
    host.stop().await;
}
