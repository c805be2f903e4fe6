//! Voice: the [`Player`] the executor drives for the music commands (join, leave, play a URL or
//! a local file, pause, resume, volume, stop, skip), the track ends it reports, and
//! [`SongbirdPlayer`], which plays through songbird on serenity's gateway.
//!
//! The player holds no queue: the music plugin keeps each guild's queue and asks for one track
//! at a time, so playing a track replaces the one playing. A track that ends on its own
//! (finished, or failed while playing) is reported as a [`TrackEnded`] on the player's
//! [`TrackEvents`]; the caller turns it into `MUSIC_ENDED` ([`TrackEnded::music_ended`]) so the
//! plugin moves on. Ends a command causes (stop, skip, replace) are returned by that command and
//! never reported on the events: the plugin announced them itself.
//!
//! [`Sources`] opens what is played — `http(s)://` URLs with reqwest under the fetch policy
//! ([`super::fetch`]: checked before songbird gets them, read with a client pinned to the
//! checked addresses), local files under a media directory — and probes title, artist and
//! duration from the container's tags and headers.
//! Knows nothing of queues, plugins or Redis.

mod player;
mod songbird;
mod sources;

pub use player::*;
pub use songbird::*;
pub use sources::*;
