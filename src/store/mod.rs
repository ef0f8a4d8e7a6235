//! TEMPORARY stand-in with the agreed API, replaced by the real block store at merge.
#![allow(dead_code, missing_docs)]
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event::{Event, EventId, EventKind, Level};

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub cache_bytes: u64,
    pub block_events: usize,
    pub block_max_age: Duration,
    pub flush_interval: Duration,
}
impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 64 << 20,
            block_events: 1024,
            block_max_age: Duration::from_millis(100),
            flush_interval: Duration::from_millis(20),
        }
    }
}
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path} is locked by {holder}")]
    Locked { path: PathBuf, holder: String },
    #[error("store {path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sled(#[from] sled::Error),
    #[error("codec: {0}")]
    Codec(String),
}
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    events: Arc<Mutex<Vec<Event>>>,
}
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub host: Option<String>,
    pub kind: Option<EventKind>,
    pub level: Option<Level>,
    pub text: Option<String>,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    pub before_id: Option<EventId>,
    pub limit: usize,
}
#[derive(Debug, Default)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<EventId>,
}
#[derive(Debug, Default)]
pub struct RetentionReport {
    pub deleted_events: u64,
}
pub struct RecordTree {
    tree: sled::Tree,
}
impl RecordTree {
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, value)?;
        self.tree.flush()?;
        Ok(())
    }
    pub fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.tree.remove(key)?;
        Ok(())
    }
    pub fn list(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self
            .tree
            .iter()
            .filter_map(|r| r.ok())
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            .collect())
    }
}
pub struct EventWriter {
    store: Store,
    next: u64,
}
impl EventWriter {
    pub fn append(&mut self, events: &mut [Event]) -> Result<(), StoreError> {
        for e in events.iter_mut() {
            self.next += 1;
            e.id = self.next;
        }
        self.store
            .events
            .lock()
            .unwrap()
            .extend(events.iter().cloned());
        for e in events.iter() {
            crate::metrics::metrics()
                .events_stored
                .with_label_values(&[e.kind.as_str(), e.level.as_str()])
                .inc();
        }
        Ok(())
    }
    pub fn tick(&mut self) {}
    pub fn close(self) -> Result<(), StoreError> {
        Ok(())
    }
}
impl Store {
    pub fn open(dir: &Path, _opts: &StoreOptions) -> Result<Store, StoreError> {
        let db = sled::open(dir)?;
        Ok(Store {
            db,
            events: Arc::new(Mutex::new(Vec::new())),
        })
    }
    pub fn move_aside(dir: &Path) -> Result<PathBuf, StoreError> {
        Ok(dir.to_path_buf())
    }
    pub fn records(&self, name: &str) -> Result<RecordTree, StoreError> {
        Ok(RecordTree {
            tree: self.db.open_tree(name)?,
        })
    }
    pub fn writer(&self) -> EventWriter {
        EventWriter {
            store: self.clone(),
            next: 0,
        }
    }
    pub fn query_events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let ev = self.events.lock().unwrap();
        let events: Vec<Event> = ev
            .iter()
            .rev()
            .filter(|e| {
                q.before_id.is_none_or(|b| e.id < b) && q.host.as_ref().is_none_or(|h| &e.host == h)
            })
            .take(q.limit)
            .cloned()
            .collect();
        Ok(EventPage {
            events,
            next_cursor: None,
        })
    }
    pub fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self
            .events
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .cloned())
    }
    pub fn apply_retention(
        &self,
        _max_age: Option<Duration>,
        _max_bytes: Option<u64>,
        _now_ns: i64,
    ) -> Result<RetentionReport, StoreError> {
        Ok(RetentionReport::default())
    }
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}
