//! trapline: a syslog and SNMP-trap ingestion and alerting appliance.
//!
//! Data flows listen (bytes, peer) → decode → normalize (Event, level) → store, with `web` and
//! `metrics` reading what the pipeline did. `ARCHITECTURE.md` is the map; each module's own doc
//! comment says what it owns and what it deliberately does not do.

pub mod accounts; // users, roles, API tokens (argon2), no storage details
pub mod alerts; // alerts raised/folded/cleared from events, thresholds, expectations, maintenance
pub mod app; // wires the pipeline: threads, tasks, queues, shutdown
pub mod availability; // outages (from alerts and people) and availability reports, charts
pub mod backup; // trapline backup / restore / compact: whole data directories, online or offline
pub mod cli; // clap definitions of the command line
pub mod config; // TOML config + flags/env -> validated Settings
pub mod control; // DATA/control.sock: commands (backup) to the running appliance
pub mod decode; // pure bytes -> parsed syslog fields (no I/O)
pub mod equipment; // hosts seen (sightings, from the writer) and described (details, from people)
pub mod event; // the normalized Event every stage shares
pub mod forward; // relaying rule-selected events to upstream syslog servers through disk queues
pub mod incidents; // incident tickets: lifecycle, references, knowledge base, export, PDF, archive
pub mod ingest; // the bounded queue between listeners and the store writer
pub mod listen; // sockets only: UDP (batched), TCP (RFC 6587 framing), TLS (RFC 5425)
pub mod metrics; // every Prometheus metric, in one place
pub mod mib; // pure MIB parser and OID translator: SMI text -> names, syntaxes, enumerations
pub mod normalize; // parsed fields + peer + source settings -> Event with a level
pub mod notify; // notifications: routing, escalation, grouping, outbox, mail (lettre), webhooks
pub mod offline; // test-rules and replay: the rules and alerts in memory, time from the inputs
pub mod oncall; // the on-call schedule: shifts, rotations, who is on call now and next
pub mod pipeline; // the writer thread's stage: rules before storing, alerts after
pub mod rules; // rule files compiled into a RuleSet: conditions, templates, prefilter, reload
pub mod sd_notify; // READY=1 / STOPPING=1 to systemd (Type=notify)
pub mod snmp; // pure SNMP trap/inform engine: v1/v2c/v3 USM bytes -> DecodedTrap or Refusal (+ Response/Report)
pub mod store; // the only module that knows sled: event blocks, indexes, accounts, retention
pub mod tls; // certificates and keys of the TLS servers (web port, syslog), rustls on ring
pub mod web; // axum: health, metrics, JSON API, login and sessions, roles; the only module that knows HTTP
