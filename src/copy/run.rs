//! A whole job: every mailbox, a few at a time, and its end recorded in the
//! history (or, verifying, only compared).

use std::future::Future;
use std::sync::Arc;

use super::{budget, mailbox, Cancel, Connector, Ctx, Mode, Options};
use crate::error::MailError;
use crate::job::Job;
use crate::outcome::{JobOutcome, MailboxOutcome};
use crate::progress::{Event, Sink};
use crate::store::{history, BeginError, JobRun, RunKind, Store};

/// What identifies "the same job" across runs: the two servers.
pub fn fingerprint(job: &Job) -> String {
    format!(
        "{}|{}:{}",
        job.source.host.to_ascii_lowercase(),
        job.destination.host.to_ascii_lowercase(),
        job.destination.port
    )
}

/// A run that has ended: its place in the history, what happened to every
/// mailbox, and whether the history could record it. A run that copied mail
/// but could not be recorded is still a run that happened; the caller
/// reports both.
#[derive(Debug)]
pub struct Finished {
    pub run: JobRun,
    pub outcome: JobOutcome,
    /// Why the finished run is not in the history, when it is not.
    pub unrecorded: Option<MailError>,
}

/// Runs a job to its end and records it in the history. The outcome says
/// what happened to every mailbox, each folder verified against its
/// destination folder; only a job that could not begin is an error. With
/// `opts.dry_run`, nothing is changed: the outcome says what a run would
/// create and copy, and the history keeps it as a dry run.
pub async fn run(
    job: Job,
    store: Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
) -> Result<Finished, BeginError> {
    let kind = match opts.dry_run {
        true => RunKind::DryRun,
        false => RunKind::Migration,
    };
    let run = store.begin_run_of(
        kind,
        job.name.as_deref(),
        &fingerprint(&job),
        &job.source.host,
        &job.destination.host,
        job.users.len(),
    )?;
    let mode = match opts.dry_run {
        true => Mode::DryRun,
        false => Mode::Copy,
    };
    let outcome = run_mailboxes(
        mode,
        (Some(run.run_id), run.name.clone()),
        job,
        &store,
        sink.clone(),
        opts,
        cancel,
        None,
    )
    .await;
    let log = crate::report::render_log(&outcome);
    let unrecorded = store.finish_run(run.run_id, &outcome, &log).err();
    sink(&Event::JobFinished {
        job: run.name.clone(),
        verdict: outcome.verdict(),
    });
    Ok(Finished {
        run,
        outcome,
        unrecorded,
    })
}

/// Why a job cannot be verified.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("A job can be verified only by its name (its records are kept under it): give the job file a name, the one it ran under.")]
    NoName,
}

/// The verification pass alone: every folder of every mailbox compared
/// with its destination folder, nothing copied or changed (on either
/// server, or in the ledger beyond forgetting what the destination no
/// longer bears out). Not recorded in the history.
pub async fn verify(
    job: Job,
    store: Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
) -> Result<JobOutcome, VerifyError> {
    let name = job.name.clone().ok_or(VerifyError::NoName)?;
    let outcome = run_mailboxes(
        Mode::Verify,
        (None, name.clone()),
        job,
        &store,
        sink.clone(),
        opts,
        cancel,
        None,
    )
    .await;
    sink(&Event::JobFinished {
        job: name,
        verdict: outcome.verdict(),
    });
    Ok(outcome)
}

/// A dry run of the whole job for the pre-flight report (run `run_id` of
/// the job `job_name` in the history, which the caller records): what a
/// dry run finds, and in `findings` what only the report needs.
pub(crate) async fn dry_run_for_report(
    (run_id, job_name): (i64, String),
    job: Job,
    store: &Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
    findings: Arc<crate::preflight::Findings>,
) -> JobOutcome {
    run_mailboxes(
        Mode::DryRun,
        (Some(run_id), job_name),
        job,
        store,
        sink,
        opts,
        cancel,
        Some(findings),
    )
    .await
}

/// Every mailbox of the job, `parallel_mailboxes` at a time. A mailbox whose
/// task panicked fails alone (its words in its outcome); the others go on.
/// `(run_id, job_name)`: the job's run in the history (a migration) and
/// its name.
#[allow(clippy::too_many_arguments)]
async fn run_mailboxes(
    mode: Mode,
    (run_id, job_name): (Option<i64>, String),
    job: Job,
    store: &Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
    findings: Option<Arc<crate::preflight::Findings>>,
) -> JobOutcome {
    let started_at = history::now();
    budget::release_large_blocks();
    let mailboxes = job.users.len();
    let connect = Connector::new(&job, &opts);
    let ctx = Arc::new(Ctx {
        connect,
        mode,
        job_name: job_name.clone(),
        job,
        store: store.clone(),
        sink,
        budget: budget::Budget::new(opts.memory_bytes),
        pairs: budget::Pairs::new(
            opts.parallel_mailboxes.max(opts.connections_per_mailbox),
            mailboxes,
        ),
        opts,
        cancel,
        findings,
    });
    ctx.emit(Event::JobStarted {
        job: job_name.clone(),
        run_id,
        mailboxes: ctx.job.users.len(),
    });
    let users = ctx.job.users.clone();
    let each = each_at_most(users.len(), ctx.opts.parallel_mailboxes, |i| {
        let ctx = ctx.clone();
        let user = users[i].clone();
        async move { mailbox::run_mailbox(&ctx, &user).await }
    })
    .await;
    let mut results = Vec::with_capacity(each.len());
    for (u, r) in users.iter().zip(each) {
        results.push(r.unwrap_or_else(|fault| {
            let error = MailError::Internal(fault);
            let outcome = MailboxOutcome {
                source_user: u.source_user.clone(),
                local_user: u.local_user.clone(),
                error: Some(error.to_string()),
                error_code: Some(error.code().to_string()),
                ..Default::default()
            };
            ctx.emit(Event::MailboxFinished {
                account: u.source_user.clone(),
                verdict: outcome.verdict(),
                outcome: outcome.clone(),
            });
            outcome
        }));
    }
    JobOutcome {
        name: job_name.clone(),
        started_at,
        finished_at: history::now(),
        source: format!(
            "{} ({})",
            ctx.job.source.host,
            ctx.job.source.protocol.label()
        ),
        destination: format!(
            "{} (port {})",
            ctx.job.destination.host, ctx.job.destination.port
        ),
        mailboxes: results,
        filters: ctx.job.filters.describe(),
        dry_run: mode == Mode::DryRun,
    }
}

/// Runs `work(0..n)`, at most `parallel` at a time, each on its own task;
/// the results in order, a task that panicked as its panic's words.
pub(crate) async fn each_at_most<T, F>(
    n: usize,
    parallel: usize,
    work: impl Fn(usize) -> F,
) -> Vec<Result<T, String>>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index_of = std::collections::HashMap::new();
    for i in 0..n {
        let limit = limit.clone();
        let task = work(i);
        let handle = tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            task.await
        });
        index_of.insert(handle.id(), i);
    }
    let mut out: Vec<Result<T, String>> = (0..n).map(|_| Err(String::new())).collect();
    while let Some(r) = tasks.join_next_with_id().await {
        match r {
            Ok((id, t)) => out[index_of[&id]] = Ok(t),
            Err(e) => {
                let i = index_of[&e.id()];
                out[i] = Err(panic_words(e));
            }
        }
    }
    out
}

/// What a task that did not finish said: its panic message.
pub(super) fn panic_words(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return "its task was cancelled".into();
    }
    let payload = e.into_panic();
    let words = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("panic: {words}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_fails_alone_and_says_why() {
        let out = each_at_most(4, 2, |i| async move {
            tokio::time::sleep(std::time::Duration::from_millis(5 * (4 - i as u64))).await;
            assert!(i != 2, "mailbox {i} broke");
            i * 10
        })
        .await;
        assert_eq!(out[0], Ok(0));
        assert_eq!(out[1], Ok(10));
        assert_eq!(out[2], Err("panic: mailbox 2 broke".to_string()));
        assert_eq!(out[3], Ok(30));
    }
}
