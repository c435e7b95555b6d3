//! Reading a tagged reply: its words for messages and error classes, and the
//! UIDs of an APPENDUID code. Shared by the client and APPEND.

use async_imap::imap_proto::rfc4315::UidSetMember;
use async_imap::imap_proto::{self, ResponseCode, Status};

/// `NO [CODE] text` for a tagged reply, for messages and error classes.
pub(super) fn outcome_text(status: &Status, outcome: &imap_proto::Outcome<'_>) -> String {
    let word = match status {
        Status::Ok => "OK",
        Status::No => "NO",
        Status::Bad => "BAD",
        Status::PreAuth => "PREAUTH",
        Status::Bye => "BYE",
    };
    let code = match &outcome.code {
        None => String::new(),
        Some(ResponseCode::Alert) => "[ALERT] ".into(),
        Some(ResponseCode::TryCreate) => "[TRYCREATE] ".into(),
        Some(ResponseCode::ReadOnly) => "[READ-ONLY] ".into(),
        Some(other) => format!("[{other:?}] "),
    };
    format!(
        "{word} {code}{}",
        outcome.information.as_deref().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// The UIDs of a UID set, ranges spelled out.
pub(super) fn expand(set: &[UidSetMember]) -> Vec<u32> {
    let mut out = Vec::new();
    for m in set {
        match m {
            UidSetMember::Uid(u) => out.push(*u),
            UidSetMember::UidRange(r) => out.extend(r.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appenduid_sets_expand_in_order() {
        let set = vec![UidSetMember::UidRange(4..=6), UidSetMember::Uid(9)];
        assert_eq!(expand(&set), vec![4, 5, 6, 9]);
    }
}
