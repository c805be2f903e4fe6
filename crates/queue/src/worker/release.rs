//! Giving jobs back to the head of their queue without consuming an attempt: the backlog when
//! shutdown begins, jobs taken after it began, and the jobs still held when its timeout passes.

use super::event_loop::Run;
use crate::packed::Taken;
use crate::scripts::Release;

impl<H> Run<'_, H> {
    /// Gives jobs back to the head of the queue without consuming an attempt.
    pub(super) async fn release(&mut self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let release = Release {
            keys: &self.shared.keys,
            token: &self.shared.token,
            ids: ids.iter().map(String::as_str),
        };
        match release.run(&self.shared.conn).await {
            Ok(released) => {
                self.stats.released += released.iter().filter(|released| **released).count() as u64
            }
            Err(error) => {
                tracing::warn!(%error, "releasing jobs failed; the stalled check will recover them")
            }
        }
        for id in ids {
            self.shared.unhold(id);
        }
    }

    /// Gives back jobs a call took after shutdown began (they never reached the handler).
    pub(super) async fn release_taken(&mut self, taken: Vec<Taken>) {
        let ids: Vec<String> = taken
            .into_iter()
            .filter_map(|entry| match entry {
                Taken::Job(job) => Some(job.id),
                Taken::Orphan(_) => None,
            })
            .collect();
        self.release(&ids).await;
    }

    /// Gives back a job the blocking wait moved into `active` after shutdown began. It holds no
    /// lock yet, and releasing needs ours, so it is taken (locked) first.
    pub(super) async fn release_popped(&mut self, id: &str) {
        match self.shared.take(Some(id), 0).await {
            Ok(taken) => self.release_taken(taken).await,
            Err(error) => {
                tracing::warn!(%error, %id, "giving back a popped job failed; the stalled check will recover it")
            }
        }
    }
}
