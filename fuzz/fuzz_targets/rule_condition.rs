//! The `when` language (`rules::condition`): parse a condition, then evaluate it against
//! realistic events and check that the rule index (`Prefilter`, built from the condition's
//! `index_hints`) offers the condition for every event it matches — a wrong hint makes the
//! index skip a rule that matches, a silently missed alert.
//!
//! Input: the condition text; optionally, after a NUL, an event of the input's own making as
//! NUL-separated fields `host`, `app`, `message`, `trap_name`, `severity` (a digit), so that
//! hosts and messages the sample events lack get tried too.
//!
//! Checks: no panic; an error offset inside the text on a character boundary (`rules` slices
//! the file there); the index offers the condition for every event it matches.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline::event::{Event, EventKind, Transport, TrapInfo};
use trapline::rules::Prefilter;
use trapline::rules::condition::{Condition, Subject};
use trapline_fuzz::{RECEIVED_NS, peer, sample_events};

/// An event from the fields after the condition; `None` when there are none.
fn own_event(fields: &[&str]) -> Option<Event> {
    let (&host, rest) = fields.split_first()?;
    let field = |i: usize| rest.get(i).copied().filter(|f| !f.is_empty());
    let trap_name = field(2);
    let kind = if trap_name.is_some() {
        EventKind::Trap
    } else {
        EventKind::Syslog
    };
    let mut event = Event::with_host(RECEIVED_NS, peer(), Transport::Udp, kind, host.to_owned());
    event.app = field(0).map(str::to_owned);
    event.message = field(1).unwrap_or_default().to_owned();
    event.severity = field(3).and_then(|s| s.parse().ok()).filter(|s| *s < 8);
    event.trap = trap_name.map(|name| TrapInfo {
        version: "v2c".into(),
        community: None,
        user: None,
        trap_oid: "1.3.6.1.6.3.1.1.5.3".into(),
        trap_name: Some(name.to_owned()),
        agent: None,
        uptime: None,
        varbinds: Vec::new(),
    });
    Some(event)
}

/// Panics when the rule index, built over this one condition, would not have offered it for
/// an event it matches.
fn check_index(index: &Prefilter, condition: &Condition, text: &str, event: &Event) {
    let (mut candidates, mut lowered) = (Vec::new(), String::new());
    index.candidates(event, &mut candidates, &mut lowered);
    assert!(
        candidates == [0],
        "{text:?} matches {event:?} but the rule index skips it; hints {:?}",
        condition.index_hints()
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = input.split('\0');
    let text = parts.next().unwrap_or_default();
    let fields: Vec<&str> = parts.collect();
    let condition = match Condition::parse(text) {
        Ok(condition) => condition,
        Err(error) => {
            assert!(
                error.offset <= text.len() && text.is_char_boundary(error.offset),
                "error offset {} in {text:?}",
                error.offset
            );
            let _ = trapline::config::line_col(text, error.offset);
            return;
        }
    };
    let _ = condition.capture_names();
    let index = Prefilter::over([(0, &condition)].into_iter());
    let own = own_event(&fields);
    for event in sample_events().iter().chain(own.as_ref()) {
        for category in [None, Some("network")] {
            let mut captures = Vec::new();
            let subject = Subject { event, category };
            if condition.matches(&subject, &mut captures) {
                check_index(&index, &condition, text, event);
            } else {
                assert!(captures.is_empty(), "a failed match left captures behind");
            }
        }
    }
});
