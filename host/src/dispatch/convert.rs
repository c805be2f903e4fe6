//! Conversions between the protocol's messages (the JSON the Node API exchanges) and the
//! WIT-generated types plugins see.
//!
//! Two layers: the `Wire` impls here say how each kind of field converts (snowflake ↔ text,
//! timestamp ↔ milliseconds, number ↔ `f64`, JSON value ↔ JSON text, enum ↔ enum, option, list,
//! identity), and `generated.rs` — written by `cargo test -p guildhost-sourcegen --test
//! sourcegen` from `wit/types.wit` — maps every record field by field and holds the two matches
//! over the message cases.
//!
//! Towards a plugin nothing can fail except a date before 1970, which a WIT `timestamp` cannot
//! hold. Back from a plugin everything is checked: snowflakes must parse, JSON text must be
//! JSON of the right shape, numbers must be finite. Errors are [`ProtocolError`]s whose path
//! reads like the JSON the message becomes (`data.userId: ...`), so a plugin author sees the
//! same message an API developer would. Fields the protocol keeps for forward compatibility
//! (`extra`) have no WIT counterpart; they are not shown to plugins.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::protocol::{self as p, ProtocolError};
use crate::runtime::bindings as w;

/// Converts a protocol message into the envelope and message a plugin's `handle` receives.
pub fn to_wit(message: &p::Message) -> Result<(w::Envelope, w::Message), ProtocolError> {
    let env = &message.envelope;
    let envelope = w::Envelope {
        id: env.id.clone(),
        type_name: message.payload.type_name().to_owned(),
        timestamp: env.timestamp.to_wire(&Path::Root("timestamp"))?,
        source: env.source.to_wire(&Path::Root("source"))?,
        guild_id: env.guild_id.to_wire(&Path::Root("guildId"))?,
        user_id: env.user_id.to_wire(&Path::Root("userId"))?,
        request_id: env.request_id.clone(),
        priority: env.priority.to_wire(&Path::Root("priority"))?,
    };
    Ok((envelope, payload_to_wit(&message.payload)?))
}

/// Where a value sits in the JSON of a message (`data.embeds[1]`), for errors. Built on the
/// stack as a conversion descends, and rendered only when one fails.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    /// A top-level key of the message.
    Root(&'static str),
    /// A key of an object.
    Field(&'a Path<'a>, &'static str),
    /// An element of an array.
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The payload.
    const DATA: Path<'static> = Path::Root("data");

    fn field(&self, name: &'static str) -> Path<'_> {
        Path::Field(self, name)
    }

    fn index(&self, index: usize) -> Path<'_> {
        Path::Index(self, index)
    }

    fn error(&self, rule: impl fmt::Display) -> ProtocolError {
        ProtocolError::new(self.to_string(), rule)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A protocol value with a WIT counterpart `W`, converted both ways; `at` is the value's place
/// in the message's JSON, named in errors.
trait Wire<W>: Sized {
    /// Protocol → WIT (for a plugin's input).
    fn to_wire(&self, at: &Path<'_>) -> Result<W, ProtocolError>;
    /// WIT → protocol (for a plugin's output, so everything is checked).
    fn from_wire(wire: W, at: &Path<'_>) -> Result<Self, ProtocolError>;
}

/// Values that are the same type on both sides.
macro_rules! identity {
    ($($t:ty),+) => {$(
        impl Wire<$t> for $t {
            fn to_wire(&self, _at: &Path<'_>) -> Result<$t, ProtocolError> {
                Ok(self.clone())
            }
            fn from_wire(wire: $t, _at: &Path<'_>) -> Result<Self, ProtocolError> {
                Ok(wire)
            }
        }
    )+};
}

identity!(String, bool, u32, u64, i64);

impl<W, P: Wire<W>> Wire<Option<W>> for Option<P> {
    fn to_wire(&self, at: &Path<'_>) -> Result<Option<W>, ProtocolError> {
        self.as_ref().map(|value| value.to_wire(at)).transpose()
    }
    fn from_wire(wire: Option<W>, at: &Path<'_>) -> Result<Self, ProtocolError> {
        wire.map(|value| P::from_wire(value, at)).transpose()
    }
}

impl<W, P: Wire<W>> Wire<Vec<W>> for Vec<P> {
    fn to_wire(&self, at: &Path<'_>) -> Result<Vec<W>, ProtocolError> {
        (self.iter().enumerate())
            .map(|(i, value)| value.to_wire(&at.index(i)))
            .collect()
    }
    fn from_wire(wire: Vec<W>, at: &Path<'_>) -> Result<Self, ProtocolError> {
        (wire.into_iter().enumerate())
            .map(|(i, value)| P::from_wire(value, &at.index(i)))
            .collect()
    }
}

/// A Discord id: decimal text in WIT.
impl Wire<String> for p::Snowflake {
    fn to_wire(&self, _at: &Path<'_>) -> Result<String, ProtocolError> {
        Ok(self.to_string())
    }
    fn from_wire(text: String, at: &Path<'_>) -> Result<Self, ProtocolError> {
        text.parse().map_err(|_| {
            at.error(format!(
                "must be a snowflake (a decimal u64 id), got {text:?}"
            ))
        })
    }
}

/// A point in time: milliseconds since the Unix epoch in WIT.
impl Wire<u64> for p::Timestamp {
    fn to_wire(&self, at: &Path<'_>) -> Result<u64, ProtocolError> {
        u64::try_from(self.as_millis())
            .map_err(|_| at.error(format!("must not be before 1970, got {self}")))
    }
    fn from_wire(ms: u64, at: &Path<'_>) -> Result<Self, ProtocolError> {
        (i64::try_from(ms).ok())
            .and_then(p::Timestamp::from_millis)
            .ok_or_else(|| at.error(format!("must be a date up to year 9999, got {ms} ms")))
    }
}

/// A JSON number: any `f64` in WIT, which must be finite to come back.
impl Wire<f64> for p::JsNumber {
    fn to_wire(&self, _at: &Path<'_>) -> Result<f64, ProtocolError> {
        Ok(self.get())
    }
    fn from_wire(value: f64, at: &Path<'_>) -> Result<Self, ProtocolError> {
        p::JsNumber::new(value)
            .ok_or_else(|| at.error(format!("must be a finite number, got {value}")))
    }
}

/// Any JSON value: JSON text in WIT.
impl Wire<String> for serde_json::Value {
    fn to_wire(&self, _at: &Path<'_>) -> Result<String, ProtocolError> {
        Ok(self.to_string())
    }
    fn from_wire(text: String, at: &Path<'_>) -> Result<Self, ProtocolError> {
        json_value(&text, at)
    }
}

fn json_value(text: &str, at: &Path<'_>) -> Result<serde_json::Value, ProtocolError> {
    serde_json::from_str(text).map_err(|e| at.error(format!("must be JSON text: {e}")))
}

/// Parts of a message the protocol keeps as typed JSON (embeds, components, …): JSON text in WIT,
/// whose errors name the path inside the value too (`data.embeds[1].title`).
macro_rules! json_text {
    ($($t:ty),+) => {$(
        impl Wire<String> for $t {
            fn to_wire(&self, at: &Path<'_>) -> Result<String, ProtocolError> {
                serde_json::to_string(self).map_err(|e| at.error(e))
            }
            fn from_wire(text: String, at: &Path<'_>) -> Result<Self, ProtocolError> {
                json_as(&text, at)
            }
        }
    )+};
}

json_text!(
    p::DiscordEmbed,
    p::DiscordComponent,
    p::DiscordAttachment,
    p::GuildConfig
);

/// Parses JSON text into `T`, naming the path of the value in errors.
fn json_as<T: DeserializeOwned>(text: &str, at: &Path<'_>) -> Result<T, ProtocolError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." || inner.is_empty() {
            at.to_string()
        } else {
            format!("{at}.{inner}")
        };
        ProtocolError::new(path, e.into_inner())
    })
}

/// A channel's type: a number or a name on both sides.
impl Wire<w::ChannelType> for p::ChannelType {
    fn to_wire(&self, _at: &Path<'_>) -> Result<w::ChannelType, ProtocolError> {
        Ok(match self {
            p::ChannelType::Code(code) => w::ChannelType::Code(*code),
            p::ChannelType::Name(name) => w::ChannelType::Name(name.clone()),
        })
    }
    fn from_wire(wire: w::ChannelType, _at: &Path<'_>) -> Result<Self, ProtocolError> {
        Ok(match wire {
            w::ChannelType::Code(code) => p::ChannelType::Code(code),
            w::ChannelType::Name(name) => p::ChannelType::Name(name),
        })
    }
}

/// Maps a protocol enum onto the WIT enum with the same variant names, both ways.
macro_rules! same_variants {
    ($($proto:ty => $wit:ty { $($variant:ident),+ $(,)? })+) => {$(
        impl Wire<$wit> for $proto {
            fn to_wire(&self, _at: &Path<'_>) -> Result<$wit, ProtocolError> {
                Ok(match self { $(<$proto>::$variant => <$wit>::$variant,)+ })
            }
            fn from_wire(wire: $wit, _at: &Path<'_>) -> Result<Self, ProtocolError> {
                Ok(match wire { $(<$wit>::$variant => <$proto>::$variant,)+ })
            }
        }
    )+};
}

// The envelope's enums (the message's are generated).
same_variants! {
    p::Source => w::Source { Api, Bot, Frontend }
    p::Priority => w::Priority { Low, Normal, High }
}

/// Maps a protocol struct onto a WIT record field by field (`field: "jsonName"`, then after a `;`
/// the fields named differently in WIT: `protocol_field = wit_field: "jsonName"`), each field by
/// its types' [`Wire`] impl; the protocol's `extra` (fields this version does not define) has no
/// WIT counterpart and comes back empty.
macro_rules! records {
    ($($proto:path => $wit:path {
        $($field:ident: $json:literal),+ $(; $($renamed:ident = $wit_field:ident: $renamed_json:literal),+)?
    })+) => {$(
        impl Wire<$wit> for $proto {
            fn to_wire(&self, at: &Path<'_>) -> Result<$wit, ProtocolError> {
                // A struct literal needs a path, not a `$wit:path` fragment: name it here.
                type Wit = $wit;
                Ok(Wit {
                    $($field: Wire::to_wire(&self.$field, &at.field($json))?,)+
                    $($($wit_field: Wire::to_wire(&self.$renamed, &at.field($renamed_json))?,)+)?
                })
            }
            fn from_wire(wire: $wit, at: &Path<'_>) -> Result<Self, ProtocolError> {
                Ok(Self {
                    $($field: Wire::from_wire(wire.$field, &at.field($json))?,)+
                    $($($renamed: Wire::from_wire(wire.$wit_field, &at.field($renamed_json))?,)+)?
                    extra: Default::default(),
                })
            }
        }
    )+};
}

/// The two matches over the message cases: the cases that have a WIT case of their own, and the
/// defined types carried as `custom`.
macro_rules! messages {
    (cases: [$($case:ident),+ $(,)?], carried_as_custom: [$($carried:ident),* $(,)?] $(,)?) => {
        /// Defined types without a case of their own in this WIT version: plugins see and emit
        /// them as `custom` messages whose `data` is the protocol's JSON.
        const CARRIED_AS_CUSTOM: &[p::MessageType] = &[$(p::MessageType::$carried),*];

        /// Converts a protocol payload into the WIT message variant.
        pub fn payload_to_wit(payload: &p::Payload) -> Result<w::Message, ProtocolError> {
            Ok(match payload {
                $(p::Payload::$case(m) => w::Message::$case(m.to_wire(&Path::DATA)?),)+
                $(p::Payload::$carried(_) => custom_to_wit(payload)?,)*
                p::Payload::Custom { type_name, data } => w::Message::Custom(w::CustomMessage {
                    type_name: type_name.clone(),
                    data: data.to_string(),
                }),
            })
        }

        /// Converts a payload a plugin produced back into a protocol payload (not yet validated:
        /// call [`p::Message::validate`] on the message it becomes).
        pub fn payload_from_wit(message: w::Message) -> Result<p::Payload, ProtocolError> {
            Ok(match message {
                $(w::Message::$case(m) => p::Payload::$case(Wire::from_wire(m, &Path::DATA)?),)+
                w::Message::Custom(m) => custom_from_wit(m)?,
            })
        }
    };
}

// The message cases, the records and enums they carry: generated from `wit/types.wit`.
include!("convert/generated.rs");

/// A defined payload without a WIT case of its own, as the `custom` case: its type name and its
/// `data` JSON.
fn custom_to_wit(payload: &p::Payload) -> Result<w::Message, ProtocolError> {
    let message = p::Message::new(p::Envelope::new(p::Source::Bot), payload.clone());
    let data = message.to_value()?["data"].take();
    Ok(w::Message::Custom(w::CustomMessage {
        type_name: payload.type_name().to_owned(),
        data: data.to_string(),
    }))
}

/// A `custom` message from a plugin: a type carried as custom is decoded as its defined
/// payload, any other stays custom.
fn custom_from_wit(message: w::CustomMessage) -> Result<p::Payload, ProtocolError> {
    let data = json_value(&message.data, &Path::DATA)?;
    Ok(match message.type_name.parse::<p::MessageType>() {
        Ok(defined) if CARRIED_AS_CUSTOM.contains(&defined) => {
            p::Payload::decode_data(defined, data)?
        }
        _ => p::Payload::Custom {
            data,
            type_name: message.type_name,
        },
    })
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

    /// The drift check across crates: every protocol message type has a WIT case (the
    /// runtime's name table) or travels as `custom`, never both, and the WIT names no type the
    /// protocol does not define.
    #[test]
    fn every_message_type_has_a_wit_case_or_travels_as_custom() {
        use crate::runtime::bindings::MESSAGE_TYPE_NAMES;
        for message_type in p::MessageType::ALL {
            let has_case = MESSAGE_TYPE_NAMES.contains(&message_type.as_str());
            let carried = CARRIED_AS_CUSTOM.contains(message_type);
            assert!(
                has_case != carried,
                "{message_type}: WIT case {has_case}, carried as custom {carried}"
            );
        }
        for name in MESSAGE_TYPE_NAMES {
            assert!(
                name.parse::<p::MessageType>().is_ok(),
                "the WIT has a case for {name}, which the protocol does not define"
            );
        }
    }

    fn send_with_bad_second_embed() -> w::Message {
        w::Message::SendMessage(w::SendMessage {
            channel_id: "1".into(),
            content: None,
            embeds: Some(vec!["{}".into(), "{\"title\": 5}".into()]),
            components: None,
            files: None,
            reply: None,
        })
    }

    /// Nested paths read like the JSON: records, list elements, changes and JSON text inside.
    #[test]
    fn nested_errors_name_the_json_path() {
        let error = |message: w::Message| payload_from_wit(message).unwrap_err().to_string();
        let joined = w::Message::MemberJoined(w::MemberJoined {
            user: w::JoinedUser {
                id: "1".into(),
                username: "u".into(),
                discriminator: "0".into(),
                avatar: None,
                bot: false,
            },
            member: w::JoinedMember {
                joined_at: 0,
                roles: vec!["2".into(), "x".into()],
                nickname: None,
                pending: false,
            },
            invite_code: None,
        });
        assert_eq!(
            error(joined),
            "data.member.roles[1]: must be a snowflake (a decimal u64 id), got \"x\""
        );
        let updated = w::Message::MemberUpdated(w::MemberUpdated {
            user_id: "1".into(),
            changes: w::MemberChanges {
                nickname: None,
                roles: None,
                timeout: Some(w::TimeoutChange {
                    old: None,
                    new: Some(u64::MAX),
                }),
            },
        });
        assert_eq!(
            error(updated),
            "data.changes.timeout.new: must be a date up to year 9999, got 18446744073709551615 ms"
        );
        let send = send_with_bad_second_embed();
        assert!(
            error(send).starts_with("data.embeds[1].title: invalid type: integer `5`"),
            "JSON text names the path inside the value"
        );
        let task = w::Message::ScheduledTask(w::ScheduledTask {
            task_type: w::TaskType::Cleanup,
            task_data: Some("{oops".into()),
            schedule: w::Schedule {
                cron: None,
                interval: None,
                run_once: None,
            },
            next_run: None,
        });
        assert!(
            error(task).starts_with("data.taskData: must be JSON text: "),
            "any JSON value is checked as JSON text"
        );
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

        let send = send_with_bad_second_embed();
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
