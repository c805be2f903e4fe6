//! The one error type of the protocol: which field broke which rule.

use std::fmt;

/// Path of the document root, used when the whole input is at fault (not JSON, not an object).
pub(crate) const ROOT_PATH: &str = "$";

/// A message that could not be decoded or that breaks a protocol rule.
///
/// `path` names the offending field the way a JavaScript developer would write it
/// (`data.embeds[2].fields[30].value`, or `$` for the whole document) and `rule` says
/// what is wrong with it, so `Display` reads like `data.deleteMessageDays: must be within 0..=7, got 9`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct ProtocolError {
    /// Where in the document the problem is.
    pub path: String,
    /// What rule the value there breaks.
    pub rule: String,
}

impl ProtocolError {
    /// An error at `path` breaking `rule`.
    pub fn new(path: impl Into<String>, rule: impl fmt::Display) -> Self {
        Self {
            path: path.into(),
            rule: rule.to_string(),
        }
    }

    /// Turns a serde error raised while deserializing the value found at `base` into a
    /// `ProtocolError` whose path continues `base` with the path serde reports.
    ///
    /// serde reports a missing field at the enclosing object; the path is extended to name the
    /// field itself so that every error points at the field to fix.
    pub(crate) fn from_serde(
        base: &str,
        error: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let inner_path = error.path().to_string();
        let message = error.inner().to_string();
        let mut path = join_path(base, &inner_path);
        if let Some(field) = missing_field_name(&message) {
            path = join_path(&path, field);
            return Self::new(path, "is required");
        }
        Self::new(path, readable_expectation(&message))
    }
}

/// serde names the Rust type it expected (`expected struct SetVolume`); a JSON author needs to
/// know that an object was expected.
fn readable_expectation(message: &str) -> String {
    match message.find(", expected struct ") {
        Some(start) => format!("{}, expected an object", &message[..start]),
        None => message.to_owned(),
    }
}

/// Extracts `x` from serde's "missing field `x`" message.
fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

/// Appends a serde_path_to_error path (`.` for "here", `a.b[3]`, `[0].c`) to `base`.
pub(crate) fn join_path(base: &str, tail: &str) -> String {
    if tail.is_empty() || tail == "." {
        return base.to_owned();
    }
    if base.is_empty() || base == ROOT_PATH {
        return tail.to_owned();
    }
    if tail.starts_with('[') {
        format!("{base}{tail}")
    } else {
        format!("{base}.{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_path_colon_rule() {
        let error = ProtocolError::new("data.deleteMessageDays", "must be within 0..=7, got 9");
        assert_eq!(
            error.to_string(),
            "data.deleteMessageDays: must be within 0..=7, got 9"
        );
    }

    #[test]
    fn paths_join_like_javascript_accessors() {
        assert_eq!(join_path("data", "embeds[2].title"), "data.embeds[2].title");
        assert_eq!(join_path("data.embeds", "[2]"), "data.embeds[2]");
        assert_eq!(join_path("data", "."), "data");
        assert_eq!(join_path(ROOT_PATH, "id"), "id");
    }

    #[test]
    fn missing_field_points_at_the_field() {
        let value = serde_json::json!({});
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            #[serde(rename = "channelId")]
            channel_id: String,
        }
        let Err(error) = serde_path_to_error::deserialize::<_, Needs>(value) else {
            panic!("an empty object must not decode");
        };
        let error = ProtocolError::from_serde("data", error);
        assert_eq!(error.path, "data.channelId");
        assert_eq!(error.rule, "is required");
    }
}
