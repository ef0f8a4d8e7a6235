//! Scheduled reports: the availability report of each period that just ended (`[reports]
//! mail = ["week", "month"]`) mailed to every manager with an address, once.
//!
//! The origin design asks for reports "produced on demand or regularly and mailed". A thread
//! looks every minute (and just after the start) for periods that ended since the last one
//! mailed; the end of the last period mailed is kept per period in the record tree
//! `report_schedule`, so a restart neither repeats nor skips a report, and a fresh install
//! mails the latest completed period once. Mails go through the notifier's outbox (retries,
//! the notification log); device text in them is escaped in the HTML part.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::period::{self, Period};
use super::record::OutageStore;
use super::report::{self, AvailabilityReport, ReportScope};
use crate::accounts::{Accounts, Role};
use crate::event::now_ns;
use crate::notify::IncidentMailer;
use crate::store::{RecordTree, Store, StoreError};

/// Why a scheduled report was not mailed (it is tried again a minute later).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountError),
}

/// How often the thread looks for a period that ended.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// The running scheduler; [`ReportScheduler::stop`] ends it.
pub struct ReportScheduler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the scheduler needs.
pub struct ScheduleContext {
    pub store: Store,
    pub accounts: Arc<Accounts>,
    pub mailer: IncidentMailer,
    pub periods: Vec<Period>,
    pub timezone: chrono_tz::Tz,
}

impl ReportScheduler {
    /// Starts the thread (nothing runs when no period is to be mailed).
    pub fn start(context: ScheduleContext) -> Result<ReportScheduler, StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        if context.periods.is_empty() {
            return Ok(ReportScheduler { stop, thread: None });
        }
        let sent = context.store.records("report_schedule")?;
        let outages = OutageStore::open(&context.store)?;
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("report-schedule".into())
            .spawn(move || run(context, sent, outages, flag))
            .ok();
        Ok(ReportScheduler { stop, thread })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(context: ScheduleContext, sent: RecordTree, outages: OutageStore, stop: Arc<AtomicBool>) {
    // A moment after the start (the notifier is up), then every minute.
    let mut wait = Duration::from_secs(2);
    while !sleep_unless_stopped(wait, &stop) {
        for &period in &context.periods {
            if let Err(error) = mail_if_due(&context, &sent, &outages, period, now_ns()) {
                tracing::warn!(%error, period = period.as_str(), "Scheduled report not sent.");
            }
        }
        wait = CHECK_EVERY;
    }
}

/// Sleeps `wait` in short steps; true when asked to stop.
fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < wait {
        if stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep(step);
        slept += step;
    }
    stop.load(Ordering::Acquire)
}

/// Mails the report of the `period` that ended last before `now_ns`, unless it was mailed.
/// Returns how many mails were queued.
pub fn mail_if_due(
    context: &ScheduleContext,
    sent: &RecordTree,
    outages: &OutageStore,
    period: Period,
    now_ns: i64,
) -> Result<usize, ScheduleError> {
    let window = period::previous(period, now_ns, context.timezone);
    let last_sent: i64 = sent
        .get(period.as_str())?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse().ok())
        .unwrap_or(i64::MIN);
    if window.end_ns <= last_sent {
        return Ok(0);
    }
    let scope = ReportScope {
        period: Some(period),
        window,
        timezone: context.timezone,
        host: None,
        service: None,
    };
    let report = report::build(&scope, &outages.overlapping(window, now_ns)?, now_ns);
    let managers: Vec<String> = context
        .accounts
        .users()?
        .into_iter()
        .filter(|u| u.role == Role::Manager)
        .filter_map(|u| u.email)
        .collect();
    let (subject, text, html) = render(&report);
    let queued = context
        .mailer
        .mail_report(&managers, &subject, &text, &html);
    sent.put(period.as_str(), window.end_ns.to_string().as_bytes())?;
    tracing::info!(period = period.as_str(), since = %report.since, managers = queued, "Scheduled availability report mailed.");
    Ok(queued)
}

/// Subject, text and HTML of a report mail (every host name escaped in the HTML).
pub fn render(report: &AvailabilityReport) -> (String, String, String) {
    let escape = crate::web::pages::escape;
    let span = format!(
        "{} – {} ({})",
        report.since.get(..10).unwrap_or(&report.since),
        report.until.get(..10).unwrap_or(&report.until),
        report.timezone
    );
    let subject = format!("[REPORT] Availability, {} {span}", report.period);
    let mut text = format!("Availability per host, {} {span}.\n\n", report.period);
    let mut html = format!(
        "<!doctype html><html><body><p>Availability per host, {} {}.</p>\
         <table cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th align=\"left\">Host</th>\
         <th align=\"right\">Availability</th><th align=\"right\">Outages</th><th align=\"right\">Downtime</th>\
         <th align=\"right\">MTTR</th></tr>",
        escape(report.period),
        escape(&span)
    );
    if report.hosts.is_empty() {
        text.push_str("No outage: every host was available.\n");
        html.push_str("<tr><td colspan=\"5\">No outage: every host was available.</td></tr>");
    }
    for host in &report.hosts {
        let f = &host.figures;
        let mttr = f.mttr_seconds.map_or("-".into(), |s| format!("{s:.0} s"));
        let _ = writeln!(
            text,
            "{:<30} {:>8.3} %  {:>3} outage(s)  {:>8.0} s down  MTTR {mttr}",
            host.host, f.availability_percent, f.outages, f.downtime_seconds
        );
        let _ = write!(
            html,
            "<tr><td>{}</td><td align=\"right\">{:.3} %</td><td align=\"right\">{}</td>\
             <td align=\"right\">{:.0} s</td><td align=\"right\">{}</td></tr>",
            escape(&host.host),
            f.availability_percent,
            f.outages,
            f.downtime_seconds,
            escape(&mttr)
        );
    }
    html.push_str("</table></body></html>");
    (subject, text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_mail_escapes_host_names() {
        let report = AvailabilityReport {
            period: "week",
            timezone: "UTC".into(),
            since: "2026-11-16T00:00:00Z".into(),
            until: "2026-11-23T00:00:00Z".into(),
            observed_until: "2026-11-23T00:00:00Z".into(),
            hosts: vec![report::HostReport {
                host: "<script>x</script>".into(),
                figures: report::Figures {
                    availability_percent: 99.5,
                    downtime_seconds: 3024.0,
                    outages: 2,
                    mttr_seconds: Some(1512.0),
                },
                services: vec![],
            }],
            outages: vec![],
        };
        let (subject, text, html) = render(&report);
        assert_eq!(
            subject,
            "[REPORT] Availability, week 2026-11-16 – 2026-11-23 (UTC)"
        );
        assert!(text.contains("99.500 %"), "{text}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;") && !html.contains("<script>"));
    }
}
