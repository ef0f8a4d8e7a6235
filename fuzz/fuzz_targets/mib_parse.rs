//! The MIB parser and resolver (`mib`): the input is one MIB file (read as `mib_dirs` files
//! are: lossy UTF-8), loaded beside the SMI modules it usually imports, then every word of it
//! is looked up as a name and the OIDs found are named and formatted back.
//!
//! Checks: no panic, no hang (the resolver's loops are bounded), errors that point inside the
//! file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline::mib::MibSet;

/// The modules nearly every MIB imports from, so that imports resolve and the resolver's
/// OID and SYNTAX passes see the input's definitions.
const BASE: &[(&str, &str)] = &[
    (
        "RFC1155-SMI",
        include_str!("../../src/mib/bundled/RFC1155-SMI.mib"),
    ),
    (
        "SNMPv2-SMI",
        include_str!("../../src/mib/bundled/SNMPv2-SMI.mib"),
    ),
    (
        "SNMPv2-TC",
        include_str!("../../src/mib/bundled/SNMPv2-TC.mib"),
    ),
    (
        "SNMPv2-CONF",
        include_str!("../../src/mib/bundled/SNMPv2-CONF.mib"),
    ),
];

/// Most words looked up per input, so a huge input costs parsing, not lookups.
const MAX_LOOKUPS: usize = 256;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut texts = BASE.to_vec();
    texts.push(("fuzz.mib", &text));
    let (set, errors) = MibSet::from_texts(&texts);
    for error in &errors {
        let _ = error.to_string();
        if error.file == "fuzz.mib" {
            let lines = text.split('\n').count();
            assert!(
                error.line >= 1 && error.line <= lines,
                "{error} in a file of {lines} lines"
            );
        }
    }
    let words = text
        .split(|c: char| c.is_whitespace() || "{}(),;".contains(c))
        .filter(|w| !w.is_empty())
        .take(MAX_LOOKUPS);
    for word in words {
        if let Some(oid) = set.resolve_name(word) {
            let _ = set.name_of(&oid).map(|name| name.to_string());
            let _ = set.node(&oid);
            let _ = set.format_value(&oid, 1);
            let _ = set.format_value(&oid, -1);
        }
    }
});
