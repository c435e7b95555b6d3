//! The live view of a job: a row per mailbox, the job's state, and the
//! updates that carry it to whoever watches (the app's page, the CLI's
//! text and `--json`). The engine's events are folded into it here, once.

use std::time::Instant;

use serde::Serialize;
use ts_rs::TS;

use crate::job::Job;
use crate::outcome::{FolderOutcome, MailboxOutcome, Verdict};
use crate::progress::Event;

/// A row's state: the page colours it, and always shows the word too.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Pending,
    Running,
    Success,
    Partial,
    Failed,
}

impl From<Verdict> for RowState {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Success => RowState::Success,
            Verdict::Partial => RowState::Partial,
            Verdict::Failed => RowState::Failed,
        }
    }
}

/// One mailbox of a running (or finished) job.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RowView {
    pub account: String,
    pub local_user: String,
    pub state: RowState,
    pub folder: Option<String>,
    pub messages_done: u64,
    pub messages_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub migrated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub elapsed_ms: u64,
    pub folders: Vec<FolderOutcome>,
    pub error: Option<String>,
    /// The error's entry in the error catalogue (the Help page).
    pub error_code: Option<String>,
    /// The latest transient fault being retried, while it is.
    pub retrying: Option<String>,
    #[serde(skip)]
    pub(super) started: Option<Instant>,
}

impl RowView {
    pub fn pending(account: &str, local_user: &str) -> RowView {
        RowView {
            account: account.to_string(),
            local_user: local_user.to_string(),
            state: RowState::Pending,
            folder: None,
            messages_done: 0,
            messages_total: 0,
            bytes_done: 0,
            bytes_total: 0,
            migrated: 0,
            skipped: 0,
            failed: 0,
            elapsed_ms: 0,
            folders: Vec::new(),
            error: None,
            error_code: None,
            retrying: None,
            started: None,
        }
    }

    /// A finished mailbox, as History shows it.
    pub fn from_outcome(m: &MailboxOutcome) -> RowView {
        // Messages left out by the job's filters were handled too.
        let done = m.migrated() + m.skipped() + m.failed() + m.filtered();
        RowView {
            state: m.verdict().into(),
            messages_done: done,
            messages_total: done,
            bytes_done: m.bytes(),
            bytes_total: m.bytes(),
            migrated: m.migrated(),
            skipped: m.skipped(),
            failed: m.failed(),
            elapsed_ms: m.elapsed_ms,
            folders: m.folders.clone(),
            error: m.error.clone(),
            error_code: m.error_code.clone(),
            ..RowView::pending(&m.source_user, &m.local_user)
        }
    }

    /// The row with its running time brought up to now.
    fn now(&self) -> RowView {
        let mut r = self.clone();
        if let (RowState::Running, Some(t)) = (r.state, r.started) {
            r.elapsed_ms = t.elapsed().as_millis() as u64;
        }
        r
    }
}

/// A job's figures over all its mailboxes, as its header shows them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, TS)]
pub struct Totals {
    /// Mailboxes that have ended (whatever their verdict).
    pub mailboxes_done: u64,
    /// How many mailboxes are in each state (the Results summary).
    pub states: StateCounts,
    pub messages_done: u64,
    pub bytes_done: u64,
    /// What the mailboxes found so far to copy or check: grows while
    /// folders are still being listed.
    pub messages_total: u64,
    pub bytes_total: u64,
    pub migrated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Folders that have ended, and those of them that verified (all
    /// their messages on the destination, none twice, no error).
    pub folders: u64,
    pub folders_verified: u64,
    /// What the verification pass counted, over every folder checked.
    pub source_messages: u64,
    pub destination_messages: u64,
    pub missing: u64,
    pub extra: u64,
    /// What a dry run would copy, over every folder it planned.
    pub would_copy: u64,
    pub would_copy_bytes: u64,
    /// Left out by the job's filters (date or size).
    pub filtered: u64,
}

impl Totals {
    pub fn of(rows: &[RowView]) -> Totals {
        let mut t = Totals::default();
        for r in rows {
            if !matches!(r.state, RowState::Pending | RowState::Running) {
                t.mailboxes_done += 1;
            }
            t.states.add(r.state);
            t.messages_done += r.messages_done;
            t.bytes_done += r.bytes_done;
            t.messages_total += r.messages_total;
            t.bytes_total += r.bytes_total;
            t.migrated += r.migrated;
            t.skipped += r.skipped;
            t.failed += r.failed;
            for f in &r.folders {
                t.folders += 1;
                let (n, bytes) = f.would_copy();
                t.would_copy += n;
                t.would_copy_bytes += bytes;
                t.filtered += f.filtered;
                let Some(v) = &f.verification else { continue };
                t.source_messages += v.source_messages;
                t.destination_messages += v.destination_messages;
                t.missing += v.missing.len() as u64;
                t.extra += v.extra.len() as u64;
                if v.verified() && f.error.is_none() {
                    t.folders_verified += 1;
                }
            }
        }
        t
    }
}

/// Mailboxes per state.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, TS)]
pub struct StateCounts {
    pub pending: u64,
    pub running: u64,
    pub success: u64,
    pub partial: u64,
    pub failed: u64,
}

impl StateCounts {
    fn add(&mut self, state: RowState) {
        match state {
            RowState::Pending => self.pending += 1,
            RowState::Running => self.running += 1,
            RowState::Success => self.success += 1,
            RowState::Partial => self.partial += 1,
            RowState::Failed => self.failed += 1,
        }
    }
}

/// What a job does: copy (a run, recorded in the history) or only compare
/// the source with the destination (nothing copied, not recorded), or a
/// dry run (what a copy would do, nothing changed; recorded as such).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Migration,
    Verification,
    #[serde(rename = "dry-run")]
    DryRun,
}

/// Where a job stands as a whole.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Asked for; the engine has not begun it yet.
    Starting,
    Running,
    /// Cancel was asked: the current batches finish, then it ends.
    Cancelling,
    Finished,
}

/// A job as whoever watches it sees it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct JobView {
    /// This session's number for the job (0: a run from the history).
    pub job_id: u64,
    pub kind: JobKind,
    /// Empty until the engine has named the job (a number when left blank).
    pub name: String,
    /// Its run in the history, once begun (a migration).
    pub run_id: Option<i64>,
    pub state: JobState,
    pub verdict: Option<Verdict>,
    /// Why the job could not start, or what went wrong around it.
    pub error: Option<String>,
    pub source: String,
    pub destination: String,
    pub warnings: Vec<String>,
    pub elapsed_ms: u64,
    pub rows: Vec<RowView>,
    /// The rows' figures added up.
    pub totals: Totals,
    /// The session keeps this job's outcome for its log (a verification,
    /// or a run the history could not record).
    pub session_log: bool,
}

impl JobView {
    /// A job about to start: a pending row per mailbox.
    pub fn starting(job_id: u64, kind: JobKind, job: &Job) -> JobView {
        let rows: Vec<RowView> = job
            .users
            .iter()
            .map(|u| RowView::pending(&u.source_user, &u.local_user))
            .collect();
        JobView {
            job_id,
            kind,
            name: job.name.clone().unwrap_or_default(),
            run_id: None,
            state: JobState::Starting,
            verdict: None,
            error: None,
            source: format!("{} ({})", job.source.host, job.source.protocol.label()),
            destination: format!("{} (port {})", job.destination.host, job.destination.port),
            warnings: job.warnings(),
            elapsed_ms: 0,
            totals: Totals::of(&rows),
            rows,
            session_log: false,
        }
    }

    /// A finished run of the history.
    pub fn of_run(run_id: i64, outcome: &crate::outcome::JobOutcome) -> JobView {
        let rows: Vec<RowView> = outcome
            .mailboxes
            .iter()
            .map(RowView::from_outcome)
            .collect();
        JobView {
            job_id: 0,
            kind: match outcome.dry_run {
                true => JobKind::DryRun,
                false => JobKind::Migration,
            },
            name: outcome.name.clone(),
            run_id: Some(run_id),
            state: JobState::Finished,
            verdict: Some(outcome.verdict()),
            error: None,
            source: outcome.source.clone(),
            destination: outcome.destination.clone(),
            warnings: Vec::new(),
            elapsed_ms: outcome
                .mailboxes
                .iter()
                .map(|m| m.elapsed_ms)
                .max()
                .unwrap_or(0),
            totals: Totals::of(&rows),
            rows,
            session_log: false,
        }
    }

    /// The view with running times brought up to now (`started`: when the
    /// job began).
    pub(super) fn now(&self, started: Instant) -> JobView {
        let mut v = self.clone();
        if v.state != JobState::Finished {
            v.elapsed_ms = started.elapsed().as_millis() as u64;
        }
        for r in &mut v.rows {
            *r = r.now();
        }
        v.totals = Totals::of(&v.rows);
        v
    }

    pub(super) fn row_now(&self, index: usize) -> Option<RowView> {
        self.rows.get(index).map(RowView::now)
    }
}

/// What reaches a watcher: the job as a whole when it changes (begun,
/// cancelling), one row when a mailbox moves, and the final view.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "update", rename_all = "kebab-case")]
pub enum Update {
    Job {
        view: Box<JobView>,
    },
    Row {
        job_id: u64,
        run_id: Option<i64>,
        /// The row's place in the job's `rows`.
        index: usize,
        row: Box<RowView>,
        /// The job's totals with this row as it is now.
        totals: Box<Totals>,
    },
    Ended {
        view: Box<JobView>,
    },
}

/// What an event changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Changed {
    Nothing,
    Job,
    Row(usize),
}

/// Folds one engine event into the view.
pub(super) fn fold(view: &mut JobView, e: &Event) -> Changed {
    let find = |view: &JobView, account: &str| view.rows.iter().position(|r| r.account == account);
    match e {
        Event::JobStarted { job, run_id, .. } => {
            view.name = job.clone();
            view.run_id = *run_id;
            if view.state == JobState::Starting {
                view.state = JobState::Running;
            }
            Changed::Job
        }
        Event::JobFinished { verdict, .. } => {
            view.verdict = Some(*verdict);
            Changed::Nothing
        }
        Event::MailboxStarted { account }
        | Event::FolderStarted { account, .. }
        | Event::Progress { account, .. }
        | Event::FolderFinished { account, .. }
        | Event::Retrying { account, .. }
        | Event::MailboxFinished { account, .. } => match find(view, account) {
            Some(i) => {
                fold_row(&mut view.rows[i], e);
                Changed::Row(i)
            }
            None => Changed::Nothing,
        },
    }
}

fn fold_row(r: &mut RowView, e: &Event) {
    match e {
        Event::MailboxStarted { .. } => {
            r.state = RowState::Running;
            r.started = Some(Instant::now());
        }
        Event::FolderStarted { folder, .. } => r.folder = Some(folder.clone()),
        Event::Progress {
            folder,
            messages_done,
            messages_total,
            bytes_done,
            bytes_total,
            ..
        } => {
            r.folder = Some(folder.clone());
            r.messages_done = *messages_done;
            r.messages_total = *messages_total;
            r.bytes_done = *bytes_done;
            r.bytes_total = *bytes_total;
            r.retrying = None;
            if r.state == RowState::Pending {
                r.state = RowState::Running;
            }
        }
        Event::FolderFinished { outcome, .. } => {
            r.migrated += outcome.migrated;
            r.skipped += outcome.skipped;
            r.failed += outcome.failed;
            r.folders.push(outcome.clone());
        }
        Event::Retrying { reason, .. } => r.retrying = Some(reason.clone()),
        Event::MailboxFinished { outcome, .. } => {
            let (started, done, total) = (r.started, r.messages_done, r.messages_total);
            let (bytes_done, bytes_total) = (r.bytes_done, r.bytes_total);
            *r = RowView::from_outcome(outcome);
            // The live counts when they say more (messages the engine
            // scanned but a failure stopped).
            r.messages_done = r.messages_done.max(done);
            r.messages_total = r.messages_total.max(total).max(r.messages_done);
            r.bytes_done = r.bytes_done.max(bytes_done);
            r.bytes_total = r.bytes_total.max(bytes_total).max(r.bytes_done);
            r.started = started;
        }
        Event::JobStarted { .. } | Event::JobFinished { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{MessageBrief, Verification};

    #[test]
    fn totals_add_up_the_rows_and_their_folders_verifications() {
        let checked = |source: &str, missing: usize, error: Option<&str>| FolderOutcome {
            source: source.into(),
            migrated: 3,
            error: error.map(str::to_string),
            verification: Some(Box::new(Verification {
                source_messages: 3,
                destination_messages: 3 - missing as u64,
                missing: vec![MessageBrief::default(); missing],
                ..Default::default()
            })),
            ..Default::default()
        };
        let mut done = RowView::pending("jane", "jane");
        done.state = RowState::Partial;
        done.folders = vec![
            checked("INBOX", 0, None),
            checked("Sent", 1, None),
            checked("Drafts", 0, Some("refused")),
        ];
        (done.migrated, done.messages_done, done.bytes_done) = (9, 9, 900);
        let mut running = RowView::pending("bob", "bob");
        running.state = RowState::Running;
        (running.messages_done, running.bytes_done) = (4, 400);
        (running.messages_total, running.bytes_total) = (10, 1000);
        let t = Totals::of(&[done, running, RowView::pending("ann", "ann")]);
        assert_eq!(
            t,
            Totals {
                mailboxes_done: 1,
                states: StateCounts {
                    pending: 1,
                    running: 1,
                    partial: 1,
                    ..Default::default()
                },
                messages_done: 13,
                bytes_done: 1300,
                messages_total: 10,
                bytes_total: 1000,
                migrated: 9,
                folders: 3,
                folders_verified: 1,
                source_messages: 9,
                destination_messages: 8,
                missing: 1,
                ..Default::default()
            }
        );
    }
}
