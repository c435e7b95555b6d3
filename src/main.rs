//! `mailferry`: run migration jobs from the command line.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mailferry::copy::{self, Cancel, Options};
use mailferry::human::human_bytes;
use mailferry::outcome::Verdict;
use mailferry::progress::{Event, Sink};
use mailferry::store::Store;

/// Exit codes, documented in the README.
mod exit {
    pub const SUCCESS: u8 = 0;
    pub const BAD_JOB: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const FAILED: u8 = 4;
    pub const NOT_STARTED: u8 = 5;
    pub const NOT_RECORDED: u8 = 6;
}

#[derive(Parser)]
#[command(
    name = "mailferry",
    version,
    about = "Copy mailboxes from an old mail host to a new one."
)]
struct Cli {
    /// MailFerry's database (history and ledger). Default: the OS data
    /// folder, or $MAILFERRY_DB.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job file (TOML, see docs/job-file.md).
    Run {
        job: PathBuf,
        /// Print one JSON event per line instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Where to write the job's log (default: mailferry-<job>.log here).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Mailboxes copied at the same time (default: the job's
        /// parallel_mailboxes, else 4).
        #[arg(long)]
        parallel: Option<usize>,
        /// Seconds each network read or write may wait (default: the job's
        /// timeout_seconds, else 60).
        #[arg(long)]
        timeout: Option<u64>,
        /// Reconnects in a row after transient faults before a folder gives
        /// up (default: the job's retries, else 5).
        #[arg(long)]
        retries: Option<u32>,
    },
    /// Compare every folder of a job's mailboxes with its destination
    /// folder, copying nothing: what is missing there, what is there twice.
    Verify {
        job: PathBuf,
        /// Print one JSON event per line instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Where to write the verification log (default:
        /// mailferry-<job>-verify.log here).
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Check a job file without connecting to anything.
    Check { job: PathBuf },
    /// Log in to both servers for every mailbox of a job, copying nothing.
    TestLogins { job: PathBuf },
    /// List past runs.
    History,
    /// Print a past run's log.
    Log { run_id: i64 },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let db = cli.db.clone().unwrap_or_else(Store::default_path);
    match cli.command {
        Command::Check { job } => match mailferry::job::load(&job) {
            Ok(j) => {
                for w in j.warnings() {
                    eprintln!("Warning: {w}");
                }
                println!(
                    "The job is valid: {} mailboxes from {} to {}.",
                    j.users.len(),
                    j.source.host,
                    j.destination.host
                );
                ExitCode::from(exit::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(exit::BAD_JOB)
            }
        },
        Command::TestLogins { job } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            let opts = Options::for_job(&job);
            let checks = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt.block_on(copy::test_logins(job, opts)),
                Err(e) => {
                    eprintln!("Could not start: {e}");
                    return ExitCode::from(exit::NOT_STARTED);
                }
            };
            let failed = checks.iter().filter(|c| !c.ok()).count();
            for c in &checks {
                match (&c.source_error, &c.destination_error) {
                    (None, None) => {
                        println!("{} -> {}: both logins work", c.source_user, c.local_user)
                    }
                    (s, d) => {
                        println!("{} -> {}: FAILED", c.source_user, c.local_user);
                        for e in [s, d].into_iter().flatten() {
                            println!("  {e}");
                        }
                    }
                }
            }
            println!(
                "{} of {} mailboxes can log in on both sides.",
                checks.len() - failed,
                checks.len()
            );
            ExitCode::from(match (failed, checks.len()) {
                (0, _) => exit::SUCCESS,
                (f, n) if f == n => exit::FAILED,
                _ => exit::PARTIAL,
            })
        }
        Command::History => with_store(&db, |store| {
            let runs = store.runs().map_err(|e| e.to_string())?;
            if runs.is_empty() {
                println!("No jobs have run yet.");
            }
            for r in runs {
                println!(
                    "#{:<4} {:<20} {}  {} -> {}  {} mailboxes  {}: {} migrated, {} skipped, {} failed",
                    r.run_id,
                    r.job_name,
                    r.started_at,
                    r.source_host,
                    r.dest_host,
                    r.mailboxes,
                    r.verdict.as_deref().unwrap_or("unfinished"),
                    r.migrated,
                    r.skipped,
                    r.failed
                );
            }
            Ok(exit::SUCCESS)
        }),
        Command::Log { run_id } => with_store(&db, |store| {
            match store.run_log(run_id).map_err(|e| e.to_string())? {
                Some(log) => {
                    print!("{log}");
                    Ok(exit::SUCCESS)
                }
                None => Err(format!(
                    "There is no finished run #{run_id}. `mailferry history` lists the runs."
                )),
            }
        }),
        Command::Run {
            job,
            json,
            log,
            parallel,
            timeout,
            retries,
        } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            for w in job.warnings() {
                eprintln!("Warning: {w}");
            }
            let mut opts = Options::for_job(&job);
            if let Some(p) = parallel {
                opts.parallel_mailboxes = p.max(1);
            }
            if let Some(t) = timeout {
                opts.timeout = Duration::from_secs(t.max(1));
            }
            if let Some(r) = retries {
                opts.retries = r;
            }
            ExitCode::from(run(job, &db, json, log, opts))
        }
        Command::Verify { job, json, log } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            let opts = Options::for_job(&job);
            ExitCode::from(verify(job, &db, json, log, opts))
        }
    }
}

/// A job file, or the exit code that says it is invalid (its words printed).
fn load(path: &std::path::Path) -> Result<mailferry::job::Job, ExitCode> {
    mailferry::job::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(exit::BAD_JOB)
    })
}

/// The database, or the exit code that says nothing could start.
fn open_store(db: &std::path::Path) -> Result<Store, u8> {
    Store::open(db).map_err(|e| {
        eprintln!("{e}");
        exit::NOT_STARTED
    })
}

fn exit_for(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Success => exit::SUCCESS,
        Verdict::Partial => exit::PARTIAL,
        Verdict::Failed => exit::FAILED,
    }
}

fn with_store(db: &std::path::Path, f: impl FnOnce(&Store) -> Result<u8, String>) -> ExitCode {
    let code = Store::open(db)
        .map_err(|e| e.to_string())
        .and_then(|s| f(&s));
    match code {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(exit::NOT_STARTED)
        }
    }
}

fn run(
    job: mailferry::job::Job,
    db: &std::path::Path,
    json: bool,
    log: Option<PathBuf>,
    opts: Options,
) -> u8 {
    let store = match open_store(db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let sink = if json { json_sink() } else { text_sink() };
    let result = match cancellable(|cancel| copy::run(job, store, sink, opts, cancel)) {
        Some(r) => r,
        None => return exit::NOT_STARTED,
    };
    let copy::Finished {
        run,
        outcome,
        unrecorded,
    } = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return exit::NOT_STARTED;
        }
    };
    let log_path =
        log.unwrap_or_else(|| PathBuf::from(format!("mailferry-{}.log", sanitize(&run.name))));
    let text = mailferry::report::render_log(&outcome);
    match std::fs::write(&log_path, &text) {
        Ok(()) if !json => println!("The log is in {}", log_path.display()),
        Ok(()) => {}
        Err(e) => eprintln!(
            "Could not write the log to {}: {e}. `mailferry log {}` prints it.",
            log_path.display(),
            run.run_id
        ),
    }
    if !json {
        println!(
            "Job {}: {} — {} migrated, {} skipped (already there), {} failed, {}.",
            run.name,
            outcome.verdict().word().to_uppercase(),
            outcome.migrated(),
            outcome.skipped(),
            outcome.failed(),
            human_bytes(outcome.bytes())
        );
    }
    if let Some(e) = unrecorded {
        eprintln!(
            "The job ran (its log says what was copied), but MailFerry could not record it in its history: {e}"
        );
        return exit::NOT_RECORDED;
    }
    exit_for(outcome.verdict())
}

/// Runs the engine's `work` on a new runtime; the first Ctrl-C cancels it
/// (between batches), a second quits at once. `None` if no runtime starts.
fn cancellable<F: std::future::Future>(work: impl FnOnce(Cancel) -> F) -> Option<F::Output> {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Could not start: {e}");
            return None;
        }
    };
    let cancel = Cancel::default();
    let on_ctrl_c = cancel.clone();
    Some(runtime.block_on(async move {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Cancelling: finishing the current batch, then logging out… (Ctrl-C again quits at once; running the job again resumes either way)");
                on_ctrl_c.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Quitting now. Run the job again to resume.");
                std::process::exit(i32::from(exit::PARTIAL));
            }
        });
        work(cancel).await
    }))
}

/// `mailferry verify`: the verification pass alone.
fn verify(
    job: mailferry::job::Job,
    db: &std::path::Path,
    json: bool,
    log: Option<PathBuf>,
    opts: Options,
) -> u8 {
    let store = match open_store(db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let sink = if json { json_sink() } else { text_sink() };
    let outcome = match cancellable(|cancel| copy::verify(job, store, sink, opts, cancel)) {
        Some(Ok(o)) => o,
        Some(Err(e @ copy::VerifyError::NoName)) => {
            eprintln!("{e}");
            return exit::BAD_JOB;
        }
        None => return exit::NOT_STARTED,
    };
    let log_path = log.unwrap_or_else(|| {
        PathBuf::from(format!("mailferry-{}-verify.log", sanitize(&outcome.name)))
    });
    let text = mailferry::report::render_verification_log(&outcome);
    match std::fs::write(&log_path, &text) {
        Ok(()) if !json => println!("The verification log is in {}", log_path.display()),
        Ok(()) => {}
        Err(e) => eprintln!("Could not write the log to {}: {e}.", log_path.display()),
    }
    let folders: Vec<_> = outcome
        .mailboxes
        .iter()
        .flat_map(|m| m.folders.iter())
        .collect();
    let differ: Vec<_> = folders
        .iter()
        .filter_map(|f| f.verification.as_ref())
        .filter(|v| !v.verified())
        .collect();
    if !json {
        match outcome.verdict() {
            Verdict::Success => println!(
                "Job {}: VERIFIED — every message of {} folders is on the destination, none twice.",
                outcome.name,
                folders.len()
            ),
            v => println!(
                "Job {}: {} — {} folder{} differ ({} missing, {} extra on the destination){}.",
                outcome.name,
                if v == Verdict::Failed {
                    "FAILED"
                } else {
                    "NOT VERIFIED"
                },
                differ.len(),
                if differ.len() == 1 { "" } else { "s" },
                differ.iter().map(|v| v.missing.len()).sum::<usize>(),
                differ.iter().map(|v| v.extra.len()).sum::<usize>(),
                if outcome.mailboxes.iter().any(|m| m.error.is_some()) {
                    "; some mailboxes could not be checked (see the log)"
                } else {
                    ""
                }
            ),
        }
    }
    exit_for(outcome.verdict())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn json_sink() -> Sink {
    Arc::new(|e: &Event| {
        if let Ok(line) = serde_json::to_string(e) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    })
}

/// One line per account at most every half second, and every milestone.
fn text_sink() -> Sink {
    let last: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    Arc::new(move |e: &Event| {
        let line = match e {
            Event::JobStarted { job, mailboxes } => format!("Job {job}: {mailboxes} mailboxes"),
            Event::MailboxStarted { account } => format!("{account}: connecting"),
            Event::Progress {
                account,
                folder,
                messages_done,
                messages_total,
                bytes_done,
                bytes_total,
            } => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                if last
                    .get(account)
                    .is_some_and(|t| now.duration_since(*t) < Duration::from_millis(500))
                {
                    return;
                }
                last.insert(account.clone(), now);
                format!(
                    "{account}: {messages_done}/{messages_total} messages, {}/{} ({folder})",
                    human_bytes(*bytes_done),
                    human_bytes(*bytes_total)
                )
            }
            Event::Retrying {
                account,
                folder,
                attempt,
                reason,
            } => {
                format!("{account}: {folder}: retrying (attempt {attempt}): {reason}")
            }
            Event::FolderFinished { account, outcome }
                if outcome.error.is_some() || outcome.failed > 0 =>
            {
                format!(
                    "{account}: {}: {} migrated, {} failed{}",
                    outcome.source,
                    outcome.migrated,
                    outcome.failed,
                    outcome
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )
            }
            Event::FolderFinished { account, outcome } => match &outcome.verification {
                Some(v) if !v.verified() => {
                    format!("{account}: {}: {}", outcome.source, v.summary())
                }
                _ => return,
            },
            Event::MailboxFinished {
                account,
                verdict,
                outcome,
            } => format!(
                "{account}: {} — {} migrated, {} skipped, {} failed{}",
                verdict.word().to_uppercase(),
                outcome.migrated(),
                outcome.skipped(),
                outcome.failed(),
                outcome
                    .error
                    .as_deref()
                    .map(|e| format!("\n  {e}"))
                    .unwrap_or_default()
            ),
            _ => return,
        };
        println!("{line}");
    })
}
