//! Archiving: closed incidents older than a cut-off leave the store for
//! `DATA/archive/incidents-YYYY.jsonl` (one JSON record a line, the year of the reference),
//! so the store does not grow for ever and nothing is lost.
//!
//! Order: the lines are appended and synced first, then the incidents removed (one batch).
//! A crash between the two leaves an incident in both places, and the next run appends it
//! again: the file may repeat a record (same id), never miss one. Incidents kept in the
//! knowledge base stay in the store (they are what people search). At most
//! [`MAX_PER_RUN`] incidents per run, so one run never holds the store's lock for long.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{Incident, IncidentError, IncidentState, IncidentStore, lifecycle};

/// Most incidents archived by one run.
pub const MAX_PER_RUN: usize = 10_000;

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    pub archived: usize,
    /// The files written to.
    pub files: Vec<String>,
}

/// Whether `incident` goes to the archive when closed before `closed_before_ns`.
pub fn archivable(incident: &Incident, closed_before_ns: i64) -> bool {
    incident.state == IncidentState::Closed
        && !incident.knowledge_base
        && incident.closed_at_ns.is_some_and(|t| t < closed_before_ns)
}

/// Moves the archivable incidents (see [`archivable`]) to `dir` (created when missing).
pub fn run(
    store: &IncidentStore,
    dir: &Path,
    closed_before_ns: i64,
) -> Result<ArchiveReport, IncidentError> {
    let mut by_year: BTreeMap<i32, Vec<Incident>> = BTreeMap::new();
    let mut count = 0;
    for item in store.newest_first(None) {
        let incident = item?;
        if !archivable(&incident, closed_before_ns) {
            continue;
        }
        by_year
            .entry(lifecycle::year_of(incident.opened_at_ns))
            .or_default()
            .push(incident);
        count += 1;
        if count >= MAX_PER_RUN {
            break;
        }
    }
    let mut report = ArchiveReport::default();
    if count == 0 {
        return Ok(report);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IncidentError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (year, mut incidents) in by_year {
        incidents.reverse(); // oldest first in the file
        let path = dir.join(format!("incidents-{year}.jsonl"));
        let mut lines = String::new();
        for incident in &incidents {
            lines.push_str(&serde_json::to_string(&incident.to_json()).unwrap_or_default());
            lines.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(lines.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        let ids: Vec<u64> = incidents.iter().map(|i| i.id).collect();
        store.remove(&ids)?;
        report.archived += ids.len();
        report.files.push(path.display().to_string());
    }
    tracing::info!(archived = report.archived, files = ?report.files, "Old closed incidents archived.");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{NewIncident, Source};
    use crate::store::{Store, StoreOptions};

    const S: i64 = 1_000_000_000;
    const DAY: i64 = 86_400 * S;
    /// 2025-06-01T00:00:00Z.
    const T: i64 = 1_748_736_000 * S;

    #[test]
    fn old_closed_incidents_go_to_a_yearly_file_and_leave_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let incidents = IncidentStore::open(&store).unwrap();
        let mut ids = Vec::new();
        for (n, kb) in [(0, false), (1, true), (2, false), (3, false)] {
            let i = incidents
                .create(
                    &NewIncident {
                        title: format!("incident {n}"),
                        description: String::new(),
                        category: None,
                        severity: None,
                        source: Source::Contact,
                        alert_ids: Vec::new(),
                        host: None,
                        occurred_at_ns: None,
                        followers: Vec::new(),
                    },
                    "viv",
                    T + n * DAY,
                )
                .unwrap();
            if n < 3 {
                incidents
                    .update(i.id, |i| -> Result<(), IncidentError> {
                        lifecycle::resolve(i, "otto", "fixed", true, T + n * DAY)?;
                        lifecycle::close(i, "olga", kb, None, T + n * DAY)?;
                        Ok(())
                    })
                    .unwrap();
            }
            ids.push(i.id);
        }
        let archive = dir.path().join("archive");
        // Closed before day 1.5: incident 0 (incident 1 is in the knowledge base, 2 too
        // recent, 3 still open).
        let report = run(&incidents, &archive, T + DAY + DAY / 2).unwrap();
        assert_eq!(report.archived, 1);
        let file = archive.join("incidents-2025.jsonl");
        let text = std::fs::read_to_string(&file).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["id"], ids[0]);
        assert_eq!(records[0]["state"], "closed");
        assert!(incidents.get(ids[0]).unwrap().is_none());
        for id in &ids[1..] {
            assert!(incidents.get(*id).unwrap().is_some());
        }
        // Later runs append.
        let report = run(&incidents, &archive, T + 10 * DAY).unwrap();
        assert_eq!(report.archived, 1);
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
        assert_eq!(run(&incidents, &archive, T + 10 * DAY).unwrap().archived, 0);
    }
}
