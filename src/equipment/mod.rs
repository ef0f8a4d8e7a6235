//! Equipment: the inventory of hosts trapline has heard from, and what operators say about them.
//!
//! Every host an event names is discovered on the store writer thread
//! ([`Equipment::observe`], called by `pipeline::RuleStage` once the chunk's events have ids):
//! first and last seen (receive time), event counts in total and per level, and the last
//! sender's address — the [`Sightings`]. People add the descriptive [`Details`] through the API:
//! display name, type, address, location, criticality zone and comments, with who changed them
//! last and when.
//!
//! The two halves are kept apart on purpose. The writer only ever touches sightings and the API
//! only ever touches details, in memory (one [`Inventory`] entry holds both, behind one mutex)
//! and on disk (record trees `hosts` for sightings, written in batches at most once a second,
//! and `host_details` for details, written when they change): a flood of events can never
//! overwrite an edit, and an edit never waits for the writer's cadence to be durable.
//!
//! Sightings count an event as soon as the writer has given it an id, up to a block's age
//! (~100 ms) before an events query can return it; a crash loses at most the last second of
//! counts.
//!
//! A host may be described before it is ever seen (pre-provisioning the inventory); it then has
//! details and no sightings until its first event. Forgetting a host ([`Equipment::forget`])
//! removes both halves; if it sends again it is discovered afresh.
//!
//! Host names come from the network, so they are untrusted: the inventory holds at most
//! [`MAX_HOSTS`] hosts (events from further hosts are stored as usual but not inventoried, and
//! counted in `trapline_equipment_overflow_total`), a name longer than [`MAX_HOST_BYTES`] is
//! cut, and the web layer escapes whatever it shows. Nothing here knows HTTP or sled.

mod inventory;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Deserializer, Serialize};

pub use inventory::{HostPage, HostQuery, Inventory};

use crate::event::{Event, Level};
use crate::store::{Store, StoreError};

/// Most hosts the inventory holds (discovered and pre-provisioned together): enough for any
/// network one appliance watches, small enough (tens of MB) that a sender inventing host names
/// cannot exhaust memory.
pub const MAX_HOSTS: usize = 100_000;

/// Longest host name kept, in bytes: the syslog decoder's bound, applied again here because
/// traps and raw events take their host from elsewhere.
pub const MAX_HOST_BYTES: usize = crate::decode::syslog::MAX_HOST_BYTES;

/// Longest one-line detail (name, type, address, location), in characters.
pub const MAX_FIELD_CHARS: usize = 200;
/// Longest zone name, in characters (a label, like "critical" or "backbone").
pub const MAX_ZONE_CHARS: usize = 64;
/// Longest comments, in characters.
pub const MAX_COMMENTS_CHARS: usize = 4000;

/// What went wrong with an inventory operation.
#[derive(Debug, thiserror::Error)]
pub enum EquipmentError {
    /// A detail or host name that breaks a bound or holds control characters.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A new host would go beyond [`MAX_HOSTS`].
    #[error("the inventory already holds its maximum of {limit} hosts")]
    Full { limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts per level, in the order of [`Level::ALL`] (none, low, warning, critical).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelCounts(pub [u64; 4]);

impl LevelCounts {
    /// The count of `level`.
    pub fn of(&self, level: Level) -> u64 {
        self.0[level.code() as usize]
    }

    /// Adds one for `level`.
    pub fn add(&mut self, level: Level) {
        self.0[level.code() as usize] += 1;
    }

    /// The sum over all levels.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// What the writer learned about a host from its events (receive times, Unix nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sightings {
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub events: u64,
    pub events_by_level: LevelCounts,
    /// The sender of the latest event (a relay, or the device itself).
    pub source: IpAddr,
}

impl Sightings {
    /// The sightings of a host's first event.
    fn first(event: &Event) -> Sightings {
        let mut events_by_level = LevelCounts::default();
        events_by_level.add(event.level);
        Sightings {
            first_seen_ns: event.received_at_ns,
            last_seen_ns: event.received_at_ns,
            events: 1,
            events_by_level,
            source: event.source.ip(),
        }
    }

    /// Adds one more event of this host.
    fn fold(&mut self, event: &Event) {
        let at = event.received_at_ns;
        self.events += 1;
        self.events_by_level.add(event.level);
        self.first_seen_ns = self.first_seen_ns.min(at);
        if at >= self.last_seen_ns {
            self.last_seen_ns = at;
            self.source = event.source.ip();
        }
    }
}

/// What people say about a host; every field is optional (`None`: not set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Display name (the host name when unset).
    pub name: Option<String>,
    /// Free text: router, switch, firewall, server…
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Management address, as people write it (an IP address or a DNS name).
    pub address: Option<String>,
    pub location: Option<String>,
    /// Criticality zone, stored in lower case ("critical" for the origin design's critical zone:
    /// backbone, WAN; "standard", or a site's own labels). Only managers set it.
    pub zone: Option<String>,
    pub comments: Option<String>,
    /// Who changed the details last, and when (Unix nanoseconds).
    pub updated_by: Option<String>,
    pub updated_at_ns: Option<i64>,
}

/// A change to [`Details`]: a field that is absent stays as it is, `null` (`Some(None)`) clears
/// it, a value sets it. Also the body of `PATCH /api/v1/hosts/{host}` (unknown fields refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPatch {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", rename = "type")]
    pub kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub comments: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`, via `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl HostPatch {
    /// Whether the patch touches the zone (which needs `AdministerEquipment`).
    pub fn sets_zone(&self) -> bool {
        self.zone.is_some()
    }

    /// Whether the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == HostPatch::default()
    }

    /// Checks every bound and trims values; a blank value clears the field like `null`.
    pub fn validated(self) -> Result<HostPatch, EquipmentError> {
        Ok(HostPatch {
            name: one_line("name", self.name, MAX_FIELD_CHARS)?,
            kind: one_line("type", self.kind, MAX_FIELD_CHARS)?,
            address: one_line("address", self.address, MAX_FIELD_CHARS)?,
            location: one_line("location", self.location, MAX_FIELD_CHARS)?,
            zone: one_line("zone", self.zone, MAX_ZONE_CHARS)?
                .map(|zone| zone.map(|z| z.to_lowercase())),
            comments: text("comments", self.comments, MAX_COMMENTS_CHARS)?,
        })
    }

    /// Applies a validated patch to `details`, recording who and when.
    fn apply(self, details: &mut Details, by: &str, at_ns: i64) {
        let set = |field: &mut Option<String>, change: Option<Option<String>>| {
            if let Some(value) = change {
                *field = value;
            }
        };
        set(&mut details.name, self.name);
        set(&mut details.kind, self.kind);
        set(&mut details.address, self.address);
        set(&mut details.location, self.location);
        set(&mut details.zone, self.zone);
        set(&mut details.comments, self.comments);
        details.updated_by = Some(by.to_string());
        details.updated_at_ns = Some(at_ns);
    }
}

/// A one-line field: trimmed, at most `max` characters, no control characters.
fn one_line(
    field: &'static str,
    change: Option<Option<String>>,
    max: usize,
) -> Result<Option<Option<String>>, EquipmentError> {
    let change = text(field, change, max)?;
    if let Some(Some(value)) = &change
        && value.contains(['\n', '\r', '\t'])
    {
        return Err(EquipmentError::Invalid {
            field,
            reason: "one line, without tabs".into(),
        });
    }
    Ok(change)
}

/// A text field: trimmed (blank clears), at most `max` characters, no control characters but
/// line breaks and tabs.
fn text(
    field: &'static str,
    change: Option<Option<String>>,
    max: usize,
) -> Result<Option<Option<String>>, EquipmentError> {
    let Some(value) = change else {
        return Ok(None);
    };
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(Some(None));
    };
    if value.chars().count() > max {
        return Err(EquipmentError::Invalid {
            field,
            reason: format!("at most {max} characters"),
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(EquipmentError::Invalid {
            field,
            reason: "no control characters".into(),
        });
    }
    Ok(Some(Some(value)))
}

/// Checks a host name given by a person (pre-provisioning): what an event could carry.
pub fn validate_host(host: &str) -> Result<(), EquipmentError> {
    let invalid = |reason: &str| EquipmentError::Invalid {
        field: "host",
        reason: reason.to_string(),
    };
    if host.is_empty() || host.trim() != host {
        return Err(invalid("not empty, no leading or trailing spaces"));
    }
    if host.len() > MAX_HOST_BYTES {
        return Err(invalid(&format!("at most {MAX_HOST_BYTES} bytes")));
    }
    if host.chars().any(char::is_control) {
        return Err(invalid("no control characters"));
    }
    Ok(())
}

/// One host as the inventory knows it (a snapshot; the inventory goes on changing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub host: String,
    /// `None` for a host described before any event from it arrived.
    pub sightings: Option<Sightings>,
    pub details: Details,
}

impl Host {
    /// The name people see: the display name, else the host name.
    pub fn display_name(&self) -> &str {
        self.details.name.as_deref().unwrap_or(&self.host)
    }
}

/// The inventory shared by the writer thread and the web layer; cheap to clone.
///
/// The writer takes the lock once per chunk and once per persistence tick; the web layer takes
/// it for each request. Every method takes and releases it itself.
#[derive(Clone)]
pub struct Equipment {
    inner: Arc<Mutex<Inventory>>,
}

impl Equipment {
    /// The inventory over the store's record trees `hosts` and `host_details`, loaded.
    pub fn open(store: &Store) -> Result<Equipment, StoreError> {
        Ok(Equipment::from(Inventory::open(store, MAX_HOSTS)?))
    }

    /// An inventory without persistence (tests).
    pub fn in_memory(limit: usize) -> Equipment {
        Equipment::from(Inventory::in_memory(limit))
    }

    fn lock(&self) -> MutexGuard<'_, Inventory> {
        // A panic elsewhere leaves the maps consistent (every change is one insert or update).
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Folds stored events (ids assigned) into their hosts' sightings.
    pub fn observe(&self, events: &[Event]) {
        let mut inventory = self.lock();
        for event in events {
            inventory.observe(event);
        }
    }

    /// Writes changed sightings if the last write is at least a second old.
    pub fn persist_if_due(&self, now_ns: i64) -> Result<(), StoreError> {
        self.lock().persist_if_due(now_ns)
    }

    /// Writes every changed sighting now (graceful stop).
    pub fn persist_all(&self) -> Result<(), StoreError> {
        self.lock().persist_sightings()
    }

    /// One host, if known.
    pub fn host(&self, host: &str) -> Option<Host> {
        self.lock().host(host)
    }

    /// A page of hosts, by display name.
    pub fn list(&self, query: &HostQuery) -> HostPage {
        self.lock().list(query)
    }

    /// Changes a host's details (making the host if it is not known yet); the patch must be
    /// [`HostPatch::validated`]. Durable when this returns.
    pub fn edit(
        &self,
        host: &str,
        patch: HostPatch,
        by: &str,
        at_ns: i64,
    ) -> Result<Host, EquipmentError> {
        validate_host(host)?;
        self.lock().edit(host, patch, by, at_ns)
    }

    /// Forgets a host (sightings and details); false if it was not known.
    pub fn forget(&self, host: &str) -> Result<bool, EquipmentError> {
        self.lock().forget(host)
    }

    /// How many hosts the inventory holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the inventory is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Inventory> for Equipment {
    fn from(inventory: Inventory) -> Equipment {
        Equipment {
            inner: Arc::new(Mutex::new(inventory)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> Result<HostPatch, String> {
        serde_json::from_str::<HostPatch>(json)
            .map_err(|e| e.to_string())
            .and_then(|p| p.validated().map_err(|e| e.to_string()))
    }

    #[test]
    fn patches_tell_absent_from_null_and_check_bounds() {
        let p = patch(r#"{"name": " core-1 ", "location": null, "zone": "Critical"}"#).unwrap();
        assert_eq!(p.name, Some(Some("core-1".into())));
        assert_eq!(p.location, Some(None));
        assert_eq!(p.zone, Some(Some("critical".into())));
        assert_eq!(p.kind, None);
        assert!(p.sets_zone());
        // Blank clears like null.
        assert_eq!(patch(r#"{"type": "  "}"#).unwrap().kind, Some(None));
        assert!(patch("{}").unwrap().is_empty());

        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert!(
            patch(&format!(r#"{{"name": "{long}"}}"#))
                .unwrap_err()
                .contains("name: at most 200")
        );
        let comments = "y".repeat(MAX_COMMENTS_CHARS);
        assert!(patch(&format!(r#"{{"comments": "{comments}"}}"#)).is_ok());
        assert!(patch(&format!(r#"{{"comments": "{comments}z"}}"#)).is_err());
        assert!(patch(r#"{"comments": "two\nlines"}"#).is_ok());
        assert!(patch(r#"{"location": "two\nlines"}"#).is_err());
        assert!(patch(r#"{"name": "bell\u0007"}"#).is_err());
        assert!(
            patch(r#"{"colour": "red"}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(patch(r#"{"name": 5}"#).is_err());
    }

    #[test]
    fn host_names_from_people_are_checked() {
        assert!(validate_host("core-1.example.net").is_ok());
        assert!(validate_host("2001:db8::1").is_ok());
        for bad in ["", " padded", "a\u{0}b", "line\nbreak"] {
            assert!(validate_host(bad).is_err(), "{bad:?}");
        }
        assert!(validate_host(&"h".repeat(MAX_HOST_BYTES + 1)).is_err());
    }
}
