//! Events per second through the rule engine with 10, 100, 1,000 and 10,000 rules.
//!
//! The events are the fixture corpus (loghub Linux and OpenSSH lines, plus a few vendor and
//! trap events) after decode + normalize; the rule sets are the built-in pack followed by N
//! generated rules of the shapes operators write: by app and message regex, by message regex
//! alone, by exact host, by trap name, and a few with no usable index (evaluated for every
//! event). The prefilter must keep 1,000 rules within 2× the per-event cost of 10.
//!
//! `qualify` is the stateless pass on the writer thread; `qualify+alerts` adds the alert
//! engine (dedup folding, thresholds) as the pipeline runs it.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trapline::alerts::{AlertEngine, EngineOptions};
use trapline::config::SourceTable;
use trapline::event::{Event, Transport};
use trapline::mib::MibSet;
use trapline::normalize::{LevelTable, Normalizer};
use trapline::rules::{DEFAULT_PACK, RuleSet, Scratch, load_texts};

const LINUX: &str = include_str!("../tests/fixtures/syslog/loghub_linux_2k.log");
const OPENSSH: &str = include_str!("../tests/fixtures/syslog/loghub_openssh_2k.log");

/// The generated part of a rule set: `n` rules of the shapes operators write — by app and
/// message regex, by message regex alone, by exact host, by trap name, by a message regex
/// whose literal is at its end — and every 100th with no usable index (a host glob), which
/// is evaluated for every event.
fn generated_rules(n: usize) -> String {
    let mut text = String::with_capacity(n * 160);
    for i in 0..n {
        let rule = match i % 5 {
            _ if i % 100 == 99 => format!(
                "[[rule]]\nname = \"edge-{i}\"\nwhen = 'host == \"edge-{i}-*\" and severity <= 2'\nlevel = \"critical\"\n"
            ),
            0 => format!(
                "[[rule]]\nname = \"app-{i}\"\nwhen = 'app == \"daemon{i}\" and message =~ \"error code (?P<code>\\\\d+)\"'\nlevel = \"warning\"\nsummary = \"daemon{i} error {{code}}\"\n"
            ),
            1 => format!(
                "[[rule]]\nname = \"msg-{i}\"\nwhen = 'message =~ \"disk{i} (failed|offline)\"'\nlevel = \"critical\"\n"
            ),
            2 => format!(
                "[[rule]]\nname = \"host-{i}\"\nwhen = 'host == \"server{i}\" and severity <= 3'\nlevel = \"critical\"\n"
            ),
            3 => format!(
                "[[rule]]\nname = \"trap-{i}\"\nwhen = 'trap_name == \"vendorTrap{i}\"'\nlevel = \"warning\"\n"
            ),
            _ => format!(
                "[[rule]]\nname = \"quota-{i}\"\nwhen = 'severity <= 4 and message =~ \"(?P<user>\\\\w+) quota {i} exceeded\"'\nlevel = \"low\"\n"
            ),
        };
        text.push_str(&rule);
        text.push('\n');
    }
    text
}

fn rule_set(n: usize) -> RuleSet {
    let generated = generated_rules(n);
    let mut files: Vec<(&str, &str)> = DEFAULT_PACK.to_vec();
    files.push(("99-generated.toml", generated.as_str()));
    load_texts(files).expect("generated rules compile")
}

fn corpus_events() -> Vec<Event> {
    let normalizer = Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default());
    let peer: SocketAddr = "192.0.2.1:514".parse().expect("address");
    let mut events: Vec<Event> = LINUX
        .lines()
        .chain(OPENSSH.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            normalizer.syslog(
                l.as_bytes(),
                peer,
                Transport::Udp,
                1_795_392_000_000_000_000,
            )
        })
        .collect();
    let mibs = MibSet::bundled();
    for text in [
        "IF-MIB::linkDown IF-MIB::ifIndex.2 i 2 IF-MIB::ifDescr.2 s eth0",
        "IF-MIB::linkUp IF-MIB::ifIndex.2 i 2 IF-MIB::ifDescr.2 s eth0",
        "SNMPv2-MIB::coldStart",
    ] {
        let trap = trapline::offline::parse_trap_text(text, &mibs).expect("trap text");
        events.push(trapline::normalize::trap::trap_event(&trap, peer, 0, &mibs));
    }
    events
}

fn bench(c: &mut Criterion) {
    let events = corpus_events();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(events.len() as u64));
    for n in [10usize, 100, 1_000, 10_000] {
        let rules = rule_set(n);
        let mut scratch = Scratch::default();
        let mut batch = events.clone();
        group.bench_function(format!("qualify/{n}"), |b| {
            b.iter(|| {
                for event in batch.iter_mut() {
                    black_box(rules.qualify(event, &mut scratch));
                }
            })
        });
        let mut engine = AlertEngine::in_memory(EngineOptions::default());
        group.bench_function(format!("qualify+alerts/{n}"), |b| {
            b.iter(|| {
                for (id, event) in batch.iter_mut().enumerate() {
                    event.id = id as u64;
                    let verdict = rules.qualify(event, &mut scratch);
                    engine.observe(&rules, event, &verdict);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
