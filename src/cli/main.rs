//! `mailferry`: run migration jobs from the command line.

mod keyring_store;
mod print;
mod sign_in;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand};
use mailferry::copy::Options;
use mailferry::human::human_bytes;
use mailferry::job::Job;
use mailferry::outcome::Verdict;
use mailferry::report::file_stem;
use mailferry::service::{Ended, Live, Service, StartError, Update, Watcher};
use mailferry::store::Store;

/// Exit codes, documented in the README.
mod exit {
    pub const SUCCESS: u8 = 0;
    pub const BAD_JOB: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const FAILED: u8 = 4;
    pub const NOT_STARTED: u8 = 5;
    pub const NOT_RECORDED: u8 = 6;
    /// A pre-flight report found a mailbox that cannot be reached, or one
    /// the job would fill over its quota.
    pub const NEEDS_DECISION: u8 = 7;
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
        /// Print one JSON update per line (the job, then each mailbox's row
        /// as the app shows it) instead of progress lines.
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
        /// Go through the whole job without changing anything: connect,
        /// list and compare with the destination, then say which folders
        /// would be created and which messages copied. Nothing is created,
        /// copied or recorded as copied; the history keeps it as a dry run.
        #[arg(long)]
        dry_run: bool,
    },
    /// Compare every folder of a job's mailboxes with its destination
    /// folder, copying nothing: what is missing there, what is there twice.
    Verify {
        job: PathBuf,
        /// Print one JSON update per line (the job, then each mailbox's row
        /// as the app shows it) instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Where to write the verification log (default:
        /// mailferry-<job>-verify.log here).
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Check a job file without connecting to anything.
    Check { job: PathBuf },
    /// The pre-flight report: the whole job checked, nothing copied (both
    /// logins of every mailbox, each folder's messages and where they would
    /// go, what the destination holds already, its quota and size limit,
    /// the time the job would take, and what needs a decision). Kept in the
    /// history. Exits with 7 when a mailbox cannot be reached or would go
    /// over its quota.
    Preflight {
        job: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write it as CSV (one line per folder, then each mailbox's
        /// quota and messages too large) to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Mailboxes checked at the same time, and copied at the same time
        /// in the estimate (default: the job's parallel_mailboxes, else 4).
        #[arg(long)]
        parallel: Option<usize>,
    },
    /// Log in to both servers for every mailbox of a job, copying nothing.
    TestLogins { job: PathBuf },
    /// Sign a job's mailboxes in with OAuth (flow = "device" or "browser"):
    /// a code to enter on any device, or the browser; each sign-in is kept
    /// in the system keyring for the runs that follow. Without --user, the
    /// mailboxes not signed in yet.
    SignIn {
        job: PathBuf,
        /// Only this side's mailboxes (default: each side that signs in
        /// with a code or in the browser).
        #[arg(long, value_enum)]
        side: Option<sign_in::SideArg>,
        /// Only this mailbox, signed in again even if it is already.
        #[arg(long)]
        user: Option<String>,
        /// Sign in in the browser rather than with a code.
        #[arg(long)]
        browser: bool,
    },
    /// List past runs.
    History,
    /// Print a past run's log.
    Log { run_id: i64 },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let db = cli.db.clone().unwrap_or_else(Store::default_path);
    match cli.command {
        Command::Check { job } => check(&job),
        Command::Preflight {
            job,
            json,
            csv,
            parallel,
        } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            if !json {
                for w in job.warnings() {
                    eprintln!("Warning: {w}");
                }
            }
            let mut opts = sign_in::with_keyring(&job, Options::for_job(&job));
            if let Some(p) = parallel {
                opts.parallel_mailboxes = p.max(1);
            }
            ExitCode::from(preflight(job, opts, &db, json, csv))
        }
        Command::TestLogins { job } => test_logins(&job),
        Command::SignIn {
            job,
            side,
            user,
            browser,
        } => match load(&job) {
            Ok(job) => ExitCode::from(sign_in::sign_in(&job, side, user.as_deref(), browser)),
            Err(code) => code,
        },
        Command::History => with_store(&db, history),
        Command::Log { run_id } => with_store(&db, |store| print_log(store, run_id)),
        Command::Run {
            job,
            json,
            log,
            parallel,
            timeout,
            retries,
            dry_run,
        } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            for w in job.warnings() {
                eprintln!("Warning: {w}");
            }
            let mut opts = sign_in::with_keyring(&job, Options::for_job(&job));
            if let Some(p) = parallel {
                opts.parallel_mailboxes = p.max(1);
            }
            if let Some(t) = timeout {
                opts.timeout = Duration::from_secs(t.max(1));
            }
            if let Some(r) = retries {
                opts.retries = r;
            }
            opts.dry_run = dry_run;
            ExitCode::from(run(job, &db, json, log, opts))
        }
        Command::Verify { job, json, log } => {
            let job = match load(&job) {
                Ok(j) => j,
                Err(code) => return code,
            };
            let opts = sign_in::with_keyring(&job, Options::for_job(&job));
            ExitCode::from(verify(job, &db, json, log, opts))
        }
    }
}

/// `mailferry check`: the job file read, nothing connected.
fn check(path: &std::path::Path) -> ExitCode {
    match mailferry::job::load(path) {
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
    }
}

/// `mailferry preflight`: the report printed (text or JSON), and kept in
/// the history; the first Ctrl-C stops it (the report then covers the
/// mailboxes checked so far).
fn preflight(
    job: Job,
    opts: Options,
    db: &std::path::Path,
    json: bool,
    csv: Option<PathBuf>,
) -> u8 {
    use mailferry::preflight::{render_text, to_csv, PreflightProgress, WarningKind};
    let store = match open_store(db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Could not start: {e}");
            return exit::NOT_STARTED;
        }
    };
    let service = Arc::new(Service::new(store, runtime.handle().clone()));
    let on_ctrl_c = service.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Stopping: the report will cover the mailboxes checked so far.");
            on_ctrl_c.cancel_preflights();
        }
    });
    let progress = move |p: PreflightProgress| {
        if !json {
            eprintln!(
                "Checked {} of {} mailboxes ({})",
                p.done, p.total, p.account
            );
        }
    };
    let run = match runtime.block_on(service.preflight_live(job, opts, progress)) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("{e}");
            return exit::NOT_STARTED;
        }
    };
    let report = &run.report;
    match json {
        true => match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("Could not write the report as JSON: {e}");
                return exit::NOT_RECORDED;
            }
        },
        false => {
            print!("{}", render_text(report));
            println!(
                "(Kept in the history as run #{}: `mailferry log {}` prints it again.)",
                run.run_id, run.run_id
            );
        }
    }
    if let Some(path) = csv {
        if let Err(e) = std::fs::write(&path, to_csv(report)) {
            eprintln!("Could not write the CSV to {}: {e}.", path.display());
        }
    }
    let blocking = report
        .warnings
        .iter()
        .any(|w| matches!(w.kind, WarningKind::Unreachable | WarningKind::OverQuota));
    match blocking {
        true => exit::NEEDS_DECISION,
        false => exit::SUCCESS,
    }
}

/// `mailferry test-logins`: both logins of every mailbox, nothing copied.
fn test_logins(path: &std::path::Path) -> ExitCode {
    let job = match load(path) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let opts = sign_in::with_keyring(&job, Options::for_job(&job));
    // Nothing is recorded: a database in memory will do.
    let checks = Store::open_in_memory()
        .map_err(|e| e.to_string())
        .and_then(|store| {
            let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            let service = Service::new(store, rt.handle().clone());
            rt.block_on(service.test_logins(job, opts))
                .map_err(|e| e.to_string())
        });
    let checks = match checks {
        Ok(checks) => checks,
        Err(e) => {
            eprintln!("Could not start: {e}");
            return ExitCode::from(exit::NOT_STARTED);
        }
    };
    let failed = checks.iter().filter(|c| !c.ok()).count();
    for c in &checks {
        match (&c.source_error, &c.destination_error) {
            (None, None) => println!("{} -> {}: both logins work", c.source_user, c.local_user),
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

/// `mailferry history`: every run, newest first.
fn history(store: &Store) -> Result<u8, String> {
    let runs = store.runs().map_err(|e| e.to_string())?;
    if runs.is_empty() {
        println!("No jobs have run yet.");
    }
    for r in runs {
        // A dry run copied nothing: what it would copy is in its outcome.
        let moved = match r.dry_run || r.preflight {
            true if r.preflight => {
                let report = store.preflight_report(r.run_id).ok().flatten();
                let (count, bytes) = store
                    .run_outcome(r.run_id)
                    .ok()
                    .flatten()
                    .map_or((0, 0), |o| o.would_copy());
                format!(
                    "PRE-FLIGHT, nothing changed: would copy {count} ({}), {} warning(s)",
                    human_bytes(bytes),
                    report.map_or(0, |r| r.warnings.len())
                )
            }
            true => {
                let (count, bytes) = store
                    .run_outcome(r.run_id)
                    .ok()
                    .flatten()
                    .map_or((0, 0), |o| o.would_copy());
                format!(
                    "DRY RUN, nothing changed: would copy {count} ({})",
                    human_bytes(bytes)
                )
            }
            false => format!("{} migrated", r.migrated),
        };
        println!(
            "#{:<4} {:<20} {}  {} -> {}  {} mailboxes  {}: {moved}, {} skipped, {} failed",
            r.run_id,
            r.job_name,
            r.started_at,
            r.source_host,
            r.dest_host,
            r.mailboxes,
            r.verdict.as_deref().unwrap_or("unfinished"),
            r.skipped,
            r.failed
        );
    }
    Ok(exit::SUCCESS)
}

/// `mailferry log RUN`: a finished run's log.
fn print_log(store: &Store, run_id: i64) -> Result<u8, String> {
    match store.run_log(run_id).map_err(|e| e.to_string())? {
        Some(log) => {
            print!("{log}");
            Ok(exit::SUCCESS)
        }
        None => Err(format!(
            "There is no finished run #{run_id}. `mailferry history` lists the runs."
        )),
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

/// Runs `job` (a migration, or the verification pass alone) through the
/// service on a new runtime, printing its updates; the first Ctrl-C cancels
/// it (between batches), a second quits at once. The run's end, or the
/// exit code that says it did not start.
fn through_service(
    db: &std::path::Path,
    json: bool,
    start: impl FnOnce(&Service, Watcher) -> StartFuture<'_>,
) -> Result<(Arc<Live>, Ended), u8> {
    let store = open_store(db)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("Could not start: {e}");
        exit::NOT_STARTED
    })?;
    let service = Arc::new(Service::new(store, runtime.handle().clone()));
    let watcher = if json { json_watcher() } else { text_watcher() };
    runtime.block_on(async {
        // Listening from the start: the job is the service's as soon as it
        // is asked for.
        let on_ctrl_c = service.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Cancelling: finishing the current batch, then logging out… (Ctrl-C again quits at once; running the job again resumes either way)");
                on_ctrl_c.cancel_all();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Quitting now. Run the job again to resume.");
                std::process::exit(i32::from(exit::PARTIAL));
            }
        });
        let live = start(&service, watcher).await.map_err(|e| {
            eprintln!("{e}");
            match e {
                StartError::Verify(_) => exit::BAD_JOB,
                _ => exit::NOT_STARTED,
            }
        })?;
        let ended = live.finished().await;
        Ok((live, ended))
    })
}

type StartFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<Live>, StartError>> + 'a>>;

fn run(job: Job, db: &std::path::Path, json: bool, log: Option<PathBuf>, opts: Options) -> u8 {
    let (live, ended) =
        match through_service(db, json, |s, w| Box::pin(s.start(job, opts, Some(w)))) {
            Ok(r) => r,
            Err(code) => return code,
        };
    let view = live.snapshot();
    let outcome = &ended.outcome;
    // A dry run's log does not take the place of the last run's.
    let suffix = if outcome.dry_run { "-dry-run" } else { "" };
    let log_path = log.unwrap_or_else(|| {
        PathBuf::from(format!("mailferry-{}{suffix}.log", file_stem(&view.name)))
    });
    let text = mailferry::report::render_log(outcome);
    match std::fs::write(&log_path, &text) {
        Ok(()) if !json => println!("The log is in {}", log_path.display()),
        Ok(()) => {}
        Err(e) => match view.run_id {
            Some(run_id) => eprintln!(
                "Could not write the log to {}: {e}. `mailferry log {run_id}` prints it.",
                log_path.display()
            ),
            None => eprintln!("Could not write the log to {}: {e}.", log_path.display()),
        },
    }
    if !json && outcome.dry_run {
        let (count, bytes) = outcome.would_copy();
        println!(
            "Job {}: DRY RUN ({}), nothing was changed on the destination — would copy {count} messages ({}), {} skipped (already there), {} failed.",
            view.name,
            outcome.verdict().word(),
            human_bytes(bytes),
            outcome.skipped(),
            outcome.failed(),
        );
    } else if !json {
        println!(
            "Job {}: {} — {} migrated, {} skipped (already there), {} failed{}, {}.",
            view.name,
            outcome.verdict().word().to_uppercase(),
            outcome.migrated(),
            outcome.skipped(),
            outcome.failed(),
            match outcome.filtered() {
                0 => String::new(),
                n => format!(", {n} left out by the job's filters"),
            },
            human_bytes(outcome.bytes())
        );
    }
    if !ended.recorded {
        if let Some(e) = &ended.error {
            eprintln!("{e}");
        }
        return exit::NOT_RECORDED;
    }
    exit_for(outcome.verdict())
}

/// `mailferry verify`: the verification pass alone.
fn verify(job: Job, db: &std::path::Path, json: bool, log: Option<PathBuf>, opts: Options) -> u8 {
    let (_, ended) = match through_service(db, json, |s, w| Box::pin(s.verify(job, opts, Some(w))))
    {
        Ok(r) => r,
        Err(code) => return code,
    };
    let outcome = ended.outcome;
    let log_path = log.unwrap_or_else(|| {
        PathBuf::from(format!("mailferry-{}-verify.log", file_stem(&outcome.name)))
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

/// One JSON update per line: the rows the app's page shows.
fn json_watcher() -> Watcher {
    Arc::new(|u: &Update| {
        if let Ok(line) = serde_json::to_string(u) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
        true
    })
}

/// Progress lines (see [`print`]).
fn text_watcher() -> Watcher {
    let printer = Mutex::new(print::Printer::default());
    Arc::new(move |u: &Update| {
        let lines = printer.lock().unwrap_or_else(|p| p.into_inner()).lines(u);
        for line in lines {
            println!("{line}");
        }
        true
    })
}
