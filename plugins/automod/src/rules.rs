//! The content rules: each looks at one message and says whether it fires, and on what.

use guildhost_plugin::types::Mentions;
use guildhost_plugin::{Context, error};

use crate::config::{
    AutomodConfig, CapsRule, Consequence, InviteRule, KeywordRule, MentionRule, PatternEntry,
    RegexRule,
};
use crate::wildcard;

/// A rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The rule's name as AUTOMOD_TRIGGERED reports it, e.g. `keywords` or `regex:phone`.
    pub rule: String,
    /// What it does about it.
    pub consequence: Consequence,
    /// What matched, for the logs and the audit reason.
    pub detail: String,
}

/// The content rules of `config` that `content` breaks (the message-rate rule is separate: it
/// needs the store).
pub fn content_hits(
    ctx: &Context<'_>,
    config: &AutomodConfig,
    content: &str,
    mentions: Option<&Mentions>,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    if config.keywords.enabled {
        hits.extend(keywords(ctx, &config.keywords, content));
    }
    if config.regex.enabled {
        hits.extend(regexes(ctx, &config.regex, content));
    }
    if config.invites.enabled {
        hits.extend(invites(&config.invites, content));
    }
    if config.mentions.enabled
        && let Some(mentions) = mentions
    {
        hits.extend(mention_spam(&config.mentions, mentions));
    }
    if config.caps.enabled {
        hits.extend(caps(&config.caps, content));
    }
    hits
}

/// The first match of `re` in `content` that the allow list does not excuse.
fn first_unexcused(
    re: &regex_lite::Regex,
    allow: Option<&regex_lite::Regex>,
    content: &str,
) -> Option<String> {
    re.find_iter(content)
        .map(|m| m.as_str().trim())
        .find(|text| !allow.is_some_and(|allow| allow.is_match(text)))
        .map(str::to_owned)
}

fn compile_allow(ctx: &Context<'_>, rule: &str, allow: &[String]) -> Option<regex_lite::Regex> {
    match wildcard::allow_list(allow) {
        Ok(allow) => allow,
        Err(e) => {
            error!(
                ctx,
                "automod configuration `{rule}.allow` cannot be compiled, ignored: {e}"
            );
            None
        }
    }
}

/// Banned words and phrases.
pub fn keywords(ctx: &Context<'_>, rule: &KeywordRule, content: &str) -> Option<Hit> {
    let re = match wildcard::any_keyword(&rule.words) {
        Ok(re) => re?,
        Err(e) => {
            error!(
                ctx,
                "automod configuration `keywords.words` cannot be compiled, rule skipped: {e}"
            );
            return None;
        }
    };
    let allow = compile_allow(ctx, "keywords", &rule.allow);
    first_unexcused(&re, allow.as_ref(), content).map(|word| Hit {
        rule: String::from("keywords"),
        consequence: rule.consequence(),
        detail: format!("banned word `{word}`"),
    })
}

/// The guild's regular expressions; the first that matches fires.
pub fn regexes(ctx: &Context<'_>, rule: &RegexRule, content: &str) -> Option<Hit> {
    let allow = compile_allow(ctx, "regex", &rule.allow);
    for (index, entry) in rule.patterns.iter().enumerate() {
        let (name, pattern) = match entry {
            PatternEntry::Plain(pattern) => (String::from("regex"), pattern),
            PatternEntry::Named { name, pattern } => (format!("regex:{name}"), pattern),
        };
        let re = match wildcard::user_regex(pattern) {
            Ok(re) => re,
            Err(e) => {
                error!(
                    ctx,
                    "automod configuration `regex.patterns[{index}]` cannot be compiled, skipped: {e}"
                );
                continue;
            }
        };
        if let Some(text) = first_unexcused(&re, allow.as_ref(), content) {
            return Some(Hit {
                rule: name,
                consequence: rule.consequence(),
                detail: format!("matched `{text}`"),
            });
        }
    }
    None
}

/// Links to other Discord servers.
pub fn invites(rule: &InviteRule, content: &str) -> Option<Hit> {
    // A fixed, valid pattern: compiling it cannot fail.
    let re = wildcard::user_regex(
        r"(?i)(?:discord(?:app)?\.com/invite|discord\.(?:gg|io|me|li)|dsc\.gg)\s*/\s*([a-z0-9-]+)",
    )
    .ok()?;
    re.captures_iter(content)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
        .find(|code| !rule.allow.iter().any(|ok| ok.eq_ignore_ascii_case(code)))
        .map(|code| Hit {
            rule: String::from("invites"),
            consequence: rule.consequence(),
            detail: format!("invite `{code}`"),
        })
}

/// Too many mentions.
pub fn mention_spam(rule: &MentionRule, mentions: &Mentions) -> Option<Hit> {
    let count = mentions.users.len() + mentions.roles.len() + usize::from(mentions.everyone);
    (count > rule.max as usize).then(|| Hit {
        rule: String::from("mentions"),
        consequence: rule.consequence(),
        detail: format!("{count} mentions (at most {})", rule.max),
    })
}

/// Shouting.
pub fn caps(rule: &CapsRule, content: &str) -> Option<Hit> {
    let letters = content.chars().filter(|c| c.is_alphabetic()).count();
    let capitals = content.chars().filter(|c| c.is_uppercase()).count();
    if letters == 0 || letters < rule.min_length as usize {
        return None;
    }
    let ratio = capitals as f64 / letters as f64;
    (ratio >= rule.ratio).then(|| Hit {
        rule: String::from("caps"),
        consequence: rule.consequence(),
        detail: format!("{:.0}% capitals", ratio * 100.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Action;
    use guildhost_plugin::testing::TestHost;

    fn mentions(users: usize, roles: usize, everyone: bool) -> Mentions {
        Mentions {
            users: (0..users).map(|i| i.to_string()).collect(),
            roles: (0..roles).map(|i| i.to_string()).collect(),
            everyone,
        }
    }

    #[test]
    fn keywords_honour_the_allow_list() {
        let host = TestHost::new();
        let rule = KeywordRule {
            words: vec!["*ass*".into()],
            allow: vec!["class*".into(), "pass".into()],
            ..KeywordRule::default()
        };
        assert_eq!(keywords(&host.context(), &rule, "first class pass"), None);
        let hit = keywords(&host.context(), &rule, "first class, you ass").unwrap();
        assert_eq!(hit.detail, "banned word `ass`");
        assert_eq!(hit.consequence.action, Action::Delete);
    }

    #[test]
    fn regexes_report_their_name_and_skip_invalid_patterns() {
        let host = TestHost::new();
        let rule = RegexRule {
            patterns: vec![
                PatternEntry::Plain("(unclosed".into()),
                PatternEntry::Named {
                    name: "phone".into(),
                    pattern: r"\d{3}-\d{4}".into(),
                },
            ],
            ..RegexRule::default()
        };
        let hit = regexes(&host.context(), &rule, "call 555-1234").unwrap();
        assert_eq!(hit.rule, "regex:phone");
        assert!(
            host.logs()
                .iter()
                .any(|l| l.message.contains("regex.patterns[0]"))
        );
        assert_eq!(regexes(&host.context(), &rule, "call me"), None);
    }

    #[test]
    fn invites_to_other_servers_fire() {
        let rule = InviteRule {
            allow: vec!["OurServer".into()],
            ..InviteRule::default()
        };
        assert!(invites(&rule, "join https://discord.gg/abc123 now").is_some());
        assert!(invites(&rule, "discordapp.com/invite/xyz").is_some());
        assert_eq!(invites(&rule, "our place: discord.gg/ourserver"), None);
        assert_eq!(invites(&rule, "I like discord"), None);
    }

    #[test]
    fn mentions_count_users_roles_and_everyone() {
        let rule = MentionRule::default();
        assert_eq!(mention_spam(&rule, &mentions(3, 2, false)), None);
        assert!(mention_spam(&rule, &mentions(3, 2, true)).is_some());
        assert!(mention_spam(&rule, &mentions(6, 0, false)).is_some());
    }

    #[test]
    fn caps_needs_enough_letters_and_a_high_share() {
        let rule = CapsRule::default();
        assert!(caps(&rule, "THIS IS SO LOUD!!!").is_some());
        assert_eq!(caps(&rule, "OK FINE"), None, "too short");
        assert_eq!(caps(&rule, "This Is Normal Title Case"), None);
        assert_eq!(caps(&rule, "12345678901234 !!!"), None, "no letters");
    }
}
