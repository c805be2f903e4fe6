//! Interactions waiting for their answer. Discord takes the first response to an interaction
//! only within 3 s of it. The gateway notes each one on receipt ([`Interactions::received`]) and,
//! when no answer has started by [`DEFER_AFTER`], sends the deferred response: type 5 for a
//! command or a modal (the member sees "thinking…"), type 6 for a component (nothing shows; the
//! message keeps its state). Autocomplete is never deferred: Discord takes its choices only as
//! the first answer.
//!
//! The executor answers an `INTERACTION_REPLY` with the response itself while it still may
//! (type 4 a message, 7 an update of the component's message, 8 autocomplete choices, 9 a
//! modal). After a deferral, a message edits the "thinking…" response (a command) or follows up
//! (a component); an update edits the component's message; a modal or choices can no longer be
//! sent, and the reply fails with that reason.
//!
//! The state lives in this process, shared by the gateway and the executor. An interaction this
//! process did not receive (another host took the reply's job, or this one restarted) is tried
//! as a response first; Discord's "already acknowledged" (40060) then means some host deferred
//! it, and the reply becomes the edit.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use serenity::all::{InteractionId, MessageId};
use serenity::http::Http;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::classify::{classify, discord_code};
use super::rest::{SerenityDiscord, discord_id};
use super::{DiscordError, Outcome};
use guildhost_protocol as p;

/// When the host defers an interaction no answer has started for: early enough that the
/// deferral reaches Discord within its 3 s.
pub(crate) const DEFER_AFTER: Duration = Duration::from_millis(2500);

/// How long an interaction is remembered: its token is valid for 15 minutes.
const REMEMBERED_FOR: Duration = Duration::from_secs(15 * 60);

/// Discord's code for a response to an interaction that already has one.
const ALREADY_ACKNOWLEDGED: isize = 40060;

/// Discord's interaction response types.
const CHANNEL_MESSAGE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
const DEFERRED_UPDATE_MESSAGE: u8 = 6;
const UPDATE_MESSAGE: u8 = 7;
const AUTOCOMPLETE_RESULT: u8 = 8;
const MODAL: u8 = 9;
/// The message flag that shows a response to the invoking member only.
const EPHEMERAL: u64 = 1 << 6;

/// Where one interaction's answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Received; nothing sent yet.
    Waiting,
    /// The response (type 4) is on its way.
    Answering,
    /// The deferred response is on its way.
    Deferring,
    /// Deferred as said: a later answer edits or follows up.
    Deferred(Deferral),
    /// Answered: a repeated answer (a retried job) edits the response, which changes nothing.
    Answered,
}

/// How an interaction is deferred when no answer comes in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// "Thinking…" (type 5): the answer becomes the response's edit. Commands and modals.
    Message,
    /// A silent acknowledgement (type 6): the message the component is on stays as it is until
    /// an update edits it. Components.
    Update,
}

impl Deferral {
    fn response_type(self) -> u8 {
        match self {
            Deferral::Message => DEFERRED_CHANNEL_MESSAGE,
            Deferral::Update => DEFERRED_UPDATE_MESSAGE,
        }
    }
}

/// Where the executor found an interaction when its answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Nothing sent yet: the answer is the response.
    Respond,
    /// Deferred: the answer edits the response or follows it up.
    Deferred(Deferral),
    /// Already answered (a retried job): the answer edits the response.
    Answered,
    /// Not received here: as a response, or as the edit if Discord says it has one.
    Unknown,
}

/// The interactions this process received and where their answers stand; shared by the gateway
/// (which notes and defers them) and the executor (which answers them).
#[derive(Debug, Default)]
pub struct Interactions {
    application_id: AtomicU64,
    by_id: Mutex<HashMap<u64, (State, Instant)>>,
    /// Which reply went out as each interaction's response, and the follow-ups sent, by the
    /// reply's nonce (stable across its job's retries): a retried reply edits what it sent,
    /// a further reply follows up instead of overwriting the first.
    replies: Mutex<HashMap<u64, Replies>>,
    changed: Notify,
}

/// The replies one interaction got.
#[derive(Debug, Default)]
struct Replies {
    /// The nonce of the reply that made (or edited in) the response.
    response: Option<String>,
    /// Follow-up messages by the nonce of the reply that sent them.
    follow_ups: HashMap<String, u64>,
}

impl Interactions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (State, Instant)>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn replies(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Replies>> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the reply with `nonce` may make (or already made) the response of `id`: none
    /// did yet, or this one did (a retry). Claims it for `nonce` when free.
    fn responds(&self, id: u64, nonce: &str) -> bool {
        let mut replies = self.replies();
        let entry = replies.entry(id).or_default();
        match &entry.response {
            Some(first) => first == nonce,
            None => {
                entry.response = Some(nonce.to_owned());
                true
            }
        }
    }

    /// The follow-up the reply with `nonce` sent to `id` before (its job is being retried).
    fn follow_up_of(&self, id: u64, nonce: &str) -> Option<u64> {
        self.replies().get(&id)?.follow_ups.get(nonce).copied()
    }

    fn note_follow_up(&self, id: u64, nonce: &str, message: u64) {
        self.replies()
            .entry(id)
            .or_default()
            .follow_ups
            .insert(nonce.to_owned(), message);
    }

    fn set(&self, id: u64, from: &[State], to: State) {
        if let Some((state, _)) = self.lock().get_mut(&id)
            && from.contains(state)
        {
            *state = to;
        }
        self.changed.notify_waiters();
    }

    /// Notes the bot's application id (from the gateway's READY).
    pub fn set_application_id(&self, id: u64) {
        self.application_id.store(id, Ordering::Release);
    }

    /// The bot's application id, once the gateway said READY.
    pub fn application_id(&self) -> Option<u64> {
        match self.application_id.load(Ordering::Acquire) {
            0 => None,
            id => Some(id),
        }
    }

    /// Notes an interaction just received.
    pub fn received(&self, id: u64) {
        let now = Instant::now();
        let mut by_id = self.lock();
        by_id.retain(|_, (_, at)| now.duration_since(*at) < REMEMBERED_FOR);
        by_id.insert(id, (State::Waiting, now));
        let mut replies = self.replies();
        replies.retain(|id, _| by_id.contains_key(id));
    }

    /// Runs `check` on the interaction's state until it decides, waiting for changes in
    /// between (at most until `deadline`; then `check` gets `None`).
    async fn decide<T>(
        &self,
        id: u64,
        deadline: Instant,
        mut check: impl FnMut(Option<&mut State>) -> Option<T>,
    ) -> T {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let expired = Instant::now() >= deadline;
            {
                let mut by_id = self.lock();
                let state = if expired {
                    None
                } else {
                    by_id.get_mut(&id).map(|(state, _)| state)
                };
                if let Some(decided) = check(state) {
                    return decided;
                }
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// How to send the answer to `id`, claiming the response if nothing was sent yet. Waits
    /// while a deferral or another answer is on its way (at most `wait`).
    async fn claim_answer(&self, id: u64, wait: Duration) -> Route {
        self.decide(id, Instant::now() + wait, |state| match state {
            None => Some(Route::Unknown),
            Some(state @ State::Waiting) => {
                *state = State::Answering;
                Some(Route::Respond)
            }
            Some(State::Answering | State::Deferring) => None,
            Some(State::Deferred(deferral)) => Some(Route::Deferred(*deferral)),
            Some(State::Answered) => Some(Route::Answered),
        })
        .await
    }

    /// Claims the deferral of `id` if no answer was sent; while one is on its way, waits for
    /// its outcome (a failed answer leaves the interaction to defer).
    async fn claim_deferral(&self, id: u64, wait: Duration) -> bool {
        self.decide(id, Instant::now() + wait, |state| match state {
            Some(state @ State::Waiting) => {
                *state = State::Deferring;
                Some(true)
            }
            Some(State::Answering) => None,
            _ => Some(false),
        })
        .await
    }

    /// Defers interaction `id` with `http` as `deferral` says unless an answer was sent by
    /// `DEFER_AFTER` after `received`; each request gets `timeout`. Spawned by the gateway for
    /// every interaction that may be deferred.
    pub async fn defer_when_late(
        self: Arc<Self>,
        http: Arc<Http>,
        id: InteractionId,
        token: String,
        deferral: Deferral,
        received: Instant,
        timeout: Duration,
    ) {
        tokio::time::sleep_until(received + DEFER_AFTER).await;
        let key = id.get();
        // An answer on its way may still fail; the deferral waits for its outcome.
        if !self.claim_deferral(key, timeout * 2).await {
            return;
        }
        let body = json!({ "type": deferral.response_type() });
        let result = tokio::time::timeout(
            timeout,
            http.create_interaction_response(id, &token, &body, Vec::new()),
        )
        .await;
        match result {
            Ok(Ok(())) => {
                tracing::debug!(interaction = key, "no answer within 2.5 s: deferred");
                self.set(key, &[State::Deferring], State::Deferred(deferral));
            }
            Ok(Err(e)) if discord_code(&e).is_some_and(|(_, c)| c == ALREADY_ACKNOWLEDGED) => {
                self.set(key, &[State::Deferring], State::Deferred(deferral));
            }
            Ok(Err(e)) => {
                tracing::warn!(interaction = key, error = %e, "deferring an interaction failed");
                self.set(key, &[State::Deferring], State::Waiting);
            }
            Err(_) => {
                tracing::warn!(interaction = key, "deferring an interaction timed out");
                self.set(key, &[State::Deferring], State::Waiting);
            }
        }
    }
}

impl SerenityDiscord {
    /// Sends `reply` as its interaction's response, or, once the interaction was deferred or
    /// answered, as the edit or follow-up its kind calls for. `nonce` identifies the reply
    /// across its job's retries.
    pub(super) async fn answer_interaction(
        &self,
        reply: &p::InteractionReply,
        nonce: &str,
    ) -> Result<Outcome, DiscordError> {
        let id = discord_id::<InteractionId>("data.interactionId", reply.interaction_id)?;
        let key = id.get();
        let interactions = self.interactions();
        match interactions.claim_answer(key, self.request_timeout()).await {
            Route::Respond | Route::Unknown => {}
            Route::Deferred(deferral) => {
                return self.answer_after(reply, nonce, Some(deferral)).await;
            }
            Route::Answered => return self.answer_after(reply, nonce, None).await,
        }
        let body = json!({ "type": response_type(reply.kind()), "data": response_data(reply) });
        let sent = self
            .timed(
                "interaction response",
                self.http()
                    .create_interaction_response(id, &reply.token, &body, Vec::new()),
            )
            .await;
        match sent {
            Ok(Ok(())) => {
                interactions.responds(key, nonce);
                interactions.set(key, &[State::Answering], State::Answered);
                Ok(Outcome::Done)
            }
            Ok(Err(e)) if discord_code(&e).is_some_and(|(_, c)| c == ALREADY_ACKNOWLEDGED) => {
                // Deferred by another host, or the answer of an earlier attempt went through.
                // A message then edits the response; a modal or choices cannot follow a
                // deferral, and which of the two happened is not known here: say so.
                interactions.set(key, &[State::Answering], State::Answered);
                let deferral = matches!(
                    reply.kind(),
                    p::ReplyKind::Modal | p::ReplyKind::Autocomplete
                )
                .then_some(Deferral::Message);
                self.answer_after(reply, nonce, deferral).await
            }
            Ok(Err(e)) => {
                interactions.set(key, &[State::Answering], State::Waiting);
                Err(classify(e))
            }
            Err(timed_out) => {
                interactions.set(key, &[State::Answering], State::Waiting);
                Err(timed_out)
            }
        }
    }

    /// Sends `reply` to an interaction that already has its response: deferred as `deferral`
    /// says, or answered (`None`: by a reply before this one, by this reply's earlier attempt,
    /// or by another host).
    async fn answer_after(
        &self,
        reply: &p::InteractionReply,
        nonce: &str,
        deferral: Option<Deferral>,
    ) -> Result<Outcome, DiscordError> {
        let key = reply.interaction_id.get();
        let interactions = self.interactions();
        match (reply.kind(), deferral) {
            (kind @ (p::ReplyKind::Modal | p::ReplyKind::Autocomplete), _) => {
                // The first went through and this is its retry: nothing is left to send.
                if deferral.is_none() && interactions.responds(key, nonce) {
                    return Ok(Outcome::Done);
                }
                Err(DiscordError::Permanent {
                    code: u32::try_from(ALREADY_ACKNOWLEDGED).unwrap_or_default(),
                    message: format!(
                        "a {kind:?} answer must be the interaction's first, within Discord's 3 s; \
                         the interaction had been deferred or answered by then"
                    ),
                })
            }
            // A component's message stays until an update edits it.
            (p::ReplyKind::Update, _) => self.edit_original(reply).await,
            (p::ReplyKind::Message, Some(Deferral::Update)) => self.follow_up(reply, nonce).await,
            // The first message after "thinking…" (or its retry) replaces it; any further one
            // is a message of its own.
            (p::ReplyKind::Message, _) if interactions.responds(key, nonce) => {
                self.edit_original(reply).await
            }
            (p::ReplyKind::Message, _) => self.follow_up(reply, nonce).await,
        }
    }

    /// Replaces the interaction's response (the deferred "thinking…", an earlier answer, or the
    /// message a component is on) with `reply`.
    async fn edit_original(&self, reply: &p::InteractionReply) -> Result<Outcome, DiscordError> {
        self.application_id().await?;
        let body = Value::Object(message_data(reply));
        let edited = self
            .timed(
                "edit interaction response",
                self.http()
                    .edit_original_interaction_response(&reply.token, &body, Vec::new()),
            )
            .await?
            .map_err(classify)?;
        Ok(Outcome::Sent {
            message_id: edited.id.to_string(),
        })
    }

    /// Sends `reply` as a message of its own after the interaction's response; a retry of the
    /// same reply edits the follow-up it sent instead of posting it again.
    async fn follow_up(
        &self,
        reply: &p::InteractionReply,
        nonce: &str,
    ) -> Result<Outcome, DiscordError> {
        self.application_id().await?;
        let key = reply.interaction_id.get();
        let body = Value::Object(response_data(reply));
        let sent = match self.interactions().follow_up_of(key, nonce) {
            Some(earlier) => {
                self.timed(
                    "edit interaction follow-up",
                    self.http().edit_followup_message(
                        &reply.token,
                        MessageId::new(earlier),
                        &body,
                        Vec::new(),
                    ),
                )
                .await?
            }
            None => {
                self.timed(
                    "interaction follow-up",
                    self.http()
                        .create_followup_message(&reply.token, &body, Vec::new()),
                )
                .await?
            }
        }
        .map_err(classify)?;
        self.interactions()
            .note_follow_up(key, nonce, sent.id.get());
        Ok(Outcome::Sent {
            message_id: sent.id.to_string(),
        })
    }
}

/// Discord's response type for an answer of `kind` sent as the response itself.
fn response_type(kind: p::ReplyKind) -> u8 {
    match kind {
        p::ReplyKind::Message => CHANNEL_MESSAGE,
        p::ReplyKind::Update => UPDATE_MESSAGE,
        p::ReplyKind::Autocomplete => AUTOCOMPLETE_RESULT,
        p::ReplyKind::Modal => MODAL,
    }
}

/// The `data` of a response carrying `reply`.
fn response_data(reply: &p::InteractionReply) -> Map<String, Value> {
    match reply.kind() {
        p::ReplyKind::Autocomplete => {
            let mut data = Map::new();
            data.insert("choices".into(), json!(reply.choices));
            data
        }
        p::ReplyKind::Modal => {
            let mut data = message_data(reply);
            data.insert("custom_id".into(), json!(reply.custom_id));
            data.insert("title".into(), json!(reply.title));
            data
        }
        p::ReplyKind::Update => message_data(reply),
        p::ReplyKind::Message => {
            let mut data = message_data(reply);
            if reply.ephemeral == Some(true) {
                data.insert("flags".into(), json!(EPHEMERAL));
            }
            data
        }
    }
}

/// The message part of an answer, as Discord's JSON.
fn message_data(reply: &p::InteractionReply) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(content) = &reply.content {
        data.insert("content".into(), json!(content));
    }
    if let Some(embeds) = &reply.embeds {
        data.insert("embeds".into(), json!(embeds));
    }
    if let Some(components) = &reply.components {
        data.insert("components".into(), json!(components));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_claims_the_response_and_a_late_deferral_stands_down() {
        let interactions = Interactions::default();
        interactions.received(7);
        assert_eq!(
            interactions.claim_answer(7, Duration::from_secs(1)).await,
            Route::Respond
        );
        interactions.set(7, &[State::Answering], State::Answered);
        assert!(!interactions.claim_deferral(7, Duration::from_secs(1)).await);
        // A repeated answer edits the response.
        assert_eq!(
            interactions.claim_answer(7, Duration::from_secs(1)).await,
            Route::Answered
        );
        assert_eq!(
            interactions.claim_answer(8, Duration::from_secs(1)).await,
            Route::Unknown
        );
    }

    #[tokio::test]
    async fn a_failed_answer_leaves_the_interaction_to_the_deferral() {
        let interactions = Arc::new(Interactions::default());
        interactions.received(7);
        assert_eq!(
            interactions.claim_answer(7, Duration::from_secs(1)).await,
            Route::Respond
        );
        let deferral = tokio::spawn({
            let interactions = interactions.clone();
            async move { interactions.claim_deferral(7, Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        interactions.set(7, &[State::Answering], State::Waiting);
        assert!(matches!(deferral.await, Ok(true)));
        // The answer that follows waits for the deferral, then edits.
        let answer = tokio::spawn({
            let interactions = interactions.clone();
            async move { interactions.claim_answer(7, Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        interactions.set(7, &[State::Deferring], State::Deferred(Deferral::Update));
        assert!(matches!(
            answer.await,
            Ok(Route::Deferred(Deferral::Update))
        ));
    }
}
