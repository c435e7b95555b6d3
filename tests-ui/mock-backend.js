// Loaded before the app's own module in the page tests: the backend is
// mocked with @tauri-apps/api's mockIPC, and window.__TAURI__ (what
// withGlobalTauri gives the real app) is built from @tauri-apps/api/core.
import { mockIPC, mockWindows } from '/__api__/mocks.js';
import * as core from '/__api__/core.js';
// Generated from the app's Rust types (ui/fixtures.js).
import { COMMANDS, PRESETS } from '/fixtures.js';

const calls = [];
const channels = {};
let index = 0;

const mock = window.__mock = Object.assign({
  vault: { kind: 'keyring', message: 'Passwords are kept in the system keyring; MailFerry\'s database keeps only references to them.', detail: null },
  jobs: [],
  validate: () => ({ ok: true, error: null, warnings: [], mailboxes: 1 }),
  // The engine's reading, roughly: one mailbox a line split at the delimiter
  // (tests that need quotes or errors give their own).
  preview: (list, delimiter) => {
    const lines = list.split('\n').map((t, i) => [i + 1, t]).filter(([, t]) => t.trim() !== '')
      .map(([line, t]) => {
        const [source_user, , local_user] = t.split(delimiter);
        return { line, source_user, local_user: local_user || source_user, local_password: false, error: null };
      });
    return { lines, header: null, mailboxes: lines.length, problems: 0, error: null };
  },
  pickedCertificate: null,
  // The engine's host presets (generated from Rust in ui/fixtures.js).
  presets: PRESETS,
  // oauth_status's answer (or the error it throws).
  oauthStatus: [],
  oauthStatusError: null,
  // What oauth_sign_in sends over its Channel before it waits for
  // __mock.finishSignIn(answer | error) or cancel_sign_in.
  signInEvents: [],
  // What the engine reads out of a spreadsheet (or the error it throws).
  importUsers: () => 'alice@example.com,"p,w""1"\nbob,12345,robert\n',
  // Test logins: each of these goes over the Channel in turn, loginDelay ms
  // apart; with loginsHold set, only that many, then the test waits for
  // cancel_login_test.
  logins: [],
  loginDelay: 0,
  loginsHold: null,
  startView: null,
  verifyView: null,
  history: [],
  details: {},
  catalogue: [
    { code: 'timed-out-on-fetch', class: 'transient', title: 'Error fetching … timed out on fetch', meaning: 'The source stopped sending messages in the middle of a download.', what_to_do: 'Try again later; if it keeps happening, wait 24–48 hours.' },
    { code: 'login-failed', class: 'fatal-for-mailbox', title: 'Login failed', meaning: 'The server refused the user name or password.', what_to_do: 'Check the email, username and password in the user list.' },
    { code: 'message-too-big', class: 'per-message', title: 'Message too big', meaning: 'One message is larger than the new server accepts.', what_to_do: 'Ask the new host to raise the message size limit.' },
    { code: 'refused', class: 'fatal-for-folder', title: 'A command was refused', meaning: 'That folder is not copied; the others are.', what_to_do: 'Send the log to the host\'s support.' },
  ],
}, window.__scenario || {});

mock.calls = calls;
// Sends a message over the Channel the page gave to start_job/attach_job.
mock.push = (msg, name = 'job') => {
  const ch = channels[name];
  window.__TAURI_INTERNALS__.runCallback(ch.id, { index: ch.next++, message: msg });
};

// The login test running now, as the app runs it: every mailbox told as it
// is tried; cancelled, what was tried by then.
let loginTest = null;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
async function testLogins(args) {
  channels.logins = { id: args.on_event.id, next: 0 };
  const test = loginTest = { cancelled: false };
  const stopped = new Promise((r) => { test.cancel = () => { test.cancelled = true; r(); }; });
  const all = mock.logins;
  mock.push({ event: 'started', mailboxes: all.length }, 'logins');
  const checks = [];
  for (const [index, check] of all.entries()) {
    if (mock.loginsHold !== null && index >= mock.loginsHold) await stopped;
    else if (mock.loginDelay) await Promise.race([pause(mock.loginDelay), stopped]);
    if (test.cancelled) break;
    mock.push({ event: 'tested', index, check }, 'logins');
    checks.push(check);
  }
  loginTest = null;
  return { mailboxes: all.length, checks, cancelled: checks.length < all.length };
}

// The pre-flight check: `preflight` (a PreflightRun) is answered after
// one progress message per mailbox; with preflightHold, the check waits
// for cancel_preflight after that many.
let preflightCheck = null;
async function preflightJob(args) {
  channels.preflight = { id: args.on_event.id, next: 0 };
  const check = preflightCheck = { cancelled: false };
  const stopped = new Promise((r) => { check.cancel = () => { check.cancelled = true; r(); }; });
  const run = mock.preflight;
  const total = run.report.mailboxes.length;
  const done = [];
  for (const [i, m] of run.report.mailboxes.entries()) {
    if (mock.preflightHold !== undefined && mock.preflightHold !== null && i >= mock.preflightHold) await stopped;
    if (check.cancelled) break;
    done.push(m);
    mock.push({ done: i + 1, total, account: m.source_user }, 'preflight');
  }
  preflightCheck = null;
  return { ...run, report: { ...run.report, mailboxes: done } };
}

// One mailbox's sign-in: its events, then it waits for the test (or a cancel).
let signIn = null;
async function oauthSignIn(args) {
  channels.signin = { id: args.on_event.id, next: 0 };
  const run = signIn = { user: args.user };
  const ended = new Promise((resolve, reject) => { run.resolve = resolve; run.reject = reject; });
  for (const e of mock.signInEvents) mock.push({ ...e, user: args.user }, 'signin');
  try {
    return await ended;
  } finally {
    signIn = null;
  }
}
mock.finishSignIn = (answer) => {
  if (answer instanceof Error || (answer && answer.code)) signIn.reject(answer);
  else signIn.resolve(answer);
};
mock.signingIn = () => Boolean(signIn);

mockWindows('main');
mockIPC((cmd, args) => {
  // Only what the app registers: a page calling anything else fails here.
  if (!COMMANDS.includes(cmd)) throw new Error(`the app has no command ${cmd}`);
  calls.push({ cmd, args: JSON.parse(JSON.stringify(args || {}, (k, v) => (v instanceof core.Channel ? `channel:${v.id}` : v))) });
  switch (cmd) {
    case 'vault_status': return mock.vault;
    case 'vault_use_memory':
      mock.vault = { kind: 'memory', message: 'Passwords are kept in memory for this run of MailFerry only: they are forgotten when it closes.', detail: null };
      return mock.vault;
    case 'vault_retry': return mock.vault;
    case 'watch_app': channels.app = { id: args.on_notice.id, next: 0 }; return null;
    case 'list_jobs': return mock.jobs;
    case 'validate_job': return mock.validate(args.request);
    case 'preview_users': return mock.preview(args.list, args.delimiter);
    case 'pick_certificate': return mock.pickedCertificate;
    case 'import_users': return mock.importUsers(args.bytes, args.delimiter);
    case 'test_logins': return testLogins(args);
    case 'preflight_job':
      if (mock.preflightError) throw mock.preflightError;
      return preflightJob(args);
    case 'cancel_preflight': {
      const running = Boolean(preflightCheck);
      if (running) preflightCheck.cancel();
      return running;
    }
    case 'preflight_report': return mock.preflightReports[args.run_id];
    case 'download_preflight': return `/home/user/mailferry-preflight${args.run_id}.${args.format === 'csv' ? 'csv' : 'txt'}`;
    case 'cancel_login_test': {
      const running = Boolean(loginTest);
      if (running) loginTest.cancel();
      return running;
    }
    case 'start_job':
      if (mock.startError) throw mock.startError;
      channels.job = { id: args.on_event.id, next: 0 };
      mock.jobs = [mock.startView];
      // Updates the app sends before the page has the job's view.
      for (const m of mock.early || []) mock.push(m);
      return mock.startView;
    case 'attach_job':
      channels.job = { id: args.on_event.id, next: 0 };
      return mock.jobs.find((j) => j.job_id === args.job_id) || null;
    case 'verify_job':
      if (mock.verifyError) throw mock.verifyError;
      channels.job = { id: args.on_event.id, next: 0 };
      mock.jobs = [...mock.jobs, mock.verifyView];
      return mock.verifyView;
    case 'edit_form': return mock.editForms[args.run_id];
    case 'retry_failed':
      if (mock.retryError) throw mock.retryError;
      channels.job = { id: args.on_event.id, next: 0 };
      mock.jobs = [...mock.jobs, mock.retryView];
      return mock.retryView;
    case 'download_verification_log': return `/home/user/mailferry-verify${args.job_id}.${args.format === 'csv' ? 'csv' : 'log'}`;
    case 'cancel_job': return true;
    case 'history': return mock.history;
    case 'run_details': return mock.details[args.run_id];
    case 'download_log': return `/home/user/mailferry-run${args.run_id}.${args.format === 'csv' ? 'csv' : 'log'}`;
    case 'confirm_close': return null;
    case 'error_catalogue': return mock.catalogue;
    case 'host_presets': return mock.presets;
    case 'oauth_status':
      if (mock.oauthStatusError) throw mock.oauthStatusError;
      return mock.oauthStatus;
    case 'oauth_sign_in': return oauthSignIn(args);
    case 'cancel_sign_in': {
      const running = Boolean(signIn);
      if (running) signIn.resolve({ user: signIn.user, signed_in: false });
      return running;
    }
    case 'open_link': return null;
    default: throw new Error(`unexpected command ${cmd}`);
  }
});

window.__TAURI__ = { core };
