//! Job history: every run of every job, with its outcome and log.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

use super::Store;
use crate::error::MailError;
use crate::outcome::{JobOutcome, Verdict};
use crate::preflight::PreflightReport;

/// A run that has begun.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub run_id: i64,
    /// The job's name (generated when the job had none).
    pub name: String,
}

/// What a run of the history was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// A copy.
    Migration,
    /// Everything a copy decides, nothing done.
    DryRun,
    /// A pre-flight report: a dry run and what only the report needs
    /// ([`crate::preflight`]).
    Preflight,
}

impl RunKind {
    /// Its word in the database.
    fn word(self) -> &'static str {
        match self {
            RunKind::Migration => "migration",
            RunKind::DryRun => "dry-run",
            RunKind::Preflight => "preflight",
        }
    }
}

/// One line of the history list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RunSummary {
    pub run_id: i64,
    pub job_name: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub source_host: String,
    pub dest_host: String,
    pub mailboxes: i64,
    pub verdict: Option<String>,
    pub migrated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub bytes: i64,
    /// A dry run: nothing was changed on the destination (its counts are
    /// what was already there; its log says what it would copy).
    pub dry_run: bool,
    /// A pre-flight report ([`Store::preflight_report`]); nothing was
    /// changed either. Its log is the report as text.
    pub preflight: bool,
}

/// Why a run could not begin.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BeginError {
    #[error("Another job, for different servers, already uses the name {0:?}. Choose another name, or leave it blank to get a generated one.")]
    NameTaken(String),
    #[error("{0}")]
    Store(#[from] MailError),
}

impl From<rusqlite::Error> for BeginError {
    fn from(e: rusqlite::Error) -> Self {
        BeginError::Store(e.into())
    }
}

pub fn now() -> String {
    chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S %z")
        .to_string()
}

impl Store {
    /// Starts a run. A named job that ran before against the same servers
    /// (same `fingerprint`) is the same job: it resumes with its ledger. The
    /// same name for other servers is refused. No name: the next number.
    pub fn begin_run(
        &self,
        name: Option<&str>,
        fingerprint: &str,
        source_host: &str,
        dest_host: &str,
        mailboxes: usize,
    ) -> Result<JobRun, BeginError> {
        self.begin_run_of(
            RunKind::Migration,
            name,
            fingerprint,
            source_host,
            dest_host,
            mailboxes,
        )
    }

    /// [`Store::begin_run`] for a run of this kind.
    pub fn begin_run_of(
        &self,
        kind: RunKind,
        name: Option<&str>,
        fingerprint: &str,
        source_host: &str,
        dest_host: &str,
        mailboxes: usize,
    ) -> Result<JobRun, BeginError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let name = match name {
            Some(n) => {
                let existing: Option<String> = tx
                    .query_row(
                        "SELECT fingerprint FROM jobs WHERE name=?1",
                        params![n],
                        |r| r.get(0),
                    )
                    .optional()?;
                match existing {
                    Some(f) if f != fingerprint => {
                        return Err(BeginError::NameTaken(n.to_string()))
                    }
                    Some(_) => {}
                    None => {
                        tx.execute(
                            "INSERT INTO jobs (name, fingerprint, created_at) VALUES (?1, ?2, ?3)",
                            params![n, fingerprint, now()],
                        )?;
                    }
                }
                n.to_string()
            }
            None => {
                let max: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(CAST(name AS INTEGER)), 1000) FROM jobs WHERE name GLOB '[0-9]*' AND name NOT GLOB '*[^0-9]*'",
                    [],
                    |r| r.get(0),
                )?;
                let n = (max.max(1000) + 1).to_string();
                tx.execute(
                    "INSERT INTO jobs (name, fingerprint, created_at) VALUES (?1, ?2, ?3)",
                    params![n, fingerprint, now()],
                )?;
                n
            }
        };
        tx.execute(
            "INSERT INTO runs (job_name, started_at, source_host, dest_host, mailboxes, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, now(), source_host, dest_host, mailboxes as i64, kind.word()],
        )?;
        let run_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(JobRun { run_id, name })
    }

    /// Stores a finished run's outcome and log.
    pub fn finish_run(
        &self,
        run_id: i64,
        outcome: &JobOutcome,
        log_text: &str,
    ) -> Result<(), MailError> {
        let json = serde_json::to_string(outcome).map_err(|e| MailError::Store(e.to_string()))?;
        let verdict: Verdict = outcome.verdict();
        self.lock().execute(
            "UPDATE runs SET finished_at=?2, verdict=?3, migrated=?4, skipped=?5, failed=?6, bytes=?7, result_json=?8, log_text=?9 WHERE id=?1",
            params![
                run_id,
                now(),
                verdict.word(),
                outcome.migrated() as i64,
                outcome.skipped() as i64,
                outcome.failed() as i64,
                outcome.bytes() as i64,
                json,
                log_text
            ],
        )?;
        Ok(())
    }

    /// Stores a finished pre-flight report (a run begun as
    /// [`RunKind::Preflight`]): the dry run's outcome behind it, the report
    /// itself, and its text as the run's log.
    pub fn finish_preflight(
        &self,
        run_id: i64,
        outcome: &JobOutcome,
        report: &PreflightReport,
        log_text: &str,
    ) -> Result<(), MailError> {
        let unwritable = |e: serde_json::Error| MailError::Store(e.to_string());
        let json = serde_json::to_string(outcome).map_err(unwritable)?;
        let report = serde_json::to_string(report).map_err(unwritable)?;
        self.lock().execute(
            "UPDATE runs SET finished_at=?2, verdict=?3, migrated=0, skipped=?4, failed=?5, bytes=0, result_json=?6, log_text=?7, report=?8 WHERE id=?1",
            params![
                run_id,
                now(),
                outcome.verdict().word(),
                outcome.skipped() as i64,
                outcome.failed() as i64,
                json,
                log_text,
                report
            ],
        )?;
        Ok(())
    }

    /// A pre-flight report kept in the history; `None` for an unknown run
    /// or one that is not a finished pre-flight report.
    pub fn preflight_report(&self, run_id: i64) -> Result<Option<PreflightReport>, MailError> {
        self.run_json(run_id, "report", "report")
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, MailError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, job_name, started_at, finished_at, source_host, dest_host, mailboxes, verdict, migrated, skipped, failed, bytes, kind
             FROM runs ORDER BY id DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RunSummary {
                    run_id: r.get(0)?,
                    job_name: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    source_host: r.get(4)?,
                    dest_host: r.get(5)?,
                    mailboxes: r.get(6)?,
                    verdict: r.get(7)?,
                    migrated: r.get(8)?,
                    skipped: r.get(9)?,
                    failed: r.get(10)?,
                    bytes: r.get(11)?,
                    dry_run: r.get::<_, String>(12)? == RunKind::DryRun.word(),
                    preflight: r.get::<_, String>(12)? == RunKind::Preflight.word(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A finished run's log text.
    pub fn run_log(&self, run_id: i64) -> Result<Option<String>, MailError> {
        self.run_text(run_id, "log_text")
    }

    /// A finished run's outcome (what History shows when a run is opened);
    /// `None` for an unknown run or one that has not finished.
    pub fn run_outcome(&self, run_id: i64) -> Result<Option<JobOutcome>, MailError> {
        self.run_json(run_id, "result_json", "result")
    }

    /// One text column of a run; `None` for an unknown run or an empty
    /// column.
    fn run_text(&self, run_id: i64, column: &'static str) -> Result<Option<String>, MailError> {
        let text = self
            .lock()
            .query_row(
                &format!("SELECT {column} FROM runs WHERE id=?1"),
                params![run_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?;
        Ok(text.flatten())
    }

    /// One JSON column of a run, read back; `what` names it in the error.
    fn run_json<T: serde::de::DeserializeOwned>(
        &self,
        run_id: i64,
        column: &'static str,
        what: &str,
    ) -> Result<Option<T>, MailError> {
        match self.run_text(run_id, column)? {
            None => Ok(None),
            Some(j) => serde_json::from_str(&j).map(Some).map_err(|e| {
                MailError::Store(format!("run #{run_id} has an unreadable {what}: {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn blank_names_get_increasing_numbers() {
        let (_d, s) = store();
        let a = s.begin_run(None, "f", "src", "dst", 1).unwrap();
        let b = s.begin_run(None, "f", "src", "dst", 1).unwrap();
        assert_eq!(a.name, "1001");
        assert_eq!(b.name, "1002");
    }

    #[test]
    fn same_name_same_servers_resumes_other_servers_refused() {
        let (_d, s) = store();
        s.begin_run(Some("acme"), "f1", "src", "dst", 1).unwrap();
        assert!(s.begin_run(Some("acme"), "f1", "src", "dst", 1).is_ok());
        let err = s
            .begin_run(Some("acme"), "f2", "src", "dst", 1)
            .unwrap_err();
        assert_eq!(err, BeginError::NameTaken("acme".into()));
        assert!(err.to_string().contains("Choose another name"));
    }

    #[test]
    fn a_dry_run_is_kept_as_one() {
        let (_d, s) = store();
        let real = s.begin_run(Some("acme"), "f", "src", "dst", 1).unwrap();
        let dry = s
            .begin_run_of(RunKind::DryRun, Some("acme"), "f", "src", "dst", 1)
            .unwrap();
        let kinds: Vec<(i64, bool)> = s
            .runs()
            .unwrap()
            .iter()
            .map(|r| (r.run_id, r.dry_run))
            .collect();
        assert_eq!(kinds, [(dry.run_id, true), (real.run_id, false)]);
    }

    #[test]
    fn a_preflight_report_is_kept_and_read_back() {
        let (_d, s) = store();
        let run = s
            .begin_run_of(RunKind::Preflight, Some("acme"), "f", "src", "dst", 1)
            .unwrap();
        assert_eq!(s.preflight_report(run.run_id).unwrap(), None);
        let report = PreflightReport {
            job: "acme".into(),
            warnings: vec![crate::preflight::PreflightWarning {
                kind: crate::preflight::WarningKind::OverQuota,
                account: Some("jane".into()),
                folder: None,
                words: "full".into(),
            }],
            ..Default::default()
        };
        let outcome = JobOutcome {
            name: "acme".into(),
            dry_run: true,
            ..Default::default()
        };
        s.finish_preflight(run.run_id, &outcome, &report, "the report")
            .unwrap();
        assert_eq!(s.preflight_report(run.run_id).unwrap(), Some(report));
        assert_eq!(
            s.run_log(run.run_id).unwrap().as_deref(),
            Some("the report")
        );
        let runs = s.runs().unwrap();
        assert!(runs[0].preflight && !runs[0].dry_run);
        let other = s.begin_run(Some("acme"), "f", "src", "dst", 1).unwrap();
        assert_eq!(s.preflight_report(other.run_id).unwrap(), None);
    }

    #[test]
    fn run_outcome_is_there_once_the_run_finished() {
        let (_d, s) = store();
        let run = s.begin_run(Some("acme"), "f", "src", "dst", 1).unwrap();
        assert_eq!(s.run_outcome(run.run_id).unwrap(), None);
        let outcome = JobOutcome {
            name: "acme".into(),
            ..Default::default()
        };
        s.finish_run(run.run_id, &outcome, "log").unwrap();
        assert_eq!(s.run_outcome(run.run_id).unwrap(), Some(outcome));
        assert_eq!(s.run_outcome(999).unwrap(), None);
    }
}
