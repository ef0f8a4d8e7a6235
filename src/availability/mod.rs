//! Unavailability and reports: when a host or one of its services was down, and what that
//! makes of its availability over a day, week, month, quarter, year or a custom range.
//!
//! - An **outage** ([`Outage`]) is a span of time a host was unavailable. It comes either
//!   from an alert of a rule with `availability = true` (the default pack's link-down pairs;
//!   every `expect` rule unless it says `availability = false`) — from when it was raised
//!   until it cleared or expired, or until an operator archived or deleted it while still
//!   active (see [`recorder::outage_span`]; an alert suppressed by a maintenance window is
//!   planned downtime and no outage) — or from a person ([`ManualOutage`], with who and why).
//! - A **service** is what the outage says was down: for an alert, its dedup key (the
//!   default pack's `{host}/if/{ifIndex}`, an expect rule's `rule|host`); for a manual entry,
//!   what was typed (`manual` by default). A host's availability is the union of its
//!   services' outages: one interface down makes the host count as (partly) down, by the
//!   rule author's choice of `availability = true`.
//! - [`OutageRecorder`] observes the alert engine and keeps the `outages` record tree in step,
//!   restarts included; [`OutageStore`] reads and writes it (manual entries too).
//! - `intervals` is the pure span arithmetic (merge, clip, measure; property-tested),
//!   `period` the calendar periods in the reports' time zone, `report` the figures
//!   (availability %, outages, downtime, MTTR) and CSV, `summary` alerts per level and
//!   category over time, `chart` the SVG pictures of both.
//!
//! No HTTP here (`web::reports` serves all this) and no sled types (`store` records).

pub mod chart;
pub mod intervals;
pub mod period;
pub mod record;
pub mod recorder;
pub mod report;
pub mod schedule;
pub mod summary;

pub use intervals::Span;
pub use period::Period;
pub use record::{ManualOutage, Origin, Outage, OutageJson, OutageStore};
pub use recorder::OutageRecorder;
pub use report::{AvailabilityReport, ReportScope};
pub use summary::AlertSummary;

use crate::store::StoreError;

/// Why an outage could not be recorded or removed.
#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    #[error("{0}")]
    Invalid(String),
    #[error("no such outage")]
    NotFound,
    #[error("outages derived from alerts end with their alert; only manual ones can be removed")]
    NotManual,
    #[error(transparent)]
    Store(#[from] StoreError),
}
