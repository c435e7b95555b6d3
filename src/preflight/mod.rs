//! The pre-flight report: what a job would do, found without copying
//! anything. It is a dry run of the whole job (the same listing, mapping
//! and reconciliation with the destination as a copy), plus what only a
//! report needs: each destination mailbox's quota and largest accepted
//! message, an estimate of the time the job will take, and the warnings
//! that need a decision before it starts.

mod build;
mod estimate;
mod findings;
mod probe;
mod text;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::outcome::{OversizedMessage, PlannedMessage};
use crate::progress::{Event, Sink};
use crate::store::{history, RunKind};

pub use estimate::human_duration;
pub(crate) use findings::{Census, Findings};

/// What a job would do, mailbox by mailbox and folder by folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct PreflightReport {
    /// The job's name.
    pub job: String,
    /// The servers in words: `old.example (IMAP4S)`, `new.example (port 993)`.
    pub source: String,
    pub destination: String,
    /// When the report was made, `YYYY-MM-DD HH:MM:SS +ZZZZ`.
    pub created_at: String,
    pub mailboxes: Vec<MailboxPreflight>,
    /// How long the job would take; `None` when no mailbox could be
    /// reached, or the check was stopped before the servers were probed.
    pub estimate: Option<Estimate>,
    /// What needs a decision before the job starts, most serious first.
    pub warnings: Vec<PreflightWarning>,
    /// How long making the report took.
    pub elapsed_ms: u64,
}

/// One mailbox of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct MailboxPreflight {
    pub source_user: String,
    pub local_user: String,
    /// Why the mailbox could not be checked (a login refused, a server
    /// unreachable), in the words of the error catalogue.
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub folders: Vec<FolderPreflight>,
    /// The destination mailbox's storage quota (GETQUOTAROOT), when the
    /// server has one.
    pub quota: Option<QuotaUse>,
    /// The largest message the destination accepts (APPENDLIMIT), when it
    /// says.
    pub append_limit: Option<u64>,
    /// Messages the destination would refuse for their size (over
    /// `append_limit`), named so the customer can deal with them.
    pub too_large: Vec<PlannedMessage>,
    /// How long the checks of this mailbox took (logins, listing,
    /// reconciliation).
    pub elapsed_ms: u64,
    /// What else the dry run noted of the mailbox as a whole: parent
    /// folders a copy would create that hold no mail of their own.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A quota root's storage, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct QuotaUse {
    pub used_bytes: u64,
    pub limit_bytes: u64,
}

/// How a source folder maps to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum FolderMapping {
    /// Into a destination folder that exists already.
    Existing,
    /// Into a folder the job would create.
    Created,
    /// Left out by the job's skip rules.
    Skipped,
}

/// One source folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FolderPreflight {
    /// Its name on the source and on the destination, as a user sees them.
    pub source: String,
    pub destination: String,
    pub mapping: FolderMapping,
    /// Renamed (a translation, a special-use folder, a character the
    /// destination cannot hold) and why: the mapping's notes.
    pub notes: Vec<String>,
    /// What the source holds.
    pub messages: u64,
    pub bytes: u64,
    /// Already on the destination (by the copy's own reconciliation).
    pub present: u64,
    pub present_bytes: u64,
    /// What a migration would copy.
    pub to_copy: u64,
    pub to_copy_bytes: u64,
    /// Left out by the job's date and size filters.
    pub filtered: u64,
    pub filtered_bytes: u64,
    /// Messages that are exact copies of another in the same source folder.
    pub duplicates: u64,
    /// Why the folder could not be checked.
    pub error: Option<String>,
    /// Its messages over the destination's APPENDLIMIT (also in the
    /// mailbox's `too_large`): the destination would refuse them.
    #[serde(default)]
    pub too_large: Vec<PlannedMessage>,
    /// Its messages over the job's own size limit (`[filters]
    /// max_message_mb`): left out, named so the customer knows.
    #[serde(default)]
    pub oversized: Vec<OversizedMessage>,
}

/// The time a job would take, as a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct Estimate {
    pub low_seconds: u64,
    pub high_seconds: u64,
    /// What the figure rests on, in words (what was measured).
    pub basis: String,
    /// The same range in milliseconds (a small job takes less than a
    /// second; the seconds above are rounded outwards).
    #[serde(default)]
    pub low_ms: u64,
    #[serde(default)]
    pub high_ms: u64,
}

/// Something that needs a decision before the job starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PreflightWarning {
    pub kind: WarningKind,
    /// The mailbox (source user) and folder it is about, if any.
    pub account: Option<String>,
    pub folder: Option<String>,
    /// What is wrong and what to do, in plain words.
    pub words: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A login failed or a server could not be reached.
    Unreachable,
    /// The destination mailbox would go over its quota.
    OverQuota,
    /// Messages larger than the destination accepts.
    TooLarge,
    /// A folder name the destination cannot hold as it is.
    FolderName,
    /// The source gives no received date (POP3): dates come from headers.
    NoInternalDate,
    /// Exact duplicates inside a source folder.
    Duplicates,
}

/// How far a pre-flight check has got: `done` of `total` mailboxes, the
/// last one `account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PreflightProgress {
    pub done: usize,
    pub total: usize,
    pub account: String,
}

/// Makes the report of `job` (nothing is created, copied or changed on
/// either server) and keeps it in the history as a run of its own, next
/// to the runs of the job. `progress` hears of each mailbox as it is
/// checked. Returns the history's run id and the report.
pub async fn run(
    job: crate::job::Job,
    store: crate::store::Store,
    opts: crate::copy::Options,
    cancel: crate::copy::Cancel,
    mut progress: impl FnMut(PreflightProgress) + Send,
) -> Result<(i64, PreflightReport), crate::store::BeginError> {
    let started = Instant::now();
    let created_at = history::now();
    let run = store.begin_run_of(
        RunKind::Preflight,
        job.name.as_deref(),
        &crate::copy::fingerprint(&job),
        &job.source.host,
        &job.destination.host,
        job.users.len(),
    )?;
    // Each mailbox checked is told as the dry run reports it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: Sink = Arc::new(move |e: &Event| {
        if let Event::MailboxFinished { account, .. } = e {
            let _ = tx.send(account.clone());
        }
    });
    let total = job.users.len();
    let findings = Arc::new(Findings::default());
    let dry_started = Instant::now();
    let dry = crate::copy::dry_run_for_report(
        (run.run_id, run.name.clone()),
        job.clone(),
        &store,
        sink,
        opts.clone(),
        cancel.clone(),
        findings.clone(),
    );
    let tell = async {
        let mut done = 0;
        // Ends when the dry run is over and its sink dropped.
        while let Some(account) = rx.recv().await {
            done += 1;
            progress(PreflightProgress {
                done,
                total,
                account,
            });
        }
    };
    let (outcome, ()) = tokio::join!(dry, tell);
    let dry_run_took = dry_started.elapsed();

    let mut mailboxes = Vec::new();
    let mut work = Vec::new();
    // The mailbox with the most to copy is probed (any reachable one for
    // the round trips when there is nothing to copy).
    let mut probed: Option<(u64, usize, Option<probe::SampleFolder>)> = None;
    for (i, m) in outcome.mailboxes.iter().enumerate() {
        // Not reached before the check was stopped: not in the report.
        if m.error_code.as_deref() == Some("cancelled") && m.folders.is_empty() {
            continue;
        }
        let facts = findings.take((&m.source_user, &m.local_user));
        mailboxes.push(build::mailbox(m, &facts));
        if m.error.is_some() {
            continue;
        }
        let w = build::work(m, &facts, &opts);
        if probed.as_ref().is_none_or(|(bytes, _, _)| w.bytes > *bytes) {
            probed = Some((w.bytes, i, build::sample_folder(m, &facts)));
        }
        work.push(w);
    }
    let estimate = match (probed, cancel.is_cancelled()) {
        (Some((_, i, folder)), false) => {
            let mailbox_time: f64 = outcome
                .mailboxes
                .iter()
                .map(|m| m.elapsed_ms as f64 / 1000.0)
                .sum();
            let setup = estimate::Setup {
                parallel_mailboxes: opts.parallel_mailboxes,
                connections_per_mailbox: opts.connections_per_mailbox,
                connections_when_distant: opts.connections_when_distant,
                max_bytes_per_second: opts.max_bytes_per_second,
                side_by_side: mailbox_time / dry_run_took.as_secs_f64().max(1e-3),
            };
            // Before the round trips are measured: the pairs as if near.
            let at_once = estimate::pairs(&work, &setup, opts.connections_per_mailbox);
            let measured =
                probe::measure(&job, &opts, &job.users[i], folder.as_ref(), at_once).await;
            let mut e = estimate::estimate(&work, &measured.speeds, &setup, (work.len(), total));
            for p in &measured.problems {
                e.basis += &format!(" (The probe of the servers met a problem: {p})");
            }
            Some(e)
        }
        _ => None,
    };
    let warnings = build::warnings(
        &mailboxes,
        crate::copy::Connector::new(&job, &opts).reads_pop3(),
    );
    let report = PreflightReport {
        job: run.name.clone(),
        source: outcome.source.clone(),
        destination: outcome.destination.clone(),
        created_at,
        mailboxes,
        estimate,
        warnings,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    store.finish_preflight(run.run_id, &outcome, &report, &render_text(&report))?;
    Ok((run.run_id, report))
}

/// The report as CSV (RFC 4180): one line per folder of each mailbox,
/// then one per mailbox-wide finding.
pub fn to_csv(report: &PreflightReport) -> String {
    text::csv(report)
}

/// The report as text, for the command line and the log file.
pub fn render_text(report: &PreflightReport) -> String {
    text::render(report)
}
