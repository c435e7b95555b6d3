// The Results page under a 500-mailbox job, in headless Chromium: how much
// of the main thread the page takes while the app sends row updates at its
// throttled rate. A benchmark that prints figures, not a test.
// Run: node tests-ui/bench-results.mjs [--seconds 15] [--running 8]
import { ROW, VIEW } from '../ui/fixtures.js';
import { startServer, launchChromium, openPage } from './page-harness.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 15);
const RUNNING = arg('running', 8);
const MAILBOXES = 500;
// The app sends a row's progress at most every 120 ms (service::live).
const EVERY_MS = 120;

const rows = Array.from({ length: MAILBOXES }, (_, i) => ({ ...ROW, account: `user${String(i).padStart(3, '0')}@example.com`, local_user: `user${String(i).padStart(3, '0')}@example.com` }));
const startView = {
  ...VIEW, job_id: 1, name: 'reseller-500', state: 'running', source: 'old.example (IMAP4S)', destination: 'new.example (port 993)',
  rows, totals: { ...VIEW.totals, states: { ...VIEW.totals.states, pending: MAILBOXES } },
};

/** In the page: mailboxes copied RUNNING at a time, each running row updated every EVERY_MS. */
function drive({ seconds, running, every }) {
  const mock = window.__mock;
  const view = mock.startView;
  const rows = view.rows.map((r) => ({ ...r }));
  const t = structuredClone(view.totals);
  let next = 0;
  let sent = 0;
  const active = new Set();
  const begin = () => {
    if (next >= rows.length) return;
    const i = next++;
    Object.assign(rows[i], { state: 'running', folder: 'INBOX', messages_total: 60, bytes_total: 600000 });
    t.states.pending--; t.states.running++;
    t.messages_total += 60; t.bytes_total += 600000;
    active.add(i);
  };
  for (let k = 0; k < running; k++) begin();
  return new Promise((resolve) => {
    const end = performance.now() + seconds * 1000;
    const step = () => {
      for (const i of [...active]) {
        const r = rows[i] = { ...rows[i] };
        const n = Math.min(6, r.messages_total - r.messages_done);
        r.messages_done += n; r.bytes_done += n * 10000; r.elapsed_ms += every;
        t.messages_done += n; t.bytes_done += n * 10000;
        if (r.messages_done === r.messages_total) {
          // One in fifty fails, as wrong passwords do.
          r.state = i % 50 === 7 ? 'failed' : 'success';
          r.migrated = r.messages_done;
          t.states.running--; t.states[r.state]++; t.mailboxes_done++;
          active.delete(i);
          begin();
        }
        mock.push({ update: 'row', job_id: 1, run_id: null, index: i, row: r, totals: structuredClone(t) });
        sent++;
      }
      if (performance.now() < end) setTimeout(step, every);
      else resolve({ sent, done: t.mailboxes_done });
    };
    setTimeout(step, every);
  });
}

async function measure(page, label, setup) {
  await setup(page);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const a = await metrics();
  const wall0 = Date.now();
  const r = await page.evaluate(drive, { seconds: SECONDS, running: RUNNING, every: EVERY_MS });
  const b = await metrics();
  const wall = (Date.now() - wall0) / 1000;
  const pct = (k) => (100 * (b[k] - a[k])) / wall;
  console.log(`${label}: main thread busy ${pct('TaskDuration').toFixed(1)}% of ${wall.toFixed(1)} s`
    + ` (script ${pct('ScriptDuration').toFixed(1)}%, layout ${pct('LayoutDuration').toFixed(1)}%, style ${pct('RecalcStyleDuration').toFixed(1)}%);`
    + ` ${r.sent} row updates (${(r.sent / wall).toFixed(0)}/s), ${r.done} mailboxes ended`);
  return pct('TaskDuration');
}

const server = await startServer();
const browser = await launchChromium();
try {
  const variants = [
    ['500 rows, list order', async () => {}],
    ['500 rows, sorted by progress', async (p) => p.click('[data-sort="progress"] button')],
    ['500 rows, 3 open, searched to 100', async (p) => {
      for (const i of [0, 1, 2]) await p.locator("#rows > .account").nth(i).locator("button.expand").click();
      await p.fill('#row-search', 'user0');
    }],
  ];
  const worst = [];
  for (const [label, setup] of variants) {
    const page = await openPage(browser, server.base, { startView });
    await page.fill('#source-host', 'old.example');
    await page.fill('#dest-host', 'new.example');
    await page.fill('#users', 'a,b');
    const t0 = Date.now();
    await page.click('#start');
    await page.waitForFunction((n) => document.querySelectorAll('#rows > .account').length === n, MAILBOXES);
    const shown = Date.now() - t0;
    console.log(`${label}: 500 rows on screen ${shown} ms after Start`);
    worst.push(await measure(page, label, setup));
    if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
    await page.close();
  }
  console.log(`worst: ${Math.max(...worst).toFixed(1)}% of the main thread (budget: 20%)`);
} finally {
  await browser.close();
  server.close();
}
