//! The page's contract with the app, generated from the Rust types: every
//! type that crosses (`ui/contract.d.ts`, for JSDoc types checked by the
//! TypeScript compiler) and an empty value of each record the page builds
//! on (`ui/fixtures.js`, for the page's tests and the mock backend). One
//! source of truth: a test fails when either file is out of date, and
//! `MAILFERRY_WRITE_CONTRACT=1 cargo test -p mailferry-app contract`
//! rewrites them.

use mailferry::copy::LoginCheck;
use mailferry::error::{CatalogueEntry, ErrorClass};
use mailferry::job::{PreviewLine, UsersPreview};
use mailferry::outcome::{
    FolderOutcome, MessageBrief, MessageFailure, OversizedMessage, PlannedMessage, Verdict,
    Verification,
};
use mailferry::preflight::{
    Estimate, FolderMapping, FolderPreflight, MailboxPreflight, PreflightProgress, PreflightReport,
    PreflightWarning, QuotaUse, WarningKind,
};
use mailferry::service::{
    EditForm, HistoryRow, JobKind, JobState, JobView, LoginEvent, LoginTest, PreflightRun,
    RowState, RowView, StateCounts, Totals, Update,
};
use mailferry::store::RunSummary;
use ts_rs::{Config, TS};

use crate::form::{CommandError, ErrorCode, JobRequest, Validation};
use crate::signin::{
    host_presets, HostPreset, HostSignIn, OAuthMailbox, OAuthProvider, Side, SignInEvent,
    SignInFlow,
};
use crate::vault::{VaultKind, VaultStatus};
use crate::Notice;

/// Every command the page may call: its name, its arguments and what it
/// answers (TypeScript). Errors are always a `CommandError`.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("validate_job", "{ request: JobRequest }", "Validation"),
    (
        "preview_users",
        "{ list: string, delimiter: string, source_admin?: boolean | null, source_oauth?: SignInFlow | null }",
        "UsersPreview",
    ),
    ("pick_certificate", "{}", "string | null"),
    (
        "import_users",
        "{ bytes: number[], delimiter: string }",
        "string",
    ),
    (
        "test_logins",
        "{ request: JobRequest, on_event: Channel<LoginEvent> }",
        "LoginTest",
    ),
    ("cancel_login_test", "{}", "boolean"),
    (
        "preflight_job",
        "{ request: JobRequest, on_event: Channel<PreflightProgress> }",
        "PreflightRun",
    ),
    ("cancel_preflight", "{}", "boolean"),
    ("preflight_report", "{ run_id: number }", "PreflightReport"),
    (
        "download_preflight",
        "{ run_id: number, format: string }",
        "string | null",
    ),
    (
        "start_job",
        "{ request: JobRequest, dry_run?: boolean | null, on_event: Channel<Update> }",
        "JobView",
    ),
    (
        "attach_job",
        "{ job_id: number, on_event: Channel<Update> }",
        "JobView | null",
    ),
    ("list_jobs", "{}", "JobView[]"),
    ("cancel_job", "{ job_id: number }", "boolean"),
    ("history", "{}", "HistoryRow[]"),
    ("run_details", "{ run_id: number }", "JobView"),
    (
        "rerun_job",
        "{ run_id: number, on_event: Channel<Update> }",
        "JobView",
    ),
    (
        "retry_failed",
        "{ run_id: number, on_event: Channel<Update> }",
        "JobView",
    ),
    ("edit_form", "{ run_id: number }", "EditForm"),
    (
        "verify_job",
        "{ run_id: number, on_event: Channel<Update> }",
        "JobView",
    ),
    (
        "download_log",
        "{ run_id: number, format: 'text' | 'csv' }",
        "string | null",
    ),
    (
        "download_verification_log",
        "{ job_id: number, format: 'text' | 'csv' }",
        "string | null",
    ),
    ("vault_status", "{}", "VaultStatus"),
    ("vault_use_memory", "{}", "VaultStatus"),
    ("vault_retry", "{}", "VaultStatus"),
    ("watch_app", "{ on_notice: Channel<Notice> }", "null"),
    ("confirm_close", "{}", "null"),
    ("error_catalogue", "{}", "CatalogueEntry[]"),
    ("host_presets", "{}", "HostPreset[]"),
    (
        "oauth_status",
        "{ request: JobRequest, side: Side }",
        "OAuthMailbox[]",
    ),
    (
        "oauth_sign_in",
        "{ request: JobRequest, side: Side, user: string, on_event: Channel<SignInEvent> }",
        "OAuthMailbox",
    ),
    ("cancel_sign_in", "{}", "boolean"),
    ("open_link", "{ url: string }", "null"),
];

const HEADER: &str = "// Generated from MailFerry's Rust types (src-tauri/src/contract.rs): do not edit.\n// MAILFERRY_WRITE_CONTRACT=1 cargo test -p mailferry-app contract rewrites it.\n";

/// `ui/contract.d.ts`: every type that crosses between the page and the app.
pub fn typescript() -> String {
    // JSON numbers: serde writes u64 and i64 as plain numbers.
    let cfg = Config::new().with_large_int("number");
    let decls = [
        Update::decl(&cfg),
        JobView::decl(&cfg),
        JobKind::decl(&cfg),
        JobState::decl(&cfg),
        RowView::decl(&cfg),
        Totals::decl(&cfg),
        StateCounts::decl(&cfg),
        RowState::decl(&cfg),
        Verdict::decl(&cfg),
        FolderOutcome::decl(&cfg),
        MessageFailure::decl(&cfg),
        OversizedMessage::decl(&cfg),
        PlannedMessage::decl(&cfg),
        Verification::decl(&cfg),
        MessageBrief::decl(&cfg),
        HistoryRow::decl(&cfg),
        EditForm::decl(&cfg),
        RunSummary::decl(&cfg),
        LoginEvent::decl(&cfg),
        LoginTest::decl(&cfg),
        LoginCheck::decl(&cfg),
        PreflightProgress::decl(&cfg),
        PreflightRun::decl(&cfg),
        PreflightReport::decl(&cfg),
        MailboxPreflight::decl(&cfg),
        FolderPreflight::decl(&cfg),
        FolderMapping::decl(&cfg),
        QuotaUse::decl(&cfg),
        Estimate::decl(&cfg),
        PreflightWarning::decl(&cfg),
        WarningKind::decl(&cfg),
        CatalogueEntry::decl(&cfg),
        ErrorClass::decl(&cfg),
        JobRequest::decl(&cfg),
        Validation::decl(&cfg),
        UsersPreview::decl(&cfg),
        PreviewLine::decl(&cfg),
        CommandError::decl(&cfg),
        ErrorCode::decl(&cfg),
        VaultStatus::decl(&cfg),
        VaultKind::decl(&cfg),
        Notice::decl(&cfg),
        HostPreset::decl(&cfg),
        HostSignIn::decl(&cfg),
        OAuthProvider::decl(&cfg),
        SignInFlow::decl(&cfg),
        Side::decl(&cfg),
        OAuthMailbox::decl(&cfg),
        SignInEvent::decl(&cfg),
    ];
    let mut out = String::from(HEADER);
    out += "\n/** A Tauri Channel: what the app sends over it arrives in `onmessage`. */\n";
    out += "export type Channel<T> = { onmessage: (message: T) => void };\n";
    for d in decls {
        out += "\nexport ";
        out += &d;
        out += "\n";
    }
    out += "\n/** Every command: its arguments and its answer; a failure is a `CommandError`. */\nexport type Commands = {\n";
    for (name, args, answer) in COMMANDS {
        out += &format!("  {name}: {{ args: {args}; answer: {answer} }};\n");
    }
    out += "};\n";
    out
}

/// `ui/fixtures.js`: an empty value of each record the page builds on, and
/// the values of each enum. Tests and the mock backend start from these, so
/// a field added in Rust reaches them with no edit of theirs.
pub fn fixtures() -> String {
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default();
    let row = serde_json::to_value(RowView::pending("", "")).unwrap_or_default();
    let folder = serde_json::to_value(FolderOutcome::default()).unwrap_or_default();
    let mut view =
        serde_json::to_value(JobView::of_run(0, &Default::default())).unwrap_or_default();
    view["run_id"] = serde_json::Value::Null;
    view["verdict"] = serde_json::Value::Null;
    view["state"] = "running".into();
    let words = |all: &[&str]| json(all.iter().map(|w| serde_json::json!(w)).collect());
    format!(
        "{HEADER}\n/** @typedef {{import('./contract').RowView}} RowView */\n/** @typedef {{import('./contract').FolderOutcome}} FolderOutcome */\n/** @typedef {{import('./contract').JobView}} JobView */\n\n/** A pending row, every field present. @type {{RowView}} */\nexport const ROW = {};\n\n/** A folder that did nothing yet. @type {{FolderOutcome}} */\nexport const FOLDER = {};\n\n/** A running job without rows. @type {{JobView}} */\nexport const VIEW = {};\n\nexport const ROW_STATES = {};\nexport const JOB_STATES = {};\nexport const ERROR_CODES = {};\n\n/** Every command the app registers. */\nexport const COMMANDS = {};\n\n/** The engine's host presets, as `host_presets` answers. @type {{import('./contract').HostPreset[]}} */\nexport const PRESETS = {};\n",
        json(row),
        json(folder),
        json(view),
        words(&["pending", "running", "success", "partial", "failed"]),
        words(&["starting", "running", "cancelling", "finished"]),
        words(
            &[
                ErrorCode::InvalidJob,
                ErrorCode::NameTaken,
                ErrorCode::JobRunning,
                ErrorCode::NoName,
                ErrorCode::VaultUnavailable,
                ErrorCode::Vault,
                ErrorCode::NotSaved,
                ErrorCode::NotFound,
                ErrorCode::Database,
                ErrorCode::SaveFailed,
                ErrorCode::NothingToRetry,
                ErrorCode::SignInFailed,
                ErrorCode::Internal,
            ]
            .map(|c| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
        ),
        words(&COMMANDS.iter().map(|c| c.0).collect::<Vec<_>>()),
        json(serde_json::to_value(host_presets()).unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ui(file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../ui")
            .join(file)
    }

    #[test]
    fn the_contract_files_are_generated_from_the_rust_types() {
        let files = [("contract.d.ts", typescript()), ("fixtures.js", fixtures())];
        let write = std::env::var_os("MAILFERRY_WRITE_CONTRACT").is_some();
        for (name, text) in files {
            let path = ui(name);
            if write {
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "ui/{name} is out of date with the Rust types: run MAILFERRY_WRITE_CONTRACT=1 cargo test -p mailferry-app contract"
            );
        }
    }

    /// Every command the app registers is in the contract, and no other;
    /// and each has its permission (build.rs).
    #[test]
    fn the_contract_names_every_command() {
        let lib = include_str!("lib.rs");
        let start = lib.find("generate_handler![").unwrap();
        let end = start + lib[start..].find(']').unwrap();
        let mut registered: Vec<&str> = lib[start..end]
            .split("commands::")
            .skip(1)
            .map(|s| s.trim_end_matches(|c: char| c == ',' || c.is_whitespace()))
            .collect();
        let mut listed: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
        registered.sort_unstable();
        listed.sort_unstable();
        assert_eq!(registered, listed);
        let build = include_str!("../build.rs");
        let start = build.find("const COMMANDS").unwrap();
        let end = start + build[start..].find("];").unwrap();
        let mut permitted: Vec<&str> = build[start..end].split('"').skip(1).step_by(2).collect();
        permitted.sort_unstable();
        assert_eq!(permitted, listed, "src-tauri/build.rs");
    }
}
