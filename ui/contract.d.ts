// Generated from MailFerry's Rust types (src-tauri/src/contract.rs): do not edit.
// MAILFERRY_WRITE_CONTRACT=1 cargo test -p mailferry-app contract rewrites it.

/** A Tauri Channel: what the app sends over it arrives in `onmessage`. */
export type Channel<T> = { onmessage: (message: T) => void };

export type Update = { "update": "job", view: JobView, } | { "update": "row", job_id: number, run_id: number | null, 
/**
 * The row's place in the job's `rows`.
 */
index: number, row: RowView, 
/**
 * The job's totals with this row as it is now.
 */
totals: Totals, } | { "update": "ended", view: JobView, };

export type JobView = { 
/**
 * This session's number for the job (0: a run from the history).
 */
job_id: number, kind: JobKind, 
/**
 * Empty until the engine has named the job (a number when left blank).
 */
name: string, 
/**
 * Its run in the history, once begun (a migration).
 */
run_id: number | null, state: JobState, verdict: Verdict | null, 
/**
 * Why the job could not start, or what went wrong around it.
 */
error: string | null, source: string, destination: string, warnings: Array<string>, elapsed_ms: number, rows: Array<RowView>, 
/**
 * The rows' figures added up.
 */
totals: Totals, 
/**
 * The session keeps this job's outcome for its log (a verification,
 * or a run the history could not record).
 */
session_log: boolean, };

export type JobKind = "migration" | "verification" | "dry-run";

export type JobState = "starting" | "running" | "cancelling" | "finished";

export type RowView = { account: string, local_user: string, state: RowState, folder: string | null, messages_done: number, messages_total: number, bytes_done: number, bytes_total: number, migrated: number, skipped: number, failed: number, elapsed_ms: number, folders: Array<FolderOutcome>, error: string | null, 
/**
 * The error's entry in the error catalogue (the Help page).
 */
error_code: string | null, 
/**
 * The latest transient fault being retried, while it is.
 */
retrying: string | null, };

export type Totals = { 
/**
 * Mailboxes that have ended (whatever their verdict).
 */
mailboxes_done: number, 
/**
 * How many mailboxes are in each state (the Results summary).
 */
states: StateCounts, messages_done: number, bytes_done: number, 
/**
 * What the mailboxes found so far to copy or check: grows while
 * folders are still being listed.
 */
messages_total: number, bytes_total: number, migrated: number, skipped: number, failed: number, 
/**
 * Folders that have ended, and those of them that verified (all
 * their messages on the destination, none twice, no error).
 */
folders: number, folders_verified: number, 
/**
 * What the verification pass counted, over every folder checked.
 */
source_messages: number, destination_messages: number, missing: number, extra: number, 
/**
 * What a dry run would copy, over every folder it planned.
 */
would_copy: number, would_copy_bytes: number, 
/**
 * Left out by the job's filters (date or size).
 */
filtered: number, };

export type StateCounts = { pending: number, running: number, success: number, partial: number, failed: number, };

export type RowState = "pending" | "running" | "success" | "partial" | "failed";

export type Verdict = "success" | "partial" | "failed";

export type FolderOutcome = { 
/**
 * The folder's name on the source, as the user sees it.
 */
source: string, 
/**
 * Its name on the destination, as the user sees it.
 */
destination: string, migrated: number, 
/**
 * Already on the destination (by ledger or content): not copied again.
 */
skipped: number, failed: number, bytes: number, 
/**
 * Things the user should know that are not failures (renames, flags
 * the destination does not keep).
 */
notes: Array<string>, failures: Array<MessageFailure>, 
/**
 * Set when the folder as a whole could not be copied.
 */
error: string | null, 
/**
 * The error's entry in the error catalogue.
 */
error_code: string | null, 
/**
 * The verification pass's finding, when it ran.
 */
verification: Verification | null, 
/**
 * Left out by the job's filters (date or size): skipped by a rule,
 * not a fault; neither copied nor verified.
 */
filtered: number, filtered_bytes: number, 
/**
 * Those of them left out for their size, each named: the customer
 * must know which large messages did not move.
 */
oversized: Array<OversizedMessage>, 
/**
 * A dry run's plan for the folder: every message it would copy (none
 * was). Empty for a migration.
 */
would_copy: Array<PlannedMessage>, };

export type MessageFailure = { 
/**
 * The IMAP UID or POP3 UIDL on the source.
 */
source_id: string, date: string, from: string, subject: string, reason: string, 
/**
 * The reason's entry in the error catalogue (`docs/errors.md`, the
 * app's help page); empty in runs recorded before codes were kept.
 */
code: string, };

export type OversizedMessage = { 
/**
 * The IMAP UID or POP3 UIDL on the source.
 */
source_id: string, 
/**
 * Date, sender and subject from its header; empty when the source
 * could not give the header cheaply (a POP3 server without TOP).
 */
date: string, from: string, subject: string, 
/**
 * Its size on the source (IMAP RFC822.SIZE, POP3 LIST).
 */
size: number, };

export type PlannedMessage = { 
/**
 * The IMAP UID or POP3 UIDL on the source.
 */
source_id: string, date: string, from: string, subject: string, 
/**
 * Its size on the source (IMAP RFC822.SIZE, POP3 LIST).
 */
size: number, };

export type Verification = { source_messages: number, destination_messages: number, 
/**
 * Source messages the destination lacks.
 */
missing: Array<MessageBrief>, 
/**
 * Copies on the destination beyond what the source holds (duplicates).
 */
extra: Array<MessageBrief>, 
/**
 * Messages of the destination folder that are not from this source
 * folder (another folder translated into it, mail that arrived
 * there): counted, not a fault.
 */
other: number, };

export type MessageBrief = { 
/**
 * The source's IMAP UID or POP3 UIDL; for a copy found only on the
 * destination, `destination UID n`.
 */
id: string, date: string, from: string, subject: string, };

export type HistoryRow = { live_job_id: number | null, 
/**
 * Whether it can run again without typing its passwords (it is saved).
 */
can_rerun: boolean, run_id: number, job_name: string, started_at: string, finished_at: string | null, source_host: string, dest_host: string, mailboxes: number, verdict: string | null, migrated: number, skipped: number, failed: number, bytes: number, 
/**
 * A dry run: nothing was changed on the destination (its counts are
 * what was already there; its log says what it would copy).
 */
dry_run: boolean, 
/**
 * A pre-flight report ([`Store::preflight_report`]); nothing was
 * changed either. Its log is the report as text.
 */
preflight: boolean, };

export type EditForm = { 
/**
 * A `JobFile` as JSON, as the page's form sends it.
 */
form: unknown, 
/**
 * What the user still has to type, and why.
 */
note: string | null, };

export type RunSummary = { run_id: number, job_name: string, started_at: string, finished_at: string | null, source_host: string, dest_host: string, mailboxes: number, verdict: string | null, migrated: number, skipped: number, failed: number, bytes: number, 
/**
 * A dry run: nothing was changed on the destination (its counts are
 * what was already there; its log says what it would copy).
 */
dry_run: boolean, 
/**
 * A pre-flight report ([`Store::preflight_report`]); nothing was
 * changed either. Its log is the report as text.
 */
preflight: boolean, };

export type LoginEvent = { "event": "started", mailboxes: number, } | { "event": "tested", 
/**
 * The mailbox's place in the job's user list.
 */
index: number, check: LoginCheck, };

export type LoginTest = { 
/**
 * The job's mailboxes, tried or not.
 */
mailboxes: number, 
/**
 * The mailboxes whose logins were tried, in the user list's order.
 */
checks: Array<LoginCheck>, 
/**
 * Stopped before every mailbox was tried.
 */
cancelled: boolean, };

export type LoginCheck = { source_user: string, local_user: string, 
/**
 * `None` when the source login worked; else the user-facing error.
 */
source_error: string | null, destination_error: string | null, 
/**
 * The errors' entries in the error catalogue.
 */
source_code: string | null, destination_code: string | null, };

export type PreflightProgress = { done: number, total: number, account: string, };

export type PreflightRun = { run_id: number, report: PreflightReport, };

export type PreflightReport = { 
/**
 * The job's name.
 */
job: string, 
/**
 * The servers in words: `old.example (IMAP4S)`, `new.example (port 993)`.
 */
source: string, destination: string, 
/**
 * When the report was made, `YYYY-MM-DD HH:MM:SS +ZZZZ`.
 */
created_at: string, mailboxes: Array<MailboxPreflight>, 
/**
 * How long the job would take; `None` when no mailbox could be
 * reached, or the check was stopped before the servers were probed.
 */
estimate: Estimate | null, 
/**
 * What needs a decision before the job starts, most serious first.
 */
warnings: Array<PreflightWarning>, 
/**
 * How long making the report took.
 */
elapsed_ms: number, };

export type MailboxPreflight = { source_user: string, local_user: string, 
/**
 * Why the mailbox could not be checked (a login refused, a server
 * unreachable), in the words of the error catalogue.
 */
error: string | null, error_code: string | null, folders: Array<FolderPreflight>, 
/**
 * The destination mailbox's storage quota (GETQUOTAROOT), when the
 * server has one.
 */
quota: QuotaUse | null, 
/**
 * The largest message the destination accepts (APPENDLIMIT), when it
 * says.
 */
append_limit: number | null, 
/**
 * Messages the destination would refuse for their size (over
 * `append_limit`), named so the customer can deal with them.
 */
too_large: Array<PlannedMessage>, 
/**
 * How long the checks of this mailbox took (logins, listing,
 * reconciliation).
 */
elapsed_ms: number, 
/**
 * What else the dry run noted of the mailbox as a whole: parent
 * folders a copy would create that hold no mail of their own.
 */
notes: Array<string>, };

export type FolderPreflight = { 
/**
 * Its name on the source and on the destination, as a user sees them.
 */
source: string, destination: string, mapping: FolderMapping, 
/**
 * Renamed (a translation, a special-use folder, a character the
 * destination cannot hold) and why: the mapping's notes.
 */
notes: Array<string>, 
/**
 * What the source holds.
 */
messages: number, bytes: number, 
/**
 * Already on the destination (by the copy's own reconciliation).
 */
present: number, present_bytes: number, 
/**
 * What a migration would copy.
 */
to_copy: number, to_copy_bytes: number, 
/**
 * Left out by the job's date and size filters.
 */
filtered: number, filtered_bytes: number, 
/**
 * Messages that are exact copies of another in the same source folder.
 */
duplicates: number, 
/**
 * Why the folder could not be checked.
 */
error: string | null, 
/**
 * Its messages over the destination's APPENDLIMIT (also in the
 * mailbox's `too_large`): the destination would refuse them.
 */
too_large: Array<PlannedMessage>, 
/**
 * Its messages over the job's own size limit (`[filters]
 * max_message_mb`): left out, named so the customer knows.
 */
oversized: Array<OversizedMessage>, };

export type FolderMapping = "existing" | "created" | "skipped";

export type QuotaUse = { used_bytes: number, limit_bytes: number, };

export type Estimate = { low_seconds: number, high_seconds: number, 
/**
 * What the figure rests on, in words (what was measured).
 */
basis: string, 
/**
 * The same range in milliseconds (a small job takes less than a
 * second; the seconds above are rounded outwards).
 */
low_ms: number, high_ms: number, };

export type PreflightWarning = { kind: WarningKind, 
/**
 * The mailbox (source user) and folder it is about, if any.
 */
account: string | null, folder: string | null, 
/**
 * What is wrong and what to do, in plain words.
 */
words: string, };

export type WarningKind = "unreachable" | "over-quota" | "too-large" | "folder-name" | "no-internal-date" | "duplicates";

export type CatalogueEntry = { code: string, class: ErrorClass, title: string, meaning: string, what_to_do: string, };

export type ErrorClass = "transient" | "per-message" | "fatal-for-folder" | "fatal-for-mailbox";

export type JobRequest = { 
/**
 * A `JobFile` (see docs/job-file.md), as JSON.
 */
job: Record<string, unknown>, };

export type Validation = { ok: boolean, error: CommandError | null, warnings: Array<string>, mailboxes: number, };

export type UsersPreview = { 
/**
 * Every data line, in order.
 */
lines: Array<PreviewLine>, 
/**
 * The line of a header row, skipped.
 */
header: number | null, 
/**
 * Lines that name a mailbox.
 */
mailboxes: number, 
/**
 * Lines with an error.
 */
problems: number, 
/**
 * What is wrong with the list as a whole (no users, too many, the
 * delimiter), in the words of the job's error.
 */
error: string | null, };

export type PreviewLine = { line: number, 
/**
 * Empty on a line with an error: a mis-delimited line may hold a
 * password where the name should be.
 */
source_user: string, local_user: string, local_password: boolean, 
/**
 * Why the line can't be used, a sentence.
 */
error: string | null, };

export type CommandError = { code: ErrorCode, field: string, line: number | null, message: string, };

export type ErrorCode = "invalid-job" | "name-taken" | "job-running" | "no-name" | "vault-unavailable" | "vault" | "not-saved" | "not-found" | "database" | "save-failed" | "nothing-to-retry" | "sign-in-failed" | "internal";

export type VaultStatus = { kind: VaultKind, 
/**
 * One plain sentence for the user.
 */
message: string, 
/**
 * What the system said (a D-Bus error, say), for whoever looks after
 * the computer: shown folded away, never in the sentence.
 */
detail: string | null, };

export type VaultKind = "keyring" | "memory" | "unavailable";

export type Notice = { "notice": "close-requested", running: number, };

export type HostPreset = { 
/**
 * As the job names it: `preset = "microsoft-365"`.
 */
id: string, 
/**
 * As the form shows it.
 */
name: string, imap_host: string, pop3_host: string | null, sign_in: HostSignIn, 
/**
 * The OAuth provider, when the host signs in with OAuth.
 */
provider: OAuthProvider | null, 
/**
 * Where the user makes an app password.
 */
app_password_url: string | null, 
/**
 * A sentence about signing in.
 */
hint: string, };

export type HostSignIn = "oauth-only" | "oauth-or-app-password" | "app-password" | "password";

export type OAuthProvider = "google" | "microsoft" | "custom";

export type SignInFlow = "device" | "browser" | "client-credentials" | "service-account" | "token";

export type Side = "source" | "destination";

export type OAuthMailbox = { user: string, signed_in: boolean, };

export type SignInEvent = { "event": "code", user: string, verification_uri: string, 
/**
 * The same with the code filled in, when the provider gives it.
 */
verification_uri_complete: string | null, user_code: string, 
/**
 * Seconds until the code expires.
 */
expires_in: number, } | { "event": "browser", user: string, url: string, opened: boolean, };

/** Every command: its arguments and its answer; a failure is a `CommandError`. */
export type Commands = {
  validate_job: { args: { request: JobRequest }; answer: Validation };
  preview_users: { args: { list: string, delimiter: string, source_admin?: boolean | null, source_oauth?: SignInFlow | null }; answer: UsersPreview };
  pick_certificate: { args: {}; answer: string | null };
  import_users: { args: { bytes: number[], delimiter: string }; answer: string };
  test_logins: { args: { request: JobRequest, on_event: Channel<LoginEvent> }; answer: LoginTest };
  cancel_login_test: { args: {}; answer: boolean };
  preflight_job: { args: { request: JobRequest, on_event: Channel<PreflightProgress> }; answer: PreflightRun };
  cancel_preflight: { args: {}; answer: boolean };
  preflight_report: { args: { run_id: number }; answer: PreflightReport };
  download_preflight: { args: { run_id: number, format: string }; answer: string | null };
  start_job: { args: { request: JobRequest, dry_run?: boolean | null, on_event: Channel<Update> }; answer: JobView };
  attach_job: { args: { job_id: number, on_event: Channel<Update> }; answer: JobView | null };
  list_jobs: { args: {}; answer: JobView[] };
  cancel_job: { args: { job_id: number }; answer: boolean };
  history: { args: {}; answer: HistoryRow[] };
  run_details: { args: { run_id: number }; answer: JobView };
  rerun_job: { args: { run_id: number, on_event: Channel<Update> }; answer: JobView };
  retry_failed: { args: { run_id: number, on_event: Channel<Update> }; answer: JobView };
  edit_form: { args: { run_id: number }; answer: EditForm };
  verify_job: { args: { run_id: number, on_event: Channel<Update> }; answer: JobView };
  download_log: { args: { run_id: number, format: 'text' | 'csv' }; answer: string | null };
  download_verification_log: { args: { job_id: number, format: 'text' | 'csv' }; answer: string | null };
  vault_status: { args: {}; answer: VaultStatus };
  vault_use_memory: { args: {}; answer: VaultStatus };
  vault_retry: { args: {}; answer: VaultStatus };
  watch_app: { args: { on_notice: Channel<Notice> }; answer: null };
  confirm_close: { args: {}; answer: null };
  error_catalogue: { args: {}; answer: CatalogueEntry[] };
  host_presets: { args: {}; answer: HostPreset[] };
  oauth_status: { args: { request: JobRequest, side: Side }; answer: OAuthMailbox[] };
  oauth_sign_in: { args: { request: JobRequest, side: Side, user: string, on_event: Channel<SignInEvent> }; answer: OAuthMailbox };
  cancel_sign_in: { args: {}; answer: boolean };
  open_link: { args: { url: string }; answer: null };
};
