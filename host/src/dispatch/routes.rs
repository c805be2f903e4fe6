//! Where messages come from and where replies go: the queues guildhost consumes, its internal
//! queues, and the queue each plugin output is enqueued on.

use crate::protocol::{MessageKind, MessageType, QueueName, TypePolicy};

/// Commands to execute against Discord: what plugins reply, and requests no plugin handles.
/// Its jobs are never dispatched to plugins again, so replies cannot loop.
pub const EXECUTE_QUEUE: &str = "guildhost:execute";

/// Events from Discord's side — gateway events, and the executor's reports of what it did — on
/// their way to the plugins; the dispatcher also forwards each to its seed queue for the API.
pub const GATEWAY_QUEUE: &str = "guildhost:gateway";

/// The seed's queues that carry work for the bot; the event queues are the API's to consume.
pub const INBOUND_QUEUES: [QueueName; 9] = [
    QueueName::BotCommands,
    QueueName::BotModeration,
    QueueName::BotMusic,
    QueueName::BotConfig,
    QueueName::Notifications,
    QueueName::Webhooks,
    QueueName::Analytics,
    QueueName::ScheduledTasks,
    QueueName::CleanupTasks,
];

/// Whether jobs of `queue` are the API's commands, each completing when it has been carried
/// out on Discord (see `command_job`): the `bot:*` queues.
pub fn is_command_queue(queue: &str) -> bool {
    [
        QueueName::BotCommands,
        QueueName::BotModeration,
        QueueName::BotMusic,
        QueueName::BotConfig,
    ]
    .iter()
    .any(|q| q.as_str() == queue)
}

/// Whether a host consumes `queue` unless its configuration says otherwise: the `bot:*` and
/// scheduled queues carry work only the bot can do; `notifications`, `webhooks` and
/// `analytics` are cross-service queues a stock Node API works itself, so guildhost stays off
/// them (Bull gives each job to one consumer) until the operator sets `consume = true`.
pub fn consumed_by_default(queue: &str) -> bool {
    ![
        QueueName::Notifications,
        QueueName::Webhooks,
        QueueName::Analytics,
    ]
    .iter()
    .any(|q| q.as_str() == queue)
        && INBOUND_QUEUES.iter().any(|q| q.as_str() == queue)
}

/// Every queue an operator may want to look at: the seed's, guildhost's own, the dead letters.
pub fn known_queues() -> Vec<&'static str> {
    QueueName::ALL
        .iter()
        .map(|q| q.as_str())
        .chain([
            GATEWAY_QUEUE,
            EXECUTE_QUEUE,
            crate::store::commands::PLUGIN_EVENTS_QUEUE,
            crate::queue::DEFAULT_DEAD_LETTER_QUEUE,
        ])
        .collect()
}
/// How strictly a queue's messages are decoded: `webhooks` and `analytics` carry message types
/// the API defines, which reach plugins through the WIT catch-all.
pub fn type_policy(queue: &str) -> TypePolicy {
    if queue == QueueName::Webhooks.as_str() || queue == QueueName::Analytics.as_str() {
        TypePolicy::AllowCustom
    } else {
        TypePolicy::Strict
    }
}

/// The queue an event a plugin publishes goes to: its home queue in the seed, except that
/// events whose home is a queue guildhost itself consumes would come straight back to the
/// plugins, so they are refused (`None`).
pub fn publish_queue(message_type: MessageType) -> Option<&'static str> {
    if message_type.kind() != MessageKind::Event {
        return None;
    }
    let queue = message_type.queue();
    if INBOUND_QUEUES.contains(&queue) {
        None
    } else {
        Some(queue.as_str())
    }
}

/// Whether a message of this type, arriving on a command queue with no plugin subscribed, is
/// sent to the executor as it is.
pub fn executes_unhandled(message_type: MessageType) -> bool {
    message_type.kind() == MessageKind::Command && message_type != MessageType::UpdateConfig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_their_seed_queue() {
        assert_eq!(
            publish_queue(MessageType::CaseCreated),
            Some("moderation:events")
        );
        assert_eq!(publish_queue(MessageType::TrackAdded), Some("music:events"));
        assert_eq!(
            publish_queue(MessageType::MemberJoined),
            Some("discord:events")
        );
    }

    #[test]
    fn commands_and_inbound_events_are_not_published() {
        assert_eq!(publish_queue(MessageType::BanUser), None);
        assert_eq!(publish_queue(MessageType::ScheduledTask), None);
        assert_eq!(publish_queue(MessageType::UserNotification), None);
    }

    #[test]
    fn custom_types_only_on_the_api_defined_queues() {
        assert_eq!(type_policy("webhooks"), TypePolicy::AllowCustom);
        assert_eq!(type_policy("analytics"), TypePolicy::AllowCustom);
        assert_eq!(type_policy("bot:moderation"), TypePolicy::Strict);
    }
}
