//! The commands the page may call (and nothing else: see
//! capabilities/main.json). Each translates between the page and the engine.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mailferry::copy::Options;
use mailferry::job::{OAuthFlow, SourcePasswords, UsersPreview};
use mailferry::oauth::refresh_token_ref;
use mailferry::preflight::{PreflightProgress, PreflightReport};
use mailferry::report::{file_stem, render_csv, render_log, render_verification_log};
use mailferry::service::{
    EditForm, HistoryRow, JobKind, JobView, LoginEvent, LoginTest, PreflightRun, RetryError,
    SavedError, Service, Update,
};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::form::{self, CommandError, ErrorCode, JobRequest, Validation};
use crate::jobs::watcher;
use crate::notify;
use crate::signin::{self, HostPreset, OAuthMailbox, Side, SignInEvent, SignInFlow};
use crate::vault::{VaultKind, VaultStatus};
use crate::{AppState, Notice};

/// Test only: when set, "Download log" writes into this folder instead of
/// asking with the save dialog (a WebDriver cannot drive a native dialog).
pub const SAVE_DIR_FOR_TESTS: &str = "MAILFERRY_TEST_SAVE_DIR";

/// Test only: when set, "Choose…" for a certificate answers this path
/// instead of opening the file dialog.
pub const PICK_FILE_FOR_TESTS: &str = "MAILFERRY_TEST_PICK_FILE";

fn service(state: &AppState) -> Result<&Service, CommandError> {
    state
        .service
        .as_ref()
        .map_err(|e| CommandError::job(ErrorCode::Database, e.clone()))
}

/// MailFerry's database failed a command.
fn database(e: impl ToString) -> CommandError {
    CommandError::job(ErrorCode::Database, e.to_string())
}

/// Checks the form with the engine's own parser; the first problem comes
/// back with its field and line.
#[tauri::command(rename_all = "snake_case")]
pub fn validate_job(request: JobRequest) -> Validation {
    form::validate(&request, &form::base_dir())
}

/// The user list as the engine reads it, every line with its problem, for
/// the form's preview (no password in it). `source_admin`: the old host's
/// admin logs in for every user, so no line needs a source password;
/// `source_oauth`: the source signs in with OAuth 2.0 this way, and only
/// pasted tokens are in the list.
#[tauri::command(rename_all = "snake_case")]
pub fn preview_users(
    list: String,
    delimiter: String,
    source_admin: Option<bool>,
    source_oauth: Option<SignInFlow>,
) -> UsersPreview {
    let passwords = match (source_admin, source_oauth) {
        (Some(true), _) => SourcePasswords::NotNeeded,
        (_, Some(f)) if !OAuthFlow::from(f).token_in_user_list() => SourcePasswords::NotNeeded,
        _ => SourcePasswords::Required,
    };
    mailferry::job::preview_user_list(&list, &delimiter, passwords)
}

/// A spreadsheet (XLSX, XLS, XLSB or ODS) picked for the user list, as
/// the list's lines with `delimiter`: the form shows them and the engine's
/// one parser reads them.
#[tauri::command(rename_all = "snake_case")]
pub fn import_users(bytes: Vec<u8>, delimiter: String) -> Result<String, CommandError> {
    let mut chars = delimiter.chars();
    let delimiter = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(mailferry::job::JobError::BadDelimiter(delimiter).into()),
    };
    Ok(mailferry::job::users_from_spreadsheet(&bytes, delimiter)?)
}

/// Asks for a certificate file with the open dialog; its path, or `None`
/// when the user cancelled.
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_certificate<R: Runtime>(app: AppHandle<R>) -> Option<String> {
    if let Some(path) = std::env::var_os(PICK_FILE_FOR_TESTS) {
        return Some(path.to_string_lossy().into_owned());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Trust this certificate (PEM)")
        .add_filter("Certificates", &["pem", "crt", "cer"])
        .add_filter("All files", &["*"])
        .pick_file(move |p| {
            let _ = tx.send(p);
        });
    match rx.await {
        Ok(Some(p)) => p.into_path().ok().map(|p| p.to_string_lossy().into_owned()),
        _ => None,
    }
}

/// Logs in to both servers for every mailbox, copying nothing. Each
/// mailbox goes over `on_event` as soon as it is tried; the answer, once
/// all are (or the test was cancelled), has every mailbox tried.
#[tauri::command(rename_all = "snake_case")]
pub async fn test_logins(
    state: State<'_, AppState>,
    request: JobRequest,
    on_event: Channel<LoginEvent>,
) -> Result<LoginTest, CommandError> {
    let job = form::parse(&request, &form::base_dir())?;
    let opts = Options::for_job(&job);
    service(&state)?
        .test_logins_live(job, opts, move |e| {
            // A page that has gone away no longer listens: the test ends anyway.
            let _ = on_event.send(e);
        })
        .await
        .map_err(|e| CommandError::job(ErrorCode::Internal, e.to_string()))
}

/// Stops the running login test: no further login starts, those under way
/// are dropped, and `test_logins` answers with the mailboxes tried. Whether
/// one was running.
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_login_test(state: State<'_, AppState>) -> bool {
    service(&state).is_ok_and(|s| s.cancel_login_tests() > 0)
}

/// The pre-flight report of the form's job: every mailbox checked without
/// copying anything, each told over `on_event` as it is done; the report
/// is kept in the history.
#[tauri::command(rename_all = "snake_case")]
pub async fn preflight_job(
    state: State<'_, AppState>,
    request: JobRequest,
    on_event: Channel<PreflightProgress>,
) -> Result<PreflightRun, CommandError> {
    let job = form::parse(&request, &form::base_dir())?;
    let opts = Options::for_job(&job);
    Ok(service(&state)?
        .preflight_live(job, opts, move |p| {
            // A page that has gone away no longer listens: the check ends anyway.
            let _ = on_event.send(p);
        })
        .await?)
}

/// Stops the running pre-flight check; `preflight_job` then answers with
/// the mailboxes checked by then. Whether one was running.
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_preflight(state: State<'_, AppState>) -> bool {
    service(&state).is_ok_and(|s| s.cancel_preflights() > 0)
}

/// A pre-flight report of the history.
#[tauri::command(rename_all = "snake_case")]
pub fn preflight_report(
    state: State<'_, AppState>,
    run_id: i64,
) -> Result<PreflightReport, CommandError> {
    service(&state)?
        .preflight_report(run_id)
        .map_err(database)?
        .ok_or_else(|| {
            CommandError::job(
                ErrorCode::NotFound,
                format!("Run #{run_id} is not a pre-flight report in the history."),
            )
        })
}

/// Saves a pre-flight report of the history as `text` or `csv` (one line
/// per mailbox and folder). Returns where it went, or nothing when the
/// user cancelled.
#[tauri::command(rename_all = "snake_case")]
pub async fn download_preflight<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    run_id: i64,
    format: String,
) -> Result<Option<String>, CommandError> {
    let report = preflight_report(state, run_id)?;
    let (text, ext, kind) = match format.as_str() {
        "csv" => (mailferry::preflight::to_csv(&report), "csv", "CSV"),
        _ => (mailferry::preflight::render_text(&report), "txt", "Text"),
    };
    let file_name = format!(
        "mailferry-{}-preflight{run_id}.{ext}",
        file_stem(&report.job)
    );
    save(
        &app,
        "Save the pre-flight report",
        &file_name,
        kind,
        ext,
        text,
    )
    .await
}

/// Starts a job on the engine's runtime. Returns once the engine has begun
/// it (and named it); its progress then flows over `on_event`.
#[tauri::command(rename_all = "snake_case")]
pub async fn start_job<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: JobRequest,
    dry_run: Option<bool>,
    on_event: Channel<Update>,
) -> Result<JobView, CommandError> {
    let job = form::parse(&request, &form::base_dir())?;
    let service = service(&state)?;
    // Passwords must have somewhere safe to go before anything starts.
    let status = state.vault.status();
    if status.kind == VaultKind::Unavailable {
        return Err(CommandError::new(
            ErrorCode::VaultUnavailable,
            "vault",
            status.message,
        ));
    }
    let opts = Options {
        dry_run: dry_run.unwrap_or(false),
        ..Options::for_job(&job)
    };
    let live = service
        .start(job.clone(), opts, Some(watcher(on_event)))
        .await
        .map_err(CommandError::from)?;
    let view = live.snapshot();
    notify::when_ended(app, live);
    remember(&state, service, &view.name, &request.job, &job);
    Ok(view)
}

/// Puts the job's passwords in the vault and the references in SQLite, so
/// History can run it again. A failure here does not stop the job.
fn remember(
    state: &AppState,
    service: &Service,
    name: &str,
    form_json: &serde_json::Value,
    job: &mailferry::job::Job,
) {
    if let Err(e) = service.save_job(&*state.vault, name, form_json, job) {
        eprintln!("MailFerry: could not keep job {name} for re-runs: {e}");
    }
}

/// Watches a job of this session again (after leaving the page or a
/// reload): where it stands now; further messages go to `on_event`.
#[tauri::command(rename_all = "snake_case")]
pub fn attach_job(
    state: State<'_, AppState>,
    job_id: u64,
    on_event: Channel<Update>,
) -> Option<JobView> {
    service(&state).ok()?.attach(job_id, watcher(on_event))
}

/// Every job started in this session, running or finished.
#[tauri::command(rename_all = "snake_case")]
pub fn list_jobs(state: State<'_, AppState>) -> Vec<JobView> {
    service(&state).map(Service::jobs).unwrap_or_default()
}

/// Stops a job after the current batch; it then finishes and is recorded
/// like any other (a later run resumes it).
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_job(state: State<'_, AppState>, job_id: u64) -> bool {
    service(&state).is_ok_and(|s| s.cancel(job_id))
}

/// Every run in MailFerry's database (the CLI's too), newest first.
#[tauri::command(rename_all = "snake_case")]
pub fn history(state: State<'_, AppState>) -> Result<Vec<HistoryRow>, CommandError> {
    service(&state)?.history().map_err(database)
}

/// A finished run as the Results page shows it.
#[tauri::command(rename_all = "snake_case")]
pub fn run_details(state: State<'_, AppState>, run_id: i64) -> Result<JobView, CommandError> {
    service(&state)?
        .run_view(run_id)
        .map_err(database)?
        .ok_or_else(|| {
            CommandError::job(
                ErrorCode::NotFound,
                format!("Run #{run_id} has not finished, or is not in the history."),
            )
        })
}

/// Runs a job of the history again with the passwords from the vault
/// (a re-run copies only what is missing).
#[tauri::command(rename_all = "snake_case")]
pub async fn rerun_job<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    run_id: i64,
    on_event: Channel<Update>,
) -> Result<JobView, CommandError> {
    let request = saved_request(&state, run_id)?;
    start_job(app, state, request, None, on_event).await
}

/// Retry failed: the job of run `run_id` again, with only the mailboxes
/// that run left failed or partial, their passwords from the vault. The
/// saved job keeps its whole user list.
#[tauri::command(rename_all = "snake_case")]
pub async fn retry_failed<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    run_id: i64,
    on_event: Channel<Update>,
) -> Result<JobView, CommandError> {
    let job = saved_job(&state, run_id)?;
    let service = service(&state)?;
    let job = service.failed_of_run(job, run_id).map_err(|e| {
        let code = match &e {
            RetryError::NotFinished(_) => ErrorCode::NotFound,
            RetryError::NothingFailed(_) | RetryError::NotInJob(..) => ErrorCode::NothingToRetry,
            RetryError::Store(_) => ErrorCode::Database,
        };
        CommandError::job(code, e.to_string())
    })?;
    let live = service
        .start(job.clone(), Options::for_job(&job), Some(watcher(on_event)))
        .await
        .map_err(CommandError::from)?;
    let view = live.snapshot();
    notify::when_ended(app, live);
    Ok(view)
}

/// Edit and run again: the job of run `run_id` back in the form, with its
/// passwords from the vault where it has them and a note for the rest.
#[tauri::command(rename_all = "snake_case")]
pub fn edit_form(state: State<'_, AppState>, run_id: i64) -> Result<EditForm, CommandError> {
    service(&state)?
        .edit_form(&*state.vault, run_id)
        .map_err(saved_error)
}

/// Runs the engine's verification pass alone for the job of a run in the
/// history, with the passwords from the vault: every folder of the source
/// compared with the destination, nothing copied, nothing recorded in the
/// history. Its progress flows over `on_event` as a run's does.
#[tauri::command(rename_all = "snake_case")]
pub async fn verify_job<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    run_id: i64,
    on_event: Channel<Update>,
) -> Result<JobView, CommandError> {
    let job = saved_job(&state, run_id)?;
    let opts = Options::for_job(&job);
    let live = service(&state)?
        .verify(job, opts, Some(watcher(on_event)))
        .await
        .map_err(|e| CommandError {
            field: "job".into(),
            ..CommandError::from(e)
        })?;
    let view = live.snapshot();
    notify::when_ended(app, live);
    Ok(view)
}

/// The form of the job a run of the history ran, with its passwords back
/// from the vault.
fn saved_request(state: &AppState, run_id: i64) -> Result<JobRequest, CommandError> {
    let job = service(state)?
        .saved_form(&*state.vault, run_id)
        .map_err(saved_error)?;
    Ok(JobRequest { job })
}

/// The job of a run in the history, read back from its saved form.
fn saved_job(state: &AppState, run_id: i64) -> Result<mailferry::job::Job, CommandError> {
    form::parse(&saved_request(state, run_id)?, &form::base_dir())
}

fn saved_error(e: SavedError) -> CommandError {
    let code = match &e {
        SavedError::NoSuchRun(_) => ErrorCode::NotFound,
        SavedError::NotSaved(_) => ErrorCode::NotSaved,
        SavedError::Missing { .. } | SavedError::Secret(_) => ErrorCode::Vault,
        SavedError::Store(_) => ErrorCode::Database,
    };
    let field = if code == ErrorCode::Vault {
        "vault"
    } else {
        "job"
    };
    CommandError::new(code, field, e.to_string())
}

/// Saves a run's log through the native save dialog: `text` (the log as
/// the CLI writes it) or `csv` (one line per mailbox and folder). Returns
/// where it went, or nothing when the user cancelled.
#[tauri::command(rename_all = "snake_case")]
pub async fn download_log<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    run_id: i64,
    format: String,
) -> Result<Option<String>, CommandError> {
    let store = service(&state)?.store();
    let outcome = store
        .run_outcome(run_id)
        .map_err(database)?
        .ok_or_else(|| {
            CommandError::job(
                ErrorCode::NotFound,
                format!("Run #{run_id} has no log yet: it has not finished."),
            )
        })?;
    let (text, ext, kind) = match format.as_str() {
        "csv" => (render_csv(&outcome), "csv", "CSV"),
        _ => (
            store
                .run_log(run_id)
                .map_err(database)?
                .unwrap_or_else(|| render_log(&outcome)),
            "log",
            "Text",
        ),
    };
    let file_name = format!("mailferry-{}-run{run_id}.{ext}", file_stem(&outcome.name));
    save(&app, "Save the job's log", &file_name, kind, ext, text).await
}

/// Saves the log the session keeps (a verification's, or a run's that the
/// history could not record) as `download_log` saves a run's: `text` or
/// `csv`.
#[tauri::command(rename_all = "snake_case")]
pub async fn download_verification_log<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job_id: u64,
    format: String,
) -> Result<Option<String>, CommandError> {
    let job = service(&state)?.job(job_id);
    let verification = job
        .as_ref()
        .is_some_and(|j| j.kind() == JobKind::Verification);
    let outcome = job
        .and_then(|j| j.ended())
        .filter(|e| !e.recorded)
        .map(|e| e.outcome)
        .ok_or_else(|| {
            CommandError::job(
                ErrorCode::NotFound,
                "This job has no log yet: it has not finished.",
            )
        })?;
    let (text, ext, kind) = match format.as_str() {
        "csv" => (render_csv(&outcome), "csv", "CSV"),
        _ if verification => (render_verification_log(&outcome), "log", "Text"),
        _ => (render_log(&outcome), "log", "Text"),
    };
    let suffix = if verification { "verify" } else { "unrecorded" };
    let file_name = format!("mailferry-{}-{suffix}.{ext}", file_stem(&outcome.name));
    save(
        &app,
        if verification {
            "Save the verification's log"
        } else {
            "Save the job's log"
        },
        &file_name,
        kind,
        ext,
        text,
    )
    .await
}

/// Writes `text` where the user chooses in the save dialog; `None` when
/// they cancelled.
async fn save<R: Runtime>(
    app: &AppHandle<R>,
    title: &str,
    file_name: &str,
    kind: &str,
    ext: &str,
    text: String,
) -> Result<Option<String>, CommandError> {
    let path: PathBuf = match std::env::var_os(SAVE_DIR_FOR_TESTS) {
        Some(dir) => PathBuf::from(dir).join(file_name),
        None => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            app.dialog()
                .file()
                .set_title(title)
                .set_file_name(file_name)
                .add_filter(kind, &[ext])
                .save_file(move |p| {
                    let _ = tx.send(p);
                });
            match rx.await {
                Ok(Some(p)) => p.into_path().map_err(|e| {
                    CommandError::job(
                        ErrorCode::SaveFailed,
                        format!("That place cannot be written to: {e}"),
                    )
                })?,
                _ => return Ok(None),
            }
        }
    };
    std::fs::write(&path, text).map_err(|e| {
        CommandError::job(
            ErrorCode::SaveFailed,
            format!(
                "The log could not be saved to {}: {e}. Choose another folder.",
                path.display()
            ),
        )
    })?;
    Ok(Some(path.display().to_string()))
}

/// Every kind of error a user may meet, what it means and what to do: the
/// Help page.
#[tauri::command(rename_all = "snake_case")]
pub fn error_catalogue() -> Vec<mailferry::error::CatalogueEntry> {
    mailferry::error::catalogue()
}

/// Where passwords go: the keyring, memory, or nowhere yet (and why).
#[tauri::command(rename_all = "snake_case")]
pub fn vault_status(state: State<'_, AppState>) -> VaultStatus {
    state.vault.status()
}

/// The user's choice when no keyring is available: keep passwords in
/// memory for this run of the app only.
#[tauri::command(rename_all = "snake_case")]
pub fn vault_use_memory(state: State<'_, AppState>) -> VaultStatus {
    state.vault.use_memory()
}

/// Tries the keyring again (after the user started or unlocked it).
#[tauri::command(rename_all = "snake_case")]
pub fn vault_retry(state: State<'_, AppState>) -> VaultStatus {
    state.vault.retry_keyring()
}

/// The page's channel for the app's notices (one page: the latest wins).
#[tauri::command(rename_all = "snake_case")]
pub fn watch_app(state: State<'_, AppState>, on_notice: Channel<Notice>) {
    *state.notices.lock().unwrap_or_else(|p| p.into_inner()) = Some(on_notice);
}

/// The user chose to close while jobs run: they are cancelled (each
/// finishes its current batch and is recorded), then the app closes.
#[tauri::command(rename_all = "snake_case")]
pub async fn confirm_close<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<(), CommandError> {
    state.close_confirmed.store(true, Ordering::SeqCst);
    let service = service(&state)?;
    service.cancel_all();
    for _ in 0..150 {
        if service.running() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.close();
    }
    app.exit(0);
    Ok(())
}

/// The big hosts the form offers (Gmail, Microsoft 365…): their servers,
/// how they sign in, and a sentence about it.
#[tauri::command(rename_all = "snake_case")]
pub fn host_presets() -> Vec<HostPreset> {
    signin::host_presets()
}

/// Whether each mailbox of one side of the form's job is signed in (its
/// refresh token in the vault), when a person signs in to each mailbox.
#[tauri::command(rename_all = "snake_case")]
pub async fn oauth_status(
    state: State<'_, AppState>,
    request: JobRequest,
    side: Side,
) -> Result<Vec<OAuthMailbox>, CommandError> {
    let job = form::parse(&request, &form::base_dir())?;
    let oauth = signin::person_oauth(&job, side)?;
    signin::mailboxes(&job, side)
        .into_iter()
        .map(|user| {
            let signed_in = state.vault.get(&refresh_token_ref(oauth, &user))?.is_some();
            Ok(OAuthMailbox { user, signed_in })
        })
        .collect()
}

/// Signs one mailbox of one side in, with a code (the code and address go
/// over `on_event` for the page to show) or in the system browser, as the
/// side's flow says. The refresh token goes to the vault. Answers once the
/// person has approved, or with the mailbox not signed in when
/// `cancel_sign_in` stopped it.
#[tauri::command(rename_all = "snake_case")]
pub async fn oauth_sign_in(
    state: State<'_, AppState>,
    request: JobRequest,
    side: Side,
    user: String,
    on_event: Channel<SignInEvent>,
) -> Result<OAuthMailbox, CommandError> {
    let job = form::parse(&request, &form::base_dir())?;
    let oauth = signin::person_oauth(&job, side)?.clone();
    if !signin::mailboxes(&job, side).contains(&user) {
        return Err(CommandError::job(
            ErrorCode::NotFound,
            format!(
                "{user} is not a mailbox of the user list: check the list, then sign in again."
            ),
        ));
    }
    // The refresh token must have somewhere safe to go.
    let status = state.vault.status();
    if status.kind == VaultKind::Unavailable {
        return Err(CommandError::new(
            ErrorCode::VaultUnavailable,
            "vault",
            status.message,
        ));
    }
    let (id, cancel) = state.sign_ins.begin();
    let sign_ins = &state.sign_ins;
    let result = match oauth.flow {
        OAuthFlow::Browser => {
            let open = |url: &str| {
                sign_ins.allow(url);
                let opened = signin::open_in_browser(url).is_ok();
                // A page that has gone away no longer listens: the sign-in
                // waits for the browser anyway, until cancelled.
                let _ = on_event.send(SignInEvent::Browser {
                    user: user.clone(),
                    url: url.to_string(),
                    opened,
                });
            };
            mailferry::oauth::sign_in_browser(&oauth, &user, &*state.vault, &open, &cancel).await
        }
        _ => {
            let prompt = |p: mailferry::oauth::DevicePrompt| {
                sign_ins.allow(&p.verification_uri);
                if let Some(u) = &p.verification_uri_complete {
                    sign_ins.allow(u);
                }
                let _ = on_event.send(SignInEvent::from(p));
            };
            mailferry::oauth::sign_in_device(&oauth, &user, &*state.vault, &prompt, &cancel).await
        }
    };
    state.sign_ins.end(id);
    let signed_in = state
        .vault
        .get(&refresh_token_ref(&oauth, &user))?
        .is_some();
    match result {
        Ok(()) => Ok(OAuthMailbox { user, signed_in }),
        // Cancelled: the mailbox is as it was.
        Err(_) if cancel.is_cancelled() => Ok(OAuthMailbox { user, signed_in }),
        Err(e) => Err(CommandError::new(
            ErrorCode::SignInFailed,
            side.oauth_field(),
            e.to_string(),
        )),
    }
}

/// Stops the sign-in under way; `oauth_sign_in` then answers. Whether one
/// was under way.
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_sign_in(state: State<'_, AppState>) -> bool {
    state.sign_ins.cancel()
}

/// Opens a web address in the system browser: a preset's page for making
/// an app password, or the address a provider gave for signing in. Any
/// other address is refused.
#[tauri::command(rename_all = "snake_case")]
pub fn open_link(state: State<'_, AppState>, url: String) -> Result<(), CommandError> {
    if !state.sign_ins.may_open(&url) {
        return Err(CommandError::job(
            ErrorCode::Internal,
            "MailFerry opens only the addresses of its presets and of a sign-in.",
        ));
    }
    signin::open_in_browser(&url).map_err(|e| {
        CommandError::job(
            ErrorCode::Internal,
            format!("The browser could not be opened: {e}. Copy the address instead."),
        )
    })
}
