//! A link simulator: a TCP proxy on 127.0.0.1 that makes a loopback server
//! look distant. Every byte is delivered a fixed delay after it was sent
//! (each way, so a round trip costs twice the delay), and with a rate the
//! link carries at most that many bits a second each way, shared by all of
//! the proxy's connections (one office line). A connection's first bytes
//! wait one round trip more, as TCP's handshake would make them.
//!
//! Bytes queue in the proxy at most about 100 ms of the rate ahead of the
//! link (a bottleneck's buffer); beyond that the sender is held back, so
//! its TCP sees the slow link. Without a rate, up to 4 MiB a direction and
//! connection are in flight (what a kernel's window would allow), counted
//! in bytes, so that a burst of many small writes (pipelined commands)
//! crosses in one delay.
//!
//! The handshake: a client's first bytes leave with its ACK, one round trip
//! after it connected, and reach the server half a round trip later; a
//! server's first bytes (a greeting) leave once the ACK has reached it, so
//! they reach the client two round trips after it connected, as they would
//! on a real link.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the simulated link is like.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// Delay each way (half the round trip).
    pub one_way: Duration,
    /// Bits a second each way, shared by all connections; `None`: no limit.
    pub bits_per_second: Option<u64>,
}

impl Link {
    pub fn rtt_ms(rtt_ms: u64) -> Link {
        Link {
            one_way: Duration::from_micros(rtt_ms * 500),
            bits_per_second: None,
        }
    }

    pub fn with_mbit(mut self, mbit: Option<f64>) -> Link {
        self.bits_per_second = mbit.map(|m| (m * 1_000_000.0) as u64);
        self
    }
}

/// One direction of the line, shared by every connection: when it is next
/// free to carry a byte.
struct Line {
    busy_until: Mutex<Option<Instant>>,
}

struct Shared {
    target: u16,
    link: Link,
    up: Line,
    down: Line,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Bytes carried each way: to the server, to the client.
    bytes: [AtomicU64; 2],
}

/// The proxy: give the engine [`LinkProxy::port`] instead of the server's.
pub struct LinkProxy {
    port: u16,
    shared: Arc<Shared>,
}

/// Bytes in flight per direction and connection (a TCP window).
const WINDOW: usize = 4 << 20;
const CHUNK: usize = 64 << 10;
/// How far ahead of the line a sender may queue bytes with a rate.
const BUFFER_AHEAD: Duration = Duration::from_millis(100);

impl LinkProxy {
    pub fn start(target_port: u16, link: Link) -> LinkProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("link proxy: bind");
        let port = listener.local_addr().expect("link proxy: address").port();
        let shared = Arc::new(Shared {
            target: target_port,
            link,
            up: Line {
                busy_until: Mutex::new(None),
            },
            down: Line {
                busy_until: Mutex::new(None),
            },
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            bytes: [AtomicU64::new(0), AtomicU64::new(0)],
        });
        let s = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                s.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", s.target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                // Nothing gets through before TCP's handshake would let it
                // (see the module comment).
                let now = Instant::now();
                for (from, to, up) in [
                    (client.try_clone(), server.try_clone(), true),
                    (server.try_clone(), client.try_clone(), false),
                ] {
                    let (Ok(from), Ok(to)) = (from, to) else {
                        continue;
                    };
                    let open_at = now + if up { 2 } else { 3 } * s.link.one_way;
                    let s = s.clone();
                    let (tx, rx) = channel();
                    let window = Arc::new(Window::default());
                    let w = window.clone();
                    thread::spawn(move || deliver(rx, to, &w));
                    thread::spawn(move || carry(&s, from, tx, &window, up, open_at));
                }
            }
        });
        LinkProxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes carried so far: (to the server, to the client).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.shared.bytes[0].load(Ordering::SeqCst),
            self.shared.bytes[1].load(Ordering::SeqCst),
        )
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Bytes of one direction of one connection read but not yet delivered.
#[derive(Default)]
struct Window {
    bytes: Mutex<usize>,
    room: Condvar,
}

impl Window {
    /// Waits until the window has room.
    fn wait_for_room(&self) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        while *bytes >= WINDOW {
            bytes = self.room.wait(bytes).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn take(&self, n: usize) {
        *self.bytes.lock().unwrap_or_else(|p| p.into_inner()) += n;
    }

    fn give(&self, n: usize) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        *bytes = bytes.saturating_sub(n);
        self.room.notify_all();
    }
}

/// Reads what one side sends and schedules each chunk's arrival at the
/// other: after the line carried it (with a rate) and the delay.
fn carry(
    s: &Shared,
    mut from: TcpStream,
    tx: Sender<(Instant, Vec<u8>)>,
    window: &Window,
    up: bool,
    open_at: Instant,
) {
    let line = if up { &s.up } else { &s.down };
    let mut buf = vec![0u8; CHUNK];
    loop {
        // A full window stops reading: the sender's TCP holds back.
        window.wait_for_room();
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        window.take(n);
        s.bytes[usize::from(!up)].fetch_add(n as u64, Ordering::Relaxed);
        let now = Instant::now().max(open_at);
        let sent = match s.link.bits_per_second {
            None => now,
            Some(bps) => {
                let wire =
                    Duration::from_nanos((n as u64 * 8).saturating_mul(1_000_000_000) / bps.max(1));
                let done = {
                    let mut busy = line.busy_until.lock().unwrap_or_else(|p| p.into_inner());
                    let start = busy.map_or(now, |b| b.max(now));
                    let done = start + wire;
                    *busy = Some(done);
                    done
                };
                // A full bottleneck buffer holds the sender back.
                let ahead = done.saturating_duration_since(Instant::now());
                if ahead > BUFFER_AHEAD {
                    thread::sleep(ahead - BUFFER_AHEAD);
                }
                done
            }
        };
        if tx.send((sent + s.link.one_way, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    // The end of the stream arrives after the bytes before it.
    let _ = tx.send((Instant::now() + s.link.one_way, Vec::new()));
}

/// How early a chunk may be handed over with one due before it: one
/// write for a burst instead of a sleep (and its timer slack) per chunk.
const COALESCE: Duration = Duration::from_millis(1);

/// Hands each chunk to the other side when it is due (chunks due within
/// `COALESCE` of each other in one write).
fn deliver(rx: Receiver<(Instant, Vec<u8>)>, mut to: TcpStream, window: &Window) {
    let mut next = rx.recv().ok();
    while let Some((due, bytes)) = next.take() {
        let wait = due.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            thread::sleep(wait);
        }
        if bytes.is_empty() {
            break;
        }
        let mut out = bytes;
        let horizon = Instant::now() + COALESCE;
        let mut end = false;
        while let Ok((due, bytes)) = rx.try_recv() {
            if bytes.is_empty() {
                end = true;
                break;
            }
            if due > horizon {
                next = Some((due, bytes));
                break;
            }
            out.extend_from_slice(&bytes);
        }
        let written = to.write_all(&out);
        window.give(out.len());
        if written.is_err() {
            let _ = to.shutdown(Shutdown::Both);
            // The reader may wait for room that never comes: unblock it.
            window.give(usize::MAX);
            return;
        }
        if end {
            break;
        }
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
