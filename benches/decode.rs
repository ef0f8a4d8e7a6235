//! Throughput of syslog decode and decode + normalize, per message, over the fixture lines.
//!
//! Measures only CPU work on in-memory lines (no sockets, no store). Vendor lines are
//! constructed here, like the unit tests' examples, because the vendor corpus files may not
//! be copied into the repository.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trapline::config::SourceTable;
use trapline::decode::syslog::{DecodeContext, decode};
use trapline::event::Transport;
use trapline::normalize::{LevelTable, Normalizer};

const LINUX: &str = include_str!("../tests/fixtures/syslog/loghub_linux_2k.log");
const OPENSSH: &str = include_str!("../tests/fixtures/syslog/loghub_openssh_2k.log");
const RFC: &str = include_str!("../tests/fixtures/syslog/rfc_examples.log");
const LOOSE: &str = include_str!("../tests/fixtures/syslog/syslog_loose_fixtures.log");

const VENDOR: &[&str] = &[
    "<189>123: *Mar  1 00:01:02.345: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
    "<166>Mar 01 2024 12:00:00: %ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.1/5000",
    "<189>2024 Mar 01 12:00:00 sw1: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/9 is down",
    "<189>date=2020-04-23 time=12:17:48 devname=\"FGT1\" devid=\"FGT60E\" logid=\"0000000013\" type=\"traffic\" level=\"notice\" tz=\"-0500\" srcip=10.0.0.1 dstip=192.0.2.1 action=\"deny\"",
    "<134>Jul  3 19:10:30 filterlog[72237]: 146,,,1535324496,igb1.12,match,block,in,4,0x0,,63,12617,0,DF,6,tcp,60,10.0.12.50,192.0.2.1,49724,853,0,S,1891286705,,64240,,mss",
    "<14>Sep 17 16:37:25 WIN-1 MSWinEventLog\t1\tSecurity\t6862\tFri Sep 17 16:37:25 2021\t4608\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tWIN-1\tSecurity State Change\t\tWindows is starting up.\t15",
];

fn lines(file: &'static str) -> Vec<&'static [u8]> {
    file.split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(str::as_bytes)
        .collect()
}

fn bench(c: &mut Criterion) {
    let ctx = DecodeContext {
        received_at: chrono::Utc::now(),
        timezone: chrono_tz::UTC,
    };
    let normalizer = Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default());
    let peer: SocketAddr = "192.0.2.1:514".parse().expect("address");
    let mut std_lines = lines(RFC);
    std_lines.extend(lines(LOOSE));
    let sets: [(&str, Vec<&[u8]>); 4] = [
        ("loghub_linux", lines(LINUX)),
        ("loghub_openssh", lines(OPENSSH)),
        ("rfc_and_loose", std_lines),
        ("vendor", VENDOR.iter().map(|l| l.as_bytes()).collect()),
    ];
    let mut group = c.benchmark_group("syslog");
    for (name, set) in &sets {
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                for line in set {
                    let _ = black_box(decode(black_box(line), &ctx));
                }
            })
        });
        group.bench_function(format!("normalize/{name}"), |b| {
            b.iter(|| {
                for line in set {
                    black_box(normalizer.syslog(
                        black_box(line),
                        peer,
                        Transport::Udp,
                        1_795_435_200_000_000_000,
                    ));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
