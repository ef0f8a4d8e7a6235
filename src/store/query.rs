//! Reading events back: filtered, newest-first pages ([`Store::query_events`]) and single
//! events ([`Store::get_event`]).
//!
//! A query walks candidate blocks newest first. With a host, level or kind filter it walks that
//! index tree (host first: the most selective), otherwise the block summaries; it skips any block
//! whose summary cannot match (counts, hosts, time bounds) and decompresses only the rest. A block
//! or summary that does not decode is logged and skipped: a damaged block must not make the
//! whole event list fail. Events still in the writer's open block are not visible yet (at most
//! `block_max_age`).
//!
//! This module only reads; it never repairs or deletes.

use tracing::warn;

use super::codec::{self, BlockSummary};
use super::{Store, StoreError, host_index_key, key_u64};
use crate::event::{Event, EventId, EventKind, Level};

/// Which events to return; every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Exact host.
    pub host: Option<String>,
    pub kind: Option<EventKind>,
    pub level: Option<Level>,
    /// Case-insensitive substring of the message, host or app.
    pub text: Option<String>,
    /// `received_at_ns >= since_ns`.
    pub since_ns: Option<i64>,
    /// `received_at_ns < until_ns`.
    pub until_ns: Option<i64>,
    /// Paging cursor: only ids below this (the previous page's `next_cursor`).
    pub before_id: Option<EventId>,
    /// Most events to return.
    pub limit: usize,
}

/// One page of results, newest (highest id) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `before_id` to get the next page; `None` when there is nothing older.
    pub next_cursor: Option<EventId>,
}

impl Store {
    /// Runs `q` over the stored blocks; see the module docs for how blocks are chosen.
    pub fn query_events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let mut page = EventPage::default();
        if q.limit == 0 {
            return Ok(page);
        }
        let filter = Filter::new(q);
        let upper = q.before_id.unwrap_or(u64::MAX);
        for key in self.candidate_blocks(q, upper) {
            let key = key?;
            let Some(summary) = self.summary(key)? else {
                continue;
            };
            if summary
                .as_ref()
                .is_some_and(|s| !filter.summary_may_match(s))
            {
                continue;
            }
            for event in self.decoded_block(key)?.into_iter().rev() {
                if event.id >= upper || !filter.matches(&event) {
                    continue;
                }
                page.events.push(event);
                if page.events.len() == q.limit {
                    page.next_cursor = page.events.last().map(|e| e.id);
                    return Ok(page);
                }
            }
        }
        Ok(page)
    }

    /// The event with this id, if it is still stored.
    pub fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let Some((key, value)) = self
            .inner
            .blocks
            .range(..=id.to_be_bytes())
            .next_back()
            .transpose()?
        else {
            return Ok(None);
        };
        match codec::decode_block(&value) {
            Ok(events) => Ok(events.into_iter().find(|e| e.id == id)),
            Err(error) => {
                warn!(%error, block = key_u64(&key), "Skipping an undecodable event block.");
                Ok(None)
            }
        }
    }

    /// Block keys below `upper`, newest first, from the most selective index the query allows.
    fn candidate_blocks(
        &self,
        q: &EventQuery,
        upper: u64,
    ) -> Box<dyn Iterator<Item = Result<u64, StoreError>>> {
        let inner = &self.inner;
        let (tree, prefix) = if let Some(host) = &q.host {
            let mut prefix = host_index_key(host, 0);
            prefix.truncate(prefix.len() - 8);
            (&inner.idx_host, prefix)
        } else if let Some(level) = q.level {
            (&inner.idx_level, vec![level.code()])
        } else if let Some(kind) = q.kind {
            (&inner.idx_kind, vec![kind.code()])
        } else {
            let keys = inner.block_dir.range(..upper.to_be_bytes()).rev();
            return Box::new(keys.filter_map(|item| match item {
                Ok((k, _)) => key_u64(&k).map(Ok),
                Err(e) => Some(Err(e.into())),
            }));
        };
        let mut start = prefix.clone();
        start.extend_from_slice(&0u64.to_be_bytes());
        let mut end = prefix.clone();
        end.extend_from_slice(&upper.to_be_bytes());
        let want_len = prefix.len() + 8;
        Box::new(
            tree.range(start..end)
                .rev()
                .filter_map(move |item| match item {
                    // A host containing NUL could share a prefix with another: check the exact length.
                    Ok((k, _)) if k.len() == want_len => key_u64(&k).map(Ok),
                    Ok(_) => None,
                    Err(e) => Some(Err(e.into())),
                }),
        )
    }

    /// `None`: no summary (a dangling index entry: skip the block). `Some(None)`: a summary that
    /// does not decode (do not skip on it; the block decides).
    fn summary(&self, key: u64) -> Result<Option<Option<BlockSummary>>, StoreError> {
        let Some(bytes) = self.inner.block_dir.get(key.to_be_bytes())? else {
            return Ok(None);
        };
        match BlockSummary::decode(&bytes) {
            Ok(summary) => Ok(Some(Some(summary))),
            Err(error) => {
                warn!(%error, block = key, "Unreadable block summary.");
                Ok(Some(None))
            }
        }
    }

    /// The block's events, or none when it is missing or does not decode (logged).
    fn decoded_block(&self, key: u64) -> Result<Vec<Event>, StoreError> {
        let Some(value) = self.inner.blocks.get(key.to_be_bytes())? else {
            return Ok(Vec::new());
        };
        Ok(codec::decode_block(&value).unwrap_or_else(|error| {
            warn!(%error, block = key, "Skipping an undecodable event block.");
            Vec::new()
        }))
    }
}

/// A query compiled for matching: the text needle lower-cased once.
struct Filter<'q> {
    q: &'q EventQuery,
    needle: Option<String>,
}

impl<'q> Filter<'q> {
    fn new(q: &'q EventQuery) -> Filter<'q> {
        Filter {
            q,
            needle: q.text.as_ref().map(|t| t.to_lowercase()),
        }
    }

    fn summary_may_match(&self, s: &BlockSummary) -> bool {
        let q = self.q;
        q.level
            .is_none_or(|l| s.level_counts[l.code() as usize] > 0)
            && q.kind.is_none_or(|k| s.kind_counts[k.code() as usize] > 0)
            && q.host.as_deref().is_none_or(|h| s.may_have_host(h))
            && q.since_ns.is_none_or(|t| s.max_rx_ns >= t)
            && q.until_ns.is_none_or(|t| s.min_rx_ns < t)
    }

    fn matches(&self, e: &Event) -> bool {
        let q = self.q;
        q.host.as_deref().is_none_or(|h| e.host == h)
            && q.kind.is_none_or(|k| e.kind == k)
            && q.level.is_none_or(|l| e.level == l)
            && q.since_ns.is_none_or(|t| e.received_at_ns >= t)
            && q.until_ns.is_none_or(|t| e.received_at_ns < t)
            && self.needle.as_deref().is_none_or(|n| {
                contains_ci(&e.message, n)
                    || contains_ci(&e.host, n)
                    || e.app.as_deref().is_some_and(|a| contains_ci(a, n))
            })
    }
}

/// Whether `hay` contains `needle_lower` ignoring case (ASCII fast path, Unicode otherwise).
fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        let (first, rest) = (n[0], &n[1..]);
        // Compare the rest only where the first byte matches: most positions fail there.
        return h.len() >= n.len()
            && h[..=h.len() - n.len()].iter().enumerate().any(|(i, b)| {
                b.to_ascii_lowercase() == first && h[i + 1..i + n.len()].eq_ignore_ascii_case(rest)
            });
    }
    hay.to_lowercase().contains(needle_lower)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::tests::{options, synthetic};

    /// Writes `n` events in uneven chunks; some blocks are sealed by size, some by age.
    fn populate(store: &Store, n: u64) -> Vec<Event> {
        let mut writer = store.writer();
        let mut written = Vec::new();
        let mut i = 0;
        let mut chunk_no = 0u64;
        while i < n {
            let len = (chunk_no * 37 % 150 + 1).min(n - i);
            let mut chunk: Vec<Event> = (i..i + len)
                .map(|j| synthetic(j, 1_000_000 + j as i64 * 1_000))
                .collect();
            writer.append(&mut chunk).unwrap();
            written.extend(chunk);
            if chunk_no.is_multiple_of(9) {
                std::thread::sleep(Duration::from_millis(6));
                writer.tick();
            }
            i += len;
            chunk_no += 1;
        }
        writer.close().unwrap();
        written
    }

    fn brute(written: &[Event], q: &EventQuery) -> Vec<u64> {
        let needle = q.text.as_ref().map(|t| t.to_lowercase());
        let mut ids: Vec<u64> = written
            .iter()
            .filter(|e| {
                q.host.as_ref().is_none_or(|h| &e.host == h)
                    && q.kind.is_none_or(|k| e.kind == k)
                    && q.level.is_none_or(|l| e.level == l)
                    && q.since_ns.is_none_or(|t| e.received_at_ns >= t)
                    && q.until_ns.is_none_or(|t| e.received_at_ns < t)
                    && q.before_id.is_none_or(|b| e.id < b)
                    && needle.as_ref().is_none_or(|n| {
                        e.message.to_lowercase().contains(n)
                            || e.host.to_lowercase().contains(n)
                            || e.app.as_ref().is_some_and(|a| a.to_lowercase().contains(n))
                    })
            })
            .map(|e| e.id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    }

    /// Pages through `q` with its limit and checks every page and the whole against brute force.
    fn check(store: &Store, written: &[Event], q: EventQuery) {
        let expected = brute(written, &q);
        let mut got = Vec::new();
        let mut cursor = q.before_id;
        loop {
            let page = store
                .query_events(&EventQuery {
                    before_id: cursor,
                    ..q.clone()
                })
                .unwrap();
            assert!(page.events.len() <= q.limit);
            for e in &page.events {
                assert_eq!(e, &written[(e.id - 1) as usize], "stored event differs");
            }
            got.extend(page.events.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => {
                    assert_eq!(page.events.len(), q.limit);
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(got, expected, "query {q:?}");
    }

    #[test]
    fn queries_match_a_brute_force_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(256)).unwrap();
        let written = populate(&store, 4000);
        assert_eq!(store.event_count_estimate(), 4000);
        let counts: Vec<u64> = store
            .inner
            .block_dir
            .iter()
            .values()
            .map(|v| BlockSummary::decode(&v.unwrap()).unwrap().count)
            .collect();
        assert!(
            counts.contains(&256) && counts.iter().any(|c| *c < 256),
            "sealed by size and by age: {counts:?}"
        );
        let rx = |j: i64| 1_000_000 + j * 1_000;
        let q = |limit| EventQuery {
            limit,
            ..Default::default()
        };
        check(&store, &written, q(100));
        check(&store, &written, q(4000));
        check(
            &store,
            &written,
            EventQuery {
                host: Some("host-3".into()),
                ..q(50)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                host: Some("Rare-Host".into()),
                ..q(1)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                host: Some("host".into()),
                ..q(10)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                level: Some(Level::Critical),
                ..q(333)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                kind: Some(EventKind::Trap),
                ..q(20)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                kind: Some(EventKind::Trap),
                level: Some(Level::Low),
                ..q(20)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                text: Some("STATE TO down, SEQ 12".into()),
                ..q(7)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                text: Some("RARE-host".into()),
                ..q(7)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                text: Some("APP3".into()),
                host: Some("host-1".into()),
                ..q(64)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                since_ns: Some(rx(1234)),
                until_ns: Some(rx(2345)),
                ..q(100)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                since_ns: Some(rx(3990)),
                ..q(3)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                host: Some("host-2".into()),
                level: Some(Level::Warning),
                until_ns: Some(rx(3000)),
                before_id: Some(2500),
                ..q(9)
            },
        );
        check(
            &store,
            &written,
            EventQuery {
                before_id: Some(1),
                ..q(5)
            },
        );
        assert!(store.query_events(&q(0)).unwrap().events.is_empty());
    }

    #[test]
    fn get_event_finds_any_stored_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(100)).unwrap();
        let written = populate(&store, 450);
        for id in [1, 2, 99, 100, 101, 250, 450] {
            assert_eq!(
                store.get_event(id).unwrap().as_ref(),
                Some(&written[id as usize - 1])
            );
        }
        assert_eq!(store.get_event(0).unwrap(), None);
        assert_eq!(store.get_event(451).unwrap(), None);
    }

    #[test]
    fn every_field_survives_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(100)).unwrap();
        let mut writer = store.writer();
        let mut events = vec![
            crate::store::codec::tests::full_event(0, 42),
            synthetic(1, 43),
        ];
        writer.append(&mut events).unwrap();
        writer.close().unwrap();
        assert_eq!(
            store.get_event(events[0].id).unwrap().as_ref(),
            Some(&events[0])
        );
        let page = store
            .query_events(&EventQuery {
                text: Some("🔥 ON".into()),
                limit: 5,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.events, vec![events[0].clone()]);
    }

    #[test]
    fn case_insensitive_contains() {
        for (hay, needle, want) in [
            ("abc", "abcd", false),
            ("xxABC", "abc", true),
            ("ab", "b", true),
            ("Link DOWN", "down", true),
            ("ÄRGER", "ärg", true),
            ("abc", "", true),
            ("ab", "abc", false),
            ("x", "y", false),
        ] {
            assert_eq!(contains_ci(hay, needle), want, "{hay} {needle}");
        }
    }
}
