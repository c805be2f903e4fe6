//! Keyword patterns with `*` wildcards, turned into regular expressions.
//!
//! `*` stands for any run of word characters (letters, digits, `_`), so `spam*` matches
//! `spammer` and `*scam*` matches `giftscams`. Where a keyword starts or ends with a word
//! character and no `*`, it must start or end at a word boundary: `ass` does not match `class`.
//! Whitespace inside a phrase matches any whitespace.

use std::cell::RefCell;

use regex_lite::{Regex, RegexBuilder};

/// Biggest compiled pattern accepted, in bytes: a guild's word list cannot exhaust the plugin's
/// memory.
const SIZE_LIMIT: usize = 1 << 20;

/// The regular-expression form of one keyword (not anchored, no flags); `None` for a keyword
/// that is empty or only wildcards (it would match everything).
pub fn keyword_pattern(keyword: &str) -> Option<String> {
    let keyword = keyword.trim();
    if keyword.chars().all(|c| c == '*' || c.is_whitespace()) {
        return None;
    }
    let mut pattern = String::new();
    // `\b` and `\w` are ASCII-only in regex-lite, so only ASCII word characters get a boundary.
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if is_word(keyword.chars().next()) {
        pattern.push_str(r"\b");
    }
    let mut in_space = false;
    for c in keyword.chars() {
        if c.is_whitespace() {
            if !in_space {
                pattern.push_str(r"\s+");
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c == '*' {
            pattern.push_str(r"\w*");
        } else {
            pattern.push_str(&regex_lite::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    if is_word(keyword.chars().last()) {
        pattern.push_str(r"\b");
    }
    Some(pattern)
}

/// One case-insensitive regex matching any of `keywords`; `None` when there is nothing to match.
pub fn any_keyword(keywords: &[String]) -> Result<Option<Regex>, regex_lite::Error> {
    let alternatives: Vec<String> = keywords.iter().filter_map(|k| keyword_pattern(k)).collect();
    if alternatives.is_empty() {
        return Ok(None);
    }
    build(&format!("(?:{})", alternatives.join("|"))).map(Some)
}

/// One case-insensitive regex matching texts that are *entirely* one of `allowed`.
pub fn allow_list(allowed: &[String]) -> Result<Option<Regex>, regex_lite::Error> {
    let alternatives: Vec<String> = allowed
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.split('*')
                .map(regex_lite::escape)
                .collect::<Vec<_>>()
                .join(r"\w*")
        })
        .collect();
    if alternatives.is_empty() {
        return Ok(None);
    }
    build(&format!("^(?:{})$", alternatives.join("|"))).map(Some)
}

/// Compiled patterns kept by a warm instance between messages, most recent last.
const CACHE_SIZE: usize = 64;

thread_local! {
    static COMPILED: RefCell<Vec<(String, bool, Regex)>> = const { RefCell::new(Vec::new()) };
}

/// Compiles `pattern` case-insensitively within the size limit.
fn build(pattern: &str) -> Result<Regex, regex_lite::Error> {
    cached(pattern, true)
}

/// Compiles a guild's own regular expression (its flags are its own) within the size limit.
pub fn user_regex(pattern: &str) -> Result<Regex, regex_lite::Error> {
    cached(pattern, false)
}

/// Compiles `pattern`, or reuses it: an instance serves many messages of the same guilds, and
/// compiling their rules on every message would cost more than matching them.
fn cached(pattern: &str, case_insensitive: bool) -> Result<Regex, regex_lite::Error> {
    let hit = COMPILED.with_borrow(|cache| {
        cache
            .iter()
            .find(|(p, ci, _)| p == pattern && *ci == case_insensitive)
            .map(|(_, _, re)| re.clone())
    });
    if let Some(re) = hit {
        return Ok(re);
    }
    let re = RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(SIZE_LIMIT)
        .build()?;
    COMPILED.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((pattern.to_owned(), case_insensitive, re.clone()));
    });
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(keyword: &str, text: &str) -> bool {
        any_keyword(&[keyword.to_owned()])
            .unwrap()
            .is_some_and(|re| re.is_match(text))
    }

    #[test]
    fn plain_keywords_match_whole_words_ignoring_case() {
        assert!(matches("ass", "what an ASS."));
        assert!(!matches("ass", "first class"));
        assert!(matches("free nitro", "get FREE   nitro here"));
        assert!(!matches("free nitro", "freenitro"));
    }

    #[test]
    fn wildcards_match_runs_of_word_characters() {
        assert!(matches("spam*", "spammers everywhere"));
        assert!(!matches("spam*", "antispam"));
        assert!(matches("*scam*", "giftscams!"));
        assert!(matches("b*d", "bad"));
        assert!(matches("c++", "I like C++ a lot"));
    }

    #[test]
    fn empty_and_all_wildcard_keywords_are_ignored() {
        assert!(
            any_keyword(&["".into(), "**".into(), " ".into()])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn allow_lists_match_whole_texts() {
        let allow = allow_list(&["class*".into(), "pass".into()])
            .unwrap()
            .unwrap();
        assert!(allow.is_match("Classes"));
        assert!(allow.is_match("pass"));
        assert!(!allow.is_match("passes"));
    }
}
