//! Timestamp parsing: each source lists the formats it may use, tried in order; values without an offset
//! take the project's default time zone. Everything becomes UTC seconds.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

/// One accepted timestamp format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampFormat {
    /// ISO-8601 / RFC 3339, with or without an offset (`2024-01-15T08:30:00+08:00`, `…Z`, `2024-01-15 08:30`).
    Iso8601,
    /// Seconds since 1970-01-01 UTC.
    UnixSeconds,
    /// Milliseconds since 1970-01-01 UTC.
    UnixMillis,
    /// A strftime pattern (`%Y/%m/%d %H:%M`, `%d-%m-%Y`); with `%z` it reads the offset from the value.
    Pattern {
        /// The pattern text.
        pattern: String,
        /// Whether the pattern carries an offset.
        has_offset: bool,
        /// Whether the pattern carries a time of day (else the value is a date, read as midnight).
        has_time: bool,
    },
}

impl TimestampFormat {
    /// Parses a format name or strftime pattern; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "iso8601" | "iso-8601" | "rfc3339" => return Ok(Self::Iso8601),
            "unix_seconds" | "unix" | "epoch" => return Ok(Self::UnixSeconds),
            "unix_millis" | "epoch_millis" => return Ok(Self::UnixMillis),
            "date" => return Self::parse("%Y-%m-%d"),
            _ => {}
        }
        if !text.contains('%') {
            return Err(format!(
                "{text:?} is not a known format (iso8601, unix_seconds, unix_millis, date) nor a strftime pattern"
            ));
        }
        let items: Vec<Item<'_>> = StrftimeItems::new(text).collect();
        if items.iter().any(|item| matches!(item, Item::Error)) {
            return Err(format!("{text:?} is not a valid strftime pattern"));
        }
        let has = |spec: &str| text.contains(spec);
        Ok(Self::Pattern {
            pattern: text.to_owned(),
            has_offset: has("%z") || has("%:z") || has("%#z"),
            has_time: has("%H") || has("%I") || has("%T") || has("%R") || has("%M") || has("%s"),
        })
    }

    /// Parses `value` to UTC seconds, taking `tz` for values without an offset.
    pub fn read(&self, value: &str, tz: &FixedOffset) -> Option<i64> {
        let v = value.trim();
        match self {
            Self::Iso8601 => read_iso8601(v, tz),
            Self::UnixSeconds => v.parse::<f64>().ok().filter(|s| s.is_finite()).map(|s| s.floor() as i64),
            Self::UnixMillis => v.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
            Self::Pattern { pattern, has_offset, has_time } => {
                if *has_offset {
                    DateTime::parse_from_str(v, pattern).ok().map(|t| t.timestamp())
                } else if *has_time {
                    NaiveDateTime::parse_from_str(v, pattern).ok().and_then(|t| local(tz, t))
                } else {
                    NaiveDate::parse_from_str(v, pattern).ok().and_then(|d| local(tz, d.and_hms_opt(0, 0, 0)?))
                }
            }
        }
    }
}

fn local(tz: &FixedOffset, naive: NaiveDateTime) -> Option<i64> {
    tz.from_local_datetime(&naive).single().map(|t| t.timestamp())
}

fn read_iso8601(v: &str, tz: &FixedOffset) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp());
    }
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%.f%z"]
    {
        if let Ok(t) = DateTime::parse_from_str(v, pattern) {
            return Some(t.timestamp());
        }
    }
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, pattern) {
            return local(tz, t);
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| local(tz, d.and_hms_opt(0, 0, 0)?))
}

/// A source's list of formats, tried in order.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    formats: Vec<TimestampFormat>,
    tz: FixedOffset,
}

impl TimestampParser {
    /// Builds a parser from config format names (validated at config load); an empty list means ISO-8601.
    pub fn new(formats: &[String], tz: FixedOffset) -> Result<Self, String> {
        let mut parsed = formats.iter().map(|f| TimestampFormat::parse(f)).collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            parsed.push(TimestampFormat::Iso8601);
        }
        Ok(Self { formats: parsed, tz })
    }

    /// UTC seconds of the first format that reads the value, or `None` (an impossible or unknown date).
    pub fn parse(&self, value: &str) -> Option<i64> {
        self.formats.iter().find_map(|f| f.read(value, &self.tz))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    #[test]
    fn iso8601_reads_offsets_and_utc_alike() {
        let p = TimestampParser::new(&["iso8601".into()], cst()).unwrap();
        let expected = utc("2024-01-15T00:30:00Z");
        assert_eq!(p.parse("2024-01-15T08:30:00+08:00"), Some(expected));
        assert_eq!(p.parse("2024-01-15T00:30:00Z"), Some(expected));
        assert_eq!(p.parse("2024-01-15T08:30:00"), Some(expected), "no offset: default zone");
        assert_eq!(p.parse("2024-01-15 08:30"), Some(expected));
        assert_eq!(p.parse("2024-01-15T08:30:00.250+08:00"), Some(expected));
    }

    #[test]
    fn patterns_use_the_default_zone() {
        let p = TimestampParser::new(&["%Y/%m/%d %H:%M".into()], cst()).unwrap();
        assert_eq!(p.parse("2023/05/02 14:03"), Some(utc("2023-05-02T06:03:00Z")));
        assert_eq!(p.parse("2023/02/30 10:00"), None, "impossible date");
        let d = TimestampParser::new(&["%d-%m-%Y".into()], FixedOffset::east_opt(0).unwrap()).unwrap();
        assert_eq!(d.parse("21-07-2015"), Some(utc("2015-07-21T00:00:00Z")));
    }

    #[test]
    fn formats_are_tried_in_order() {
        let p = TimestampParser::new(&["iso8601".into(), "%d.%m.%Y %H:%M".into()], cst()).unwrap();
        assert_eq!(p.parse("02.05.2023 14:03"), Some(utc("2023-05-02T06:03:00Z")));
        assert_eq!(p.parse("yesterday"), None);
    }

    #[test]
    fn unix_timestamps() {
        let p = TimestampParser::new(&["unix_seconds".into()], cst()).unwrap();
        assert_eq!(p.parse("874965758"), Some(874_965_758));
        let ms = TimestampParser::new(&["unix_millis".into()], cst()).unwrap();
        assert_eq!(ms.parse("874965758123"), Some(874_965_758));
    }

    #[test]
    fn bad_format_names_are_rejected() {
        assert!(TimestampFormat::parse("yyyy-mm-dd").is_err());
        assert!(TimestampFormat::parse("%Q").is_err());
        assert!(TimestampFormat::parse("%Y%m%d").is_ok());
    }
}
