//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the JSON API.
//!
//! Written from the same table the server enforces ([`super::roles::ENDPOINTS`]): every route
//! there has one operation here, with the roles that may call it, and a test checks the two
//! agree both ways, so the document cannot drift from what the server does.

use serde_json::{Value, json};

use super::roles::{ENDPOINTS, Permission};
use crate::accounts::Role;

/// What one operation does, its parameters and its success response (by route and method).
struct Operation {
    summary: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<Value>,
    ok: (&'static str, &'static str),
}

fn operation(method: &str, route: &str) -> Operation {
    let page = &[
        ("limit", "page size, 1 to 1000 (default 100)"),
        ("cursor", "the next_cursor of the previous page"),
    ];
    match (method, route) {
        ("GET", "/api/v1/events") => Operation {
            summary: "Stored events, newest first",
            query: &[
                ("host", "exact host"),
                ("kind", "syslog | trap"),
                ("level", "critical | warning | low | none"),
                ("q", "text in the message"),
                ("since", "RFC 3339"),
                ("until", "RFC 3339"),
                ("limit", "page size, 1 to 1000 (default 100)"),
                ("cursor", "the next_cursor of the previous page"),
            ],
            body: None,
            ok: ("200", "{events: [Event], next_cursor}"),
        },
        ("GET", "/api/v1/events/{id}") => simple("One event", "200", "Event"),
        ("GET", "/api/v1/alerts") => Operation {
            summary: "Alerts, newest first",
            query: &[
                ("state", "one state or a comma-separated list"),
                ("level", "critical | warning | low"),
                ("host", "exact host"),
                ("category", "exact category"),
                (
                    "q",
                    "words that must all appear in summary, host, rule, category or key",
                ),
                ("compact", "true: no history, only the newest event id"),
                ("limit", "page size, 1 to 1000 (default 100)"),
                ("cursor", "the next_cursor of the previous page"),
            ],
            body: None,
            ok: ("200", "{alerts: [Alert], next_cursor}"),
        },
        ("GET", "/api/v1/alerts/{id}") => simple("One alert", "200", "Alert"),
        ("GET", "/api/v1/alerts/stream") => simple(
            "Server-Sent Events: `event: alert` with the Alert JSON for every change, `event: lagged` when the client fell behind",
            "200",
            "text/event-stream",
        ),
        ("POST", "/api/v1/alerts/{id}/{action}") => Operation {
            summary: "ack | snooze | transfer | archive | delete; recorded in the alert's history (409 if the state does not allow it)",
            query: &[],
            body: Some(json!({
                "type": "object",
                "properties": {
                    "comment": {"type": "string"},
                    "until": {"type": "string", "description": "snooze: RFC 3339"},
                    "for": {"type": "string", "description": "snooze: a duration such as 30m"},
                    "to": {"type": "array", "items": {"type": "string"}, "description": "transfer: user names"}
                }
            })),
            ok: ("200", "Alert"),
        },
        ("POST", "/api/v1/alerts/bulk/{action}") => Operation {
            summary: "One action (ack | snooze | transfer | archive | delete) on many alerts; those whose state does not allow it are listed in `failed`",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["ids"],
                "properties": {
                    "ids": {"type": "array", "items": {"type": "integer"}},
                    "comment": {"type": "string"},
                    "until": {"type": "string", "description": "snooze: RFC 3339"},
                    "for": {"type": "string", "description": "snooze: a duration such as 30m"},
                    "to": {"type": "array", "items": {"type": "string"}, "description": "transfer: user names"}
                }
            })),
            ok: ("200", "{done: [Alert], failed: [{id, error}]}"),
        },
        ("GET", "/api/v1/maintenance") => simple(
            "Maintenance windows (rule files and API)",
            "200",
            "[Maintenance]",
        ),
        ("POST", "/api/v1/maintenance") => Operation {
            summary: "Create a maintenance window",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["name", "start", "end"],
                "properties": {
                    "name": {"type": "string"},
                    "start": {"type": "string", "description": "RFC 3339"},
                    "end": {"type": "string", "description": "RFC 3339"},
                    "hosts": {"type": "array", "items": {"type": "string"}, "description": "globs"},
                    "categories": {"type": "array", "items": {"type": "string"}},
                    "rules": {"type": "array", "items": {"type": "string"}}
                }
            })),
            ok: ("201", "Maintenance"),
        },
        ("DELETE", "/api/v1/maintenance") => Operation {
            summary: "Remove a maintenance window made through the API",
            query: &[("id", "the window's id")],
            body: None,
            ok: ("204", "no content"),
        },
        ("DELETE", "/api/v1/maintenance/{id}") => simple(
            "Remove a maintenance window made through the API",
            "204",
            "no content",
        ),
        ("GET", "/api/v1/logins") => Operation {
            summary: "Login attempts, newest first",
            query: page,
            body: None,
            ok: ("200", "{logins: [Login], next_cursor}"),
        },
        ("GET", "/api/v1/users") => simple(
            "Every user (name, role, email, created_at; never a password hash)",
            "200",
            "[User]",
        ),
        ("POST", "/api/v1/users") => Operation {
            summary: "Create a user (409 if the name is taken)",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["name", "role", "password"],
                "properties": {
                    "name": {"type": "string", "description": "1-64 letters, digits, '.', '_', '-'"},
                    "role": {"type": "string", "enum": ["operator", "manager", "oncall", "admin", "viewer"]},
                    "password": {"type": "string", "description": "at least 8 characters"},
                    "email": {"type": "string"}
                }
            })),
            ok: ("201", "User"),
        },
        ("PATCH", "/api/v1/users/{name}") => Operation {
            summary: "Change a user's role, email (null removes it) or password; the last admin keeps the role (409)",
            query: &[],
            body: Some(json!({
                "type": "object",
                "properties": {
                    "role": {"type": "string", "enum": ["operator", "manager", "oncall", "admin", "viewer"]},
                    "email": {"type": ["string", "null"]},
                    "password": {"type": "string"},
                    "categories": {"type": "array", "items": {"type": "string"}, "maxItems": 50, "description": "incident categories a manager answers for"}
                }
            })),
            ok: ("200", "User"),
        },
        ("DELETE", "/api/v1/users/{name}") => simple(
            "Remove a user, its tokens and sessions; not the last admin (409)",
            "204",
            "no content",
        ),
        ("GET", "/api/v1/system") => simple(
            "Version, start time, uptime, trapline's SNMP engine id and boots, stored events and bytes, rules in force",
            "200",
            "System",
        ),
        ("GET", "/api/v1/openapi.json") => simple("This document", "200", "OpenAPI 3.1"),
        ("GET", "/api/v1/hosts") => Operation {
            summary: "Equipment: hosts seen (discovered from events) or described, by display name; each with details, first/last seen, event counts per level, open alerts per level, last sender",
            query: &[
                (
                    "q",
                    "text in the host name or any detail (case-insensitive)",
                ),
                ("zone", "exact criticality zone (case-insensitive)"),
                ("limit", "page size, 1 to 1000 (default 100)"),
                ("cursor", "the next_cursor of the previous page"),
            ],
            body: None,
            ok: ("200", "{hosts: [Host], next_cursor}"),
        },
        ("GET", "/api/v1/hosts/{host}") => simple("One host", "200", "Host"),
        ("PATCH", "/api/v1/hosts/{host}") => Operation {
            summary: "Change a host's details: the fields sent are set, null (or blank) clears one, others stay; recorded as updated_by/updated_at. A host not seen yet is added (pre-provisioning). Setting zone needs the manager role (403 otherwise); 409 when the inventory is full",
            query: &[],
            body: Some(json!({
                "type": "object",
                "additionalProperties": false,
                "minProperties": 1,
                "properties": {
                    "name": {"type": ["string", "null"], "maxLength": 200, "description": "display name"},
                    "type": {"type": ["string", "null"], "maxLength": 200, "description": "router, switch, firewall, server…"},
                    "address": {"type": ["string", "null"], "maxLength": 200},
                    "location": {"type": ["string", "null"], "maxLength": 200},
                    "zone": {"type": ["string", "null"], "maxLength": 64, "description": "criticality zone, e.g. critical or standard (managers only)"},
                    "comments": {"type": ["string", "null"], "maxLength": 4000}
                }
            })),
            ok: ("200", "Host"),
        },
        ("DELETE", "/api/v1/hosts/{host}") => simple(
            "Forget a host (sightings and details); it is discovered afresh if it sends again",
            "204",
            "no content",
        ),
        ("GET", "/api/v1/hosts/{host}/timeline") => Operation {
            summary: "The host's events and alerts merged, newest first: each item is {type: event | alert, at} plus the Event or Alert fields (an alert is placed at first_seen)",
            query: page,
            body: None,
            ok: (
                "200",
                "{host, items: [Event | Alert with type and at], next_cursor}",
            ),
        },
        ("GET", "/api/v1/oncall") => simple(
            "The on-call schedule (shifts, rotations, escalate_after) with who is on call now and next at each rank",
            "200",
            "{shifts: [{user, start, end, rank}], rotations: [{users, start, every, until, rank}], escalate_after, now: [{rank, users, until}], next: [{rank, user, start, end}]}",
        ),
        ("PUT", "/api/v1/oncall") => Operation {
            summary: "Replace the on-call schedule (rank 1 is told first; the next rank when nobody acknowledged within escalate_after)",
            query: &[],
            body: Some(json!({
                "type": "object",
                "properties": {
                    "shifts": {"type": "array", "items": {"type": "object", "required": ["user", "start", "end", "rank"], "properties": {
                        "user": {"type": "string"},
                        "start": {"type": "string", "description": "RFC 3339"},
                        "end": {"type": "string", "description": "RFC 3339"},
                        "rank": {"type": "integer", "minimum": 1, "maximum": 10}
                    }}},
                    "rotations": {"type": "array", "items": {"type": "object", "required": ["users", "start", "rank"], "properties": {
                        "users": {"type": "array", "items": {"type": "string"}, "description": "take turns in this order"},
                        "start": {"type": "string", "description": "RFC 3339: the first turn begins"},
                        "every": {"type": "string", "description": "length of a turn, default 7d (weekly)"},
                        "until": {"type": "string", "description": "RFC 3339, optional end"},
                        "rank": {"type": "integer", "minimum": 1, "maximum": 10}
                    }}},
                    "escalate_after": {"type": "string", "description": "e.g. 10m (the default)"}
                }
            })),
            ok: ("200", "the schedule as GET returns it"),
        },
        ("GET", "/api/v1/notifications") => Operation {
            summary: "The notification log, newest first: every mail and webhook call with its attempts",
            query: &[
                ("status", "pending | delivered | failed"),
                ("limit", "page size, 1 to 1000 (default 100)"),
                ("cursor", "the next_cursor of the previous page"),
            ],
            body: None,
            ok: (
                "200",
                "{notifications: [{id, channel, recipient, kind, subject, alert_ids, more, created_at, status, attempts, next_attempt_at, finished_at, log: [{at, outcome, error}]}], next_cursor}",
            ),
        },
        ("GET", "/api/v1/incidents") => Operation {
            summary: "Incidents, newest first (without history); `kb=true` searches the knowledge base (closed incidents kept there)",
            query: &[
                (
                    "state",
                    "open | in_progress | resolved | closed, or a comma-separated list",
                ),
                ("category", "exact category"),
                ("host", "exact host"),
                (
                    "q",
                    "words that must all appear in title, description, resolutions, reference, category or host",
                ),
                ("kb", "true: only the knowledge base"),
                ("since", "opened at or after (RFC 3339)"),
                ("until", "opened before (RFC 3339)"),
                ("limit", "page size, 1 to 1000 (default 100)"),
                ("cursor", "the next_cursor of the previous page"),
            ],
            body: None,
            ok: ("200", "{incidents: [Incident], next_cursor}"),
        },
        ("POST", "/api/v1/incidents") => Operation {
            summary: "Open an incident (reference YEAR/CATEGORY/N). With alert_id (operators only): title, description, category, host, severity and date prefilled from the alert, source alert",
            query: &[],
            body: Some(json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 200},
                    "description": {"type": "string", "maxLength": 10000},
                    "category": {"type": "string", "maxLength": 40, "description": "default general"},
                    "severity": {"type": "string", "enum": ["green", "orange", "red"], "description": "default orange"},
                    "source": {"type": "string", "enum": ["contact", "visual", "alert"], "description": "default contact"},
                    "alert_id": {"type": "integer"},
                    "host": {"type": "string"},
                    "occurred_at": {"type": "string", "description": "RFC 3339"},
                    "followers": {"type": "array", "items": {"type": "string"}, "maxItems": 50}
                }
            })),
            ok: ("201", "Incident"),
        },
        ("GET", "/api/v1/incidents/export") => Operation {
            summary: "The incidents opened in a period, oldest first, at most 10,000 (header X-Trapline-Truncated: true when cut)",
            query: &[
                ("format", "csv (default) | json"),
                ("since", "RFC 3339"),
                ("until", "RFC 3339"),
            ],
            body: None,
            ok: ("200", "text/csv or [Incident]"),
        },
        ("GET", "/api/v1/incidents/{id}") => simple(
            "One incident with its history, and may_edit: whether the caller may qualify and resolve it",
            "200",
            "Incident + {may_edit}",
        ),
        ("PATCH", "/api/v1/incidents/{id}") => Operation {
            summary: "Qualify: the fields sent change, recorded in the history. Operators any incident, on-call people those transferred to them, managers those of their categories, anybody those they opened (403 otherwise); knowledge_base (closed incidents only) needs the operator role; 409 when closed",
            query: &[],
            body: Some(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "title": {"type": "string", "maxLength": 200},
                    "description": {"type": "string", "maxLength": 10000},
                    "category": {"type": "string", "maxLength": 40},
                    "severity": {"type": "string", "enum": ["green", "orange", "red"]},
                    "host": {"type": ["string", "null"]},
                    "followers": {"type": "array", "items": {"type": "string"}},
                    "knowledge_base": {"type": "boolean"}
                }
            })),
            ok: ("200", "Incident"),
        },
        ("GET", "/api/v1/incidents/{id}/related") => simple(
            "Knowledge-base entries about the same host, then the same category (at most 10)",
            "200",
            "{incidents: [Incident]}",
        ),
        ("GET", "/api/v1/incidents/{id}/pdf") => {
            simple("The incident as a printable PDF", "200", "application/pdf")
        }
        ("POST", "/api/v1/incidents/{id}/resolve") => Operation {
            summary: "Add a resolution line: final resolves it (followers and opener are mailed), otherwise in progress; same edit rule as PATCH; 409 when closed",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["text"],
                "properties": {
                    "text": {"type": "string", "maxLength": 10000},
                    "final": {"type": "boolean"}
                }
            })),
            ok: ("200", "Incident"),
        },
        ("POST", "/api/v1/incidents/{id}/transfer") => Operation {
            summary: "Hand the incident to users (its assignees), who are mailed, as are the managers of its category; 409 once resolved",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["to"],
                "properties": {
                    "to": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
                    "comment": {"type": "string"}
                }
            })),
            ok: ("200", "Incident"),
        },
        ("POST", "/api/v1/incidents/{id}/close") => Operation {
            summary: "Close a resolved incident (409 otherwise), optionally into the knowledge base; followers and opener are mailed",
            query: &[],
            body: Some(json!({
                "type": "object",
                "properties": {
                    "knowledge_base": {"type": "boolean"},
                    "comment": {"type": "string"}
                }
            })),
            ok: ("200", "Incident"),
        },
        ("GET", "/api/v1/reports/availability") => Operation {
            summary: "Availability per host and per service over a period: availability %, outages, downtime, MTTR, and the outages behind them (alerts of rules with availability = true, manual entries)",
            query: REPORT_QUERY,
            body: None,
            ok: (
                "200",
                "{period, timezone, since, until, observed_until, hosts: [{host, availability_percent, downtime_seconds, outages, mttr_seconds, services: [{service, …}]}], outages: [Outage]} or text/csv with format=csv",
            ),
        },
        ("GET", "/api/v1/reports/availability.svg") => Operation {
            summary: "The availability report as an SVG bar chart (the 30 least available hosts)",
            query: REPORT_QUERY,
            body: None,
            ok: ("200", "image/svg+xml"),
        },
        ("GET", "/api/v1/reports/summary") => Operation {
            summary: "Alerts raised per level in each bucket of the period (hours of a day, days of a week or month, weeks of a quarter, months of a year) and per category",
            query: REPORT_QUERY,
            body: None,
            ok: (
                "200",
                "{period, timezone, since, until, buckets: [{start, end, critical, warning, low}], categories: [[name, count]], total, truncated}",
            ),
        },
        ("GET", "/api/v1/reports/summary.svg") => Operation {
            summary: "The alert summary as an SVG stacked column chart",
            query: REPORT_QUERY,
            body: None,
            ok: ("200", "image/svg+xml"),
        },
        ("GET", "/api/v1/outages") => Operation {
            summary: "Outages (from alerts and manual) overlapping the window (default: this month), by start",
            query: REPORT_QUERY,
            body: None,
            ok: (
                "200",
                "{since, until, outages: [{id, host, service, start, end, duration_seconds, source: alert | manual, alert_id, rule, by, reason}]}",
            ),
        },
        ("POST", "/api/v1/outages") => Operation {
            summary: "Record a manual outage (who and when are taken from the caller)",
            query: &[],
            body: Some(json!({
                "type": "object",
                "required": ["host", "start", "reason"],
                "properties": {
                    "host": {"type": "string"},
                    "service": {"type": "string", "description": "what was down (default: manual)"},
                    "start": {"type": "string", "description": "RFC 3339"},
                    "end": {"type": "string", "description": "RFC 3339; absent while it lasts"},
                    "reason": {"type": "string", "maxLength": 2000}
                }
            })),
            ok: ("201", "Outage"),
        },
        ("DELETE", "/api/v1/outages/{id}") => simple(
            "Remove a manual outage (409 for one derived from an alert: it ends with its alert)",
            "204",
            "no content",
        ),
        _ => simple("(undocumented)", "200", ""),
    }
}

/// The query parameters every report route takes.
const REPORT_QUERY: &[(&str, &str)] = &[
    (
        "period",
        "day | week | month | quarter | year (default day)",
    ),
    (
        "at",
        "RFC 3339: the period containing this instant (default now)",
    ),
    (
        "since",
        "RFC 3339: a custom range instead of period (with until)",
    ),
    ("until", "RFC 3339"),
    ("host", "exact host (case-insensitive)"),
    (
        "service",
        "exact service (an alert key, or a manual entry's service)",
    ),
    ("format", "json (default) | csv (availability only)"),
];

fn simple(summary: &'static str, status: &'static str, what: &'static str) -> Operation {
    Operation {
        summary,
        query: &[],
        body: None,
        ok: (status, what),
    }
}

fn roles_allowed(permission: Permission) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|role| permission.allows(*role))
        .map(Role::as_str)
        .collect()
}

fn path_parameters(route: &str) -> Vec<Value> {
    route
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for &(method, route, permission) in ENDPOINTS {
        let op = operation(method, route);
        let mut parameters = path_parameters(route);
        parameters.extend(op.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
        }));
        let mut operation = json!({
            "summary": op.summary,
            "x-roles": roles_allowed(permission),
            "parameters": parameters,
            "responses": {
                op.ok.0: {"description": op.ok.1},
                "400": {"description": "bad request: {error, detail}"},
                "401": {"description": "no valid token or session"},
                "403": {"description": "the role may not do this (or a session request without its CSRF token)"},
                "404": {"description": "no such resource"}
            }
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({"content": {"application/json": {"schema": body}}});
        }
        let entry = paths.entry(route.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "trapline API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every route takes `Authorization: Bearer TOKEN` or a web session cookie (then state-changing requests need `X-CSRF-Token`). Errors are `{\"error\": ..., \"detail\": ...}`. Times are RFC 3339 UTC. `x-roles` lists the roles that may call an operation."
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": super::session::SESSION_COOKIE}
            }
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enforced_route_is_documented_and_nothing_else() {
        let doc = document();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(route, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.to_ascii_uppercase(), route.clone()))
            })
            .collect();
        documented.sort();
        let mut enforced: Vec<(String, String)> = ENDPOINTS
            .iter()
            .map(|(m, r, _)| (m.to_string(), r.to_string()))
            .collect();
        enforced.sort();
        assert_eq!(documented, enforced);
        for (method, route) in &enforced {
            let op = &doc["paths"][route][method.to_ascii_lowercase()];
            assert_ne!(op["summary"], "(undocumented)", "{method} {route}");
            assert!(
                !op["x-roles"].as_array().unwrap().is_empty(),
                "{method} {route}"
            );
        }
        assert_eq!(
            doc["paths"]["/api/v1/alerts/{id}/{action}"]["post"]["x-roles"],
            json!(["operator"])
        );
        assert_eq!(
            doc["paths"]["/api/v1/hosts/{host}"]["delete"]["x-roles"],
            json!(["manager"])
        );
        assert_eq!(
            doc["paths"]["/api/v1/hosts/{host}"]["patch"]["x-roles"],
            json!(["operator", "manager"])
        );
    }
}
