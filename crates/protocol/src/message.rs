//! A whole queue message — envelope plus typed payload — and its decoding from and encoding to
//! the JSON the Node API exchanges.

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::commands::*;
use super::discord::ExtraFields;
use super::envelope::Envelope;
use super::error::{ProtocolError, ROOT_PATH};
use super::events::*;
use super::message_type::{MessageType, QueueName};
use super::validate::Validate;

/// Envelope keys in the order Node writes them; `extra` never re-emits these.
const ENVELOPE_KEYS: [&str; 9] = [
    "id",
    "type",
    "timestamp",
    "source",
    "guildId",
    "userId",
    "requestId",
    "priority",
    "data",
];

/// What a decoder does with a `type` the protocol does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypePolicy {
    /// Reject it: `type: unknown message type "FOO"`. For queues whose types are all defined.
    Strict,
    /// Accept it as [`Payload::Custom`]. For queues such as `webhooks` and `analytics`, whose
    /// message types the API defines.
    AllowCustom,
}

/// A queue message: the envelope every message shares and the payload its `type` selects.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `id`, `timestamp`, `source` and the other shared fields.
    pub envelope: Envelope,
    /// `type` and `data`.
    pub payload: Payload,
}

/// Declares [`Payload`] with one variant per [`MessageType`] (same names, checked by `match`).
macro_rules! payloads {
    ($($variant:ident($payload:ty),)+) => {
        /// The typed `data` of a message; the variant is the message's `type`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Payload {
            $(
                #[doc = concat!("`", stringify!($payload), "` payload.")]
                $variant($payload),
            )+
            /// A message type the protocol does not define, kept as its name and raw `data`.
            Custom {
                /// The envelope's `type`.
                type_name: String,
                /// The envelope's `data`, unchanged.
                data: Value,
            },
        }

        impl Payload {
            /// The defined message type, or `None` for [`Payload::Custom`].
            pub fn message_type(&self) -> Option<MessageType> {
                match self {
                    $(Self::$variant(_) => Some(MessageType::$variant),)+
                    Self::Custom { .. } => None,
                }
            }

            /// Decodes `data` as the payload of `message_type`, naming fields under `data` (the
            /// rules are not checked: [`Message::validate`] does that).
            pub fn decode_data<'de, D>(message_type: MessageType, data: D) -> Result<Self, ProtocolError>
            where
                D: Deserializer<'de, Error = serde_json::Error>,
            {
                match message_type {
                    $(MessageType::$variant => decode_at("data", data).map(Self::$variant),)+
                }
            }

            /// The payload as the JSON of the envelope's `data`.
            fn data_to_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(Self::$variant(payload) => serde_json::to_value(payload),)+
                    Self::Custom { data, .. } => Ok(data.clone()),
                }
            }

            /// Checks the payload's rules, naming fields under `data`.
            pub(crate) fn validate_data(&self) -> Result<(), ProtocolError> {
                match self {
                    $(Self::$variant(payload) => payload.validate_at("data"),)+
                    Self::Custom { type_name, .. } => validate_custom_type(type_name),
                }
            }
        }

        $(
            impl From<$payload> for Payload {
                fn from(payload: $payload) -> Self {
                    Self::$variant(payload)
                }
            }
        )+
    };
}

// One variant per message type, generated from `wit/types.wit`.
include!("generated/payloads.rs");

impl Payload {
    /// The wire name of the message type (the custom name for [`Payload::Custom`]).
    pub fn type_name(&self) -> &str {
        match self {
            Self::Custom { type_name, .. } => type_name,
            defined => defined.message_type().map_or("", MessageType::as_str),
        }
    }
}

/// A custom type must have a name and must not shadow a defined type, whose payload would be
/// decoded (and validated) differently on the other side.
fn validate_custom_type(type_name: &str) -> Result<(), ProtocolError> {
    if type_name.is_empty() {
        return Err(ProtocolError::new("type", "must not be empty"));
    }
    if type_name.parse::<MessageType>().is_ok() {
        return Err(ProtocolError::new(
            "type",
            format!(
                "{type_name:?} is a defined message type; use its typed payload, not a custom one"
            ),
        ));
    }
    Ok(())
}

/// Deserializes `value` (a [`Value`] or a `&Value`) as `T`, reporting errors with paths under
/// `path`.
fn decode_at<'de, T, D>(path: &str, value: D) -> Result<T, ProtocolError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(value).map_err(|error| ProtocolError::from_serde(path, error))
}

/// Takes a required envelope field out of `object`.
fn take_required<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    key: &str,
) -> Result<T, ProtocolError> {
    match object.remove(key) {
        None => Err(ProtocolError::new(key, "is required")),
        Some(value) => decode_at(key, value),
    }
}

/// Takes an optional envelope field out of `object`; `null` reads as absent.
fn take_optional<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, ProtocolError> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => decode_at(key, value).map(Some),
    }
}

/// The JSON kind of `value`, for error messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Message {
    /// A message with `envelope` and `payload`.
    pub fn new(envelope: Envelope, payload: impl Into<Payload>) -> Self {
        Self {
            envelope,
            payload: payload.into(),
        }
    }

    /// Decodes and validates a JSON document, rejecting message types the protocol does not
    /// define. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        Self::decode_with(bytes, TypePolicy::Strict)
    }

    /// Like [`Message::decode`], but a `type` the protocol does not define decodes as
    /// [`Payload::Custom`].
    pub fn decode_allowing_custom(bytes: &[u8]) -> Result<Self, ProtocolError> {
        Self::decode_with(bytes, TypePolicy::AllowCustom)
    }

    /// Decodes and validates a JSON document under `policy`.
    pub fn decode_with(bytes: &[u8], policy: TypePolicy) -> Result<Self, ProtocolError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            ProtocolError::new(ROOT_PATH, format!("is not valid JSON: {error}"))
        })?;
        Self::decode_value_with(value, policy)
    }

    /// Decodes and validates a JSON value, rejecting undefined message types.
    pub fn decode_value(value: Value) -> Result<Self, ProtocolError> {
        Self::decode_value_with(value, TypePolicy::Strict)
    }

    /// Decodes and validates a JSON value, accepting undefined message types as custom.
    pub fn decode_value_allowing_custom(value: Value) -> Result<Self, ProtocolError> {
        Self::decode_value_with(value, TypePolicy::AllowCustom)
    }

    /// Decodes and validates a JSON value under `policy`.
    pub fn decode_value_with(value: Value, policy: TypePolicy) -> Result<Self, ProtocolError> {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(ProtocolError::new(
                    ROOT_PATH,
                    format!("must be a JSON object, got {}", json_kind(&other)),
                ));
            }
        };
        let type_name: String = take_required(&mut object, "type")?;
        let message_type = match (type_name.parse::<MessageType>(), policy) {
            (Ok(message_type), _) => Some(message_type),
            (Err(unknown), TypePolicy::Strict) => return Err(unknown),
            (Err(_), TypePolicy::AllowCustom) => None,
        };
        let envelope = Envelope {
            id: take_required(&mut object, "id")?,
            timestamp: take_required(&mut object, "timestamp")?,
            source: take_required(&mut object, "source")?,
            guild_id: take_optional(&mut object, "guildId")?,
            user_id: take_optional(&mut object, "userId")?,
            request_id: take_optional(&mut object, "requestId")?,
            priority: take_optional(&mut object, "priority")?,
            extra: ExtraFields::new(),
        };
        let data = object
            .remove("data")
            .ok_or_else(|| ProtocolError::new("data", "is required"))?;
        let payload = match message_type {
            Some(message_type) => Payload::decode_data(message_type, data)?,
            None => Payload::Custom { type_name, data },
        };
        let message = Self {
            envelope: Envelope {
                extra: object,
                ..envelope
            },
            payload,
        };
        // Decoding moved every defined key into its typed field, so `extra` cannot shadow one:
        // only the rules need checking.
        message.validate_rules()?;
        Ok(message)
    }

    /// The wire name of the message's `type`.
    pub fn type_name(&self) -> &str {
        self.payload.type_name()
    }

    /// The defined message type, or `None` for a custom one.
    pub fn message_type(&self) -> Option<MessageType> {
        self.payload.message_type()
    }

    /// The queue the seed routes this message's type through, or `None` for a custom type.
    pub fn queue(&self) -> Option<QueueName> {
        self.message_type().map(MessageType::queue)
    }

    /// Checks every rule of the protocol; the decoders run it, and senders should run it on a
    /// message they built before enqueuing it.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        self.check_extra_fields(&self.data_value()?)?;
        self.validate_rules()
    }

    /// [`Message::validate`], then [`Message::to_json_string`], converting the payload to JSON
    /// once for both: what a sender runs on a message it built.
    pub fn to_validated_json_string(&self) -> Result<String, ProtocolError> {
        let data = self.data_value()?;
        self.check_extra_fields(&data)?;
        self.validate_rules()?;
        serde_json::to_string(&WithData {
            message: self,
            data: &data,
        })
        .map_err(|error| ProtocolError::new(ROOT_PATH, format!("cannot be encoded: {error}")))
    }

    /// The payload as the JSON of the envelope's `data`.
    fn data_value(&self) -> Result<Value, ProtocolError> {
        self.payload
            .data_to_value()
            .map_err(|error| ProtocolError::new("data", format!("cannot be encoded: {error}")))
    }

    fn validate_rules(&self) -> Result<(), ProtocolError> {
        self.envelope.validate_at("")?;
        self.payload.validate_data()
    }

    /// A hand-built `extra` map could repeat a defined field name and so change, on output, a
    /// value the rules were checked on. The encoded form must decode to this very message.
    fn check_extra_fields(&self, data: &Value) -> Result<(), ProtocolError> {
        if let Some(key) = self
            .envelope
            .extra
            .keys()
            .find(|key| ENVELOPE_KEYS.contains(&key.as_str()))
        {
            return Err(ProtocolError::new(
                format!("extra.{key}"),
                "repeats a defined envelope field; set the field itself",
            ));
        }
        let Some(message_type) = self.message_type() else {
            return Ok(());
        };
        let decoded = Payload::decode_data(message_type, data)?;
        if decoded != self.payload {
            return Err(ProtocolError::new(
                "data",
                "an `extra` entry repeats a defined field name; set the field itself",
            ));
        }
        Ok(())
    }

    /// The message as a JSON value, as the Node API writes it.
    pub fn to_value(&self) -> Result<Value, ProtocolError> {
        serde_json::to_value(self)
            .map_err(|error| ProtocolError::new(ROOT_PATH, format!("cannot be encoded: {error}")))
    }

    /// The message as compact JSON text, as Node's `JSON.stringify` writes it.
    pub fn to_json_string(&self) -> Result<String, ProtocolError> {
        serde_json::to_string(self)
            .map_err(|error| ProtocolError::new(ROOT_PATH, format!("cannot be encoded: {error}")))
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = self
            .payload
            .data_to_value()
            .map_err(serde::ser::Error::custom)?;
        WithData {
            message: self,
            data: &data,
        }
        .serialize(serializer)
    }
}

/// A message with its payload already converted to the JSON of `data`.
struct WithData<'a> {
    message: &'a Message,
    data: &'a Value,
}

impl Serialize for WithData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (message, data) = (self.message, self.data);
        let envelope = &message.envelope;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &envelope.id)?;
        map.serialize_entry("type", message.type_name())?;
        map.serialize_entry("timestamp", &envelope.timestamp)?;
        map.serialize_entry("source", &envelope.source)?;
        if let Some(guild_id) = &envelope.guild_id {
            map.serialize_entry("guildId", guild_id)?;
        }
        if let Some(user_id) = &envelope.user_id {
            map.serialize_entry("userId", user_id)?;
        }
        if let Some(request_id) = &envelope.request_id {
            map.serialize_entry("requestId", request_id)?;
        }
        if let Some(priority) = &envelope.priority {
            map.serialize_entry("priority", priority)?;
        }
        map.serialize_entry("data", data)?;
        for (key, value) in &envelope.extra {
            // A hand-built envelope may repeat a defined key in `extra`; the typed field wins,
            // so the output never holds a key twice.
            if !ENVELOPE_KEYS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Message {
    /// Strict decoding (see [`Message::decode_value`]), for embedding messages in other serde types.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::decode_value(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn skip_music() -> Value {
        json!({
            "id": "cmd-1",
            "type": "SKIP_MUSIC",
            "timestamp": "2026-11-30T17:12:40.600Z",
            "source": "frontend",
            "data": { "requestedBy": "829410203982675998", "skipCount": 1 }
        })
    }

    #[test]
    fn a_message_nested_in_another_serde_type_is_decoded_strictly() {
        #[derive(Debug, Deserialize)]
        struct Job {
            data: Message,
        }
        let job: Job =
            serde_json::from_value(json!({ "data": skip_music() })).expect("a valid message");
        assert_eq!(job.data.queue(), Some(QueueName::BotMusic));

        let mut invalid = skip_music();
        invalid["data"]["skipCount"] = json!(0);
        let error =
            serde_json::from_value::<Job>(json!({ "data": invalid })).expect_err("skipCount 0");
        assert!(
            error
                .to_string()
                .contains("data.skipCount: must be at least 1, got 0"),
            "{error}"
        );
    }

    #[test]
    fn envelope_keys_in_extra_never_duplicate_the_typed_fields() {
        let mut message = Message::decode_value(skip_music()).expect("valid");
        message
            .envelope
            .extra
            .insert("type".to_owned(), json!("SOMETHING_ELSE"));
        message
            .envelope
            .extra
            .insert("traceId".to_owned(), json!("t-1"));
        let text = message.to_json_string().expect("encodes");
        assert_eq!(text.matches("\"type\"").count(), 1, "{text}");
        let value = message.to_value().expect("encodes");
        assert_eq!(value["type"], "SKIP_MUSIC");
        assert_eq!(value["traceId"], "t-1");
    }

    /// The path of the error both `validate` and `to_validated_json_string` report.
    fn invalid_path(message: &Message, why: &str) -> String {
        let error = message.validate().expect_err(why);
        let encoding = message.to_validated_json_string().expect_err(why);
        assert_eq!(error, encoding, "{why}");
        error.path
    }

    #[test]
    fn extra_entries_may_not_shadow_defined_fields() {
        let message = Message::decode_value(skip_music()).expect("valid");
        let mut shadowed = message.clone();
        if let Payload::SkipMusic(skip) = &mut shadowed.payload {
            skip.extra.insert("skipCount".to_owned(), json!(0));
        }
        assert_eq!(
            invalid_path(&shadowed, "extra.skipCount would replace skipCount"),
            "data"
        );
        let mut shadowed = message;
        shadowed
            .envelope
            .extra
            .insert("source".to_owned(), json!("bot"));
        assert_eq!(
            invalid_path(&shadowed, "extra.source shadows source"),
            "extra.source"
        );
    }

    #[test]
    fn validated_encoding_is_validate_then_encode() {
        let mut message = Message::decode_value(skip_music()).expect("valid");
        assert_eq!(
            message.to_validated_json_string().expect("valid"),
            message.to_json_string().expect("encodes")
        );
        if let Payload::SkipMusic(skip) = &mut message.payload {
            skip.skip_count = 0;
        }
        assert_eq!(
            invalid_path(&message, "skipCount 0 breaks a rule"),
            "data.skipCount"
        );
    }

    #[test]
    fn the_envelope_is_checked_before_the_payload() {
        let mut value = skip_music();
        value["id"] = json!("");
        value["data"]["skipCount"] = json!(0);
        let error = Message::decode_value(value).expect_err("two broken rules");
        assert_eq!(error.path, "id");
    }
}
