//! bull-board, the dashboard most Bull users already run, pointed at the Redis guildhost works
//! on: served by `tests/node/board.js` and read in headless Chromium by
//! `tests/node/board-check.js`, it shows every queue guildhost uses with the counts Bull itself
//! reports, the workers guildhost runs, and a failed job's data and reason.
//!
//! `GUILDHOST_BOARD_SCREENSHOT=docs/bull-board.png` (relative to the workspace) also saves the
//! overview the check sees, which is how the README's screenshot is made.

mod common;
mod host_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use guildhost::dispatch::routes::{EXECUTE_QUEUE, GATEWAY_QUEUE, INBOUND_QUEUES};
use guildhost::queue::{DeadLetters, JobCounts};
use guildhost_tests::{NodeScript, node};
use serde_json::{Value, json};

use common::eventually;
use host_support::{GUILD, Host, MEMBER, MODERATOR, envelope};

/// Debian's Chromium, the browser the check drives (never a downloaded one).
const CHROMIUM: &str = "/usr/bin/chromium";

/// A queue guildhost writes to but never consumes: the API's.
const EVENTS: &str = "moderation:events";

fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "the bull-board test loads the dashboard in headless Chromium, and {CHROMIUM} is missing: \
         apt-get install chromium chromium-driver"
    );
}

/// Where to save the overview, from `GUILDHOST_BOARD_SCREENSHOT` (relative to the workspace).
fn screenshot_path() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("GUILDHOST_BOARD_SCREENSHOT")?);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace");
    Some(workspace.join(path))
}

/// A ban with a case and a DM; with `hours`, a temporary ban whose unban is scheduled.
fn ban(delete_message_days: u64, hours: Option<f64>) -> Value {
    let mut data = json!({
        "userId": MEMBER,
        "reason": "spam",
        "deleteMessageDays": delete_message_days,
        "moderatorId": MODERATOR,
        "notifyUser": true,
        "createCase": true,
    });
    if let Some(hours) = hours {
        data["duration"] = json!(hours);
    }
    envelope("BAN_USER", GUILD, data)
}

/// The counts the way the board's status tabs name them.
fn by_status(counts: &JobCounts) -> BTreeMap<&'static str, u64> {
    BTreeMap::from([
        ("active", counts.active),
        ("waiting", counts.waiting),
        ("completed", counts.completed),
        ("failed", counts.failed),
        ("delayed", counts.delayed),
        ("paused", counts.paused),
    ])
}

/// Every queue's counts, read by guildhost (the same numbers as Node's `getJobCounts()`).
async fn all_counts(host: &Host) -> BTreeMap<String, JobCounts> {
    let mut all = BTreeMap::new();
    for name in guildhost::ops::known_queues() {
        let counts = host.queue(name).job_counts().await.expect("job counts");
        all.insert(name.to_owned(), counts);
    }
    all
}

/// Every queue's counts, once nothing waits or runs on a queue guildhost consumes.
async fn idle_counts(host: &Host) -> Option<BTreeMap<String, JobCounts>> {
    let all = all_counts(host).await;
    INBOUND_QUEUES
        .iter()
        .map(|q| q.as_str())
        .chain([GATEWAY_QUEUE, EXECUTE_QUEUE])
        .all(|q| all[q].waiting == 0 && all[q].active == 0)
        .then_some(all)
}

/// The board's number for `status` on the page of `queue` (a tab without a badge shows 0).
fn shown(board: &Value, queue: &str, status: &str) -> u64 {
    board["queues"][queue]["counts"][status]
        .as_u64()
        .unwrap_or_else(|| panic!("the board shows no {status} tab for {queue}: {board}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bull_board_shows_guildhosts_queues_counts_workers_and_failed_jobs() {
    require_chromium();
    let host = Host::start(&["moderation"]).await;

    // Work guildhost completes: a ban (case, DM, ban, report) and a one-hour temporary ban,
    // whose unban waits as a delayed job on the execution queue.
    host.send("bot:moderation", &ban(1, None)).await;
    host.send("bot:moderation", &ban(1, Some(1.0))).await;
    // Input guildhost refuses: failed on its queue, and a letter in the dead-letter queue.
    let invalid = host.send("bot:moderation", &ban(9, None)).await;

    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(20, "the invalid ban dead-lettered", || async {
        letters.ids().await.ok()?.into_iter().next()
    })
    .await;
    // Settled: both bans reported to the API, nothing left to take on a queue guildhost
    // consumes, the unban waiting for its hour.
    let settled = eventually(30, "the host idle with its work done", || async {
        let reports = host
            .waiting(EVENTS)
            .await
            .into_iter()
            .filter(|m| m["type"] == "MODERATION_ACTION_COMPLETED")
            .count();
        let all = idle_counts(&host).await?;
        (reports == 2 && all[EXECUTE_QUEUE].delayed == 1).then_some(all)
    })
    .await;
    assert_eq!(settled["bot:moderation"].completed, 2);
    assert_eq!(settled["bot:moderation"].failed, 1);
    assert_eq!(settled["dead-letters"].waiting, 1);
    // The API's bans were carried out in their own jobs: nothing of theirs ran on the
    // execution queue, which holds only the unban for later.
    assert_eq!(settled[EXECUTE_QUEUE].completed, 0, "{settled:?}");
    assert!(
        settled[EVENTS].waiting >= 4,
        "cases and reports: {settled:?}"
    );
    let unban: Vec<String> = redis::cmd("ZRANGE")
        .arg(host.queue(EXECUTE_QUEUE).keys().delayed())
        .arg(0)
        .arg(-1)
        .query_async(&mut host.conn.clone())
        .await
        .expect("ZRANGE delayed");

    // bull-board, as an operator would run it against the same Redis.
    let mut board = NodeScript::spawn(
        "board.js",
        &json!({ "prefix": host.prefix, "deadlineMs": 120_000 }),
    )
    .expect("start board.js");
    let ready = board
        .wait_for("ready", Duration::from_secs(20))
        .await
        .expect("bull-board listening");
    let served: Vec<&str> = ready["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut known = guildhost::ops::known_queues();
    assert_eq!(served, known, "board.js serves the queues guildhost uses");

    let mut check = json!({
        "url": ready["url"],
        "deadlineMs": 90_000,
        "jobs": [
            { "queue": "bot:moderation", "id": invalid },
            { "queue": "dead-letters", "id": letter },
            { "queue": EXECUTE_QUEUE, "id": unban.first().expect("the delayed unban") },
        ],
    });
    let screenshot = screenshot_path();
    if let Some(path) = &screenshot {
        check["screenshot"] = json!(path);
    }
    // The host's own schedule (the hourly cleanup) may fire while the board is read; then the
    // board is read once more, on the state that follows.
    let mut settled = settled;
    let mut seen = node("board-check.js", check.clone()).await;
    let after = all_counts(&host).await;
    if after != settled {
        settled = eventually(30, "the host idle again", || idle_counts(&host)).await;
        seen = node("board-check.js", check).await;
        let after = all_counts(&host).await;
        assert_eq!(after, settled, "nothing moved while the board was read");
    }
    board.kill().await;
    if let Some(path) = &screenshot {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "the overview saved to {}", path.display());
    }

    // The overview lists exactly guildhost's queues, each with its total.
    let mut listed: Vec<&str> = seen["overview"]["queues"]
        .as_array()
        .expect("overview cards")
        .iter()
        .filter_map(|card| card["name"].as_str())
        .collect();
    listed.sort_unstable();
    known.sort_unstable();
    assert_eq!(listed, known, "{seen}");
    for card in seen["overview"]["queues"].as_array().into_iter().flatten() {
        let name = card["name"].as_str().unwrap_or_default();
        let total: u64 = by_status(&settled[name]).values().sum();
        assert_eq!(card["total"], total, "{name}'s card: {card}");
    }

    // Each queue's page shows, state by state, what Bull counts.
    for (name, counts) in &settled {
        for (status, expected) in by_status(counts) {
            assert_eq!(
                shown(&seen, name, status),
                expected,
                "{name}, {status}: the board shows {}",
                seen["queues"][name]
            );
        }
    }
    let totals = &seen["overview"]["totals"];
    for status in ["waiting", "completed", "failed", "delayed"] {
        let sum: u64 = settled.values().map(|c| by_status(c)[status]).sum();
        assert_eq!(totals[status], sum, "overview's {status} tab: {totals}");
    }

    // guildhost's workers count as workers (they name their connections as Bull's do): only the
    // queues nothing consumes carry the "No workers" badge — the event queues and the
    // cross-service ones a host leaves to the API by default.
    let unconsumed = [
        EVENTS,
        "discord:events",
        "music:events",
        guildhost::store::commands::PLUGIN_EVENTS_QUEUE,
        "dead-letters",
        "notifications",
        "webhooks",
        "analytics",
    ];
    let pages = seen["queues"].as_object().expect("queue pages");
    assert_eq!(pages.len(), known.len(), "every queue's page was read");
    for (name, page) in pages {
        let expected = if unconsumed.contains(&name.as_str()) {
            json!("No workers")
        } else {
            Value::Null
        };
        assert_eq!(page["workers"], expected, "{name}'s workers badge");
    }
    for card in seen["overview"]["queues"].as_array().into_iter().flatten() {
        let name = card["name"].as_str().unwrap_or_default();
        assert_eq!(card["workers"], pages[name]["workers"], "{name}'s card");
    }

    // A job's detail page shows its data and why it failed.
    let jobs = seen["jobs"].as_array().expect("job pages");
    let refused = &jobs[0];
    assert!(
        refused["data"]
            .as_str()
            .is_some_and(|d| d.contains("deleteMessageDays:9")),
        "{refused}"
    );
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("data.deleteMessageDays: must be within 0..=7, got 9")),
        "{refused}"
    );
    let dead = &jobs[1];
    assert!(
        dead["data"]
            .as_str()
            .is_some_and(|d| d.contains("queue:\"bot:moderation\"")
                && d.contains("data.deleteMessageDays: must be within 0..=7, got 9")
                && d.contains("deleteMessageDays:9")),
        "{dead}"
    );
    let scheduled = &jobs[2];
    assert!(
        scheduled["data"]
            .as_str()
            .is_some_and(|d| d.contains("UNBAN_USER") && d.contains(MEMBER)),
        "{scheduled}"
    );
    host.stop().await;
}
