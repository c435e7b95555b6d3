//! The standard corpus, and snapshots of a whole mailbox to compare servers.
//!
//! Folder paths are "logical": UTF-8, '/' between levels, no namespace
//! prefix, "INBOX" for the inbox. `raw_name` and `logical_name` map them to
//! and from what a server calls them.

use super::dovecot::Dovecot;
use super::probe::{base64_encode, mutf7_decode, mutf7_encode, FetchedMessage, Probe};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

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
    // Inverse of days_from_civil (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
