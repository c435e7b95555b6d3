//! MailFerry's desktop app: a thin Tauri shell over the `mailferry` engine.
//! Commands translate between the page and the engine; no migration logic
//! lives here.

pub mod commands;
pub mod contract;
pub mod form;
pub mod jobs;
pub mod notify;
pub mod signin;
pub mod vault;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use mailferry::service::Service;
use mailferry::store::Store;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::Manager;

/// Everything the commands share.
pub struct AppState {
    /// The engine's job service over MailFerry's database (the CLI's too),
    /// or why the database could not be opened.
    pub service: Result<Service, String>,
    /// Shared with the job service, which reads OAuth refresh tokens from it
    /// while jobs run.
    pub vault: std::sync::Arc<vault::Vault>,
    /// Where the page listens for the app's own notices (close requests).
    pub notices: Mutex<Option<Channel<Notice>>>,
    /// The user agreed to close while jobs run.
    pub close_confirmed: AtomicBool,
    /// The OAuth sign-in under way, and the addresses it may open.
    pub sign_ins: signin::SignIns,
}

/// The app's notices to the page.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "notice", rename_all = "kebab-case")]
pub enum Notice {
    /// The window is being closed while jobs run: the page asks first.
    CloseRequested { running: usize },
}

impl AppState {
    pub fn new(store: Result<Store, String>, vault: vault::Vault) -> AppState {
        let vault = std::sync::Arc::new(vault);
        AppState {
            service: store.map(|s| {
                Service::new(s, jobs::engine_runtime().handle().clone()).with_secrets(vault.clone())
            }),
            vault,
            notices: Mutex::new(None),
            close_confirmed: AtomicBool::new(false),
            sign_ins: signin::SignIns::default(),
        }
    }

    /// The state of the installed app: the shared database and the OS
    /// keyring.
    pub fn from_environment() -> AppState {
        let path = Store::default_path();
        let store = Store::open(&path).map_err(|e| match e.code() {
            // Its own words say what to do.
            "database-too-new" => e.to_string(),
            _ => format!(
                "MailFerry's database at {} could not be opened: {e}. Check that the folder is writable, or set MAILFERRY_DB to another file.",
                path.display()
            ),
        });
        AppState::new(store, vault::Vault::detect())
    }
}

/// Adds the app's commands, plugins, state and window rules to a builder:
/// `main` runs it on the real runtime, the tests on tauri's mock runtime.
pub fn setup<R: tauri::Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::validate_job,
            commands::preview_users,
            commands::import_users,
            commands::pick_certificate,
            commands::test_logins,
            commands::cancel_login_test,
            commands::preflight_job,
            commands::cancel_preflight,
            commands::preflight_report,
            commands::download_preflight,
            commands::start_job,
            commands::attach_job,
            commands::list_jobs,
            commands::cancel_job,
            commands::history,
            commands::run_details,
            commands::rerun_job,
            commands::retry_failed,
            commands::edit_form,
            commands::verify_job,
            commands::download_log,
            commands::download_verification_log,
            commands::vault_status,
            commands::vault_use_memory,
            commands::vault_retry,
            commands::watch_app,
            commands::confirm_close,
            commands::error_catalogue,
            commands::host_presets,
            commands::oauth_status,
            commands::oauth_sign_in,
            commands::cancel_sign_in,
            commands::open_link,
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<AppState>();
                let running = state.service.as_ref().map_or(0, Service::running);
                if running > 0 && !state.close_confirmed.load(Ordering::SeqCst) {
                    let page = state
                        .notices
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    // The page asks the user; without a page (it never
                    // loaded) there is no one to ask: the jobs are cancelled
                    // and the window closes.
                    match page.map(|ch| ch.send(Notice::CloseRequested { running })) {
                        Some(Ok(())) => api.prevent_close(),
                        _ => {
                            if let Ok(s) = &state.service {
                                s.cancel_all();
                            }
                        }
                    }
                }
            }
        })
}

pub fn run() {
    setup(tauri::Builder::default(), AppState::from_environment())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("MailFerry could not start its window");
}
