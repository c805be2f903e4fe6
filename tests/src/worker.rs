//! A guildhost worker on a task for the tests to drive, and recording what its handler saw.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhost::queue::{
    Completion, Job, JobFailure, NewJob, QueueResult, RedisConn, Worker, WorkerOptions,
    WorkerStats, handler_fn,
};
use tokio::task::JoinHandle;

use crate::wait::{eventually, shutdown_pair};

/// Worker settings for tests: short blocking waits, frequent promotion and stalled checks.
pub fn fast_worker_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        drain_delay: Duration::from_millis(200),
        guard_interval: Duration::from_millis(100),
        stalled_interval: Duration::from_millis(300),
        lock_duration: Duration::from_millis(2000),
        shutdown_timeout: Duration::from_secs(2),
        ..WorkerOptions::default()
    }
}

/// A guildhost worker running on a task; stopped gracefully by [`RunningWorker::stop`] and
/// aborted when dropped.
pub struct RunningWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<QueueResult<WorkerStats>>>,
}

/// Starts `Worker::run` for `queue` under `prefix` with the closure `handler`.
pub fn spawn_worker<F, Fut>(
    conn: &RedisConn,
    prefix: &str,
    queue: &str,
    options: WorkerOptions,
    handler: F,
) -> RunningWorker
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Completion, JobFailure>> + Send + 'static,
{
    let worker = Worker::new(conn.clone(), prefix, queue, options);
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(async move { worker.run(handler_fn(handler), shutdown).await });
    RunningWorker {
        stop: Some(stop),
        task: Some(task),
    }
}

impl RunningWorker {
    /// Asks the worker to shut down and waits (up to 15 s) for its statistics.
    pub async fn stop(mut self) -> WorkerStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            panic!("worker already stopped");
        };
        match tokio::time::timeout(Duration::from_secs(15), task).await {
            Ok(Ok(Ok(stats))) => stats,
            Ok(Ok(Err(error))) => panic!("worker failed: {error}"),
            Ok(Err(error)) => panic!("worker task failed: {error}"),
            Err(_) => panic!("worker did not stop within 15 s"),
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Records every job a handler sees, in call order.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<Job>>>);

impl Calls {
    /// Records `job`; returns how many calls there were before it for the same job id.
    pub fn record(&self, job: &Job) -> usize {
        let mut calls = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = calls.iter().filter(|seen| seen.id == job.id).count();
        calls.push(job.clone());
        before
    }

    /// A copy of the calls so far.
    pub fn all(&self) -> Vec<Job> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Number of calls so far.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the calls, in order.
    pub fn ids(&self) -> Vec<String> {
        self.all().into_iter().map(|job| job.id).collect()
    }

    /// Waits until at least `count` calls were recorded.
    pub async fn wait_for(&self, count: usize, timeout: Duration) {
        eventually(timeout, &format!("{count} handler calls"), || async {
            (self.len() >= count).then_some(())
        })
        .await;
    }
}

/// The jobs a crash-test job produces when it completes: two outputs into `out_queue`, tagged
/// with the source job id and their index, so duplicates are visible.
pub fn probe_outputs(job: &Job, out_queue: &str) -> Vec<NewJob> {
    (0..2)
        .map(|index| {
            let data = serde_json::json!({"from": job.id, "index": index});
            NewJob::new(out_queue, "output", data.to_string())
        })
        .collect()
}
