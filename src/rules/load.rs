//! Reading rule files into a compiled [`RuleSet`].
//!
//! A rule file is TOML made of `[[rule]]` and `[[maintenance]]` tables. Everything an operator
//! can get wrong — TOML syntax, an unknown key, a condition, a regex, a template variable, a
//! duration, a time zone — is reported as [`LoadError`], which renders as `file:line:col:
//! message` pointing at the offending text (inside a `when` string, at the offending token).
//! A set of files loads completely or not at all, so a reload never leaves half a rule set.
//!
//! Rules may name things the configuration defines (`forward = ["siem"]` names a
//! `[[forward]]`); [`LoadContext`] carries those names, so a misspelt one is an error at its
//! place in the file rather than events that silently go nowhere.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use serde::Deserialize;
use toml::Spanned;

use super::condition::Condition;
use super::template::Template;
use super::{
    Action, Expect, ExpectSchedule, ForwardSet, Inhibit, Maintenance, Rule, RuleSet, Threshold,
};
use crate::event::Level;

/// One problem in one rule file, positioned for an operator's editor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// What the configuration defines that rules refer to by name.
#[derive(Debug, Clone, Default)]
pub struct LoadContext {
    /// The `[[forward]]` names in config order (a rule's `forward` list becomes a
    /// [`ForwardSet`] of these positions). `None`: names are not checked and forward lists
    /// are ignored — for the offline tools (`test-rules`, `replay`), which forward nothing.
    pub forwards: Option<Vec<String>>,
}

impl LoadContext {
    /// The names `settings` defines.
    pub fn from_settings(settings: &crate::config::Settings) -> LoadContext {
        LoadContext {
            forwards: Some(settings.forwards.iter().map(|f| f.name.clone()).collect()),
        }
    }
}

/// Template variables every rule may use besides event fields and its own captures.
pub const TEMPLATE_EXTRAS: &[&str] = &["rule", "count"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    rule: Vec<RuleToml>,
    #[serde(default)]
    maintenance: Vec<MaintenanceToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    name: Spanned<String>,
    when: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
    category: Option<String>,
    summary: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    #[serde(rename = "continue", default)]
    continue_: bool,
    threshold: Option<ThresholdToml>,
    expect: Option<Spanned<ExpectToml>>,
    clear_when: Option<Spanned<String>>,
    expire_after: Option<Spanned<String>>,
    inhibit: Option<InhibitToml>,
    notify: Option<Vec<Spanned<String>>>,
    availability: Option<bool>,
    forward: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdToml {
    count: Spanned<i64>,
    within: Spanned<String>,
    by: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectToml {
    when: Spanned<String>,
    every: Option<Spanned<String>>,
    /// Daily window `"01:00-05:00"` in which the event must arrive.
    between: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    days: Option<Spanned<Vec<String>>>,
    hosts: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InhibitToml {
    hosts: Vec<String>,
    when: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceToml {
    name: String,
    start: Spanned<String>,
    end: Spanned<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
}

/// Loads every `*.toml` of `dir` in name order; all errors of all files, or the rule set.
/// Forward names are not checked (see [`load_dir_with`]).
pub fn load_dir(dir: &Path) -> Result<RuleSet, Vec<LoadError>> {
    load_dir_with(dir, &LoadContext::default())
}

/// [`load_dir`] with the names the configuration defines.
pub fn load_dir_with(dir: &Path, context: &LoadContext) -> Result<RuleSet, Vec<LoadError>> {
    let files = super::rule_files(dir).map_err(|message| {
        vec![LoadError {
            file: dir.display().to_string(),
            line: 1,
            col: 1,
            message,
        }]
    })?;
    let mut texts = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((name, text)),
            Err(e) => errors.push(LoadError {
                file: name,
                line: 1,
                col: 1,
                message: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    load_texts_with(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())), context)
}

/// Compiles named file texts (in the order given) into one rule set. Forward names are not
/// checked (see [`load_texts_with`]).
pub fn load_texts<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<RuleSet, Vec<LoadError>> {
    load_texts_with(files, &LoadContext::default())
}

/// [`load_texts`] with the names the configuration defines.
pub fn load_texts_with<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    context: &LoadContext,
) -> Result<RuleSet, Vec<LoadError>> {
    let mut rules = Vec::new();
    let mut maintenance = Vec::new();
    let mut errors = Vec::new();
    // Where each rule name was first defined: (file name, file text, offset), turned into a
    // position only for a duplicate (computing it for every rule would be quadratic).
    let mut names = std::collections::HashMap::<String, (&str, &str, usize)>::new();
    for (name, text) in files {
        let mut file = FileLoader {
            name,
            text,
            context,
            errors: &mut errors,
        };
        let Some(parsed) = file.parse() else { continue };
        for rule in parsed.rule {
            let at = rule.name.span();
            if let Some(rule) = file.rule(rule) {
                if let Some(&(first_file, first_text, offset)) = names.get(&rule.name) {
                    let (line, col) = crate::config::line_col(first_text, offset);
                    file.error(
                        at,
                        format!(
                            "duplicate rule name {:?} (first in {first_file}:{line}:{col})",
                            rule.name
                        ),
                    );
                    continue;
                }
                names.insert(rule.name.clone(), (name, text, at.start));
                rules.push(rule);
            }
        }
        for window in parsed.maintenance {
            if let Some(window) = file.maintenance(window) {
                maintenance.push(window);
            }
        }
    }
    if errors.is_empty() {
        Ok(RuleSet::new(rules, maintenance))
    } else {
        Err(errors)
    }
}

/// Compiles one file, collecting its errors.
struct FileLoader<'a, 'e> {
    name: &'a str,
    text: &'a str,
    context: &'a LoadContext,
    errors: &'e mut Vec<LoadError>,
}

impl FileLoader<'_, '_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.error_at(span.start, message);
    }

    fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let (line, col) = crate::config::line_col(self.text, offset);
        self.errors.push(LoadError {
            file: self.name.to_string(),
            line,
            col,
            message: message.into(),
        });
    }

    fn parse(&mut self) -> Option<FileToml> {
        match toml::from_str::<FileToml>(self.text) {
            Ok(file) => Some(file),
            Err(error) => {
                let offset = error.span().map_or(0, |s| s.start);
                self.error_at(offset, error.message().trim().to_string());
                None
            }
        }
    }

    /// A condition inside a TOML string; errors point at the token inside the string.
    fn condition(&mut self, source: &Spanned<String>) -> Option<Condition> {
        match Condition::parse(source.get_ref()) {
            Ok(condition) => Some(condition),
            Err(error) => {
                let at = self.inner_offset(source, error.offset);
                self.error_at(at, error.message);
                None
            }
        }
    }

    fn template(&mut self, source: &Spanned<String>, captures: &[String]) -> Option<Template> {
        match Template::parse(source.get_ref(), captures, TEMPLATE_EXTRAS) {
            Ok(template) => Some(template),
            Err(error) => {
                let at = self.inner_offset(source, error.offset);
                self.error_at(at, error.message);
                None
            }
        }
    }

    fn duration(&mut self, source: &Spanned<String>) -> Option<Duration> {
        match crate::config::parse_duration(source.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.error(source.span(), "duration must be greater than zero");
                None
            }
            Err(message) => {
                self.error(source.span(), message);
                None
            }
        }
    }

    /// File offset of byte `offset` of a string value: exact for literal strings ('…', '''…''')
    /// and for basic strings without escapes; the string's start otherwise.
    fn inner_offset(&self, source: &Spanned<String>, offset: usize) -> usize {
        let span = source.span();
        let raw = &self.text[span.clone()];
        let value = source.get_ref();
        let mut quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            3
        } else {
            1
        };
        // A newline right after a multi-line opening quote is not part of the value.
        if quote == 3 {
            if raw[quote..].starts_with("\r\n") {
                quote += 2;
            } else if raw[quote..].starts_with('\n') {
                quote += 1;
            }
        }
        let body = raw.get(quote..).unwrap_or("");
        if body.starts_with(value.as_str()) {
            span.start + quote + offset.min(value.len())
        } else {
            span.start
        }
    }

    fn rule(&mut self, toml: RuleToml) -> Option<Rule> {
        let errors_before = self.errors.len();
        let name = toml.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error(toml.name.span(), "rule name must not be empty");
        }
        let when = toml.when.as_ref().and_then(|w| self.condition(w));
        let clear_when = toml.clear_when.as_ref().and_then(|w| self.condition(w));
        let expect = toml.expect.as_ref().and_then(|e| self.expect(e));
        if toml.when.is_none() && toml.expect.is_none() {
            self.error(
                toml.name.span(),
                format!("rule {name:?} needs `when` (or `expect`)"),
            );
        }
        if toml.when.is_some() && toml.expect.is_some() {
            self.error(
                toml.name.span(),
                "a rule has either `when` or `expect`, not both (put the condition inside `expect`)",
            );
        }
        let level = toml.level.as_ref().and_then(|l| {
            let level = Level::parse(l.get_ref());
            if level.is_none() {
                self.error(
                    l.span(),
                    format!(
                        "unknown level {:?} (critical, warning, low, none)",
                        l.get_ref()
                    ),
                );
            }
            level
        });
        let action = match toml.action.as_ref() {
            None => Action::Alert,
            Some(a) => match a.get_ref().as_str() {
                "alert" => Action::Alert,
                "event" => Action::Event,
                "drop" => Action::Drop,
                other => {
                    self.error(
                        a.span(),
                        format!("unknown action {other:?} (alert, event, drop)"),
                    );
                    Action::Alert
                }
            },
        };
        let mut captures: Vec<String> = Vec::new();
        for condition in [&when, &clear_when].into_iter().flatten() {
            captures.extend(condition.capture_names());
        }
        if let Some(expect) = &expect {
            captures.extend(expect.when.capture_names());
        }
        let summary = toml
            .summary
            .as_ref()
            .and_then(|s| self.template(s, &captures));
        let key = toml.key.as_ref().and_then(|k| self.template(k, &captures));
        let threshold = toml
            .threshold
            .as_ref()
            .and_then(|t| self.threshold(t, &captures));
        let expire_after = toml.expire_after.as_ref().and_then(|d| self.duration(d));
        let inhibit = toml.inhibit.as_ref().and_then(|i| {
            let when = match &i.when {
                Some(w) => Some(self.condition(w)?),
                None => None,
            };
            Some(Inhibit {
                hosts: i.hosts.iter().map(|h| super::Glob::new(h)).collect(),
                when,
            })
        });
        let notify = toml.notify.as_ref().map(|targets| {
            targets
                .iter()
                .filter_map(|t| match super::NotifyTarget::parse(t.get_ref()) {
                    Ok(target) => Some(target),
                    Err(message) => {
                        self.error(t.span(), message);
                        None
                    }
                })
                .collect::<Vec<_>>()
        });
        let forward = toml
            .forward
            .as_ref()
            .map(|names| self.forwards(names, toml.when.is_some()))
            .unwrap_or_default();
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Rule {
            name,
            when,
            level,
            category: toml.category,
            summary,
            key,
            action,
            continue_: toml.continue_,
            threshold,
            expect,
            clear_when,
            expire_after,
            inhibit,
            notify,
            availability: toml.availability.unwrap_or(toml.expect.is_some()),
            forward,
        })
    }

    /// A rule's `forward` list: each name must be a `[[forward]]` of the config (when the
    /// context knows them), and the rule must have a `when` (an `expect` rule matches no event
    /// of its own to forward).
    fn forwards(&mut self, names: &[Spanned<String>], has_when: bool) -> ForwardSet {
        let mut set = ForwardSet::default();
        if !has_when && let Some(first) = names.first() {
            self.error(
                first.span(),
                "`forward` needs `when`: an `expect` rule matches no event to forward",
            );
        }
        let Some(known) = &self.context.forwards else {
            return set;
        };
        for name in names {
            match known.iter().position(|k| k == name.get_ref()) {
                Some(index) => set.add(ForwardSet::single(index)),
                None if known.is_empty() => self.error(
                    name.span(),
                    format!(
                        "unknown forward {:?}: the config defines no [[forward]]",
                        name.get_ref()
                    ),
                ),
                None => self.error(
                    name.span(),
                    format!(
                        "unknown forward {:?} (the config's [[forward]] names: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                ),
            }
        }
        set
    }

    fn threshold(&mut self, toml: &ThresholdToml, captures: &[String]) -> Option<Threshold> {
        let count = *toml.count.get_ref();
        if !(1..=100_000).contains(&count) {
            self.error(
                toml.count.span(),
                "threshold count must be between 1 and 100000",
            );
        }
        let within = self.duration(&toml.within);
        let by = match &toml.by {
            Some(by) => Some(self.template(by, captures)?),
            None => None,
        };
        Some(Threshold {
            count: u32::try_from(count).ok().filter(|c| *c >= 1)?,
            within: within?,
            by,
        })
    }

    fn expect(&mut self, toml: &Spanned<ExpectToml>) -> Option<Expect> {
        let inner = toml.get_ref();
        let when = self.condition(&inner.when);
        let schedule = match (&inner.every, &inner.between) {
            (Some(every), None) => {
                if inner.timezone.is_some() || inner.days.is_some() {
                    self.error(
                        toml.span(),
                        "`timezone` and `days` go with `between`, not `every`",
                    );
                }
                ExpectSchedule::Every(self.duration(every)?)
            }
            (None, Some(between)) => self.window(between, inner)?,
            _ => {
                self.error(
                    toml.span(),
                    "expect needs exactly one of `every = \"24h\"` or `between = \"01:00-05:00\"`",
                );
                return None;
            }
        };
        Some(Expect {
            when: when?,
            schedule,
            hosts: inner
                .hosts
                .as_ref()
                .map(|hosts| hosts.iter().map(|h| h.to_string()).collect()),
        })
    }

    fn window(&mut self, between: &Spanned<String>, inner: &ExpectToml) -> Option<ExpectSchedule> {
        let parsed = between
            .get_ref()
            .split_once('-')
            .and_then(|(from, to)| Some((parse_hhmm(from)?, parse_hhmm(to)?)));
        let Some((from, to)) = parsed else {
            self.error(
                between.span(),
                format!(
                    "bad window {:?}: expected \"HH:MM-HH:MM\"",
                    between.get_ref()
                ),
            );
            return None;
        };
        if from == to {
            self.error(between.span(), "window start and end must differ");
            return None;
        }
        let timezone = match &inner.timezone {
            None => chrono_tz::UTC,
            Some(tz) => match tz.get_ref().parse::<chrono_tz::Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    self.error(
                        tz.span(),
                        format!(
                            "unknown time zone {:?} (use an IANA name like \"Europe/Paris\")",
                            tz.get_ref()
                        ),
                    );
                    return None;
                }
            },
        };
        let days = match &inner.days {
            None => None,
            Some(days) => {
                let mut parsed = Vec::new();
                for day in days.get_ref() {
                    match day.parse::<Weekday>() {
                        Ok(d) => parsed.push(d),
                        Err(_) => {
                            self.error(
                                days.span(),
                                format!("unknown day {day:?} (mon, tue, … sun)"),
                            );
                            return None;
                        }
                    }
                }
                Some(parsed)
            }
        };
        Some(ExpectSchedule::Daily {
            from,
            to,
            timezone,
            days,
        })
    }

    fn maintenance(&mut self, toml: MaintenanceToml) -> Option<Maintenance> {
        let start = self.instant(&toml.start);
        let end = self.instant(&toml.end);
        let (start, end) = (start?, end?);
        if end <= start {
            self.error(toml.end.span(), "maintenance end must be after its start");
            return None;
        }
        Some(Maintenance {
            id: format!("file:{}", toml.name),
            name: toml.name,
            start_ns: start,
            end_ns: end,
            hosts: toml.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            categories: toml.categories,
            rules: toml.rules,
            created_by: None,
        })
    }

    fn instant(&mut self, source: &Spanned<String>) -> Option<i64> {
        match parse_instant(source.get_ref()) {
            Ok(ns) => Some(ns),
            Err(message) => {
                self.error(source.span(), message);
                None
            }
        }
    }
}

/// `HH:MM` (also `H:MM`, and `24:00` for the end of the day).
fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    if text == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59);
    }
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

/// An RFC 3339 time as Unix nanoseconds.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            format!("bad time {text:?}: expected RFC 3339 like \"2026-11-22T22:00:00Z\"")
        })
}
