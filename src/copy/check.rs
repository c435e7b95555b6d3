//! "Test logins": log in to both servers for every mailbox of a job, without
//! copying anything, and say which fail and why.

use std::sync::Arc;

use serde::Serialize;
use ts_rs::TS;

use super::run::each_at_most;
use super::{Connector, Options};
use crate::error::MailError;
use crate::job::{Job, UserEntry};

/// The result of trying one mailbox's logins.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
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
    let connect = Arc::new(Connector::new(&job, &opts));
    let users = job.users;
    let checks = each_at_most(users.len(), opts.parallel_mailboxes, |i| {
        let (connect, user) = (connect.clone(), users[i].clone());
        async move { check(&connect, &user).await }
    })
    .await;
    users
        .iter()
        .zip(checks)
        .map(|(u, c)| {
            c.unwrap_or_else(|fault| {
                LoginCheck::new(
                    (&u.source_user, &u.local_user),
                    Some(MailError::Internal(fault)),
                    None,
                )
            })
        })
        .collect()
}

/// Both logins of one mailbox.
async fn check(connect: &Connector, user: &UserEntry) -> LoginCheck {
    let mut source = None;
    match connect.source_imap(user).await {
        Ok(Some(c)) => c.logout().await,
        Ok(None) => {}
        Err(e) => source = Some(e),
    }
    if source.is_none() && connect.reads_pop3() {
        match connect.source_pop3(user).await {
            Ok(c) => c.quit().await,
            Err(e) => source = Some(e),
        }
    }
    let destination = match connect.destination(user).await {
        Ok(c) => {
            c.logout().await;
            None
        }
        Err(e) => Some(e),
    };
    LoginCheck::new((&user.source_user, &user.local_user), source, destination)
}
