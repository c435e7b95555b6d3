//! Generates the app's context and its permission set: one `allow-<command>`
//! per command below, granted (or not) by capabilities/main.json.

const COMMANDS: &[&str] = &[
    "validate_job",
    "preview_users",
    "import_users",
    "pick_certificate",
    "test_logins",
    "cancel_login_test",
    "preflight_job",
    "cancel_preflight",
    "preflight_report",
    "download_preflight",
    "start_job",
    "attach_job",
    "list_jobs",
    "cancel_job",
    "history",
    "run_details",
    "rerun_job",
    "retry_failed",
    "edit_form",
    "verify_job",
    "download_log",
    "download_verification_log",
    "vault_status",
    "vault_use_memory",
    "vault_retry",
    "watch_app",
    "confirm_close",
    "error_catalogue",
    "host_presets",
    "oauth_status",
    "oauth_sign_in",
    "cancel_sign_in",
    "open_link",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            // The configuration sits at the repository's root.
            .config_path("../tauri.conf.json")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
