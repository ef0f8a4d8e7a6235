//! The nom parser for SMIv1/SMIv2 MIB module text: text in, [`Module`] syntax trees out.
//!
//! It implements the subset of ASN.1 that MIB modules use: RFC 1155 §3–4 and RFC 1212 §4 (SMIv1
//! OBJECT-TYPE), RFC 1215 §2 (TRAP-TYPE), RFC 2578 §3–8 (SMIv2 module layout, MODULE-IDENTITY,
//! OBJECT-IDENTITY, OBJECT-TYPE, NOTIFICATION-TYPE), RFC 2579 §3 (TEXTUAL-CONVENTION) and RFC
//! 2580 (OBJECT-GROUP, NOTIFICATION-GROUP, MODULE-COMPLIANCE, AGENT-CAPABILITIES, which are
//! skipped up to their `::= { … }` value). MACRO definitions (the bodies in SNMPv2-SMI,
//! RFC-1212, RFC-1215) are skipped from `MACRO ::= BEGIN` to `END`. Comments follow X.208: `--`
//! to the end of the line or to the next `--`.
//!
//! It is lenient where real modules are sloppy (unknown clauses in skipped macros, trailing
//! commas in lists, constraints it does not model) and strict where garbage would otherwise be
//! accepted: every statement of a module body must be one of the forms above. Nesting of braces
//! and parentheses is capped at [`MAX_NESTING`]; no function recurses, so no input can overflow
//! the stack. Errors carry a byte offset; [`super`] turns it into `file:line:col`.
//!
//! It does no I/O and resolves nothing: names stay names until `resolve` looks them up.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::tag,
    character::complete::{char, digit1},
    combinator::{cut, map, opt, recognize, value},
    error::{ContextError, ErrorKind, ParseError, context},
    multi::{many0, separated_list0, separated_list1},
    sequence::{delimited, preceded, terminated},
};

/// Deepest nesting of `{}`/`()` we follow; real modules need 3 or 4.
pub(crate) const MAX_NESTING: usize = 32;

/// One `X DEFINITIONS ::= BEGIN … END` module, as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Module {
    pub name: String,
    /// Byte offset of the module name in the file.
    pub offset: usize,
    pub imports: Vec<Import>,
    pub items: Vec<Item>,
}

/// `a, b FROM MOD-A` (RFC 2578 §3.2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Import {
    pub from: String,
    pub symbols: Vec<String>,
    /// Byte offset of the `FROM` module name.
    pub offset: usize,
}

/// One statement of a module body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// Something with an OID: `OBJECT IDENTIFIER`, OBJECT-TYPE, TRAP-TYPE, …
    Value(Box<ValueDef>),
    /// A type assignment or TEXTUAL-CONVENTION.
    Type(TypeDef),
    /// A `NAME MACRO ::= BEGIN … END` definition (body skipped).
    Macro(String),
}

/// What kind of definition gave a node its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// The `iso`, `ccitt` and `joint-iso-ccitt` roots of X.208.
    Root,
    /// `name OBJECT IDENTIFIER ::= { … }`.
    ObjectIdentifier,
    /// MODULE-IDENTITY (RFC 2578 §5).
    ModuleIdentity,
    /// OBJECT-IDENTITY (RFC 2578 §6).
    ObjectIdentity,
    /// OBJECT-TYPE (RFC 2578 §7, RFC 1212 §4).
    ObjectType,
    /// NOTIFICATION-TYPE (RFC 2578 §8).
    NotificationType,
    /// SMIv1 TRAP-TYPE (RFC 1215), placed at enterprise.0.number (RFC 3584 §3).
    TrapType,
    /// OBJECT-GROUP (RFC 2580 §4).
    ObjectGroup,
    /// NOTIFICATION-GROUP (RFC 2580 §4).
    NotificationGroup,
    /// MODULE-COMPLIANCE (RFC 2580 §5).
    ModuleCompliance,
    /// AGENT-CAPABILITIES (RFC 2580 §6).
    AgentCapabilities,
    /// Not from any module: trapline's small table of well-known OIDs (see `resolve`).
    WellKnown,
}

/// An OID value as written: `{ parent 3 }`, `{ iso org(3) dod(6) 1 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OidComponent {
    Name(String),
    Number(u32),
    NamedNumber(String, u32),
}

/// Where a definition goes in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OidValue {
    /// `::= { … }`.
    Components(Vec<OidComponent>),
    /// TRAP-TYPE `ENTERPRISE e … ::= n`, i.e. e.0.n (RFC 3584 §3).
    Trap {
        enterprise: Vec<OidComponent>,
        number: u32,
    },
}

/// A definition that names an OID, with the clauses we keep.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ValueDef {
    pub name: String,
    pub offset: usize,
    pub kind: Option<NodeKind>,
    pub oid: Option<OidValue>,
    pub syntax: Option<TypeAst>,
    pub access: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub objects: Vec<String>,
    pub index: Vec<String>,
    pub augments: Option<String>,
    pub defval: Option<String>,
    pub units: Option<String>,
}

/// `Name ::= type` or `Name ::= TEXTUAL-CONVENTION … SYNTAX type`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeDef {
    pub name: String,
    pub offset: usize,
    pub syntax: TypeAst,
    pub display_hint: Option<String>,
}

/// A SYNTAX as written, constraints dropped (we translate values, we do not validate them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeAst {
    pub base: TypeRef,
    /// `INTEGER { up(1), down(2) }` or `BITS { a(0) }` labels.
    pub named_numbers: Vec<(String, i64)>,
}

/// The head of a SYNTAX.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TypeRef {
    Integer,
    OctetString,
    ObjectIdentifier,
    Bits,
    Null,
    Sequence,
    SequenceOf(String),
    Choice,
    /// A type name: `Integer32`, `DisplayString`, `IANAifType`, …
    Named(String),
}

/// A parse failure: where (byte offset) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// nom's error for this parser: the rest of the input where it failed, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PError<'a> {
    at: &'a str,
    expected: Option<&'static str>,
}

impl<'a> ParseError<&'a str> for PError<'a> {
    fn from_error_kind(at: &'a str, _kind: ErrorKind) -> Self {
        PError { at, expected: None }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two failed alternatives, report the one that got further.
    fn or(self, other: Self) -> Self {
        if other.at.len() <= self.at.len() {
            other
        } else {
            self
        }
    }
}

impl<'a> ContextError<&'a str> for PError<'a> {
    fn add_context(_: &'a str, ctx: &'static str, mut other: Self) -> Self {
        other.expected.get_or_insert(ctx);
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PError<'a>>;

/// Parses every module in `text` (a file may hold several).
pub(crate) fn parse_modules(text: &str) -> Result<Vec<Module>, SyntaxError> {
    let mut modules = Vec::new();
    let mut rest = text;
    loop {
        rest = skip_ws(rest);
        if rest.is_empty() && !modules.is_empty() {
            return Ok(modules);
        }
        match module(text, rest) {
            Ok((r, m)) => {
                modules.push(m);
                rest = r;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(to_syntax_error(text, e)),
            Err(nom::Err::Incomplete(_)) => {
                return Err(SyntaxError {
                    offset: text.len(),
                    message: "unexpected end of file".into(),
                });
            }
        }
    }
}

fn to_syntax_error(text: &str, e: PError<'_>) -> SyntaxError {
    let offset = text.len() - e.at.len();
    let found = describe(e.at);
    let message = match e.expected {
        Some(what) => format!("expected {what}, found {found}"),
        None => format!("unexpected {found}"),
    };
    SyntaxError { offset, message }
}

/// The next token of `at`, quoted for an error message.
fn describe(at: &str) -> String {
    let at = skip_ws(at);
    if at.is_empty() {
        return "end of file".into();
    }
    let end = at
        .char_indices()
        .find(|&(i, c)| c.is_whitespace() || i >= 24)
        .map_or(at.len(), |(i, _)| i);
    format!(
        "`{}`",
        &at[..end.max(at.chars().next().map_or(1, char::len_utf8))]
    )
}

// ---------------------------------------------------------------------------------------------
// Lexical layer (X.208 §8): white space, comments, identifiers, numbers, strings.

/// Skips white space and comments. A comment runs from `--` to the end of the line or to the
/// next `--`; a run of dashes (`-----`) opens or closes as a whole, so rulers are comments.
pub(crate) fn skip_ws(mut i: &str) -> &str {
    loop {
        i = i.trim_start();
        let Some(after) = i.strip_prefix("--") else {
            return i;
        };
        let after = after.trim_start_matches('-');
        let bytes = after.as_bytes();
        let mut end = bytes.len();
        let mut k = 0;
        while k < bytes.len() {
            match bytes[k] {
                b'\n' | b'\r' => {
                    end = k;
                    break;
                }
                b'-' if bytes.get(k + 1) == Some(&b'-') => {
                    let run = after[k..].len() - after[k..].trim_start_matches('-').len();
                    end = k + run;
                    break;
                }
                _ => k += 1,
            }
        }
        i = &after[end..];
    }
}

fn ws(i: &str) -> Res<'_, ()> {
    Ok((skip_ws(i), ()))
}

/// An identifier or keyword: a letter, then letters, digits, `-` and `_`, never `--`.
fn ident(i: &str) -> Res<'_, &str> {
    let i = skip_ws(i);
    let bytes = i.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(nom::Err::Error(PError {
            at: i,
            expected: None,
        }));
    }
    let mut end = 1;
    while end < bytes.len() {
        let b = bytes[end];
        let ok = b.is_ascii_alphanumeric()
            || b == b'_'
            || (b == b'-' && bytes.get(end + 1).is_some_and(|&n| n != b'-'));
        if !ok {
            break;
        }
        end += 1;
    }
    Ok((&i[end..], &i[..end]))
}

/// `ident` as an owned name, with a message for when it is missing.
fn name(i: &str) -> Res<'_, String> {
    context("a name", map(ident, str::to_owned)).parse(i)
}

/// Exactly the keyword `word`.
fn kw<'a>(word: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = PError<'a>> {
    context(
        word,
        nom::combinator::verify(ident, move |s: &str| s == word),
    )
}

/// Exactly the symbol `s`.
fn sym<'a>(s: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = PError<'a>> {
    context(s, preceded(ws, tag(s)))
}

fn uint(i: &str) -> Res<'_, u32> {
    let (rest, digits) = context("a number", preceded(ws, digit1)).parse(i)?;
    match digits.parse() {
        Ok(n) => Ok((rest, n)),
        Err(_) => Err(nom::Err::Failure(PError {
            at: skip_ws(i),
            expected: Some("a number below 2^32"),
        })),
    }
}

fn int(i: &str) -> Res<'_, i64> {
    let (rest, digits) = context(
        "a number",
        preceded(ws, recognize((opt(char('-')), digit1))),
    )
    .parse(i)?;
    match digits.parse() {
        Ok(n) => Ok((rest, n)),
        Err(_) => Err(nom::Err::Failure(PError {
            at: skip_ws(i),
            expected: Some("a 64-bit number"),
        })),
    }
}

/// A `"…"` string (X.208 §8.11: `""` inside stands for one quote). Returns the raw content.
fn quoted(i: &str) -> Res<'_, &str> {
    let start = skip_ws(i);
    let (mut rest, _) = context("a quoted string", char('"')).parse(start)?;
    let body = rest;
    loop {
        match rest.find('"') {
            None => {
                return Err(nom::Err::Failure(PError {
                    at: start,
                    expected: Some("a closing quote"),
                }));
            }
            Some(k) if rest[k + 1..].starts_with('"') => rest = &rest[k + 2..],
            Some(k) => {
                let len = body.len() - rest.len() + k;
                return Ok((&rest[k + 1..], &body[..len]));
            }
        }
    }
}

/// A `"…"` string as an owned, indentation-trimmed text.
fn text(i: &str) -> Res<'_, String> {
    map(quoted, clean_text).parse(i)
}

/// Joins the lines of a DESCRIPTION with their common indentation removed.
fn clean_text(raw: &str) -> String {
    let lines: Vec<&str> = raw.lines().map(str::trim).collect();
    lines.join("\n").trim().replace("\"\"", "\"")
}

/// Skips one balanced `open … close` group (strings and comments respected) and returns it.
fn balanced<'a>(open: char, close: char) -> impl Fn(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| {
        let start = skip_ws(i);
        let (mut rest, _) = char(open).parse(start)?;
        let mut depth = 1usize;
        loop {
            rest = skip_ws(rest);
            let Some(c) = rest.chars().next() else {
                return Err(nom::Err::Failure(PError {
                    at: start,
                    expected: Some(if close == '}' {
                        "a closing `}`"
                    } else {
                        "a closing `)`"
                    }),
                }));
            };
            if c == '"' {
                rest = quoted(rest)?.0;
                continue;
            }
            if c == open {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(nom::Err::Failure(PError {
                        at: rest,
                        expected: Some("less deeply nested brackets"),
                    }));
                }
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    rest = &rest[1..];
                    let len = start.len() - rest.len();
                    return Ok((rest, &start[..len]));
                }
            }
            rest = &rest[c.len_utf8()..];
        }
    }
}

/// Skips tokens up to (not including) `::=`, respecting strings and comments.
fn skip_to_assignment(i: &str) -> Res<'_, ()> {
    let start = skip_ws(i);
    let mut rest = start;
    loop {
        rest = skip_ws(rest);
        if rest.starts_with("::=") {
            return Ok((rest, ()));
        }
        let Some(c) = rest.chars().next() else {
            return Err(nom::Err::Failure(PError {
                at: start,
                expected: Some("`::=` ending the definition"),
            }));
        };
        if c == '"' {
            rest = quoted(rest)?.0;
        } else if let Ok((r, _)) = ident(rest) {
            rest = r;
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Module structure (RFC 2578 §3).

/// `NAME DEFINITIONS ::= BEGIN imports? body END`.
fn module<'a>(text: &'a str, i: &'a str) -> Res<'a, Module> {
    let i = skip_ws(i);
    let offset = text.len() - i.len();
    let (i, name) = context("a module name", ident).parse(i)?;
    let (i, _) = (kw("DEFINITIONS"), sym("::="), kw("BEGIN")).parse(i)?;
    let mut module = Module {
        name: name.to_owned(),
        offset,
        imports: Vec::new(),
        items: Vec::new(),
    };
    let mut rest = i;
    loop {
        let (r, word) = context("a definition or END", cut(ident)).parse(rest)?;
        match word {
            "END" => return Ok((r, module)),
            "IMPORTS" => {
                let (r, imports) = cut(imports(text)).parse(r)?;
                module.imports.extend(imports);
                rest = r;
            }
            "EXPORTS" => {
                let (r, _) = cut((skip_to(';'), sym(";"))).parse(r)?;
                rest = r;
            }
            _ => {
                let at = skip_ws(rest);
                let offset = text.len() - at.len();
                let (r, item) = cut(|i| item(word, offset, i)).parse(r)?;
                module.items.push(item);
                rest = r;
            }
        }
    }
}

/// Skips everything up to `c` (used for EXPORTS, which we do not need).
fn skip_to(c: char) -> impl Fn(&str) -> Res<'_, ()> {
    move |i: &str| match i.find(c) {
        Some(k) => Ok((&i[k..], ())),
        None => Err(nom::Err::Failure(PError {
            at: i,
            expected: Some("`;`"),
        })),
    }
}

/// `a, b FROM MOD-A c FROM MOD-B ;` (RFC 2578 §3.2).
fn imports<'a>(text: &'a str) -> impl Fn(&'a str) -> Res<'a, Vec<Import>> {
    move |i: &'a str| {
        let group = |i: &'a str| {
            let (i, symbols) = separated_list1(sym(","), symbol_name).parse(i)?;
            let (i, _) = opt(sym(",")).parse(i)?; // a trailing comma, as some vendors write
            let (i, _) = kw("FROM").parse(i)?;
            let at = skip_ws(i);
            let (i, from) = context("a module name after FROM", cut(ident)).parse(i)?;
            let import = Import {
                from: from.to_owned(),
                symbols,
                offset: text.len() - at.len(),
            };
            Ok((i, import))
        };
        terminated(many0(group), context("`;` ending IMPORTS", sym(";"))).parse(i)
    }
}

/// An imported symbol: a name, or a macro name such as `OBJECT-TYPE`, but not `FROM`.
fn symbol_name(i: &str) -> Res<'_, String> {
    let (r, s) = ident(i)?;
    if s == "FROM" {
        return Err(nom::Err::Error(PError {
            at: skip_ws(i),
            expected: Some("a symbol"),
        }));
    }
    Ok((r, s.to_owned()))
}

/// The statement that starts with the identifier `word` (already consumed).
fn item<'a>(word: &'a str, offset: usize, i: &'a str) -> Res<'a, Item> {
    let (_, next) = opt(ident).parse(i)?;
    let mut def = ValueDef {
        name: word.to_owned(),
        offset,
        ..ValueDef::default()
    };
    let kind = match next {
        Some("MACRO") => {
            let (i, _) = (kw("MACRO"), sym("::="), kw("BEGIN"), skip_macro_body).parse(i)?;
            return Ok((i, Item::Macro(word.to_owned())));
        }
        Some("OBJECT") => {
            let (i, _) = (kw("OBJECT"), kw("IDENTIFIER"), sym("::=")).parse(i)?;
            let (i, oid) = oid_value(i)?;
            def.kind = Some(NodeKind::ObjectIdentifier);
            def.oid = Some(OidValue::Components(oid));
            return Ok((i, Item::Value(Box::new(def))));
        }
        Some("MODULE-IDENTITY") => NodeKind::ModuleIdentity,
        Some("OBJECT-IDENTITY") => NodeKind::ObjectIdentity,
        Some("OBJECT-TYPE") => NodeKind::ObjectType,
        Some("NOTIFICATION-TYPE") => NodeKind::NotificationType,
        Some("TRAP-TYPE") => NodeKind::TrapType,
        Some("OBJECT-GROUP") => NodeKind::ObjectGroup,
        Some("NOTIFICATION-GROUP") => NodeKind::NotificationGroup,
        Some("MODULE-COMPLIANCE") => NodeKind::ModuleCompliance,
        Some("AGENT-CAPABILITIES") => NodeKind::AgentCapabilities,
        _ => {
            let Ok((i, _)) = sym("::=").parse(i) else {
                return Err(nom::Err::Failure(PError {
                    at: skip_ws(i),
                    expected: Some("OBJECT IDENTIFIER, a macro such as OBJECT-TYPE, or `::=`"),
                }));
            };
            let (i, ty) = type_assignment(word, offset, i)?;
            return Ok((i, Item::Type(ty)));
        }
    };
    let (i, _) = ident(i)?;
    def.kind = Some(kind);
    let i = match kind {
        NodeKind::ObjectGroup
        | NodeKind::NotificationGroup
        | NodeKind::ModuleCompliance
        | NodeKind::AgentCapabilities => skip_to_assignment(i)?.0,
        _ => {
            let (i, clauses) = many0(clause).parse(i)?;
            clauses.into_iter().for_each(|c| c.apply(&mut def));
            i
        }
    };
    let Ok((i, _)) = sym("::=").parse(i) else {
        return Err(nom::Err::Failure(PError {
            at: skip_ws(i),
            expected: Some("another clause or `::=`"),
        }));
    };
    if kind == NodeKind::TrapType {
        let (i, number) = uint(i)?;
        let Some(OidValue::Components(enterprise)) = def.oid.take() else {
            return Err(nom::Err::Failure(PError {
                at: i,
                expected: Some("an ENTERPRISE clause in the TRAP-TYPE"),
            }));
        };
        def.oid = Some(OidValue::Trap { enterprise, number });
        return Ok((i, Item::Value(Box::new(def))));
    }
    let (i, oid) = oid_value(i)?;
    def.oid = Some(OidValue::Components(oid));
    Ok((i, Item::Value(Box::new(def))))
}

/// Skips a MACRO body up to its `END` (the bodies describe the macro grammar; we hard-code it).
fn skip_macro_body(i: &str) -> Res<'_, ()> {
    let start = i;
    let mut rest = i;
    loop {
        rest = skip_ws(rest);
        let Some(c) = rest.chars().next() else {
            return Err(nom::Err::Failure(PError {
                at: start,
                expected: Some("END closing the MACRO"),
            }));
        };
        if c == '"' {
            rest = quoted(rest)?.0;
        } else if let Ok((r, word)) = ident(rest) {
            rest = r;
            if word == "END" {
                return Ok((rest, ()));
            }
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
}

/// Most arcs an OID may have (RFC 2578 §3.5).
const MAX_OID_ARCS: usize = 128;

/// `{ parent 3 }`, `{ iso org(3) dod(6) 1 }` (X.208 §28, RFC 2578 §3.6): a name or number
/// first, then numbers or `name(number)`s.
fn oid_value(i: &str) -> Res<'_, Vec<OidComponent>> {
    let mut component = alt((
        map(uint, OidComponent::Number),
        map(
            (ident, opt(delimited(sym("("), cut(uint), cut(sym(")"))))),
            |(n, num)| match num {
                Some(num) => OidComponent::NamedNumber(n.to_owned(), num),
                None => OidComponent::Name(n.to_owned()),
            },
        ),
    ));
    let (i, _) = context("an OID value `{ parent number }`", sym("{")).parse(i)?;
    let (mut i, first) = cut(context("OID components", |i| component.parse(i))).parse(i)?;
    let mut components = vec![first];
    loop {
        if let Ok((rest, _)) = sym("}").parse(i) {
            return Ok((rest, components));
        }
        let at = skip_ws(i);
        let fail = |expected| {
            Err(nom::Err::Failure(PError {
                at,
                expected: Some(expected),
            }))
        };
        match component.parse(i) {
            Ok((_, OidComponent::Name(_))) | Err(nom::Err::Error(_)) => {
                return fail("a number or `}` after the first OID component");
            }
            Ok((rest, c)) => {
                components.push(c);
                i = rest;
            }
            Err(e) => return Err(e),
        }
        if components.len() > MAX_OID_ARCS {
            return fail("at most 128 OID components");
        }
    }
}

/// `Name ::= TEXTUAL-CONVENTION …` (RFC 2579 §3) or `Name ::= type` (after the `::=`).
fn type_assignment<'a>(name: &'a str, offset: usize, i: &'a str) -> Res<'a, TypeDef> {
    let (i, tc) = opt(kw("TEXTUAL-CONVENTION")).parse(i)?;
    if tc.is_none() {
        let (i, syntax) = cut(syntax).parse(i)?;
        let def = TypeDef {
            name: name.to_owned(),
            offset,
            syntax,
            display_hint: None,
        };
        return Ok((i, def));
    }
    let (i, clauses) = many0(clause).parse(i)?;
    let mut def = ValueDef::default();
    let mut display_hint = None;
    for clause in clauses {
        if let Clause::DisplayHint(h) = &clause {
            display_hint = Some(h.clone());
        }
        clause.apply(&mut def);
    }
    let Some(syntax) = def.syntax else {
        return Err(nom::Err::Failure(PError {
            at: i,
            expected: Some("a SYNTAX clause in the TEXTUAL-CONVENTION"),
        }));
    };
    let def = TypeDef {
        name: name.to_owned(),
        offset,
        syntax,
        display_hint,
    };
    Ok((i, def))
}

/// A macro clause we keep, or one we only skip.
#[derive(Debug, Clone, PartialEq)]
enum Clause {
    Syntax(TypeAst),
    Access(String),
    Status(String),
    Description(String),
    DisplayHint(String),
    Units(String),
    Index(Vec<String>),
    Augments(String),
    Defval(String),
    Objects(Vec<String>),
    Enterprise(Vec<OidComponent>),
    Skipped,
}

impl Clause {
    fn apply(self, def: &mut ValueDef) {
        match self {
            Clause::Syntax(t) => def.syntax = def.syntax.take().or(Some(t)),
            Clause::Access(a) => def.access = Some(a),
            Clause::Status(s) => def.status = Some(s),
            // MODULE-IDENTITY repeats DESCRIPTION per REVISION; the first is the module's.
            Clause::Description(d) => def.description = def.description.take().or(Some(d)),
            Clause::Units(u) => def.units = Some(u),
            Clause::Index(x) => def.index = x,
            Clause::Augments(a) => def.augments = Some(a),
            Clause::Defval(v) => def.defval = Some(v),
            Clause::Objects(o) => def.objects = o,
            Clause::Enterprise(e) => def.oid = Some(OidValue::Components(e)),
            Clause::DisplayHint(_) | Clause::Skipped => {}
        }
    }
}

/// One `KEYWORD value` clause of MODULE-IDENTITY, OBJECT-IDENTITY, OBJECT-TYPE,
/// NOTIFICATION-TYPE, TRAP-TYPE or TEXTUAL-CONVENTION (RFC 2578 §5–8, RFC 2579 §3, RFC 1212
/// §4.1, RFC 1215 §2). An unknown keyword is a (backtracking) error: the caller then expects `::=`.
fn clause(i: &str) -> Res<'_, Clause> {
    let (rest, word) = ident(i)?;
    let str_value = |f: fn(String) -> Clause| move |i| map(cut(text), f).parse(i);
    let ident_value = |f: fn(String) -> Clause| move |i| map(cut(name), f).parse(i);
    match word {
        "SYNTAX" => map(cut(syntax), Clause::Syntax).parse(rest),
        "MAX-ACCESS" | "ACCESS" => ident_value(Clause::Access)(rest),
        "STATUS" => ident_value(Clause::Status)(rest),
        "DESCRIPTION" => str_value(Clause::Description)(rest),
        "DISPLAY-HINT" => str_value(Clause::DisplayHint)(rest),
        "UNITS" => str_value(Clause::Units)(rest),
        "REFERENCE" | "LAST-UPDATED" | "ORGANIZATION" | "CONTACT-INFO" | "REVISION" => {
            value(Clause::Skipped, cut(quoted)).parse(rest)
        }
        "INDEX" => map(cut(name_list(true)), Clause::Index).parse(rest),
        "AUGMENTS" => map(cut(delimited(sym("{"), name, sym("}"))), Clause::Augments).parse(rest),
        "DEFVAL" => map(cut(balanced('{', '}')), |v| {
            let v = v.trim();
            Clause::Defval(v[1..v.len() - 1].trim().to_owned())
        })
        .parse(rest),
        "OBJECTS" | "VARIABLES" => map(cut(name_list(false)), Clause::Objects).parse(rest),
        "ENTERPRISE" => cut(alt((
            oid_value,
            map(ident, |n| vec![OidComponent::Name(n.to_owned())]),
        )))
        .map(Clause::Enterprise)
        .parse(rest),
        _ => Err(nom::Err::Error(PError {
            at: skip_ws(i),
            expected: None,
        })),
    }
}

/// `{ a, b, c }` (empty lists, which some vendors write, are accepted), with `IMPLIED` allowed before a name in an INDEX (RFC 2578 §7.7).
fn name_list<'a>(index: bool) -> impl Parser<&'a str, Output = Vec<String>, Error = PError<'a>> {
    let entry = move |i: &'a str| {
        let (i, _) = if index {
            opt(kw("IMPLIED")).parse(i)?
        } else {
            (i, None)
        };
        name(i)
    };
    delimited(
        sym("{"),
        terminated(separated_list0(sym(","), entry), opt(sym(","))),
        cut(context("`}` closing the list", sym("}"))),
    )
}

/// A SYNTAX (RFC 2578 §7.1, RFC 1155 §3.2.1): an optional `[APPLICATION n] IMPLICIT` tag, a
/// base type or type name, optional named numbers, optional constraints (skipped).
fn syntax(i: &str) -> Res<'_, TypeAst> {
    let (i, _) = opt((
        balanced('[', ']'),
        opt(alt((kw("IMPLICIT"), kw("EXPLICIT")))),
    ))
    .parse(i)?;
    let (i, head) = context("a type", ident).parse(i)?;
    let (i, base) = match head {
        "INTEGER" => (i, TypeRef::Integer),
        "OCTET" => value(TypeRef::OctetString, kw("STRING")).parse(i)?,
        "OBJECT" => value(TypeRef::ObjectIdentifier, kw("IDENTIFIER")).parse(i)?,
        "BITS" => (i, TypeRef::Bits),
        "NULL" => (i, TypeRef::Null),
        "CHOICE" => value(TypeRef::Choice, balanced('{', '}')).parse(i)?,
        "SEQUENCE" => match opt(kw("OF")).parse(i)? {
            (i, Some(_)) => map(name, TypeRef::SequenceOf).parse(i)?,
            (i, None) => value(TypeRef::Sequence, balanced('{', '}')).parse(i)?,
        },
        other => (i, TypeRef::Named(other.to_owned())),
    };
    let (i, named_numbers) = opt(named_numbers).parse(i)?;
    let (i, _) = opt(balanced('(', ')')).parse(i)?;
    let ast = TypeAst {
        base,
        named_numbers: named_numbers.unwrap_or_default(),
    };
    Ok((i, ast))
}

/// `{ up(1), down(2) }` (RFC 2578 §7.1.1, §7.1.4).
fn named_numbers(i: &str) -> Res<'_, Vec<(String, i64)>> {
    let entry = (name, cut(delimited(sym("("), int, sym(")"))));
    delimited(
        sym("{"),
        cut(terminated(separated_list1(sym(","), entry), opt(sym(",")))),
        cut(context("`}` closing the named numbers", sym("}"))),
    )
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<Vec<Item>, SyntaxError> {
        let text = format!("T-MIB DEFINITIONS ::= BEGIN\n{body}\nEND\n");
        parse_modules(&text).map(|mut m| m.remove(0).items)
    }

    #[test]
    fn comments() {
        let cases = [
            ("-- a\nx", "x"),
            ("-- a -- x", "x"),
            ("------\nx", "x"),
            ("-- a ---- x", "x"),
            ("--\nx", "x"),
            ("  x -- y", "x -- y"),
        ];
        for (input, rest) in cases {
            assert_eq!(skip_ws(input), rest, "{input:?}");
        }
    }

    #[test]
    fn oid_forms() {
        let cases = [
            (
                "{ iso org(3) dod(6) 1 }",
                vec![
                    OidComponent::Name("iso".into()),
                    OidComponent::NamedNumber("org".into(), 3),
                    OidComponent::NamedNumber("dod".into(), 6),
                    OidComponent::Number(1),
                ],
            ),
            (
                "{ mib-2 1 }",
                vec![OidComponent::Name("mib-2".into()), OidComponent::Number(1)],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(oid_value(input).unwrap().1, expected, "{input}");
        }
    }

    #[test]
    fn syntaxes() {
        let cases = [
            ("INTEGER { up(1), down(2) }", TypeRef::Integer, 2),
            ("OCTET STRING (SIZE (0..255))", TypeRef::OctetString, 0),
            (
                "[APPLICATION 1] IMPLICIT INTEGER (0..4294967295)",
                TypeRef::Integer,
                0,
            ),
            (
                "SEQUENCE OF IfEntry",
                TypeRef::SequenceOf("IfEntry".into()),
                0,
            ),
            (
                "SEQUENCE { a INTEGER, b OCTET STRING }",
                TypeRef::Sequence,
                0,
            ),
            ("BITS { a(0), b(1), }", TypeRef::Bits, 2),
            (
                "Integer32 (-1 | 1..10)",
                TypeRef::Named("Integer32".into()),
                0,
            ),
        ];
        for (input, base, n) in cases {
            let (rest, t) = syntax(input).unwrap();
            assert_eq!(rest, "", "{input}");
            assert_eq!((t.base, t.named_numbers.len()), (base, n), "{input}");
        }
    }

    /// Forms real modules use that a strict reading of the RFCs would reject or that are easy
    /// to get wrong: each body must parse into exactly `items` items.
    #[test]
    fn lenient_forms_parse() {
        let cases = [
            (
                "x NOTIFICATION-TYPE OBJECTS { } STATUS current DESCRIPTION \"d\" ::= { iso 1 }",
                1,
            ),
            ("IMPORTS a, b, FROM B-MIB c FROM C-MIB;", 0),
            (
                "x OBJECT IDENTIFIER ::= { iso 1 }\r\ny OBJECT IDENTIFIER ::= { x 2 }\r\n",
                2,
            ),
            ("x OBJECT IDENTIFIER -- old -- ::= { iso 1 } -- trailing", 1),
            (
                "x OBJECT-TYPE SYNTAX Foo ACCESS read-only STATUS mandatory DEFVAL { 'ff'H } ::= { iso 1 }",
                1,
            ),
            (
                "x OBJECT-TYPE SYNTAX BITS { a(0), b(1) } MAX-ACCESS read-write STATUS current DESCRIPTION \"has \"\"quotes\"\" and ::= { }\" DEFVAL { { a, b } } ::= { iso 1 }",
                1,
            ),
            (
                "x OBJECT-TYPE SYNTAX SEQUENCE OF XEntry MAX-ACCESS not-accessible STATUS current DESCRIPTION \"t\" INDEX { IMPLIED y } ::= { iso 1 }",
                1,
            ),
            (
                "X ::= TEXTUAL-CONVENTION DISPLAY-HINT \"1x:\" STATUS current DESCRIPTION \"d\" REFERENCE \"r\" SYNTAX OCTET STRING (SIZE (0 | 6..8))",
                1,
            ),
            (
                "X ::= CHOICE { a INTEGER, b [APPLICATION 0] IMPLICIT OCTET STRING (SIZE (4)) }",
                1,
            ),
            (
                "X MACRO ::= BEGIN TYPE NOTATION ::= \"END\" VALUE NOTATION ::= value (VALUE INTEGER) END",
                1,
            ),
            (
                "c MODULE-COMPLIANCE STATUS current MODULE -- this module\n MANDATORY-GROUPS { g } OBJECT o MIN-ACCESS read-only ::= { iso 2 }",
                1,
            ),
            (
                "t TRAP-TYPE ENTERPRISE { iso 3 } VARIABLES { a } REFERENCE \"r\" ::= 4",
                1,
            ),
        ];
        for (body, items) in cases {
            let parsed = one(body).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(parsed.len(), items, "{body}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("x OBJECT IDENTIFIER ::= { }", "expected OID components"),
            (
                "x OBJECT IDENTIFIER ::= { a b }",
                "expected a number or `}` after",
            ),
            ("x OBJECT IDENTIFIER { a 1 }", "expected ::="),
            ("x blah blah", "expected OBJECT IDENTIFIER"),
            (
                "x OBJECT-TYPE SYNTAX INTEGER BOGUS",
                "expected another clause or `::=`",
            ),
        ];
        for (body, message) in cases {
            let e = one(body).unwrap_err();
            assert!(e.message.starts_with(message), "{body}: {}", e.message);
        }
    }
}
