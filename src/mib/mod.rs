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

/// A module that could not be read, parsed or resolved, at `file:line:col`.
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
    by_oid: HashMap<Vec<u32>, usize>,
    /// Descriptor → every node of that name, preferred first.
    by_name: HashMap<String, Vec<usize>>,
    /// Names of the modules that loaded.
    modules: Vec<String>,
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
        (1..=oid.len())
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

    #[test]
    fn bundled_modules_load_without_errors() {
        let (set, errors) = resolve::build(resolve::bundled_sources(BUNDLED));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{shown:#?}");
        assert_eq!(set.modules().len(), BUNDLED.len());
    }
}
