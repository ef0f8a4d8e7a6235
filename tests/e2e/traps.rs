//! SNMP traps and informs from the real net-snmp tools (`snmptrap`, `snmpinform`), v1 to v3,
//! checked through the events API and `/metrics`.

use serde_json::Value;

use crate::harness::{Instance, netsnmp, prepare_data_dir};

const CONFIG: &str = r#"
[snmp]
communities = ["public", "private"]

[[snmp.users]]
name = "shauser"
engine_id = "0x8000000001020304"
auth = "SHA"
auth_key = "authpass123"
privacy = "AES"
privacy_key = "privpass123"

[[snmp.users]]
name = "md5user"
auth = "MD5"
auth_key = "md5pass1234"
privacy = "DES"
privacy_key = "despass1234"

[[snmp.users]]
name = "authonly"
auth = "SHA-256"
auth_key = "authonly123"
"#;

fn start() -> Instance {
    let (dir, token) = prepare_data_dir();
    let config = dir.path().join("trapline.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut tl = Instance::start_in(dir, token, &["--config", config.to_str().unwrap()]);
    tl.trap_udp = Some(tl.wait_for_listener("trap-udp"));
    tl
}

const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
const LINK_UP: &str = "1.3.6.1.6.3.1.1.5.4";
const IF_INDEX_2: &str = "1.3.6.1.2.1.2.2.1.1.2";
const IF_DESCR_2: &str = "1.3.6.1.2.1.2.2.1.2.2";
const IF_OPER_2: &str = "1.3.6.1.2.1.2.2.1.8.2";

fn by_message<'a>(events: &'a [Value], start: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.starts_with(start)))
        .unwrap_or_else(|| panic!("no event starting {start:?} in {events:#?}"))
}

#[test]
fn v1_v2c_and_v2c_inform_are_decoded_named_and_levelled() {
    let tl = start();
    let to = tl.trap_udp.unwrap().to_string();
    let link_down = [
        LINK_DOWN, IF_INDEX_2, "i", "2", IF_DESCR_2, "s", "eth1", IF_OPER_2, "i", "2",
    ];
    assert_eq!(
        netsnmp(
            "snmptrap",
            &[&["-v", "2c", "-c", "public", &to, ""][..], &link_down[..]].concat()
        ),
        0
    );
    // v1 generic linkUp (3) from agent 10.1.2.3: RFC 3584 translation to snmpTraps.4.
    let v1 = [
        "-v",
        "1",
        "-c",
        "private",
        &to,
        "1.3.6.1.4.1.8072.2.3",
        "10.1.2.3",
        "3",
        "0",
        "",
        IF_INDEX_2,
        "i",
        "2",
    ];
    assert_eq!(netsnmp("snmptrap", &v1), 0);
    // An inform is acknowledged: snmpinform exits 0 only when our Response arrived.
    let inform = [
        "-v",
        "2c",
        "-c",
        "public",
        "-r",
        "1",
        "-t",
        "3",
        &to,
        "",
        "1.3.6.1.6.3.1.1.5.1",
    ];
    assert_eq!(
        netsnmp("snmpinform", &inform),
        0,
        "snmpinform -v 2c got its Response"
    );

    let events = tl.wait_events("kind=trap", 3);
    assert_eq!(events.len(), 3);
    let e = by_message(&events, "linkDown");
    assert_eq!(
        e["message"],
        "linkDown ifIndex=2 ifDescr=eth1 ifOperStatus=down(2)"
    );
    assert_eq!(e["level"], "warning");
    assert_eq!(e["kind"], "trap");
    assert_eq!(e["host"], "127.0.0.1");
    assert_eq!(e["trap"]["version"], "v2c");
    assert_eq!(e["trap"]["community"], "public");
    assert_eq!(e["trap"]["trap_oid"], LINK_DOWN);
    assert_eq!(e["trap"]["trap_name"], "IF-MIB::linkDown");
    let varbinds = e["trap"]["varbinds"].as_array().unwrap();
    assert_eq!(varbinds.len(), 3);
    assert_eq!(varbinds[1]["name"], "ifDescr.2");
    assert_eq!(varbinds[1]["type"], "OCTET STRING");
    assert_eq!(varbinds[1]["value"], "eth1");
    assert_eq!(varbinds[2]["value"], "down(2)");

    let e = by_message(&events, "linkUp");
    assert_eq!(e["level"], "none");
    assert_eq!(e["host"], "10.1.2.3", "v1 agent-addr names the host");
    assert_eq!(e["trap"]["version"], "v1");
    assert_eq!(e["trap"]["trap_oid"], LINK_UP);
    assert_eq!(e["trap"]["community"], "private");

    let e = by_message(&events, "coldStart");
    assert_eq!(e["level"], "low");
    assert_eq!(e["trap"]["trap_name"], "SNMPv2-MIB::coldStart");
    // Events show in the API once their block is sealed; "stored" counts them after the group
    // commit's flush, up to ~100 ms later: wait for it, then check nothing more was counted.
    assert_eq!(
        tl.wait_metric("trapline_events_stored_total", "kind=\"trap\"", 3.0),
        3.0
    );
}

#[test]
fn v3_traps_and_informs_authenticate_and_decrypt() {
    let tl = start();
    let to = tl.trap_udp.unwrap().to_string();
    let sha_aes = [
        "-v",
        "3",
        "-e",
        "0x8000000001020304",
        "-u",
        "shauser",
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        "authpass123",
        "-x",
        "AES",
        "-X",
        "privpass123",
        &to,
        "",
        LINK_DOWN,
        IF_INDEX_2,
        "i",
        "7",
    ];
    assert_eq!(netsnmp("snmptrap", &sha_aes), 0);
    let md5_des = [
        "-v",
        "3",
        "-e",
        "0x80000000aabbccdd",
        "-u",
        "md5user",
        "-l",
        "authPriv",
        "-a",
        "MD5",
        "-A",
        "md5pass1234",
        "-x",
        "DES",
        "-X",
        "despass1234",
        &to,
        "",
        LINK_UP,
        IF_INDEX_2,
        "i",
        "8",
    ];
    assert_eq!(netsnmp("snmptrap", &md5_des), 0);
    let auth_only = [
        "-v",
        "3",
        "-e",
        "0x8000000011223344",
        "-u",
        "authonly",
        "-l",
        "authNoPriv",
        "-a",
        "SHA-256",
        "-A",
        "authonly123",
        &to,
        "",
        "1.3.6.1.6.3.1.1.5.5",
    ];
    assert_eq!(netsnmp("snmptrap", &auth_only), 0);
    // v3 inform: trapline is the authoritative engine (discovery, then an encrypted Response).
    let inform = [
        "-v",
        "3",
        "-u",
        "shauser",
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        "authpass123",
        "-x",
        "AES",
        "-X",
        "privpass123",
        "-r",
        "1",
        "-t",
        "3",
        &to,
        "",
        "1.3.6.1.6.3.1.1.5.2",
    ];
    assert_eq!(
        netsnmp("snmpinform", &inform),
        0,
        "snmpinform -v 3 authPriv got its Response"
    );

    let events = tl.wait_events("kind=trap", 4);
    assert_eq!(events.len(), 4, "{events:#?}");
    let e = by_message(&events, "linkDown");
    assert_eq!(e["trap"]["version"], "v3");
    assert_eq!(e["trap"]["user"], "shauser");
    assert_eq!(e["trap"]["varbinds"][0]["value"], "7");
    assert_eq!(by_message(&events, "linkUp")["trap"]["user"], "md5user");
    let e = by_message(&events, "authenticationFailure");
    assert_eq!(e["level"], "low");
    assert_eq!(e["trap"]["user"], "authonly");
    assert_eq!(by_message(&events, "warmStart")["trap"]["user"], "shauser");
    assert!(
        tl.log().contains("SNMP engine ready"),
        "engine id is logged"
    );
}

#[test]
fn refused_notifications_are_counted_by_reason_and_never_stored() {
    let tl = start();
    let to = tl.trap_udp.unwrap().to_string();
    assert_eq!(
        netsnmp("snmptrap", &["-v", "2c", "-c", "guess", &to, "", LINK_DOWN]),
        0
    );
    let wrong_key = [
        "-v",
        "3",
        "-e",
        "0x8000000001020304",
        "-u",
        "shauser",
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        "wrongpass99",
        "-x",
        "AES",
        "-X",
        "privpass123",
        &to,
        "",
        LINK_DOWN,
    ];
    assert_eq!(netsnmp("snmptrap", &wrong_key), 0);
    let unknown_user = [
        "-v",
        "3",
        "-e",
        "0x8000000001020304",
        "-u",
        "mallory",
        "-l",
        "authNoPriv",
        "-a",
        "SHA",
        "-A",
        "whatever123",
        &to,
        "",
        LINK_DOWN,
    ];
    assert_eq!(netsnmp("snmptrap", &unknown_user), 0);
    let wrong_engine = [
        "-v",
        "3",
        "-e",
        "0x8000000099999999",
        "-u",
        "shauser",
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        "authpass123",
        "-x",
        "AES",
        "-X",
        "privpass123",
        &to,
        "",
        LINK_DOWN,
    ];
    assert_eq!(netsnmp("snmptrap", &wrong_engine), 0);
    tl.wait_metric("trapline_traps_refused_total", "", 4.0);
    assert_eq!(
        tl.metric_sum("trapline_traps_refused_total", "reason=\"bad_community\""),
        1.0
    );
    assert_eq!(
        tl.metric_sum("trapline_traps_refused_total", "reason=\"wrong_digest\""),
        1.0
    );
    assert_eq!(
        tl.metric_sum("trapline_traps_refused_total", "reason=\"unknown_user\""),
        1.0
    );
    assert_eq!(
        tl.metric_sum(
            "trapline_traps_refused_total",
            "reason=\"unknown_engine_id\""
        ),
        1.0
    );
    // A good one afterwards proves the listener went on, and that nothing refused was stored.
    assert_eq!(
        netsnmp("snmptrap", &["-v", "2c", "-c", "public", &to, "", LINK_UP]),
        0
    );
    let events = tl.wait_events("kind=trap", 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(tl.events("kind=trap").len(), 1, "{events:#?}");
    assert!(
        tl.log().contains("Refused an SNMP notification"),
        "refusals are logged"
    );
}

#[test]
fn garbage_on_the_trap_port_is_stored_raw_and_counted() {
    let tl = start();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"\x30\x82\xff\xffnot snmp at all", tl.trap_udp.unwrap())
        .unwrap();
    let events = tl.wait_events("kind=trap", 1);
    assert!(events[0]["raw"].is_string(), "{:#}", events[0]);
    assert_eq!(events[0]["level"], "none");
    assert_eq!(
        tl.metric_sum("trapline_parse_errors_total", "kind=\"trap\""),
        1.0
    );
}
