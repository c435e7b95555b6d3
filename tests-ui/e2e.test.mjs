// End to end: the real app binary (target/debug/mailferry-app) driven
// through tauri-driver and WebKitWebDriver, migrating between two real
// private Dovecot instances (examples/demo_servers.rs), with passwords in a
// real Secret Service. test.sh runs this under Xvfb inside a D-Bus session
// with an unlocked gnome-keyring.
//
// Run: node --test tests-ui/e2e.test.mjs  (see test.sh for the set-up)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APP = path.join(ROOT, 'target/debug/mailferry-app');
const CLI = path.join(ROOT, 'target/debug/mailferry');
const DEMO = path.join(ROOT, 'target/debug/examples/demo_servers');
const SHOTS = path.join(ROOT, process.env.MAILFERRY_SHOTS || 'target/e2e-shots');
const CA = path.join(ROOT, 'target/demo/ca.pem');
const DRIVER_PORT = Number(process.env.TAURI_DRIVER_PORT || 4444);
const PASSWORDS = ['bench-pw', 'demo-pw', 'adminpw', 'wrong-pw-e2e'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailferry-e2e-'));
const DATA = path.join(tmp, 'data');
const SAVES = path.join(tmp, 'saves');
const LOGS = path.join(tmp, 'logs');
for (const d of [DATA, SAVES, LOGS, SHOTS]) fs.mkdirSync(d, { recursive: true });
const DB = path.join(DATA, 'mailferry/mailferry.db');
const NOTIFY = path.join(tmp, 'notifications.jsonl');

const env = {
  ...process.env,
  XDG_DATA_HOME: DATA,
  XDG_CONFIG_HOME: path.join(tmp, 'config'),
  XDG_CACHE_HOME: path.join(tmp, 'cache'),
  MAILFERRY_TEST_SAVE_DIR: SAVES,
  // "Choose…" for a certificate answers this instead of the file dialog.
  MAILFERRY_TEST_PICK_FILE: CA,
  // The system notification at a job's end is written here instead.
  MAILFERRY_TEST_NOTIFY_FILE: NOTIFY,
};
delete env.MAILFERRY_DB;

let servers, driver, browser;

function waitPort(port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.end(); resolve(); });
      s.once('error', () => {
        if (Date.now() > until) reject(new Error(`port ${port} did not open`));
        else setTimeout(tryOnce, 200);
      });
    };
    tryOnce();
  });
}

/**
 * Output of a child (and of whatever it starts: the app) goes straight to a
 * file, not through a pipe to this process: a pipe held open by a leftover
 * grandchild would keep the test run from ending.
 */
function logFile(name) {
  const fd = fs.openSync(path.join(LOGS, `${name}.log`), 'a');
  return ['ignore', fd, fd];
}

/** Starts tauri-driver (with the app's environment) and a session of the app. */
async function startApp(appEnv, logName) {
  driver = spawn('tauri-driver', ['--port', String(DRIVER_PORT)], { env: appEnv, stdio: logFile(logName) });
  await waitPort(DRIVER_PORT, 30_000);
  browser = await remote({
    hostname: '127.0.0.1',
    port: DRIVER_PORT,
    logLevel: 'warn',
    connectionRetryTimeout: 120_000,
    capabilities: {
      browserName: 'wry',
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application: APP },
    },
  });
  await browser.setTimeout({ implicit: 0 });
  await browser.waitUntil(async () => (await browser.execute(() => document.body.dataset.ready)) === 'true', { timeout: 30_000 });
}

async function stopApp() {
  try { await browser?.deleteSession(); } catch { /* the window may be gone */ }
  browser = null;
  if (driver && driver.exitCode === null) {
    driver.kill();
    await new Promise((r) => { driver.once('exit', r); setTimeout(r, 5_000); });
  }
  driver = null;
}

/** Every file the app wrote (database, logs, saved logs): no password in any. */
function assertNoPasswordOnDisk() {
  const files = [];
  const walk = (d) => { for (const f of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, f.name); if (f.isDirectory()) walk(p); else files.push(p); } };
  walk(tmp);
  // The test bed's own output names its accounts' passwords: not the app's.
  files.splice(files.indexOf(path.join(LOGS, 'demo-servers.log')), 1);
  assert.ok(files.includes(DB), `the app's database is at ${DB}: ${files.join(', ')}`);
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    for (const pw of PASSWORDS) {
      assert.equal(bytes.includes(Buffer.from(pw)), false, `${pw} found in ${f}`);
    }
  }
}

before(async () => {
  for (const f of [APP, CLI, DEMO]) assert.ok(fs.existsSync(f), `${f} is missing: build it first (test.sh does)`);
  // Two Dovecot servers: demo (38 messages in 9 folders) and bench
  // (generated, big enough that a mid-run screenshot finds it running).
  // And 500 small mailboxes, m000..m499, for a reseller's job.
  servers = spawn(DEMO, ['--bench-messages', '1500', '--bench-mb', '45', '--many', '500', '--seconds', '1800'], { env, stdio: logFile('demo-servers') });
  const until = Date.now() + 180_000;
  let out = '';
  while (!(out = fs.readFileSync(path.join(LOGS, 'demo-servers.log'), 'utf8')).includes('demo servers are up')) {
    if (servers.exitCode !== null || Date.now() > until) throw new Error(`the demo servers did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 300));

  await startApp(env, 'tauri-driver-and-app');
});

after(async () => {
  await stopApp();
  if (servers && servers.exitCode === null) {
    servers.kill('SIGTERM');
    await new Promise((r) => { servers.once('exit', r); setTimeout(r, 10_000); });
  }
});

/** A screenshot after two animation frames, so it shows the latest frame. */
async function shot(name) {
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await browser.saveScreenshot(path.join(SHOTS, `${name}.png`));
}

/** Clicks an element scrolled to the middle (the action bar sticks to the bottom). */
async function click(selOrEl) {
  const e = typeof selOrEl === 'string' ? await browser.$(selOrEl) : selOrEl;
  await browser.execute((x) => x.scrollIntoView({ block: 'center' }), e);
  await e.click();
}

async function setValue(sel, value) {
  const e = await browser.$(sel);
  await browser.execute((x) => x.scrollIntoView({ block: 'center' }), e);
  await e.clearValue();
  if (value !== '') await e.setValue(value);
}

/** Multi-line text: typed line by line with Enter between lines. */
async function setLines(sel, lines) {
  const e = await browser.$(sel);
  await browser.execute((x) => x.scrollIntoView({ block: 'center' }), e);
  await e.clearValue();
  await e.click();
  for (const [i, line] of lines.entries()) {
    if (i > 0) await browser.keys(['Enter']);
    await browser.keys(line.split(''));
  }
  assert.equal(await e.getValue(), lines.join('\n'));
}

/** Opens History and waits until the rows are those of this visit (a visit
 * reloads them, so rows found earlier would go stale). */
async function openHistory() {
  const before = await browser.execute(() => Number(document.querySelector('#history-rows').dataset.loaded || 0));
  await click('#tab-history');
  await browser.waitUntil(() => browser.execute((b) => Number(document.querySelector('#history-rows').dataset.loaded || 0) > b, before),
    { timeout: 10_000, timeoutMsg: 'History did not load' });
}

/** A number as the page writes it, in the app's locale ("1,538"). */
const num = (n) => browser.execute((x) => new Intl.NumberFormat().format(x), n);

const state = (account) => browser.execute((a) => {
  const b = document.querySelector(`.account[data-account="${a}"]`);
  return b ? { state: b.dataset.state, messages: b.querySelector('.messages').textContent } : null;
}, account);

test('fill the form, test logins, migrate, watch rows turn green, see History, download the log', { timeout: 600_000 }, async () => {
  // The keyring is the real Secret Service here.
  const note = await browser.$('#vault-note');
  await note.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await note.getAttribute('data-kind'), 'keyring', await note.getText());

  // ---- the form
  await setValue('#name', 'e2e-demo');
  await setValue('#source-host', 'localhost');
  await click('input[name="protocol"][value="imap4s"]');
  await setValue('tr[data-proto="imap4s"] .port', '10993');
  await click('details.advanced summary');
  await click('#source-ca-pick');
  await browser.waitUntil(async () => (await (await browser.$('#source-ca')).getValue()) === CA, { timeout: 10_000, timeoutMsg: 'Choose… did not fill the certificate' });
  await setValue('#dest-host', 'localhost');
  await setValue('#dest-port', '11993');
  await (await browser.$('#dest-security')).selectByAttribute('value', 'tls');
  await click('#dest-certs summary');
  await setValue('#dest-ca', CA);
  await click('input[name="auth"][value="master"]');
  await setValue('#master-user', 'admin');
  await setValue('#master-password', 'adminpw');
  await setValue('#parallel', '1');

  // A spreadsheet's list as the engine reads it: the header row skipped,
  // quoted columns (a delimiter inside one), a bad line named, no password shown.
  // Pasted: WebDriver's typing merges a key repeated at once ("ss", '""').
  await browser.execute((v) => {
    const a = document.querySelector('#users');
    a.focus();
    a.value = v;
    a.dispatchEvent(new Event('input', { bubbles: true }));
  }, ['Email,Password', '"bench","bench-pw"', 'demo wrong-pw-e2e', '"de,mo","x,""y"""'].join('\n'));
  const previewSummary = await browser.$('#users-preview-summary');
  await browser.waitUntil(async () => (await previewSummary.getText()) !== '', { timeout: 10_000, timeoutMsg: 'no preview of the user list' });
  assert.equal(await previewSummary.getText(), '2 mailboxes · 1 line with a problem · line 1 names the columns and is skipped.');
  const preview = await browser.execute(() => [...document.querySelectorAll('#users-preview-rows tr')].map((tr) => [...tr.children].map((c) => c.textContent.trim())));
  assert.deepEqual(preview.map((r) => r.slice(0, 2)), [['2', 'bench'], ['3', preview[1][1]], ['4', 'de,mo']]);
  assert.match(preview[1][1], /No password after the delimiter ','/);
  assert.ok(!JSON.stringify(preview).includes('pw') && !JSON.stringify(preview).includes('y"'), JSON.stringify(preview));
  // Left, the list's box hides its text (the preview shows the users).
  await click('#name');
  assert.equal(await browser.execute(() => getComputedStyle(document.querySelector('#users')).getPropertyValue('-webkit-text-security')), 'disc');
  await shot('users-preview');

  // A spreadsheet (XLSX) picked for the list: read by the engine, row N on line N.
  // The file input is drawn as its label: shown for WebDriver to type the path.
  await browser.execute(() => {
    document.querySelector('#users').value = '';
    document.querySelector('#users-file').classList.remove('visually-hidden');
  });
  await (await browser.$('#users-file')).setValue(path.join(ROOT, 'tests/data/users.xlsx'));
  await browser.execute(() => document.querySelector('#users-file').classList.add('visually-hidden'));
  await browser.waitUntil(async () => (await (await browser.$('#users')).getValue()) !== '', { timeout: 10_000, timeoutMsg: 'the spreadsheet did not fill the list' });
  assert.equal(await (await browser.$('#users')).getValue(), 'Email,Password\nalice@example.com,"p,w""1"\nbob,12345,robert\n\ncarol,pw-carol\n');
  await browser.waitUntil(async () => (await previewSummary.getText()).startsWith('3 mailboxes'), { timeout: 10_000, timeoutMsg: 'no preview of the spreadsheet' });

  // A wrong password first: Test logins says which login fails.
  await setLines('#users', ['bench,bench-pw', 'demo,wrong-pw-e2e']);
  await click('#test-logins');
  const summary = await browser.$('#login-summary');
  await browser.waitUntil(async () => /mailboxes can log in/.test(await summary.getText()), { timeout: 60_000 });
  assert.equal(await summary.getText(), '1 of 2 mailboxes can log in on both sides. Fix the failing logins before starting.', await (await browser.$('#login-rows')).getText());
  const bad = await browser.$('#login-rows tr[data-account="demo"]');
  assert.equal(await bad.getAttribute('data-ok'), 'false');
  assert.match(await bad.getText(), /Failed/);
  assert.equal(await (await browser.$('#login-rows tr[data-account="bench"]')).getAttribute('data-ok'), 'true');
  await shot('login-test');

  // Its "What to do" opens Help at the engine's entry for a failed login.
  await click(await bad.$('.help-link'));
  await (await browser.$('#page-help')).waitForDisplayed({ timeout: 10_000 });
  const entry = await browser.$('#err-login-failed');
  await entry.waitForDisplayed({ timeout: 10_000 });
  assert.match(await entry.getAttribute('class'), /current/);
  assert.match(await entry.getText(), /Login failed[\s\S]*What it means:[\s\S]*What to do: Check the email, username and password/);
  assert.equal(await browser.execute(() => document.activeElement.id), 'err-login-failed');
  // Every entry of the engine's catalogue, each with a class.
  const entries = await browser.execute(() => [...document.querySelectorAll('#catalogue .entry')].map((a) => [a.dataset.code, a.querySelector('.class-tag').textContent]));
  assert.ok(entries.length >= 20, JSON.stringify(entries));
  assert.ok(entries.every(([code, tag]) => code && tag), JSON.stringify(entries));
  await shot('help');
  await click('#tab-new');
  await (await browser.$('#page-new')).waitForDisplayed();
  assert.equal(await (await browser.$('#name')).getValue(), 'e2e-demo');

  // Fixed: every login works.
  await setLines('#users', ['bench,bench-pw', 'demo,demo-pw']);
  await click('#test-logins');
  await browser.waitUntil(async () => (await summary.getText()).startsWith('2 of 2'), { timeout: 60_000 });
  await browser.execute(() => window.scrollTo(0, 0));
  await shot('form');

  // ---- the pre-flight report: what the job would do, nothing copied
  await click('#preflight');
  const preflight = await browser.$('#preflight-view .preflight-summary');
  await preflight.waitForDisplayed({ timeout: 120_000 });
  const every = await num(1538);
  assert.match(await preflight.getText(), new RegExp(`^2 mailboxes · \\d+ folders · ${every} messages \\(.+\\) on the source · 0 already on the destination · ${every} to copy \\(.+\\)\\.$`));
  assert.match(await (await browser.$('#preflight-view .preflight-estimate')).getText(), /^Estimated time: (about|between) /);
  const mapped = await browser.execute(() => [...document.querySelectorAll('#preflight-view table.preflight-folders tbody tr')]
    .map((tr) => [...tr.children].slice(0, 4).map((c) => c.textContent)));
  assert.ok(mapped.some(([m, s, d, how]) => m === 'demo' && s === 'Folder.With.Dots' && d === 'INBOX.Folder_With_Dots' && how === 'Will be created'), JSON.stringify(mapped));
  await browser.execute(() => document.querySelector('#preflight-results').scrollIntoView({ block: 'start' }));
  await shot('preflight');

  // ---- start, and watch it run
  await click('#start');
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 30_000 });
  await browser.waitUntil(async () => {
    const s = await state('bench');
    return s && s.state === 'running' && !s.messages.startsWith('0 /');
  }, { timeout: 60_000, interval: 50 });
  await shot('results-running');
  // One mailbox at a time: while bench runs, demo is either done or waits.
  assert.ok(['pending', 'success'].includes((await state('demo')).state));

  // Leaving the page and reloading keeps the job running; the page
  // attaches to it again.
  await click('#tab-history');
  await click('#tab-results');
  await browser.refresh();
  await browser.waitUntil(async () => (await browser.execute(() => document.body.dataset.ready)) === 'true', { timeout: 30_000 });
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 10_000 });

  await browser.waitUntil(async () => {
    const [b, d] = [await state('bench'), await state('demo')];
    return b && d && b.state === 'success' && d.state === 'success';
  }, { timeout: 300_000, interval: 250, timeoutMsg: 'the rows did not both turn green' });
  const green = await browser.execute(() => getComputedStyle(document.querySelector('.account[data-account="demo"] .main .badge')).color);
  assert.equal(green, 'rgb(30, 123, 52)');
  assert.equal((await state('demo')).messages, '38 / 38');
  assert.equal((await state('bench')).messages, `${await num(1500)} / ${await num(1500)}`);
  await browser.waitUntil(async () => (await (await browser.$('#job-state')).getText()).includes('Success'), { timeout: 20_000 });
  // The end is also told by a system notification, with the counts.
  const notified = () => (fs.existsSync(NOTIFY) ? fs.readFileSync(NOTIFY, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);
  await browser.waitUntil(async () => notified().length > 0, { timeout: 10_000, timeoutMsg: 'no notification at the end of the job' });
  assert.deepEqual(notified(), [{ title: 'Migration e2e-demo finished', body: '2 of 2 mailboxes succeeded. 1,538 messages copied, 0 already there.' }]);
  // Expand demo's folders.
  await click('.account[data-account="demo"] button.expand');
  await (await browser.$('.account[data-account="demo"] tr[data-folder="Folder.With.Dots"]')).waitForDisplayed();
  // Every folder ended with the engine's verification pass, shown in words.
  const checks = await browser.execute(() => [...document.querySelectorAll('.account[data-account="demo"] tr[data-folder]')]
    .map((tr) => [tr.dataset.folder, tr.querySelector('td.verification')?.textContent.trim()]));
  assert.equal(checks.length, 9, JSON.stringify(checks));
  assert.ok(checks.every(([, v]) => v === '✓ Verified'), JSON.stringify(checks));
  await shot('results-finished');

  // ---- a job from the command line shares the history
  execFileSync(CLI, ['run', path.join(ROOT, 'examples/local-demo.toml'), '--log', path.join(LOGS, 'cli-run.log')], { env, stdio: 'pipe' });

  // ---- History
  await openHistory();
  const appRow = await browser.$('#history-rows tr[data-job="e2e-demo"]');
  await appRow.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await appRow.getAttribute('data-state'), 'success');
  assert.match(await appRow.getText(), /1538 copied, 0 already there, 0 failed/);
  const cliRow = await browser.$('#history-rows tr[data-job="local-demo"]');
  assert.equal(await cliRow.getAttribute('data-state'), 'success');
  assert.match(await cliRow.getText(), /0 copied, 38 already there, 0 failed/);
  await shot('history');

  // Download the log, as text and as CSV.
  await click(await appRow.$('.download-log'));
  const status = await browser.$('#history-status');
  await browser.waitUntil(async () => /Saved to .*\.log$/.test(await status.getText()), { timeout: 10_000 });
  const logPath = (await status.getText()).replace('Saved to ', '');
  const log = fs.readFileSync(logPath, 'utf8');
  assert.match(log, /^MailFerry migration log\nJob: +e2e-demo\n/);
  assert.match(log, /== bench : SUCCESS — 1500 migrated, 0 skipped/);
  assert.match(log, /== demo : SUCCESS — 38 migrated, 0 skipped/);
  assert.match(log, /\[OK {2}\] Folder\.With\.Dots -> INBOX\.Folder_With_Dots: 2 migrated/);
  assert.match(log, /Summary: SUCCESS — 2 mailboxes; 1538 messages migrated/);
  await click(await appRow.$('.download-csv'));
  await browser.waitUntil(async () => /\.csv$/.test(await status.getText()), { timeout: 10_000 });
  const csv = fs.readFileSync((await status.getText()).replace('Saved to ', ''), 'utf8');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines[0], 'job,source_user,local_user,folder,destination_folder,status,migrated,skipped,failed,bytes,elapsed_s,error,error_codes,verification,filtered');
  assert.ok(lines.some((l) => l.startsWith('e2e-demo,demo,demo,,,success,38,0,0,')), csv);
  assert.ok(lines.some((l) => l.startsWith('e2e-demo,demo,demo,Folder.With.Dots,INBOX.Folder_With_Dots,success,2,0,0,')), csv);

  // Opening the run shows its results.
  await click(await appRow.$('.open-run'));
  await (await browser.$('#page-results')).waitForDisplayed();
  assert.equal(await (await browser.$('#job-name')).getText(), 'Job e2e-demo');

  // Run again: the passwords come back from the keyring, and the re-run
  // copies nothing (everything is already there).
  await openHistory();
  await click(await (await browser.$('#history-rows tr[data-job="e2e-demo"]')).$('.rerun'));
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 30_000 });
  const all = await num(1538);
  await browser.waitUntil(async () => /Success/.test(await (await browser.$('#job-state')).getText())
    && (await (await browser.$('#job-totals')).getText()).includes(`0 copied, ${all} already there, 0 failed`),
  { timeout: 120_000, interval: 250, timeoutMsg: 'the re-run did not finish green' });
  await openHistory();
  assert.equal((await browser.$$('#history-rows tr[data-job="e2e-demo"]:not([data-kind="preflight"])')).length, 2);
  // The pre-flight report is there too, marked, and opens below the list.
  const pre = await browser.$('#history-rows tr[data-job="e2e-demo"][data-kind="preflight"]');
  assert.match(await pre.getText(), /Pre-flight/);
  await click(await pre.$('.open-preflight'));
  await (await browser.$('#history-preflight .preflight-summary')).waitForDisplayed({ timeout: 10_000 });

  // ---- Verify: the verification pass alone (passwords from the keyring
  // again), every folder compared, nothing copied, nothing in History.
  await click(await (await browser.$('#history-rows tr[data-job="e2e-demo"]')).$('.verify'));
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 30_000 });
  await browser.waitUntil(async () => (await (await browser.$('#job-name')).getText()) === 'Verification of job e2e-demo',
    { timeout: 30_000, timeoutMsg: 'Results did not show the verification' });
  assert.match(await (await browser.$('#job-kind')).getText(), /^Verification only: nothing was copied\./);
  // Finished: its log can be downloaded.
  await browser.waitUntil(() => browser.execute(() => !document.querySelector('#results-log').hidden),
    { timeout: 120_000, interval: 250, timeoutMsg: 'the verification did not finish' });
  const totals = await (await browser.$('#job-totals')).getText();
  assert.equal(await (await browser.$('#job-state')).getText(), '✓ Verified', totals);
  assert.match(totals, /^2 of 2 mailboxes checked · (\d+) of \1 folders verified · /);
  assert.ok(totals.endsWith(` folders verified · ${all} messages on the source, ${all} on the destination · 0 missing, 0 extra`), totals);
  for (const account of ['bench', 'demo']) {
    assert.equal((await state(account)).state, 'success', account);
    assert.equal(await (await browser.$(`.account[data-account="${account}"] .main .badge`)).getText(), '✓ Verified');
  }
  assert.equal((await state('demo')).messages, '38');
  await click('.account[data-account="demo"] button.expand');
  await (await browser.$('.account[data-account="demo"] tr[data-folder="Folder.With.Dots"]')).waitForDisplayed();
  const verified = await browser.execute(() => [...document.querySelectorAll('.account[data-account="demo"] tr[data-folder]')]
    .map((tr) => [tr.dataset.folder, tr.querySelector('.badge').textContent.trim(), tr.querySelector('td:nth-of-type(2)').textContent]));
  assert.equal(verified.length, 9, JSON.stringify(verified));
  assert.ok(verified.every(([, word]) => word === '✓ Verified'), JSON.stringify(verified));
  assert.deepEqual(verified.find(([f]) => f === 'Folder.With.Dots').slice(1), ['✓ Verified', '2']);
  await shot('results-verified');
  // Its log, from the session.
  await click('#results-log');
  const saved = await browser.$('#save-status');
  await browser.waitUntil(async () => /Saved to .*-verify\.log$/.test(await saved.getText()), { timeout: 10_000 });
  const vlog = fs.readFileSync((await saved.getText()).replace('Saved to ', ''), 'utf8');
  assert.match(vlog, /^MailFerry verification log \(nothing was copied\)\nJob: +e2e-demo\n/);
  assert.match(vlog, /== demo : SUCCESS — 0 migrated, 0 skipped/);
  assert.match(vlog, /\[OK {2}\] Folder\.With\.Dots -> INBOX\.Folder_With_Dots: 0 migrated, 0 skipped, 0 failed\n(?: {10}note: .*\n)* {10}verified: all 2 source messages on the destination, none twice\n/);
  assert.doesNotMatch(vlog, /NOT verified/);
  // Not a run: History still has the two.
  await openHistory();
  assert.equal((await browser.$$('#history-rows tr[data-job="e2e-demo"]:not([data-kind="preflight"])')).length, 2);

  // ---- the passwords are in the keyring, and nowhere on disk
  // One keyring entry holds the job's passwords (its first line: how many
  // entries), by the names the database keeps.
  const [parts, json] = execFileSync('secret-tool', ['lookup', 'service', 'MailFerry', 'username', 'job e2e-demo: passwords'], { env }).toString().split(/\n(.*)/s);
  assert.equal(parts, '1');
  const fromKeyring = JSON.parse(json);
  assert.deepEqual(fromKeyring, {
    'job e2e-demo: admin admin@localhost': 'adminpw',
    'job e2e-demo: source bench@localhost': 'bench-pw',
    'job e2e-demo: source demo@localhost': 'demo-pw',
  });
  assertNoPasswordOnDisk();
});

test('a reseller\'s 500 mailboxes: they finish, Failed shows the wrong passwords, Retry failed turns them green, nothing twice', { timeout: 900_000 }, async () => {
  await click('#tab-new');
  await (await browser.$('#page-new')).waitForDisplayed();
  await setValue('#name', 'e2e-500');
  await setValue('#source-host', 'localhost');
  await click('input[name="protocol"][value="imap4s"]');
  await setValue('tr[data-proto="imap4s"] .port', '10993');
  await browser.execute(() => { for (const d of document.querySelectorAll('details.advanced')) d.open = true; });
  await setValue('#source-ca', CA);
  await setValue('#dest-host', 'localhost');
  await setValue('#dest-port', '11993');
  await (await browser.$('#dest-security')).selectByAttribute('value', 'tls');
  await setValue('#dest-ca', CA);
  await click('input[name="auth"][value="master"]');
  await setValue('#master-user', 'admin');
  await setValue('#master-password', 'adminpw');
  await setValue('#parallel', '4');
  // m000..m499 (pw-000..) on both servers; five typed with a wrong password.
  const wrong = [7, 107, 207, 307, 407].map((i) => `m${String(i).padStart(3, '0')}`);
  const list = Array.from({ length: 500 }, (_, i) => {
    const user = `m${String(i).padStart(3, '0')}`;
    return `${user},${wrong.includes(user) ? 'wrong' : 'pw'}-${String(i).padStart(3, '0')}`;
  }).join('\n');
  // 500 lines are pasted, not typed.
  await browser.execute((v) => {
    const a = document.querySelector('#users');
    a.value = v;
    a.dispatchEvent(new Event('input', { bubbles: true }));
  }, list);
  const t0 = Date.now();
  await click('#start');
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 30_000 }).catch(async (e) => {
    const shown = await browser.execute(() => [...document.querySelectorAll('.field-error:not([hidden]), #form-status')].map((x) => `${x.id}: ${x.textContent}`));
    await shot('500-start-failure');
    throw new Error(`${e.message}; the page shows: ${shown.join(' | ')}`);
  });
  await browser.waitUntil(async () => /Job e2e-500/.test(await (await browser.$('#job-name')).getText()), { timeout: 30_000 });
  await browser.waitUntil(async () => /Partial|Success|Failed/.test(await (await browser.$('#job-state')).getText()),
    { timeout: 600_000, interval: 500, timeoutMsg: 'the 500 mailboxes did not finish' });
  console.log(`500 mailboxes (1,500 messages) copied in ${((Date.now() - t0) / 1000).toFixed(1)} s, from Start to the job's end`);
  assert.equal(await (await browser.$('#job-state')).getText(), '! Partial');
  const filters = await browser.execute(() => [...document.querySelectorAll('#state-filter button:not([hidden])')].map((b) => b.textContent));
  assert.deepEqual(filters, [`All ${await num(500)}`, '✕ Failed 5', `✓ Success ${await num(495)}`]);
  const totals = await (await browser.$('#job-totals')).getText();
  assert.ok(totals.startsWith(`${await num(500)} of ${await num(500)} mailboxes done`), totals);
  assert.ok(totals.includes(`${await num(1485)} copied, 0 already there, 0 failed`), totals);
  assert.equal(await (await browser.$('#overall-bar')).getAttribute('aria-valuenow'), '100');
  await browser.execute(() => window.scrollTo(0, 0));
  await shot('results-500');

  // Failed: exactly the wrong passwords, each saying so.
  await click('#state-filter button[data-filter="failed"]');
  const shown = () => browser.execute(() => [...document.querySelectorAll('#rows > .account')].filter((b) => !b.hidden).map((b) => b.dataset.account));
  assert.deepEqual(await shown(), wrong);
  for (const user of wrong) {
    assert.match(await (await browser.$(`.account[data-account="${user}"] .main`)).getText(), /the server refused the user name or password\. Check both in the user list/);
  }
  await browser.execute(() => window.scrollTo(0, 0));
  await shot('results-500-failed');

  // The customers set the passwords the reseller has: Retry failed.
  for (const user of wrong) {
    const file = `/tmp/mailferry-demo-source/users/${user}`;
    const line = fs.readFileSync(file, 'utf8').replace(`{PLAIN}pw-${user.slice(1)}:`, `{PLAIN}wrong-${user.slice(1)}:`);
    fs.writeFileSync(`${file}.new`, line);
    fs.renameSync(`${file}.new`, file);
  }
  // Dovecot reads a changed passwd-file at most once a second.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await (await browser.$('#retry-failed')).getText(), 'Retry the 5 failed mailboxes');
  await click('#retry-failed');
  await browser.waitUntil(async () => (await browser.execute(() => document.querySelectorAll('#rows > .account').length)) === 5,
    { timeout: 30_000, timeoutMsg: 'Results did not show the retry' });
  await browser.waitUntil(async () => /Success/.test(await (await browser.$('#job-state')).getText())
    && (await (await browser.$('#job-totals')).getText()).includes('15 copied, 0 already there, 0 failed'),
  { timeout: 120_000, interval: 250, timeoutMsg: 'the retry did not finish green' });
  assert.deepEqual(await shown(), wrong);

  // Nothing twice, nothing missing, over all 500: the verification pass.
  await openHistory();
  const runs = await browser.$$('#history-rows tr[data-job="e2e-500"]');
  assert.equal(runs.length, 2);
  await click(await runs[0].$('.verify'));
  await browser.waitUntil(async () => (await (await browser.$('#job-name')).getText()) === 'Verification of job e2e-500',
    { timeout: 30_000, timeoutMsg: 'Results did not show the verification' });
  await browser.waitUntil(() => browser.execute(() => !document.querySelector('#results-log').hidden),
    { timeout: 600_000, interval: 500, timeoutMsg: 'the verification did not finish' });
  const checked = await (await browser.$('#job-totals')).getText();
  assert.equal(await (await browser.$('#job-state')).getText(), '✓ Verified', checked);
  assert.match(checked, /^500 of 500 mailboxes checked · (\S+) of \1 folders verified · /);
  assert.ok(checked.endsWith(` · ${await num(1500)} messages on the source, ${await num(1500)} on the destination · 0 missing, 0 extra`), checked);
});

test('without a keyring the app says so, keeps the passwords in memory for this run, and runs the job', { timeout: 300_000 }, async () => {
  await stopApp();
  // No Secret Service: a session bus address that leads nowhere.
  await startApp({ ...env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/mailferry-bus' }, 'app-without-keyring');
  const banner = await browser.$('#vault-banner');
  await banner.waitForDisplayed({ timeout: 10_000 });
  assert.match(await (await browser.$('#vault-message')).getText(), /^No keyring is available/);
  await shot('no-keyring');

  await setValue('#name', 'e2e-memory');
  await setValue('#source-host', 'localhost');
  await setValue('tr[data-proto="imap4s"] .port', '10993');
  await click('details.advanced summary');
  await click('#source-ca-pick');
  await browser.waitUntil(async () => (await (await browser.$('#source-ca')).getValue()) === CA, { timeout: 10_000, timeoutMsg: 'Choose… did not fill the certificate' });
  await setValue('#dest-host', 'localhost');
  await setValue('#dest-port', '11993');
  await click('#dest-certs summary');
  await setValue('#dest-ca', CA);
  await click('input[name="auth"][value="master"]');
  await setValue('#master-user', 'admin');
  await setValue('#master-password', 'adminpw');
  await setLines('#users', ['demo,demo-pw']);
  // Starting without a choice is refused, with the keyring notice.
  await click('#start');
  const err = await browser.$('#err-vault');
  await err.waitForDisplayed({ timeout: 10_000 }).catch(async (e) => {
    const shown = await browser.execute(() => [...document.querySelectorAll('.field-error:not([hidden]), #form-status')].map((x) => `${x.id}: ${x.textContent}`));
    await shot('no-keyring-failure');
    throw new Error(`${e.message}; the page shows: ${shown.join(' | ')}`);
  });
  assert.match(await err.getText(), /No keyring is available/);
  // Memory for this run: the job starts and ends green.
  await click('#vault-memory');
  await banner.waitForDisplayed({ reverse: true });
  assert.match(await (await browser.$('#vault-note')).getText(), /in memory for this run of MailFerry only/);
  await click('#start');
  await (await browser.$('#page-results')).waitForDisplayed({ timeout: 30_000 });
  await browser.waitUntil(async () => (await state('demo'))?.state === 'success', { timeout: 60_000, interval: 250 });
  // Nothing went to the keyring, nothing secret to disk.
  let found = true;
  try {
    execFileSync('secret-tool', ['lookup', 'service', 'MailFerry', 'username', 'job e2e-memory: passwords'], { env, stdio: 'pipe' });
  } catch {
    found = false;
  }
  assert.equal(found, false, 'a password of the in-memory job is in the keyring');
  assertNoPasswordOnDisk();
});
