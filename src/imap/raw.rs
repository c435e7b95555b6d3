//! Reading responses byte by byte, for the few exchanges that happen outside
//! async-imap's parser: the greeting, pre-login CAPABILITY, STARTTLS, and
//! NAMESPACE (which imap-proto does not parse). Reading one byte at a time
//! guarantees nothing past the response is consumed, so the stream can be
//! handed to async-imap afterwards without losing data.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A response line longer than this is not a reply we expect here.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
pub enum RawError {
    Timeout,
    Closed,
    Io,
    TooLong,
}

/// Reads one CRLF-terminated line (without the CRLF), following `{n}`
/// literals so a line holding one is returned whole.
pub async fn read_line<S: AsyncRead + Unpin>(
    s: &mut S,
    timeout: Duration,
) -> Result<Vec<u8>, RawError> {
    tokio::time::timeout(timeout, read_line_inner(s))
        .await
        .map_err(|_| RawError::Timeout)?
}

async fn read_line_inner<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, RawError> {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8; 1];
        match s.read(&mut b).await {
            Ok(0) => return Err(RawError::Closed),
            Ok(_) => line.push(b[0]),
            Err(_) => return Err(RawError::Io),
        }
        if line.len() > MAX_LINE {
            return Err(RawError::TooLong);
        }
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            if let Some(n) = literal_len(&line) {
                if n > MAX_LINE {
                    return Err(RawError::TooLong);
                }
                let mut lit = vec![0u8; n];
                s.read_exact(&mut lit).await.map_err(|_| RawError::Io)?;
                line.extend_from_slice(b"\r\n");
                line.extend_from_slice(&lit);
                continue;
            }
            return Ok(line);
        }
    }
}

/// `Some(n)` when the line ends in a `{n}` literal announcement.
fn literal_len(line: &[u8]) -> Option<usize> {
    let rest = line.strip_suffix(b"}")?;
    let open = rest.iter().rposition(|&b| b == b'{')?;
    let digits = &rest[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Sends a tagged command and collects the untagged lines until its tagged
/// reply, which is returned last.
pub async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    tag: &str,
    command: &str,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), RawError> {
    let line = format!("{tag} {command}\r\n");
    s.write_all(line.as_bytes())
        .await
        .map_err(|_| RawError::Io)?;
    s.flush().await.map_err(|_| RawError::Io)?;
    read_until_tag(s, tag, timeout).await
}

/// Reads lines until the one tagged `tag`.
pub async fn read_until_tag<S: AsyncRead + Unpin>(
    s: &mut S,
    tag: &str,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), RawError> {
    let mut untagged = Vec::new();
    let prefix = format!("{tag} ");
    loop {
        let line = read_line(s, timeout).await?;
        if line.starts_with(prefix.as_bytes()) {
            return Ok((untagged, line[prefix.len()..].to_vec()));
        }
        untagged.push(line);
    }
}

/// Capability atoms from a `* CAPABILITY ...` line or a `[CAPABILITY ...]`
/// response code, upper-cased.
pub fn capabilities_in(line: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(line);
    let upper = text.to_ascii_uppercase();
    let start = if let Some(i) = upper.find("[CAPABILITY ") {
        i + "[CAPABILITY ".len()
    } else if upper.starts_with("* CAPABILITY ") {
        "* CAPABILITY ".len()
    } else {
        return None;
    };
    let rest = &upper[start..];
    let end = rest.find(']').unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().map(str::to_string).collect())
}

/// A folder's size as STATUS gives it; `bytes` only where the server has
/// STATUS=SIZE (RFC 8438).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderSize {
    pub messages: u64,
    pub bytes: Option<u64>,
    /// UIDNEXT and UIDVALIDITY, where asked for: with MESSAGES they tell
    /// whether a folder changed since it was last seen.
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
}

/// MESSAGES and SIZE from a `* STATUS mailbox (MESSAGES n SIZE m)` line:
/// the attribute list is the line's last parenthesized group (a mailbox
/// name may hold parentheses, never at the end of the line).
pub fn parse_status(line: &[u8]) -> Option<FolderSize> {
    let text = String::from_utf8_lossy(line);
    if !text.to_ascii_uppercase().starts_with("* STATUS ") {
        return None;
    }
    let inner = text.trim_end().strip_suffix(')')?;
    let list = &inner[inner.rfind('(')? + 1..];
    let mut words = list.split_ascii_whitespace();
    let mut expected = FolderSize::default();
    let mut messages = None;
    while let (Some(name), Some(value)) = (words.next(), words.next()) {
        let value: u64 = value.parse().ok()?;
        match name.to_ascii_uppercase().as_str() {
            "MESSAGES" => messages = Some(value),
            "SIZE" => expected.bytes = Some(value),
            "UIDNEXT" => expected.uid_next = u32::try_from(value).ok(),
            "UIDVALIDITY" => expected.uid_validity = u32::try_from(value).ok(),
            _ => {}
        }
    }
    expected.messages = messages?;
    Some(expected)
}

/// The first personal namespace from a `* NAMESPACE` line: (prefix, delimiter).
pub fn parse_namespace(line: &[u8]) -> Option<(String, Option<char>)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("* NAMESPACE ")?.trim_start();
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = quoted(rest)?;
    let rest = rest.trim_start();
    let delimiter = if rest.starts_with("NIL") || rest.starts_with("nil") {
        None
    } else {
        let (d, _) = quoted(rest)?;
        d.chars().next()
    };
    Some((prefix, delimiter))
}

fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sizes_with_and_without_size_and_odd_names() {
        let size = |line: &str| parse_status(line.as_bytes());
        assert_eq!(
            size("* STATUS INBOX (MESSAGES 12 SIZE 34567)"),
            Some(FolderSize {
                messages: 12,
                bytes: Some(34567),
                ..Default::default()
            })
        );
        assert_eq!(
            size("* STATUS INBOX (MESSAGES 12 UIDNEXT 40 UIDVALIDITY 1700000000)"),
            Some(FolderSize {
                messages: 12,
                bytes: None,
                uid_next: Some(40),
                uid_validity: Some(1_700_000_000),
            })
        );
        assert_eq!(
            size("* STATUS \"Sent (old)\" (SIZE 5 MESSAGES 1)"),
            Some(FolderSize {
                messages: 1,
                bytes: Some(5),
                ..Default::default()
            })
        );
        assert_eq!(
            size("* status {9}\r\nA (b) (c) (MESSAGES 0)"),
            Some(FolderSize {
                messages: 0,
                bytes: None,
                ..Default::default()
            })
        );
        assert_eq!(size("* STATUS INBOX (SIZE 5)"), None);
        assert_eq!(size("* STATUS INBOX (MESSAGES x)"), None);
        assert_eq!(size("* LIST () \"/\" INBOX"), None);
    }

    #[test]
    fn namespace_of_courier_and_dovecot_styles() {
        assert_eq!(
            parse_namespace(br##"* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))"##),
            Some(("INBOX.".into(), Some('.')))
        );
        assert_eq!(
            parse_namespace(br#"* NAMESPACE (("" "/")) NIL NIL"#),
            Some(("".into(), Some('/')))
        );
        assert_eq!(
            parse_namespace(br#"* NAMESPACE (("" NIL)) NIL NIL"#),
            Some(("".into(), None))
        );
        assert_eq!(parse_namespace(b"* NAMESPACE NIL NIL NIL"), None);
    }

    #[test]
    fn capabilities_from_code_and_data() {
        let caps =
            capabilities_in(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready").unwrap();
        assert_eq!(caps, vec!["IMAP4REV1", "STARTTLS", "AUTH=PLAIN"]);
        let caps = capabilities_in(b"* CAPABILITY IMAP4rev1 LITERAL+").unwrap();
        assert_eq!(caps, vec!["IMAP4REV1", "LITERAL+"]);
        assert!(capabilities_in(b"* OK ready").is_none());
    }

    #[tokio::test]
    async fn reads_lines_and_literals_without_overreading() {
        let data = b"* LIST () \"/\" {5}\r\nab cd\r\nt1 OK done\r\nNEXT".to_vec();
        let mut cur = std::io::Cursor::new(data);
        let (untagged, done) = read_until_tag(&mut cur, "t1", Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(untagged, vec![b"* LIST () \"/\" {5}\r\nab cd".to_vec()]);
        assert_eq!(done, b"OK done");
        let mut rest = Vec::new();
        cur.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"NEXT");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Our IMAP extensions, read by hand: lines and literals, NAMESPACE,
    /// capabilities. Random replies never panic or read past the line they
    /// return; a line with a literal comes back whole.
    #[test]
    fn fuzz_imap_extensions() {
        let namespace = "\\* NAMESPACE (\\(\\(\"[A-Za-z./\\\\\"]{0,8}\" (\"[./]\"|NIL)\\)\\)|NIL)( NIL| \\(\\(\"#[a-z]{0,5}\" \"[./]\"\\)\\)){0,2}";
        let strategy = (
            any::<Vec<u8>>(),
            namespace,
            "[ -~]{0,30}",
            proptest::collection::vec(any::<u8>(), 0..64),
            "[A-Za-z0-9 =+-]{0,60}",
        );
        crate::fuzzing::fuzz(
            "IMAP extensions",
            strategy,
            |(junk, ns, prefix, literal, caps)| {
                let _ = parse_namespace(&junk);
                let _ = capabilities_in(&junk);
                let _ = literal_len(&junk);
                if let Some((p, _)) = parse_namespace(ns.as_bytes()) {
                    // The prefix is the first quoted string, unescaped.
                    prop_assert!(p.len() <= ns.len());
                }
                let line = format!("* OK [CAPABILITY {caps}] ready");
                let got = capabilities_in(line.as_bytes()).unwrap();
                prop_assert_eq!(
                    got.join(" "),
                    caps.to_ascii_uppercase()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                );

                // A line with a literal, then more: read whole, no over-read.
                let mut wire = format!("* {prefix} {{{}}}\r\n", literal.len()).into_bytes();
                wire.extend_from_slice(&literal);
                wire.extend_from_slice(b" tail\r\nNEXT");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let mut cur = std::io::Cursor::new(wire.clone());
                let got = rt.block_on(read_line(&mut cur, Duration::from_secs(1)));
                if let Ok(line) = got {
                    let pos = cur.position() as usize;
                    prop_assert_eq!(&wire[pos..], b"NEXT");
                    prop_assert_eq!(line, wire[..pos - 2].to_vec());
                }
                // Random bytes: an error or a line, never a panic or hang.
                let mut cur = std::io::Cursor::new(junk.clone());
                let _ = rt.block_on(read_line(&mut cur, Duration::from_secs(1)));
                Ok(())
            },
        );
    }
}
