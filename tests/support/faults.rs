//! A fault-injection TCP proxy to put between the engine and Dovecot, and a
//! TLS front with any certificate. See README.md ("Faults").
//!
//! The proxy forwards bytes both ways and, when a [`Trigger`] fires on a
//! connection, does its [`Action`]: cut the connection (after N bytes, or at
//! a pattern such as `BODY[] {` plus an offset: mid FETCH literal, mid APPEND
//! literal, right before an APPEND's tagged OK), stall longer than the
//! client's timeout, slow the stream down, inject a BYE or garbage, or
//! replace a server reply line. Each fault fires a bounded number of times
//! (on different connections), optionally only on connections whose client
//! sent some bytes first (`LOGIN "bob"`), so one mailbox can be targeted.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Which way bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the engine to the server.
    ToServer,
    /// From the server to the engine.
    ToClient,
}

/// Where on a connection a fault fires.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// Once `after` bytes have gone `dir` on the connection.
    Bytes { dir: Dir, after: u64 },
    /// `offset` bytes after the start of `pattern` in the `dir` stream.
    Pattern {
        dir: Dir,
        pattern: Vec<u8>,
        offset: u64,
    },
}

impl Trigger {
    pub fn bytes(dir: Dir, after: u64) -> Trigger {
        Trigger::Bytes { dir, after }
    }

    pub fn pattern(dir: Dir, pattern: &str, offset: u64) -> Trigger {
        Trigger::Pattern {
            dir,
            pattern: pattern.as_bytes().to_vec(),
            offset,
        }
    }

    fn dir(&self) -> Dir {
        match self {
            Trigger::Bytes { dir, .. } | Trigger::Pattern { dir, .. } => *dir,
        }
    }
}

/// What a fault does where it fires.
#[derive(Clone, Debug)]
pub enum Action {
    /// Close both sides at once (a reply or a literal cut short).
    Cut,
    /// Forward nothing more either way for this long, then cut.
    Stall(Duration),
    /// Send this line (CRLF added) to the client, then cut.
    Bye(String),
    /// Send these bytes to the client, then cut.
    Garbage(Vec<u8>),
    /// Replace the rest of the current line towards the client (up to and
    /// including its LF) with this text (CRLF added), then go on.
    ReplaceLine(String),
    /// From here on, forward at most `chunk` bytes every `every` (slow but
    /// steady; not an error).
    Delay { every: Duration, chunk: usize },
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub trigger: Trigger,
    pub action: Action,
    /// How many connections it fires on (at most once each).
    pub times: u32,
    /// Only on connections whose client has sent these bytes.
    pub when_client_sent: Option<Vec<u8>>,
}

impl Fault {
    pub fn new(trigger: Trigger, action: Action) -> Fault {
        Fault {
            trigger,
            action,
            times: 1,
            when_client_sent: None,
        }
    }

    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    pub fn always(self) -> Fault {
        self.times(u32::MAX)
    }

    pub fn when_client_sent(mut self, needle: &str) -> Fault {
        self.when_client_sent = Some(needle.as_bytes().to_vec());
        self
    }
}

/// A fault that fired: on which connection (0-based, in accept order),
/// which fault (index in the list), where in the stream.
#[derive(Clone, Debug)]
pub struct Fired {
    pub connection: usize,
    pub fault: usize,
    pub dir: Dir,
    pub at: u64,
}

struct Shared {
    target: u16,
    faults: Mutex<(u64, Vec<(Fault, u32)>)>,
    fired: Mutex<Vec<Fired>>,
    /// Client-to-server bytes of each connection (the first 8 MB).
    transcripts: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
    sockets: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
    accepted: AtomicUsize,
}

/// A TCP proxy on 127.0.0.1 in front of `target_port`. Stopped on drop.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

const TRANSCRIPT_CAP: usize = 8 << 20;

impl FaultProxy {
    pub fn start(target_port: u16, faults: Vec<Fault>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target: target_port,
            faults: Mutex::new((0, arm(faults))),
            fired: Mutex::new(Vec::new()),
            transcripts: Mutex::new(Vec::new()),
            sockets: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let accept = thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let id = s.accepted.fetch_add(1, Ordering::SeqCst);
                let transcript = Arc::new(Mutex::new(Vec::new()));
                s.transcripts.lock().unwrap().push(transcript.clone());
                let Ok(server) = TcpStream::connect(("127.0.0.1", s.target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut socks = s.sockets.lock().unwrap();
                    socks.push(client.try_clone().unwrap());
                    socks.push(server.try_clone().unwrap());
                }
                let conn = Arc::new(Conn {
                    id,
                    shared: s.clone(),
                    client,
                    server,
                    transcript,
                    frozen_until: Mutex::new(None),
                });
                for dir in [Dir::ToServer, Dir::ToClient] {
                    let conn = conn.clone();
                    thread::spawn(move || Pump::new(conn, dir).run());
                }
            }
        });
        FaultProxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// The port to give the engine instead of the server's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the faults (for connections from now on, and the open ones).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        let mut f = self.shared.faults.lock().unwrap();
        f.0 += 1;
        f.1 = arm(faults);
    }

    pub fn fired(&self) -> Vec<Fired> {
        self.shared.fired.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// What the client sent on each connection, in accept order.
    pub fn client_bytes(&self) -> Vec<Vec<u8>> {
        let t = self.shared.transcripts.lock().unwrap();
        t.iter().map(|c| c.lock().unwrap().clone()).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for s in self.shared.sockets.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn arm(faults: Vec<Fault>) -> Vec<(Fault, u32)> {
    faults
        .into_iter()
        .map(|f| {
            let n = f.times;
            (f, n)
        })
        .collect()
}

struct Conn {
    id: usize,
    shared: Arc<Shared>,
    client: TcpStream,
    server: TcpStream,
    transcript: Arc<Mutex<Vec<u8>>>,
    frozen_until: Mutex<Option<Instant>>,
}

impl Conn {
    fn cut(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    fn wait_if_frozen(&self) {
        loop {
            let until = *self.frozen_until.lock().unwrap();
            match until {
                Some(t) if Instant::now() < t => thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
    }

    fn client_sent(&self, needle: &[u8]) -> bool {
        let t = self.transcript.lock().unwrap();
        t.windows(needle.len()).any(|w| w == needle)
    }
}

/// One direction of a connection.
struct Pump {
    conn: Arc<Conn>,
    dir: Dir,
    /// Bytes seen in this direction.
    count: u64,
    /// The last bytes of the previous chunk, for patterns across chunks.
    tail: Vec<u8>,
    /// Faults that matched here: (index, stream position to fire at).
    pending: Vec<(usize, u64)>,
    /// Faults already matched or fired on this connection.
    done: Vec<usize>,
    generation: u64,
    skipping_line: bool,
    delay: Option<(Duration, usize)>,
}

enum Next {
    Go,
    Stop,
}

impl Pump {
    fn new(conn: Arc<Conn>, dir: Dir) -> Pump {
        Pump {
            conn,
            dir,
            count: 0,
            tail: Vec::new(),
            pending: Vec::new(),
            done: Vec::new(),
            generation: 0,
            skipping_line: false,
            delay: None,
        }
    }

    fn run(mut self) {
        let (src, dst) = match self.dir {
            Dir::ToServer => (&self.conn.client, &self.conn.server),
            Dir::ToClient => (&self.conn.server, &self.conn.client),
        };
        let (mut src, dst) = (src.try_clone().unwrap(), dst.try_clone().unwrap());
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = dst.shutdown(Shutdown::Write);
                    return;
                }
                Ok(n) => n,
            };
            if self.dir == Dir::ToServer {
                let mut t = self.conn.transcript.lock().unwrap();
                if t.len() < TRANSCRIPT_CAP {
                    t.extend_from_slice(&buf[..n]);
                }
            }
            if let Next::Stop = self.chunk(&buf[..n], &dst) {
                return;
            }
        }
    }

    /// Handles one chunk read from the source side.
    fn chunk(&mut self, data: &[u8], dst: &TcpStream) -> Next {
        self.scan(data);
        let start = self.count;
        let end = start + data.len() as u64;
        let mut at = start;
        while let Some((idx, pos)) = self.next_trigger(at, end) {
            let pos = pos.max(at);
            if self
                .forward(&data[(at - start) as usize..(pos - start) as usize], dst)
                .is_err()
            {
                return Next::Stop;
            }
            at = pos;
            self.pending.retain(|(i, _)| *i != idx);
            let Some(action) = self.claim(idx, pos) else {
                continue;
            };
            match self.act(action, dst) {
                Next::Go => {}
                Next::Stop => return Next::Stop,
            }
        }
        let rest = &data[(at - start) as usize..];
        self.count = end;
        if self.forward(rest, dst).is_err() {
            return Next::Stop;
        }
        Next::Go
    }

    /// Finds pattern matches in this chunk (and the end of the last one).
    fn scan(&mut self, data: &[u8]) {
        let faults = self.conn.shared.faults.lock().unwrap();
        if faults.0 != self.generation {
            self.generation = faults.0;
            self.pending.clear();
            self.done.clear();
        }
        let mut window = self.tail.clone();
        window.extend_from_slice(data);
        let base = self.count - self.tail.len() as u64;
        for (i, (f, remaining)) in faults.1.iter().enumerate() {
            let Trigger::Pattern {
                dir,
                pattern,
                offset,
            } = &f.trigger
            else {
                continue;
            };
            if *dir != self.dir || *remaining == 0 || self.done.contains(&i) {
                continue;
            }
            if let Some(needle) = &f.when_client_sent {
                if !self.conn.client_sent(needle) {
                    continue;
                }
            }
            let found = window
                .windows(pattern.len())
                .enumerate()
                .find(|(m, w)| *w == &pattern[..] && m + pattern.len() > self.tail.len());
            if let Some((m, _)) = found {
                self.pending.push((i, base + m as u64 + offset));
                self.done.push(i);
            }
        }
        let keep = 64.min(window.len());
        self.tail = window[window.len() - keep..].to_vec();
    }

    /// The earliest fault due before `end`.
    fn next_trigger(&mut self, at: u64, end: u64) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = self
            .pending
            .iter()
            .filter(|(_, p)| *p < end)
            .min_by_key(|(_, p)| *p)
            .copied();
        let faults = self.conn.shared.faults.lock().unwrap();
        for (i, (f, remaining)) in faults.1.iter().enumerate() {
            let Trigger::Bytes { dir, after } = f.trigger else {
                continue;
            };
            if dir != self.dir || *remaining == 0 || self.done.contains(&i) || after >= end {
                continue;
            }
            if let Some(needle) = &f.when_client_sent {
                if !self.conn.client_sent(needle) {
                    continue;
                }
            }
            let pos = after.max(at);
            if best.is_none_or(|(_, p)| pos < p) {
                best = Some((i, pos));
            }
        }
        if let Some((i, _)) = best {
            if !self.done.contains(&i) {
                self.done.push(i);
            }
        }
        best
    }

    /// Takes one use of fault `idx`; `None` when it is used up.
    fn claim(&mut self, idx: usize, pos: u64) -> Option<Action> {
        let mut faults = self.conn.shared.faults.lock().unwrap();
        let (f, remaining) = faults.1.get_mut(idx)?;
        if *remaining == 0 {
            return None;
        }
        *remaining -= 1;
        let action = f.action.clone();
        drop(faults);
        self.conn.shared.fired.lock().unwrap().push(Fired {
            connection: self.conn.id,
            fault: idx,
            dir: self.dir,
            at: pos,
        });
        Some(action)
    }

    fn act(&mut self, action: Action, dst: &TcpStream) -> Next {
        let mut client = &self.conn.client;
        match action {
            Action::Cut => {
                self.conn.cut();
                Next::Stop
            }
            Action::Stall(d) => {
                *self.conn.frozen_until.lock().unwrap() = Some(Instant::now() + d);
                thread::sleep(d);
                self.conn.cut();
                Next::Stop
            }
            Action::Bye(line) => {
                let _ = client.write_all(format!("{line}\r\n").as_bytes());
                self.conn.cut();
                Next::Stop
            }
            Action::Garbage(bytes) => {
                let _ = client.write_all(&bytes);
                self.conn.cut();
                Next::Stop
            }
            Action::ReplaceLine(text) => {
                let _ = dst;
                let _ = client.write_all(format!("{text}\r\n").as_bytes());
                self.skipping_line = true;
                Next::Go
            }
            Action::Delay { every, chunk } => {
                self.delay = Some((every, chunk.max(1)));
                Next::Go
            }
        }
    }

    fn forward(&mut self, mut bytes: &[u8], mut dst: &TcpStream) -> std::io::Result<()> {
        if self.skipping_line {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    bytes = &bytes[i + 1..];
                    self.skipping_line = false;
                }
                None => return Ok(()),
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.conn.wait_if_frozen();
        match self.delay {
            None => dst.write_all(bytes),
            Some((every, chunk)) => {
                for piece in bytes.chunks(chunk) {
                    thread::sleep(every);
                    self.conn.wait_if_frozen();
                    dst.write_all(piece)?;
                }
                Ok(())
            }
        }
    }
}

// ------------------------------------------------------------ TLS front --

/// A TLS server on 127.0.0.1 with a given certificate, forwarding the
/// plaintext to `target_port` (a Dovecot plain port): to show the engine an
/// expired certificate, or one for another host. Stopped on drop.
pub struct TlsFront {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    pub fn start(target_port: u16, cert_pem: &str, key_pem: &str) -> TlsFront {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("tls front: certificate");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("tls front: key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("tls front: config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => {
                            let Ok((tcp, _)) = accepted else { continue };
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                                let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await else { return };
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                            });
                        }
                    }
                }
            });
        });
        TlsFront {
            port,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Certificates made for a test: an authority (written to `ca_file`) and a
/// server certificate it signed.
pub struct TestCert {
    pub ca_file: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

/// What is wrong with a [`TestCert`]'s server certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// For localhost and 127.0.0.1, valid 2020 to 2100.
    Good,
    /// For localhost, but expired in 2021.
    Expired,
    /// Valid, but for `other.example` only.
    OtherHost,
}

pub fn make_cert(dir: &Path, kind: CertKind) -> TestCert {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "MailFerry test authority");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let names = match kind {
        CertKind::OtherHost => vec!["other.example".to_string()],
        _ => vec!["localhost".to_string(), "127.0.0.1".to_string()],
    };
    let mut params = CertificateParams::new(names).unwrap();
    let (from, to) = match kind {
        CertKind::Expired => ((2020, 1, 1), (2021, 1, 1)),
        _ => ((2020, 1, 1), (2100, 1, 1)),
    };
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca_file = dir.join(format!("ca-{kind:?}.pem"));
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    TestCert {
        ca_file,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

// ---------------------------------------------------- a small corpus --

use super::corpus::{raw_name, Snapshot};
use super::dovecot::Dovecot;
use super::probe::Probe;

/// A SplitMix64 generator: fault plans and small corpora from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64) as usize]
    }
}

/// The folders of [`seed_small_corpus`] and how many messages each holds.
pub const SMALL_CORPUS: [(&str, usize); 5] = [
    ("INBOX", 9),
    ("Sent", 6),
    ("Archive", 4),
    ("Archive/2019", 5),
    ("Entwürfe", 4),
];

/// A small multi-folder mailbox (28 messages, 0.3 to 40 KB, about 300 KB in
/// all): nested and non-ASCII folder names, flags and keywords, a
/// byte-identical message stored twice, and two different messages sharing
/// one Message-ID. Deterministic. Returns the number of messages.
pub fn seed_small_corpus(server: &Dovecot, user: &str, password: &str) -> usize {
    let mut probe = Probe::login(server.imap_port(), user, password);
    let (prefix, delimiter) = probe.namespace();
    let delimiter = delimiter.expect("a hierarchy delimiter");
    let mut rng = Rng::new(0x5EED_F417);
    let mut total = 0;
    for (folder, count) in SMALL_CORPUS {
        let raw = raw_name(folder, &prefix, delimiter);
        if folder != "INBOX" {
            probe.create(&raw);
        }
        let mut last: Option<Vec<u8>> = None;
        for i in 0..count {
            let size = if rng.range(0, 6) == 0 {
                rng.range(10_000, 40_000)
            } else {
                rng.range(300, 4_000)
            } as usize;
            let id = match (folder, i) {
                ("Sent", 1) => "<shared@fault.example>".to_string(),
                ("Sent", 2) => "<shared@fault.example>".to_string(),
                _ => format!("<{folder}-{i}-{}@fault.example>", rng.next() % 100_000),
            };
            let body = match (folder, i, &last) {
                // The same bytes twice in a row.
                ("INBOX", 4, Some(prev)) => prev.clone(),
                _ => message(&mut rng, &id, folder, i, size),
            };
            let flags: &[&str] = match i % 4 {
                0 => &[],
                1 => &["\\Seen"],
                2 => &["\\Seen", "\\Flagged"],
                _ => &["\\Answered", "$Forwarded"],
            };
            let day = 1 + rng.range(0, 28);
            let date = format!("{day:02}-Mar-2019 10:{:02}:00 +0200", i % 60);
            probe.append(&raw, flags, &date, &body);
            last = Some(body);
            total += 1;
        }
    }
    probe.logout();
    total
}

fn message(rng: &mut Rng, id: &str, folder: &str, i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "Message-ID: {id}\r\nDate: Mon, 4 Mar 2019 10:{:02}:00 +0200\r\nFrom: Fault Test <faults@example.com>\r\nTo: someone@example.com\r\nSubject: {folder} message {i}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        i % 60
    )
    .into_bytes();
    const WORDS: [&str; 8] = [
        "alpha", "ferry", "mail", "literal", "APPEND", "BODY[]", "{42}", "OK",
    ];
    let mut line = String::new();
    while m.len() < size {
        line.push_str(WORDS[rng.range(0, WORDS.len() as u64) as usize]);
        line.push(' ');
        if line.len() > 60 {
            m.extend_from_slice(line.trim_end().as_bytes());
            m.extend_from_slice(b"\r\n");
            line.clear();
        }
    }
    m.extend_from_slice(b"-- \r\nend\r\n");
    m
}

/// `Ok` when every source folder (selectable or not) is on the destination
/// with exactly the same multiset of messages (bytes, INTERNALDATE, flags),
/// and no folder the source lacks holds mail: nothing lost, nothing twice,
/// nothing elsewhere. Otherwise what differs.
pub fn compare(src: &Snapshot, dst: &Snapshot) -> Result<(), String> {
    let mut problems = Vec::new();
    for path in &src.all_folders {
        if !dst.all_folders.contains(path) && !src.folders.contains_key(path) {
            problems.push(format!("{path}: missing on the destination"));
        }
    }
    for (path, folder) in &src.folders {
        match dst.folders.get(path) {
            None => problems.push(format!("{path}: missing on the destination")),
            Some(other) => {
                let (a, b) = (folder.facts(), other.facts());
                if a != b {
                    let missing = multiset_minus(&a, &b);
                    let extra = multiset_minus(&b, &a);
                    problems.push(format!(
                        "{path}: {} messages on the source, {} on the destination ({} missing, {} extra)",
                        a.len(),
                        b.len(),
                        missing,
                        extra
                    ));
                }
            }
        }
    }
    for (path, folder) in &dst.folders {
        if !src.folders.contains_key(path) && !folder.messages.is_empty() {
            problems.push(format!(
                "{path}: {} messages in a folder the source does not have",
                folder.messages.len()
            ));
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// How many of `a` (a multiset) are not matched in `b`.
fn multiset_minus<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut pool: Vec<&T> = b.iter().collect();
    let mut left = 0;
    for x in a {
        match pool.iter().position(|p| *p == x) {
            Some(i) => {
                pool.swap_remove(i);
            }
            None => left += 1,
        }
    }
    left
}

/// Duplicates on the destination: copies of a source message (by its
/// bytes, in whatever folder, whatever its flags or date) beyond the number
/// the source holds. Messages not from the source don't count.
pub fn duplicates(src: &Snapshot, dst: &Snapshot) -> usize {
    let count = |s: &Snapshot| {
        let mut n: std::collections::HashMap<(String, u64), usize> = Default::default();
        for f in s.folders.values().flat_map(|f| f.messages.values()) {
            *n.entry((f.sha256.clone(), f.size)).or_default() += 1;
        }
        n
    };
    let (ours, theirs) = (count(src), count(dst));
    theirs
        .iter()
        .filter_map(|(body, &n)| ours.get(body).map(|&m| n.saturating_sub(m)))
        .sum()
}
