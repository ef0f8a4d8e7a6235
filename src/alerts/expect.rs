//! Calendar arithmetic for `expect` rules with a daily window.
//!
//! "The backup reports between 01:00 and 05:00 Europe/Paris, Monday to Friday" is checked once
//! per window, when it ends: did a matching event arrive inside it? Windows are computed in the
//! rule's time zone so daylight-saving changes move them with the wall clock, as operators expect.

use chrono::{Datelike, Days, NaiveDate, NaiveTime, TimeZone, Weekday};

/// A window as Unix nanoseconds, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ns: i64,
    pub end_ns: i64,
}

/// The latest daily window that has ended at or before `now_ns`, if any in the last 8 days.
pub fn last_ended_window(
    now_ns: i64,
    from: NaiveTime,
    to: NaiveTime,
    timezone: chrono_tz::Tz,
    days: Option<&[Weekday]>,
) -> Option<Window> {
    let today = timezone.timestamp_nanos(now_ns).date_naive();
    (0..=8u64)
        .filter_map(|back| today.checked_sub_days(Days::new(back)))
        .filter(|date| days.is_none_or(|days| days.contains(&date.weekday())))
        .filter_map(|date| window_on(date, from, to, timezone))
        .find(|window| window.end_ns <= now_ns)
}

/// The window that opens on `date` (it may end the next day when `to` < `from`).
fn window_on(
    date: NaiveDate,
    from: NaiveTime,
    to: NaiveTime,
    timezone: chrono_tz::Tz,
) -> Option<Window> {
    let end_date = if to > from {
        date
    } else {
        date.checked_add_days(Days::new(1))?
    };
    let start = local_ns(date, from, timezone)?;
    let end = local_ns(end_date, to, timezone)?;
    Some(Window {
        start_ns: start,
        end_ns: end,
    })
}

/// A local wall-clock time as Unix nanoseconds; in a DST gap, an hour later.
fn local_ns(date: NaiveDate, time: NaiveTime, timezone: chrono_tz::Tz) -> Option<i64> {
    let local = date.and_time(time);
    let resolved = timezone
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            timezone
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })?;
    resolved.timestamp_nanos_opt()
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

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn the_window_that_ended_last_is_found_in_the_rule_time_zone() {
        // 01:00-05:00 Paris (UTC+1 in November) = 00:00-04:00 UTC.
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let w = last_ended_window(ns("2026-11-23T04:30:00Z"), hm(1, 0), hm(5, 0), tz, None);
        assert_eq!(
            w,
            Some(Window {
                start_ns: ns("2026-11-23T00:00:00Z"),
                end_ns: ns("2026-11-23T04:00:00Z")
            })
        );
        // Before today's window ended: yesterday's.
        let w = last_ended_window(ns("2026-11-23T03:00:00Z"), hm(1, 0), hm(5, 0), tz, None);
        assert_eq!(w.unwrap().end_ns, ns("2026-11-22T04:00:00Z"));
    }

    #[test]
    fn windows_across_midnight_and_weekday_filters() {
        let utc = chrono_tz::UTC;
        // 22:00-02:00: the window opened on the 22nd ends on the 23rd at 02:00.
        let w = last_ended_window(ns("2026-11-23T03:00:00Z"), hm(22, 0), hm(2, 0), utc, None);
        assert_eq!(
            w,
            Some(Window {
                start_ns: ns("2026-11-22T22:00:00Z"),
                end_ns: ns("2026-11-23T02:00:00Z")
            })
        );
        // 2026-11-23 is a Monday; with only Fridays the last window is on the 20th.
        let w = last_ended_window(
            ns("2026-11-23T12:00:00Z"),
            hm(1, 0),
            hm(5, 0),
            utc,
            Some(&[Weekday::Fri]),
        );
        assert_eq!(w.unwrap().start_ns, ns("2026-11-20T01:00:00Z"));
    }
}
