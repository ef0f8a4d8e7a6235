//! Small durable records for the rest of the app (users, tokens, later alerts), one sled tree
//! per name (`rec/NAME`), string keys and opaque byte values.
//!
//! Volume is low and every change must survive a crash, so each write is followed by a flush.
//! This module does not interpret the values (callers store JSON) and exposes no sled type.

use super::{Store, StoreError};

/// A named, durable key → bytes map; cheap to clone.
#[derive(Clone)]
pub struct RecordTree {
    tree: sled::Tree,
    db: sled::Db,
}

impl Store {
    /// The record tree `name` (`[a-z0-9_]+`), created on first use.
    pub fn records(&self, name: &str) -> Result<RecordTree, StoreError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(StoreError::BadName(name.to_string()));
        }
        let tree = self.inner.db.open_tree(format!("rec/{name}"))?;
        Ok(RecordTree {
            tree,
            db: self.inner.db.clone(),
        })
    }
}

impl RecordTree {
    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Stores `value` under `key` and flushes: when this returns, the record is durable.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key.as_bytes(), value)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes `key` (durably); removing a missing key is not an error.
    pub fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.tree.remove(key.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Writes and removes many records with one flush (the alert engine persists its changes
    /// this way, a few times a second, instead of one flush per change).
    pub fn apply_batch(
        &self,
        puts: impl IntoIterator<Item = (String, Vec<u8>)>,
        removes: impl IntoIterator<Item = String>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in puts {
            batch.insert(key.as_bytes(), value);
        }
        for key in removes {
            batch.remove(key.as_bytes());
        }
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Records in descending key order, starting below `before` (or at the last key).
    pub fn iter_rev(
        &self,
        before: Option<&str>,
    ) -> impl Iterator<Item = Result<(String, Vec<u8>), StoreError>> + use<> {
        let range = match before {
            Some(key) => self.tree.range(..key.as_bytes().to_vec()),
            None => self.tree.range::<Vec<u8>, _>(..),
        };
        range.rev().map(|item| {
            let (k, v) = item?;
            Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
        })
    }

    /// Every record, in key order.
    pub fn list(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.tree
            .iter()
            .map(|item| {
                let (k, v) = item?;
                Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreOptions};

    #[test]
    fn records_are_durable_and_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            let users = store.records("users").unwrap();
            users.put("bob", b"{\"role\":\"viewer\"}").unwrap();
            users.put("alice", b"{}").unwrap();
            users.put("carol", b"x").unwrap();
            users.remove("carol").unwrap();
            users.remove("nobody").unwrap();
            assert!(store.records("tokens").unwrap().list().unwrap().is_empty());
            assert!(store.records("Bad Name").is_err());
            assert!(store.records("").is_err());
        }
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        let users = store.records("users").unwrap();
        assert_eq!(
            users.get("bob").unwrap().as_deref(),
            Some(&b"{\"role\":\"viewer\"}"[..])
        );
        assert_eq!(users.get("carol").unwrap(), None);
        let keys: Vec<String> = users.list().unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["alice", "bob"]);
    }
}
