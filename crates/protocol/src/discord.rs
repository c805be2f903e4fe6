//! The Discord objects the seed leaves open: embeds and attachments modelled on Discord's own
//! fields (snake_case, as Discord and discord.js's `toJSON()` write them), components and guild
//! configuration kept as open JSON, and channel types.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::primitives::{JsNumber, Snowflake, Timestamp};

/// Fields a newer sender added that this version does not define; kept and written back.
///
/// Decoding never puts a defined field here. A sender building a value by hand must not either:
/// [`crate::Message::validate`] refuses an entry that repeats a defined field name.
pub type ExtraFields = Map<String, Value>;

/// A rich embed, with the fields of Discord's embed object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscordEmbed {
    /// Title (≤ 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Embed type; always `rich` for embeds a bot sends.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub embed_type: Option<String>,
    /// Description (≤ 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// URL the title links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Timestamp shown in the footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Colour of the side bar, `0xRRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    /// Footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
    /// Large image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<EmbedMedia>,
    /// Thumbnail image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<EmbedMedia>,
    /// Video (set by Discord on link embeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<EmbedMedia>,
    /// Provider (set by Discord on link embeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<EmbedProvider>,
    /// Author line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<EmbedAuthor>,
    /// Fields (≤ 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<EmbedField>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// An embed's footer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedFooter {
    /// Footer text (≤ 2048 characters).
    pub text: String,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Icon URL proxied by Discord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// An embed's image, thumbnail or video.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedMedia {
    /// Source URL.
    pub url: String,
    /// URL proxied by Discord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// An embed's provider.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedProvider {
    /// Provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// An embed's author line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedAuthor {
    /// Author name (≤ 256 characters).
    pub name: String,
    /// URL the name links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Icon URL proxied by Discord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// One name/value field of an embed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedField {
    /// Field name (1–256 characters).
    pub name: String,
    /// Field value (1–1024 characters).
    pub value: String,
    /// Whether the field sits inline with its neighbours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<bool>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A file attached to a message, with the fields of Discord's attachment object.
///
/// For an upload, `id` is Discord's placeholder index and `url` says where the executor fetches
/// the bytes; fields the API adds for other transports (an inline body, say) stay in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscordAttachment {
    /// Attachment id (a snowflake, or the upload index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Snowflake>,
    /// File name (1–1024 characters).
    pub filename: String,
    /// Title shown instead of the file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Alt text (≤ 1024 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Source URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL proxied by Discord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Image height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Image width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Whether the attachment is ephemeral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// Length of a voice message, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<JsNumber>,
    /// Base64 waveform of a voice message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waveform: Option<String>,
    /// Attachment flags bitfield.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// Whether the file is a spoiler (discord.js sets it by prefixing the name with `SPOILER_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoiler: Option<bool>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A message component (action row, button, select, …) kept as the JSON the API sent.
///
/// Components evolve quickly (Components V2 added a dozen kinds); the host passes them to Discord
/// unchanged, so they are not modelled beyond being JSON objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DiscordComponent(pub Value);

/// One option of an application command as a member filled it in (`name`, `type`, `value`, or
/// nested `options` for a subcommand), kept as the JSON object Discord sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandOption(pub Value);

/// A (partial) guild configuration kept as the JSON object the API sent.
///
/// The seed's `GuildConfig` belongs to the API; plugins read the sections they own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GuildConfig(pub Map<String, Value>);

/// A channel's type: Discord's numeric code, or the name older discord.js versions wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// Discord's numeric channel type (`0` text, `2` voice, `4` category, `15` forum, …).
    Code(u16),
    /// A symbolic name such as `"GUILD_TEXT"` (discord.js v13).
    Name(String),
}

impl ChannelType {
    /// A text channel.
    pub const GUILD_TEXT: u16 = 0;
    /// A voice channel.
    pub const GUILD_VOICE: u16 = 2;
    /// A category.
    pub const GUILD_CATEGORY: u16 = 4;
    /// An announcement channel.
    pub const GUILD_ANNOUNCEMENT: u16 = 5;
    /// A stage channel.
    pub const GUILD_STAGE_VOICE: u16 = 13;
    /// A forum channel.
    pub const GUILD_FORUM: u16 = 15;
}

impl Serialize for ChannelType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Code(code) => serializer.serialize_u16(*code),
            Self::Name(name) => serializer.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for ChannelType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ChannelTypeVisitor)
    }
}

struct ChannelTypeVisitor;

impl Visitor<'_> for ChannelTypeVisitor {
    type Value = ChannelType;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Discord channel type code (0–65535) or name")
    }

    fn visit_u64<E: de::Error>(self, code: u64) -> Result<ChannelType, E> {
        u16::try_from(code).map(ChannelType::Code).map_err(|_| {
            E::custom(format!(
                "must be a channel type code within 0..=65535, got {code}"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, code: i64) -> Result<ChannelType, E> {
        u16::try_from(code).map(ChannelType::Code).map_err(|_| {
            E::custom(format!(
                "must be a channel type code within 0..=65535, got {code}"
            ))
        })
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<ChannelType, E> {
        if name.is_empty() {
            return Err(E::custom("must be a channel type code or a non-empty name"));
        }
        Ok(ChannelType::Name(name.to_owned()))
    }
}
