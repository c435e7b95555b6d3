//! "Test logins": log in to both servers for every mailbox of a job, without
//! copying anything, and say which fail and why.

use std::sync::Arc;

use serde::Serialize;

use super::{Ctx, Options};
use crate::error::MailError;
use crate::imap::ImapClient;
use crate::job::Job;
use crate::pop3::Pop3Client;
use crate::store::Store;

/// The result of trying one mailbox's logins.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoginCheck {
    pub source_user: String,
    pub local_user: String,
    /// `None` when the source login worked; else the user-facing error.
    pub source_error: Option<String>,
    pub destination_error: Option<String>,
    /// The errors' entries in the error catalogue.
    pub source_code: Option<&'static str>,
    pub destination_code: Option<&'static str>,
}

impl LoginCheck {
    fn new(
        (source_user, local_user): (&str, &str),
        source: Option<MailError>,
        destination: Option<MailError>,
    ) -> Self {
        LoginCheck {
            source_user: source_user.into(),
            local_user: local_user.into(),
            source_error: source.as_ref().map(ToString::to_string),
            destination_error: destination.as_ref().map(ToString::to_string),
            source_code: source.map(|e| e.code()),
            destination_code: destination.map(|e| e.code()),
        }
    }
}

impl LoginCheck {
    pub fn ok(&self) -> bool {
        self.source_error.is_none() && self.destination_error.is_none()
    }
}

/// Tries every login of `job` (several mailboxes at a time), logging out
/// straight away. Over Auto, the source is tried over IMAP and POP3 both.
pub async fn test_logins(job: Job, opts: Options) -> Vec<LoginCheck> {
    let ctx = Arc::new(Ctx {
        mode: super::Mode::Verify,
        job_name: String::new(),
        job,
        // Nothing is recorded: an in-memory store satisfies the context.
        store: match Store::open_in_memory() {
            Ok(s) => s,
            Err(e) => return vec![LoginCheck::new(("", ""), Some(e), None)],
        },
        sink: crate::progress::discard(),
        budget: super::budget::Budget::new(opts.memory_bytes),
        // Logins are only tested: no workers, no extra pairs.
        pairs: super::budget::Pairs::new(1, 0),
        opts,
        cancel: super::Cancel::default(),
    });
    let limit = Arc::new(tokio::sync::Semaphore::new(
        ctx.opts.parallel_mailboxes.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in ctx.job.users.iter().cloned().enumerate() {
        let ctx = ctx.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let mut source = None;
            if ctx.reads_imap() {
                match ImapClient::connect(&ctx.source_endpoint(), &ctx.source_login(&user)).await {
                    Ok(c) => c.logout().await,
                    Err(e) => source = Some(e),
                }
            }
            if let (None, Some(ep)) = (&source, ctx.pop3_endpoint()) {
                match Pop3Client::connect(&ep, &user.source_user, &user.source_password).await {
                    Ok(c) => c.quit().await,
                    Err(e) => source = Some(e),
                }
            }
            let destination = match ImapClient::connect(
                &ctx.destination_endpoint(),
                &ctx.destination_login(&user),
            )
            .await
            {
                Ok(c) => {
                    c.logout().await;
                    None
                }
                Err(e) => Some(e),
            };
            (
                i,
                LoginCheck::new((&user.source_user, &user.local_user), source, destination),
            )
        });
    }
    let mut out = Vec::new();
    while let Some(Ok(r)) = tasks.join_next().await {
        out.push(r);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, c)| c).collect()
}
