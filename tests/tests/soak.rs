//! The soak run's bounded version (see `guildhost_tests::soak`; `just soak` runs 30 minutes):
//! two hosts under a steady load for two minutes. After the first window (warm-up), neither the
//! hosts' memory nor Redis's grows past half again what it was: nothing accumulates per job.

use std::time::Duration;

use guildhost_tests::soak::{Settings, run, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_a_steady_load() {
    let settings = Settings {
        seconds: 120,
        rate: 50,
        guilds: 20,
        hosts: 2,
        window: Duration::from_secs(20),
        host_exe: (env!("CARGO_BIN_EXE_host_process").into(), Vec::new()),
    };
    let windows = run(&settings).await.unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!("{}", table(&windows));
    assert!(windows.len() >= 4, "{}", table(&windows));
    let warm = windows[1];
    let last = windows[windows.len() - 1];
    assert!(
        last.hosts_mib <= warm.hosts_mib * 1.5,
        "the hosts' memory grew:\n{}",
        table(&windows)
    );
    assert!(
        last.redis_mib <= warm.redis_mib * 1.5 + 1.0,
        "Redis's memory grew:\n{}",
        table(&windows)
    );
    assert!(
        windows.iter().skip(1).all(|window| window.messages > 0),
        "a window without messages:\n{}",
        table(&windows)
    );
}
