//! A guild's music session — the queue, the playing track, pause, volume and repeat — and every
//! transition on it, each returning the player commands and events it causes.
//!
//! The queue is a list; positions are 1-based places in it. With repeat OFF or TRACK the list
//! holds the playing track (always first) and the ones after it: a track that ends leaves the
//! list. With repeat QUEUE every track stays and playback cycles through the list.
//!
//! The player is driven with the request types themselves, executed by the bot: PLAY_MUSIC with
//! `playNow` = play this track now (joining the voice channel), SKIP_MUSIC = stop the current
//! track, PAUSE_MUSIC and SET_VOLUME as they are. The player reports a track that ended on
//! its own with MUSIC_ENDED (reason FINISHED or ERROR), which moves the session on.

use serde::{Deserialize, Serialize};

use guildhost_plugin::types::{
    MusicEndReason, MusicEnded, MusicPaused, MusicStarted, PauseMusic, PlayMusic, QueueCleared,
    RepeatMode, SkipMusic, Snowflake, Timestamp, Track, TrackAdded,
};
use guildhost_plugin::{Error, Output};

/// What repeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Repeat {
    /// Nothing: the session stops after the last track.
    #[default]
    Off,
    /// The playing track, until skipped.
    Track,
    /// The whole queue, in a cycle.
    Queue,
}

impl From<RepeatMode> for Repeat {
    fn from(mode: RepeatMode) -> Self {
        match mode {
            RepeatMode::Off => Repeat::Off,
            RepeatMode::Track => Repeat::Track,
            RepeatMode::Queue => Repeat::Queue,
        }
    }
}

/// A queued track as the session stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedTrack {
    /// Track id, unique within the guild.
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Length in seconds (0 while unknown).
    pub duration: f64,
    /// Source URL, or the search query.
    pub url: String,
    /// Who asked for it.
    pub requested_by: Snowflake,
}

impl QueuedTrack {
    /// A track for a PLAY_MUSIC `query`: a URL is played from its address, anything else is
    /// a search the player resolves.
    pub fn from_query(id: String, query: &str, requested_by: &Snowflake) -> Self {
        let query = query.trim();
        let is_url = query.starts_with("https://") || query.starts_with("http://");
        let title = if is_url {
            query
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|last| !last.is_empty())
                .unwrap_or(query)
                .to_owned()
        } else {
            query.to_owned()
        };
        Self {
            id,
            title,
            artist: String::from("Unknown artist"),
            duration: 0.0,
            url: if is_url {
                query.to_owned()
            } else {
                format!("search:{query}")
            },
            requested_by: requested_by.clone(),
        }
    }

    fn wit(&self) -> Track {
        Track {
            id: self.id.clone(),
            title: self.title.clone(),
            artist: self.artist.clone(),
            duration: self.duration,
            thumbnail: None,
            url: self.url.clone(),
            requested_by: self.requested_by.clone(),
        }
    }
}

/// One guild's session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Session {
    /// The queue.
    pub tracks: Vec<QueuedTrack>,
    /// Index of the playing track, if any.
    pub current: Option<usize>,
    /// The voice channel the player is in.
    pub voice_channel_id: Option<Snowflake>,
    /// Whether playback is paused.
    pub paused: bool,
    /// The player volume, once set.
    pub volume: Option<u32>,
    /// The repeat mode.
    pub repeat: Repeat,
    /// When the playing track started.
    pub started_at: Timestamp,
    /// When playback was paused, while paused.
    pub paused_at: Option<Timestamp>,
    /// Time spent paused during the playing track, in ms.
    pub paused_ms: u64,
    /// The number of the next track id.
    pub next_track: u64,
}

impl Session {
    fn total(&self) -> u32 {
        u32::try_from(self.tracks.len()).unwrap_or(u32::MAX)
    }

    fn position(index: usize) -> u32 {
        u32::try_from(index + 1).unwrap_or(u32::MAX)
    }

    /// Seconds the playing track has played, pauses excluded.
    pub fn played_seconds(&self, now: Timestamp) -> f64 {
        let until = self.paused_at.unwrap_or(now);
        until
            .saturating_sub(self.started_at)
            .saturating_sub(self.paused_ms) as f64
            / 1000.0
    }

    /// PLAY_MUSIC: queue the track (at the end, next, or now) and start playback if idle.
    pub fn play(
        &mut self,
        request: &PlayMusic,
        max_queue: usize,
        now: Timestamp,
    ) -> Result<Vec<Output>, Error> {
        if self.tracks.len() >= max_queue {
            return Err(Error::new(format!(
                "the music queue is full ({max_queue} tracks, configuration `maxQueue`)"
            )));
        }
        if let Some(channel) = &request.voice_channel_id {
            self.voice_channel_id = Some(channel.clone());
        }
        self.next_track += 1;
        let track = QueuedTrack::from_query(
            format!("track-{}", self.next_track),
            &request.query,
            &request.requested_by,
        );
        let index = match self.current {
            None => self.tracks.len(),
            Some(current) if request.play_next || request.play_now => current + 1,
            Some(_) => self.tracks.len(),
        };
        self.tracks.insert(index, track.clone());
        let mut outputs = vec![Output::publish(TrackAdded {
            track: track.wit(),
            position: Self::position(index),
            total_queue_size: self.total(),
            added_at: now,
        })];
        match self.current {
            None => outputs.extend(self.start(index, now)?),
            Some(_) if request.play_now => {
                outputs.extend(self.skip(1, &request.requested_by, now)?)
            }
            Some(_) => {}
        }
        Ok(outputs)
    }

    /// SKIP_MUSIC: end the playing track and `count - 1` after it; play what comes next.
    pub fn skip(
        &mut self,
        count: u32,
        requested_by: &Snowflake,
        now: Timestamp,
    ) -> Result<Vec<Output>, Error> {
        let Some(current) = self.current else {
            return Ok(Vec::new());
        };
        let count = usize::try_from(count.max(1)).unwrap_or(usize::MAX);
        let ended = self.tracks[current].clone();
        let played = self.played_seconds(now);
        let next = if self.repeat == Repeat::Queue {
            Some((current + count) % self.tracks.len())
        } else {
            // The skipped tracks leave the queue; the playing one is always first.
            let gone = count.min(self.tracks.len());
            self.tracks.drain(..gone);
            (!self.tracks.is_empty()).then_some(0)
        };
        let mut outputs = vec![Output::publish(MusicEnded {
            track_id: ended.id,
            reason: MusicEndReason::Skipped,
            duration: played,
            next_track_id: next.map(|i| self.tracks[i].id.clone()),
        })];
        match next {
            Some(index) => outputs.extend(self.start(index, now)?),
            None => {
                self.stop();
                outputs.push(Output::execute(SkipMusic {
                    requested_by: requested_by.clone(),
                    skip_count: 1,
                }));
            }
        }
        Ok(outputs)
    }

    /// MUSIC_ENDED from the player: the track ended on its own; play what comes next.
    pub fn ended(&mut self, ended: &MusicEnded, now: Timestamp) -> Result<Vec<Output>, Error> {
        let Some(current) = self.current else {
            return Ok(Vec::new());
        };
        let finished = ended.reason == MusicEndReason::Finished;
        let failed = ended.reason == MusicEndReason::Error;
        // Only the playing track's own end moves the session; a skip's is announced already.
        // The host's player names a track by the source it was asked to play (PLAY_MUSIC
        // carries no track id), so the source identifies the playing track too.
        let playing = &self.tracks[current];
        let ours = playing.id == ended.track_id || playing.url == ended.track_id;
        if !ours || !(finished || failed) {
            return Ok(Vec::new());
        }
        let next = match self.repeat {
            Repeat::Track if finished => Some(current),
            Repeat::Queue => Some((current + 1) % self.tracks.len()),
            Repeat::Off | Repeat::Track => {
                self.tracks.remove(current);
                (!self.tracks.is_empty()).then_some(0)
            }
        };
        match next {
            Some(index) => self.start(index, now),
            None => {
                self.stop();
                Ok(Vec::new())
            }
        }
    }

    /// PAUSE_MUSIC: pause or resume the playing track.
    pub fn pause(&mut self, request: &PauseMusic, now: Timestamp) -> Vec<Output> {
        if self.current.is_none() || self.paused == request.paused {
            return Vec::new();
        }
        if request.paused {
            self.paused_at = Some(now);
        } else if let Some(since) = self.paused_at.take() {
            self.paused_ms += now.saturating_sub(since);
        }
        self.paused = request.paused;
        vec![
            Output::execute(request.clone()),
            Output::publish(MusicPaused {
                paused: request.paused,
                requested_by: request.requested_by.clone(),
                current_position: self.played_seconds(now),
            }),
        ]
    }

    /// SET_REPEAT: change the mode; leaving QUEUE drops the tracks already played this cycle.
    pub fn set_repeat(&mut self, mode: Repeat) {
        if self.repeat == Repeat::Queue
            && mode != Repeat::Queue
            && let Some(current) = self.current
        {
            self.tracks.drain(..current);
            self.current = Some(0);
        }
        self.repeat = mode;
    }

    /// CLEAR_MUSIC: empty the queue except for the playing track.
    pub fn clear(&mut self, cleared_by: &Snowflake) -> Vec<Output> {
        let kept = self.current.map(|current| self.tracks[current].clone());
        let removed = self.tracks.len() - usize::from(kept.is_some());
        self.tracks = kept.into_iter().collect();
        if self.current.is_some() {
            self.current = Some(0);
        }
        vec![Output::publish(QueueCleared {
            cleared_by: cleared_by.clone(),
            track_count: u32::try_from(removed).unwrap_or(u32::MAX),
        })]
    }

    /// SHUFFLE_MUSIC: the playing track first, the others in an order drawn from `seed`.
    pub fn shuffle(&mut self, seed: u64) {
        if let Some(current) = self.current {
            self.tracks.rotate_left(current);
            self.current = Some(0);
        }
        let start = usize::from(self.current.is_some());
        let mut state = seed | 1;
        // Fisher–Yates over the tracks after the playing one, with xorshift64* as the source:
        // plugins have no randomness, and a per-request seed is all shuffling needs.
        for i in (start + 1..self.tracks.len()).rev() {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let span = (i - start + 1) as u64;
            let j = start + (draw % span) as usize;
            self.tracks.swap(i, j);
        }
    }

    /// Starts the track at `index`: the player command and MUSIC_STARTED.
    fn start(&mut self, index: usize, now: Timestamp) -> Result<Vec<Output>, Error> {
        let Some(voice_channel_id) = self.voice_channel_id.clone() else {
            return Err(Error::new(
                "voiceChannelId: needed to start playback (no voice channel known for this guild)",
            ));
        };
        self.current = Some(index);
        self.started_at = now;
        self.paused = false;
        self.paused_at = None;
        self.paused_ms = 0;
        let track = &self.tracks[index];
        Ok(vec![
            Output::execute(PlayMusic {
                query: track.url.clone(),
                requested_by: track.requested_by.clone(),
                voice_channel_id: Some(voice_channel_id.clone()),
                play_next: false,
                play_now: true,
            }),
            Output::publish(MusicStarted {
                track: track.wit(),
                voice_channel_id,
                queue_position: Self::position(index),
                total_queue_size: self.total(),
            }),
        ])
    }

    fn stop(&mut self) {
        self.current = None;
        self.paused = false;
        self.paused_at = None;
        self.paused_ms = 0;
        if self.repeat != Repeat::Queue {
            self.tracks.clear();
        }
    }
}
