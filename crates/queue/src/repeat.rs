//! Repeatable jobs as Bull schedules them: the repeat key, the md5-based iteration id and the next
//! run time for `every` and for cron expressions (with time zones), so a series started by Node
//! continues in Rust and vice versa.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use md5::{Digest, Md5};

use super::error::{QueueError, QueueResult};
use super::options::{JobOptions, RepeatOptions, date_option_millis};

/// Lowercase hex md5 of `text`.
pub(crate) fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The custom job id part of the key: `"<jobId>:"` or `":"` (from `repeat.jobId`).
fn job_id_part(repeat: &RepeatOptions) -> String {
    match &repeat.job_id {
        Some(id) => format!("{}:", id.as_redis_id()),
        None => ":".to_owned(),
    }
}

/// Bull's repeat key: `name:jobIdPart endDatePart (tz:cron | every)`.
pub fn repeat_key(name: &str, repeat: &RepeatOptions) -> QueueResult<String> {
    let mut key = format!("{name}:{}", job_id_part(repeat));
    match &repeat.end_date {
        Some(end) => {
            key.push_str(&date_option_millis("repeat.endDate", end)?.to_string());
            key.push(':');
        }
        None => key.push(':'),
    }
    if let Some(cron) = &repeat.cron {
        if let Some(tz) = &repeat.tz {
            key.push_str(tz);
        }
        key.push(':');
        key.push_str(cron);
    } else if let Some(every) = repeat.every {
        key.push_str(&every.to_string());
    } else {
        return Err(QueueError::InvalidOption {
            field: "repeat",
            rule: "needs `cron` or `every`".to_owned(),
        });
    }
    Ok(key)
}

/// The id prefix of every iteration of a series: `repeat:<md5(name + jobIdPart + md5(key))>:`.
pub fn iteration_id_prefix(name: &str, repeat: &RepeatOptions, key: &str) -> String {
    let digest = md5_hex(&format!("{name}{}{}", job_id_part(repeat), md5_hex(key)));
    format!("repeat:{digest}:")
}

/// The next run time (ms) strictly after `max(prevMillis, now)`, or `None` when the series is over
/// (limit reached, past `endDate`, or no further cron match).
pub fn next_millis(
    opts: &JobOptions,
    repeat: &RepeatOptions,
    now: i64,
) -> QueueResult<Option<i64>> {
    let end = match &repeat.end_date {
        Some(end) => Some(date_option_millis("repeat.endDate", end)?),
        None => None,
    };
    if let Some(limit) = repeat.limit
        && repeat.count.unwrap_or(0) + 1 > limit
    {
        return Ok(None);
    }
    if end.is_some_and(|end| now > end) {
        return Ok(None);
    }
    let from = now.max(opts.prev_millis.unwrap_or(0));
    if let Some(cron) = &repeat.cron {
        let start = match &repeat.start_date {
            Some(start) => date_option_millis("repeat.startDate", start)?,
            None => 0,
        };
        let next = next_cron(cron, repeat.tz.as_deref(), from.max(start))?;
        return Ok(next.filter(|next| end.is_none_or(|end| *next <= end)));
    }
    match repeat.every {
        Some(0) => Err(QueueError::InvalidOption {
            field: "repeat.every",
            rule: "must be a positive number of milliseconds".to_owned(),
        }),
        Some(every) => {
            let every = i64::try_from(every).map_err(|_| QueueError::InvalidOption {
                field: "repeat.every",
                rule: "is too large".to_owned(),
            })?;
            Ok(Some(from.div_euclid(every) * every + every))
        }
        None => Err(QueueError::InvalidOption {
            field: "repeat",
            rule: "needs `cron` or `every`".to_owned(),
        }),
    }
}

/// The next iteration of a repeat series, ready to add.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatPlan {
    /// The repeat key (member of the `repeat` zset).
    pub key: String,
    /// Scheduled time (ms) of the iteration (the key's score).
    pub next_millis: i64,
    /// The iteration's job id.
    pub job_id: String,
    /// The iteration's options: the previous ones with Bull's scheduler fields set.
    pub opts: JobOptions,
}

/// Plans the iteration that follows a job carrying `opts` (or the first one, on a producer add),
/// exactly as Bull's `nextRepeatableJob`: `None` when the series is over.
pub fn plan_iteration(name: &str, opts: &JobOptions, now: i64) -> QueueResult<Option<RepeatPlan>> {
    let Some(repeat) = &opts.repeat else {
        return Ok(None);
    };
    // Bull throws "Both .cron and .every options are defined for this repeatable job" when
    // adding (removing such a series is no error: its key is the cron's).
    if repeat.cron.is_some() && repeat.every.is_some() {
        return Err(QueueError::InvalidOption {
            field: "repeat",
            rule: "must have `cron` or `every`, not both".to_owned(),
        });
    }
    let mut repeat = repeat.clone();
    // Bull keeps the custom id of the first add in `repeat.jobId` for the whole series.
    if opts.prev_millis.unwrap_or(0) == 0
        && let Some(job_id) = &opts.job_id
    {
        repeat.job_id = Some(job_id.clone());
    }
    let Some(next) = next_millis(opts, &repeat, now)? else {
        return Ok(None);
    };
    let key = repeat_key(name, &repeat)?;
    let job_id = format!("{}{next}", iteration_id_prefix(name, &repeat, &key));
    repeat.count = Some(repeat.count.unwrap_or(0) + 1);
    repeat.key = Some(key.clone());
    let mut iteration = opts.clone();
    iteration.repeat = Some(repeat);
    iteration.job_id = Some(super::options::JobIdOption::Text(job_id.clone()));
    iteration.delay = Some((next - now).max(0));
    iteration.timestamp = Some(now);
    iteration.prev_millis = Some(next);
    Ok(Some(RepeatPlan {
        key,
        next_millis: next,
        job_id,
        opts: iteration,
    }))
}

fn cron_error(rule: String) -> QueueError {
    QueueError::InvalidOption {
        field: "repeat.cron",
        rule,
    }
}

const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One day-of-week value in cron-parser's numbering (0-7, 0 and 7 = Sunday) or a name.
fn weekday_value(text: &str) -> QueueResult<u32> {
    if let Ok(number) = text.parse::<u32>() {
        return if number <= 7 {
            Ok(number % 7)
        } else {
            Err(cron_error(format!(
                "day of week `{text}` is out of range 0-7"
            )))
        };
    }
    let lower = text.to_ascii_lowercase();
    WEEKDAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(&lower))
        .map(|index| index as u32)
        .ok_or_else(|| cron_error(format!("`{text}` is not a day of the week")))
}

/// Rewrites a day-of-week field from cron-parser's numbering (Sunday = 0 or 7) into a list of
/// names, because the `cron` crate numbers Sunday as 1. `None` means unrestricted.
fn weekday_field(field: &str) -> QueueResult<Option<String>> {
    if field == "*" || field == "?" {
        return Ok(None);
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|step| *step > 0)
                    .ok_or_else(|| cron_error(format!("bad step in `{part}`")))?,
            ),
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (0, 6)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = weekday_value(low)?;
            let high = match weekday_value(high)? {
                0 if high.trim() == "7" => 7,
                value => value,
            };
            (low, high)
        } else {
            let value = weekday_value(range)?;
            // `5/2` means from 5 to the end of the range.
            (value, if part.contains('/') { 6 } else { value })
        };
        if low > high {
            return Err(cron_error(format!("range `{range}` runs backwards")));
        }
        let mut day = low;
        while day <= high {
            days[(day % 7) as usize] = true;
            day += step;
        }
    }
    let names: Vec<&str> = WEEKDAY_NAMES
        .iter()
        .zip(days)
        .filter_map(|(name, on)| on.then_some(*name))
        .collect();
    Ok(Some(names.join(",")))
}

/// Parses a 5- or 6-field expression (seconds first) into `cron` crate schedules. Two schedules
/// come back when both day-of-month and day-of-week are restricted, because cron-parser matches
/// either of them (OR) while the crate requires both.
fn schedules(expression: &str) -> QueueResult<Vec<cron::Schedule>> {
    let mut fields: Vec<&str> = expression.split_whitespace().collect();
    match fields.len() {
        5 => fields.insert(0, "0"),
        6 => {}
        count => {
            return Err(cron_error(format!(
                "must have 5 or 6 fields (seconds first), found {count} in `{expression}`"
            )));
        }
    }
    let day_of_month = if fields[3] == "?" { "*" } else { fields[3] };
    let weekdays = weekday_field(fields[5])?;
    let build = |dom: &str, dow: &str| -> QueueResult<cron::Schedule> {
        let text = format!(
            "{} {} {} {} {} {}",
            fields[0], fields[1], fields[2], dom, fields[4], dow
        );
        cron::Schedule::from_str(&text).map_err(|error| {
            cron_error(format!(
                "`{expression}` is not a valid cron expression: {error}"
            ))
        })
    };
    Ok(match weekdays {
        None => vec![build(day_of_month, "*")?],
        Some(days) if day_of_month == "*" => vec![build("*", &days)?],
        Some(days) => vec![build(day_of_month, "*")?, build("*", &days)?],
    })
}

fn next_in_zone<Z: TimeZone>(schedules: &[cron::Schedule], after: DateTime<Z>) -> Option<i64> {
    schedules
        .iter()
        .filter_map(|schedule| schedule.after(&after).next())
        .map(|next| next.timestamp_millis())
        .min()
}

/// The first cron match strictly after `after_ms` (second granularity), in `tz` (the host's local
/// time zone when absent, as Node's cron-parser does).
pub fn next_cron(expression: &str, tz: Option<&str>, after_ms: i64) -> QueueResult<Option<i64>> {
    let schedules = schedules(expression)?;
    // Matches are whole seconds: start from the second `after_ms` falls in.
    let after_secs = after_ms.div_euclid(1000);
    let after = Utc
        .timestamp_opt(after_secs, 0)
        .single()
        .ok_or_else(|| cron_error(format!("start time {after_ms} is out of range")))?;
    match tz {
        // Like cron-parser in Node: without `tz`, the host's local time zone.
        None => Ok(next_in_zone(
            &schedules,
            after.with_timezone(&chrono::Local),
        )),
        Some(name) => {
            let zone = chrono_tz::Tz::from_str(name).map_err(|_| QueueError::InvalidOption {
                field: "repeat.tz",
                rule: format!("`{name}` is not an IANA time zone"),
            })?;
            Ok(next_in_zone(&schedules, after.with_timezone(&zone)))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cron_and_every_together_are_refused_as_bull_refuses_them() {
        let both = super::RepeatOptions {
            cron: Some("* * * * *".into()),
            every: Some(1000),
            ..super::RepeatOptions::default()
        };
        let opts = super::JobOptions {
            repeat: Some(both.clone()),
            ..super::JobOptions::default()
        };
        let refused = super::plan_iteration("tick", &opts, 0)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not both"), "{refused}");
        // Removing names the series by its key, the cron's, as Bull's removeRepeatable does.
        assert_eq!(
            super::repeat_key("tick", &both).unwrap(),
            "tick::::* * * * *"
        );
    }

    use super::*;

    fn every(ms: u64) -> RepeatOptions {
        RepeatOptions {
            every: Some(ms),
            ..RepeatOptions::default()
        }
    }

    #[test]
    fn every_key_and_iteration_id_match_bull() {
        let key = repeat_key("tick", &every(2000)).unwrap();
        assert_eq!(key, "tick:::2000");
        let id = format!(
            "{}{}",
            iteration_id_prefix("tick", &every(2000), &key),
            1_795_759_784_000i64
        );
        assert_eq!(id, "repeat:b257202d91e81bd5f4fa6156c3bb6bd2:1795759784000");
    }

    #[test]
    fn cron_key_with_custom_id_and_tz() {
        let repeat = RepeatOptions {
            cron: Some("*/3 * * * * *".into()),
            tz: Some("Europe/Berlin".into()),
            job_id: Some(super::super::options::JobIdOption::Text("myid".into())),
            ..RepeatOptions::default()
        };
        assert_eq!(
            repeat_key("cronjob", &repeat).unwrap(),
            "cronjob:myid::Europe/Berlin:*/3 * * * * *"
        );
    }

    #[test]
    fn every_is_aligned_and_strictly_later() {
        let opts = JobOptions::default();
        assert_eq!(next_millis(&opts, &every(2000), 4000).unwrap(), Some(6000));
        assert_eq!(next_millis(&opts, &every(2000), 4001).unwrap(), Some(6000));
    }

    #[test]
    fn cron_five_fields_weekday_numbering_and_or_rule() {
        // 2026-11-30 is a Monday. "0 9 * * 1" = Mondays 09:00 in cron-parser's numbering.
        let monday_8 = Utc
            .with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
            .unwrap()
            .timestamp_millis();
        let next = next_cron("0 9 * * 1", Some("UTC"), monday_8)
            .unwrap()
            .unwrap();
        assert_eq!(next, monday_8 + 3_600_000);
        // Day 1 of the month OR Sundays: the next Sunday (Dec 6) comes after Dec 1.
        let next = next_cron("0 0 1 * 0", Some("UTC"), monday_8)
            .unwrap()
            .unwrap();
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        // Time zones shift the wall clock.
        let next = next_cron("0 0 * * *", Some("Europe/Berlin"), monday_8)
            .unwrap()
            .unwrap();
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert!(next_cron("0 9 * *", None, 0).is_err());
        assert!(next_cron("0 9 * * 1", Some("Mars/Base"), 0).is_err());
    }
}
