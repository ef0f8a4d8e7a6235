//! Storm control: a token bucket per sending address on the UDP listeners, applied before
//! decoding, rules and storage, so one flapping switch cannot drown the store or the console.
//!
//! What a source sends beyond its rate is not stored; it is folded into one summary event per
//! source and window ("Rate limited: N messages from 10.1.2.3 …"), emitted once the window
//! ([`SourceLimiter::due`]) is over. The books stay exact: of the N messages of a window, the
//! first one over the limit *becomes* the summary event and the other N − 1 are counted in
//! `trapline_events_dropped_total{reason="rate_limited"}`, so received = stored + dropped still
//! holds. TCP is not limited here: it is flow-controlled (a fast sender is slowed, not cut).
//!
//! Memory is bounded: at most [`MAX_SOURCES`] buckets; when full, idle buckets are swept, and a
//! source that still finds no room passes unlimited (and is counted) rather than being lost.

use std::collections::HashMap;
use std::net::IpAddr;

/// Most sending addresses tracked at once.
pub const MAX_SOURCES: usize = 100_000;

/// One window of a source's excess, ready to become a summary event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub source: IpAddr,
    /// Messages over the limit in the window (the summary stands for one of them).
    pub count: u64,
    pub since_ns: i64,
    pub until_ns: i64,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last_ns: i64,
    suppressed: u64,
    since_ns: i64,
    until_ns: i64,
}

/// Token buckets by sending address.
#[derive(Debug)]
pub struct SourceLimiter {
    /// As configured (for the summary's text).
    rate: u32,
    per_ns: f64,
    burst: f64,
    window_ns: i64,
    sources: HashMap<IpAddr, Bucket>,
    /// Sources let through untracked because the table was full.
    pub untracked: u64,
}

/// What [`SourceLimiter::check`] decided for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: ingest it.
    Pass,
    /// The first message over the limit in this window: it will be the summary event.
    FirstOver,
    /// Over the limit: count it as dropped.
    Over,
}

impl SourceLimiter {
    /// A limiter of `rate` messages per second and bursts of `burst`, summarising every
    /// `window_ns`; `None` when `rate` is 0 (storm control off).
    pub fn new(rate: u32, burst: u32, window_ns: i64) -> Option<SourceLimiter> {
        (rate > 0).then(|| SourceLimiter {
            rate,
            per_ns: f64::from(rate) / 1e9,
            burst: f64::from(burst.max(1)),
            window_ns: window_ns.max(1),
            sources: HashMap::new(),
            untracked: 0,
        })
    }

    /// Messages per second and burst, as configured.
    pub fn limits(&self) -> (u32, u32) {
        (self.rate, self.burst as u32)
    }

    /// Takes a token for one message from `source` at `now_ns`.
    pub fn check(&mut self, source: IpAddr, now_ns: i64) -> Verdict {
        if !self.sources.contains_key(&source) && !self.make_room(now_ns) {
            self.untracked += 1;
            return Verdict::Pass;
        }
        let (per_ns, burst) = (self.per_ns, self.burst);
        let bucket = self.sources.entry(source).or_insert(Bucket {
            tokens: burst,
            last_ns: now_ns,
            suppressed: 0,
            since_ns: now_ns,
            until_ns: now_ns,
        });
        let elapsed = now_ns.saturating_sub(bucket.last_ns).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ns).min(burst);
        bucket.last_ns = now_ns;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Pass;
        }
        bucket.until_ns = now_ns;
        bucket.suppressed += 1;
        if bucket.suppressed == 1 {
            bucket.since_ns = now_ns;
            Verdict::FirstOver
        } else {
            Verdict::Over
        }
    }

    /// The windows that are over at `now_ns` (all of them with `flush`, at shutdown); their
    /// counts start again from zero.
    pub fn due(&mut self, now_ns: i64, flush: bool) -> Vec<Suppressed> {
        let window_ns = self.window_ns;
        let mut out = Vec::new();
        for (source, bucket) in &mut self.sources {
            if bucket.suppressed > 0 && (flush || now_ns - bucket.since_ns >= window_ns) {
                out.push(Suppressed {
                    source: *source,
                    count: bucket.suppressed,
                    since_ns: bucket.since_ns,
                    until_ns: bucket.until_ns,
                });
                bucket.suppressed = 0;
            }
        }
        out
    }

    /// Whether a new source fits, sweeping idle buckets (full again, nothing pending) when the
    /// table is full.
    fn make_room(&mut self, now_ns: i64) -> bool {
        if self.sources.len() < MAX_SOURCES {
            return true;
        }
        let (per_ns, burst) = (self.per_ns, self.burst);
        self.sources.retain(|_, b| {
            let refilled = b.tokens + (now_ns - b.last_ns).max(0) as f64 * per_ns;
            b.suppressed > 0 || refilled < burst
        });
        self.sources.len() < MAX_SOURCES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let mut limiter = SourceLimiter::new(10, 20, 10 * S).unwrap();
        let a = ip("10.0.0.1");
        let passed = (0..100)
            .filter(|_| limiter.check(a, 0) == Verdict::Pass)
            .count();
        assert_eq!(passed, 20, "the burst");
        // One second later: ten more tokens.
        let passed = (0..100)
            .filter(|_| limiter.check(a, S) == Verdict::Pass)
            .count();
        assert_eq!(passed, 10);
        // Another source is not affected.
        assert_eq!(limiter.check(ip("10.0.0.2"), S), Verdict::Pass);
    }

    #[test]
    fn the_excess_becomes_one_summary_per_window() {
        let mut limiter = SourceLimiter::new(1, 1, 10 * S).unwrap();
        let a = ip("192.0.2.7");
        assert_eq!(limiter.check(a, 0), Verdict::Pass);
        assert_eq!(limiter.check(a, 0), Verdict::FirstOver);
        assert_eq!(limiter.check(a, S / 2), Verdict::Over);
        assert!(
            limiter.due(5 * S, false).is_empty(),
            "the window is not over"
        );
        let due = limiter.due(10 * S, false);
        assert_eq!(
            due,
            vec![Suppressed {
                source: a,
                count: 2,
                since_ns: 0,
                until_ns: S / 2
            }]
        );
        assert!(limiter.due(30 * S, false).is_empty(), "counted once");
        // A new window starts with a new first message over the limit.
        assert_eq!(limiter.check(a, 30 * S), Verdict::Pass);
        assert_eq!(limiter.check(a, 30 * S), Verdict::FirstOver);
        assert_eq!(limiter.due(30 * S, true).len(), 1, "flushed at shutdown");
    }

    #[test]
    fn off_when_the_rate_is_zero() {
        assert!(SourceLimiter::new(0, 100, S).is_none());
    }

    #[test]
    fn the_table_is_bounded_and_idle_sources_make_room() {
        let mut limiter = SourceLimiter::new(1000, 1, S).unwrap();
        for i in 0..MAX_SOURCES as u32 {
            limiter.check(IpAddr::from(i.to_be_bytes()), 0);
        }
        // All buckets are empty (1 token used) at t=0: no room, the newcomer passes untracked.
        assert_eq!(limiter.check(ip("203.0.113.1"), 0), Verdict::Pass);
        assert_eq!(limiter.untracked, 1);
        // A second later every bucket is full again: swept, the newcomer is tracked.
        assert_eq!(limiter.check(ip("203.0.113.1"), S), Verdict::Pass);
        assert_eq!(limiter.untracked, 1);
        assert!(limiter.sources.len() < 10);
    }
}
