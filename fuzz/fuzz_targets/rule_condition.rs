//! The `when` language (`rules::condition`): parse a condition, then evaluate it against
//! realistic events and check that the prefilter facts it claims (`index_hints`) really are
//! necessary — a wrong hint makes the rule index skip a rule that matches, a silently missed
//! alert.
//!
//! Input: the condition text; optionally, after a NUL, an event of the input's own making as
//! NUL-separated fields `host`, `app`, `message`, `trap_name`, `severity` (a digit), so that
//! hosts and messages the sample events lack get tried too.
//!
//! Checks: no panic; an error offset inside the text on a character boundary (`rules` slices
//! the file there); every hint holds for every event the condition matches.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline::event::{Event, EventKind, Transport, TrapInfo};
use trapline::rules::condition::{Condition, IndexHints, Subject};
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

/// Panics when `event` matched but breaks one of the hints.
fn check_hints(condition: &str, hints: &IndexHints, event: &Event) {
    let fail =
        |what: &str| panic!("{condition:?} matched {event:?} but its {what} hint says it cannot");
    let host = event.host.to_lowercase();
    if hints.kind.is_some_and(|kind| kind != event.kind) {
        fail("kind");
    }
    if let Some(apps) = &hints.app
        && !event.app.as_ref().is_some_and(|app| apps.contains(app))
    {
        fail("app");
    }
    if let Some(names) = &hints.trap_name {
        let name = event.trap.as_ref().and_then(|t| t.trap_name.as_deref());
        let short = name.map(|n| n.rsplit_once("::").map_or(n, |(_, short)| short));
        if !short.is_some_and(|s| names.iter().any(|n| n == s)) {
            fail("trap_name");
        }
    }
    if let Some(hosts) = &hints.host
        && !hosts.contains(&host)
    {
        fail("host");
    }
    if let Some(prefixes) = &hints.host_prefixes
        && !prefixes.iter().any(|p| host.starts_with(p.as_str()))
    {
        fail("host prefix");
    }
    if let Some(literals) = &hints.message_literals
        && !literals.iter().any(|l| event.message.contains(l.as_str()))
    {
        fail("message literal");
    }
    if let Some(mask) = hints.severities
        && !event
            .severity
            .is_some_and(|s| s < 8 && mask & (1 << s) != 0)
    {
        fail("severity");
    }
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
    let hints = condition.index_hints();
    let _ = condition.capture_names();
    let own = own_event(&fields);
    for event in sample_events().iter().chain(own.as_ref()) {
        for category in [None, Some("network")] {
            let mut captures = Vec::new();
            let subject = Subject { event, category };
            if condition.matches(&subject, &mut captures) {
                check_hints(text, &hints, event);
            } else {
                assert!(captures.is_empty(), "a failed match left captures behind");
            }
        }
    }
});
