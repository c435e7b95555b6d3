//! The ledger: which source message went where. It only speeds re-runs up:
//! the destination is the truth, so every entry names the destination
//! folder's UIDVALIDITY and (where the server said) the message's UID there,
//! which a run checks before believing it. IMAP messages are keyed by
//! folder, UIDVALIDITY and UID; POP3 messages by UIDL under the folder name
//! [`POP3_INBOX`].
//!
//! Beside the entries: what each destination folder looked like when the
//! ledger last agreed with it ([`DestSnapshot`]), and the intents of batches
//! sent but not yet confirmed ([`Intent`]), which a later run settles against
//! the destination before sending anything again.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::error::MailError;

/// The ledger's folder name for the Inbox read over POP3 (no IMAP folder can
/// be called this: it holds a NUL).
pub const POP3_INBOX: &str = "\0POP3 INBOX";

/// Whose ledger: a job, a source account and the destination mailbox it is
/// copied into (a job whose user list now sends the account elsewhere
/// starts afresh there).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub job: &'a str,
    pub account: &'a str,
    pub dest_user: &'a str,
}

/// What the ledger says of one source message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub dest_folder: FolderName,
    pub dest_uid: Option<u32>,
    /// The destination folder's UIDVALIDITY when the message went there;
    /// `None` in entries from before it was kept (never trusted blindly).
    pub dest_uid_validity: Option<u32>,
    pub content_key: StoredKey,
}

/// What the ledger knows of one source folder: source id → entry.
#[derive(Debug, Default, Clone)]
pub struct FolderLedger {
    pub entries: Entries,
}

/// The entries of one source folder, by source id, kept compact: a folder
/// of 100,000 messages is read whole (UIDs as numbers in one sorted array,
/// one copy of each destination folder's name, keys inline).
#[derive(Debug, Default, Clone)]
pub struct Entries {
    /// By UID, sorted.
    uids: Vec<(u32, Recorded)>,
    /// Ids that are not UIDs (POP3 UIDLs).
    other: HashMap<Box<str>, Recorded>,
}

impl Entries {
    pub fn get(&self, id: &str) -> Option<&Recorded> {
        match canonical_uid(id) {
            Some(uid) => self
                .uids
                .binary_search_by_key(&uid, |(u, _)| *u)
                .ok()
                .map(|i| &self.uids[i].1),
            None => self.other.get(id),
        }
    }

    pub fn len(&self) -> usize {
        self.uids.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, id: SourceId, r: Recorded) {
        match id {
            SourceId::Uid(u) => self.uids.push((u, r)),
            SourceId::Text(t) => {
                self.other.insert(t, r);
            }
        }
    }

    /// Once every entry is in: sorted for looking up, and no larger than
    /// needed.
    fn done(&mut self) {
        // The table's key makes each id unique in a folder.
        self.uids.sort_unstable_by_key(|(u, _)| *u);
        self.uids.dedup_by_key(|(u, _)| *u);
        self.uids.shrink_to_fit();
    }
}

impl std::ops::Index<&str> for Entries {
    type Output = Recorded;
    fn index(&self, id: &str) -> &Recorded {
        self.get(id).expect("no ledger entry with this id")
    }
}

/// One ledger entry of any source folder pointing at a destination folder.
#[derive(Debug, Clone)]
pub struct Claim {
    pub folder: FolderName,
    pub id: SourceId,
    pub dest_uid: Option<u32>,
    pub dest_uid_validity: Option<u32>,
    /// Empty in [`Store::claims_for_matching`] where `dest_uid` is known.
    pub content_key: String,
}

/// A source message's id held compactly: an IMAP UID as a number, any
/// other id (a POP3 UIDL) as text. It reads back as the very text it was
/// made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    Uid(u32),
    Text(Box<str>),
}

impl SourceId {
    pub fn new(id: &str) -> SourceId {
        match canonical_uid(id) {
            Some(u) => SourceId::Uid(u),
            None => SourceId::Text(id.into()),
        }
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceId::Uid(u) => write!(f, "{u}"),
            SourceId::Text(t) => f.write_str(t),
        }
    }
}

/// `id` as a number where it is a decimal number written the one plain
/// way (no sign, no leading zero, fits in 32 bits), so that writing the
/// number gives `id` back; `None` for any other id.
pub fn canonical_uid(id: &str) -> Option<u32> {
    let b = id.as_bytes();
    let plain = !b.is_empty()
        && b.len() <= 10
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || b.len() == 1);
    plain.then(|| id.parse().ok()).flatten()
}

/// A destination folder's raw name, shared by every entry read with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderName(std::sync::Arc<str>);

impl FolderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for FolderName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FolderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for FolderName {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<String> for FolderName {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<&str> for FolderName {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

/// One [`FolderName`] per distinct name among the rows read.
#[derive(Default)]
struct Names(Vec<FolderName>);

impl Names {
    fn get(&mut self, name: String) -> FolderName {
        if let Some(n) = self.0.iter().find(|n| *n.0 == *name) {
            return n.clone();
        }
        let n = FolderName(name.into());
        self.0.push(n.clone());
        n
    }
}

/// A content key as the ledger holds it in memory: the 64 hex digits
/// [`crate::copy::key::content_key`] makes inline (no allocation of its
/// own), any other text as it is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StoredKey(KeyText);

#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyText {
    Hex([u8; 64]),
    Other(Box<str>),
}

impl StoredKey {
    pub fn new(key: &str) -> StoredKey {
        match <[u8; 64]>::try_from(key.as_bytes()) {
            Ok(hex) if hex.is_ascii() => StoredKey(KeyText::Hex(hex)),
            _ => StoredKey(KeyText::Other(key.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // ASCII, checked when made.
            KeyText::Hex(hex) => std::str::from_utf8(hex).unwrap_or_default(),
            KeyText::Other(text) => text,
        }
    }
}

impl std::ops::Deref for StoredKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq<str> for StoredKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for StoredKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for StoredKey {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// One copied (or found already present) message.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub id: String,
    pub dest_uid: Option<u32>,
    pub content_key: String,
}

/// A destination folder as the ledger last saw it agree: while STATUS still
/// answers the same, nothing was expunged and nothing appended there since,
/// so every entry pointing at it still stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestSnapshot {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: u32,
}

/// A message sent to the destination whose APPEND was not confirmed (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub dest_folder: String,
    pub content_key: String,
    /// The destination connection it went over (`local>peer`), to wait for
    /// that connection to be over before looking for the message.
    pub connection: String,
}

impl Store {
    /// The ledger of a source folder. Entries from another UIDVALIDITY are
    /// deleted first: those UIDs no longer name the same messages.
    pub fn folder_ledger(
        &self,
        s: Scope<'_>,
        folder: &str,
        uid_validity: u32,
    ) -> Result<FolderLedger, MailError> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM ledger WHERE job_name=?1 AND account=?2 AND folder=?3 AND uid_validity<>?4",
            params![s.job, s.account, folder, uid_validity],
        )?;
        let mut stmt = conn.prepare_cached(
            "SELECT uid, dest_folder, dest_uid, dest_uid_validity, content_key FROM ledger
             WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND folder=?4",
        )?;
        let mut names = Names::default();
        let mut rows = stmt.query(params![s.job, s.account, s.dest_user, folder])?;
        let mut entries = Entries::default();
        while let Some(r) = rows.next()? {
            let id = SourceId::new(&r.get::<_, String>(0)?);
            entries.push(
                id,
                Recorded {
                    dest_folder: names.get(r.get(1)?),
                    dest_uid: r.get(2)?,
                    dest_uid_validity: r.get(3)?,
                    content_key: StoredKey::new(&r.get::<_, String>(4)?),
                },
            );
        }
        entries.done();
        Ok(FolderLedger { entries })
    }

    /// Every entry of this scope pointing at a destination folder, whichever
    /// source folder it came from, except those of source folder `except`
    /// (the Inbox under its other protocol's ids: the same messages, so
    /// counting them would hide messages still to copy).
    pub fn claims(
        &self,
        s: Scope<'_>,
        dest_folder: &str,
        except: Option<&str>,
    ) -> Result<Vec<Claim>, MailError> {
        self.read_claims(s, dest_folder, except, true)
    }

    /// [`Store::claims`] for matching a destination folder's messages: the
    /// content key only of entries without a destination UID (those with
    /// one are matched by it), which keeps 100,000 claims small.
    pub fn claims_for_matching(
        &self,
        s: Scope<'_>,
        dest_folder: &str,
        except: Option<&str>,
    ) -> Result<Vec<Claim>, MailError> {
        self.read_claims(s, dest_folder, except, false)
    }

    fn read_claims(
        &self,
        s: Scope<'_>,
        dest_folder: &str,
        except: Option<&str>,
        every_key: bool,
    ) -> Result<Vec<Claim>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT folder, uid, dest_uid, dest_uid_validity, content_key FROM ledger
             WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND dest_folder=?4",
        )?;
        let mut names = Names::default();
        let mut rows = stmt.query(params![s.job, s.account, s.dest_user, dest_folder])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let folder: String = r.get(0)?;
            if Some(folder.as_str()) == except {
                continue;
            }
            let dest_uid: Option<u32> = r.get(2)?;
            out.push(Claim {
                folder: names.get(folder),
                id: SourceId::new(&r.get::<_, String>(1)?),
                dest_uid,
                dest_uid_validity: r.get(3)?,
                content_key: match every_key || dest_uid.is_none() {
                    true => r.get(4)?,
                    false => String::new(),
                },
            });
        }
        out.shrink_to_fit();
        Ok(out)
    }

    /// Records messages of one source folder and settles their intents, in
    /// one transaction.
    pub fn record(
        &self,
        s: Scope<'_>,
        folder: &str,
        uid_validity: u32,
        dest_folder: &str,
        dest_uid_validity: u32,
        entries: &[LedgerEntry],
    ) -> Result<(), MailError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO ledger (job_name, account, folder, uid_validity, uid, dest_folder, dest_uid, content_key, dest_uid_validity, dest_user)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut settle = tx.prepare_cached(
                "DELETE FROM intents WHERE job_name=?1 AND account=?2 AND folder=?3 AND uid=?4",
            )?;
            for e in entries {
                stmt.execute(params![
                    s.job,
                    s.account,
                    folder,
                    uid_validity,
                    e.id,
                    dest_folder,
                    e.dest_uid,
                    e.content_key,
                    dest_uid_validity,
                    s.dest_user,
                ])?;
                settle.execute(params![s.job, s.account, folder, e.id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets entries the destination no longer bears out.
    pub fn forget(&self, s: Scope<'_>, folder: &str, ids: &[String]) -> Result<(), MailError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM ledger WHERE job_name=?1 AND account=?2 AND folder=?3 AND uid=?4",
            )?;
            for id in ids {
                stmt.execute(params![s.job, s.account, folder, id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a job's ledger (used by tests and "start over").
    pub fn forget_ledger(&self, job: &str) -> Result<(), MailError> {
        let conn = self.lock();
        for table in ["ledger", "dest_folders", "intents", "verified_folders"] {
            conn.execute(
                &format!("DELETE FROM {table} WHERE job_name=?1"),
                params![job],
            )?;
        }
        Ok(())
    }

    /// The destination folder as the ledger last saw it agree, if it did.
    pub fn dest_snapshot(
        &self,
        s: Scope<'_>,
        dest_folder: &str,
    ) -> Result<Option<DestSnapshot>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT uid_validity, uid_next, messages FROM dest_folders
             WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND dest_folder=?4",
        )?;
        Ok(stmt
            .query_row(params![s.job, s.account, s.dest_user, dest_folder], |r| {
                Ok(DestSnapshot {
                    uid_validity: r.get(0)?,
                    uid_next: r.get(1)?,
                    messages: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Keeps (`Some`) or drops (`None`) the snapshot of a destination folder.
    /// It is dropped before anything is sent there, so a run that dies half
    /// way leaves none, and the next run looks at the destination itself.
    pub fn set_dest_snapshot(
        &self,
        s: Scope<'_>,
        dest_folder: &str,
        snap: Option<DestSnapshot>,
    ) -> Result<(), MailError> {
        let conn = self.lock();
        match snap {
            Some(v) => conn.execute(
                "INSERT OR REPLACE INTO dest_folders (job_name, account, dest_user, dest_folder, uid_validity, uid_next, messages)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![s.job, s.account, s.dest_user, dest_folder, v.uid_validity, v.uid_next, v.messages],
            )?,
            None => conn.execute(
                "DELETE FROM dest_folders WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND dest_folder=?4",
                params![s.job, s.account, s.dest_user, dest_folder],
            )?,
        };
        Ok(())
    }

    /// Records, before an APPEND goes out, which messages it carries, and
    /// drops the destination folder's snapshot (it is about to change).
    pub fn intend(
        &self,
        s: Scope<'_>,
        folder: &str,
        dest_folder: &str,
        connection: &str,
        items: &[(&str, &str)],
    ) -> Result<(), MailError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO intents (job_name, account, folder, uid, dest_folder, content_key, connection)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (id, key) in items {
                stmt.execute(params![
                    s.job,
                    s.account,
                    folder,
                    id,
                    dest_folder,
                    key,
                    connection
                ])?;
            }
            tx.execute(
                "DELETE FROM dest_folders WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND dest_folder=?4",
                params![s.job, s.account, s.dest_user, dest_folder],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The unsettled intents of a source folder.
    pub fn intents(&self, s: Scope<'_>, folder: &str) -> Result<Vec<Intent>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT uid, dest_folder, content_key, connection FROM intents
             WHERE job_name=?1 AND account=?2 AND folder=?3",
        )?;
        let rows = stmt
            .query_map(params![s.job, s.account, folder], |r| {
                Ok(Intent {
                    id: r.get(0)?,
                    dest_folder: r.get(1)?,
                    content_key: r.get(2)?,
                    connection: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Drops intents that need nothing more: the messages refused, or the
    /// whole folder once its copy has settled every one.
    pub fn settle_intents(
        &self,
        s: Scope<'_>,
        folder: &str,
        ids: Option<&[String]>,
    ) -> Result<(), MailError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        match ids {
            None => {
                tx.execute(
                    "DELETE FROM intents WHERE job_name=?1 AND account=?2 AND folder=?3",
                    params![s.job, s.account, folder],
                )?;
            }
            Some(ids) => {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM intents WHERE job_name=?1 AND account=?2 AND folder=?3 AND uid=?4",
                )?;
                for id in ids {
                    stmt.execute(params![s.job, s.account, folder, id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, uid: u32, key: &str) -> LedgerEntry {
        LedgerEntry {
            id: id.into(),
            dest_uid: Some(uid),
            content_key: key.into(),
        }
    }

    const S: Scope<'static> = Scope {
        job: "j",
        account: "a",
        dest_user: "a",
    };

    #[test]
    fn a_new_uidvalidity_forgets_the_folder_and_claims_skip_the_other_inbox() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("l.db")).unwrap();
        s.record(
            S,
            "INBOX",
            7,
            "INBOX",
            70,
            &[entry("1", 1, "k1"), entry("2", 2, "k1")],
        )
        .unwrap();
        s.record(S, POP3_INBOX, 0, "INBOX", 70, &[entry("uidl-1", 3, "k1")])
            .unwrap();
        let l = s.folder_ledger(S, "INBOX", 7).unwrap();
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.entries["1"].dest_uid_validity, Some(70));
        assert_eq!(s.claims(S, "INBOX", Some(POP3_INBOX)).unwrap().len(), 2);
        assert_eq!(s.claims(S, "INBOX", None).unwrap().len(), 3);
        // Another destination mailbox for the same account sees nothing.
        let other = Scope {
            dest_user: "b",
            ..S
        };
        assert!(s
            .folder_ledger(other, "INBOX", 7)
            .unwrap()
            .entries
            .is_empty());
        assert!(s.claims(other, "INBOX", None).unwrap().is_empty());
        assert!(s.folder_ledger(S, "INBOX", 8).unwrap().entries.is_empty());
        assert_eq!(s.claims(S, "INBOX", Some(POP3_INBOX)).unwrap().len(), 0);
    }

    #[test]
    fn intents_drop_the_snapshot_and_are_settled_by_recording() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("l.db")).unwrap();
        let snap = DestSnapshot {
            uid_validity: 5,
            uid_next: 10,
            messages: 9,
        };
        s.set_dest_snapshot(S, "INBOX", Some(snap)).unwrap();
        assert_eq!(s.dest_snapshot(S, "INBOX").unwrap(), Some(snap));
        s.intend(S, "INBOX", "INBOX", "l>p", &[("1", "k1"), ("2", "k2")])
            .unwrap();
        assert_eq!(s.dest_snapshot(S, "INBOX").unwrap(), None);
        assert_eq!(s.intents(S, "INBOX").unwrap().len(), 2);
        s.record(S, "INBOX", 7, "INBOX", 5, &[entry("1", 10, "k1")])
            .unwrap();
        let left = s.intents(S, "INBOX").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, "2");
        assert_eq!(left[0].connection, "l>p");
        s.settle_intents(S, "INBOX", None).unwrap();
        assert!(s.intents(S, "INBOX").unwrap().is_empty());
    }

    #[test]
    fn compact_entries_give_back_exactly_the_ids_and_keys_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("l.db")).unwrap();
        let key = "ab".repeat(32);
        // UIDs, ids that only look like numbers, and UIDLs.
        let ids = ["7", "007", "4294967295", "4294967296", "0", "uidl-9", ""];
        let entries: Vec<LedgerEntry> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| entry(id, i as u32 + 1, if i % 2 == 0 { &key } else { "short" }))
            .collect();
        s.record(S, "F", 1, "Dest", 9, &entries).unwrap();
        let l = s.folder_ledger(S, "F", 1).unwrap();
        assert_eq!(l.entries.len(), ids.len());
        for (i, id) in ids.iter().enumerate() {
            let e = l.entries.get(id).unwrap_or_else(|| panic!("{id:?}"));
            assert_eq!(e.dest_uid, Some(i as u32 + 1), "{id:?}");
            assert_eq!(e.dest_uid_validity, Some(9));
            assert!(e.dest_folder == "Dest");
            assert_eq!(e.content_key.as_str(), entries[i].content_key);
            assert_eq!(e.content_key.to_string(), entries[i].content_key);
        }
        assert!(l.entries.get("8").is_none() && l.entries.get("07").is_none());
        let claims = s.claims(S, "Dest", None).unwrap();
        let mut read: Vec<String> = claims.iter().map(|c| c.id.to_string()).collect();
        read.sort();
        let mut want: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        want.sort();
        assert_eq!(read, want);
        assert!(claims.iter().all(|c| !c.content_key.is_empty()));
        // For matching, keys only where the destination UID is not known.
        s.record(
            S,
            "G",
            1,
            "Dest",
            9,
            &[LedgerEntry {
                id: "1".into(),
                dest_uid: None,
                content_key: key.clone(),
            }],
        )
        .unwrap();
        let lean = s.claims_for_matching(S, "Dest", Some("F")).unwrap();
        assert_eq!(lean.len(), 1);
        assert_eq!(
            (lean[0].folder.as_str(), lean[0].content_key.as_str()),
            ("G", key.as_str())
        );
        let lean = s.claims_for_matching(S, "Dest", None).unwrap();
        assert_eq!(
            lean.iter().filter(|c| c.content_key.is_empty()).count(),
            ids.len()
        );
    }

    #[test]
    fn only_plainly_written_numbers_are_uids() {
        assert_eq!(canonical_uid("1"), Some(1));
        assert_eq!(canonical_uid("0"), Some(0));
        assert_eq!(canonical_uid("4294967295"), Some(u32::MAX));
        for not in [
            "",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "4294967296",
            "99999999999",
            "1a",
        ] {
            assert_eq!(canonical_uid(not), None, "{not:?}");
            assert_eq!(SourceId::new(not).to_string(), not);
        }
    }
}
