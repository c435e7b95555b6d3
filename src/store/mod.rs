//! MailFerry's own SQLite database: job history and the ledger of copied
//! messages. Never holds a password.

pub(crate) mod history;
mod ledger;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use history::{BeginError, JobRun, RunSummary};
pub use ledger::{
    Claim, DestSnapshot, FolderLedger, Intent, LedgerEntry, Recorded, Scope, POP3_INBOX,
};

use crate::error::MailError;

/// The database, shared by every task of a run.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    job_name     TEXT NOT NULL REFERENCES jobs(name),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    source_host  TEXT NOT NULL,
    dest_host    TEXT NOT NULL,
    mailboxes    INTEGER NOT NULL,
    verdict      TEXT,
    migrated     INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    bytes        INTEGER NOT NULL DEFAULT 0,
    result_json  TEXT,
    log_text     TEXT
);
CREATE TABLE ledger (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    dest_uid     INTEGER,
    content_key  TEXT NOT NULL,
    PRIMARY KEY (job_name, account, folder, uid)
) WITHOUT ROWID;
CREATE INDEX ledger_dest ON ledger (job_name, account, dest_folder);
"#,
    r#"
ALTER TABLE ledger ADD COLUMN dest_uid_validity INTEGER;
ALTER TABLE ledger ADD COLUMN dest_user TEXT NOT NULL DEFAULT '';
CREATE TABLE dest_folders (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    dest_user    TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid_next     INTEGER NOT NULL,
    messages     INTEGER NOT NULL,
    PRIMARY KEY (job_name, account, dest_user, dest_folder)
) WITHOUT ROWID;
CREATE TABLE intents (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid          TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    content_key  TEXT NOT NULL,
    connection   TEXT NOT NULL,
    PRIMARY KEY (job_name, account, folder, uid)
) WITHOUT ROWID;
"#,
];

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, MailError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| MailError::Store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// A private database in memory (for work that records nothing).
    pub fn open_in_memory() -> Result<Store, MailError> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: PathBuf::from(":memory:"),
        })
    }

    /// The default location: the OS's data folder, or `MAILFERRY_DB`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("MAILFERRY_DB") {
            return PathBuf::from(p);
        }
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("mailferry")
            .join("mailferry.db")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // write is a transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), MailError> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
