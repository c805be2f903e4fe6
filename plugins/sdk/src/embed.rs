//! A builder for Discord embeds, which the WIT carries as JSON objects (Discord's own fields).

use serde::Serialize;

use crate::types::{Json, Timestamp};

/// A rich embed for [`crate::types::SendMessage`] and [`crate::types::SendDm`].
///
/// ```
/// use guildhost_plugin::Embed;
///
/// let embed = Embed::new()
///     .title("Message removed")
///     .description("Please keep it civil.")
///     .color(0xE67E22)
///     .field("Rule", "banned-words", true);
/// assert_eq!(
///     embed.to_json(),
///     r#"{"title":"Message removed","description":"Please keep it civil.","color":15105570,"fields":[{"name":"Rule","value":"banned-words","inline":true}]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Embed {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<Footer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<Author>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Media>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail: Option<Media>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Footer {
    text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Author {
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Media {
    url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Field {
    name: String,
    value: String,
    inline: bool,
}

impl Embed {
    /// An empty embed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the title (Discord allows 256 characters).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description (Discord allows 4096 characters).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Makes the title a link.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Shows a time in the footer (milliseconds since the Unix epoch).
    pub fn timestamp(mut self, at: Timestamp) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// Sets the side-bar colour, `0xRRGGBB`.
    pub fn color(mut self, rgb: u32) -> Self {
        self.color = Some(rgb);
        self
    }

    /// Sets the footer text.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = Some(Footer { text: text.into() });
        self
    }

    /// Sets the author line.
    pub fn author(mut self, name: impl Into<String>) -> Self {
        self.author = Some(Author { name: name.into() });
        self
    }

    /// Shows a large image.
    pub fn image(mut self, url: impl Into<String>) -> Self {
        self.image = Some(Media { url: url.into() });
        self
    }

    /// Shows a thumbnail.
    pub fn thumbnail(mut self, url: impl Into<String>) -> Self {
        self.thumbnail = Some(Media { url: url.into() });
        self
    }

    /// Adds a name/value field (Discord allows 25).
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline,
        });
        self
    }

    /// The embed as the JSON object the WIT carries.
    pub fn to_json(&self) -> Json {
        // Serializing plain strings, numbers and bools into a String cannot fail; the fallback
        // keeps this function total anyway.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
