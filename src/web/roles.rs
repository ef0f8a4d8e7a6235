//! Who may do what: the origin design's menu matrix, as the one table every API route and page
//! is checked against.
//!
//! [`Permission`] names one thing a user can do; [`Permission::allows`] says which roles may do
//! it; [`ENDPOINTS`] gives every `/api/v1` route (method + route template) its permission. The
//! API's auth middleware ([`super::auth::require_user`]) looks the matched route up here after
//! authenticating, so a handler never checks a role by itself. A route missing from the table is
//! refused (403) and logged: forgetting an entry fails closed, and the router tests, which walk
//! this table for every role, catch it.
//!
//! | permission            | operator | manager | oncall | admin | viewer | matrix line |
//! |-----------------------|:--------:|:-------:|:------:|:-----:|:------:|---|
//! | `ViewEvents`          | X        | X       |        |       |        | monitoring |
//! | `ViewAlerts`          | X        | X       |        |       |        | alerts: search, list |
//! | `ActOnAlerts`         | X        |         |        |       |        | alerts: transfer, postpone, archive, delete |
//! | `ViewMaintenance`     | X        | X       |        | X     |        | settings (admin) + monitoring |
//! | `ChangeMaintenance`   | X        |         |        | X     |        | settings (admin) + alerts (operator) |
//! | `ViewLogins`          |          |         |        | X     |        | users (admin) |
//! | `ManageUsers`         |          |         |        | X     |        | users (admin) |
//! | `ViewEquipment`       | X        | X       |        |       |        | monitoring: equipment list |
//! | `EditEquipment`       | X        | X       |        |       |        | edit equipment (operator) + administer equipment (manager) |
//! | `AdministerEquipment` |          | X       |        |       |        | administer equipment |
//! | `ReadApiDocs`         | X        | X       | X      | X     | X      | (the API's own description) |
//! | `ViewSystem`          | X        | X       | X      | X     | X      | (version, SNMP engine id) |
//! | `ViewOncall`          | X        | X       | X      | X     | X      | on-call planning view |
//! | `EditOncall`          |          |         |        | X     |        | on-call planning edit (admin) |
//! | `ViewNotifications`   | X        |         |        | X     |        | alerts (operator) + settings (admin) |
//! | `FollowIncidents`     | X        | X       | X      |       | X      | incidents: open, list, qualify, knowledge base |
//! | `ResolveIncidents`    | X        | X       | X      |       |        | incidents: resolve |
//! | `ManageIncidents`     | X        |         |        |       |        | incidents: transfer, modify, close |
//! | `ViewReports`         | X        | X       |        |       |        | monitoring: unavailability, statistics, reports |
//! | `RecordOutages`       | X        | X       |        |       |        | monitoring: unavailability |
//!
//! One check is finer than a route: `PATCH /api/v1/hosts/{host}` needs `EditEquipment`, and
//! a body that sets `zone` needs `AdministerEquipment` as well (the criticality zone decides
//! how loudly a host's alerts matter: the manager's call). The handler asks
//! [`Permission::allows`] for it, so this table stays the only place roles are decided.
//!
//! Incidents add a rule per incident on top of the route's permission: who may change one
//! ([`may_edit_incident`]) — operators all, on-call people those transferred to them,
//! managers those of their categories, the opener their own. Qualifying (`PATCH`) and
//! resolving ask it; opening an incident from an alert needs `ActOnAlerts` as well (the
//! alert's row action is the operator's). Admins have no incident permission: the matrix
//! gives them users and settings only.
//!
//! Console pages (`super::console::PAGES`) are checked against the same permissions; `/login`
//! and `/logout` need no role.

use axum::http::Method;

use crate::accounts::{Role, User};
use crate::incidents::Incident;

/// One thing a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read stored events. The matrix's "monitoring" (equipment, unavailability, statistics,
    /// reports): operators and managers. Not admins: their menu is users and settings, and the
    /// raw event stream is the monitoring view.
    ViewEvents,
    /// List and read alerts: the matrix's "alerts: search, list" — operators and managers.
    ViewAlerts,
    /// Ack, snooze, transfer, archive, delete alerts: "alerts: transfer, postpone, archive,
    /// delete" — operators only. Managers are told of critical alerts but do not act on them.
    ActOnAlerts,
    /// List maintenance windows: whoever may change them (operators, admins) and managers,
    /// who watch the monitoring that windows silence.
    ViewMaintenance,
    /// Create and remove maintenance windows: admins (settings) and operators (who see the
    /// alerts they silence and plan interventions).
    ChangeMaintenance,
    /// Read the login audit (who logged in, from where, when): admins, who own users.
    ViewLogins,
    /// List, create, change and remove users: admins ("users, menus, on-call planning edit").
    ManageUsers,
    /// Read the OpenAPI document: every signed-in user (it lists what each role may do).
    ReadApiDocs,
    /// Read what the appliance is (version, uptime, SNMP engine id): every signed-in user.
    ViewSystem,
    /// List hosts and read one host and its timeline: the matrix's "monitoring: equipment
    /// list" — operators and managers.
    ViewEquipment,
    /// Change a host's descriptive details (name, type, address, location, comments): the
    /// matrix's "edit equipment" (operators) and, as part of administering it, managers.
    EditEquipment,
    /// Set a host's criticality zone and forget a host: "administer equipment" — managers.
    AdministerEquipment,
    /// See the on-call schedule, who is on call now and next: every role ("on-call planning
    /// view" is everybody's in the matrix).
    ViewOncall,
    /// Change the on-call schedule: admins ("on-call planning edit").
    EditOncall,
    /// Read the notification log (every mail and webhook call, each attempt): operators, who
    /// need to know whether on-call was reached, and admins, who own the settings behind it.
    ViewNotifications,
    /// Open incidents, list and read them, qualify those one may edit, search the knowledge
    /// base, export and print: "incidents: open, list, qualify, knowledge base" — every role
    /// but admin.
    FollowIncidents,
    /// Add resolution lines to incidents one may edit: "incidents: resolve" — operators,
    /// managers, on-call people.
    ResolveIncidents,
    /// Transfer and close incidents: "incidents: transfer, modify, close" — operators only.
    ManageIncidents,
    /// Read availability reports, outages and alert statistics (JSON, CSV, charts): the
    /// matrix's "monitoring: unavailability, statistics, reports" — operators and managers.
    ViewReports,
    /// Enter and remove manual outages (an outage no alert saw: a power cut reported by
    /// phone, planned work that overran): "monitoring: unavailability" is both operators'
    /// and managers' line, and the reports they read are only right if they can correct them.
    RecordOutages,
}

impl Permission {
    /// Every permission, for tests and help texts.
    pub const ALL: [Permission; 20] = [
        Permission::ViewEvents,
        Permission::ViewAlerts,
        Permission::ActOnAlerts,
        Permission::ViewMaintenance,
        Permission::ChangeMaintenance,
        Permission::ViewLogins,
        Permission::ManageUsers,
        Permission::ReadApiDocs,
        Permission::ViewSystem,
        Permission::ViewEquipment,
        Permission::EditEquipment,
        Permission::AdministerEquipment,
        Permission::ViewOncall,
        Permission::EditOncall,
        Permission::ViewNotifications,
        Permission::FollowIncidents,
        Permission::ResolveIncidents,
        Permission::ManageIncidents,
        Permission::ViewReports,
        Permission::RecordOutages,
    ];

    /// Whether `role` has this permission (the table in the module doc).
    pub fn allows(self, role: Role) -> bool {
        // One row per permission, as in the origin design's matrix; the columns are
        // operator, manager, oncall, admin, viewer.
        let row = match self {
            Permission::ViewEvents => [true, true, false, false, false],
            Permission::ViewAlerts => [true, true, false, false, false],
            Permission::ActOnAlerts => [true, false, false, false, false],
            Permission::ViewMaintenance => [true, true, false, true, false],
            Permission::ChangeMaintenance => [true, false, false, true, false],
            Permission::ViewLogins => [false, false, false, true, false],
            Permission::ManageUsers => [false, false, false, true, false],
            Permission::ReadApiDocs => [true, true, true, true, true],
            Permission::ViewSystem => [true, true, true, true, true],
            Permission::ViewEquipment => [true, true, false, false, false],
            Permission::EditEquipment => [true, true, false, false, false],
            Permission::AdministerEquipment => [false, true, false, false, false],
            Permission::ViewOncall => [true, true, true, true, true],
            Permission::EditOncall => [false, false, false, true, false],
            Permission::ViewNotifications => [true, false, false, true, false],
            Permission::FollowIncidents => [true, true, true, false, true],
            Permission::ResolveIncidents => [true, true, true, false, false],
            Permission::ManageIncidents => [true, false, false, false, false],
            Permission::ViewReports => [true, true, false, false, false],
            Permission::RecordOutages => [true, true, false, false, false],
        };
        // Exhaustive: a new role is a compile error here, not a silent refusal.
        let column = match role {
            Role::Operator => 0,
            Role::Manager => 1,
            Role::Oncall => 2,
            Role::Admin => 3,
            Role::Viewer => 4,
        };
        row[column]
    }
}

/// Whether `user` may change `incident` (qualify it, add resolution lines), on top of the
/// route's permission: operators every incident; on-call people those transferred to them
/// (its assignees); managers those of their categories ([`User::categories`]); anybody the
/// incidents they opened. The origin design's "who may edit".
pub fn may_edit_incident(user: &User, incident: &Incident) -> bool {
    match user.role {
        Role::Operator => true,
        Role::Admin => false,
        _ if incident.opened_by == user.name => true,
        Role::Oncall => incident.assignees.contains(&user.name),
        Role::Manager => user.categories.contains(&incident.category),
        Role::Viewer => false,
    }
}

/// Every `/api/v1` route: method, route template (as axum's `MatchedPath` gives it) and the
/// permission it needs. `HEAD` is checked as `GET`.
pub const ENDPOINTS: &[(&str, &str, Permission)] = &[
    ("GET", "/api/v1/events", Permission::ViewEvents),
    ("GET", "/api/v1/events/{id}", Permission::ViewEvents),
    ("GET", "/api/v1/alerts", Permission::ViewAlerts),
    ("GET", "/api/v1/alerts/{id}", Permission::ViewAlerts),
    ("GET", "/api/v1/alerts/stream", Permission::ViewAlerts),
    (
        "POST",
        "/api/v1/alerts/{id}/{action}",
        Permission::ActOnAlerts,
    ),
    (
        "POST",
        "/api/v1/alerts/bulk/{action}",
        Permission::ActOnAlerts,
    ),
    ("GET", "/api/v1/maintenance", Permission::ViewMaintenance),
    ("POST", "/api/v1/maintenance", Permission::ChangeMaintenance),
    (
        "DELETE",
        "/api/v1/maintenance",
        Permission::ChangeMaintenance,
    ),
    (
        "DELETE",
        "/api/v1/maintenance/{id}",
        Permission::ChangeMaintenance,
    ),
    ("GET", "/api/v1/logins", Permission::ViewLogins),
    ("GET", "/api/v1/users", Permission::ManageUsers),
    ("POST", "/api/v1/users", Permission::ManageUsers),
    ("PATCH", "/api/v1/users/{name}", Permission::ManageUsers),
    ("DELETE", "/api/v1/users/{name}", Permission::ManageUsers),
    ("GET", "/api/v1/openapi.json", Permission::ReadApiDocs),
    ("GET", "/api/v1/system", Permission::ViewSystem),
    ("GET", "/api/v1/hosts", Permission::ViewEquipment),
    ("GET", "/api/v1/hosts/{host}", Permission::ViewEquipment),
    ("PATCH", "/api/v1/hosts/{host}", Permission::EditEquipment),
    (
        "DELETE",
        "/api/v1/hosts/{host}",
        Permission::AdministerEquipment,
    ),
    (
        "GET",
        "/api/v1/hosts/{host}/timeline",
        Permission::ViewEquipment,
    ),
    ("GET", "/api/v1/oncall", Permission::ViewOncall),
    ("PUT", "/api/v1/oncall", Permission::EditOncall),
    (
        "GET",
        "/api/v1/notifications",
        Permission::ViewNotifications,
    ),
    ("GET", "/api/v1/incidents", Permission::FollowIncidents),
    ("POST", "/api/v1/incidents", Permission::FollowIncidents),
    (
        "GET",
        "/api/v1/incidents/export",
        Permission::FollowIncidents,
    ),
    ("GET", "/api/v1/incidents/{id}", Permission::FollowIncidents),
    (
        "PATCH",
        "/api/v1/incidents/{id}",
        Permission::FollowIncidents,
    ),
    (
        "GET",
        "/api/v1/incidents/{id}/related",
        Permission::FollowIncidents,
    ),
    (
        "GET",
        "/api/v1/incidents/{id}/pdf",
        Permission::FollowIncidents,
    ),
    (
        "POST",
        "/api/v1/incidents/{id}/resolve",
        Permission::ResolveIncidents,
    ),
    (
        "POST",
        "/api/v1/incidents/{id}/transfer",
        Permission::ManageIncidents,
    ),
    (
        "POST",
        "/api/v1/incidents/{id}/close",
        Permission::ManageIncidents,
    ),
    (
        "GET",
        "/api/v1/reports/availability",
        Permission::ViewReports,
    ),
    (
        "GET",
        "/api/v1/reports/availability.svg",
        Permission::ViewReports,
    ),
    ("GET", "/api/v1/reports/summary", Permission::ViewReports),
    (
        "GET",
        "/api/v1/reports/summary.svg",
        Permission::ViewReports,
    ),
    ("GET", "/api/v1/outages", Permission::ViewReports),
    ("POST", "/api/v1/outages", Permission::RecordOutages),
    ("DELETE", "/api/v1/outages/{id}", Permission::RecordOutages),
];

/// The permission a request to `route` (a route template) with `method` needs; `None` for a
/// route missing from [`ENDPOINTS`] (refused by the caller).
pub fn permission_for(method: &Method, route: &str) -> Option<Permission> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ENDPOINTS
        .iter()
        .find(|(m, path, _)| *m == method && *path == route)
        .map(|(_, _, permission)| *permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_follows_the_origin_design() {
        let who = |p: Permission| -> Vec<&str> {
            Role::ALL
                .into_iter()
                .filter(|r| p.allows(*r))
                .map(Role::as_str)
                .collect()
        };
        assert_eq!(who(Permission::ViewEvents), ["operator", "manager"]);
        assert_eq!(who(Permission::ViewAlerts), ["operator", "manager"]);
        assert_eq!(who(Permission::ActOnAlerts), ["operator"]);
        assert_eq!(
            who(Permission::ViewMaintenance),
            ["operator", "manager", "admin"]
        );
        assert_eq!(who(Permission::ChangeMaintenance), ["operator", "admin"]);
        assert_eq!(who(Permission::ViewLogins), ["admin"]);
        assert_eq!(who(Permission::ManageUsers), ["admin"]);
        assert_eq!(who(Permission::ViewEquipment), ["operator", "manager"]);
        assert_eq!(who(Permission::EditEquipment), ["operator", "manager"]);
        assert_eq!(who(Permission::AdministerEquipment), ["manager"]);
        assert_eq!(who(Permission::ViewOncall).len(), 5);
        assert_eq!(who(Permission::EditOncall), ["admin"]);
        assert_eq!(who(Permission::ViewNotifications), ["operator", "admin"]);
        assert_eq!(who(Permission::ViewReports), ["operator", "manager"]);
        assert_eq!(who(Permission::RecordOutages), ["operator", "manager"]);
        assert_eq!(
            who(Permission::FollowIncidents),
            ["operator", "manager", "oncall", "viewer"]
        );
        assert_eq!(
            who(Permission::ResolveIncidents),
            ["operator", "manager", "oncall"]
        );
        assert_eq!(who(Permission::ManageIncidents), ["operator"]);
    }

    #[test]
    fn who_may_edit_an_incident() {
        let incident = crate::incidents::lifecycle::open(
            &crate::incidents::NewIncident {
                title: "t".into(),
                description: String::new(),
                category: Some("network".into()),
                severity: None,
                source: crate::incidents::Source::Contact,
                alert_ids: Vec::new(),
                host: None,
                occurred_at_ns: None,
                followers: vec!["fred".into()],
            },
            1,
            "2026/NETWORK/1".into(),
            "vera",
            0,
        )
        .unwrap();
        let mut assigned = incident.clone();
        assigned.assignees = vec!["otto".into()];
        let user = |name: &str, role: Role, categories: &[&str]| User {
            name: name.into(),
            role,
            password_hash: String::new(),
            email: None,
            created_at: String::new(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
        };
        let cases = [
            (user("olga", Role::Operator, &[]), &incident, true),
            (user("otto", Role::Oncall, &[]), &incident, false),
            (user("otto", Role::Oncall, &[]), &assigned, true),
            (user("mia", Role::Manager, &["backup"]), &incident, false),
            (user("mia", Role::Manager, &["network"]), &incident, true),
            (user("vera", Role::Viewer, &[]), &incident, true),
            (user("fred", Role::Viewer, &[]), &incident, false),
            (user("vera", Role::Admin, &[]), &incident, false),
        ];
        for (user, incident, expected) in cases {
            assert_eq!(
                may_edit_incident(&user, incident),
                expected,
                "{} ({:?})",
                user.name,
                user.role
            );
        }
    }

    #[test]
    fn routes_are_looked_up_by_method_and_template() {
        assert_eq!(
            permission_for(&Method::HEAD, "/api/v1/events"),
            Some(Permission::ViewEvents)
        );
        assert_eq!(
            permission_for(&Method::POST, "/api/v1/maintenance"),
            Some(Permission::ChangeMaintenance)
        );
        assert_eq!(permission_for(&Method::PUT, "/api/v1/maintenance"), None);
        assert_eq!(permission_for(&Method::GET, "/api/v1/nothing"), None);
        // Every permission is used by some route.
        for p in Permission::ALL {
            assert!(ENDPOINTS.iter().any(|(_, _, q)| *q == p), "{p:?} unused");
        }
    }
}
