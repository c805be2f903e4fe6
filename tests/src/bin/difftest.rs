//! The differential tester's long campaign: `just difftest [--sequences N] [--minutes M]
//! [--seed S]` (`--print S` shows the sequence of seed S, `--replay FILE` runs a saved one). Runs generated sequences on Node's bull and on guildhost (see
//! `guildhost_tests::difftest`), shrinks every divergence and prints it; exits 1 if any.

use std::time::Duration;

use guildhost_tests::difftest::campaign;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut sequences = 1_000u64;
    let mut minutes = 60u64;
    let mut seed = 1_000_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--print" {
            // The sequence a seed gives, to read or to keep as a regression.
            let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(seed);
            println!(
                "{}",
                serde_json::to_string_pretty(&guildhost_tests::difftest::generate(seed))?
            );
            return Ok(());
        }
        if flag == "--replay" {
            // A saved sequence (a regression file), run on both sides.
            let file = args
                .next()
                .ok_or_else(|| anyhow::anyhow!("--replay needs a file"))?;
            let ops: Vec<guildhost_tests::difftest::Op> =
                serde_json::from_str(&std::fs::read_to_string(&file)?)?;
            let conn = guildhost::queue::RedisConn::connect(&guildhost_tests::redis_url()).await?;
            match guildhost_tests::difftest::compare(&conn, &ops).await? {
                Some(divergence) => {
                    println!("{file}: {divergence}");
                    std::process::exit(1);
                }
                None => println!("{file}: no divergence"),
            }
            return Ok(());
        }
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| anyhow::anyhow!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--sequences" => sequences = number,
            "--minutes" => minutes = number,
            "--seed" => seed = number,
            other => anyhow::bail!("unknown flag {other} (--sequences, --minutes, --seed)"),
        }
    }
    let conn = guildhost::queue::RedisConn::connect(&guildhost_tests::redis_url()).await?;
    let started = std::time::Instant::now();
    let outcome = campaign(
        &conn,
        seed,
        sequences,
        Duration::from_secs(minutes * 60),
        usize::MAX,
    )
    .await?;
    println!(
        "difftest: {} sequences from seed {seed}, {} steps per side, {} divergence(s), {:.0} s",
        outcome.sequences,
        outcome.steps,
        outcome.divergences.len(),
        started.elapsed().as_secs_f64()
    );
    for (seed, ops, divergence) in &outcome.divergences {
        println!(
            "\nseed {seed}: {divergence}\n{}",
            serde_json::to_string(ops)?
        );
    }
    if !outcome.divergences.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
