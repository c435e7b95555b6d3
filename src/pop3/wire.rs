//! The POP3 wire format: status lines, multi-line replies (dot-unstuffed,
//! byte for byte, bounded) and parsers for what they carry.

use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::net::{Throttle, Timed};

/// A status line longer than this is not POP3.
const MAX_LINE: usize = 64 * 1024;
/// A reply still going after this many bytes is garbage, whatever the limit.
const MAX_DRAIN: u64 = 4 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireError {
    Timeout,
    /// End of stream or a failed read or write.
    Closed,
    /// A status line over [`MAX_LINE`], or a reply that never ends.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
    /// `+ `: a SASL continuation.
    More,
}

/// A multi-line reply's data, or its size when over the limit (then it was
/// read to its end and dropped, so the next reply can be read).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    Data(Vec<u8>),
    TooLarge(u64),
}

/// A buffered connection whose every read and write has a time limit
/// (for reads a limit on silence, [`Timed`]: a job's bandwidth limit may
/// slow them, never time them out).
pub(super) struct Wire<S> {
    r: BufReader<Timed<S>>,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    pub fn new(s: S, timeout: Duration) -> Self {
        Self::with_capacity(64 * 1024, s, timeout)
    }

    fn with_capacity(capacity: usize, s: S, timeout: Duration) -> Self {
        Wire {
            r: BufReader::with_capacity(capacity, Timed::new(s, timeout)),
            timeout,
        }
    }

    pub fn get_ref(&self) -> &S {
        self.r.get_ref().get_ref()
    }

    /// From now on, reads draw on the job's bandwidth.
    pub fn limit_reads(&mut self, throttle: Throttle) {
        self.r.get_mut().set_throttle(Some(throttle));
    }

    /// The time limit of each read and write.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The stream, unless the server already sent more than was read (after
    /// STLS that would be an injection attempt).
    pub fn into_inner(self) -> Option<S> {
        self.r
            .buffer()
            .is_empty()
            .then(|| self.r.into_inner().into_inner())
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let s = self.r.get_mut();
        let write = async {
            s.write_all(bytes).await?;
            s.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(WireError::Timeout),
            Ok(Err(_)) => Err(WireError::Closed),
            Ok(Ok(())) => Ok(()),
        }
    }

    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.r.get_mut().shutdown()).await;
    }

    /// Buffered bytes, reading more (with the time limit) when there are none.
    async fn fill(&mut self) -> Result<&[u8], WireError> {
        match self.r.fill_buf().await {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(WireError::Timeout),
            Err(_) => Err(WireError::Closed),
            Ok([]) => Err(WireError::Closed),
            Ok(buf) => Ok(buf),
        }
    }

    /// One status line, without its CRLF (or bare LF).
    pub async fn read_line(&mut self) -> Result<Vec<u8>, WireError> {
        let mut line = Vec::new();
        loop {
            let buf = self.fill().await?;
            let (n, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + n > MAX_LINE {
                return Err(WireError::TooLong);
            }
            line.extend_from_slice(&buf[..n]);
            self.r.consume(n);
            if done {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
        }
    }

    /// The data of a multi-line reply up to its terminating "." line, which
    /// is consumed and nothing after it. Keeps at most `limit` bytes;
    /// `hint` (the size the server announced) only sizes the buffer.
    pub async fn read_body(&mut self, limit: usize, hint: Option<u64>) -> Result<Body, WireError> {
        let mut sink = Sink::new(limit, hint);
        let mut at = At::LineStart;
        loop {
            let buf = self.fill().await?;
            let (used, done) = unstuff(&mut at, buf, &mut sink);
            self.r.consume(used);
            if done {
                return Ok(sink.finish());
            }
            if sink.size > MAX_DRAIN {
                return Err(WireError::TooLong);
            }
        }
    }
}

/// Where the unstuffer is within a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    LineStart,
    Mid,
    /// After a "." that began a line.
    Dot,
    /// After ".\r" at the start of a line.
    DotCr,
}

/// Collects data up to a limit, then only counts.
struct Sink {
    data: Vec<u8>,
    size: u64,
    limit: u64,
    over: bool,
}

impl Sink {
    fn new(limit: usize, hint: Option<u64>) -> Sink {
        let reserve = hint.unwrap_or(0).min(limit as u64).min(64 << 20);
        Sink {
            data: Vec::with_capacity(reserve as usize),
            size: 0,
            limit: limit as u64,
            over: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if self.over {
        } else if self.size > self.limit {
            self.over = true;
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(bytes);
        }
    }

    fn finish(self) -> Body {
        match self.over {
            true => Body::TooLarge(self.size),
            false => Body::Data(self.data),
        }
    }
}

/// Feeds `input` through the dot-unstuffer: a line ends at LF and keeps its
/// CRLF or bare LF as sent; a line that is exactly "." (CRLF or LF) ends the
/// reply; any other line starting with "." loses that first ".". Returns how
/// many bytes were used and whether the end was reached.
fn unstuff(at: &mut At, input: &[u8], sink: &mut Sink) -> (usize, bool) {
    let mut i = 0;
    while i < input.len() {
        match *at {
            At::Mid => match input[i..].iter().position(|&b| b == b'\n') {
                Some(p) => {
                    sink.push(&input[i..=i + p]);
                    i += p + 1;
                    *at = At::LineStart;
                }
                None => {
                    sink.push(&input[i..]);
                    i = input.len();
                }
            },
            At::LineStart if input[i] == b'.' => {
                i += 1;
                *at = At::Dot;
            }
            At::LineStart => *at = At::Mid,
            At::Dot => match input[i] {
                b'\n' => return (i + 1, true),
                b'\r' => {
                    i += 1;
                    *at = At::DotCr;
                }
                _ => *at = At::Mid,
            },
            At::DotCr if input[i] == b'\n' => return (i + 1, true),
            At::DotCr => {
                sink.push(b"\r");
                *at = At::Mid;
            }
        }
    }
    (i, false)
}

/// `+OK`, `-ERR` or `+ `, each followed by a space or nothing.
pub(super) fn status(line: &[u8]) -> Option<Status> {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    match word.to_ascii_uppercase().as_slice() {
        b"+OK" => Some(Status::Ok),
        b"-ERR" => Some(Status::Err),
        b"+" => Some(Status::More),
        _ => None,
    }
}

/// The size in `+OK 1234 octets`, as many servers answer RETR.
pub(super) fn octets(line: &str) -> Option<u64> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `+OK count octets` from STAT.
pub(super) fn parse_stat(line: &str) -> Option<(u32, u64)> {
    let mut words = line.split_whitespace().skip(1);
    let count = words.next()?.parse().ok()?;
    let octets = words.next()?.parse().ok()?;
    Some((count, octets))
}

/// The lines of a multi-line reply, without their line ends.
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// `msgno value` lines, as LIST and UIDL send them (anything after the value
/// is ignored). A line that does not parse is an error that quotes it.
pub(super) fn parse_listing<T>(
    data: &[u8],
    value: impl Fn(&str) -> Option<T>,
) -> Result<Vec<(u32, T)>, String> {
    lines(data)
        .map(|line| {
            let parsed = std::str::from_utf8(line).ok().and_then(|text| {
                let mut words = text.split_ascii_whitespace();
                let msgno = words.next()?.parse().ok().filter(|&n: &u32| n > 0)?;
                Some((msgno, value(words.next()?)?))
            });
            parsed.ok_or_else(|| format!("a listing line was malformed: {}", excerpt(line)))
        })
        .collect()
}

/// A unique-id: 1 to 70 printable characters (RFC 1939), a little leeway.
pub(super) fn uid(word: &str) -> Option<String> {
    let fine = !word.is_empty() && word.len() <= 512 && word.bytes().all(|b| b.is_ascii_graphic());
    fine.then(|| word.to_string())
}

/// The APOP timestamp `<...@...>` in a greeting, brackets included.
pub(super) fn apop_timestamp(greeting: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(greeting).ok()?;
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let candidate = &rest[start..];
        let end = candidate.find('>')?;
        let stamp = &candidate[..=end];
        if stamp.contains('@') && stamp.bytes().all(|b| b.is_ascii_graphic()) {
            return Some(stamp.to_string());
        }
        rest = &candidate[1..];
    }
    None
}

/// The APOP digest: MD5 of timestamp and secret, in lower-case hex.
pub(super) fn apop_digest(timestamp: &str, secret: &str) -> String {
    let digest = Md5::new()
        .chain_update(timestamp)
        .chain_update(secret)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short, escaped quote of what the server sent, for messages.
pub(super) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
    let more = if bytes.len() > 120 { "…" } else { "" };
    format!("{:?}{more}", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    /// Reads one body from `wire` with every buffer size from 1 to 9 (so
    /// every split of the input is met), checks they agree and that the
    /// bytes after the terminator are left unread.
    async fn body_of(wire: &[u8], limit: usize) -> Result<(Body, Vec<u8>), WireError> {
        let mut first = None;
        for cap in (1..10).chain([64 * 1024]) {
            let mut w = Wire::with_capacity(cap, std::io::Cursor::new(wire.to_vec()), T);
            let result = match w.read_body(limit, None).await {
                Ok(body) => {
                    let mut rest = Vec::new();
                    while let Ok(buf) = w.fill().await {
                        rest.extend_from_slice(buf);
                        let n = buf.len();
                        w.r.consume(n);
                    }
                    Ok((body, rest))
                }
                Err(e) => Err(e),
            };
            match &first {
                None => first = Some(result),
                Some(f) => assert_eq!(f, &result, "buffer size {cap}"),
            }
        }
        first.unwrap()
    }

    async fn data_of(wire: &[u8]) -> Vec<u8> {
        match body_of(wire, 1 << 20).await.unwrap() {
            (Body::Data(d), _) => d,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn dot_lines_are_unstuffed() {
        let wire = b"..\r\n...\r\n.foo\r\n..bar\r\nx.y\r\n . \r\n.\r\n";
        assert_eq!(
            data_of(wire).await,
            b".\r\n..\r\nfoo\r\n.bar\r\nx.y\r\n . \r\n"
        );
    }

    #[tokio::test]
    async fn a_message_that_is_only_a_dot() {
        assert_eq!(data_of(b"..\r\n.\r\n").await, b".\r\n");
        assert_eq!(data_of(b".\r\n").await, b"");
    }

    #[tokio::test]
    async fn bare_lf_and_bare_cr_are_kept_as_sent() {
        let wire = b"a\nb\r\n\n\r\nc\rd\r\n.\re\n..\n.\r\n";
        assert_eq!(data_of(wire).await, b"a\nb\r\n\n\r\nc\rd\r\n\re\n.\n");
    }

    #[tokio::test]
    async fn crlf_lines_keep_their_crlf() {
        let msg = b"Subject: x\r\n\r\nline 1\r\nline 2\r\n";
        let mut wire = msg.to_vec();
        wire.extend_from_slice(b".\r\n");
        assert_eq!(data_of(&wire).await, msg);
    }

    #[tokio::test]
    async fn the_terminator_ends_the_reply_and_nothing_more_is_read() {
        let (body, rest) = body_of(b"a\r\n.\r\n+OK next\r\n", 100).await.unwrap();
        assert_eq!(body, Body::Data(b"a\r\n".to_vec()));
        assert_eq!(rest, b"+OK next\r\n");
        // A broken server's bare-LF terminator, at the very end.
        let (body, rest) = body_of(b"a\n.\n", 100).await.unwrap();
        assert_eq!(body, Body::Data(b"a\n".to_vec()));
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn a_reply_cut_short_is_an_error() {
        for wire in [
            &b""[..],
            b"a\r\n",
            b"a\r\n.",
            b"a\r\n.\r",
            b"a\r\n..\r\n",
            b"abc",
        ] {
            assert_eq!(body_of(wire, 100).await, Err(WireError::Closed), "{wire:?}");
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_drained_and_sized() {
        let (body, rest) = body_of(b"12345\r\n..6789\r\n.\r\n+OK\r\n", 8)
            .await
            .unwrap();
        assert_eq!(body, Body::TooLarge(14));
        assert_eq!(rest, b"+OK\r\n");
        let (body, _) = body_of(b"1234\r\n.\r\n", 6).await.unwrap();
        assert_eq!(body, Body::Data(b"1234\r\n".to_vec()));
    }

    #[tokio::test]
    async fn replies_read_back_to_back() {
        let wire = b"+OK 3 octets\r\na\r\n.\r\n-ERR no such message\r\n+OK\r\n..\r\n.\r\n";
        let mut w = Wire::with_capacity(5, std::io::Cursor::new(wire.to_vec()), T);
        assert_eq!(w.read_line().await.unwrap(), b"+OK 3 octets");
        assert_eq!(
            w.read_body(10, Some(3)).await,
            Ok(Body::Data(b"a\r\n".to_vec()))
        );
        assert_eq!(w.read_line().await.unwrap(), b"-ERR no such message");
        assert_eq!(w.read_line().await.unwrap(), b"+OK");
        assert_eq!(
            w.read_body(10, None).await,
            Ok(Body::Data(b".\r\n".to_vec()))
        );
        assert_eq!(w.read_line().await, Err(WireError::Closed));
    }

    #[tokio::test]
    async fn status_lines_are_bounded() {
        let mut w = Wire::new(std::io::Cursor::new(vec![b'x'; MAX_LINE + 10]), T);
        assert_eq!(w.read_line().await, Err(WireError::TooLong));
        let mut w = Wire::new(std::io::Cursor::new(b"+OK bare\n".to_vec()), T);
        assert_eq!(w.read_line().await.unwrap(), b"+OK bare");
    }

    #[tokio::test]
    async fn reads_time_out() {
        let (client, _server) = tokio::io::duplex(64);
        let mut w = Wire::new(client, Duration::from_millis(20));
        assert_eq!(w.read_line().await, Err(WireError::Timeout));
    }

    #[test]
    fn status_words() {
        assert_eq!(status(b"+OK"), Some(Status::Ok));
        assert_eq!(status(b"+OK 2 320"), Some(Status::Ok));
        assert_eq!(
            status(b"-ERR [AUTH] Authentication failed."),
            Some(Status::Err)
        );
        assert_eq!(status(b"+ "), Some(Status::More));
        assert_eq!(status(b"+"), Some(Status::More));
        assert_eq!(status(b"+OKAY"), None);
        assert_eq!(status(b"* OK IMAP4rev1"), None);
        assert_eq!(status(b""), None);
    }

    #[test]
    fn apop_digest_of_rfc_1939() {
        let ts = apop_timestamp(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
        assert_eq!(ts.as_deref(), Some("<1896.697170952@dbc.mtview.ca.us>"));
        assert_eq!(
            apop_digest(&ts.unwrap(), "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn greeting_timestamps() {
        let dovecot = b"+OK Dovecot (Debian) ready. <1627.1.6b0addfe.SZYVHgri10aexudEohl8pQ==@vm>";
        assert_eq!(
            apop_timestamp(dovecot).as_deref(),
            Some("<1627.1.6b0addfe.SZYVHgri10aexudEohl8pQ==@vm>")
        );
        assert_eq!(
            apop_timestamp(b"+OK <not a stamp> ready <1.2@h>").as_deref(),
            Some("<1.2@h>")
        );
        assert_eq!(apop_timestamp(b"+OK Dovecot ready."), None);
        assert_eq!(apop_timestamp(b"+OK <no-at-sign> ready"), None);
        assert_eq!(apop_timestamp(b"+OK ready <unclosed@x"), None);
    }

    #[test]
    fn stat_and_octets() {
        assert_eq!(parse_stat("+OK 2 320"), Some((2, 320)));
        assert_eq!(parse_stat("+OK 0 0"), Some((0, 0)));
        assert_eq!(parse_stat("+OK mailbox has 2 messages"), None);
        assert_eq!(parse_stat("+OK"), None);
        assert_eq!(octets("+OK 1234 octets"), Some(1234));
        assert_eq!(octets("+OK message follows"), None);
    }

    #[test]
    fn uidl_and_list_listings() {
        let uidl = b"1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n";
        assert_eq!(
            parse_listing(uidl, uid).unwrap(),
            vec![
                (1, "whqtswO00WBw418f9t5JxYwZ".to_string()),
                (2, "QhdPYR:00WBw1Ph7x7".to_string())
            ]
        );
        let list = b"1 120\r\n2 200 extra words\n";
        let sizes = parse_listing(list, |w| w.parse::<u64>().ok()).unwrap();
        assert_eq!(sizes, vec![(1, 120), (2, 200)]);
        assert_eq!(parse_listing(b"", uid).unwrap(), vec![]);
        for bad in [
            &b"1\r\n"[..],
            b"x abc\r\n",
            b"0 abc\r\n",
            b"-1 abc\r\n",
            b"99999999999 abc\r\n",
            b"1 \xff\xfe\r\n",
            b"+OK 1 2\r\n",
        ] {
            let err = parse_listing(bad, uid).unwrap_err();
            assert!(err.contains("malformed"), "{err}");
        }
        let err = parse_listing(b"1 12\r\n2 big\r\n", |w| w.parse::<u64>().ok()).unwrap_err();
        assert!(err.contains("\"2 big\""), "{err}");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Dot-stuffs a message as a server sends it, terminator included.
    fn stuffed(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = true;
        for &b in msg {
            if start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            start = b == b'\n';
        }
        if !start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    /// Feeds `wire` to the unstuffer in the given chunk sizes.
    fn unstuff_in(wire: &[u8], chunks: &[usize]) -> (Vec<u8>, Option<usize>) {
        let mut sink = Sink::new(usize::MAX, None);
        let mut at = At::LineStart;
        let mut pos = 0;
        let mut sizes = chunks.iter().cycle();
        while pos < wire.len() {
            let n = (*sizes.next().unwrap()).clamp(1, wire.len() - pos);
            let (used, done) = unstuff(&mut at, &wire[pos..pos + n], &mut sink);
            pos += used;
            if done {
                let Body::Data(d) = sink.finish() else {
                    unreachable!()
                };
                return (d, Some(pos));
            }
        }
        let Body::Data(d) = sink.finish() else {
            unreachable!()
        };
        (d, None)
    }

    /// POP3 replies: any message survives dot-stuffing byte for byte, in any
    /// split of the stream, and nothing after the terminator is eaten;
    /// random bytes never panic the unstuffer, status, listing, STAT and
    /// APOP parsers, and give the same result however they are split.
    #[test]
    fn fuzz_pop3_replies() {
        let lines = proptest::collection::vec(
            prop_oneof![
                Just(b".".to_vec()),
                Just(b"..".to_vec()),
                Just(b".x".to_vec()),
                Just(b"\r".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            0..12,
        )
        .prop_map(|ls| ls.join(&b"\r\n"[..]));
        let strategy = (
            lines,
            any::<Vec<u8>>(),
            proptest::collection::vec(1usize..20, 1..6),
        );
        crate::fuzzing::fuzz("POP3 replies", strategy, |(msg, junk, chunks)| {
            // The message as sent; a final line without CRLF gets one.
            let wire = stuffed(&msg);
            let mut expected = msg.clone();
            if !expected.is_empty() && !expected.ends_with(b"\n") {
                expected.extend_from_slice(b"\r\n");
            }
            let mut with_next = wire.clone();
            with_next.extend_from_slice(b"+OK next\r\n");
            let (data, end) = unstuff_in(&with_next, &chunks);
            prop_assert_eq!(&data, &expected);
            prop_assert_eq!(end, Some(wire.len()));
            // Random bytes: same answer whatever the split, no panic.
            let whole = unstuff_in(&junk, &[usize::MAX]);
            prop_assert_eq!(unstuff_in(&junk, &chunks), whole);
            let text = String::from_utf8_lossy(&junk);
            let _ = status(&junk);
            let _ = octets(&text);
            let _ = parse_stat(&text);
            let _ = apop_timestamp(&junk);
            let _ = excerpt(&junk);
            let _ = parse_listing(&junk, uid);
            let _ = parse_listing(&junk, |w| w.parse::<u64>().ok());
            Ok(())
        });
    }
}
