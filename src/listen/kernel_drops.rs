//! Datagrams the kernel dropped before trapline read them: a full socket receive buffer loses
//! messages that no counter of trapline's own can see.
//!
//! Two figures, refreshed at every `/metrics` scrape ([`refresh`]):
//! - `trapline_udp_kernel_drops_total{listener}`: the `drops` column of `/proc/net/udp` and
//!   `/proc/net/udp6` for trapline's own sockets (found by inode) — exactly the datagrams sent
//!   to a listener that it never received.
//! - `trapline_udp_host_rcvbuf_errors_total`: the host's `RcvbufErrors` (`/proc/net/snmp`,
//!   `/proc/net/snmp6`) since trapline started — every UDP socket on the machine, for context.
//!
//! Both are counters fed with the kernel's increments. Reading `/proc` is a few kilobytes per
//! scrape; a machine without these files (not Linux, a restricted `/proc`) exports zeros.

use std::os::fd::AsRawFd;
use std::sync::Mutex;

use crate::metrics::metrics;

/// A socket being watched: its listener label, inode and the kernel's drop count last seen.
struct Watched {
    listener: &'static str,
    inode: u64,
    seen: u64,
}

struct State {
    sockets: Vec<Watched>,
    /// The host's RcvbufErrors at the previous refresh (`None` before the first).
    host_seen: Option<u64>,
}

static STATE: Mutex<State> = Mutex::new(State {
    sockets: Vec::new(),
    host_seen: None,
});

/// Most sockets watched (a process has a handful; tests start many in one process).
const MAX_WATCHED: usize = 64;

/// Watches `socket` (just bound for `listener`) for kernel drops.
pub fn watch(listener: &'static str, socket: &impl AsRawFd) {
    let Some(inode) = inode_of(socket) else {
        return;
    };
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    if state.sockets.len() >= MAX_WATCHED {
        state.sockets.remove(0);
    }
    state.sockets.push(Watched {
        listener,
        inode,
        seen: 0,
    });
}

fn inode_of(socket: &impl AsRawFd) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// Reads the kernel's counters and adds what grew since the last call to the metrics.
pub fn refresh() {
    let mut drops = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            drops.extend(socket_drops(&text));
        }
    }
    let host = ["/proc/net/snmp", "/proc/net/snmp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| rcvbuf_errors(&text))
        .sum::<u64>();
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    for watched in &mut state.sockets {
        let Some(&(_, now)) = drops.iter().find(|(inode, _)| *inode == watched.inode) else {
            continue;
        };
        if now > watched.seen {
            metrics()
                .udp_kernel_drops
                .with_label_values(&[watched.listener])
                .inc_by(now - watched.seen);
        }
        watched.seen = now;
    }
    if let Some(before) = state.host_seen
        && host > before
    {
        metrics().udp_host_rcvbuf_errors.inc_by(host - before);
    }
    state.host_seen = Some(host);
}

/// `(inode, drops)` of every socket in a `/proc/net/udp{,6}` table.
///
/// Columns: `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
/// timeout inode ref pointer drops`; the header line does not parse and is skipped.
pub fn socket_drops(table: &str) -> Vec<(u64, u64)> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode = fields.get(9)?.parse().ok()?;
            let drops = fields.get(12)?.parse().ok()?;
            Some((inode, drops))
        })
        .collect()
}

/// `RcvbufErrors` of `/proc/net/snmp` (an `Udp:` header line, then an `Udp:` values line) or
/// `Udp6RcvbufErrors` of `/proc/net/snmp6` (`name value` lines).
pub fn rcvbuf_errors(text: &str) -> Option<u64> {
    if let Some(line) = text.lines().find(|l| l.starts_with("Udp6RcvbufErrors")) {
        return line.split_whitespace().nth(1)?.parse().ok();
    }
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let names = udp.next()?;
    let values = udp.next()?;
    let column = names
        .split_whitespace()
        .position(|name| name == "RcvbufErrors")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_tables_give_inodes_and_drops() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  123: 0100007F:05EA 00000000:0000 07 00000000:00034000 00:00000000 00000000     0        0 987654 2 0000000000000000 4711\n\
  124: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 42 2 0000000000000000 0\n";
        assert_eq!(socket_drops(table), vec![(987_654, 4711), (42, 0)]);
        assert!(socket_drops("garbage\n\n").is_empty());
    }

    #[test]
    fn rcvbuf_errors_from_snmp_and_snmp6() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\nUdp: 100 2 7 50 5 0 0 0 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        assert_eq!(rcvbuf_errors(snmp), Some(5));
        let snmp6 = "Udp6InDatagrams                 \t10\nUdp6RcvbufErrors                \t3\n";
        assert_eq!(rcvbuf_errors(snmp6), Some(3));
        assert_eq!(rcvbuf_errors("Tcp: x\n"), None);
    }

    #[test]
    fn a_watched_socket_is_found_in_the_kernel_table() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let inode = inode_of(&socket).unwrap();
        let table = std::fs::read_to_string("/proc/net/udp").unwrap();
        assert!(socket_drops(&table).iter().any(|(i, _)| *i == inode));
    }
}
