//! The statistics report: alerts raised per level in each bucket of a period, and per
//! category, read from the alert records (`GET /api/v1/reports/summary`).
//!
//! Alerts are counted where they were raised (`first_seen`), whatever became of them. The
//! alert tree is read newest first and the scan stops at the first alert raised well before
//! the window (ids grow with creation, so older ones follow), or after [`MAX_SCANNED`]
//! records, which the answer says (`truncated`).
//!
//! Incidents are counted the same way from the `incidents` records: per category in each
//! bucket, where they were opened (`opened_at_ns`), newest first until the window is passed.

use serde::{Deserialize, Serialize};

use super::intervals::Span;
use crate::event::{Level, format_ns};
use crate::store::{Store, StoreError};

/// Alert records read at most for one summary.
pub const MAX_SCANNED: usize = 500_000;
/// Categories listed at most (the rest are summed under `other`).
pub const MAX_CATEGORIES: usize = 50;
/// How far before the window the scan goes on (expectation alerts are raised by the clock,
/// so ids and first_seen are only nearly in the same order).
const SLACK_NS: i64 = 3_600_000_000_000;

/// Alerts raised in one bucket, per level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub start: String,
    pub end: String,
    pub critical: u64,
    pub warning: u64,
    pub low: u64,
}

impl Bucket {
    /// All alerts of the bucket.
    pub fn total(&self) -> u64 {
        self.critical + self.warning + self.low
    }
}

/// `GET /api/v1/reports/summary`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertSummary {
    pub period: &'static str,
    pub timezone: String,
    pub since: String,
    pub until: String,
    pub buckets: Vec<Bucket>,
    /// `[category, alerts]`, most first; alerts without a category under `(none)`.
    pub categories: Vec<(String, u64)>,
    pub total: u64,
    /// The scan bound was reached: older alerts of the window are not counted.
    pub truncated: bool,
    /// Incidents opened in each bucket, per category (same buckets as `buckets`).
    pub incidents: Vec<IncidentBucket>,
    /// `[category, incidents]` over the window, most first.
    pub incident_categories: Vec<(String, u64)>,
    pub incidents_total: u64,
}

/// Incidents opened in one bucket, per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncidentBucket {
    pub start: String,
    pub end: String,
    pub categories: std::collections::BTreeMap<String, u64>,
    pub total: u64,
}

/// The fields of an incident record a summary needs.
#[derive(Deserialize)]
struct IncidentFacts {
    category: String,
    opened_at_ns: i64,
}

/// Incidents per bucket, per category over the window, and whether the scan bound was hit.
struct IncidentCounts {
    buckets: Vec<IncidentBucket>,
    categories: Vec<(String, u64)>,
    truncated: bool,
}

/// Counts the incidents opened in each of `buckets`, per category.
fn count_incidents(
    store: &Store,
    buckets: &[Span],
    window: Span,
) -> Result<IncidentCounts, StoreError> {
    let mut counts: Vec<IncidentBucket> = buckets
        .iter()
        .map(|b| IncidentBucket {
            start: format_ns(b.start_ns),
            end: format_ns(b.end_ns),
            ..IncidentBucket::default()
        })
        .collect();
    let mut categories: std::collections::BTreeMap<String, u64> = Default::default();
    let mut truncated = false;
    for (scanned, item) in store.records("incidents")?.iter_rev(None).enumerate() {
        if scanned >= MAX_SCANNED {
            truncated = true;
            break;
        }
        let (_, bytes) = item?;
        let Ok(incident) = serde_json::from_slice::<IncidentFacts>(&bytes) else {
            continue;
        };
        // Ids grow with opening time: once before the window, the rest is older still.
        if incident.opened_at_ns < window.start_ns {
            break;
        }
        let Some(i) = buckets
            .iter()
            .position(|b| (b.start_ns..b.end_ns).contains(&incident.opened_at_ns))
        else {
            continue;
        };
        *counts[i]
            .categories
            .entry(incident.category.clone())
            .or_default() += 1;
        counts[i].total += 1;
        *categories.entry(incident.category).or_default() += 1;
    }
    let mut categories: Vec<(String, u64)> = categories.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    categories.truncate(MAX_CATEGORIES);
    Ok(IncidentCounts {
        buckets: counts,
        categories,
        truncated,
    })
}

/// The few fields of an alert record a summary needs (the rest is skipped unparsed).
#[derive(Deserialize)]
struct AlertFacts {
    level: Level,
    category: Option<String>,
    first_seen_ns: i64,
}

/// Counts the alerts raised in each of `buckets` (sorted, adjacent; together the window).
pub fn summarize(
    store: &Store,
    period: &'static str,
    timezone: chrono_tz::Tz,
    buckets: &[Span],
) -> Result<AlertSummary, StoreError> {
    let window = Span::new(
        buckets.first().map_or(0, |b| b.start_ns),
        buckets.last().map_or(0, |b| b.end_ns),
    );
    let mut counts: Vec<Bucket> = buckets
        .iter()
        .map(|b| Bucket {
            start: format_ns(b.start_ns),
            end: format_ns(b.end_ns),
            ..Bucket::default()
        })
        .collect();
    let mut categories: std::collections::BTreeMap<String, u64> = Default::default();
    let mut truncated = false;
    let tree = store.records("alerts")?;
    for (scanned, item) in tree.iter_rev(None).enumerate() {
        if scanned >= MAX_SCANNED {
            truncated = true;
            break;
        }
        let (_, bytes) = item?;
        let Ok(alert) = serde_json::from_slice::<AlertFacts>(&bytes) else {
            continue;
        };
        if alert.first_seen_ns < window.start_ns - SLACK_NS {
            break;
        }
        let Some(i) = buckets
            .iter()
            .position(|b| (b.start_ns..b.end_ns).contains(&alert.first_seen_ns))
        else {
            continue;
        };
        let bucket = &mut counts[i];
        match alert.level {
            Level::Critical => bucket.critical += 1,
            Level::Warning => bucket.warning += 1,
            Level::Low => bucket.low += 1,
            Level::None => continue,
        }
        *categories
            .entry(alert.category.unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
    }
    let mut categories: Vec<(String, u64)> = categories.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if categories.len() > MAX_CATEGORIES {
        let other: u64 = categories.drain(MAX_CATEGORIES - 1..).map(|c| c.1).sum();
        categories.push(("other".into(), other));
    }
    let incidents = count_incidents(store, buckets, window)?;
    Ok(AlertSummary {
        incidents_total: incidents.buckets.iter().map(|b| b.total).sum(),
        incident_categories: incidents.categories,
        period,
        timezone: timezone.name().to_string(),
        since: format_ns(window.start_ns),
        until: format_ns(window.end_ns),
        total: counts.iter().map(Bucket::total).sum(),
        buckets: counts,
        categories,
        truncated: truncated || incidents.truncated,
        incidents: incidents.buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::record_key;
    use crate::store::StoreOptions;

    #[test]
    fn alerts_are_counted_in_the_bucket_they_were_raised_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let tree = store.records("alerts").unwrap();
        let put = |id: u64, level: &str, category: Option<&str>, at: i64| {
            let json = serde_json::json!({"id": id, "level": level, "category": category, "first_seen_ns": at, "history": []});
            tree.put(&record_key(id), json.to_string().as_bytes())
                .unwrap();
        };
        let h = 3_600_000_000_000i64;
        put(1, "critical", Some("network"), 100 * h); // long before: ends the scan
        put(2, "warning", Some("network"), 200 * h);
        put(3, "critical", None, 201 * h + 5);
        put(4, "low", Some("backup"), 201 * h + 6);
        put(5, "warning", Some("network"), 300 * h); // after the window
        let buckets = [Span::new(200 * h, 201 * h), Span::new(201 * h, 202 * h)];
        let s = summarize(&store, "custom", chrono_tz::UTC, &buckets).unwrap();
        assert_eq!(s.total, 3);
        assert_eq!((s.buckets[0].warning, s.buckets[0].critical), (1, 0));
        assert_eq!((s.buckets[1].critical, s.buckets[1].low), (1, 1));
        // Ties by name.
        let names: Vec<&str> = s.categories.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["(none)", "backup", "network"]);
        assert!(!s.truncated);
        assert_eq!(s.incidents_total, 0);
    }

    #[test]
    fn incidents_are_counted_per_category_where_they_were_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let incidents = crate::incidents::IncidentStore::open(&store).unwrap();
        let h = 3_600_000_000_000i64;
        let base = 1_780_000_000_000_000_000i64; // 2026
        for (category, at) in [
            ("network", base - 5 * h), // before the window
            ("network", base + 1),
            ("backup", base + h + 2),
            ("network", base + h + 3),
        ] {
            let new = crate::incidents::NewIncident {
                title: "t".into(),
                description: String::new(),
                category: Some(category.into()),
                severity: None,
                source: crate::incidents::Source::Contact,
                alert_ids: vec![],
                host: None,
                occurred_at_ns: None,
                followers: vec![],
            };
            incidents.create(&new, "olga", at).unwrap();
        }
        let buckets = [Span::new(base, base + h), Span::new(base + h, base + 2 * h)];
        let s = summarize(&store, "custom", chrono_tz::UTC, &buckets).unwrap();
        assert_eq!(s.incidents_total, 3);
        assert_eq!(s.incidents[0].categories.get("network"), Some(&1));
        assert_eq!(s.incidents[1].total, 2);
        assert_eq!(
            s.incident_categories,
            vec![("network".to_string(), 2), ("backup".to_string(), 1)]
        );
    }
}
