//! Two host processes share one Redis; one is killed with SIGKILL mid-run. Nothing is lost and
//! no output is enqueued twice: every request is executed (a ban re-executed after the crash is
//! harmless) and its report appears exactly once.

use std::process::{Command, Stdio};
use std::time::Duration;

use guildhost::queue::{JobOptions, Queue};
use guildhost_tests::{
    KillOnDrop, assert_each_reported_once, connect, eventually, moderation_reports_per_user,
    redis_url, unique_prefix,
};
use serde_json::{Value, json};

const REQUESTS: usize = 1000;

fn start_host(config: &std::path::Path) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_host_process"))
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the host process starts"),
    )
}

fn ban(user: usize) -> Value {
    json!({
        "id": format!("ban-{user}"),
        "type": "BAN_USER",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": format!("{}", 100_000_000_000_000_000u64 + (user % 7) as u64),
        "userId": "200000000000000001",
        "data": {
            "userId": format!("{}", 300_000_000_000_000_000u64 + user as u64),
            "reason": "spam", "deleteMessageDays": 0, "moderatorId": "200000000000000001",
            "notifyUser": false, "createCase": false,
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_mid_run_loses_nothing_and_duplicates_no_output() {
    let conn = connect().await;
    let prefix = unique_prefix("twohosts");
    let dir = std::env::temp_dir().join(format!("{prefix}-host"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("guildhost.toml");
    std::fs::write(
        &config,
        format!(
            "[redis]\nurl = \"{}\"\nprefix = \"{prefix}\"\n[plugins]\ndir = \"{}\"\nfirst_party = false\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\
             [queues.defaults]\nlock_duration_ms = 2000\nstalled_interval_ms = 1000\nconcurrency = 8\n",
            redis_url(),
            dir.join("plugins").display()
        ),
    )
    .expect("write the config");

    let mut first = start_host(&config);
    let _second = start_host(&config);
    let queue = Queue::new(conn.clone(), &prefix, "bot:moderation");
    for user in 0..REQUESTS {
        queue
            .add("BAN_USER", &ban(user).to_string(), JobOptions::default())
            .await
            .expect("add");
    }
    let dry_run = format!("{prefix}:guildhost:dry-run");
    // Kill one host while the work is in full flow.
    eventually(Duration::from_secs(60), "some actions executed", || async {
        let mut c = conn.clone();
        let n: usize = redis::cmd("LLEN")
            .arg(&dry_run)
            .query_async(&mut c)
            .await
            .ok()?;
        (n >= REQUESTS / 4).then_some(())
    })
    .await;
    first.kill();
    let mut c = conn.clone();
    let reported_at_kill: usize = redis::cmd("LLEN")
        .arg(format!("{prefix}:moderation:events:wait"))
        .query_async(&mut c)
        .await
        .expect("LLEN");
    assert!(
        reported_at_kill < REQUESTS,
        "the kill came after all the work; the test proves nothing"
    );

    let per_user = moderation_reports_per_user(&conn, &prefix, REQUESTS).await;
    assert_each_reported_once(&per_user, REQUESTS);
    // Every ban reached Discord at least once (re-execution after the crash is allowed).
    let mut c = conn.clone();
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(&dry_run)
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .expect("LRANGE");
    let executed: std::collections::HashSet<String> = records
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .filter_map(|r| r["data"]["userId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(executed.len(), REQUESTS, "every ban executed");
    // Nothing stuck or failed.
    guildhost_tests::assert_queues_drained(
        &conn,
        &prefix,
        &["bot:moderation", "guildhost:execute"],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = guildhost_tests::cleanup(&conn, &prefix).await;
}
