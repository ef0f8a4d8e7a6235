//! Declarative rules: what operators write in `rules/*.toml`, compiled and evaluated.
//!
//! `load` turns files into a [`RuleSet`] (every error as `file:line:col: message`),
//! `condition` is the `when` language, `template` renders summaries and dedup keys, and
//! [`RuleSet::qualify`] is the stateless pass every event goes through before it is stored:
//! it sets the event's level and category and says which rule decided about it (or that it is
//! dropped). Everything stateful — alerts, thresholds, expectations, maintenance — lives in
//! `crate::alerts`, which reads the rules but keeps its state across reloads.
//!
//! Prefiltering: a rule is only evaluated for events that can match it. Each rule is indexed by
//! the most selective necessary condition found in its `when` (trap name, app, exact host, a
//! literal its message regex needs, or kind); see [`Prefilter`].

pub mod condition;
mod load;
mod prefilter;
pub mod reload;
pub mod template;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};

pub use condition::{Captures, Condition, Glob, Subject};
pub use load::{
    LoadContext, LoadError, TEMPLATE_EXTRAS, load_dir, load_dir_with, load_texts, load_texts_with,
    parse_instant,
};
pub use prefilter::Prefilter;
pub use template::Template;

use crate::event::{Event, Level};
use crate::metrics::metrics;

/// The default rule pack shipped in the repository's `rules/` and built into the binary.
pub const DEFAULT_PACK: &[(&str, &str)] = &[
    (
        "00-default.toml",
        include_str!("../../rules/00-default.toml"),
    ),
    (
        "20-snmp-generic.toml",
        include_str!("../../rules/20-snmp-generic.toml"),
    ),
    (
        "30-security.toml",
        include_str!("../../rules/30-security.toml"),
    ),
    ("40-backup.toml", include_str!("../../rules/40-backup.toml")),
    (
        "50-cluster.toml",
        include_str!("../../rules/50-cluster.toml"),
    ),
    (
        "60-storage.toml",
        include_str!("../../rules/60-storage.toml"),
    ),
    (
        "70-network-cisco.toml",
        include_str!("../../rules/70-network-cisco.toml"),
    ),
];

/// What a matching rule does with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stored; raises or folds an alert when its final level is low or above (the default).
    Alert,
    /// Stored, never alerts.
    Event,
    /// Not stored; counted per rule.
    Drop,
}

/// `threshold = { count, within, by }`: alert when `count` matching events arrive within
/// `within`, separately for each value of the `by` template.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub count: u32,
    pub within: Duration,
    pub by: Option<Template>,
}

/// `expect = { when, every | between, hosts }`: an event matching `when` must keep arriving.
#[derive(Debug, Clone)]
pub struct Expect {
    pub when: Condition,
    pub schedule: ExpectSchedule,
    /// The hosts that must report; `None` means every host that ever matched.
    pub hosts: Option<Vec<String>>,
}

/// When an expected event is due.
#[derive(Debug, Clone)]
pub enum ExpectSchedule {
    /// At least once per interval.
    Every(Duration),
    /// Inside a daily window (local time of `timezone`), on the listed days (every day if none).
    Daily {
        from: NaiveTime,
        to: NaiveTime,
        timezone: chrono_tz::Tz,
        days: Option<Vec<Weekday>>,
    },
}

/// `inhibit = { hosts, when }`: while an alert of this rule is open, new alerts from hosts
/// matching `hosts` (and events matching `when`) are recorded as suppressed.
#[derive(Debug, Clone)]
pub struct Inhibit {
    pub hosts: Vec<Glob>,
    pub when: Option<Condition>,
}

/// One compiled `[[rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: Option<Condition>,
    pub level: Option<Level>,
    pub category: Option<String>,
    pub summary: Option<Template>,
    pub key: Option<Template>,
    pub action: Action,
    pub continue_: bool,
    pub threshold: Option<Threshold>,
    pub expect: Option<Expect>,
    pub clear_when: Option<Condition>,
    pub expire_after: Option<Duration>,
    pub inhibit: Option<Inhibit>,
    /// `notify = [...]`: who is told of this rule's alerts; `None` = the default routing
    /// (critical alerts to the on-call rank 1), an empty list = nobody.
    pub notify: Option<Vec<NotifyTarget>>,
    /// `availability = true`: while an alert of this rule is active, its host (and the
    /// service its key names) counts as unavailable in the reports (`crate::availability`).
    /// Defaults to true for `expect` rules (the awaited thing did not happen) and false for
    /// the rest, so only rules that really mean "down" lower a host's availability.
    pub availability: bool,
    /// `forward = ["siem"]`: the `[[forward]]` upstreams every event this rule matches is
    /// relayed to, whatever the rule's action (with `action = "drop"`: relayed, not stored).
    pub forward: ForwardSet,
}

/// A set of `[[forward]]` tables, by their position in the config (at most
/// [`crate::config::MAX_FORWARDS`]): a rule's `forward` list, and the union of the lists of
/// the rules an event matched. A bit set, so collecting it costs nothing per event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardSet(u64);

impl ForwardSet {
    /// The set holding the forward at `index` (indices past the bound are ignored).
    pub fn single(index: usize) -> ForwardSet {
        ForwardSet(1u64.checked_shl(index as u32).unwrap_or(0))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds every forward of `other`.
    pub fn add(&mut self, other: ForwardSet) {
        self.0 |= other.0;
    }

    pub fn contains(self, index: usize) -> bool {
        self.0 & ForwardSet::single(index).0 != 0
    }

    /// The positions in the set, ascending.
    pub fn indices(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |i| self.0 & (1 << i) != 0)
    }
}

/// One entry of a rule's `notify` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyTarget {
    /// `"oncall"`: the on-call schedule's rank 1, then the next ranks until someone acks.
    OnCall,
    /// `"mail:team@example.net"`: an address.
    Mail(String),
    /// `"user:alice"`: a user's email address.
    User(String),
    /// `"webhook:chat"`: a `[[notify.webhooks]]` entry by name.
    Webhook(String),
}

impl NotifyTarget {
    /// Parses `oncall`, `mail:ADDRESS`, `user:NAME` or `webhook:NAME`.
    pub fn parse(text: &str) -> Result<NotifyTarget, String> {
        let text = text.trim();
        if text == "oncall" {
            return Ok(NotifyTarget::OnCall);
        }
        let (kind, value) = text.split_once(':').ok_or_else(|| {
            format!(
                "unknown notify target {text:?} (oncall, mail:ADDRESS, user:NAME, webhook:NAME)"
            )
        })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("notify target {text:?} needs a value after ':'"));
        }
        match kind {
            "mail" if value.contains('@') && !value.contains(char::is_whitespace) => {
                Ok(NotifyTarget::Mail(value.to_string()))
            }
            "mail" => Err(format!("notify target {text:?}: not a mail address")),
            "user" => Ok(NotifyTarget::User(value.to_string())),
            "webhook" => Ok(NotifyTarget::Webhook(value.to_string())),
            _ => Err(format!(
                "unknown notify target {text:?} (oncall, mail:ADDRESS, user:NAME, webhook:NAME)"
            )),
        }
    }
}

/// A maintenance window: alerts in its scope are recorded as suppressed and never notified.
/// Empty scope lists match everything; non-empty ones must all match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// `file:NAME` for windows from rule files; a number for windows made through the API.
    pub id: String,
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
    /// Lower-cased host globs.
    pub hosts: Vec<String>,
    pub categories: Vec<String>,
    pub rules: Vec<String>,
    pub created_by: Option<String>,
}

impl Maintenance {
    /// Whether an alert of `rule` about `host` in `category` raised at `at_ns` is covered.
    pub fn covers(&self, at_ns: i64, host: &str, category: Option<&str>, rule: &str) -> bool {
        (self.start_ns..self.end_ns).contains(&at_ns)
            && (self.hosts.is_empty() || self.hosts.iter().any(|g| Glob::new(g).matches(host)))
            && (self.categories.is_empty()
                || category.is_some_and(|c| self.categories.iter().any(|x| x == c)))
            && (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
    }
}

/// The compiled rules of one load, immutable; a reload builds a new one.
pub struct RuleSet {
    rules: Vec<Rule>,
    maintenance: Vec<Maintenance>,
    prefilter: Prefilter,
    /// The same index over `clear_when` and `expect.when` conditions: the alert engine checks
    /// them for every event, so they must not cost a regex each either.
    clear_prefilter: Prefilter,
    expect_prefilter: Prefilter,
    /// Rules with `clear_when`, `expect`, `inhibit`.
    clear_rules: Vec<usize>,
    expect_rules: Vec<usize>,
    inhibit_rules: Vec<usize>,
    matches: Vec<IntCounter>,
    drops: Vec<IntCounter>,
}

/// What the stateless pass decided about one event.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// The rule that decided (the last one that matched); `None` when no rule matched.
    pub rule: Option<usize>,
    /// The rule whose `category` applies.
    pub category: Option<usize>,
    /// Named captures of every matching rule's regexes.
    pub captures: Captures,
    pub drop: bool,
    /// Threshold rules with `continue = true` that matched before the deciding rule: they
    /// count the event too (e.g. "flapping" on top of the link-down alert).
    pub counted_by: Vec<usize>,
    /// The upstreams the event goes to: the `forward` lists of every rule that matched it in
    /// this pass (so a first rule with `continue = true` can forward without deciding).
    pub forward: ForwardSet,
}

/// Reusable buffers for [`RuleSet::qualify`] (one per evaluating thread).
#[derive(Default)]
pub struct Scratch {
    candidates: Vec<usize>,
    lowered: String,
}

impl RuleSet {
    /// Builds the set and its prefilter index.
    pub fn new(rules: Vec<Rule>, maintenance: Vec<Maintenance>) -> RuleSet {
        let prefilter = Prefilter::build(&rules);
        let clear_prefilter = Prefilter::over(
            rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.clear_when.as_ref().map(|c| (i, c))),
        );
        let expect_prefilter = Prefilter::over(
            rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.expect.as_ref().map(|e| (i, &e.when))),
        );
        let positions = |f: fn(&Rule) -> bool| -> Vec<usize> {
            rules
                .iter()
                .enumerate()
                .filter(|(_, r)| f(r))
                .map(|(i, _)| i)
                .collect()
        };
        let m = metrics();
        let rule_counter = |vec: &prometheus::IntCounterVec| -> Vec<IntCounter> {
            rules
                .iter()
                .map(|r| vec.with_label_values(&[r.name.as_str()]))
                .collect()
        };
        RuleSet {
            clear_rules: positions(|r| r.clear_when.is_some()),
            expect_rules: positions(|r| r.expect.is_some()),
            inhibit_rules: positions(|r| r.inhibit.is_some()),
            matches: rule_counter(&m.rule_matches),
            drops: rule_counter(&m.rule_drops),
            prefilter,
            clear_prefilter,
            expect_prefilter,
            rules,
            maintenance,
        }
    }

    /// The built-in default pack.
    pub fn default_pack() -> RuleSet {
        load_texts(DEFAULT_PACK.iter().copied()).expect("the built-in rule pack compiles")
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    /// The index of the rule named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.name == name)
    }

    /// Maintenance windows from the rule files.
    pub fn maintenance(&self) -> &[Maintenance] {
        &self.maintenance
    }

    pub fn clear_rules(&self) -> &[usize] {
        &self.clear_rules
    }

    /// Fills `out` with the rules whose `clear_when` may match `event`, in rule order.
    pub fn clear_candidates(&self, event: &Event, out: &mut Vec<usize>, scratch: &mut Scratch) {
        self.clear_prefilter
            .candidates(event, out, &mut scratch.lowered);
    }

    /// Fills `out` with the `expect` rules whose condition may match `event`, in rule order.
    pub fn expect_candidates(&self, event: &Event, out: &mut Vec<usize>, scratch: &mut Scratch) {
        self.expect_prefilter
            .candidates(event, out, &mut scratch.lowered);
    }

    pub fn expect_rules(&self) -> &[usize] {
        &self.expect_rules
    }

    pub fn inhibit_rules(&self) -> &[usize] {
        &self.inhibit_rules
    }

    /// The category `verdict` gives its event.
    pub fn category_of(&self, verdict: &Verdict) -> Option<&str> {
        verdict
            .category
            .and_then(|i| self.rules[i].category.as_deref())
    }

    /// Runs `event` through the rules in order: every matching rule sets what it has (level,
    /// category) and the first matching rule without `continue = true` ends the pass; the last
    /// matching rule decides about the alert. A threshold rule's level is the level of its
    /// alert, not of each event; a threshold rule with `continue = true` counts the event and
    /// lets later rules decide the rest.
    pub fn qualify(&self, event: &mut Event, scratch: &mut Scratch) -> Verdict {
        self.prefilter
            .candidates(event, &mut scratch.candidates, &mut scratch.lowered);
        let mut verdict = Verdict::default();
        for &index in &scratch.candidates {
            let rule = &self.rules[index];
            let Some(when) = &rule.when else { continue };
            let subject = Subject {
                event,
                category: self.category_of(&verdict),
            };
            if !when.matches(&subject, &mut verdict.captures) {
                continue;
            }
            self.matches[index].inc();
            verdict.rule = Some(index);
            verdict.forward.add(rule.forward);
            if rule.action == Action::Drop {
                self.drops[index].inc();
                verdict.drop = true;
                break;
            }
            if let (Some(level), None) = (rule.level, &rule.threshold) {
                event.level = level;
            }
            if rule.category.is_some() {
                verdict.category = Some(index);
            }
            if !rule.continue_ {
                break;
            }
            if rule.threshold.is_some() {
                verdict.counted_by.push(index);
            }
        }
        verdict
    }
}

/// Lists the `*.toml` files of `dir` in name order.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Checks every rule file of `dir` against what `context` says the config defines; returns
/// one message per problem.
pub fn check_dir(dir: &Path, context: &LoadContext) -> Result<(), Vec<String>> {
    load_dir_with(dir, context)
        .map(|_| ())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Transport};

    fn errors(text: &str) -> Vec<String> {
        match load_texts([("r.toml", text)]) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn syslog(app: &str, severity: u8, message: &str) -> Event {
        let mut e = Event::new(
            0,
            "192.0.2.9:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        e.app = Some(app.into());
        e.severity = Some(severity);
        e.message = message.into();
        e
    }

    #[test]
    fn the_built_in_pack_is_exactly_the_rules_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let on_disk: Vec<String> = rule_files(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let built_in: Vec<String> = DEFAULT_PACK.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(
            built_in, on_disk,
            "update DEFAULT_PACK when adding a rule file"
        );
        for (name, text) in DEFAULT_PACK {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), *text);
        }
    }

    #[test]
    fn notify_lists_are_parsed_and_bad_targets_point_at_themselves() {
        let rules = load_texts([(
            "r.toml",
            "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nnotify = [\"oncall\", \"mail:team@example.net\", \"webhook:chat\", \"user:bob\"]\n\n[[rule]]\nname = \"quiet\"\nwhen = 'app == \"b\"'\nnotify = []\n",
        )])
        .unwrap();
        assert_eq!(
            rules.rule(0).notify.as_deref(),
            Some(
                &[
                    NotifyTarget::OnCall,
                    NotifyTarget::Mail("team@example.net".into()),
                    NotifyTarget::Webhook("chat".into()),
                    NotifyTarget::User("bob".into()),
                ][..]
            )
        );
        assert_eq!(rules.rule(1).notify.as_deref(), Some(&[][..]));
        let e = errors(
            "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nnotify = [\"oncall\", \"sms:123\"]\n",
        );
        assert!(
            e[0].starts_with("r.toml:4:21:") && e[0].contains("unknown notify target"),
            "{e:?}"
        );
        let e =
            errors("[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nnotify = [\"mail:nobody\"]\n");
        assert!(e[0].contains("not a mail address"), "{e:?}");
    }

    #[test]
    fn forward_lists_name_configured_forwards_and_matching_rules_add_up() {
        let context = LoadContext {
            forwards: Some(vec!["siem".into(), "archive".into()]),
        };
        let text = r#"
[[rule]]
name = "everything-to-archive"
when = 'severity <= 6'
forward = ["archive"]
continue = true

[[rule]]
name = "noisy-debug"
when = 'app == "noisy"'
action = "drop"
forward = ["siem"]

[[rule]]
name = "sshd"
when = 'app == "sshd"'
level = "low"
forward = ["siem", "siem"]
"#;
        let rules = load_texts_with([("r.toml", text)], &context).unwrap();
        let mut scratch = Scratch::default();
        let mut forwards = |app: &str, severity: u8| {
            let mut e = syslog(app, severity, "m");
            let v = rules.qualify(&mut e, &mut scratch);
            (v.forward.indices().collect::<Vec<_>>(), v.drop)
        };
        assert_eq!(forwards("sshd", 4), (vec![0, 1], false));
        assert_eq!(forwards("noisy", 7), (vec![0], true), "relayed, not stored");
        assert_eq!(forwards("cron", 6), (vec![1], false));
        assert_eq!(forwards("cron", 7), (vec![], false));

        let errors = |text: &str| -> Vec<String> {
            match load_texts_with([("r.toml", text)], &context) {
                Ok(_) => Vec::new(),
                Err(errors) => errors.iter().map(ToString::to_string).collect(),
            }
        };
        let e = errors(
            "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nforward = [\"siem\", \"sime\"]\n",
        );
        assert_eq!(
            e,
            [
                "r.toml:4:20: unknown forward \"sime\" (the config's [[forward]] names: siem, archive)"
            ]
        );
        let e = errors(
            "[[rule]]\nname = \"x\"\nexpect = { when = 'app == \"b\"', every = \"1h\" }\nforward = [\"siem\"]\n",
        );
        assert!(
            e[0].starts_with("r.toml:4:12: `forward` needs `when`"),
            "{e:?}"
        );
        let none = LoadContext {
            forwards: Some(Vec::new()),
        };
        let e = load_texts_with(
            [(
                "r.toml",
                "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nforward = [\"siem\"]\n",
            )],
            &none,
        )
        .err()
        .unwrap();
        assert!(
            e[0].to_string()
                .contains("the config defines no [[forward]]"),
            "{e:?}"
        );
        // Without a context (the offline tools) names are not checked and nothing forwards.
        let rules = load_texts([("r.toml", text)]).unwrap();
        let mut e = syslog("sshd", 4, "m");
        assert!(rules.qualify(&mut e, &mut scratch).forward.is_empty());
    }

    #[test]
    fn default_pack_compiles() {
        let rules = RuleSet::default_pack();
        assert!(rules.position("syslog-emergency-alert").is_some());
    }

    #[test]
    fn errors_point_into_the_file_and_into_conditions() {
        let e = errors("[[rule]]\nname = \"x\"\nlevel = \n");
        assert!(e[0].starts_with("r.toml:3:"), "{e:?}");
        let e = errors("[[rule]]\nname = \"x\"\n[other]\n");
        assert!(e[0].starts_with("r.toml:3:"), "{e:?}");
        let e = errors("[[rule]]\nname = \"x\"\ncolour = 1\n");
        assert!(
            e[0].starts_with("r.toml:3:1:") && e[0].contains("colour"),
            "{e:?}"
        );
        // Inside a literal string: the column of the offending token.
        let e = errors("[[rule]]\nname = \"x\"\nwhen = 'app == \"a\" and nope == 1'\n");
        assert!(e[0].starts_with("r.toml:3:24: unknown field"), "{e:?}");
        // Inside a multi-line literal string (the first newline is not part of the value).
        let e = errors("[[rule]]\nname = \"x\"\nwhen = '''\napp == \"a\" or\n  nope == 3'''\n");
        assert!(e[0].starts_with("r.toml:5:3: unknown field"), "{e:?}");
        let e = errors("[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nsummary = \"on {hots}\"\n");
        assert!(
            e[0].starts_with("r.toml:4:16: unknown template variable"),
            "{e:?}"
        );
        let e = errors("[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nexpire_after = \"soon\"\n");
        assert!(e[0].starts_with("r.toml:4:16: bad duration"), "{e:?}");
        let e = errors("[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nlevel = \"urgent\"\n");
        assert!(e[0].starts_with("r.toml:4:9: unknown level"), "{e:?}");
        let e = errors(
            "[[rule]]\nname = \"x\"\nexpect = { when = 'app == \"b\"', between = \"1-5\" }\n",
        );
        assert!(e[0].starts_with("r.toml:3:43: bad window"), "{e:?}");
        let e = errors(
            "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\n[[rule]]\nname = \"x\"\nwhen = 'app == \"b\"'\n",
        );
        assert!(e[0].starts_with("r.toml:5:8: duplicate rule name"), "{e:?}");
        let e = errors(
            "[[maintenance]]\nname = \"m\"\nstart = \"2026-11-23T02:00:00Z\"\nend = \"2026-11-23T01:00:00Z\"\n",
        );
        assert!(e[0].starts_with("r.toml:4:7: maintenance end"), "{e:?}");
        // Every error of a file is reported, not just the first.
        let e = errors(
            "[[rule]]\nname = \"x\"\nwhen = 'bad == 1'\n[[rule]]\nname = \"y\"\nwhen = 'worse == 1'\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn the_contract_example_compiles() {
        let text = include_str!("../../tests/fixtures/rules/contract-example.toml");
        let rules = load_texts([("contract.toml", text)]).unwrap();
        assert_eq!(rules.rules().len(), 4);
        assert_eq!(rules.maintenance().len(), 1);
        assert_eq!(rules.expect_rules().len(), 1);
        assert_eq!(rules.clear_rules().len(), 1);
    }

    #[test]
    fn first_match_decides_unless_continue() {
        let rules = load_texts([(
            "r.toml",
            r#"
[[rule]]
name = "base"
when = 'severity <= 3'
level = "low"
category = "generic"
continue = true

[[rule]]
name = "disk"
when = 'app == "kernel" and message =~ "No space left"'
level = "critical"
category = "disk"

[[rule]]
name = "never"
when = 'app == "kernel"'
level = "none"

[[rule]]
name = "lab"
when = 'app == "lab"'
action = "drop"
"#,
        )])
        .unwrap();
        let mut scratch = Scratch::default();
        let mut e = syslog("kernel", 3, "write failed: No space left on device");
        let v = rules.qualify(&mut e, &mut scratch);
        assert_eq!(v.rule, rules.position("disk"));
        assert_eq!(e.level, Level::Critical);
        assert_eq!(rules.category_of(&v), Some("disk"));
        let mut e = syslog("cron", 3, "job failed");
        let v = rules.qualify(&mut e, &mut scratch);
        assert_eq!((v.rule, e.level), (rules.position("base"), Level::Low));
        let mut e = syslog("lab", 6, "x");
        assert!(rules.qualify(&mut e, &mut scratch).drop);
    }

    #[test]
    fn the_deciding_rule_sees_its_own_captures() {
        let text = include_str!("../../tests/fixtures/rules/capture-override.toml");
        let rules = load_texts([("c.toml", text)]).unwrap();
        let mut e = syslog("app", 5, "login for user alice from 10.0.0.1");
        let verdict = rules.qualify(&mut e, &mut Scratch::default());
        let rule = rules.rule(verdict.rule.unwrap());
        let mut out = String::new();
        let subject = Subject {
            event: &e,
            category: None,
        };
        rule.summary
            .as_ref()
            .unwrap()
            .render(&subject, &verdict.captures, &[], &mut out);
        assert_eq!(out, "from 10.0.0.1");
    }

    /// Found by `fuzz/fuzz_targets/rule_condition.rs` (its rule-index check): the prefilter
    /// lower-cased `İ` to `i̇` while the host glob keeps it, so the rule matched the event but
    /// was never offered it.
    #[test]
    fn prefilter_folds_hosts_as_host_globs_do() {
        let text = "[[rule]]\nname = \"ist\"\nwhen = 'host == \"İstanbul-rtr\"'\nlevel = \"low\"\n\
                    [[rule]]\nname = \"glob\"\nwhen = 'host == \"İst*\"'\nlevel = \"low\"\n";
        let rules = load_texts([("r.toml", text)]).unwrap();
        let mut event = syslog("app", 6, "hello");
        event.host = "İstanbul-RTR".into();
        let (mut out, mut lowered) = (Vec::new(), String::new());
        rules.prefilter.candidates(&event, &mut out, &mut lowered);
        let names: Vec<&str> = out.iter().map(|&i| rules.rule(i).name.as_str()).collect();
        assert_eq!(names, ["ist", "glob"]);
        let verdict = rules.qualify(&mut event, &mut Scratch::default());
        assert_eq!(
            verdict.rule.map(|i| rules.rule(i).name.as_str()),
            Some("ist")
        );
    }

    #[test]
    fn prefilter_only_offers_rules_that_can_match_and_keeps_their_order() {
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!(
                "[[rule]]\nname = \"app{i}\"\nwhen = 'app == \"app{i}\" and severity <= 4'\nlevel = \"warning\"\n\n"
            ));
            text.push_str(&format!(
                "[[rule]]\nname = \"msg{i}\"\nwhen = 'message =~ \"disk{i} failed\"'\nlevel = \"critical\"\n\n"
            ));
        }
        text.push_str("[[rule]]\nname = \"any\"\nwhen = 'severity == 0'\nlevel = \"critical\"\n");
        let rules = load_texts([("r.toml", text.as_str())]).unwrap();
        let mut out = Vec::new();
        let mut lowered = String::new();
        let e = syslog("app7", 4, "disk42 failed, disk7 failed");
        rules.prefilter.candidates(&e, &mut out, &mut lowered);
        let names: Vec<&str> = out.iter().map(|&i| rules.rule(i).name.as_str()).collect();
        assert_eq!(names, ["app7", "msg7", "msg42"]);
        let e = syslog("other", 0, "all quiet");
        rules.prefilter.candidates(&e, &mut out, &mut lowered);
        let names: Vec<&str> = out.iter().map(|&i| rules.rule(i).name.as_str()).collect();
        assert_eq!(names, ["any"]);
    }
}
