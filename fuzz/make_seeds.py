#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the repository's fixtures, rules and MIBs.

Run from anywhere: `python3 fuzz/make_seeds.py`. The output is committed (small, a few hundred
KB); rerun it when the fixtures change. Each target's input format is described at the top of
its file in fuzz/fuzz_targets/; this script writes exactly those formats.
"""

import datetime
import pathlib
import re
import shutil
import tomllib

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent
SEEDS = FUZZ / "seeds"

# The syslog fixtures whose every line is a seed (the loghub files are thousands of near-copies).
SYSLOG_FILES = ["rfc_examples.log", "syslog_loose_fixtures.log", "tricky_constructed.log"]
# Receive times that make year and zone inference work: an ordinary day, both sides of New
# Year, the night Paris goes to summer time.
RECEIVE_TIMES = [
    datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC),
    datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
    datetime.datetime(2027, 1, 1, 0, 0, 1, tzinfo=datetime.UTC),
    datetime.datetime(2026, 3, 29, 1, 0, 0, tzinfo=datetime.UTC),
]
ZONE_COUNT = 10  # len(ZONES) in fuzz/src/lib.rs

# The USM users of fuzz/src/lib.rs: (name, msgFlags auth/priv bits, digest length).
USM_USERS = [
    ("noauthuser", 0, 0),
    ("md5user", 1, 12),
    ("shauser", 1, 12),
    ("trapuser", 3, 12),
    ("desuser", 3, 12),
    ("sha256user", 3, 24),
    ("aes256user", 3, 12),
    ("sha512user", 3, 48),
    ("aes192md5", 3, 12),
]
LOCAL_ENGINE_ID = bytes([0x80, 0x00, 0x1F, 0x88, 0x05, 1, 2, 3, 4, 5, 6, 7, 8])
TRAP_ENGINE_ID = bytes.fromhex("8000000001020304")

# MIB files up to this size are seeds whole; larger ones are cut at a definition boundary.
MIB_WHOLE_BYTES = 12_000


def write(target, name, data):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def syslog_lines():
    for file in SYSLOG_FILES:
        raw = (REPO / "tests/fixtures/syslog" / file).read_bytes()
        for number, line in enumerate(raw.split(b"\n"), 1):
            if line:
                yield f"{file.removesuffix('.log')}-{number:02}", line


def syslog_seeds():
    for index, (name, line) in enumerate(syslog_lines()):
        at = RECEIVE_TIMES[index % len(RECEIVE_TIMES)]
        header = bytes([index % ZONE_COUNT]) + int(at.timestamp()).to_bytes(4, "little")
        write("syslog_decode", name, header + line)


def framing_seeds():
    """Streams of fixture lines in mixed framings. The input is `Input` of tcp_framing.rs as
    `arbitrary` reads it: one byte of maximum, the cuts (a continue byte before each u16), then
    the stream."""
    lines = [line.rstrip(b"\r") for _, line in syslog_lines()]
    for start in range(0, len(lines), 6):
        stream = bytearray()
        for i, line in enumerate(lines[start : start + 6]):
            if i % 3 == 0:
                stream += str(len(line)).encode() + b" " + line
            elif i % 3 == 1:
                stream += line + b"\n"
            else:
                stream += line + b"\r\n"
        for maximum in (255, 40):
            cuts = b"".join(b"\x01" + (n * 37).to_bytes(2, "little") for n in range(1, 4))
            data = bytes([maximum]) + cuts + b"\x00" + bytes(stream)
            write("tcp_framing", f"stream-{start // 6:02}-max{maximum + 1}", data)


def snmp_fixtures():
    for file in ["netsnmp.hex", "corpus.hex"]:
        for line in (REPO / "tests/fixtures/snmp" / file).read_text().splitlines():
            name, _, hexdata = line.partition(" ")
            if hexdata:
                yield name, bytes.fromhex(hexdata.strip())


# BER, the little of it the seeds need (X.690 §8.1).
def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def integer(value):
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def elements(data):
    """The top-level elements of `data` as (tag, whole element, contents)."""
    at = 0
    while at < len(data):
        tag, first = data[at], data[at + 1]
        header = 2
        length = first
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
            header += count
        yield tag, data[at : at + header + length], data[at + header : at + header + length]
        at += header + length


def v3_message(user, flags, mac_len, engine_id, boots, time, scoped, msg_id):
    usm = tlv(
        0x30,
        tlv(0x04, engine_id)
        + integer(boots)
        + integer(time)
        + tlv(0x04, user.encode())
        + tlv(0x04, bytes(mac_len))
        + tlv(0x04, bytes(range(1, 9)) if flags & 2 else b""),
    )
    header = tlv(0x30, integer(msg_id) + integer(65507) + tlv(0x04, bytes([flags])) + integer(3))
    return tlv(0x30, integer(3) + header + tlv(0x04, usm) + scoped)


def is_v3(datagram):
    try:
        (_, _, contents), *_ = elements(datagram)
        (_, version, _), *_ = elements(contents)
        return version == integer(3)
    except (IndexError, ValueError):
        return False


def snmp_seeds():
    fixtures = dict(snmp_fixtures())
    for name, datagram in fixtures.items():
        write("snmp", name, datagram)
        if is_v3(datagram):
            write("snmp_usm", name, datagram)
    # A trap ScopedPDU (from the noAuthNoPriv capture) and an inform one (the v2c inform's PDU
    # addressed to our engine), sent as every user with room for sealing's digest and salt.
    (_, message, _), = elements(fixtures["v3_noauth"])
    *_, (_, trap_scoped, _) = elements(list(elements(message))[0][2])
    (_, _, inform_body), = elements(fixtures["v2c_inform"])
    *_, (_, inform_pdu, _) = elements(inform_body)
    inform_scoped = tlv(0x30, tlv(0x04, LOCAL_ENGINE_ID) + tlv(0x04, b"") + inform_pdu)
    for number, (user, flags, mac_len) in enumerate(USM_USERS):
        trap = v3_message(user, flags, mac_len, TRAP_ENGINE_ID, 7, 4242, trap_scoped, 100 + number)
        write("snmp_usm", f"plain-trap-{user}", trap)
        inform = v3_message(
            user, flags | 4, mac_len, LOCAL_ENGINE_ID, 1, 0, inform_scoped, 200 + number
        )
        write("snmp_usm", f"plain-inform-{user}", inform)


def mib_seeds():
    for path in sorted((REPO / "src/mib/bundled").iterdir()):
        if path.suffix not in (".mib", ".txt"):
            continue
        text = path.read_bytes()
        if len(text) > MIB_WHOLE_BYTES:
            # Up to the last blank line before the limit, then the module's end.
            cut = text.rfind(b"\n\n", 0, MIB_WHOLE_BYTES)
            text = text[:cut] + b"\n\nEND\n"
        write("mib_parse", path.name, text)


def rule_files():
    for pattern in ["rules/*.toml", "tests/fixtures/rules/*.toml"]:
        yield from sorted(REPO.glob(pattern))


def conditions(value):
    """Every `when` / `clear_when` string anywhere in a parsed rule file."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("when", "clear_when") and isinstance(item, str):
                yield item
            else:
                yield from conditions(item)
    elif isinstance(value, list):
        for item in value:
            yield from conditions(item)


def rule_seeds():
    seen = set()
    for path in rule_files():
        write("rules_load", path.name, path.read_bytes())
        parsed = tomllib.loads(path.read_text())
        for condition in conditions(parsed):
            if condition in seen:
                continue
            seen.add(condition)
            name = re.sub(r"[^a-z0-9]+", "-", condition.lower())[:40].strip("-")
            write("rule_condition", f"{path.stem}-{len(seen):03}-{name}", condition.encode())
    # One seed with an event of its own after the condition (see rule_condition.rs).
    own = 'app == "sshd" and message =~ "Failed password"\0edge-01\0sshd\0Failed password for root\0\03'
    write("rule_condition", "own-event", own.encode())


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    syslog_seeds()
    framing_seeds()
    snmp_seeds()
    mib_seeds()
    rule_seeds()
    (SEEDS / "SOURCES.md").write_text(
        "# Fuzz seeds\n\n"
        "Generated by `fuzz/make_seeds.py` from `tests/fixtures/` (origins and licences in its\n"
        "`syslog/SOURCES.md` and `snmp/SOURCES.md`; the loghub files are not used), `rules/`,\n"
        "`tests/fixtures/rules/` and `src/mib/bundled/` (see its `SOURCES.md`). Do not edit by\n"
        "hand: rerun the script.\n"
    )


if __name__ == "__main__":
    main()
