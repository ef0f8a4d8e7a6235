//! Configuration: the TOML file (or the embedded default), overlaid by flags and environment
//! variables, validated into [`Settings`].
//!
//! `ConfigFile` mirrors the file exactly (serde, `deny_unknown_fields`, so a typo is an error
//! with its line and column); [`Settings`] is what the rest of the program uses: parsed
//! addresses, durations and sizes, and the per-source table. This module reads files but opens
//! no sockets and touches no store.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// The configuration `trapline run` uses when no `--config` is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// A configuration problem, reported as `file:line:col: message` where a position is known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Syntax {
        path: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The config file as written. Every key is optional; missing ones take the embedded defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Directory of the store (sled) and the first-start admin password file.
    pub data: Option<PathBuf>,
    /// Directory of `*.toml` rule files; absent = the rule pack built into the binary.
    pub rules: Option<PathBuf>,
    /// Directories searched for MIB modules (used by the trap decoder).
    #[serde(default)]
    pub mib_dirs: Vec<PathBuf>,
    #[serde(default)]
    pub listen: ListenSection,
    #[serde(default)]
    pub retention: RetentionSection,
    #[serde(default)]
    pub ingest: IngestSection,
    #[serde(default)]
    pub http: HttpSection,
    /// The syslog TLS listener's certificate and client authentication (`listen.syslog_tls`).
    pub syslog_tls: Option<SyslogTlsSection>,
    /// Per-sender settings, matched by the sender's address (longest prefix wins).
    #[serde(default)]
    pub source: Vec<SourceSection>,
    #[serde(default)]
    pub snmp: SnmpSection,
    pub smtp: Option<SmtpSection>,
    #[serde(default)]
    pub notify: NotifySection,
    #[serde(default)]
    pub reports: ReportsSection,
    /// Upstream syslog servers rules can relay events to (`forward = ["NAME"]` in a rule).
    #[serde(default)]
    pub forward: Vec<ForwardSection>,
}

/// `[listen]`: where each listener binds. An empty string disables that listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSection {
    pub syslog_udp: Option<String>,
    pub syslog_tcp: Option<String>,
    /// Syslog over TLS (RFC 5425); needs `[syslog_tls]` `cert` and `key`. Off by default.
    pub syslog_tls: Option<String>,
    pub trap_udp: Option<String>,
    pub http: Option<String>,
}

/// `[syslog_tls]`: the certificate of the syslog TLS listener and whether senders must show
/// one. Devices and relays (rsyslog, syslog-ng) authenticate the appliance by this certificate;
/// with `client_ca` the appliance can authenticate them in turn.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTlsSection {
    /// PEM certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert`.
    pub key: Option<PathBuf>,
    /// PEM bundle of the CA(s) that sign senders' certificates. A sender that presents a
    /// certificate must then present one signed by them.
    pub client_ca: Option<PathBuf>,
    /// Refuse senders without a certificate (needs `client_ca`); default false: a sender may
    /// connect anonymously.
    pub require_client_cert: Option<bool>,
}

/// `[retention]`: how long and how much to keep.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    /// Maximum event age, e.g. `"30d"`.
    pub events: Option<String>,
    /// Maximum store size, e.g. `"20GiB"`; oldest events go first.
    pub max_bytes: Option<String>,
    /// How long archived alerts are kept (used by the alerts issue).
    pub alerts_archived: Option<String>,
    /// How long closed incidents stay in the store before they move to
    /// `DATA/archive/incidents-YYYY.jsonl`, e.g. `"365d"` (knowledge-base entries stay).
    pub incidents_closed: Option<String>,
    /// How often retention runs, e.g. `"60s"`.
    pub interval: Option<String>,
}

/// `[ingest]`: queue and buffer sizes of the ingest path.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    /// Events that may wait between the listeners and the store writer before new ones are
    /// dropped (UDP) or the sender is slowed down (TCP).
    pub queue_events: Option<usize>,
    /// SO_RCVBUF requested for UDP sockets.
    pub udp_receive_buffer_bytes: Option<String>,
    /// Largest syslog datagram or TCP frame accepted; longer TCP frames are truncated.
    pub max_message_bytes: Option<String>,
    /// Concurrent TCP connections accepted; more are refused.
    pub max_tcp_connections: Option<usize>,
    /// Events per stored block.
    pub block_events: Option<usize>,
    /// Longest time an event waits in an unsealed block.
    pub block_max_age: Option<String>,
    /// Period of the group-commit flush.
    pub flush_interval: Option<String>,
    /// sled page-cache size.
    pub cache_bytes: Option<String>,
    /// Storm control: UDP messages per second accepted from one sending address (0: off);
    /// the excess is folded into one summary event per source and window.
    pub per_source_rate: Option<u32>,
    /// Burst a source may send above its rate (default: twice the rate).
    pub per_source_burst: Option<u32>,
    /// How often a rate-limited source's summary event is written, e.g. `"10s"`.
    pub storm_summary_interval: Option<String>,
}

/// `[http]`: web and API settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Require an API token for `/metrics` too.
    pub metrics_require_token: Option<bool>,
    /// PEM certificate chain (leaf first) for serving HTTPS on `listen.http`; needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

/// The certificate and key files of a TLS listener (`[http] tls_cert`/`tls_key`, `[syslog_tls]`
/// `cert`/`key`). Only the paths: `crate::tls` reads and checks the files, at start-up and on
/// SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The config keys the paths came from, so that every error names what the operator wrote.
    pub keys: TlsKeys,
}

/// The names of the two config keys of a [`TlsFiles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsKeys {
    pub cert: &'static str,
    pub key: &'static str,
}

impl TlsKeys {
    /// `[http] tls_cert`, `tls_key`.
    pub const HTTP: TlsKeys = TlsKeys {
        cert: "http.tls_cert",
        key: "http.tls_key",
    };
    /// `[syslog_tls] cert`, `key`.
    pub const SYSLOG: TlsKeys = TlsKeys {
        cert: "syslog_tls.cert",
        key: "syslog_tls.key",
    };
    /// `[[forward]] client_cert`, `client_key` (errors also name the forward).
    pub const FORWARD: TlsKeys = TlsKeys {
        cert: "client_cert",
        key: "client_key",
    };
}

/// The syslog TLS listener, validated: where it binds, its certificate, whose client
/// certificates it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTlsSettings {
    pub addr: SocketAddr,
    pub files: TlsFiles,
    /// PEM bundle of the CAs of senders' certificates; `None`: no client certificates asked for.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: a sender without a certificate is refused.
    pub require_client_cert: bool,
}

/// Which host name to believe for events from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrustHost {
    /// The host field of the message (falling back to the sender when it has none).
    #[default]
    Message,
    /// Always the sender's IP address (for relays and devices that send junk host names).
    Sender,
}

/// One `[[source]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// A name for operators (shown in logs).
    pub name: String,
    /// Sender networks this applies to, e.g. `["10.1.0.0/16", "2001:db8::/32"]`.
    pub networks: Vec<String>,
    /// IANA time zone assumed for timestamps that carry no offset, e.g. `"Europe/Paris"`.
    pub timezone: Option<String>,
    /// `"message"` (default) or `"sender"`.
    #[serde(default)]
    pub trust_host: TrustHost,
}

/// `[snmp]` as the contract fixes it (used by the trap issue).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpSection {
    #[serde(default)]
    pub communities: Vec<String>,
    #[serde(default)]
    pub users: Vec<SnmpUserSection>,
}

/// One `[[snmp.users]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpUserSection {
    pub name: String,
    pub engine_id: Option<String>,
    pub auth: Option<String>,
    pub auth_key: Option<String>,
    pub privacy: Option<String>,
    pub privacy_key: Option<String>,
}

/// `[smtp]` as the contract fixes it (used by the notifications issue).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub server: String,
    pub security: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: String,
    /// How long one delivery attempt may take (connect, TLS, the whole dialogue), e.g. `"10s"`.
    pub timeout: Option<String>,
    /// PEM certificate(s) of a CA to trust for the server's certificate, besides the system's
    /// (a company CA, or a relay's self-signed certificate).
    pub ca_file: Option<PathBuf>,
}

/// `[notify]`: how alerts become mails and webhook calls (see `notify`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// The console's address as people reach it, for links in mails, e.g.
    /// `"https://trapline.example.net"`.
    pub base_url: Option<String>,
    /// Alerts raised within this time of the first go out in one mail per recipient (`"10s"`).
    pub group_wait: Option<String>,
    /// An alert still open (not acknowledged) is mailed again this often (`"4h"`; `"0s"` never).
    pub repeat_interval: Option<String>,
    /// First retry delay after a failed delivery; doubles each time (`"10s"`).
    pub retry_initial: Option<String>,
    /// Longest delay between two retries (`"10m"`).
    pub retry_max: Option<String>,
    /// A notification not delivered within this time is given up and an alert says so (`"24h"`).
    pub give_up_after: Option<String>,
    /// Mails and webhook calls per minute, all recipients together (`120`).
    pub max_per_minute: Option<u32>,
    /// Mails (or calls) per recipient per hour (`30`); beyond, alerts wait and are grouped.
    pub max_per_recipient_per_hour: Option<u32>,
    /// Notifications waiting for delivery at most; beyond, new ones are dropped and counted.
    pub outbox_max: Option<usize>,
    /// Delivered and failed notifications kept for the log (newest).
    pub log_max: Option<usize>,
    /// Webhook receivers, named by rules as `webhook:NAME`.
    #[serde(default)]
    pub webhooks: Vec<WebhookSection>,
}

/// One `[[notify.webhooks]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    pub name: String,
    /// `http://` or `https://` URL the JSON is POSTed to.
    pub url: String,
    /// `"trapline"` (default) or `"alertmanager"` (Alertmanager's webhook payload, version 4).
    pub format: Option<String>,
    /// How long one call may take (`"10s"`).
    pub timeout: Option<String>,
}

/// One `[[forward]]` table: an upstream syslog server (a SIEM, a central relay) that rules
/// relay events to through a queue on disk (see `crate::forward`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardSection {
    /// Unique name: what rules list in `forward = [...]`, the `forward` label of the
    /// `trapline_forward_*` metrics and the name of the queue in the store.
    pub name: String,
    /// `"host:port"` of the upstream (`"[2001:db8::1]:6514"` for IPv6); a host name is
    /// resolved at every connection attempt.
    pub address: String,
    /// `"udp"`, `"tcp"` (RFC 6587 octet counting) or `"tls"` (RFC 5425).
    pub protocol: String,
    /// `"rfc5424"` (default) or `"rfc3164"`.
    pub format: Option<String>,
    /// PEM CA certificate(s) the upstream's certificate must chain to (`tls` only); without
    /// it the system's CA store is used. When given, only these CAs are trusted.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain (leaf first) trapline presents for mutual TLS; needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The name the upstream's certificate must carry, when it is not the host of `address`.
    pub server_name: Option<String>,
    /// Bound of the queue on disk (`"1GiB"`): when full, the oldest messages are dropped and
    /// counted in `trapline_forward_queue_dropped_total`.
    pub queue_max_bytes: Option<String>,
    /// Longest message sent; longer ones are cut (`"8KiB"` for UDP, `"64KiB"` for TCP/TLS).
    pub max_message_bytes: Option<String>,
    /// First reconnection delay after a failure; doubles each time (`"1s"`).
    pub retry_initial: Option<String>,
    /// Longest delay between two connection attempts (`"30s"`).
    pub retry_max: Option<String>,
}

/// How a forward reaches its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardProtocol {
    /// One datagram per message (RFC 5426); no delivery guarantee.
    Udp,
    /// TCP with octet-counting framing (RFC 6587 §3.4.1).
    Tcp,
    /// TLS with octet-counting framing (RFC 5425).
    Tls,
}

impl ForwardProtocol {
    /// Lower-case name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardProtocol::Udp => "udp",
            ForwardProtocol::Tcp => "tcp",
            ForwardProtocol::Tls => "tls",
        }
    }
}

/// The syslog format a forward writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFormat {
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`.
    Rfc5424,
    /// `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`, for receivers that know nothing else.
    Rfc3164,
}

/// The TLS side of a `protocol = "tls"` forward. Only paths and names: `crate::forward`
/// reads and checks the files (at start-up and in `check-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTls {
    /// CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The client certificate and key for mutual TLS.
    pub client: Option<TlsFiles>,
    /// The name checked against the upstream's certificate (`server_name`, else the host).
    pub server_name: String,
}

/// One `[[forward]]`, validated.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub protocol: ForwardProtocol,
    pub format: ForwardFormat,
    /// Set exactly when `protocol` is TLS.
    pub tls: Option<ForwardTls>,
    pub queue_max_bytes: u64,
    pub max_message_bytes: usize,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// At most this many `[[forward]]` tables: a rule's forward list is a 64-bit set.
pub const MAX_FORWARDS: usize = 64;

/// `host:port` with a port that is required (`[v6]:port` for IPv6 addresses).
fn parse_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.trim().rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| (host.to_string(), port))
}

fn build_forwards(sections: &[ForwardSection]) -> Result<Vec<ForwardSettings>, String> {
    if sections.len() > MAX_FORWARDS {
        return Err(format!("at most {MAX_FORWARDS} [[forward]] tables"));
    }
    let forwards = sections
        .iter()
        .map(build_forward)
        .collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = forwards.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("forward: the name {:?} is used twice", pair[0]));
    }
    Ok(forwards)
}

fn build_forward(section: &ForwardSection) -> Result<ForwardSettings, String> {
    let what = format!("forward {:?}", section.name);
    let name_ok = (1..=64).contains(&section.name.len())
        && section
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !name_ok {
        return Err(format!(
            "{what}: name must be 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'"
        ));
    }
    let (host, port) = parse_host_port(&section.address).ok_or_else(|| {
        format!(
            "{what}: address {:?} is not \"host:port\" (\"[v6 address]:port\" for IPv6)",
            section.address
        )
    })?;
    let protocol = match section.protocol.as_str() {
        "udp" => ForwardProtocol::Udp,
        "tcp" => ForwardProtocol::Tcp,
        "tls" => ForwardProtocol::Tls,
        other => return Err(format!("{what}: protocol {other:?} is not udp, tcp or tls")),
    };
    let format = match section.format.as_deref().unwrap_or("rfc5424") {
        "rfc5424" => ForwardFormat::Rfc5424,
        "rfc3164" => ForwardFormat::Rfc3164,
        other => {
            return Err(format!(
                "{what}: format {other:?} is not rfc5424 or rfc3164"
            ));
        }
    };
    let tls = build_forward_tls(section, &what, &host, protocol)?;
    let size = |key: &str, value: &Option<String>, fallback: &str| {
        parse_bytes(value.as_deref().unwrap_or(fallback)).map_err(|e| format!("{what}: {key}: {e}"))
    };
    let queue_max_bytes = size("queue_max_bytes", &section.queue_max_bytes, "1GiB")?;
    let (default_max, largest) = match protocol {
        // The largest UDP payload over IPv4.
        ForwardProtocol::Udp => ("8KiB", 65_507),
        ForwardProtocol::Tcp | ForwardProtocol::Tls => ("64KiB", 1 << 20),
    };
    let max_message_bytes = size("max_message_bytes", &section.max_message_bytes, default_max)?;
    if !(1024..=largest).contains(&max_message_bytes) {
        return Err(format!(
            "{what}: max_message_bytes must be between 1 KiB and {largest} B for {}",
            protocol.as_str()
        ));
    }
    if queue_max_bytes < 64 * 1024 || queue_max_bytes < 4 * max_message_bytes {
        return Err(format!(
            "{what}: queue_max_bytes must be at least 64 KiB and 4 times max_message_bytes"
        ));
    }
    let duration = |key: &str, value: &Option<String>, fallback: &str| {
        parse_duration(value.as_deref().unwrap_or(fallback))
            .map_err(|e| format!("{what}: {key}: {e}"))
    };
    let retry_initial = duration("retry_initial", &section.retry_initial, "1s")?;
    let retry_max = duration("retry_max", &section.retry_max, "30s")?;
    if retry_initial.is_zero() || retry_max < retry_initial {
        return Err(format!(
            "{what}: retry_initial must be > 0 and at most retry_max"
        ));
    }
    Ok(ForwardSettings {
        name: section.name.clone(),
        host,
        port,
        protocol,
        format,
        tls,
        queue_max_bytes,
        max_message_bytes: max_message_bytes as usize,
        retry_initial,
        retry_max,
    })
}

/// The TLS keys of a forward: only with `protocol = "tls"`, client certificate and key both
/// or neither.
fn build_forward_tls(
    section: &ForwardSection,
    what: &str,
    host: &str,
    protocol: ForwardProtocol,
) -> Result<Option<ForwardTls>, String> {
    let given = |path: &Option<PathBuf>| path.clone().filter(|p| !p.as_os_str().is_empty());
    let (ca_file, cert, key) = (
        given(&section.ca_file),
        given(&section.client_cert),
        given(&section.client_key),
    );
    let server_name = section.server_name.as_deref().map(str::trim);
    if protocol != ForwardProtocol::Tls {
        if ca_file.is_some() || cert.is_some() || key.is_some() || server_name.is_some() {
            return Err(format!(
                "{what}: ca_file, client_cert, client_key and server_name need protocol = \"tls\""
            ));
        }
        return Ok(None);
    }
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert,
            key,
            keys: TlsKeys::FORWARD,
        }),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{what}: client_cert and client_key go together: give both or neither"
            ));
        }
    };
    let server_name = match server_name {
        Some("") => return Err(format!("{what}: server_name is empty")),
        Some(name) => name.to_string(),
        None => host.to_string(),
    };
    Ok(Some(ForwardTls {
        ca_file,
        client,
        server_name,
    }))
}

/// The SMTP password, kept out of every `Debug` output and log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the SMTP connection is protected (`security` of `[smtp]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[smtp]` validated.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Read from `password_file` when the configuration is loaded.
    pub password: Option<Secret>,
    pub from: String,
    pub timeout: Duration,
    /// PEM text of `ca_file`, read when the configuration is loaded.
    pub ca_pem: Option<Vec<u8>>,
}

/// Format of a webhook's JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Trapline,
    Alertmanager,
}

/// One webhook receiver, validated.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    pub timeout: Duration,
}

/// `[reports]`: availability reports.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSection {
    /// The time zone periods are cut in (a day starts at local midnight), e.g.
    /// `"Europe/Paris"`; `"UTC"` by default.
    pub timezone: Option<String>,
    /// Periods whose availability report is mailed to every manager with an address once
    /// they end: any of `"day"`, `"week"`, `"month"`, `"quarter"`, `"year"`.
    pub mail: Option<Vec<String>>,
}

/// `[reports]` validated.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub timezone: chrono_tz::Tz,
    /// Periods mailed to managers when they end (`[reports] mail`).
    pub mail: Vec<crate::availability::Period>,
}

fn build_reports(reports: &ReportsSection) -> Result<ReportSettings, String> {
    let timezone = match &reports.timezone {
        Some(name) => parse_timezone(name).map_err(|e| format!("reports.timezone: {e}"))?,
        None => chrono_tz::UTC,
    };
    let mail = reports
        .mail
        .iter()
        .flatten()
        .map(|name| {
            crate::availability::Period::parse(name).ok_or_else(|| {
                format!("reports.mail: {name:?} is not one of day, week, month, quarter, year")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReportSettings { timezone, mail })
}

/// `[notify]` validated.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub base_url: String,
    pub group_wait: Duration,
    pub repeat_interval: Option<Duration>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub max_per_minute: u32,
    pub max_per_recipient_per_hour: u32,
    pub outbox_max: usize,
    pub log_max: usize,
    pub webhooks: Vec<WebhookSettings>,
}

/// Values given on the command line or in the environment; each wins over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data: Option<PathBuf>,
    pub syslog_udp: Option<String>,
    pub syslog_tcp: Option<String>,
    pub syslog_tls: Option<String>,
    pub trap_udp: Option<String>,
    pub http: Option<String>,
    pub rules: Option<PathBuf>,
}

/// Validated settings for `run`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub rules_dir: Option<PathBuf>,
    pub mib_dirs: Vec<PathBuf>,
    pub syslog_udp: Option<SocketAddr>,
    pub syslog_tcp: Option<SocketAddr>,
    /// Syslog over TLS when set (`listen.syslog_tls` with `[syslog_tls]`).
    pub syslog_tls: Option<SyslogTlsSettings>,
    pub trap_udp: Option<SocketAddr>,
    pub http: SocketAddr,
    /// HTTPS on the web port when set; plain HTTP otherwise.
    pub http_tls: Option<TlsFiles>,
    pub metrics_require_token: bool,
    pub retention: RetentionSettings,
    pub ingest: IngestSettings,
    pub sources: SourceTable,
    pub snmp: SnmpSection,
    pub smtp: Option<SmtpSettings>,
    pub notify: NotifySettings,
    pub reports: ReportSettings,
    /// `[[forward]]` upstreams, in file order (rules refer to them by name).
    pub forwards: Vec<ForwardSettings>,
}

/// Retention limits; `None` means unlimited.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    pub events_max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
    pub interval: Duration,
    /// Closed incidents older than this are archived to files; `None`: never.
    pub incidents_closed: Option<Duration>,
}

/// Sizes and periods of the ingest path.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub queue_events: usize,
    pub udp_receive_buffer_bytes: usize,
    pub max_message_bytes: usize,
    pub max_tcp_connections: usize,
    pub block_events: usize,
    pub block_max_age: Duration,
    pub flush_interval: Duration,
    pub cache_bytes: u64,
    /// Storm control (see `listen::storm`): messages per second per source, 0 = off.
    pub per_source_rate: u32,
    pub per_source_burst: u32,
    pub storm_summary_interval: Duration,
}

/// Per-source settings after validation.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub name: String,
    pub networks: Vec<IpNet>,
    pub timezone: chrono_tz::Tz,
    pub trust_host: TrustHost,
}

impl SourceSettings {
    /// Settings for senders that match no `[[source]]`: UTC, trust the message.
    pub fn fallback() -> SourceSettings {
        SourceSettings {
            name: "default".into(),
            networks: Vec::new(),
            timezone: chrono_tz::UTC,
            trust_host: TrustHost::Message,
        }
    }
}

/// The `[[source]]` tables, looked up by sender address (longest matching prefix wins).
#[derive(Debug, Clone)]
pub struct SourceTable {
    entries: Vec<(IpNet, usize)>,
    sources: Vec<SourceSettings>,
    fallback: SourceSettings,
}

impl SourceTable {
    /// Builds the lookup table; entries are sorted most specific first.
    pub fn new(sources: Vec<SourceSettings>) -> SourceTable {
        let mut entries: Vec<(IpNet, usize)> = sources
            .iter()
            .enumerate()
            .flat_map(|(index, source)| source.networks.iter().map(move |net| (*net, index)))
            .collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.0.prefix_len()));
        SourceTable {
            entries,
            sources,
            fallback: SourceSettings::fallback(),
        }
    }

    /// The settings for a sender. IPv4-mapped IPv6 senders match IPv4 networks.
    pub fn lookup(&self, ip: IpAddr) -> &SourceSettings {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.entries
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, index)| &self.sources[*index])
            .unwrap_or(&self.fallback)
    }

    /// True when no `[[source]]` is configured (every sender gets the fallback).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Reads the file at `path`, or the embedded default when `path` is `None`.
pub fn read_config(path: Option<&Path>) -> Result<(String, ConfigFile), ConfigError> {
    let (name, text) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            (path.display().to_string(), text)
        }
        None => (
            "<embedded default config>".to_string(),
            EMBEDDED_DEFAULT.to_string(),
        ),
    };
    let file = parse_config(&name, &text)?;
    Ok((name, file))
}

/// Parses config text, mapping TOML errors to `name:line:col: message`.
pub fn parse_config(name: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let (line, col) = error
            .span()
            .map(|span| line_col(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            path: name.to_string(),
            line,
            col,
            message: error.message().to_string(),
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

/// Parses `"30d"`, `"90s"`, `"100ms"` (humantime syntax).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("bad duration {text:?}: {e}"))
}

/// Parses `"20GiB"`, `"64MB"`, `"4096"`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("bad size {text:?}: {e}"))
}

/// Parses a listen address; an empty string means "disabled". `":514"` means all IPv4 addresses.
pub fn parse_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse::<SocketAddr>()
        .map(Some)
        .map_err(|e| format!("bad listen address {text:?}: {e}"))
}

impl Settings {
    /// Validates `file` (named `name` in errors), overlaid by `overrides`, over the embedded
    /// defaults for anything neither gives.
    pub fn build(
        name: &str,
        file: ConfigFile,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let defaults = parse_config("<embedded default config>", EMBEDDED_DEFAULT)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: name.to_string(),
            message,
        };
        let pick = |over: &Option<String>, file: &Option<String>, default: &Option<String>| {
            over.clone()
                .or_else(|| file.clone())
                .or_else(|| default.clone())
                .unwrap_or_default()
        };
        let listen =
            |key: &str, over: &Option<String>, file: &Option<String>, default: &Option<String>| {
                parse_listen(&pick(over, file, default))
                    .map_err(|e| invalid(format!("listen.{key}: {e}")))
            };
        let l = &file.listen;
        let d = &defaults.listen;
        let syslog_udp = listen(
            "syslog_udp",
            &overrides.syslog_udp,
            &l.syslog_udp,
            &d.syslog_udp,
        )?;
        let syslog_tcp = listen(
            "syslog_tcp",
            &overrides.syslog_tcp,
            &l.syslog_tcp,
            &d.syslog_tcp,
        )?;
        let syslog_tls_addr = listen(
            "syslog_tls",
            &overrides.syslog_tls,
            &l.syslog_tls,
            &d.syslog_tls,
        )?;
        let trap_udp = listen("trap_udp", &overrides.trap_udp, &l.trap_udp, &d.trap_udp)?;
        let http = listen("http", &overrides.http, &l.http, &d.http)?
            .ok_or_else(|| invalid("listen.http: the HTTP listener cannot be disabled".into()))?;

        let data_dir = overrides
            .data
            .clone()
            .or(file.data)
            .or(defaults.data)
            .unwrap_or_else(|| "./trapline-data".into());
        let rules_dir = overrides.rules.clone().or(file.rules);

        let http_tls = build_tls(&file.http).map_err(invalid)?;
        let syslog_tls =
            build_syslog_tls(syslog_tls_addr, file.syslog_tls.as_ref()).map_err(invalid)?;
        let retention = build_retention(&file.retention, &defaults.retention).map_err(invalid)?;
        let ingest = build_ingest(&file.ingest, &defaults.ingest).map_err(invalid)?;
        let sources = file
            .source
            .iter()
            .map(build_source)
            .collect::<Result<Vec<_>, String>>()
            .map_err(invalid)?;

        Ok(Settings {
            data_dir,
            rules_dir,
            mib_dirs: if file.mib_dirs.is_empty() {
                defaults.mib_dirs
            } else {
                file.mib_dirs
            },
            syslog_udp,
            syslog_tcp,
            syslog_tls,
            trap_udp,
            http,
            http_tls,
            metrics_require_token: file.http.metrics_require_token.unwrap_or(false),
            retention,
            ingest,
            sources: SourceTable::new(sources),
            snmp: file.snmp,
            smtp: file
                .smtp
                .as_ref()
                .map(build_smtp)
                .transpose()
                .map_err(invalid)?,
            notify: build_notify(&file.notify, http).map_err(invalid)?,
            reports: build_reports(&file.reports).map_err(invalid)?,
            forwards: build_forwards(&file.forward).map_err(invalid)?,
        })
    }
}

/// `[http] tls_cert` and `tls_key`: both or neither (a certificate without its key, or the
/// reverse, is a mistake to report, not a reason to fall back to plain HTTP).
fn build_tls(http: &HttpSection) -> Result<Option<TlsFiles>, String> {
    let nonempty = |path: &Option<PathBuf>| path.clone().filter(|p| !p.as_os_str().is_empty());
    match (nonempty(&http.tls_cert), nonempty(&http.tls_key)) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            keys: TlsKeys::HTTP,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err("http.tls_cert is set but http.tls_key is not: give both or neither".into())
        }
        (None, Some(_)) => {
            Err("http.tls_key is set but http.tls_cert is not: give both or neither".into())
        }
    }
}

/// `listen.syslog_tls` with `[syslog_tls]`. The table is checked even when the listener is off
/// (a flag may turn it on); a listener without a certificate, or a required client
/// certificate without a CA to check it against, is an error rather than a silent downgrade.
fn build_syslog_tls(
    addr: Option<SocketAddr>,
    section: Option<&SyslogTlsSection>,
) -> Result<Option<SyslogTlsSettings>, String> {
    let nonempty = |path: &Option<PathBuf>| path.clone().filter(|p| !p.as_os_str().is_empty());
    let section = section.map(|s| -> Result<_, String> {
        let files = match (nonempty(&s.cert), nonempty(&s.key)) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                keys: TlsKeys::SYSLOG,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err("syslog_tls.cert is set but syslog_tls.key is not: give both".into());
            }
            (None, Some(_)) => {
                return Err("syslog_tls.key is set but syslog_tls.cert is not: give both".into());
            }
        };
        let client_ca = nonempty(&s.client_ca);
        let require_client_cert = s.require_client_cert.unwrap_or(false);
        if require_client_cert && client_ca.is_none() {
            return Err(
                "syslog_tls.require_client_cert = true needs syslog_tls.client_ca (the CA that signs the senders' certificates)"
                    .into(),
            );
        }
        Ok((files, client_ca, require_client_cert))
    });
    let section = section.transpose()?;
    let Some(addr) = addr else {
        return Ok(None);
    };
    match section {
        Some((Some(files), client_ca, require_client_cert)) => Ok(Some(SyslogTlsSettings {
            addr,
            files,
            client_ca,
            require_client_cert,
        })),
        _ => Err(
            "listen.syslog_tls is set but [syslog_tls] has no cert and key: the TLS listener needs a certificate"
                .into(),
        ),
    }
}

fn build_retention(
    file: &RetentionSection,
    default: &RetentionSection,
) -> Result<RetentionSettings, String> {
    let events_max_age = file
        .events
        .as_ref()
        .or(default.events.as_ref())
        .map(|t| parse_duration(t).map_err(|e| format!("retention.events: {e}")))
        .transpose()?;
    let max_bytes = file
        .max_bytes
        .as_ref()
        .or(default.max_bytes.as_ref())
        .map(|t| parse_bytes(t).map_err(|e| format!("retention.max_bytes: {e}")))
        .transpose()?;
    let interval = file
        .interval
        .as_ref()
        .or(default.interval.as_ref())
        .map(String::as_str)
        .unwrap_or("60s");
    let interval = parse_duration(interval).map_err(|e| format!("retention.interval: {e}"))?;
    if let Some(alerts) = &file.alerts_archived {
        parse_duration(alerts).map_err(|e| format!("retention.alerts_archived: {e}"))?;
    }
    let incidents_closed = file
        .incidents_closed
        .as_ref()
        .or(default.incidents_closed.as_ref())
        .map(|t| parse_duration(t).map_err(|e| format!("retention.incidents_closed: {e}")))
        .transpose()?;
    Ok(RetentionSettings {
        events_max_age,
        max_bytes,
        interval,
        incidents_closed,
    })
}

fn build_ingest(file: &IngestSection, default: &IngestSection) -> Result<IngestSettings, String> {
    let bytes = |key: &str,
                 f: &Option<String>,
                 d: &Option<String>,
                 fallback: &str|
     -> Result<u64, String> {
        parse_bytes(f.as_deref().or(d.as_deref()).unwrap_or(fallback))
            .map_err(|e| format!("ingest.{key}: {e}"))
    };
    let duration = |key: &str,
                    f: &Option<String>,
                    d: &Option<String>,
                    fallback: &str|
     -> Result<Duration, String> {
        parse_duration(f.as_deref().or(d.as_deref()).unwrap_or(fallback))
            .map_err(|e| format!("ingest.{key}: {e}"))
    };
    let settings = IngestSettings {
        queue_events: file.queue_events.or(default.queue_events).unwrap_or(65_536),
        udp_receive_buffer_bytes: bytes(
            "udp_receive_buffer_bytes",
            &file.udp_receive_buffer_bytes,
            &default.udp_receive_buffer_bytes,
            "32MiB",
        )? as usize,
        max_message_bytes: bytes(
            "max_message_bytes",
            &file.max_message_bytes,
            &default.max_message_bytes,
            "64KiB",
        )? as usize,
        max_tcp_connections: file
            .max_tcp_connections
            .or(default.max_tcp_connections)
            .unwrap_or(4096),
        block_events: file.block_events.or(default.block_events).unwrap_or(4096),
        block_max_age: duration(
            "block_max_age",
            &file.block_max_age,
            &default.block_max_age,
            "100ms",
        )?,
        flush_interval: duration(
            "flush_interval",
            &file.flush_interval,
            &default.flush_interval,
            "100ms",
        )?,
        cache_bytes: bytes(
            "cache_bytes",
            &file.cache_bytes,
            &default.cache_bytes,
            "64MiB",
        )?,
        per_source_rate: file
            .per_source_rate
            .or(default.per_source_rate)
            .unwrap_or(0),
        per_source_burst: 0,
        storm_summary_interval: duration(
            "storm_summary_interval",
            &file.storm_summary_interval,
            &default.storm_summary_interval,
            "10s",
        )?,
    };
    let settings = IngestSettings {
        per_source_burst: file
            .per_source_burst
            .or(default.per_source_burst)
            .unwrap_or(settings.per_source_rate.saturating_mul(2)),
        ..settings
    };
    if settings.queue_events == 0 || settings.block_events == 0 {
        return Err("ingest.queue_events and ingest.block_events must be at least 1".into());
    }
    if !(480..=1 << 20).contains(&settings.max_message_bytes) {
        return Err("ingest.max_message_bytes must be between 480 B and 1 MiB".into());
    }
    Ok(settings)
}

fn build_source(source: &SourceSection) -> Result<SourceSettings, String> {
    let networks = source
        .networks
        .iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|e| format!("source {:?}: bad network {text:?}: {e}", source.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if networks.is_empty() {
        return Err(format!(
            "source {:?}: networks must list at least one network",
            source.name
        ));
    }
    let timezone = match &source.timezone {
        Some(name) => parse_timezone(name).map_err(|e| format!("source {:?}: {e}", source.name))?,
        None => chrono_tz::UTC,
    };
    Ok(SourceSettings {
        name: source.name.clone(),
        networks,
        timezone,
        trust_host: source.trust_host,
    })
}

fn build_smtp(smtp: &SmtpSection) -> Result<SmtpSettings, String> {
    let security = match smtp.security.as_deref().unwrap_or("starttls") {
        "none" => SmtpSecurity::None,
        "starttls" => SmtpSecurity::StartTls,
        "tls" => SmtpSecurity::Tls,
        other => {
            return Err(format!(
                "smtp.security: {other:?} is not one of none, starttls, tls"
            ));
        }
    };
    let default_port = match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    let server = smtp.server.trim();
    let (host, port) = match server.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (
            host.trim_start_matches('[').trim_end_matches(']'),
            port.parse::<u16>()
                .map_err(|_| format!("smtp.server: bad port in {server:?}"))?,
        ),
        _ => (server, default_port),
    };
    if host.is_empty() {
        return Err("smtp.server: empty host".into());
    }
    if !smtp.from.contains('@') {
        return Err(format!("smtp.from: {:?} is not a mail address", smtp.from));
    }
    let password = smtp
        .password_file
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| Secret(text.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| format!("smtp.password_file {}: {e}", path.display()))
        })
        .transpose()?;
    if password.is_some() && smtp.username.is_none() {
        return Err("smtp.password_file needs smtp.username".into());
    }
    let timeout = parse_duration(smtp.timeout.as_deref().unwrap_or("10s"))
        .map_err(|e| format!("smtp.timeout: {e}"))?;
    let ca_pem = smtp
        .ca_file
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))
                .and_then(|pem| {
                    if String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                        Ok(pem)
                    } else {
                        Err(format!(
                            "smtp.ca_file {}: no PEM certificate in it",
                            path.display()
                        ))
                    }
                })
        })
        .transpose()?;
    Ok(SmtpSettings {
        host: host.to_string(),
        port,
        security,
        username: smtp.username.clone(),
        password,
        from: smtp.from.clone(),
        timeout,
        ca_pem,
    })
}

fn build_notify(notify: &NotifySection, http: SocketAddr) -> Result<NotifySettings, String> {
    let duration = |key: &str, value: &Option<String>, fallback: &str| {
        parse_duration(value.as_deref().unwrap_or(fallback))
            .map_err(|e| format!("notify.{key}: {e}"))
    };
    let base_url = match &notify.base_url {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "notify.base_url: {url:?} must start with http:// or https://"
                ));
            }
            url.trim_end_matches('/').to_string()
        }
        None => format!("http://{http}"),
    };
    let repeat_interval = duration("repeat_interval", &notify.repeat_interval, "4h")?;
    let settings = NotifySettings {
        base_url,
        group_wait: duration("group_wait", &notify.group_wait, "10s")?,
        repeat_interval: (!repeat_interval.is_zero()).then_some(repeat_interval),
        retry_initial: duration("retry_initial", &notify.retry_initial, "10s")?,
        retry_max: duration("retry_max", &notify.retry_max, "10m")?,
        give_up_after: duration("give_up_after", &notify.give_up_after, "24h")?,
        max_per_minute: notify.max_per_minute.unwrap_or(120),
        max_per_recipient_per_hour: notify.max_per_recipient_per_hour.unwrap_or(30),
        outbox_max: notify.outbox_max.unwrap_or(10_000),
        log_max: notify.log_max.unwrap_or(10_000),
        webhooks: notify
            .webhooks
            .iter()
            .map(build_webhook)
            .collect::<Result<_, _>>()?,
    };
    if settings.retry_initial.is_zero() || settings.retry_max < settings.retry_initial {
        return Err("notify.retry_initial must be > 0 and at most notify.retry_max".into());
    }
    if settings.max_per_minute == 0 || settings.max_per_recipient_per_hour == 0 {
        return Err(
            "notify.max_per_minute and notify.max_per_recipient_per_hour must be at least 1".into(),
        );
    }
    if !(1..=1_000_000).contains(&settings.outbox_max) || settings.log_max > 1_000_000 {
        return Err(
            "notify.outbox_max must be 1 to 1000000, notify.log_max at most 1000000".into(),
        );
    }
    let mut names: Vec<&str> = settings.webhooks.iter().map(|w| w.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!(
            "notify.webhooks: the name {:?} is used twice",
            pair[0]
        ));
    }
    Ok(settings)
}

fn build_webhook(hook: &WebhookSection) -> Result<WebhookSettings, String> {
    let what = format!("notify.webhooks {:?}", hook.name);
    if hook.name.trim().is_empty() || hook.name.contains(char::is_whitespace) {
        return Err(format!("{what}: name must be one word"));
    }
    if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
        return Err(format!("{what}: url must start with http:// or https://"));
    }
    let format = match hook.format.as_deref().unwrap_or("trapline") {
        "trapline" => WebhookFormat::Trapline,
        "alertmanager" => WebhookFormat::Alertmanager,
        other => {
            return Err(format!(
                "{what}: format {other:?} is not trapline or alertmanager"
            ));
        }
    };
    let timeout = parse_duration(hook.timeout.as_deref().unwrap_or("10s"))
        .map_err(|e| format!("{what}: timeout: {e}"))?;
    Ok(WebhookSettings {
        name: hook.name.clone(),
        url: hook.url.clone(),
        format,
        timeout,
    })
}

/// Parses an IANA zone name (`"Europe/Paris"`, `"UTC"`).
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("unknown time zone {name:?} (use an IANA name such as \"Europe/Paris\")")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Result<Settings, ConfigError> {
        let file = parse_config("test.toml", text)?;
        Settings::build("test.toml", file, &Overrides::default())
    }

    #[test]
    fn embedded_default_is_valid() {
        let s = settings(EMBEDDED_DEFAULT).unwrap();
        assert_eq!(s.http, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.syslog_udp, Some("0.0.0.0:1514".parse().unwrap()));
        assert_eq!(s.data_dir, PathBuf::from("./trapline-data"));
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err = settings("data = \"x\"\n[listen]\nsyslog_upd = \":514\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("test.toml:3:1: "), "{err}");
        assert!(err.contains("syslog_upd"), "{err}");
    }

    #[test]
    fn overrides_win_over_file() {
        let file = parse_config("t", "[listen]\nhttp = \"127.0.0.1:9000\"\n").unwrap();
        let over = Overrides {
            http: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        let s = Settings::build("t", file, &over).unwrap();
        assert_eq!(s.http.port(), 0);
    }

    #[test]
    fn empty_listen_disables() {
        let s = settings("[listen]\ntrap_udp = \"\"\n").unwrap();
        assert_eq!(s.trap_udp, None);
        assert!(s.syslog_udp.is_some());
    }

    #[test]
    fn source_lookup_prefers_longest_prefix_and_maps_v4_in_v6() {
        let s = settings(
            r#"
[[source]]
name = "wide"
networks = ["10.0.0.0/8"]
timezone = "Europe/Paris"
[[source]]
name = "narrow"
networks = ["10.1.2.0/24", "2001:db8::/32"]
trust_host = "sender"
"#,
        )
        .unwrap();
        assert_eq!(s.sources.lookup("10.1.2.3".parse().unwrap()).name, "narrow");
        assert_eq!(s.sources.lookup("10.9.9.9".parse().unwrap()).name, "wide");
        assert_eq!(
            s.sources.lookup("::ffff:10.1.2.3".parse().unwrap()).name,
            "narrow"
        );
        assert_eq!(
            s.sources.lookup("2001:db8::1".parse().unwrap()).trust_host,
            TrustHost::Sender
        );
        assert_eq!(
            s.sources.lookup("192.0.2.1".parse().unwrap()).name,
            "default"
        );
        assert_eq!(
            s.sources.lookup("10.9.9.9".parse().unwrap()).timezone,
            chrono_tz::Europe::Paris
        );
    }

    #[test]
    fn bad_timezone_and_sizes_are_errors() {
        assert!(
            settings("[[source]]\nname=\"x\"\nnetworks=[\"10.0.0.0/8\"]\ntimezone=\"Mars/Base\"\n")
                .unwrap_err()
                .to_string()
                .contains("unknown time zone")
        );
        assert!(
            settings("[retention]\nmax_bytes = \"lots\"\n")
                .unwrap_err()
                .to_string()
                .contains("retention.max_bytes")
        );
        assert!(settings("[retention]\nevents = \"30 fortnights\"\n").is_err());
    }

    #[test]
    fn smtp_and_notify_are_validated_and_the_password_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("pw");
        std::fs::write(&password, "s3cret\n").unwrap();
        let s = settings(&format!(
            "[smtp]\nserver = \"mail.example.net\"\nsecurity = \"tls\"\nusername = \"u\"\npassword_file = {:?}\nfrom = \"t@example.net\"\n\n[notify]\nbase_url = \"https://tl.example.net/\"\ngroup_wait = \"2s\"\n[[notify.webhooks]]\nname = \"chat\"\nurl = \"http://127.0.0.1:9/hook\"\nformat = \"alertmanager\"\n",
            password.display().to_string()
        ))
        .unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.net", 465));
        assert_eq!(smtp.password.as_ref().unwrap().0, "s3cret");
        assert!(!format!("{smtp:?}").contains("s3cret"));
        assert_eq!(s.notify.base_url, "https://tl.example.net");
        assert_eq!(s.notify.group_wait, Duration::from_secs(2));
        assert_eq!(s.notify.webhooks[0].format, WebhookFormat::Alertmanager);
        let err = |text: &str| settings(text).unwrap_err().to_string();
        assert!(
            err("[smtp]\nserver = \"m:25\"\nsecurity = \"ssl\"\nfrom = \"a@b\"\n")
                .contains("smtp.security")
        );
        assert!(err("[smtp]\nserver = \"m:x\"\nfrom = \"a@b\"\n").contains("bad port"));
        assert!(err("[smtp]\nserver = \"m\"\nfrom = \"a@b\"\npassword_file = \"/nonexistent/pw\"\nusername = \"u\"\n").contains("smtp.password_file"));
        assert!(err("[notify]\ngroup_wait = \"soon\"\n").contains("notify.group_wait"));
        assert!(
            err("[smtp]\nserver = \"m\"\nfrom = \"a@b\"\nca_file = \"/nonexistent/ca.pem\"\n")
                .contains("smtp.ca_file /nonexistent/ca.pem")
        );
        assert!(
            err("[[notify.webhooks]]\nname = \"a\"\nurl = \"ftp://x\"\n")
                .contains("url must start")
        );
        assert!(err("[[notify.webhooks]]\nname = \"a\"\nurl = \"http://x\"\n[[notify.webhooks]]\nname = \"a\"\nurl = \"http://y\"\n").contains("used twice"));
    }

    #[test]
    fn tls_needs_both_cert_and_key() {
        assert_eq!(settings("").unwrap().http_tls, None);
        let s = settings("[http]\ntls_cert = \"/etc/t/cert.pem\"\ntls_key = \"/etc/t/key.pem\"\n")
            .unwrap();
        assert_eq!(
            s.http_tls,
            Some(TlsFiles {
                cert: "/etc/t/cert.pem".into(),
                key: "/etc/t/key.pem".into(),
                keys: TlsKeys::HTTP,
            })
        );
        let err = settings("[http]\ntls_cert = \"/etc/t/cert.pem\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "test.toml: http.tls_cert is set but http.tls_key is not: give both or neither"
        );
        let err = settings("[http]\ntls_key = \"k.pem\"\ntls_cert = \"\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http.tls_key is set but http.tls_cert is not"),
            "{err}"
        );
        let err = settings("[http]\ntls_certificate = \"c.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("test.toml:2:1: "), "{err}");
    }

    #[test]
    fn syslog_tls_is_off_by_default_and_needs_a_certificate_when_on() {
        assert_eq!(settings("").unwrap().syslog_tls, None);
        let table = "[syslog_tls]\ncert = \"/t/c.pem\"\nkey = \"/t/k.pem\"\n";
        // A table alone does not start a listener.
        assert_eq!(settings(table).unwrap().syslog_tls, None);
        let on = format!("[listen]\nsyslog_tls = \":6514\"\n{table}");
        assert_eq!(
            settings(&on).unwrap().syslog_tls,
            Some(SyslogTlsSettings {
                addr: "0.0.0.0:6514".parse().unwrap(),
                files: TlsFiles {
                    cert: "/t/c.pem".into(),
                    key: "/t/k.pem".into(),
                    keys: TlsKeys::SYSLOG,
                },
                client_ca: None,
                require_client_cert: false,
            })
        );
        let err = |text: &str| settings(text).unwrap_err().to_string();
        assert_eq!(
            err("[listen]\nsyslog_tls = \"127.0.0.1:6514\"\n"),
            "test.toml: listen.syslog_tls is set but [syslog_tls] has no cert and key: the TLS listener needs a certificate"
        );
        assert!(
            err("[syslog_tls]\ncert = \"c.pem\"\n").contains("syslog_tls.key is not"),
            "a half pair is an error even with the listener off"
        );
        assert!(
            err("[listen]\nsyslog_tls = \"6514\"\n")
                .contains("listen.syslog_tls: bad listen address")
        );
        assert!(err("[syslog_tls]\ncerts = \"c.pem\"\n").starts_with("test.toml:2:1: "));
    }

    #[test]
    fn syslog_tls_client_certificates_need_a_ca_to_be_required() {
        let base =
            "[listen]\nsyslog_tls = \"127.0.0.1:0\"\n[syslog_tls]\ncert = \"c\"\nkey = \"k\"\n";
        let with = |extra: &str| settings(&format!("{base}{extra}"));
        let optional = with("client_ca = \"ca.pem\"\n")
            .unwrap()
            .syslog_tls
            .unwrap();
        assert_eq!(optional.client_ca, Some(PathBuf::from("ca.pem")));
        assert!(!optional.require_client_cert);
        let required = with("client_ca = \"ca.pem\"\nrequire_client_cert = true\n")
            .unwrap()
            .syslog_tls
            .unwrap();
        assert!(required.require_client_cert);
        let err = with("require_client_cert = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("syslog_tls.require_client_cert = true needs syslog_tls.client_ca"),
            "{err}"
        );
    }

    #[test]
    fn the_syslog_tls_flag_wins_over_the_file() {
        let file = parse_config(
            "t",
            "[listen]\nsyslog_tls = \"\"\n[syslog_tls]\ncert = \"c\"\nkey = \"k\"\n",
        )
        .unwrap();
        let over = Overrides {
            syslog_tls: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        let s = Settings::build("t", file, &over).unwrap();
        assert_eq!(s.syslog_tls.unwrap().addr, "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn forwards_are_validated_with_their_defaults() {
        let s = settings(
            r#"
[[forward]]
name = "siem"
address = "siem.example.net:6514"
protocol = "tls"
ca_file = "/etc/trapline/siem-ca.pem"
client_cert = "/etc/trapline/client.pem"
client_key = "/etc/trapline/client.key"

[[forward]]
name = "relay-v6"
address = "[2001:db8::1]:514"
protocol = "udp"
format = "rfc3164"
queue_max_bytes = "10MiB"
"#,
        )
        .unwrap();
        let (siem, relay) = (&s.forwards[0], &s.forwards[1]);
        assert_eq!((siem.host.as_str(), siem.port), ("siem.example.net", 6514));
        assert_eq!(siem.format, ForwardFormat::Rfc5424);
        assert_eq!(siem.queue_max_bytes, 1 << 30);
        assert_eq!(siem.max_message_bytes, 64 * 1024);
        let tls = siem.tls.as_ref().unwrap();
        assert_eq!(tls.server_name, "siem.example.net");
        assert_eq!(
            tls.client.as_ref().unwrap().key,
            PathBuf::from("/etc/trapline/client.key")
        );
        assert_eq!((relay.host.as_str(), relay.port), ("2001:db8::1", 514));
        assert_eq!(
            (relay.protocol, relay.format),
            (ForwardProtocol::Udp, ForwardFormat::Rfc3164)
        );
        assert_eq!(
            (relay.max_message_bytes, relay.queue_max_bytes),
            (8192, 10 << 20)
        );
        assert!(relay.tls.is_none());
        assert!(settings("").unwrap().forwards.is_empty());

        let err = |table: &str| {
            settings(&format!("[[forward]]\nname = \"f\"\n{table}"))
                .unwrap_err()
                .to_string()
        };
        let e = err("address = \"siem\"\nprotocol = \"tcp\"\n");
        assert!(e.contains("forward \"f\": address \"siem\" is not"), "{e}");
        let e = err("address = \"2001:db8::1:514\"\nprotocol = \"tcp\"\n");
        assert!(e.contains("is not \"host:port\""), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"relp\"\n");
        assert!(
            e.contains("protocol \"relp\" is not udp, tcp or tls"),
            "{e}"
        );
        let e = err("address = \"s:514\"\nprotocol = \"tcp\"\nformat = \"json\"\n");
        assert!(e.contains("format \"json\""), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"tcp\"\nca_file = \"ca.pem\"\n");
        assert!(e.contains("need protocol = \"tls\""), "{e}");
        let e = err("address = \"s:6514\"\nprotocol = \"tls\"\nclient_cert = \"c.pem\"\n");
        assert!(e.contains("give both or neither"), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"udp\"\nmax_message_bytes = \"100KiB\"\n");
        assert!(e.contains("max_message_bytes must be between"), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"tcp\"\nqueue_max_bytes = \"1KiB\"\n");
        assert!(e.contains("queue_max_bytes must be at least"), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"tcp\"\nretry_max = \"soon\"\n");
        assert!(e.contains("forward \"f\": retry_max: bad duration"), "{e}");
        let e = err("address = \"s:514\"\nprotocol = \"tcp\"\nport = 514\n");
        assert!(e.starts_with("test.toml:5:1: "), "{e}");
        let e = settings("[[forward]]\nname = \"a b\"\naddress = \"s:1\"\nprotocol = \"udp\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("name must be"), "{e}");
        let e = settings("[[forward]]\nname = \"a\"\naddress = \"s:1\"\nprotocol = \"udp\"\n[[forward]]\nname = \"a\"\naddress = \"t:1\"\nprotocol = \"tcp\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the name \"a\" is used twice"), "{e}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
