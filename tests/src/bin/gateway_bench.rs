//! Gateway message → REST delete latency through the whole host: the fake Discord dispatches a
//! message breaking the automod plugin's invite rule, serenity's gateway client receives it,
//! ingest enqueues MESSAGE_CREATED, the dispatcher runs the plugin, the executor sends the
//! DELETE through serenity's REST client back to the fake. One message at a time; p50/p99/max.
//!
//! `cargo run --release -p guildhost-tests --bin gateway_bench -- --messages 300`

use std::time::{Duration, Instant};

use anyhow::Context as _;
use guildhost::config::{Config, QueueOverrides};
use guildhost::dispatch::routes::EXECUTE_QUEUE;
use guildhost_tests::fake_discord::{FakeDiscord, fixtures, use_fake_discord};
use guildhost_tests::{cleanup, connect, redis_url, unique_prefix};

const GUILD: u64 = 100_000_000_000_000_001;
const CHANNEL: u64 = 500_000_000_000_000_001;
const AUTHOR: u64 = 300_000_000_000_000_001;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::args()
        .skip_while(|a| a != "--messages")
        .nth(1)
        .map(|n| n.parse())
        .transpose()
        .context("--messages takes a number")?
        .unwrap_or(300);

    let fake = FakeDiscord::start(&[GUILD]).await?;
    let conn = connect().await;
    let prefix = unique_prefix("gwbench");
    let plugins = std::env::temp_dir().join(format!("{prefix}-plugins"));
    std::fs::create_dir_all(&plugins)?;
    for ext in ["wasm", "toml"] {
        let name = format!("automod.{ext}");
        std::fs::copy(
            std::path::Path::new(env!("GUILDHOST_PLUGINS")).join(&name),
            plugins.join(&name),
        )?;
    }
    let mut config = Config::default();
    config.redis.url = redis_url();
    config.redis.prefix = prefix.clone();
    config.plugins.dir = plugins.clone();
    config.plugins.first_party = false;
    config.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    use_fake_discord(&mut config, fake.base_url());
    config.queues.per_queue.insert(
        EXECUTE_QUEUE.to_owned(),
        QueueOverrides {
            concurrency: Some(4),
            ..QueueOverrides::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let host = tokio::spawn(guildhost::app::run(config, async {
        let _ = stopped.await;
    }));
    fake.wait_for_identify(Duration::from_secs(30)).await?;

    let mut latencies = Vec::with_capacity(messages);
    for i in 0..messages {
        let id = 400_000_000_000_100_000 + i as u64;
        let path = format!("/channels/{CHANNEL}/messages/{id}");
        let sent = Instant::now();
        fake.dispatch(
            "MESSAGE_CREATE",
            fixtures::message(
                id,
                CHANNEL,
                Some(GUILD),
                AUTHOR,
                "join discord.gg/raiders now",
            ),
        );
        let received = fake
            .wait_for(Duration::from_secs(30), "the delete", |requests| {
                requests
                    .iter()
                    .rev()
                    .find(|r| r.method == "DELETE" && r.path == path)
                    .map(|r| r.received_at)
            })
            .await?;
        latencies.push(received.duration_since(sent));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "gateway message -> REST delete, {} messages one at a time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), host).await;
    cleanup(&conn, &prefix).await?;
    let _ = std::fs::remove_dir_all(plugins);
    Ok(())
}
