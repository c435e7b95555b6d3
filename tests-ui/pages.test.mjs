// Page tests: ui/ alone in headless Chromium (Debian's), driven by
// playwright-core, with the backend mocked through @tauri-apps/api's mockIPC.
// Run: node --test tests-ui/pages.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROW, FOLDER, VIEW as EMPTY_VIEW } from '../ui/fixtures.js';
import { ROOT, startServer, launchChromium, openPage } from './page-harness.mjs';

const SHOTS = path.join(ROOT, 'target/ui-tests');

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A fresh page with the given mocked backend (functions as source text). */
const open = (scenario = {}, fns = {}) => openPage(browser, server.base, scenario, fns);

const calls = (page, cmd) => page.evaluate((c) => window.__mock.calls.filter((x) => x.cmd === c), cmd);

// Rows, folders and views start from the values generated from the Rust
// types (ui/fixtures.js): a field added there reaches these with no edit.
function row(account, state, extra = {}) {
  return { ...ROW, account, local_user: account, state, ...extra };
}

const folder = (source, extra = {}) => ({ ...FOLDER, source, destination: source, ...extra });

/** The app's update of one row of job 1. */
const rowUpdate = (index, r, totals = EMPTY_VIEW.totals) => ({ update: 'row', job_id: 1, run_id: null, index, row: r, totals });

const VIEW = {
  ...EMPTY_VIEW,
  job_id: 1, name: 'acme', state: 'running',
  source: 'old.example (IMAP4S)', destination: 'new.example (port 993)', elapsed_ms: 1000,
  // What the app adds up of these rows.
  totals: {
    ...EMPTY_VIEW.totals, mailboxes_done: 3, messages_done: 21, bytes_done: 125000, migrated: 8, skipped: 1, failed: 1, folders: 3,
    messages_total: 50, bytes_total: 405000, states: { pending: 1, running: 1, success: 1, partial: 1, failed: 1 },
  },
  rows: [
    row('pending@x', 'pending'),
    row('running@x', 'running', { folder: 'Archive/2019', messages_done: 12, messages_total: 40, bytes_done: 120000, bytes_total: 400000, elapsed_ms: 3000 }),
    row('success@x', 'success', { messages_done: 5, messages_total: 5, migrated: 5, bytes_done: 5000, bytes_total: 5000, folders: [folder('INBOX', { migrated: 5, bytes: 5000 })] }),
    row('partial@x', 'partial', {
      messages_done: 4, messages_total: 5, migrated: 3, skipped: 1, failed: 1,
      folders: [folder('INBOX', { migrated: 3, skipped: 1 }),
        folder('Sent', { failed: 1, failures: [{ source_id: '7', date: '2019-01-02', from: 'bob@x', subject: 'Quarterly report', reason: 'The destination refused the message: it is larger than the server accepts.', code: 'message-too-big' }] })],
    }),
    row('failed@x', 'failed', { error: 'Could not log in to old.example as failed@x (IMAP4S, port 993): the server refused the password. Check the email, username and password. [NO LOGIN failed.]', error_code: 'login-failed' }),
  ],
};

const COLOURS = {
  pending: 'rgb(75, 85, 99)', running: 'rgb(29, 95, 168)', success: 'rgb(30, 123, 52)',
  partial: 'rgb(138, 90, 0)', failed: 'rgb(179, 38, 30)',
};

async function startWith(page) {
  await page.fill('#source-host', 'old.example');
  await page.fill('#dest-host', 'new.example');
  await page.fill('#users', 'a,b,c,d');
  await page.click('#start');
  await page.waitForSelector('#page-results:not([hidden])');
}

test('the form sends a JobFile to the engine and shows its line-numbered error next to the field', async () => {
  const page = await open({}, {
    validate: `(req) => req.job.users.list.split('\\n').length > 1
      ? { ok: false, error: { field: 'users', line: 2, message: 'User list, line 2: no password after the delimiter \\',\\'. Add the source password: source_user,source_password.' }, warnings: [], mailboxes: 0 }
      : { ok: true, error: null, warnings: [], mailboxes: 1 }`,
  });
  await page.fill('#name', 'acme');
  await page.fill('#source-host', 'old.example');
  await page.fill('#dest-host', 'new.example');
  await page.fill('#users', 'jane,secret-1,jane,secret-2\nbob');
  await page.click('#check');
  const err = page.locator('#err-users');
  await err.waitFor();
  assert.match(await err.textContent(), /^Line 2 User list, line 2: no password after the delimiter/);
  assert.equal(await page.getAttribute('#users', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#users', 'data-error-line'), '2');
  const sent = (await calls(page, 'validate_job')).at(-1).args.request;
  assert.deepEqual(sent.job.source.ports, { imap4: [143], imap4s: [993], pop3: [110], pop3s: [995] });
  assert.equal(sent.job.source.protocol, 'imap4s');
  assert.equal(sent.job.name, 'acme');
  assert.equal(sent.job.destination.auth, 'user');
  assert.deepEqual(sent.job.options, {});
  assert.deepEqual(sent.job.filters, {});
  assert.equal(sent.job.folders.special_use, 'auto');
  assert.equal(sent.job.source.auth, undefined);
  await page.screenshot({ path: path.join(SHOTS, 'form-error.png'), fullPage: true });

  await page.fill('#users', 'jane,secret-1,jane,secret-2');
  await page.click('#check');
  await page.waitForFunction(() => document.querySelector('#err-users').hidden);
  assert.match(await page.textContent('#form-status'), /The job is valid: 1 mailbox\./);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('ports: a plus button adds a port per protocol, and 0 is sent as typed', async () => {
  const page = await open();
  await page.click('tr[data-proto="imap4s"] .add-port');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.equal(focused, 'IMAP4S port 2');
  await page.keyboard.type('10993');
  // Only the chosen protocol's ports show; Auto uses POP3's and IMAP4's.
  const rows = () => page.$$eval('tr[data-proto]', (trs) => trs.filter((t) => !t.hidden).map((t) => t.dataset.proto));
  assert.deepEqual(await rows(), ['imap4s']);
  await page.check('input[name="protocol"][value="auto"]');
  assert.deepEqual(await rows(), ['imap4', 'pop3']);
  await page.fill('tr[data-proto="pop3"] .port', '0');
  await page.fill('#parallel', '2');
  await page.fill('#timeout', '30');
  await page.click('#check');
  const sent = (await calls(page, 'validate_job')).at(-1).args.request.job;
  assert.deepEqual(sent.options, { parallel_mailboxes: 2, timeout_seconds: 30 });
  assert.deepEqual(sent.source.ports.imap4s, [993, 10993]);
  assert.deepEqual(sent.source.ports.pop3, [0]);
  await page.close();
});

test('POP3 disables folders to skip with a note; Auto and IMAP do not', async () => {
  const page = await open();
  assert.equal(await page.isVisible('#pop3-note'), false);
  await page.check('input[name="protocol"][value="pop3"]');
  assert.equal(await page.isDisabled('#skip'), true);
  assert.match(await page.textContent('#pop3-note'), /POP3 reads only the Inbox: folders to skip do not apply/);
  await page.check('input[name="protocol"][value="pop3s"]');
  assert.equal(await page.isDisabled('#skip'), true);
  await page.check('input[name="protocol"][value="auto"]');
  assert.equal(await page.isDisabled('#skip'), false);
  assert.equal(await page.isVisible('#pop3-note'), false);
  // Each protocol has its one-line hint; Auto is recommended for POP users.
  assert.match(await page.textContent('#protocol-group'), /Auto The Inbox over POP3 and every other folder over IMAP4\. Recommended for POP users\./);
  await page.close();
});

test('an admin login shows its fields and sends them', async () => {
  const page = await open();
  assert.equal(await page.isVisible('#master-fields'), false);
  await page.check('input[name="auth"][value="master"]');
  await page.fill('#master-user', 'admin');
  await page.fill('#master-password', 'pw');
  await page.selectOption('#master-method', 'separator');
  await page.click('#check');
  const d = (await calls(page, 'validate_job')).at(-1).args.request.job.destination;
  assert.deepEqual([d.auth, d.master_user, d.master_password, d.master_method], ['master', 'admin', 'pw', 'separator']);
  await page.close();
});

test('a CSV file picked for the users fills the list', async () => {
  const page = await open();
  await page.setInputFiles('#users-file', { name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from('\uFEFFjane;pw1\r\nbob;pw2\r\n') });
  await page.waitForFunction(() => document.querySelector('#users').value.includes('bob'));
  assert.equal(await page.inputValue('#delimiter'), ';');
  assert.match(await page.inputValue('#users'), /^jane;pw1\r?\nbob;pw2/);
  await page.close();
});

test('a spreadsheet file: the BOM is dropped and its delimiter read from the first line outside quotes', async () => {
  const page = await open();
  const cases = [
    // Semicolons as much of Europe saves them, with a header row.
    ['\uFEFFEmail;Password\r\njane;pw1\r\n', ';'],
    // Commas inside quoted names do not count; the semicolons do.
    ['"Doe, Jane";"p,w"\n', ';'],
    // Quoted semicolons do not count; the commas do.
    ['"a;b","p;w""x"\n', ','],
    ['jane\tpw\tjdoe\n', '\t'],
    ['# exported 2026-11-29\njane|pw\n', '|'],
  ];
  for (const [body, delimiter] of cases) {
    await page.fill('#users', '');
    await page.selectOption('#delimiter', ',');
    await page.setInputFiles('#users-file', { name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(body) });
    await page.waitForFunction(() => document.querySelector('#users').value !== '');
    assert.equal(await page.inputValue('#delimiter'), delimiter, JSON.stringify(body));
    // A text box keeps its line breaks as LF.
    const want = body.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
    await page.waitForFunction((w) => window.__mock.calls.some((c) => c.cmd === 'preview_users' && c.args.list === w), want);
    const sent = (await calls(page, 'preview_users')).filter((c) => c.args.list === want).at(-1).args;
    assert.equal(sent.delimiter, delimiter);
    assert.ok(!sent.list.startsWith('\uFEFF'));
    await page.setInputFiles('#users-file', []);
  }
  await page.close();
});

test('a spreadsheet picked for the users is read by the engine into the list; one it cannot read says why', async () => {
  const page = await open();
  const xlsx = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0x00, 0x7f]);
  await page.selectOption('#delimiter', ';');
  await page.setInputFiles('#users-file', { name: 'Customers 2026.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: xlsx });
  await page.waitForFunction(() => document.querySelector('#users').value !== '');
  assert.equal(await page.inputValue('#users'), 'alice@example.com,"p,w""1"\nbob,12345,robert\n');
  const sent = (await calls(page, 'import_users')).at(-1).args;
  assert.deepEqual(sent, { bytes: [...xlsx], delimiter: ';' });
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'preview_users'));
  // The engine refuses a sheet it cannot use: the list's field says why.
  await page.evaluate(() => {
    window.__mock.importUsers = () => { throw { code: 'invalid-job', field: 'users', line: null, message: 'The spreadsheet could not be used as the user list: row 2 has 5 columns.' }; };
  });
  await page.fill('#users', '');
  await page.setInputFiles('#users-file', { name: 'wide.ods', mimeType: 'application/vnd.oasis.opendocument.spreadsheet', buffer: xlsx });
  await page.waitForSelector('#err-users:not([hidden])');
  assert.match(await page.textContent('#err-users'), /row 2 has 5 columns/);
  assert.equal(await page.inputValue('#users'), '');
  await page.close();
});

test('the user list is previewed as the engine reads it: passwords masked, each problem on its line, the header said', async () => {
  const page = await open({}, {
    preview: `(list, delimiter) => ({
      header: 1, mailboxes: 2, problems: 1, error: null,
      lines: [
        { line: 2, source_user: 'al;ice', local_user: 'al;ice', local_password: false, error: null },
        { line: 3, source_user: 'bob', local_user: 'robert', local_password: true, error: null },
        { line: 4, source_user: '', local_user: '', local_password: false, error: "No password after the delimiter ';'. Write source_user;source_password." },
      ],
    })`,
  });
  await page.selectOption('#delimiter', ';');
  await page.fill('#users', 'Email;Password\n"al;ice";"p;w""x"\nbob;secret-bob;robert;local-pw\ncarol secret-carol\n');
  await page.waitForSelector('#users-preview:not([hidden])');
  assert.equal(await page.textContent('#users-preview-summary'), '2 mailboxes · 1 line with a problem · line 1 names the columns and is skipped.');
  const rows = await page.$$eval('#users-preview-rows tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
  assert.deepEqual(rows, [
    ['2', 'al;ice', '••••••••', 'the same', '—'],
    ['3', 'bob', '••••••••', 'robert', '••••••••'],
    ['4', "✕ Problem No password after the delimiter ';'. Write source_user;source_password."],
  ]);
  const shown = await page.textContent('#users-preview');
  for (const secret of ['p;w', 'secret-bob', 'local-pw', 'secret-carol']) assert.ok(!shown.includes(secret), secret);
  // The list's own box hides its text once the user leaves it.
  const security = () => page.$eval('#users', (t) => getComputedStyle(t).getPropertyValue('-webkit-text-security'));
  await page.focus('#users');
  assert.equal(await security(), 'none');
  await page.focus('#dest-host');
  assert.equal(await security(), 'disc');
  // An emptied list has no preview.
  await page.fill('#users', '');
  await page.waitForSelector('#users-preview', { state: 'hidden' });
  await page.close();
});

test('Choose… puts the picked certificate file in its field, and a cancelled pick changes nothing', async () => {
  const page = await open({ pickedCertificate: '/home/user/old-host-ca.pem' });
  await page.click('#page-new details.advanced >> nth=0');
  await page.click('#source-ca-pick');
  await page.waitForFunction(() => document.querySelector('#source-ca').value !== '');
  assert.equal(await page.inputValue('#source-ca'), '/home/user/old-host-ca.pem');
  await page.evaluate(() => { window.__mock.pickedCertificate = null; });
  await page.click('#source-ca-pick');
  await page.waitForFunction(() => window.__mock.calls.filter((c) => c.cmd === 'pick_certificate').length === 2);
  assert.equal(await page.inputValue('#source-ca'), '/home/user/old-host-ca.pem');
  await page.fill('#source-host', 'old.example');
  await page.click('#check');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'validate_job' && c.args.request.job.source.ca_file));
  const src = (await calls(page, 'validate_job')).at(-1).args.request.job.source;
  assert.equal(src.ca_file, '/home/user/old-host-ca.pem');
  await page.close();
});

test('test logins shows which logins fail', async () => {
  const page = await open({
    logins: [
      { source_user: 'jane', local_user: 'jane', source_error: null, destination_error: null },
      { source_user: 'bob', local_user: 'bob', source_error: 'Could not log in to old.example as bob (IMAP4S, port 993): the server refused the password. Check the email, username and password. [NO LOGIN failed.]', destination_error: null },
    ],
  });
  await page.click('#test-logins');
  await page.waitForSelector('#login-results:not([hidden])');
  await page.waitForFunction(() => /can log in/.test(document.querySelector('#login-summary').textContent));
  assert.equal(await page.textContent('#login-summary'), '1 of 2 mailboxes can log in on both sides. Fix the failing logins before starting.');
  // In the user list's order; the test over, its progress and Cancel go.
  assert.deepEqual(await page.$$eval('#login-rows tr', (rows) => rows.map((r) => r.dataset.account)), ['jane', 'bob']);
  assert.equal(await page.isVisible('#cancel-logins'), false);
  assert.equal(await page.isEnabled('#test-logins'), true);
  assert.equal(await page.getAttribute('#login-rows tr[data-account="bob"]', 'data-ok'), 'false');
  assert.match(await page.textContent('#login-rows tr[data-account="bob"] td:nth-of-type(1)'), /✕ Failed.*refused the password/);
  assert.match(await page.textContent('#login-rows tr[data-account="jane"]'), /✓ Success.*✓ Success/);
  await page.close();
});

test('test logins counts the logins as they come in, and Cancel stops it', async () => {
  const ok = (u) => ({ source_user: u, local_user: u, source_error: null, destination_error: null, source_code: null, destination_code: null });
  const bad = (u) => ({ ...ok(u), source_error: `Could not log in to old.example as ${u} (IMAP4S, port 993): the server refused the password. Check the email, username and password. [NO LOGIN failed.]`, source_code: 'login-failed' });
  // Three logins come in, 150 ms apart; the fourth never does (until Cancel).
  const page = await open({ logins: [ok('ann'), bad('bob'), ok('cy'), ok('dee'), bad('eve')], loginDelay: 150, loginsHold: 3 });
  await page.evaluate(() => {
    const line = document.querySelector('#login-count');
    window.__seen = [];
    new MutationObserver(() => window.__seen.push(line.textContent)).observe(line, { childList: true, characterData: true, subtree: true });
  });
  // Keyboard only: the button, then Cancel, which takes the focus.
  await page.focus('#test-logins');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#cancel-logins:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-logins');
  assert.equal(await page.isDisabled('#test-logins'), true);
  await page.waitForFunction(() => document.querySelector('#login-count').textContent === 'Tested 3 of 5 mailboxes · 1 failed');
  const seen = await page.evaluate(() => window.__seen);
  for (const line of ['Tested 1 of 5 mailboxes · 0 failed', 'Tested 2 of 5 mailboxes · 1 failed']) assert.ok(seen.includes(line), JSON.stringify(seen));
  assert.equal(await page.getAttribute('#login-bar', 'aria-valuenow'), '3');
  assert.equal(await page.getAttribute('#login-bar', 'aria-valuemax'), '5');
  // Each row as it came, the failed one marked (a word, not colour alone).
  assert.deepEqual(await page.$$eval('#login-rows tr', (rows) => rows.map((r) => [r.dataset.account, r.dataset.ok])), [['ann', 'true'], ['bob', 'false'], ['cy', 'true']]);
  assert.match(await page.textContent('#login-rows tr[data-account="bob"] td:nth-of-type(1)'), /✕ Failed.*refused the password/);
  assert.equal(await page.textContent('#login-summary'), '');
  await page.screenshot({ path: path.join(SHOTS, 'login-test-running.png') });

  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#login-summary').textContent.startsWith('Stopped'));
  assert.equal(await page.textContent('#login-summary'), 'Stopped: tested 3 of 5 mailboxes; 2 can log in.');
  assert.equal((await calls(page, 'cancel_login_test')).length, 1);
  assert.equal(await page.isVisible('#cancel-logins'), false);
  assert.equal(await page.isVisible('#login-progress'), false);
  assert.equal(await page.isEnabled('#test-logins'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'test-logins');
  assert.equal(await page.locator('#login-rows tr').count(), 3);
  await page.screenshot({ path: path.join(SHOTS, 'login-test-stopped.png') });

  // Again, to the end: the rows start afresh, and the summary is the whole test's.
  await page.evaluate(() => { window.__mock.loginsHold = null; window.__mock.loginDelay = 0; });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /can log in on both sides/.test(document.querySelector('#login-summary').textContent));
  assert.equal(await page.textContent('#login-summary'), '3 of 5 mailboxes can log in on both sides. Fix the failing logins before starting.');
  assert.deepEqual(await page.$$eval('#login-rows tr', (rows) => rows.map((r) => r.dataset.account)), ['ann', 'bob', 'cy', 'dee', 'eve']);
  await page.close();
});

test('every result state has its colour, icon and word', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  for (const [account, state] of [['pending@x', 'pending'], ['running@x', 'running'], ['success@x', 'success'], ['partial@x', 'partial'], ['failed@x', 'failed']]) {
    const body = page.locator(`.account[data-account="${account}"]`);
    assert.equal(await body.getAttribute('data-state'), state);
    const b = body.locator('.main .badge');
    const word = { pending: '○ Pending', running: '➜ Running', success: '✓ Success', partial: '! Partial', failed: '✕ Failed' }[state];
    assert.equal((await b.textContent()).trim(), word);
    assert.equal(await b.evaluate((e) => getComputedStyle(e).color), COLOURS[state], state);
  }
  const running = page.locator('.account[data-account="running@x"]');
  assert.equal(await running.locator('.messages').textContent(), '12 / 40');
  assert.equal(await running.locator('.bytes').textContent(), '120.0 KB / 400.0 KB');
  assert.equal(await running.locator('.folder').textContent(), 'Archive/2019');
  assert.equal(await running.locator('[role="progressbar"]').getAttribute('aria-valuenow'), '30');
  assert.match(await page.textContent('.account[data-account="failed@x"]'), /the server refused the password/);
  await page.screenshot({ path: path.join(SHOTS, 'results-states.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('progress events move a row from pending to running to success', async () => {
  const page = await open({ startView: { ...VIEW, rows: [row('jane', 'pending')] } });
  await startWith(page);
  const body = page.locator('.account[data-account="jane"]');
  assert.equal(await body.getAttribute('data-state'), 'pending');
  const running = row('jane', 'running', { folder: 'INBOX', messages_done: 3, messages_total: 10, bytes_done: 3000, bytes_total: 10000 });
  await page.evaluate((u) => {
    window.__mock.push(u[0]);
    window.__mock.push(u[1]);
  }, [{ update: 'job', view: { ...VIEW, rows: [row('jane', 'pending')] } }, rowUpdate(0, running)]);
  await page.waitForFunction(() => document.querySelector('.account[data-account="jane"]').dataset.state === 'running');
  assert.equal(await body.locator('.messages').textContent(), '3 / 10');
  // An update of another job, or of a row that is not there, changes nothing.
  await page.evaluate((u) => { for (const x of u) window.__mock.push(x); },
    [{ ...rowUpdate(0, row('jane', 'failed')), job_id: 2 }, rowUpdate(5, row('jane', 'failed'))]);
  const done = row('jane', 'success', {
    folders: [folder('INBOX', { migrated: 10, bytes: 10000 })], migrated: 10, elapsed_ms: 1500,
    messages_done: 10, messages_total: 10, bytes_done: 10000, bytes_total: 10000,
  });
  await page.evaluate((u) => window.__mock.push(u), rowUpdate(0, done));
  await page.waitForFunction(() => document.querySelector('.account[data-account="jane"]').dataset.state === 'success');
  assert.equal(await body.locator('.messages').textContent(), '10 / 10');
  assert.equal(await body.locator('.elapsed').textContent(), '1.5 s');
  await page.close();
});

test('the job\'s bar only moves forward, also when a mailbox that had not begun brings its size', async () => {
  const pending = row('b@x', 'pending');
  const page = await open({ startView: { ...VIEW, rows: [row('a@x', 'running'), pending] } });
  await startWith(page);
  const seen = [];
  const step = async (index, r, bytes) => {
    const totals = { ...VIEW.totals, bytes_done: bytes[0], bytes_total: bytes[1] };
    await page.evaluate((u) => window.__mock.push(u), rowUpdate(index, r, totals));
    await page.waitForFunction((m) => {
      const n = new Intl.NumberFormat();
      return document.querySelector(`.account[data-account="${m[0]}"] .messages`)?.textContent === `${n.format(m[1])} / ${n.format(m[2])}`;
    }, [r.account, r.messages_done, r.messages_total]);
    await page.waitForTimeout(300);
    seen.push(Number(await page.getAttribute('#overall-bar', 'aria-valuenow')));
  };
  const a = (done, state = 'running') => row('a@x', state, { messages_done: done, messages_total: 10, bytes_done: done * 1000, bytes_total: 10000 });
  const b = (done, state = 'running') => row('b@x', state, { messages_done: done, messages_total: 1000, bytes_done: done * 1000, bytes_total: 1000000 });
  await step(0, a(5), [5000, 10000]);
  await step(0, a(10, 'success'), [10000, 10000]);
  // b begins: the job's bytes grow a hundredfold, its bar does not fall.
  await step(1, b(0), [10000, 1010000]);
  await step(1, b(500), [510000, 1010000]);
  assert.deepEqual(seen, [25, 50, 50, 75]);
  await page.close();
});

/** The accounts of the rows shown, top to bottom. */
const shownRows = (page) => page.evaluate(() => [...document.querySelectorAll('#rows > .account')].filter((b) => !b.hidden).map((b) => b.dataset.account));

test('the summary strip counts each state and the whole job; filters, search and sort pick the rows', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  assert.deepEqual(await page.$$eval('#state-filter button:not([hidden])', (bs) => bs.map((b) => b.textContent)),
    ['All 5', '✕ Failed 1', '! Partial 1', '➜ Running 1', '○ Pending 1', '✓ Success 1']);
  // The rows' bars averaged: three ended, one at 12 of 40, one not begun;
  // and the bytes found so far.
  assert.equal(await page.getAttribute('#overall-bar', 'aria-valuenow'), '66');
  assert.equal(await page.textContent('#overall-pct'), '66% · 125.0 KB of 405.0 KB found so far');
  assert.match(await page.textContent('#sum-elapsed'), /^\d+\.\d s$/);
  assert.match(await page.textContent('#sum-rate'), /^\d+(\.\d)? (B|KB)\/s$/);
  // 3 of 5 mailboxes ended: the time left goes by mailboxes until all have begun.
  assert.match(await page.textContent('#sum-eta'), /^about \d+\.\d s$/);

  await page.click('#state-filter button[data-filter="failed"]');
  assert.deepEqual(await shownRows(page), ['failed@x']);
  assert.equal(await page.getAttribute('#state-filter button[data-filter="failed"]', 'aria-pressed'), 'true');
  assert.equal(await page.textContent('#row-count'), 'Showing 1 of 5 mailboxes');
  await page.click('#state-filter button[data-filter="all"]');
  await page.fill('#row-search', 'PART');
  assert.deepEqual(await shownRows(page), ['partial@x']);
  await page.fill('#row-search', 'nobody');
  assert.equal(await page.isVisible('#no-match'), true);
  await page.fill('#row-search', '');
  assert.equal(await page.textContent('#row-count'), '5 mailboxes');

  // Status sorts problems first; again, the other way round.
  await page.click('[data-sort="state"] button');
  assert.equal(await page.getAttribute('[data-sort="state"]', 'aria-sort'), 'ascending');
  assert.deepEqual(await shownRows(page), ['failed@x', 'partial@x', 'running@x', 'pending@x', 'success@x']);
  await page.screenshot({ path: path.join(SHOTS, 'results-sorted.png'), fullPage: true });
  await page.click('[data-sort="state"] button');
  assert.equal(await page.getAttribute('[data-sort="state"]', 'aria-sort'), 'descending');
  assert.deepEqual(await shownRows(page), ['success@x', 'pending@x', 'running@x', 'partial@x', 'failed@x']);
  await page.click('[data-sort="bytes"] button');
  assert.deepEqual(await shownRows(page), ['pending@x', 'partial@x', 'failed@x', 'success@x', 'running@x']);
  assert.equal(await page.getAttribute('[data-sort="state"]', 'aria-sort'), 'none');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('updates change rows in place: the nodes, the focus and open details are kept', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  // Mark every row's node: a rebuilt row would lose its mark.
  await page.evaluate(() => { for (const b of document.querySelectorAll('#rows > .account')) b.mark = b.dataset.account; });
  await page.click('.account[data-account="partial@x"] button.expand');
  await page.focus('.account[data-account="running@x"] button.expand');
  const running = (done) => row('running@x', 'running', {
    folder: 'Archive/2019', messages_done: done, messages_total: 40, bytes_done: done * 10000, bytes_total: 400000, elapsed_ms: 3000,
  });
  for (const done of [13, 14, 15]) {
    await page.evaluate((u) => window.__mock.push(u), rowUpdate(1, running(done)));
  }
  await page.evaluate((u) => window.__mock.push(u), { update: 'job', view: { ...VIEW, rows: VIEW.rows.with(1, running(16)) } });
  await page.waitForFunction(() => document.querySelector('.account[data-account="running@x"] .messages').textContent === '16 / 40');
  // The once-a-second clock ticks at least once.
  await page.waitForTimeout(1100);
  const kept = () => page.evaluate(() => ({
    marks: [...document.querySelectorAll('#rows > .account')].every((b) => b.mark === b.dataset.account),
    focus: document.activeElement.closest('.account')?.dataset.account,
    open: !document.querySelector('.account[data-account="partial@x"] .details').hidden,
  }));
  assert.deepEqual(await kept(), { marks: true, focus: 'running@x', open: true });

  // Sorted by progress, an update that moves the row keeps its focus too.
  await page.click('[data-sort="progress"] button');
  await page.focus('.account[data-account="running@x"] button.expand');
  assert.deepEqual(await shownRows(page), ['pending@x', 'failed@x', 'running@x', 'partial@x', 'success@x']);
  await page.evaluate((u) => window.__mock.push(u), rowUpdate(1, running(39)));
  await page.waitForFunction(() => document.querySelector('.account[data-account="running@x"] .messages').textContent === '39 / 40');
  assert.deepEqual(await shownRows(page), ['pending@x', 'failed@x', 'partial@x', 'running@x', 'success@x']);
  assert.deepEqual(await kept(), { marks: true, focus: 'running@x', open: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('updates reach only their own run, including those sent before the job\'s view arrived', async () => {
  const started = { ...VIEW, run_id: 7 };
  const early = { ...rowUpdate(1, row('running@x', 'running', { folder: 'INBOX', messages_done: 30, messages_total: 40 })), run_id: 7 };
  const details = { 3: { ...VIEW, job_id: 0, run_id: 3, state: 'finished', verdict: 'success', rows: [VIEW.rows[2]] } };
  const history = [{ ...HISTORY[0], run_id: 3, verdict: 'success' }];
  const page = await open({ startView: started, early: [early], history, details });
  await startWith(page);
  const messages = page.locator('.account[data-account="running@x"] .messages');
  assert.equal(await messages.textContent(), '30 / 40');
  // Another run of the same job: its row and its view are not this run's.
  await page.evaluate((u) => { for (const x of u) window.__mock.push(x); }, [
    { ...rowUpdate(1, row('running@x', 'failed')), run_id: 8 },
    { update: 'job', view: { ...started, run_id: 8, rows: VIEW.rows.map((r) => row(r.account, 'failed')) } },
    // This run's own update, to another row: once it shows, the others were seen.
    { ...rowUpdate(0, row('pending@x', 'running', { folder: 'Sent', messages_done: 1, messages_total: 2 })), run_id: 7 },
  ]);
  await page.waitForFunction(() => document.querySelector('.account[data-account="pending@x"] .messages').textContent === '1 / 2');
  assert.equal(await messages.textContent(), '30 / 40');
  assert.equal(await page.getAttribute('.account[data-account="running@x"]', 'data-state'), 'running');
  // A run opened from History while this one runs takes none of its updates.
  await page.click('#tab-history');
  await page.click('tr[data-run="3"] .open-run');
  await page.waitForSelector('#page-results:not([hidden])');
  await page.waitForFunction(() => /run #3/.test(document.querySelector('#job-totals').textContent));
  await page.evaluate((u) => window.__mock.push(u), { ...rowUpdate(0, row('running@x', 'failed')), run_id: 7 });
  await page.evaluate((u) => window.__mock.push(u), { update: 'ended', view: { ...started, state: 'finished', verdict: 'failed' } });
  await page.waitForTimeout(200);
  assert.deepEqual(await shownRows(page), ['success@x']);
  assert.equal(await page.getAttribute('.account[data-account="success@x"]', 'data-state'), 'success');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a row expands to its folders with counts and plain-language errors, by mouse and keyboard', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  const body = page.locator('.account[data-account="partial@x"]');
  const toggle = body.locator('button.expand');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await body.locator('.details').isVisible(), false);
  await toggle.click();
  await page.waitForSelector('.account[data-account="partial@x"] .details:not([hidden])');
  assert.equal(await body.locator('button.expand').getAttribute('aria-expanded'), 'true');
  const sent = body.locator('tr[data-folder="Sent"]');
  assert.equal(await sent.getAttribute('data-state'), 'partial');
  assert.match(await sent.textContent(), /“Quarterly report” from bob@x, 2019-01-02: The destination refused the message/);
  assert.match(await body.locator('tr[data-folder="INBOX"]').textContent(), /INBOX✓ Success310/);
  await page.screenshot({ path: path.join(SHOTS, 'results-expanded.png'), fullPage: true });
  // Keyboard: focus the toggle and press Enter to collapse.
  await body.locator('button.expand').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('.account[data-account="partial@x"] .details[hidden]', { state: 'attached' });
  assert.equal(await body.locator('button.expand').getAttribute('aria-expanded'), 'false');
  await page.close();
});

test('an error links to its entry in Help, which explains every class and can be searched', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  // A mailbox's error, collapsed: its link opens Help at "Login failed".
  await page.click('.account[data-account="failed@x"] .help-link');
  await page.waitForSelector('#page-help:not([hidden])');
  assert.equal(await page.getAttribute('#tab-help', 'aria-current'), 'page');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'err-login-failed');
  assert.match(await page.getAttribute('#err-login-failed', 'class'), /current/);
  assert.match(await page.textContent('#err-login-failed'), /Login failed\s*Stops the mailbox\s*What it means: The server refused the user name or password\.\s*What to do: Check the email, username and password in the user list\./);
  assert.equal(await page.locator('#catalogue .entry').count(), 4);
  assert.equal((await calls(page, 'error_catalogue')).length, 1);
  await page.screenshot({ path: path.join(SHOTS, 'help.png'), fullPage: true });
  // A message's failure inside an expanded folder links to its own entry.
  await page.click('#tab-results');
  const partial = page.locator('.account[data-account="partial@x"]');
  await partial.locator('button.expand').click();
  await partial.locator('tr[data-folder="Sent"] .help-link').click();
  await page.waitForSelector('#page-help:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'err-message-too-big');
  assert.equal(await page.locator('#catalogue .entry.current').count(), 1);
  // The search keeps only the entries holding every word typed.
  await page.fill('#help-filter', 'FOLDER copied');
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll('#catalogue .entry')].filter((a) => !a.hidden).map((a) => a.dataset.code)), ['refused']);
  await page.fill('#help-filter', 'no such words');
  assert.equal(await page.isVisible('#help-none'), true);
  await page.fill('#help-filter', '');
  assert.equal(await page.locator('#catalogue .entry:visible').count(), 4);
  // An error without a code (older runs) has no link.
  assert.equal(await page.locator('.account[data-account="partial@x"] tr[data-folder="INBOX"] .help-link').count(), 0);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('while typing, an error shows only under a field the user has left; Check shows it anywhere', async () => {
  const page = await open({}, {
    validate: `(req) => req.job.source.host === ''
      ? { ok: false, error: { field: 'source.host', line: null, message: 'The source server is missing.' }, warnings: [], mailboxes: 0 }
      : { ok: true, error: null, warnings: [], mailboxes: 1 }`,
  });
  await page.fill('#name', 'acme');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'validate_job'));
  await page.waitForTimeout(100);
  assert.equal(await page.isVisible('#err-source-host'), false);
  // Visited and left empty: now it shows while typing elsewhere.
  await page.focus('#source-host');
  await page.focus('#dest-host');
  await page.fill('#dest-host', 'new.example');
  await page.waitForSelector('#err-source-host:not([hidden])');
  // A fresh page: Check shows it at once.
  const fresh = await open({}, { validate: `() => ({ ok: false, error: { field: 'source.host', line: null, message: 'The source server is missing.' }, warnings: [], mailboxes: 0 })` });
  await fresh.click('#check');
  await fresh.waitForSelector('#err-source-host:not([hidden])');
  await fresh.close();
  await page.close();
});

test('test logins links a failed login to Help', async () => {
  const page = await open({
    logins: [{ source_user: 'bob', local_user: 'bob', source_error: 'Could not log in … [NO LOGIN failed.]', source_code: 'login-failed', destination_error: null, destination_code: null }],
  });
  await page.click('#test-logins');
  await page.waitForSelector('#login-results:not([hidden])');
  await page.waitForFunction(() => /can log in/.test(document.querySelector('#login-summary').textContent));
  assert.equal(await page.locator('#login-rows .help-link').count(), 1);
  await page.click('#login-rows .help-link');
  await page.waitForSelector('#page-help:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'err-login-failed');
  await page.close();
});

test('the whole job can be cancelled', async () => {
  const page = await open({ startView: VIEW });
  await startWith(page);
  await page.click('#cancel-job');
  await page.waitForFunction(() => document.querySelector('#cancel-job').textContent === 'Cancelling…');
  assert.deepEqual((await calls(page, 'cancel_job')).map((c) => c.args), [{ job_id: 1 }]);
  await page.close();
});

const HISTORY = [
  { run_id: 2, job_name: 'acme', started_at: '2026-11-28 10:00:00 +0000', finished_at: '2026-11-28 10:01:00 +0000', source_host: 'old.example', dest_host: 'new.example', mailboxes: 2, verdict: 'partial', migrated: 30, skipped: 2, failed: 1, bytes: 1000, live_job_id: null, can_rerun: true },
  { run_id: 1, job_name: '1001', started_at: '2026-11-27 09:00:00 +0000', finished_at: null, source_host: 'a', dest_host: 'b', mailboxes: 1, verdict: null, migrated: 0, skipped: 0, failed: 0, bytes: 0, live_job_id: null, can_rerun: false },
];

test('history lists past jobs, opens one, and downloads its log as text and CSV', async () => {
  const details = { 2: { ...VIEW, job_id: 0, run_id: 2, state: 'finished', verdict: 'partial', rows: [VIEW.rows[2], VIEW.rows[3]] } };
  const page = await open({ history: HISTORY, details });
  await page.click('#tab-history');
  await page.waitForSelector('#history-rows tr[data-run="2"]');
  const r2 = page.locator('tr[data-run="2"]');
  // Dates as the user's locale writes them, with how long the run took and its size.
  const started = await page.evaluate(() => new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date('2026-11-28T10:00:00+00:00')));
  assert.equal(await r2.locator('.started').textContent(), started);
  assert.equal(await r2.locator('.took').textContent(), '1:00');
  assert.equal(await r2.locator('.size').textContent(), '1.0 KB');
  assert.equal(await page.locator('tr[data-run="1"] .took').textContent(), '—');
  assert.match(await r2.textContent(), /old\.example → new\.example230 copied, 2 already there, 1 failed1\.0 KB! Partial/);
  assert.equal(await page.locator('tr[data-run="1"] .badge').textContent(), '? Unfinished');
  assert.equal(await page.locator('tr[data-run="1"] .download-log').count(), 0);
  await page.screenshot({ path: path.join(SHOTS, 'history.png'), fullPage: true });

  await r2.locator('.download-log').click();
  await page.waitForFunction(() => /Saved to/.test(document.querySelector('#history-status').textContent));
  await r2.locator('.download-csv').click();
  await page.waitForFunction(() => /\.csv$/.test(document.querySelector('#history-status').textContent));
  assert.deepEqual((await calls(page, 'download_log')).map((c) => c.args), [{ run_id: 2, format: 'text' }, { run_id: 2, format: 'csv' }]);

  await r2.locator('.open-run').click();
  await page.waitForSelector('#page-results:not([hidden])');
  assert.equal(await page.textContent('#job-name'), 'Job acme');
  assert.equal((await page.textContent('#job-state')).trim(), '! Partial');
  assert.equal(await page.locator('#rows > .account').count(), 2);
  assert.equal(await page.isVisible('#cancel-job'), false);
  assert.equal(await page.isVisible('#results-log'), true);
  await page.close();
});

test('without a keyring the page says so and offers memory for this run', async () => {
  const page = await open({ vault: { kind: 'unavailable', message: 'No keyring is available: MailFerry could not reach the system\'s password store.', detail: 'Unable to autolaunch a dbus-daemon without a $DISPLAY for X11 (unix:path=/run/user/0/bus)' } });
  assert.equal(await page.isVisible('#vault-banner'), true);
  assert.match(await page.textContent('#vault-message'), /^No keyring is available/);
  // The bus's own words are folded away, for whoever looks after the computer.
  assert.equal(await page.isVisible('#vault-detail-text'), false);
  await page.click('#vault-detail summary');
  assert.match(await page.textContent('#vault-detail-text'), /unix:path=\/run\/user\/0\/bus/);
  await page.click('#vault-memory');
  await page.waitForSelector('#vault-banner', { state: 'hidden' });
  assert.match(await page.textContent('#vault-note'), /in memory for this run of MailFerry only/);
  await page.close();
});

test('a job name taken by other servers is shown next to the name', async () => {
  const page = await open({ startError: { code: 'name-taken', field: 'name', line: null, message: 'Another job, for different servers, already uses the name "acme". Choose another name, or leave it blank to get a generated one.' } });
  await page.fill('#name', 'acme');
  await page.click('#start');
  await page.waitForSelector('#err-name:not([hidden])');
  assert.match(await page.textContent('#err-name'), /already uses the name "acme"/);
  assert.equal(await page.isVisible('#page-new'), true);
  await page.close();
});

test('a reload re-attaches to the running job', async () => {
  const page = await open({ jobs: [VIEW] });
  await page.waitForSelector('#page-results:not([hidden])');
  assert.equal(await page.locator('#rows > .account').count(), 5);
  assert.deepEqual((await calls(page, 'attach_job')).map((c) => c.args.job_id), [1]);
  assert.equal(await page.textContent('#running-badge'), '1 running');
  await page.close();
});

test('a reload on Results comes back to the job watched there, even once it finished', async () => {
  const page = await open({ jobs: [{ ...VIEW, state: 'finished', verdict: 'success' }] });
  await page.waitForSelector('body[data-ready="true"]');
  // Opened afresh with only finished jobs: the form.
  assert.equal(await page.isVisible('#page-new'), true);
  await page.click('#tab-results');
  await page.waitForSelector('#page-results:not([hidden])');
  // The job finished while the page was away: it is still what comes back.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.isVisible('#page-results'), true);
  assert.equal(await page.locator('#rows > .account').count(), 5);
  // Left on the form, a reload stays there.
  await page.click('#tab-new');
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.isVisible('#page-new'), true);
  await page.close();
});

test('closing while a job runs asks first', async () => {
  const page = await open({ jobs: [VIEW] });
  await page.evaluate(() => window.__mock.push({ notice: 'close-requested', running: 1 }, 'app'));
  await page.waitForSelector('#close-dialog[open]');
  assert.match(await page.textContent('#close-text'), /A migration is still running/);
  await page.click('#close-keep');
  await page.waitForSelector('#close-dialog:not([open])', { state: 'attached' });
  assert.equal((await calls(page, 'confirm_close')).length, 0);
  await page.evaluate(() => window.__mock.push({ notice: 'close-requested', running: 1 }, 'app'));
  await page.click('#close-stop');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'confirm_close'));
  await page.close();
});

test('every control is reachable with the keyboard', async () => {
  const page = await open();
  const seen = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => {
      const e = document.activeElement;
      return e.id || e.getAttribute('aria-label') || `${e.tagName}:${e.getAttribute('name')}:${e.value}`;
    });
    seen.add(id);
  }
  for (const id of ['tab-new', 'tab-results', 'tab-history', 'tab-help', 'name', 'source-preset', 'source-host', 'skip', 'translate', 'users', 'dest-preset',
    'delimiter', 'users-file', 'dest-host', 'dest-port', 'dest-security', 'parallel', 'timeout', 'retries', 'check', 'test-logins', 'start',
    'Add a port for IMAP4S', 'IMAP4S port 1']) {
    assert.ok(seen.has(id), `${id} is not reachable with Tab: ${[...seen].join(', ')}`);
  }
  // The other protocols' ports are hidden, so not in the way.
  assert.equal(seen.has('IMAP4 port 1'), false);
  await page.close();
});

// ---- verification

const verified = (n, extra = {}) => ({ source_messages: n, destination_messages: n, missing: [], extra: [], other: 0, ...extra });
const brief = (id, date, from, subject) => ({ id, date, from, subject });
const UNVERIFIED = verified(5, {
  destination_messages: 5,
  missing: [brief('4', '2019-01-02', 'bob@x', 'Quarterly report')],
  extra: [brief('destination UID 9', '2019-03-04', 'ann@x', 'Lunch on Friday')],
  other: 2,
});
const finishedRun = (runId, folders, state) => ({
  ...VIEW, job_id: 0, run_id: runId, state: 'finished', verdict: state,
  rows: [row('jane', state, { messages_done: 10, messages_total: 10, migrated: 10, folders })],
  totals: {
    ...EMPTY_VIEW.totals, mailboxes_done: 1, messages_done: 10, messages_total: 10, migrated: 10,
    states: { ...EMPTY_VIEW.totals.states, [state]: 1 },
  },
});

test('each folder shows its verification in words, with the missing and extra messages listed; older runs show none', async () => {
  const details = {
    2: finishedRun(2, [
      folder('INBOX', { migrated: 5, bytes: 5000, verification: verified(5) }),
      folder('Sent', { migrated: 5, bytes: 5000, verification: UNVERIFIED }),
      folder('Drafts', { error: 'The server refused to open Drafts.', verification: null }),
    ], 'partial'),
    // Recorded before the verification pass existed: no such field.
    1: finishedRun(1, [folder('INBOX', { migrated: 5, bytes: 5000 })], 'success'),
  };
  const history = [{ ...HISTORY[0], verdict: 'partial' }, { ...HISTORY[1], verdict: 'success', finished_at: '2026-11-27 09:01:00 +0000' }];
  const page = await open({ history, details });
  await page.click('#tab-history');
  await page.click('tr[data-run="2"] .open-run');
  await page.waitForSelector('#page-results:not([hidden])');
  // Opened with the keyboard.
  await page.focus('.account[data-account="jane"] button.expand');
  await page.keyboard.press('Enter');
  const body = page.locator('.account[data-account="jane"]');
  await page.waitForSelector('.account[data-account="jane"] .details:not([hidden])');
  const heads = await body.locator('table.folders thead th').allTextContents();
  assert.deepEqual(heads, ['Folder', 'Status', 'Copied', 'Already there', 'Failed', 'Bytes', 'Verification', 'Details']);

  const inbox = body.locator('tr[data-folder="INBOX"]');
  assert.equal(await inbox.getAttribute('data-state'), 'success');
  assert.equal((await inbox.locator('td.verification').textContent()).trim(), '✓ Verified');
  assert.equal(await inbox.locator('td.verification .check').evaluate((e) => getComputedStyle(e).color), COLOURS.success);

  // Nothing failed in Sent, but it does not verify: it is not Success.
  const sent = body.locator('tr[data-folder="Sent"]');
  assert.equal(await sent.getAttribute('data-state'), 'partial');
  assert.equal((await sent.locator('.badge').textContent()).trim(), '! Partial');
  assert.equal((await sent.locator('td.verification').textContent()).trim(), '! Not verified: 1 missing, 1 extra');
  assert.equal(await sent.locator('td.verification .check').evaluate((e) => getComputedStyle(e).color), COLOURS.partial);
  assert.equal(await sent.locator('.missing').textContent(), 'Missing on the destination: “Quarterly report” from bob@x, 2019-01-02');
  assert.equal(await sent.locator('.extra').textContent(), 'Extra copy on the destination: “Lunch on Friday” from ann@x, 2019-03-04');
  assert.match(await sent.textContent(), /2 other messages in the destination folder are not from this folder \(not a fault\)\./);
  // A folder that could not be copied was not checked, and says so.
  assert.equal((await body.locator('tr[data-folder="Drafts"] td.verification').textContent()).trim(), 'Not checked');
  assert.equal(await page.locator('#job-kind').isVisible(), false);
  await page.screenshot({ path: path.join(SHOTS, 'results-verification.png'), fullPage: true });

  // A run from before: the same table as ever, nothing about verification.
  await page.click('#tab-history');
  await page.click('tr[data-run="1"] .open-run');
  await page.waitForFunction(() => document.querySelector('#job-totals').textContent.includes('run #1'));
  await page.click('.account[data-account="jane"] button.expand');
  const old = page.locator('.account[data-account="jane"] .details');
  await old.waitFor();
  assert.deepEqual(await old.locator('table.folders thead th').allTextContents(), ['Folder', 'Status', 'Copied', 'Already there', 'Failed', 'Bytes', 'Details']);
  assert.equal(await old.locator('td.verification').count(), 0);
  assert.doesNotMatch(await old.textContent(), /verif|Not checked/i);
  assert.equal(await old.locator('tr[data-folder="INBOX"]').getAttribute('data-state'), 'success');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('History\'s Verify runs the verification alone, and Results shows it as one (nothing copied), live, with its log', async () => {
  const verifyView = {
    ...VIEW, job_id: 7, kind: 'verification', name: 'acme', state: 'starting', rows: [row('jane', 'pending'), row('bob', 'pending')],
  };
  const page = await open({ history: HISTORY, verifyView });
  await page.click('#tab-history');
  await page.waitForSelector('#history-rows tr[data-run="2"]');
  // Only a job whose passwords are kept can be verified.
  assert.equal(await page.locator('tr[data-run="1"] .verify').count(), 0);
  const button = page.locator('tr[data-run="2"] .verify');
  assert.equal(await button.textContent(), 'Verify');
  await page.screenshot({ path: path.join(SHOTS, 'history-verify.png'), fullPage: true });
  await button.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#page-results:not([hidden])');
  const sent = await calls(page, 'verify_job');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].args.run_id, 2);
  assert.match(sent[0].args.on_event, /^__CHANNEL__:\d+$/);
  assert.equal((await calls(page, 'rerun_job')).length, 0);

  assert.equal(await page.textContent('#job-name'), 'Verification of job acme');
  assert.equal(await page.isVisible('#job-kind'), true);
  assert.match(await page.textContent('#job-kind'), /^Verification only: nothing was copied\./);
  assert.equal(await page.textContent('#col-messages'), 'On the source');
  assert.equal(await page.textContent('#col-bytes'), 'On the destination');
  assert.equal(await page.textContent('#cancel-job'), 'Cancel the verification');

  // Its progress streams like a run's.
  const good = folder('INBOX', { verification: verified(4) });
  const bad = folder('Sent', { verification: UNVERIFIED });
  await page.evaluate((u) => { for (const x of u) window.__mock.push(x); }, [
    { update: 'job', view: { ...verifyView, state: 'running' } },
    { ...rowUpdate(0, row('jane', 'running', { folders: [good], messages_done: 4, messages_total: 4 })), job_id: 7 },
  ]);
  await page.waitForFunction(() => document.querySelector('.account[data-account="jane"] .folder').textContent === '1 checked…');
  assert.equal((await page.textContent('.account[data-account="jane"] .main .badge')).trim(), '➜ Verifying');
  assert.equal(await page.textContent('.account[data-account="jane"] .messages'), '4');
  const ended = {
    ...verifyView, state: 'finished', verdict: 'partial', session_log: true,
    totals: { ...EMPTY_VIEW.totals, mailboxes_done: 2, folders: 2, folders_verified: 1, source_messages: 9, destination_messages: 9, missing: 1, extra: 1 },
    rows: [row('jane', 'success', { folders: [good], elapsed_ms: 800 }), row('bob', 'partial', { folders: [bad], elapsed_ms: 900 })],
  };
  await page.evaluate(([u, v]) => {
    for (const x of u) window.__mock.push(x);
    window.__mock.jobs = [v];
    window.__mock.push({ update: 'ended', view: v });
  }, [[
    { ...rowUpdate(1, row('bob', 'running', { folders: [bad] })), job_id: 7 },
  ], ended]);
  await page.waitForFunction(() => document.querySelector('#job-state').dataset.state === 'partial');
  assert.equal((await page.textContent('#job-state')).trim(), '! Not verified');
  assert.equal((await page.textContent('.account[data-account="jane"] .main .badge')).trim(), '✓ Verified');
  assert.equal((await page.textContent('.account[data-account="bob"] .main .badge')).trim(), '! Not verified');
  assert.equal(await page.textContent('#job-totals'),
    '2 of 2 mailboxes checked · 1 of 2 folders verified · 9 messages on the source, 9 on the destination · 1 missing, 1 extra');
  assert.equal(await page.isVisible('#cancel-job'), false);
  await page.click('.account[data-account="bob"] button.expand');
  const folderRow = page.locator('.account[data-account="bob"] tr[data-folder="Sent"]');
  await folderRow.waitFor();
  assert.deepEqual(await page.locator('.account[data-account="bob"] table.folders thead th').allTextContents(),
    ['Folder', 'Verification', 'On the source', 'On the destination', 'Details']);
  assert.equal((await folderRow.locator('.badge').textContent()).trim(), '! Not verified');
  assert.match(await folderRow.textContent(), /Missing on the destination: “Quarterly report” from bob@x, 2019-01-02/);
  assert.match(await folderRow.textContent(), /Extra copy on the destination: “Lunch on Friday” from ann@x, 2019-03-04/);
  await page.screenshot({ path: path.join(SHOTS, 'results-verify-job.png'), fullPage: true });

  // Its log comes from the session (it is in no history).
  await page.click('#results-log');
  await page.waitForFunction(() => /Saved to .*verify7\.log$/.test(document.querySelector('#save-status').textContent));
  await page.click('#results-csv');
  await page.waitForFunction(() => /\.csv$/.test(document.querySelector('#save-status').textContent));
  assert.deepEqual((await calls(page, 'download_verification_log')).map((c) => c.args), [{ job_id: 7, format: 'text' }, { job_id: 7, format: 'csv' }]);
  assert.equal((await calls(page, 'download_log')).length, 0);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a verification the app refuses says why on History', async () => {
  const page = await open({ history: HISTORY, verifyError: { code: 'job-running', field: 'job', line: null, message: 'Job acme is running: verify it once it has finished.' } });
  await page.click('#tab-history');
  await page.click('tr[data-run="2"] .verify');
  await page.waitForFunction(() => document.querySelector('#history-status').textContent !== '');
  assert.equal(await page.textContent('#history-status'), 'Job acme is running: verify it once it has finished.');
  assert.equal(await page.isVisible('#page-history'), true);
  await page.close();
});

test('Retry failed runs only the failed and partial mailboxes again, from Results and from History', async () => {
  const rows = [VIEW.rows[2], VIEW.rows[3], VIEW.rows[4]];
  const done = {
    ...VIEW, state: 'finished', verdict: 'partial', run_id: 4, rows,
    totals: { ...VIEW.totals, mailboxes_done: 3, states: { ...EMPTY_VIEW.totals.states, success: 1, partial: 1, failed: 1 } },
  };
  const retryView = { ...VIEW, job_id: 2, run_id: 5, rows: [row('partial@x', 'pending'), row('failed@x', 'pending')] };
  const page = await open({ startView: done, retryView, history: HISTORY });
  await startWith(page);
  const button = page.locator('#retry-failed');
  assert.equal(await button.textContent(), 'Retry the 2 failed mailboxes');
  await button.click();
  await page.waitForFunction(() => document.querySelectorAll('#rows > .account').length === 2);
  assert.deepEqual((await calls(page, 'retry_failed')).map((c) => c.args.run_id), [4]);
  assert.deepEqual(await shownRows(page), ['partial@x', 'failed@x']);
  assert.equal(await page.isVisible('#retry-failed'), false);
  // History offers it for a saved run that did not fully succeed.
  await page.click('#tab-history');
  await page.waitForSelector('#history-rows tr[data-run="2"]');
  assert.equal(await page.locator('tr[data-run="1"] .retry').count(), 0);
  await page.click('tr[data-run="2"] .retry');
  await page.waitForSelector('#page-results:not([hidden])');
  assert.deepEqual((await calls(page, 'retry_failed')).map((c) => c.args.run_id), [4, 2]);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('Retry failed says why it cannot run', async () => {
  const done = { ...VIEW, state: 'finished', verdict: 'failed', run_id: 4, rows: [VIEW.rows[4]],
    totals: { ...VIEW.totals, states: { ...EMPTY_VIEW.totals.states, failed: 1 } } };
  const page = await open({ startView: done, retryError: { code: 'not-saved', field: 'job', line: null, message: 'Job acme was not started from this app, so its passwords are not kept: start it from New migration.' } });
  await startWith(page);
  assert.equal(await page.textContent('#retry-failed'), 'Retry the failed mailbox');
  await page.click('#retry-failed');
  await page.waitForFunction(() => /not started from this app/.test(document.querySelector('#save-status').textContent));
  assert.equal(await page.isVisible('#page-results'), true);
  await page.close();
});

test('Edit puts any job of History back in the form: a saved one whole, a command-line one with a note', async () => {
  // The form as the page sends it, filled by hand once.
  const first = await open();
  await first.fill('#name', 'acme');
  await first.fill('#source-host', 'old.example');
  await first.check('input[name="protocol"][value="pop3s"]');
  await first.click('tr[data-proto="pop3s"] .add-port');
  await first.keyboard.type('10995');
  await first.fill('#dest-host', 'new.example');
  await first.fill('#dest-port', '10993');
  await first.check('input[name="auth"][value="master"]');
  await first.fill('#master-user', 'admin');
  await first.fill('#master-password', 'pw');
  await first.fill('#translate', 'Sent Items,Sent');
  await first.selectOption('#delimiter', ';');
  await first.fill('#users', 'jane;"p;w";jane.doe');
  await first.fill('#retries', '2');
  // The old host's admin, the special folders by name only, filters, a rate limit.
  await first.click('#source-signin summary');
  assert.equal(await first.isVisible('#source-master-fields'), false);
  await first.check('input[name="source-auth"][value="master"]');
  await first.fill('#source-master-user', 'old-admin');
  await first.fill('#source-master-password', 'old-pw');
  await first.selectOption('#source-master-method', 'separator');
  await first.uncheck('#special-use');
  await first.click('#filters summary');
  await first.fill('#since', '2020-01-01');
  await first.fill('#before', '2025-06-30');
  await first.fill('#max-size', '25.5');
  await first.fill('#mb-per-second', '2.5');
  await first.click('#check');
  const typed = (await calls(first, 'validate_job')).at(-1).args.request.job;
  await first.close();
  assert.deepEqual([typed.source.auth, typed.source.master_user, typed.source.master_password, typed.source.master_method], ['master', 'old-admin', 'old-pw', 'separator']);
  assert.equal(typed.folders.special_use, 'off');
  assert.deepEqual(typed.filters, { since: '2020-01-01', before: '2025-06-30', max_message_mb: 25.5 });
  assert.deepEqual(typed.options, { retries: 2, max_mb_per_second: 2.5 });

  const cli = { name: 'nightly', source: { host: 'a.example' }, destination: { host: 'b.example' }, users: { delimiter: ',', list: 'bob,,bob2\n' } };
  const page = await open({
    history: HISTORY,
    editForms: { 2: { form: typed, note: null }, 1: { form: cli, note: 'Job nightly ran from the command line, so MailFerry kept its servers and mailboxes but not its passwords, ports or options.' } },
  });
  await page.click('#tab-history');
  await page.click('tr[data-run="2"] .edit');
  await page.waitForSelector('#page-new:not([hidden])');
  assert.equal(await page.textContent('#edit-note'), 'Job acme from run #2: change what you need, then start it.');
  await page.click('#check');
  assert.deepEqual((await calls(page, 'validate_job')).at(-1).args.request.job, typed);
  assert.equal(await page.isVisible('#master-fields'), true);
  assert.equal(await page.isVisible('#source-master-fields'), true);
  assert.equal(await page.isVisible('#since'), true);
  assert.equal(await page.isDisabled('#skip'), true);

  await page.click('#tab-history');
  await page.click('tr[data-run="1"] .edit');
  await page.waitForSelector('#page-new:not([hidden])');
  assert.match(await page.textContent('#edit-note'), /^Job nightly from run #1: change what you need, then start it\. Job nightly ran from the command line/);
  assert.equal(await page.inputValue('#users'), 'bob,,bob2\n');
  assert.equal(await page.inputValue('#source-host'), 'a.example');
  assert.equal(await page.isChecked('input[name="protocol"][value="imap4s"]'), true);
  assert.equal(await page.inputValue('#retries'), '');
  assert.equal(await page.inputValue('#dest-port'), '');
  assert.equal(await page.isChecked('input[name="source-auth"][value="user"]'), true);
  assert.equal(await page.isChecked('#special-use'), true);
  assert.equal(await page.inputValue('#since'), '');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('dark mode follows the system setting', async () => {
  const page = await open({ startView: VIEW });
  await page.emulateMedia({ colorScheme: 'dark' });
  await startWith(page);
  const colour = (sel, prop) => page.$eval(sel, (e, p) => getComputedStyle(e)[p], prop);
  assert.equal(await colour('html', 'backgroundColor'), 'rgb(20, 24, 29)');
  assert.equal(await colour('.account[data-account="failed@x"] .main .badge', 'color'), 'rgb(255, 155, 147)');
  assert.equal(await colour('.account[data-account="pending@x"] .main .badge', 'color'), 'rgb(180, 188, 200)');
  await page.screenshot({ path: path.join(SHOTS, 'results-dark.png'), fullPage: true });
  await page.close();
});

test('the form fits one screen at 1280×800, and is one column on a narrow window', async () => {
  const page = await open();
  await page.setViewportSize({ width: 1280, height: 800 });
  // The default form: IMAP4S, the advanced sections closed, no login results.
  assert.equal(await page.isChecked('input[name="protocol"][value="imap4s"]'), true);
  assert.deepEqual(await page.$$eval('details.advanced', (ds) => ds.map((d) => d.open)), [false, false, false, false, false, false, false, false]);
  // No preset: no hint, no OAuth settings.
  assert.equal(await page.isVisible('#source-preset-note'), false);
  assert.equal(await page.isVisible('#dest-oauth'), false);
  assert.equal(await page.isVisible('#login-results'), false);
  const measure = () => page.evaluate(() => {
    const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, top: r.top + scrollY, right: r.right, bottom: r.bottom + scrollY }; };
    return {
      scrollHeight: document.documentElement.scrollHeight,
      fieldsets: [...document.querySelectorAll('#job-form fieldset:not(fieldset fieldset)')].map(box),
      actions: box(document.querySelector('#job-form .actions')),
      fields: ['#name', '#source-host', '#users', '#dest-host', '#dest-port', '#dest-security', '#parallel', '#check', '#test-logins', '#start']
        .map((s) => [s, box(document.querySelector(s)).bottom]),
    };
  });
  const wide = await measure();
  assert.equal(wide.fieldsets.length, 6);
  assert.ok(wide.scrollHeight <= 800, `the page is ${wide.scrollHeight} px tall`);
  assert.ok(Math.max(...wide.fieldsets.map((f) => f.bottom)) <= 800, 'the last fieldset ends on the screen');
  assert.ok(wide.actions.bottom <= 800, `the action bar ends at ${wide.actions.bottom} px`);
  for (const [sel, bottom] of wide.fields) assert.ok(bottom <= 800, `${sel} ends at ${bottom} px`);
  // Two columns: Job, Source, Folders on the left; Users, Destination, Pace on the right.
  const [job, source, folders, users, dest, pace] = wide.fieldsets;
  assert.deepEqual([source.left, folders.left], [job.left, job.left]);
  assert.deepEqual([dest.left, pace.left], [users.left, users.left]);
  assert.ok(users.left >= job.right, 'Users is beside Job');

  await page.setViewportSize({ width: 900, height: 800 });
  const narrow = await measure();
  const lefts = new Set(narrow.fieldsets.map((f) => f.left));
  assert.equal(lefts.size, 1, `one column: left edges ${[...lefts]}`);
  narrow.fieldsets.slice(1).forEach((f, i) => assert.ok(f.top >= narrow.fieldsets[i].bottom, `fieldset ${i + 2} is under fieldset ${i + 1}`));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a dry run is started from the form, shows what it would copy on Results, and is marked in History', async () => {
  const planned = (n) => ({ source_id: String(n), date: `2024-01-0${n}`, from: 'bob@x', subject: `Plan ${n}`, size: 1000 * n });
  const dryView = {
    ...VIEW, kind: 'dry-run', state: 'finished', verdict: 'success', run_id: 7,
    totals: { ...VIEW.totals, mailboxes_done: 1, messages_done: 7, messages_total: 7, bytes_done: 12000, bytes_total: 12000, states: { pending: 0, running: 0, success: 1, partial: 0, failed: 0 }, migrated: 0, skipped: 4, failed: 0, would_copy: 2, would_copy_bytes: 3000, filtered: 1 },
    rows: [row('jane', 'success', {
      skipped: 4,
      folders: [folder('Sent Messages', {
        destination: 'Gesendete Objekte', skipped: 4, filtered: 1, filtered_bytes: 9000000,
        oversized: [{ source_id: '9', date: '2023-05-01', from: 'carol@x', subject: 'Huge scan', size: 9000000 }],
        notes: ['Sent Messages is the source\'s Sent folder (marked \\Sent); it goes to the destination\'s Sent folder, "Gesendete Objekte" (found by its name).'],
        would_copy: [planned(1), planned(2)],
      })],
    })],
  };
  const history = [{ ...HISTORY[0], run_id: 7, verdict: 'success', dry_run: true, migrated: 0, skipped: 4, failed: 0 }, { ...HISTORY[0], dry_run: false }];
  const page = await open({ startView: dryView, history });
  assert.equal(await page.textContent('#start'), 'Start migration');
  await page.check('#dry-run');
  assert.equal(await page.textContent('#start'), 'Start dry run');
  await startWith(page);
  assert.equal((await calls(page, 'start_job')).at(-1).args.dry_run, true);
  assert.equal(await page.textContent('#job-name'), 'Dry run of job acme');
  assert.match(await page.textContent('#job-kind'), /^Dry run: nothing was created, copied or changed on the destination\./);
  assert.match(await page.textContent('#job-totals'), /would copy 2 \(3\.0 KB\), 4 already there, 0 failed, 1 left out by filters/);
  await page.click('.account[data-account="jane"] button.expand');
  await page.waitForSelector('.account[data-account="jane"] .details:not([hidden])');
  const table = page.locator('.account[data-account="jane"] table.folders');
  const heads = await table.locator('thead th').allTextContents();
  assert.deepEqual(heads.slice(0, 6), ['Folder', 'Status', 'Would copy', 'Already there', 'Failed', 'Bytes to copy']);
  const text = await table.textContent();
  assert.match(text, /Sent Messages → Gesendete Objekte/);
  assert.match(text, /Would copy: “Plan 1” from bob@x, 2024-01-01/);
  assert.match(text, /Would copy: “Plan 2” from bob@x, 2024-01-02/);
  assert.match(text, /1 message \(9\.0 MB\) left out by the job's filters\./);
  assert.match(text, /Left out for its size \(9\.0 MB\): “Huge scan” from carol@x, 2023-05-01/);
  await page.screenshot({ path: path.join(SHOTS, 'dry-run.png'), fullPage: true });

  await page.click('#tab-history');
  await page.waitForSelector('#history-rows tr[data-run="7"]');
  const dry = page.locator('tr[data-run="7"]');
  assert.match(await dry.locator('th').textContent(), /acme\s*Dry run/);
  assert.match(await dry.textContent(), /nothing changed: 4 already there, 0 failed/);
  assert.equal(await dry.locator('.rerun, .retry, .verify').count(), 0);
  assert.equal(await dry.locator('.edit, .download-log').count(), 2);
  assert.equal(await page.locator('tr[data-run="2"] .rerun').count(), 1);
  assert.deepEqual(page.errors, []);
  await page.close();
});

const PREFLIGHT_FOLDER = (source, extra = {}) => ({
  source, destination: source, mapping: 'existing', notes: [], messages: 0, bytes: 0, present: 0, present_bytes: 0,
  to_copy: 0, to_copy_bytes: 0, filtered: 0, filtered_bytes: 0, duplicates: 0, error: null, ...extra,
});
const PREFLIGHT = {
  run_id: 12,
  report: {
    job: 'acme', source: 'old.example (IMAP4S)', destination: 'new.example (port 993)', created_at: '2026-11-30 10:00:00 +0000', elapsed_ms: 4200,
    estimate: { low_seconds: 240, high_seconds: 600, basis: 'Measured: logins and listing 1.2 s a mailbox; the source sends 8 MB/s.' },
    warnings: [
      { kind: 'over-quota', account: 'jane', folder: null, words: 'The destination mailbox has 10.0 MB free; the job would add 25.0 MB. Ask the new host to raise the quota.' },
      { kind: 'unreachable', account: 'bob', folder: null, words: 'Could not log in to old.example as bob: the server refused the password.' },
    ],
    mailboxes: [
      {
        source_user: 'jane', local_user: 'jane', error: null, error_code: null, elapsed_ms: 1200, append_limit: 50000000, too_large: [],
        quota: { used_bytes: 90000000, limit_bytes: 100000000 },
        folders: [
          PREFLIGHT_FOLDER('INBOX', { messages: 100, bytes: 20000000, present: 40, present_bytes: 5000000, to_copy: 60, to_copy_bytes: 15000000 }),
          PREFLIGHT_FOLDER('Sent Messages', { destination: 'Gesendete Objekte', messages: 30, bytes: 10000000, to_copy: 30, to_copy_bytes: 10000000, notes: ['Sent Messages is the source\'s Sent folder (marked \\Sent); it goes to the destination\'s Sent folder, "Gesendete Objekte" (found by its name).'] }),
          PREFLIGHT_FOLDER('Archive', { mapping: 'created', messages: 5, bytes: 1000, to_copy: 5, to_copy_bytes: 1000 }),
          PREFLIGHT_FOLDER('Trash', { mapping: 'skipped', messages: 9, bytes: 9000 }),
        ],
      },
      { source_user: 'bob', local_user: 'robert', error: 'Could not log in to old.example as bob: the server refused the password.', error_code: 'login-failed', elapsed_ms: 300, append_limit: null, too_large: [], quota: null, folders: [] },
    ],
  },
};

test('the pre-flight report checks every mailbox, shows what needs a decision, sorts by any column, and is kept in History', async () => {
  const history = [{ ...HISTORY[0], run_id: 12, preflight: true, dry_run: false, verdict: 'partial', migrated: 0, skipped: 40, failed: 0 }];
  const page = await open({ preflight: PREFLIGHT, history, preflightReports: { 12: PREFLIGHT.report } });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.fill('#source-host', 'old.example');
  await page.fill('#dest-host', 'new.example');
  await page.fill('#users', 'jane,pw,jane,pw2\nbob,pw,robert,pw3');
  await page.click('#preflight');
  await page.waitForSelector('#preflight-view .preflight');
  assert.equal((await calls(page, 'preflight_job')).length, 1);
  assert.equal(await page.isVisible('#preflight-progress'), false);
  const view = page.locator('#preflight-view');
  assert.equal(await view.locator('.preflight-summary').textContent(),
    '2 mailboxes (1 not reached) · 3 folders · 135 messages (30.0 MB) on the source · 40 already on the destination · 95 to copy (25.0 MB).');
  assert.match(await view.locator('.preflight-estimate').textContent(), /^Estimated time: between 4 min and 10 min\. Measured: logins/);
  const warnings = await view.locator('.preflight-warnings li').allTextContents();
  assert.deepEqual(warnings, [
    'Over quota: jane: The destination mailbox has 10.0 MB free; the job would add 25.0 MB. Ask the new host to raise the quota.',
    'Cannot log in: bob: Could not log in to old.example as bob: the server refused the password.',
  ]);
  // The mailboxes: the quota too small for what jane would get, bob's login.
  const jane = view.locator('table.preflight-mailboxes tr[data-key="m0"]');
  assert.match(await jane.textContent(), /90\.0 MB of 100\.0 MB used · too small/);
  assert.match(await view.locator('table.preflight-mailboxes tr[data-key="m1"]').textContent(), /bob → robert.*refused the password/);
  // Folders, sorted by what they would copy: ascending, then descending.
  const folders = view.locator('table.preflight-folders');
  const order = () => folders.locator('tbody tr td:nth-child(2)').allTextContents();
  assert.deepEqual(await order(), ['INBOX', 'Sent Messages', 'Archive', 'Trash']);
  const toCopy = folders.locator('th', { hasText: /^To copy/ }).locator('button');
  await toCopy.click();
  assert.deepEqual(await order(), ['Trash', 'Archive', 'Sent Messages', 'INBOX']);
  assert.equal(await folders.locator('th', { hasText: /^To copy/ }).getAttribute('aria-sort'), 'ascending');
  await toCopy.focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await order(), ['INBOX', 'Sent Messages', 'Archive', 'Trash']);
  assert.equal(await folders.locator('th', { hasText: /^To copy/ }).getAttribute('aria-sort'), 'descending');
  assert.match(await folders.locator('tr[data-key="m0f1"]').textContent(), /Sent Messages.*Gesendete Objekte.*Exists.*found by its name/);
  assert.match(await folders.locator('tr[data-key="m0f2"]').textContent(), /Will be created/);
  assert.match(await folders.locator('tr[data-key="m0f3"]').textContent(), /Skipped by a rule/);
  await page.locator('#preflight-results').screenshot({ path: path.join(SHOTS, 'preflight.png') });
  await view.locator('button.preflight-csv').click();
  await page.waitForFunction(() => /Saved to/.test(document.querySelector('#form-status').textContent));
  assert.deepEqual((await calls(page, 'download_preflight')).at(-1).args, { run_id: 12, format: 'csv' });

  // History keeps it, marked, and opens it below the list.
  await page.click('#tab-history');
  await page.waitForSelector('#history-rows tr[data-run="12"]');
  const row = page.locator('tr[data-run="12"]');
  assert.match(await row.locator('th').textContent(), /acme\s*Pre-flight/);
  assert.equal(await row.locator('.rerun, .retry, .verify, .download-log').count(), 0);
  await row.locator('.open-preflight').click();
  await page.waitForSelector('#history-preflight:not([hidden]) .preflight');
  assert.equal(await page.textContent('#h-history-preflight'), 'Pre-flight report of job acme (run #12)');
  assert.equal(await page.locator('#history-preflight table.preflight-folders tbody tr').count(), 4);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a pre-flight check can be cancelled, and says how far it got', async () => {
  const page = await open({ preflight: PREFLIGHT, preflightHold: 1 });
  await page.fill('#source-host', 'old.example');
  await page.fill('#dest-host', 'new.example');
  await page.fill('#users', 'jane,pw,jane,pw2\nbob,pw,robert,pw3');
  await page.focus('#preflight');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#preflight-count').textContent === 'Checked 1 of 2 mailboxes');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-preflight');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#preflight-view .preflight');
  assert.match(await page.textContent('#preflight-view .preflight-summary'), /^1 mailbox · 3 folders/);
  assert.equal(await page.isVisible('#preflight-progress'), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'preflight');
  assert.deepEqual(page.errors, []);
  await page.close();
});

// ---- host presets and OAuth 2.0

/** A fresh page whose Preset selects hold the engine's presets. */
async function openWithPresets(scenario = {}, fns = {}) {
  const page = await open(scenario, fns);
  await page.waitForSelector('#dest-preset option[value="microsoft-365"]', { state: 'attached' });
  return page;
}

const lastJob = async (page) => {
  await page.click('#check');
  return (await calls(page, 'validate_job')).at(-1).args.request.job;
};

test('a preset fills the server and its settings, shows its hint and the app-password link, and an OAuth-only host signs in with OAuth', async () => {
  const page = await openWithPresets();
  // The names are the engine's (Preset::info), after "Other server".
  const names = await page.$$eval('#source-preset option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(names, ['Other server', 'Gmail', 'Google Workspace', 'Microsoft 365', 'Outlook.com', 'Yahoo Mail', 'iCloud Mail', 'Fastmail', 'Zoho Mail']);

  // An app-password host: its server, IMAP4S on 993, its hint and where to make the password.
  await page.check('input[name="protocol"][value="pop3"]');
  await page.selectOption('#source-preset', 'yahoo');
  assert.equal(await page.inputValue('#source-host'), 'imap.mail.yahoo.com');
  assert.equal(await page.isChecked('input[name="protocol"][value="imap4s"]'), true);
  assert.match(await page.textContent('#source-preset-hint'), /^Yahoo needs an app password/);
  assert.equal(await page.isVisible('#source-app-password'), true);
  await page.click('#source-app-password');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'open_link'));
  assert.deepEqual((await calls(page, 'open_link')).map((c) => c.args.url), ['https://login.yahoo.com/account/security/app-passwords']);
  assert.match(await page.textContent('#form-status'), /Opened https:\/\/login\.yahoo\.com/);
  await page.click('#source-app-password-copy');
  await page.waitForFunction(() => /app-passwords/.test(document.querySelector('#form-status').textContent));
  // Still editable: the user's own host is sent with the preset.
  await page.fill('#source-host', 'imap.mail.yahoo.example');
  let job = await lastJob(page);
  assert.equal(job.source.preset, 'yahoo');
  assert.equal(job.source.host, 'imap.mail.yahoo.example');
  assert.equal(job.source.protocol, 'imap4s');
  assert.deepEqual(job.source.ports.imap4s, [993]);
  assert.equal(job.source.auth, undefined);

  // An OAuth-only host: its server on 993 over TLS, OAuth with the tenant's app, no app password.
  await page.fill('#dest-port', '143');
  await page.selectOption('#dest-security', 'starttls');
  await page.selectOption('#dest-preset', 'microsoft-365');
  assert.equal(await page.inputValue('#dest-host'), 'outlook.office365.com');
  assert.equal(await page.inputValue('#dest-port'), '993');
  assert.equal(await page.inputValue('#dest-security'), 'tls');
  assert.match(await page.textContent('#dest-preset-hint'), /^Microsoft 365 accepts only OAuth 2\.0 over IMAP/);
  assert.equal(await page.isVisible('#dest-app-password'), false);
  assert.equal(await page.isChecked('input[name="auth"][value="oauth"]'), true);
  assert.equal(await page.inputValue('#dest-oauth-flow'), 'client-credentials');
  await page.fill('#dest-oauth-client-id', 'app-1');
  await page.fill('#dest-oauth-client-secret', 's3cret');
  await page.fill('#dest-oauth-tenant', 'contoso.example');
  job = await lastJob(page);
  assert.equal(job.destination.preset, 'microsoft-365');
  assert.equal(job.destination.auth, 'oauth');
  // The preset gives the provider: none is sent.
  assert.deepEqual(job.destination.oauth, { flow: 'client-credentials', client_id: 'app-1', client_secret: 's3cret', tenant: 'contoso.example' });

  // Outlook.com: the personal accounts' tenant, a person signing in with a code.
  await page.selectOption('#source-preset', 'outlook.com');
  assert.equal(await page.isChecked('input[name="source-auth"][value="oauth"]'), true);
  assert.equal(await page.getAttribute('#source-signin', 'open'), '', 'the OAuth settings to fill in are shown');
  assert.match(await page.textContent('#source-signin summary'), /OAuth 2\.0, sign in each mailbox with a code/);
  assert.equal(await page.inputValue('#source-oauth-tenant'), 'consumers');

  // Back to another server: the preset's host and hint go.
  await page.selectOption('#dest-preset', '');
  assert.equal(await page.inputValue('#dest-host'), '');
  assert.equal(await page.isVisible('#dest-preset-note'), false);
  job = await lastJob(page);
  assert.equal(job.destination.preset, undefined);
  await page.screenshot({ path: path.join(SHOTS, 'presets-yahoo.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the OAuth settings say step by step where to register the app, for the provider and flow chosen', async () => {
  const page = await openWithPresets();
  const steps = (pre) => page.$$eval(`#${pre}-oauth-setup ol, #${pre}-oauth-setup p`,
    (es) => es.filter((e) => e.checkVisibility()).map((e) => e.textContent.replace(/\s+/g, ' ').trim()).join(' | '));
  // Microsoft 365 on the destination: the tenant's app, set up in Entra and Exchange Online.
  await page.selectOption('#dest-preset', 'microsoft-365');
  await page.click('#dest-oauth-setup summary');
  let text = await steps('dest');
  assert.match(text, /Entra admin center/);
  assert.match(text, /IMAP\.AccessAsApp/);
  assert.match(text, /Add-MailboxPermission/);
  assert.doesNotMatch(text, /Google|AccessAsUser/);
  await page.locator('#dest-oauth').screenshot({ path: path.join(SHOTS, 'oauth-setup-steps.png') });
  // A person signing in instead: a public client with delegated permissions.
  await page.selectOption('#dest-oauth-flow', 'device');
  text = await steps('dest');
  assert.match(text, /Allow public client flows/);
  assert.match(text, /IMAP\.AccessAsUser\.All/);
  assert.doesNotMatch(text, /AccessAsApp/);
  // Gmail on the source: a Desktop app in Google Cloud; a service account needs delegation.
  await page.selectOption('#source-preset', 'gmail');
  await page.click('#source-signin summary');
  await page.check('input[name="source-auth"][value="oauth"]');
  await page.selectOption('#source-oauth-flow', 'browser');
  await page.click('#source-oauth-setup summary');
  text = await steps('source');
  assert.match(text, /Gmail API/);
  assert.match(text, /Desktop app/);
  assert.doesNotMatch(text, /Entra/);
  await page.selectOption('#source-oauth-flow', 'service-account');
  assert.match(await steps('source'), /domain-wide delegation.*https:\/\/mail\.google\.com\//);
  await page.selectOption('#source-oauth-flow', 'device');
  assert.match(await steps('source'), /Google does not allow mail access from sign-in with a code/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('OAuth shows only the fields each flow needs, sends only those, and its errors land on their field', async () => {
  const page = await openWithPresets({}, {
    validate: `(req) => {
      const o = req.job.destination.oauth;
      return o && o.flow === 'client-credentials' && !o.tenant
        ? { ok: false, error: { field: 'destination.oauth', line: null, message: 'OAuth sign-in for the destination: the tenant\\'s app needs the tenant (tenant = "contoso.onmicrosoft.com" or its ID).' }, warnings: [], mailboxes: 0 }
        : { ok: true, error: null, warnings: [], mailboxes: 1 };
    }`,
  });
  await page.check('input[name="auth"][value="oauth"]');
  const shown = () => page.$$eval('#dest-oauth input, #dest-oauth select, #dest-oauth button, #dest-oauth summary',
    (es) => es.filter((e) => e.checkVisibility() || e.closest('.file-pick')?.checkVisibility()).map((e) => e.id || e.textContent.trim()));
  const flows = {
    // No preset: the provider is chosen; Microsoft's needs a tenant.
    device: ['dest-oauth-flow', 'dest-sign-in', 'dest-oauth-provider', 'dest-oauth-client-id', 'dest-oauth-client-secret', 'Advanced: scope and addresses', 'How to set this up'],
    browser: ['dest-oauth-flow', 'dest-sign-in', 'dest-oauth-provider', 'dest-oauth-client-id', 'dest-oauth-client-secret', 'Advanced: scope and addresses', 'How to set this up'],
    'client-credentials': ['dest-oauth-flow', 'dest-oauth-provider', 'dest-oauth-client-id', 'dest-oauth-client-secret', 'Advanced: scope and addresses', 'How to set this up'],
    'service-account': ['dest-oauth-flow', 'dest-oauth-key-file', 'Advanced: scope and addresses', 'How to set this up'],
    token: ['dest-oauth-flow', 'Advanced: scope and addresses', 'How to set this up'],
  };
  for (const [flow, ids] of Object.entries(flows)) {
    await page.selectOption('#dest-oauth-flow', flow);
    assert.deepEqual(await shown(), ids, flow);
  }
  // The token flow says where the tokens go, and the list's 4th column is a token.
  assert.match(await page.textContent('#dest-oauth-flow-hint'), /access token goes in the user list/);
  assert.equal(await page.getAttribute('#users', 'placeholder'), 'source_user,source_password[,local_user[,local_token]]');
  assert.deepEqual((await lastJob(page)).destination.oauth, { flow: 'token' });

  // Microsoft: the tenant; the advanced addresses, each for its flow.
  await page.selectOption('#dest-oauth-flow', 'device');
  await page.selectOption('#dest-oauth-provider', 'microsoft');
  assert.equal(await page.isVisible('#dest-oauth-tenant'), true);
  await page.fill('#dest-oauth-client-id', 'app-2');
  await page.fill('#dest-oauth-tenant', 'contoso.example');
  await page.click('#dest-oauth-advanced summary');
  assert.equal(await page.isVisible('#dest-oauth-device-url'), true);
  assert.equal(await page.isVisible('#dest-oauth-auth-url'), false);
  await page.fill('#dest-oauth-scope', 'https://outlook.office365.com/IMAP.AccessAsUser.All offline_access');
  await page.fill('#dest-oauth-device-url', 'https://login.example/devicecode');
  // A hidden field's old value (the browser flow's) is not sent.
  await page.$eval('#dest-oauth-auth-url', (e) => { e.value = 'https://login.example/authorize'; });
  assert.deepEqual((await lastJob(page)).destination.oauth, {
    flow: 'device', provider: 'microsoft', client_id: 'app-2', tenant: 'contoso.example',
    scope: 'https://outlook.office365.com/IMAP.AccessAsUser.All offline_access', device_url: 'https://login.example/devicecode',
  });

  // The engine's error for the side: under its OAuth settings, on the input it names.
  await page.selectOption('#dest-oauth-flow', 'client-credentials');
  await page.fill('#dest-oauth-tenant', '');
  await page.click('#check');
  await page.waitForSelector('#err-destination-oauth:not([hidden])');
  assert.match(await page.textContent('#err-destination-oauth'), /the tenant's app needs the tenant/);
  assert.equal(await page.getAttribute('#dest-oauth-tenant', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#dest-oauth-client-id', 'aria-invalid'), null);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a service account key file is read in the page and sent as service_account_json', async () => {
  const page = await openWithPresets();
  const key = JSON.stringify({ type: 'service_account', client_email: 'mf@p.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n' });
  await page.selectOption('#source-preset', 'google-workspace');
  await page.click('#source-signin summary');
  await page.check('input[name="source-auth"][value="oauth"]');
  // Google Workspace: a service account is the usual way for a whole domain.
  assert.equal(await page.inputValue('#source-oauth-flow'), 'service-account');
  assert.equal(await page.textContent('#source-oauth-key-status'), 'No key chosen.');
  await page.setInputFiles('#source-oauth-key-file', { name: 'mailferry-key.json', mimeType: 'application/json', buffer: Buffer.from(key) });
  await page.waitForFunction(() => /is read/.test(document.querySelector('#source-oauth-key-status').textContent));
  assert.equal(await page.textContent('#source-oauth-key-status'), 'mailferry-key.json: the key of mf@p.iam.gserviceaccount.com is read.');
  const job = await lastJob(page);
  assert.deepEqual(job.source.oauth, { flow: 'service-account', service_account_json: key });
  assert.equal(job.source.preset, 'google-workspace');
  // The key's text is sent, never shown.
  assert.equal(await page.evaluate(() => document.body.innerText.includes('MIIB')), false);

  // Saved with the job, it comes back with Edit; a key the keyring lost is asked for again.
  const saved = { ...job, name: 'acme' };
  const lost = { ...job, name: 'acme', source: { ...job.source, oauth: { flow: 'service-account', service_account_json: null } } };
  const again = await openWithPresets({
    history: HISTORY,
    editForms: { 2: { form: saved, note: null }, 1: { form: lost, note: 'Some passwords of job acme are no longer in the keyring.' } },
  });
  await again.click('#tab-history');
  await again.click('tr[data-run="2"] .edit');
  await again.waitForSelector('#page-new:not([hidden])');
  assert.equal(await again.textContent('#source-oauth-key-status'), 'Key of mf@p.iam.gserviceaccount.com from the saved job.');
  assert.equal(await again.getAttribute('#source-signin', 'open'), '');
  assert.deepEqual(await lastJob(again), saved);
  await again.click('#tab-history');
  await again.click('tr[data-run="1"] .edit');
  await again.waitForSelector('#page-new:not([hidden])');
  assert.equal(await again.textContent('#source-oauth-key-status'), 'The key is no longer kept: choose the file again.');
  assert.equal((await lastJob(again)).source.oauth.service_account_json, undefined);
  assert.deepEqual([...page.errors, ...again.errors], []);
  await page.close();
  await again.close();
});

test('the user list needs no password for a side that signs in with OAuth, except pasted tokens', async () => {
  const page = await openWithPresets();
  await page.fill('#users', 'jane,,jane.doe\nbob');
  await page.waitForSelector('#users-preview:not([hidden])');
  await page.click('#source-signin summary');
  await page.check('input[name="source-auth"][value="oauth"]');
  await page.check('input[name="auth"][value="oauth"]');
  await page.selectOption('#dest-oauth-flow', 'browser');
  await page.waitForFunction(() => document.querySelector('#users-preview-rows td.not-needed'));
  // The engine reads the list knowing the source's flow.
  const sent = (await calls(page, 'preview_users')).at(-1).args;
  assert.equal(sent.source_admin, false);
  assert.equal(sent.source_oauth, 'device');
  const cells = await page.$$eval('#users-preview-rows tr[data-line="1"] td', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(cells, ['jane', 'not needed', 'jane.doe', 'not needed']);
  assert.equal(await page.getAttribute('#users', 'placeholder'), 'source_user[,,local_user]');
  // Pasted tokens are the list's second column again.
  await page.selectOption('#source-oauth-flow', 'token');
  await page.waitForFunction(() => window.__mock.calls.filter((c) => c.cmd === 'preview_users').at(-1).args.source_oauth === 'token');
  await page.waitForFunction(() => document.querySelector('#users-preview-rows tr[data-line="1"] td:nth-child(3)').textContent !== 'not needed');
  assert.equal(await page.getAttribute('#users', 'placeholder'), 'source_user,source_token[,local_user]');
  assert.deepEqual(page.errors, []);
  await page.close();
});

const CODE = { event: 'code', verification_uri: 'https://microsoft.com/devicelogin', verification_uri_complete: null, user_code: 'ABCD-EFGH', expires_in: 900 };

test('the sign-in panel lists the side\'s mailboxes, shows the code to type, and Signed in once approved', async () => {
  const page = await openWithPresets({
    oauthStatus: [{ user: 'jane@contoso.com', signed_in: false }, { user: 'bob@contoso.com', signed_in: true }],
    signInEvents: [CODE],
  });
  await page.fill('#users', 'jane@old.example,pw1,jane@contoso.com\nbob@old.example,pw2,bob@contoso.com');
  await page.selectOption('#dest-preset', 'outlook.com');
  assert.equal(await page.inputValue('#dest-oauth-flow'), 'device');
  await page.fill('#dest-oauth-client-id', 'app-3');
  // Only a person's sign-in has mailboxes to sign in.
  await page.selectOption('#dest-oauth-flow', 'client-credentials');
  assert.equal(await page.isVisible('#dest-sign-in'), false);
  await page.selectOption('#dest-oauth-flow', 'device');
  await page.focus('#dest-sign-in');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin-dialog[open]');
  const status = (await calls(page, 'oauth_status')).at(-1).args;
  assert.equal(status.side, 'destination');
  assert.equal(status.request.job.destination.oauth.client_id, 'app-3');
  assert.equal(await page.textContent('#signin-title'), 'Sign in the new server\'s mailboxes');
  const states = () => page.$$eval('#signin-rows tr', (trs) => trs.map((t) => [t.dataset.user, t.querySelector('.badge').textContent.trim()]));
  assert.deepEqual(await states(), [['jane@contoso.com', '○ Not signed in'], ['bob@contoso.com', '✓ Signed in']]);
  assert.match(await page.textContent('#signin-summary'), /^1 of 2 mailboxes signed in\./);
  // The focus is on the first mailbox to sign in.
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Sign in: jane@contoso.com');

  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin-code-box:not([hidden])');
  assert.equal(await page.textContent('#signin-user-code'), 'ABCD-EFGH');
  assert.equal(await page.textContent('#signin-address'), 'https://microsoft.com/devicelogin');
  assert.match(await page.textContent('#signin-waiting'), /Waiting for you to approve… \(the code expires in 15 minutes\)/);
  assert.deepEqual(await states(), [['jane@contoso.com', '➜ Signing in…'], ['bob@contoso.com', '✓ Signed in']]);
  const signIn = (await calls(page, 'oauth_sign_in')).at(-1).args;
  assert.deepEqual([signIn.side, signIn.user], ['destination', 'jane@contoso.com']);
  // The code is big: the page shows it at least twice the text's size.
  const size = await page.$eval('#signin-user-code', (e) => parseFloat(getComputedStyle(e).fontSize));
  assert.ok(size >= 28, `the code is ${size} px`);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-copy-code');
  await page.click('#signin-open');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'open_link'));
  assert.equal((await calls(page, 'open_link')).at(-1).args.url, 'https://microsoft.com/devicelogin');
  await page.locator('#signin-dialog').screenshot({ path: path.join(SHOTS, 'sign-in-code.png') });

  await page.evaluate(() => window.__mock.finishSignIn({ user: 'jane@contoso.com', signed_in: true }));
  await page.waitForSelector('#signin-wait', { state: 'hidden' });
  assert.deepEqual(await states(), [['jane@contoso.com', '✓ Signed in'], ['bob@contoso.com', '✓ Signed in']]);
  assert.match(await page.textContent('#signin-summary'), /^2 of 2 mailboxes signed in\. The job can start\./);
  assert.equal(await page.textContent('#signin-status'), 'jane@contoso.com is signed in.');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Sign in again: jane@contoso.com');

  // Cancel stops a sign-in; the mailbox is as the app says.
  await page.click('tr[data-user="bob@contoso.com"] button');
  await page.waitForSelector('#signin-code-box:not([hidden])');
  await page.click('#signin-cancel');
  await page.waitForSelector('#signin-wait', { state: 'hidden' });
  assert.equal((await calls(page, 'cancel_sign_in')).length, 1);
  assert.equal(await page.textContent('#signin-status'), 'The sign-in of bob@contoso.com was cancelled.');

  // A refused sign-in says why, in words, on its row.
  await page.click('tr[data-user="bob@contoso.com"] button');
  await page.waitForSelector('#signin-code-box:not([hidden])');
  await page.evaluate(() => window.__mock.finishSignIn({ code: 'sign-in-failed', field: 'destination.oauth', line: null, message: 'Microsoft refused the sign-in of bob@contoso.com: the code expired. Sign in again.' }));
  await page.waitForSelector('tr[data-user="bob@contoso.com"][data-state="failed"]');
  assert.match(await page.textContent('tr[data-user="bob@contoso.com"]'), /✕ Not signed in.*the code expired\. Sign in again\./);

  // Escape closes the panel; the focus goes back to its button.
  await page.keyboard.press('Escape');
  await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'dest-sign-in');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('signing in in the browser opens it, and a form the engine refuses shows its error instead of the panel', async () => {
  const page = await openWithPresets({
    oauthStatus: [{ user: 'jane@gmail.com', signed_in: false }],
    signInEvents: [{ event: 'browser', url: 'https://accounts.google.com/o/oauth2/v2/auth?client_id=app', opened: false }],
    oauthStatusError: { code: 'invalid-job', field: 'source.oauth', line: null, message: 'OAuth sign-in for the source: sign-in in the browser needs the client ID of the app you registered (client_id).' },
  });
  await page.selectOption('#source-preset', 'gmail');
  await page.click('#source-signin summary');
  await page.check('input[name="source-auth"][value="oauth"]');
  assert.equal(await page.inputValue('#source-oauth-flow'), 'browser');
  await page.click('#source-sign-in');
  await page.waitForSelector('#err-source-oauth:not([hidden])');
  assert.equal(await page.isVisible('#signin-dialog'), false);
  assert.equal(await page.getAttribute('#source-oauth-client-id', 'aria-invalid'), 'true');

  await page.evaluate(() => { window.__mock.oauthStatusError = null; });
  await page.fill('#source-oauth-client-id', 'app');
  await page.click('#source-sign-in');
  await page.waitForSelector('#signin-dialog[open]');
  assert.equal(await page.textContent('#signin-title'), 'Sign in the old server\'s mailboxes');
  await page.click('tr[data-user="jane@gmail.com"] button');
  await page.waitForSelector('#signin-browser-box:not([hidden])');
  // The browser did not open: the address is there to copy.
  assert.match(await page.textContent('#signin-browser-text'), /The browser could not be opened/);
  assert.equal(await page.textContent('#signin-browser-url'), 'https://accounts.google.com/o/oauth2/v2/auth?client_id=app');
  assert.equal(await page.isVisible('#signin-copy-url'), true);
  // Closing the panel stops the sign-in.
  await page.click('#signin-close');
  await page.waitForFunction(() => window.__mock.calls.some((c) => c.cmd === 'cancel_sign_in'));
  await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the keyboard reaches every new control: presets, the app-password link, signing in and each OAuth field', async () => {
  const page = await openWithPresets({ oauthStatus: [{ user: 'jane', signed_in: false }] });
  await page.selectOption('#source-preset', 'yahoo');
  await page.check('input[name="auth"][value="oauth"]');
  await page.selectOption('#dest-oauth-provider', 'microsoft');
  await page.focus('#tab-new');
  const seen = new Set();
  const tab = async (n) => {
    for (let i = 0; i < n; i++) {
      await page.keyboard.press('Tab');
      seen.add(await page.evaluate(() => {
        const e = document.activeElement;
        return e.id || (e.tagName === 'SUMMARY' && `summary:${e.parentElement.id}`) || `${e.tagName}:${e.getAttribute('name')}:${e.value}`;
      }));
    }
  };
  // The source's sign-in settings open from the keyboard.
  for (let i = 0; i < 30 && !seen.has('summary:source-signin'); i++) await tab(1);
  assert.ok(seen.has('summary:source-signin'), [...seen].join(', '));
  await page.focus('#source-signin summary');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'source-auth');
  // Arrows choose the radio; OAuth's fields follow.
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.isChecked('input[name="source-auth"][value="oauth"]'), true);
  await tab(80);
  for (const id of ['source-preset', 'source-app-password', 'source-app-password-copy', 'source-oauth-flow', 'source-sign-in', 'source-oauth-provider',
    'source-oauth-client-id', 'source-oauth-client-secret', 'summary:source-oauth-advanced', 'dest-preset', 'dest-oauth-flow', 'dest-sign-in',
    'dest-oauth-provider', 'dest-oauth-client-id', 'dest-oauth-client-secret', 'dest-oauth-tenant', 'summary:dest-oauth-advanced']) {
    assert.ok(seen.has(id), `${id} is not reachable with Tab: ${[...seen].join(', ')}`);
  }
  // The service account's file picker too.
  await page.selectOption('#dest-oauth-flow', 'service-account');
  await page.focus('#dest-oauth-flow');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'dest-oauth-key-file');
  // The panel: each mailbox's button, then Close.
  await page.selectOption('#dest-oauth-flow', 'device');
  await page.focus('#dest-sign-in');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin-dialog[open]');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Sign in: jane');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-close');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the form with a preset and a tenant\'s app stays compact, nothing overlapping (the README\'s screenshot)', async () => {
  const page = await openWithPresets();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.fill('#name', 'contoso-move');
  await page.fill('#source-host', 'mail.old-host.example');
  await page.selectOption('#dest-preset', 'microsoft-365');
  await page.fill('#dest-oauth-client-id', '4f1c2a9e-7b3d-4e8a-9c61-2d5b8e0f7a13');
  await page.fill('#dest-oauth-client-secret', 'not-a-real-secret');
  await page.fill('#dest-oauth-tenant', 'contoso.onmicrosoft.com');
  await page.fill('#users', 'jane@old-host.example,Summer2019!,jane@contoso.com');
  await page.click('#check');
  await page.waitForFunction(() => /valid/.test(document.querySelector('#form-status').textContent));
  // No two controls of the form cover each other.
  const overlaps = await page.evaluate(() => {
    const all = [...document.querySelectorAll('#job-form input:not(.visually-hidden), #job-form select, #job-form button, #job-form summary, #job-form label, #job-form .hint')]
      .filter((e) => e.checkVisibility() && !e.closest('.actions'));
    const box = (e) => e.getBoundingClientRect();
    const out = [];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const [a, b] = [all[i], all[j]];
        if (a.contains(b) || b.contains(a)) continue;
        const [p, q] = [box(a), box(b)];
        const x = Math.min(p.right, q.right) - Math.max(p.left, q.left);
        const y = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        if (x > 1 && y > 1) out.push(`${a.id || a.textContent.trim().slice(0, 20)} / ${b.id || b.textContent.trim().slice(0, 20)}`);
      }
    }
    return out;
  });
  assert.deepEqual(overlaps, []);
  // The tenant's app takes four lines more than a password login: the flow, two rows of fields, and
  // the closed "How to set this up".
  const dest = await page.$eval('#dest-oauth', (e) => e.getBoundingClientRect().height);
  assert.ok(dest <= 135, `the OAuth settings are ${dest} px tall`);
  // The window as the user sees it: from the top, the preset and the
  // tenant's app in view above the action bar.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const bar = await page.$eval('#job-form .actions', (e) => e.getBoundingClientRect().top);
  const tenant = await page.$eval('#dest-oauth-tenant', (e) => e.getBoundingClientRect().bottom);
  assert.ok(tenant < bar, `the tenant ends at ${tenant} px, under the action bar at ${bar} px`);
  await page.screenshot({ path: path.join(SHOTS, 'presets.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});
