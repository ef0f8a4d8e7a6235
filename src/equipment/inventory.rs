//! [`Inventory`]: the hosts map behind [`super::Equipment`]'s mutex, its persistence and its
//! queries.
//!
//! The hot path is [`Inventory::observe`]: one hash lookup by `&str` per event, and no
//! allocation for a host already known. Changed sightings are only marked; they are written in
//! one batch (one flush) at most every [`PERSIST_EVERY_NS`], like the alert engine's folds,
//! because under a flood the same hosts change thousands of times a second.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;
use tracing::warn;

use super::{Details, EquipmentError, Host, HostPatch, Sightings};
use crate::event::Event;
use crate::metrics::metrics;
use crate::store::{RecordTree, Store, StoreError};

/// How often changed sightings are written: a crash loses at most this much of the counts.
const PERSIST_EVERY_NS: i64 = 1_000_000_000;

/// One host: what the writer saw and what people said, apart (see the module documentation of
/// `equipment`).
#[derive(Debug, Default)]
struct Entry {
    sightings: Option<Sightings>,
    details: Option<Details>,
    /// Sightings changed since they were last written.
    dirty: bool,
}

/// Where the inventory keeps its halves.
struct Trees {
    /// Host → [`Sightings`] JSON, written by the writer thread in batches.
    sightings: RecordTree,
    /// Host → [`Details`] JSON, written by each edit.
    details: RecordTree,
}

/// The hosts and their state; see the module documentation.
pub struct Inventory {
    hosts: FxHashMap<String, Entry>,
    limit: usize,
    any_dirty: bool,
    written_ns: i64,
    /// Whether the "inventory full" warning was logged (once until there is room again).
    overflow_warned: bool,
    persistence: Option<Trees>,
}

/// Filters and paging of a host list.
#[derive(Debug, Clone, Default)]
pub struct HostQuery {
    /// Case-insensitive substring of the host, its name, type, address, location, zone or
    /// comments.
    pub text: Option<String>,
    /// Exact zone (case-insensitive).
    pub zone: Option<String>,
    /// Only hosts after this (display name, host): the previous page's `next_after`.
    pub after: Option<(String, String)>,
    pub limit: usize,
}

/// One page of hosts, by display name (case-insensitive), then host.
#[derive(Debug)]
pub struct HostPage {
    pub hosts: Vec<Host>,
    /// The (display name, host) to continue after; `None` on the last page.
    pub next_after: Option<(String, String)>,
}

impl Inventory {
    /// An empty inventory without persistence.
    pub fn in_memory(limit: usize) -> Inventory {
        Inventory {
            hosts: FxHashMap::default(),
            limit,
            any_dirty: false,
            written_ns: 0,
            overflow_warned: false,
            persistence: None,
        }
    }

    /// Loads the inventory from the record trees `hosts` and `host_details`.
    pub fn open(store: &Store, limit: usize) -> Result<Inventory, StoreError> {
        let trees = Trees {
            sightings: store.records("hosts")?,
            details: store.records("host_details")?,
        };
        let mut inventory = Inventory::in_memory(limit);
        for (host, bytes) in trees.sightings.list()? {
            match serde_json::from_slice::<Sightings>(&bytes) {
                Ok(sightings) => inventory.entry(host).sightings = Some(sightings),
                Err(error) => warn!(%host, %error, "Unreadable host record skipped."),
            }
        }
        for (host, bytes) in trees.details.list()? {
            match serde_json::from_slice::<Details>(&bytes) {
                Ok(details) => inventory.entry(host).details = Some(details),
                Err(error) => warn!(%host, %error, "Unreadable host details skipped."),
            }
        }
        inventory.persistence = Some(trees);
        Ok(inventory)
    }

    fn entry(&mut self, host: String) -> &mut Entry {
        self.hosts.entry(host).or_default()
    }

    /// How many hosts are known (seen or described).
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no host is known.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Folds one stored event into its host's sightings, discovering the host if it is new and
    /// there is room.
    pub fn observe(&mut self, event: &Event) {
        let host = crate::decode::syslog::truncate(&event.host, super::MAX_HOST_BYTES);
        if host.is_empty() {
            return;
        }
        if let Some(entry) = self.hosts.get_mut(host) {
            match &mut entry.sightings {
                Some(sightings) => sightings.fold(event),
                None => entry.sightings = Some(Sightings::first(event)),
            }
            entry.dirty = true;
            self.any_dirty = true;
            return;
        }
        if self.hosts.len() >= self.limit {
            self.overflow();
            return;
        }
        self.hosts.insert(
            host.to_string(),
            Entry {
                sightings: Some(Sightings::first(event)),
                details: None,
                dirty: true,
            },
        );
        self.any_dirty = true;
    }

    /// An event from a host the full inventory cannot take: counted, warned about once.
    fn overflow(&mut self) {
        metrics().equipment_overflow.inc();
        if !self.overflow_warned {
            self.overflow_warned = true;
            warn!(
                limit = self.limit,
                "Equipment inventory full; events from new hosts are stored but not inventoried."
            );
        }
    }

    /// Writes changed sightings if the last write is at least [`PERSIST_EVERY_NS`] old.
    pub fn persist_if_due(&mut self, now_ns: i64) -> Result<(), StoreError> {
        if !self.any_dirty || now_ns.saturating_sub(self.written_ns) < PERSIST_EVERY_NS {
            return Ok(());
        }
        self.written_ns = now_ns;
        self.persist_sightings()
    }

    /// Writes every changed sighting in one batch (one flush). On failure the changes stay
    /// marked and are tried again next time.
    pub fn persist_sightings(&mut self) -> Result<(), StoreError> {
        if !self.any_dirty {
            return Ok(());
        }
        if let Some(trees) = &self.persistence {
            let puts: Vec<(String, Vec<u8>)> = self
                .hosts
                .iter()
                .filter(|(_, entry)| entry.dirty)
                .filter_map(|(host, entry)| {
                    let bytes = serde_json::to_vec(entry.sightings.as_ref()?).ok()?;
                    Some((host.clone(), bytes))
                })
                .collect();
            trees.sightings.apply_batch(puts, std::iter::empty())?;
        }
        for entry in self.hosts.values_mut() {
            entry.dirty = false;
        }
        self.any_dirty = false;
        Ok(())
    }

    /// A snapshot of one host.
    pub fn host(&self, host: &str) -> Option<Host> {
        self.hosts.get(host).map(|entry| snapshot(host, entry))
    }

    /// Hosts matching `query`, by display name: one pass over the map and a partial sort, so a
    /// page costs O(hosts), not a sort of the whole inventory.
    pub fn list(&self, query: &HostQuery) -> HostPage {
        let text = query.text.as_deref().map(str::to_lowercase);
        let zone = query.zone.as_deref().map(str::to_lowercase);
        let after = query.after.as_ref().map(|(d, h)| (d.as_str(), h.as_str()));
        let mut matching: Vec<(&str, &str, &Entry)> = self
            .hosts
            .iter()
            .map(|(host, entry)| (display_name(host, entry), host.as_str(), entry))
            .filter(|&(display, host, _)| after.is_none_or(|a| order((display, host), a).is_gt()))
            .filter(|&(_, _, entry)| {
                zone.as_deref().is_none_or(|z| {
                    entry
                        .details
                        .as_ref()
                        .and_then(|d| d.zone.as_deref())
                        .is_some_and(|have| have.eq_ignore_ascii_case(z))
                })
            })
            .filter(|&(_, host, entry)| text.as_deref().is_none_or(|t| mentions(host, entry, t)))
            .collect();
        let by_order =
            |a: &(&str, &str, &Entry), b: &(&str, &str, &Entry)| order((a.0, a.1), (b.0, b.1));
        let limit = query.limit.max(1);
        let more = matching.len() > limit;
        if more {
            matching.select_nth_unstable_by(limit, by_order);
            matching.truncate(limit);
        }
        matching.sort_unstable_by(by_order);
        let next_after = if more {
            matching
                .last()
                .map(|(display, host, _)| (display.to_string(), host.to_string()))
        } else {
            None
        };
        HostPage {
            hosts: matching
                .into_iter()
                .map(|(_, host, entry)| snapshot(host, entry))
                .collect(),
            next_after,
        }
    }

    /// Applies a validated patch to `host`'s details (making the host if it is new and there
    /// is room) and writes them before changing the map: when this returns Ok, they are durable.
    pub fn edit(
        &mut self,
        host: &str,
        patch: HostPatch,
        by: &str,
        at_ns: i64,
    ) -> Result<Host, EquipmentError> {
        let existing = self.hosts.get(host);
        if existing.is_none() && self.hosts.len() >= self.limit {
            return Err(EquipmentError::Full { limit: self.limit });
        }
        let mut details = existing.and_then(|e| e.details.clone()).unwrap_or_default();
        patch.apply(&mut details, by, at_ns);
        if let Some(trees) = &self.persistence {
            let bytes = serde_json::to_vec(&details).unwrap_or_default();
            trees.details.put(host, &bytes)?;
        }
        let entry = self.entry(host.to_string());
        entry.details = Some(details);
        Ok(snapshot(host, entry))
    }

    /// Removes a host and both its records; false if it was not known.
    pub fn forget(&mut self, host: &str) -> Result<bool, EquipmentError> {
        if !self.hosts.contains_key(host) {
            return Ok(false);
        }
        if let Some(trees) = &self.persistence {
            trees.sightings.remove(host)?;
            trees.details.remove(host)?;
        }
        self.hosts.remove(host);
        if self.hosts.len() < self.limit {
            self.overflow_warned = false;
        }
        Ok(true)
    }
}

fn snapshot(host: &str, entry: &Entry) -> Host {
    Host {
        host: host.to_string(),
        sightings: entry.sightings.clone(),
        details: entry.details.clone().unwrap_or_default(),
    }
}

fn display_name<'a>(host: &'a str, entry: &'a Entry) -> &'a str {
    entry
        .details
        .as_ref()
        .and_then(|d| d.name.as_deref())
        .unwrap_or(host)
}

/// List order: display name case-insensitively, then as written, then host (a total order, so
/// paging by the last (display name, host) neither repeats nor skips a host).
fn order(a: (&str, &str), b: (&str, &str)) -> Ordering {
    fold_cmp(a.0, b.0)
        .then_with(|| a.0.cmp(b.0))
        .then_with(|| a.1.cmp(b.1))
}

/// Case-insensitive comparison without allocating (iterators of lower-cased characters).
fn fold_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// Whether `needle` (lower case) is in the host name or any of its details.
fn mentions(host: &str, entry: &Entry, needle: &str) -> bool {
    if contains_ci(host, needle) {
        return true;
    }
    let Some(d) = &entry.details else {
        return false;
    };
    [
        &d.name,
        &d.kind,
        &d.address,
        &d.location,
        &d.zone,
        &d.comments,
    ]
    .into_iter()
    .flatten()
    .any(|field| contains_ci(field, needle))
}

/// Case-insensitive substring test; `needle` is already lower case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Level, Transport};
    use crate::store::StoreOptions;

    fn event(host: &str, from: &str, at_ns: i64, level: Level) -> Event {
        let mut event = Event::with_host(
            at_ns,
            format!("{from}:514").parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
            host.to_string(),
        );
        event.level = level;
        event
    }

    fn patch(json: &str) -> HostPatch {
        serde_json::from_str::<HostPatch>(json)
            .unwrap()
            .validated()
            .unwrap()
    }

    fn hosts(page: &HostPage) -> Vec<&str> {
        page.hosts.iter().map(|h| h.host.as_str()).collect()
    }

    #[test]
    fn events_discover_hosts_and_count_per_level() {
        let mut inventory = Inventory::in_memory(10);
        inventory.observe(&event("core-1", "192.0.2.1", 2_000, Level::Warning));
        inventory.observe(&event("core-1", "192.0.2.2", 3_000, Level::Critical));
        // Out of order (a relay's backlog): counted, first seen moves back, source stays.
        inventory.observe(&event("core-1", "192.0.2.3", 1_000, Level::None));
        inventory.observe(&event("edge-1", "192.0.2.9", 5_000, Level::Low));
        let core = inventory.host("core-1").unwrap();
        let seen = core.sightings.unwrap();
        assert_eq!(seen.first_seen_ns, 1_000);
        assert_eq!(seen.last_seen_ns, 3_000);
        assert_eq!(seen.events, 3);
        assert_eq!(seen.events_by_level.of(Level::Critical), 1);
        assert_eq!(seen.events_by_level.of(Level::Warning), 1);
        assert_eq!(seen.events_by_level.of(Level::None), 1);
        assert_eq!(seen.events_by_level.total(), 3);
        assert_eq!(seen.source.to_string(), "192.0.2.2");
        assert_eq!(core.details, Details::default());
        assert_eq!(inventory.len(), 2);
        assert!(inventory.host("nobody").is_none());
    }

    #[test]
    fn a_full_inventory_counts_new_hosts_instead_of_adding_them() {
        let mut inventory = Inventory::in_memory(2);
        let before = metrics().equipment_overflow.get();
        inventory.observe(&event("a", "192.0.2.1", 1, Level::None));
        inventory.observe(&event("b", "192.0.2.1", 1, Level::None));
        inventory.observe(&event("c", "192.0.2.1", 1, Level::None));
        inventory.observe(&event("a", "192.0.2.1", 2, Level::None));
        assert_eq!(inventory.len(), 2);
        assert!(inventory.host("c").is_none());
        assert_eq!(inventory.host("a").unwrap().sightings.unwrap().events, 2);
        assert!(metrics().equipment_overflow.get() > before);
        // Describing a new host is refused too; a known one is fine.
        assert!(matches!(
            inventory.edit("d", patch(r#"{"name":"d"}"#), "op", 1),
            Err(EquipmentError::Full { limit: 2 })
        ));
        assert!(
            inventory
                .edit("a", patch(r#"{"name":"A"}"#), "op", 1)
                .is_ok()
        );
        // Forgetting one makes room.
        assert!(inventory.forget("b").unwrap());
        inventory.observe(&event("c", "192.0.2.1", 3, Level::None));
        assert!(inventory.host("c").is_some());
    }

    #[test]
    fn long_host_names_are_cut() {
        let mut inventory = Inventory::in_memory(10);
        let long = "h".repeat(super::super::MAX_HOST_BYTES + 50);
        inventory.observe(&event(&long, "192.0.2.1", 1, Level::None));
        let page = inventory.list(&HostQuery {
            limit: 10,
            ..Default::default()
        });
        assert_eq!(page.hosts[0].host.len(), super::super::MAX_HOST_BYTES);
        inventory.observe(&event("", "192.0.2.1", 1, Level::None));
        assert_eq!(inventory.len(), 1);
    }

    #[test]
    fn sightings_and_details_survive_a_reopen_and_counters_never_overwrite_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            let mut inventory = Inventory::open(&store, 10).unwrap();
            inventory.observe(&event("core-1", "192.0.2.1", 1_000, Level::Warning));
            inventory
                .edit(
                    "core-1",
                    patch(r#"{"location": "Room 2", "comments": "spare PSU"}"#),
                    "olive",
                    5_000,
                )
                .unwrap();
            // Pre-provisioned: described, never seen.
            inventory
                .edit("db-9", patch(r#"{"type": "server"}"#), "olive", 6_000)
                .unwrap();
            // More events after the edit, then the writer's batch.
            inventory.observe(&event("core-1", "192.0.2.1", 7_000, Level::Critical));
            inventory.persist_if_due(PERSIST_EVERY_NS).unwrap();
            // Not yet due again: this one is only written by persist_sightings (stop).
            inventory.observe(&event("core-1", "192.0.2.1", 8_000, Level::Low));
            inventory.persist_if_due(PERSIST_EVERY_NS + 1).unwrap();
            assert!(inventory.any_dirty);
            inventory.persist_sightings().unwrap();
        }
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        let inventory = Inventory::open(&store, 10).unwrap();
        let core = inventory.host("core-1").unwrap();
        assert_eq!(core.details.location.as_deref(), Some("Room 2"));
        assert_eq!(core.details.comments.as_deref(), Some("spare PSU"));
        assert_eq!(core.details.updated_by.as_deref(), Some("olive"));
        assert_eq!(core.details.updated_at_ns, Some(5_000));
        let seen = core.sightings.unwrap();
        assert_eq!(seen.events, 3);
        assert_eq!(seen.last_seen_ns, 8_000);
        let db = inventory.host("db-9").unwrap();
        assert!(db.sightings.is_none());
        assert_eq!(db.details.kind.as_deref(), Some("server"));
    }

    #[test]
    fn a_described_host_takes_its_first_event_and_forgetting_removes_both_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let mut inventory = Inventory::open(&store, 10).unwrap();
        inventory
            .edit("fw-1", patch(r#"{"zone": "critical"}"#), "mia", 1)
            .unwrap();
        inventory.observe(&event("fw-1", "192.0.2.5", 10, Level::Low));
        inventory.persist_sightings().unwrap();
        let fw = inventory.host("fw-1").unwrap();
        assert_eq!(fw.sightings.unwrap().events, 1);
        assert_eq!(fw.details.zone.as_deref(), Some("critical"));
        // A patch changes only what it names; null clears.
        let fw = inventory
            .edit("fw-1", patch(r#"{"name": "FW 1", "zone": null}"#), "mia", 2)
            .unwrap();
        assert_eq!(fw.details.name.as_deref(), Some("FW 1"));
        assert_eq!(fw.details.zone, None);

        assert!(inventory.forget("fw-1").unwrap());
        assert!(!inventory.forget("fw-1").unwrap());
        assert!(store.records("hosts").unwrap().list().unwrap().is_empty());
        assert!(
            store
                .records("host_details")
                .unwrap()
                .list()
                .unwrap()
                .is_empty()
        );
        // It comes back, without its old details, when it sends again.
        inventory.observe(&event("fw-1", "192.0.2.5", 20, Level::Low));
        let fw = inventory.host("fw-1").unwrap();
        assert_eq!(fw.sightings.unwrap().first_seen_ns, 20);
        assert_eq!(fw.details, Details::default());
    }

    #[test]
    fn lists_go_by_display_name_filter_and_page_without_repeats() {
        let mut inventory = Inventory::in_memory(100);
        for host in ["b-host", "A-host", "c-host", "10.0.0.1", "ümlaut"] {
            inventory.observe(&event(host, "192.0.2.1", 1, Level::None));
        }
        inventory
            .edit(
                "10.0.0.1",
                patch(r#"{"name": "zz-last", "zone": "critical", "location": "Paris DC"}"#),
                "op",
                1,
            )
            .unwrap();
        let query = |text: Option<&str>, zone: Option<&str>, limit| HostQuery {
            text: text.map(str::to_string),
            zone: zone.map(str::to_string),
            after: None,
            limit,
        };
        let all = inventory.list(&query(None, None, 100));
        assert_eq!(
            hosts(&all),
            ["A-host", "b-host", "c-host", "10.0.0.1", "ümlaut"]
        );
        assert!(all.next_after.is_none());

        let mut pages = Vec::new();
        let mut q = query(None, None, 2);
        loop {
            let page = inventory.list(&q);
            pages.extend(hosts(&page).into_iter().map(str::to_string));
            match page.next_after {
                Some(after) => q.after = Some(after),
                None => break,
            }
        }
        assert_eq!(pages, hosts(&all));

        assert_eq!(
            hosts(&inventory.list(&query(Some("paris"), None, 10))),
            ["10.0.0.1"]
        );
        assert_eq!(
            hosts(&inventory.list(&query(Some("B-HO"), None, 10))),
            ["b-host"]
        );
        assert_eq!(
            hosts(&inventory.list(&query(None, Some("Critical"), 10))),
            ["10.0.0.1"]
        );
        assert!(
            inventory
                .list(&query(None, Some("standard"), 10))
                .hosts
                .is_empty()
        );
    }
}
