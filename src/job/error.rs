//! Everything that can be wrong with a job before it runs.

use std::path::PathBuf;

/// A job that cannot run as written. Each message says what is wrong and
/// what to change; a line number refers to the list the user typed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum JobError {
    #[error("The job file could not be read ({path}): {reason}. Check the path and that the file is readable.")]
    Unreadable { path: PathBuf, reason: String },

    #[error("The job file is not valid: {0}. See docs/job-file.md for the format.")]
    Syntax(String),

    #[error("The source server is missing. Fill in the host name of the old mail server.")]
    MissingSourceHost,

    #[error("The destination server is missing. Fill in the host name of the new mail server.")]
    MissingDestinationHost,

    #[error("A host name may not contain spaces or control characters: {0:?}.")]
    BadHost(String),

    #[error("Every {protocol} port is disabled (0) or none is given. Enter at least one port for {protocol}, or choose another protocol.")]
    NoPorts { protocol: String },

    #[error("User list, line {line}: {reason}")]
    UserLine { line: usize, reason: String },

    #[error("The user list is empty. Add one line per mailbox: source_user{delimiter}source_password[{delimiter}local_user[{delimiter}local_password]].")]
    NoUsers { delimiter: char },

    #[error("The job has {count} mailboxes; a job can hold at most {max}. Split the user list into batches of {max} or fewer and run one job per batch.")]
    TooManyMailboxes { count: usize, max: usize },

    #[error("The spreadsheet could not be used as the user list: {0}. Save it again from the spreadsheet program (or as CSV) and pick it again.")]
    Spreadsheet(String),

    #[error("The user-list delimiter must be a single character other than a space, a quote or a line break (a tab is fine); {0:?} is not.")]
    BadDelimiter(String),

    #[error("Folder translations, line {line}: {reason}")]
    TranslationLine { line: usize, reason: String },

    #[error("Destination logins use each user's own password, but line {line} of the user list has no local password (4th column). Add it, or log in to the destination as an admin (master) user.")]
    MissingLocalPassword { line: usize },

    #[error("The destination is set to log in as an admin (master) user, but {0} is missing.")]
    MissingMaster(&'static str),

    #[error(
        "The source is set to log in as the old host's admin (master) user, but {0} is missing."
    )]
    MissingSourceMaster(&'static str),

    #[error("OAuth sign-in for the {side}: {reason}.")]
    BadOAuth { side: &'static str, reason: String },

    #[error("Filters: {key} {reason}")]
    BadFilter { key: &'static str, reason: String },

    #[error("The certificate authority file {path} could not be read: {reason}.")]
    CaFile { path: PathBuf, reason: String },

    #[error("The job name {0:?} is too long or holds a line break; use at most 100 characters on one line.")]
    BadName(String),

    #[error("The option {key} is out of range: {reason}. Change it in the job's [options], or remove it to use the default.")]
    BadOption { key: &'static str, reason: String },
}

impl JobError {
    /// The form field an error belongs to, so the app can show it there.
    pub fn field(&self) -> &'static str {
        match self {
            JobError::Unreadable { .. } | JobError::Syntax(_) => "file",
            JobError::MissingSourceHost | JobError::BadHost(_) => "source.host",
            JobError::MissingDestinationHost => "destination.host",
            JobError::NoPorts { .. } => "source.ports",
            JobError::UserLine { .. }
            | JobError::NoUsers { .. }
            | JobError::TooManyMailboxes { .. }
            | JobError::Spreadsheet(_)
            | JobError::MissingLocalPassword { .. } => "users",
            JobError::BadDelimiter(_) => "users.delimiter",
            JobError::TranslationLine { .. } => "folders.translate",
            JobError::MissingMaster(_) => "destination.master",
            JobError::MissingSourceMaster(_) => "source.master",
            JobError::BadOAuth { side, .. } => match *side {
                "source" => "source.oauth",
                _ => "destination.oauth",
            },
            JobError::BadFilter { key, .. } => match *key {
                "since" => "filters.since",
                "before" => "filters.before",
                _ => "filters.max_message_mb",
            },
            JobError::CaFile { .. } => "ca_file",
            JobError::BadName(_) => "name",
            JobError::BadOption { .. } => "options",
        }
    }

    /// The 1-based line of the list the error is about, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            JobError::UserLine { line, .. }
            | JobError::TranslationLine { line, .. }
            | JobError::MissingLocalPassword { line } => Some(*line),
            _ => None,
        }
    }
}
