//! What the fuzz targets share: the SNMP receiver they feed (the unit tests' users, so the
//! fixtures and the seeds made from them decode), the bundled MIBs, and realistic events for the
//! rule targets to evaluate conditions against. Built once per process: key derivation and the
//! MIB set cost milliseconds, far more than one fuzz input.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use trapline::config::{SourceSettings, SourceTable, TrustHost};
use trapline::event::{Event, Transport};
use trapline::mib::MibSet;
use trapline::normalize::trap::trap_event;
use trapline::normalize::{LevelTable, Normalizer};
use trapline::snmp::{AuthProtocol, Outcome, PrivProtocol, SnmpReceiver, SnmpSettings, UsmUser};

/// Every receive time in the targets (2026-11-23T12:00:00Z) unless an input chooses its own.
pub const RECEIVED_NS: i64 = 1_795_435_200_000_000_000;

/// trapline's own snmpEngineID in the SNMP targets (the unit tests' `LOCAL_ENGINE`); the
/// `snmp_usm` seeds address informs to it.
pub const LOCAL_ENGINE_ID: &[u8] = &[0x80, 0x00, 0x1f, 0x88, 0x05, 1, 2, 3, 4, 5, 6, 7, 8];

/// The sender every input comes from.
pub fn peer() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 50_162))
}

/// The receiver of the SNMP targets: the communities and USM users of `src/snmp/tests.rs`
/// (the fixtures' passwords), every protocol pair net-snmp offers.
///
/// Two settings differ from production on purpose, so that an input decodes the same way
/// whenever it runs (a crash must reproduce): no rate limit on key localisations (fresh engine
/// ids are what a fuzzer sends most), and an engine start in the future, which pins
/// snmpEngineTime at 0 (`Instant::elapsed` saturates) — an inform with boots 1 and time 0 is
/// then always inside the time window.
pub fn snmp_receiver() -> &'static SnmpReceiver {
    static RECEIVER: OnceLock<SnmpReceiver> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let started = Instant::now()
            .checked_add(Duration::from_secs(1 << 30))
            .unwrap_or_else(Instant::now);
        let settings = SnmpSettings {
            communities: vec!["public".into(), "private".into(), "5rNTg!pm1ck".into()],
            users: snmp_users(),
            local_engine_id: LOCAL_ENGINE_ID.to_vec(),
            engine_boots: 1,
            started,
            key_cache_entries: 1024,
            localisations_per_sec: u32::MAX,
        };
        SnmpReceiver::new(settings).expect("fuzz SNMP settings are valid")
    })
}

fn snmp_users() -> Vec<UsmUser> {
    use AuthProtocol::*;
    use PrivProtocol::*;
    let user = |name: &str,
                auth: Option<(AuthProtocol, &str)>,
                privacy: Option<(PrivProtocol, &str)>| UsmUser {
        name: name.into(),
        engine_id: None,
        auth: auth.map(|(p, k)| (p, k.into())),
        privacy: privacy.map(|(p, k)| (p, k.into())),
    };
    vec![
        user("noauthuser", None, None),
        user("md5user", Some((Md5, "md5password")), None),
        user("shauser", Some((Sha1, "shapassword")), None),
        user(
            "trapuser",
            Some((Sha1, "authpassword")),
            Some((Aes128, "privpassword")),
        ),
        user(
            "desuser",
            Some((Md5, "desauthpass")),
            Some((Des, "desprivpass")),
        ),
        user(
            "sha256user",
            Some((Sha256, "sha256password")),
            Some((Aes128, "aesprivpass")),
        ),
        user(
            "aes256user",
            Some((Sha1, "aes256auth")),
            Some((Aes256, "aes256priv")),
        ),
        user(
            "sha512user",
            Some((Sha512, "sha512password")),
            Some((Aes192, "aes192priv")),
        ),
        user(
            "aes192md5",
            Some((Md5, "aes192auth")),
            Some((Aes192, "aes192priv")),
        ),
        user("myuser", Some((Md5, "mypassword")), None),
        user(
            "myuser2",
            Some((Md5, "mypassword2")),
            Some((Aes128, "myprivacy2")),
        ),
    ]
}

/// The compiled-in MIB modules, for naming trap OIDs as the trap listener does.
pub fn mibs() -> &'static MibSet {
    static MIBS: OnceLock<MibSet> = OnceLock::new();
    MIBS.get_or_init(MibSet::bundled)
}

/// Checks what the receiver promises about one outcome, then builds the event the trap
/// listener would store. Panics (a finding) when a promise is broken.
pub fn check_snmp_outcome(datagram: &[u8], outcome: &Outcome) {
    assert!(
        outcome.trap.is_none() || outcome.refusal.is_none(),
        "a trap and a refusal at once: {outcome:?}"
    );
    if let Some(response) = &outcome.response {
        // A spoofed sender must not turn trapline into an amplifier: what we send back is
        // about the size of what came in (a discovery Report adds our engine id and a counter).
        assert!(
            response.len() <= 2 * datagram.len() + 256,
            "{} bytes answered with {}",
            datagram.len(),
            response.len()
        );
    }
    if let Some(trap) = &outcome.trap {
        let event = trap_event(trap, peer(), RECEIVED_NS, mibs());
        assert!(!event.message.is_empty());
    }
}

/// The normalizer of the syslog target for one time zone (an IANA name from [`ZONES`]): every
/// sender is in it and its host field is believed, as for a device sending directly.
pub fn normalizer(timezone: &str) -> Normalizer {
    let source = SourceSettings {
        name: "fuzz".into(),
        networks: vec![
            "0.0.0.0/0".parse().expect("net"),
            "::/0".parse().expect("net"),
        ],
        timezone: timezone.parse().expect("zone"),
        trust_host: TrustHost::Message,
    };
    Normalizer::new(SourceTable::new(vec![source]), LevelTable::default())
}

/// Zones whose rules make timestamps without an offset hard: DST gaps and overlaps, half- and
/// quarter-hour offsets, a skipped day (Apia, 2011), DST that Morocco suspends for Ramadan,
/// Lord Howe's 30-minute DST. Named, so that this crate needs no chrono-tz of its own.
pub const ZONES: &[&str] = &[
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "America/Santiago",
    "Pacific/Apia",
    "Africa/Casablanca",
    "America/St_Johns",
];

/// Events the rule targets evaluate against: decoded from real syslog lines and SNMP
/// fixtures, so hosts, apps, trap names and varbinds look like what production sees.
pub fn sample_events() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let syslog = normalizer("Europe/Paris");
        let mut events: Vec<Event> = SYSLOG_LINES
            .iter()
            .map(|line| syslog.syslog(line.as_bytes(), peer(), Transport::Udp, RECEIVED_NS))
            .collect();
        for line in SNMP_FIXTURES.lines().chain(SNMP_CORPUS.lines()) {
            let Some((_, hex)) = line.split_once(' ') else {
                continue;
            };
            let datagram = decode_hex(hex);
            if let Some(trap) = snmp_receiver().handle(&datagram, peer()).trap {
                events.push(trap_event(&trap, peer(), RECEIVED_NS, mibs()));
            }
        }
        events
    })
}

const SNMP_FIXTURES: &str = include_str!("../../tests/fixtures/snmp/netsnmp.hex");
const SNMP_CORPUS: &str = include_str!("../../tests/fixtures/snmp/corpus.hex");

const SYSLOG_LINES: &[&str] = &[
    "<34>1 2026-11-23T11:59:58.003Z edge-01.example.net sshd 4242 ID47 [origin ip=\"192.0.2.1\"][meta sequenceId=\"7\"] Failed password for root from 203.0.113.9 port 22 ssh2",
    "<13>Nov 23 12:00:00 CORE-SW1 kernel: eth0: link down",
    "<189>123: *Nov 23 11:59:59.123: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
    "<166>Nov 23 2026 11:59:59: %ASA-6-302013: Built outbound TCP connection 1 for outside:198.51.100.4/443",
    "<134>filterlog[123]: 5,,,1000000103,em0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.5,192.0.2.10,51234,22,0,S,1,,64240,,mss",
    "<11>Nov 23 12:00:00 backup01 bacula-dir[77]: Backup Error: job nightly failed",
    "<14>date=2026-11-23 time=12:00:00 devname=\"FGT-HQ\" devid=\"FG100\" logid=\"0100032001\" type=\"event\" level=\"warning\" msg=\"Administrator admin login failed\"",
    "<30>Nov 23 12:00:00 İstanbul-RTR systemd[1]: Started Session 12 of user ünïcode.",
    "no header at all, just text",
];

/// Hex as the fixtures write it; invalid digits become zero (the fixtures are ours).
pub fn decode_hex(hex: &str) -> Vec<u8> {
    let hex = hex.trim().as_bytes();
    hex.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("00");
            u8::from_str_radix(text, 16).unwrap_or(0)
        })
        .collect()
}
