//! Saved jobs: each job's form as last started, every password replaced by
//! the name of its entry in the secret store. They let a job run again
//! without anyone typing the passwords.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::MailError;
use crate::secret::SecretRef;

/// One mailbox of a saved job: names and references, never passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedUser {
    pub source_user: String,
    /// `None` when the list gave no source password (the source's admin
    /// logs in for every user).
    pub source_password: Option<SecretRef>,
    pub local_user: String,
    pub local_password: Option<SecretRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedJob {
    pub job_name: String,
    /// The job's form (as JSON) without its user list and admin passwords.
    pub form: serde_json::Value,
    pub users: Vec<SavedUser>,
    /// The destination's admin password.
    pub master_password: Option<SecretRef>,
    /// The source's admin password.
    pub source_master_password: Option<SecretRef>,
    /// Where the references point (`keyring` or `memory`).
    pub vault: String,
}

impl Store {
    /// Saves `job`, replacing the job's earlier save.
    pub fn save_job(&self, job: &SavedJob) -> Result<(), MailError> {
        let users =
            serde_json::to_string(&job.users).map_err(|e| MailError::Store(e.to_string()))?;
        self.lock().execute(
            "INSERT INTO saved_jobs (job_name, form_json, users_json, master_ref, vault, saved_at, source_master_ref)
             VALUES (?1, ?2, ?3, ?4, ?5, datetime('now'), ?6)
             ON CONFLICT(job_name) DO UPDATE SET form_json=excluded.form_json, users_json=excluded.users_json,
               master_ref=excluded.master_ref, vault=excluded.vault, saved_at=excluded.saved_at,
               source_master_ref=excluded.source_master_ref",
            params![
                job.job_name,
                job.form.to_string(),
                users,
                job.master_password,
                job.vault,
                job.source_master_password
            ],
        )?;
        Ok(())
    }

    /// The names of every saved job.
    pub fn saved_job_names(&self) -> Result<std::collections::HashSet<String>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT job_name FROM saved_jobs")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    /// The saved job `job_name`, if any. A save this MailFerry cannot read
    /// is an error, never an empty form.
    pub fn saved_job(&self, job_name: &str) -> Result<Option<SavedJob>, MailError> {
        let row = self
            .lock()
            .query_row(
                "SELECT job_name, form_json, users_json, master_ref, vault, source_master_ref FROM saved_jobs WHERE job_name=?1",
                params![job_name],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((job_name, form, users, master_password, vault, source_master_password)) = row
        else {
            return Ok(None);
        };
        let unreadable = |e: serde_json::Error| {
            MailError::Store(format!("the saved job {job_name:?} cannot be read ({e})"))
        };
        Ok(Some(SavedJob {
            form: serde_json::from_str(&form).map_err(unreadable)?,
            users: serde_json::from_str(&users).map_err(unreadable)?,
            job_name,
            master_password,
            source_master_password,
            vault,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_job_round_trips_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let mut job = SavedJob {
            job_name: "acme".into(),
            form: serde_json::json!({"source": {"host": "old"}}),
            users: vec![SavedUser {
                source_user: "jane".into(),
                source_password: Some("job acme: source jane@old".into()),
                local_user: "jane".into(),
                local_password: None,
            }],
            master_password: Some("job acme: admin admin@new".into()),
            source_master_password: Some("job acme: source admin root@old".into()),
            vault: "keyring".into(),
        };
        store.save_job(&job).unwrap();
        assert_eq!(store.saved_job("acme").unwrap().as_ref(), Some(&job));
        job.vault = "memory".into();
        store.save_job(&job).unwrap();
        assert_eq!(store.saved_job("acme").unwrap().unwrap().vault, "memory");
        assert_eq!(store.saved_job("other").unwrap(), None);
        assert_eq!(
            store.saved_job_names().unwrap(),
            ["acme".to_string()].into()
        );
    }
}
