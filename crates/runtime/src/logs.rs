//! Plugin text on its way into the host's log, made harmless: control characters are escaped so
//! one plugin line is always exactly one host line, lines are cut to a length, and a per-minute
//! budget of log bytes per (plugin, guild), shared by every instance of the plugin, bounds what a
//! plugin can write into the host's log whatever the number of calls.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What marks a line cut to the length limit.
const CUT_MARK: &str = "...";

/// Whether `c` is escaped in plugin text: every control character (C0, DEL, C1, so `\n`, `\r`,
/// `\t` and `\x1b` too), the Unicode line and paragraph separators (U+2028, U+2029), and the
/// bidirectional controls (U+061C, U+200E, U+200F, U+202A..=U+202E, U+2066..=U+2069), which
/// can make a log line read as something it is not.
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if needs_escape(c) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `text` with every character [`needs_escape`] names written as an escape (`\n`, `\r`, `\t`,
/// `\0`, else `\u{1b}`), cut to at most `max` bytes: a cut never splits a character or an
/// escape and ends with `...`. Returns the line and whether it was cut. Backslashes are kept as
/// they are: the point is that the line cannot break or restyle the host's log, not that it can
/// be decoded back.
///
/// The work done is bounded by `max`, not by the length of `text`.
pub(crate) fn escape_line(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max && !text.chars().any(needs_escape) {
        return (text.to_owned(), false);
    }
    let room_before_mark = max.saturating_sub(CUT_MARK.len());
    let mut out = String::with_capacity(text.len().min(max));
    // Where the line can be cut and still hold the mark: always between two characters' output.
    let mut cut_at = 0;
    for c in text.chars() {
        push_escaped(&mut out, c);
        if out.len() > max {
            out.truncate(cut_at);
            out.push_str(&CUT_MARK[..CUT_MARK.len().min(max)]);
            return (out, true);
        }
        if out.len() <= room_before_mark {
            cut_at = out.len();
        }
    }
    (out, false)
}

/// `text` with every character [`needs_escape`] names escaped, whatever its length.
pub(crate) fn escape(text: &str) -> String {
    escape_line(text, usize::MAX).0
}

/// Which (plugin, guild) a log budget counts for; built once per call, cloned only when a new
/// window is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogBudgetKey {
    plugin: Arc<str>,
    slot: Slot,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    /// Messages of one guild (`None`: messages without a guild).
    Guild(Option<Box<str>>),
    /// Every guild of the plugin that found the table full: they share one window.
    Overflow,
}

impl LogBudgetKey {
    /// The budget of `plugin` in `guild` (`None`: messages without a guild).
    pub fn new(plugin: Arc<str>, guild: Option<&str>) -> Self {
        Self {
            plugin,
            slot: Slot::Guild(guild.map(Box::from)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u64,
}

#[derive(Debug, Default)]
struct Windows {
    by_key: HashMap<LogBudgetKey, Window>,
    /// No window can have expired before this instant: a full table is not scanned again until
    /// then.
    next_purge: Option<Instant>,
}

/// Most (plugin, guild) windows a [`LogBudget`] tracks by default (a few MiB at most).
pub(crate) const DEFAULT_MAX_BUDGET_KEYS: usize = 65_536;

/// A fixed-window budget of log bytes per (plugin, guild), shared by all of a plugin's
/// instances (and its reloaded versions: the key is the plugin's name).
///
/// Memory is bounded: at most `max_keys` windows are kept; when the table is full of windows
/// still running, further guilds of a plugin share one overflow window of the same size (they
/// lose log lines sooner, they never get more).
#[derive(Debug)]
pub struct LogBudget {
    per_window: u64,
    window: Duration,
    max_keys: usize,
    windows: Mutex<Windows>,
}

impl LogBudget {
    /// A budget of `per_window` bytes per (plugin, guild) per `window`.
    pub fn new(per_window: u64, window: Duration) -> Self {
        Self::with_max_keys(per_window, window, DEFAULT_MAX_BUDGET_KEYS)
    }

    /// Same, tracking at most `max_keys` (plugin, guild) windows (plus one overflow window per
    /// plugin).
    pub fn with_max_keys(per_window: u64, window: Duration, max_keys: usize) -> Self {
        Self {
            per_window,
            window,
            max_keys: max_keys.max(1),
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Bytes allowed per (plugin, guild) per window.
    pub fn per_window(&self) -> u64 {
        self.per_window
    }

    /// Takes `bytes` from `key`'s budget at `now`; `false` (and nothing taken) when they do not
    /// fit in what is left of the current window.
    pub fn try_take(&self, key: &LogBudgetKey, bytes: u64, now: Instant) -> bool {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = self.window;
        let per_window = self.per_window;
        let take = |current: &mut Window| {
            if now.saturating_duration_since(current.started) >= window {
                *current = Window {
                    started: now,
                    used: 0,
                };
            }
            match current.used.checked_add(bytes) {
                Some(used) if used <= per_window => {
                    current.used = used;
                    true
                }
                _ => false,
            }
        };
        if let Some(current) = windows.by_key.get_mut(key) {
            return take(current);
        }
        if windows.by_key.len() >= self.max_keys {
            self.purge(&mut windows, now);
        }
        let key = if windows.by_key.len() < self.max_keys {
            key.clone()
        } else {
            LogBudgetKey {
                plugin: key.plugin.clone(),
                slot: Slot::Overflow,
            }
        };
        let current = windows.by_key.entry(key).or_insert(Window {
            started: now,
            used: 0,
        });
        take(current)
    }

    /// Forgets windows that have ended; at most once per window length while the table stays
    /// full of running windows.
    fn purge(&self, windows: &mut Windows, now: Instant) {
        if windows.next_purge.is_some_and(|next| now < next) {
            return;
        }
        let window = self.window;
        windows
            .by_key
            .retain(|_, current| now.saturating_duration_since(current.started) < window);
        windows.next_purge = windows
            .by_key
            .values()
            .map(|current| current.started)
            .min()
            .and_then(|oldest| oldest.checked_add(window));
    }

    /// Windows tracked now (for tests and diagnostics).
    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .by_key
            .len()
    }
}

/// What was kept out of one call's log, summarised once per call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Lines over the per-call cap (including the guest's stdout/stderr beyond it).
    pub(crate) call_cap_lines: u64,
    /// Bytes of those lines, as the plugin wrote them.
    pub(crate) call_cap_bytes: u64,
    /// Lines over the per-minute cap of the (plugin, guild).
    pub(crate) minute_cap_lines: u64,
    /// Bytes of those lines, as the plugin wrote them.
    pub(crate) minute_cap_bytes: u64,
}

impl Dropped {
    /// Lines dropped for either cap.
    pub(crate) fn lines(&self) -> u64 {
        self.call_cap_lines.saturating_add(self.minute_cap_lines)
    }

    /// The one host line that reports the drops: `N log lines (M bytes) dropped: ...`.
    pub(crate) fn summary(&self, call_cap: usize, minute_cap: u64) -> String {
        let mut reasons = Vec::new();
        if self.call_cap_lines > 0 {
            reasons.push(format!(
                "{} over the per-call cap of {call_cap} bytes",
                self.call_cap_lines
            ));
        }
        if self.minute_cap_lines > 0 {
            reasons.push(format!(
                "{} over the per-minute cap of {minute_cap} bytes for this plugin in this guild",
                self.minute_cap_lines
            ));
        }
        format!(
            "{} log lines ({} bytes) dropped: {}",
            self.lines(),
            self.call_cap_bytes.saturating_add(self.minute_cap_bytes),
            reasons.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_is() {
        assert_eq!(
            escape_line("hello, world \\n é", 100),
            ("hello, world \\n é".to_owned(), false)
        );
    }

    #[test]
    fn control_characters_and_separators_are_escaped() {
        let forged = "ok\n2026-01-01T00:00:00Z  INFO guildhost: forged\r\x1b[31mred\t\0\u{7f}\u{85}\u{2028}\u{2029}\u{202e}";
        let escaped = escape(forged);
        assert_eq!(
            escaped,
            "ok\\n2026-01-01T00:00:00Z  INFO guildhost: forged\\r\\u{1b}[31mred\\t\\0\\u{7f}\\u{85}\\u{2028}\\u{2029}\\u{202e}"
        );
        assert!(!escaped.chars().any(needs_escape));
        assert!(!escaped.chars().any(char::is_control));
    }

    #[test]
    fn every_control_character_is_escaped() {
        let all: String = (0..=0x10ffff_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control())
            .collect();
        let escaped = escape(&all);
        assert!(!escaped.chars().any(char::is_control), "{escaped}");
    }

    #[test]
    fn cuts_never_split_a_character_or_an_escape() {
        for max in 0..40 {
            for text in [
                "ééééééééééééééé",
                "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b",
                "a\nb\nc\nd\ne\nf\ng",
            ] {
                let (line, cut) = escape_line(text, max);
                assert!(line.len() <= max, "{max}: {line:?}");
                assert!(!line.chars().any(needs_escape), "{line:?}");
                if cut && max >= CUT_MARK.len() {
                    assert!(line.ends_with(CUT_MARK), "{line:?}");
                    let body = &line[..line.len() - CUT_MARK.len()];
                    // The body is the escape of a prefix of the text: no character and no
                    // escape was split.
                    let chars: Vec<char> = text.chars().collect();
                    assert!(
                        (0..=chars.len())
                            .any(|n| escape(&chars[..n].iter().collect::<String>()) == body),
                        "{max}: {line:?}"
                    );
                } else if !cut {
                    assert_eq!(line, escape(text));
                }
            }
        }
    }

    #[test]
    fn a_huge_line_costs_only_the_limit() {
        let huge = "\n".repeat(10 << 20);
        let (line, cut) = escape_line(&huge, 4096);
        assert!(cut);
        assert!(line.len() <= 4096);
        assert!(line.starts_with("\\n\\n"));
    }

    fn key(plugin: &str, guild: &str) -> LogBudgetKey {
        LogBudgetKey::new(Arc::from(plugin), Some(guild))
    }

    #[test]
    fn the_budget_is_per_plugin_and_guild_and_refills_each_window() {
        let budget = LogBudget::new(100, Duration::from_secs(60));
        let start = Instant::now();
        let a = key("p", "1");
        assert!(budget.try_take(&a, 60, start));
        assert!(budget.try_take(&a, 40, start));
        assert!(!budget.try_take(&a, 1, start), "the window is used up");
        // Another guild, another plugin, and messages without a guild have their own budgets.
        assert!(budget.try_take(&key("p", "2"), 100, start));
        assert!(budget.try_take(&key("q", "1"), 100, start));
        assert!(budget.try_take(&LogBudgetKey::new(Arc::from("p"), None), 100, start));
        // A refused line takes nothing: a smaller one still fits the rest.
        let b = key("r", "1");
        assert!(budget.try_take(&b, 90, start));
        assert!(!budget.try_take(&b, 20, start));
        assert!(budget.try_take(&b, 10, start));
        // The next window starts full again.
        let later = start + Duration::from_secs(60);
        assert!(budget.try_take(&a, 100, later));
        assert!(!budget.try_take(&a, 1, later + Duration::from_secs(59)));
        // A line larger than the whole budget never fits.
        assert!(!budget.try_take(&key("s", "1"), 101, later));
    }

    #[test]
    fn memory_is_bounded_and_overflowing_guilds_share_one_window() {
        let budget = LogBudget::with_max_keys(100, Duration::from_secs(60), 4);
        let start = Instant::now();
        for guild in 0..4 {
            assert!(budget.try_take(&key("p", &guild.to_string()), 10, start));
        }
        assert_eq!(budget.tracked(), 4);
        // The table is full of running windows: guilds 4.. share the plugin's overflow window.
        for guild in 4..1_000 {
            budget.try_take(&key("p", &guild.to_string()), 1, start);
        }
        assert_eq!(budget.tracked(), 5, "four windows and one overflow window");
        assert!(
            !budget.try_take(&key("p", "5000"), 1, start),
            "the overflow window is used up after 100 bytes"
        );
        // Once the windows end, the table is purged and new guilds get windows of their own.
        let later = start + Duration::from_secs(61);
        assert!(budget.try_take(&key("p", "5000"), 100, later));
        assert_eq!(budget.tracked(), 1);
    }

    #[test]
    fn the_summary_names_both_caps() {
        let dropped = Dropped {
            call_cap_lines: 84,
            call_cap_bytes: 84 << 20,
            minute_cap_lines: 2,
            minute_cap_bytes: 10,
        };
        assert_eq!(dropped.lines(), 86);
        let summary = dropped.summary(65536, 262144);
        assert!(
            summary.starts_with(&format!(
                "86 log lines ({} bytes) dropped: ",
                (84 << 20) + 10
            )),
            "{summary}"
        );
        assert!(
            summary.contains("84 over the per-call cap of 65536 bytes"),
            "{summary}"
        );
        assert!(
            summary.contains("2 over the per-minute cap of 262144 bytes"),
            "{summary}"
        );
    }
}
