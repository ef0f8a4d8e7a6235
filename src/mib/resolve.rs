//! Resolution across modules: parsed modules in, an indexed [`MibSet`] and the errors out.
//!
//! Steps, in order:
//! 1. read sources (bundled texts, files of MIB directories; size-capped) and parse them;
//! 2. keep one module per name (a directory's module replaces a bundled one);
//! 3. check IMPORTS to a fixpoint: a module importing from a missing or skipped module, or a
//!    symbol its module does not define, is skipped (RFC 2578 §3.2), and so on transitively;
//! 4. resolve OIDs iteratively, in any order and across modules, from the X.208 roots `iso(1)`,
//!    `ccitt(0)` and `joint-iso-ccitt(2)`; a TRAP-TYPE goes to enterprise.0.number (RFC 3584 §3);
//! 5. resolve each OBJECT-TYPE's SYNTAX through type assignments and textual conventions;
//! 6. index the nodes by OID and by name; where two modules define the same OID (RFC1213-MIB
//!    and IF-MIB), the SMIv2 definition is preferred.
//!
//! Name lookup is lenient in one way real SMIv1 modules need: a name that is neither local nor
//! imported is looked up among all loaded modules (RFC-1215 uses `snmp` without importing it).
//!
//! It owns no parsing (that is `parse`) and no public API (that is the parent module).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use super::parse::{self, Item, Module, NodeKind, OidComponent, OidValue, TypeAst, TypeRef};
use super::{BaseType, MAX_FILE_BYTES, MibError, MibErrorKind, MibNode, MibSet, Syntax};

/// How far we follow re-exports and type chains before giving up (cycles, pathological input).
const MAX_CHAIN: usize = 16;

/// One file's text and where it came from.
pub(crate) struct Source {
    label: String,
    text: Cow<'static, str>,
    bundled: bool,
}

/// Well-known OIDs from modules we do not bundle: NOT parsed from any module, written by hand.
/// SNMP engines report these in REPORT PDUs and traps; the values are those of RFC 3411 §5
/// (SNMP-FRAMEWORK-MIB snmpEngine), RFC 3412 §5 (SNMP-MPD-MIB snmpMPDStats) and RFC 3414 §5
/// (SNMP-USER-BASED-SM-MIB usmStats). A loaded module that defines them takes precedence.
const WELL_KNOWN: &[(&str, &str, &[u32])] = &[
    (
        "SNMP-FRAMEWORK-MIB",
        "snmpEngine",
        &[1, 3, 6, 1, 6, 3, 10, 2, 1],
    ),
    (
        "SNMP-FRAMEWORK-MIB",
        "snmpEngineID",
        &[1, 3, 6, 1, 6, 3, 10, 2, 1, 1],
    ),
    (
        "SNMP-FRAMEWORK-MIB",
        "snmpEngineBoots",
        &[1, 3, 6, 1, 6, 3, 10, 2, 1, 2],
    ),
    (
        "SNMP-FRAMEWORK-MIB",
        "snmpEngineTime",
        &[1, 3, 6, 1, 6, 3, 10, 2, 1, 3],
    ),
    (
        "SNMP-FRAMEWORK-MIB",
        "snmpEngineMaxMessageSize",
        &[1, 3, 6, 1, 6, 3, 10, 2, 1, 4],
    ),
    (
        "SNMP-MPD-MIB",
        "snmpMPDStats",
        &[1, 3, 6, 1, 6, 3, 11, 2, 1],
    ),
    (
        "SNMP-MPD-MIB",
        "snmpUnknownSecurityModels",
        &[1, 3, 6, 1, 6, 3, 11, 2, 1, 1],
    ),
    (
        "SNMP-MPD-MIB",
        "snmpInvalidMsgs",
        &[1, 3, 6, 1, 6, 3, 11, 2, 1, 2],
    ),
    (
        "SNMP-MPD-MIB",
        "snmpUnknownPDUHandlers",
        &[1, 3, 6, 1, 6, 3, 11, 2, 1, 3],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStats",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsUnsupportedSecLevels",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 1],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsNotInTimeWindows",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 2],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsUnknownUserNames",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 3],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsUnknownEngineIDs",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 4],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsWrongDigests",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 5],
    ),
    (
        "SNMP-USER-BASED-SM-MIB",
        "usmStatsDecryptionErrors",
        &[1, 3, 6, 1, 6, 3, 15, 1, 1, 6],
    ),
];

/// The X.208 roots every OID hangs off.
const ROOTS: &[(&str, u32)] = &[("ccitt", 0), ("iso", 1), ("joint-iso-ccitt", 2)];

/// File extensions we read from a MIB directory (plus files without one); READMEs and the like
/// are not modules.
const MIB_EXTENSIONS: &[&str] = &["mib", "txt", "my", "smi", "mi2", "asn", "asn1"];

impl Source {
    /// True for the bundled file `name` (tests swap one out for a mutated copy).
    #[cfg(test)]
    pub(crate) fn is_file(&self, name: &str) -> bool {
        self.bundled && self.label == format!("bundled/{name}")
    }
}

pub(crate) fn bundled_sources(files: &[(&'static str, &'static str)]) -> Vec<Source> {
    files
        .iter()
        .map(|&(name, text)| Source {
            label: format!("bundled/{name}"),
            text: Cow::Borrowed(text),
            bundled: true,
        })
        .collect()
}

/// Modules handed over as text (label, contents) rather than read from files; see
/// `MibSet::from_texts`.
pub(crate) fn text_sources(texts: &[(&str, &str)]) -> Vec<Source> {
    texts
        .iter()
        .map(|&(label, text)| Source {
            label: label.to_owned(),
            text: Cow::Owned(text.to_owned()),
            bundled: false,
        })
        .collect()
}

/// Reads the MIB files of `dirs`, each directory's files in name order.
pub(crate) fn dir_sources(dirs: &[PathBuf]) -> (Vec<Source>, Vec<MibError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(file_error(
                    dir.display().to_string(),
                    MibErrorKind::Io(e.to_string()),
                ));
                continue;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_mib_file(p))
            .collect();
        paths.sort();
        for path in paths {
            match read_capped(&path) {
                Ok(text) => sources.push(Source {
                    label: path.display().to_string(),
                    text: Cow::Owned(text),
                    bundled: false,
                }),
                Err(kind) => errors.push(file_error(path.display().to_string(), kind)),
            }
        }
    }
    (sources, errors)
}

fn is_mib_file(path: &std::path::Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'));
    let ext_ok = path
        .extension()
        .and_then(|e| e.to_str())
        .is_none_or(|e| MIB_EXTENSIONS.iter().any(|m| m.eq_ignore_ascii_case(e)));
    !hidden && ext_ok && path.is_file()
}

/// Reads at most [`MAX_FILE_BYTES`]; MIBs are ASCII, stray Latin-1 in descriptions is replaced.
fn read_capped(path: &std::path::Path) -> Result<String, MibErrorKind> {
    let io = |e: std::io::Error| MibErrorKind::Io(e.to_string());
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(MibErrorKind::TooLarge {
            size,
            max: MAX_FILE_BYTES,
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn file_error(file: String, kind: MibErrorKind) -> MibError {
    MibError {
        file,
        line: 1,
        col: 1,
        kind,
    }
}

/// 1-based line and column (in bytes) of `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// A parsed module and the source it came from.
struct Parsed {
    module: Module,
    source: usize,
    smiv2: bool,
    /// Value definitions by name (index into `module.items`).
    values: HashMap<String, usize>,
    /// Type definitions by name.
    types: HashMap<String, usize>,
    /// Imported symbol → the module index it comes from.
    imports: HashMap<String, usize>,
}

impl Parsed {
    fn new(module: Module, source: usize) -> Parsed {
        let smiv2 = matches!(
            module.name.as_str(),
            "SNMPv2-SMI" | "SNMPv2-TC" | "SNMPv2-CONF"
        ) || module.imports.iter().any(|i| i.from == "SNMPv2-SMI");
        let mut values = HashMap::new();
        let mut types = HashMap::new();
        for (k, item) in module.items.iter().enumerate() {
            match item {
                Item::Value(v) => {
                    values.entry(v.name.clone()).or_insert(k);
                }
                Item::Type(t) => {
                    types.entry(t.name.clone()).or_insert(k);
                }
                Item::Macro(_) => {}
            }
        }
        Parsed {
            module,
            source,
            smiv2,
            values,
            types,
            imports: HashMap::new(),
        }
    }

    fn defines(&self, symbol: &str) -> bool {
        self.values.contains_key(symbol)
            || self.types.contains_key(symbol)
            || self
                .module
                .items
                .iter()
                .any(|i| matches!(i, Item::Macro(m) if m == symbol))
    }
}

/// The state of resolution: the modules that survived, and the errors so far.
struct Resolver {
    sources: Vec<Source>,
    modules: Vec<Parsed>,
    errors: Vec<MibError>,
    /// Resolved OIDs per module, by definition name.
    oids: Vec<HashMap<String, Vec<u32>>>,
    /// First resolved OID per name over all modules: the lenient fallback.
    global_oids: HashMap<String, Vec<u32>>,
    /// Every module that defines a value or a type of this name: the lenient fallback.
    global_defs: HashMap<String, Vec<usize>>,
}

/// Parses, resolves and indexes `sources`; never fails, only reports.
pub(crate) fn build(sources: Vec<Source>) -> (MibSet, Vec<MibError>) {
    let mut resolver = Resolver {
        sources,
        modules: Vec::new(),
        errors: Vec::new(),
        oids: Vec::new(),
        global_oids: HashMap::new(),
        global_defs: HashMap::new(),
    };
    resolver.parse_all();
    resolver.check_imports();
    resolver.resolve_oids();
    let set = resolver.index();
    (set, resolver.errors)
}

impl Resolver {
    fn error_at(&mut self, source: usize, offset: usize, kind: MibErrorKind) {
        let src = &self.sources[source];
        let (line, col) = line_col(&src.text, offset);
        self.errors.push(MibError {
            file: src.label.clone(),
            line,
            col,
            kind,
        });
    }

    /// Steps 1 and 2: parse every source, keep one module per name.
    fn parse_all(&mut self) {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut kept: Vec<Parsed> = Vec::new();
        for source in 0..self.sources.len() {
            let parsed = parse::parse_modules(&self.sources[source].text);
            let modules = match parsed {
                Ok(modules) => modules,
                Err(e) => {
                    self.error_at(source, e.offset, MibErrorKind::Syntax(e.message));
                    continue;
                }
            };
            for module in modules {
                let Some(&k) = by_name.get(&module.name) else {
                    by_name.insert(module.name.clone(), kept.len());
                    kept.push(Parsed::new(module, source));
                    continue;
                };
                let other = kept[k].source;
                if self.sources[other].bundled && !self.sources[source].bundled {
                    kept[k] = Parsed::new(module, source);
                } else {
                    let kind = MibErrorKind::DuplicateModule {
                        module: module.name.clone(),
                        other: self.sources[other].label.clone(),
                    };
                    self.error_at(source, module.offset, kind);
                }
            }
        }
        let mut modules = kept;
        modules.sort_by(|a, b| a.module.name.cmp(&b.module.name));
        self.modules = modules;
    }

    /// Step 3: drop modules whose imports do not resolve, until nothing changes.
    fn check_imports(&mut self) {
        loop {
            let index: HashMap<&str, usize> = self
                .modules
                .iter()
                .enumerate()
                .map(|(k, p)| (p.module.name.as_str(), k))
                .collect();
            let mut failed = None;
            'modules: for (k, parsed) in self.modules.iter().enumerate() {
                for import in &parsed.module.imports {
                    let name = parsed.module.name.clone();
                    let Some(&from) = index.get(import.from.as_str()) else {
                        let kind = MibErrorKind::UnknownModule {
                            module: name,
                            from: import.from.clone(),
                        };
                        failed = Some((k, import.offset, kind));
                        break 'modules;
                    };
                    if let Some(symbol) = import
                        .symbols
                        .iter()
                        .find(|s| !self.modules[from].defines(s))
                    {
                        let kind = MibErrorKind::UnknownSymbol {
                            module: name,
                            symbol: symbol.clone(),
                            from: import.from.clone(),
                        };
                        failed = Some((k, import.offset, kind));
                        break 'modules;
                    }
                }
            }
            let Some((k, offset, kind)) = failed else {
                break;
            };
            let parsed = self.modules.remove(k);
            self.error_at(parsed.source, offset, kind);
        }
        let index: HashMap<String, usize> = self
            .modules
            .iter()
            .enumerate()
            .map(|(k, p)| (p.module.name.clone(), k))
            .collect();
        for (k, parsed) in self.modules.iter_mut().enumerate() {
            for import in &parsed.module.imports {
                for symbol in &import.symbols {
                    parsed.imports.insert(symbol.clone(), index[&import.from]);
                }
            }
            for name in parsed.values.keys().chain(parsed.types.keys()) {
                self.global_defs.entry(name.clone()).or_default().push(k);
            }
        }
        self.oids = vec![HashMap::new(); self.modules.len()];
    }

    /// Where the value `name` used in module `m` is defined: locally or through IMPORTS
    /// (re-exports followed).
    fn scoped_home(&self, m: usize, name: &str) -> Option<usize> {
        let mut m = m;
        for _ in 0..MAX_CHAIN {
            let parsed = &self.modules[m];
            if parsed.values.contains_key(name) {
                return Some(m);
            }
            m = *parsed.imports.get(name)?;
        }
        None
    }

    /// The OID of `name` as seen from module `m`, if it is resolved yet. A name in scope is
    /// only ever that definition; a name out of scope may be a root or, leniently, the first
    /// resolved definition of that name in any module.
    fn lookup_oid(&self, m: usize, name: &str) -> Option<Vec<u32>> {
        if let Some(home) = self.scoped_home(m, name) {
            return self.oids[home].get(name).cloned();
        }
        if let Some(&(_, arc)) = ROOTS.iter().find(|(root, _)| *root == name) {
            return Some(vec![arc]);
        }
        self.global_oids.get(name).cloned()
    }

    /// The OID `components` denote in module `m`, or the name that is not resolved (yet).
    fn components_oid<'c>(
        &self,
        m: usize,
        components: &'c [OidComponent],
    ) -> Result<Vec<u32>, &'c str> {
        let mut oid = Vec::with_capacity(components.len() + 8);
        for (k, component) in components.iter().enumerate() {
            match component {
                OidComponent::Number(n) | OidComponent::NamedNumber(_, n) => oid.push(*n),
                OidComponent::Name(name) if k == 0 => match self.lookup_oid(m, name) {
                    Some(base) => oid = base,
                    None => return Err(name),
                },
                OidComponent::Name(name) => return Err(name),
            }
        }
        Ok(oid)
    }

    /// The name and OID of item `k` of module `m`, if its parent is resolved.
    fn resolve_def(&self, m: usize, k: usize) -> Option<(String, Vec<u32>)> {
        let Item::Value(def) = &self.modules[m].module.items[k] else {
            return None;
        };
        let oid = match def.oid.as_ref()? {
            OidValue::Components(c) => self.components_oid(m, c).ok()?,
            OidValue::Trap { enterprise, number } => {
                let mut oid = self.components_oid(m, enterprise).ok()?;
                oid.extend([0, *number]);
                oid
            }
        };
        Some((def.name.clone(), oid))
    }

    /// Step 4: resolve every definition's OID, repeating passes while any makes progress.
    fn resolve_oids(&mut self) {
        let mut pending: Vec<(usize, usize)> = self
            .modules
            .iter()
            .enumerate()
            .flat_map(|(m, p)| {
                p.module
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, item)| matches!(item, Item::Value(_)))
                    .map(move |(k, _)| (m, k))
            })
            .collect();
        loop {
            let before = pending.len();
            let mut still = Vec::with_capacity(before);
            for (m, k) in pending {
                match self.resolve_def(m, k) {
                    Some((name, oid)) => {
                        self.global_oids
                            .entry(name.clone())
                            .or_insert_with(|| oid.clone());
                        self.oids[m].insert(name, oid);
                    }
                    None => still.push((m, k)),
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for (m, k) in pending {
            let Item::Value(def) = &self.modules[m].module.items[k] else {
                continue;
            };
            let parent = match &def.oid {
                Some(OidValue::Components(c)) | Some(OidValue::Trap { enterprise: c, .. }) => self
                    .components_oid(m, c)
                    .err()
                    .unwrap_or_default()
                    .to_owned(),
                None => String::new(),
            };
            let kind = MibErrorKind::UnresolvedOid {
                name: def.name.clone(),
                parent,
            };
            let (source, offset) = (self.modules[m].source, def.offset);
            self.error_at(source, offset, kind);
        }
    }

    /// Where the type `name` used in module `m` is defined (as `value_home`, for types).
    fn type_home(&self, m: usize, name: &str) -> Option<(usize, &parse::TypeDef)> {
        let mut k = m;
        let mut home = None;
        for _ in 0..MAX_CHAIN {
            let parsed = &self.modules[k];
            if parsed.types.contains_key(name) {
                home = Some(k);
                break;
            }
            match parsed.imports.get(name) {
                Some(&from) => k = from,
                None => break,
            }
        }
        let home = home.or_else(|| {
            self.global_defs
                .get(name)?
                .iter()
                .copied()
                .find(|&k| self.modules[k].types.contains_key(name))
        })?;
        let parsed = &self.modules[home];
        match &parsed.module.items[parsed.types[name]] {
            Item::Type(def) => Some((home, def)),
            _ => None,
        }
    }

    /// Step 5: a SYNTAX as seen from module `m`, through type assignments and TCs.
    fn resolve_syntax(&self, m: usize, ast: &TypeAst) -> Syntax {
        let mut syntax = Syntax {
            base: BaseType::Other,
            type_name: None,
            enums: ast
                .named_numbers
                .iter()
                .map(|(label, n)| (*n, label.clone()))
                .collect(),
            display_hint: None,
        };
        let mut module = m;
        let mut current = ast.base.clone();
        for _ in 0..MAX_CHAIN {
            let name = match current {
                TypeRef::Named(name) => name,
                builtin => {
                    syntax.base = builtin_base(&builtin);
                    break;
                }
            };
            syntax.type_name.get_or_insert_with(|| name.clone());
            if let Some(base) = application_type(&name) {
                syntax.base = base;
                break;
            }
            let Some((home, def)) = self.type_home(module, &name) else {
                break;
            };
            if syntax.display_hint.is_none() {
                syntax.display_hint.clone_from(&def.display_hint);
            }
            if syntax.enums.is_empty() {
                syntax.enums = def
                    .syntax
                    .named_numbers
                    .iter()
                    .map(|(label, n)| (*n, label.clone()))
                    .collect();
            }
            module = home;
            current = def.syntax.base.clone();
        }
        syntax
    }

    /// Step 6: nodes, indexes, and the well-known table.
    fn index(&self) -> MibSet {
        let mut set = MibSet::default();
        // (smiv2, rich kind): higher is preferred when two nodes share an OID or a name.
        let mut rank: Vec<(bool, bool)> = Vec::new();
        let mut push = |set: &mut MibSet, node: MibNode, r: (bool, bool)| {
            let k = set.nodes.len();
            set.by_name.entry(node.name.clone()).or_default().push(k);
            match set.by_oid.get(&node.oid) {
                Some(&other) if rank[other] >= r => {}
                _ => {
                    set.by_oid.insert(node.oid.clone(), k);
                }
            }
            set.nodes.push(node);
            rank.push(r);
        };
        for &(name, arc) in ROOTS {
            let node = bare_node("SNMPv2-SMI", name, vec![arc], NodeKind::Root);
            push(&mut set, node, (false, false));
        }
        for (m, parsed) in self.modules.iter().enumerate() {
            for item in &parsed.module.items {
                let Item::Value(def) = item else { continue };
                let Some(oid) = self.oids[m].get(&def.name) else {
                    continue;
                };
                let kind = def.kind.unwrap_or(NodeKind::ObjectIdentifier);
                let node = MibNode {
                    module: parsed.module.name.clone(),
                    name: def.name.clone(),
                    oid: oid.clone(),
                    kind,
                    syntax: def.syntax.as_ref().map(|s| self.resolve_syntax(m, s)),
                    access: def.access.clone(),
                    status: def.status.clone(),
                    description: def.description.clone(),
                    units: def.units.clone(),
                    objects: def.objects.clone(),
                    index: def.index.clone(),
                    augments: def.augments.clone(),
                    defval: def.defval.clone(),
                };
                let rich = kind != NodeKind::ObjectIdentifier;
                push(&mut set, node, (parsed.smiv2, rich));
            }
        }
        for &(module, name, oid) in WELL_KNOWN {
            if !set.by_oid.contains_key(oid) && !set.by_name.contains_key(name) {
                let node = bare_node(module, name, oid.to_vec(), NodeKind::WellKnown);
                push(&mut set, node, (false, false));
            }
        }
        // Preferred first: the node its OID maps to, then by rank, then by module name.
        let nodes = &set.nodes;
        let by_oid = &set.by_oid;
        for list in set.by_name.values_mut() {
            list.sort_by_key(|&k| {
                let canonical = by_oid.get(&nodes[k].oid) == Some(&k);
                (
                    !canonical,
                    std::cmp::Reverse(rank[k]),
                    nodes[k].module.clone(),
                )
            });
        }
        set.modules = self.modules.iter().map(|p| p.module.name.clone()).collect();
        set.max_oid_len = set.nodes.iter().map(|n| n.oid.len()).max().unwrap_or(0);
        set
    }
}

fn bare_node(module: &str, name: &str, oid: Vec<u32>, kind: NodeKind) -> MibNode {
    MibNode {
        module: module.to_owned(),
        name: name.to_owned(),
        oid,
        kind,
        syntax: None,
        access: None,
        status: None,
        description: None,
        units: None,
        objects: Vec::new(),
        index: Vec::new(),
        augments: None,
        defval: None,
    }
}

fn builtin_base(t: &TypeRef) -> BaseType {
    match t {
        TypeRef::Integer => BaseType::Integer,
        TypeRef::OctetString => BaseType::OctetString,
        TypeRef::ObjectIdentifier => BaseType::ObjectIdentifier,
        TypeRef::Bits => BaseType::Bits,
        TypeRef::Null => BaseType::Null,
        TypeRef::Sequence => BaseType::Sequence,
        TypeRef::SequenceOf(_) => BaseType::SequenceOf,
        TypeRef::Choice | TypeRef::Named(_) => BaseType::Other,
    }
}

/// The application types of RFC 2578 §7.1 and RFC 1155 §3.2.3, known by name so that the
/// SMI modules' `[APPLICATION n] IMPLICIT` definitions do not hide what they are.
fn application_type(name: &str) -> Option<BaseType> {
    Some(match name {
        "Integer32" => BaseType::Integer,
        "Unsigned32" | "Gauge32" | "Gauge" => BaseType::Unsigned32,
        "Counter32" | "Counter" => BaseType::Counter32,
        "Counter64" => BaseType::Counter64,
        "TimeTicks" => BaseType::TimeTicks,
        "IpAddress" | "NetworkAddress" => BaseType::IpAddress,
        "Opaque" => BaseType::Opaque,
        _ => return None,
    })
}
