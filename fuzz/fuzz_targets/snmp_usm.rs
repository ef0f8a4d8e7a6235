//! SNMPv3 past USM: the input is a v3 message whose digest (and, when its flags ask for privacy
//! and msgData is a plaintext ScopedPDU, whose encryption) `SnmpReceiver::seal_for_fuzzing`
//! supplies as the named user would, so the time window, decryption, ScopedPDU and PDU decoding
//! and the encrypted inform Responses run on fuzzer-shaped input. Inputs that cannot be sealed
//! go in as they are.
//!
//! Checks: as `snmp`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline_fuzz::{check_snmp_outcome, peer, snmp_receiver};

fuzz_target!(|data: &[u8]| {
    let receiver = snmp_receiver();
    let datagram = receiver.seal_for_fuzzing(data);
    let outcome = receiver.handle(&datagram, peer());
    check_snmp_outcome(&datagram, &outcome);
});
