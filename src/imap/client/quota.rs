//! What a destination mailbox may still take: its quota (GETQUOTAROOT,
//! RFC 9208 / RFC 2087) and the largest message it accepts (APPENDLIMIT,
//! RFC 7889), for the pre-flight report.

use super::{raw, raw_err, ImapClient};
use crate::error::MailError;

/// One quota root's storage use and limit, in bytes (servers count in
/// units of 1024 octets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quota {
    /// The quota root's name, e.g. `User quota`.
    pub root: String,
    pub used_bytes: u64,
    pub limit_bytes: u64,
    /// Message count and limit, when the root limits that too.
    pub messages: Option<(u64, u64)>,
}

impl ImapClient {
    /// The largest message the server accepts, when it says (APPENDLIMIT=n
    /// in its capabilities).
    pub fn append_limit(&self) -> Option<u64> {
        self.caps
            .iter()
            .find_map(|c| c.strip_prefix("APPENDLIMIT=")?.parse().ok())
    }

    /// The storage quota of the roots `folder` (on the wire) belongs to;
    /// empty when the server has no QUOTA extension or sets no limit. Read
    /// by hand (one round trip), on a connection with no folder open.
    pub async fn quota(&mut self, folder: &str) -> Result<Vec<Quota>, MailError> {
        if !self.has("QUOTA") {
            return Ok(Vec::new());
        }
        let doing = "reading the mailbox's quota (GETQUOTAROOT)";
        let tag = self
            .send(&format!("GETQUOTAROOT {}", super::quote(folder)), doing)
            .await?;
        let t = self.timeout;
        let (lines, done) = raw::read_until_tag(self.session.get_mut(), &tag.0, t)
            .await
            .map_err(|e| raw_err(&self.place, doing, t, e))?;
        if !done.starts_with(b"OK") {
            // A server that refuses to say is not a reason to stop.
            return Ok(Vec::new());
        }
        Ok(lines.iter().filter_map(|l| parse_quota(l)).collect())
    }
}

/// `* QUOTA "User quota" (STORAGE 10 512 MESSAGE 3 1000)`; `None` for any
/// other line, or a root that limits no storage.
pub fn parse_quota(line: &[u8]) -> Option<Quota> {
    let text = String::from_utf8_lossy(line);
    let rest = text.strip_prefix("* QUOTA ")?.trim_end();
    let open = rest.rfind('(')?;
    let root = rest[..open].trim();
    let root = root
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .map(|r| r.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_else(|| root.to_string());
    let list = rest[open + 1..].strip_suffix(')')?;
    let words: Vec<&str> = list.split_ascii_whitespace().collect();
    let mut storage = None;
    let mut messages = None;
    for w in words.chunks(3) {
        let [name, used, limit] = w else { break };
        let (used, limit): (u64, u64) = (used.parse().ok()?, limit.parse().ok()?);
        match name.to_ascii_uppercase().as_str() {
            "STORAGE" => storage = Some((used, limit)),
            "MESSAGE" => messages = Some((used, limit)),
            _ => {}
        }
    }
    let (used, limit) = storage?;
    Some(Quota {
        root,
        used_bytes: used.saturating_mul(1024),
        limit_bytes: limit.saturating_mul(1024),
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_lines_give_bytes_and_messages() {
        let q = parse_quota(b"* QUOTA \"User quota\" (STORAGE 10 512 MESSAGE 3 1000)").unwrap();
        assert_eq!(
            q,
            Quota {
                root: "User quota".into(),
                used_bytes: 10_240,
                limit_bytes: 524_288,
                messages: Some((3, 1000)),
            }
        );
        let atom = parse_quota(b"* QUOTA ROOT (STORAGE 0 100)").unwrap();
        assert_eq!((atom.root.as_str(), atom.limit_bytes), ("ROOT", 102_400));
    }

    #[test]
    fn other_lines_and_roots_without_storage_are_not_quotas() {
        assert_eq!(parse_quota(b"* QUOTAROOT INBOX \"User quota\""), None);
        assert_eq!(parse_quota(b"* QUOTA \"x\" (MESSAGE 1 10)"), None);
        assert_eq!(parse_quota(b"* QUOTA \"x\" (STORAGE 1 lots)"), None);
        assert_eq!(parse_quota(b"* QUOTA \"x\" ()"), None);
    }
}
