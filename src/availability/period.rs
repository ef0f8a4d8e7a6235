//! Report periods: the calendar day, week (Monday first, ISO 8601), month, quarter or year
//! that contains an instant, in the reports' time zone (`[reports] timezone`, UTC by
//! default), and the buckets a period's charts are drawn in. Pure: the time zone and the
//! instant are arguments.
//!
//! Periods are computed on local calendar dates and turned into instants at local midnight,
//! so a day in a DST-changing zone is 23 or 25 hours long — which is what a manager asking
//! "how available was it on Sunday" means.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::intervals::Span;

/// A calendar period (`period=` of the report API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    /// Every period, in increasing length.
    pub const ALL: [Period; 5] = [
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Year,
    ];

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// The period named `text`.
    pub fn parse(text: &str) -> Option<Period> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The first local date of the period containing `date`.
    fn first_date(self, date: NaiveDate) -> NaiveDate {
        let (y, m) = (date.year(), date.month());
        let first = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(date);
        match self {
            Period::Day => date,
            Period::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Period::Month => first(y, m),
            Period::Quarter => first(y, (m - 1) / 3 * 3 + 1),
            Period::Year => first(y, 1),
        }
    }

    /// The first local date of the period after the one starting on `first`.
    fn next_first_date(self, first: NaiveDate) -> NaiveDate {
        let months = |n: u32| {
            first
                .checked_add_months(chrono::Months::new(n))
                .unwrap_or(first)
        };
        match self {
            Period::Day => first + Duration::days(1),
            Period::Week => first + Duration::days(7),
            Period::Month => months(1),
            Period::Quarter => months(3),
            Period::Year => months(12),
        }
    }

    /// The buckets the period's charts use: hours of a day, days of a week or month, weeks
    /// of a quarter (the last one may be short), months of a year.
    pub fn bucket(self) -> Period {
        match self {
            Period::Day => Period::Day, // hours: see `buckets`
            Period::Week | Period::Month => Period::Day,
            Period::Quarter => Period::Week,
            Period::Year => Period::Month,
        }
    }
}

/// Local midnight starting `date` in `tz` as Unix ns (the first instant of that date when
/// midnight itself does not exist, as on a DST jump at 00:00).
fn midnight_ns(date: NaiveDate, tz: Tz) -> i64 {
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let local = (0..=3).find_map(|h| {
        tz.from_local_datetime(&(naive + Duration::hours(h)))
            .earliest()
    });
    local
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or_else(|| naive.and_utc().timestamp_nanos_opt().unwrap_or(0))
}

/// The local date of `at_ns` in `tz`.
fn local_date(at_ns: i64, tz: Tz) -> NaiveDate {
    tz.timestamp_nanos(at_ns).date_naive()
}

/// The `period` containing `at_ns` in `tz`.
pub fn window(period: Period, at_ns: i64, tz: Tz) -> Span {
    let first = period.first_date(local_date(at_ns, tz));
    Span::new(
        midnight_ns(first, tz),
        midnight_ns(period.next_first_date(first), tz),
    )
}

/// The `period` that ended last before the one containing `at_ns` (what a scheduled report
/// sent on Monday morning is about: last week).
pub fn previous(period: Period, at_ns: i64, tz: Tz) -> Span {
    let current = window(period, at_ns, tz);
    window(period, current.start_ns - 1, tz)
}

/// Most buckets a chart is split into (a custom range of years still draws ≤ 400 bars).
pub const MAX_BUCKETS: usize = 400;

/// `span` cut into calendar buckets of `period.bucket()` (hours for a day), clipped to
/// `span`; for a custom range, days (or months when that would exceed [`MAX_BUCKETS`]).
pub fn buckets(span: Span, period: Option<Period>, tz: Tz) -> Vec<Span> {
    const HOUR_NS: i64 = 3_600_000_000_000;
    if period == Some(Period::Day) {
        let mut out = Vec::new();
        let mut start = span.start_ns;
        while start < span.end_ns && out.len() < MAX_BUCKETS {
            let end = (start + HOUR_NS).min(span.end_ns);
            out.push(Span::new(start, end));
            start = end;
        }
        return out;
    }
    let step = match period {
        Some(p) => p.bucket(),
        None if span.len_ns() / (24 * HOUR_NS) < MAX_BUCKETS as i64 => Period::Day,
        None => Period::Month,
    };
    let mut out = Vec::new();
    let mut start = span.start_ns;
    while start < span.end_ns && out.len() < MAX_BUCKETS {
        let end = window(step, start, tz)
            .end_ns
            .min(span.end_ns)
            .max(start + 1);
        out.push(Span::new(start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn check(period: Period, at: &str, tz: Tz, start: &str, end: &str) {
        let w = window(period, ns(at), tz);
        assert_eq!(
            (w.start_ns, w.end_ns),
            (ns(start), ns(end)),
            "{period:?} at {at} in {tz}"
        );
    }

    #[test]
    fn periods_contain_the_instant_in_utc() {
        let utc = chrono_tz::UTC;
        let at = "2026-11-25T13:14:15Z"; // a Wednesday
        check(
            Period::Day,
            at,
            utc,
            "2026-11-25T00:00:00Z",
            "2026-11-26T00:00:00Z",
        );
        check(
            Period::Week,
            at,
            utc,
            "2026-11-23T00:00:00Z",
            "2026-11-30T00:00:00Z",
        );
        check(
            Period::Month,
            at,
            utc,
            "2026-11-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
        );
        check(
            Period::Quarter,
            at,
            utc,
            "2026-10-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        );
        check(
            Period::Year,
            at,
            utc,
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        );
        // The first instant of a period belongs to it, the last nanosecond before to the one before.
        check(
            Period::Day,
            "2026-11-25T00:00:00Z",
            utc,
            "2026-11-25T00:00:00Z",
            "2026-11-26T00:00:00Z",
        );
        let w = previous(Period::Week, ns(at), utc);
        assert_eq!(
            (w.start_ns, w.end_ns),
            (ns("2026-11-16T00:00:00Z"), ns("2026-11-23T00:00:00Z"))
        );
        let w = previous(Period::Month, ns("2026-01-01T06:00:00Z"), utc);
        assert_eq!(w.start_ns, ns("2025-12-01T00:00:00Z"));
    }

    #[test]
    fn periods_follow_the_local_calendar_and_dst() {
        let paris = chrono_tz::Europe::Paris;
        // 23:30 UTC on the 24th is already the 25th in Paris.
        check(
            Period::Day,
            "2026-11-24T23:30:00Z",
            paris,
            "2026-11-24T23:00:00Z",
            "2026-11-25T23:00:00Z",
        );
        // The day clocks go back is 25 hours long.
        let w = window(Period::Day, ns("2026-10-25T12:00:00Z"), paris);
        assert_eq!(w.len_ns(), 25 * 3_600_000_000_000);
        let hours = buckets(w, Some(Period::Day), paris);
        assert_eq!(hours.len(), 25);
        let days = buckets(
            window(Period::Month, ns("2026-02-10T00:00:00Z"), paris),
            Some(Period::Month),
            paris,
        );
        assert_eq!(days.len(), 28);
        let months = buckets(
            window(Period::Year, ns("2026-02-10T00:00:00Z"), paris),
            Some(Period::Year),
            paris,
        );
        assert_eq!(months.len(), 12);
        let weeks = buckets(
            window(Period::Quarter, ns("2026-02-10T00:00:00Z"), paris),
            Some(Period::Quarter),
            paris,
        );
        assert!((13..=14).contains(&weeks.len()));
        // Buckets tile the period exactly.
        for pair in weeks.windows(2) {
            assert_eq!(pair[0].end_ns, pair[1].start_ns);
        }
    }
}
