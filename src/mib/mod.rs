//! MIB modules and OID translation: SMI text in, names, syntaxes and enumerations out.
//!
//! [`MibSet`] holds every node of a set of MIB modules, indexed by OID and by name. Build one
//! with [`MibSet::bundled`] (the IETF core modules and the net-snmp ones, compiled in),
//! [`MibSet::with_dirs`] (bundled plus a site's MIB directories, which override bundled modules of
//! the same name) or [`MibSet::load`] (directories only). The trap decoder then asks:
//!
//! - [`MibSet::name_of`]: `1.3.6.1.2.1.2.2.1.2.2` → `IF-MIB::ifDescr.2` ([`OidName`]);
//! - [`MibSet::node`]: kind, [`Syntax`], description, and a notification's OBJECTS ([`MibNode`]);
//! - [`MibSet::format_value`]: `ifOperStatus` 2 → `down(2)`, through textual conventions;
//! - [`MibSet::resolve_name`]: `IF-MIB::linkDown`, `linkDown`, `ifDescr.2` → OID arcs.
//!
//! `parse` is the nom parser (text → syntax trees); `resolve` checks imports across modules,
//! resolves OIDs iteratively from the `iso`/`ccitt`/`joint-iso-ccitt` roots and resolves SYNTAX
//! through type assignments and textual conventions. A module that does not parse, or whose
//! imports cannot be resolved, is reported as a [`MibError`] (`file:line:col: message`) and
//! skipped; the others load.
//!
//! Three modules the net-snmp ones import (SNMP-FRAMEWORK-MIB, INET-ADDRESS-MIB, HCNUM-TC) are
//! bundled as small hand-written stubs, and the usmStats/snmpMPDStats/snmpEngine OIDs come from a
//! hand-written table in `resolve` (`WELL_KNOWN`); `bundled/SOURCES.md` says which is which. A
//! real module of the same name given to [`MibSet::with_dirs`] replaces a stub.
//!
//! Figures (bundled set: 19 modules, ~920 nodes; optimised build): [`MibSet::bundled`] takes
//! about 10 ms, [`MibSet::name_of`] about 250 ns (most of it allocating the [`OidName`];
//! [`MibSet::longest_prefix`] is the allocation-free form), [`MibSet::format_value`] about
//! 150 ns. The ignored test `mib::tests::timing` prints them.
//!
//! This module reads MIB files and does nothing else: no network, no decoding of BER, no values
//! other than integers (`format_value`), no validation of values against constraints.

mod parse;
mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

pub use parse::NodeKind;

/// Largest MIB file we read; the biggest real modules are well under 1 MiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A module that could not be read, parsed or resolved, at `file:line:col`. Errors about a
/// whole file (unreadable, too large) point at line 1, column 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {kind}")]
pub struct MibError {
    /// The file's path (or `bundled/NAME` for compiled-in modules).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes).
    pub col: usize,
    /// What went wrong.
    pub kind: MibErrorKind,
}

/// What went wrong with a MIB module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MibErrorKind {
    /// The file or directory could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("file is {size} bytes, more than the {max} we read")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The text is not a MIB module; the module (the whole file) is skipped.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Another file already defines a module of this name; this one is skipped.
    #[error("module {module} is already defined in {other}; this one is skipped")]
    DuplicateModule {
        /// The module's name.
        module: String,
        /// The file that defined it first.
        other: String,
    },
    /// An IMPORTS clause names a module that is not loaded (or was skipped).
    #[error("module {module} imports from {from}, which is not loaded; {module} is skipped")]
    UnknownModule {
        /// The importing module.
        module: String,
        /// The missing module.
        from: String,
    },
    /// An IMPORTS clause names a symbol its module does not define.
    #[error(
        "module {module} imports {symbol} from {from}, which does not define it; {module} is skipped"
    )]
    UnknownSymbol {
        /// The importing module.
        module: String,
        /// The missing symbol.
        symbol: String,
        /// The module it was expected in.
        from: String,
    },
    /// A definition's OID hangs off a name that no loaded module defines; it is skipped.
    #[error("cannot resolve the OID of {name}: {parent} is not defined")]
    UnresolvedOid {
        /// The definition.
        name: String,
        /// The unknown parent name.
        parent: String,
    },
}

/// A translated OID: the longest known node plus the instance suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OidName {
    /// The module that defines the node (`IF-MIB`).
    pub module: String,
    /// The node's name (`ifDescr`).
    pub name: String,
    /// The arcs after the node (`[2]` for `ifDescr.2`); empty for an exact match.
    pub suffix: Vec<u32>,
}

impl OidName {
    /// The name without its module, as operators usually write it: `ifDescr.2`.
    pub fn short(&self) -> String {
        let mut s = self.name.clone();
        push_suffix(&mut s, &self.suffix);
        s
    }
}

impl fmt::Display for OidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.module, self.short())
    }
}

fn push_suffix(s: &mut String, suffix: &[u32]) {
    use fmt::Write;
    for arc in suffix {
        let _ = write!(s, ".{arc}");
    }
}

/// The ASN.1/SMI type a value of a node has, after following textual conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseType {
    /// INTEGER / Integer32 (enumerations included).
    Integer,
    /// Unsigned32, Gauge32, SMIv1 Gauge.
    Unsigned32,
    /// Counter32, SMIv1 Counter.
    Counter32,
    /// Counter64.
    Counter64,
    /// TimeTicks (hundredths of a second).
    TimeTicks,
    /// IpAddress, SMIv1 NetworkAddress.
    IpAddress,
    /// OCTET STRING.
    OctetString,
    /// OBJECT IDENTIFIER.
    ObjectIdentifier,
    /// BITS.
    Bits,
    /// Opaque.
    Opaque,
    /// NULL.
    Null,
    /// A row type (`SEQUENCE { … }`).
    Sequence,
    /// A table type (`SEQUENCE OF …`).
    SequenceOf,
    /// CHOICE, or a type name no loaded module defines.
    Other,
}

/// A node's SYNTAX, resolved through type assignments and textual conventions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syntax {
    /// The underlying SMI type.
    pub base: BaseType,
    /// The type name as written in the SYNTAX (`IANAifType`, `DisplayString`), if any.
    pub type_name: Option<String>,
    /// Enumeration labels (INTEGER) or bit names (BITS), by value; from the nearest definition
    /// that has them.
    pub enums: BTreeMap<i64, String>,
    /// The nearest textual convention's DISPLAY-HINT (RFC 2579 §3.1).
    pub display_hint: Option<String>,
}

/// One named OID and what its module says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MibNode {
    /// The defining module.
    pub module: String,
    /// The descriptor (`ifOperStatus`).
    pub name: String,
    /// The OID arcs.
    pub oid: Vec<u32>,
    /// Which macro defined it.
    pub kind: NodeKind,
    /// OBJECT-TYPE SYNTAX.
    pub syntax: Option<Syntax>,
    /// MAX-ACCESS (SMIv2) or ACCESS (SMIv1).
    pub access: Option<String>,
    /// STATUS.
    pub status: Option<String>,
    /// DESCRIPTION, with indentation removed.
    pub description: Option<String>,
    /// UNITS.
    pub units: Option<String>,
    /// NOTIFICATION-TYPE OBJECTS or TRAP-TYPE VARIABLES, in order: the varbinds to expect.
    pub objects: Vec<String>,
    /// A row's INDEX names.
    pub index: Vec<String>,
    /// A row's AUGMENTS target.
    pub augments: Option<String>,
    /// DEFVAL as written, without the braces.
    pub defval: Option<String>,
}

/// Every node of a set of MIB modules, indexed for the trap decoder.
#[derive(Debug, Clone, Default)]
pub struct MibSet {
    nodes: Vec<MibNode>,
    /// OID → the preferred node at that OID (SMIv2 over SMIv1 when both define it).
    /// FxHash: longest-prefix search hashes up to one slice per arc for every varbind of every
    /// trap, and SipHash showed up in trap ingest profiles.
    by_oid: rustc_hash::FxHashMap<Vec<u32>, usize>,
    /// Descriptor → every node of that name, preferred first.
    by_name: HashMap<String, Vec<usize>>,
    /// Names of the modules that loaded.
    modules: Vec<String>,
    /// The longest OID of any node: longest-prefix search starts there.
    max_oid_len: usize,
}

/// A module compiled into the binary: (file name, text).
type BundledFile = (&'static str, &'static str);

/// The bundled modules; `bundled/SOURCES.md` says where each comes from.
const BUNDLED: &[BundledFile] = &[
    ("RFC1155-SMI.mib", include_str!("bundled/RFC1155-SMI.mib")),
    ("RFC-1212.mib", include_str!("bundled/RFC-1212.mib")),
    ("RFC-1215.mib", include_str!("bundled/RFC-1215.mib")),
    ("RFC1158-MIB.mib", include_str!("bundled/RFC1158-MIB.mib")),
    ("RFC1213-MIB.mib", include_str!("bundled/RFC1213-MIB.mib")),
    ("SNMPv2-SMI.mib", include_str!("bundled/SNMPv2-SMI.mib")),
    ("SNMPv2-TC.mib", include_str!("bundled/SNMPv2-TC.mib")),
    ("SNMPv2-CONF.mib", include_str!("bundled/SNMPv2-CONF.mib")),
    ("SNMPv2-MIB.mib", include_str!("bundled/SNMPv2-MIB.mib")),
    (
        "IANAifType-MIB.mib",
        include_str!("bundled/IANAifType-MIB.mib"),
    ),
    ("IF-MIB.mib", include_str!("bundled/IF-MIB.mib")),
    (
        "SNMP-FRAMEWORK-MIB.stub.mib",
        include_str!("bundled/SNMP-FRAMEWORK-MIB.stub.mib"),
    ),
    (
        "INET-ADDRESS-MIB.stub.mib",
        include_str!("bundled/INET-ADDRESS-MIB.stub.mib"),
    ),
    (
        "HCNUM-TC.stub.mib",
        include_str!("bundled/HCNUM-TC.stub.mib"),
    ),
    ("NET-SNMP-MIB.txt", include_str!("bundled/NET-SNMP-MIB.txt")),
    ("NET-SNMP-TC.txt", include_str!("bundled/NET-SNMP-TC.txt")),
    (
        "NET-SNMP-AGENT-MIB.txt",
        include_str!("bundled/NET-SNMP-AGENT-MIB.txt"),
    ),
    (
        "NET-SNMP-EXAMPLES-MIB.txt",
        include_str!("bundled/NET-SNMP-EXAMPLES-MIB.txt"),
    ),
    ("UCD-SNMP-MIB.txt", include_str!("bundled/UCD-SNMP-MIB.txt")),
];

impl MibSet {
    /// The compiled-in modules. They are tested to load without errors, so any error here
    /// would be our bug; it is logged rather than returned.
    pub fn bundled() -> MibSet {
        let (set, errors) = resolve::build(resolve::bundled_sources(BUNDLED));
        for error in &errors {
            tracing::error!(%error, "Bundled MIB module did not load.");
        }
        set
    }

    /// Every MIB file in `dirs` (not recursive), without the bundled modules. Files that do not
    /// load are reported in the error list; the rest are usable.
    pub fn load(dirs: &[PathBuf]) -> (MibSet, Vec<MibError>) {
        let (sources, mut errors) = resolve::dir_sources(dirs);
        let (set, more) = resolve::build(sources);
        errors.extend(more);
        (set, errors)
    }

    /// The bundled modules plus every MIB file in `dirs`; a module in `dirs` replaces the
    /// bundled module of the same name (a site may have a newer IF-MIB).
    pub fn with_dirs(dirs: &[PathBuf]) -> (MibSet, Vec<MibError>) {
        let mut sources = resolve::bundled_sources(BUNDLED);
        let (extra, mut errors) = resolve::dir_sources(dirs);
        sources.extend(extra);
        let (set, more) = resolve::build(sources);
        errors.extend(more);
        (set, errors)
    }

    /// Modules given as (label, text) pairs, without the bundled ones and without touching the
    /// file system: the fuzz target (`fuzz/fuzz_targets/mib_parse.rs`) drives the parser and
    /// the resolver through this, thousands of times a second, on text an attacker could have
    /// planted in a site's MIB directory. Errors carry the label as their file.
    pub fn from_texts(texts: &[(&str, &str)]) -> (MibSet, Vec<MibError>) {
        resolve::build(resolve::text_sources(texts))
    }

    /// The names of the modules that loaded, sorted.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// How many named nodes the set holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no module loaded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The longest known prefix of `oid` as `MODULE::name` plus the instance suffix. Costs at
    /// most one hash lookup per arc.
    pub fn name_of(&self, oid: &[u32]) -> Option<OidName> {
        let (node, len) = self.longest_prefix(oid)?;
        Some(OidName {
            module: node.module.clone(),
            name: node.name.clone(),
            suffix: oid[len..].to_vec(),
        })
    }

    /// The node defined at exactly `oid`.
    pub fn node(&self, oid: &[u32]) -> Option<&MibNode> {
        self.by_oid.get(oid).map(|&i| &self.nodes[i])
    }

    /// The node at the longest known prefix of `oid`, with the prefix length.
    pub fn longest_prefix(&self, oid: &[u32]) -> Option<(&MibNode, usize)> {
        (1..=oid.len().min(self.max_oid_len))
            .rev()
            .find_map(|len| self.by_oid.get(&oid[..len]).map(|&i| (&self.nodes[i], len)))
    }

    /// An INTEGER value as its enumeration label, `down(2)`, when the object at (the longest
    /// prefix of) `oid` has one for `value`. Instance OIDs (`ifOperStatus.3`) work too.
    pub fn format_value(&self, oid: &[u32], value: i64) -> Option<String> {
        let (node, _) = self.longest_prefix(oid)?;
        let syntax = node.syntax.as_ref()?;
        if syntax.base != BaseType::Integer {
            return None;
        }
        let label = syntax.enums.get(&value)?;
        Some(format!("{label}({value})"))
    }

    /// The OID of `IF-MIB::linkDown`, `linkDown`, `ifDescr.2` or a dotted numeric OID. An
    /// unqualified name defined by several modules resolves to the preferred (SMIv2) one.
    pub fn resolve_name(&self, name: &str) -> Option<Vec<u32>> {
        let name = name.trim();
        if name.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return parse_oid(name);
        }
        let (module, rest) = match name.split_once("::") {
            Some((m, r)) => (Some(m), r),
            None => (None, name),
        };
        let (descriptor, suffix) = match rest.split_once('.') {
            Some((d, s)) => (d, Some(parse_oid(s)?)),
            None => (rest, None),
        };
        let candidates = self.by_name.get(descriptor)?;
        let &index = candidates
            .iter()
            .find(|&&i| module.is_none_or(|m| self.nodes[i].module == m))?;
        let mut oid = self.nodes[index].oid.clone();
        oid.extend(suffix.unwrap_or_default());
        Some(oid)
    }

    /// Every node named `name` (several modules may define it), preferred first.
    pub fn nodes_named(&self, name: &str) -> impl Iterator<Item = &MibNode> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.nodes[i])
    }
}

/// A dotted OID (`1.3.6.1.2.1`, leading dot allowed) as arcs; `None` unless every arc is a
/// number that fits in 32 bits (RFC 2578 §3.5) and there is at least one.
pub fn parse_oid(text: &str) -> Option<Vec<u32>> {
    let text = text.trim();
    let text = text.strip_prefix('.').unwrap_or(text);
    if text.is_empty() {
        return None;
    }
    text.split('.')
        .map(|arc| {
            if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                arc.parse().ok()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// The bundled set, built once for all tests (and checked to load cleanly elsewhere).
    fn set() -> &'static MibSet {
        static SET: OnceLock<MibSet> = OnceLock::new();
        SET.get_or_init(MibSet::bundled)
    }

    fn oid(text: &str) -> Vec<u32> {
        parse_oid(text).expect("valid OID")
    }

    /// Writes `files` into a fresh directory and loads it on top of the bundled modules.
    fn load_with(files: &[(&str, &str)]) -> (MibSet, Vec<MibError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let (set, errors) = MibSet::with_dirs(&[dir.path().to_path_buf()]);
        (set, errors, dir)
    }

    /// The one error reported for `file`, as `file:line:col: message` minus the directory.
    fn error_for(errors: &[MibError], file: &str) -> String {
        let found: Vec<String> = errors
            .iter()
            .filter(|e| e.file.ends_with(file))
            .map(|e| format!("{file}{}", e.to_string().split_once(file).unwrap().1))
            .collect();
        assert_eq!(found.len(), 1, "{file}: {errors:#?}");
        found[0].clone()
    }

    #[test]
    fn bundled_modules_load_without_errors() {
        let (set, errors) = resolve::build(resolve::bundled_sources(BUNDLED));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{shown:#?}");
        assert_eq!(set.modules().len(), BUNDLED.len());
        assert!(set.len() > 900, "{} nodes", set.len());
    }

    #[test]
    fn names_of_oids() {
        let cases = [
            ("1.3.6.1.6.3.1.1.5.3", "IF-MIB::linkDown", "linkDown"),
            ("1.3.6.1.6.3.1.1.5.4", "IF-MIB::linkUp", "linkUp"),
            ("1.3.6.1.6.3.1.1.5.1", "SNMPv2-MIB::coldStart", "coldStart"),
            (
                "1.3.6.1.6.3.1.1.5.5",
                "SNMPv2-MIB::authenticationFailure",
                "authenticationFailure",
            ),
            (
                "1.3.6.1.2.1.1.3.0",
                "SNMPv2-MIB::sysUpTime.0",
                "sysUpTime.0",
            ),
            (
                "1.3.6.1.6.3.1.1.4.1.0",
                "SNMPv2-MIB::snmpTrapOID.0",
                "snmpTrapOID.0",
            ),
            ("1.3.6.1.2.1.2.2.1.2.2", "IF-MIB::ifDescr.2", "ifDescr.2"),
            ("1.3.6.1.2.1.31.1.1.1.1.7", "IF-MIB::ifName.7", "ifName.7"),
            (
                "1.3.6.1.4.1.8072.2.3.0.1",
                "NET-SNMP-EXAMPLES-MIB::netSnmpExampleHeartbeatNotification",
                "netSnmpExampleHeartbeatNotification",
            ),
            (
                "1.3.6.1.4.1.2021.4.5.0",
                "UCD-SNMP-MIB::memTotalReal.0",
                "memTotalReal.0",
            ),
            (
                "1.3.6.1.4.1.99999.1",
                "SNMPv2-SMI::enterprises.99999.1",
                "enterprises.99999.1",
            ),
            (
                "1.3.6.1.6.3.15.1.1.4.0",
                "SNMP-USER-BASED-SM-MIB::usmStatsUnknownEngineIDs.0",
                "usmStatsUnknownEngineIDs.0",
            ),
            ("1.3", "SNMPv2-SMI::org", "org"),
            ("1", "SNMPv2-SMI::iso", "iso"),
            ("1.0.8802", "SNMPv2-SMI::iso.0.8802", "iso.0.8802"),
        ];
        for (text, full, short) in cases {
            let name = set().name_of(&oid(text)).expect(text);
            assert_eq!(
                (name.to_string().as_str(), name.short().as_str()),
                (full, short),
                "{text}"
            );
        }
        assert_eq!(set().name_of(&[]), None);
        assert_eq!(set().name_of(&[3, 1]), None);
    }

    #[test]
    fn names_resolve_to_oids() {
        let cases = [
            ("IF-MIB::linkDown", Some("1.3.6.1.6.3.1.1.5.3")),
            ("linkDown", Some("1.3.6.1.6.3.1.1.5.3")),
            ("coldStart", Some("1.3.6.1.6.3.1.1.5.1")),
            ("ifIndex", Some("1.3.6.1.2.1.2.2.1.1")),
            ("ifDescr.2", Some("1.3.6.1.2.1.2.2.1.2.2")),
            ("IF-MIB::ifDescr.2", Some("1.3.6.1.2.1.2.2.1.2.2")),
            ("RFC1213-MIB::ifDescr", Some("1.3.6.1.2.1.2.2.1.2")),
            ("snmpTrapOID.0", Some("1.3.6.1.6.3.1.1.4.1.0")),
            (
                "netSnmpExampleHeartbeatNotification",
                Some("1.3.6.1.4.1.8072.2.3.0.1"),
            ),
            ("usmStatsWrongDigests", Some("1.3.6.1.6.3.15.1.1.5")),
            (".1.3.6.1", Some("1.3.6.1")),
            ("NO-SUCH-MIB::ifDescr", None),
            ("IF-MIB::sysUpTime", None),
            ("noSuchName", None),
            ("ifDescr.x", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(set().resolve_name(name), expected.map(oid), "{name}");
        }
    }

    #[test]
    fn enumerations_format_through_textual_conventions() {
        let cases = [
            ("ifOperStatus", 2, Some("down(2)")),
            ("ifOperStatus", 1, Some("up(1)")),
            ("ifOperStatus.3", 7, Some("lowerLayerDown(7)")),
            ("ifAdminStatus", 3, Some("testing(3)")),
            ("ifType", 6, Some("ethernetCsmacd(6)")),
            ("ifType.12", 24, Some("softwareLoopback(24)")),
            ("ifLinkUpDownTrapEnable", 1, Some("enabled(1)")),
            ("ifPromiscuousMode", 1, Some("true(1)")),
            ("netSnmpHostAddressType", 1, Some("ipv4(1)")),
            ("ifOperStatus", 99, None),
            ("ifDescr", 1, None),
            ("ifInOctets", 1, None),
        ];
        for (name, value, expected) in cases {
            let oid = set().resolve_name(name).expect(name);
            assert_eq!(
                set().format_value(&oid, value).as_deref(),
                expected,
                "{name} {value}"
            );
        }
    }

    #[test]
    fn syntaxes_resolve_to_base_types() {
        let cases = [
            (
                "ifDescr",
                BaseType::OctetString,
                Some("DisplayString"),
                Some("255a"),
            ),
            ("ifInOctets", BaseType::Counter32, Some("Counter32"), None),
            ("ifSpeed", BaseType::Unsigned32, Some("Gauge32"), None),
            ("ifHCInOctets", BaseType::Counter64, Some("Counter64"), None),
            ("sysUpTime", BaseType::TimeTicks, Some("TimeTicks"), None),
            ("sysObjectID", BaseType::ObjectIdentifier, None, None),
            (
                "ifPhysAddress",
                BaseType::OctetString,
                Some("PhysAddress"),
                Some("1x:"),
            ),
            ("ifType", BaseType::Integer, Some("IANAifType"), None),
            (
                "ifIndex",
                BaseType::Integer,
                Some("InterfaceIndex"),
                Some("d"),
            ),
            ("ifTable", BaseType::SequenceOf, None, None),
            ("ipAdEntAddr", BaseType::IpAddress, Some("IpAddress"), None),
            (
                "memTotalSwapX",
                BaseType::Counter64,
                Some("CounterBasedGauge64"),
                None,
            ),
            ("nsCacheTimeout", BaseType::Integer, None, None),
            (
                "netSnmpExampleString",
                BaseType::OctetString,
                Some("SnmpAdminString"),
                Some("255t"),
            ),
        ];
        for (name, base, type_name, hint) in cases {
            let oid = set().resolve_name(name).expect(name);
            let syntax = set().node(&oid).and_then(|n| n.syntax.clone()).expect(name);
            assert_eq!(
                (
                    syntax.base,
                    syntax.type_name.as_deref(),
                    syntax.display_hint.as_deref()
                ),
                (base, type_name, hint),
                "{name}"
            );
        }
    }

    #[test]
    fn notification_nodes_carry_their_objects() {
        let cases: [(&str, NodeKind, &[&str]); 4] = [
            (
                "IF-MIB::linkDown",
                NodeKind::NotificationType,
                &["ifIndex", "ifAdminStatus", "ifOperStatus"],
            ),
            ("coldStart", NodeKind::NotificationType, &[]),
            (
                "netSnmpExampleHeartbeatNotification",
                NodeKind::NotificationType,
                &["netSnmpExampleHeartbeatRate"],
            ),
            ("RFC-1215::linkUp", NodeKind::TrapType, &["ifIndex"]),
        ];
        for (name, kind, objects) in cases {
            let oid = set().resolve_name(name).expect(name);
            let node = set().node(&oid).expect(name);
            let names: Vec<&str> = node.objects.iter().map(String::as_str).collect();
            assert_eq!((node.kind, names.as_slice()), (kind, objects), "{name}");
        }
        let link_down = set().node(&oid("1.3.6.1.6.3.1.1.5.3")).unwrap();
        assert_eq!(link_down.status.as_deref(), Some("current"));
        assert!(
            link_down
                .description
                .as_deref()
                .unwrap()
                .starts_with("A linkDown trap signifies")
        );
        let if_index = set().node(&oid("1.3.6.1.2.1.2.2.1.1")).unwrap();
        assert_eq!(
            (if_index.kind, if_index.access.as_deref()),
            (NodeKind::ObjectType, Some("read-only"))
        );
        let if_entry = set().node(&oid("1.3.6.1.2.1.2.2.1")).unwrap();
        assert_eq!(if_entry.index, ["ifIndex"]);
        let if_x_entry = set().node(&oid("1.3.6.1.2.1.31.1.1.1")).unwrap();
        assert_eq!(if_x_entry.augments.as_deref(), Some("ifEntry"));
    }

    /// An SMIv1 TRAP-TYPE `::= 17` under an enterprise is enterprise.0.17 (RFC 3584 §3).
    #[test]
    fn smiv1_trap_type_resolves_under_its_enterprise() {
        let module = r#"
ACME-TRAP-MIB DEFINITIONS ::= BEGIN
IMPORTS
    enterprises FROM RFC1155-SMI
    OBJECT-TYPE FROM RFC-1212
    TRAP-TYPE FROM RFC-1215
    DisplayString FROM RFC1213-MIB;

acme OBJECT IDENTIFIER ::= { enterprises 99999 }

acmeMessage OBJECT-TYPE
    SYNTAX  DisplayString (SIZE (0..255))
    ACCESS  read-only
    STATUS  mandatory
    DESCRIPTION "The alarm text."
    ::= { acme 1 }

acmeState OBJECT-TYPE
    SYNTAX  INTEGER { ok(1), failed(2) }
    ACCESS  read-only
    STATUS  mandatory
    ::= { acme 2 }

acmeAlarm TRAP-TYPE
    ENTERPRISE  acme
    VARIABLES   { acmeMessage, acmeState }
    DESCRIPTION "Something broke."
    ::= 17
END
"#;
        let (set, errors, _dir) = load_with(&[("ACME-TRAP-MIB.txt", module)]);
        assert!(errors.is_empty(), "{errors:#?}");
        let trap = set.resolve_name("ACME-TRAP-MIB::acmeAlarm").unwrap();
        assert_eq!(trap, oid("1.3.6.1.4.1.99999.0.17"));
        let node = set.node(&trap).unwrap();
        assert_eq!(
            (node.kind, node.objects.as_slice()),
            (
                NodeKind::TrapType,
                &["acmeMessage".to_owned(), "acmeState".to_owned()][..]
            )
        );
        assert_eq!(
            set.name_of(&trap).unwrap().to_string(),
            "ACME-TRAP-MIB::acmeAlarm"
        );
        assert_eq!(
            set.format_value(&oid("1.3.6.1.4.1.99999.2.0"), 2)
                .as_deref(),
            Some("failed(2)")
        );
        let message = set
            .node(&oid("1.3.6.1.4.1.99999.1"))
            .unwrap()
            .syntax
            .clone()
            .unwrap();
        // RFC1213-MIB's DisplayString is a plain type assignment, not a TC: no DISPLAY-HINT.
        assert_eq!(
            (
                message.base,
                message.type_name.as_deref(),
                message.display_hint
            ),
            (BaseType::OctetString, Some("DisplayString"), None)
        );
    }

    /// Definitions may come in any order and reference each other across modules.
    #[test]
    fn definitions_resolve_in_any_order_across_modules() {
        let a = "A-MIB DEFINITIONS ::= BEGIN
IMPORTS bTop FROM B-MIB;
aLeaf OBJECT IDENTIFIER ::= { aMid 3 }
aMid OBJECT IDENTIFIER ::= { bTop 2 }
END";
        let b = "B-MIB DEFINITIONS ::= BEGIN
bTop OBJECT IDENTIFIER ::= { iso org(3) dod(6) 1 4 1 77777 }
END";
        // A name in scope is never taken from another module, even one resolved earlier.
        let other = "A0-MIB DEFINITIONS ::= BEGIN\nshadow OBJECT IDENTIFIER ::= { iso 7 }\nEND";
        let local = "A1-MIB DEFINITIONS ::= BEGIN
child OBJECT IDENTIFIER ::= { shadow 1 }
shadow OBJECT IDENTIFIER ::= { iso 5 }
END";
        let files = [
            ("a.mib", a),
            ("b.mib", b),
            ("a0.mib", other),
            ("a1.mib", local),
        ];
        let (set, errors, _dir) = load_with(&files);
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(
            set.resolve_name("aLeaf"),
            Some(oid("1.3.6.1.4.1.77777.2.3"))
        );
        assert_eq!(set.resolve_name("A1-MIB::child"), Some(oid("1.5.1")));
    }

    #[test]
    fn malformed_modules_are_reported_and_skipped() {
        let truncated = &BUNDLED[10].1[..20_000]; // IF-MIB, cut in the middle
        let files = [
            ("truncated.mib", truncated.replace("IF-MIB DEFINITIONS", "CUT-MIB DEFINITIONS")),
            ("bad-oid.mib", "BAD-OID-MIB DEFINITIONS ::= BEGIN\nfoo OBJECT IDENTIFIER ::= { iso 3 bar }\nEND\n".into()),
            ("bad-syntax.mib", "BAD-SYNTAX-MIB DEFINITIONS ::= BEGIN\nfoo OBJECT IDENTIFIER ::= { iso 3 }\n  bar OBJECT IDENTIFIER := { foo 1 }\nEND\n".into()),
            ("unknown-import.mib", "UNKNOWN-IMPORT-MIB DEFINITIONS ::= BEGIN\nIMPORTS\n    frob FROM NO-SUCH-MIB;\nx OBJECT IDENTIFIER ::= { frob 1 }\nEND\n".into()),
            ("unknown-symbol.mib", "UNKNOWN-SYMBOL-MIB DEFINITIONS ::= BEGIN\nIMPORTS\n    frob FROM SNMPv2-SMI;\nEND\n".into()),
            ("depends.mib", "DEPENDS-MIB DEFINITIONS ::= BEGIN\nIMPORTS x FROM UNKNOWN-IMPORT-MIB;\nEND\n".into()),
            ("unresolved.mib", "UNRESOLVED-MIB DEFINITIONS ::= BEGIN\nok OBJECT IDENTIFIER ::= { iso 9 }\nnope OBJECT IDENTIFIER ::= { nowhere 1 }\nEND\n".into()),
            ("garbage.mib", "\u{0}\u{1}hello world }}} ::= ::=".into()),
            ("empty.mib", String::new()),
            ("good.mib", "GOOD-MIB DEFINITIONS ::= BEGIN\ngood OBJECT IDENTIFIER ::= { enterprises 4242 }\nEND\n".into()),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let (set, errors, _dir) = load_with(&files);
        let cases = [
            (
                "truncated.mib",
                "truncated.mib:512:16: syntax error: expected a name, found end of file",
            ),
            (
                "bad-oid.mib",
                "bad-oid.mib:2:35: syntax error: expected a number or `}` after the first OID component, found `bar`",
            ),
            (
                "bad-syntax.mib",
                "bad-syntax.mib:3:25: syntax error: expected ::=, found `:=`",
            ),
            (
                "unknown-import.mib",
                "unknown-import.mib:3:15: module UNKNOWN-IMPORT-MIB imports from NO-SUCH-MIB, which is not loaded; UNKNOWN-IMPORT-MIB is skipped",
            ),
            (
                "unknown-symbol.mib",
                "unknown-symbol.mib:3:15: module UNKNOWN-SYMBOL-MIB imports frob from SNMPv2-SMI, which does not define it; UNKNOWN-SYMBOL-MIB is skipped",
            ),
            (
                "depends.mib",
                "depends.mib:2:16: module DEPENDS-MIB imports from UNKNOWN-IMPORT-MIB, which is not loaded; DEPENDS-MIB is skipped",
            ),
            (
                "unresolved.mib",
                "unresolved.mib:3:1: cannot resolve the OID of nope: nowhere is not defined",
            ),
            (
                "garbage.mib",
                "garbage.mib:1:1: syntax error: expected a module name, found `\u{0}\u{1}hello`",
            ),
            (
                "empty.mib",
                "empty.mib:1:1: syntax error: expected a module name, found end of file",
            ),
        ];
        for (file, expected) in cases {
            assert_eq!(error_for(&errors, file), expected);
        }
        assert_eq!(errors.len(), cases.len(), "{errors:#?}");
        assert_eq!(set.resolve_name("good"), Some(oid("1.3.6.1.4.1.4242")));
        assert_eq!(set.resolve_name("ok"), Some(oid("1.9")));
        assert_eq!(
            set.resolve_name("linkDown"),
            Some(oid("1.3.6.1.6.3.1.1.5.3"))
        );
        for gone in [
            "CUT-MIB",
            "BAD-OID-MIB",
            "UNKNOWN-IMPORT-MIB",
            "DEPENDS-MIB",
        ] {
            assert!(!set.modules().iter().any(|m| m == gone), "{gone}");
        }
    }

    #[test]
    fn directory_modules_override_bundled_ones() {
        let replacement = "NET-SNMP-EXAMPLES-MIB DEFINITIONS ::= BEGIN
IMPORTS netSnmp FROM NET-SNMP-MIB;
netSnmpExamples OBJECT IDENTIFIER ::= { netSnmp 2 }
siteSpecific OBJECT IDENTIFIER ::= { netSnmpExamples 42 }
END";
        let (set, errors, _dir) = load_with(&[("NET-SNMP-EXAMPLES-MIB.txt", replacement)]);
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(
            set.resolve_name("siteSpecific"),
            Some(oid("1.3.6.1.4.1.8072.2.42"))
        );
        assert_eq!(
            set.resolve_name("netSnmpExampleHeartbeatNotification"),
            None
        );
        let (_, errors, _dir) = load_with(&[("a.mib", replacement), ("b.mib", replacement)]);
        assert_eq!(
            error_for(&errors, "b.mib"),
            format!(
                "b.mib:1:1: module NET-SNMP-EXAMPLES-MIB is already defined in {}; this one is skipped",
                _dir.path().join("a.mib").display()
            )
        );
    }

    #[test]
    fn load_reports_unreadable_and_oversized_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b' '; (MAX_FILE_BYTES + 1) as usize];
        std::fs::write(dir.path().join("big.mib"), big).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a module").unwrap();
        let missing = dir.path().join("missing");
        let (set, errors) = MibSet::load(&[dir.path().to_path_buf(), missing]);
        assert!(set.modules().is_empty());
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            matches!(errors[0].kind, MibErrorKind::TooLarge { .. }),
            "{errors:#?}"
        );
        assert!(matches!(errors[1].kind, MibErrorKind::Io(_)), "{errors:#?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "DEEP-MIB DEFINITIONS ::= BEGIN\nx OBJECT-TYPE SYNTAX INTEGER DEFVAL {} ::= {{ iso 1 }}\nEND\n",
            "{".repeat(100_000)
        );
        let (_, errors, _dir) = load_with(&[("deep.mib", &deep)]);
        assert!(error_for(&errors, "deep.mib").contains("less deeply nested brackets"));
    }

    #[test]
    fn dotted_oids() {
        let cases = [
            ("1.3.6.1", Some(vec![1, 3, 6, 1])),
            (".1.3.6.1.2.1.1.3.0", Some(vec![1, 3, 6, 1, 2, 1, 1, 3, 0])),
            (" 0 ", Some(vec![0])),
            ("4294967295", Some(vec![u32::MAX])),
            ("4294967296", None),
            ("1..3", None),
            ("1.3.", None),
            ("1.-3", None),
            ("1.a", None),
            (".", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_oid(text), expected, "{text:?}");
        }
    }

    /// Characters that matter to the grammar, for mutations that stress the parser.
    const MUTATIONS: &[&str] = &[
        "{", "}", "(", ")", "\"", "-", "--", "::=", ",", ";", " ", "\n", "END", "BEGIN", "1", "x",
        "'", "..", "MACRO",
    ];

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
            let _ = parse::parse_modules(&text);
        }

        #[test]
        fn parser_never_panics_on_grammar_soup(parts in proptest::collection::vec(proptest::sample::select(MUTATIONS), 0..200)) {
            let _ = parse::parse_modules(&parts.concat());
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn loader_never_panics_on_mutated_real_modules(
            file in 0..BUNDLED.len(),
            cut in any::<proptest::sample::Index>(),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::sample::select(MUTATIONS), 0usize..4), 0..6),
        ) {
            let mut text = BUNDLED[file].1.to_owned();
            for (at, insert, delete) in edits {
                let at = at.index(text.len());
                let end = (at + delete).min(text.len());
                text.replace_range(at..end, insert);
            }
            text.truncate(cut.index(text.len() + 1));
            let source = resolve::bundled_sources(&[("mutated.mib", Box::leak(text.into_boxed_str()))]);
            let mut sources = resolve::bundled_sources(BUNDLED);
            sources.retain(|s| !s.is_file(BUNDLED[file].0));
            sources.extend(source);
            let _ = resolve::build(sources);
        }
    }

    /// Load time and lookup cost; run with `cargo test --lib mib::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        let start = std::time::Instant::now();
        let set = MibSet::bundled();
        let load = start.elapsed();
        let oids: Vec<Vec<u32>> = [
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.2.2",
            "1.3.6.1.2.1.1.3.0",
            "1.3.6.1.4.1.99999.1.2.3.4.5",
        ]
        .iter()
        .map(|t| oid(t))
        .collect();
        let rounds = 100_000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for oid in &oids {
                std::hint::black_box(set.name_of(std::hint::black_box(oid)));
            }
        }
        let per_lookup = start.elapsed() / (rounds * oids.len() as u32);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(set.format_value(&oids[1], 2));
        }
        let per_format = start.elapsed() / rounds;
        println!(
            "MibSet::bundled(): {load:?} for {} modules, {} nodes; name_of: {per_lookup:?}/lookup; format_value: {per_format:?}",
            set.modules().len(),
            set.len()
        );
    }
}
