//! The plugin as the host runs it, natively against `TestHost`: each rule firing and not
//! firing, exemptions, actions and events.

use guildhost_plugin::testing::TestHost;
use guildhost_plugin::types::{AutomodAction, MessageCreated, MessageEdited, Severity};
use guildhost_plugin::{Incoming, Message, Output};
use serde_json::json;

use super::Automod;

const GUILD: &str = "100";
const AUTHOR: &str = "300";
const CHANNEL: &str = "500";

fn created(content: &str) -> MessageCreated {
    MessageCreated {
        timestamp: 1_000_000,
        author_roles: Some(vec!["700".into()]),
        is_bot: Some(false),
        ..MessageCreated::text("400", CHANNEL, AUTHOR, content)
    }
}

fn edited(content: &str) -> MessageEdited {
    MessageEdited {
        message_id: "400".into(),
        channel_id: CHANNEL.into(),
        author_id: AUTHOR.into(),
        old_content: None,
        new_content: content.into(),
        edited_at: 1_000_000,
    }
}

fn run(host: &TestHost, message: impl Into<Message>) -> Vec<Output> {
    host.handle::<Automod>(&Incoming::new(message).in_guild(GUILD))
        .unwrap()
}

fn kinds(outputs: &[Output]) -> Vec<&str> {
    outputs.iter().map(|o| o.message().type_name()).collect()
}

fn triggered(outputs: &[Output]) -> Vec<(String, AutomodAction, Severity)> {
    outputs
        .iter()
        .filter_map(|o| match o.message() {
            Message::AutomodTriggered(t) => Some((t.rule.clone(), t.action, t.severity)),
            _ => None,
        })
        .collect()
}

fn keywords_host() -> TestHost {
    TestHost::new().with_config(json!({
        "keywords": { "words": ["badword", "scam*"], "allow": ["scampi"] }
    }))
}

#[test]
fn a_clean_message_produces_nothing() {
    assert!(run(&keywords_host(), created("hello there, friends")).is_empty());
}

#[test]
fn a_banned_keyword_deletes_and_reports() {
    let outputs = run(&keywords_host(), created("this is a BADWORD!"));
    assert_eq!(kinds(&outputs), ["DELETE_MESSAGE", "AUTOMOD_TRIGGERED"]);
    let Message::DeleteMessage(delete) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(
        (delete.channel_id.as_str(), delete.message_id.as_str()),
        (CHANNEL, "400")
    );
    assert!(delete.reason.as_deref().unwrap().contains("keywords"));
    let Message::AutomodTriggered(event) = outputs[1].message() else {
        unreachable!()
    };
    assert_eq!(event.rule, "keywords");
    assert_eq!(event.user_id, AUTHOR);
    assert_eq!(event.message_id.as_deref(), Some("400"));
    assert_eq!(event.content.as_deref(), Some("this is a BADWORD!"));
    assert_eq!(
        (event.action, event.severity),
        (AutomodAction::Delete, Severity::Medium)
    );
}

#[test]
fn wildcards_and_the_allow_list() {
    assert_eq!(run(&keywords_host(), created("total scammers")).len(), 2);
    assert!(run(&keywords_host(), created("I had scampi")).is_empty());
}

#[test]
fn a_regex_rule_warns_through_the_moderation_plugin() {
    let host = TestHost::new().with_config(json!({
        "moderatorId": "999",
        "regex": { "patterns": [{ "name": "phone", "pattern": "\\d{3}-\\d{4}" }], "action": "WARN", "severity": "HIGH" }
    }));
    let outputs = run(&host, created("call 555-1234"));
    assert_eq!(kinds(&outputs), ["WARN_USER", "AUTOMOD_TRIGGERED"]);
    let Message::WarnUser(warn) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(
        (warn.user_id.as_str(), warn.moderator_id.as_str()),
        (AUTHOR, "999")
    );
    assert_eq!(warn.severity, Some(Severity::High));
    assert_eq!(triggered(&outputs)[0].0, "regex:phone");
    assert!(run(&host, created("call me maybe")).is_empty());
}

#[test]
fn invite_links_are_deleted_unless_allowed() {
    let host = TestHost::new().with_config(json!({ "invites": { "allow": ["home"] } }));
    assert_eq!(
        triggered(&run(&host, created("join discord.gg/raid"))).len(),
        1
    );
    assert!(run(&host, created("our server: discord.gg/home")).is_empty());
}

#[test]
fn mention_spam_times_out() {
    let host = TestHost::new();
    let mut message = created("hey all");
    message.mentions.users = (1..=4).map(|i| i.to_string()).collect();
    message.mentions.roles = vec!["9".into()];
    assert!(run(&host, message.clone()).is_empty(), "five is the limit");
    message.mentions.everyone = true;
    let outputs = run(&host, message);
    assert_eq!(kinds(&outputs), ["TIMEOUT_USER", "AUTOMOD_TRIGGERED"]);
    let Message::TimeoutUser(timeout) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(timeout.duration, 600);
    assert_eq!(
        triggered(&outputs)[0],
        ("mentions".into(), AutomodAction::Timeout, Severity::High)
    );
}

#[test]
fn message_rate_spam_times_out_the_sixth_message_in_five_seconds() {
    let host = TestHost::new();
    let mut message = created("hi");
    for n in 0..5 {
        message.timestamp = 1_000_000 + n * 100;
        assert!(run(&host, message.clone()).is_empty(), "message {n}");
    }
    message.timestamp = 1_000_600;
    let outputs = run(&host, message.clone());
    assert_eq!(triggered(&outputs)[0].0, "rate");
    message.timestamp = 1_010_000;
    assert!(run(&host, message).is_empty(), "a later window starts over");
}

#[test]
fn shouting_is_deleted() {
    let host = TestHost::new();
    let outputs = run(&host, created("WHY IS NOBODY ANSWERING ME"));
    assert_eq!(
        triggered(&outputs),
        [("caps".into(), AutomodAction::Delete, Severity::Low)]
    );
    assert!(run(&host, created("OK")).is_empty());
}

#[test]
fn several_hits_share_one_action_of_each_kind_but_each_is_reported() {
    let host = TestHost::new().with_config(json!({ "keywords": { "words": ["spam"] } }));
    let outputs = run(&host, created("SPAM SPAM SPAM DISCORD.GG/X"));
    assert_eq!(
        kinds(&outputs),
        [
            "DELETE_MESSAGE",
            "AUTOMOD_TRIGGERED",
            "AUTOMOD_TRIGGERED",
            "AUTOMOD_TRIGGERED"
        ]
    );
    let rules: Vec<String> = triggered(&outputs).into_iter().map(|t| t.0).collect();
    assert_eq!(rules, ["keywords", "invites", "caps"]);
}

#[test]
fn exempt_roles_channels_and_bots_are_not_checked() {
    let config = json!({ "keywords": { "words": ["badword"] }, "exemptRoles": ["800"], "exemptChannels": ["501"] });
    let host = TestHost::new().with_config(config);
    let mut moderator = created("badword");
    moderator.author_roles = Some(vec!["800".into()]);
    assert!(run(&host, moderator).is_empty());
    // The moderator's later edit is exempt too, though edits carry no roles.
    assert!(run(&host, edited("badword again")).is_empty());

    let mut elsewhere = created("badword");
    elsewhere.channel_id = "501".into();
    assert!(run(&host, elsewhere).is_empty());
    let mut bot = created("badword");
    bot.author_roles = None;
    bot.is_bot = Some(true);
    assert!(run(&host, bot).is_empty());

    // Losing the role ends the exemption.
    assert_eq!(run(&host, created("badword")).len(), 2);
    assert_eq!(run(&host, edited("badword again")).len(), 2);
}

#[test]
fn an_edit_is_checked_for_content() {
    let outputs = run(&keywords_host(), edited("now with a badword"));
    assert_eq!(kinds(&outputs), ["DELETE_MESSAGE", "AUTOMOD_TRIGGERED"]);
    assert!(run(&keywords_host(), edited("all clean")).is_empty());
}

#[test]
fn disabled_rules_and_guilds_and_dms_do_nothing() {
    let host =
        TestHost::new().with_config(json!({ "enabled": false, "keywords": { "words": ["x"] } }));
    assert!(run(&host, created("x")).is_empty());
    let host = TestHost::new().with_config(json!({ "caps": { "enabled": false } }));
    assert!(run(&host, created("WHY IS NOBODY ANSWERING ME")).is_empty());
    let dm = keywords_host()
        .handle::<Automod>(&Incoming::new(created("badword")))
        .unwrap();
    assert!(dm.is_empty());
}

#[test]
fn a_broken_configuration_fails_with_the_field_named() {
    let host = TestHost::new().with_config(json!({ "moderatorId": "bot" }));
    let error = host
        .handle::<Automod>(&Incoming::new(created("x")).in_guild(GUILD))
        .unwrap_err();
    assert!(error.message().contains("moderatorId"), "{error}");
}
