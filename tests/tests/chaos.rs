//! The fault campaign's bounded run (see `guildhost_tests::chaos`; `just chaos` runs the long
//! one): three hosts on one Redis under a Node producer's steady load while hosts are killed,
//! clients pause, Redis fills to `maxmemory` and Discord fails in bursts. Every command is
//! executed once, dead-lettered with a reason, or still queued: none lost, none duplicated.
//! The Redis restart runs in the long campaign only: in some of its runs every write after the
//! restart went missing for the producer and the hosts alike, not understood yet (README).

use std::time::Duration;

use guildhost_tests::chaos::{Settings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_is_lost_or_duplicated_through_kills_restarts_and_discord_errors() {
    let settings = Settings {
        seconds: 30,
        rate: 40,
        guilds: 20,
        hosts: 3,
        kill_every: Duration::from_secs(4),
        redis_sigkill: false,
        aof: true,
        redis_restart: false,
        host_exe: (env!("CARGO_BIN_EXE_host_process").into(), Vec::new()),
    };
    let report = run(&settings).await.unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!("{}", report.table());
    assert!(
        report.faults.get("host SIGKILL").copied().unwrap_or(0) >= 3,
        "{report:?}"
    );
    assert!(
        report.lost.is_empty(),
        "lost: {:?}\n{}",
        report.lost,
        report.table()
    );
    assert_eq!(report.duplicated, 0, "{}", report.table());
    assert_eq!(report.reports_wrong, 0, "{}", report.table());
    assert!(
        report.dead_lettered.is_empty(),
        "dead-lettered: {:?}\n{}",
        report.dead_lettered,
        report.table()
    );
}
