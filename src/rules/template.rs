//! `{var}` templates for a rule's alert summary and deduplication key.
//!
//! A [`Template`] such as `SSH brute force from {ip} on {host}` is parsed when the rule file
//! loads: every `{name}` is resolved there to a regex capture of the rule's conditions, a value
//! the caller supplies at render time (an "extra", such as `rule` or `count`), or an event
//! field (`Field`, the same fields a `when` condition can test). A name that is none of these
//! is an error with its byte offset, so a typo is caught at load time instead of rendering an
//! empty string on every alert. `{{` and `}}` stand for literal braces.
//!
//! Rendering appends to a caller-owned `String` and never fails: a value the event does not have
//! renders as nothing. This module knows nothing of rules or alerts beyond the names it is given.

use super::condition::{Captures, FIELD_NAMES, Field, Subject};

/// Why a template did not parse, and where: `rules` reports it as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Byte offset into the template text of the offending brace or variable name.
    pub offset: usize,
    /// What is wrong, naming the variables that would have been accepted.
    pub message: String,
}

/// A parsed template, resolved against the names its rule provides.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// One run of a template: text as is, or a resolved variable.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Capture(String),
    Extra(String),
    Field(Field),
}

impl Template {
    /// Parses `text`. `captures`: capture names the rule's conditions provide; `extras`: other
    /// names the caller will supply at render time (e.g. "rule", "count"). Captures win over
    /// extras and extras over fields, so a rule that captures `(?P<host>…)` means its capture.
    pub fn parse(
        text: &str,
        captures: &[String],
        extras: &[&str],
    ) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let offset = text.len() - rest.len() + at;
            let brace = &rest[at..];
            if brace.starts_with("{{") || brace.starts_with("}}") {
                literal.push_str(&brace[..1]);
                rest = &brace[2..];
                continue;
            }
            if brace.starts_with('}') {
                return Err(TemplateError {
                    offset,
                    message: "unmatched `}` (write `}}` for a literal brace)".into(),
                });
            }
            let Some(close) = brace.find('}') else {
                return Err(TemplateError {
                    offset,
                    message: "unclosed `{` (write `{{` for a literal brace)".into(),
                });
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            let inside = &brace[1..close];
            let name_offset = offset + 1 + (inside.len() - inside.trim_start().len());
            pieces.push(resolve(inside.trim(), name_offset, captures, extras)?);
            rest = &brace[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            pieces,
        })
    }

    /// Appends the rendered text to `out`. Missing values render as an empty string. `extras`
    /// are (name, value) pairs; for a name captured twice the last capture is used.
    pub fn render(
        &self,
        subject: &Subject<'_>,
        captures: &Captures,
        extras: &[(&str, &str)],
        out: &mut String,
    ) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Capture(name) => out.push_str(lookup(captures, name)),
                Piece::Extra(name) => {
                    let value = extras.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                    out.push_str(value.unwrap_or(""));
                }
                Piece::Field(field) => field.write_value(subject, out),
            }
        }
    }

    /// The template as written, for messages and for showing the rule back to operators.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The value of capture `name`; the last one wins, so the rule that decides (which matched
/// last) sees its own captures even when an earlier `continue` rule used the same name.
fn lookup<'a>(captures: &'a Captures, name: &str) -> &'a str {
    captures
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// What `{name}` stands for.
fn resolve(
    name: &str,
    offset: usize,
    captures: &[String],
    extras: &[&str],
) -> Result<Piece, TemplateError> {
    if name.is_empty() {
        return Err(TemplateError {
            offset,
            message: "empty template variable `{}`".into(),
        });
    }
    if captures.iter().any(|c| c == name) {
        return Ok(Piece::Capture(name.to_owned()));
    }
    if extras.contains(&name) {
        return Ok(Piece::Extra(name.to_owned()));
    }
    if let Some(field) = Field::parse(name) {
        return Ok(Piece::Field(field));
    }
    Err(TemplateError {
        offset,
        message: unknown_variable_message(name, captures, extras),
    })
}

fn unknown_variable_message(name: &str, captures: &[String], extras: &[&str]) -> String {
    let captures = if captures.is_empty() {
        "none".to_owned()
    } else {
        captures.join(", ")
    };
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!("; also: {}", extras.join(", "))
    };
    format!(
        "unknown template variable `{name}` (captures of this rule: {captures}{extras}; fields: {FIELD_NAMES})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventKind, Level, Transport, TrapInfo, Varbind};
    use crate::rules::condition::Condition;

    fn syslog_event() -> Event {
        let mut event = Event::new(
            0,
            "192.0.2.7:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        event.host = "web-01".into();
        event.app = Some("sshd".into());
        event.facility = Some(4);
        event.severity = Some(3);
        event.level = Level::Low;
        event.message = "Failed password for root from 203.0.113.9 port 22 ssh2".into();
        event
    }

    fn trap_event() -> Event {
        let mut event = Event::new(
            0,
            "[::ffff:198.51.100.3]:162".parse().unwrap(),
            Transport::Udp,
            EventKind::Trap,
        );
        event.host = "switch-1".into();
        let varbind = |name: &str, value: &str| Varbind {
            oid: "1.3.6.1.2.1.2.2.1.1.2".into(),
            name: Some(name.into()),
            value_type: "x".into(),
            value: value.into(),
        };
        event.trap = Some(TrapInfo {
            version: "v2c".into(),
            community: None,
            user: None,
            trap_oid: "1.3.6.1.6.3.1.1.5.3".into(),
            trap_name: Some("IF-MIB::linkDown".into()),
            agent: None,
            uptime: None,
            varbinds: vec![varbind("ifIndex.2", "2"), varbind("ifDescr.2", "eth0")],
        });
        event
    }

    fn render(text: &str, event: &Event, captures: &Captures, extras: &[(&str, &str)]) -> String {
        let names: Vec<String> = captures.iter().map(|(n, _)| n.clone()).collect();
        let extra_names: Vec<&str> = extras.iter().map(|(n, _)| *n).collect();
        let template = Template::parse(text, &names, &extra_names).unwrap();
        assert_eq!(template.source(), text);
        let subject = Subject {
            event,
            category: Some("auth"),
        };
        let mut out = String::from(">");
        template.render(&subject, captures, extras, &mut out);
        out
    }

    fn check_error(text: &str, offset: usize, message: &str) {
        let error = Template::parse(text, &["ip".into()], &["rule"]).expect_err(text);
        assert_eq!(error.offset, offset, "{text}: {}", error.message);
        assert!(error.message.contains(message), "{text}: {}", error.message);
    }

    #[test]
    fn contract_examples() {
        let event = syslog_event();
        let condition = Condition::parse(
            r#"app == "sshd" and message =~ "Failed password for .* from (?P<ip>[0-9a-f.:]+)""#,
        )
        .unwrap();
        let mut captures = Vec::new();
        let subject = Subject {
            event: &event,
            category: None,
        };
        assert!(condition.matches(&subject, &mut captures));
        let template = Template::parse(
            "SSH brute force from {ip} on {host}",
            &condition.capture_names(),
            &[],
        )
        .unwrap();
        let mut out = String::new();
        template.render(&subject, &captures, &[], &mut out);
        assert_eq!(out, "SSH brute force from 203.0.113.9 on web-01");

        let trap = trap_event();
        assert_eq!(
            render("{host}/if/{varbind.ifIndex}", &trap, &vec![], &[]),
            ">switch-1/if/2"
        );
        assert_eq!(
            render(
                "Interface {varbind.ifDescr} down on {host}",
                &trap,
                &vec![],
                &[]
            ),
            ">Interface eth0 down on switch-1"
        );
    }

    #[test]
    fn fields_captures_and_extras() {
        let event = syslog_event();
        let captures = vec![("ip".to_owned(), "1.2.3.4".to_owned())];
        assert_eq!(
            render(
                "{kind} {source} {facility}.{severity} {level} {app} [{procid}] {category} {ip} {rule}#{count}",
                &event,
                &captures,
                &[("rule", "ssh"), ("count", "5")],
            ),
            ">syslog 192.0.2.7 4.3 low sshd [] auth 1.2.3.4 ssh#5"
        );
        let trap = trap_event();
        assert_eq!(
            render(
                "{trap_name} {trap_oid} {source} {varbind.nope}|",
                &trap,
                &vec![],
                &[]
            ),
            ">IF-MIB::linkDown 1.3.6.1.6.3.1.1.5.3 198.51.100.3 |"
        );
        // A capture named like a field is the capture.
        let host = vec![("host".to_owned(), "captured".to_owned())];
        assert_eq!(render("{host}", &event, &host, &[]), ">captured");
        assert_eq!(render("{ host }", &event, &vec![], &[]), ">web-01");
    }

    #[test]
    fn braces_and_plain_text() {
        let event = syslog_event();
        assert_eq!(render("", &event, &vec![], &[]), ">");
        assert_eq!(render("no vars", &event, &vec![], &[]), ">no vars");
        assert_eq!(
            render("{{literal}} {host}}}", &event, &vec![], &[]),
            ">{literal} web-01}"
        );
        assert_eq!(render("{{{host}}}", &event, &vec![], &[]), ">{web-01}");
        assert_eq!(render("é{host}ü", &event, &vec![], &[]), ">éweb-01ü");
    }

    #[test]
    fn error_positions() {
        check_error(
            "from {ipp} on {host}",
            6,
            "unknown template variable `ipp` (captures of this rule: ip; also: rule; fields: kind, host",
        );
        check_error("from { ipp }", 7, "unknown template variable `ipp`");
        check_error("a {host} {", 9, "unclosed `{`");
        check_error("a {host", 2, "unclosed `{`");
        check_error("a } b", 2, "unmatched `}`");
        check_error("a {} b", 3, "empty template variable");
        check_error("{sd.x}", 1, "unknown template variable");
        let error = Template::parse("{x}", &[], &[]).unwrap_err();
        assert!(
            error.message.contains("captures of this rule: none;"),
            "{}",
            error.message
        );
    }
}
