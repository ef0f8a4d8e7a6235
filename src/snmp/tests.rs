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
    fixtures()
        .remove(name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn user(
    name: &str,
    auth: Option<(AuthProtocol, &str)>,
    privacy: Option<(PrivProtocol, &str)>,
) -> UsmUser {
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
    ];
    SnmpSettings {
        communities: vec!["public".into(), "private".into(), "5rNTg!pm1ck".into()],
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

/// One receiver shared by the read-only tests: Ku costs 1 MiB of hashing per password, which
/// is slow in a debug build.
fn shared() -> &'static SnmpReceiver {
    static SHARED: std::sync::OnceLock<SnmpReceiver> = std::sync::OnceLock::new();
    SHARED.get_or_init(receiver)
}

fn peer() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Decoding: exact contents.

type Vb = (Vec<u32>, SnmpValue);

fn vb(oid: &[u32], value: SnmpValue) -> Vb {
    (oid.to_vec(), value)
}

fn text(s: &str) -> SnmpValue {
    SnmpValue::OctetString(s.as_bytes().to_vec())
}

const LINK_DOWN: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 5, 3];
const IF_INDEX_3: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3];

/// What a fixture must decode to.
struct Expect {
    version: SnmpVersion,
    principal: &'static str,
    level: SecurityLevel,
    request_id: Option<i32>,
    trap_oid: &'static [u32],
    uptime: Option<u32>,
    varbinds: Vec<Vb>,
}

fn check(name: &str, e: Expect) {
    let outcome = shared().handle(&fixture(name), peer());
    assert_eq!(outcome.refusal, None, "{name}");
    let t = outcome.trap.unwrap_or_else(|| panic!("{name}: no trap"));
    assert_eq!(t.version, e.version, "{name}");
    let principal = if e.version == SnmpVersion::V3 {
        &t.user
    } else {
        &t.community
    };
    assert_eq!(principal.as_deref(), Some(e.principal), "{name}");
    assert_eq!(t.security_level, e.level, "{name}");
    if let Some(id) = e.request_id {
        assert_eq!(t.request_id, id, "{name}");
    }
    assert_eq!(t.trap_oid, e.trap_oid, "{name}");
    assert_eq!(t.uptime, e.uptime, "{name}");
    assert_eq!(t.varbinds, e.varbinds, "{name}");
    assert_eq!(
        outcome.response.is_some(),
        t.inform,
        "{name}: informs and only informs are answered"
    );
}

fn v2c(
    community: &'static str,
    request_id: Option<i32>,
    trap_oid: &'static [u32],
    uptime: Option<u32>,
    varbinds: Vec<Vb>,
) -> Expect {
    Expect {
        version: SnmpVersion::V2c,
        principal: community,
        level: SecurityLevel::NoAuthNoPriv,
        request_id,
        trap_oid,
        uptime,
        varbinds,
    }
}

fn v1(trap_oid: &'static [u32], uptime: u32, varbinds: Vec<Vb>) -> Expect {
    Expect {
        version: SnmpVersion::V1,
        principal: "public",
        request_id: Some(0),
        uptime: Some(uptime),
        ..v2c("public", None, trap_oid, None, varbinds)
    }
}

fn v3(user: &'static str, level: SecurityLevel) -> Expect {
    Expect {
        version: SnmpVersion::V3,
        principal: user,
        level,
        request_id: None,
        trap_oid: LINK_DOWN,
        uptime: Some(12345),
        varbinds: vec![vb(IF_INDEX_3, SnmpValue::Integer32(3))],
    }
}

#[test]
fn decodes_v1_traps_with_rfc3584_translation() {
    let ent = &[1, 3, 6, 1, 4, 1, 8072, 2, 3];
    check(
        "v1_enterprise",
        v1(
            &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 0, 17],
            12345,
            vec![
                vb(
                    &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 2, 1],
                    SnmpValue::Integer32(42),
                ),
                vb(&[1, 3, 6, 1, 2, 1, 1, 5, 0], text("router1")),
            ],
        ),
    );
    check(
        "v1_linkdown",
        v1(
            LINK_DOWN,
            100,
            vec![vb(IF_INDEX_3, SnmpValue::Integer32(3))],
        ),
    );
    check(
        "v1_tedge_linkdown",
        v1(
            LINK_DOWN,
            100,
            vec![vb(
                &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 1],
                SnmpValue::Integer32(1),
            )],
        ),
    );
    check(
        "v1_tedge_coldstart",
        v1(&[1, 3, 6, 1, 6, 3, 1, 1, 5, 1], 5, vec![]),
    );
    check(
        "v1_tedge_enterprise17",
        v1(
            &[1, 3, 6, 1, 4, 1, 99999, 0, 17],
            4242,
            vec![
                vb(&[1, 3, 6, 1, 4, 1, 99999, 2, 1], text("Pump overheated")),
                vb(
                    &[1, 3, 6, 1, 4, 1, 99999, 2, 2],
                    SnmpValue::Gauge32(u32::MAX),
                ),
            ],
        ),
    );
    check(
        "v1_crystal_cisco_linkup",
        Expect {
            principal: "5rNTg!pm1ck",
            ..v1(
                &[1, 3, 6, 1, 6, 3, 1, 1, 5, 4],
                245_549_128,
                vec![
                    vb(
                        &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 26],
                        SnmpValue::Integer32(26),
                    ),
                    vb(
                        &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2, 26],
                        text("GigabitEthernet1/0/19"),
                    ),
                    vb(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 3, 26], SnmpValue::Integer32(6)),
                    vb(&[1, 3, 6, 1, 4, 1, 9, 2, 2, 1, 1, 20, 26], text("up")),
                ],
            )
        },
    );
    // The v1 fields are kept as received.
    let t = shared()
        .handle(&fixture("v1_enterprise"), peer())
        .trap
        .unwrap();
    assert_eq!(
        t.v1,
        Some(V1Fields {
            enterprise: ent.to_vec(),
            agent_addr: [10, 1, 2, 3].into(),
            generic_trap: 6,
            specific_trap: 17,
            time_stamp: 12345
        })
    );
}

#[test]
fn decodes_v2c_traps_and_informs() {
    let system = vec![
        vb(&[1, 3, 6, 1, 2, 1, 1, 1, 0], text("red laptop")),
        vb(&[1, 3, 6, 1, 2, 1, 1, 7, 0], SnmpValue::Integer32(5)),
        vb(
            &[1, 3, 6, 1, 2, 1, 1, 2],
            SnmpValue::ObjectIdentifier(vec![1, 3, 6, 1, 4, 1, 2, 3, 4, 5]),
        ),
    ];
    check(
        "v2c_gosnmp_system",
        v2c(
            "public",
            Some(1_918_693_186),
            &[1, 3, 6, 1, 2, 1, 1],
            Some(18_542_501),
            system.clone(),
        ),
    );
    // Trailing bytes after the message (pcapng residue, "garbage") are ignored.
    check(
        "edge_gosnmp_pcap_tail",
        v2c(
            "public",
            Some(1_918_693_186),
            &[1, 3, 6, 1, 2, 1, 1],
            Some(18_542_501),
            system,
        ),
    );
    check(
        "edge_tedge_trailing",
        v2c(
            "public",
            None,
            &[1, 3, 6, 1, 4, 1, 99999, 0, 9],
            Some(5),
            vec![],
        ),
    );
    let if_vbs = |i: u32, admin: i32, oper: i32| {
        vec![
            vb(
                &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, i],
                SnmpValue::Integer32(i as i32),
            ),
            vb(
                &[1, 3, 6, 1, 2, 1, 2, 2, 1, 7, i],
                SnmpValue::Integer32(admin),
            ),
            vb(
                &[1, 3, 6, 1, 2, 1, 2, 2, 1, 8, i],
                SnmpValue::Integer32(oper),
            ),
        ]
    };
    check(
        "v2c_tedge_linkdown",
        v2c(
            "public",
            Some(2_044_228_922),
            LINK_DOWN,
            Some(12345),
            if_vbs(3, 2, 2),
        ),
    );
    check(
        "v2c_tedge_linkup",
        v2c(
            "public",
            Some(358_413_337),
            &[1, 3, 6, 1, 6, 3, 1, 1, 5, 4],
            Some(0),
            vec![vb(IF_INDEX_3, SnmpValue::Integer32(3))],
        ),
    );
    let p = |n: u32| vec![1, 3, 6, 1, 4, 1, 99999, 2, n];
    check(
        "v2c_tedge_types_private",
        v2c(
            "private",
            Some(799_482_125),
            &[1, 3, 6, 1, 4, 1, 99999, 0, 1],
            Some(0),
            vec![
                (p(1), text("héllo")),
                (p(3), SnmpValue::Counter32(123_456)),
                (p(4), SnmpValue::TimeTicks(99)),
                (p(5), SnmpValue::IpAddress([192, 168, 1, 20].into())),
                (
                    p(6),
                    SnmpValue::ObjectIdentifier(vec![1, 3, 6, 1, 4, 1, 8072]),
                ),
                (p(7), SnmpValue::OctetString(vec![0xde, 0xad, 0xbe, 0xef])),
                (p(8), SnmpValue::Integer32(-42)),
                (p(9), SnmpValue::Counter64(u64::MAX)),
            ],
        ),
    );
    check(
        "v2c_tedge_long300",
        v2c(
            "public",
            Some(1_674_908_006),
            &[1, 3, 6, 1, 4, 1, 99999, 0, 3],
            Some(5),
            vec![(p(1), text(&"A".repeat(300)))],
        ),
    );
    let n = |k: u32| vec![1, 3, 6, 1, 4, 1, 8072, 9, k];
    check(
        "v2c_types",
        v2c(
            "public",
            None,
            &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 0, 1],
            Some(99),
            vec![
                (n(1), SnmpValue::Counter32(123_456)),
                (n(2), SnmpValue::Gauge32(u32::MAX)),
                (n(3), SnmpValue::TimeTicks(99)),
                (n(4), SnmpValue::OctetString(vec![0xde, 0xad, 0xbe, 0xef])),
                (
                    n(5),
                    SnmpValue::ObjectIdentifier(vec![1, 3, 6, 1, 4, 1, 8072]),
                ),
                (n(6), SnmpValue::Integer32(-42)),
                (n(7), SnmpValue::Counter64(u64::MAX)),
            ],
        ),
    );
    check(
        "v2c_linkdown5",
        v2c(
            "public",
            None,
            LINK_DOWN,
            Some(12345),
            vec![
                vb(IF_INDEX_3, SnmpValue::Integer32(3)),
                vb(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 2, 3], text("eth0")),
                vb(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 3], SnmpValue::Integer32(2)),
                vb(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 3], SnmpValue::Integer32(2)),
                vb(
                    &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 2, 2],
                    SnmpValue::IpAddress([10, 0, 0, 1].into()),
                ),
            ],
        ),
    );
    // BER tolerance: non-minimal lengths; a third element inside a VarBind; no sysUpTime.0.
    check(
        "edge_tedge_nonminimal_len",
        v2c("public", None, &[1, 3, 6, 1], None, vec![]),
    );
    check(
        "edge_tedge_extra_in_varbind",
        v2c(
            "public",
            None,
            &[1, 3, 6, 1, 4, 1, 99999, 0, 9],
            None,
            vec![(p(1), SnmpValue::Integer32(1))],
        ),
    );
    check(
        "inform_tedge",
        v2c(
            "public",
            Some(1_416_657_776),
            &[1, 3, 6, 1, 4, 1, 99999, 0, 2],
            Some(777),
            vec![(p(1), text("inform me"))],
        ),
    );
    check(
        "inform_sharpsnmp",
        v2c(
            "public",
            Some(1),
            &[1, 3, 6, 1, 4, 1, 2162, 1000, 2],
            Some(16352),
            vec![vb(
                &[1, 3, 6, 1, 4, 1, 2162, 1001, 21, 0],
                text("InformTest"),
            )],
        ),
    );
}

#[test]
fn decodes_v3_traps() {
    use SecurityLevel::*;
    for (name, user, level) in [
        ("v3_noauth", "noauthuser", NoAuthNoPriv),
        ("v3_md5", "md5user", AuthNoPriv),
        ("v3_sha", "shauser", AuthNoPriv),
        ("v3_sha_aes", "trapuser", AuthPriv),
        ("v3_md5_des", "desuser", AuthPriv),
        ("v3_sha256_aes", "sha256user", AuthPriv),
        ("v3_sha_aes256", "aes256user", AuthPriv),
        ("v3_sha512_aes192", "sha512user", AuthPriv),
        ("v3_md5_aes192", "aes192md5", AuthPriv),
        ("v3_tedge_sha_aes", "trapuser", AuthPriv),
    ] {
        check(name, v3(user, level));
        let t = shared().handle(&fixture(name), peer()).trap.unwrap();
        assert_eq!(
            t.engine_id.as_deref(),
            Some(&[0x80, 0, 0, 0, 1, 2, 3, 4][..]),
            "{name}"
        );
    }
    check(
        "v3_gosnmp_md5",
        Expect {
            request_id: Some(957_979_745),
            trap_oid: &[1, 3, 6, 1, 2, 1, 1],
            uptime: Some(1_388_524),
            varbinds: vec![
                vb(&[1, 3, 6, 1, 2, 1, 1, 1, 0], text("red laptop")),
                vb(&[1, 3, 6, 1, 2, 1, 1, 7, 0], SnmpValue::Integer32(5)),
                vb(
                    &[1, 3, 6, 1, 2, 1, 1, 2],
                    SnmpValue::ObjectIdentifier(vec![1, 3, 6, 1, 4, 1, 2, 3, 4, 5]),
                ),
            ],
            ..v3("myuser", AuthNoPriv)
        },
    );
    check(
        "v3_gosnmp_md5_aes",
        Expect {
            trap_oid: &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 0, 1],
            uptime: Some(400_998),
            varbinds: vec![vb(
                &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 2, 1],
                SnmpValue::Integer32(60),
            )],
            ..v3("myuser2", AuthPriv)
        },
    );
}

/// RFC 3416 §4.2.7: the Response carries the request-id and varbinds of the InformRequest.
#[test]
fn v2c_inform_response_echoes_request() {
    for name in ["inform_tedge", "inform_sharpsnmp", "v2c_inform"] {
        let request = fixture(name);
        let outcome = shared().handle(&request, peer());
        let response = outcome.response.expect(name);
        let decode = |bytes: &[u8]| {
            let mut msg = ber::Reader::new(bytes).read_sequence().unwrap();
            let version = msg.read_integer().unwrap();
            let community = msg.read_octets().unwrap().to_vec();
            (version, community, pdu::Pdu::decode(&mut msg).unwrap())
        };
        let (rv, rc, rpdu) = decode(&response);
        let (qv, qc, qpdu) = decode(&request);
        assert_eq!((rv, rc), (qv, qc), "{name}");
        assert_eq!(rpdu.tag, pdu::TAG_RESPONSE, "{name}");
        assert_eq!(
            (rpdu.request_id, rpdu.error_status, rpdu.error_index),
            (qpdu.request_id, 0, 0),
            "{name}"
        );
        assert_eq!(rpdu.varbinds, qpdu.varbinds, "{name}");
    }
}

/// snmp2, an independent decoder, agrees on every v1/v2c fixture we accept.
#[test]
fn snmp2_agrees_on_v1_v2c() {
    let r = shared();
    for (name, bytes) in fixtures() {
        let Some(t) = r.handle(&bytes, peer()).trap else {
            continue;
        };
        if t.version == SnmpVersion::V3 {
            continue;
        }
        let copy = bytes.clone(); // snmp2 may write into its input (crates.md §1.4): a private copy.
        let theirs = snmp2::Pdu::from_bytes(&copy).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let count = theirs.varbinds.count();
        match t.version {
            SnmpVersion::V1 => {
                let info = theirs.v1_trap_info.as_ref().unwrap();
                let v1 = t.v1.as_ref().unwrap();
                assert_eq!(i64::from(v1.generic_trap), info.generic_trap, "{name}");
                assert_eq!(info.timestamp, v1.time_stamp, "{name}");
                assert_eq!(count, t.varbinds.len(), "{name}");
            }
            _ => {
                assert_eq!(theirs.req_id, t.request_id, "{name}");
                let header = 1 + usize::from(t.uptime.is_some());
                assert_eq!(count, t.varbinds.len() + header, "{name}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals.

fn with_users(edit: impl FnOnce(&mut SnmpSettings)) -> SnmpReceiver {
    let mut s = settings();
    edit(&mut s);
    SnmpReceiver::new(s).unwrap()
}

fn get_request_v2c() -> Vec<u8> {
    let mut pdu_body = Vec::new();
    ber::put_integer(&mut pdu_body, ber::TAG_INTEGER, 7);
    ber::put_integer(&mut pdu_body, ber::TAG_INTEGER, 0);
    ber::put_integer(&mut pdu_body, ber::TAG_INTEGER, 0);
    ber::put_tlv(&mut pdu_body, ber::TAG_SEQUENCE, &[]);
    let mut body = Vec::new();
    ber::put_integer(&mut body, ber::TAG_INTEGER, 1);
    ber::put_tlv(&mut body, ber::TAG_OCTET_STRING, b"public");
    ber::put_tlv(&mut body, 0xa0, &pdu_body);
    ber::wrap(ber::TAG_SEQUENCE, &body)
}

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length).
fn patch(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern");
    bytes[at..at + to.len()].copy_from_slice(to);
    bytes
}

#[test]
fn refusals() {
    let flip_last = |mut b: Vec<u8>| {
        let n = b.len();
        b[n - 1] ^= 1;
        b
    };
    let public_only = &with_users(|s| s.communities = vec!["public".into()]);
    let pinned = &with_users(|s| s.users[3].engine_id = Some(vec![0x80, 0, 0, 0, 1, 9, 9, 9]));
    let auth_only = &with_users(|s| s.users[3].privacy = None);
    let wrong_priv =
        &with_users(|s| s.users[3].privacy = Some((PrivProtocol::Aes128, "notthepassword".into())));
    let nobody = &with_users(|s| s.users.clear());
    let v2c = fixture("v2c_linkdown5");
    let cases: Vec<(&str, &SnmpReceiver, Vec<u8>, Refusal)> = vec![
        (
            "community",
            public_only,
            fixture("v2c_tedge_types_private"),
            Refusal::BadCommunity,
        ),
        (
            "community v1",
            shared(),
            patch(fixture("v1_linkdown"), b"public", b"xublic"),
            Refusal::BadCommunity,
        ),
        (
            "corpus wrong key",
            shared(),
            fixture("edge_tedge_wrong_auth"),
            Refusal::WrongDigest,
        ),
        (
            "wrong auth",
            shared(),
            fixture("v3_wrong_auth"),
            Refusal::WrongDigest,
        ),
        (
            "altered content",
            shared(),
            flip_last(fixture("v3_md5")),
            Refusal::WrongDigest,
        ),
        (
            "unknown user",
            nobody,
            fixture("v3_sha_aes"),
            Refusal::UnknownUser,
        ),
        (
            "pinned engine",
            pinned,
            fixture("v3_sha_aes"),
            Refusal::UnknownEngineId,
        ),
        (
            "level",
            auth_only,
            fixture("v3_sha_aes"),
            Refusal::UnsupportedSecurityLevel,
        ),
        (
            "noauth for auth user",
            shared(),
            patch(fixture("v3_noauth"), b"noauthuser", b"md5user\0\0\0"),
            Refusal::UnknownUser,
        ),
        (
            "wrong priv",
            wrong_priv,
            fixture("v3_sha_aes"),
            Refusal::DecryptionError,
        ),
        (
            "corpus truncated",
            shared(),
            fixture("edge_sharpsnmp_truncated"),
            Refusal::Truncated,
        ),
        (
            "cut",
            shared(),
            v2c[..v2c.len() - 3].to_vec(),
            Refusal::Truncated,
        ),
        ("empty", shared(), vec![], Refusal::Truncated),
        (
            "v1 PDU in v2c",
            shared(),
            fixture("edge_sharpsnmp_v1pdu_in_v2c"),
            Refusal::Malformed,
        ),
        (
            "bad varbind",
            shared(),
            patch(
                v2c.clone(),
                &[0x40, 0x04, 10, 0, 0, 1],
                &[0x45, 0x04, 10, 0, 0, 1],
            ),
            Refusal::TruncatedVarbinds,
        ),
        (
            "get",
            shared(),
            get_request_v2c(),
            Refusal::NotANotification,
        ),
        (
            "version 2",
            shared(),
            patch(v2c.clone(), &[0x02, 0x01, 0x01], &[0x02, 0x01, 0x02]),
            Refusal::UnsupportedVersion,
        ),
        (
            "text",
            shared(),
            b"<13>hello syslog".to_vec(),
            Refusal::Malformed,
        ),
        (
            "too big",
            shared(),
            vec![0x30; MAX_DATAGRAM_BYTES + 1],
            Refusal::Malformed,
        ),
    ];
    for (what, r, bytes, reason) in cases {
        let outcome = r.handle(&bytes, peer());
        assert_eq!(outcome.refusal, Some(reason), "{what}");
        assert_eq!(outcome.trap, None, "{what}");
        assert_eq!(outcome.response, None, "{what}: traps are not reportable");
        assert!(!reason.as_str().is_empty());
    }
}

/// More than `MAX_VARBINDS` varbinds is refused, not truncated.
#[test]
fn too_many_varbinds_are_refused() {
    let build = |n: usize| {
        let mut list = Vec::new();
        let mut one = Vec::new();
        ber::put_oid(&mut one, pdu::SNMP_TRAP_OID_0);
        ber::put_oid(&mut one, LINK_DOWN);
        ber::put_tlv(&mut list, ber::TAG_SEQUENCE, &one);
        for _ in 1..n {
            let mut vbv = Vec::new();
            ber::put_oid(&mut vbv, IF_INDEX_3);
            ber::put_tlv(&mut vbv, ber::TAG_NULL, &[]);
            ber::put_tlv(&mut list, ber::TAG_SEQUENCE, &vbv);
        }
        let mut pdu_body = Vec::new();
        for v in [1, 0, 0] {
            ber::put_integer(&mut pdu_body, ber::TAG_INTEGER, v);
        }
        ber::put_tlv(&mut pdu_body, ber::TAG_SEQUENCE, &list);
        let mut body = Vec::new();
        ber::put_integer(&mut body, ber::TAG_INTEGER, 1);
        ber::put_tlv(&mut body, ber::TAG_OCTET_STRING, b"public");
        ber::put_tlv(&mut body, pdu::TAG_V2_TRAP, &pdu_body);
        ber::wrap(ber::TAG_SEQUENCE, &body)
    };
    let ok = shared().handle(&build(pdu::MAX_VARBINDS), peer());
    assert_eq!(
        ok.trap.map(|t| t.varbinds.len()),
        Some(pdu::MAX_VARBINDS - 1)
    );
    let too_many = shared().handle(&build(pdu::MAX_VARBINDS + 1), peer());
    assert_eq!(
        (too_many.refusal, too_many.trap),
        (Some(Refusal::Malformed), None)
    );
}

#[test]
fn usm_counters_count() {
    let r = with_users(|_| ());
    r.handle(&fixture("v3_wrong_auth"), peer());
    r.handle(&fixture("edge_tedge_wrong_auth"), peer());
    assert_eq!(
        r.usm_stats()
            .wrong_digests
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let r = with_users(|s| s.users.clear());
    r.handle(&fixture("v3_sha"), peer());
    assert_eq!(
        r.usm_stats()
            .unknown_user_names
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

/// A flood of fresh engine ids cannot make us localise keys without bound.
#[test]
fn new_engine_ids_are_rate_limited() {
    let r = with_users(|s| s.localisations_per_sec = 3);
    assert_eq!(r.handle(&fixture("v3_sha"), peer()).refusal, None);
    let engine = [0x80, 0, 0, 0, 1, 2, 3, 4];
    let mut reasons = Vec::new();
    for i in 0..4u8 {
        let bytes = patch(fixture("v3_sha"), &engine, &[0x80, 0, 0, 0, 9, 9, 9, i]);
        reasons.push(r.handle(&bytes, peer()).refusal);
    }
    use Refusal::*;
    assert_eq!(
        reasons,
        vec![
            Some(WrongDigest),
            Some(WrongDigest),
            Some(RateLimited),
            Some(RateLimited)
        ]
    );
    // A pair already cached is not affected.
    assert_eq!(r.handle(&fixture("v3_sha"), peer()).refusal, None);
}

// ---------------------------------------------------------------------------------------------
// The authoritative engine.

/// RFC 3414 §4: the discovery probe gets a Report with usmStatsUnknownEngineIDs.0 and our
/// engine id, boots and time, echoing the msgID; it is not a refusal.
#[test]
fn discovery_probe_gets_unknown_engine_id_report() {
    let r = shared();
    let probe = fixture("v3_probe");
    let outcome = r.handle(&probe, peer());
    assert_eq!((outcome.trap.as_ref(), outcome.refusal), (None, None));
    let (flags, msg_id, engine, boots, _time, report) =
        v3::testing::open(r, "", &outcome.response.unwrap());
    let request = v3::Message::parse(&probe).unwrap();
    assert_eq!(
        (flags, msg_id, engine.as_slice(), boots),
        (0, request.msg_id, LOCAL_ENGINE, 1)
    );
    assert_eq!(report.tag, pdu::TAG_REPORT);
    assert_eq!(
        report.varbinds,
        vec![vb(
            &[1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0],
            SnmpValue::Counter32(1)
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Interoperability with net-snmp.

/// Runs `command` (with `{h}` replaced by our address) against a loop that feeds every
/// datagram to `handle` and sends the response back; returns the exit status and the outcomes.
/// A datagram net-snmp sent and what `handle` made of it.
type Exchange = (Vec<u8>, Outcome);

fn interop(receiver: SnmpReceiver, command: &str) -> Option<(bool, Vec<Exchange>)> {
    use std::net::UdpSocket;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    if std::process::Command::new("snmpinform")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("snmpinform not installed; skipping");
        return None;
    }
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
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
                outcomes.push((buf[..n].to_vec(), outcome));
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
    let Some((ok, outcomes)) = interop(receiver(), cmd) else {
        return;
    };
    assert!(ok, "snmpinform exit status: {outcomes:?}");
    let trap = outcomes[0].1.trap.as_ref().unwrap();
    assert!(trap.inform);
    assert_eq!(
        trap.varbinds,
        vec![(
            vec![1, 3, 6, 1, 4, 1, 8072, 2, 3, 2, 1],
            SnmpValue::OctetString(b"hello".to_vec())
        )]
    );
}

fn check_v3_inform(args: &str) {
    let cmd = format!(
        "snmpinform -v 3 {args} -r 1 -t 3 {{h}} 777 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.3 i 3"
    );
    let Some((ok, outcomes)) = interop(receiver(), &cmd) else {
        return;
    };
    let summary: Vec<_> = outcomes
        .iter()
        .map(|(_, o)| (o.refusal, o.response.is_some(), o.trap.is_some()))
        .collect();
    assert!(ok, "snmpinform {args} failed; outcomes {summary:?}");
    let user = args
        .split_whitespace()
        .skip_while(|a| *a != "-u")
        .nth(1)
        .unwrap();
    let mut answered = false;
    for (request, outcome) in &outcomes {
        let Some(response) = &outcome.response else {
            continue;
        };
        // Every answer echoes the request's msgID (snmp2 would write the request-id there).
        let msg_id = v3::Message::parse(request).unwrap().msg_id;
        let (_, rid, engine, boots, _, pdu) = v3::testing::open(shared(), user, response);
        assert_eq!(
            (rid, engine.as_slice(), boots),
            (msg_id, LOCAL_ENGINE, 1),
            "{args}"
        );
        if let Some(trap) = &outcome.trap {
            assert!(trap.inform);
            assert_eq!(trap.trap_oid, vec![1, 3, 6, 1, 6, 3, 1, 1, 5, 3]);
            assert_eq!(trap.engine_id.as_deref(), Some(LOCAL_ENGINE));
            assert_eq!(trap.user.as_deref(), Some(user));
            assert_eq!(
                (pdu.tag, pdu.request_id, pdu.error_status),
                (pdu::TAG_RESPONSE, trap.request_id, 0)
            );
            assert_eq!(pdu.varbinds[2..], trap.varbinds[..], "{args}");
            answered = true;
        } else {
            assert_eq!(pdu.tag, pdu::TAG_REPORT, "{args}");
        }
    }
    assert!(answered, "{args}: no inform answered: {summary:?}");
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

/// A wrong auth password gets a usmStatsWrongDigests Report, and net-snmp gives up at once.
#[test]
fn netsnmp_gets_wrong_digest_report() {
    let cmd = "snmpinform -v 3 -u trapuser -l authPriv -a SHA -A wrongpassword -x AES -X privpassword -r 0 -t 3 {h} 777 1.3.6.1.6.3.1.1.5.3";
    let Some((ok, outcomes)) = interop(receiver(), cmd) else {
        return;
    };
    assert!(!ok);
    let (_, last) = outcomes.last().unwrap();
    assert_eq!(
        (last.refusal, last.trap.as_ref()),
        (Some(Refusal::WrongDigest), None)
    );
    let (flags, _, _, _, _, pdu) =
        v3::testing::open(shared(), "trapuser", last.response.as_ref().unwrap());
    assert_eq!(
        flags, 0,
        "error Reports are unauthenticated (RFC 3414 §3.2)"
    );
    assert_eq!(pdu.varbinds[0].0, vec![1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0]);
}

/// With our engine id given (`-e`) and stale boots/time (`-Z`), net-snmp gets an authenticated
/// usmStatsNotInTimeWindows Report, resynchronises and resends (RFC 3414 §3.2 step 7, §4).
#[test]
fn netsnmp_resyncs_after_not_in_time_window() {
    check_v3_inform(
        "-e 0x80001f88050102030405060708 -Z 7,5000 -u trapuser -l authPriv -a SHA -A authpassword -x AES -X privpassword",
    );
}

// ---------------------------------------------------------------------------------------------
// Settings, engine id, thread safety.

#[test]
fn settings_from_config() {
    use crate::config::{SnmpSection, SnmpUserSection};
    let u = |auth: Option<&str>,
             auth_key: Option<&str>,
             privacy: Option<&str>,
             privacy_key: Option<&str>| SnmpUserSection {
        name: "u".into(),
        engine_id: Some("0x8000000001020304".into()),
        auth: auth.map(Into::into),
        auth_key: auth_key.map(Into::into),
        privacy: privacy.map(Into::into),
        privacy_key: privacy_key.map(Into::into),
    };
    let build = |users: Vec<SnmpUserSection>| {
        let section = SnmpSection {
            communities: vec![],
            users,
        };
        SnmpSettings::from_config(&section, generate_engine_id(), 1, Instant::now())
    };
    let ok = build(vec![u(
        Some("SHA-256"),
        Some("authpassword"),
        Some("AES-256"),
        Some("privpassword"),
    )])
    .unwrap();
    assert_eq!(ok.communities, vec!["public".to_string()]);
    assert_eq!(
        ok.users[0].engine_id.as_deref(),
        Some(&[0x80, 0, 0, 0, 1, 2, 3, 4][..])
    );
    assert_eq!(ok.users[0].auth.as_ref().unwrap().0, AuthProtocol::Sha256);
    assert_eq!(
        ok.users[0].privacy.as_ref().unwrap().0,
        PrivProtocol::Aes256
    );
    assert!(SnmpReceiver::new(ok).is_ok());
    for bad in [
        u(Some("SHA"), None, None, None),
        u(Some("SHA3"), Some("authpassword"), None, None),
        u(None, None, Some("AES"), Some("privpassword")),
        u(Some("SHA"), Some("short"), None, None),
        u(
            Some("MD5"),
            Some("authpassword"),
            Some("IDEA"),
            Some("privpassword"),
        ),
    ] {
        assert!(build(vec![bad.clone()]).is_err(), "{bad:?}");
    }
    let mut bad_engine = u(None, None, None, None);
    bad_engine.engine_id = Some("xyz".into());
    assert!(build(vec![bad_engine]).is_err());
    let mut s = settings();
    s.local_engine_id = vec![1, 2];
    assert!(matches!(SnmpReceiver::new(s), Err(SettingsError::EngineId)));
}

#[test]
fn generated_engine_ids_follow_rfc3411() {
    let a = generate_engine_id();
    assert_eq!(&a[..5], &[0x80, 0x00, 0x1f, 0x88, 0x05]);
    assert_eq!(a.len(), 13);
    assert_ne!(a, generate_engine_id());
}

#[test]
fn receiver_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SnmpReceiver>();
    assert_eq!(shared().engine_id(), LOCAL_ENGINE);
}

// ---------------------------------------------------------------------------------------------
// Sealing for the fuzzer (`SnmpReceiver::seal_for_fuzzing`).

/// A v3 trap carrying `scoped` (a plaintext ScopedPDU) with room for the digest and salt that
/// sealing fills in: what the `snmp_usm` fuzz target's seeds look like.
fn unsealed_v3(user: &str, flags: u8, mac_len: usize, scoped: &[u8]) -> Vec<u8> {
    let mut usm = Vec::new();
    ber::put_tlv(
        &mut usm,
        ber::TAG_OCTET_STRING,
        &[0x80, 0, 0, 0, 1, 2, 3, 4],
    );
    ber::put_integer(&mut usm, ber::TAG_INTEGER, 7);
    ber::put_integer(&mut usm, ber::TAG_INTEGER, 4242);
    ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, user.as_bytes());
    ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, &vec![0; mac_len]);
    ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, &[9; 8]);
    let mut global = Vec::new();
    ber::put_integer(&mut global, ber::TAG_INTEGER, 77);
    ber::put_integer(&mut global, ber::TAG_INTEGER, 65_507);
    ber::put_tlv(&mut global, ber::TAG_OCTET_STRING, &[flags]);
    ber::put_integer(&mut global, ber::TAG_INTEGER, 3);
    let mut body = Vec::new();
    ber::put_integer(&mut body, ber::TAG_INTEGER, 3);
    ber::put_tlv(&mut body, ber::TAG_SEQUENCE, &global);
    ber::put_tlv(
        &mut body,
        ber::TAG_OCTET_STRING,
        &ber::wrap(ber::TAG_SEQUENCE, &usm),
    );
    body.extend_from_slice(scoped);
    ber::wrap(ber::TAG_SEQUENCE, &body)
}

#[test]
fn sealed_messages_pass_usm_and_unsealed_ones_do_not() {
    let r = shared();
    let noauth = fixture("v3_noauth");
    let expected = r.handle(&noauth, peer()).trap.expect("v3_noauth decodes");
    let msg = v3::Message::parse(&noauth).expect("v3_noauth parses");
    let scoped = ber::wrap(ber::TAG_SEQUENCE, msg.data);
    for (user, flags, auth, level) in [
        ("shauser", 1, AuthProtocol::Sha1, SecurityLevel::AuthNoPriv),
        ("trapuser", 3, AuthProtocol::Sha1, SecurityLevel::AuthPriv),
        ("desuser", 3, AuthProtocol::Md5, SecurityLevel::AuthPriv),
        (
            "sha512user",
            3,
            AuthProtocol::Sha512,
            SecurityLevel::AuthPriv,
        ),
        ("aes256user", 3, AuthProtocol::Sha1, SecurityLevel::AuthPriv),
    ] {
        let unsealed = unsealed_v3(user, flags, auth.mac_len(), &scoped);
        let refused = r.handle(&unsealed, peer()).refusal;
        assert_eq!(refused, Some(Refusal::WrongDigest), "{user} unsealed");
        let trap = r
            .handle(&r.seal_for_fuzzing(&unsealed), peer())
            .trap
            .unwrap_or_else(|| panic!("{user} sealed is accepted"));
        assert_eq!(trap.security_level, level, "{user}");
        assert_eq!(trap.user.as_deref(), Some(user));
        assert_eq!(
            (trap.trap_oid, trap.varbinds),
            (expected.trap_oid.clone(), expected.varbinds.clone()),
            "{user}"
        );
    }
    // Nothing to seal: handed back as given.
    assert_eq!(r.seal_for_fuzzing(&noauth), noauth);
    assert_eq!(r.seal_for_fuzzing(b"junk"), b"junk");
}

// ---------------------------------------------------------------------------------------------
// Robustness.

/// Every strict prefix of every fixture is refused without a panic (the edge fixtures with
/// trailing bytes may still hold a whole message, so they are only run).
#[test]
fn every_truncation_is_refused() {
    let r = shared();
    for (name, bytes) in fixtures() {
        for n in 0..bytes.len() {
            let outcome = r.handle(&bytes[..n], peer());
            if !name.contains("tail") && !name.contains("trailing") {
                assert!(outcome.trap.is_none(), "{name} cut at {n}");
            }
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn all() -> Vec<Vec<u8>> {
        let mut v: Vec<_> = fixtures().into_values().collect();
        v.sort();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let o = shared().handle(&bytes, peer());
            prop_assert!(o.trap.is_none() || o.refusal.is_none());
        }

        #[test]
        fn bit_flipped_fixtures_never_panic(index in 0usize..64, at in any::<prop::sample::Index>(), mask in 1u8..=255, cut in any::<prop::sample::Index>()) {
            let fixtures = all();
            let mut bytes = fixtures[index % fixtures.len()].clone();
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
            let o = shared().handle(&bytes, peer());
            prop_assert!(o.trap.is_none() || o.refusal.is_none());
            let n = cut.index(bytes.len() + 1);
            let _ = shared().handle(&bytes[..n], peer());
        }

        /// A flipped bit anywhere in an authenticated v3 message is never accepted, except in
        /// the parts the digest does not protect from the decoder's point of view (none).
        #[test]
        fn v3_bit_flips_are_not_accepted(which in 0usize..5, at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let name = ["v3_md5", "v3_sha", "v3_sha_aes", "v3_md5_des", "v3_sha256_aes"][which];
            let mut bytes = fixture(name);
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let o = shared().handle(&bytes, peer());
            prop_assert!(o.trap.is_none(), "{} byte {} bit {}: {:?}", name, i, bit, o.refusal);
        }
    }
}
