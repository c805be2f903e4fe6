//! Ordering: messages of one guild reach a given plugin in the order they were submitted, while
//! different (plugin, guild) lanes run in parallel on a fixed set of blocking worker threads.
//!
//! A lane is queued for a worker at most once; a worker runs one job of a lane, then puts the lane
//! back at the end of the ready queue if it has more, so a busy guild cannot starve the others.
//!
//! Fairness between guilds: the calls of one guild (all its plugins' lanes together, and the
//! guildless messages as one more "guild") occupy at most [`Lanes::per_guild_limit`] threads at
//! once — half of them, at least one — so the other half is always free for other guilds' calls,
//! however many plugins a guild has and however long each call takes (up to its wall time).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::Runtime;
use super::bindings::{Envelope, Message};
use super::plugin::{CallError, CallResult, GuildContext};

/// A lane: one plugin and one guild (or no guild).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LaneKey {
    /// The plugin's name.
    pub plugin: String,
    /// The guild, `None` for messages without one.
    pub guild: Option<String>,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct State {
    /// Lanes that have queued work or are running; an entry exists exactly while the lane is
    /// either in `ready` or held by a worker.
    lanes: HashMap<LaneKey, VecDeque<Job>>,
    ready: VecDeque<LaneKey>,
    /// Threads running a job, per guild; an entry exists exactly while the count is positive.
    running: HashMap<Option<String>, usize>,
    shutting_down: bool,
}

impl State {
    /// The first ready lane whose guild is below `limit`, taken out of `ready`.
    fn take_ready(&mut self, limit: usize) -> Option<LaneKey> {
        let running = &self.running;
        let position = self
            .ready
            .iter()
            .position(|lane| running.get(&lane.guild).copied().unwrap_or(0) < limit)?;
        self.ready.remove(position)
    }
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    per_guild_limit: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Jobs run outside the lock; state updates are single pushes/pops and stay consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A pool of worker threads running jobs in per-lane FIFO order.
pub struct Lanes {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl Lanes {
    /// Starts `workers` threads (at least one).
    pub fn new(workers: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            per_guild_limit: (workers / 2).max(1),
        });
        let workers = (0..workers)
            .map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("guildhost-lane-{index}"))
                    .spawn(move || worker(&shared))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { shared, workers })
    }

    /// How many threads one guild's calls may occupy at once.
    pub fn per_guild_limit(&self) -> usize {
        self.shared.per_guild_limit
    }

    /// Queues `job` on its lane; it runs after every job submitted earlier on the same lane.
    pub fn submit(&self, lane: LaneKey, job: impl FnOnce() + Send + 'static) {
        let mut state = self.shared.lock();
        match state.lanes.get_mut(&lane) {
            Some(queue) => queue.push_back(Box::new(job)),
            None => {
                state
                    .lanes
                    .insert(lane.clone(), VecDeque::from([Box::new(job) as Job]));
                state.ready.push_back(lane);
                self.shared.work.notify_one();
            }
        }
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.shared.lock().shutting_down = true;
        self.shared.work.notify_all();
        for worker in self.workers.drain(..) {
            // Workers catch job panics themselves; a join error leaves nothing to clean up.
            let _ = worker.join();
        }
    }
}

fn worker(shared: &Shared) {
    let limit = shared.per_guild_limit;
    loop {
        let (lane, job) = {
            let mut state = shared.lock();
            loop {
                if let Some(lane) = state.take_ready(limit) {
                    let job = state.lanes.get_mut(&lane).and_then(VecDeque::pop_front);
                    match job {
                        Some(job) => {
                            *state.running.entry(lane.guild.clone()).or_insert(0) += 1;
                            break (lane, job);
                        }
                        None => {
                            state.lanes.remove(&lane);
                            continue;
                        }
                    }
                }
                // Queued work is finished before shutting down: nothing submitted is lost.
                if state.shutting_down && state.ready.is_empty() {
                    return;
                }
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!(plugin = %lane.plugin, guild = lane.guild.as_deref().unwrap_or("-"), "a lane job panicked");
        }
        let mut state = shared.lock();
        let was_at_limit = match state.running.get_mut(&lane.guild) {
            Some(count) => {
                let at_limit = *count >= limit;
                *count -= 1;
                if *count == 0 {
                    state.running.remove(&lane.guild);
                }
                at_limit
            }
            None => false,
        };
        if state
            .lanes
            .get(&lane)
            .is_some_and(|queue| !queue.is_empty())
        {
            // No wake-up: this worker takes from `ready` next. Waking another one for a busy
            // lane would hand the lane from thread to thread on every job.
            state.ready.push_back(lane);
        } else {
            state.lanes.remove(&lane);
        }
        // A sleeping worker may have skipped a lane of this guild because it was at its limit.
        if was_at_limit && state.ready.len() > 1 {
            shared.work.notify_one();
        }
    }
}

impl Runtime {
    /// Calls `plugin` on `lanes`, in submission order with every other message of the same
    /// guild for that plugin; the result arrives on the returned channel (await it from async
    /// code). The plugin version is resolved when the call starts, so a reload between submit
    /// and start takes effect.
    pub fn submit(
        self: &Arc<Self>,
        lanes: &Lanes,
        plugin: String,
        envelope: Envelope,
        message: Message,
        context: GuildContext,
    ) -> tokio::sync::oneshot::Receiver<Result<CallResult, Box<CallError>>> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let lane = LaneKey {
            plugin: plugin.clone(),
            guild: envelope.guild_id.clone(),
        };
        let runtime = self.clone();
        lanes.submit(lane, move || {
            let result = runtime.call(&plugin, &envelope, &message, &context);
            // The submitter may have stopped waiting; the result is then not needed.
            let _ = sender.send(result);
        });
        receiver
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn keeps_per_lane_order_and_runs_lanes_in_parallel() {
        let lanes = Lanes::new(4).unwrap();
        let (sender, receiver) = mpsc::channel();
        for index in 0..200u32 {
            let guild = format!("{}", index % 5);
            let sender = sender.clone();
            lanes.submit(
                LaneKey {
                    plugin: "p".into(),
                    guild: Some(guild.clone()),
                },
                move || {
                    // Uneven work so that lanes interleave.
                    if index % 7 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    sender.send((guild, index)).unwrap();
                },
            );
        }
        drop(sender);
        let mut last: HashMap<String, u32> = HashMap::new();
        let mut count = 0;
        while let Ok((guild, index)) = receiver.recv_timeout(Duration::from_secs(10)) {
            if let Some(previous) = last.insert(guild.clone(), index) {
                assert!(
                    previous < index,
                    "lane {guild}: {index} ran after {previous}"
                );
            }
            count += 1;
            if count == 200 {
                break;
            }
        }
        assert_eq!(count, 200);
    }

    #[test]
    fn finishes_queued_work_on_drop() {
        let (sender, receiver) = mpsc::channel();
        {
            let lanes = Lanes::new(1).unwrap();
            for index in 0..50 {
                let sender = sender.clone();
                lanes.submit(
                    LaneKey {
                        plugin: "p".into(),
                        guild: None,
                    },
                    move || sender.send(index).unwrap(),
                );
            }
        }
        drop(sender);
        let got: Vec<i32> = receiver.iter().collect();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn one_guild_cannot_hold_every_thread() {
        let lanes = Lanes::new(4).unwrap();
        assert_eq!(lanes.per_guild_limit(), 2);
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (started, started_rx) = mpsc::channel();
        // Guild "a" has six plugins, each blocked until released.
        for plugin in 0..6 {
            let release = release.clone();
            let started = started.clone();
            lanes.submit(
                LaneKey {
                    plugin: format!("p{plugin}"),
                    guild: Some("a".into()),
                },
                move || {
                    started.send("a").unwrap();
                    let (lock, released) = &*release;
                    let mut done = lock.lock().unwrap();
                    while !*done {
                        done = released.wait(done).unwrap();
                    }
                },
            );
        }
        assert_eq!(started_rx.recv_timeout(Duration::from_secs(5)), Ok("a"));
        assert_eq!(started_rx.recv_timeout(Duration::from_secs(5)), Ok("a"));
        // Another guild's call runs while guild "a" is blocked.
        let (other, other_rx) = mpsc::channel();
        lanes.submit(
            LaneKey {
                plugin: "p0".into(),
                guild: Some("b".into()),
            },
            move || other.send("b").unwrap(),
        );
        assert_eq!(other_rx.recv_timeout(Duration::from_secs(5)), Ok("b"));
        assert!(
            started_rx.try_recv().is_err(),
            "guild a never holds more than half the threads"
        );
        let (lock, released) = &*release;
        *lock.lock().unwrap() = true;
        released.notify_all();
        for _ in 0..4 {
            assert_eq!(started_rx.recv_timeout(Duration::from_secs(5)), Ok("a"));
        }
    }
}
