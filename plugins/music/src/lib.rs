//! The first-party `music` plugin: one music session per guild, kept in the plugin's KV store
//! (key `session`), driven by PLAY_MUSIC (`playNext`, `playNow`), SKIP_MUSIC (`skipCount`),
//! PAUSE_MUSIC, SET_VOLUME, SET_REPEAT (OFF / TRACK / QUEUE), SHUFFLE_MUSIC and CLEAR_MUSIC,
//! and by the player's MUSIC_ENDED when a track finishes. It publishes TRACK_ADDED,
//! MUSIC_STARTED, MUSIC_ENDED (for skips), MUSIC_PAUSED and QUEUE_CLEARED with the queue
//! positions and sizes, and executes the player commands (see [`session`]).
//!
//! A guild's requests must apply in order: run `bot:music` with `concurrency = 1`.

pub mod session;

use serde::Deserialize;

use guildhost_plugin::types::{CustomMessage, Snowflake};
use guildhost_plugin::{Context, Error, Incoming, Message, Output, Plugin, info};

use session::{Repeat, Session};

/// The KV key of the guild's session.
const SESSION_KEY: &str = "session";

/// The plugin.
pub struct Music;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MusicConfig {
    max_queue: usize,
}

impl Default for MusicConfig {
    fn default() -> Self {
        Self { max_queue: 500 }
    }
}

/// The data of the API-defined SHUFFLE_MUSIC and CLEAR_MUSIC requests.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueRequest {
    requested_by: Snowflake,
}

impl Plugin for Music {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Some(guild_id) = msg.guild_id() else {
            return match &msg.message {
                // A player report without a guild concerns no session.
                Message::MusicEnded(_) => Ok(Vec::new()),
                _ => Err(Error::new(format!(
                    "guildId: {} needs the guild whose music it controls",
                    msg.type_name()
                ))),
            };
        };
        let kv = ctx.kv();
        let mut session = load(ctx)?;
        let now = ctx.now();
        let outputs = match &msg.message {
            Message::PlayMusic(play) => {
                let config: MusicConfig = ctx.config()?;
                session.play(play, config.max_queue, now)?
            }
            Message::SkipMusic(skip) => session.skip(skip.skip_count, &skip.requested_by, now)?,
            Message::PauseMusic(pause) => session.pause(pause, now),
            Message::SetVolume(volume) => {
                session.volume = Some(volume.volume);
                vec![Output::execute(volume.clone())]
            }
            Message::SetRepeat(repeat) => {
                session.set_repeat(Repeat::from(repeat.mode));
                Vec::new()
            }
            Message::MusicEnded(ended) => session.ended(ended, now)?,
            Message::Custom(custom) if custom.type_name == "CLEAR_MUSIC" => {
                session.clear(&queue_request(custom)?.requested_by)
            }
            Message::Custom(custom) if custom.type_name == "SHUFFLE_MUSIC" => {
                queue_request(custom)?;
                session.shuffle(seed(&msg.envelope.id, now));
                Vec::new()
            }
            _ => return Ok(Vec::new()),
        };
        kv.set_json(SESSION_KEY, &session)?;
        info!(
            ctx,
            "guild {guild_id}: {} handled, {} track(s) queued",
            msg.type_name(),
            session.tracks.len()
        );
        Ok(outputs)
    }
}

/// The stored session, made consistent: a stored index past the queue means nothing plays.
fn load(ctx: &Context<'_>) -> Result<Session, Error> {
    let mut session: Session = ctx.kv().get_json(SESSION_KEY)?.unwrap_or_default();
    if session
        .current
        .is_some_and(|current| current >= session.tracks.len())
    {
        session.current = None;
    }
    Ok(session)
}

fn queue_request(custom: &CustomMessage) -> Result<QueueRequest, Error> {
    serde_json::from_str(&custom.data)
        .map_err(|e| Error::new(format!("{}: data: {e}", custom.type_name)))
}

/// A shuffle seed from the request id and the time (FNV-1a).
fn seed(id: &str, now: u64) -> u64 {
    id.bytes()
        .chain(now.to_le_bytes())
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

guildhost_plugin::export!(Music);

#[cfg(test)]
mod tests;
