//! [`IncidentStore`]: incidents in the record tree `incidents` (key = zero-padded id, value =
//! JSON) and their numbering in `incident_counters`.
//!
//! Numbering: `next_id` is the next id; `YEAR/CATEGORY` the last `N` given in that year and
//! category. Both are written (one batch, flushed) before the incident itself, so a crash in
//! between skips a number and never gives one twice; ids are never reused, even after old
//! incidents are archived out of the tree. Every change goes through [`IncidentStore::update`]
//! under one mutex (read, change, write), so two people acting at once cannot lose a change:
//! incidents are written by people, a few a minute, so one lock is plenty. The mutex is the
//! process's (a static), so the web's store and retention's archiving (each its own
//! `IncidentStore` over the same trees) never interleave: one process has one store.

use std::sync::{Mutex, MutexGuard};

use super::lifecycle::{self, LifecycleError, NewIncident};
use super::{Incident, record_key};
use crate::store::{RecordTree, Store, StoreError};

/// Why an incident operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("no incident {0}")]
    NotFound(u64),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("stored incident {key:?} is unreadable: {detail}")]
    BadRecord { key: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// See the module documentation; cheap to share behind an `Arc`.
pub struct IncidentStore {
    incidents: RecordTree,
    counters: RecordTree,
}

/// Held while an incident is numbered, changed or archived.
static WRITING: Mutex<()> = Mutex::new(());

const NEXT_ID: &str = "next_id";

impl IncidentStore {
    /// Opens (creates) the record trees of `store`.
    pub fn open(store: &Store) -> Result<IncidentStore, StoreError> {
        Ok(IncidentStore {
            incidents: store.records("incidents")?,
            counters: store.records("incident_counters")?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        WRITING.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counter(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self
            .counters
            .get(key)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0))
    }

    /// Opens a new incident by `by` at `now_ns`: numbered, written, returned.
    pub fn create(
        &self,
        new: &NewIncident,
        by: &str,
        now_ns: i64,
    ) -> Result<Incident, IncidentError> {
        let checked = lifecycle::validate_new(new)?;
        let category = checked
            .category
            .clone()
            .unwrap_or_else(|| lifecycle::DEFAULT_CATEGORY.into());
        let year = lifecycle::year_of(now_ns);
        let _guard = self.lock();
        let newest = match self.incidents.iter_rev(None).next() {
            Some(item) => item?.0.parse::<u64>().unwrap_or(0),
            None => 0,
        };
        let id = self.counter(NEXT_ID)?.max(newest + 1).max(1);
        let series = format!("{year}/{}", category.to_uppercase());
        let n = self.counter(&series)? + 1;
        self.counters.apply_batch(
            [
                (NEXT_ID.to_string(), (id + 1).to_string().into_bytes()),
                (series, n.to_string().into_bytes()),
            ],
            [],
        )?;
        let incident = lifecycle::open(
            &checked,
            id,
            lifecycle::reference(year, &category, n),
            by,
            now_ns,
        )?;
        self.write(&incident)?;
        tracing::info!(id, reference = %incident.reference, by, "Incident opened.");
        Ok(incident)
    }

    fn write(&self, incident: &Incident) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(incident).unwrap_or_default();
        self.incidents.put(&record_key(incident.id), &bytes)
    }

    /// Incident `id`, if stored.
    pub fn get(&self, id: u64) -> Result<Option<Incident>, IncidentError> {
        let key = record_key(id);
        self.incidents
            .get(&key)?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    /// Reads incident `id`, lets `change` check and change it, and writes it back — all under
    /// the store's lock. An error from `change` writes nothing.
    pub fn update<E: From<IncidentError>>(
        &self,
        id: u64,
        change: impl FnOnce(&mut Incident) -> Result<(), E>,
    ) -> Result<Incident, E> {
        let _guard = self.lock();
        let mut incident = self.get(id)?.ok_or(IncidentError::NotFound(id))?;
        change(&mut incident)?;
        self.write(&incident).map_err(IncidentError::from)?;
        Ok(incident)
    }

    /// Incidents newest first, starting below id `before` (all when `None`); unreadable
    /// records are skipped with a warning.
    pub fn newest_first(
        &self,
        before: Option<u64>,
    ) -> impl Iterator<Item = Result<Incident, StoreError>> + use<> {
        let before = before.map(record_key);
        self.incidents
            .iter_rev(before.as_deref())
            .filter_map(|item| match item {
                Ok((key, bytes)) => match decode(&key, &bytes) {
                    Ok(incident) => Some(Ok(incident)),
                    Err(error) => {
                        tracing::warn!(%error, "Unreadable incident skipped.");
                        None
                    }
                },
                Err(error) => Some(Err(error)),
            })
    }

    /// Removes incidents (one batch, flushed): the archive's last step.
    pub fn remove(&self, ids: &[u64]) -> Result<(), StoreError> {
        let _guard = self.lock();
        self.incidents
            .apply_batch([], ids.iter().map(|id| record_key(*id)))
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<Incident, IncidentError> {
    serde_json::from_slice(bytes).map_err(|e| IncidentError::BadRecord {
        key: format!("incidents/{key}"),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::Source;
    use crate::store::StoreOptions;

    const S: i64 = 1_000_000_000;
    /// 2025-12-31T23:59:59Z.
    const NEW_YEARS_EVE: i64 = 1_767_225_599 * S;

    fn new(category: Option<&str>) -> NewIncident {
        NewIncident {
            title: "t".into(),
            description: String::new(),
            category: category.map(str::to_string),
            severity: None,
            source: Source::Visual,
            alert_ids: Vec::new(),
            host: None,
            occurred_at_ns: None,
            followers: Vec::new(),
        }
    }

    #[test]
    fn references_count_per_year_and_category_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let refs = {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            let incidents = IncidentStore::open(&store).unwrap();
            let mut refs = Vec::new();
            for (category, at) in [
                (Some("network"), NEW_YEARS_EVE - S),
                (Some("Network"), NEW_YEARS_EVE),
                (Some("backup"), NEW_YEARS_EVE),
                (Some("network"), NEW_YEARS_EVE + S), // a new year: numbering starts again
                (None, NEW_YEARS_EVE + S),
            ] {
                let i = incidents.create(&new(category), "viv", at).unwrap();
                refs.push((i.id, i.reference));
            }
            // The newest goes (archived): its id is not given again.
            incidents.remove(&[5]).unwrap();
            refs
        };
        assert_eq!(
            refs,
            [
                (1, "2025/NETWORK/1".to_string()),
                (2, "2025/NETWORK/2".to_string()),
                (3, "2025/BACKUP/1".to_string()),
                (4, "2026/NETWORK/1".to_string()),
                (5, "2026/GENERAL/1".to_string()),
            ]
        );
        // Numbering survives a restart.
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        let incidents = IncidentStore::open(&store).unwrap();
        let next = incidents
            .create(&new(Some("network")), "viv", NEW_YEARS_EVE + 2 * S)
            .unwrap();
        assert_eq!((next.id, next.reference.as_str()), (6, "2026/NETWORK/2"));
        let ids: Vec<u64> = incidents
            .newest_first(None)
            .map(|i| i.unwrap().id)
            .collect();
        assert_eq!(ids, [6, 4, 3, 2, 1]);
        // A refused change writes nothing; an accepted one is durable.
        let refused: Result<Incident, IncidentError> = incidents.update(6, |i| {
            i.title = "changed".into();
            Err(LifecycleError::Invalid {
                field: "x",
                reason: "no".into(),
            }
            .into())
        });
        assert!(refused.is_err());
        assert_eq!(incidents.get(6).unwrap().unwrap().title, "t");
        let missing: Result<Incident, IncidentError> = incidents.update(99, |_| Ok(()));
        assert!(matches!(missing, Err(IncidentError::NotFound(99))));
        // An invalid new incident takes no number.
        assert!(
            incidents
                .create(&new(Some("a b")), "viv", NEW_YEARS_EVE + 3 * S)
                .is_err()
        );
        let after = incidents
            .create(&new(Some("network")), "viv", NEW_YEARS_EVE + 4 * S)
            .unwrap();
        assert_eq!((after.id, after.reference.as_str()), (7, "2026/NETWORK/3"));
    }
}
