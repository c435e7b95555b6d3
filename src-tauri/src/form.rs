//! The page's form, as the engine reads it: the form sends a `JobFile` as
//! JSON (the same shape as the TOML job file), and the engine's own parser
//! validates it. Nothing here parses user lists or folder rules again.

use std::path::{Path, PathBuf};

use mailferry::job::{Job, JobError, JobFile};
use mailferry::service::StartError;
use mailferry::store::BeginError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::vault::VaultError;

/// What the page sends to validate, test or start a job.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct JobRequest {
    /// A `JobFile` (see docs/job-file.md), as JSON.
    #[ts(type = "Record<string, unknown>")]
    pub job: serde_json::Value,
}

/// What kind of failure a command met: the page acts on this, never on
/// the words.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The form (the job) is not valid: `field` and `line` say where.
    InvalidJob,
    /// Another job, for other servers, has the name.
    NameTaken,
    /// The job is running: it cannot be verified until it has finished.
    JobRunning,
    /// The job has no name (verification needs one).
    NoName,
    /// No keyring to keep the passwords in (yet).
    VaultUnavailable,
    /// A password could not be kept or read back.
    Vault,
    /// The job was not started from the app: its passwords are not kept.
    NotSaved,
    /// No such run or job.
    NotFound,
    /// MailFerry's database could not be used.
    Database,
    /// A file could not be written.
    SaveFailed,
    /// Retry failed found no failed mailbox of the run in its job.
    NothingToRetry,
    /// An OAuth sign-in did not finish: refused, expired, or the provider
    /// could not be reached.
    SignInFailed,
    /// A fault in MailFerry itself.
    Internal,
}

/// Why a command failed: a code to act on, the field of the form it is
/// about (`job` for the job as a whole) and the line in that field's text
/// (1-based: user list, translations), and the words to show.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct CommandError {
    pub code: ErrorCode,
    pub field: String,
    pub line: Option<usize>,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, field: &str, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            field: field.to_string(),
            line: None,
            message: message.into(),
        }
    }

    /// A failure of the job as a whole.
    pub fn job(code: ErrorCode, message: impl Into<String>) -> CommandError {
        CommandError::new(code, "job", message)
    }
}

impl From<JobError> for CommandError {
    fn from(e: JobError) -> Self {
        CommandError {
            code: ErrorCode::InvalidJob,
            field: e.field().to_string(),
            line: e.line(),
            message: e.to_string(),
        }
    }
}

impl From<VaultError> for CommandError {
    fn from(e: VaultError) -> Self {
        CommandError::new(ErrorCode::Vault, "vault", e.0)
    }
}

impl From<StartError> for CommandError {
    fn from(e: StartError) -> Self {
        let code = match &e {
            StartError::Begin(BeginError::NameTaken(_)) => ErrorCode::NameTaken,
            StartError::Begin(BeginError::Store(_)) => ErrorCode::Database,
            StartError::Verify(_) => ErrorCode::NoName,
            StartError::Running(_) => ErrorCode::JobRunning,
        };
        CommandError::new(code, e.field(), e.to_string())
    }
}

/// The answer to "validate".
#[derive(Debug, Clone, Serialize, TS)]
pub struct Validation {
    pub ok: bool,
    pub error: Option<CommandError>,
    pub warnings: Vec<String>,
    pub mailboxes: usize,
}

/// Relative paths in the form (certificate files) are taken from the
/// user's home folder.
pub fn base_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn parse(req: &JobRequest, base: &Path) -> Result<Job, CommandError> {
    let file: JobFile = serde_json::from_value(req.job.clone()).map_err(|e| {
        CommandError::new(
            ErrorCode::InvalidJob,
            "form",
            format!("The form could not be read ({e}). Reload the page and fill it in again."),
        )
    })?;
    Ok(file.validate(base)?)
}

pub fn validate(req: &JobRequest, base: &Path) -> Validation {
    match parse(req, base) {
        Ok(job) => Validation {
            ok: true,
            error: None,
            warnings: job.warnings(),
            mailboxes: job.users.len(),
        },
        Err(e) => Validation {
            ok: false,
            error: Some(e),
            warnings: Vec::new(),
            mailboxes: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(list: &str) -> JobRequest {
        JobRequest {
            job: serde_json::json!({
                "name": "acme",
                "source": {"host": "old.example", "protocol": "imap4s", "ports": {"imap4": [143], "imap4s": [993], "pop3": [110], "pop3s": [995]}},
                "destination": {"host": "new.example", "port": 993, "security": "tls", "auth": "master",
                                "master_user": "admin", "master_password": "admin-secret", "master_method": "sasl-plain"},
                "folders": {"skip": "Trash", "translate": "Sent Items,Sent"},
                "users": {"delimiter": ";", "list": list}
            }),
        }
    }

    #[test]
    fn the_engine_parser_names_field_and_line() {
        let v = validate(&request("jane;pw-1\nbob"), Path::new("/"));
        assert!(!v.ok);
        let e = v.error.unwrap();
        assert_eq!(e.field, "users");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("User list, line 2"), "{}", e.message);
        let v = validate(&request("jane;pw-1"), Path::new("/"));
        assert!(v.ok, "{:?}", v.error);
        assert_eq!(v.mailboxes, 1);
    }
}
