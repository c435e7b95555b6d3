// Generated from MailFerry's Rust types (src-tauri/src/contract.rs): do not edit.
// MAILFERRY_WRITE_CONTRACT=1 cargo test -p mailferry-app contract rewrites it.

/** @typedef {import('./contract').RowView} RowView */
/** @typedef {import('./contract').FolderOutcome} FolderOutcome */
/** @typedef {import('./contract').JobView} JobView */

/** A pending row, every field present. @type {RowView} */
export const ROW = {
  "account": "",
  "bytes_done": 0,
  "bytes_total": 0,
  "elapsed_ms": 0,
  "error": null,
  "error_code": null,
  "failed": 0,
  "folder": null,
  "folders": [],
  "local_user": "",
  "messages_done": 0,
  "messages_total": 0,
  "migrated": 0,
  "retrying": null,
  "skipped": 0,
  "state": "pending"
};

/** A folder that did nothing yet. @type {FolderOutcome} */
export const FOLDER = {
  "bytes": 0,
  "destination": "",
  "error": null,
  "error_code": null,
  "failed": 0,
  "failures": [],
  "filtered": 0,
  "filtered_bytes": 0,
  "migrated": 0,
  "notes": [],
  "oversized": [],
  "skipped": 0,
  "source": "",
  "verification": null,
  "would_copy": []
};

/** A running job without rows. @type {JobView} */
export const VIEW = {
  "destination": "",
  "elapsed_ms": 0,
  "error": null,
  "job_id": 0,
  "kind": "migration",
  "name": "",
  "rows": [],
  "run_id": null,
  "session_log": false,
  "source": "",
  "state": "running",
  "totals": {
    "bytes_done": 0,
    "bytes_total": 0,
    "destination_messages": 0,
    "extra": 0,
    "failed": 0,
    "filtered": 0,
    "folders": 0,
    "folders_verified": 0,
    "mailboxes_done": 0,
    "messages_done": 0,
    "messages_total": 0,
    "migrated": 0,
    "missing": 0,
    "skipped": 0,
    "source_messages": 0,
    "states": {
      "failed": 0,
      "partial": 0,
      "pending": 0,
      "running": 0,
      "success": 0
    },
    "would_copy": 0,
    "would_copy_bytes": 0
  },
  "verdict": null,
  "warnings": []
};

export const ROW_STATES = [
  "pending",
  "running",
  "success",
  "partial",
  "failed"
];
export const JOB_STATES = [
  "starting",
  "running",
  "cancelling",
  "finished"
];
export const ERROR_CODES = [
  "invalid-job",
  "name-taken",
  "job-running",
  "no-name",
  "vault-unavailable",
  "vault",
  "not-saved",
  "not-found",
  "database",
  "save-failed",
  "nothing-to-retry",
  "sign-in-failed",
  "internal"
];

/** Every command the app registers. */
export const COMMANDS = [
  "validate_job",
  "preview_users",
  "pick_certificate",
  "import_users",
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
  "open_link"
];

/** The engine's host presets, as `host_presets` answers. @type {import('./contract').HostPreset[]} */
export const PRESETS = [
  {
    "app_password_url": "https://myaccount.google.com/apppasswords",
    "hint": "Sign in with Google, or use an app password (Google Account → Security → App passwords; needs 2-Step Verification).",
    "id": "gmail",
    "imap_host": "imap.gmail.com",
    "name": "Gmail",
    "pop3_host": "pop.gmail.com",
    "provider": "google",
    "sign_in": "oauth-or-app-password"
  },
  {
    "app_password_url": "https://myaccount.google.com/apppasswords",
    "hint": "For every mailbox of a domain, use a service account with domain-wide delegation; for one mailbox, sign in with Google.",
    "id": "google-workspace",
    "imap_host": "imap.gmail.com",
    "name": "Google Workspace",
    "pop3_host": "pop.gmail.com",
    "provider": "google",
    "sign_in": "oauth-or-app-password"
  },
  {
    "app_password_url": null,
    "hint": "Microsoft 365 accepts only OAuth 2.0 over IMAP: for every mailbox of a tenant, use an app with IMAP.AccessAsApp (client credentials); for one mailbox, sign in with Microsoft.",
    "id": "microsoft-365",
    "imap_host": "outlook.office365.com",
    "name": "Microsoft 365",
    "pop3_host": "outlook.office365.com",
    "provider": "microsoft",
    "sign_in": "oauth-only"
  },
  {
    "app_password_url": null,
    "hint": "Outlook.com and Hotmail accept only OAuth 2.0 over IMAP: sign in with Microsoft (tenant \"consumers\").",
    "id": "outlook.com",
    "imap_host": "outlook.office365.com",
    "name": "Outlook.com",
    "pop3_host": "outlook.office365.com",
    "provider": "microsoft",
    "sign_in": "oauth-only"
  },
  {
    "app_password_url": "https://login.yahoo.com/account/security/app-passwords",
    "hint": "Yahoo needs an app password: Account security → Generate app password. The account's own password is refused.",
    "id": "yahoo",
    "imap_host": "imap.mail.yahoo.com",
    "name": "Yahoo Mail",
    "pop3_host": "pop.mail.yahoo.com",
    "provider": null,
    "sign_in": "app-password"
  },
  {
    "app_password_url": "https://account.apple.com/account/manage",
    "hint": "iCloud needs an app-specific password: Apple Account → Sign-In and Security → App-Specific Passwords. The user name is the full iCloud address.",
    "id": "icloud",
    "imap_host": "imap.mail.me.com",
    "name": "iCloud Mail",
    "pop3_host": null,
    "provider": null,
    "sign_in": "app-password"
  },
  {
    "app_password_url": "https://app.fastmail.com/settings/security/apps",
    "hint": "Fastmail needs an app password with IMAP (or POP) access: Settings → Privacy & Security → Manage app passwords.",
    "id": "fastmail",
    "imap_host": "imap.fastmail.com",
    "name": "Fastmail",
    "pop3_host": "pop.fastmail.com",
    "provider": null,
    "sign_in": "app-password"
  },
  {
    "app_password_url": "https://accounts.zoho.com/home#security/app_password",
    "hint": "Turn on IMAP access in Zoho Mail's settings first; with two-factor authentication on, use an app password. Accounts outside the US use their region's host (imap.zoho.eu, imap.zoho.in…).",
    "id": "zoho",
    "imap_host": "imap.zoho.com",
    "name": "Zoho Mail",
    "pop3_host": "pop.zoho.com",
    "provider": null,
    "sign_in": "password"
  }
];
