//! Availability reports, pure: outages + a window → availability %, outage count, downtime
//! and MTTR per host and per service, as JSON or CSV.
//!
//! Definitions (the same in the API, the console, the CSV and the mailed reports):
//! - The **observed** window is the period cut at `now`: the rest of today has not happened,
//!   so it is neither available nor unavailable. Availability = (observed − downtime) /
//!   observed; 100 % for a window not begun.
//! - **Downtime** of a host is the union of its services' outages inside the observed window
//!   (two interfaces down at once count once); an outage that began before the window counts
//!   from the window's start, an ongoing one until now.
//! - **Outages** is the number of separate down periods in the window after that union.
//! - **MTTR** (mean time to restore) is the mean full length — not clipped to the window — of
//!   the down periods that ended inside it; none if none ended.

use serde::Serialize;

use super::intervals::{Span, merge, merge_within, total_ns};
use super::period::Period;
use super::record::{Outage, OutageJson};
use crate::event::format_ns;

/// The figures of one host or service over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub availability_percent: f64,
    pub downtime_seconds: f64,
    pub outages: usize,
    /// `null` when no outage ended in the window.
    pub mttr_seconds: Option<f64>,
}

impl Figures {
    /// The figures of `outages` (all of one host or service) over `observed`.
    pub fn of(outages: &[&Outage], observed: Span, now_ns: i64) -> Figures {
        let spans: Vec<Span> = outages.iter().map(|o| o.span(now_ns)).collect();
        let down = merge_within(spans, observed);
        let downtime_ns = total_ns(&down);
        let ended = merge(
            outages
                .iter()
                .filter(|o| o.end_ns.is_some())
                .map(|o| o.span(now_ns))
                .collect(),
        );
        let restored: Vec<i64> = ended
            .iter()
            .filter(|s| s.end_ns > observed.start_ns && s.end_ns <= observed.end_ns)
            .map(|s| s.len_ns())
            .collect();
        let observed_ns = observed.len_ns();
        Figures {
            availability_percent: if observed_ns == 0 {
                100.0
            } else {
                100.0 * (observed_ns - downtime_ns) as f64 / observed_ns as f64
            },
            downtime_seconds: seconds(downtime_ns),
            outages: down.len(),
            mttr_seconds: (!restored.is_empty())
                .then(|| seconds(restored.iter().sum::<i64>()) / restored.len() as f64),
        }
    }
}

fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// One service of a host in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One host in a report: its own figures and its services'.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    #[serde(flatten)]
    pub figures: Figures,
    pub services: Vec<ServiceReport>,
}

/// `GET /api/v1/reports/availability` (and what the console and the mails show).
#[derive(Debug, Clone, Serialize)]
pub struct AvailabilityReport {
    /// `day` … `year`, or `custom` for `since`/`until`.
    pub period: &'static str,
    pub timezone: String,
    pub since: String,
    pub until: String,
    /// Where the observed window ends (`until`, or now when the period is not over).
    pub observed_until: String,
    /// Hosts with an outage in the window (and the asked-for host even without one), the
    /// least available first.
    pub hosts: Vec<HostReport>,
    /// The outages behind the figures, by start.
    pub outages: Vec<OutageJson>,
}

/// What a report is about.
#[derive(Debug, Clone)]
pub struct ReportScope {
    pub period: Option<Period>,
    pub window: Span,
    pub timezone: chrono_tz::Tz,
    /// Exact host (case-insensitive); `None` = every host with an outage.
    pub host: Option<String>,
    /// Exact service; `None` = every service.
    pub service: Option<String>,
}

/// The report of `scope` from `outages` (those overlapping the window; others are ignored).
pub fn build(scope: &ReportScope, outages: &[Outage], now_ns: i64) -> AvailabilityReport {
    let observed = Span::new(
        scope.window.start_ns,
        scope.window.end_ns.min(now_ns).max(scope.window.start_ns),
    );
    let chosen: Vec<&Outage> = outages
        .iter()
        .filter(|o| {
            scope
                .host
                .as_deref()
                .is_none_or(|h| o.host.eq_ignore_ascii_case(h))
        })
        .filter(|o| scope.service.as_deref().is_none_or(|s| o.service == s))
        .filter(|o| o.span(now_ns).clip(observed).is_some())
        .collect();
    let mut hosts: Vec<String> = chosen.iter().map(|o| o.host.clone()).collect();
    if let Some(host) = &scope.host
        && hosts.is_empty()
    {
        hosts.push(host.clone());
    }
    hosts.sort();
    hosts.dedup();
    let mut reports: Vec<HostReport> = hosts
        .into_iter()
        .map(|host| host_report(host, &chosen, observed, now_ns))
        .collect();
    reports.sort_by(|a, b| {
        a.figures
            .availability_percent
            .total_cmp(&b.figures.availability_percent)
            .then_with(|| a.host.cmp(&b.host))
    });
    AvailabilityReport {
        period: scope.period.map_or("custom", Period::as_str),
        timezone: scope.timezone.name().to_string(),
        since: format_ns(scope.window.start_ns),
        until: format_ns(scope.window.end_ns),
        observed_until: format_ns(observed.end_ns),
        hosts: reports,
        outages: chosen.iter().map(|o| o.to_json(now_ns)).collect(),
    }
}

fn host_report(host: String, chosen: &[&Outage], observed: Span, now_ns: i64) -> HostReport {
    let own: Vec<&Outage> = chosen.iter().copied().filter(|o| o.host == host).collect();
    let mut services: Vec<&str> = own.iter().map(|o| o.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let services = services
        .into_iter()
        .map(|service| {
            let of: Vec<&Outage> = own
                .iter()
                .copied()
                .filter(|o| o.service == service)
                .collect();
            ServiceReport {
                service: service.to_string(),
                figures: Figures::of(&of, observed, now_ns),
            }
        })
        .collect();
    HostReport {
        figures: Figures::of(&own, observed, now_ns),
        host,
        services,
    }
}

/// The report as CSV (RFC 4180): a row per host (`service` empty) followed by a row per
/// service of it.
pub fn to_csv(report: &AvailabilityReport) -> String {
    let mut out = String::from(
        "host,service,availability_percent,downtime_seconds,outages,mttr_seconds,since,until\n",
    );
    let mut row = |host: &str, service: &str, f: &Figures| {
        let mttr = f.mttr_seconds.map_or(String::new(), |m| format!("{m:.3}"));
        out.push_str(&format!(
            "{},{},{:.4},{:.3},{},{},{},{}\n",
            csv_field(host),
            csv_field(service),
            f.availability_percent,
            f.downtime_seconds,
            f.outages,
            mttr,
            report.since,
            report.observed_until,
        ));
    };
    for host in &report.hosts {
        row(&host.host, "", &host.figures);
        for service in &host.services {
            row(&host.host, &service.service, &service.figures);
        }
    }
    out
}

/// One CSV field: quoted when needed; a leading `= + - @` (a spreadsheet formula from a
/// device's host name) is defused with a quote mark, as OWASP advises for CSV exports.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::record::Origin;

    const S: i64 = 1_000_000_000;

    fn outage(host: &str, service: &str, start: i64, end: Option<i64>) -> Outage {
        Outage {
            id: format!("{host}{service}{start}"),
            host: host.into(),
            service: service.into(),
            start_ns: start * S,
            end_ns: end.map(|e| e * S),
            origin: Origin::Alert {
                alert_id: 1,
                rule: "r".into(),
            },
        }
    }

    fn scope(start: i64, end: i64) -> ReportScope {
        ReportScope {
            period: None,
            window: Span::new(start * S, end * S),
            timezone: chrono_tz::UTC,
            host: None,
            service: None,
        }
    }

    #[test]
    fn hosts_merge_their_services_and_mttr_counts_whole_outages() {
        let outages = vec![
            outage("r1", "r1/if/1", 100, Some(200)),
            outage("r1", "r1/if/2", 150, Some(250)), // overlaps: one outage of r1 100..250
            outage("r1", "r1/if/1", 50, Some(120)),  // began before the window
            outage("r2", "r2/if/9", 900, None),      // ongoing
            outage("r3", "x", 5_000, Some(6_000)),   // outside
        ];
        let report = build(&scope(100, 1_100), &outages, 1_000 * S);
        // Observed until now (1000): 900 s.
        assert_eq!(report.hosts.len(), 2);
        let r2 = &report.hosts[1];
        assert_eq!(r2.host, "r2");
        assert_eq!(r2.figures.downtime_seconds, 100.0);
        assert_eq!(r2.figures.mttr_seconds, None);
        let r1 = &report.hosts[0]; // the least available first
        assert_eq!(r1.figures.downtime_seconds, 150.0);
        assert_eq!(r1.figures.outages, 1);
        assert!((r1.figures.availability_percent - 100.0 * 750.0 / 900.0).abs() < 1e-9);
        // 50..250 is one 200 s outage (the one that began before the window counts whole).
        assert_eq!(r1.figures.mttr_seconds, Some(200.0));
        assert_eq!(r1.services.len(), 2);
        assert_eq!(r1.services[0].figures.downtime_seconds, 100.0);
        // if/1: 50..120 and 100..200 overlap: one 150 s outage.
        assert_eq!(r1.services[0].figures.mttr_seconds, Some(150.0));
        assert_eq!(report.outages.len(), 4);
        let csv = to_csv(&report);
        assert!(csv.starts_with("host,service,"));
        assert!(csv.contains("\nr1,,83.3333,150.000,1,200.000,"), "{csv}");
        assert!(csv.contains("\nr1,r1/if/2,"), "{csv}");
    }

    #[test]
    fn an_asked_for_host_without_outages_is_fully_available() {
        let mut s = scope(0, 100);
        s.host = Some("quiet".into());
        let report = build(&s, &[outage("r1", "x", 10, Some(20))], 1_000 * S);
        assert_eq!(report.hosts.len(), 1);
        assert_eq!(report.hosts[0].figures.availability_percent, 100.0);
        assert_eq!(report.hosts[0].figures.outages, 0);
        // A window not begun yet is 100 %.
        let report = build(
            &scope(2_000, 3_000),
            &[outage("r1", "x", 0, None)],
            1_000 * S,
        );
        assert!(report.hosts.is_empty());
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("r1"), "r1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
