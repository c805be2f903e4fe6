//! The fault campaign (see `guildhost_tests::chaos`): `just chaos [--seconds S] [--rate R]
//! [--hosts H] [--kill-every-ms K] [--redis-sigkill] [--no-aof]`. Prints the table the README shows and
//! exits 1 if a command was lost or duplicated.

use std::time::Duration;

use guildhost_tests::HostProcess;
use guildhost_tests::chaos::{Settings, run};

// The allocator of the `guildhost` binary, for the hosts this binary runs as children.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    if let Some(host) = HostProcess::run_if_asked() {
        return host;
    }
    let mut settings = Settings {
        seconds: 120,
        rate: 200,
        guilds: 100,
        hosts: 3,
        kill_every: Duration::from_secs(3),
        redis_sigkill: false,
        aof: true,
        redis_restart: true,
        host_exe: (std::env::current_exe()?, vec!["--host".to_owned()]),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--redis-sigkill" {
            settings.redis_sigkill = true;
            continue;
        }
        if flag == "--no-aof" {
            // What a Redis without persistence loses at a restart: everything it held.
            settings.aof = false;
            continue;
        }
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a number"))?;
        match flag.as_str() {
            "--seconds" => settings.seconds = value,
            "--rate" => settings.rate = value,
            "--hosts" => settings.hosts = usize::try_from(value)?,
            "--guilds" => settings.guilds = value,
            "--kill-every-ms" => settings.kill_every = Duration::from_millis(value),
            other => anyhow::bail!(
                "unknown flag {other} (--seconds, --rate, --hosts, --guilds, --kill-every-ms, --redis-sigkill, --no-aof)"
            ),
        }
    }
    let report = tokio::runtime::Runtime::new()?.block_on(run(&settings))?;
    println!(
        "fault campaign: {} s at {}/s, {} hosts, a host killed every {:?}\n\n| | |\n|---|---|\n{}",
        settings.seconds,
        settings.rate,
        settings.hosts,
        settings.kill_every,
        report.table()
    );
    for reason in report.dead_lettered.iter().take(5) {
        println!("dead letter: {reason}");
    }
    // Without an append-only file a restart loses what Redis held: that is reported, not failed.
    if (settings.aof && !report.lost.is_empty()) || report.duplicated + report.reports_wrong > 0 {
        println!(
            "lost: {:?}",
            report.lost.iter().take(20).collect::<Vec<_>>()
        );
        std::process::exit(1);
    }
    Ok(())
}
