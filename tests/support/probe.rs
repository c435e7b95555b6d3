//! The test oracle: a minimal, blocking IMAP client over a plain TCP stream.
//! It shares no code with mailferry. Every failure panics with the exchange.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One parsed token of a server response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    List(Vec<Item>),
    Nil,
}

impl Item {
    /// Atom or string as text (lossy for 8-bit strings).
    pub fn text(&self) -> Option<String> {
        match self {
            Item::Atom(a) => Some(a.clone()),
            Item::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<u64> {
        self.text()?.parse().ok()
    }

    pub fn list(&self) -> &[Item] {
        match self {
            Item::List(items) => items,
            _ => &[],
        }
    }
}

/// One server response line, literals included.
#[derive(Clone, Debug)]
pub struct Response {
    /// The bytes as received, literals inline after their `{n}\r\n`.
    pub raw: Vec<u8>,
    pub items: Vec<Item>,
}

impl Response {
    /// The text of a response code like `[UIDNEXT 7]`: `code("UIDNEXT")` -> "7".
    pub fn code(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let start = text.find(&format!("[{name} "))? + name.len() + 2;
        Some(text[start..].split(']').next()?.to_string())
    }
}

/// The untagged responses of a command and its tagged completion.
#[derive(Clone, Debug)]
pub struct Reply {
    pub untagged: Vec<Response>,
    pub done: Response,
}

impl Reply {
    /// Untagged responses whose first item (after any number) is `keyword`.
    pub fn data<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a [Item]> + 'a {
        self.untagged.iter().filter_map(move |r| {
            let items = r.items.get(1..)?; // skip "*"
            let skip = usize::from(items.first()?.number().is_some());
            let is = items.get(skip)?.text()?.eq_ignore_ascii_case(keyword);
            is.then_some(items)
        })
    }

    /// A response code from the untagged responses or the completion.
    pub fn code(&self, name: &str) -> Option<String> {
        self.untagged
            .iter()
            .chain([&self.done])
            .find_map(|r| r.code(name))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub flags: Vec<String>,
    pub delimiter: Option<char>,
    /// As on the wire (modified UTF-7), without quoting.
    pub name_raw: String,
}

impl ListEntry {
    pub fn selectable(&self) -> bool {
        !self.flags.iter().any(|f| {
            f.eq_ignore_ascii_case("\\Noselect") || f.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    pub exists: u32,
    pub uidvalidity: u32,
    pub uidnext: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedMessage {
    pub uid: u32,
    /// Without `\Recent`.
    pub flags: Vec<String>,
    pub internaldate: String,
    pub size: u64,
    pub body: Vec<u8>,
}

/// A part of a command: text sent as is, or a (synchronizing) literal.
pub enum Part<'a> {
    Text(&'a str),
    Literal(&'a [u8]),
}

pub struct Probe {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Probe {
    /// Connects to the plain IMAP port and reads the greeting.
    pub fn connect(port: u16) -> Probe {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("probe: connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut probe = Probe {
            reader: BufReader::new(stream),
            writer,
            tag: 0,
        };
        let mut greeting = probe.read_response();
        if String::from_utf8_lossy(&greeting.raw).contains("Waiting for authentication") {
            greeting = probe.read_response();
        }
        assert!(
            greeting.raw.starts_with(b"* OK"),
            "probe: greeting {:?}",
            lossy(&greeting.raw)
        );
        probe
    }

    pub fn login(port: u16, user: &str, password: &str) -> Probe {
        Probe::try_login(port, user, password).unwrap_or_else(|e| panic!("{e}"))
    }

    /// LOGIN; Err with the server's answer when refused.
    pub fn try_login(port: u16, user: &str, password: &str) -> Result<Probe, String> {
        let mut probe = Probe::connect(port);
        let line = format!("LOGIN {} {}", quote(user), quote(password));
        let reply = probe.try_command(&[Part::Text(&line)]);
        match ok(&reply) {
            true => Ok(probe),
            false => Err(format!(
                "probe: login {user:?} refused: {}",
                lossy(&reply.done.raw)
            )),
        }
    }

    /// SASL XOAUTH2 with a bearer token (the test bed's own, independent
    /// of mailferry's); Err with the server's answer when refused.
    pub fn try_xoauth2(port: u16, user: &str, token: &str) -> Result<Probe, String> {
        let mut probe = Probe::connect(port);
        let ir = base64_encode(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes());
        probe.tag += 1;
        let tag = format!("p{}", probe.tag);
        probe.send(format!("{tag} AUTHENTICATE XOAUTH2 {ir}\r\n").as_bytes());
        loop {
            let r = probe.read_response();
            if r.raw.starts_with(b"+") {
                // The error details; an empty answer ends the exchange.
                probe.send(b"\r\n");
            } else if r.raw.starts_with(format!("{tag} OK").as_bytes()) {
                return Ok(probe);
            } else if r.raw.starts_with(format!("{tag} ").as_bytes()) {
                return Err(format!(
                    "probe: XOAUTH2 {user:?} refused: {}",
                    lossy(&r.raw)
                ));
            }
        }
    }

    /// SASL PLAIN with authzid = `user`, authcid = `master`.
    pub fn login_master(port: u16, user: &str, master: &str, password: &str) -> Probe {
        let mut probe = Probe::connect(port);
        let token = base64_encode(format!("{user}\0{master}\0{password}").as_bytes());
        probe.command(&format!("AUTHENTICATE PLAIN {token}"));
        probe
    }

    /// Runs a command; panics unless it completes with OK.
    pub fn command(&mut self, line: &str) -> Reply {
        self.command_parts(&[Part::Text(line)])
    }

    pub fn command_parts(&mut self, parts: &[Part]) -> Reply {
        let reply = self.try_command(parts);
        if !ok(&reply) {
            let sent: String = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.to_string(),
                    Part::Literal(l) => format!("{{{}}}", l.len()),
                })
                .collect();
            panic!("probe: {sent:?} failed: {}", lossy(&reply.done.raw));
        }
        reply
    }

    /// Runs a command, whatever its outcome.
    pub fn try_command(&mut self, parts: &[Part]) -> Reply {
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        let mut untagged = Vec::new();
        self.send(format!("{tag} ").as_bytes());
        for part in parts {
            match part {
                Part::Text(text) => self.send(text.as_bytes()),
                Part::Literal(bytes) => {
                    self.send(format!("{{{}}}\r\n", bytes.len()).as_bytes());
                    loop {
                        let r = self.read_response();
                        match r.raw.first() {
                            Some(b'+') => break,
                            Some(b'*') => untagged.push(r),
                            _ => panic!("probe: literal refused: {}", lossy(&r.raw)),
                        }
                    }
                    self.send(bytes);
                }
            }
        }
        self.send(b"\r\n");
        loop {
            let r = self.read_response();
            if r.raw.starts_with(format!("{tag} ").as_bytes()) {
                return Reply { untagged, done: r };
            }
            untagged.push(r);
        }
    }

    /// The personal namespace: (prefix, delimiter).
    pub fn namespace(&mut self) -> (String, Option<char>) {
        let reply = self.command("NAMESPACE");
        let items = reply
            .data("NAMESPACE")
            .next()
            .expect("probe: no NAMESPACE data");
        let personal = items[1]
            .list()
            .first()
            .expect("probe: no personal namespace")
            .list();
        (personal[0].text().unwrap(), delimiter(&personal[1]))
    }

    /// `LIST "" "*"`.
    pub fn list(&mut self) -> Vec<ListEntry> {
        let reply = self.command("LIST \"\" \"*\"");
        reply
            .data("LIST")
            .map(|items| ListEntry {
                flags: items[1].list().iter().filter_map(Item::text).collect(),
                delimiter: delimiter(&items[2]),
                name_raw: items[3].text().expect("probe: LIST without a name"),
            })
            .collect()
    }

    pub fn create(&mut self, raw_name: &str) {
        self.command(&format!("CREATE {}", quote(raw_name)));
    }

    pub fn delete(&mut self, raw_name: &str) {
        self.command(&format!("DELETE {}", quote(raw_name)));
    }

    /// APPEND; returns the new message's UID (from APPENDUID).
    pub fn append(
        &mut self,
        raw_name: &str,
        flags: &[&str],
        internaldate: &str,
        body: &[u8],
    ) -> u32 {
        let head = format!(
            "APPEND {} ({}) \"{internaldate}\" ",
            quote(raw_name),
            flags.join(" ")
        );
        let reply = self.command_parts(&[Part::Text(&head), Part::Literal(body)]);
        let code = reply.done.code("APPENDUID").expect("probe: no APPENDUID");
        code.split(' ')
            .nth(1)
            .and_then(|uid| uid.parse().ok())
            .expect("probe: bad APPENDUID")
    }

    pub fn select(&mut self, raw_name: &str) -> MailboxInfo {
        self.open("SELECT", raw_name)
    }

    /// Read-only select: changes nothing (not even \Recent).
    pub fn examine(&mut self, raw_name: &str) -> MailboxInfo {
        self.open("EXAMINE", raw_name)
    }

    fn open(&mut self, verb: &str, raw_name: &str) -> MailboxInfo {
        let reply = self.command(&format!("{verb} {}", quote(raw_name)));
        let exists = reply.data("EXISTS").next().and_then(|i| i[0].number());
        let code = |name| reply.code(name).and_then(|v| v.parse().ok());
        MailboxInfo {
            exists: exists.expect("probe: no EXISTS") as u32,
            uidvalidity: code("UIDVALIDITY").expect("probe: no UIDVALIDITY"),
            uidnext: code("UIDNEXT").expect("probe: no UIDNEXT"),
        }
    }

    /// EXAMINEs the folder and fetches every message, in UID order.
    pub fn fetch_all(&mut self, raw_name: &str) -> Vec<FetchedMessage> {
        match self.examine(raw_name).exists {
            0 => Vec::new(),
            _ => self.fetch_selected(),
        }
    }

    /// Every message of the selected folder, in UID order.
    pub fn fetch_selected(&mut self) -> Vec<FetchedMessage> {
        let reply = self.command("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
        let mut messages: Vec<FetchedMessage> = reply.data("FETCH").map(fetched).collect();
        messages.sort_by_key(|m| m.uid);
        messages
    }

    /// Replaces the flags of one message (selects the folder read-write).
    pub fn store_flags(&mut self, raw_name: &str, uid: u32, flags: &[&str]) {
        self.select(raw_name);
        self.command(&format!(
            "UID STORE {uid} FLAGS.SILENT ({})",
            flags.join(" ")
        ));
    }

    /// Removes one message for good (UID EXPUNGE touches no other message).
    pub fn expunge_uid(&mut self, raw_name: &str, uid: u32) {
        self.select(raw_name);
        self.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
        self.command(&format!("UID EXPUNGE {uid}"));
    }

    pub fn logout(mut self) {
        self.command("LOGOUT");
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("probe: write");
    }

    /// Reads one response: a line, plus any literal it announces, and so on.
    fn read_response(&mut self) -> Response {
        let mut raw = Vec::new();
        loop {
            let start = raw.len();
            let n = self
                .reader
                .read_until(b'\n', &mut raw)
                .expect("probe: read");
            assert!(n > 0, "probe: connection closed after {:?}", lossy(&raw));
            match literal_len(&raw[start..]) {
                Some(len) => {
                    let at = raw.len();
                    raw.resize(at + len, 0);
                    self.reader
                        .read_exact(&mut raw[at..])
                        .expect("probe: read literal");
                }
                None => break,
            }
        }
        Response {
            items: parse_items(&raw),
            raw,
        }
    }
}

fn ok(reply: &Reply) -> bool {
    let items = &reply.done.items;
    items
        .get(1)
        .and_then(Item::text)
        .is_some_and(|s| s.eq_ignore_ascii_case("OK"))
}

fn fetched(items: &[Item]) -> FetchedMessage {
    let attrs = items[2].list();
    let get = |name: &str| {
        let at = attrs
            .chunks(2)
            .position(|kv| kv[0].text().is_some_and(|k| k.eq_ignore_ascii_case(name)));
        &attrs[2 * at.unwrap_or_else(|| panic!("probe: FETCH without {name}")) + 1]
    };
    let flags = get("FLAGS").list().iter().filter_map(Item::text);
    FetchedMessage {
        uid: get("UID").number().unwrap() as u32,
        flags: flags
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
            .collect(),
        internaldate: get("INTERNALDATE").text().unwrap(),
        size: get("RFC822.SIZE").number().unwrap(),
        body: match get("BODY[]") {
            Item::Str(body) => body.clone(),
            other => panic!("probe: BODY[] is {other:?}"),
        },
    }
}

fn delimiter(item: &Item) -> Option<char> {
    item.text().and_then(|d| d.chars().next())
}

/// `{123}\r\n` or `{123+}\r\n` at the end of a line: the literal's length.
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"}\r\n")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A quoted string (or, if it is not plain ASCII text, a literal would be
/// needed: we panic, since every name here is modified UTF-7).
pub fn quote(s: &str) -> String {
    assert!(
        s.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "probe: cannot quote {s:?}"
    );
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

/// Tokenizes one response (literals inline, as in `Response::raw`). Never
/// fails: free text just becomes atoms.
pub fn parse_items(raw: &[u8]) -> Vec<Item> {
    Parser { s: raw, i: 0 }.items(false)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn items(&mut self, nested: bool) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b' ' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    self.i += 1;
                    out.push(Item::List(self.items(true)));
                }
                b')' if nested => {
                    self.i += 1;
                    return out;
                }
                b'"' => out.push(self.quoted()),
                b'{' => {
                    let item = self.literal().unwrap_or_else(|| self.atom());
                    out.push(item);
                }
                _ => out.push(self.atom()),
            }
        }
        out
    }

    fn quoted(&mut self) -> Item {
        let mut value = Vec::new();
        self.i += 1;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    value.extend(self.s.get(self.i));
                    self.i += 1;
                }
                _ => value.push(c),
            }
        }
        Item::Str(value)
    }

    /// A literal at the cursor; advances only if there is one.
    fn literal(&mut self) -> Option<Item> {
        let rest = &self.s[self.i..];
        let close = rest.iter().position(|&b| b == b'}')?;
        let len = literal_len(rest.get(..close + 3)?)?;
        let start = self.i + close + 3;
        let body = self.s.get(start..start + len)?.to_vec();
        self.i = start + len;
        Some(Item::Str(body))
    }

    fn atom(&mut self) -> Item {
        let start = self.i;
        // `)` ends an atom; so does `(` unless inside `[...]` as in BODY[...].
        let mut depth = 0;
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'[' => depth += 1,
                b']' => depth -= 1,
                b' ' | b'(' | b')' if depth <= 0 => break,
                b'\r' | b'\n' => break,
                _ => {}
            }
            self.i += 1;
        }
        self.i = self.i.max(start + 1); // always progress (a stray ')')
        let atom = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        match atom.eq_ignore_ascii_case("NIL") {
            true => Item::Nil,
            false => Item::Atom(atom),
        }
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const MODIFIED: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Standard base64 with padding, on one line.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64(bytes, STANDARD, true)
}

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            out.push_str(&"=="[chunk.len() - 1..]);
        }
    }
    out
}

/// Modified UTF-7 (RFC 3501 §5.1.3) for mailbox names.
pub fn mutf7_encode(name: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&base64(&bytes, MODIFIED, false));
            out.push('-');
            pending.clear();
        }
    };
    let mut buf = [0; 4];
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push_str(if c == '&' {
                "&-"
            } else {
                c.encode_utf8(&mut buf)
            });
        } else {
            pending.extend(c.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut pending, &mut out);
    out
}

pub fn mutf7_decode(raw: &str) -> Result<String, String> {
    let err = || format!("bad modified UTF-7: {raw:?}");
    let mut out = String::new();
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let end = amp + rest[amp..].find('-').ok_or_else(err)?;
        let encoded = &rest[amp + 1..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let mut bits = 0u32;
            let mut nbits = 0;
            let mut bytes = Vec::new();
            for c in encoded.bytes() {
                let v = MODIFIED.iter().position(|&a| a == c).ok_or_else(err)? as u32;
                bits = (bits << 6 | v) & 0xffffff;
                nbits += 6;
                if nbits >= 8 {
                    nbits -= 8;
                    bytes.push((bits >> nbits) as u8);
                }
            }
            if bytes.len() % 2 != 0 {
                return Err(err());
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).map_err(|_| err())?);
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
