//! The tasks that run beside the worker's loop: the blocking wait for new jobs (on its own
//! connection), following the `delayed` channel, lock renewal, and maintenance (delayed
//! promotion and the stalled check).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{Shared, backoff_sleep};
use crate::conn::RedisConn;
use crate::dead_letters::{DEAD_LETTER_JOB_NAME, failed_at_text};
use crate::now_ms;
use crate::scripts::{Extend, Promote, StalledCheck};

/// Blocks on `wait` (on its own connection) whenever the loop asks, and reports the popped id.
pub(super) async fn wait_for_jobs(
    shared: Arc<Shared>,
    mut conn: RedisConn,
    mut wake_rx: mpsc::Receiver<()>,
    popped_tx: mpsc::Sender<Option<String>>,
) {
    let mut failures = 0;
    let seconds = shared.options.drain_delay.as_secs_f64().max(0.01);
    while wake_rx.recv().await.is_some() {
        let result: Result<Option<String>, _> = redis::cmd("BRPOPLPUSH")
            .arg(shared.keys.wait())
            .arg(shared.keys.active())
            .arg(seconds)
            .query_async(&mut conn)
            .await;
        let popped = match result {
            Ok(popped) => {
                failures = 0;
                popped
            }
            Err(error) => {
                tracing::warn!(%error, "waiting for jobs failed; retrying");
                backoff_sleep(&mut failures).await;
                None
            }
        };
        if popped_tx.send(popped).await.is_err() {
            break;
        }
    }
}

/// Follows the `delayed` channel, on which producers (Node's and ours) announce due times, so a
/// job delayed by another process is promoted on time instead of at the next guard tick.
pub(super) async fn listen_delayed(
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    due_tx: mpsc::UnboundedSender<i64>,
) {
    let channel = shared.keys.delayed();
    let mut failures = 0;
    loop {
        let mut messages = match shared.conn.subscribe(&channel).await {
            Ok(Some(messages)) => messages,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "subscribing to the delayed channel failed; retrying");
                tokio::select! {
                    () = backoff_sleep(&mut failures) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        failures = 0;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        // Bull sends the due time in ms, sometimes fractional: take the ceiling.
                        let due = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|text| text.trim().parse::<f64>().ok())
                            .filter(|due| due.is_finite());
                        if let Some(due) = due {
                            let _ = due_tx.send(due.ceil() as i64);
                        }
                    }
                    None => break,
                },
                _ = stop.changed() => return,
            }
        }
    }
}

/// Renews every held lock each `lock_renew_time`; flags the jobs whose lock is no longer ours.
pub(super) async fn renew_locks(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let period = shared
        .options
        .lock_renew_time
        .unwrap_or(shared.options.lock_duration / 2)
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        let held = shared.held_ids();
        if held.is_empty() {
            continue;
        }
        let extend = Extend {
            keys: &shared.keys,
            token: &shared.token,
            lock_millis: shared.lock_millis(),
            ids: held.iter().map(|(id, _)| id.as_str()),
        };
        match extend.run(&shared.conn).await {
            Ok(renewed) => {
                for ((id, slot), renewed) in held.iter().zip(renewed) {
                    // A job that finished meanwhile has no lock either: only flag held ones.
                    if !renewed && shared.is_held(id) {
                        slot.lost.store(true, Ordering::Release);
                        slot.lost_signal.notify_one();
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "lock renewal failed; retrying next period"),
        }
    }
}

/// Delayed promotion (timer on the earliest due job, at most `guard_interval` apart) and the
/// stalled check every `stalled_interval`.
pub(super) async fn maintain(
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    mut due_rx: mpsc::UnboundedReceiver<i64>,
) {
    let keys = &shared.keys;
    let options = &shared.options;
    let mut next_stalled_check = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let mut wait = options.guard_interval;
        if Instant::now() >= next_stalled_check {
            next_stalled_check = Instant::now() + options.stalled_interval;
            let now = now_ms();
            let failed_at = failed_at_text(now);
            let dead_letter_base = options
                .dead_letter_queue
                .as_ref()
                .map(|queue| format!("{}:{queue}:", keys.prefix()));
            let check = StalledCheck {
                keys,
                now,
                interval_millis: options.stalled_interval.as_millis() as u64,
                max_stalled_count: options.max_stalled_count,
                token: &shared.token,
                dead_letter_base: dead_letter_base.as_deref(),
                dead_letter_name: DEAD_LETTER_JOB_NAME,
                failed_at: &failed_at,
            };
            match check.run(&shared.conn).await {
                Ok((failed, recovered)) => {
                    if !failed.is_empty() || !recovered.is_empty() {
                        tracing::warn!(queue = %keys.name(), ?failed, ?recovered, "stalled jobs handled");
                    }
                }
                Err(error) => tracing::warn!(%error, "stalled check failed"),
            }
        }
        let now = now_ms();
        let promote = Promote {
            keys,
            now,
            token: &shared.token,
        };
        match promote.run(&shared.conn).await {
            Ok(Some(due)) => wait = wait.min(Duration::from_millis((due - now).max(0) as u64)),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "delayed promotion failed"),
        }
        wait = wait.min(next_stalled_check.saturating_duration_since(Instant::now()));
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                _ = stop.changed() => return,
                due = due_rx.recv() => match due {
                    Some(due) => {
                        let at = Instant::now() + Duration::from_millis((due - now_ms()).max(0) as u64 + 1);
                        if at < sleep.deadline() {
                            sleep.as_mut().reset(at);
                        }
                    }
                    None => {
                        // The worker loop is gone (it is stopping): keep the periodic duties,
                        // but never hold its shutdown up for the rest of a period.
                        tokio::select! {
                            () = &mut sleep => break,
                            _ = stop.changed() => return,
                        }
                    }
                }
            }
        }
    }
}
