//! The plugin as the host runs it, natively against `TestHost`: one test per request kind and
//! per edge case.

use std::time::Duration;

use guildhost_plugin::testing::TestHost;
use guildhost_plugin::types::{
    BanUser, CaseStatus, CaseType, CleanupExpiredCases, KickUser, Schedule, ScheduledTask,
    TaskType, TimeoutUser, UnbanUser, WarnUser,
};
use guildhost_plugin::{Incoming, Message, Output};

use super::Moderation;

const GUILD: &str = "100";
const USER: &str = "300";
const MODERATOR: &str = "200";
const HOUR_MS: u64 = 3_600_000;

fn run(host: &TestHost, id: &str, message: impl Into<Message>) -> Vec<Output> {
    host.handle::<Moderation>(&Incoming::new(message).in_guild(GUILD).with_id(id))
        .unwrap()
}

fn kinds(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| {
            let route = match o {
                Output::Execute(_) => "execute",
                Output::Publish(_) => "publish",
                Output::ExecuteAfter(_) => "later",
            };
            format!("{route} {}", o.message().type_name())
        })
        .collect()
}

fn ban_request(duration: Option<f64>) -> BanUser {
    let mut ban = BanUser::new(USER, "spam", MODERATOR);
    ban.duration = duration;
    ban.notify_user = true;
    ban.create_case = true;
    ban
}

fn unban_request(case_id: Option<&str>) -> UnbanUser {
    UnbanUser {
        user_id: USER.into(),
        reason: "appeal".into(),
        moderator_id: MODERATOR.into(),
        case_id: case_id.map(str::to_owned),
        notify_user: false,
    }
}

fn warn_request() -> WarnUser {
    WarnUser::new(USER, "rude", MODERATOR)
}

fn case_updated_status(output: &Output) -> (String, String, String) {
    let Message::CaseUpdated(updated) = output.message() else {
        panic!(
            "expected CASE_UPDATED, got {}",
            output.message().type_name()
        );
    };
    let status = updated.changes.status.clone().expect("a status change");
    (updated.case_id.clone(), status.old, status.new)
}

#[test]
fn a_second_ban_while_the_first_holds_amends_its_case_with_old_and_new_values() {
    let host = TestHost::new().with_now(1_000);
    run(&host, "m1", ban_request(Some(1.0)));
    let mut again = ban_request(Some(2.0));
    again.reason = "spam, again".into();
    let outputs = run(&host, "m2", again.clone());
    assert_eq!(
        kinds(&outputs),
        [
            "publish CASE_UPDATED",
            "execute SEND_DM",
            "execute BAN_USER",
            "later UNBAN_USER"
        ]
    );
    let Message::CaseUpdated(updated) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(updated.case_id, "100-1");
    let reason = updated.changes.reason.as_ref().expect("a reason change");
    assert_eq!(
        (reason.old.as_str(), reason.new.as_str()),
        ("spam", "spam, again")
    );
    let duration = updated
        .changes
        .duration
        .as_ref()
        .expect("a duration change");
    assert_eq!((duration.old, duration.new), (Some(1.0), Some(2.0)));
    assert!(updated.changes.status.is_none());
    let Message::BanUser(ban) = outputs[2].message() else {
        unreachable!()
    };
    assert_eq!(ban.case_id.as_deref(), Some("100-1"));
    // Asked again with the same values: nothing changes, nothing is announced.
    let outputs = run(&host, "m3", again);
    assert_eq!(
        kinds(&outputs),
        ["execute SEND_DM", "execute BAN_USER", "later UNBAN_USER"]
    );
}

#[test]
fn a_ban_with_case_and_notice_announces_dms_first_then_bans_with_the_case_id() {
    let host = TestHost::new().with_now(1_000);
    let outputs = run(&host, "m1", ban_request(None));
    assert_eq!(
        kinds(&outputs),
        [
            "publish CASE_CREATED",
            "execute SEND_DM",
            "execute BAN_USER"
        ]
    );
    let Message::CaseCreated(created) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(created.case.id, "100-1");
    assert_eq!(created.case.case_number, 1);
    assert_eq!(created.case.case_type, CaseType::Ban);
    assert_eq!(created.case.status, CaseStatus::Active);
    let Message::SendDm(dm) = outputs[1].message() else {
        unreachable!()
    };
    assert_eq!(dm.user_id, USER);
    let Message::BanUser(ban) = outputs[2].message() else {
        unreachable!()
    };
    assert_eq!(ban.case_id.as_deref(), Some("100-1"));
    assert!(
        !ban.notify_user && !ban.create_case,
        "the plugin did both already"
    );
}

#[test]
fn case_numbers_count_per_guild() {
    let host = TestHost::new();
    run(&host, "m1", ban_request(None));
    let outputs = run(
        &host,
        "m2",
        KickUser {
            create_case: true,
            ..KickUser::new(USER, "x", MODERATOR)
        },
    );
    let Message::CaseCreated(created) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(created.case.case_number, 2);
    let other = host
        .handle::<Moderation>(
            &Incoming::new(ban_request(None))
                .in_guild("101")
                .with_id("m3"),
        )
        .unwrap();
    let Message::CaseCreated(created) = other[0].message() else {
        unreachable!()
    };
    assert_eq!(
        (created.case.case_number, created.case.id.as_str()),
        (1, "101-1")
    );
}

#[test]
fn a_retried_request_reuses_its_case() {
    let host = TestHost::new();
    let first = run(&host, "m1", ban_request(None));
    let again = run(&host, "m1", ban_request(None));
    assert_eq!(first, again);
}

#[test]
fn without_case_or_notice_the_request_is_just_executed() {
    let host = TestHost::new();
    let outputs = run(&host, "m1", BanUser::new(USER, "spam", MODERATOR));
    assert_eq!(kinds(&outputs), ["execute BAN_USER"]);
    let Message::BanUser(ban) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(ban.case_id, None);
}

#[test]
fn a_case_the_api_already_opened_is_kept() {
    let host = TestHost::new();
    let mut ban = ban_request(None);
    ban.case_id = Some("api-case-9".into());
    let outputs = run(&host, "m1", ban);
    assert_eq!(kinds(&outputs), ["execute SEND_DM", "execute BAN_USER"]);
    let Message::BanUser(ban) = outputs[1].message() else {
        unreachable!()
    };
    assert_eq!(ban.case_id.as_deref(), Some("api-case-9"));
}

#[test]
fn a_temporary_ban_schedules_its_unban_which_expires_the_case() {
    let host = TestHost::new().with_now(10_000);
    let outputs = run(&host, "m1", ban_request(Some(2.0)));
    assert_eq!(
        kinds(&outputs),
        [
            "publish CASE_CREATED",
            "execute SEND_DM",
            "execute BAN_USER",
            "later UNBAN_USER"
        ]
    );
    assert_eq!(outputs[3].delay(), Some(Duration::from_millis(2 * HOUR_MS)));
    let Message::UnbanUser(scheduled) = outputs[3].message().clone() else {
        unreachable!()
    };
    assert_eq!(scheduled.case_id.as_deref(), Some("100-1"));

    // The scheduled unban comes due.
    host.advance(Duration::from_millis(2 * HOUR_MS));
    let outputs = run(&host, "m2", scheduled);
    assert_eq!(
        kinds(&outputs),
        ["publish CASE_UPDATED", "execute UNBAN_USER"]
    );
    assert_eq!(
        case_updated_status(&outputs[0]),
        ("100-1".into(), "ACTIVE".into(), "EXPIRED".into())
    );
}

#[test]
fn fractional_hours_make_short_bans() {
    let host = TestHost::new();
    let outputs = run(&host, "m1", ban_request(Some(0.001)));
    assert_eq!(outputs[3].delay(), Some(Duration::from_millis(3_600)));
}

#[test]
fn an_early_unban_revokes_the_case_named_or_the_active_one() {
    let host = TestHost::new().with_now(10_000);
    run(&host, "m1", ban_request(Some(24.0)));
    let outputs = run(&host, "m2", unban_request(Some("100-1")));
    assert_eq!(
        case_updated_status(&outputs[0]),
        ("100-1".into(), "ACTIVE".into(), "REVOKED".into())
    );
    // A second unban finds nothing left to close.
    assert_eq!(
        kinds(&run(&host, "m3", unban_request(Some("100-1")))),
        ["execute UNBAN_USER"]
    );

    run(&host, "m4", ban_request(None));
    let outputs = run(&host, "m5", unban_request(None));
    assert_eq!(case_updated_status(&outputs[0]).0, "100-2");
    let Message::UnbanUser(unban) = outputs[1].message() else {
        unreachable!()
    };
    assert_eq!(unban.case_id.as_deref(), Some("100-2"));
}

#[test]
fn a_retried_unban_announces_the_same_change() {
    let host = TestHost::new();
    run(&host, "m1", ban_request(None));
    let first = run(&host, "m2", unban_request(None));
    let again = run(&host, "m2", unban_request(None));
    assert_eq!(first, again);
}

#[test]
fn an_unban_with_notice_dms_before_unbanning() {
    let host = TestHost::new();
    let outputs = run(
        &host,
        "m1",
        UnbanUser {
            notify_user: true,
            ..unban_request(None)
        },
    );
    assert_eq!(kinds(&outputs), ["execute SEND_DM", "execute UNBAN_USER"]);
}

#[test]
fn a_timeout_case_expires_at_cleanup_after_its_duration() {
    let host = TestHost::new().with_now(0);
    let timeout =
        TimeoutUser::new(USER, Duration::from_secs(600), "flood", MODERATOR).creating_case();
    let outputs = run(&host, "m1", timeout);
    assert_eq!(
        kinds(&outputs),
        ["publish CASE_CREATED", "execute TIMEOUT_USER"]
    );
    let cleanup = |before: u64| CleanupExpiredCases {
        guild_id: Some(GUILD.into()),
        case_types: vec!["TIMEOUT".into(), "BAN".into()],
        expired_before: before,
    };
    host.advance(Duration::from_secs(60));
    assert!(run(&host, "c1", cleanup(60_000)).is_empty(), "not yet");
    let outputs = run(&host, "c2", cleanup(600_000));
    assert_eq!(
        case_updated_status(&outputs[0]),
        ("100-1".into(), "ACTIVE".into(), "EXPIRED".into())
    );
    assert!(run(&host, "c3", cleanup(u64::MAX)).is_empty(), "only once");
}

#[test]
fn cleanup_honours_the_case_types() {
    let host = TestHost::new();
    run(&host, "m1", ban_request(Some(1.0)));
    let run_cleanup = |id: &str, types: &[&str]| {
        run(
            &host,
            id,
            CleanupExpiredCases {
                guild_id: None,
                case_types: types.iter().map(|t| t.to_string()).collect(),
                expired_before: u64::MAX,
            },
        )
    };
    assert!(run_cleanup("c1", &["TIMEOUT"]).is_empty());
    assert_eq!(run_cleanup("c2", &[]).len(), 1, "no types means all");
}

#[test]
fn warnings_open_cases_notify_and_escalate_along_the_ladder() {
    let host = TestHost::new().with_now(1_000_000);
    let mut counts = Vec::new();
    for n in 1..=5 {
        host.advance(Duration::from_secs(60));
        let outputs = run(&host, &format!("w{n}"), warn_request());
        counts.push(kinds(&outputs));
    }
    assert_eq!(counts[0], ["publish CASE_CREATED", "execute SEND_DM"]);
    assert_eq!(counts[1], ["publish CASE_CREATED", "execute SEND_DM"]);
    assert_eq!(
        counts[2],
        [
            "publish CASE_CREATED",
            "execute SEND_DM",
            "publish CASE_CREATED",
            "execute SEND_DM",
            "execute TIMEOUT_USER"
        ]
    );
    assert_eq!(counts[3], ["publish CASE_CREATED", "execute SEND_DM"]);
    assert_eq!(
        counts[4],
        [
            "publish CASE_CREATED",
            "execute SEND_DM",
            "publish CASE_CREATED",
            "execute SEND_DM",
            "execute BAN_USER"
        ]
    );
}

#[test]
fn the_escalation_timeout_is_an_hour_with_its_own_case() {
    let host = TestHost::new();
    for n in 1..=3 {
        let outputs = run(&host, &format!("w{n}"), warn_request());
        if n == 3 {
            let Message::CaseCreated(case) = outputs[2].message() else {
                unreachable!()
            };
            assert_eq!(case.case.case_type, CaseType::Timeout);
            assert_eq!(case.case.case_number, 4);
            let Message::TimeoutUser(timeout) = outputs[4].message() else {
                unreachable!()
            };
            assert_eq!(timeout.duration, 3600);
            assert_eq!(timeout.case_id.as_deref(), Some("100-4"));
            assert!(
                timeout
                    .reason
                    .starts_with("Automatic escalation: 3 warnings")
            );
        }
    }
}

#[test]
fn old_warnings_fall_out_of_the_window_and_retries_do_not_count() {
    let host = TestHost::new().with_now(0);
    run(&host, "w1", warn_request());
    run(&host, "w1", warn_request());
    run(&host, "w2", warn_request());
    host.advance(Duration::from_millis(8 * 24 * HOUR_MS));
    let outputs = run(&host, "w3", warn_request());
    assert_eq!(
        kinds(&outputs),
        ["publish CASE_CREATED", "execute SEND_DM"],
        "count is 1 again"
    );
}

#[test]
fn the_ladder_and_notices_are_configurable() {
    let host = TestHost::new().with_config(serde_json::json!({
        "notifyOnWarn": false,
        "escalation": { "windowHours": 1, "steps": [ { "warnings": 2, "action": "KICK" } ] }
    }));
    assert_eq!(
        kinds(&run(&host, "w1", warn_request())),
        ["publish CASE_CREATED"]
    );
    assert_eq!(
        kinds(&run(&host, "w2", warn_request())),
        [
            "publish CASE_CREATED",
            "publish CASE_CREATED",
            "execute SEND_DM",
            "execute KICK_USER"
        ]
    );
    let host =
        TestHost::new().with_config(serde_json::json!({ "escalation": { "enabled": false } }));
    for n in 1..=5 {
        assert_eq!(run(&host, &format!("w{n}"), warn_request()).len(), 2);
    }
}

#[test]
fn a_warning_with_a_case_id_opens_no_case() {
    let host = TestHost::new();
    let mut warning = warn_request();
    warning.case_id = Some("api-1".into());
    assert_eq!(kinds(&run(&host, "w1", warning)), ["execute SEND_DM"]);
}

#[test]
fn requests_need_a_guild_and_other_messages_are_ignored() {
    let host = TestHost::new();
    let error = host
        .handle::<Moderation>(&Incoming::new(ban_request(None)))
        .unwrap_err();
    assert_eq!(
        error.message(),
        "guildId: BAN_USER needs the guild it is for"
    );
    let cleanup = CleanupExpiredCases {
        guild_id: None,
        case_types: vec![],
        expired_before: 0,
    };
    assert!(
        host.handle::<Moderation>(&Incoming::new(cleanup))
            .unwrap()
            .is_empty()
    );
    let dm = guildhost_plugin::types::SendDm::text(USER, "hi");
    assert!(run(&host, "x", dm).is_empty());
}

#[test]
fn state_stays_small() {
    let host = TestHost::new().with_kv_quota(64, 64 * 1024);
    for n in 0..200 {
        run(
            &host,
            &format!("k{n}"),
            KickUser {
                create_case: true,
                ..KickUser::new(USER, "x", MODERATOR)
            },
        );
    }
    run(&host, "b", ban_request(Some(1.0)));
}

#[test]
fn a_warning_still_in_flight_counts_so_concurrent_warnings_get_distinct_counts() {
    let host = TestHost::new();
    run(&host, "w1", warn_request());
    // Another worker took sequence number 2 and has not written its slot yet.
    host.put_kv_value(Some(GUILD), &format!("warn-seq:{USER}"), b"2");
    let outputs = run(&host, "w3", warn_request());
    assert_eq!(
        kinds(&outputs).last().map(String::as_str),
        Some("execute TIMEOUT_USER"),
        "this is the third warning"
    );
}

#[test]
fn a_scheduled_cleanup_task_expires_what_is_due_now() {
    let host = TestHost::new().with_now(0);
    run(&host, "m1", ban_request(Some(1.0)));
    let task = |task_type| ScheduledTask {
        task_type,
        task_data: None,
        schedule: Schedule {
            cron: Some("0 * * * *".into()),
            interval: None,
            run_once: None,
        },
        next_run: None,
    };
    assert!(
        run(&host, "t1", task(TaskType::Cleanup)).is_empty(),
        "not due yet"
    );
    host.advance(Duration::from_millis(HOUR_MS));
    assert!(
        run(&host, "t2", task(TaskType::Backup)).is_empty(),
        "not a cleanup"
    );
    let outputs = run(&host, "t3", task(TaskType::Cleanup));
    assert_eq!(case_updated_status(&outputs[0]).2, "EXPIRED");
}

fn unban_ran(case_id: &str, success: bool) -> guildhost_plugin::types::ModerationActionCompleted {
    guildhost_plugin::types::ModerationActionCompleted {
        action: guildhost_plugin::types::ModerationAction::Unban,
        user_id: USER.into(),
        success,
        error: None,
        case_id: Some(case_id.into()),
        executed_by: MODERATOR.into(),
        timestamp: 0,
    }
}

#[test]
fn the_executed_unban_of_a_temporary_ban_expires_its_case_once() {
    let host = TestHost::new().with_now(1_000);
    run(&host, "m1", ban_request(Some(1.0)));
    host.advance(Duration::from_millis(HOUR_MS));
    let outputs = run(&host, "r1", unban_ran("100-1", true));
    assert_eq!(kinds(&outputs), ["publish CASE_UPDATED"]);
    assert_eq!(
        case_updated_status(&outputs[0]),
        ("100-1".into(), "ACTIVE".into(), "EXPIRED".into())
    );
    // A second report (a retried execution job) finds the case closed.
    assert!(run(&host, "r2", unban_ran("100-1", true)).is_empty());
}

#[test]
fn a_failed_or_early_unban_report_does_not_expire_the_case() {
    let host = TestHost::new().with_now(1_000);
    run(&host, "m1", ban_request(Some(1.0)));
    assert!(run(&host, "r1", unban_ran("100-1", false)).is_empty());
    let outputs = run(&host, "r2", unban_ran("100-1", true));
    assert_eq!(
        case_updated_status(&outputs[0]),
        ("100-1".into(), "ACTIVE".into(), "REVOKED".into())
    );
}
