//! The SNMP trap path: one datagram → `SnmpReceiver::handle` (v1, v2c, v3 with every USM
//! protocol pair configured) → the trap event the listener would store.
//!
//! Mutated authenticated messages stop at the digest check here; `snmp_usm` seals them so the
//! checks after it run too. Checks: no panic, never a trap and a refusal at once, no
//! amplification (see `check_snmp_outcome`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline_fuzz::{check_snmp_outcome, peer, snmp_receiver};

fuzz_target!(|datagram: &[u8]| {
    let outcome = snmp_receiver().handle(datagram, peer());
    check_snmp_outcome(datagram, &outcome);
});
