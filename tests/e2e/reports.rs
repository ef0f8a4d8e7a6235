//! Availability reports from real traps: `snmptrap` sends linkDown, then linkUp ~2 s later;
//! the day's report through the real binary shows one outage as long as the measured gap,
//! the availability that follows from it, the CSV form, and the same after a restart.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Instance, netsnmp, prepare_data_dir};

const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
const LINK_UP: &str = "1.3.6.1.6.3.1.1.5.4";
const IF_INDEX_7: &str = "1.3.6.1.2.1.2.2.1.1.7";

fn start() -> Instance {
    let (dir, token) = prepare_data_dir();
    let config = dir.path().join("trapline.toml");
    std::fs::write(&config, "[snmp]\ncommunities = [\"public\"]\n").unwrap();
    let mut tl = Instance::start_in(dir, token, &["--config", config.to_str().unwrap()]);
    tl.trap_udp = Some(tl.wait_for_listener("trap-udp"));
    tl
}

/// Sends one v2c trap for ifIndex 7; returns the instants just before and after `snmptrap`
/// ran (the datagram left, and was received, between the two).
fn trap(tl: &Instance, oid: &str) -> (Instant, Instant) {
    let to = tl.trap_udp.unwrap().to_string();
    let before = Instant::now();
    let code = netsnmp(
        "snmptrap",
        &[
            "-v", "2c", "-c", "public", &to, "", oid, IF_INDEX_7, "i", "7",
        ],
    );
    let after = Instant::now();
    assert_eq!(code, 0, "snmptrap {oid}");
    (before, after)
}

fn seconds_between(a: &str, b: &str) -> f64 {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    (t(b) - t(a)).num_microseconds().unwrap() as f64 / 1e6
}

/// The day's report for `host`, once its outage has ended (the recorder writes it within
/// ~200 ms of the alert's clear).
fn wait_for_closed_outage(tl: &Instance, at: &str, host: &str) -> Value {
    let path = format!("/api/v1/reports/availability?period=day&at={at}&host={host}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, report) = tl.api(&path);
        assert_eq!(status, 200, "{report}");
        if report["outages"][0]["end"].is_string() {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "no ended outage: {report:#}\n{}",
            tl.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn availability_from_real_link_down_and_up_traps_equals_the_measured_gap() {
    let tl = start();
    let down = trap(&tl, LINK_DOWN);
    let alert = tl.wait_alert("state=open", |a| a["rule"] == "snmp-link-down");
    let host = alert["host"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(2));
    let up = trap(&tl, LINK_UP);
    tl.wait_alert("state=cleared", |a| a["id"] == alert["id"]);

    let at = alert["first_seen"].as_str().unwrap().to_string();
    let report = wait_for_closed_outage(&tl, &at, &host);
    let outages = report["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 1, "{report:#}");
    let outage = &outages[0];
    assert_eq!(outage["service"], format!("{host}/if/7"));
    assert_eq!(outage["source"], "alert");
    assert_eq!(outage["rule"], "snmp-link-down");
    assert_eq!(outage["start"], alert["first_seen"]);

    // The outage runs from the linkDown's receive time to the linkUp's (both stamped by the
    // listener when recvmmsg returns). Each trap was received between the instants taken
    // around its `snmptrap` run, so the true gap lies between (up.before - down.after) and
    // (up.after - down.before); 50 ms more either way covers loopback delivery and the
    // microsecond rounding of the stored times. On a busy machine the window widens with
    // snmptrap's own run time, never the other way round.
    let duration = outage["duration_seconds"].as_f64().unwrap();
    let shortest = (up.0 - down.1).as_secs_f64() - 0.05;
    let longest = (up.1 - down.0).as_secs_f64() + 0.05;
    assert!(
        (shortest..=longest).contains(&duration),
        "outage {duration} s, measured gap between {shortest} and {longest} s"
    );
    assert!(duration >= 1.9, "{duration}");

    // Availability over the day so far follows from it.
    let figures = &report["hosts"][0];
    assert_eq!(figures["host"], host.as_str());
    assert_eq!(figures["outages"], 1);
    assert!((figures["downtime_seconds"].as_f64().unwrap() - duration).abs() < 1e-3);
    assert!((figures["mttr_seconds"].as_f64().unwrap() - duration).abs() < 1e-3);
    let observed = seconds_between(
        report["since"].as_str().unwrap(),
        report["observed_until"].as_str().unwrap(),
    );
    let expected = 100.0 * (observed - duration) / observed;
    let percent = figures["availability_percent"].as_f64().unwrap();
    assert!((percent - expected).abs() < 1e-6, "{percent} vs {expected}");
    assert!(percent < 100.0);
    assert_eq!(figures["services"][0]["service"], format!("{host}/if/7"));

    // CSV: a row for the host and one for the port.
    let csv = reqwest::blocking::Client::new()
        .get(tl.url(&format!(
            "/api/v1/reports/availability?period=day&at={at}&host={host}&format=csv"
        )))
        .bearer_auth(&tl.token)
        .send()
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0]
            .starts_with("host,service,availability_percent,downtime_seconds,outages,mttr_seconds")
    );
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((row[0], row[1], row[4]), (host.as_str(), "", "1"));
    assert!(
        (row[3].parse::<f64>().unwrap() - duration).abs() < 1e-3,
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("{host},{host}/if/7,")),
        "{text}"
    );

    // The outage survives a restart.
    let tl = tl.restart();
    let again = wait_for_closed_outage(&tl, &at, &host);
    assert_eq!(again["outages"][0]["id"], outage["id"]);
    assert_eq!(again["outages"][0]["end"], outage["end"]);
}
