//! The first-party `moderation` plugin through the real pipeline (real Redis, the plugin built
//! for wasm32-wasip2, dry-run executor): requests on `bot:moderation` become cases, DMs and
//! actions; a temporary ban is lifted on time and its case expires.

mod common;
mod host_support;

use serde_json::{Value, json};

use host_support::{GUILD, Host, MEMBER, MODERATOR, envelope};

fn ban(duration: Option<f64>) -> Value {
    let mut data = json!({
        "userId": MEMBER,
        "reason": "spam",
        "deleteMessageDays": 1,
        "moderatorId": MODERATOR,
        "notifyUser": true,
        "createCase": true,
    });
    if let Some(hours) = duration {
        data["duration"] = json!(hours);
    }
    envelope("BAN_USER", GUILD, data)
}

fn warn(reason: &str) -> Value {
    envelope(
        "WARN_USER",
        GUILD,
        json!({ "userId": MEMBER, "reason": reason, "moderatorId": MODERATOR }),
    )
}

/// The index of the first dry-run record of `action` for the member.
fn position(actions: &[Value], action: &str) -> Option<usize> {
    actions
        .iter()
        .position(|a| a["action"] == action && a["data"]["userId"] == MEMBER)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_opens_a_case_dms_first_then_bans_with_the_case_id() {
    let host = Host::start(&["moderation"]).await;
    host.send("bot:moderation", &ban(None)).await;

    let created = host
        .expect_on("moderation:events", "CASE_CREATED", |_| true)
        .await;
    let case = &created["data"]["case"];
    assert_eq!(case["caseNumber"], 1);
    assert_eq!(case["type"], "BAN");
    assert_eq!(case["status"], "ACTIVE");
    assert_eq!(case["userId"], MEMBER);
    assert_eq!(created["guildId"], GUILD);
    assert_eq!(created["source"], "bot");
    let case_id = case["id"].as_str().expect("case id").to_owned();

    let banned = host
        .expect_action("BAN_USER", |a| a["data"]["userId"] == MEMBER)
        .await;
    assert_eq!(banned["data"]["caseId"], case_id.as_str());
    assert_eq!(banned["data"]["deleteMessageDays"], 1);
    let actions = host.actions().await;
    let dm = position(&actions, "SEND_DM").expect("the DM was sent");
    let ban_at = position(&actions, "BAN_USER").expect("the ban was executed");
    assert!(dm < ban_at, "the DM goes out before the ban: {actions:?}");
    assert!(
        actions[dm]["data"]["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| t.contains("banned"))
    );

    // The executor reports the action it ran, with the case.
    let done = host
        .expect_on("moderation:events", "MODERATION_ACTION_COMPLETED", |_| true)
        .await;
    assert_eq!(done["data"]["action"], "BAN");
    assert_eq!(done["data"]["caseId"], case_id.as_str());

    // The guild's next case gets the next number.
    host.send(
        "bot:moderation",
        &envelope(
            "KICK_USER",
            GUILD,
            json!({ "userId": MEMBER, "reason": "again", "moderatorId": MODERATOR,
                    "notifyUser": false, "createCase": true }),
        ),
    )
    .await;
    host.expect_on("moderation:events", "CASE_CREATED", |m| {
        m["data"]["case"]["caseNumber"] == 2 && m["data"]["case"]["type"] == "KICK"
    })
    .await;
    host.expect_action("KICK_USER", |a| a["data"]["caseId"].is_string())
        .await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_ban_is_lifted_on_time_and_its_case_expires() {
    let host = Host::start(&["moderation"]).await;
    // 0.0005 hours = 1.8 seconds.
    host.send("bot:moderation", &ban(Some(0.0005))).await;
    let created = host
        .expect_on("moderation:events", "CASE_CREATED", |_| true)
        .await;
    let case_id = created["data"]["case"]["id"]
        .as_str()
        .expect("case id")
        .to_owned();
    assert_eq!(created["data"]["case"]["duration"], 0.0005);
    host.expect_action("BAN_USER", |a| a["data"]["caseId"] == case_id.as_str())
        .await;
    assert!(
        position(&host.actions().await, "UNBAN_USER").is_none(),
        "not before its time"
    );

    let unban = host
        .expect_action("UNBAN_USER", |a| a["data"]["caseId"] == case_id.as_str())
        .await;
    assert_eq!(unban["data"]["userId"], MEMBER);
    host.expect_on("moderation:events", "MODERATION_ACTION_COMPLETED", |m| {
        m["data"]["action"] == "UNBAN" && m["data"]["caseId"] == case_id.as_str()
    })
    .await;

    // The executor's report of the unban reaches the plugin, which expires the case.
    let updated = host
        .expect_on("moderation:events", "CASE_UPDATED", |_| true)
        .await;
    assert_eq!(updated["data"]["caseId"], case_id.as_str());
    assert_eq!(
        updated["data"]["changes"]["status"],
        json!({ "old": "ACTIVE", "new": "EXPIRED" })
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unban_revokes_the_active_ban_case() {
    let host = Host::start(&["moderation"]).await;
    host.send("bot:moderation", &ban(Some(24.0))).await;
    let created = host
        .expect_on("moderation:events", "CASE_CREATED", |_| true)
        .await;
    let case_id = created["data"]["case"]["id"].clone();
    host.expect_action("BAN_USER", |_| true).await;

    host.send(
        "bot:moderation",
        &envelope(
            "UNBAN_USER",
            GUILD,
            json!({ "userId": MEMBER, "reason": "appeal accepted", "moderatorId": MODERATOR,
                    "caseId": case_id, "notifyUser": false }),
        ),
    )
    .await;
    let updated = host
        .expect_on("moderation:events", "CASE_UPDATED", |_| true)
        .await;
    assert_eq!(updated["data"]["caseId"], case_id);
    assert_eq!(updated["data"]["changes"]["status"]["new"], "REVOKED");
    assert_eq!(updated["data"]["updatedBy"], MODERATOR);
    host.expect_action("UNBAN_USER", |a| a["data"]["caseId"] == case_id)
        .await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_warning_times_the_member_out_for_an_hour() {
    let host = Host::start(&["moderation"]).await;
    for n in 1..=3 {
        let id = host
            .send("bot:moderation", &warn(&format!("rude #{n}")))
            .await;
        host.completed("bot:moderation", &id).await;
    }
    let timeout = host
        .expect_action("TIMEOUT_USER", |a| a["data"]["userId"] == MEMBER)
        .await;
    assert_eq!(timeout["data"]["duration"], 3600);
    let timeout_case = host
        .expect_on("moderation:events", "CASE_CREATED", |m| {
            m["data"]["case"]["type"] == "TIMEOUT"
        })
        .await;
    assert_eq!(
        timeout["data"]["caseId"],
        timeout_case["data"]["case"]["id"]
    );
    let warnings = host
        .waiting("moderation:events")
        .await
        .into_iter()
        .filter(|m| m["type"] == "CASE_CREATED" && m["data"]["case"]["type"] == "WARN")
        .count();
    assert_eq!(warnings, 3);
    // Each warning was told to the member, and so was the timeout.
    let dms = host
        .actions()
        .await
        .into_iter()
        .filter(|a| a["action"] == "SEND_DM")
        .count();
    assert_eq!(dms, 4);
    host.stop().await;
}

/// Times `user` out for a minute in `guild`, with a case, and waits for the job.
async fn time_out(host: &Host, guild: &str, user: &str) {
    let timeout = envelope(
        "TIMEOUT_USER",
        guild,
        json!({
            "userId": user, "reason": "spam", "duration": 60, "moderatorId": MODERATOR,
            "notifyUser": false, "createCase": true,
        }),
    );
    let id = host.send("bot:moderation", &timeout).await;
    host.completed("bot:moderation", &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_with_no_guild_expires_due_cases_in_every_guild() {
    let host = Host::start(&["moderation"]).await;
    let guilds = [
        "100000000000000011",
        "100000000000000012",
        "100000000000000013",
    ];
    for guild in guilds {
        time_out(&host, guild, MEMBER).await;
    }
    // As a schedule or the API sends it: no guild anywhere, every case due before tomorrow.
    let mut cleanup = envelope(
        "CLEANUP_EXPIRED_CASES",
        GUILD,
        json!({ "caseTypes": [], "expiredBefore": "2099-01-01T00:00:00.000Z" }),
    );
    if let Some(fields) = cleanup.as_object_mut() {
        fields.remove("guildId");
    }
    let id = host.send("cleanup:tasks", &cleanup).await;
    host.completed("cleanup:tasks", &id).await;
    for guild in guilds {
        let updated = host
            .expect_on("moderation:events", "CASE_UPDATED", |m| {
                m["guildId"] == guild
            })
            .await;
        assert_eq!(
            updated["data"]["changes"]["status"],
            json!({ "old": "ACTIVE", "new": "EXPIRED" }),
            "{updated}"
        );
    }

    // With `data.guildId`, only that guild's: a new case in each, one cleanup for the first.
    for guild in guilds {
        time_out(&host, guild, MODERATOR).await;
    }
    cleanup["data"]["guildId"] = json!(guilds[0]);
    let id = host.send("cleanup:tasks", &cleanup).await;
    host.completed("cleanup:tasks", &id).await;
    let expired: Vec<Value> = host
        .waiting("moderation:events")
        .await
        .into_iter()
        .filter(|m| m["type"] == "CASE_UPDATED")
        .collect();
    let per_guild = |guild: &str| expired.iter().filter(|m| m["guildId"] == guild).count();
    assert_eq!(per_guild(guilds[0]), 2, "{expired:?}");
    assert_eq!(per_guild(guilds[1]), 1, "{expired:?}");
    assert_eq!(per_guild(guilds[2]), 1, "{expired:?}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ban_amends_the_open_case_and_says_what_changed() {
    let host = Host::start(&["moderation"]).await;
    let first = host.send("bot:moderation", &ban(Some(24.0))).await;
    host.completed("bot:moderation", &first).await;
    let mut again = ban(Some(48.0));
    again["data"]["reason"] = json!("spam, again");
    host.send("bot:moderation", &again).await;
    let updated = host
        .expect_on("moderation:events", "CASE_UPDATED", |_| true)
        .await;
    assert_eq!(
        updated["data"]["changes"],
        json!({
            "reason": { "old": "spam", "new": "spam, again" },
            "duration": { "old": 24, "new": 48 },
        }),
        "{updated}"
    );
    assert_eq!(updated["data"]["updatedBy"], MODERATOR);
    let created = host
        .waiting("moderation:events")
        .await
        .into_iter()
        .filter(|m| m["type"] == "CASE_CREATED")
        .count();
    assert_eq!(created, 1, "one case, amended");
    host.stop().await;
}
