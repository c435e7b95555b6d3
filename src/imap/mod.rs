//! IMAP on top of async-imap: connecting (TLS, STARTTLS, pre-login
//! CAPABILITY), logging in (LOGIN, SASL PLAIN with an authorization identity),
//! and the commands a migration needs, plus what async-imap lacks: NAMESPACE,
//! LITERAL+, MULTIAPPEND, APPENDUID and modified UTF-7.

mod append;
mod client;
mod codes;
mod listing;
mod raw;
pub mod utf7;

pub use append::{AppendItem, AppendResult};
pub use client::Quota;
pub use client::{
    Endpoint, FetchedBody, FolderStatus, ImapClient, Login, MessageBytes, MessageMeta, Selected,
    Transport, HEADER_FIELDS,
};
pub use listing::{FolderUse, ListedFolder};
pub use raw::FolderSize;

/// Formats UIDs as a compact IMAP sequence set: `1:5,7,9:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Quotes a mailbox name (or any string) as an IMAP quoted string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact_ranges() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 7, 8, 12]), "1:3,5,7:9,12");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// UID sets and quoting as MailFerry writes them: a set names exactly
    /// its UIDs; a quoted string reads back as the original.
    #[test]
    fn fuzz_uid_sets_and_quoting() {
        crate::fuzzing::fuzz(
            "UID sets and quoting",
            (
                proptest::collection::vec(1u32..5000, 0..80),
                any::<String>(),
            ),
            |(uids, s)| {
                let set = uid_set(&uids);
                let mut back = Vec::new();
                for part in set.split(',').filter(|p| !p.is_empty()) {
                    match part.split_once(':') {
                        Some((a, b)) => {
                            let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                            prop_assert!(a < b);
                            back.extend(a..=b);
                        }
                        None => back.push(part.parse().unwrap()),
                    }
                }
                let mut want = uids.clone();
                want.sort_unstable();
                want.dedup();
                prop_assert_eq!(back, want);
                let q = quote(&s);
                let inner = &q[1..q.len() - 1];
                let mut unquoted = String::new();
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        unquoted.push(chars.next().unwrap());
                    } else {
                        prop_assert!(c != '"');
                        unquoted.push(c);
                    }
                }
                prop_assert_eq!(unquoted, s);
                Ok(())
            },
        );
    }
}
