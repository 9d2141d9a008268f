//! Day arithmetic and fast timestamp formatting for the demo generator.
//!
//! Days are counted from 1970-01-01 (day 0) in China local time; a point in time is a day plus seconds
//! since local midnight. Conversions use Howard Hinnant's civil-calendar algorithms, so no date library is
//! needed on the hot path that writes millions of lines.

use std::io::Write;

/// Days since 1970-01-01 of a proleptic Gregorian calendar date.
pub const fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The calendar date (year, month, day) of a day number.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A local (UTC+8) point in time: a day number and the seconds since local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// Day number (days since 1970-01-01).
    pub day: i32,
    /// Seconds since local midnight, `0..86_400`.
    pub secs: u32,
}

impl Stamp {
    fn parts(self) -> (i32, u32, u32, u32, u32, u32) {
        let (y, m, d) = civil_from_days(self.day);
        (y, m, d, self.secs / 3600, self.secs / 60 % 60, self.secs % 60)
    }

    /// `YYYY-MM-DDTHH:MM:SS+08:00`.
    pub fn write_iso_local(self, out: &mut Vec<u8>) {
        let (y, m, d, h, mi, s) = self.parts();
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00");
    }

    /// The same instant in UTC: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn write_iso_utc(self, out: &mut Vec<u8>) {
        let shifted = i64::from(self.secs) - 8 * 3600;
        let utc = if shifted < 0 {
            Stamp { day: self.day - 1, secs: (shifted + 86_400) as u32 }
        } else {
            Stamp { day: self.day, secs: shifted as u32 }
        };
        let (y, m, d, h, mi, s) = utc.parts();
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
    }

    /// `YYYY/MM/DD HH:MM` (local).
    pub fn write_slash(self, out: &mut Vec<u8>) {
        let (y, m, d, h, mi, _) = self.parts();
        let _ = write!(out, "{y:04}/{m:02}/{d:02} {h:02}:{mi:02}");
    }

    /// `DD.MM.YYYY HH:MM` (local).
    pub fn write_dotted(self, out: &mut Vec<u8>) {
        let (y, m, d, h, mi, _) = self.parts();
        let _ = write!(out, "{d:02}.{m:02}.{y:04} {h:02}:{mi:02}");
    }

    /// `YYYY-MM-DD HH:MM:SS` (local).
    pub fn write_dash_seconds(self, out: &mut Vec<u8>) {
        let (y, m, d, h, mi, s) = self.parts();
        let _ = write!(out, "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    }

    /// `YYYYMMDD`, as used inside receipt numbers.
    pub fn write_compact_date(self, out: &mut Vec<u8>) {
        let (y, m, d) = civil_from_days(self.day);
        let _ = write!(out, "{y:04}{m:02}{d:02}");
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn write_date(day: i32, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(day);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// `YYYY-MM-DD` of a day number, as a `String`.
pub fn date_string(day: i32) -> String {
    let mut buf = Vec::with_capacity(10);
    write_date(day, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Month index counted from January of `base_year` (January = 0).
pub fn month_index(day: i32, base_year: i32) -> usize {
    let (y, m, _) = civil_from_days(day);
    ((y - base_year) * 12 + m as i32 - 1).max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn civil_round_trip_matches_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for day in (-1000..25_000).step_by(7) {
            let (y, m, d) = civil_from_days(day);
            let expected = epoch + chrono::Duration::days(i64::from(day));
            assert_eq!((y, m, d), (expected.year(), expected.month(), expected.day()));
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn utc_conversion_crosses_midnight() {
        let mut out = Vec::new();
        Stamp { day: days_from_civil(2024, 3, 1), secs: 7 * 3600 }.write_iso_utc(&mut out);
        assert_eq!(String::from_utf8(out).expect("utf8"), "2024-02-29T23:00:00Z");
    }
}
