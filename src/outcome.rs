//! What a run did: per folder, per mailbox, per job.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The catalogue code of a pause at the host's daily limit: the rest waits
/// for the next run, so what stopped there is partial, never failed.
const DAILY_LIMIT: &str = "daily-limit";

/// The overall word for a folder, mailbox or job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Success,
    Partial,
    Failed,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Success => "success",
            Verdict::Partial => "partial",
            Verdict::Failed => "failed",
        }
    }

    /// Combines parts: all success → success, all failed → failed.
    pub fn combine(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let (mut any, mut all_ok, mut all_failed) = (false, true, true);
        for v in parts {
            any = true;
            all_ok &= v == Verdict::Success;
            all_failed &= v == Verdict::Failed;
        }
        match (any, all_ok, all_failed) {
            (false, _, _) | (_, true, _) => Verdict::Success,
            (_, _, true) => Verdict::Failed,
            _ => Verdict::Partial,
        }
    }
}

/// A message that could not be copied, described so a person can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MessageFailure {
    /// The IMAP UID or POP3 UIDL on the source.
    pub source_id: String,
    pub date: String,
    pub from: String,
    pub subject: String,
    pub reason: String,
    /// The reason's entry in the error catalogue (`docs/errors.md`, the
    /// app's help page); empty in runs recorded before codes were kept.
    #[serde(default)]
    pub code: String,
}

/// A message named so a person can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct MessageBrief {
    /// The source's IMAP UID or POP3 UIDL; for a copy found only on the
    /// destination, `destination UID n`.
    pub id: String,
    pub date: String,
    pub from: String,
    pub subject: String,
}

/// What the verification pass found, comparing a source folder with its
/// destination folder as both servers hold them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct Verification {
    pub source_messages: u64,
    pub destination_messages: u64,
    /// Source messages the destination lacks.
    pub missing: Vec<MessageBrief>,
    /// Copies on the destination beyond what the source holds (duplicates).
    pub extra: Vec<MessageBrief>,
    /// Messages of the destination folder that are not from this source
    /// folder (another folder translated into it, mail that arrived
    /// there): counted, not a fault.
    pub other: u64,
}

impl Verification {
    pub fn verified(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }

    /// "verified" or what differs, in a few words.
    pub fn summary(&self) -> String {
        if self.verified() {
            return format!(
                "verified: all {} source message{} on the destination, none twice",
                self.source_messages,
                if self.source_messages == 1 { "" } else { "s" }
            );
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("{} missing", self.missing.len()));
        }
        if !self.extra.is_empty() {
            parts.push(format!("{} extra", self.extra.len()));
        }
        format!(
            "NOT verified: {} ({} on the source, {} on the destination)",
            parts.join(", "),
            self.source_messages,
            self.destination_messages
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct FolderOutcome {
    /// The folder's name on the source, as the user sees it.
    pub source: String,
    /// Its name on the destination, as the user sees it.
    pub destination: String,
    pub migrated: u64,
    /// Already on the destination (by ledger or content): not copied again.
    pub skipped: u64,
    pub failed: u64,
    pub bytes: u64,
    /// Things the user should know that are not failures (renames, flags
    /// the destination does not keep).
    pub notes: Vec<String>,
    pub failures: Vec<MessageFailure>,
    /// Set when the folder as a whole could not be copied.
    pub error: Option<String>,
    /// The error's entry in the error catalogue.
    #[serde(default)]
    pub error_code: Option<String>,
    /// The verification pass's finding, when it ran.
    #[serde(default)]
    pub verification: Option<Box<Verification>>,
    /// Left out by the job's filters (date or size): skipped by a rule,
    /// not a fault; neither copied nor verified.
    #[serde(default)]
    pub filtered: u64,
    #[serde(default)]
    pub filtered_bytes: u64,
    /// Those of them left out for their size, each named: the customer
    /// must know which large messages did not move.
    #[serde(default)]
    pub oversized: Vec<OversizedMessage>,
    /// A dry run's plan for the folder: every message it would copy (none
    /// was). Empty for a migration.
    #[serde(default)]
    pub would_copy: Vec<PlannedMessage>,
}

/// A message a dry run would copy, named so a person can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct PlannedMessage {
    /// The IMAP UID or POP3 UIDL on the source.
    pub source_id: String,
    pub date: String,
    pub from: String,
    pub subject: String,
    /// Its size on the source (IMAP RFC822.SIZE, POP3 LIST).
    pub size: u64,
}

/// A message the job's size limit left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
pub struct OversizedMessage {
    /// The IMAP UID or POP3 UIDL on the source.
    pub source_id: String,
    /// Date, sender and subject from its header; empty when the source
    /// could not give the header cheaply (a POP3 server without TOP).
    pub date: String,
    pub from: String,
    pub subject: String,
    /// Its size on the source (IMAP RFC822.SIZE, POP3 LIST).
    pub size: u64,
}

impl FolderOutcome {
    /// What a dry run would copy of this folder: messages and bytes.
    pub fn would_copy(&self) -> (u64, u64) {
        (
            self.would_copy.len() as u64,
            self.would_copy.iter().map(|m| m.size).sum(),
        )
    }

    pub fn verdict(&self) -> Verdict {
        let unverified = self.verification.as_ref().is_some_and(|v| !v.verified());
        let paused = self.error_code.as_deref() == Some(DAILY_LIMIT);
        match (self.error.is_some(), self.failed > 0 || unverified) {
            (false, false) => Verdict::Success,
            (true, _) if self.migrated == 0 && self.skipped == 0 && !paused => Verdict::Failed,
            _ => Verdict::Partial,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MailboxOutcome {
    pub source_user: String,
    pub local_user: String,
    pub folders: Vec<FolderOutcome>,
    /// Why the mailbox stopped, when it could not finish.
    pub error: Option<String>,
    /// The error's entry in the error catalogue.
    #[serde(default)]
    pub error_code: Option<String>,
    pub elapsed_ms: u64,
    /// What the user should know of the mailbox as a whole: a dry run's
    /// folders to create that no copied folder accounts for.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl MailboxOutcome {
    pub fn verdict(&self) -> Verdict {
        let folders = Verdict::combine(self.folders.iter().map(FolderOutcome::verdict));
        let paused = self.error_code.as_deref() == Some(DAILY_LIMIT);
        match (&self.error, folders) {
            (None, v) => v,
            (Some(_), _) if paused => Verdict::Partial,
            (Some(_), _) if self.migrated() == 0 && self.skipped() == 0 => Verdict::Failed,
            (Some(_), _) => Verdict::Partial,
        }
    }

    pub fn migrated(&self) -> u64 {
        self.folders.iter().map(|f| f.migrated).sum()
    }
    pub fn skipped(&self) -> u64 {
        self.folders.iter().map(|f| f.skipped).sum()
    }
    pub fn failed(&self) -> u64 {
        self.folders.iter().map(|f| f.failed).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.folders.iter().map(|f| f.bytes).sum()
    }
    /// Left out by the job's filters.
    pub fn filtered(&self) -> u64 {
        self.folders.iter().map(|f| f.filtered).sum()
    }
    /// What a dry run would copy: messages and bytes.
    pub fn would_copy(&self) -> (u64, u64) {
        self.folders
            .iter()
            .map(FolderOutcome::would_copy)
            .fold((0, 0), |(m, b), (m2, b2)| (m + m2, b + b2))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JobOutcome {
    pub name: String,
    pub started_at: String,
    pub finished_at: String,
    pub source: String,
    pub destination: String,
    pub mailboxes: Vec<MailboxOutcome>,
    /// The job's filters in words (empty: none), for the log.
    #[serde(default)]
    pub filters: String,
    /// A dry run: nothing was created, copied or recorded; the folders'
    /// `would_copy` say what a run would copy.
    #[serde(default)]
    pub dry_run: bool,
}

impl JobOutcome {
    /// What a dry run would copy: messages and bytes.
    pub fn would_copy(&self) -> (u64, u64) {
        self.mailboxes
            .iter()
            .map(MailboxOutcome::would_copy)
            .fold((0, 0), |(m, b), (m2, b2)| (m + m2, b + b2))
    }
    pub fn verdict(&self) -> Verdict {
        Verdict::combine(self.mailboxes.iter().map(MailboxOutcome::verdict))
    }
    pub fn migrated(&self) -> u64 {
        self.mailboxes.iter().map(MailboxOutcome::migrated).sum()
    }
    pub fn skipped(&self) -> u64 {
        self.mailboxes.iter().map(MailboxOutcome::skipped).sum()
    }
    pub fn failed(&self) -> u64 {
        self.mailboxes.iter().map(MailboxOutcome::failed).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.mailboxes.iter().map(MailboxOutcome::bytes).sum()
    }
    pub fn filtered(&self) -> u64 {
        self.mailboxes.iter().map(MailboxOutcome::filtered).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_combine() {
        use Verdict::*;
        assert_eq!(Verdict::combine([Success, Success]), Success);
        assert_eq!(Verdict::combine([Failed, Failed]), Failed);
        assert_eq!(Verdict::combine([Success, Failed]), Partial);
        assert_eq!(Verdict::combine([]), Success);
    }

    #[test]
    fn mailbox_that_stopped_after_copying_is_partial() {
        let mut m = MailboxOutcome {
            error: Some("full".into()),
            ..Default::default()
        };
        assert_eq!(m.verdict(), Verdict::Failed);
        m.folders.push(FolderOutcome {
            migrated: 3,
            ..Default::default()
        });
        assert_eq!(m.verdict(), Verdict::Partial);
    }

    #[test]
    fn a_mailbox_paused_at_its_daily_limit_is_partial_even_before_any_message() {
        let paused = |migrated| MailboxOutcome {
            error: Some("The daily limit was reached…".into()),
            error_code: Some("daily-limit".into()),
            folders: vec![FolderOutcome {
                migrated,
                error: Some("The daily limit was reached…".into()),
                error_code: Some("daily-limit".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        for m in [paused(0), paused(7)] {
            assert_eq!(m.verdict(), Verdict::Partial, "{m:?}");
            assert_eq!(m.folders[0].verdict(), Verdict::Partial);
        }
        // Any other stop before a message got through is a failure.
        let mut other = paused(0);
        other.error_code = Some("over-quota".into());
        other.folders[0].error_code = Some("over-quota".into());
        assert_eq!(other.verdict(), Verdict::Failed);
        assert_eq!(other.folders[0].verdict(), Verdict::Failed);
    }
}
