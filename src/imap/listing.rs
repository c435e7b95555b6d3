//! Folders from LIST (and XLIST) replies, with what the server says each is
//! for: RFC 6154 special-use attributes, or the older XLIST ones (Gmail's
//! forerunner of SPECIAL-USE).

use async_imap::imap_proto::{MailboxDatum, Response};

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

    /// The use a LIST attribute marks (`\Sent`, any case): RFC 6154's,
    /// RFC 8457's `\Important`, or XLIST's names (`\Spam`, `\AllMail`,
    /// `\Starred`), which Gmail-like servers may send in plain LIST too.
    pub fn from_attribute(attribute: &str) -> Option<FolderUse> {
        Some(match attribute.to_ascii_lowercase().as_str() {
            "\\sent" => FolderUse::Sent,
            "\\drafts" => FolderUse::Drafts,
            "\\trash" => FolderUse::Trash,
            "\\junk" | "\\spam" => FolderUse::Junk,
            "\\archive" => FolderUse::Archive,
            "\\all" | "\\allmail" => FolderUse::All,
            "\\flagged" | "\\starred" => FolderUse::Flagged,
            "\\important" => FolderUse::Important,
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
    /// A folder from its LIST attributes (as sent, e.g. `\Noselect`),
    /// delimiter and wire name; `None` for a name LIST shows that does not
    /// exist (`\NonExistent`).
    fn from_parts(attrs: &[&str], delimiter: Option<char>, raw: String) -> Option<ListedFolder> {
        let has = |name: &str| attrs.iter().any(|a| a.eq_ignore_ascii_case(name));
        if has("\\NonExistent") {
            return None;
        }
        Some(ListedFolder {
            name: utf7::decode(&raw).unwrap_or_else(|| raw.clone()),
            raw,
            delimiter,
            selectable: !has("\\Noselect"),
            special_use: attrs.iter().find_map(|a| FolderUse::from_attribute(a)),
        })
    }
}

/// A folder from one untagged line of a LIST or XLIST reply (`* LIST
/// (\HasNoChildren \Sent) "/" Sent`, `* XLIST (\AllMail) "/" "[Gmail]/All
/// Mail"`; a literal name follows its `{n}` and CRLF); `None` for any other
/// line, or a name that does not exist.
///
/// The attributes are read here, not by imap-proto: it takes `\AllMail`
/// for `\All` followed by junk and then refuses the whole reply, which a
/// Gmail-like server sends in plain LIST too. imap-proto reads only the
/// delimiter and the name (quoted, literal or atom).
pub(super) fn list_line(line: &[u8]) -> Option<ListedFolder> {
    const XLIST: &[u8] = b"* XLIST ";
    const LIST: &[u8] = b"* LIST ";
    let head = |h: &[u8]| {
        line.get(..h.len())
            .is_some_and(|x| x.eq_ignore_ascii_case(h))
    };
    let rest = match () {
        _ if head(XLIST) => &line[XLIST.len()..],
        _ if head(LIST) => &line[LIST.len()..],
        _ => return None,
    };
    let rest = rest.strip_prefix(b"(")?;
    let close = rest.iter().position(|&b| b == b')')?;
    let attributes: Vec<&str> = std::str::from_utf8(&rest[..close])
        .ok()?
        .split_ascii_whitespace()
        .collect();
    let mut bare = b"* LIST ()".to_vec();
    bare.extend_from_slice(&rest[close + 1..]);
    bare.extend_from_slice(b"\r\n");
    match Response::parse(&bare) {
        Ok((_, Response::MailboxData(MailboxDatum::List(l)))) => ListedFolder::from_parts(
            &attributes,
            l.delimiter.as_ref().and_then(|d| d.chars().next()),
            l.name.to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlist_lines_carry_gmail_attributes() {
        let f = list_line(br#"* XLIST (\HasNoChildren \Spam) "/" "[Gmail]/Spam""#).unwrap();
        assert_eq!(f.name, "[Gmail]/Spam");
        assert_eq!(f.delimiter, Some('/'));
        assert_eq!(f.special_use, Some(FolderUse::Junk));
        let f = list_line(br#"* XLIST (\HasNoChildren \AllMail) "/" "[Gmail]/All Mail""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::All));
        let f = list_line(br#"* xlist (\Starred) "/" "[Gmail]/Starred""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::Flagged));
        let f = list_line(br#"* XLIST (\Important) "/" "[Gmail]/Important""#);
        assert_eq!(f.unwrap().special_use, Some(FolderUse::Important));
        let f = list_line(br#"* XLIST (\HasNoChildren \Inbox) "/" "Inbox""#).unwrap();
        assert_eq!(f.special_use, None);
    }

    /// The known gap: a plain LIST reply carrying XLIST's attributes (as
    /// Gmail-like servers send) is refused whole by imap-proto; read by
    /// hand, every folder comes through with its use.
    #[tokio::test]
    async fn a_plain_list_reply_with_gmail_xlist_attributes_is_read_whole() {
        let all_mail = b"* LIST (\\HasNoChildren \\AllMail) \"/\" \"[Gmail]/All Mail\"\r\n";
        let by_proto = Response::parse(all_mail);
        assert!(
            !matches!(
                by_proto,
                Ok((_, Response::MailboxData(MailboxDatum::List(_))))
            ),
            "imap-proto reads it now: {by_proto:?}"
        );
        let reply: &[u8] = b"* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
            * LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n\
            * LIST (\\HasNoChildren \\AllMail) \"/\" \"[Gmail]/All Mail\"\r\n\
            * LIST (\\HasNoChildren \\Starred) \"/\" \"[Gmail]/Starred\"\r\n\
            * LIST (\\HasNoChildren \\Important) \"/\" \"[Gmail]/Important\"\r\n\
            * LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n\
            * LIST (\\HasNoChildren \\Spam) \"/\" \"[Gmail]/Spam\"\r\n\
            * LIST (\\HasNoChildren) \"/\" {14}\r\nWork (a) &AOQ-\r\n\
            A7 OK Success\r\n";
        let mut wire = reply;
        let (lines, done) =
            super::super::raw::read_until_tag(&mut wire, "A7", std::time::Duration::from_secs(1))
                .await
                .unwrap();
        assert_eq!(done, b"OK Success");
        let got: Vec<(String, bool, Option<FolderUse>)> = lines
            .iter()
            .filter_map(|l| list_line(l))
            .map(|f| (f.name, f.selectable, f.special_use))
            .collect();
        let want = [
            ("INBOX", true, None),
            ("[Gmail]", false, None),
            ("[Gmail]/All Mail", true, Some(FolderUse::All)),
            ("[Gmail]/Starred", true, Some(FolderUse::Flagged)),
            ("[Gmail]/Important", true, Some(FolderUse::Important)),
            ("[Gmail]/Sent Mail", true, Some(FolderUse::Sent)),
            ("[Gmail]/Spam", true, Some(FolderUse::Junk)),
            ("Work (a) ä", true, None),
        ]
        .map(|(n, s, u)| (n.to_string(), s, u));
        assert_eq!(got, want);
    }

    #[test]
    fn list_lines_literals_and_odd_lines() {
        let f = list_line(b"* LIST (\\Sent) \".\" {23}\r\nINBOX.Gesendete Objekte").unwrap();
        assert_eq!(f.name, "INBOX.Gesendete Objekte");
        assert_eq!(f.special_use, Some(FolderUse::Sent));
        let f = list_line(br#"* LIST (\Noselect \Trash) "/" "Entw&APw-rfe""#).unwrap();
        assert_eq!(f.name, "Entwürfe");
        assert!(!f.selectable);
        assert!(list_line(br#"* LIST (\NonExistent) "/" Gone"#).is_none());
        assert!(list_line(b"* OK still here").is_none());
        assert!(list_line(b"* XLIST").is_none());
        assert!(list_line(b"").is_none());
    }
}
