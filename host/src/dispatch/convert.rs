//! Conversions between the protocol's messages (the JSON the Node API exchanges) and the
//! WIT-generated types plugins see.
//!
//! Towards a plugin nothing can fail except a date before 1970, which a WIT `timestamp` cannot
//! hold. Back from a plugin everything is checked: snowflakes must parse, JSON text must be
//! JSON of the right shape, numbers must be finite. Errors are [`ProtocolError`]s whose path
//! reads like the JSON the message becomes (`data.userId: ...`), so a plugin author sees the
//! same message an API developer would. Fields the protocol keeps for forward compatibility
//! (`extra`) have no WIT counterpart; they are not shown to plugins.

use serde::de::DeserializeOwned;

use crate::protocol::{self as p, ProtocolError};
use crate::runtime::bindings as w;

/// Converts a protocol message into the envelope and message a plugin's `handle` receives.
pub fn to_wit(message: &p::Message) -> Result<(w::Envelope, w::Message), ProtocolError> {
    let env = &message.envelope;
    let envelope = w::Envelope {
        id: env.id.clone(),
        type_name: message.payload.type_name().to_owned(),
        timestamp: millis(env.timestamp, "timestamp")?,
        source: env.source.to_wit()?,
        guild_id: env.guild_id.map(|id| id.to_string()),
        user_id: env.user_id.map(|id| id.to_string()),
        request_id: env.request_id.clone(),
        priority: opt_to_wit(&env.priority)?,
    };
    Ok((envelope, payload_to_wit(&message.payload)?))
}

/// Converts a payload a plugin produced back into a protocol payload (not yet validated: call
/// [`p::Message::validate`] on the message it becomes).
pub fn payload_from_wit(message: w::Message) -> Result<p::Payload, ProtocolError> {
    const AT: &str = "data";
    use w::Message as M;
    Ok(match message {
        M::SendMessage(m) => p::Payload::SendMessage(FromWit::from_wit(m, AT)?),
        M::SendDm(m) => p::Payload::SendDm(FromWit::from_wit(m, AT)?),
        M::BanUser(m) => p::Payload::BanUser(FromWit::from_wit(m, AT)?),
        M::KickUser(m) => p::Payload::KickUser(FromWit::from_wit(m, AT)?),
        M::TimeoutUser(m) => p::Payload::TimeoutUser(FromWit::from_wit(m, AT)?),
        M::UnbanUser(m) => p::Payload::UnbanUser(FromWit::from_wit(m, AT)?),
        M::DeleteMessage(m) => p::Payload::DeleteMessage(FromWit::from_wit(m, AT)?),
        M::WarnUser(m) => p::Payload::WarnUser(FromWit::from_wit(m, AT)?),
        M::PlayMusic(m) => p::Payload::PlayMusic(FromWit::from_wit(m, AT)?),
        M::SkipMusic(m) => p::Payload::SkipMusic(FromWit::from_wit(m, AT)?),
        M::PauseMusic(m) => p::Payload::PauseMusic(FromWit::from_wit(m, AT)?),
        M::SetVolume(m) => p::Payload::SetVolume(FromWit::from_wit(m, AT)?),
        M::SetRepeat(m) => p::Payload::SetRepeat(FromWit::from_wit(m, AT)?),
        M::UpdateConfig(m) => p::Payload::UpdateConfig(FromWit::from_wit(m, AT)?),
        M::ReloadCommands(m) => p::Payload::ReloadCommands(FromWit::from_wit(m, AT)?),
        M::MemberJoined(m) => p::Payload::MemberJoined(FromWit::from_wit(m, AT)?),
        M::MemberLeft(m) => p::Payload::MemberLeft(FromWit::from_wit(m, AT)?),
        M::MemberUpdated(m) => p::Payload::MemberUpdated(FromWit::from_wit(m, AT)?),
        M::MessageCreated(m) => p::Payload::MessageCreated(FromWit::from_wit(m, AT)?),
        M::MessageDeleted(m) => p::Payload::MessageDeleted(FromWit::from_wit(m, AT)?),
        M::MessageEdited(m) => p::Payload::MessageEdited(FromWit::from_wit(m, AT)?),
        M::MessageBulkDeleted(m) => p::Payload::MessageBulkDeleted(FromWit::from_wit(m, AT)?),
        M::ChannelCreated(m) => p::Payload::ChannelCreated(FromWit::from_wit(m, AT)?),
        M::RoleCreated(m) => p::Payload::RoleCreated(FromWit::from_wit(m, AT)?),
        M::CaseCreated(m) => p::Payload::CaseCreated(FromWit::from_wit(m, AT)?),
        M::CaseUpdated(m) => p::Payload::CaseUpdated(FromWit::from_wit(m, AT)?),
        M::ModerationActionCompleted(m) => {
            p::Payload::ModerationActionCompleted(FromWit::from_wit(m, AT)?)
        }
        M::AutomodTriggered(m) => p::Payload::AutomodTriggered(FromWit::from_wit(m, AT)?),
        M::MusicStarted(m) => p::Payload::MusicStarted(FromWit::from_wit(m, AT)?),
        M::MusicEnded(m) => p::Payload::MusicEnded(FromWit::from_wit(m, AT)?),
        M::MusicPaused(m) => p::Payload::MusicPaused(FromWit::from_wit(m, AT)?),
        M::TrackAdded(m) => p::Payload::TrackAdded(FromWit::from_wit(m, AT)?),
        M::QueueCleared(m) => p::Payload::QueueCleared(FromWit::from_wit(m, AT)?),
        M::UserNotification(m) => p::Payload::UserNotification(FromWit::from_wit(m, AT)?),
        M::BroadcastNotification(m) => p::Payload::BroadcastNotification(FromWit::from_wit(m, AT)?),
        M::ScheduledTask(m) => p::Payload::ScheduledTask(FromWit::from_wit(m, AT)?),
        M::CleanupExpiredCases(m) => p::Payload::CleanupExpiredCases(FromWit::from_wit(m, AT)?),
        M::Custom(m) => {
            let data = json_value(&m.data, AT)?;
            match m.type_name.parse::<p::MessageType>() {
                Ok(defined) if CARRIED_AS_CUSTOM.contains(&defined) => {
                    p::Payload::decode_data(defined, data)?
                }
                _ => p::Payload::Custom {
                    data,
                    type_name: m.type_name,
                },
            }
        }
    })
}

/// Defined types without a case of their own in WIT `0.1.0`: plugins see and emit them as
/// `custom` messages whose `data` is the protocol's JSON.
const CARRIED_AS_CUSTOM: [p::MessageType; 2] = [
    p::MessageType::InteractionCreated,
    p::MessageType::InteractionReply,
];

/// A payload as the `custom` case: its type name and its `data` JSON.
fn as_custom(payload: &p::Payload) -> Result<w::Message, ProtocolError> {
    let message = p::Message::new(p::Envelope::new(p::Source::Bot), payload.clone());
    let data = message.to_value()?["data"].take();
    Ok(w::Message::Custom(w::CustomMessage {
        type_name: payload.type_name().to_owned(),
        data: data.to_string(),
    }))
}

/// Converts a protocol payload into the WIT message variant.
pub fn payload_to_wit(payload: &p::Payload) -> Result<w::Message, ProtocolError> {
    use p::Payload as P;
    use w::Message as M;
    Ok(match payload {
        P::SendMessage(m) => M::SendMessage(m.to_wit()?),
        P::SendDm(m) => M::SendDm(m.to_wit()?),
        P::BanUser(m) => M::BanUser(m.to_wit()?),
        P::KickUser(m) => M::KickUser(m.to_wit()?),
        P::TimeoutUser(m) => M::TimeoutUser(m.to_wit()?),
        P::UnbanUser(m) => M::UnbanUser(m.to_wit()?),
        P::DeleteMessage(m) => M::DeleteMessage(m.to_wit()?),
        P::WarnUser(m) => M::WarnUser(m.to_wit()?),
        P::PlayMusic(m) => M::PlayMusic(m.to_wit()?),
        P::SkipMusic(m) => M::SkipMusic(m.to_wit()?),
        P::PauseMusic(m) => M::PauseMusic(m.to_wit()?),
        P::SetVolume(m) => M::SetVolume(m.to_wit()?),
        P::SetRepeat(m) => M::SetRepeat(m.to_wit()?),
        P::UpdateConfig(m) => M::UpdateConfig(m.to_wit()?),
        P::ReloadCommands(m) => M::ReloadCommands(m.to_wit()?),
        P::MemberJoined(m) => M::MemberJoined(m.to_wit()?),
        P::MemberLeft(m) => M::MemberLeft(m.to_wit()?),
        P::MemberUpdated(m) => M::MemberUpdated(m.to_wit()?),
        P::MessageCreated(m) => M::MessageCreated(m.to_wit()?),
        P::MessageDeleted(m) => M::MessageDeleted(m.to_wit()?),
        P::MessageEdited(m) => M::MessageEdited(m.to_wit()?),
        P::MessageBulkDeleted(m) => M::MessageBulkDeleted(m.to_wit()?),
        P::ChannelCreated(m) => M::ChannelCreated(m.to_wit()?),
        P::RoleCreated(m) => M::RoleCreated(m.to_wit()?),
        P::CaseCreated(m) => M::CaseCreated(m.to_wit()?),
        P::CaseUpdated(m) => M::CaseUpdated(m.to_wit()?),
        P::ModerationActionCompleted(m) => M::ModerationActionCompleted(m.to_wit()?),
        P::AutomodTriggered(m) => M::AutomodTriggered(m.to_wit()?),
        P::MusicStarted(m) => M::MusicStarted(m.to_wit()?),
        P::MusicEnded(m) => M::MusicEnded(m.to_wit()?),
        P::MusicPaused(m) => M::MusicPaused(m.to_wit()?),
        P::TrackAdded(m) => M::TrackAdded(m.to_wit()?),
        P::QueueCleared(m) => M::QueueCleared(m.to_wit()?),
        P::UserNotification(m) => M::UserNotification(m.to_wit()?),
        P::BroadcastNotification(m) => M::BroadcastNotification(m.to_wit()?),
        P::ScheduledTask(m) => M::ScheduledTask(m.to_wit()?),
        P::CleanupExpiredCases(m) => M::CleanupExpiredCases(m.to_wit()?),
        P::InteractionCreated(_) | P::InteractionReply(_) => as_custom(payload)?,
        P::Custom { type_name, data } => M::Custom(w::CustomMessage {
            type_name: type_name.clone(),
            data: data.to_string(),
        }),
    })
}

/// A protocol type that has a WIT counterpart.
trait ToWit {
    type Wit;
    fn to_wit(&self) -> Result<Self::Wit, ProtocolError>;
}

/// A protocol type that can be rebuilt from its WIT counterpart; `at` is the JSON path of the
/// value, used in errors.
trait FromWit: Sized {
    type Wit;
    fn from_wit(wit: Self::Wit, at: &str) -> Result<Self, ProtocolError>;
}

fn millis(t: p::Timestamp, at: &str) -> Result<u64, ProtocolError> {
    u64::try_from(t.as_millis())
        .map_err(|_| ProtocolError::new(at, format!("must not be before 1970, got {t}")))
}

fn timestamp(ms: u64, at: &str) -> Result<p::Timestamp, ProtocolError> {
    i64::try_from(ms)
        .ok()
        .and_then(p::Timestamp::from_millis)
        .ok_or_else(|| {
            ProtocolError::new(at, format!("must be a date up to year 9999, got {ms} ms"))
        })
}

fn snowflake(text: &str, at: &str) -> Result<p::Snowflake, ProtocolError> {
    text.parse().map_err(|_| {
        ProtocolError::new(
            at,
            format!("must be a snowflake (a decimal u64 id), got {text:?}"),
        )
    })
}

fn snowflakes(list: Vec<String>, at: &str) -> Result<Vec<p::Snowflake>, ProtocolError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| snowflake(s, &format!("{at}[{i}]")))
        .collect()
}

fn opt_snowflake(text: Option<String>, at: &str) -> Result<Option<p::Snowflake>, ProtocolError> {
    text.map(|s| snowflake(&s, at)).transpose()
}

fn number(value: f64, at: &str) -> Result<p::JsNumber, ProtocolError> {
    p::JsNumber::new(value)
        .ok_or_else(|| ProtocolError::new(at, format!("must be a finite number, got {value}")))
}

fn ids(list: &[p::Snowflake]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn json_value(text: &str, at: &str) -> Result<serde_json::Value, ProtocolError> {
    serde_json::from_str(text)
        .map_err(|e| ProtocolError::new(at, format!("must be JSON text: {e}")))
}

/// Parses JSON text into `T`, naming the path of the value in errors.
fn json_as<T: DeserializeOwned>(text: &str, at: &str) -> Result<T, ProtocolError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." || inner.is_empty() {
            at.to_owned()
        } else {
            format!("{at}.{inner}")
        };
        ProtocolError::new(path, e.into_inner())
    })
}

fn json_text<T: serde::Serialize>(value: &T, at: &str) -> Result<String, ProtocolError> {
    serde_json::to_string(value).map_err(|e| ProtocolError::new(at, e))
}

fn json_list<T: serde::Serialize>(list: &[T], at: &str) -> Result<Vec<String>, ProtocolError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| json_text(v, &format!("{at}[{i}]")))
        .collect()
}

fn json_list_as<T: DeserializeOwned>(list: Vec<String>, at: &str) -> Result<Vec<T>, ProtocolError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| json_as(s, &format!("{at}[{i}]")))
        .collect()
}

fn field(at: &str, name: &str) -> String {
    format!("{at}.{name}")
}

/// Maps a protocol enum onto the WIT enum with the same variant names, both ways.
macro_rules! same_variants {
    ($($proto:ty => $wit:ty { $($variant:ident),+ $(,)? })+) => {$(
        impl ToWit for $proto {
            type Wit = $wit;
            fn to_wit(&self) -> Result<$wit, ProtocolError> {
                Ok(match self { $(<$proto>::$variant => <$wit>::$variant,)+ })
            }
        }
        impl FromWit for $proto {
            type Wit = $wit;
            fn from_wit(wit: $wit, _at: &str) -> Result<Self, ProtocolError> {
                Ok(match wit { $(<$wit>::$variant => <$proto>::$variant,)+ })
            }
        }
    )+};
}

same_variants! {
    p::Source => w::Source { Api, Bot, Frontend }
    p::Priority => w::Priority { Low, Normal, High }
    p::Severity => w::Severity { Low, Medium, High }
    p::RepeatMode => w::RepeatMode { Off, Track, Queue }
    p::LeaveReason => w::LeaveReason { Left, Kicked, Banned }
    p::CaseType => w::CaseType { Ban, Kick, Timeout, Warn, Note }
    p::CaseStatus => w::CaseStatus { Active, Expired, Revoked }
    p::ModerationAction => w::ModerationAction { Ban, Kick, Timeout, Unban }
    p::AutomodAction => w::AutomodAction { Delete, Timeout, Warn }
    p::MusicEndReason => w::MusicEndReason { Finished, Skipped, Stopped, Error }
    p::NoticeType => w::NoticeKind { Success, Info, Warning, Error }
    p::BroadcastType => w::BroadcastKind { Announcement, Maintenance, Update }
    p::BroadcastPriority => w::Priority { Low, Normal, High }
    p::BroadcastChannel => w::BroadcastChannel { Dashboard, Discord }
    p::TaskType => w::TaskType { Cleanup, Backup, Analytics, Reminders }
}

fn opt_to_wit<T: ToWit>(value: &Option<T>) -> Result<Option<T::Wit>, ProtocolError> {
    value.as_ref().map(ToWit::to_wit).transpose()
}

fn opt_from_wit<T: FromWit>(value: Option<T::Wit>, at: &str) -> Result<Option<T>, ProtocolError> {
    value.map(|v| T::from_wit(v, at)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

impl ToWit for p::ReplyTo {
    type Wit = w::ReplyTo;
    fn to_wit(&self) -> Result<w::ReplyTo, ProtocolError> {
        Ok(w::ReplyTo {
            message_id: self.message_id.to_string(),
            fail_if_not_exists: self.fail_if_not_exists,
        })
    }
}

impl FromWit for p::ReplyTo {
    type Wit = w::ReplyTo;
    fn from_wit(wit: w::ReplyTo, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            message_id: snowflake(&wit.message_id, &field(at, "messageId"))?,
            fail_if_not_exists: wit.fail_if_not_exists,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::SendMessage {
    type Wit = w::SendMessage;
    fn to_wit(&self) -> Result<w::SendMessage, ProtocolError> {
        Ok(w::SendMessage {
            channel_id: self.channel_id.to_string(),
            content: self.content.clone(),
            embeds: self
                .embeds
                .as_deref()
                .map(|e| json_list(e, "data.embeds"))
                .transpose()?,
            components: self
                .components
                .as_deref()
                .map(|c| json_list(c, "data.components"))
                .transpose()?,
            files: self
                .files
                .as_deref()
                .map(|f| json_list(f, "data.files"))
                .transpose()?,
            reply: opt_to_wit(&self.reply)?,
        })
    }
}

impl FromWit for p::SendMessage {
    type Wit = w::SendMessage;
    fn from_wit(wit: w::SendMessage, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            content: wit.content,
            embeds: wit
                .embeds
                .map(|e| json_list_as(e, &field(at, "embeds")))
                .transpose()?,
            components: wit
                .components
                .map(|c| json_list_as(c, &field(at, "components")))
                .transpose()?,
            files: wit
                .files
                .map(|f| json_list_as(f, &field(at, "files")))
                .transpose()?,
            reply: opt_from_wit(wit.reply, &field(at, "reply"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::SendDm {
    type Wit = w::SendDm;
    fn to_wit(&self) -> Result<w::SendDm, ProtocolError> {
        Ok(w::SendDm {
            user_id: self.user_id.to_string(),
            content: self.content.clone(),
            embeds: self
                .embeds
                .as_deref()
                .map(|e| json_list(e, "data.embeds"))
                .transpose()?,
            reason: self.reason.clone(),
        })
    }
}

impl FromWit for p::SendDm {
    type Wit = w::SendDm;
    fn from_wit(wit: w::SendDm, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            content: wit.content,
            embeds: wit
                .embeds
                .map(|e| json_list_as(e, &field(at, "embeds")))
                .transpose()?,
            reason: wit.reason,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::DeleteMessage {
    type Wit = w::DeleteMessage;
    fn to_wit(&self) -> Result<w::DeleteMessage, ProtocolError> {
        Ok(w::DeleteMessage {
            channel_id: self.channel_id.to_string(),
            message_id: self.message_id.to_string(),
            reason: self.reason.clone(),
        })
    }
}

impl FromWit for p::DeleteMessage {
    type Wit = w::DeleteMessage;
    fn from_wit(wit: w::DeleteMessage, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            message_id: snowflake(&wit.message_id, &field(at, "messageId"))?,
            reason: wit.reason,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::BanUser {
    type Wit = w::BanUser;
    fn to_wit(&self) -> Result<w::BanUser, ProtocolError> {
        Ok(w::BanUser {
            user_id: self.user_id.to_string(),
            reason: self.reason.clone(),
            delete_message_days: self.delete_message_days,
            duration: self.duration.map(p::JsNumber::get),
            moderator_id: self.moderator_id.to_string(),
            case_id: self.case_id.clone(),
            notify_user: self.notify_user,
            create_case: self.create_case,
        })
    }
}

impl FromWit for p::BanUser {
    type Wit = w::BanUser;
    fn from_wit(wit: w::BanUser, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            reason: wit.reason,
            delete_message_days: wit.delete_message_days,
            duration: wit
                .duration
                .map(|d| number(d, &field(at, "duration")))
                .transpose()?,
            moderator_id: snowflake(&wit.moderator_id, &field(at, "moderatorId"))?,
            case_id: wit.case_id,
            notify_user: wit.notify_user,
            create_case: wit.create_case,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::KickUser {
    type Wit = w::KickUser;
    fn to_wit(&self) -> Result<w::KickUser, ProtocolError> {
        Ok(w::KickUser {
            user_id: self.user_id.to_string(),
            reason: self.reason.clone(),
            moderator_id: self.moderator_id.to_string(),
            case_id: self.case_id.clone(),
            notify_user: self.notify_user,
            create_case: self.create_case,
        })
    }
}

impl FromWit for p::KickUser {
    type Wit = w::KickUser;
    fn from_wit(wit: w::KickUser, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            reason: wit.reason,
            moderator_id: snowflake(&wit.moderator_id, &field(at, "moderatorId"))?,
            case_id: wit.case_id,
            notify_user: wit.notify_user,
            create_case: wit.create_case,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::TimeoutUser {
    type Wit = w::TimeoutUser;
    fn to_wit(&self) -> Result<w::TimeoutUser, ProtocolError> {
        Ok(w::TimeoutUser {
            user_id: self.user_id.to_string(),
            duration: self.duration,
            reason: self.reason.clone(),
            moderator_id: self.moderator_id.to_string(),
            case_id: self.case_id.clone(),
            notify_user: self.notify_user,
            create_case: self.create_case,
        })
    }
}

impl FromWit for p::TimeoutUser {
    type Wit = w::TimeoutUser;
    fn from_wit(wit: w::TimeoutUser, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            duration: wit.duration,
            reason: wit.reason,
            moderator_id: snowflake(&wit.moderator_id, &field(at, "moderatorId"))?,
            case_id: wit.case_id,
            notify_user: wit.notify_user,
            create_case: wit.create_case,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::UnbanUser {
    type Wit = w::UnbanUser;
    fn to_wit(&self) -> Result<w::UnbanUser, ProtocolError> {
        Ok(w::UnbanUser {
            user_id: self.user_id.to_string(),
            reason: self.reason.clone(),
            moderator_id: self.moderator_id.to_string(),
            case_id: self.case_id.clone(),
            notify_user: self.notify_user,
        })
    }
}

impl FromWit for p::UnbanUser {
    type Wit = w::UnbanUser;
    fn from_wit(wit: w::UnbanUser, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            reason: wit.reason,
            moderator_id: snowflake(&wit.moderator_id, &field(at, "moderatorId"))?,
            case_id: wit.case_id,
            notify_user: wit.notify_user,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::WarnUser {
    type Wit = w::WarnUser;
    fn to_wit(&self) -> Result<w::WarnUser, ProtocolError> {
        Ok(w::WarnUser {
            user_id: self.user_id.to_string(),
            reason: self.reason.clone(),
            moderator_id: self.moderator_id.to_string(),
            case_id: self.case_id.clone(),
            severity: opt_to_wit(&self.severity)?,
        })
    }
}

impl FromWit for p::WarnUser {
    type Wit = w::WarnUser;
    fn from_wit(wit: w::WarnUser, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            reason: wit.reason,
            moderator_id: snowflake(&wit.moderator_id, &field(at, "moderatorId"))?,
            case_id: wit.case_id,
            severity: opt_from_wit(wit.severity, &field(at, "severity"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::PlayMusic {
    type Wit = w::PlayMusic;
    fn to_wit(&self) -> Result<w::PlayMusic, ProtocolError> {
        Ok(w::PlayMusic {
            query: self.query.clone(),
            requested_by: self.requested_by.to_string(),
            voice_channel_id: self.voice_channel_id.map(|id| id.to_string()),
            play_next: self.play_next,
            play_now: self.play_now,
        })
    }
}

impl FromWit for p::PlayMusic {
    type Wit = w::PlayMusic;
    fn from_wit(wit: w::PlayMusic, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            query: wit.query,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            voice_channel_id: opt_snowflake(wit.voice_channel_id, &field(at, "voiceChannelId"))?,
            play_next: wit.play_next,
            play_now: wit.play_now,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::SkipMusic {
    type Wit = w::SkipMusic;
    fn to_wit(&self) -> Result<w::SkipMusic, ProtocolError> {
        Ok(w::SkipMusic {
            requested_by: self.requested_by.to_string(),
            skip_count: self.skip_count,
        })
    }
}

impl FromWit for p::SkipMusic {
    type Wit = w::SkipMusic;
    fn from_wit(wit: w::SkipMusic, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            skip_count: wit.skip_count,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::PauseMusic {
    type Wit = w::PauseMusic;
    fn to_wit(&self) -> Result<w::PauseMusic, ProtocolError> {
        Ok(w::PauseMusic {
            paused: self.paused,
            requested_by: self.requested_by.to_string(),
        })
    }
}

impl FromWit for p::PauseMusic {
    type Wit = w::PauseMusic;
    fn from_wit(wit: w::PauseMusic, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            paused: wit.paused,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::SetVolume {
    type Wit = w::SetVolume;
    fn to_wit(&self) -> Result<w::SetVolume, ProtocolError> {
        Ok(w::SetVolume {
            volume: self.volume,
            requested_by: self.requested_by.to_string(),
        })
    }
}

impl FromWit for p::SetVolume {
    type Wit = w::SetVolume;
    fn from_wit(wit: w::SetVolume, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            volume: wit.volume,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::SetRepeat {
    type Wit = w::SetRepeat;
    fn to_wit(&self) -> Result<w::SetRepeat, ProtocolError> {
        Ok(w::SetRepeat {
            mode: self.mode.to_wit()?,
            requested_by: self.requested_by.to_string(),
        })
    }
}

impl FromWit for p::SetRepeat {
    type Wit = w::SetRepeat;
    fn from_wit(wit: w::SetRepeat, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            mode: FromWit::from_wit(wit.mode, &field(at, "mode"))?,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::UpdateConfig {
    type Wit = w::UpdateConfig;
    fn to_wit(&self) -> Result<w::UpdateConfig, ProtocolError> {
        Ok(w::UpdateConfig {
            config: json_text(&self.config, "data.config")?,
            updated_by: self.updated_by.to_string(),
            section: self.section.clone(),
        })
    }
}

impl FromWit for p::UpdateConfig {
    type Wit = w::UpdateConfig;
    fn from_wit(wit: w::UpdateConfig, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            config: json_as(&wit.config, &field(at, "config"))?,
            updated_by: snowflake(&wit.updated_by, &field(at, "updatedBy"))?,
            section: wit.section,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::ReloadCommands {
    type Wit = w::ReloadCommands;
    fn to_wit(&self) -> Result<w::ReloadCommands, ProtocolError> {
        Ok(w::ReloadCommands {
            command_names: self.command_names.clone(),
            global: self.global,
        })
    }
}

impl FromWit for p::ReloadCommands {
    type Wit = w::ReloadCommands;
    fn from_wit(wit: w::ReloadCommands, _at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            command_names: wit.command_names,
            global: wit.global,
            extra: Default::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Member and message events
// ---------------------------------------------------------------------------------------------

impl ToWit for p::MemberJoined {
    type Wit = w::MemberJoined;
    fn to_wit(&self) -> Result<w::MemberJoined, ProtocolError> {
        let (u, m) = (&self.user, &self.member);
        Ok(w::MemberJoined {
            user: w::JoinedUser {
                id: u.id.to_string(),
                username: u.username.clone(),
                discriminator: u.discriminator.clone(),
                avatar: u.avatar.clone(),
                bot: u.bot,
            },
            member: w::JoinedMember {
                joined_at: millis(m.joined_at, "data.member.joinedAt")?,
                roles: ids(&m.roles),
                nickname: m.nickname.clone(),
                pending: m.pending,
            },
            invite_code: self.invite_code.clone(),
        })
    }
}

impl FromWit for p::MemberJoined {
    type Wit = w::MemberJoined;
    fn from_wit(wit: w::MemberJoined, at: &str) -> Result<Self, ProtocolError> {
        let (u, m) = (wit.user, wit.member);
        Ok(Self {
            user: p::JoinedUser {
                id: snowflake(&u.id, &field(at, "user.id"))?,
                username: u.username,
                discriminator: u.discriminator,
                avatar: u.avatar,
                bot: u.bot,
                extra: Default::default(),
            },
            member: p::JoinedMember {
                joined_at: timestamp(m.joined_at, &field(at, "member.joinedAt"))?,
                roles: snowflakes(m.roles, &field(at, "member.roles"))?,
                nickname: m.nickname,
                pending: m.pending,
                extra: Default::default(),
            },
            invite_code: wit.invite_code,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MemberLeft {
    type Wit = w::MemberLeft;
    fn to_wit(&self) -> Result<w::MemberLeft, ProtocolError> {
        let (u, m) = (&self.user, &self.member);
        Ok(w::MemberLeft {
            user: w::DepartedUser {
                id: u.id.to_string(),
                username: u.username.clone(),
                discriminator: u.discriminator.clone(),
                avatar: u.avatar.clone(),
            },
            member: w::DepartedMember {
                joined_at: millis(m.joined_at, "data.member.joinedAt")?,
                roles: ids(&m.roles),
                nickname: m.nickname.clone(),
            },
            reason: self.reason.to_wit()?,
        })
    }
}

impl FromWit for p::MemberLeft {
    type Wit = w::MemberLeft;
    fn from_wit(wit: w::MemberLeft, at: &str) -> Result<Self, ProtocolError> {
        let (u, m) = (wit.user, wit.member);
        Ok(Self {
            user: p::DepartedUser {
                id: snowflake(&u.id, &field(at, "user.id"))?,
                username: u.username,
                discriminator: u.discriminator,
                avatar: u.avatar,
                extra: Default::default(),
            },
            member: p::DepartedMember {
                joined_at: timestamp(m.joined_at, &field(at, "member.joinedAt"))?,
                roles: snowflakes(m.roles, &field(at, "member.roles"))?,
                nickname: m.nickname,
                extra: Default::default(),
            },
            reason: FromWit::from_wit(wit.reason, &field(at, "reason"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MemberUpdated {
    type Wit = w::MemberUpdated;
    fn to_wit(&self) -> Result<w::MemberUpdated, ProtocolError> {
        let c = &self.changes;
        let at = "data.changes.timeout";
        Ok(w::MemberUpdated {
            user_id: self.user_id.to_string(),
            changes: w::MemberChanges {
                nickname: c.nickname.as_ref().map(|n| w::NicknameChange {
                    old: n.old.clone(),
                    new: n.new.clone(),
                }),
                roles: c.roles.as_ref().map(|r| w::RoleChanges {
                    added: ids(&r.added),
                    removed: ids(&r.removed),
                }),
                timeout: c
                    .timeout
                    .as_ref()
                    .map(|t| -> Result<_, ProtocolError> {
                        Ok(w::TimeoutChange {
                            old: t.old.map(|v| millis(v, &field(at, "old"))).transpose()?,
                            new: t.new.map(|v| millis(v, &field(at, "new"))).transpose()?,
                        })
                    })
                    .transpose()?,
            },
        })
    }
}

impl FromWit for p::MemberUpdated {
    type Wit = w::MemberUpdated;
    fn from_wit(wit: w::MemberUpdated, at: &str) -> Result<Self, ProtocolError> {
        let c = wit.changes;
        let changes = field(at, "changes");
        Ok(Self {
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            changes: p::MemberChanges {
                nickname: c.nickname.map(|n| p::OptionalChange {
                    old: n.old,
                    new: n.new,
                    extra: Default::default(),
                }),
                roles: c
                    .roles
                    .map(|r| -> Result<_, ProtocolError> {
                        Ok(p::RoleChanges {
                            added: snowflakes(r.added, &field(&changes, "roles.added"))?,
                            removed: snowflakes(r.removed, &field(&changes, "roles.removed"))?,
                            extra: Default::default(),
                        })
                    })
                    .transpose()?,
                timeout: c
                    .timeout
                    .map(|t| -> Result<_, ProtocolError> {
                        Ok(p::OptionalChange {
                            old: t
                                .old
                                .map(|v| timestamp(v, &field(&changes, "timeout.old")))
                                .transpose()?,
                            new: t
                                .new
                                .map(|v| timestamp(v, &field(&changes, "timeout.new")))
                                .transpose()?,
                            extra: Default::default(),
                        })
                    })
                    .transpose()?,
                extra: Default::default(),
            },
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MessageCreated {
    type Wit = w::MessageCreated;
    fn to_wit(&self) -> Result<w::MessageCreated, ProtocolError> {
        Ok(w::MessageCreated {
            message_id: self.message_id.to_string(),
            channel_id: self.channel_id.to_string(),
            author_id: self.author_id.to_string(),
            content: self.content.clone(),
            mentions: w::Mentions {
                users: ids(&self.mentions.users),
                roles: ids(&self.mentions.roles),
                everyone: self.mentions.everyone,
            },
            attachment_count: self.attachment_count,
            timestamp: millis(self.timestamp, "data.timestamp")?,
            author_roles: self.author_roles.as_deref().map(ids),
            is_bot: self.is_bot,
            is_webhook: self.is_webhook,
            author_created_at: self
                .author_created_at
                .map(|t| millis(t, "data.authorCreatedAt"))
                .transpose()?,
            member_joined_at: self
                .member_joined_at
                .map(|t| millis(t, "data.memberJoinedAt"))
                .transpose()?,
            embed_count: self.embed_count,
            sticker_count: self.sticker_count,
            referenced_message_id: self.referenced_message_id.map(|id| id.to_string()),
        })
    }
}

impl FromWit for p::MessageCreated {
    type Wit = w::MessageCreated;
    fn from_wit(wit: w::MessageCreated, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            message_id: snowflake(&wit.message_id, &field(at, "messageId"))?,
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            author_id: snowflake(&wit.author_id, &field(at, "authorId"))?,
            content: wit.content,
            mentions: p::Mentions {
                users: snowflakes(wit.mentions.users, &field(at, "mentions.users"))?,
                roles: snowflakes(wit.mentions.roles, &field(at, "mentions.roles"))?,
                everyone: wit.mentions.everyone,
                extra: Default::default(),
            },
            attachment_count: wit.attachment_count,
            timestamp: timestamp(wit.timestamp, &field(at, "timestamp"))?,
            author_roles: wit
                .author_roles
                .map(|r| snowflakes(r, &field(at, "authorRoles")))
                .transpose()?,
            is_bot: wit.is_bot,
            is_webhook: wit.is_webhook,
            author_created_at: wit
                .author_created_at
                .map(|t| timestamp(t, &field(at, "authorCreatedAt")))
                .transpose()?,
            member_joined_at: wit
                .member_joined_at
                .map(|t| timestamp(t, &field(at, "memberJoinedAt")))
                .transpose()?,
            embed_count: wit.embed_count,
            sticker_count: wit.sticker_count,
            referenced_message_id: opt_snowflake(
                wit.referenced_message_id,
                &field(at, "referencedMessageId"),
            )?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MessageDeleted {
    type Wit = w::MessageDeleted;
    fn to_wit(&self) -> Result<w::MessageDeleted, ProtocolError> {
        Ok(w::MessageDeleted {
            message_id: self.message_id.to_string(),
            channel_id: self.channel_id.to_string(),
            author_id: self.author_id.map(|id| id.to_string()),
            content: self.content.clone(),
            deleted_by: self.deleted_by.map(|id| id.to_string()),
            timestamp: millis(self.timestamp, "data.timestamp")?,
        })
    }
}

impl FromWit for p::MessageDeleted {
    type Wit = w::MessageDeleted;
    fn from_wit(wit: w::MessageDeleted, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            message_id: snowflake(&wit.message_id, &field(at, "messageId"))?,
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            author_id: opt_snowflake(wit.author_id, &field(at, "authorId"))?,
            content: wit.content,
            deleted_by: opt_snowflake(wit.deleted_by, &field(at, "deletedBy"))?,
            timestamp: timestamp(wit.timestamp, &field(at, "timestamp"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MessageEdited {
    type Wit = w::MessageEdited;
    fn to_wit(&self) -> Result<w::MessageEdited, ProtocolError> {
        Ok(w::MessageEdited {
            message_id: self.message_id.to_string(),
            channel_id: self.channel_id.to_string(),
            author_id: self.author_id.to_string(),
            old_content: self.old_content.clone(),
            new_content: self.new_content.clone(),
            edited_at: millis(self.edited_at, "data.editedAt")?,
        })
    }
}

impl FromWit for p::MessageEdited {
    type Wit = w::MessageEdited;
    fn from_wit(wit: w::MessageEdited, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            message_id: snowflake(&wit.message_id, &field(at, "messageId"))?,
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            author_id: snowflake(&wit.author_id, &field(at, "authorId"))?,
            old_content: wit.old_content,
            new_content: wit.new_content,
            edited_at: timestamp(wit.edited_at, &field(at, "editedAt"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MessageBulkDeleted {
    type Wit = w::MessageBulkDeleted;
    fn to_wit(&self) -> Result<w::MessageBulkDeleted, ProtocolError> {
        Ok(w::MessageBulkDeleted {
            message_ids: ids(&self.message_ids),
            channel_id: self.channel_id.to_string(),
            deleted_by: self.deleted_by.map(|id| id.to_string()),
            count: self.count,
        })
    }
}

impl FromWit for p::MessageBulkDeleted {
    type Wit = w::MessageBulkDeleted;
    fn from_wit(wit: w::MessageBulkDeleted, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            message_ids: snowflakes(wit.message_ids, &field(at, "messageIds"))?,
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            deleted_by: opt_snowflake(wit.deleted_by, &field(at, "deletedBy"))?,
            count: wit.count,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::ChannelCreated {
    type Wit = w::ChannelCreated;
    fn to_wit(&self) -> Result<w::ChannelCreated, ProtocolError> {
        let c = &self.channel;
        Ok(w::ChannelCreated {
            channel: w::CreatedChannel {
                id: c.id.to_string(),
                name: c.name.clone(),
                kind: match &c.channel_type {
                    p::ChannelType::Code(code) => w::ChannelType::Code(*code),
                    p::ChannelType::Name(name) => w::ChannelType::Name(name.clone()),
                },
                position: c.position,
                parent_id: c.parent_id.map(|id| id.to_string()),
            },
            created_by: self.created_by.map(|id| id.to_string()),
        })
    }
}

impl FromWit for p::ChannelCreated {
    type Wit = w::ChannelCreated;
    fn from_wit(wit: w::ChannelCreated, at: &str) -> Result<Self, ProtocolError> {
        let c = wit.channel;
        Ok(Self {
            channel: p::CreatedChannel {
                id: snowflake(&c.id, &field(at, "channel.id"))?,
                name: c.name,
                channel_type: match c.kind {
                    w::ChannelType::Code(code) => p::ChannelType::Code(code),
                    w::ChannelType::Name(name) => p::ChannelType::Name(name),
                },
                position: c.position,
                parent_id: opt_snowflake(c.parent_id, &field(at, "channel.parentId"))?,
                extra: Default::default(),
            },
            created_by: opt_snowflake(wit.created_by, &field(at, "createdBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::RoleCreated {
    type Wit = w::RoleCreated;
    fn to_wit(&self) -> Result<w::RoleCreated, ProtocolError> {
        let r = &self.role;
        Ok(w::RoleCreated {
            role: w::CreatedRole {
                id: r.id.to_string(),
                name: r.name.clone(),
                color: r.color,
                position: r.position,
                permissions: r.permissions.clone(),
                mentionable: r.mentionable,
                hoist: r.hoist,
            },
            created_by: self.created_by.map(|id| id.to_string()),
        })
    }
}

impl FromWit for p::RoleCreated {
    type Wit = w::RoleCreated;
    fn from_wit(wit: w::RoleCreated, at: &str) -> Result<Self, ProtocolError> {
        let r = wit.role;
        Ok(Self {
            role: p::CreatedRole {
                id: snowflake(&r.id, &field(at, "role.id"))?,
                name: r.name,
                color: r.color,
                position: r.position,
                permissions: r.permissions,
                mentionable: r.mentionable,
                hoist: r.hoist,
                extra: Default::default(),
            },
            created_by: opt_snowflake(wit.created_by, &field(at, "createdBy"))?,
            extra: Default::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Moderation events
// ---------------------------------------------------------------------------------------------

impl ToWit for p::CaseCreated {
    type Wit = w::CaseCreated;
    fn to_wit(&self) -> Result<w::CaseCreated, ProtocolError> {
        let c = &self.case;
        Ok(w::CaseCreated {
            case: w::ModerationCase {
                id: c.id.clone(),
                case_number: c.case_number,
                case_type: c.case_type.to_wit()?,
                user_id: c.user_id.to_string(),
                moderator_id: c.moderator_id.to_string(),
                reason: c.reason.clone(),
                duration: c.duration.map(p::JsNumber::get),
                status: c.status.to_wit()?,
                evidence: c.evidence.clone(),
            },
        })
    }
}

impl FromWit for p::CaseCreated {
    type Wit = w::CaseCreated;
    fn from_wit(wit: w::CaseCreated, at: &str) -> Result<Self, ProtocolError> {
        let c = wit.case;
        let at = field(at, "case");
        Ok(Self {
            case: p::ModerationCase {
                id: c.id,
                case_number: c.case_number,
                case_type: FromWit::from_wit(c.case_type, &field(&at, "type"))?,
                user_id: snowflake(&c.user_id, &field(&at, "userId"))?,
                moderator_id: snowflake(&c.moderator_id, &field(&at, "moderatorId"))?,
                reason: c.reason,
                duration: c
                    .duration
                    .map(|d| number(d, &field(&at, "duration")))
                    .transpose()?,
                status: FromWit::from_wit(c.status, &field(&at, "status"))?,
                evidence: c.evidence,
                extra: Default::default(),
            },
            extra: Default::default(),
        })
    }
}

impl ToWit for p::CaseUpdated {
    type Wit = w::CaseUpdated;
    fn to_wit(&self) -> Result<w::CaseUpdated, ProtocolError> {
        let c = &self.changes;
        let text = |t: &p::Change<String>| w::TextChange {
            old: t.old.clone(),
            new: t.new.clone(),
        };
        Ok(w::CaseUpdated {
            case_id: self.case_id.clone(),
            changes: w::CaseChanges {
                status: c.status.as_ref().map(text),
                reason: c.reason.as_ref().map(text),
                duration: c.duration.as_ref().map(|d| w::DurationChange {
                    old: d.old.map(p::JsNumber::get),
                    new: d.new.map(p::JsNumber::get),
                }),
            },
            updated_by: self.updated_by.to_string(),
        })
    }
}

impl FromWit for p::CaseUpdated {
    type Wit = w::CaseUpdated;
    fn from_wit(wit: w::CaseUpdated, at: &str) -> Result<Self, ProtocolError> {
        let c = wit.changes;
        let text = |t: w::TextChange| p::Change {
            old: t.old,
            new: t.new,
            extra: Default::default(),
        };
        let duration_at = field(at, "changes.duration");
        Ok(Self {
            case_id: wit.case_id,
            changes: p::CaseChanges {
                status: c.status.map(text),
                reason: c.reason.map(text),
                duration: c
                    .duration
                    .map(|d| -> Result<_, ProtocolError> {
                        Ok(p::OptionalChange {
                            old: d
                                .old
                                .map(|v| number(v, &field(&duration_at, "old")))
                                .transpose()?,
                            new: d
                                .new
                                .map(|v| number(v, &field(&duration_at, "new")))
                                .transpose()?,
                            extra: Default::default(),
                        })
                    })
                    .transpose()?,
                extra: Default::default(),
            },
            updated_by: snowflake(&wit.updated_by, &field(at, "updatedBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::ModerationActionCompleted {
    type Wit = w::ModerationActionCompleted;
    fn to_wit(&self) -> Result<w::ModerationActionCompleted, ProtocolError> {
        Ok(w::ModerationActionCompleted {
            action: self.action.to_wit()?,
            user_id: self.user_id.to_string(),
            success: self.success,
            error: self.error.clone(),
            case_id: self.case_id.clone(),
            executed_by: self.executed_by.to_string(),
            timestamp: millis(self.timestamp, "data.timestamp")?,
        })
    }
}

impl FromWit for p::ModerationActionCompleted {
    type Wit = w::ModerationActionCompleted;
    fn from_wit(wit: w::ModerationActionCompleted, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            action: FromWit::from_wit(wit.action, &field(at, "action"))?,
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            success: wit.success,
            error: wit.error,
            case_id: wit.case_id,
            executed_by: snowflake(&wit.executed_by, &field(at, "executedBy"))?,
            timestamp: timestamp(wit.timestamp, &field(at, "timestamp"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::AutomodTriggered {
    type Wit = w::AutomodTriggered;
    fn to_wit(&self) -> Result<w::AutomodTriggered, ProtocolError> {
        Ok(w::AutomodTriggered {
            rule: self.rule.clone(),
            user_id: self.user_id.to_string(),
            channel_id: self.channel_id.to_string(),
            message_id: self.message_id.map(|id| id.to_string()),
            action: self.action.to_wit()?,
            severity: self.severity.to_wit()?,
            content: self.content.clone(),
        })
    }
}

impl FromWit for p::AutomodTriggered {
    type Wit = w::AutomodTriggered;
    fn from_wit(wit: w::AutomodTriggered, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            rule: wit.rule,
            user_id: snowflake(&wit.user_id, &field(at, "userId"))?,
            channel_id: snowflake(&wit.channel_id, &field(at, "channelId"))?,
            message_id: opt_snowflake(wit.message_id, &field(at, "messageId"))?,
            action: FromWit::from_wit(wit.action, &field(at, "action"))?,
            severity: FromWit::from_wit(wit.severity, &field(at, "severity"))?,
            content: wit.content,
            extra: Default::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Music events
// ---------------------------------------------------------------------------------------------

impl ToWit for p::Track {
    type Wit = w::Track;
    fn to_wit(&self) -> Result<w::Track, ProtocolError> {
        Ok(w::Track {
            id: self.id.clone(),
            title: self.title.clone(),
            artist: self.artist.clone(),
            duration: self.duration.get(),
            thumbnail: self.thumbnail.clone(),
            url: self.url.clone(),
            requested_by: self.requested_by.to_string(),
        })
    }
}

impl FromWit for p::Track {
    type Wit = w::Track;
    fn from_wit(wit: w::Track, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            id: wit.id,
            title: wit.title,
            artist: wit.artist,
            duration: number(wit.duration, &field(at, "duration"))?,
            thumbnail: wit.thumbnail,
            url: wit.url,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MusicStarted {
    type Wit = w::MusicStarted;
    fn to_wit(&self) -> Result<w::MusicStarted, ProtocolError> {
        Ok(w::MusicStarted {
            track: self.track.to_wit()?,
            voice_channel_id: self.voice_channel_id.to_string(),
            queue_position: self.queue_position,
            total_queue_size: self.total_queue_size,
        })
    }
}

impl FromWit for p::MusicStarted {
    type Wit = w::MusicStarted;
    fn from_wit(wit: w::MusicStarted, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            track: FromWit::from_wit(wit.track, &field(at, "track"))?,
            voice_channel_id: snowflake(&wit.voice_channel_id, &field(at, "voiceChannelId"))?,
            queue_position: wit.queue_position,
            total_queue_size: wit.total_queue_size,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MusicEnded {
    type Wit = w::MusicEnded;
    fn to_wit(&self) -> Result<w::MusicEnded, ProtocolError> {
        Ok(w::MusicEnded {
            track_id: self.track_id.clone(),
            reason: self.reason.to_wit()?,
            duration: self.duration.get(),
            next_track_id: self.next_track_id.clone(),
        })
    }
}

impl FromWit for p::MusicEnded {
    type Wit = w::MusicEnded;
    fn from_wit(wit: w::MusicEnded, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            track_id: wit.track_id,
            reason: FromWit::from_wit(wit.reason, &field(at, "reason"))?,
            duration: number(wit.duration, &field(at, "duration"))?,
            next_track_id: wit.next_track_id,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::MusicPaused {
    type Wit = w::MusicPaused;
    fn to_wit(&self) -> Result<w::MusicPaused, ProtocolError> {
        Ok(w::MusicPaused {
            paused: self.paused,
            requested_by: self.requested_by.to_string(),
            current_position: self.current_position.get(),
        })
    }
}

impl FromWit for p::MusicPaused {
    type Wit = w::MusicPaused;
    fn from_wit(wit: w::MusicPaused, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            paused: wit.paused,
            requested_by: snowflake(&wit.requested_by, &field(at, "requestedBy"))?,
            current_position: number(wit.current_position, &field(at, "currentPosition"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::TrackAdded {
    type Wit = w::TrackAdded;
    fn to_wit(&self) -> Result<w::TrackAdded, ProtocolError> {
        Ok(w::TrackAdded {
            track: self.track.to_wit()?,
            position: self.position,
            total_queue_size: self.total_queue_size,
            added_at: millis(self.added_at, "data.addedAt")?,
        })
    }
}

impl FromWit for p::TrackAdded {
    type Wit = w::TrackAdded;
    fn from_wit(wit: w::TrackAdded, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            track: FromWit::from_wit(wit.track, &field(at, "track"))?,
            position: wit.position,
            total_queue_size: wit.total_queue_size,
            added_at: timestamp(wit.added_at, &field(at, "addedAt"))?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::QueueCleared {
    type Wit = w::QueueCleared;
    fn to_wit(&self) -> Result<w::QueueCleared, ProtocolError> {
        Ok(w::QueueCleared {
            cleared_by: self.cleared_by.to_string(),
            track_count: self.track_count,
        })
    }
}

impl FromWit for p::QueueCleared {
    type Wit = w::QueueCleared;
    fn from_wit(wit: w::QueueCleared, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            cleared_by: snowflake(&wit.cleared_by, &field(at, "clearedBy"))?,
            track_count: wit.track_count,
            extra: Default::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications and scheduled work
// ---------------------------------------------------------------------------------------------

impl ToWit for p::UserNotification {
    type Wit = w::UserNotification;
    fn to_wit(&self) -> Result<w::UserNotification, ProtocolError> {
        let n = &self.notification;
        Ok(w::UserNotification {
            target_user_id: self.target_user_id.to_string(),
            notification: w::UserNotice {
                id: n.id.clone(),
                kind: n.notice_type.to_wit()?,
                title: n.title.clone(),
                message: n.message.clone(),
                action_url: n.action_url.clone(),
                action_text: n.action_text.clone(),
                persistent: n.persistent,
                expires_at: n
                    .expires_at
                    .map(|t| millis(t, "data.notification.expiresAt"))
                    .transpose()?,
            },
        })
    }
}

impl FromWit for p::UserNotification {
    type Wit = w::UserNotification;
    fn from_wit(wit: w::UserNotification, at: &str) -> Result<Self, ProtocolError> {
        let n = wit.notification;
        let at_n = field(at, "notification");
        Ok(Self {
            target_user_id: snowflake(&wit.target_user_id, &field(at, "targetUserId"))?,
            notification: p::UserNotice {
                id: n.id,
                notice_type: FromWit::from_wit(n.kind, &field(&at_n, "type"))?,
                title: n.title,
                message: n.message,
                action_url: n.action_url,
                action_text: n.action_text,
                persistent: n.persistent,
                expires_at: n
                    .expires_at
                    .map(|t| timestamp(t, &field(&at_n, "expiresAt")))
                    .transpose()?,
                extra: Default::default(),
            },
            extra: Default::default(),
        })
    }
}

impl ToWit for p::BroadcastNotification {
    type Wit = w::BroadcastNotification;
    fn to_wit(&self) -> Result<w::BroadcastNotification, ProtocolError> {
        let n = &self.notification;
        Ok(w::BroadcastNotification {
            target_guild_id: self.target_guild_id.map(|id| id.to_string()),
            target_roles: self.target_roles.as_deref().map(ids),
            notification: w::Broadcast {
                kind: n.broadcast_type.to_wit()?,
                title: n.title.clone(),
                message: n.message.clone(),
                priority: n.priority.to_wit()?,
                channels: n
                    .channels
                    .as_ref()
                    .map(|c| c.iter().map(ToWit::to_wit).collect())
                    .transpose()?,
            },
        })
    }
}

impl FromWit for p::BroadcastNotification {
    type Wit = w::BroadcastNotification;
    fn from_wit(wit: w::BroadcastNotification, at: &str) -> Result<Self, ProtocolError> {
        let n = wit.notification;
        let at_n = field(at, "notification");
        Ok(Self {
            target_guild_id: opt_snowflake(wit.target_guild_id, &field(at, "targetGuildId"))?,
            target_roles: wit
                .target_roles
                .map(|r| snowflakes(r, &field(at, "targetRoles")))
                .transpose()?,
            notification: p::Broadcast {
                broadcast_type: FromWit::from_wit(n.kind, &field(&at_n, "type"))?,
                title: n.title,
                message: n.message,
                priority: FromWit::from_wit(n.priority, &field(&at_n, "priority"))?,
                channels: n
                    .channels
                    .map(|c| {
                        c.into_iter()
                            .map(|ch| FromWit::from_wit(ch, &field(&at_n, "channels")))
                            .collect()
                    })
                    .transpose()?,
                extra: Default::default(),
            },
            extra: Default::default(),
        })
    }
}

impl ToWit for p::ScheduledTask {
    type Wit = w::ScheduledTask;
    fn to_wit(&self) -> Result<w::ScheduledTask, ProtocolError> {
        Ok(w::ScheduledTask {
            task_type: self.task_type.to_wit()?,
            task_data: self.task_data.as_ref().map(ToString::to_string),
            schedule: w::Schedule {
                cron: self.schedule.cron.clone(),
                interval: self.schedule.interval,
                run_once: self.schedule.run_once,
            },
            next_run: self
                .next_run
                .map(|t| millis(t, "data.nextRun"))
                .transpose()?,
        })
    }
}

impl FromWit for p::ScheduledTask {
    type Wit = w::ScheduledTask;
    fn from_wit(wit: w::ScheduledTask, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            task_type: FromWit::from_wit(wit.task_type, &field(at, "taskType"))?,
            task_data: wit
                .task_data
                .map(|t| json_value(&t, &field(at, "taskData")))
                .transpose()?,
            schedule: p::Schedule {
                cron: wit.schedule.cron,
                interval: wit.schedule.interval,
                run_once: wit.schedule.run_once,
                extra: Default::default(),
            },
            next_run: wit
                .next_run
                .map(|t| timestamp(t, &field(at, "nextRun")))
                .transpose()?,
            extra: Default::default(),
        })
    }
}

impl ToWit for p::CleanupExpiredCases {
    type Wit = w::CleanupExpiredCases;
    fn to_wit(&self) -> Result<w::CleanupExpiredCases, ProtocolError> {
        Ok(w::CleanupExpiredCases {
            guild_id: self.guild_id.map(|id| id.to_string()),
            case_types: self.case_types.clone(),
            expired_before: millis(self.expired_before, "data.expiredBefore")?,
        })
    }
}

impl FromWit for p::CleanupExpiredCases {
    type Wit = w::CleanupExpiredCases;
    fn from_wit(wit: w::CleanupExpiredCases, at: &str) -> Result<Self, ProtocolError> {
        Ok(Self {
            guild_id: opt_snowflake(wit.guild_id, &field(at, "guildId"))?,
            case_types: wit.case_types,
            expired_before: timestamp(wit.expired_before, &field(at, "expiredBefore"))?,
            extra: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_fixtures() -> Vec<(String, p::Message)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");
        let mut fixtures: Vec<_> = std::fs::read_dir(dir)
            .expect("tests/fixtures/valid exists")
            .map(|entry| entry.expect("readable directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .map(|path| {
                let bytes = std::fs::read(&path).expect("readable fixture");
                let message = p::Message::decode_allowing_custom(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (path.display().to_string(), message)
            })
            .collect();
        fixtures.sort_by(|a, b| a.0.cmp(&b.0));
        fixtures
    }

    /// Valid fixtures that carry fields a newer API might add (the protocol keeps them, WIT
    /// cannot carry them).
    const WITH_UNKNOWN_FIELDS: &[&str] = &["/MEMBER_JOINED.json"];

    fn data_json(payload: &p::Payload) -> serde_json::Value {
        let message = p::Message::new(p::Envelope::new(p::Source::Bot), payload.clone());
        message.to_value().expect("encodes")["data"].clone()
    }

    /// True when every key of `small` is in `big` with an equal (or recursively subset) value.
    fn is_subset(small: &serde_json::Value, big: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (small, big) {
            (V::Object(s), V::Object(b)) => s
                .iter()
                .all(|(k, v)| b.get(k).is_some_and(|bv| is_subset(v, bv))),
            (V::Array(s), V::Array(b)) => {
                s.len() == b.len() && s.iter().zip(b).all(|(x, y)| is_subset(x, y))
            }
            _ => small == big,
        }
    }

    fn wit_json(message: &w::Message) -> serde_json::Value {
        serde_json::to_value(message).expect("WIT types serialize")
    }

    /// Protocol → WIT → protocol gives the same payload (fixtures carry no unknown fields), and
    /// WIT → protocol → WIT gives the same WIT value.
    #[test]
    fn every_message_type_converts_both_ways() {
        let fixtures = valid_fixtures();
        let mut seen = std::collections::BTreeSet::new();
        for (name, message) in &fixtures {
            let (envelope, wit) = to_wit(message).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(envelope.type_name, message.payload.type_name(), "{name}");
            assert_eq!(envelope.id, message.envelope.id, "{name}");
            let back = payload_from_wit(wit.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Unknown fields (`extra`) have no WIT counterpart: everything else must survive,
            // and nothing may be altered or invented.
            let original = data_json(&message.payload);
            let returned = data_json(&back);
            assert!(
                is_subset(&returned, &original),
                "{name}: protocol → WIT → protocol changed a field:\n{returned}\nvs\n{original}"
            );
            if !WITH_UNKNOWN_FIELDS.iter().any(|f| name.ends_with(f)) {
                assert_eq!(back, message.payload, "{name}: protocol → WIT → protocol");
            }
            let again = payload_to_wit(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                wit_json(&again),
                wit_json(&wit),
                "{name}: WIT → protocol → WIT"
            );
            if let Some(t) = message.payload.message_type() {
                seen.insert(t);
            }
        }
        let missing: Vec<_> = p::MessageType::ALL
            .iter()
            .filter(|t| !seen.contains(t))
            .map(|t| t.as_str())
            .collect();
        assert!(missing.is_empty(), "no fixture converted for {missing:?}");
    }

    #[test]
    fn bad_plugin_output_names_the_field() {
        let ban = w::Message::BanUser(w::BanUser {
            user_id: "not-a-snowflake".into(),
            reason: "spam".into(),
            delete_message_days: 1,
            duration: None,
            moderator_id: "1".into(),
            case_id: None,
            notify_user: false,
            create_case: false,
        });
        let err = payload_from_wit(ban).unwrap_err();
        assert_eq!(err.path, "data.userId");

        let send = w::Message::SendMessage(w::SendMessage {
            channel_id: "1".into(),
            content: None,
            embeds: Some(vec!["{}".into(), "{\"title\": 5}".into()]),
            components: None,
            files: None,
            reply: None,
        });
        let err = payload_from_wit(send).unwrap_err();
        assert!(err.path.starts_with("data.embeds[1]"), "{err}");

        let custom = w::Message::Custom(w::CustomMessage {
            type_name: "WEBHOOK_RECEIVED".into(),
            data: "{oops".into(),
        });
        assert_eq!(payload_from_wit(custom).unwrap_err().path, "data");

        let track = w::Message::MusicEnded(w::MusicEnded {
            track_id: "t".into(),
            reason: w::MusicEndReason::Finished,
            duration: f64::NAN,
            next_track_id: None,
        });
        assert_eq!(payload_from_wit(track).unwrap_err().path, "data.duration");
    }
}
