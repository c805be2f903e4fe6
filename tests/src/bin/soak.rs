//! The soak run (see `guildhost_tests::soak`): `just soak [--minutes M] [--rate R] [--hosts H]
//! [--window-secs W]`. Prints one line of figures per window: the hosts' memory, Redis's
//! memory, messages and the p99 from add to Discord.

use std::time::Duration;

use guildhost_tests::HostProcess;
use guildhost_tests::soak::{Settings, run, table};

// The allocator of the `guildhost` binary, for the hosts this binary runs as children.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    if let Some(host) = HostProcess::run_if_asked() {
        return host;
    }
    let mut settings = Settings {
        seconds: 30 * 60,
        rate: 100,
        guilds: 100,
        hosts: 2,
        window: Duration::from_secs(60),
        host_exe: (std::env::current_exe()?, vec!["--host".to_owned()]),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a number"))?;
        match flag.as_str() {
            "--minutes" => settings.seconds = value * 60,
            "--rate" => settings.rate = value,
            "--hosts" => settings.hosts = usize::try_from(value)?,
            "--window-secs" => settings.window = Duration::from_secs(value),
            other => {
                anyhow::bail!("unknown flag {other} (--minutes, --rate, --hosts, --window-secs)")
            }
        }
    }
    let windows = tokio::runtime::Runtime::new()?.block_on(run(&settings))?;
    println!(
        "soak: {} s at {}/s, {} hosts\n\n{}",
        settings.seconds,
        settings.rate,
        settings.hosts,
        table(&windows)
    );
    Ok(())
}
