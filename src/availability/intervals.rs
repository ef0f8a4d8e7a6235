//! Interval arithmetic on Unix-nanosecond spans, pure: merging overlaps, clipping to a
//! window, measuring. Every availability figure is built from these few functions, so the
//! property tests at the bottom (merging never grows the total, adjacent windows add up, an
//! outage that began before a window counts only from the window's start) hold for all of
//! them.

/// A half-open span `[start_ns, end_ns)`; empty when `end_ns <= start_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start_ns: i64,
    pub end_ns: i64,
}

impl Span {
    /// The span from `start_ns` to `end_ns`.
    pub fn new(start_ns: i64, end_ns: i64) -> Span {
        Span { start_ns, end_ns }
    }

    /// Its length in nanoseconds (0 when empty).
    pub fn len_ns(self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns).max(0)
    }

    /// Whether it covers no time at all.
    pub fn is_empty(self) -> bool {
        self.end_ns <= self.start_ns
    }

    /// The part inside `window`, if any time is left.
    pub fn clip(self, window: Span) -> Option<Span> {
        let clipped = Span::new(
            self.start_ns.max(window.start_ns),
            self.end_ns.min(window.end_ns),
        );
        (!clipped.is_empty()).then_some(clipped)
    }
}

/// Sorts `spans` and merges those that overlap or touch; empty spans are dropped. The result
/// is sorted and disjoint, so its lengths can be summed without counting time twice (two
/// interfaces of one router down at once are one outage of the router).
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| !s.is_empty());
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start_ns <= last.end_ns => {
                last.end_ns = last.end_ns.max(span.end_ns)
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// `spans` merged and clipped to `window`.
pub fn merge_within(spans: impl IntoIterator<Item = Span>, window: Span) -> Vec<Span> {
    merge(spans.into_iter().filter_map(|s| s.clip(window)).collect())
}

/// Total time of disjoint `spans` (as [`merge`] returns them).
pub fn total_ns(spans: &[Span]) -> i64 {
    spans.iter().map(|s| s.len_ns()).sum()
}

/// Time covered by `spans` inside `window`, overlaps counted once.
pub fn covered_ns(spans: &[Span], window: Span) -> i64 {
    total_ns(&merge_within(spans.iter().copied(), window))
}

/// Availability of `window` in percent given the unavailable `spans`; 100 for an empty
/// window (nothing was observed, so nothing was missed).
pub fn availability_percent(spans: &[Span], window: Span) -> f64 {
    let observed = window.len_ns();
    if observed == 0 {
        return 100.0;
    }
    let down = covered_ns(spans, window);
    100.0 * (observed - down) as f64 / observed as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(a: i64, b: i64) -> Span {
        Span::new(a, b)
    }

    #[test]
    fn merging_joins_overlapping_and_touching_spans() {
        let check = |input: Vec<Span>, expected: Vec<Span>| assert_eq!(merge(input), expected);
        check(vec![], vec![]);
        check(vec![s(5, 5)], vec![]);
        check(vec![s(3, 4), s(1, 2)], vec![s(1, 2), s(3, 4)]);
        check(vec![s(1, 3), s(2, 5)], vec![s(1, 5)]);
        check(vec![s(1, 3), s(3, 5)], vec![s(1, 5)]);
        check(vec![s(1, 10), s(2, 3), s(4, 5)], vec![s(1, 10)]);
    }

    #[test]
    fn an_outage_spanning_the_window_start_counts_from_the_start() {
        // Down from 22:00 the day before until 02:00: the day has two hours of it.
        let hour = 3_600_000_000_000i64;
        let day = s(24 * hour, 48 * hour);
        let outage = s(22 * hour, 26 * hour);
        assert_eq!(outage.clip(day), Some(s(24 * hour, 26 * hour)));
        assert_eq!(covered_ns(&[outage], day), 2 * hour);
        let expected = 100.0 * 22.0 / 24.0;
        assert!((availability_percent(&[outage], day) - expected).abs() < 1e-9);
        // The day before has the other two hours.
        assert_eq!(covered_ns(&[outage], s(0, 24 * hour)), 2 * hour);
        // Entirely outside: nothing.
        assert_eq!(covered_ns(&[s(0, hour)], day), 0);
        assert_eq!(availability_percent(&[], s(5, 5)), 100.0);
    }

    fn spans() -> impl Strategy<Value = Vec<Span>> {
        prop::collection::vec(
            (0i64..10_000, 0i64..2_000).prop_map(|(start, len)| s(start, start + len)),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn adjacent_windows_add_up(spans in spans(), a in 0i64..12_000, b in 0i64..12_000, c in 0i64..12_000) {
            let mut cut = [a, b, c];
            cut.sort_unstable();
            let [start, middle, end] = cut;
            let whole = covered_ns(&spans, s(start, end));
            let parts = covered_ns(&spans, s(start, middle)) + covered_ns(&spans, s(middle, end));
            prop_assert_eq!(whole, parts);
            // Available time adds up as well, so the whole window's percentage is the
            // length-weighted mean of the two parts'.
            let up = |w: Span| w.len_ns() as f64 * availability_percent(&spans, w);
            let sum = up(s(start, middle)) + up(s(middle, end));
            prop_assert!((up(s(start, end)) - sum).abs() <= 1e-6 * (end - start).max(1) as f64);
        }

        #[test]
        fn merged_spans_are_sorted_disjoint_and_cover_the_same_time(spans in spans()) {
            let merged = merge(spans.clone());
            for pair in merged.windows(2) {
                prop_assert!(pair[0].end_ns < pair[1].start_ns);
            }
            prop_assert!(merged.iter().all(|m| !m.is_empty()));
            // Every instant covered before is covered after, and the other way round.
            for t in (0..12_000).step_by(97) {
                let before = spans.iter().any(|x| x.start_ns <= t && t < x.end_ns);
                let after = merged.iter().any(|x| x.start_ns <= t && t < x.end_ns);
                prop_assert_eq!(before, after);
            }
            prop_assert!(total_ns(&merged) <= spans.iter().map(|x| x.len_ns()).sum::<i64>());
        }

        #[test]
        fn clipping_stays_inside_the_window(spans in spans(), a in 0i64..12_000, len in 0i64..5_000) {
            let window = s(a, a + len);
            let inside = merge_within(spans, window);
            prop_assert!(inside.iter().all(|x| x.start_ns >= window.start_ns && x.end_ns <= window.end_ns));
            prop_assert!(total_ns(&inside) <= window.len_ns());
            let percent = availability_percent(&inside, window);
            prop_assert!((0.0..=100.0).contains(&percent));
        }
    }
}
