//! Folders a verification pass found complete, with both sides' STATUS at
//! that moment. IMAP never reuses a UID within a UIDVALIDITY, so a folder
//! whose UIDVALIDITY, UIDNEXT and message count are unchanged holds the
//! same messages: while neither side changed, a re-run knows the folder
//! is done from one pipelined STATUS a side, without opening it.

use rusqlite::{params, OptionalExtension};

use super::{DestSnapshot, Scope, Store};
use crate::error::MailError;

/// A source folder found complete in a destination folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub source: DestSnapshot,
    pub dest_folder: String,
    pub dest: DestSnapshot,
}

impl Store {
    /// The last clean verification of source folder `folder`, if any.
    pub fn verified(&self, s: Scope<'_>, folder: &str) -> Result<Option<Verified>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT uid_validity, uid_next, messages, dest_folder, dest_uid_validity, dest_uid_next, dest_messages
             FROM verified_folders WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND folder=?4",
        )?;
        Ok(stmt
            .query_row(params![s.job, s.account, s.dest_user, folder], |r| {
                Ok(Verified {
                    source: DestSnapshot {
                        uid_validity: r.get(0)?,
                        uid_next: r.get(1)?,
                        messages: r.get(2)?,
                    },
                    dest_folder: r.get(3)?,
                    dest: DestSnapshot {
                        uid_validity: r.get(4)?,
                        uid_next: r.get(5)?,
                        messages: r.get(6)?,
                    },
                })
            })
            .optional()?)
    }

    /// Keeps (`Some`) or drops (`None`) a folder's clean verification.
    pub fn set_verified(
        &self,
        s: Scope<'_>,
        folder: &str,
        v: Option<&Verified>,
    ) -> Result<(), MailError> {
        let conn = self.lock();
        match v {
            Some(v) => conn.execute(
                "INSERT OR REPLACE INTO verified_folders (job_name, account, dest_user, folder, uid_validity, uid_next, messages, dest_folder, dest_uid_validity, dest_uid_next, dest_messages)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    s.job,
                    s.account,
                    s.dest_user,
                    folder,
                    v.source.uid_validity,
                    v.source.uid_next,
                    v.source.messages,
                    v.dest_folder,
                    v.dest.uid_validity,
                    v.dest.uid_next,
                    v.dest.messages
                ],
            )?,
            None => conn.execute(
                "DELETE FROM verified_folders WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND folder=?4",
                params![s.job, s.account, s.dest_user, folder],
            )?,
        };
        Ok(())
    }

    /// The source ids the ledger has as copied from `folder` (of
    /// `uid_validity`) into `dest_folder`.
    pub fn ids_copied_into(
        &self,
        s: Scope<'_>,
        folder: &str,
        uid_validity: u32,
        dest_folder: &str,
    ) -> Result<Vec<String>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT uid FROM ledger WHERE job_name=?1 AND account=?2 AND dest_user=?3 AND folder=?4
             AND uid_validity=?5 AND dest_folder=?6",
        )?;
        let rows = stmt.query_map(
            params![
                s.job,
                s.account,
                s.dest_user,
                folder,
                uid_validity,
                dest_folder
            ],
            |r| r.get::<_, String>(0),
        )?;
        let mut ids = Vec::new();
        for id in rows {
            ids.push(id?);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Scope<'static> = Scope {
        job: "j",
        account: "a",
        dest_user: "d",
    };

    #[test]
    fn a_clean_verification_is_kept_replaced_and_dropped() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.verified(S, "INBOX").unwrap(), None);
        let snap = |n| DestSnapshot {
            uid_validity: 7,
            uid_next: n + 1,
            messages: n,
        };
        let v = Verified {
            source: snap(3),
            dest_folder: "INBOX".into(),
            dest: snap(5),
        };
        store.set_verified(S, "INBOX", Some(&v)).unwrap();
        assert_eq!(store.verified(S, "INBOX").unwrap(), Some(v.clone()));
        let other = Scope {
            dest_user: "e",
            ..S
        };
        assert_eq!(store.verified(other, "INBOX").unwrap(), None);
        let w = Verified {
            source: snap(4),
            ..v
        };
        store.set_verified(S, "INBOX", Some(&w)).unwrap();
        assert_eq!(store.verified(S, "INBOX").unwrap(), Some(w));
        store.forget_ledger("j").unwrap();
        assert_eq!(store.verified(S, "INBOX").unwrap(), None);
    }
}
