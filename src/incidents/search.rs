//! Lists of incidents and the knowledge base: a bounded scan newest first with filters, and
//! lowercase word matching over what an incident says (title, description, resolutions,
//! reference, category, host).
//!
//! A scan rather than an index: an appliance keeps thousands of incidents, not millions
//! (old closed ones are archived out, see `archive`), and a scan of 100,000 small JSON
//! records takes well under a second. Every scan stops after [`MAX_SCANNED`] records and
//! every page after its `limit`, so no request reads without bound.

use super::{Incident, IncidentState, IncidentStore};
use crate::store::StoreError;

/// Records read at most per request.
pub const MAX_SCANNED: usize = 100_000;
/// Knowledge-base entries linked from one incident.
pub const MAX_RELATED: usize = 10;

/// Filters of `GET /api/v1/incidents` (and the knowledge base: `knowledge_base_only`).
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Any of these states (all when empty).
    pub states: Vec<IncidentState>,
    /// Exact category (lower case).
    pub category: Option<String>,
    /// Exact host (lower case).
    pub host: Option<String>,
    /// Lower-case words that must all appear in [`Incident::searchable_text`].
    pub words: Vec<String>,
    /// Only closed incidents kept in the knowledge base.
    pub knowledge_base_only: bool,
    /// Opened at or after (Unix ns).
    pub since_ns: Option<i64>,
    /// Opened before (Unix ns).
    pub until_ns: Option<i64>,
    /// Only ids below this (the previous page's cursor).
    pub before_id: Option<u64>,
    pub limit: usize,
}

/// One page and the cursor of the next.
#[derive(Debug)]
pub struct IncidentPage {
    pub incidents: Vec<Incident>,
    pub next_cursor: Option<u64>,
}

/// Splits a search text into lower-case words.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .take(20)
        .map(str::to_lowercase)
        .collect()
}

impl IncidentQuery {
    /// Whether `incident` passes every filter (not the cursor).
    pub fn matches(&self, incident: &Incident) -> bool {
        if !self.states.is_empty() && !self.states.contains(&incident.state) {
            return false;
        }
        if self.knowledge_base_only
            && !(incident.knowledge_base && incident.state == IncidentState::Closed)
        {
            return false;
        }
        if self
            .category
            .as_ref()
            .is_some_and(|c| *c != incident.category)
        {
            return false;
        }
        if self
            .host
            .as_ref()
            .is_some_and(|h| Some(h) != incident.host.as_ref())
        {
            return false;
        }
        if self.since_ns.is_some_and(|t| incident.opened_at_ns < t)
            || self.until_ns.is_some_and(|t| incident.opened_at_ns >= t)
        {
            return false;
        }
        if !self.words.is_empty() {
            let text = incident.searchable_text();
            return self.words.iter().all(|w| text.contains(w.as_str()));
        }
        true
    }

    /// One page, newest first.
    pub fn run(&self, store: &IncidentStore) -> Result<IncidentPage, StoreError> {
        let mut incidents = Vec::new();
        let mut last_scanned = None;
        let mut truncated = false;
        for (scanned, item) in store.newest_first(self.before_id).enumerate() {
            if scanned >= MAX_SCANNED || incidents.len() >= self.limit {
                truncated = true;
                break;
            }
            let incident = item?;
            last_scanned = Some(incident.id);
            // Ids grow with opening time: past `since`, nothing older can match.
            if self.since_ns.is_some_and(|t| incident.opened_at_ns < t) {
                break;
            }
            if self.matches(&incident) {
                incidents.push(incident);
            }
        }
        Ok(IncidentPage {
            incidents,
            next_cursor: if truncated { last_scanned } else { None },
        })
    }
}

/// Knowledge-base entries about the same host or category as `incident` (same host first),
/// newest first, at most [`MAX_RELATED`].
pub fn related(store: &IncidentStore, incident: &Incident) -> Result<Vec<Incident>, StoreError> {
    let mut same_host = Vec::new();
    let mut same_category = Vec::new();
    for (scanned, item) in store.newest_first(None).enumerate() {
        if scanned >= MAX_SCANNED || same_host.len() >= MAX_RELATED {
            break;
        }
        let other = item?;
        if other.id == incident.id || !other.knowledge_base || other.state != IncidentState::Closed
        {
            continue;
        }
        if incident.host.is_some() && other.host == incident.host {
            same_host.push(other);
        } else if other.category == incident.category && same_category.len() < MAX_RELATED {
            same_category.push(other);
        }
    }
    same_host.extend(same_category);
    same_host.truncate(MAX_RELATED);
    Ok(same_host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{NewIncident, Source, lifecycle};
    use crate::store::{Store, StoreOptions};

    const S: i64 = 1_000_000_000;
    const T: i64 = 1_795_392_000 * S;

    fn open(store: &IncidentStore, title: &str, category: &str, host: &str, at: i64) -> Incident {
        store
            .create(
                &NewIncident {
                    title: title.into(),
                    description: format!("about {title}"),
                    category: Some(category.into()),
                    severity: None,
                    source: Source::Contact,
                    alert_ids: Vec::new(),
                    host: Some(host.into()),
                    occurred_at_ns: None,
                    followers: Vec::new(),
                },
                "viv",
                at,
            )
            .unwrap()
    }

    fn close_into_kb(store: &IncidentStore, id: u64, fix: &str) {
        store
            .update(id, |i| -> Result<(), crate::incidents::IncidentError> {
                lifecycle::resolve(i, "otto", fix, true, T + 10 * S)?;
                lifecycle::close(i, "olga", true, None, T + 11 * S)?;
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn knowledge_base_search_and_related_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        let incidents = IncidentStore::open(&store).unwrap();
        let a = open(&incidents, "Fan failure", "hardware", "sw1", T);
        let b = open(&incidents, "Link flapping", "network", "sw1", T + S);
        let c = open(&incidents, "BGP session down", "network", "rt9", T + 2 * S);
        let d = open(&incidents, "Disk full", "system", "db1", T + 3 * S);
        close_into_kb(&incidents, a.id, "Replaced the FAN tray");
        close_into_kb(&incidents, b.id, "Replaced the SFP module");
        let kb = |q: &str| -> Vec<u64> {
            IncidentQuery {
                words: words(q),
                knowledge_base_only: true,
                limit: 100,
                ..IncidentQuery::default()
            }
            .run(&incidents)
            .unwrap()
            .incidents
            .iter()
            .map(|i| i.id)
            .collect()
        };
        assert_eq!(kb("replaced"), [b.id, a.id]);
        assert_eq!(kb("REPLACED sfp"), [b.id]);
        assert_eq!(kb("bgp"), Vec::<u64>::new(), "not in the knowledge base");
        assert_eq!(kb("2026/network"), [b.id]);
        // Related: same host first, then same category.
        let related_ids = |i: &Incident| -> Vec<u64> {
            related(&incidents, i)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        let c = incidents.get(c.id).unwrap().unwrap();
        assert_eq!(related_ids(&c), [b.id]);
        let mut on_sw1 = incidents.get(d.id).unwrap().unwrap();
        on_sw1.host = Some("sw1".into());
        assert_eq!(related_ids(&on_sw1), [b.id, a.id]);
        // Paging and period.
        let page = IncidentQuery {
            limit: 2,
            ..IncidentQuery::default()
        }
        .run(&incidents)
        .unwrap();
        assert_eq!(page.incidents.len(), 2);
        assert_eq!(page.next_cursor, Some(c.id));
        let rest = IncidentQuery {
            limit: 10,
            before_id: page.next_cursor,
            ..IncidentQuery::default()
        }
        .run(&incidents)
        .unwrap();
        assert_eq!(
            rest.incidents.iter().map(|i| i.id).collect::<Vec<_>>(),
            [b.id, a.id]
        );
        let period = IncidentQuery {
            since_ns: Some(T + S),
            until_ns: Some(T + 3 * S),
            limit: 10,
            ..IncidentQuery::default()
        }
        .run(&incidents)
        .unwrap();
        assert_eq!(
            period.incidents.iter().map(|i| i.id).collect::<Vec<_>>(),
            [c.id, b.id]
        );
    }
}
