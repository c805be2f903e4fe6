//! The protocol's rules beyond types: Discord's limits and what the seed implies, each violation
//! reported with the field path and the rule.
//!
//! Ids, dates and enums are already checked while decoding (their types cannot hold a bad
//! value); this module checks ranges, lengths, counts and combinations. The decoders run it; a
//! sender runs [`super::Message::validate`] on a message it built.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::commands::*;
use super::discord::{CommandOption, DiscordAttachment, DiscordComponent, DiscordEmbed};
use super::envelope::Envelope;
use super::error::ProtocolError;
use super::events::*;
use super::primitives::JsNumber;

/// Discord's and the seed's limits, in characters (Unicode scalar values) unless noted.
pub mod limits {
    use std::ops::RangeInclusive;

    /// Message content.
    pub const MESSAGE_CONTENT: usize = 2000;
    /// Embeds on one message.
    pub const EMBEDS_PER_MESSAGE: usize = 10;
    /// Embed title.
    pub const EMBED_TITLE: usize = 256;
    /// Embed description.
    pub const EMBED_DESCRIPTION: usize = 4096;
    /// Fields on one embed.
    pub const EMBED_FIELDS: usize = 25;
    /// Embed field name.
    pub const EMBED_FIELD_NAME: usize = 256;
    /// Embed field value.
    pub const EMBED_FIELD_VALUE: usize = 1024;
    /// Embed footer text.
    pub const EMBED_FOOTER_TEXT: usize = 2048;
    /// Embed author name.
    pub const EMBED_AUTHOR_NAME: usize = 256;
    /// Title, description, field names and values, footer text and author name of all embeds
    /// of one message together.
    pub const EMBEDS_TOTAL: usize = 6000;
    /// Largest embed colour, `0xFFFFFF`.
    pub const COLOR_MAX: u32 = 0xFF_FFFF;
    /// Files on one message.
    pub const ATTACHMENTS_PER_MESSAGE: usize = 10;
    /// Attachment file name.
    pub const ATTACHMENT_FILENAME: usize = 1024;
    /// Attachment description (alt text).
    pub const ATTACHMENT_DESCRIPTION: usize = 1024;
    /// Audit-log reason (`X-Audit-Log-Reason`).
    pub const AUDIT_LOG_REASON: usize = 512;
    /// Days of messages a ban may delete.
    pub const DELETE_MESSAGE_DAYS: RangeInclusive<u32> = 0..=7;
    /// Timeout length in seconds: 1 s to 28 days.
    pub const TIMEOUT_SECONDS: RangeInclusive<u64> = 1..=28 * 24 * 60 * 60;
    /// Player volume in percent.
    pub const VOLUME: RangeInclusive<u32> = 0..=100;
    /// Application command name, in characters (the whole rule: [`guildhost_rules::command_name`]).
    pub const COMMAND_NAME: RangeInclusive<usize> = guildhost_rules::COMMAND_NAME_CHARS;
    /// Interaction token: Discord's are a few hundred characters; this bounds what a message
    /// may carry.
    pub const INTERACTION_TOKEN: usize = 1000;
    /// A component's or a modal's `custom_id`.
    pub const CUSTOM_ID: RangeInclusive<usize> = 1..=100;
    /// A modal's title.
    pub const MODAL_TITLE: RangeInclusive<usize> = 1..=45;
    /// Action rows in a modal.
    pub const MODAL_ROWS: RangeInclusive<usize> = 1..=5;
    /// Autocomplete choices in one answer.
    pub const AUTOCOMPLETE_CHOICES: usize = 25;
    /// Channel and role names.
    pub const CHANNEL_OR_ROLE_NAME: RangeInclusive<usize> = 1..=100;
}

/// A value whose protocol rules can be checked.
pub trait Validate {
    /// Checks the rules, naming fields under `path` (`""` for the document root).
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError>;
}

/// `base.field`, or `field` at the root.
fn child(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

/// `base[index]`.
fn item(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn max_chars(base: &str, field: &str, text: &str, max: usize) -> Result<(), ProtocolError> {
    let count = chars(text);
    if count > max {
        return Err(ProtocolError::new(
            child(base, field),
            format!("must be at most {max} characters, got {count}"),
        ));
    }
    Ok(())
}

fn optional_max_chars(
    base: &str,
    field: &str,
    text: Option<&String>,
    max: usize,
) -> Result<(), ProtocolError> {
    text.map_or(Ok(()), |text| max_chars(base, field, text, max))
}

fn not_empty(base: &str, field: &str, text: &str) -> Result<(), ProtocolError> {
    if text.trim().is_empty() {
        return Err(ProtocolError::new(child(base, field), "must not be empty"));
    }
    Ok(())
}

fn optional_not_empty(base: &str, field: &str, text: Option<&String>) -> Result<(), ProtocolError> {
    text.map_or(Ok(()), |text| not_empty(base, field, text))
}

fn within<T: PartialOrd + Display>(
    base: &str,
    field: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ProtocolError> {
    if !range.contains(&value) {
        return Err(ProtocolError::new(
            child(base, field),
            format!(
                "must be within {}..={}, got {value}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(())
}

fn at_least(base: &str, field: &str, value: u64, min: u64) -> Result<(), ProtocolError> {
    if value < min {
        return Err(ProtocolError::new(
            child(base, field),
            format!("must be at least {min}, got {value}"),
        ));
    }
    Ok(())
}

fn non_negative(base: &str, field: &str, value: JsNumber) -> Result<(), ProtocolError> {
    if value.get() < 0.0 {
        return Err(ProtocolError::new(
            child(base, field),
            format!("must be at least 0, got {value}"),
        ));
    }
    Ok(())
}

fn reason(base: &str, text: &str) -> Result<(), ProtocolError> {
    max_chars(base, "reason", text, limits::AUDIT_LOG_REASON)
}

fn case_id(base: &str, id: Option<&String>) -> Result<(), ProtocolError> {
    optional_not_empty(base, "caseId", id)
}

/// An application command's name, by the rule plugin manifests obey too.
fn command_name(path: String, name: &str) -> Result<(), ProtocolError> {
    guildhost_rules::command_name(name).map_err(|rule| ProtocolError::new(path, rule))
}

/// A permission bitfield: an unsigned 64-bit integer written in decimal.
fn bitfield(base: &str, field: &str, text: &str) -> Result<(), ProtocolError> {
    let is_bitfield = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && text.parse::<u64>().is_ok();
    if !is_bitfield {
        return Err(ProtocolError::new(
            child(base, field),
            format!("must be a permission bitfield as a decimal string, got {text:?}"),
        ));
    }
    Ok(())
}

/// An interaction token: present, and no longer than Discord's.
fn interaction_token(base: &str, token: &str) -> Result<(), ProtocolError> {
    not_empty(base, "token", token)?;
    max_chars(base, "token", token, limits::INTERACTION_TOKEN)
}

impl Validate for Envelope {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "id", &self.id)?;
        optional_not_empty(path, "requestId", self.request_id.as_ref())
    }
}

// ---------------------------------------------------------------- Discord objects

/// Checks a message's text and embeds: content length, embed count, per-embed limits and the
/// 6000-character total.
fn message_body(
    base: &str,
    content: Option<&String>,
    embeds: Option<&Vec<DiscordEmbed>>,
) -> Result<(), ProtocolError> {
    optional_max_chars(base, "content", content, limits::MESSAGE_CONTENT)?;
    let Some(embeds) = embeds else {
        return Ok(());
    };
    let embeds_path = child(base, "embeds");
    if embeds.len() > limits::EMBEDS_PER_MESSAGE {
        return Err(ProtocolError::new(
            embeds_path,
            format!(
                "must hold at most {} embeds, got {}",
                limits::EMBEDS_PER_MESSAGE,
                embeds.len()
            ),
        ));
    }
    for (index, embed) in embeds.iter().enumerate() {
        embed.validate_at(&item(&embeds_path, index))?;
    }
    let total: usize = embeds.iter().map(embed_characters).sum();
    if total > limits::EMBEDS_TOTAL {
        return Err(ProtocolError::new(
            embeds_path,
            format!(
                "must total at most {} characters across all embeds, got {total}",
                limits::EMBEDS_TOTAL
            ),
        ));
    }
    Ok(())
}

/// The characters of an embed that count towards Discord's 6000-character total.
pub(crate) fn embed_characters(embed: &DiscordEmbed) -> usize {
    let optional = |text: Option<&String>| text.map_or(0, |text| chars(text));
    let fields = embed.fields.as_deref().unwrap_or_default();
    optional(embed.title.as_ref())
        + optional(embed.description.as_ref())
        + fields
            .iter()
            .map(|field| chars(&field.name) + chars(&field.value))
            .sum::<usize>()
        + optional(embed.footer.as_ref().map(|footer| &footer.text))
        + optional(embed.author.as_ref().map(|author| &author.name))
}

impl Validate for DiscordEmbed {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        optional_max_chars(path, "title", self.title.as_ref(), limits::EMBED_TITLE)?;
        optional_max_chars(
            path,
            "description",
            self.description.as_ref(),
            limits::EMBED_DESCRIPTION,
        )?;
        if let Some(color) = self.color {
            within(path, "color", color, 0..=limits::COLOR_MAX)?;
        }
        if let Some(footer) = &self.footer {
            max_chars(
                &child(path, "footer"),
                "text",
                &footer.text,
                limits::EMBED_FOOTER_TEXT,
            )?;
        }
        if let Some(author) = &self.author {
            max_chars(
                &child(path, "author"),
                "name",
                &author.name,
                limits::EMBED_AUTHOR_NAME,
            )?;
        }
        if let Some(fields) = &self.fields {
            let fields_path = child(path, "fields");
            if fields.len() > limits::EMBED_FIELDS {
                return Err(ProtocolError::new(
                    fields_path,
                    format!(
                        "must hold at most {} fields, got {}",
                        limits::EMBED_FIELDS,
                        fields.len()
                    ),
                ));
            }
            for (index, field) in fields.iter().enumerate() {
                let field_path = item(&fields_path, index);
                not_empty(&field_path, "name", &field.name)?;
                max_chars(&field_path, "name", &field.name, limits::EMBED_FIELD_NAME)?;
                not_empty(&field_path, "value", &field.value)?;
                max_chars(
                    &field_path,
                    "value",
                    &field.value,
                    limits::EMBED_FIELD_VALUE,
                )?;
            }
        }
        Ok(())
    }
}

impl Validate for DiscordAttachment {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "filename", &self.filename)?;
        max_chars(
            path,
            "filename",
            &self.filename,
            limits::ATTACHMENT_FILENAME,
        )?;
        optional_max_chars(
            path,
            "description",
            self.description.as_ref(),
            limits::ATTACHMENT_DESCRIPTION,
        )
    }
}

impl Validate for DiscordComponent {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        if !self.0.is_object() {
            return Err(ProtocolError::new(path, "must be a component object"));
        }
        Ok(())
    }
}

impl Validate for CommandOption {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        if !self.0.is_object() {
            return Err(ProtocolError::new(path, "must be a command option object"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- commands

impl Validate for SendMessage {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        message_body(path, self.content.as_ref(), self.embeds.as_ref())?;
        if let Some(components) = &self.components {
            let components_path = child(path, "components");
            for (index, component) in components.iter().enumerate() {
                component.validate_at(&item(&components_path, index))?;
            }
        }
        if let Some(files) = &self.files {
            let files_path = child(path, "files");
            if files.len() > limits::ATTACHMENTS_PER_MESSAGE {
                return Err(ProtocolError::new(
                    files_path,
                    format!(
                        "must hold at most {} files, got {}",
                        limits::ATTACHMENTS_PER_MESSAGE,
                        files.len()
                    ),
                ));
            }
            for (index, file) in files.iter().enumerate() {
                file.validate_at(&item(&files_path, index))?;
            }
        }
        // Discord refuses an empty message; components alone are a valid message for Discord.
        require_some_part(
            path,
            self.content.as_deref(),
            &[
                self.embeds.as_ref().map(Vec::len),
                self.files.as_ref().map(Vec::len),
                self.components.as_ref().map(Vec::len),
            ],
            "must carry content, embeds, files or components (Discord refuses an empty message)",
        )
    }
}

/// Fails with `rule` at `path` unless there is non-empty content or one of `lists` (their
/// lengths, when present) is non-empty.
fn require_some_part(
    path: &str,
    content: Option<&str>,
    lists: &[Option<usize>],
    rule: &str,
) -> Result<(), ProtocolError> {
    let has_content = content.is_some_and(|content| !content.is_empty());
    let has_list = lists.iter().any(|len| len.is_some_and(|len| len > 0));
    if has_content || has_list {
        Ok(())
    } else {
        Err(ProtocolError::new(path, rule))
    }
}

impl Validate for InteractionReply {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        interaction_token(path, &self.token)?;
        message_body(path, self.content.as_ref(), self.embeds.as_ref())?;
        if let Some(components) = &self.components {
            let components_path = child(path, "components");
            for (index, component) in components.iter().enumerate() {
                component.validate_at(&item(&components_path, index))?;
            }
        }
        let kind = self.kind();
        let only_for = |field: &str, present: bool, kind_meant: &str| {
            if present {
                Err(ProtocolError::new(
                    child(path, field),
                    format!("belongs to a `{kind_meant}` response only"),
                ))
            } else {
                Ok(())
            }
        };
        if kind != ReplyKind::Modal {
            only_for("customId", self.custom_id.is_some(), "modal")?;
            only_for("title", self.title.is_some(), "modal")?;
        }
        if kind != ReplyKind::Autocomplete {
            only_for("choices", self.choices.is_some(), "autocomplete")?;
        }
        match kind {
            ReplyKind::Message | ReplyKind::Update => require_some_part(
                path,
                self.content.as_deref(),
                &[
                    self.embeds.as_ref().map(Vec::len),
                    self.components.as_ref().map(Vec::len),
                ],
                "must carry content, embeds or components (Discord refuses an empty response)",
            ),
            ReplyKind::Modal => {
                let custom_id = self.custom_id.as_deref().ok_or_else(|| {
                    ProtocolError::new(child(path, "customId"), "is required for a modal")
                })?;
                length_in(path, "customId", custom_id, limits::CUSTOM_ID)?;
                let title = self.title.as_deref().ok_or_else(|| {
                    ProtocolError::new(child(path, "title"), "is required for a modal")
                })?;
                length_in(path, "title", title, limits::MODAL_TITLE)?;
                let rows = self.components.as_ref().map_or(0, Vec::len);
                if !limits::MODAL_ROWS.contains(&rows) {
                    return Err(ProtocolError::new(
                        child(path, "components"),
                        format!("a modal needs 1–5 action rows of text inputs, got {rows}"),
                    ));
                }
                only_for("content", self.content.is_some(), "message")?;
                only_for("embeds", self.embeds.is_some(), "message")
            }
            ReplyKind::Autocomplete => {
                let choices_path = child(path, "choices");
                let choices = self.choices.as_deref().ok_or_else(|| {
                    ProtocolError::new(choices_path.clone(), "is required for autocomplete")
                })?;
                if choices.len() > limits::AUTOCOMPLETE_CHOICES {
                    return Err(ProtocolError::new(
                        choices_path,
                        format!(
                            "must hold at most {} choices, got {}",
                            limits::AUTOCOMPLETE_CHOICES,
                            choices.len()
                        ),
                    ));
                }
                for (index, choice) in choices.iter().enumerate() {
                    let name = choice.get("name").and_then(|n| n.as_str());
                    if !name.is_some_and(|n| (1..=100).contains(&chars(n)))
                        || choice.get("value").is_none()
                    {
                        return Err(ProtocolError::new(
                            item(&choices_path, index),
                            "must be an object with `name` (1–100 characters) and `value`",
                        ));
                    }
                }
                only_for("content", self.content.is_some(), "message")?;
                only_for("embeds", self.embeds.is_some(), "message")?;
                only_for("components", self.components.is_some(), "message")
            }
        }
    }
}

/// Fails unless `text`'s length in characters is within `range`.
fn length_in(
    base: &str,
    field: &str,
    text: &str,
    range: RangeInclusive<usize>,
) -> Result<(), ProtocolError> {
    let count = chars(text);
    if range.contains(&count) {
        return Ok(());
    }
    Err(ProtocolError::new(
        child(base, field),
        format!(
            "must be {}–{} characters, got {count}",
            range.start(),
            range.end()
        ),
    ))
}

impl Validate for SendDm {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        message_body(path, self.content.as_ref(), self.embeds.as_ref())?;
        optional_max_chars(
            path,
            "reason",
            self.reason.as_ref(),
            limits::AUDIT_LOG_REASON,
        )?;
        let has_content = self
            .content
            .as_ref()
            .is_some_and(|content| !content.is_empty());
        let has_embeds = self
            .embeds
            .as_ref()
            .is_some_and(|embeds| !embeds.is_empty());
        if !has_content && !has_embeds {
            return Err(ProtocolError::new(
                path,
                "must carry content or embeds (Discord refuses an empty message)",
            ));
        }
        Ok(())
    }
}

impl Validate for DeleteMessage {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        optional_max_chars(
            path,
            "reason",
            self.reason.as_ref(),
            limits::AUDIT_LOG_REASON,
        )
    }
}

impl Validate for BanUser {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        reason(path, &self.reason)?;
        within(
            path,
            "deleteMessageDays",
            self.delete_message_days,
            limits::DELETE_MESSAGE_DAYS,
        )?;
        if let Some(hours) = self.duration
            && hours.get() <= 0.0
        {
            return Err(ProtocolError::new(
                child(path, "duration"),
                format!(
                    "must be a positive number of hours (omit it for a permanent ban), got {hours}"
                ),
            ));
        }
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for KickUser {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        reason(path, &self.reason)?;
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for TimeoutUser {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        within(path, "duration", self.duration, limits::TIMEOUT_SECONDS)?;
        reason(path, &self.reason)?;
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for UnbanUser {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        reason(path, &self.reason)?;
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for WarnUser {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        reason(path, &self.reason)?;
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for PlayMusic {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "query", &self.query)
    }
}

impl Validate for SkipMusic {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        at_least(path, "skipCount", u64::from(self.skip_count), 1)
    }
}

impl Validate for PauseMusic {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for SetVolume {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        within(path, "volume", self.volume, limits::VOLUME)
    }
}

impl Validate for SetRepeat {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for UpdateConfig {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        optional_not_empty(path, "section", self.section.as_ref())
    }
}

impl Validate for ReloadCommands {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let Some(names) = &self.command_names else {
            return Ok(());
        };
        let names_path = child(path, "commandNames");
        for (index, name) in names.iter().enumerate() {
            command_name(item(&names_path, index), name)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- events

impl Validate for MemberJoined {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(&child(path, "user"), "username", &self.user.username)
    }
}

impl Validate for MemberLeft {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(&child(path, "user"), "username", &self.user.username)
    }
}

impl Validate for MemberUpdated {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for MessageCreated {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for InteractionCreated {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        interaction_token(path, &self.token)?;
        let required = |field: &str, present: bool| {
            if present {
                Ok(())
            } else {
                Err(ProtocolError::new(
                    child(path, field),
                    format!("is required for a {:?} interaction", self.kind),
                ))
            }
        };
        if self.kind.is_command() {
            required("commandId", self.command_id.is_some())?;
            let name = self.command_name.as_deref().unwrap_or_default();
            required("commandName", self.command_name.is_some())?;
            command_name(child(path, "commandName"), name)?;
        } else {
            let custom_id = self.custom_id.as_deref();
            required("customId", custom_id.is_some())?;
            length_in(
                path,
                "customId",
                custom_id.unwrap_or_default(),
                limits::CUSTOM_ID,
            )?;
        }
        if self.kind == InteractionKind::Component {
            required("componentType", self.component_type.is_some())?;
        }
        let options_path = child(path, "options");
        for (index, option) in self.options.iter().enumerate() {
            option.validate_at(&item(&options_path, index))?;
        }
        if let Some(permissions) = &self.member_permissions {
            bitfield(path, "memberPermissions", permissions)?;
        }
        optional_not_empty(path, "locale", self.locale.as_ref())
    }
}

impl Validate for MessageDeleted {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for MessageEdited {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for MessageBulkDeleted {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let listed = self.message_ids.len();
        if usize::try_from(self.count).ok() != Some(listed) {
            return Err(ProtocolError::new(
                child(path, "count"),
                format!(
                    "must equal the number of messageIds ({listed}), got {}",
                    self.count
                ),
            ));
        }
        Ok(())
    }
}

fn name_length(base: &str, name: &str) -> Result<(), ProtocolError> {
    let length = chars(name);
    if !limits::CHANNEL_OR_ROLE_NAME.contains(&length) {
        return Err(ProtocolError::new(
            child(base, "name"),
            format!(
                "must be {}..={} characters long, got {length}",
                limits::CHANNEL_OR_ROLE_NAME.start(),
                limits::CHANNEL_OR_ROLE_NAME.end()
            ),
        ));
    }
    Ok(())
}

impl Validate for ChannelCreated {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        name_length(&child(path, "channel"), &self.channel.name)
    }
}

impl Validate for RoleCreated {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let role_path = child(path, "role");
        name_length(&role_path, &self.role.name)?;
        within(&role_path, "color", self.role.color, 0..=limits::COLOR_MAX)?;
        bitfield(&role_path, "permissions", &self.role.permissions)
    }
}

impl Validate for CaseCreated {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let case_path = child(path, "case");
        not_empty(&case_path, "id", &self.case.id)?;
        reason(&case_path, &self.case.reason)
    }
}

impl Validate for CaseUpdated {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "caseId", &self.case_id)?;
        if let Some(change) = &self.changes.reason {
            let change_path = child(&child(path, "changes"), "reason");
            max_chars(&change_path, "new", &change.new, limits::AUDIT_LOG_REASON)?;
        }
        Ok(())
    }
}

impl Validate for ModerationActionCompleted {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        case_id(path, self.case_id.as_ref())
    }
}

impl Validate for AutomodTriggered {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "rule", &self.rule)
    }
}

impl Validate for Track {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "id", &self.id)?;
        non_negative(path, "duration", self.duration)
    }
}

impl Validate for MusicStarted {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        self.track.validate_at(&child(path, "track"))
    }
}

impl Validate for MusicEnded {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(path, "trackId", &self.track_id)?;
        non_negative(path, "duration", self.duration)
    }
}

impl Validate for MusicPaused {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        non_negative(path, "currentPosition", self.current_position)
    }
}

impl Validate for TrackAdded {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        self.track.validate_at(&child(path, "track"))
    }
}

impl Validate for QueueCleared {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for UserNotification {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        not_empty(&child(path, "notification"), "id", &self.notification.id)
    }
}

impl Validate for BroadcastNotification {
    fn validate_at(&self, _path: &str) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Validate for ScheduledTask {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let schedule_path = child(path, "schedule");
        optional_not_empty(&schedule_path, "cron", self.schedule.cron.as_ref())?;
        if let Some(interval) = self.schedule.interval {
            at_least(&schedule_path, "interval", interval, 1)?;
        }
        Ok(())
    }
}

impl Validate for CleanupExpiredCases {
    fn validate_at(&self, path: &str) -> Result<(), ProtocolError> {
        let types_path = child(path, "caseTypes");
        for (index, case_type) in self.case_types.iter().enumerate() {
            if case_type.trim().is_empty() {
                return Err(ProtocolError::new(
                    item(&types_path, index),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::{EmbedAuthor, EmbedField, EmbedFooter};
    use crate::primitives::Snowflake;

    const USER: Snowflake = Snowflake::new(829_410_203_982_675_998);

    fn ban(days: u32, reason: &str) -> BanUser {
        BanUser {
            user_id: USER,
            reason: reason.to_owned(),
            delete_message_days: days,
            duration: None,
            moderator_id: USER,
            case_id: None,
            notify_user: false,
            create_case: false,
            extra: Default::default(),
        }
    }

    fn send(content: Option<&str>, embeds: Option<Vec<DiscordEmbed>>) -> SendMessage {
        SendMessage {
            channel_id: USER,
            content: content.map(str::to_owned),
            embeds,
            components: None,
            files: None,
            reply: None,
            extra: Default::default(),
        }
    }

    fn rule_at(result: Result<(), ProtocolError>) -> String {
        result.map_or_else(|error| error.to_string(), |()| "ok".to_owned())
    }

    #[test]
    fn limits_are_inclusive() {
        assert_eq!(rule_at(ban(7, &"r".repeat(512)).validate_at("data")), "ok");
        assert_eq!(
            rule_at(ban(8, "r").validate_at("data")),
            "data.deleteMessageDays: must be within 0..=7, got 8"
        );
        assert_eq!(
            rule_at(ban(0, &"é".repeat(513)).validate_at("data")),
            "data.reason: must be at most 512 characters, got 513"
        );
        assert_eq!(
            rule_at(send(Some(&"🎵".repeat(2000)), None).validate_at("data")),
            "ok"
        );
        let timeout = |duration| TimeoutUser {
            user_id: USER,
            duration,
            reason: String::new(),
            moderator_id: USER,
            case_id: None,
            notify_user: false,
            create_case: false,
            extra: Default::default(),
        };
        assert_eq!(rule_at(timeout(1).validate_at("data")), "ok");
        assert_eq!(rule_at(timeout(2_419_200).validate_at("data")), "ok");
        assert_eq!(
            rule_at(timeout(2_419_201).validate_at("data")),
            "data.duration: must be within 1..=2419200, got 2419201"
        );
    }

    fn embed_with(title: usize, description: usize, field_values: &[usize]) -> DiscordEmbed {
        DiscordEmbed {
            title: Some("t".repeat(title)),
            description: Some("d".repeat(description)),
            fields: Some(
                field_values
                    .iter()
                    .map(|&len| EmbedField {
                        name: "n".to_owned(),
                        value: "v".repeat(len),
                        inline: None,
                        extra: Default::default(),
                    })
                    .collect(),
            ),
            footer: Some(EmbedFooter {
                text: "f".to_owned(),
                ..Default::default()
            }),
            author: Some(EmbedAuthor {
                name: "a".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_embed_total_counts_every_limited_text() {
        // 256 + 4096 + 2 fields × (1 + 823) + footer 1 + author 1 = 6002: two over the limit.
        let embed = embed_with(256, 4096, &[823, 823]);
        assert_eq!(embed_characters(&embed), 6002);
        assert_eq!(
            rule_at(send(None, Some(vec![embed])).validate_at("data")),
            "data.embeds: must total at most 6000 characters across all embeds, got 6002"
        );
        let embed = embed_with(256, 4096, &[822, 822]);
        assert_eq!(embed_characters(&embed), 6000);
        assert_eq!(
            rule_at(send(None, Some(vec![embed])).validate_at("data")),
            "ok"
        );
    }

    #[test]
    fn an_empty_message_names_the_payload() {
        assert_eq!(
            rule_at(send(Some(""), Some(Vec::new())).validate_at("data")),
            "data: must carry content, embeds, files or components (Discord refuses an empty message)"
        );
    }
}
