//! A guildhost worker process for the crash tests to SIGKILL (not a tool for anything else).
//!
//! ```text
//! crash_worker <prefix> <queue> <hang|outputs> [out-queue] [hold-ms]
//! ```
//!
//! Connects to `REDIS_URL` (default 127.0.0.1:6379) and runs one worker with a 1 s lock. Every
//! handler call first appends the job id to `<prefix>:probe:started`, so the test knows a job is
//! mid-flight. `hang` then never returns; `outputs` works for `hold-ms` (default 5) and completes
//! the job with the outputs of [`guildhost_tests::probe_outputs`] into `out-queue`.

use std::time::Duration;

use anyhow::{Context, bail};
use guildhost::queue::{Completion, JobFailure, RedisConn, Worker, WorkerOptions, handler_fn};
use guildhost_tests::{probe_outputs, redis_url};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prefix, queue, mode, rest @ ..] = args.as_slice() else {
        bail!("usage: crash_worker <prefix> <queue> <hang|outputs> [out-queue] [hold-ms]");
    };
    let hang = match mode.as_str() {
        "hang" => true,
        "outputs" => false,
        other => bail!("mode must be `hang` or `outputs`, got `{other}`"),
    };
    let out_queue = rest.first().cloned().unwrap_or_else(|| "out".to_owned());
    let hold = match rest.get(1) {
        Some(text) => Duration::from_millis(
            text.parse()
                .with_context(|| format!("hold-ms must be a whole number, got `{text}`"))?,
        ),
        None => Duration::from_millis(5),
    };
    let conn = RedisConn::connect(&redis_url())
        .await
        .with_context(|| format!("no Redis at {}", redis_url()))?;
    let options = WorkerOptions {
        concurrency: 1,
        batch_size: 1,
        lock_duration: Duration::from_millis(1000),
        stalled_interval: Duration::from_millis(300),
        drain_delay: Duration::from_millis(200),
        guard_interval: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let started_key = format!("{prefix}:probe:started");
    let probe = conn.clone();
    let handler = handler_fn(move |job| {
        let mut probe = probe.clone();
        let started_key = started_key.clone();
        let out_queue = out_queue.clone();
        async move {
            let marked: Result<i64, _> = redis::cmd("RPUSH")
                .arg(&started_key)
                .arg(&job.id)
                .query_async(&mut probe)
                .await;
            if let Err(error) = marked {
                return Err(JobFailure::retryable(format!(
                    "probe write failed: {error}"
                )));
            }
            if hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(hold).await;
            Ok(Completion::value(serde_json::json!({"by": "crash_worker"}))
                .with_outputs(probe_outputs(&job, &out_queue)))
        }
    });
    let worker = Worker::new(conn, prefix, queue, options);
    worker.run(handler, std::future::pending::<()>()).await?;
    Ok(())
}
