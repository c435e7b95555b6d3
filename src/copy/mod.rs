//! The copy engine: runs a job, mailbox by mailbox, folder by folder.

mod budget;
mod check;
mod connect;
mod dest;
mod folder;
pub mod key;
mod lingering;
mod mailbox;
pub mod mapping;
mod overlap;
mod pop_date;
mod pop_inbox;
mod truth;
mod verify;

pub use check::{test_logins, LoginCheck};
pub use connect::Connector;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::compress::CompressMode;
use crate::error::MailError;
use crate::imap::ImapClient;
use crate::job::Job;
use crate::outcome::{JobOutcome, MailboxOutcome};
use crate::pop3::Pop3Client;
use crate::progress::{Event, Sink};
use crate::store::{history, BeginError, JobRun, Store};

/// Tuning knobs; the defaults suit most servers. A job's `[options]`
/// override them ([`Options::for_job`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Mailboxes copied at the same time.
    pub parallel_mailboxes: usize,
    /// Folders of one mailbox copied at the same time, each over its own
    /// source and destination connections. Extra connections a server
    /// refuses are simply not used; they are opened only once a folder has
    /// messages to copy, and only while the job has fewer connection pairs
    /// than `parallel_mailboxes` (or this number, if larger).
    pub connections_per_mailbox: usize,
    /// How long each network read or write may wait for a byte to move (and
    /// logging in may take).
    pub timeout: Duration,
    /// How long connecting (TCP, then TLS) may take.
    pub connect_timeout: Duration,
    /// Most message bytes fetched and appended as one batch (at most a
    /// quarter of `memory_bytes`, so the two batches in flight of two
    /// connection pairs fit in it).
    pub batch_bytes: u64,
    /// Most message bytes the whole job holds in memory at once, over all
    /// its mailboxes and batches in flight. A message larger than this is
    /// still copied, alone.
    pub memory_bytes: u64,
    /// Most messages in one batch.
    pub batch_messages: usize,
    /// Reconnects in a row after transient faults before a folder (or the
    /// start of a mailbox) gives up. Messages getting through start the
    /// count again.
    pub retries: u32,
    /// First pause before a retry; doubles each time, with jitter.
    pub backoff: Duration,
    /// The longest pause before a retry.
    pub max_backoff: Duration,
    /// A connection idle this long while the other side works gets a NOOP.
    pub keepalive: Duration,
    /// A POP3 message larger than this is not downloaded (and is reported).
    pub max_message_bytes: u64,
    /// When IMAP connections are compressed.
    pub compress: CompressMode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallel_mailboxes: 4,
            connections_per_mailbox: 2,
            timeout: Duration::from_secs(60),
            connect_timeout: crate::net::CONNECT_TIMEOUT,
            batch_bytes: 16 * 1024 * 1024,
            memory_bytes: 32 * 1024 * 1024,
            batch_messages: 200,
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            keepalive: Duration::from_secs(120),
            max_message_bytes: 256 * 1024 * 1024,
            compress: CompressMode::Auto,
        }
    }
}

impl Options {
    /// The defaults with the job's `[options]` applied.
    pub fn for_job(job: &Job) -> Options {
        let o = &job.options;
        let d = Options::default();
        Options {
            parallel_mailboxes: o.parallel_mailboxes.unwrap_or(d.parallel_mailboxes),
            connections_per_mailbox: o
                .connections_per_mailbox
                .unwrap_or(d.connections_per_mailbox),
            timeout: o.timeout_seconds.map_or(d.timeout, Duration::from_secs),
            connect_timeout: o
                .connect_timeout_seconds
                .map_or(d.connect_timeout, Duration::from_secs),
            retries: o.retries.unwrap_or(d.retries),
            keepalive: o.keepalive_seconds.map_or(d.keepalive, Duration::from_secs),
            compress: o.compress.unwrap_or(d.compress),
            ..d
        }
    }

    /// The byte bound of one batch.
    pub fn batch_bytes(&self) -> u64 {
        self.batch_bytes.min(self.memory_bytes / 4).max(1)
    }

    /// The pause before retry number `attempt` (1-based): the backoff
    /// doubled each time, at most `max_backoff`, times a random 0.5 to 1.5
    /// so that many mailboxes do not hammer a server in step.
    pub fn pause_before(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_backoff).mul_f64(0.5 + jitter())
    }
}

/// A number in [0, 1), different each call.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Stops a running job: between batches, and during a pause before a
/// retry. Connections are logged out; what was copied is in the ledger.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    /// Completes once the job is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// A connection that can be kept alive while it waits.
pub(crate) trait KeepAlive {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>>;
}

impl KeepAlive for ImapClient {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.noop()
    }
}

impl KeepAlive for Pop3Client {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.noop()
    }
}

/// Runs `work` while `idle` waits, sending it a NOOP every `every` so that
/// neither the server nor a firewall drops it for silence. A NOOP that has
/// started is finished before returning (half a command would leave the
/// connection unusable); one that fails stops the NOOPs, and the next real
/// command on `idle` meets the error.
pub(crate) async fn with_keepalive<T, K: KeepAlive>(
    idle: &mut K,
    every: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut healthy = true;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(every), if healthy => {
                let noop = idle.keep_alive();
                tokio::pin!(noop);
                let mut done = None;
                loop {
                    tokio::select! {
                        r = &mut noop => {
                            healthy = r.is_ok();
                            break;
                        }
                        out = &mut work, if done.is_none() => done = Some(out),
                    }
                }
                if let Some(out) = done {
                    return out;
                }
            }
        }
    }
}

/// What a job does with each folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Copies what the destination lacks, then verifies.
    Copy,
    /// Only compares source and destination; changes nothing.
    Verify,
}

/// Everything a mailbox task needs, shared.
pub(crate) struct Ctx {
    pub mode: Mode,
    pub job: Job,
    pub job_name: String,
    pub store: Store,
    pub sink: Sink,
    pub opts: Options,
    pub cancel: Cancel,
    /// The job's servers, to connect to.
    pub connect: Connector,
    /// Message bytes in memory, shared by every batch of the job.
    pub budget: budget::Budget,
    /// Connection pairs in use, for opening extra ones only when useful.
    pub pairs: budget::Pairs,
}

impl Ctx {
    pub fn emit(&self, e: Event) {
        (self.sink)(&e)
    }
}

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
/// destination folder; only a job that could not begin is an error.
pub async fn run(
    job: Job,
    store: Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
) -> Result<Finished, BeginError> {
    let run = store.begin_run(
        job.name.as_deref(),
        &fingerprint(&job),
        &job.source.host,
        &job.destination.host,
        job.users.len(),
    )?;
    let outcome = run_mailboxes(
        Mode::Copy,
        (Some(run.run_id), run.name.clone()),
        job,
        &store,
        sink.clone(),
        opts,
        cancel,
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
    )
    .await;
    sink(&Event::JobFinished {
        job: name,
        verdict: outcome.verdict(),
    });
    Ok(outcome)
}

/// Every mailbox of the job, `parallel_mailboxes` at a time. A mailbox whose
/// task panicked fails alone (its words in its outcome); the others go on.
/// `(run_id, job_name)`: the job's run in the history (a migration) and
/// its name.
async fn run_mailboxes(
    mode: Mode,
    (run_id, job_name): (Option<i64>, String),
    job: Job,
    store: &Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
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
    }
}

/// Runs `work(0..n)`, at most `parallel` at a time, each on its own task;
/// the results in order, a task that panicked as its panic's words.
async fn each_at_most<T, F>(
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

/// What a mailbox task that did not finish said: its panic message.
fn panic_words(e: tokio::task::JoinError) -> String {
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

    #[test]
    fn pauses_double_with_jitter_up_to_the_cap() {
        let o = Options {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..Options::default()
        };
        for _ in 0..50 {
            let p1 = o.pause_before(1);
            assert!(
                p1 >= Duration::from_millis(50) && p1 < Duration::from_millis(150),
                "{p1:?}"
            );
            let p3 = o.pause_before(3);
            assert!(
                p3 >= Duration::from_millis(200) && p3 < Duration::from_millis(600),
                "{p3:?}"
            );
            let p20 = o.pause_before(20);
            assert!(
                p20 >= Duration::from_millis(500) && p20 < Duration::from_millis(1500),
                "{p20:?}"
            );
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| o.pause_before(2)).collect();
        assert!(spread.len() > 10, "jitter should vary: {spread:?}");
    }

    #[tokio::test]
    async fn a_panicking_task_fails_alone_and_says_why() {
        let out = each_at_most(4, 2, |i| async move {
            tokio::time::sleep(Duration::from_millis(5 * (4 - i as u64))).await;
            assert!(i != 2, "mailbox {i} broke");
            i * 10
        })
        .await;
        assert_eq!(out[0], Ok(0));
        assert_eq!(out[1], Ok(10));
        assert_eq!(out[2], Err("panic: mailbox 2 broke".to_string()));
        assert_eq!(out[3], Ok(30));
    }

    #[tokio::test]
    async fn cancel_wakes_a_waiter() {
        let c = Cancel::default();
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.cancelled().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.cancel();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
        // Already cancelled: returns at once.
        c.cancelled().await;
    }
}
