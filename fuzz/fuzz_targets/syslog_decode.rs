//! The syslog path of the UDP and TCP listeners: bytes → `Normalizer::syslog_checked` (the pure
//! decoder in `decode::syslog`, then the event) for a sender in one of several awkward time
//! zones at an input-chosen receive time, since timestamps without a year or an offset are
//! resolved against both.
//!
//! Input: byte 0 picks the zone (`ZONES`), bytes 1–4 the receive time (seconds since 1970,
//! little-endian), the rest is the datagram. Checks: no panic, every field within its bound.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trapline::decode::syslog::{MAX_FIELD_BYTES, MAX_HOST_BYTES, MAX_SD_ELEMENTS, MAX_SD_PARAMS};
use trapline::event::Transport;
use trapline::normalize::Normalizer;
use trapline_fuzz::{ZONES, normalizer, peer};

fn normalizers() -> &'static [Normalizer] {
    static NORMALIZERS: OnceLock<Vec<Normalizer>> = OnceLock::new();
    NORMALIZERS.get_or_init(|| ZONES.iter().map(|zone| normalizer(zone)).collect())
}

fuzz_target!(|data: &[u8]| {
    let Some((header, datagram)) = data.split_at_checked(5) else {
        return;
    };
    let normalizer = &normalizers()[usize::from(header[0]) % ZONES.len()];
    let seconds = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let received_at_ns = i64::from(seconds) * 1_000_000_000;
    let (event, error) =
        normalizer.syslog_checked(datagram, peer(), Transport::Udp, received_at_ns);
    if error.is_some() {
        assert_eq!(
            event.raw.as_deref(),
            Some(datagram),
            "undecoded input is kept raw"
        );
        return;
    }
    assert!(
        event.host.len() <= MAX_HOST_BYTES,
        "host of {} bytes",
        event.host.len()
    );
    for field in [&event.app, &event.procid, &event.msgid]
        .into_iter()
        .flatten()
    {
        assert!(
            field.len() <= MAX_FIELD_BYTES,
            "field of {} bytes",
            field.len()
        );
    }
    assert!(event.structured_data.len() <= MAX_SD_ELEMENTS);
    for element in &event.structured_data {
        assert!(element.params.len() <= MAX_SD_PARAMS);
    }
    assert!(event.severity.is_none_or(|s| s < 8) && event.facility.is_none_or(|f| f < 24));
});
