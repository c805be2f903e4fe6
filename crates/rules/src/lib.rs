//! Rules on names, in one place for everything that checks them: Discord's rules on names and
//! lengths, which the protocol (an `INTERACTION_CREATED`'s command name) and plugin manifests
//! (the `[[commands]]` a plugin declares) both apply, so a name one accepts, the other accepts;
//! and [`nearest`], the valid name a mistyped one most likely meant, for error messages.
//!
//! No dependencies: the protocol and the plugin runtime both use it and know nothing of each
//! other.
//!
//! ```
//! use guildhost_rules::command_name;
//!
//! assert!(command_name("warn").is_ok());
//! assert!(command_name("größe").is_ok());
//! assert_eq!(
//!     command_name("Warn").unwrap_err(),
//!     "must be lowercase: 'W' has a lowercase form"
//! );
//! ```

use std::ops::RangeInclusive;

/// How many characters (not bytes) an application command's name has: 1 to 32.
pub const COMMAND_NAME_CHARS: RangeInclusive<usize> = 1..=32;

/// How many characters an application command's description has: 1 to 100.
pub const COMMAND_DESCRIPTION_CHARS: RangeInclusive<usize> = 1..=100;

/// Checks a chat-input command's name as Discord does: 1 to 32 characters, each a letter or
/// digit of any script, `-`, `_` or `'`, and lowercase wherever the letter has a lowercase form.
/// The error is the rule broken, to follow the name of the field it was read from.
pub fn command_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if !COMMAND_NAME_CHARS.contains(&length) {
        return Err(format!(
            "must be {}..={} characters long, got {length}",
            COMMAND_NAME_CHARS.start(),
            COMMAND_NAME_CHARS.end()
        ));
    }
    for c in name.chars() {
        if !(c.is_alphanumeric() || matches!(c, '-' | '_' | '\'')) {
            return Err(format!(
                "must hold only letters, digits, '-', '_' and '\\'', got {c:?}"
            ));
        }
        if !c.to_lowercase().eq([c]) {
            return Err(format!("must be lowercase: {c:?} has a lowercase form"));
        }
    }
    Ok(())
}

/// Checks a command's description: 1 to 100 characters once trimmed.
pub fn command_description(description: &str) -> Result<(), String> {
    let length = description.trim().chars().count();
    if COMMAND_DESCRIPTION_CHARS.contains(&length) {
        Ok(())
    } else {
        Err(format!(
            "must be {}..={} characters long, got {length}",
            COMMAND_DESCRIPTION_CHARS.start(),
            COMMAND_DESCRIPTION_CHARS.end()
        ))
    }
}

/// The candidate `name` most likely meant: equal ignoring ASCII case and `-` for `_`, or within
/// two edits of it (the closest wins; `None` when nothing is that close, or `name` is itself a
/// candidate). For "did you mean …?" in errors about a mistyped queue or message type.
///
/// ```
/// let queues = ["bot:music", "bot:moderation", "bot:commands"];
/// assert_eq!(guildhost_rules::nearest("bot:musik", queues), Some("bot:music"));
/// assert_eq!(guildhost_rules::nearest("payments", queues), None);
/// ```
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normal = |text: &str| text.to_lowercase().replace('-', "_");
    let wanted = normal(name);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            return None;
        }
        let distance = edit_distance(&wanted, &normal(candidate));
        if distance <= 2 && best.is_none_or(|(closest, _)| distance < closest) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_characters_not_bytes() {
        let thirty_two = "ä".repeat(32);
        assert!(command_name(&thirty_two).is_ok(), "64 bytes, 32 characters");
        assert!(command_name(&"a".repeat(33)).is_err());
        assert!(command_name("").is_err());
    }

    #[test]
    fn names_are_lowercase_words() {
        for good in ["warn", "ban-user", "set_volume", "don't", "日本", "x1"] {
            assert_eq!(command_name(good), Ok(()), "{good}");
        }
        for bad in ["Warn", "ban user", "a/b", "emoji😀", "ÄB"] {
            assert!(command_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_nearest_name_forgives_case_dashes_and_two_edits() {
        let types = ["MESSAGE_CREATED", "MEMBER_JOINED", "BAN_USER"];
        assert_eq!(nearest("MESSAGE_CREATD", types), Some("MESSAGE_CREATED"));
        assert_eq!(nearest("member-joined", types), Some("MEMBER_JOINED"));
        assert_eq!(nearest("BAN_USERS", types), Some("BAN_USER"));
        assert_eq!(nearest("BAN_USER", types), None, "a candidate itself");
        assert_eq!(nearest("ANALYTICS_PAGE_VIEW", types), None, "nothing close");
    }

    #[test]
    fn descriptions_are_trimmed_then_counted() {
        assert!(command_description("  Warns a member  ").is_ok());
        assert!(command_description("   ").is_err());
        assert!(command_description(&"é".repeat(100)).is_ok());
        assert!(command_description(&"é".repeat(101)).is_err());
    }
}
