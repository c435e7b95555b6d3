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
  "error_catalogue"
];
