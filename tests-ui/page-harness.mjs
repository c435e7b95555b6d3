// The page alone (ui/) served on 127.0.0.1 with its backend mocked
// (tests-ui/mock-backend.js loads before the app's module), and Debian's
// Chromium to open it: shared by the page tests and the page benchmark.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UI = path.join(ROOT, 'ui');
const API = path.join(ROOT, 'node_modules/@tauri-apps/api');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

function serve(req, res) {
  const url = new URL(req.url, 'http://x');
  let file;
  if (url.pathname.startsWith('/__api__/')) file = path.join(API, url.pathname.slice(9));
  else if (url.pathname === '/__test__/mock-backend.js') file = path.join(ROOT, 'tests-ui/mock-backend.js');
  else file = path.join(UI, url.pathname === '/' ? 'index.html' : url.pathname);
  if (!file.startsWith(ROOT) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  let body = fs.readFileSync(file);
  if (file.endsWith('index.html')) {
    // The mocked backend loads before the app's module (document order).
    body = body.toString().replace('<script type="module" src="app.js"></script>',
      '<script type="module" src="/__test__/mock-backend.js"></script>\n  <script type="module" src="app.js"></script>');
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
  res.end(body);
}

/** Serves the page; `base` is its address, `close()` stops it. */
export async function startServer() {
  const server = http.createServer(serve);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh page of `browser` at `base`, its backend mocked by `scenario` (functions in `fns` as source text). */
export async function openPage(browser, base, scenario = {}, fns = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const init = `window.__scenario = ${JSON.stringify(scenario)};`
    + Object.entries(fns).map(([k, f]) => `window.__scenario.${k} = ${f};`).join('');
  await page.addInitScript(init);
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
  page.errors = errors;
  return page;
}
