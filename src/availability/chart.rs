//! Charts as SVG text, drawn on the server so the console needs no charting script and no
//! CDN, and a mailed report can carry the same picture. Every text that comes from a device
//! or a person (host and service names, categories) goes through [`escape`]; numbers are
//! formatted here. Sizes are bounded: at most [`MAX_BARS`] hosts, and the buckets a period
//! has (≤ `period::MAX_BUCKETS`).

use std::fmt::Write;

use super::report::AvailabilityReport;
use super::summary::AlertSummary;

/// Hosts drawn at most in the availability chart (the least available ones).
pub const MAX_BARS: usize = 30;

const FONT: &str = "font-family=\"system-ui,sans-serif\" font-size=\"12\"";
const CRITICAL: &str = "#c62828";
const WARNING: &str = "#ef6c00";
const LOW: &str = "#f9a825";
const UP: &str = "#2e7d32";

/// `text` made safe inside SVG (XML) text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Host names are cut for the label column (the full name is in the bar's title).
fn label(text: &str) -> String {
    let mut cut: String = text.chars().take(28).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    escape(&cut)
}

/// Horizontal bars: availability % of the least available hosts.
pub fn availability_chart(report: &AvailabilityReport) -> String {
    let hosts = &report.hosts[..report.hosts.len().min(MAX_BARS)];
    let (left, width, row) = (200.0, 400.0, 22.0);
    let height = 40.0 + row * hosts.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"680\" height=\"{height}\" viewBox=\"0 0 680 {height}\" {FONT} role=\"img\"><title>Availability per host, {} to {}</title>",
        escape(&report.since),
        escape(&report.observed_until)
    );
    if hosts.is_empty() {
        svg.push_str("<text x=\"10\" y=\"24\">No outage in this period: every host 100 %.</text>");
    }
    for (i, host) in hosts.iter().enumerate() {
        let y = 10.0 + row * i as f64;
        let percent = host.figures.availability_percent.clamp(0.0, 100.0);
        let bar = width * percent / 100.0;
        let _ = write!(
            svg,
            "<g><title>{name}: {percent:.3} %, {outages} outage(s)</title><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{short}</text><rect x=\"{left}\" y=\"{y}\" width=\"{width}\" height=\"16\" fill=\"{CRITICAL}\" opacity=\"0.35\"/><rect x=\"{left}\" y=\"{y}\" width=\"{bar:.1}\" height=\"16\" fill=\"{UP}\"/><text x=\"{px}\" y=\"{ty}\">{percent:.2} %</text></g>",
            name = escape(&host.host),
            outages = host.figures.outages,
            tx = left - 6.0,
            ty = y + 12.0,
            short = label(&host.host),
            px = left + width + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Stacked columns: alerts raised per bucket and level.
pub fn alerts_chart(summary: &AlertSummary) -> String {
    let buckets = &summary.buckets;
    let (left, top, plot_w, plot_h) = (40.0, 10.0, 620.0, 160.0);
    let max = buckets.iter().map(|b| b.total()).max().unwrap_or(0).max(1) as f64;
    let step = plot_w / buckets.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"680\" height=\"220\" viewBox=\"0 0 680 220\" {FONT} role=\"img\"><title>Alerts per level, {} to {}</title>",
        escape(&summary.since),
        escape(&summary.until)
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{}\">{}</text><text x=\"4\" y=\"{}\">0</text><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"currentColor\" stroke-width=\"0.5\"/>",
        top + 10.0,
        max as u64,
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    for (i, bucket) in buckets.iter().enumerate() {
        let x = left + step * i as f64;
        let mut y = top + plot_h;
        let _ = write!(
            svg,
            "<g><title>{}: {} critical, {} warning, {} low</title>",
            escape(&bucket.start),
            bucket.critical,
            bucket.warning,
            bucket.low
        );
        for (count, colour) in [
            (bucket.critical, CRITICAL),
            (bucket.warning, WARNING),
            (bucket.low, LOW),
        ] {
            let h = plot_h * count as f64 / max;
            y -= h;
            if count > 0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>",
                    (step - 1.0).max(0.5)
                );
            }
        }
        svg.push_str("</g>");
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"200\">{}</text><text x=\"{}\" y=\"200\" text-anchor=\"end\">{}</text><text x=\"{left}\" y=\"215\"><tspan fill=\"{CRITICAL}\">■ critical</tspan> <tspan fill=\"{WARNING}\">■ warning</tspan> <tspan fill=\"{LOW}\">■ low</tspan> — {} alerts</text></svg>",
        escape(&summary.since),
        left + plot_w,
        escape(&summary.until),
        summary.total
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::report::{Figures, HostReport};
    use crate::availability::summary::Bucket;

    #[test]
    fn device_text_is_escaped_in_svg() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let report = AvailabilityReport {
            period: "day",
            timezone: "UTC".into(),
            since: "s".into(),
            until: "u".into(),
            observed_until: "o".into(),
            hosts: vec![HostReport {
                host: "<script>alert(1)</script>".into(),
                figures: Figures {
                    availability_percent: 99.5,
                    downtime_seconds: 1.0,
                    outages: 1,
                    mttr_seconds: Some(1.0),
                },
                services: vec![],
            }],
            outages: vec![],
        };
        let svg = availability_chart(&report);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("99.50 %"));
        let summary = AlertSummary {
            period: "day",
            timezone: "UTC".into(),
            since: "s".into(),
            until: "u".into(),
            buckets: vec![Bucket {
                start: "b".into(),
                end: "e".into(),
                critical: 2,
                warning: 1,
                low: 0,
            }],
            categories: vec![],
            total: 3,
            truncated: false,
            incidents: vec![],
            incident_categories: vec![],
            incidents_total: 0,
        };
        let svg = alerts_chart(&summary);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
