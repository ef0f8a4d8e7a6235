//! Tests of the whole receiver on real datagrams: the corpus lines whose licence allows it and
//! our own net-snmp captures (`tests/fixtures/snmp/`), refusals, inform Responses checked by the
//! real `snmpinform`, and property tests that `handle` never panics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::*;

const CORPUS: &str = include_str!("../../tests/fixtures/snmp/corpus.hex");
const NETSNMP: &str = include_str!("../../tests/fixtures/snmp/netsnmp.hex");

fn fixtures() -> HashMap<&'static str, Vec<u8>> {
    CORPUS
        .lines()
        .chain(NETSNMP.lines())
        .filter_map(|l| l.split_once(' '))
        .map(|(name, hex)| (name, parse_hex(hex).expect("fixture hex")))
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    fixtures().remove(name).unwrap_or_else(|| panic!("no fixture {name}"))
}

fn user(name: &str, auth: Option<(AuthProtocol, &str)>, privacy: Option<(PrivProtocol, &str)>) -> UsmUser {
    UsmUser {
        name: name.into(),
        engine_id: None,
        auth: auth.map(|(p, k)| (p, k.into())),
        privacy: privacy.map(|(p, k)| (p, k.into())),
    }
}

/// Our engine id in these tests.
const LOCAL_ENGINE: &[u8] = &[0x80, 0x00, 0x1f, 0x88, 0x05, 1, 2, 3, 4, 5, 6, 7, 8];

fn settings() -> SnmpSettings {
    use AuthProtocol::*;
    use PrivProtocol::*;
    let users = vec![
        user("noauthuser", None, None),
        user("md5user", Some((Md5, "md5password")), None),
        user("shauser", Some((Sha1, "shapassword")), None),
        user("trapuser", Some((Sha1, "authpassword")), Some((Aes128, "privpassword"))),
        user("desuser", Some((Md5, "desauthpass")), Some((Des, "desprivpass"))),
        user("sha256user", Some((Sha256, "sha256password")), Some((Aes128, "aesprivpass"))),
        user("aes256user", Some((Sha1, "aes256auth")), Some((Aes256, "aes256priv"))),
        user("sha512user", Some((Sha512, "sha512password")), Some((Aes192, "aes192priv"))),
        user("aes192md5", Some((Md5, "aes192auth")), Some((Aes192, "aes192priv"))),
        user("myuser", Some((Md5, "mypassword")), None),
        user("myuser2", Some((Md5, "mypassword2")), Some((Aes128, "myprivacy2"))),
    ];
    SnmpSettings {
        communities: vec!["public".into(), "private".into()],
        users,
        local_engine_id: LOCAL_ENGINE.to_vec(),
        engine_boots: 1,
        started: Instant::now(),
        key_cache_entries: 1024,
        localisations_per_sec: 64,
    }
}

fn receiver() -> SnmpReceiver {
    SnmpReceiver::new(settings()).expect("settings")
}

fn peer() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

/// Runs `command` (with `{h}` replaced by our address) against a loop that feeds every
/// datagram to `handle` and sends the response back; returns the exit status and the outcomes.
fn interop(receiver: SnmpReceiver, command: &str) -> Option<(bool, Vec<Outcome>)> {
    use std::net::UdpSocket;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    if std::process::Command::new("snmpinform").arg("-V").output().is_err() {
        eprintln!("snmpinform not installed; skipping");
        return None;
    }
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let addr = socket.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let outcome = receiver.handle(&buf[..n], from);
                if let Some(resp) = &outcome.response {
                    socket.send_to(resp, from).unwrap();
                }
                outcomes.push(outcome);
            }
        }
        outcomes
    });
    let persist = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command.replace("{h}", &format!("udp:{addr}")))
        .env("MIBS", "")
        .env("SNMPCONFPATH", "/nonexistent")
        .env("SNMP_PERSISTENT_DIR", persist.path())
        .status()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    Some((status.success(), server.join().unwrap()))
}

#[test]
fn netsnmp_accepts_v2c_inform_response() {
    let cmd = "snmpinform -v 2c -c public -r 0 -t 3 {h} 777 1.3.6.1.4.1.8072.2.3.0.1 1.3.6.1.4.1.8072.2.3.2.1 s hello";
    let Some((ok, outcomes)) = interop(receiver(), cmd) else { return };
    assert!(ok, "snmpinform exit status: {outcomes:?}");
    let trap = outcomes[0].trap.as_ref().unwrap();
    assert!(trap.inform);
    assert_eq!(trap.varbinds, vec![(vec![1, 3, 6, 1, 4, 1, 8072, 2, 3, 2, 1], SnmpValue::OctetString(b"hello".to_vec()))]);
}

fn check_v3_inform(args: &str) {
    let cmd = format!("snmpinform -v 3 {args} -r 1 -t 3 {{h}} 777 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.3 i 3");
    let Some((ok, outcomes)) = interop(receiver(), &cmd) else { return };
    let summary: Vec<_> = outcomes.iter().map(|o| (o.refusal, o.response.is_some(), o.trap.is_some())).collect();
    eprintln!("{args}: {summary:?}");
    assert!(ok, "snmpinform {args} failed; outcomes {summary:?}");
    let trap = outcomes.iter().find_map(|o| o.trap.as_ref()).expect("a decoded inform");
    assert!(trap.inform);
    assert_eq!(trap.trap_oid, vec![1, 3, 6, 1, 6, 3, 1, 1, 5, 3]);
    assert_eq!(trap.engine_id.as_deref(), Some(LOCAL_ENGINE));
}

#[test]
fn netsnmp_accepts_v3_inform_sha_aes() {
    check_v3_inform("-u trapuser -l authPriv -a SHA -A authpassword -x AES -X privpassword");
}

#[test]
fn netsnmp_accepts_v3_informs_other_protocols() {
    for args in [
        "-u desuser -l authPriv -a MD5 -A desauthpass -x DES -X desprivpass",
        "-u sha256user -l authPriv -a SHA-256 -A sha256password -x AES -X aesprivpass",
        "-u aes256user -l authPriv -a SHA -A aes256auth -x AES-256 -X aes256priv",
        "-u sha512user -l authPriv -a SHA-512 -A sha512password -x AES-192 -X aes192priv",
        "-u md5user -l authNoPriv -a MD5 -A md5password",
        "-u noauthuser -l noAuthNoPriv",
    ] {
        check_v3_inform(args);
    }
}

/// With our engine id given (`-e`) and stale boots/time (`-Z`), net-snmp gets an authenticated
/// usmStatsNotInTimeWindows Report, resynchronises and resends (RFC 3414 §3.2 step 7, §4).
#[test]
fn netsnmp_resyncs_after_not_in_time_window() {
    check_v3_inform("-e 0x80001f88050102030405060708 -Z 7,5000 -u trapuser -l authPriv -a SHA -A authpassword -x AES -X privpassword");
}

#[test]
fn explore() {
    let r = receiver();
    let mut names: Vec<_> = fixtures().into_iter().collect();
    names.sort();
    for (name, bytes) in names {
        let o = r.handle(&bytes, peer());
        println!("{name}: refusal={:?} resp={} trap={:?}", o.refusal, o.response.is_some(), o.trap.map(|t| (t.trap_oid, t.uptime, t.varbinds)));
    }
}
