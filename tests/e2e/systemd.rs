//! The systemd unit (issue 8): `systemd-analyze verify` finds nothing to say about it,
//! `systemd-analyze security` rates its exposure at most 2.0, and `Type=notify` works — the
//! real binary tells `$NOTIFY_SOCKET` `READY=1` once it serves and `STOPPING=1` on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{binary, prepare_data_dir};

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/trapline.service");

#[test]
fn the_unit_verifies_cleanly_and_its_exposure_is_at_most_2() {
    // verify checks that ExecStart's program exists: point a copy at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(UNIT).unwrap();
    assert!(unit.contains("Type=notify"), "{unit}");
    let copy = dir.path().join("trapline.service");
    let built = binary();
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/trapline", built.to_str().unwrap()),
    )
    .unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian systemd) is installed: run tests/run.sh");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success(), "{said}");
    // Unknown or misspelt keys are only warned about: any output is a finding.
    let findings: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("trapline.service"))
        .collect();
    assert!(findings.is_empty(), "{said}");

    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(Path::new(UNIT))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for trapline.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}"));
    assert!(level <= 2.0, "exposure {level}:\n{report}");
}

#[test]
fn readiness_and_stopping_are_told_to_systemd() {
    let (dir, _token) = prepare_data_dir();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(binary())
        .args(["run", "--data", data.to_str().unwrap()])
        .args(["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"])
        .args(["--trap-udp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &socket_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("READY=1 within 30 s");
    assert_eq!(&buf[..n], b"READY=1");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let n = socket.recv(&mut buf).expect("STOPPING=1 after SIGTERM");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
