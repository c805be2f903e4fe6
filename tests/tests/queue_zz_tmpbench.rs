//! TEMPORARY local throughput probe (deleted before hand-off).
mod common;
use common::{cmd, redis, unique_prefix};
use guildhost::queue::*;
use std::time::{Duration, Instant};

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}
async fn redis_cpu(conn: &RedisConn) -> f64 {
    let info: String = cmd(conn, &["INFO", "cpu"]).await;
    let mut total = 0.0;
    for line in info.lines() {
        if let Some(v) = line
            .strip_prefix("used_cpu_sys:")
            .or(line.strip_prefix("used_cpu_user:"))
        {
            total += v.trim().parse::<f64>().unwrap();
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "bench");
    let payload = r#"{"id":"0b6f7c1e-1f0e-4a51-9d57-5c1e0d5f3a11","type":"BAN_USER","timestamp":"2026-11-27T06:14:00.000Z","source":"api","guildId":"123456789012345678","userId":"234567890123456789","data":{"userId":"234567890123456789","reason":"spam links in several channels","deleteMessageDays":1,"moderatorId":"345678901234567890","notifyUser":true,"createCase":true}}"#;
    let n = 20_000;
    let opts = JobOptions {
        remove_on_complete: Some(KeepJobs::Remove(true)),
        ..JobOptions::default()
    };
    for chunk in 0..(n / 1000) {
        let jobs: Vec<NewJob> = (0..1000)
            .map(|_| NewJob::new("bench", "ban", payload).with_opts(opts.clone()))
            .collect();
        queue.add_bulk(&jobs).await.unwrap();
        let _ = chunk;
    }
    let conc: usize = std::env::var("CONC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let worker = Worker::new(
        conn.clone(),
        &prefix,
        "bench",
        WorkerOptions {
            concurrency: conc,
            ..WorkerOptions::default()
        },
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cpu0 = cpu_secs();
    let r0 = redis_cpu(&conn).await;
    let t0 = Instant::now();
    let task = tokio::spawn(async move {
        worker
            .run(
                handler_fn(|_job| async { Ok(Completion::empty()) }),
                async move {
                    let _ = rx.await;
                },
            )
            .await
            .unwrap()
    });
    loop {
        let c = queue.job_counts().await.unwrap();
        if c.waiting == 0 && c.active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let el = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let rc = redis_cpu(&conn).await - r0;
    let _ = tx.send(());
    let stats = task.await.unwrap();
    println!(
        "BENCH conc {conc} jobs {} in {el:.3}s = {:.0} jobs/s; worker cpu {:.1} us/job; redis cpu {:.1} us/job",
        stats.completed,
        n as f64 / el,
        cpu * 1e6 / n as f64,
        rc * 1e6 / n as f64
    );
}
