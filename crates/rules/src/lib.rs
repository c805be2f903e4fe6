//! Discord's rules on names and lengths, in one place for everything that checks them: the
//! protocol (an `INTERACTION_CREATED`'s command name) and plugin manifests (the `[[commands]]` a
//! plugin declares). A name one accepts, the other accepts.
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
    fn descriptions_are_trimmed_then_counted() {
        assert!(command_description("  Warns a member  ").is_ok());
        assert!(command_description("   ").is_err());
        assert!(command_description(&"é".repeat(100)).is_ok());
        assert!(command_description(&"é".repeat(101)).is_err());
    }
}
