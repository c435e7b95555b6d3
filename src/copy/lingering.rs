//! Connections that outlive their run. A run killed mid-APPEND (or a
//! connection dropped after a fault) leaves the operating system still
//! sending what was written: the server may store the message seconds later,
//! after a new run has looked for it. So before looking, a run waits until
//! every such connection of an unconfirmed batch is over.
//!
//! On Linux the kernel lists every TCP socket in /proc/net/tcp{,6}; a socket
//! whose process is gone shows inode 0, and it is over once it is closed or
//! in TIME_WAIT (the server has closed its side, so it has read and acted on
//! everything). Elsewhere a short fixed pause stands in; the verification
//! pass reports anything a late server still adds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Waits, at most `limit`, until none of the connections (`local>peer`, as
/// [`crate::imap::ImapClient::connection_id`] gives them) is still
/// delivering. Returns how long it waited.
pub(crate) async fn wait<'a>(
    connections: impl IntoIterator<Item = &'a str>,
    limit: Duration,
) -> Duration {
    let mut wanted: Vec<(SocketAddr, SocketAddr)> =
        connections.into_iter().filter_map(parse_pair).collect();
    wanted.sort();
    wanted.dedup();
    let started = Instant::now();
    if wanted.is_empty() {
        return Duration::ZERO;
    }
    if !cfg!(target_os = "linux") {
        tokio::time::sleep(limit.min(Duration::from_secs(3))).await;
        return started.elapsed();
    }
    while started.elapsed() < limit {
        let table = read_tables();
        if !wanted.iter().any(|w| still_sending(&table, w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

fn parse_pair(s: &str) -> Option<(SocketAddr, SocketAddr)> {
    let (l, p) = s.split_once('>')?;
    Some((canonical(l.parse().ok()?), canonical(p.parse().ok()?)))
}

/// IPv4-mapped IPv6 addresses as IPv4, so both tables compare alike.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// One socket of the kernel's tables.
#[derive(Debug, PartialEq, Eq)]
struct Socket {
    local: SocketAddr,
    peer: SocketAddr,
    state: u8,
    inode: u64,
}

const TIME_WAIT: u8 = 0x06;
const CLOSE: u8 = 0x07;

fn still_sending(table: &[Socket], w: &(SocketAddr, SocketAddr)) -> bool {
    table.iter().any(|s| {
        // Inode 0: no process holds it any more. One a live process holds
        // (another run going on) is not ours to wait for.
        s.local == w.0 && s.peer == w.1 && s.inode == 0 && s.state != TIME_WAIT && s.state != CLOSE
    })
}

fn read_tables() -> Vec<Socket> {
    let mut out = Vec::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(text.lines().skip(1).filter_map(parse_line));
        }
    }
    out
}

/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`
fn parse_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    Some(Socket {
        local: parse_addr(f[1])?,
        peer: parse_addr(f[2])?,
        state: u8::from_str_radix(f[3], 16).ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90`: the address as 32-bit words in the kernel's byte order
/// (printed as numbers), the port in hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip: std::net::IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok()?.into(),
        16 => <[u8; 16]>::try_from(bytes).ok()?.into(),
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn kernel_lines_parse() {
        let v4 = "   3: 0100007F:C350 0100007F:008F 04 00001000:00000000 01:00000014 00000000     0        0 0 1 0000000000000000 20 4 0 10 -1";
        let s = parse_line(v4).unwrap();
        assert_eq!(s.local, "127.0.0.1:50000".parse().unwrap());
        assert_eq!(s.peer, "127.0.0.1:143".parse().unwrap());
        assert_eq!((s.state, s.inode), (4, 0));
        let v6 = "   0: 00000000000000000000000001000000:C350 0000000000000000FFFF00000100007F:008F 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 0 10 -1";
        let s = parse_line(v6).unwrap();
        assert_eq!(s.local, "[::1]:50000".parse().unwrap());
        // IPv4-mapped: compared as IPv4.
        assert_eq!(s.peer, "127.0.0.1:143".parse().unwrap());
        assert_eq!(s.inode, 4242);
    }

    #[test]
    fn only_orphans_that_are_not_yet_closed_are_waited_for() {
        let pair = parse_pair("127.0.0.1:50000>127.0.0.1:143").unwrap();
        let sock = |state, inode| Socket {
            local: pair.0,
            peer: pair.1,
            state,
            inode,
        };
        assert!(still_sending(&[sock(0x04, 0)], &pair));
        assert!(still_sending(&[sock(0x05, 0)], &pair));
        assert!(!still_sending(&[sock(TIME_WAIT, 0)], &pair));
        assert!(!still_sending(&[sock(0x01, 77)], &pair));
        assert!(!still_sending(&[], &pair));
        assert!(parse_pair("").is_none());
    }

    /// A socket closed with data still unsent is found in the kernel's table
    /// as an orphan, and the wait ends once the peer has read it all and
    /// closed.
    #[tokio::test]
    #[cfg(target_os = "linux")]
    async fn a_closed_connection_still_sending_is_waited_for() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let id = format!(
            "{}>{}",
            client.local_addr().unwrap(),
            client.peer_addr().unwrap()
        );
        // More than the socket buffers hold: the rest waits in the kernel.
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), client.write(&chunk)).await
        {
            sent += n;
        }
        drop(client);
        let waiter =
            tokio::spawn(async move { wait([id.as_str()], Duration::from_secs(20)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "the orphan still has data to send");
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, sent);
        drop(server);
        let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the wait ends once the server closed")
            .unwrap();
        assert!(waited >= Duration::from_millis(300));
        assert!(waited < Duration::from_secs(20));
    }
}
