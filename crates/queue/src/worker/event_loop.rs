//! The worker's loop as an explicit event loop: [`Run`] holds all of its state, [`Run::dispatch`]
//! sends out the work that state calls for (handlers for waiting jobs, finish-and-take calls),
//! [`Run::next_event`] waits for the next [`Event`], and [`Run::handle_event`] applies it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::attempt::{InFlight, Outcome, Ready};
use super::finish::{FINISH_CALLS_IN_FLIGHT, FinishCall, FinishItem, PendingFinish};
use super::{JobHandler, Shared, WorkerStats, backoff_sleep};
use crate::job::Job;

/// Where the worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking and running jobs.
    Running,
    /// Shutdown requested: no more jobs are taken; in-flight ones may finish until the deadline.
    Stopping,
    /// Done: everything finished or was given back.
    Stopped,
}

/// What the loop waits for.
enum Event {
    /// A finish-and-take call came back.
    Finished(FinishCall),
    /// A handler is done with its job (or the job's lock was lost).
    Settled(Arc<Job>, Outcome),
    /// The blocking wait for jobs came back, with the id it moved into `active` if any.
    Popped(Option<String>),
    /// The blocking waiter is gone (it never should be): poll after `drain_delay` instead.
    WaiterGone,
    /// The shutdown future resolved.
    ShutdownRequested,
    /// `shutdown_timeout` passed since shutdown was requested.
    ShutdownTimedOut,
}

/// The state of one [`super::Worker::run`]: what the loop works with, its event sources, and its
/// bookkeeping.
pub(super) struct Run<'a, H> {
    pub(super) shared: Arc<Shared>,
    pub(super) handler: Arc<H>,
    pub(super) stats: WorkerStats,
    /// Due times of jobs this worker delays, for the promotion timer.
    pub(super) due_tx: mpsc::UnboundedSender<i64>,
    /// Resolves when the caller wants the worker to stop.
    shutdown: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    /// When stopping, the end of `shutdown_timeout` (far in the future before).
    deadline: Pin<Box<Sleep>>,
    /// Asks the blocking waiter for one wait.
    wake_tx: mpsc::Sender<()>,
    /// The blocking waiter's answers.
    popped_rx: mpsc::Receiver<Option<String>>,
    /// Handlers running, at most `concurrency`.
    pub(super) in_flight: FuturesUnordered<InFlight>,
    /// Finish-and-take calls sent; replies are applied in the order the calls were sent.
    pub(super) pending: FuturesOrdered<PendingFinish>,
    /// Slots reserved for the jobs that pending calls may bring back.
    pub(super) pending_take: usize,
    /// Taken jobs waiting for a free slot.
    pub(super) backlog: VecDeque<Ready>,
    /// Completions waiting for the next finish-and-take call.
    pub(super) done: Vec<FinishItem>,
    /// The last take found fewer jobs than it asked for: wait for new ones instead of polling.
    drained: bool,
    /// Bull's `drained` was published for the current dry run (or nothing was taken yet):
    /// Bull publishes it once a look for jobs finds none after jobs ran, not again until the
    /// worker has taken more.
    drained_announced: bool,
    /// A blocking wait is under way.
    waiting_for_jobs: bool,
    phase: Phase,
    /// Consecutive Redis errors of the loop's own calls (for the backoff).
    pub(super) failures: u32,
}

impl<'a, H: JobHandler> Run<'a, H> {
    pub(super) fn new(
        shared: Arc<Shared>,
        handler: Arc<H>,
        due_tx: mpsc::UnboundedSender<i64>,
        shutdown: impl Future<Output = ()> + Send + 'a,
        wake_tx: mpsc::Sender<()>,
        popped_rx: mpsc::Receiver<Option<String>>,
    ) -> Self {
        Run {
            shared,
            handler,
            stats: WorkerStats::default(),
            due_tx,
            shutdown: Box::pin(shutdown),
            deadline: Box::pin(tokio::time::sleep(Duration::from_secs(3600 * 24 * 365))),
            wake_tx,
            popped_rx,
            in_flight: FuturesUnordered::new(),
            pending: FuturesOrdered::new(),
            pending_take: 0,
            backlog: VecDeque::new(),
            done: Vec::new(),
            drained: false,
            drained_announced: true,
            waiting_for_jobs: false,
            phase: Phase::Running,
            failures: 0,
        }
    }

    /// Runs until shutdown is complete; returns what the worker did.
    pub(super) async fn run(mut self) -> WorkerStats {
        loop {
            self.dispatch();
            let Some(event) = self.next_event().await else {
                break;
            };
            self.handle_event(event).await;
        }
        self.stats
    }

    /// Whether shutdown was requested.
    fn stopping(&self) -> bool {
        self.phase != Phase::Running
    }

    /// Slots neither running, nor waiting in the backlog, nor reserved by pending calls.
    fn free(&self) -> usize {
        self.shared
            .options
            .concurrency
            .saturating_sub(self.in_flight.len() + self.backlog.len() + self.pending_take)
    }

    /// Starts handlers for waiting jobs while slots are free, then sends finish-and-take calls
    /// (up to [`FINISH_CALLS_IN_FLIGHT`]) while there are completions to send or, before
    /// shutdown, free slots and a queue that may hold jobs.
    fn dispatch(&mut self) {
        if self.phase == Phase::Stopped {
            return;
        }
        let concurrency = self.shared.options.concurrency;
        let batch = self.shared.options.batch_size;
        while self.in_flight.len() < concurrency {
            match self.backlog.pop_front() {
                Some((job, held)) => {
                    let handling = self.start(job, held);
                    self.in_flight.push(handling);
                }
                None => break,
            }
        }
        loop {
            let free = self.free();
            let stopping = self.stopping();
            if self.pending.len() >= FINISH_CALLS_IN_FLIGHT
                || (self.done.is_empty() && (stopping || free == 0 || self.drained))
            {
                break;
            }
            // Every flush also takes what fits, even when the queue looked empty: it costs
            // nothing extra in round trips and picks up jobs that arrived meanwhile.
            let take = if stopping { 0 } else { free.min(batch) };
            let count = self.done.len().min(batch);
            let items: Vec<FinishItem> = self.done.drain(..count).collect();
            self.pending_take += take;
            let call = self.finish_call(items, take, take > 0 && !self.drained_announced);
            self.pending.push_back(call);
        }
    }

    /// Waits for the next event; `None` once the worker is done (stopping with nothing in
    /// flight, or stopped). When the queue looked empty and slots are free, asks the blocking
    /// waiter for jobs first.
    async fn next_event(&mut self) -> Option<Event> {
        match self.phase {
            Phase::Stopped => return None,
            Phase::Stopping
                if self.in_flight.is_empty()
                    && self.pending.is_empty()
                    && !self.waiting_for_jobs =>
            {
                return None;
            }
            Phase::Running if self.drained && self.free() > 0 && !self.waiting_for_jobs => {
                if self.wake_tx.try_send(()).is_err() {
                    return Some(Event::WaiterGone);
                }
                self.waiting_for_jobs = true;
            }
            Phase::Running | Phase::Stopping => {}
        }
        let running = self.phase == Phase::Running;
        tokio::select! {
            Some(call) = self.pending.next(), if !self.pending.is_empty() => {
                Some(Event::Finished(call))
            }
            Some((job, outcome)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                Some(Event::Settled(job, outcome))
            }
            popped = self.popped_rx.recv(), if self.waiting_for_jobs => {
                Some(Event::Popped(popped.flatten()))
            }
            () = self.shutdown.as_mut(), if running => Some(Event::ShutdownRequested),
            () = self.deadline.as_mut(), if !running => Some(Event::ShutdownTimedOut),
        }
    }

    /// Applies one event to the state.
    async fn handle_event(&mut self, event: Event) {
        match event {
            Event::Finished(call) => {
                self.pending_take = self.pending_take.saturating_sub(call.take);
                let take = call.take;
                match self.finished(call).await {
                    Some(taken) if self.stopping() => self.release_taken(taken).await,
                    Some(taken) => {
                        if take > 0 {
                            self.drained = taken.len() < take;
                            // The call announced `drained` if it found none and was asked to.
                            self.drained_announced = taken.is_empty();
                        }
                        self.accept(taken).await;
                    }
                    None => {}
                }
            }
            Event::Settled(job, outcome) => {
                self.settle(job, outcome).await;
                // Collect every other job that is already finished, to finish them together.
                while self.done.len() < self.shared.options.batch_size {
                    match self.in_flight.next().now_or_never() {
                        Some(Some((job, outcome))) => self.settle(job, outcome).await,
                        _ => break,
                    }
                }
            }
            Event::Popped(popped) => {
                self.waiting_for_jobs = false;
                match popped {
                    Some(id) if self.stopping() => self.release_popped(&id).await,
                    Some(id) => self.take_popped(&id).await,
                    None => {}
                }
            }
            Event::WaiterGone => {
                tokio::time::sleep(self.shared.options.drain_delay).await;
                self.drained = false;
            }
            Event::ShutdownRequested => {
                self.phase = Phase::Stopping;
                let deadline = Instant::now() + self.shared.options.shutdown_timeout;
                self.deadline.as_mut().reset(deadline);
                let ids: Vec<String> = self
                    .backlog
                    .drain(..)
                    .map(|(job, _)| job.id.clone())
                    .collect();
                self.release(&ids).await;
            }
            Event::ShutdownTimedOut => self.stop_now().await,
        }
    }

    /// Takes the job the blocking wait moved into `active`, and as many more as slots allow.
    async fn take_popped(&mut self, id: &str) {
        self.drained = false;
        let extra = self
            .free()
            .saturating_sub(1)
            .min(self.shared.options.batch_size);
        match self.shared.take(Some(id), extra).await {
            Ok(taken) => {
                self.drained = taken.len() <= extra;
                self.drained_announced = false;
                self.accept(taken).await;
            }
            Err(error) => {
                // The id stays in `active` without a lock: the stalled check gives it back, as
                // Bull does after a crash at this point.
                tracing::warn!(%error, %id, "taking a popped job failed");
                backoff_sleep(&mut self.failures).await;
            }
        }
    }

    /// The shutdown timeout passed: drops the handlers still running, applies the calls already
    /// sent, finishes what completed, and gives every job still held back to the queue.
    async fn stop_now(&mut self) {
        let ids: Vec<String> = self
            .shared
            .held_ids()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        drop(std::mem::take(&mut self.in_flight));
        // Calls already sent still count: apply them (and give back what they took).
        while let Some(call) = self.pending.next().await {
            if let Some(taken) = self.finished(call).await {
                self.release_taken(taken).await;
            }
        }
        let done = std::mem::take(&mut self.done);
        let _ = self.finish_and_take(done, 0, false).await;
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| self.shared.is_held(id))
            .collect();
        self.release(&ids).await;
        if self.waiting_for_jobs
            && let Some(Some(id)) = self.popped_rx.recv().await
        {
            self.release_popped(&id).await;
        }
        self.phase = Phase::Stopped;
    }
}
