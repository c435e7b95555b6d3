//! The copy engine: runs a job, mailbox by mailbox, folder by folder.
//!
//! A job ([`run`]) runs each mailbox ([`mailbox`]): it connects
//! ([`connect`]), maps the folders ([`mapping`]), and copies each folder
//! from its [`source`] (an IMAP folder, [`folder`], or the POP3 Inbox,
//! [`pop_inbox`]) in overlapping batches ([`overlap`]) to the destination
//! ([`dest`]), after settling what is there already ([`truth`]); then it
//! compares the two ([`verify`]).

mod budget;
mod cancel;
mod check;
mod connect;
mod dest;
mod dry;
mod filter;
mod folder;
mod idle;
pub mod key;
mod lingering;
mod mailbox;
pub mod mapping;
mod options;
mod overlap;
mod pop_date;
mod pop_inbox;
mod run;
mod source;
pub mod special_use;
mod truth;
mod verify;

pub use cancel::Cancel;
pub use check::{test_logins, LoginCheck};
pub use connect::Connector;
pub use options::{Options, Secrets};
pub(crate) use run::dry_run_for_report;
pub use run::{fingerprint, run, verify, Finished, VerifyError};

pub(crate) use idle::{with_keepalive, KeepAlive};

use crate::job::Job;
use crate::progress::{Event, Sink};
use crate::store::Store;

/// What a job does with each folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Copies what the destination lacks, then verifies.
    Copy,
    /// Only compares source and destination; changes nothing.
    Verify,
    /// Everything a copy decides, reported and not done: nothing is
    /// created, appended or recorded in the ledger ([`dry`]).
    DryRun,
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
    /// A dry run made for the pre-flight report collects here what only
    /// the report needs ([`crate::preflight`]).
    pub findings: Option<std::sync::Arc<crate::preflight::Findings>>,
}

impl Ctx {
    pub fn emit(&self, e: Event) {
        (self.sink)(&e)
    }
}

/// The ledger's scope of `user`'s mailbox in this job.
pub(crate) fn scope_of<'a>(
    ctx: &'a Ctx,
    user: &'a crate::job::UserEntry,
) -> crate::store::Scope<'a> {
    crate::store::Scope {
        job: &ctx.job_name,
        account: &user.source_user,
        dest_user: &user.local_user,
    }
}
