//! The copy engine: runs a job, mailbox by mailbox, folder by folder.

mod check;
mod dest;
mod folder;
pub mod key;
mod mailbox;
pub mod mapping;
mod pop_date;
mod pop_inbox;

pub use check::{test_logins, LoginCheck};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::imap::{Endpoint, Login, Transport};
use crate::job::{DestinationAuth, Job, MasterMethod, Protocol, Security, UserEntry};
use crate::outcome::JobOutcome;
use crate::pop3::{Pop3Endpoint, Pop3Transport};
use crate::progress::{Event, Sink};
use crate::store::{history, BeginError, JobRun, Store};

/// Tuning knobs; the defaults suit most servers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Mailboxes copied at the same time.
    pub parallel_mailboxes: usize,
    /// Limit for each network read and write.
    pub timeout: Duration,
    /// Most message bytes fetched and appended as one batch.
    pub batch_bytes: u64,
    /// Most messages in one batch.
    pub batch_messages: usize,
    /// Reconnects after a transient fault, per folder.
    pub retries: u32,
    /// First pause before a retry; doubles each time.
    pub backoff: Duration,
    /// A POP3 message larger than this is not downloaded (and is reported).
    pub max_message_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallel_mailboxes: 4,
            timeout: Duration::from_secs(60),
            batch_bytes: 16 * 1024 * 1024,
            batch_messages: 200,
            retries: 3,
            backoff: Duration::from_secs(1),
            max_message_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Stops a running job between batches.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Everything a mailbox task needs, shared.
pub(crate) struct Ctx {
    pub job: Job,
    pub job_name: String,
    pub store: Store,
    pub sink: Sink,
    pub opts: Options,
    pub cancel: Cancel,
}

impl Ctx {
    pub fn emit(&self, e: Event) {
        (self.sink)(&e)
    }

    pub fn source_endpoint(&self) -> Endpoint {
        let s = &self.job.source;
        let (transport, protocol) = match s.protocol {
            Protocol::Imap4s => (Transport::Tls, Protocol::Imap4s),
            _ => (
                Transport::StartTls {
                    allow_plaintext: s.allow_plaintext,
                },
                Protocol::Imap4,
            ),
        };
        Endpoint {
            side: crate::error::Side::Source,
            host: s.host.clone(),
            ports: s.ports.usable(protocol),
            transport,
            certs: s.certs.clone(),
            protocol: protocol.label(),
            timeout: self.opts.timeout,
        }
    }

    /// The POP3 side of a POP3, POP3S or Auto job; `None` when the job reads
    /// no folder over POP3 (IMAP jobs, and Auto with POP3 disabled).
    pub fn pop3_endpoint(&self) -> Option<Pop3Endpoint> {
        let s = &self.job.source;
        let (transport, protocol) = match s.protocol {
            Protocol::Pop3s => (Pop3Transport::Tls, Protocol::Pop3s),
            Protocol::Pop3 | Protocol::Auto => (
                Pop3Transport::Stls {
                    allow_plaintext: s.allow_plaintext,
                },
                Protocol::Pop3,
            ),
            Protocol::Imap4 | Protocol::Imap4s => return None,
        };
        let ports = s.ports.usable(protocol);
        if ports.is_empty() {
            return None;
        }
        Some(Pop3Endpoint {
            side: crate::error::Side::Source,
            host: s.host.clone(),
            ports,
            transport,
            certs: s.certs.clone(),
            protocol: protocol.label(),
            timeout: self.opts.timeout,
        })
    }

    /// Whether any folder is read over IMAP (all but POP3 and POP3S jobs).
    pub fn reads_imap(&self) -> bool {
        !matches!(self.job.source.protocol, Protocol::Pop3 | Protocol::Pop3s)
    }

    pub fn destination_endpoint(&self) -> Endpoint {
        let d = &self.job.destination;
        let (transport, protocol) = match d.security {
            Security::Tls => (Transport::Tls, "IMAP4S"),
            Security::Starttls => (
                Transport::StartTls {
                    allow_plaintext: false,
                },
                "IMAP4 with STARTTLS",
            ),
            Security::Plain => (Transport::Plain, "IMAP4"),
        };
        Endpoint {
            side: crate::error::Side::Destination,
            host: d.host.clone(),
            ports: vec![d.port],
            transport,
            certs: d.certs.clone(),
            protocol,
            timeout: self.opts.timeout,
        }
    }

    pub fn source_login(&self, u: &UserEntry) -> Login {
        Login::Password {
            user: u.source_user.clone(),
            password: u.source_password.clone(),
        }
    }

    pub fn destination_login(&self, u: &UserEntry) -> Login {
        match &self.job.destination.auth {
            DestinationAuth::PerUser => Login::Password {
                user: u.local_user.clone(),
                password: u.local_password.clone().unwrap_or_default(),
            },
            DestinationAuth::Master {
                user,
                password,
                method,
            } => match method {
                MasterMethod::SaslPlain => Login::SaslPlain {
                    authzid: u.local_user.clone(),
                    authcid: user.clone(),
                    password: password.clone(),
                },
                MasterMethod::LoginSeparator(sep) => Login::Password {
                    user: format!("{}{sep}{user}", u.local_user),
                    password: password.clone(),
                },
            },
        }
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

/// Runs a job to its end and records it in the history. The outcome says
/// what happened to every mailbox; only a job that could not begin is an
/// error.
pub async fn run(
    job: Job,
    store: Store,
    sink: Sink,
    opts: Options,
    cancel: Cancel,
) -> Result<(JobRun, JobOutcome), BeginError> {
    let run = store.begin_run(
        job.name.as_deref(),
        &fingerprint(&job),
        &job.source.host,
        &job.destination.host,
        job.users.len(),
    )?;
    let started_at = history::now();
    let ctx = Arc::new(Ctx {
        job_name: run.name.clone(),
        job,
        store: store.clone(),
        sink,
        opts,
        cancel,
    });
    ctx.emit(Event::JobStarted {
        job: run.name.clone(),
        mailboxes: ctx.job.users.len(),
    });
    let limit = Arc::new(tokio::sync::Semaphore::new(
        ctx.opts.parallel_mailboxes.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in ctx.job.users.iter().enumerate() {
        let ctx = ctx.clone();
        let user = user.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, mailbox::run_mailbox(&ctx, &user).await)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(r) => results.push(r),
            Err(e) => {
                return Err(BeginError::Store(crate::error::MailError::Store(format!(
                    "a mailbox task failed: {e}"
                ))))
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let outcome = JobOutcome {
        name: run.name.clone(),
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
        mailboxes: results.into_iter().map(|(_, m)| m).collect(),
    };
    let log = crate::report::render_log(&outcome);
    store.finish_run(run.run_id, &outcome, &log)?;
    ctx.emit(Event::JobFinished {
        job: run.name.clone(),
        verdict: outcome.verdict(),
    });
    Ok((run, outcome))
}
