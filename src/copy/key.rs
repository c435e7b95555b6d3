//! The content key: what identifies "the same message" on both servers when
//! UIDs can't (no ledger, or UIDVALIDITY changed). It is the hash of the
//! message size and its identifying header fields, normalized so that header
//! order, folding and name case don't matter. Equal keys are counted as a
//! multiset, so a message stored twice is copied twice.

use sha2::{Digest, Sha256};

/// The header fields a content key is made of; the IMAP side fetches
/// exactly these (`BODY.PEEK[HEADER.FIELDS (...)]`).
pub const KEY_FIELDS: [&str; 7] = [
    "message-id",
    "date",
    "from",
    "to",
    "cc",
    "subject",
    "in-reply-to",
];

/// The key fields picked out of a whole message (or its header), for
/// sources that have no HEADER.FIELDS (POP3).
pub fn key_fields_of(message: &[u8]) -> Vec<u8> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| message.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .unwrap_or(message.len());
    let mut out = Vec::new();
    let mut keep = false;
    for line in message[..end].split_inclusive(|&b| b == b'\n') {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if keep {
                out.extend_from_slice(line);
            }
            continue;
        }
        keep = line
            .iter()
            .position(|&b| b == b':')
            .map(|c| {
                String::from_utf8_lossy(&line[..c])
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|name| KEY_FIELDS.contains(&name.as_str()));
        if keep {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Hex SHA-256 over the size and the normalized header fields.
pub fn content_key(size: u64, header_fields: &[u8]) -> String {
    key_text(&key_digest(size, header_fields))
}

/// The content key as its 32 bytes (a third of its text, and no allocation
/// of its own, for keeping many), [`key_text`] gives the key.
pub fn key_digest(size: u64, header_fields: &[u8]) -> [u8; 32] {
    let mut fields = parse_fields(header_fields);
    fields.sort_unstable();
    let mut h = Sha256::new();
    h.update(size.to_be_bytes());
    for (name, value) in &fields {
        h.update(name.as_bytes());
        h.update(b":");
        h.update(value);
        h.update(b"\n");
    }
    h.finalize().into()
}

/// The content key of a [`key_digest`].
pub fn key_text(digest: &[u8; 32]) -> String {
    hex(digest)
}

/// Lower-case hex, without a `format!` per byte (keys are made for every
/// message on both servers).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// (lower-case name, unfolded value with runs of white space collapsed).
fn parse_fields(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                // Unfolding joins the lines with white space, which
                // collapsing then turns into one space between words.
                collapse_into(&mut last.1, line);
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let mut value = Vec::with_capacity(line.len() - colon);
            collapse_into(&mut value, &line[colon + 1..]);
            out.push((field_name(&line[..colon]), value));
        }
    }
    out
}

/// The name trimmed and lower-cased, as `str::trim` and
/// `to_ascii_lowercase` would after a lossy UTF-8 conversion (keys stored in
/// ledgers depend on it), with no conversion for the usual ASCII name.
fn field_name(raw: &[u8]) -> String {
    if !raw.is_ascii() {
        return String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
    }
    // ASCII white space as `char::is_whitespace` has it: \t \n VT FF \r and space.
    let white = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let start = raw.iter().position(|b| !white(b)).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !white(b)).map_or(start, |e| e + 1);
    let name: String = raw[start..end]
        .iter()
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    name
}

/// Appends the words of `v` to `out`, one space between words.
fn collapse_into(out: &mut Vec<u8>, v: &[u8]) {
    for word in v
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
}

/// Header values for describing a message in the log: (date, from, subject).
pub fn describe(header_fields: &[u8]) -> (String, String, String) {
    let fields = parse_fields(header_fields);
    let get = |n: &str| {
        fields
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    (get("date"), get("from"), get("subject"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_folding_and_case_do_not_change_the_key() {
        let a = b"Message-ID: <a@b>\r\nSubject: hello\r\n  world\r\n\r\n";
        let b = b"subject: hello world\r\nMESSAGE-ID:  <a@b>\r\n\r\n";
        assert_eq!(content_key(10, a), content_key(10, b));
    }

    #[test]
    fn size_and_values_change_the_key() {
        let a = b"Message-ID: <a@b>\r\n\r\n";
        assert_ne!(content_key(10, a), content_key(11, a));
        assert_ne!(
            content_key(10, a),
            content_key(10, b"Message-ID: <c@b>\r\n\r\n")
        );
    }

    #[test]
    fn key_fields_of_a_whole_message_match_what_imap_header_fields_return() {
        let msg = b"Received: x\r\nSubject: Hi\r\n there\r\nX-Other: y\r\nMessage-ID: <1@a>\r\n\r\nSubject: not a header\r\n";
        let fields = key_fields_of(msg);
        assert_eq!(
            fields,
            b"Subject: Hi\r\n there\r\nMessage-ID: <1@a>\r\n".to_vec()
        );
        // What an IMAP server returns for HEADER.FIELDS ends in a blank line.
        let imap = b"Subject: Hi\r\n there\r\nMessage-ID: <1@a>\r\n\r\n";
        assert_eq!(content_key(9, &fields), content_key(9, imap));
    }

    #[test]
    fn describe_reads_date_from_subject() {
        let (d, f, s) = describe(b"Date: Mon, 1 Jan 2024\r\nFrom: a@b\r\nSubject: Hi\r\n\r\n");
        assert_eq!(
            (d.as_str(), f.as_str(), s.as_str()),
            ("Mon, 1 Jan 2024", "a@b", "Hi")
        );
    }
}

#[cfg(test)]
mod field_list {
    #[test]
    fn imap_fetches_exactly_the_key_fields() {
        let imap: Vec<String> = crate::imap::HEADER_FIELDS
            .split(' ')
            .map(|f| f.to_ascii_lowercase())
            .collect();
        assert_eq!(imap, super::KEY_FIELDS.to_vec());
    }
}

/// Keys already stored in ledgers must not change: the faster key is checked
/// against the first implementation on random header blocks.
#[cfg(test)]
mod same_keys {
    use super::*;
    use proptest::prelude::*;

    fn reference_key(size: u64, raw: &[u8]) -> String {
        let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
        for line in raw.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                if let Some(last) = fields.last_mut() {
                    last.1.push(b' ');
                    last.1.extend_from_slice(line);
                }
                continue;
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let name = String::from_utf8_lossy(&line[..colon])
                    .trim()
                    .to_ascii_lowercase();
                fields.push((name, line[colon + 1..].to_vec()));
            }
        }
        for (_, v) in &mut fields {
            let mut out = Vec::new();
            for word in v
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
            {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(word);
            }
            *v = out;
        }
        fields.sort();
        let mut h = Sha256::new();
        h.update(size.to_be_bytes());
        for (name, value) in &fields {
            h.update(name.as_bytes());
            h.update(b":");
            h.update(value);
            h.update(b"\n");
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fuzz_content_key_matches_the_first_implementation() {
        let line = "([ \\t\\x0b\\x0c]{0,2}(Subject|FROM|to|X-\u{e9}|Message-ID)[ \\t\\x0b]{0,2}:[ -~\\t\\x0b\\x0c\u{a0}\u{e9}]{0,20}|[ \\t][ -~\\t]{0,10}|[ -~]{0,10})\\r?\\n";
        crate::fuzzing::fuzz(
            "content keys",
            (
                any::<u64>(),
                proptest::collection::vec(line, 0..8),
                any::<Vec<u8>>(),
            ),
            |(size, lines, junk)| {
                let block = lines.concat();
                prop_assert_eq!(
                    content_key(size, block.as_bytes()),
                    reference_key(size, block.as_bytes())
                );
                prop_assert_eq!(content_key(size, &junk), reference_key(size, &junk));
                Ok(())
            },
        );
    }
}
