//! Folders from LIST (and XLIST) replies, with what the server says each is
//! for: RFC 6154 special-use attributes, or the older XLIST ones (Gmail's
//! forerunner of SPECIAL-USE).

use async_imap::imap_proto::{MailboxDatum, MailboxListData, NameAttribute, Response};

use super::utf7;

/// What a folder is for, as the server marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FolderUse {
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    /// Every message of the mailbox (Gmail's "All Mail").
    All,
    /// Every flagged message.
    Flagged,
    /// Every message marked important (RFC 8457; Gmail's "Important").
    Important,
}

impl FolderUse {
    /// Every use, in the order folders are looked for.
    pub const EVERY: [FolderUse; 8] = [
        FolderUse::Sent,
        FolderUse::Drafts,
        FolderUse::Trash,
        FolderUse::Junk,
        FolderUse::Archive,
        FolderUse::All,
        FolderUse::Flagged,
        FolderUse::Important,
    ];

    /// The use a LIST attribute marks: RFC 6154's, or XLIST's names for them.
    pub fn from_attribute(a: &NameAttribute<'_>) -> Option<FolderUse> {
        Some(match a {
            NameAttribute::Sent => FolderUse::Sent,
            NameAttribute::Drafts => FolderUse::Drafts,
            NameAttribute::Trash => FolderUse::Trash,
            NameAttribute::Junk => FolderUse::Junk,
            NameAttribute::Archive => FolderUse::Archive,
            NameAttribute::All => FolderUse::All,
            NameAttribute::Flagged => FolderUse::Flagged,
            NameAttribute::Extension(e) => match e.to_ascii_lowercase().as_str() {
                "\\spam" => FolderUse::Junk,
                "\\allmail" => FolderUse::All,
                "\\starred" => FolderUse::Flagged,
                "\\important" => FolderUse::Important,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The RFC 6154 attribute, as a user would look it up.
    pub fn attribute(self) -> &'static str {
        match self {
            FolderUse::Sent => "\\Sent",
            FolderUse::Drafts => "\\Drafts",
            FolderUse::Trash => "\\Trash",
            FolderUse::Junk => "\\Junk",
            FolderUse::Archive => "\\Archive",
            FolderUse::All => "\\All",
            FolderUse::Flagged => "\\Flagged",
            FolderUse::Important => "\\Important",
        }
    }

    /// The word for it in messages ("the destination's Sent folder").
    pub fn word(self) -> &'static str {
        match self {
            FolderUse::Sent => "Sent",
            FolderUse::Drafts => "Drafts",
            FolderUse::Trash => "Trash",
            FolderUse::Junk => "Junk",
            FolderUse::Archive => "Archive",
            FolderUse::All => "All",
            FolderUse::Flagged => "Flagged",
            FolderUse::Important => "Important",
        }
    }

    /// A view of messages held in other folders (on Gmail, of labels):
    /// nothing of its own to receive.
    pub fn is_virtual(self) -> bool {
        matches!(
            self,
            FolderUse::All | FolderUse::Flagged | FolderUse::Important
        )
    }
}

/// A folder as LIST reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFolder {
    /// The name as on the wire (modified UTF-7), for commands.
    pub raw: String,
    /// The name decoded to Unicode.
    pub name: String,
    pub delimiter: Option<char>,
    pub selectable: bool,
    /// What the server marks it as being for, if anything.
    pub special_use: Option<FolderUse>,
}

impl ListedFolder {
    /// `None` for a name LIST shows that does not exist (`\NonExistent`).
    pub(super) fn from_list(l: &MailboxListData<'_>) -> Option<ListedFolder> {
        let attrs = &l.name_attributes;
        let nonexistent = attrs.iter().any(
            |a| matches!(a, NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\NonExistent")),
        );
        if nonexistent {
            return None;
        }
        let raw = l.name.to_string();
        Some(ListedFolder {
            name: utf7::decode(&raw).unwrap_or_else(|| raw.clone()),
            raw,
            delimiter: l.delimiter.as_ref().and_then(|d| d.chars().next()),
            selectable: !attrs.iter().any(|a| matches!(a, NameAttribute::NoSelect)),
            special_use: attrs.iter().find_map(FolderUse::from_attribute),
        })
    }
}

/// A folder from one line of an XLIST reply (`* XLIST (\Sent) "/" Sent`;
/// some servers answer XLIST with `* LIST` lines), read as the LIST line it
/// otherwise is.
pub(super) fn xlist_line(line: &[u8]) -> Option<ListedFolder> {
    const XLIST: &[u8] = b"* XLIST ";
    let line = match line.get(..XLIST.len()) {
        Some(head) if head.eq_ignore_ascii_case(XLIST) => &line[XLIST.len()..],
        _ => line.strip_prefix(b"* LIST ")?,
    };
    // imap-proto reads `\AllMail` as `\All` followed by junk (and then
    // not at all), so XLIST's attributes get their RFC 6154 names first.
    let open = line.iter().position(|&b| b == b'(')?;
    let close = open + line[open..].iter().position(|&b| b == b')')?;
    let attributes: Vec<&str> = std::str::from_utf8(&line[open + 1..close])
        .ok()?
        .split_ascii_whitespace()
        .map(|a| match a.to_ascii_lowercase().as_str() {
            "\\allmail" => "\\All",
            "\\starred" => "\\Flagged",
            "\\spam" => "\\Junk",
            _ => a,
        })
        .collect();
    let mut whole = format!("* LIST ({})", attributes.join(" ")).into_bytes();
    whole.extend_from_slice(&line[close + 1..]);
    whole.extend_from_slice(b"\r\n");
    match Response::parse(&whole) {
        Ok((_, Response::MailboxData(MailboxDatum::List(l)))) => ListedFolder::from_list(&l),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlist_lines_carry_gmail_attributes() {
        let f = xlist_line(br#"* XLIST (\HasNoChildren \Spam) "/" "[Gmail]/Spam""#).unwrap();
        assert_eq!(f.name, "[Gmail]/Spam");
        assert_eq!(f.delimiter, Some('/'));
        assert_eq!(f.special_use, Some(FolderUse::Junk));
        let f = xlist_line(br#"* XLIST (\HasNoChildren \AllMail) "/" "[Gmail]/All Mail""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::All));
        let f = xlist_line(br#"* xlist (\Starred) "/" "[Gmail]/Starred""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::Flagged));
        let f = xlist_line(br#"* XLIST (\Important) "/" "[Gmail]/Important""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::Important));
        let f = xlist_line(br#"* XLIST (\HasNoChildren \Inbox) "/" "Inbox""#).unwrap();
        assert_eq!(f.special_use, None);
    }

    #[test]
    fn list_lines_literals_and_odd_lines() {
        let f = xlist_line(b"* LIST (\\Sent) \".\" {23}\r\nINBOX.Gesendete Objekte").unwrap();
        assert_eq!(f.name, "INBOX.Gesendete Objekte");
        assert_eq!(f.special_use, Some(FolderUse::Sent));
        let f = xlist_line(br#"* LIST (\Noselect \Trash) "/" "Entw&APw-rfe""#).unwrap();
        assert_eq!(f.name, "Entwürfe");
        assert!(!f.selectable);
        assert!(xlist_line(br#"* LIST (\NonExistent) "/" Gone"#).is_none());
        assert!(xlist_line(b"* OK still here").is_none());
        assert!(xlist_line(b"* XLIST").is_none());
        assert!(xlist_line(b"").is_none());
    }
}
