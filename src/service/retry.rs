//! Retry failed: a job again with only the mailboxes one of its runs left
//! failed or partial. The copy skips what is already there, so a retry
//! copies only what the run did not.

use crate::error::MailError;
use crate::job::Job;
use crate::outcome::{JobOutcome, Verdict};
use crate::store::Store;

/// Why there is nothing to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError {
    #[error("Run #{0} has not finished, or is not in the history: there is nothing to retry yet.")]
    NotFinished(i64),
    #[error("Every mailbox of run #{0} succeeded: there is nothing to retry.")]
    NothingFailed(i64),
    /// The job's user list changed since the run: its failed mailboxes are
    /// not in it any more.
    #[error("The mailboxes that failed in run #{0} are no longer in job {1}'s user list: run the job again instead.")]
    NotInJob(i64, String),
    #[error(transparent)]
    Store(#[from] MailError),
}

/// `job` cut down to the mailboxes that `run_id` left failed or partial,
/// in the job's order.
pub(super) fn failed_of_run(store: &Store, job: Job, run_id: i64) -> Result<Job, RetryError> {
    let outcome = store
        .run_outcome(run_id)?
        .ok_or(RetryError::NotFinished(run_id))?;
    failed_only(job, &outcome, run_id)
}

fn failed_only(mut job: Job, outcome: &JobOutcome, run_id: i64) -> Result<Job, RetryError> {
    // Mail servers compare user names without case (the user list does too).
    let failed: Vec<(String, String)> = outcome
        .mailboxes
        .iter()
        .filter(|m| m.verdict() != Verdict::Success)
        .map(|m| (m.source_user.to_lowercase(), m.local_user.to_lowercase()))
        .collect();
    if failed.is_empty() {
        return Err(RetryError::NothingFailed(run_id));
    }
    job.users.retain(|u| {
        let key = (u.source_user.to_lowercase(), u.local_user.to_lowercase());
        failed.contains(&key)
    });
    if job.users.is_empty() {
        let name = job.name.clone().unwrap_or_default();
        return Err(RetryError::NotInJob(run_id, name));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FolderOutcome, MailboxOutcome};

    fn job(users: &str) -> Job {
        let text = format!(
            "name = \"acme\"\n[source]\nhost = \"old.example\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"admin\"\nmaster_password = \"pw\"\n[users]\nlist = \"{users}\"\n"
        );
        crate::job::JobFile::from_toml(&text)
            .and_then(|f| f.validate(std::path::Path::new(".")))
            .expect("a valid job")
    }

    fn mailbox(user: &str, error: Option<&str>, failed: u64, skipped: u64) -> MailboxOutcome {
        MailboxOutcome {
            source_user: user.into(),
            local_user: user.into(),
            folders: vec![FolderOutcome {
                source: "INBOX".into(),
                failed,
                skipped,
                ..Default::default()
            }],
            error: error.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn only_failed_and_partial_mailboxes_run_again_in_the_jobs_order() {
        let outcome = JobOutcome {
            mailboxes: vec![
                mailbox("ann", None, 0, 3),
                mailbox("Bob", Some("the server refused the password"), 0, 0),
                mailbox("cy", None, 1, 2),
                mailbox("gone", Some("refused"), 0, 0),
            ],
            ..Default::default()
        };
        let retry = failed_only(job("ann,pw\\ncy,pw\\nbob,pw\\ndee,pw"), &outcome, 7).unwrap();
        let users: Vec<_> = retry.users.iter().map(|u| u.source_user.as_str()).collect();
        assert_eq!(users, ["cy", "bob"]);
        assert_eq!(retry.name.as_deref(), Some("acme"));
    }

    #[test]
    fn nothing_failed_or_nothing_left_is_said() {
        let ok = JobOutcome {
            mailboxes: vec![mailbox("ann", None, 0, 3)],
            ..Default::default()
        };
        assert_eq!(
            failed_only(job("ann,pw"), &ok, 7).unwrap_err(),
            RetryError::NothingFailed(7)
        );
        let bad = JobOutcome {
            mailboxes: vec![mailbox("zed", Some("refused"), 0, 0)],
            ..Default::default()
        };
        let err = failed_only(job("ann,pw"), &bad, 7).unwrap_err();
        assert_eq!(err, RetryError::NotInJob(7, "acme".into()));
        assert!(err.to_string().contains("run the job again instead"));
    }
}
