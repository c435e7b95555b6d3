//! The ledger: which source message went where. Re-runs skip by id first.
//! IMAP messages are keyed by folder, UIDVALIDITY and UID; POP3 messages by
//! UIDL under the folder name [`POP3_INBOX`].

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::Store;
use crate::error::MailError;

/// The ledger's folder name for the Inbox read over POP3 (no IMAP folder can
/// be called this: it holds a NUL).
pub const POP3_INBOX: &str = "\0POP3 INBOX";

/// What the ledger knows of one source folder.
#[derive(Debug, Default, Clone)]
pub struct FolderLedger {
    /// IMAP UIDs (in decimal) or POP3 UIDLs already handled.
    pub ids: HashSet<String>,
}

/// One copied (or found already present) message.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub id: String,
    pub dest_uid: Option<u32>,
    pub content_key: String,
}

impl Store {
    /// The ledger of a source folder. Entries from another UIDVALIDITY are
    /// deleted first: those UIDs no longer name the same messages.
    pub fn folder_ledger(
        &self,
        job: &str,
        account: &str,
        folder: &str,
        uid_validity: u32,
    ) -> Result<FolderLedger, MailError> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM ledger WHERE job_name=?1 AND account=?2 AND folder=?3 AND uid_validity<>?4",
            params![job, account, folder, uid_validity],
        )?;
        let mut stmt = conn.prepare_cached(
            "SELECT uid FROM ledger WHERE job_name=?1 AND account=?2 AND folder=?3",
        )?;
        let ids = stmt
            .query_map(params![job, account, folder], |r| r.get::<_, String>(0))?
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(FolderLedger { ids })
    }

    /// How many ledger entries of this account point at each content key in
    /// a destination folder: copies already accounted for. Entries of the
    /// source folder `except` are left out (the Inbox under its other
    /// protocol's ids: counting them would hide messages still to copy).
    pub fn claimed_keys(
        &self,
        job: &str,
        account: &str,
        dest_folder: &str,
        except: &str,
    ) -> Result<HashMap<String, usize>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT content_key, COUNT(*) FROM ledger WHERE job_name=?1 AND account=?2 AND dest_folder=?3 AND folder<>?4 GROUP BY content_key",
        )?;
        let rows = stmt
            .query_map(params![job, account, dest_folder, except], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
            })?
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(rows)
    }

    /// Records messages of one source folder, in one transaction.
    pub fn record(
        &self,
        job: &str,
        account: &str,
        folder: &str,
        uid_validity: u32,
        dest_folder: &str,
        entries: &[LedgerEntry],
    ) -> Result<(), MailError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO ledger (job_name, account, folder, uid_validity, uid, dest_folder, dest_uid, content_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in entries {
                stmt.execute(params![
                    job,
                    account,
                    folder,
                    uid_validity,
                    e.id,
                    dest_folder,
                    e.dest_uid,
                    e.content_key
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a job's ledger (used by tests and "start over").
    pub fn forget_ledger(&self, job: &str) -> Result<(), MailError> {
        self.lock()
            .execute("DELETE FROM ledger WHERE job_name=?1", params![job])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, key: &str) -> LedgerEntry {
        LedgerEntry {
            id: id.into(),
            dest_uid: None,
            content_key: key.into(),
        }
    }

    #[test]
    fn a_new_uidvalidity_forgets_the_folder_and_claims_skip_the_other_inbox() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("l.db")).unwrap();
        s.record(
            "j",
            "a",
            "INBOX",
            7,
            "INBOX",
            &[entry("1", "k1"), entry("2", "k1")],
        )
        .unwrap();
        s.record("j", "a", POP3_INBOX, 0, "INBOX", &[entry("uidl-1", "k1")])
            .unwrap();
        assert_eq!(s.folder_ledger("j", "a", "INBOX", 7).unwrap().ids.len(), 2);
        assert_eq!(
            s.claimed_keys("j", "a", "INBOX", POP3_INBOX).unwrap()["k1"],
            2
        );
        assert_eq!(s.claimed_keys("j", "a", "INBOX", "INBOX").unwrap()["k1"], 1);
        assert!(s
            .folder_ledger("j", "a", "INBOX", 8)
            .unwrap()
            .ids
            .is_empty());
        assert_eq!(
            s.claimed_keys("j", "a", "INBOX", POP3_INBOX)
                .unwrap()
                .get("k1"),
            None
        );
    }
}
