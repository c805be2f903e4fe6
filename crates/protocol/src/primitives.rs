//! The scalar types the protocol shares with JavaScript: dates, Discord ids and JS numbers,
//! each read the way Node writes it and written back the same way.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Earliest instant a [`Timestamp`] holds: 0000-01-01T00:00:00.000Z, in epoch milliseconds.
pub(crate) const TIMESTAMP_MIN_MILLIS: i64 = -62_167_219_200_000;
/// Latest instant a [`Timestamp`] holds: 9999-12-31T23:59:59.999Z, in epoch milliseconds.
///
/// Beyond four-digit years JavaScript writes `+010000-…`, a form few parsers accept; the protocol
/// has no use for such dates, so they are rejected instead of being written in a second format.
pub(crate) const TIMESTAMP_MAX_MILLIS: i64 = 253_402_300_799_999;

/// An instant with JavaScript `Date` precision (milliseconds).
///
/// Reads what Node's `JSON.stringify(new Date())` writes (`2026-11-30T17:33:03.123Z`; any RFC 3339
/// offset is accepted and converted to UTC) and epoch milliseconds (`1732987983123`). Writes
/// ISO-8601 in UTC with exactly three fractional digits and `Z`, as `Date.prototype.toISOString`
/// does. Finer precision is truncated on input, so decoding what was encoded gives the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch, if it lies in years 0000–9999.
    pub fn from_millis(millis: i64) -> Option<Self> {
        if !(TIMESTAMP_MIN_MILLIS..=TIMESTAMP_MAX_MILLIS).contains(&millis) {
            return None;
        }
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    /// The current instant, truncated to milliseconds.
    pub fn now() -> Self {
        Self::truncate(Utc::now())
    }

    /// Milliseconds since the Unix epoch, as JavaScript's `Date.prototype.getTime` returns them.
    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The instant as a chrono date-time in UTC.
    pub fn to_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// `date_time` truncated to milliseconds, if it lies in years 0000–9999.
    pub fn from_datetime(date_time: DateTime<Utc>) -> Option<Self> {
        Self::from_millis(date_time.timestamp_millis())
    }

    fn truncate(date_time: DateTime<Utc>) -> Self {
        // A value `Utc::now()` or a parsed date produced always lies inside chrono's range, so
        // re-creating it from its own milliseconds cannot fail; keep the original if it somehow does.
        Utc.timestamp_millis_opt(date_time.timestamp_millis())
            .single()
            .map_or(Self(date_time), Self)
    }

    fn parse_iso(text: &str) -> Result<Self, String> {
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| {
            format!("must be an ISO-8601 date such as \"2026-01-31T12:00:00.000Z\" or epoch milliseconds, got {text:?}")
        })?;
        Self::from_datetime(parsed.with_timezone(&Utc))
            .ok_or_else(|| format!("must lie in the years 0000 to 9999, got {text:?}"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl FromStr for Timestamp {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_iso(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl TimestampVisitor {
    fn from_millis<E: de::Error>(millis: i64) -> Result<Timestamp, E> {
        Timestamp::from_millis(millis).ok_or_else(|| {
            E::custom(format!(
                "epoch milliseconds must lie in the years 0000 to 9999, got {millis}"
            ))
        })
    }
}

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ISO-8601 date string or epoch milliseconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Timestamp::parse_iso(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Timestamp, E> {
        Self::from_millis(millis)
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Timestamp, E> {
        let millis = i64::try_from(millis).map_err(|_| {
            E::custom(format!(
                "epoch milliseconds must lie in the years 0000 to 9999, got {millis}"
            ))
        })?;
        Self::from_millis(millis)
    }

    fn visit_f64<E: de::Error>(self, millis: f64) -> Result<Timestamp, E> {
        // JavaScript numbers are doubles: `Date.now()` is integral, but a computed value may carry
        // a fraction. Both are milliseconds; the fraction is below Date precision and is dropped.
        if !millis.is_finite() || millis.abs() > TIMESTAMP_MAX_MILLIS as f64 * 2.0 {
            return Err(E::custom(format!(
                "epoch milliseconds must lie in the years 0000 to 9999, got {millis}"
            )));
        }
        Self::from_millis(millis.trunc() as i64)
    }
}

/// A Discord id: an unsigned 64-bit integer carried as a decimal string.
///
/// JavaScript numbers lose precision above 2^53, so Discord ids always travel as strings; a
/// JSON number in an id field is rejected. The canonical form has 1–20 digits and no leading
/// zero (Discord never writes one), which makes decoding and encoding exact inverses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snowflake(u64);

impl Snowflake {
    /// The id with numeric value `id`.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The numeric value of the id.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The instant Discord encoded in the id (milliseconds since 2015-01-01T00:00:00Z in the
    /// top 42 bits), if it is a real Discord id.
    pub fn created_at(self) -> Option<Timestamp> {
        const DISCORD_EPOCH_MILLIS: i64 = 1_420_070_400_000;
        let since_epoch = i64::try_from(self.0 >> 22).ok()?;
        Timestamp::from_millis(DISCORD_EPOCH_MILLIS.checked_add(since_epoch)?)
    }
}

impl From<u64> for Snowflake {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Snowflake {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let canonical = !text.is_empty()
            && text.len() <= 20
            && text.bytes().all(|byte| byte.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        let parsed = if canonical {
            text.parse::<u64>().ok()
        } else {
            None
        };
        parsed.map(Self).ok_or_else(|| {
            format!(
                "must be a snowflake (a string of 1 to 20 decimal digits, no leading zero, at most {}), got {text:?}",
                u64::MAX
            )
        })
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SnowflakeVisitor)
    }
}

struct SnowflakeVisitor;

impl Visitor<'_> for SnowflakeVisitor {
    type Value = Snowflake;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snowflake: a decimal string such as \"123456789012345678\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Snowflake, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, id: u64) -> Result<Snowflake, E> {
        Err(E::custom(format!(
            "must be a snowflake string, got the number {id} (JavaScript numbers cannot hold every id)"
        )))
    }

    fn visit_i64<E: de::Error>(self, id: i64) -> Result<Snowflake, E> {
        Err(E::custom(format!(
            "must be a snowflake string, got the number {id}"
        )))
    }

    fn visit_f64<E: de::Error>(self, id: f64) -> Result<Snowflake, E> {
        Err(E::custom(format!(
            "must be a snowflake string, got the number {id}"
        )))
    }
}

/// A JavaScript number: a finite double, written as JavaScript writes it.
///
/// `JSON.stringify(3600)` writes `3600`, while serde_json writes the double `3600.0`; this type
/// writes integral values without a fraction, so a value read from Node goes back unchanged.
/// Used for quantities the seed leaves open to fractions (durations, playback positions).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct JsNumber(f64);

/// Largest integer every double represents exactly: JavaScript's `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

impl JsNumber {
    /// The number `value`, if it is finite (JSON has no NaN or infinity).
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }

    /// The number as a double.
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl From<u32> for JsNumber {
    fn from(value: u32) -> Self {
        Self(f64::from(value))
    }
}

impl fmt::Display for JsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() <= MAX_SAFE_INTEGER {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for JsNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() <= MAX_SAFE_INTEGER {
            // Exact: the value is an integer within ±2^53.
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for JsNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::new(value).ok_or_else(|| de::Error::custom("must be a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn timestamp_reads_node_iso_and_epoch_millis() {
        let iso: Timestamp = serde_json::from_value(json!("2026-11-30T17:33:03.123Z")).unwrap();
        let millis: Timestamp = serde_json::from_value(json!(iso.as_millis())).unwrap();
        assert_eq!(iso, millis);
        assert_eq!(
            serde_json::to_value(iso).unwrap(),
            json!("2026-11-30T17:33:03.123Z")
        );
    }

    #[test]
    fn timestamp_writes_milliseconds_and_z_even_for_whole_seconds_and_offsets() {
        let whole: Timestamp = serde_json::from_value(json!("2026-01-01T10:00:00+02:00")).unwrap();
        assert_eq!(whole.to_string(), "2026-01-01T08:00:00.000Z");
        let fine: Timestamp = serde_json::from_value(json!("2026-01-01T00:00:00.123987Z")).unwrap();
        assert_eq!(fine.to_string(), "2026-01-01T00:00:00.123Z");
    }

    #[test]
    fn timestamp_rejects_garbage_and_out_of_range() {
        for bad in [
            json!("yesterday"),
            json!(""),
            json!(true),
            json!(1e300),
            json!(i64::MAX),
        ] {
            assert!(
                serde_json::from_value::<Timestamp>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(Timestamp::from_millis(TIMESTAMP_MAX_MILLIS + 1).is_none());
        assert!(Timestamp::from_millis(TIMESTAMP_MIN_MILLIS).is_some());
    }

    #[test]
    fn snowflake_is_a_canonical_decimal_string() {
        let id: Snowflake = serde_json::from_value(json!("18446744073709551615")).unwrap();
        assert_eq!(id.get(), u64::MAX);
        assert_eq!(
            serde_json::to_value(id).unwrap(),
            json!("18446744073709551615")
        );
        for bad in [
            json!("18446744073709551616"),
            json!(""),
            json!("012"),
            json!("12a"),
            json!(" 12"),
            json!(123),
            json!("-1"),
        ] {
            assert!(
                serde_json::from_value::<Snowflake>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn snowflake_knows_its_creation_time() {
        // The id from Discord's documentation: 175928847299117063 was made 2016-04-30T11:18:25.796Z.
        let created = Snowflake::new(175_928_847_299_117_063)
            .created_at()
            .unwrap();
        assert_eq!(created.to_string(), "2016-04-30T11:18:25.796Z");
    }

    #[test]
    fn js_number_writes_integers_without_fraction() {
        assert_eq!(
            serde_json::to_string(&JsNumber::from(3600)).unwrap(),
            "3600"
        );
        assert_eq!(
            serde_json::to_string(&JsNumber::new(2.5).unwrap()).unwrap(),
            "2.5"
        );
        assert!(JsNumber::new(f64::NAN).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(7),
            ..ProptestConfig::default()
        })]

        #[test]
        fn timestamps_round_trip(millis in TIMESTAMP_MIN_MILLIS..=TIMESTAMP_MAX_MILLIS) {
            let timestamp = Timestamp::from_millis(millis).unwrap();
            let encoded = serde_json::to_value(timestamp).unwrap();
            let decoded: Timestamp = serde_json::from_value(encoded).unwrap();
            prop_assert_eq!(decoded, timestamp);
            prop_assert_eq!(decoded.as_millis(), millis);
        }

        #[test]
        fn snowflakes_round_trip(id in any::<u64>()) {
            let encoded = serde_json::to_value(Snowflake::new(id)).unwrap();
            prop_assert_eq!(serde_json::from_value::<Snowflake>(encoded).unwrap().get(), id);
        }

        #[test]
        fn js_numbers_round_trip(value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let number = JsNumber::new(value).unwrap();
            let text = serde_json::to_string(&number).unwrap();
            let decoded: JsNumber = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(decoded.get(), value);
        }
    }
}
