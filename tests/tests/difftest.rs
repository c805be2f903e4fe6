//! The differential tester's bounded run (see `guildhost_tests::difftest`): the regression
//! sequences it found, then fresh sequences from fixed seeds for about a minute, each run once
//! with Node's bull on both sides and once with guildhost's producer and worker in Bull's place,
//! compared step by step on what Node observes and on the queue's Redis keys. A divergence is
//! shrunk and printed as a sequence to add to `tests/fixtures/difftest/`.
//! `just difftest` runs the long campaign.

use std::time::Duration;

use guildhost_tests::connect;
use guildhost_tests::difftest::{Op, campaign, compare};

/// How long the fresh sequences may take in the suite.
const BUDGET: Duration = Duration::from_secs(60);

/// Every sequence in `tests/fixtures/difftest/*.json` (a divergence the tester once found, shrunk)
/// runs alike on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequences_that_once_diverged_run_alike() {
    let conn = connect().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/difftest");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression sequences in {}",
        dir.display()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
        let ops: Vec<Op> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let divergence = compare(&conn, &ops)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
        if let Some(divergence) = divergence {
            panic!("{} diverges again, {divergence}", file.display());
        }
    }
}

/// Fresh sequences from fixed seeds (the same every run) for about a minute: none diverges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_sequences_run_alike_on_node_and_guildhost() {
    let conn = connect().await;
    let outcome = campaign(&conn, 1, u64::MAX, BUDGET, 1)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(outcome.sequences > 0, "no sequence ran");
    if let Some((seed, ops, divergence)) = outcome.divergences.first() {
        panic!(
            "seed {seed} diverges {divergence}\nminimal sequence (add it to tests/fixtures/difftest/):\n{}",
            serde_json::to_string_pretty(ops).unwrap_or_default()
        );
    }
    eprintln!(
        "difftest: {} sequences, {} steps per side, no divergence",
        outcome.sequences, outcome.steps
    );
}
