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
