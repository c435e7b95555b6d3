//! The page's form, as the engine reads it: the form sends a `JobFile` as
//! JSON (the same shape as the TOML job file), and the engine's own parser
//! validates it. Nothing here parses user lists or folder rules again.

use std::path::{Path, PathBuf};

use mailferry::job::{DestinationAuth, Job, JobError, JobFile};
use mailferry::service::StartError;
use mailferry::store::BeginError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::vault::{secret_ref, Vault, VaultError};
use mailferry::store::{SavedJob, SavedUser};

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

/// The form without its passwords: `users.list` and the admin password
/// removed (the users are kept as [`SavedUser`]s with references).
pub fn without_secrets(form: &serde_json::Value) -> serde_json::Value {
    let mut form = form.clone();
    if let Some(users) = form.get_mut("users").and_then(|u| u.as_object_mut()) {
        users.remove("list");
    }
    if let Some(dest) = form.get_mut("destination").and_then(|d| d.as_object_mut()) {
        dest.remove("master_password");
    }
    form
}

/// Puts every password of `job` in the vault, and returns what SQLite may
/// keep: the form without passwords, and the references.
pub fn store_secrets(
    vault: &Vault,
    name: &str,
    form: &serde_json::Value,
    job: &Job,
) -> Result<SavedJob, VaultError> {
    let src = &job.source.host;
    let dst = &job.destination.host;
    let mut users = Vec::new();
    for u in &job.users {
        let source_password = secret_ref(name, "source", &u.source_user, src);
        vault.put(&source_password, u.source_password.expose())?;
        let local_password = match &u.local_password {
            Some(p) => {
                let r = secret_ref(name, "destination", &u.local_user, dst);
                vault.put(&r, p.expose())?;
                Some(r)
            }
            None => None,
        };
        users.push(SavedUser {
            source_user: u.source_user.clone(),
            source_password,
            local_user: u.local_user.clone(),
            local_password,
        });
    }
    let master_password = match &job.destination.auth {
        DestinationAuth::Master { user, password, .. } => {
            let r = secret_ref(name, "admin", user, dst);
            vault.put(&r, password.expose())?;
            Some(r)
        }
        DestinationAuth::PerUser => None,
    };
    Ok(SavedJob {
        job_name: name.to_string(),
        form: without_secrets(form),
        users,
        master_password,
        vault: vault.kind().to_string(),
    })
}

/// The form of a saved job with its passwords read back from the vault.
pub fn restore(vault: &Vault, saved: &SavedJob) -> Result<serde_json::Value, CommandError> {
    let missing = |r: &str| {
        CommandError::new(
            ErrorCode::Vault,
            "vault",
            format!(
                "The password {r:?} is no longer in the {}. Start the job again from New migration and type the passwords.",
                if saved.vault == "memory" { "memory of an earlier run of MailFerry" } else { "keyring" }
            ),
        )
    };
    let mut form = saved.form.clone();
    let delimiter = form
        .pointer("/users/delimiter")
        .and_then(|d| d.as_str())
        .and_then(|d| d.chars().next())
        .unwrap_or(',');
    let mut list = String::new();
    for u in &saved.users {
        let sp = vault
            .get(&u.source_password)?
            .ok_or_else(|| missing(&u.source_password))?;
        list.push_str(&format!(
            "{}{delimiter}{sp}{delimiter}{}",
            u.source_user, u.local_user
        ));
        if let Some(r) = &u.local_password {
            let lp = vault.get(r)?.ok_or_else(|| missing(r))?;
            list.push_str(&format!("{delimiter}{lp}"));
        }
        list.push('\n');
    }
    if let Some(users) = form.get_mut("users").and_then(|u| u.as_object_mut()) {
        users.insert("list".into(), list.into());
        users.remove("file");
    }
    if let Some(r) = &saved.master_password {
        let mp = vault.get(r)?.ok_or_else(|| missing(r))?;
        if let Some(dest) = form.get_mut("destination").and_then(|d| d.as_object_mut()) {
            dest.insert("master_password".into(), mp.into());
        }
    }
    Ok(form)
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

    #[test]
    fn secrets_go_to_the_vault_and_come_back() {
        let vault = Vault::memory();
        let req = request("jane;pw-1;jane.doe;pw;with;delims");
        let job = parse(&req, Path::new("/")).unwrap();
        let saved = store_secrets(&vault, "acme", &req.job, &job).unwrap();
        let stored = serde_json::to_string(&saved.form).unwrap()
            + &serde_json::to_string(&saved.users).unwrap()
            + saved.master_password.as_deref().unwrap();
        for secret in ["pw-1", "admin-secret", "pw;with;delims"] {
            assert!(!stored.contains(secret), "{secret} in {stored}");
        }
        let form = restore(&vault, &saved).unwrap();
        let again = parse(&JobRequest { job: form }, Path::new("/")).unwrap();
        assert_eq!(again, job_with_lines_of(&again, &job));
    }

    /// Line numbers may differ between the typed list and the restored one.
    fn job_with_lines_of(target: &Job, job: &Job) -> Job {
        let mut j = job.clone();
        for (u, t) in j.users.iter_mut().zip(&target.users) {
            u.line = t.line;
        }
        j
    }

    #[test]
    fn a_missing_keyring_entry_is_explained() {
        let vault = Vault::memory();
        let req = request("jane;pw-1");
        let job = parse(&req, Path::new("/")).unwrap();
        let saved = store_secrets(&vault, "acme", &req.job, &job).unwrap();
        let other = Vault::memory();
        let e = restore(&other, &saved).unwrap_err();
        assert_eq!(e.field, "vault");
        assert!(e.message.contains("type the passwords"));
    }
}
