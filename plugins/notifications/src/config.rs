//! The plugin's configuration: a guild's announcement channel, and the operator's map of
//! announcement channels for broadcasts sent without a guild.

use std::collections::BTreeMap;

use serde::Deserialize;

use guildhost_plugin::{Context, Error};

/// The notification settings seen while handling one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotificationsConfig {
    /// The guild's announcement channel (from its `notifications` section).
    pub announcement_channel: Option<String>,
    /// Guild id → announcement channel, from the manifest (the operator's settings).
    pub announcement_channels: BTreeMap<String, String>,
}

impl NotificationsConfig {
    /// Reads and checks the configuration.
    pub fn load(ctx: &Context<'_>) -> Result<Self, Error> {
        let config: Self = ctx.config()?;
        if let Some(channel) = &config.announcement_channel
            && !is_snowflake(channel)
        {
            return Err(invalid("announcementChannel", channel));
        }
        for (guild, channel) in &config.announcement_channels {
            if !is_snowflake(guild) {
                return Err(invalid("announcementChannels (a key)", guild));
            }
            if !is_snowflake(channel) {
                return Err(invalid(&format!("announcementChannels.{guild}"), channel));
            }
        }
        Ok(config)
    }
}

fn is_snowflake(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

fn invalid(field: &str, value: &str) -> Error {
    Error::new(format!(
        "notifications configuration `{field}`: must be a snowflake (1 to 20 digits), got {value:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;

    #[test]
    fn channels_must_be_snowflakes() {
        let host =
            TestHost::new().with_config(serde_json::json!({ "announcementChannel": "general" }));
        let error = NotificationsConfig::load(&host.context()).unwrap_err();
        assert!(error.message().contains("announcementChannel"), "{error}");
        let host = TestHost::new()
            .with_config(serde_json::json!({ "announcementChannels": { "1": "x" } }));
        let error = NotificationsConfig::load(&host.context()).unwrap_err();
        assert!(
            error.message().contains("announcementChannels.1"),
            "{error}"
        );
        assert_eq!(
            NotificationsConfig::load(&TestHost::new().context()).unwrap(),
            NotificationsConfig::default()
        );
    }
}
