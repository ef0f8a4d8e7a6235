//! End-to-end tests: the real `trapline` binary on loopback, driven by real clients
//! (util-linux `logger`, rsyslog, raw sockets, `promtool`, HTTP). One module per feature.

mod backup;
mod browser;
mod cli;
mod crash;
mod deb;
mod equipment;
mod forward;
mod forwarders;
mod harness;
mod incidents;
mod lifecycle;
mod metrics;
mod notify;
mod overload;
mod reports;
mod rules;
mod sources;
mod syslog;
mod syslog_tls;
mod systemd;
mod tls;
mod traps;
mod web;
