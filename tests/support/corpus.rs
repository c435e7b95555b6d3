//! The standard corpus, and snapshots of a whole mailbox to compare servers.
//!
//! Folder paths are "logical": UTF-8, '/' between levels, no namespace
//! prefix, "INBOX" for the inbox. `raw_name` and `logical_name` map them to
//! and from what a server calls them.

use super::dovecot::Dovecot;
use super::probe::{base64_encode, mutf7_decode, mutf7_encode, quote, FetchedMessage, Probe};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// What a migration must preserve of one message. Ordered, so a folder's
/// facts can be compared as a sorted multiset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageFacts {
    pub sha256: String,
    pub size: u64,
    /// INTERNALDATE as a UTC instant (maildir keeps no zone).
    pub internaldate: i64,
    /// Without `\Recent`.
    pub flags: BTreeSet<String>,
}

impl MessageFacts {
    pub fn new(body: &[u8], internaldate: i64, flags: &[&str]) -> MessageFacts {
        MessageFacts {
            sha256: sha256_hex(body),
            size: body.len() as u64,
            internaldate,
            flags: flags.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn of(m: &FetchedMessage) -> MessageFacts {
        MessageFacts {
            sha256: sha256_hex(&m.body),
            size: m.size,
            internaldate: parse_internaldate(&m.internaldate),
            flags: m.flags.iter().cloned().collect(),
        }
    }
}

impl fmt::Display for MessageFacts {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let date = format_utc(self.internaldate);
        write!(
            f,
            "sha {} {:>8} B  {date}  ({})",
            &self.sha256[..12],
            self.size,
            flags.join(" ")
        )
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------- corpus --

#[derive(Clone)]
pub struct CorpusMessage {
    pub internaldate: &'static str,
    pub flags: Vec<&'static str>,
    pub body: Vec<u8>,
}

impl CorpusMessage {
    pub fn facts(&self) -> MessageFacts {
        MessageFacts::new(
            &self.body,
            parse_internaldate(self.internaldate),
            &self.flags,
        )
    }
}

pub struct CorpusFolder {
    /// Logical path.
    pub path: &'static str,
    pub messages: Vec<CorpusMessage>,
}

/// What `seed_standard_corpus` put where: logical path -> sorted facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusSummary {
    pub folders: BTreeMap<String, Vec<MessageFacts>>,
}

impl CorpusSummary {
    pub fn count(&self, path: &str) -> usize {
        self.folders.get(path).map_or(0, Vec::len)
    }

    pub fn total(&self) -> usize {
        self.folders.values().map(Vec::len).sum()
    }
}

const D1999: &str = "01-Jan-1999 00:00:00 +0000";
const D2010: &str = "15-Jun-2010 08:30:00 -0700";
const D2015: &str = " 5-Jul-2015 10:00:00 +0200";
const D2020: &str = "01-Apr-2020 12:00:00 -0400";
const D2021: &str = "31-Dec-2021 23:59:59 +1400";
const D2022: &str = "03-Mar-2022 03:03:03 +0000";
const D2024: &str = "29-Feb-2024 12:00:00 +0530";
const D2026: &str = "10-Mar-2026 07:15:00 -0330";

/// The standard corpus (built once, deterministic). `Folder.With.Dots`
/// is only seeded where '.' is not the hierarchy delimiter.
pub fn standard_corpus() -> &'static [CorpusFolder] {
    static CORPUS: OnceLock<Vec<CorpusFolder>> = OnceLock::new();
    CORPUS.get_or_init(build_corpus)
}

// A table: kept one message a line.
#[rustfmt::skip]
fn build_corpus() -> Vec<CorpusFolder> {
    let mut g = Gen { rng: Rng(0x6d61_696c_6665_7272), ids: 0 };
    let (bob, alice) = ("Bob Example <bob@example.test>", "Alice <alice@example.test>");
    let (seen, draft) = ("\\Seen", "\\Draft");

    // Hard cases for de-duplication: one Message-ID (and Date, From,
    // Subject) on two different bodies; identical headers and size with one
    // differing body byte; a byte-identical copy stored twice.
    let same_id = g.id();
    let minutes = |text: &str| {
        let body = format!("{text}\r\n");
        fixed(D2021, &[seen], mail(bob, "Minutes", D2021, Some(&same_id), TEXT, body))
    };
    let code = |byte: &str| {
        let body = format!("The code is 4711-{byte}. Keep it safe.\r\n");
        let id = Some("<twin@example.test>");
        fixed(D2022, &[], mail(bob, "Your code", D2022, id, TEXT, body))
    };
    let twice = g.text(D2010, &[seen], bob, "Sent twice by a broken client", 1500);
    let dots = ".hidden\r\n..two dots\r\n.\r\nThe line above is only a dot.\r\n.\r\n";
    let dots = mail(bob, "Dots", D2020, Some(&g.id()), TEXT, format!("Dots:\r\n{dots}"));
    let no_id = mail(bob, "No Message-ID here", D2015, None, TEXT, "Nobody gave me an id.\r\n");

    let inbox = vec![
        g.text(D1999, &[seen], bob, "Welcome", 1024),
        g.text(D2021, &[seen, "\\Flagged"], bob, "Big one", 3 << 20),
        g.attachment(D2024, &[seen, "$Forwarded"], bob, "Random data", 768 << 10),
        g.text(D2026, &[], "Jürgen Müller <jm@example.de>", "Grüße aus München – 日本語 ✓", 2000),
        g.text(D2010, &["\\Answered", seen], LATIN1_FROM, LATIN1_SUBJECT, 3000),
        fixed(D2015, &["\\Deleted"], no_id),
        minutes("First version of the minutes."),
        minutes("Second, corrected version of the minutes."),
        code("A"),
        code("B"),
        twice.clone(),
        twice,
        fixed(D2020, &["$Label1"], dots),
    ];
    let sent = vec![
        g.text("02-Feb-2018 08:00:00 +0100", &[seen], alice, "Re: Welcome", 1200),
        g.text("17-Sep-2019 17:45:00 -0500", &[seen], alice, "Report", 5000),
        g.text("30-Nov-2020 23:30:00 +0900", &[seen, "$Forwarded"], alice, "Fwd: Report", 8000),
        g.text(D2024, &[seen, "\\Answered"], alice, "Leap day", 1100),
        g.text(D2026, &[seen], alice, "Latest", 2500),
    ];
    let drafts = vec![
        g.text(D2024, &[draft], alice, "Entwurf: Über uns", 1500),
        g.text(D2026, &[draft, seen], alice, "Draft two", 900),
        g.text(D2021, &[draft, "ProjectX"], alice, "Draft three", 4000),
    ];
    let projects = vec![
        g.text(D2015, &["ProjectX"], bob, "Kickoff", 2200),
        g.text(D2021, &["ProjectX", "$Label1", seen], bob, "Résumé attached", 1800),
        g.text(D2024, &["\\Flagged"], bob, "日本 trip", 6000),
        g.attachment(D2026, &[seen], bob, "Small attachment", 40 << 10),
    ];
    let archive = vec![
        g.text(D1999, &[seen], bob, "Old times", 1000),
        g.text("31-Dec-1999 23:59:59 -0800", &[seen], bob, "Y2K", 1300),
        g.text("29-Feb-2000 06:00:00 +0000", &[seen, "\\Answered", "\\Flagged"], bob, "Leap", 2100),
        g.text(D2010, &[seen], bob, "Mid", 64 << 10),
    ];
    let archive_2019 = vec![
        g.text("01-Jan-2019 00:00:00 +1245", &[seen], bob, "New year", 1000),
        g.text("15-Mar-2019 12:00:00 -0930", &[seen, "$Forwarded"], bob, "March", 1500),
        g.text("30-Jun-2019 18:00:00 +0000", &[], bob, "June", 2500),
        g.text("31-Dec-2019 23:00:00 -1200", &["\\Deleted", seen], bob, "Not expunged", 1200),
    ];
    let dotted = vec![
        g.text(D2021, &[seen], bob, "In a dotted folder", 1000),
        g.text(D2024, &[], bob, "Also dotted", 1100),
    ];
    let spaced = vec![
        g.text(D2010, &[], bob, "Spaced out", 1000),
        g.text(D2015, &["\\Flagged"], bob, "Spaced in", 3300),
        g.text(D2026, &[seen, "$Label1", "ProjectX"], bob, "Keywords", 1400),
    ];
    let folder = |path, messages| CorpusFolder { path, messages };
    vec![
        folder("INBOX", inbox),
        folder("Sent", sent),
        folder("Entwürfe", drafts),
        folder("Projects/Résumé & Co 日本", projects),
        folder("Archive", archive),
        folder("Archive/2019", archive_2019),
        folder("Folder.With.Dots", dotted),
        folder("Folder With Space", spaced),
        folder("Empty", vec![]),
    ]
}

const LATIN1_FROM: &[u8] = b"Ren\xe9 Fran\xe7ois <rf@example.fr>";
const LATIN1_SUBJECT: &[u8] = b"Caf\xe9 cr\xe8me br\xfbl\xe9e";
const TEXT: &str = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";

fn fixed(internaldate: &'static str, flags: &[&'static str], body: Vec<u8>) -> CorpusMessage {
    CorpusMessage {
        internaldate,
        flags: flags.to_vec(),
        body,
    }
}

/// Header block + body; `date` (an IMAP date-time) becomes the Date header.
fn mail(
    from: impl AsRef<[u8]>,
    subject: impl AsRef<[u8]>,
    date: &str,
    id: Option<&str>,
    mime: &str,
    body: impl AsRef<[u8]>,
) -> Vec<u8> {
    let mut m = [
        b"From: ",
        from.as_ref(),
        b"\r\nTo: Alice <alice@example.test>\r\n",
    ]
    .concat();
    m.extend([b"Subject: ", subject.as_ref(), b"\r\n"].concat());
    m.extend(format!("Date: {}\r\n", date.trim().replacen('-', " ", 2)).bytes());
    if let Some(id) = id {
        m.extend(format!("Message-ID: {id}\r\n").bytes());
    }
    m.extend(format!("MIME-Version: 1.0\r\n{mime}\r\n").bytes());
    m.extend(body.as_ref());
    m
}

struct Gen {
    rng: Rng,
    ids: u32,
}

impl Gen {
    fn id(&mut self) -> String {
        self.ids += 1;
        format!("<corpus-{}@mailferry.test>", self.ids)
    }

    /// A text message of about `size` bytes in all, dated `internaldate`.
    fn text(
        &mut self,
        internaldate: &'static str,
        flags: &[&'static str],
        from: impl AsRef<[u8]>,
        subject: impl AsRef<[u8]>,
        size: usize,
    ) -> CorpusMessage {
        const WORDS: &[&str] = &[
            "mail",
            "ferry",
            "über",
            "Straße",
            "the",
            "quick",
            "brown",
            "fox",
            "IMAP",
            "folder",
            "message",
            "résumé",
            "a",
            "of",
            "and",
            "to",
            "日本",
            "migration",
            "byte",
            "exact",
        ];
        let id = self.id();
        let mut body = String::new();
        let mut line = String::new();
        while body.len() + line.len() + 300 < size {
            let word = WORDS[(self.rng.next() % WORDS.len() as u64) as usize];
            if line.len() + word.len() > 70 {
                body += line.trim_end();
                body += "\r\n";
                line.clear();
            }
            line += word;
            line += " ";
        }
        body += line.trim_end();
        body += "\r\n";
        let mail = mail(from, subject, internaldate, Some(&id), TEXT, body);
        fixed(internaldate, flags, mail)
    }

    /// multipart/mixed with `len` random bytes as a base64 attachment.
    fn attachment(
        &mut self,
        internaldate: &'static str,
        flags: &[&'static str],
        from: &str,
        subject: &str,
        len: usize,
    ) -> CorpusMessage {
        let id = self.id();
        let data: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
        let encoded = base64_encode(&data);
        let mut body = format!("--b1\r\n{TEXT}\r\nSee the attachment.\r\n--b1\r\n");
        body += "Content-Type: application/octet-stream; name=\"data.bin\"\r\n";
        body += "Content-Transfer-Encoding: base64\r\n";
        body += "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n";
        for chunk in encoded.as_bytes().chunks(76) {
            body += std::str::from_utf8(chunk).unwrap();
            body += "\r\n";
        }
        body += "--b1--\r\n";
        let mime = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n";
        let mail = mail(from, subject, internaldate, Some(&id), mime, body);
        fixed(internaldate, flags, mail)
    }
}

/// SplitMix64: small, fixed-seed, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0; the tiny modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Creates the standard corpus in `user`'s mailbox (which should be empty)
/// through the probe, naming folders the way the server wants.
pub fn seed_standard_corpus(server: &Dovecot, user: &str, password: &str) -> CorpusSummary {
    let mut probe = Probe::login(server.imap_port(), user, password);
    let (prefix, delimiter) = probe.namespace();
    let delimiter = delimiter.expect("a flat namespace");
    let mut folders = BTreeMap::new();
    for folder in standard_corpus() {
        if folder
            .path
            .split('/')
            .any(|level| level.contains(delimiter))
        {
            continue; // unrepresentable here (Folder.With.Dots on Courier)
        }
        let raw = raw_name(folder.path, &prefix, delimiter);
        if folder.path != "INBOX" {
            probe.create(&raw);
        }
        for m in &folder.messages {
            probe.append(&raw, &m.flags, m.internaldate, &m.body);
        }
        let mut facts: Vec<MessageFacts> =
            folder.messages.iter().map(CorpusMessage::facts).collect();
        facts.sort();
        folders.insert(folder.path.to_string(), facts);
    }
    probe.logout();
    CorpusSummary { folders }
}

// --------------------------------------------------------- bench account --

/// What `seed_bench_account` stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchSummary {
    pub messages: usize,
    /// The sum of the message sizes (what RFC822.SIZE reports).
    pub bytes: u64,
    /// Logical path -> (messages, bytes), for every bench folder.
    pub folders: BTreeMap<String, (usize, u64)>,
    /// Messages in the size classes 1-20 KB, 20-200 KB, 0.5-4 MB.
    pub by_class: [usize; 3],
}

/// The bench account's folders (logical paths) and the share of messages,
/// in percent, each one gets. Parents come before their children.
pub const BENCH_FOLDERS: [(&str, u32); 10] = [
    ("INBOX", 30),
    ("Sent", 12),
    ("Drafts", 2),
    ("Archive", 8),
    ("Archive/2019", 10),
    ("Archive/2020", 10),
    ("Projects", 5),
    ("Projects/Alpha", 8),
    ("Projects/Beta", 7),
    ("Newsletters", 8),
];

const KB: u64 = 1000;
const MB: u64 = 1000 * KB;
/// Size classes: (share of messages in percent, smallest, largest).
const BENCH_CLASSES: [(u64, u64, u64); 3] = [
    (80, KB, 20 * KB),
    (17, 20 * KB, 200 * KB),
    (3, 500 * KB, 4 * MB),
];
const BENCH_MIN: u64 = KB;
const BENCH_MAX: u64 = 4 * MB;

/// Fills `user`'s (empty) mailbox with `messages` generated messages of
/// `target_bytes` in all (within 5%; exactly the sum of sizes planned), in
/// the ten `BENCH_FOLDERS`. Deterministic for given arguments: the same
/// bodies, dates and flags every time.
///
/// Sizes run from 1 KB to 4 MB in three classes, log-uniform within each:
/// small 1-20 KB (plain text), medium 20-200 KB (half with a base64
/// attachment), large 0.5-4 MB (attachment). At ~69 KB a message the
/// classes hold 80%, 17% and 3% of the messages; for another average the
/// shares of medium and large scale together (2,000 messages / 66 MB:
/// 91.4%, 7.3%, 1.3%), so that the sizes keep their spread instead of
/// piling up at the class bounds. A last tweak of the shape hits
/// `target_bytes`; past what the classes allow, all sizes are scaled (and
/// clamped to 1 KB - 4 MB). Every message is RFC 5322 with
/// CRLF line ends, its own Message-ID, Date, From, To and Subject; about
/// three in four are `\Seen`, some `\Answered`, `\Flagged`, `$Forwarded`;
/// those in Drafts are `\Draft`. INTERNALDATE is the Date header's instant
/// and grows with the UID in each folder.
///
/// Fast: one connection per folder, MULTIAPPEND batches with LITERAL+
/// literals, all batches in flight at once (2,000 messages / 66 MB take a
/// few seconds).
pub fn seed_bench_account(
    server: &Dovecot,
    user: &str,
    password: &str,
    messages: usize,
    target_bytes: u64,
) -> BenchSummary {
    let plan = bench_plan(messages, target_bytes);
    let mut probe = Probe::login(server.imap_port(), user, password);
    let (prefix, delimiter) = probe.namespace();
    let delimiter = delimiter.expect("a flat namespace");
    let raw: Vec<String> = BENCH_FOLDERS
        .iter()
        .map(|(path, _)| raw_name(path, &prefix, delimiter))
        .collect();
    for name in &raw[1..] {
        probe.create(name);
    }
    probe.logout();

    let port = server.imap_port();
    std::thread::scope(|scope| {
        let workers: Vec<_> = raw
            .iter()
            .enumerate()
            .map(|(f, name)| {
                let mine: Vec<&BenchMessage> = plan.iter().filter(|m| m.folder == f).collect();
                scope.spawn(move || append_pipelined(port, user, password, name, &mine))
            })
            .collect();
        for (worker, (path, _)) in workers.into_iter().zip(BENCH_FOLDERS) {
            if let Err(e) = worker.join().expect("bench seeding thread panicked") {
                panic!("seeding {path:?} for {user}: {e}");
            }
        }
    });

    let mut folders = BTreeMap::new();
    for (f, (path, _)) in BENCH_FOLDERS.iter().enumerate() {
        let mine = plan.iter().filter(|m| m.folder == f);
        let entry: &mut (usize, u64) = folders.entry(path.to_string()).or_default();
        for m in mine {
            entry.0 += 1;
            entry.1 += m.size;
        }
    }
    let mut by_class = [0; 3];
    for m in &plan {
        by_class[m.class] += 1;
    }
    BenchSummary {
        messages: plan.len(),
        bytes: plan.iter().map(|m| m.size).sum(),
        folders,
        by_class,
    }
}

/// One planned bench message; its content follows from `seed`.
struct BenchMessage {
    index: usize,
    folder: usize,
    class: usize,
    size: u64,
    /// Seconds since the epoch, and the zone shown, in minutes.
    time: i64,
    zone: i64,
    flags: Vec<&'static str>,
    attachment: bool,
    seed: u64,
}

/// Classes, folders, dates, flags and sizes of every message, in APPEND
/// order (by date within a folder).
fn bench_plan(messages: usize, target_bytes: u64) -> Vec<BenchMessage> {
    let mut rng = Rng(0x6265_6e63_685f_7631 ^ messages as u64);
    // Class counts (see above), shuffled.
    let mean = |(_, lo, hi): (u64, u64, u64)| (hi - lo) as f64 / (hi as f64 / lo as f64).ln();
    let [small, medium, large] = BENCH_CLASSES.map(mean);
    let share = |c: usize| BENCH_CLASSES[c].0 as f64 / 100.0;
    let wanted = target_bytes as f64 / messages.max(1) as f64;
    let f = (wanted - small) / (share(1) * (medium - small) + share(2) * (large - small));
    let f = f.clamp(0.0, 1.0 / (share(1) + share(2)));
    let count = |c: usize| (messages as f64 * share(c) * f).round() as usize;
    let (large, mid) = (count(2), count(1));
    let mut classes: Vec<usize> = (0..messages)
        .map(|i| match i {
            i if i < large => 2,
            i if i < large + mid => 1,
            _ => 0,
        })
        .collect();
    for i in (1..classes.len()).rev() {
        classes.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let units: Vec<f64> = (0..messages).map(|_| rng.unit()).collect();
    let sizes = bench_sizes(&classes, &units, target_bytes);

    const ZONES: [i64; 10] = [0, -420, 120, -240, 330, 540, -210, 765, -720, 60];
    let total_weight: u32 = BENCH_FOLDERS.iter().map(|(_, w)| w).sum();
    let mut plan: Vec<BenchMessage> = (0..messages)
        .map(|index| {
            let mut pick = rng.below(u64::from(total_weight)) as u32;
            let folder = BENCH_FOLDERS
                .iter()
                .position(|&(_, w)| {
                    let hit = pick < w;
                    pick = pick.saturating_sub(w);
                    hit
                })
                .unwrap();
            // Archive/2019 and /2020 hold their year, Archive older mail,
            // the rest 2021 to 2025.
            let year = |y: i64| days_from_civil(y, 1, 1) * 86400;
            let (from, to) = match BENCH_FOLDERS[folder].0 {
                "Archive" => (year(2008), year(2019)),
                "Archive/2019" => (year(2019), year(2020)),
                "Archive/2020" => (year(2020), year(2021)),
                _ => (year(2021), year(2026)),
            };
            let zone = ZONES[rng.below(ZONES.len() as u64) as usize];
            // An instant whose local date (in `zone`) is in the range.
            let time = from + rng.below((to - from) as u64) as i64 - zone * 60;
            let roll = rng.below(100);
            let mut flags = Vec::new();
            match BENCH_FOLDERS[folder].0 {
                "Drafts" => flags.push("\\Draft"),
                "Sent" => flags.push("\\Seen"),
                _ if roll < 75 => flags.push("\\Seen"),
                _ => {}
            }
            if roll % 10 == 3 {
                flags.push("\\Answered");
            }
            if roll % 20 == 7 {
                flags.push("\\Flagged");
            }
            if roll % 33 == 5 {
                flags.push("$Forwarded");
            }
            let attachment = match classes[index] {
                2 => true,
                1 => rng.below(2) == 0,
                _ => false,
            };
            BenchMessage {
                index,
                folder,
                class: classes[index],
                size: sizes[index],
                time,
                zone,
                flags,
                attachment: attachment && sizes[index] >= 8 * KB,
                seed: rng.next(),
            }
        })
        .collect();
    plan.sort_by_key(|m| (m.folder, m.time, m.index));
    let total: u64 = plan.iter().map(|m| m.size).sum();
    let off = total.abs_diff(target_bytes) as f64 / target_bytes.max(1) as f64;
    assert!(
        messages == 0 || off <= 0.05,
        "bench: {messages} messages cannot make {target_bytes} bytes \
         (1 KB to 4 MB each); got {total}"
    );
    plan
}

/// Message sizes for the classes and uniform draws: within a class,
/// lo * (hi/lo)^(u^k), with k found so that the total meets the target;
/// if no k can, everything is scaled by s (and clamped to 1 KB - 4 MB).
fn bench_sizes(classes: &[usize], units: &[f64], target: u64) -> Vec<u64> {
    let sizes = |k: f64, s: f64| -> Vec<u64> {
        classes
            .iter()
            .zip(units)
            .map(|(&c, &u)| {
                let (_, lo, hi) = BENCH_CLASSES[c];
                let v = lo as f64 * (hi as f64 / lo as f64).powf(u.powf(k)) * s;
                (v.round() as u64).clamp(BENCH_MIN, BENCH_MAX)
            })
            .collect()
    };
    let total = |k: f64, s: f64| sizes(k, s).iter().sum::<u64>() as f64;
    let target = target as f64;
    // Bisection (geometric) for an increasing f: f(x) ~ target in [lo, hi].
    let solve = |f: &dyn Fn(f64) -> f64, mut lo: f64, mut hi: f64| {
        for _ in 0..60 {
            let mid = (lo * hi).sqrt();
            match f(mid) < target {
                true => lo = mid,
                false => hi = mid,
            }
        }
        (lo * hi).sqrt()
    };
    let (k_min, k_max) = (1.0 / 64.0, 64.0);
    if total(k_max, 1.0) > target {
        // Too many bytes even at the classes' low ends: shrink everything.
        let s = solve(&|s| total(k_max, s), 1e-6, 1.0);
        return sizes(k_max, s);
    }
    if total(k_min, 1.0) < target {
        let s = solve(&|s| total(k_min, s), 1.0, 1e6);
        return sizes(k_min, s);
    }
    // The total shrinks as k grows: solve for 1/k.
    let x = solve(&|x| total(1.0 / x, 1.0), 1.0 / k_max, 1.0 / k_min);
    sizes(1.0 / x, 1.0)
}

const BENCH_SENDERS: [&str; 8] = [
    "Bob Example <bob@example.test>",
    "Carol Jones <carol@example.test>",
    "Dave Smith <dave@lists.example.test>",
    "Erin O'Brien <erin@example.org>",
    "Frank Miller <frank@corp.example>",
    "Grace Lee <grace@example.net>",
    "Heidi Novak <heidi@example.test>",
    "Weekly News <news@newsletter.example>",
];
const BENCH_USER: &str = "Bench User <bench@example.test>";

/// The message's bytes: exactly `m.size` of them.
fn bench_message(m: &BenchMessage, folder: &str) -> Vec<u8> {
    let mut rng = Rng(m.seed);
    let sender = BENCH_SENDERS[rng.below(BENCH_SENDERS.len() as u64) as usize];
    let (from, to) = match folder {
        "Sent" | "Drafts" => (BENCH_USER, sender),
        _ => (sender, BENCH_USER),
    };
    let words: Vec<&str> = (0..3 + rng.below(5))
        .map(|_| BENCH_WORDS[rng.below(BENCH_WORDS.len() as u64) as usize])
        .collect();
    let boundary = format!("=_bench_{:x}", m.seed);
    let mut out = Vec::with_capacity(m.size as usize);
    let mut put = |s: &str| out.extend_from_slice(s.as_bytes());
    put(&format!("From: {from}\r\nTo: {to}\r\n"));
    put(&format!(
        "Subject: {} (#{})\r\n",
        words.join(" "),
        m.index + 1
    ));
    put(&format!("Date: {}\r\n", rfc5322_date(m.time, m.zone)));
    put(&format!(
        "Message-ID: <bench-{}.{:08x}@mailferry.test>\r\nMIME-Version: 1.0\r\n",
        m.index + 1,
        m.seed as u32
    ));
    let first = format!(
        "Bench message {} in {folder}, {} bytes.\r\n",
        m.index + 1,
        m.size
    );
    if !m.attachment {
        put("Content-Type: text/plain; charset=us-ascii\r\n");
        put("Content-Transfer-Encoding: 7bit\r\n\r\n");
        put(&first);
        let left = (m.size as usize).checked_sub(out.len());
        let left = left.unwrap_or_else(|| panic!("bench: {} bytes is too small", m.size));
        fill_text(&mut out, left, &mut rng);
    } else {
        put(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
        ));
        put(&format!("--{boundary}\r\n"));
        put("Content-Type: text/plain; charset=us-ascii\r\n");
        put("Content-Transfer-Encoding: 7bit\r\n\r\n");
        put(&first);
        let name = format!("file-{}.bin", m.index + 1);
        let head = format!(
            "--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
        );
        let tail = format!("--{boundary}--\r\n");
        let room = m.size as usize - out.len() - head.len() - tail.len();
        // About 5% (200 B to 4 KB) of text, the rest whole base64 lines.
        let text = (room / 20).clamp(200, 4000);
        let lines = (room - text) / BASE64_LINE;
        fill_text(&mut out, room - lines * BASE64_LINE, &mut rng);
        out.extend_from_slice(head.as_bytes());
        let pool = base64_pool();
        let mut at = rng.below((pool.len() / BASE64_LINE) as u64) as usize * BASE64_LINE;
        let mut want = lines * BASE64_LINE;
        while want > 0 {
            let n = want.min(pool.len() - at);
            out.extend_from_slice(&pool[at..at + n]);
            want -= n;
            at = 0;
        }
        out.extend_from_slice(tail.as_bytes());
    }
    assert_eq!(out.len() as u64, m.size, "bench message {}", m.index);
    out
}

/// Appends exactly `len` bytes of ASCII text lines (at most 78 bytes each)
/// ending in CRLF; `len` >= 2.
fn fill_text(out: &mut Vec<u8>, len: usize, rng: &mut Rng) {
    let pool = text_pool();
    let starts = &pool.1;
    let mut at = starts[rng.below(starts.len() as u64) as usize];
    let mut want = len - 2;
    while want > 0 {
        let n = want.min(pool.0.len() - at);
        out.extend_from_slice(&pool.0[at..at + n]);
        want -= n;
        at = 0;
    }
    // A cut between CR and LF would leave a bare CR.
    if out.last() == Some(&b'\r') {
        *out.last_mut().unwrap() = b'.';
    }
    out.extend_from_slice(b"\r\n");
}

const BENCH_WORDS: [&str; 24] = [
    "mail",
    "ferry",
    "the",
    "quick",
    "brown",
    "fox",
    "IMAP",
    "folder",
    "message",
    "report",
    "a",
    "of",
    "and",
    "to",
    "meeting",
    "migration",
    "byte",
    "exact",
    "budget",
    "draft",
    "invoice",
    "review",
    "schedule",
    "notes",
];

/// ~256 KB of text lines and where each line starts.
fn text_pool() -> &'static (Vec<u8>, Vec<usize>) {
    static POOL: OnceLock<(Vec<u8>, Vec<usize>)> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut rng = Rng(0x7465_7874);
        let (mut text, mut starts) = (Vec::new(), Vec::new());
        while text.len() < 256 << 10 {
            starts.push(text.len());
            let width = 60 + rng.below(15) as usize;
            let mut line = String::new();
            while line.len() < width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line += BENCH_WORDS[rng.below(BENCH_WORDS.len() as u64) as usize];
            }
            text.extend_from_slice(line.as_bytes());
            text.extend_from_slice(b".\r\n");
        }
        (text, starts)
    })
}

/// 76 base64 characters and CRLF: 57 random bytes.
const BASE64_LINE: usize = 78;

/// ~2 MB of base64 lines of random bytes, without padding (so any run of
/// whole lines is valid base64).
fn base64_pool() -> &'static [u8] {
    static POOL: OnceLock<Vec<u8>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut rng = Rng(0x6261_7365_3634);
        let mut pool = Vec::with_capacity(2 << 20);
        let mut raw = [0u8; 57 * 64];
        while pool.len() < 2 << 20 {
            for chunk in raw.chunks_mut(8) {
                let n = chunk.len();
                chunk.copy_from_slice(&rng.next().to_le_bytes()[..n]);
            }
            let encoded = base64_encode(&raw);
            for line in encoded.as_bytes().chunks(76) {
                pool.extend_from_slice(line);
                pool.extend_from_slice(b"\r\n");
            }
        }
        pool
    })
}

/// "Tue, 15 Jun 2010 08:30:00 -0700" for an instant shown in `zone`
/// (minutes east of UTC).
fn rfc5322_date(time: i64, zone: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let local = time + zone * 60;
    let days = local.div_euclid(86400);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!("{weekday}, {}", imap_date(time, zone).replacen('-', " ", 2))
}

/// "15-Jun-2010 08:30:00 -0700": an IMAP date-time (INTERNALDATE).
fn imap_date(time: i64, zone: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = time + zone * 60;
    let (y, m, d) = civil_from_days(local.div_euclid(86400));
    let secs = local.rem_euclid(86400);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let sign = if zone < 0 { '-' } else { '+' };
    let (zh, zm) = (zone.abs() / 60, zone.abs() % 60);
    let month = MONTHS[m as usize - 1];
    format!("{d:02}-{month}-{y} {h:02}:{mi:02}:{s:02} {sign}{zh:02}{zm:02}")
}

/// Appends `messages` to `folder` over one connection of its own: MULTIAPPEND
/// batches with LITERAL+ (non-synchronizing) literals, all sent without
/// waiting; a second thread reads the completions meanwhile.
fn append_pipelined(
    port: u16,
    user: &str,
    password: &str,
    raw_folder: &str,
    messages: &[&BenchMessage],
) -> Result<(), String> {
    if messages.is_empty() {
        return Ok(());
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = read_line(&mut reader)?;
    if line.contains("Waiting for authentication") {
        line = read_line(&mut reader)?;
    }
    if !line.starts_with("* OK") {
        return Err(format!("greeting: {}", line.trim_end()));
    }
    let login = format!("l LOGIN {} {}\r\n", quote(user), quote(password));
    (&stream)
        .write_all(login.as_bytes())
        .map_err(|e| e.to_string())?;
    while !line.starts_with("l ") {
        line = read_line(&mut reader)?;
    }
    if !line.starts_with("l OK") {
        return Err(format!("login: {}", line.trim_end()));
    }
    let caps = line.to_ascii_uppercase();
    if !caps.contains("LITERAL+") || !caps.contains("MULTIAPPEND") {
        return Err(format!("no LITERAL+ or MULTIAPPEND: {}", line.trim_end()));
    }

    // Batches of up to 100 messages or 8 MB: one transaction each.
    let mut batches: Vec<&[&BenchMessage]> = Vec::new();
    let mut rest = messages;
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take(100)
            .take_while(|m| {
                bytes += m.size;
                bytes <= 8 * MB || bytes == m.size
            })
            .count();
        batches.push(&rest[..n]);
        rest = &rest[n..];
    }
    let expected = batches.len();

    std::thread::scope(|scope| {
        let completions = scope.spawn(move || {
            let mut done = 0;
            let mut result = Ok(());
            while done < expected && result.is_ok() {
                result = match read_line(&mut reader) {
                    Err(e) => Err(format!("after {done} of {expected} batches: {e}")),
                    Ok(line) if line.starts_with('b') => {
                        done += 1;
                        match line.split(' ').nth(1) == Some("OK") {
                            true => Ok(()),
                            false => Err(format!("APPEND: {}", line.trim_end())),
                        }
                    }
                    Ok(_) => Ok(()),
                };
            }
            if result.is_err() {
                // Unblock the writer, should the server have stopped reading.
                let _ = reader.get_ref().shutdown(Shutdown::Both);
            }
            result
        });
        let mut out = BufWriter::with_capacity(1 << 20, &stream);
        let folder = BENCH_FOLDERS[messages[0].folder].0;
        let mut sent: Result<(), String> = Ok(());
        for (i, batch) in batches.iter().enumerate() {
            let mut command = format!("b{i} APPEND {}", quote(raw_folder)).into_bytes();
            for m in *batch {
                let body = bench_message(m, folder);
                let date = imap_date(m.time, m.zone);
                let flags = m.flags.join(" ");
                command.extend(format!(" ({flags}) \"{date}\" {{{}+}}\r\n", body.len()).bytes());
                command.extend_from_slice(&body);
            }
            command.extend_from_slice(b"\r\n");
            if let Err(e) = out.write_all(&command) {
                sent = Err(e.to_string());
                break;
            }
        }
        if sent.is_ok() {
            sent = out.flush().map_err(|e| e.to_string());
        }
        drop(out);
        let result = completions.join().expect("completion reader panicked");
        let _ = (&stream).write_all(b"z LOGOUT\r\n");
        let _ = stream.shutdown(Shutdown::Both);
        // The server's answer says more than a broken pipe.
        result.and(sent.map_err(|e| format!("sending: {e}")))
    })
}

fn read_line(reader: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err("connection closed".to_string()),
        Ok(_) => Ok(line),
        Err(e) => Err(e.to_string()),
    }
}

/// Logical path -> the server's name (prefix, delimiter, modified UTF-7).
pub fn raw_name(logical: &str, prefix: &str, delimiter: char) -> String {
    if logical.eq_ignore_ascii_case("INBOX") {
        return "INBOX".to_string();
    }
    let levels: Vec<String> = logical.split('/').map(mutf7_encode).collect();
    format!("{prefix}{}", levels.join(&delimiter.to_string()))
}

/// The server's name -> logical path.
pub fn logical_name(raw: &str, prefix: &str, delimiter: Option<char>) -> String {
    if raw.eq_ignore_ascii_case("INBOX") {
        return "INBOX".to_string();
    }
    let name = raw.strip_prefix(prefix).unwrap_or(raw);
    let levels: Vec<&str> = match delimiter {
        Some(d) => name.split(d).collect(),
        None => vec![name],
    };
    let decode = |l: &&str| mutf7_decode(l).unwrap_or_else(|e| panic!("{e}"));
    levels.iter().map(decode).collect::<Vec<_>>().join("/")
}

// ------------------------------------------------ scale and WAN accounts --
//
// The seeders of the benchmark's scale scenarios (issue 15): many folders,
// one huge folder, one huge message. Their messages are bench messages
// (`bench_message`): RFC 5322 with CRLF line ends, their own Message-ID,
// deterministic for given arguments.

/// Fills `user`'s (empty) mailbox with `folders` folders (the INBOX and
/// `folders - 1` more) of `per_folder` small messages each (2 to 4 KB,
/// plain text). The folders nest one level: "Group 001", then "Group
/// 001/Folder 01" to "Group 001/Folder 19", then "Group 002"... (20 a
/// group, every one of them holding messages).
///
/// Fast: the CREATEs are pipelined on one connection, then the APPENDs
/// (one MULTIAPPEND a folder, LITERAL+) on four connections, each sending
/// without waiting (1,000 folders x 5 messages take a few seconds).
pub fn seed_folders_account(
    server: &Dovecot,
    user: &str,
    password: &str,
    folders: usize,
    per_folder: usize,
) -> BenchSummary {
    let mut probe = Probe::login(server.imap_port(), user, password);
    let (prefix, delimiter) = probe.namespace();
    let delimiter = delimiter.expect("a flat namespace");
    probe.logout();
    let logical: Vec<String> = (0..folders.max(1)).map(many_folder_name).collect();
    let raw: Vec<String> = logical
        .iter()
        .map(|path| raw_name(path, &prefix, delimiter))
        .collect();
    let port = server.imap_port();
    // Parents come before their children; a parent made by its child's
    // CREATE (on a server that does so) is fine too.
    pipelined(
        port,
        user,
        password,
        raw.len() - 1,
        &["[ALREADYEXISTS]"],
        &|i, out| {
            out.extend(format!("CREATE {}\r\n", quote(&raw[i + 1])).bytes());
        },
    )
    .unwrap_or_else(|e| panic!("creating {folders} folders for {user}: {e}"));

    let plan: Vec<BenchMessage> = (0..logical.len() * per_folder)
        .map(|i| small_message(i, i / per_folder.max(1), 0x666f_6c64))
        .collect();
    let connections = 4.min(logical.len());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|c| {
                let mine: Vec<usize> = (c..logical.len()).step_by(connections).collect();
                let (raw, logical, plan) = (&raw, &logical, &plan);
                scope.spawn(move || {
                    pipelined(port, user, password, mine.len(), &[], &|i, out| {
                        let f = mine[i];
                        let messages = &plan[f * per_folder..(f + 1) * per_folder];
                        append_command(out, &raw[f], &logical[f], messages);
                    })
                })
            })
            .collect();
        for worker in workers {
            if let Err(e) = worker.join().expect("seeding thread panicked") {
                panic!("seeding {folders} folders for {user}: {e}");
            }
        }
    });
    let mut summary = summarize(&plan, |m| logical[m.folder].clone());
    for path in &logical {
        summary.folders.entry(path.clone()).or_default();
    }
    summary
}

/// The same mailbox as `seed_bench_account` (the same folders, messages,
/// dates and flags), seeded over a single connection: the CREATEs, then
/// the MULTIAPPEND batches, all pipelined. Slower for one big account, much
/// faster for hundreds of small ones (one login each instead of eleven).
/// Names folders as the server's `Layout` says (no NAMESPACE asked).
pub fn seed_bench_account_one_connection(
    server: &Dovecot,
    user: &str,
    password: &str,
    messages: usize,
    target_bytes: u64,
) -> BenchSummary {
    let plan = bench_plan(messages, target_bytes);
    let layout = server.layout();
    let raw: Vec<String> = BENCH_FOLDERS
        .iter()
        .map(|(path, _)| raw_name(path, layout.prefix(), layout.delimiter()))
        .collect();
    // Batches of up to 100 messages or 8 MB, folder by folder.
    let mut batches: Vec<&[BenchMessage]> = Vec::new();
    let mut rest = &plan[..];
    while !rest.is_empty() {
        let folder = rest[0].folder;
        let mut bytes = 0;
        let n = rest
            .iter()
            .take(100)
            .take_while(|m| {
                bytes += m.size;
                m.folder == folder && (bytes <= 8 * MB || bytes == m.size)
            })
            .count();
        batches.push(&rest[..n]);
        rest = &rest[n..];
    }
    let creates = raw.len() - 1;
    // A CREATE completes before the server reads the next command, so the
    // APPENDs behind it find their folders.
    pipelined(
        server.imap_port(),
        user,
        password,
        creates + batches.len(),
        &[],
        &|i, out| match i.checked_sub(creates) {
            None => out.extend(format!("CREATE {}\r\n", quote(&raw[i + 1])).bytes()),
            Some(b) => {
                let f = batches[b][0].folder;
                append_command(out, &raw[f], BENCH_FOLDERS[f].0, batches[b]);
            }
        },
    )
    .unwrap_or_else(|e| panic!("seeding {user}: {e}"));
    let mut summary = summarize(&plan, |m| BENCH_FOLDERS[m.folder].0.to_string());
    for (path, _) in BENCH_FOLDERS {
        summary.folders.entry(path.to_string()).or_default();
    }
    summary
}

/// The `i`th folder of `seed_folders_account`: "INBOX", "Group 001",
/// "Group 001/Folder 01", ...
pub fn many_folder_name(i: usize) -> String {
    match i {
        0 => "INBOX".into(),
        i => match (i - 1) % 20 {
            0 => format!("Group {:03}", (i - 1) / 20 + 1),
            p => format!("Group {:03}/Folder {p:02}", (i - 1) / 20 + 1),
        },
    }
}

/// Fills one folder of `user`'s mailbox (`folder`, a logical path: the
/// INBOX, or a folder it creates) with `messages` small messages (2 to 4
/// KB, plain text), as fast as IMAP allows: MULTIAPPEND batches of 200
/// with LITERAL+, pipelined on four connections (each a quarter of the
/// messages, in order; so UIDs and dates interleave by connection).
pub fn seed_big_folder(
    server: &Dovecot,
    user: &str,
    password: &str,
    folder: &str,
    messages: usize,
) -> BenchSummary {
    let mut probe = Probe::login(server.imap_port(), user, password);
    let (prefix, delimiter) = probe.namespace();
    let raw = raw_name(folder, &prefix, delimiter.expect("a flat namespace"));
    if raw != "INBOX" {
        probe.create(&raw);
    }
    probe.logout();
    let plan: Vec<BenchMessage> = (0..messages)
        .map(|i| small_message(i, 0, 0x6269_6766))
        .collect();
    const BATCH: usize = 200;
    let port = server.imap_port();
    let connections = 4;
    let share = messages.div_ceil(connections);
    std::thread::scope(|scope| {
        let workers: Vec<_> = plan
            .chunks(share.max(1))
            .map(|mine| {
                let raw = &raw;
                scope.spawn(move || {
                    let batches = mine.len().div_ceil(BATCH);
                    pipelined(port, user, password, batches, &[], &|b, out| {
                        let end = ((b + 1) * BATCH).min(mine.len());
                        append_command(out, raw, folder, &mine[b * BATCH..end]);
                    })
                })
            })
            .collect();
        for worker in workers {
            if let Err(e) = worker.join().expect("seeding thread panicked") {
                panic!("seeding {messages} messages into {folder:?} for {user}: {e}");
            }
        }
    });
    summarize(&plan, |_| folder.to_string())
}

/// Puts one message of exactly `bytes` bytes (at least 8 KB: a short text
/// part and a base64 attachment) in `user`'s INBOX.
pub fn seed_huge_message(server: &Dovecot, user: &str, password: &str, bytes: u64) -> BenchSummary {
    let m = BenchMessage {
        index: 0,
        folder: 0,
        class: 2,
        size: bytes.max(8 * KB),
        time: days_from_civil(2024, 3, 1) * 86400 + 37_000,
        zone: 60,
        flags: vec!["\\Seen"],
        attachment: true,
        seed: 0x6875_6765,
    };
    pipelined(server.imap_port(), user, password, 1, &[], &|_, out| {
        append_command(out, "INBOX", "INBOX", std::slice::from_ref(&m));
    })
    .unwrap_or_else(|e| panic!("seeding a {bytes}-byte message for {user}: {e}"));
    summarize(std::slice::from_ref(&m), |_| "INBOX".to_string())
}

/// A small plain-text bench message (2 to 4 KB), the `index`th of a seed;
/// `folder` is only recorded. Its date grows with the index (an hour apart).
fn small_message(index: usize, folder: usize, seed: u64) -> BenchMessage {
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let roll = rng.below(100);
    let mut flags = Vec::new();
    if roll < 75 {
        flags.push("\\Seen");
    }
    if roll % 10 == 3 {
        flags.push("\\Answered");
    }
    if roll % 20 == 7 {
        flags.push("\\Flagged");
    }
    BenchMessage {
        index,
        folder,
        class: 0,
        size: 2 * KB + rng.below(2 * KB + 1),
        time: days_from_civil(2015, 1, 1) * 86400 + index as i64 * 3600,
        zone: 0,
        flags,
        attachment: false,
        seed: rng.next(),
    }
}

/// Appends `APPEND folder (flags) "date" {n+}\r\nbody ...\r\n` (without the
/// tag) for `messages`, rendered for the folder `label`.
fn append_command(out: &mut Vec<u8>, raw_folder: &str, label: &str, messages: &[BenchMessage]) {
    out.extend(format!("APPEND {}", quote(raw_folder)).bytes());
    for m in messages {
        let body = bench_message(m, label);
        let date = imap_date(m.time, m.zone);
        let flags = m.flags.join(" ");
        out.extend(format!(" ({flags}) \"{date}\" {{{}+}}\r\n", body.len()).bytes());
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(b"\r\n");
}

/// What a plan of bench messages holds, folder by folder.
fn summarize(plan: &[BenchMessage], folder: impl Fn(&BenchMessage) -> String) -> BenchSummary {
    let mut folders: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut by_class = [0; 3];
    for m in plan {
        let entry = folders.entry(folder(m)).or_default();
        entry.0 += 1;
        entry.1 += m.size;
        by_class[m.class] += 1;
    }
    BenchSummary {
        messages: plan.len(),
        bytes: plan.iter().map(|m| m.size).sum(),
        folders,
        by_class,
    }
}

/// Sends `count` commands over one connection of its own, all without
/// waiting (LITERAL+ literals), while a second thread reads the
/// completions. `write(i, out)` appends command `i` without its tag, CRLF
/// included. Each must end OK, or NO with one of `tolerated` in its text.
fn pipelined(
    port: u16,
    user: &str,
    password: &str,
    count: usize,
    tolerated: &[&str],
    write: &(dyn Fn(usize, &mut Vec<u8>) + Sync),
) -> Result<(), String> {
    if count == 0 {
        return Ok(());
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = read_line(&mut reader)?;
    if line.contains("Waiting for authentication") {
        line = read_line(&mut reader)?;
    }
    if !line.starts_with("* OK") {
        return Err(format!("greeting: {}", line.trim_end()));
    }
    let login = format!("l LOGIN {} {}\r\n", quote(user), quote(password));
    (&stream)
        .write_all(login.as_bytes())
        .map_err(|e| e.to_string())?;
    while !line.starts_with("l ") {
        line = read_line(&mut reader)?;
    }
    if !line.starts_with("l OK") {
        return Err(format!("login: {}", line.trim_end()));
    }
    let caps = line.to_ascii_uppercase();
    if !caps.contains("LITERAL+") || !caps.contains("MULTIAPPEND") {
        return Err(format!("no LITERAL+ or MULTIAPPEND: {}", line.trim_end()));
    }
    std::thread::scope(|scope| {
        let completions = scope.spawn(move || {
            let mut done = 0;
            let mut result = Ok(());
            while done < count && result.is_ok() {
                result = match read_line(&mut reader) {
                    Err(e) => Err(format!("after {done} of {count} commands: {e}")),
                    Ok(line) if line.starts_with('s') => {
                        done += 1;
                        let ok = line.split(' ').nth(1) == Some("OK")
                            || tolerated.iter().any(|t| line.contains(t));
                        match ok {
                            true => Ok(()),
                            false => Err(line.trim_end().to_string()),
                        }
                    }
                    Ok(_) => Ok(()),
                };
            }
            if result.is_err() {
                // Unblock the writer, should the server have stopped reading.
                let _ = reader.get_ref().shutdown(Shutdown::Both);
            }
            result
        });
        let mut out = BufWriter::with_capacity(1 << 20, &stream);
        let mut sent: Result<(), String> = Ok(());
        let mut command = Vec::new();
        for i in 0..count {
            command.clear();
            command.extend(format!("s{i} ").bytes());
            write(i, &mut command);
            if let Err(e) = out.write_all(&command) {
                sent = Err(e.to_string());
                break;
            }
        }
        if sent.is_ok() {
            sent = out.flush().map_err(|e| e.to_string());
        }
        drop(out);
        let result = completions.join().expect("completion reader panicked");
        let _ = (&stream).write_all(b"z LOGOUT\r\n");
        let _ = stream.shutdown(Shutdown::Both);
        // The server's answer says more than a broken pipe.
        result.and(sent.map_err(|e| format!("sending: {e}")))
    })
}

// -------------------------------------------------------------- snapshot --

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSnapshot {
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// UID -> facts.
    pub messages: BTreeMap<u32, MessageFacts>,
}

impl FolderSnapshot {
    /// The folder's content as a sorted multiset.
    pub fn facts(&self) -> Vec<MessageFacts> {
        let mut facts: Vec<MessageFacts> = self.messages.values().cloned().collect();
        facts.sort();
        facts
    }

    pub fn uids(&self) -> Vec<u32> {
        self.messages.keys().copied().collect()
    }
}

/// Everything in one account. Equal snapshots mean nothing changed at all,
/// UIDs, UIDVALIDITY and UIDNEXT included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Every folder, selectable or not, as logical paths.
    pub all_folders: BTreeSet<String>,
    /// Selectable folders.
    pub folders: BTreeMap<String, FolderSnapshot>,
}

impl Snapshot {
    pub fn total_messages(&self) -> usize {
        self.folders.values().map(|f| f.messages.len()).sum()
    }

    pub fn facts(&self, path: &str) -> Vec<MessageFacts> {
        self.folders
            .get(path)
            .map(FolderSnapshot::facts)
            .unwrap_or_default()
    }
}

pub fn snapshot(server: &Dovecot, user: &str, password: &str) -> Snapshot {
    let mut probe = Probe::login(server.imap_port(), user, password);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

/// Snapshot through an already logged-in probe (e.g. a master login).
pub fn snapshot_with(probe: &mut Probe) -> Snapshot {
    let (prefix, _) = probe.namespace();
    let mut snap = Snapshot {
        all_folders: BTreeSet::new(),
        folders: BTreeMap::new(),
    };
    for entry in probe.list() {
        let path = logical_name(&entry.name_raw, &prefix, entry.delimiter);
        let new = snap.all_folders.insert(path.clone());
        assert!(new, "two folders map to {path:?}");
        if entry.selectable() {
            let info = probe.examine(&entry.name_raw);
            let fetched = match info.exists {
                0 => Vec::new(),
                _ => probe.fetch_selected(),
            };
            let messages = fetched
                .iter()
                .map(|m| (m.uid, MessageFacts::of(m)))
                .collect();
            let folder = FolderSnapshot {
                uidvalidity: info.uidvalidity,
                uidnext: info.uidnext,
                messages,
            };
            snap.folders.insert(path, folder);
        }
    }
    snap
}

/// Every selectable source folder exists in `dst` under `rename(path)` and
/// holds exactly the same multiset of messages. Extra destination folders
/// are fine. Panics with a readable diff otherwise.
pub fn assert_same_mail(src: &Snapshot, dst: &Snapshot, rename: impl Fn(&str) -> String) {
    let mut problems = Vec::new();
    for (path, folder) in &src.folders {
        let target = rename(path);
        let Some(other) = dst.folders.get(&target) else {
            let n = folder.messages.len();
            problems.push(format!(
                "{path:?} -> {target:?}: missing in destination ({n} messages)"
            ));
            continue;
        };
        let diff = multiset_diff(&folder.facts(), &other.facts());
        if !diff.is_empty() {
            let (a, b) = (folder.messages.len(), other.messages.len());
            problems.push(format!(
                "{path:?} -> {target:?}: {a} vs {b} messages\n{diff}"
            ));
        }
    }
    if !problems.is_empty() {
        let known: Vec<&String> = dst.folders.keys().collect();
        panic!(
            "destination differs from source:\n{}\ndestination folders: {known:?}",
            problems.join("\n")
        );
    }
}

/// Panics with a readable diff unless the snapshots are equal (UIDs too).
pub fn assert_unchanged(before: &Snapshot, after: &Snapshot) {
    if before == after {
        return;
    }
    let mut problems = Vec::new();
    if before.all_folders != after.all_folders {
        let gone: Vec<_> = before.all_folders.difference(&after.all_folders).collect();
        let new: Vec<_> = after.all_folders.difference(&before.all_folders).collect();
        problems.push(format!("folders gone: {gone:?}, new: {new:?}"));
    }
    for (path, a) in &before.folders {
        let Some(b) = after.folders.get(path) else {
            continue;
        };
        if (a.uidvalidity, a.uidnext) != (b.uidvalidity, b.uidnext) {
            let (va, na, vb, nb) = (a.uidvalidity, a.uidnext, b.uidvalidity, b.uidnext);
            problems.push(format!(
                "{path:?}: UIDVALIDITY/UIDNEXT {va}/{na} -> {vb}/{nb}"
            ));
        }
        if a.uids() != b.uids() {
            problems.push(format!("{path:?}: UIDs {:?} -> {:?}", a.uids(), b.uids()));
        }
        let diff = multiset_diff(&a.facts(), &b.facts());
        if !diff.is_empty() {
            problems.push(format!("{path:?}: content changed\n{diff}"));
        }
    }
    panic!("snapshot changed:\n{}", problems.join("\n"));
}

/// "  missing: ..." / "  extra: ..." lines; empty if equal as multisets.
fn multiset_diff(expected: &[MessageFacts], actual: &[MessageFacts]) -> String {
    let mut count: BTreeMap<&MessageFacts, i64> = BTreeMap::new();
    expected
        .iter()
        .for_each(|f| *count.entry(f).or_default() += 1);
    actual
        .iter()
        .for_each(|f| *count.entry(f).or_default() -= 1);
    let mut out = String::new();
    for (word, sign) in [("missing", 1), ("extra  ", -1)] {
        for (facts, &n) in &count {
            for _ in 0..(n * sign).max(0) {
                out += &format!("  {word} {facts}\n");
            }
        }
    }
    out
}

// ----------------------------------------------------------------- dates --

/// IMAP date-time (`"15-Jun-2010 08:30:00 -0700"`, day maybe space-padded)
/// -> seconds since the epoch.
pub fn parse_internaldate(s: &str) -> i64 {
    let bad = || panic!("bad IMAP date-time {s:?}");
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [date, time, zone] = parts[..] else { bad() };
    let dmy: Vec<&str> = date.split('-').collect();
    let hms: Vec<i64> = time
        .split(':')
        .map(|n| n.parse().unwrap_or_else(|_| bad()))
        .collect();
    if dmy.len() != 3 || hms.len() != 3 || zone.len() != 5 {
        bad();
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(dmy[1]))
        .unwrap_or_else(|| bad());
    let num = |t: &str| t.parse::<i64>().unwrap_or_else(|_| bad());
    let days = days_from_civil(num(dmy[2]), month as i64 + 1, num(dmy[0]));
    let offset = (num(&zone[1..3]) * 60 + num(&zone[3..])) * 60;
    let offset = if zone.starts_with('-') {
        -offset
    } else {
        offset
    };
    days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - offset
}

/// Seconds since the epoch -> "2010-06-15T15:30:00Z".
pub fn format_utc(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86400), epoch.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Days since the epoch -> (year, month, day): the inverse of
/// days_from_civil (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
