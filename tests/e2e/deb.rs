//! The Debian package (issue 8): `cargo deb` builds it from Cargo.toml's metadata around the
//! binary under test; `dpkg -i` installs it on this machine for real (tests run as root or
//! through sudo, like `tests/run.sh`'s apt-get); then the packaged config checks out, the
//! service user exists, and an upgrade keeps the operator's edits to the conffile. The package
//! is purged at the end.

use std::path::Path;
use std::process::Command;

/// `cmd args`, through sudo when not root.
fn as_root(cmd: &str, args: &[&str]) -> Command {
    let mut command = if unsafe { libc::geteuid() } == 0 {
        Command::new(cmd)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(cmd);
        sudo
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Runs `cmd args` as root; panics with its output unless it succeeds.
fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = as_root(cmd, args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

/// `cargo deb` around the already built binary (the test profile's), at `version`.
fn build_deb(out: &Path, version: &str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(manifest)
        .args(["deb", "--no-build", "--profile", "dev", "--fast"])
        .args(["--deb-version", version, "-o", out.to_str().unwrap()])
        .output()
        .expect("cargo-deb is installed (tests/run.sh installs it)");
    assert!(
        output.status.success(),
        "cargo deb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_deb_installs_checks_its_config_and_keeps_conffiles_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.deb"), dir.path().join("b.deb"));
    build_deb(&first, "0.0.1-1");
    build_deb(&second, "0.0.2-1");
    let contents = run_ok("dpkg-deb", &["--contents", first.to_str().unwrap()]);
    for path in [
        "./usr/bin/trapline",
        "./etc/trapline/trapline.toml",
        "./usr/lib/systemd/system/trapline.service",
        "./usr/share/trapline/rules/00-default.toml",
        "./usr/share/trapline/mibs/SNMPv2-MIB.mib",
        "./usr/share/trapline/grafana-dashboard.json",
        "./usr/share/trapline/prometheus-alerts.yml",
    ] {
        assert!(
            contents.contains(path),
            "{path} not in the package:\n{contents}"
        );
    }

    run_ok("dpkg", &["-i", first.to_str().unwrap()]);
    let purge = Purge;
    let check = run_ok(
        "/usr/bin/trapline",
        &["check-config", "--config", "/etc/trapline/trapline.toml"],
    );
    assert_eq!(check.trim(), "ok");
    let user = run_ok("getent", &["passwd", "trapline"]);
    assert!(user.contains("/var/lib/trapline"), "{user}");
    let state = run_ok("stat", &["-c", "%U %a", "/var/lib/trapline"]);
    assert_eq!(state.trim(), "trapline 750");

    // The operator edits the config; the upgrade keeps the edit and the check still passes.
    let conf = "/etc/trapline/trapline.toml";
    run_ok(
        "sh",
        &["-c", &format!("echo '# edited by the operator' >> {conf}")],
    );
    let edited = std::fs::read_to_string(conf).unwrap();
    assert!(edited.ends_with("# edited by the operator\n"));
    run_ok("dpkg", &["-i", "--force-confdef", second.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(conf).unwrap(), edited);
    let status = run_ok("dpkg-query", &["-W", "-f=${Version}", "trapline"]);
    assert_eq!(status.trim(), "0.0.2-1");
    let check = run_ok("/usr/bin/trapline", &["check-config", "--config", conf]);
    assert_eq!(check.trim(), "ok");
    drop(purge);
}

/// Purges the package however the test ends, so the machine is left as it was.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = as_root("dpkg", &["--purge", "trapline"]).output();
    }
}
