//! Who owns a component: every `custom_id` a plugin sends (on a button, a select menu, a modal)
//! starts with the plugin's name and `:`, so a click or a modal submit goes back to the plugin
//! that sent it and to no other. The check runs on each plugin's outputs before they become
//! jobs; a plugin that names another's prefix is refused, as an output reaching outside its
//! guild is. Components the API sends itself are not checked: their clicks reach the plugin
//! their prefix names, if one is loaded, and the API always hears of them on `discord:events`.

use serde_json::Value;

use crate::protocol::{Message, Payload};

/// The plugin a `custom_id` belongs to: what precedes its first `:`.
pub fn owner(custom_id: &str) -> Option<&str> {
    custom_id
        .split_once(':')
        .map(|(owner, _)| owner)
        .filter(|owner| !owner.is_empty())
}

/// Checks that every `custom_id` in `message` (components at any depth, a modal's own id)
/// belongs to `plugin`; the error names the first that does not, and where it is.
pub fn check(plugin: &str, message: &Message) -> Result<(), String> {
    let (components, modal) = match &message.payload {
        Payload::SendMessage(send) => (send.components.as_deref(), None),
        Payload::InteractionReply(reply) => (reply.components.as_deref(), reply.custom_id.as_ref()),
        _ => return Ok(()),
    };
    let owned = |custom_id: &str| owner(custom_id) == Some(plugin);
    if let Some(custom_id) = modal.filter(|id| !owned(id)) {
        return Err(refusal(plugin, "data.customId", custom_id));
    }
    for (index, component) in components.unwrap_or_default().iter().enumerate() {
        if let Some((path, custom_id)) =
            foreign(&component.0, format!("data.components[{index}]"), &owned)
        {
            return Err(refusal(plugin, &path, &custom_id));
        }
    }
    Ok(())
}

/// The first `custom_id` under `value` that `owned` refuses, with its path.
fn foreign(value: &Value, path: String, owned: &impl Fn(&str) -> bool) -> Option<(String, String)> {
    match value {
        Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            let path = format!("{path}.{key}");
            match (key.as_str(), field) {
                ("custom_id", Value::String(id)) if !owned(id) => Some((path, id.clone())),
                _ => foreign(field, path, owned),
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| foreign(item, format!("{path}[{index}]"), owned)),
        _ => None,
    }
}

fn refusal(plugin: &str, path: &str, custom_id: &str) -> String {
    format!(
        "{path}: custom_id {custom_id:?} must start with \"{plugin}:\" (the plugin's name), so \
         its clicks come back to the plugin that sent it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(data: Value) -> Message {
        let text = serde_json::json!({
            "id": "m-1", "type": "INTERACTION_REPLY", "timestamp": "2026-12-07T12:00:00.000Z",
            "source": "bot", "guildId": "100000000000000001", "data": data,
        })
        .to_string();
        match Message::decode(text.as_bytes()) {
            Ok(message) => message,
            Err(e) => panic!("test message is invalid: {e}"),
        }
    }

    #[test]
    fn the_owner_is_the_prefix_before_the_first_colon() {
        assert_eq!(owner("poll:vote:yes"), Some("poll"));
        assert_eq!(owner("poll"), None);
        assert_eq!(owner(":vote"), None);
    }

    #[test]
    fn a_plugin_sends_only_components_under_its_own_name() {
        let row = |id: &str| {
            serde_json::json!([{ "type": 1, "components": [
                { "type": 2, "style": 1, "label": "Yes", "custom_id": "poll:yes" },
                { "type": 2, "style": 1, "label": "No", "custom_id": id },
            ]}])
        };
        let own = reply(serde_json::json!({
            "interactionId": "1", "token": "t", "content": "vote", "components": row("poll:no"),
        }));
        assert_eq!(check("poll", &own), Ok(()));
        let stolen = reply(serde_json::json!({
            "interactionId": "1", "token": "t", "content": "vote", "components": row("moderation:undo:42"),
        }));
        let refused = check("poll", &stolen).unwrap_err();
        assert!(
            refused.starts_with("data.components[0].components[1].custom_id: custom_id \"moderation:undo:42\" must start with \"poll:\""),
            "{refused}"
        );
        let modal = reply(serde_json::json!({
            "interactionId": "1", "token": "t", "response": "modal", "customId": "other:why",
            "title": "Why?", "components": [{ "type": 1, "components": [
                { "type": 4, "custom_id": "poll:reason", "label": "Reason", "style": 1 }]}],
        }));
        assert!(
            check("poll", &modal)
                .unwrap_err()
                .starts_with("data.customId")
        );
    }
}
