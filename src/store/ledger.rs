//! The ledger: which source message went where. Re-runs skip by UID first.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::Store;
use crate::error::MailError;

/// What the ledger knows of one source folder.
#[derive(Debug, Default, Clone)]
pub struct FolderLedger {
    pub uid_validity: Option<u32>,
    pub uids: HashSet<u32>,
}

/// One copied (or found already present) message.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub uid: u32,
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
        let uids = stmt
            .query_map(params![job, account, folder], |r| r.get::<_, u32>(0))?
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(FolderLedger {
            uid_validity: Some(uid_validity),
            uids,
        })
    }

    /// How many ledger entries of this account point at each content key in
    /// a destination folder: destination copies already accounted for.
    pub fn claimed_keys(
        &self,
        job: &str,
        account: &str,
        dest_folder: &str,
    ) -> Result<HashMap<String, usize>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT content_key, COUNT(*) FROM ledger WHERE job_name=?1 AND account=?2 AND dest_folder=?3 GROUP BY content_key",
        )?;
        let rows = stmt
            .query_map(params![job, account, dest_folder], |r| {
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
                    e.uid,
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
