//! Progress events: what the engine says as it goes. The job service
//! (`crate::service`) folds them into the view the CLI and the app show.

use std::sync::Arc;

use serde::Serialize;

use crate::outcome::{FolderOutcome, MailboxOutcome, Verdict};

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    JobStarted {
        job: String,
        /// Its run in the history (a migration).
        run_id: Option<i64>,
        mailboxes: usize,
    },
    MailboxStarted {
        account: String,
    },
    /// A folder is being copied; totals are what needs copying in it.
    FolderStarted {
        account: String,
        folder: String,
        messages_total: u64,
        bytes_total: u64,
    },
    /// Counts for the account so far; totals grow as folders are scanned.
    Progress {
        account: String,
        folder: String,
        messages_done: u64,
        messages_total: u64,
        bytes_done: u64,
        bytes_total: u64,
    },
    FolderFinished {
        account: String,
        outcome: FolderOutcome,
    },
    /// A transient fault: the engine reconnects and goes on.
    Retrying {
        account: String,
        folder: String,
        attempt: u32,
        reason: String,
    },
    MailboxFinished {
        account: String,
        verdict: Verdict,
        outcome: MailboxOutcome,
    },
    JobFinished {
        job: String,
        verdict: Verdict,
    },
}

/// Where events go. Cheap to clone; called from many tasks.
pub type Sink = Arc<dyn Fn(&Event) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> Sink {
    Arc::new(|_| {})
}
