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
        /// A compiled form for purely numeric patterns (`%Y/%m/%d %H:%M`), read without chrono.
        numeric: Option<Vec<Token>>,
    },
}

/// One element of a numeric pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// `%Y`: four digits.
    Year,
    /// `%m`: one or two digits.
    Month,
    /// `%d`: one or two digits.
    Day,
    /// `%H`: one or two digits.
    Hour,
    /// `%M`: one or two digits.
    Minute,
    /// `%S`: one or two digits.
    Second,
    /// A literal ASCII byte.
    Literal(u8),
}

fn compile_numeric(pattern: &str) -> Option<Vec<Token>> {
    let bytes = pattern.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let token = match bytes.get(i + 1)? {
                b'Y' => Token::Year,
                b'm' => Token::Month,
                b'd' => Token::Day,
                b'H' => Token::Hour,
                b'M' => Token::Minute,
                b'S' => Token::Second,
                _ => return None,
            };
            tokens.push(token);
            i += 2;
        } else if bytes[i].is_ascii() && !bytes[i].is_ascii_digit() && !bytes[i].is_ascii_whitespace()
            || bytes[i] == b' '
        {
            tokens.push(Token::Literal(bytes[i]));
            i += 1;
        } else {
            return None;
        }
    }
    tokens.contains(&Token::Year).then_some(tokens)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after H. Hinnant's `days_from_civil`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads `value` with a numeric pattern; `None` for a mismatch or an impossible date or time.
fn read_numeric(tokens: &[Token], value: &[u8], tz_seconds: i64) -> Option<i64> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (None, 1u32, 1u32, 0u32, 0u32, 0u32);
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < value.len() && *i - start < max && value[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        Some(value[start..*i].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    for token in tokens {
        match token {
            Token::Year => year = Some(i64::from(digits(&mut i, 4, 4)?)),
            Token::Month => month = digits(&mut i, 1, 2)?,
            Token::Day => day = digits(&mut i, 1, 2)?,
            Token::Hour => hour = digits(&mut i, 1, 2)?,
            Token::Minute => minute = digits(&mut i, 1, 2)?,
            Token::Second => second = digits(&mut i, 1, 2)?,
            Token::Literal(b) => {
                if value.get(i) != Some(b) {
                    return None;
                }
                i += 1;
            }
        }
    }
    let year = year?;
    let valid = i == value.len()
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| {
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - tz_seconds
    })
}

/// Fast path for the common ISO-8601 shapes: `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]`.
fn read_iso_fast(v: &[u8], tz_seconds: i64) -> Option<i64> {
    const DATE_TIME: [Token; 9] = [
        Token::Year,
        Token::Literal(b'-'),
        Token::Month,
        Token::Literal(b'-'),
        Token::Day,
        Token::Literal(b'T'),
        Token::Hour,
        Token::Literal(b':'),
        Token::Minute,
    ];
    if v.len() < 16 || v[4] != b'-' || v[7] != b'-' || !(v[10] == b'T' || v[10] == b' ') {
        return None;
    }
    let mut head = [0u8; 16];
    head.copy_from_slice(&v[..16]);
    head[10] = b'T';
    let base = read_numeric(&DATE_TIME, &head, 0)?;
    let mut rest = &v[16..];
    let mut seconds = 0i64;
    if rest.first() == Some(&b':') {
        let s = rest.get(1..3)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        seconds = i64::from((s[0] - b'0') * 10 + (s[1] - b'0'));
        if seconds >= 60 {
            return None;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            rest = &rest[1 + digits..];
        }
    }
    let offset = match rest {
        [] => tz_seconds,
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let d = [*h1, *h2, *m1, *m2];
            if !d.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = i64::from((d[0] - b'0') * 10 + (d[1] - b'0'));
            let m = i64::from((d[2] - b'0') * 10 + (d[3] - b'0'));
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    Some(base + seconds - offset)
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
            numeric: compile_numeric(text),
        })
    }

    /// Parses `value` to UTC seconds, taking `tz` for values without an offset.
    pub fn read(&self, value: &str, tz: &FixedOffset) -> Option<i64> {
        let v = value.trim();
        match self {
            Self::Iso8601 => {
                read_iso_fast(v.as_bytes(), i64::from(tz.local_minus_utc())).or_else(|| read_iso8601(v, tz))
            }
            Self::UnixSeconds => v.parse::<f64>().ok().filter(|s| s.is_finite()).map(|s| s.floor() as i64),
            Self::UnixMillis => v.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
            Self::Pattern { numeric: Some(tokens), .. } => {
                read_numeric(tokens, v.as_bytes(), i64::from(tz.local_minus_utc()))
            }
            Self::Pattern { pattern, has_offset, has_time, .. } => {
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
    fn the_fast_paths_agree_with_chrono() {
        let tz = cst();
        let p = TimestampFormat::parse("%Y/%m/%d %H:%M").unwrap();
        assert!(matches!(p, TimestampFormat::Pattern { numeric: Some(_), .. }));
        for v in ["2023/05/02 14:03", "2024/02/29 00:00", "2023/2/3 4:05", "1999/12/31 23:59"] {
            let slow = NaiveDateTime::parse_from_str(v, "%Y/%m/%d %H:%M").ok().and_then(|t| local(&tz, t));
            assert_eq!(p.read(v, &tz), slow, "{v}");
        }
        for v in ["2023/02/29 10:00", "2023/13/01 10:00", "2023/05/02 24:00", "2023/05/02", "2023/05/02 14:03x", "x"] {
            assert_eq!(p.read(v, &tz), None, "{v}");
        }
        let iso = TimestampFormat::Iso8601;
        for v in [
            "2024-01-15T08:30:00+08:00",
            "2024-01-15T00:30:00Z",
            "2024-01-15 08:30",
            "2024-01-15T08:30:00.5-0130",
            "2024-02-30T00:00:00Z",
        ] {
            let slow = read_iso8601(v, &tz);
            assert_eq!(read_iso_fast(v.as_bytes(), 8 * 3600).or_else(|| read_iso8601(v, &tz)), slow, "{v}");
            assert_eq!(iso.read(v, &tz), slow, "{v}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 7, 1), 19905);
    }

    #[test]
    fn bad_format_names_are_rejected() {
        assert!(TimestampFormat::parse("yyyy-mm-dd").is_err());
        assert!(TimestampFormat::parse("%Q").is_err());
        assert!(TimestampFormat::parse("%Y%m%d").is_ok());
    }
}
