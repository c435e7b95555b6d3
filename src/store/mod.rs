//! MailFerry's own SQLite database: job history, the ledger of copied
//! messages, and saved jobs. Never holds a password (saved jobs hold the
//! names of keyring entries).

pub(crate) mod history;
mod ledger;
mod saved;
mod schema;
mod verified;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use history::{BeginError, JobRun, RunKind, RunSummary};
pub use ledger::{
    canonical_uid, Claim, DestSnapshot, Entries, FolderLedger, FolderName, Intent, LedgerEntry,
    Recorded, Scope, SourceId, StoredKey, POP3_INBOX,
};
pub use saved::{SavedJob, SavedUser};
pub use verified::Verified;

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
        schema::migrate(&mut conn, path)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// A private database in memory (for work that records nothing).
    pub fn open_in_memory() -> Result<Store, MailError> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn, Path::new(":memory:"))?;
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
