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
    pub dest_folder: String,
    pub dest_uid: Option<u32>,
    /// The destination folder's UIDVALIDITY when the message went there;
    /// `None` in entries from before it was kept (never trusted blindly).
    pub dest_uid_validity: Option<u32>,
    pub content_key: String,
}

/// What the ledger knows of one source folder: source id → entry.
#[derive(Debug, Default, Clone)]
pub struct FolderLedger {
    pub entries: HashMap<String, Recorded>,
}

/// One ledger entry of any source folder pointing at a destination folder.
#[derive(Debug, Clone)]
pub struct Claim {
    pub folder: String,
    pub id: String,
    pub dest_uid: Option<u32>,
    pub dest_uid_validity: Option<u32>,
    pub content_key: String,
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
        let entries = stmt
            .query_map(params![s.job, s.account, s.dest_user, folder], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Recorded {
                        dest_folder: r.get(1)?,
                        dest_uid: r.get(2)?,
                        dest_uid_validity: r.get(3)?,
                        content_key: r.get(4)?,
                    },
                ))
            })?
            .collect::<Result<HashMap<_, _>, _>>()?;
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
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT folder, uid, dest_uid, dest_uid_validity, content_key FROM ledger
             WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND dest_folder=?4",
        )?;
        let rows = stmt
            .query_map(params![s.job, s.account, s.dest_user, dest_folder], |r| {
                Ok(Claim {
                    folder: r.get(0)?,
                    id: r.get(1)?,
                    dest_uid: r.get(2)?,
                    dest_uid_validity: r.get(3)?,
                    content_key: r.get(4)?,
                })
            })?
            .filter(|c| match (c, except) {
                (Ok(c), Some(x)) => c.folder != x,
                _ => true,
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
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
        for table in ["ledger", "dest_folders", "intents"] {
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
}
