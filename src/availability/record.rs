//! [`OutageStore`]: outages as records (tree `outages`, one JSON record each), alert-derived
//! and manual side by side.
//!
//! Keys say where an outage comes from: `a<alert id, 20 digits>` for one derived from an
//! alert (so re-deriving it from the same alert overwrites it: every write is idempotent,
//! which is what lets the recorder replay alerts after a restart or an overflow), and
//! `m<creation ns, 20 digits>` for one somebody entered. At most [`MAX_OUTAGES`] are kept;
//! beyond that the outages that ended longest ago go first.

use serde::{Deserialize, Serialize};

use super::AvailabilityError;
use super::intervals::Span;
use crate::event::format_ns;
use crate::store::{RecordTree, Store, StoreError};

/// Outages kept at most (about 200 bytes each): years of a busy network's link flaps.
pub const MAX_OUTAGES: usize = 100_000;
/// Longest reason of a manual outage, in bytes.
pub const MAX_REASON_BYTES: usize = 2_000;
/// Longest host or service name of a manual outage, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Where an outage comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum Origin {
    /// An alert of a rule with `availability = true` (its life decides the span).
    Alert { alert_id: u64, rule: String },
    /// Entered through the API: who, why, when.
    Manual {
        by: String,
        reason: String,
        created_ns: i64,
    },
}

/// A time a host (and one of its services) was unavailable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The record key (`a…` or `m…`).
    pub id: String,
    pub host: String,
    /// What was down: the alert's dedup key (e.g. `r1/if/3`), or what the person entered.
    pub service: String,
    pub start_ns: i64,
    /// `None` while it lasts.
    pub end_ns: Option<i64>,
    #[serde(flatten)]
    pub origin: Origin,
}

impl Outage {
    /// Its span, an ongoing one ending at `now_ns`.
    pub fn span(&self, now_ns: i64) -> Span {
        Span::new(
            self.start_ns,
            self.end_ns.unwrap_or(now_ns).max(self.start_ns),
        )
    }

    /// The API form.
    pub fn to_json(&self, now_ns: i64) -> OutageJson {
        let (source, alert_id, rule, by, reason) = match &self.origin {
            Origin::Alert { alert_id, rule } => {
                ("alert", Some(*alert_id), Some(rule.clone()), None, None)
            }
            Origin::Manual { by, reason, .. } => {
                ("manual", None, None, Some(by.clone()), Some(reason.clone()))
            }
        };
        OutageJson {
            id: self.id.clone(),
            host: self.host.clone(),
            service: self.service.clone(),
            start: format_ns(self.start_ns),
            end: self.end_ns.map(format_ns),
            duration_seconds: self.span(now_ns).len_ns() as f64 / 1e9,
            source,
            alert_id,
            rule,
            by,
            reason,
        }
    }
}

/// An outage in the API (`GET /api/v1/outages`, the reports' `outages`).
#[derive(Debug, Clone, Serialize)]
pub struct OutageJson {
    pub id: String,
    pub host: String,
    pub service: String,
    pub start: String,
    /// `null` while it lasts.
    pub end: Option<String>,
    /// Up to now for an ongoing outage.
    pub duration_seconds: f64,
    /// `alert` or `manual`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A manual outage to record.
#[derive(Debug, Clone)]
pub struct ManualOutage {
    pub host: String,
    /// Defaults to `manual` when blank.
    pub service: Option<String>,
    pub start_ns: i64,
    pub end_ns: Option<i64>,
    pub reason: String,
}

/// The record key of the outage derived from alert `id`.
pub fn alert_key(alert_id: u64) -> String {
    format!("a{alert_id:020}")
}

/// Outages in the store; cheap to clone (a record-tree handle).
#[derive(Clone)]
pub struct OutageStore {
    tree: RecordTree,
}

impl OutageStore {
    /// Opens (creates) the tree `outages`.
    pub fn open(store: &Store) -> Result<OutageStore, StoreError> {
        Ok(OutageStore {
            tree: store.records("outages")?,
        })
    }

    /// Every outage (at most [`MAX_OUTAGES`] plus what arrived since the last prune);
    /// unreadable records are skipped.
    pub fn all(&self) -> Result<Vec<Outage>, StoreError> {
        Ok(self
            .tree
            .list()?
            .into_iter()
            .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
            .collect())
    }

    /// Outages with some time inside `window` (ongoing ones last until `now_ns`), by start.
    pub fn overlapping(&self, window: Span, now_ns: i64) -> Result<Vec<Outage>, StoreError> {
        let mut outages: Vec<Outage> = self
            .all()?
            .into_iter()
            .filter(|o| o.span(now_ns).clip(window).is_some())
            .collect();
        outages.sort_by(|a, b| (a.start_ns, &a.id).cmp(&(b.start_ns, &b.id)));
        Ok(outages)
    }

    /// One outage by id.
    pub fn get(&self, id: &str) -> Result<Option<Outage>, StoreError> {
        Ok(self
            .tree
            .get(id)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Writes `outages` (replacing those with the same ids) with one flush.
    pub fn put_all(&self, outages: &[Outage]) -> Result<(), StoreError> {
        if outages.is_empty() {
            return Ok(());
        }
        let puts = outages
            .iter()
            .map(|o| (o.id.clone(), serde_json::to_vec(o).unwrap_or_default()));
        self.tree.apply_batch(puts, std::iter::empty())
    }

    /// Records a manual outage entered by `by` at `now_ns`.
    pub fn add_manual(
        &self,
        entry: ManualOutage,
        by: &str,
        now_ns: i64,
    ) -> Result<Outage, AvailabilityError> {
        let host = entry.host.trim().to_string();
        let service = entry
            .service
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "manual".into());
        let reason = entry.reason.trim().to_string();
        let invalid = |why: &str| Err(AvailabilityError::Invalid(why.to_string()));
        if host.is_empty() || host.len() > MAX_NAME_BYTES || service.len() > MAX_NAME_BYTES {
            return invalid("host must be 1 to 255 bytes, service at most 255");
        }
        if reason.is_empty() || reason.len() > MAX_REASON_BYTES {
            return invalid("reason must be 1 to 2000 bytes: say why");
        }
        if entry.start_ns < 0 || entry.end_ns.is_some_and(|end| end <= entry.start_ns) {
            return invalid("end must come after start");
        }
        if entry.start_ns > now_ns {
            return invalid("start must not be in the future");
        }
        let mut created_ns = now_ns;
        while self.tree.get(&manual_key(created_ns))?.is_some() {
            created_ns += 1;
        }
        let outage = Outage {
            id: manual_key(created_ns),
            host,
            service,
            start_ns: entry.start_ns,
            end_ns: entry.end_ns,
            origin: Origin::Manual {
                by: by.to_string(),
                reason,
                created_ns,
            },
        };
        self.put_all(std::slice::from_ref(&outage))?;
        Ok(outage)
    }

    /// Removes the manual outage `id`. Alert-derived outages cannot be removed: the alert's
    /// life is the record (clearing or archiving the alert ends its outage).
    pub fn remove_manual(&self, id: &str) -> Result<Outage, AvailabilityError> {
        let outage = self.get(id)?.ok_or(AvailabilityError::NotFound)?;
        if !matches!(outage.origin, Origin::Manual { .. }) {
            return Err(AvailabilityError::NotManual);
        }
        self.tree.remove(id)?;
        Ok(outage)
    }

    /// Keeps the newest [`MAX_OUTAGES`]: ongoing ones always, then by end, newest first.
    pub fn prune(&self) -> Result<usize, StoreError> {
        let mut outages = self.all()?;
        if outages.len() <= MAX_OUTAGES {
            return Ok(0);
        }
        outages.sort_by_key(|o| std::cmp::Reverse(o.end_ns.unwrap_or(i64::MAX)));
        let removed: Vec<String> = outages.drain(MAX_OUTAGES..).map(|o| o.id).collect();
        let count = removed.len();
        self.tree.apply_batch(std::iter::empty(), removed)?;
        Ok(count)
    }
}

fn manual_key(created_ns: i64) -> String {
    format!("m{created_ns:020}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn manual_outages_are_validated_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let outages = OutageStore::open(&store).unwrap();
        let entry = |start, end, reason: &str| ManualOutage {
            host: "db1".into(),
            service: None,
            start_ns: start,
            end_ns: end,
            reason: reason.into(),
        };
        assert!(
            outages
                .add_manual(entry(10, Some(5), "x"), "op", 100)
                .is_err()
        );
        assert!(
            outages
                .add_manual(entry(10, Some(20), " "), "op", 100)
                .is_err()
        );
        assert!(
            outages
                .add_manual(entry(200, None, "x"), "op", 100)
                .is_err()
        );
        let a = outages
            .add_manual(entry(10, Some(20), "power cut"), "op", 100)
            .unwrap();
        let b = outages
            .add_manual(entry(30, None, "disk"), "op", 100)
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.service, "manual");
        let inside = outages.overlapping(Span::new(15, 25), 50).unwrap();
        assert_eq!(inside, vec![a.clone()]);
        // Ongoing: counts up to now.
        assert_eq!(
            outages.overlapping(Span::new(40, 60), 50).unwrap(),
            vec![b.clone()]
        );
        assert!(
            outages
                .overlapping(Span::new(60, 70), 50)
                .unwrap()
                .is_empty()
        );
        assert_eq!(outages.remove_manual(&a.id).unwrap(), a);
        assert!(matches!(
            outages.remove_manual(&a.id),
            Err(AvailabilityError::NotFound)
        ));
        let derived = Outage {
            id: alert_key(7),
            host: "r1".into(),
            service: "r1/if/3".into(),
            start_ns: 1,
            end_ns: None,
            origin: Origin::Alert {
                alert_id: 7,
                rule: "snmp-link-down".into(),
            },
        };
        outages.put_all(std::slice::from_ref(&derived)).unwrap();
        assert!(matches!(
            outages.remove_manual(&derived.id),
            Err(AvailabilityError::NotManual)
        ));
        let json = serde_json::to_value(derived.to_json(2_000_000_001)).unwrap();
        assert_eq!(json["source"], "alert");
        assert_eq!(json["end"], serde_json::Value::Null);
        assert_eq!(json["duration_seconds"], 2.0);
    }
}
