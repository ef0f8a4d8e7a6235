//! Decode cost of the SNMP receiver on real net-snmp datagrams (`tests/fixtures/snmp/netsnmp.hex`):
//! a v2c linkDown trap with 5 varbinds, a v3 authPriv (SHA/AES-128) trap with the keys already
//! cached, a v2c inform with its Response, and the start-up cost of one authPriv user (two
//! password→key runs of 1 MiB of SHA-1 each).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use trapline::snmp::{AuthProtocol, PrivProtocol, SnmpReceiver, SnmpSettings, UsmUser};

const NETSNMP: &str = include_str!("../tests/fixtures/snmp/netsnmp.hex");

fn fixture(name: &str) -> Vec<u8> {
    let hex = NETSNMP
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .expect("fixture");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn receiver() -> SnmpReceiver {
    SnmpReceiver::new(SnmpSettings {
        communities: vec!["public".into()],
        users: vec![UsmUser {
            name: "trapuser".into(),
            engine_id: None,
            auth: Some((AuthProtocol::Sha1, "authpassword".into())),
            privacy: Some((PrivProtocol::Aes128, "privpassword".into())),
        }],
        local_engine_id: vec![0x80, 0x00, 0x1f, 0x88, 0x05, 1, 2, 3, 4, 5, 6, 7, 8],
        engine_boots: 1,
        started: Instant::now(),
        key_cache_entries: 1024,
        localisations_per_sec: 64,
    })
    .expect("settings")
}

fn bench(c: &mut Criterion) {
    let r = receiver();
    let peer: SocketAddr = "127.0.0.1:162".parse().unwrap();
    let v2c = fixture("v2c_linkdown5");
    let v3 = fixture("v3_sha_aes");
    let inform = fixture("v2c_inform");
    assert!(r.handle(&v2c, peer).trap.is_some());
    assert!(r.handle(&v3, peer).trap.is_some(), "warms the key cache");
    c.bench_function("snmp v2c trap, 5 varbinds", |b| {
        b.iter(|| r.handle(black_box(&v2c), peer))
    });
    // What the trap listener does per datagram: decode, then name and render through the MIBs.
    let mibs = trapline::mib::MibSet::bundled();
    c.bench_function("snmp v2c trap, 5 varbinds, decode + MIB translation", |b| {
        b.iter(|| {
            let trap = r.handle(black_box(&v2c), peer).trap.unwrap();
            trapline::normalize::trap::trap_event(&trap, peer, 0, &mibs)
        })
    });
    c.bench_function("snmp v3 authPriv SHA/AES trap, cached keys", |b| {
        b.iter(|| r.handle(black_box(&v3), peer))
    });
    c.bench_function("snmp v2c inform + Response", |b| {
        b.iter(|| r.handle(black_box(&inform), peer))
    });
    c.bench_function("snmp receiver start-up (1 user: 2 x Ku)", |b| {
        b.iter(receiver)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
