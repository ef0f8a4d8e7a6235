//! The on-call schedule (the origin design's "astreinte"): who is told of an alert, in which
//! order, and when the next person is told.
//!
//! A [`Schedule`] is a list of [`Shift`]s (user, start, end, rank — rank 1 is told first) and of
//! weekly (or any period) [`Rotation`]s, which are shifts written once: "alice, bob, carol take
//! turns at rank 1, a week each, from Monday 08:00". [`Schedule::on_call`] answers "who holds
//! rank R at time T" by looking at both, so a rotation is never expanded into thousands of
//! stored shifts. `escalate_after` is how long a rank has to acknowledge before the next rank
//! is told (see `notify::router`).
//!
//! The schedule is one JSON record (`oncall/schedule`) in the contract's API form
//! (`GET|PUT /api/v1/oncall`): the API, the console page and the notifier read the same thing.
//! This module knows no HTTP and no sled type.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::format_ns;
use crate::rules::parse_instant;
use crate::store::{RecordTree, Store, StoreError};

/// Most shifts a schedule may hold (a year of daily shifts at 2 ranks fits).
pub const MAX_SHIFTS: usize = 2000;
/// Most rotations a schedule may hold.
pub const MAX_ROTATIONS: usize = 50;
/// Highest rank: escalation never goes further than this.
pub const MAX_RANK: u8 = 10;
/// Most users in one rotation.
pub const MAX_ROTATION_USERS: usize = 100;
/// `escalate_after` when the schedule does not say.
pub const DEFAULT_ESCALATE_AFTER: Duration = Duration::from_secs(600);

/// One shift as the contract writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftJson {
    pub user: String,
    /// RFC 3339.
    pub start: String,
    /// RFC 3339, after `start`.
    pub end: String,
    /// 1 is told first.
    pub rank: u8,
}

/// A rotation as the API writes it: `users` take turns, each for `every`, from `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationJson {
    pub users: Vec<String>,
    /// RFC 3339: when the first user's turn begins.
    pub start: String,
    /// Length of one turn, e.g. `"7d"` (weekly), `"1d"`, `"12h"`.
    #[serde(default = "default_every")]
    pub every: String,
    /// Optional RFC 3339 end of the rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub rank: u8,
}

fn default_every() -> String {
    "7d".into()
}

/// Body of `GET|PUT /api/v1/oncall` (the contract's form plus `rotations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleJson {
    #[serde(default)]
    pub shifts: Vec<ShiftJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<RotationJson>,
    /// e.g. `"10m"`; absent means 10 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<String>,
}

/// A validated shift (times in Unix nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub user: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub rank: u8,
}

/// A validated rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub users: Vec<String>,
    pub start_ns: i64,
    pub every_ns: i64,
    pub until_ns: Option<i64>,
    pub rank: u8,
}

/// The validated schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub shifts: Vec<Shift>,
    pub rotations: Vec<Rotation>,
    pub escalate_after: Duration,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            shifts: Vec::new(),
            rotations: Vec::new(),
            escalate_after: DEFAULT_ESCALATE_AFTER,
        }
    }
}

/// Why a schedule was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who holds one rank now, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCallNow {
    pub rank: u8,
    pub users: Vec<String>,
    /// When the earliest of their turns ends (RFC 3339).
    pub until: Option<String>,
}

/// The next turn that begins at one rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCallNext {
    pub rank: u8,
    pub user: String,
    pub start: String,
    pub end: String,
}

/// A turn of one user at one rank (from a shift or a rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Turn<'a> {
    user: &'a str,
    start_ns: i64,
    end_ns: i64,
    rank: u8,
}

impl ScheduleJson {
    /// Validates the API form. `known_user` says whether a user name exists.
    pub fn validate(&self, known_user: impl Fn(&str) -> bool) -> Result<Schedule, ScheduleError> {
        let invalid = |m: String| ScheduleError::Invalid(m);
        if self.shifts.len() > MAX_SHIFTS {
            return Err(invalid(format!("at most {MAX_SHIFTS} shifts")));
        }
        if self.rotations.len() > MAX_ROTATIONS {
            return Err(invalid(format!("at most {MAX_ROTATIONS} rotations")));
        }
        let rank = |what: &str, rank: u8| {
            if (1..=MAX_RANK).contains(&rank) {
                Ok(rank)
            } else {
                Err(invalid(format!("{what}: rank must be 1 to {MAX_RANK}")))
            }
        };
        let user = |what: &str, name: &str| {
            if known_user(name) {
                Ok(name.to_string())
            } else {
                Err(invalid(format!("{what}: no user {name:?}")))
            }
        };
        let mut shifts = Vec::with_capacity(self.shifts.len());
        for (i, s) in self.shifts.iter().enumerate() {
            let what = format!("shifts[{i}]");
            let start_ns =
                parse_instant(&s.start).map_err(|e| invalid(format!("{what}.start: {e}")))?;
            let end_ns = parse_instant(&s.end).map_err(|e| invalid(format!("{what}.end: {e}")))?;
            if end_ns <= start_ns {
                return Err(invalid(format!("{what}: end must be after start")));
            }
            shifts.push(Shift {
                user: user(&what, &s.user)?,
                start_ns,
                end_ns,
                rank: rank(&what, s.rank)?,
            });
        }
        let mut rotations = Vec::with_capacity(self.rotations.len());
        for (i, r) in self.rotations.iter().enumerate() {
            let what = format!("rotations[{i}]");
            if r.users.is_empty() || r.users.len() > MAX_ROTATION_USERS {
                return Err(invalid(format!(
                    "{what}: users must list 1 to {MAX_ROTATION_USERS} users"
                )));
            }
            let users = r
                .users
                .iter()
                .map(|u| user(&what, u))
                .collect::<Result<Vec<_>, _>>()?;
            let start_ns =
                parse_instant(&r.start).map_err(|e| invalid(format!("{what}.start: {e}")))?;
            let every = crate::config::parse_duration(&r.every)
                .map_err(|e| invalid(format!("{what}.every: {e}")))?;
            if every < Duration::from_secs(60) {
                return Err(invalid(format!("{what}.every: at least 1m")));
            }
            let until_ns = r
                .until
                .as_deref()
                .map(|t| parse_instant(t).map_err(|e| invalid(format!("{what}.until: {e}"))))
                .transpose()?;
            if until_ns.is_some_and(|u| u <= start_ns) {
                return Err(invalid(format!("{what}: until must be after start")));
            }
            rotations.push(Rotation {
                users,
                start_ns,
                every_ns: i64::try_from(every.as_nanos()).unwrap_or(i64::MAX),
                until_ns,
                rank: rank(&what, r.rank)?,
            });
        }
        let escalate_after = match &self.escalate_after {
            Some(text) => {
                let d = crate::config::parse_duration(text)
                    .map_err(|e| invalid(format!("escalate_after: {e}")))?;
                if d.is_zero() {
                    return Err(invalid("escalate_after: must be greater than zero".into()));
                }
                d
            }
            None => DEFAULT_ESCALATE_AFTER,
        };
        Ok(Schedule {
            shifts,
            rotations,
            escalate_after,
        })
    }
}

impl Rotation {
    /// The turn running at `at_ns`, if the rotation is running then.
    fn turn_at(&self, at_ns: i64) -> Option<Turn<'_>> {
        if at_ns < self.start_ns || self.until_ns.is_some_and(|u| at_ns >= u) {
            return None;
        }
        let n = (at_ns - self.start_ns) / self.every_ns;
        self.turn(n)
    }

    /// Turn number `n` (0 is the first), cut at `until`.
    fn turn(&self, n: i64) -> Option<Turn<'_>> {
        let start_ns = self.start_ns.checked_add(n.checked_mul(self.every_ns)?)?;
        let mut end_ns = start_ns.checked_add(self.every_ns)?;
        if let Some(until) = self.until_ns {
            if start_ns >= until {
                return None;
            }
            end_ns = end_ns.min(until);
        }
        let user = &self.users[usize::try_from(n).ok()? % self.users.len()];
        Some(Turn {
            user,
            start_ns,
            end_ns,
            rank: self.rank,
        })
    }

    /// The first turn that starts after `at_ns`.
    fn next_turn(&self, at_ns: i64) -> Option<Turn<'_>> {
        let n = if at_ns < self.start_ns {
            0
        } else {
            (at_ns - self.start_ns) / self.every_ns + 1
        };
        self.turn(n)
    }
}

impl Schedule {
    /// Every turn running at `at_ns`.
    fn turns_at(&self, at_ns: i64) -> impl Iterator<Item = Turn<'_>> {
        let shifts = self
            .shifts
            .iter()
            .filter(move |s| (s.start_ns..s.end_ns).contains(&at_ns))
            .map(|s| Turn {
                user: &s.user,
                start_ns: s.start_ns,
                end_ns: s.end_ns,
                rank: s.rank,
            });
        shifts.chain(self.rotations.iter().filter_map(move |r| r.turn_at(at_ns)))
    }

    /// The users holding `rank` at `at_ns` (sorted, without duplicates).
    pub fn on_call(&self, rank: u8, at_ns: i64) -> Vec<String> {
        let mut users: Vec<String> = self
            .turns_at(at_ns)
            .filter(|t| t.rank == rank)
            .map(|t| t.user.to_string())
            .collect();
        users.sort();
        users.dedup();
        users
    }

    /// The lowest rank above `rank` that somebody holds at `at_ns` (escalation skips empty
    /// ranks rather than stopping at them).
    pub fn next_rank_above(&self, rank: u8, at_ns: i64) -> Option<u8> {
        self.turns_at(at_ns)
            .map(|t| t.rank)
            .filter(|r| *r > rank)
            .min()
    }

    /// Who is on call at `at_ns`, rank by rank.
    pub fn now(&self, at_ns: i64) -> Vec<OnCallNow> {
        let mut ranks: Vec<u8> = self.turns_at(at_ns).map(|t| t.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        ranks
            .into_iter()
            .map(|rank| {
                let until = self
                    .turns_at(at_ns)
                    .filter(|t| t.rank == rank)
                    .map(|t| t.end_ns)
                    .min();
                OnCallNow {
                    rank,
                    users: self.on_call(rank, at_ns),
                    until: until.map(format_ns),
                }
            })
            .collect()
    }

    /// The next turn to begin after `at_ns` at each rank.
    pub fn next(&self, at_ns: i64) -> Vec<OnCallNext> {
        let shifts = self
            .shifts
            .iter()
            .filter(|s| s.start_ns > at_ns)
            .map(|s| Turn {
                user: &s.user,
                start_ns: s.start_ns,
                end_ns: s.end_ns,
                rank: s.rank,
            });
        let rotations = self.rotations.iter().filter_map(|r| r.next_turn(at_ns));
        let mut best: std::collections::BTreeMap<u8, Turn<'_>> = Default::default();
        for turn in shifts.chain(rotations) {
            let entry = best.entry(turn.rank).or_insert_with(|| turn.clone());
            if turn.start_ns < entry.start_ns {
                *entry = turn;
            }
        }
        best.into_values()
            .map(|t| OnCallNext {
                rank: t.rank,
                user: t.user.to_string(),
                start: format_ns(t.start_ns),
                end: format_ns(t.end_ns),
            })
            .collect()
    }
}

/// Where the schedule is kept: one record in the tree `oncall`.
#[derive(Clone)]
pub struct ScheduleStore {
    tree: RecordTree,
}

const SCHEDULE_KEY: &str = "schedule";

impl ScheduleStore {
    pub fn open(store: &Store) -> Result<ScheduleStore, StoreError> {
        Ok(ScheduleStore {
            tree: store.records("oncall")?,
        })
    }

    /// The schedule as last saved (empty if none was).
    pub fn load_json(&self) -> Result<ScheduleJson, StoreError> {
        Ok(self
            .tree
            .get(SCHEDULE_KEY)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    /// The saved schedule, validated (users are not checked again: a user removed since is
    /// simply told nothing).
    pub fn load(&self) -> Result<Schedule, StoreError> {
        let json = self.load_json()?;
        Ok(json.validate(|_| true).unwrap_or_else(|error| {
            tracing::warn!(%error, "The stored on-call schedule is invalid; using an empty one.");
            Schedule::default()
        }))
    }

    /// Replaces the schedule (already validated by the caller).
    pub fn save(&self, json: &ScheduleJson) -> Result<(), StoreError> {
        self.tree
            .put(SCHEDULE_KEY, &serde_json::to_vec(json).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;
    /// 2026-01-05T00:00:00Z, a Monday.
    const T0: i64 = 1_767_571_200_000_000_000;

    fn at(hours: i64) -> String {
        format_ns(T0 + hours * H)
    }

    #[test]
    fn shifts_and_weekly_rotations_answer_who_is_on_call() {
        let json = ScheduleJson {
            shifts: vec![ShiftJson {
                user: "dave".into(),
                start: at(0),
                end: at(12),
                rank: 2,
            }],
            rotations: vec![RotationJson {
                users: vec!["alice".into(), "bob".into()],
                start: at(8),
                every: "7d".into(),
                until: None,
                rank: 1,
            }],
            escalate_after: Some("5m".into()),
        };
        let s = json.validate(|_| true).unwrap();
        assert_eq!(s.escalate_after, Duration::from_secs(300));
        assert!(s.on_call(1, T0 + 7 * H).is_empty());
        assert_eq!(s.on_call(1, T0 + 8 * H), ["alice"]);
        assert_eq!(s.on_call(1, T0 + (8 + 7 * 24) * H), ["bob"]);
        assert_eq!(s.on_call(1, T0 + (8 + 14 * 24) * H), ["alice"]);
        assert_eq!(s.on_call(2, T0 + 9 * H), ["dave"]);
        assert_eq!(s.next_rank_above(1, T0 + 9 * H), Some(2));
        assert_eq!(s.next_rank_above(1, T0 + 13 * H), None);
        let now = s.now(T0 + 9 * H);
        assert_eq!(now.len(), 2);
        assert_eq!(now[0].users, ["alice"]);
        assert_eq!(now[1].until.as_deref(), Some(at(12).as_str()));
        let next = s.next(T0 + 9 * H);
        assert_eq!(next[0].user, "bob");
        assert_eq!(next[0].start, at(8 + 7 * 24));
    }

    #[test]
    fn bad_schedules_are_refused_with_the_place() {
        let bad = |json: ScheduleJson| json.validate(|u| u != "ghost").unwrap_err().to_string();
        let shift = |user: &str, start: String, end: String, rank: u8| ShiftJson {
            user: user.into(),
            start,
            end,
            rank,
        };
        assert!(
            bad(ScheduleJson {
                shifts: vec![shift("a", at(2), at(1), 1)],
                ..Default::default()
            })
            .contains("shifts[0]: end must be after start")
        );
        assert!(
            bad(ScheduleJson {
                shifts: vec![shift("ghost", at(0), at(1), 1)],
                ..Default::default()
            })
            .contains("no user \"ghost\"")
        );
        assert!(
            bad(ScheduleJson {
                shifts: vec![shift("a", at(0), at(1), 0)],
                ..Default::default()
            })
            .contains("rank")
        );
        assert!(
            bad(ScheduleJson {
                escalate_after: Some("soon".into()),
                ..Default::default()
            })
            .contains("escalate_after")
        );
    }
}
