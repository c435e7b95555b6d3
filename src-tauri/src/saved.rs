//! The app's own table in MailFerry's database: each job's form as last
//! started, with every password replaced by the name of its keyring entry.
//! It lets History run a job again without anyone typing the passwords.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::vault::SecretRef;

/// The app's schema versions, applied in order. Kept apart from the
/// engine's (which uses `PRAGMA user_version`): its own table and version.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE app_saved_jobs (
    job_name   TEXT PRIMARY KEY,
    form_json  TEXT NOT NULL,
    users_json TEXT NOT NULL,
    master_ref TEXT,
    vault      TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
"#];

/// One mailbox of a saved job: names and references, never passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedUser {
    pub source_user: String,
    pub source_password: SecretRef,
    pub local_user: String,
    pub local_password: Option<SecretRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedJob {
    pub job_name: String,
    /// The job's form (a `JobFile` as JSON) without `users.list` and
    /// `destination.master_password`.
    pub form: serde_json::Value,
    pub users: Vec<SavedUser>,
    pub master_password: Option<SecretRef>,
    /// `keyring` or `memory`: where the references point.
    pub vault: String,
}

fn open(db: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS app_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
         INSERT OR IGNORE INTO app_schema (id, version) VALUES (1, 0);",
    )?;
    let version: usize =
        conn.query_row("SELECT version FROM app_schema", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("UPDATE app_schema SET version=?1", params![(i + 1) as i64])?;
        tx.commit()?;
    }
    Ok(conn)
}

pub fn save(db: &Path, job: &SavedJob) -> rusqlite::Result<()> {
    let conn = open(db)?;
    let users = serde_json::to_string(&job.users).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO app_saved_jobs (job_name, form_json, users_json, master_ref, vault, saved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, datetime('now'))
         ON CONFLICT(job_name) DO UPDATE SET form_json=excluded.form_json, users_json=excluded.users_json,
           master_ref=excluded.master_ref, vault=excluded.vault, saved_at=excluded.saved_at",
        params![
            job.job_name,
            job.form.to_string(),
            users,
            job.master_password,
            job.vault
        ],
    )?;
    Ok(())
}

/// The names of every saved job.
pub fn names(db: &Path) -> rusqlite::Result<std::collections::HashSet<String>> {
    let conn = open(db)?;
    let mut stmt = conn.prepare("SELECT job_name FROM app_saved_jobs")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

pub fn load(db: &Path, job_name: &str) -> rusqlite::Result<Option<SavedJob>> {
    let conn = open(db)?;
    conn.query_row(
        "SELECT job_name, form_json, users_json, master_ref, vault FROM app_saved_jobs WHERE job_name=?1",
        params![job_name],
        |r| {
            Ok(SavedJob {
                job_name: r.get(0)?,
                form: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
                users: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                master_password: r.get(3)?,
                vault: r.get(4)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_job_round_trips_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        // Shares the file with the engine's store.
        let _store = mailferry::store::Store::open(&db).unwrap();
        let mut job = SavedJob {
            job_name: "acme".into(),
            form: serde_json::json!({"source": {"host": "old"}}),
            users: vec![SavedUser {
                source_user: "jane".into(),
                source_password: "job acme: source jane@old".into(),
                local_user: "jane".into(),
                local_password: None,
            }],
            master_password: Some("job acme: admin admin@new".into()),
            vault: "keyring".into(),
        };
        save(&db, &job).unwrap();
        assert_eq!(load(&db, "acme").unwrap().as_ref(), Some(&job));
        job.vault = "memory".into();
        save(&db, &job).unwrap();
        assert_eq!(load(&db, "acme").unwrap().unwrap().vault, "memory");
        assert_eq!(load(&db, "other").unwrap(), None);
        assert_eq!(names(&db).unwrap(), ["acme".to_string()].into());
    }
}
