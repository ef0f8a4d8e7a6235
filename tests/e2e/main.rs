//! End-to-end tests: the real `trapline` binary on loopback, driven by real clients
//! (util-linux `logger`, raw sockets, `promtool`, HTTP). One module per feature.

mod browser;
mod cli;
mod equipment;
mod forward;
mod harness;
mod incidents;
mod lifecycle;
mod metrics;
mod notify;
mod reports;
mod rules;
mod sources;
mod syslog;
mod systemd;
mod tls;
mod traps;
mod web;
