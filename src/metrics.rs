//! Every Prometheus metric trapline exports, defined in one place.
//!
//! Names and labels are fixed by the contract; labels are always bounded sets (a listener name,
//! an event kind, a level, a drop reason), never a peer address. The metrics live in one
//! process-wide [`Metrics`] reached through [`metrics()`], so hot paths pay for a label lookup once
//! (they keep the returned counter handles) and nothing has to thread a registry around.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::event::{EventKind, Level};

/// The process-wide metric set.
pub struct Metrics {
    pub registry: Registry,
    /// `trapline_datagrams_received_total{listener}`: every datagram or TCP frame read.
    pub datagrams_received: IntCounterVec,
    /// `trapline_bytes_received_total{listener}`.
    pub bytes_received: IntCounterVec,
    /// `trapline_events_stored_total{kind,level}`: counted only once the event is durable.
    pub events_stored: IntCounterVec,
    /// `trapline_parse_errors_total{kind}`: inputs that did not parse (they are stored raw).
    pub parse_errors: IntCounterVec,
    /// `trapline_events_dropped_total{reason}`: anything received but not stored.
    pub events_dropped: IntCounterVec,
    /// `trapline_traps_refused_total{reason}`: SNMP notifications refused (community, USM).
    pub traps_refused: IntCounterVec,
    /// `trapline_alerts_raised_total{level}` (the rules issue raises alerts).
    pub alerts_raised: IntCounterVec,
    /// `trapline_alerts_open{level}` (gauge).
    pub alerts_open: IntGaugeVec,
    /// `trapline_rule_matches_total{rule}`.
    pub rule_matches: IntCounterVec,
    /// `trapline_rule_drops_total{rule}`: events a rule's `action = "drop"` kept out of the store.
    pub rule_drops: IntCounterVec,
    /// `trapline_rules_reload_total{outcome}` (success | error).
    pub rules_reload: IntCounterVec,
    /// `trapline_alerts_suppressed_total{reason}` (maintenance | inhibited): alerts recorded but
    /// never notified.
    pub alerts_suppressed: IntCounterVec,
    /// `trapline_alerts_overflow_total`: alerts folded into a rule's overflow alert because
    /// `max_active` alerts were already active.
    pub alerts_overflow: IntCounter,
    /// `trapline_equipment_overflow_total`: events from hosts the full equipment inventory
    /// could not take (the events are stored; the hosts are not inventoried).
    pub equipment_overflow: IntCounter,
    /// `trapline_notifications_total{channel,outcome}`: channel mail | webhook; outcome sent
    /// (delivered), retry (an attempt failed, another follows), failed (given up), dropped
    /// (outbox full), rate_limited (held back and grouped by a rate limit), no_recipient (an
    /// alert to notify found nobody to tell).
    pub notifications: IntCounterVec,
    /// `trapline_notify_outbox_pending`: notifications written and not yet delivered or given up.
    pub notify_outbox_pending: IntGauge,
    /// `trapline_notify_signals_dropped_total`: alert changes the notifier's inbox could not
    /// take (it then re-reads every active alert, so nothing is missed for long).
    pub notify_signals_dropped: IntCounter,
    /// `trapline_ingest_queue_depth`: events waiting between the listeners and the store writer.
    pub ingest_queue_depth: IntGauge,
    /// `trapline_ingest_latency_seconds`: socket read to durably stored.
    pub ingest_latency: Histogram,
    /// `trapline_tcp_connections_open`.
    pub tcp_connections_open: IntGauge,
    /// `trapline_tcp_connections_refused_total`: connections closed at once because
    /// `max_tcp_connections` were already open.
    pub tcp_connections_refused: IntCounter,
    /// `trapline_tcp_frames_oversized_total`: frames cut at the maximum frame size.
    pub tcp_frames_oversized: IntCounter,
    /// `trapline_tls_handshake_failures_total{listener}` (syslog-tls | http): TLS handshakes
    /// that failed or timed out (no or a bad client certificate, plain text to a TLS port).
    pub tls_handshake_failures: IntCounterVec,
    /// `trapline_udp_receive_buffer_bytes{listener}`: the SO_RCVBUF the kernel actually granted.
    pub udp_receive_buffer_bytes: IntGaugeVec,
    /// `trapline_udp_kernel_drops_total{listener}`: datagrams the kernel dropped on trapline's
    /// socket (full receive buffer) — sent, never read (see `listen::kernel_drops`).
    pub udp_kernel_drops: IntCounterVec,
    /// `trapline_udp_host_rcvbuf_errors_total`: the host's UDP RcvbufErrors since the start.
    pub udp_host_rcvbuf_errors: IntCounter,
    /// `trapline_store_blocks_written_total`, `trapline_store_flushes_total`.
    pub store_blocks_written: IntCounter,
    pub store_flushes: IntCounter,
    /// `trapline_store_flush_seconds`: how long one group-commit flush took.
    pub store_flush_seconds: Histogram,
    /// `trapline_store_size_bytes`: sled's size on disk, refreshed by retention.
    pub store_size_bytes: IntGauge,
    /// `trapline_retention_deleted_events_total{reason}` (age | size).
    pub retention_deleted_events: IntCounterVec,
    /// `trapline_http_requests_total{path,status}`; path is the route template, never the URI.
    pub http_requests: IntCounterVec,
    /// `trapline_forward_sent_total{forward}`: messages delivered to an upstream (TCP/TLS:
    /// acknowledged by its TCP; UDP: sent) and removed from the queue.
    pub forward_sent: IntCounterVec,
    /// `trapline_forward_queue_depth{forward}`: messages waiting in a forward's disk queue.
    pub forward_queue_depth: IntGaugeVec,
    /// `trapline_forward_queue_dropped_total{forward}`: messages dropped because the queue
    /// was full (oldest first) or could not be written.
    pub forward_queue_dropped: IntCounterVec,
    /// `trapline_forward_errors_total{forward}`: failed connection attempts and broken
    /// connections.
    pub forward_errors: IntCounterVec,
    /// `trapline_forward_up{forward}`: 1 while connected to the upstream (UDP: from a
    /// successful connect until a send fails).
    pub forward_up: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metric set.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric =
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let m = Metrics {
            datagrams_received: counter_vec(
                &r,
                "trapline_datagrams_received_total",
                "Datagrams or TCP frames read from a socket.",
                &["listener"],
            ),
            bytes_received: counter_vec(
                &r,
                "trapline_bytes_received_total",
                "Payload bytes read from a socket.",
                &["listener"],
            ),
            events_stored: counter_vec(
                &r,
                "trapline_events_stored_total",
                "Events durably written to the store.",
                &["kind", "level"],
            ),
            parse_errors: counter_vec(
                &r,
                "trapline_parse_errors_total",
                "Inputs that did not parse; they are stored raw.",
                &["kind"],
            ),
            events_dropped: counter_vec(
                &r,
                "trapline_events_dropped_total",
                "Inputs received but not stored, by reason.",
                &["reason"],
            ),
            traps_refused: counter_vec(
                &r,
                "trapline_traps_refused_total",
                "SNMP notifications refused by authentication checks, by reason.",
                &["reason"],
            ),
            alerts_raised: counter_vec(
                &r,
                "trapline_alerts_raised_total",
                "Alerts raised.",
                &["level"],
            ),
            alerts_open: gauge_vec(
                &r,
                "trapline_alerts_open",
                "Alerts currently open.",
                &["level"],
            ),
            rule_matches: counter_vec(
                &r,
                "trapline_rule_matches_total",
                "Events matched per rule.",
                &["rule"],
            ),
            rule_drops: counter_vec(
                &r,
                "trapline_rule_drops_total",
                "Events dropped by a rule (action = \"drop\"), per rule.",
                &["rule"],
            ),
            rules_reload: counter_vec(
                &r,
                "trapline_rules_reload_total",
                "Rule reloads, by outcome.",
                &["outcome"],
            ),
            alerts_suppressed: counter_vec(
                &r,
                "trapline_alerts_suppressed_total",
                "Alerts recorded as suppressed (maintenance window or inhibition).",
                &["reason"],
            ),
            alerts_overflow: counter(
                &r,
                "trapline_alerts_overflow_total",
                "Alerts folded into an overflow alert because too many alerts were active.",
            ),
            equipment_overflow: counter(
                &r,
                "trapline_equipment_overflow_total",
                "Events from new hosts not inventoried because the equipment inventory was full.",
            ),
            notifications: counter_vec(
                &r,
                "trapline_notifications_total",
                "Notification delivery attempts.",
                &["channel", "outcome"],
            ),
            notify_outbox_pending: gauge(
                &r,
                "trapline_notify_outbox_pending",
                "Notifications waiting for delivery (retries included).",
            ),
            notify_signals_dropped: counter(
                &r,
                "trapline_notify_signals_dropped_total",
                "Alert changes the notifier's inbox could not take (a full re-read follows).",
            ),
            ingest_queue_depth: gauge(
                &r,
                "trapline_ingest_queue_depth",
                "Events waiting between the listeners and the store writer.",
            ),
            ingest_latency: histogram(
                &r,
                "trapline_ingest_latency_seconds",
                "Time from socket read to durably stored.",
                vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            tcp_connections_open: gauge(
                &r,
                "trapline_tcp_connections_open",
                "Open syslog TCP connections (plain and TLS).",
            ),
            tcp_connections_refused: counter(
                &r,
                "trapline_tcp_connections_refused_total",
                "Syslog TCP connections (plain and TLS) closed at once because the connection limit was reached.",
            ),
            tcp_frames_oversized: counter(
                &r,
                "trapline_tcp_frames_oversized_total",
                "TCP frames longer than the maximum frame size (truncated).",
            ),
            tls_handshake_failures: counter_vec(
                &r,
                "trapline_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &["listener"],
            ),
            udp_receive_buffer_bytes: gauge_vec(
                &r,
                "trapline_udp_receive_buffer_bytes",
                "Effective SO_RCVBUF of a UDP listener.",
                &["listener"],
            ),
            udp_kernel_drops: counter_vec(
                &r,
                "trapline_udp_kernel_drops_total",
                "Datagrams the kernel dropped on a listener's socket before trapline read them (full receive buffer).",
                &["listener"],
            ),
            udp_host_rcvbuf_errors: counter(
                &r,
                "trapline_udp_host_rcvbuf_errors_total",
                "UDP datagrams dropped for a full receive buffer on the whole host (any socket) since trapline started.",
            ),
            store_blocks_written: counter(
                &r,
                "trapline_store_blocks_written_total",
                "Event blocks written.",
            ),
            store_flushes: counter(
                &r,
                "trapline_store_flushes_total",
                "Group-commit flushes of the store.",
            ),
            store_flush_seconds: histogram(
                &r,
                "trapline_store_flush_seconds",
                "Duration of one store flush.",
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ],
            ),
            store_size_bytes: gauge(
                &r,
                "trapline_store_size_bytes",
                "Size of the store on disk.",
            ),
            retention_deleted_events: counter_vec(
                &r,
                "trapline_retention_deleted_events_total",
                "Events removed by retention.",
                &["reason"],
            ),
            http_requests: counter_vec(
                &r,
                "trapline_http_requests_total",
                "HTTP requests served.",
                &["path", "status"],
            ),
            forward_sent: counter_vec(
                &r,
                "trapline_forward_sent_total",
                "Messages delivered to an upstream syslog server and removed from its queue.",
                &["forward"],
            ),
            forward_queue_depth: gauge_vec(
                &r,
                "trapline_forward_queue_depth",
                "Messages waiting in a forward's queue on disk.",
                &["forward"],
            ),
            forward_queue_dropped: counter_vec(
                &r,
                "trapline_forward_queue_dropped_total",
                "Messages dropped from a forward's queue (full: oldest first) or not queued.",
                &["forward"],
            ),
            forward_errors: counter_vec(
                &r,
                "trapline_forward_errors_total",
                "Failed connection attempts and broken connections to an upstream.",
                &["forward"],
            ),
            forward_up: gauge_vec(
                &r,
                "trapline_forward_up",
                "1 while connected to the upstream syslog server, else 0.",
                &["forward"],
            ),
            registry: r,
        };
        m.precreate_series();
        m
    }

    /// Creates the label combinations operators alert on, so they read 0 rather than being absent.
    fn precreate_series(&self) {
        for kind in EventKind::ALL {
            self.parse_errors.with_label_values(&[kind.as_str()]);
            for level in Level::ALL {
                self.events_stored
                    .with_label_values(&[kind.as_str(), level.as_str()]);
            }
        }
        for reason in [
            "bad_community",
            "unknown_user",
            "wrong_digest",
            "not_in_time_window",
        ] {
            self.traps_refused.with_label_values(&[reason]);
        }
        for outcome in ["success", "error"] {
            self.rules_reload.with_label_values(&[outcome]);
        }
        for reason in ["maintenance", "inhibited"] {
            self.alerts_suppressed.with_label_values(&[reason]);
        }
        for channel in ["mail", "webhook"] {
            for outcome in [
                "sent",
                "retry",
                "failed",
                "dropped",
                "rate_limited",
                "no_recipient",
            ] {
                self.notifications.with_label_values(&[channel, outcome]);
            }
        }
        for listener in ["syslog-tls", "http"] {
            self.tls_handshake_failures.with_label_values(&[listener]);
        }
        for reason in ["queue_full", "store_error"] {
            self.events_dropped.with_label_values(&[reason]);
        }
        for level in Level::ALL.iter().filter(|l| **l != Level::None) {
            self.alerts_raised.with_label_values(&[level.as_str()]);
            self.alerts_open.with_label_values(&[level.as_str()]);
        }
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "Failed to encode metrics.");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;
