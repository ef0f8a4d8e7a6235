#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop.
#
# Tests drive trapline with real clients, so the system tools they need are installed first when
# missing (apt-get, as root or through sudo) — a test never skips because a tool is absent:
#   logger (bsdutils), snmptrap/snmpinform (snmp), promtool (prometheus),
#   headless Chromium and its WebDriver (chromium, chromium-driver) for the console's tests,
#   a real SMTP server for the notification tests (python3-aiosmtpd, run with Debian's python3),
#   systemd-analyze (systemd) to check the unit file,
#   pdftotext (poppler-utils) to read back the incident PDFs,
#   a real rsyslog relay for the forwarder tests (rsyslog; rsyslog-gnutls for its TLS driver),
#   dpkg-deb and dpkg (Debian's own) plus cargo-deb (from crates.io) for the package test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v logger   >/dev/null || need+=(bsdutils)
command -v snmptrap >/dev/null || need+=(snmp)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v adduser >/dev/null || need+=(adduser)   # the .deb's postinst (package test)
[ -x /usr/sbin/rsyslogd ] || command -v rsyslogd >/dev/null || need+=(rsyslog)
compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null || need+=(rsyslog-gnutls)
if ((${#need[@]})); then
  echo "tests/run.sh: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The .deb test (tests/e2e/deb.rs) builds the package with cargo-deb, pinned: its options change.
if ! cargo deb --version 2>/dev/null | grep -q "^cargo-deb 3.8.0"; then
  echo "tests/run.sh: installing cargo-deb 3.8.0" >&2
  cargo install --quiet --locked cargo-deb --version 3.8.0
fi
# logger --octet-count and --sd-id need util-linux >= 2.26.
logger --help | grep -q -- --octet-count || { echo "logger is too old (need util-linux >= 2.26)" >&2; exit 1; }

cargo test --locked --all-targets "$@"
