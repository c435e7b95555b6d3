// MailFerry's page. Plain JS, no build step. The backend is reached only
// through the app's own commands (window.__TAURI__.core.invoke) and
// Channels; the engine validates the form (no second parser here).

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

import { applyUpdate, stamped } from './updates.js';
import { summarize, shows, order, count } from './summary.js';
import { renderPreflight } from './preflight.js';
import { setupSteps } from './setup-steps.js';

/** @typedef {import('./contract').Commands} Commands */
/** @typedef {import('./contract').JobView} JobView */
/** @typedef {import('./contract').Update} Update */
/** @typedef {import('./contract').CommandError} CommandError */

const tauri = () => /** @type {any} */ (window).__TAURI__.core;
/**
 * Calls a command of the app (ui/contract.d.ts lists them, from the Rust).
 * @template {keyof Commands} C
 * @param {C} cmd
 * @param {Commands[C]['args']} [args]
 * @returns {Promise<Commands[C]['answer']>}
 */
const invoke = (cmd, args) => tauri().invoke(cmd, args);
/** The words of a failed command (a CommandError), or of anything else thrown. */
const words = (e) => (e && typeof e.message === 'string' ? e.message : String(e));
const newChannel = (onmessage) => {
  const ch = new (tauri().Channel)();
  ch.onmessage = onmessage;
  return ch;
};

// ---------------------------------------------------------------- helpers

export function humanBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n, u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function duration(ms) {
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (x) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A status is never colour alone: an icon and a word go with it.
export const STATES = {
  pending: { icon: '○', word: 'Pending' },
  running: { icon: '➜', word: 'Running' },
  success: { icon: '✓', word: 'Success' },
  partial: { icon: '!', word: 'Partial' },
  failed: { icon: '✕', word: 'Failed' },
  cancelling: { icon: '■', word: 'Cancelling' },
  unfinished: { icon: '?', word: 'Unfinished' },
  starting: { icon: '➜', word: 'Starting' },
};

// A verification's states say what it found (nothing was copied).
const VERIFY_NOTE = 'Verification only: nothing was copied. Every folder of the source was compared with its folder on the destination; a folder is verified when all its messages are there, none twice.';
const DRY_RUN_NOTE = 'Dry run: nothing was created, copied or changed on the destination. Each folder says where it would go and which messages a migration would copy; the log lists every one.';
// A folder's details name at most this many messages a dry run would copy.
const DRY_RUN_SHOWN = 20;

export const VERIFY_STATES = {
  ...STATES,
  running: { icon: '➜', word: 'Verifying' },
  success: { icon: '✓', word: 'Verified' },
  partial: { icon: '!', word: 'Not verified' },
};

/**
 * @param {string} state
 * @param {Record<string, { icon: string, word: string }>} [words]
 */
function badge(state, extra = '', words = STATES) {
  const s = words[state] || STATES.unfinished;
  return el('span', { class: `badge state-${state}`, 'data-state': state },
    el('span', { class: 'icon', 'aria-hidden': 'true', text: s.icon }), ` ${s.word}${extra}`);
}

// ---------------------------------------------------------------- pages

function show(page) {
  // Kept for a reload: one left on Results comes back to it.
  sessionStorage.setItem('mailferry-page', page);
  for (const p of ['new', 'results', 'history', 'help']) {
    $(`#page-${p}`).hidden = p !== page;
    const tab = $(`#tab-${p}`);
    if (p === page) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  if (page === 'history') loadHistory();
  if (page === 'results') refreshJobs();
  if (page === 'help') loadCatalogue();
}

// ---------------------------------------------------------------- help

// The engine's error catalogue, loaded once: the Help page lists it, and
// every error shown elsewhere links to its entry by code.
let catalogue = null;

const CLASSES = {
  transient: 'Retried',
  'per-message': 'One message',
  'fatal-for-folder': 'One folder',
  'fatal-for-mailbox': 'Stops the mailbox',
};

function loadCatalogue() {
  catalogue ||= invoke('error_catalogue').then((list) => {
    $('#help-error').hidden = true;
    $('#catalogue').replaceChildren(...list.map((c) => el('article', { class: 'entry', id: `err-${c.code}`, tabindex: '-1', 'data-code': c.code },
      el('h3', {}, c.title, ' ', el('span', { class: `class-tag class-${c.class}`, text: CLASSES[c.class] || c.class })),
      el('p', {}, el('b', { text: 'What it means: ' }), c.meaning),
      el('p', {}, el('b', { text: 'What to do: ' }), c.what_to_do))));
  }).catch((e) => {
    catalogue = null; // the next visit tries again
    $('#help-error').hidden = false;
    $('#help-error').textContent = `The list of errors could not be loaded: ${e}`;
  });
  return catalogue.then(filterCatalogue);
}

function filterCatalogue() {
  const words = $('#help-filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const a of $$('#catalogue .entry')) {
    const text = a.textContent.toLowerCase();
    a.hidden = !words.every((w) => text.includes(w));
    if (!a.hidden) shown++;
  }
  $('#help-none').hidden = shown > 0 || !$('#catalogue .entry');
}

// Opens the Help page at one error's entry.
async function explain(code) {
  $('#help-filter').value = '';
  show('help');
  await loadCatalogue();
  const entry = document.getElementById(`err-${code}`);
  if (!entry) return;
  for (const a of $$('#catalogue .entry.current')) a.classList.remove('current');
  entry.classList.add('current');
  entry.scrollIntoView({ block: 'center' });
  entry.focus();
}

// An error as the user reads it, with a link to its entry in Help when the
// engine gave its code.
function reason(text, code, cls = 'reason') {
  return el('div', { class: cls }, text, code ? [' ', el('button', {
    type: 'button', class: 'link help-link', 'data-code': code,
    'aria-label': 'What to do about this error', onclick: () => explain(code),
  }, 'What to do')] : null);
}

// ---------------------------------------------------------------- the form

const PROTOS = ['imap4', 'imap4s', 'pop3', 'pop3s'];
const DEFAULT_PORTS = { imap4: 143, imap4s: 993, pop3: 110, pop3s: 995 };

function addPort(proto, value = '') {
  const row = $(`tr[data-proto="${proto}"] .port-list`);
  const n = row.children.length + 1;
  const input = el('input', {
    type: 'number', min: '0', max: '65535', class: 'port', value: String(value),
    'aria-label': `${proto.toUpperCase()} port ${n}`,
  });
  row.append(input);
  return input;
}

function protocol() {
  return $('input[name="protocol"]:checked').value;
}

function authMode() {
  return $('input[name="auth"]:checked').value;
}

// ---------------------------------------------------------------- presets and OAuth

/** @typedef {import('./contract').HostPreset} HostPreset */
/** @typedef {import('./contract').Side} Side */
/** @typedef {import('./contract').SignInFlow} SignInFlow */

// Each side's ids in the page, and its field in the engine's errors.
const SIDES = {
  source: { pre: 'source', field: 'source.oauth', words: 'old server' },
  destination: { pre: 'dest', field: 'destination.oauth', words: 'new server' },
};

/** The engine's presets (host_presets), loaded once at start. @type {HostPreset[]} */
let presets = [];

/** How a side signs in: `user`, `master` or `oauth`. @param {Side} side */
function sideAuth(side) {
  return side === 'source' ? $('input[name="source-auth"]:checked').value : authMode();
}

/** @param {Side} side @returns {HostPreset | null} */
function presetOf(side) {
  const id = $(`#${SIDES[side].pre}-preset`).value;
  return presets.find((p) => p.id === id) || null;
}

/** @param {Side} side @returns {SignInFlow} */
function flowOf(side) {
  return /** @type {SignInFlow} */ ($(`#${SIDES[side].pre}-oauth-flow`).value);
}

/** The side's OAuth provider: its preset's, else the one chosen. @param {Side} side */
function providerOf(side) {
  const p = presetOf(side);
  return (p && p.provider) || $(`#${SIDES[side].pre}-oauth-provider`).value;
}

/**
 * Whether each line of the user list carries this side's secret (a password,
 * or a pasted token), for the list's preview and placeholder; the engine's
 * rule is `AccountAuth::needs_user_secret`, and it checks the list itself.
 * @param {Side} side
 */
function needsSecret(side) {
  const auth = sideAuth(side);
  return auth === 'user' || (auth === 'oauth' && flowOf(side) === 'token');
}

// Words for the flows, under the flow select.
const FLOW_HINTS = {
  device: 'Each mailbox is signed in once with a code, on any device; its refresh token is kept in the keyring.',
  browser: 'Each mailbox is signed in once in the system browser; its refresh token is kept in the keyring.',
  // The tenant's app and the service account: the option says it, the preset's hint says more.
  token: 'Each mailbox\'s access token goes in the user list, in place of its password.',
};

// The flow a host is usually migrated with, when the user has not chosen one.
const SUGGESTED_FLOW = { 'microsoft-365': 'client-credentials', 'outlook.com': 'device', gmail: 'browser', 'google-workspace': 'service-account' };

const AUTH_WORDS = { user: 'each user\'s own password', master: 'the old host\'s admin', oauth: 'OAuth 2.0' };

/** Whether an element of a side's OAuth settings applies to its flow, preset and provider. @param {Side} side */
function applies(e, side) {
  const flows = e.dataset.flows;
  if (flows && !flows.split(' ').includes(flowOf(side))) return false;
  if (e.hasAttribute('data-no-preset') && presetOf(side) && presetOf(side).provider) return false;
  if (e.dataset.provider && e.dataset.provider !== providerOf(side)) return false;
  return true;
}

/** Shows only the OAuth fields the side's flow needs. @param {Side} side */
function applyOAuthRules(side) {
  const pre = SIDES[side].pre;
  const box = $(`#${pre}-oauth`);
  box.hidden = sideAuth(side) !== 'oauth';
  for (const e of $$('[data-flows], [data-no-preset], [data-provider]', box)) e.hidden = !applies(e, side);
  const hint = $(`#${pre}-oauth-flow-hint`);
  hint.textContent = FLOW_HINTS[flowOf(side)] || '';
  hint.hidden = !hint.textContent;
  const secret = $(`#${pre}-oauth-client-secret`);
  secret.placeholder = flowOf(side) === 'client-credentials' ? '' : secret.dataset.placeholderPerson;
}

/** A side's `[side.oauth]` as the engine reads it: only what its flow uses, blanks left out. @param {Side} side */
function oauthOf(side) {
  const pre = SIDES[side].pre;
  const box = $(`#${pre}-oauth`);
  /** @type {Record<string, string>} */
  const o = { flow: flowOf(side) };
  const put = (key, id) => {
    const input = $(`#${pre}-oauth-${id}`);
    const v = input.value.trim();
    const holder = input.closest('[data-flows], [data-no-preset], [data-provider]');
    if (v !== '' && (!holder || !box.contains(holder) || applies(holder, side))) o[key] = key === 'client_secret' ? input.value : v;
  };
  put('provider', 'provider');
  put('client_id', 'client-id');
  put('client_secret', 'client-secret');
  put('tenant', 'tenant');
  if (o.flow === 'service-account' && keys[side]) o.service_account_json = keys[side];
  put('scope', 'scope');
  put('token_url', 'token-url');
  put('device_url', 'device-url');
  put('auth_url', 'auth-url');
  return o;
}

/** Puts a side's `[side.oauth]` back in the form. @param {Side} side */
function fillOAuth(side, o) {
  const pre = SIDES[side].pre;
  o = o || {};
  const set = (id, v) => { $(`#${pre}-oauth-${id}`).value = v === null || v === undefined ? '' : String(v); };
  $(`#${pre}-oauth-flow`).value = o.flow || 'device';
  $(`#${pre}-oauth-flow`).dataset.touched = o.flow ? 'true' : '';
  $(`#${pre}-oauth-provider`).value = o.provider || 'custom';
  set('client-id', o.client_id);
  set('client-secret', o.client_secret);
  set('tenant', o.tenant);
  set('scope', o.scope);
  set('token-url', o.token_url);
  set('device-url', o.device_url);
  set('auth-url', o.auth_url);
  $(`#${pre}-oauth-advanced`).open = !!(o.scope || o.token_url || o.device_url || o.auth_url);
  keys[side] = typeof o.service_account_json === 'string' ? o.service_account_json : null;
  $(`#${pre}-oauth-key-status`).textContent = keys[side] ? `Key ${keyOwner(keys[side])}from the saved job.`
    // The saved job had a key the keyring no longer holds.
    : 'service_account_json' in o ? 'The key is no longer kept: choose the file again.' : 'No key chosen.';
}

// Each side's service account key, as read from the file picked (never shown).
/** @type {{ source: string | null, destination: string | null }} */
const keys = { source: null, destination: null };

/** "of ADDRESS " when a key names its service account. */
function keyOwner(text) {
  try {
    const email = JSON.parse(text).client_email;
    return typeof email === 'string' && email ? `of ${email} ` : '';
  } catch {
    return '';
  }
}

/** A service account key picked: its text goes in the form, the engine reads it. @param {Side} side */
async function readKeyFile(side, file) {
  const status = $(`#${SIDES[side].pre}-oauth-key-status`);
  try {
    keys[side] = await file.text();
    status.textContent = `${file.name}: the key ${keyOwner(keys[side])}is read.`;
  } catch (e) {
    keys[side] = null;
    status.textContent = `${file.name} could not be read: ${words(e)}`;
  }
  validateSoon();
}

/** The preset's hint and app-password link under the side's server. @param {Side} side */
function showPresetNote(side) {
  const pre = SIDES[side].pre;
  const p = presetOf(side);
  const note = $(`#${pre}-preset-note`);
  note.hidden = !p;
  $(`#${pre}-preset-hint`).textContent = p ? p.hint : '';
  const link = $('.app-password', note);
  link.hidden = !(p && p.app_password_url);
  $(`#${pre}-app-password`).dataset.url = (p && p.app_password_url) || '';
  $(`#${pre}-app-password`).title = (p && p.app_password_url) || '';
  $(`#${pre}-app-password-copy`).dataset.url = (p && p.app_password_url) || '';
}

/** Sets how a side signs in. @param {Side} side @param {string} mode */
function setSideAuth(side, mode) {
  const name = side === 'source' ? 'source-auth' : 'auth';
  $(`input[name="${name}"][value="${mode}"]`).checked = true;
}

/**
 * A preset chosen: its server, protocol, ports and security fill the
 * fields (still editable), its hint shows, and a host that takes only
 * OAuth signs in with it.
 * @param {Side} side
 */
function applyPreset(side) {
  const pre = SIDES[side].pre;
  const select = $(`#${pre}-preset`);
  const p = presetOf(side);
  const host = side === 'source' ? $('#source-host') : $('#dest-host');
  const before = presets.find((x) => x.id === select.dataset.was);
  select.dataset.was = select.value;
  if (p) {
    host.value = p.imap_host;
    if (side === 'source') {
      $('input[name="protocol"][value="imap4s"]').checked = true;
      for (const proto of PROTOS) {
        $(`tr[data-proto="${proto}"] .port-list`).textContent = '';
        addPort(proto, DEFAULT_PORTS[proto]);
      }
      applyProtocolRules();
    } else {
      $('#dest-port').value = '993';
      $('#dest-security').value = 'tls';
      $('#dest-port').placeholder = '993';
    }
    if (p.sign_in === 'oauth-only') {
      setSideAuth(side, 'oauth');
      // Its OAuth settings need filling in: the source's are shown.
      if (side === 'source') $('#source-signin').open = true;
    }
    suggestFlow(side);
    if (p.id === 'outlook.com' && !$(`#${pre}-oauth-tenant`).value) $(`#${pre}-oauth-tenant`).value = 'consumers';
  } else if (before && host.value === before.imap_host) {
    // Back to another server: the preset's host is not it.
    host.value = '';
  }
  showPresetNote(side);
  applyAuthRules();
  validateSoon();
}

/** The preset's usual flow, unless the user chose one. @param {Side} side */
function suggestFlow(side) {
  const pre = SIDES[side].pre;
  const p = presetOf(side);
  const flow = $(`#${pre}-oauth-flow`);
  if (p && SUGGESTED_FLOW[p.id] && !flow.dataset.touched) flow.value = SUGGESTED_FLOW[p.id];
}

/** The presets, from the engine, in both Preset selects. */
async function loadPresets() {
  presets = await invoke('host_presets');
  for (const side of /** @type {Side[]} */ (['source', 'destination'])) {
    const select = $(`#${SIDES[side].pre}-preset`);
    const chosen = select.value;
    for (const o of $$('option[value]:not([value=""])', select)) o.remove();
    select.append(...presets.map((p) => el('option', { value: p.id, text: p.name })));
    select.value = chosen;
    showPresetNote(side);
  }
}

/** Copies `text`; whether it worked. */
async function copyText(text, within = document.body) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // WebKitGTK may refuse the Clipboard API: the old way, from a selection.
    const area = el('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' });
    area.value = text;
    within.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    return ok;
  }
}

/** Opens an address MailFerry knows (a preset's, a sign-in's) in the system browser. */
async function openLink(url, statusEl) {
  try {
    await invoke('open_link', { url });
    statusEl.textContent = `Opened ${url} in the browser.`;
  } catch (e) {
    statusEl.textContent = `${words(e)} The address: ${url}`;
  }
}

// The port rows a protocol uses (Auto: the Inbox over POP3, the rest over IMAP4).
const PORT_ROWS = { imap4: ['imap4'], imap4s: ['imap4s'], pop3: ['pop3'], pop3s: ['pop3s'], auto: ['pop3', 'imap4'] };

function applyProtocolRules() {
  const used = PORT_ROWS[protocol()] || PROTOS;
  for (const p of PROTOS) $(`tr[data-proto="${p}"]`).hidden = !used.includes(p);
  const pop = ['pop3', 'pop3s'].includes(protocol());
  $('#skip').disabled = pop;
  $('#pop3-note').hidden = !pop;
  $('#skip').setAttribute('aria-describedby', pop ? 'pop3-note' : '');
  $('#translate').setAttribute('aria-describedby', pop ? 'pop3-note' : '');
}

function applyAuthRules() {
  $('#master-fields').hidden = authMode() !== 'master';
  $('#source-master-fields').hidden = sideAuth('source') !== 'master';
  applyOAuthRules('source');
  applyOAuthRules('destination');
  const src = sideAuth('source');
  $('#source-auth-word').textContent = src === 'oauth'
    ? `OAuth 2.0, ${$('#source-oauth-flow').selectedOptions[0].textContent.toLowerCase()}` : AUTH_WORDS[src];
  // What the user list holds follows how each side signs in.
  const s = needsSecret('source'), d = needsSecret('destination');
  const secret = (side, word) => (sideAuth(side) === 'oauth' ? `${word}_token` : `${word}_password`);
  $('#users').placeholder = s
    ? `source_user,${secret('source', 'source')}[,local_user${d ? `[,${secret('destination', 'local')}]` : ''}]`
    : `source_user[,,local_user${d ? `[,${secret('destination', 'local')}]` : ''}]`;
}

function text(id) {
  return $(id).value;
}

function optional(id) {
  const v = $(id).value.trim();
  return v === '' ? null : v;
}

/** The form as the engine's JobFile (docs/job-file.md), as JSON. */
export function formJob() {
  const ports = {};
  for (const p of PROTOS) {
    ports[p] = $$(`tr[data-proto="${p}"] .port`).map((i) => i.value.trim())
      .filter((v) => v !== '').map(Number);
  }
  const destPort = optional('#dest-port');
  const job = {
    name: text('#name'),
    source: {
      host: text('#source-host'),
      protocol: protocol(),
      ports,
      ca_file: optional('#source-ca'),
      accept_invalid_certs: $('#source-invalid').checked,
      allow_plaintext: $('#source-plaintext').checked,
    },
    destination: {
      host: text('#dest-host'),
      port: destPort === null ? null : Number(destPort),
      security: $('#dest-security').value,
      ca_file: optional('#dest-ca'),
      accept_invalid_certs: $('#dest-invalid').checked,
      auth: authMode(),
    },
    folders: {
      skip: $('#skip').disabled ? '' : text('#skip'),
      translate: text('#translate'),
      special_use: $('#special-use').checked ? 'auto' : 'off',
    },
    users: { delimiter: $('#delimiter').value, list: text('#users') },
    filters: {},
    options: {},
  };
  for (const [key, id] of [['parallel_mailboxes', '#parallel'], ['timeout_seconds', '#timeout'], ['retries', '#retries'], ['max_mb_per_second', '#mb-per-second']]) {
    const v = optional(id);
    if (v !== null) job.options[key] = Number(v);
  }
  for (const [key, id] of [['since', '#since'], ['before', '#before']]) {
    const v = optional(id);
    if (v !== null) job.filters[key] = v;
  }
  const maxSize = optional('#max-size');
  if (maxSize !== null) job.filters.max_message_mb = Number(maxSize);
  if (sideAuth('source') === 'master') {
    Object.assign(job.source, {
      auth: 'master',
      master_user: text('#source-master-user'),
      master_password: text('#source-master-password'),
      master_method: $('#source-master-method').value,
    });
  } else if (sideAuth('source') === 'oauth') {
    Object.assign(job.source, { auth: 'oauth', oauth: oauthOf('source') });
  }
  if (job.destination.auth === 'master') {
    Object.assign(job.destination, {
      master_user: text('#master-user'),
      master_password: text('#master-password'),
      master_method: $('#master-method').value,
    });
  } else if (job.destination.auth === 'oauth') {
    job.destination.oauth = oauthOf('destination');
  }
  // A preset: its quirks (Gmail's labels, connection limits) and its OAuth provider.
  const sp = presetOf('source'), dp = presetOf('destination');
  if (sp) job.source = { preset: sp.id, ...job.source };
  if (dp) job.destination = { preset: dp.id, ...job.destination };
  return job;
}

/**
 * Puts a job's form (a JobFile as JSON, as `formJob` makes it) back in
 * the page; what it lacks takes the form's defaults.
 */
function fillForm(job) {
  const src = job.source || {}, dst = job.destination || {}, folders = job.folders || {}, users = job.users || {}, opts = job.options || {};
  const set = (id, v) => { $(id).value = v === null || v === undefined ? '' : String(v); };
  set('#name', job.name);
  for (const [side, part] of /** @type {[Side, any][]} */ ([['source', src], ['destination', dst]])) {
    const select = $(`#${SIDES[side].pre}-preset`);
    // A preset the page does not list (its table did not load) is kept.
    if (part.preset && !$(`option[value="${CSS.escape(part.preset)}"]`, select)) select.append(el('option', { value: part.preset, text: part.preset }));
    select.value = part.preset || '';
    select.dataset.was = select.value;
    showPresetNote(side);
    fillOAuth(side, part.oauth);
  }
  set('#source-host', src.host);
  $(`input[name="protocol"][value="${src.protocol || 'imap4s'}"]`).checked = true;
  for (const p of PROTOS) {
    $(`tr[data-proto="${p}"] .port-list`).textContent = '';
    for (const port of (src.ports && src.ports[p]) || [DEFAULT_PORTS[p]]) addPort(p, port);
  }
  set('#source-ca', src.ca_file);
  $('#source-invalid').checked = !!src.accept_invalid_certs;
  $('#source-plaintext').checked = !!src.allow_plaintext;
  setSideAuth('source', src.auth === 'master' || src.auth === 'oauth' ? src.auth : 'user');
  set('#source-master-user', src.master_user);
  set('#source-master-password', src.master_password);
  $('#source-master-method').value = src.master_method || 'sasl-plain';
  $('#source-signin').open = src.auth === 'master' || src.auth === 'oauth';
  set('#dest-host', dst.host);
  set('#dest-port', dst.port);
  $('#dest-security').value = dst.security || 'tls';
  set('#dest-ca', dst.ca_file);
  $('#dest-invalid').checked = !!dst.accept_invalid_certs;
  $(`input[name="auth"][value="${dst.auth || 'user'}"]`).checked = true;
  set('#master-user', dst.master_user);
  set('#master-password', dst.master_password);
  $('#master-method').value = dst.master_method || 'sasl-plain';
  set('#skip', folders.skip);
  set('#translate', folders.translate);
  $('#special-use').checked = folders.special_use !== 'off';
  const filters = job.filters || {};
  set('#since', filters.since);
  set('#before', filters.before);
  set('#max-size', filters.max_message_mb);
  $('#filters').open = !!(filters.since || filters.before || filters.max_message_mb);
  $('#delimiter').value = users.delimiter || ',';
  set('#users', users.list);
  set('#parallel', opts.parallel_mailboxes);
  set('#timeout', opts.timeout_seconds);
  set('#retries', opts.retries);
  set('#mb-per-second', opts.max_mb_per_second);
  applyProtocolRules();
  applyAuthRules();
  previewUsers().catch(() => {});
}

/** Edit and run again: a job of History back in the form. */
async function editRun(runId) {
  try {
    const e = await invoke('edit_form', { run_id: runId });
    const form = /** @type {any} */ (e.form);
    fillForm(form);
    clearErrors();
    const note = $('#edit-note');
    note.hidden = false;
    note.textContent = `Job ${form.name} from run #${runId}: change what you need, then start it.${e.note ? ` ${e.note}` : ''}`;
    show('new');
    $('#name').focus();
    // What the note asks for is shown where it is (the user list).
    if (e.note) check(true).catch(() => {});
  } catch (err) {
    $('#history-status').textContent = words(err);
  }
}

function request() {
  return { request: { job: formJob() } };
}

// The engine names the field of each error; this is where it is shown.
const ERROR_SLOTS = {
  name: '#err-name',
  'source.host': '#err-source-host',
  'source.ports': '#err-source-ports',
  ca_file: '#err-ca_file',
  'folders.translate': '#err-folders-translate',
  'folders.skip': '#err-folders-skip',
  users: '#err-users',
  'users.delimiter': '#err-users-delimiter',
  'destination.host': '#err-destination-host',
  'destination.master': '#err-destination-master',
  'source.master': '#err-source-master',
  'source.oauth': '#err-source-oauth',
  'destination.oauth': '#err-destination-oauth',
  'filters.since': '#err-filters',
  'filters.before': '#err-filters',
  'filters.max_message_mb': '#err-filters',
  options: '#err-options',
  vault: '#err-vault',
  job: '#err-job',
};
const FIELD_INPUTS = {
  name: '#name', 'source.host': '#source-host', 'folders.translate': '#translate',
  users: '#users', 'users.delimiter': '#delimiter', 'destination.host': '#dest-host',
  'destination.master': '#master-user', ca_file: '#source-ca', options: '#parallel',
  'source.master': '#source-master-user', 'filters.since': '#since', 'filters.before': '#before',
  'filters.max_message_mb': '#max-size',
  'source.oauth': '#source-oauth-flow', 'destination.oauth': '#dest-oauth-flow',
};

// An OAuth error names the job file's key it is about (client_id,
// tenant…): its input is marked, the flow select when none is named.
/** @type {[RegExp, string][]} */
const OAUTH_KEYS = [
  [/client_secret/, 'client-secret'], [/client_id/, 'client-id'], [/tenant/, 'tenant'],
  [/service account|JSON key/i, 'key-file'], [/device_url/, 'device-url'], [/auth_url/, 'auth-url'],
  [/token_url/, 'token-url'], [/scope/, 'scope'],
];

/** The input an OAuth error of a side is about. */
function oauthInput(field, message) {
  const side = field === 'source.oauth' ? 'source' : 'destination';
  const pre = SIDES[side].pre;
  if (side === 'source') $('#source-signin').open = true;
  const key = OAUTH_KEYS.find(([re, id]) => re.test(message) && !$(`#${pre}-oauth-${id}`).closest('[hidden]'));
  const input = key ? $(`#${pre}-oauth-${key[1]}`) : $(`#${pre}-oauth-flow`);
  if (input.closest('details.oauth-advanced')) $(`#${pre}-oauth-advanced`).open = true;
  return input;
}

function clearErrors() {
  for (const e of $$('.field-error')) { e.hidden = true; e.textContent = ''; }
  for (const i of $$('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

// While typing, an error shows under a field only once the user has left
// that field; Check, Test logins and Start show it wherever it is.
const visited = new Set();
let checkedAll = false;
const shownNow = (field) => checkedAll || !FIELD_INPUTS[field] || visited.has(field);

/** Shows an engine error next to its field, with its line when it has one (selected when `select`). */
function showError(err, select = true) {
  const slot = $(ERROR_SLOTS[err.field] || '#err-form');
  slot.textContent = '';
  if (err.line) slot.append(el('span', { class: 'line', text: `Line ${err.line}` }), ' ');
  slot.append(err.message);
  slot.dataset.field = err.field;
  slot.hidden = false;
  const input = err.field.endsWith('.oauth') ? oauthInput(err.field, err.message) : FIELD_INPUTS[err.field] && $(FIELD_INPUTS[err.field]);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', slot.id);
    if (select && err.line && input.tagName === 'TEXTAREA') selectLine(input, err.line);
  }
  if (err.field === 'vault') showVault({ kind: 'unavailable', message: err.message });
}

function selectLine(textarea, line) {
  const lines = textarea.value.split(/\r\n|\r|\n/);
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[line - 1] || '').length;
  textarea.dataset.errorLine = String(line);
  try { textarea.setSelectionRange(start, end); } catch { /* not focused */ }
}

function showWarnings(warnings) {
  const box = $('#warnings');
  box.textContent = '';
  box.hidden = !warnings || warnings.length === 0;
  for (const w of warnings || []) box.append(el('p', { text: `Note: ${w}` }));
}

function status(msg) { $('#form-status').textContent = msg; }

// Each check is numbered: only the newest answer is shown, and the errors
// it replaces stay until it comes (no flicker while typing).
let checks = 0;

/** Validates the form; `explicit` when the user asked (Check, Test logins, Start). */
async function check(explicit = false) {
  const n = ++checks;
  if (explicit) checkedAll = true;
  const v = await invoke('validate_job', request());
  if (n !== checks) return v.ok;
  clearErrors();
  if (v.ok) {
    showWarnings(v.warnings);
    status(`The job is valid: ${v.mailboxes} mailbox${v.mailboxes === 1 ? '' : 'es'}.`);
  } else {
    showWarnings([]);
    if (explicit || shownNow(v.error.field)) showError(v.error, explicit);
    status('');
  }
  return v.ok;
}

let validateTimer = null;
function validateSoon() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(() => {
    check(false).catch(() => {});
    previewUsers().catch(() => {});
  }, 500);
}

const mailboxCount = (n) => `${count(n)} mailbox${n === 1 ? '' : 'es'}`;

/** One mailbox's row of the login test; `index` is its place in the user list. */
function loginRow(c, index) {
  const good = !c.source_error && !c.destination_error;
  const cell = (err, code) => el('td', {},
    err ? badge('failed') : badge('success', ''),
    err ? reason(err, code) : null);
  return el('tr', { 'data-account': c.source_user, 'data-ok': String(good), 'data-index': index === undefined ? null : String(index) },
    el('th', { scope: 'row', text: c.source_user === c.local_user ? c.source_user : `${c.source_user} → ${c.local_user}` }),
    cell(c.source_error, c.source_code), cell(c.destination_error, c.destination_code));
}

/** Puts a row at its place in the user list among those already there. */
function placeRow(tbody, row, index) {
  const after = [...tbody.rows].find((r) => Number(r.dataset.index) > index);
  tbody.insertBefore(row, after || null);
}

// The login test running now (one at a time): Cancel stops it.
let loginTest = null;

async function testLogins() {
  if (loginTest) return;
  if (!(await check(true))) return;
  const btn = $('#test-logins');
  const cancel = $('#cancel-logins');
  const box = $('#login-results');
  const tbody = $('#login-rows');
  const summary = $('#login-summary');
  const bar = $('#login-bar');
  const run = loginTest = { mailboxes: null, tested: 0, failed: 0, done: false };
  const progress = () => {
    const n = run.mailboxes || 0;
    $('#login-count').textContent = run.mailboxes === null ? 'Starting the login test…'
      : `Tested ${count(run.tested)} of ${mailboxCount(n)} · ${count(run.failed)} failed`;
    bar.setAttribute('aria-valuemax', String(n));
    bar.setAttribute('aria-valuenow', String(run.tested));
    bar.firstElementChild.style.transform = `scaleX(${n > 0 ? run.tested / n : 0})`;
  };
  const channel = newChannel((/** @type {import('./contract').LoginEvent} */ e) => {
    if (run.done) return;
    if (e.event === 'started') run.mailboxes = e.mailboxes;
    else {
      run.tested++;
      if (e.check.source_error || e.check.destination_error) run.failed++;
      placeRow(tbody, loginRow(e.check, e.index), e.index);
    }
    progress();
  });
  tbody.textContent = '';
  summary.textContent = '';
  progress();
  const hadFocus = document.activeElement === btn;
  btn.disabled = true;
  cancel.hidden = false;
  cancel.removeAttribute('aria-disabled');
  $('#login-progress').hidden = false;
  box.hidden = false;
  // The button just pressed is disabled: Cancel takes the focus.
  if (hadFocus) cancel.focus();
  box.scrollIntoView({ block: 'center' });
  status('Testing every login…');
  try {
    const test = await invoke('test_logins', { ...request(), on_event: channel });
    run.done = true;
    // Every mailbox tried is in the answer, in the list's order; rows the
    // Channel has not brought yet come from it.
    if (tbody.rows.length !== test.checks.length) tbody.replaceChildren(...test.checks.map((c, i) => loginRow(c, i)));
    const ok = test.checks.filter((c) => !c.source_error && !c.destination_error).length;
    const n = test.checks.length;
    summary.textContent = test.cancelled
      ? `Stopped: tested ${count(n)} of ${mailboxCount(test.mailboxes)}; ${count(ok)} can log in.`
      : `${count(ok)} of ${mailboxCount(n)} can log in on both sides.`
        + (ok < n ? ' Fix the failing logins before starting.' : '');
    status('');
  } catch (e) {
    run.done = true;
    box.hidden = tbody.rows.length === 0;
    showError(e && e.field ? e : { field: 'job', message: words(e) });
    status('');
  } finally {
    loginTest = null;
    const focusLost = document.activeElement === cancel || document.activeElement === document.body || !document.activeElement;
    $('#login-progress').hidden = true;
    cancel.hidden = true;
    btn.disabled = false;
    if (focusLost) btn.focus();
  }
}

// ------------------------------------------------------ pre-flight report

let preflightRun = null;

/** The pre-flight report of the form's job: every mailbox checked, nothing copied. */
async function preflight() {
  if (preflightRun || loginTest) return;
  if (!(await check(true))) return;
  const btn = $('#preflight');
  const cancel = $('#cancel-preflight');
  const box = $('#preflight-results');
  const bar = $('#preflight-bar');
  const view = $('#preflight-view');
  const run = preflightRun = { done: 0, total: null, ended: false };
  const progress = () => {
    const n = run.total || 0;
    $('#preflight-count').textContent = run.total === null ? 'Starting the pre-flight check…' : `Checked ${count(run.done)} of ${mailboxCount(n)}`;
    bar.setAttribute('aria-valuemax', String(n));
    bar.setAttribute('aria-valuenow', String(run.done));
    bar.firstElementChild.style.transform = `scaleX(${n > 0 ? run.done / n : 0})`;
  };
  const channel = newChannel((/** @type {import('./contract').PreflightProgress} */ p) => {
    if (run.ended) return;
    run.done = p.done;
    run.total = p.total;
    progress();
  });
  view.textContent = '';
  progress();
  const hadFocus = document.activeElement === btn;
  btn.disabled = true;
  cancel.hidden = false;
  cancel.removeAttribute('aria-disabled');
  $('#preflight-progress').hidden = false;
  box.hidden = false;
  if (hadFocus) cancel.focus();
  box.scrollIntoView({ block: 'start' });
  status('Checking every mailbox, copying nothing…');
  try {
    const r = await invoke('preflight_job', { ...request(), on_event: channel });
    run.ended = true;
    view.replaceChildren(renderPreflight(r.report, (format) => save('download_preflight', { run_id: r.run_id, format }, '#form-status')));
    status(`Pre-flight report ready (run #${r.run_id} in History).`);
  } catch (e) {
    run.ended = true;
    box.hidden = view.childElementCount === 0;
    showError(e && e.field ? e : { field: 'job', message: words(e) });
    status('');
  } finally {
    preflightRun = null;
    const focusLost = document.activeElement === cancel || document.activeElement === document.body || !document.activeElement;
    $('#preflight-progress').hidden = true;
    cancel.hidden = true;
    btn.disabled = false;
    if (focusLost) btn.focus();
  }
}

async function cancelPreflight() {
  const cancel = $('#cancel-preflight');
  if (!preflightRun || cancel.getAttribute('aria-disabled') === 'true') return;
  cancel.setAttribute('aria-disabled', 'true');
  status('Stopping the pre-flight check…');
  await invoke('cancel_preflight');
}

async function cancelLogins() {
  const cancel = $('#cancel-logins');
  if (!loginTest || cancel.getAttribute('aria-disabled') === 'true') return;
  // Not `disabled`: the focus stays on it until the test has stopped.
  cancel.setAttribute('aria-disabled', 'true');
  status('Stopping the login test…');
  await invoke('cancel_login_test');
}

async function start(ev) {
  ev.preventDefault();
  if (!(await check(true))) return;
  const btn = $('#start');
  btn.disabled = true;
  status('Starting…');
  const updates = jobUpdates();
  try {
    watch(await invoke('start_job', { ...request(), dry_run: $('#dry-run').checked, on_event: updates.channel }), updates);
    status('');
    show('results');
    render();
  } catch (e) {
    status('');
    showError(e && e.field ? e : { field: 'job', message: words(e) });
  } finally {
    btn.disabled = false;
  }
}

// A spreadsheet is read by the engine into the list's lines.
const SPREADSHEET = /\.(xlsx|xlsm|xls|xlsb|ods)$/i;

async function readUsersFile(file) {
  let body;
  if (SPREADSHEET.test(file.name)) {
    try {
      const bytes = Array.from(new Uint8Array(await file.arrayBuffer()));
      body = await invoke('import_users', { bytes, delimiter: $('#delimiter').value });
    } catch (e) {
      showError(e && e.field ? e : { field: 'users', message: words(e) });
      return;
    }
  } else {
    body = (await file.text()).replace(/^\uFEFF/, '');
    const guessed = guessDelimiter(body);
    if (guessed) $('#delimiter').value = guessed;
  }
  const area = $('#users');
  area.value = area.value.trim() === '' ? body : `${area.value.replace(/\s*$/, '')}\n${body}`;
  validateSoon();
}

/**
 * The delimiter a picked file uses: the one most frequent on its first
 * data line outside double quotes (spreadsheets save `;` in much of
 * Europe, and quote names that hold one); null when none is there.
 * @param {string} body
 */
export function guessDelimiter(body) {
  const first = body.split(/\r\n|\r|\n/).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (!first) return null;
  const bare = first.replace(/"(?:[^"]|"")*"/g, '');
  let best = null, most = 0;
  for (const d of [',', ';', '\t', '|']) {
    const n = bare.split(d).length - 1;
    if (n > most) { best = d; most = n; }
  }
  return best;
}

// ---------------------------------------------------------------- user list preview

const MASK = '••••••••';
// Each preview is numbered: only the newest answer is drawn.
let previews = 0;

/** Shows the user list as the engine reads it (passwords masked). */
async function previewUsers() {
  const n = ++previews;
  const list = $('#users').value;
  const box = $('#users-preview');
  $('#users').classList.toggle('masked', list.trim() !== '');
  if (list.trim() === '') { box.hidden = true; return; }
  const p = await invoke('preview_users', {
    list, delimiter: $('#delimiter').value,
    source_admin: sideAuth('source') === 'master',
    source_oauth: sideAuth('source') === 'oauth' ? flowOf('source') : null,
  });
  if (n !== previews) return;
  const parts = [`${count(p.mailboxes)} mailbox${p.mailboxes === 1 ? '' : 'es'}`];
  if (p.problems) parts.push(`${count(p.problems)} line${p.problems === 1 ? '' : 's'} with a problem`);
  if (p.header) parts.push(`line ${p.header} names the columns and is skipped`);
  $('#users-preview-summary').textContent = `${parts.join(' · ')}.${p.error ? ` ${p.error}` : ''}`;
  $('#users-preview-summary').classList.toggle('bad', !!(p.problems || p.error));
  const tbody = $('#users-preview-rows');
  tbody.textContent = '';
  const srcNeeds = needsSecret('source'), dstNeeds = needsSecret('destination');
  // Enough to see a job's 500 and what is wrong; the count says the rest.
  for (const l of p.lines.slice(0, 600)) {
    const line = el('th', { scope: 'row', text: String(l.line) });
    if (l.error) {
      tbody.append(el('tr', { class: 'bad', 'data-line': String(l.line) }, line,
        el('td', { colspan: '4' }, badge('failed', '', { failed: { icon: '✕', word: 'Problem' } }), ' ', l.error)));
    } else {
      const same = l.local_user === l.source_user;
      tbody.append(el('tr', { 'data-line': String(l.line) }, line,
        el('td', { text: l.source_user }),
        // A side that signs in otherwise (an admin, OAuth) needs no password in the list.
        srcNeeds ? el('td', { class: 'mask', text: MASK, 'aria-label': 'password, hidden' }) : el('td', { class: 'muted not-needed', text: 'not needed' }),
        el('td', { class: same ? 'muted' : '', text: same ? 'the same' : l.local_user }),
        dstNeeds ? el('td', { class: 'mask', text: l.local_password ? MASK : '—', 'aria-label': l.local_password ? 'password, hidden' : 'none' })
          : el('td', { class: 'muted not-needed', text: 'not needed' })));
    }
  }
  box.hidden = false;
}

// ---------------------------------------------------------------- certificates

/** "Choose…": the open dialog's file goes into the field next to it. */
async function pickCertificate(button) {
  const path = await invoke('pick_certificate');
  if (path) {
    const input = /** @type {HTMLInputElement} */ ($(`#${button.dataset.for}`));
    input.value = path;
    input.focus();
    validateSoon();
  }
}

// ---------------------------------------------------------------- signing mailboxes in

// A mailbox's sign-in, in words (never colour alone).
const SIGN_IN_STATES = {
  'signed-in': { icon: '✓', word: 'Signed in', css: 'success' },
  'not-signed-in': { icon: '○', word: 'Not signed in', css: 'pending' },
  'signing-in': { icon: '➜', word: 'Signing in…', css: 'running' },
  failed: { icon: '✕', word: 'Not signed in', css: 'failed' },
};

/**
 * The open sign-in panel: its side, each mailbox's state, the one being
 * signed in, and the button that opened it (the focus goes back there).
 * @type {{ side: Side, mailboxes: { user: string, state: string, error: string | null }[], running: string | null, opener: HTMLElement | null } | null}
 */
let panel = null;

function signInBadge(state) {
  const s = SIGN_IN_STATES[state];
  return el('span', { class: `badge state-${s.css}`, 'data-state': state },
    el('span', { class: 'icon', 'aria-hidden': 'true', text: s.icon }), ` ${s.word}`);
}

function signInRow(m) {
  const busy = !!(panel && panel.running);
  return el('tr', { 'data-user': m.user, 'data-state': m.state },
    el('th', { scope: 'row', text: m.user }),
    el('td', {}, signInBadge(m.state), m.error ? reason(m.error, null) : null),
    el('td', {}, el('button', {
      type: 'button', class: 'secondary sign-in-one', disabled: busy,
      'aria-label': `${m.state === 'signed-in' ? 'Sign in again' : 'Sign in'}: ${m.user}`,
      onclick: () => { signInOne(m.user).catch(() => {}); },
    }, m.state === 'signed-in' ? 'Sign in again' : 'Sign in')));
}

function renderSignIn() {
  const done = panel.mailboxes.filter((m) => m.state === 'signed-in').length;
  const n = panel.mailboxes.length;
  $('#signin-summary').textContent = `${count(done)} of ${mailboxCount(n)} signed in.`
    + (done < n ? ' Sign each one in before the job starts: MailFerry keeps its refresh token in the keyring.' : ' The job can start.');
  const tbody = $('#signin-rows');
  for (const m of panel.mailboxes) {
    const row = signInRow(m);
    const old = $(`tr[data-user="${CSS.escape(m.user)}"]`, tbody);
    if (!old) tbody.append(row);
    else if (old.dataset.state !== m.state || !!old.querySelector('button:disabled') !== !!panel.running || m.error) {
      // The focus stays on the row's button when it is replaced.
      const focused = old.contains(document.activeElement);
      old.replaceWith(row);
      if (focused) $('button', row).focus();
    }
  }
}

/** "Sign in mailboxes…": the panel of a side's mailboxes, each signed in or not. @param {Side} side */
async function openSignIn(side, opener) {
  if (panel) return;
  clearErrors();
  let list;
  try {
    list = await invoke('oauth_status', { ...request(), side });
  } catch (e) {
    checkedAll = true;
    showError(e && e.field ? e : { field: SIDES[side].field, message: words(e) });
    return;
  }
  panel = { side, mailboxes: list.map((m) => ({ user: m.user, state: m.signed_in ? 'signed-in' : 'not-signed-in', error: null })), running: null, opener };
  $('#signin-title').textContent = `Sign in the ${SIDES[side].words}'s mailboxes`;
  $('#signin-rows').textContent = '';
  $('#signin-status').textContent = '';
  $('#signin-wait').hidden = true;
  renderSignIn();
  $('#signin-dialog').showModal();
  const first = $('#signin-rows tr:not([data-state="signed-in"]) button') || $('#signin-rows button') || $('#signin-close');
  first.focus();
}

/** Signs one mailbox in: its code (or the browser) shown until it is approved, cancelled or refused. */
async function signInOne(user) {
  if (!panel || panel.running) return;
  const p = panel;
  const m = p.mailboxes.find((x) => x.user === user);
  p.running = user;
  m.state = 'signing-in';
  m.error = null;
  renderSignIn();
  $('#signin-wait-title').textContent = `Signing in ${user}`;
  $('#signin-code-box').hidden = true;
  $('#signin-browser-box').hidden = true;
  $('#signin-waiting').lastChild.textContent = ' Starting the sign-in…';
  $('#signin-status').textContent = '';
  $('#signin-wait').hidden = false;
  $('#signin-cancel').removeAttribute('aria-disabled');
  $('#signin-cancel').focus();
  const channel = newChannel((/** @type {import('./contract').SignInEvent} */ e) => {
    if (panel !== p || p.running !== user) return;
    if (e.event === 'code') {
      $('#signin-user-code').textContent = e.user_code;
      $('#signin-address').textContent = e.verification_uri;
      $('#signin-open').dataset.url = e.verification_uri_complete || e.verification_uri;
      $('#signin-copy-address').dataset.url = e.verification_uri;
      $('#signin-code-box').hidden = false;
      const minutes = Math.round(e.expires_in / 60);
      $('#signin-waiting').lastChild.textContent = ` Waiting for you to approve…${minutes > 0 ? ` (the code expires in ${minutes} minute${minutes === 1 ? '' : 's'})` : ''}`;
      $('#signin-copy-code').focus();
    } else {
      $('#signin-browser-text').textContent = e.opened
        ? `Your browser was opened to sign ${e.user} in: finish there. If it did not open, open this address yourself:`
        : `The browser could not be opened: open this address yourself to sign ${e.user} in:`;
      $('#signin-browser-url').textContent = e.url;
      $('#signin-copy-url').dataset.url = e.url;
      $('#signin-browser-box').hidden = false;
      $('#signin-waiting').lastChild.textContent = ' Waiting for you to approve…';
    }
  });
  try {
    const r = await invoke('oauth_sign_in', { ...request(), side: p.side, user, on_event: channel });
    m.state = r.signed_in ? 'signed-in' : 'not-signed-in';
    $('#signin-status').textContent = r.signed_in ? `${user} is signed in.` : `The sign-in of ${user} was cancelled.`;
  } catch (e) {
    m.state = 'failed';
    m.error = words(e);
    $('#signin-status').textContent = `${user} is not signed in.`;
  } finally {
    p.running = null;
    if (panel === p) {
      $('#signin-wait').hidden = true;
      renderSignIn();
      const row = $(`#signin-rows tr[data-user="${CSS.escape(user)}"] button`);
      if (row && (document.activeElement === document.body || !$('#signin-dialog').contains(document.activeElement) || document.activeElement.closest('#signin-wait'))) row.focus();
    }
  }
}

async function cancelSignIn() {
  const cancel = $('#signin-cancel');
  if (!panel || !panel.running || cancel.getAttribute('aria-disabled') === 'true') return;
  // Not `disabled`: the focus stays on it until the sign-in has stopped.
  cancel.setAttribute('aria-disabled', 'true');
  $('#signin-waiting').lastChild.textContent = ' Cancelling…';
  await invoke('cancel_sign_in');
}

/** Closing the panel stops a sign-in under way. */
function closeSignIn() {
  if (!panel) return;
  if (panel.running) invoke('cancel_sign_in').catch(() => {});
  const opener = panel.opener;
  panel = null;
  const d = $('#signin-dialog');
  if (d.open) d.close();
  if (opener) opener.focus();
}

// ---------------------------------------------------------------- keyring

function showVault(s) {
  const banner = $('#vault-banner');
  banner.hidden = s.kind !== 'unavailable';
  $('#vault-message').textContent = s.kind === 'unavailable' ? s.message : '';
  $('#vault-detail').hidden = s.kind !== 'unavailable' || !s.detail;
  $('#vault-detail-text').textContent = s.detail || '';
  const note = $('#vault-note');
  note.hidden = s.kind === 'unavailable';
  note.textContent = s.message;
  note.dataset.kind = s.kind;
}

// ---------------------------------------------------------------- results

let current = null;     // the JobView shown on Results
// The job's running time, counted on by the page from its last view.
let jobClock = { ms: 0, at: 0 };
let watching = null;    // the JobUpdates of the job on Results
let jobs = [];          // this session's jobs

/** A view as Results keeps it: running rows stamped with the time. @param {JobView} view */
function shown(view) {
  const now = Date.now();
  jobClock = { ms: view.elapsed_ms, at: now };
  return { ...view, rows: view.rows.map((r) => stamped(r, now)) };
}

/**
 * A Channel for one job's updates. Those that come before the job's view
 * (they are all newer than it: the app takes the view and the watch at
 * once) wait, and are applied once the view is on Results.
 */
function jobUpdates() {
  const u = { early: [], open: false };
  u.channel = newChannel((m) => { if (u.open) onPush(m); else u.early.push(m); });
  return u;
}

/** Shows a job's view on Results and follows its updates. */
function watch(view, updates) {
  watching = updates;
  current = shown(view);
  sessionStorage.setItem('mailferry-job', String(view.job_id));
  updates.open = true;
  for (const m of updates.early.splice(0)) onPush(m);
}

/** An update of the job on Results (the app folds the engine's events). @param {Update} m */
function onPush(m) {
  if (!current) return;
  const next = applyUpdate(current, m, Date.now());
  if (!next) return;
  current = next.view;
  if (m.update !== 'row') jobClock = { ms: current.elapsed_ms, at: Date.now() };
  if (next.ended) refreshJobs();
  scheduleRender();
}

// Updates are drawn at most every RENDER_EVERY ms: progress that moves four
// times a second reads as live, and 500 rows cost a quarter of the paint.
const RENDER_EVERY = 250;
let renderQueued = false;
let renderedAt = 0;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  const wait = Math.max(0, renderedAt + RENDER_EVERY - performance.now());
  setTimeout(() => requestAnimationFrame(() => {
    renderQueued = false;
    renderedAt = performance.now();
    render();
  }), wait);
}

const expanded = new Set();

function rowElapsed(r) {
  if (r.state === 'running' && r.t0) return r.elapsed_ms + (Date.now() - r.t0);
  return r.elapsed_ms;
}

function jobState(v) {
  if (v.state === 'finished') return v.verdict || 'failed';
  return v.state;
}

const isVerification = (v) => v && v.kind === 'verification';
const isDryRun = (v) => v && v.kind === 'dry-run';

/** A folder's verdict, as the engine gives it (FolderOutcome::verdict). */
function folderState(f) {
  const unverified = !!f.verification && (f.verification.missing.length > 0 || f.verification.extra.length > 0);
  if (!f.error) return f.failed > 0 || unverified ? 'partial' : 'success';
  return f.migrated + f.skipped > 0 ? 'partial' : 'failed';
}

/** A folder's verification in words: never colour alone. */
function verificationCell(f) {
  const v = f.verification;
  if (!v) return el('td', { class: 'verification', 'data-verified': 'none' }, el('span', { class: 'muted', text: 'Not checked' }));
  const ok = v.missing.length === 0 && v.extra.length === 0;
  const parts = [];
  if (v.missing.length) parts.push(`${v.missing.length} missing`);
  if (v.extra.length) parts.push(`${v.extra.length} extra`);
  return el('td', { class: 'verification', 'data-verified': String(ok) },
    el('span', { class: `check ${ok ? 'check-ok' : 'check-bad'}` },
      el('span', { class: 'icon', 'aria-hidden': 'true', text: ok ? '✓' : '!' }), ok ? ' Verified' : ' Not verified'),
    ok ? null : `: ${parts.join(', ')}`);
}

const brief = (b) => `“${b.subject || '(no subject)'}” from ${b.from || '(unknown)'}, ${b.date || 'no date'}`;

function folderTable(r, view) {
  const verifying = isVerification(view);
  const dry = isDryRun(view);
  if (r.folders.length === 0 && !r.error) {
    const text = r.state === 'pending' ? 'Not started yet.' : (verifying ? 'No folder checked yet.' : 'No folder finished yet.');
    return el('p', { class: 'muted', text });
  }
  // Runs recorded before verification existed have no column for it.
  const checked = !verifying && r.folders.some((f) => f.verification);
  const rows = r.folders.map((f) => {
    const state = folderState(f);
    const problems = [];
    if (f.error) problems.push(reason(f.error, f.error_code));
    for (const x of f.failures) {
      problems.push(reason(`${brief(x)}: ${x.reason}`, x.code));
    }
    const v = f.verification;
    if (v) {
      for (const m of v.missing) problems.push(el('div', { class: 'reason missing', text: `Missing on the destination: ${brief(m)}` }));
      for (const m of v.extra) problems.push(el('div', { class: 'reason extra', text: `Extra copy on the destination: ${brief(m)}` }));
      if (v.other > 0) {
        problems.push(el('div', { class: 'note-line', text: `${v.other} other message${v.other === 1 ? '' : 's'} in the destination folder ${v.other === 1 ? 'is' : 'are'} not from this folder (not a fault).` }));
      }
    }
    if (f.filtered) {
      problems.push(el('div', { class: 'note-line', text: `${count(f.filtered)} message${f.filtered === 1 ? '' : 's'} (${humanBytes(f.filtered_bytes)}) left out by the job's filters.` }));
      for (const m of f.oversized || []) problems.push(el('div', { class: 'note-line', text: `Left out for its size (${humanBytes(m.size)}): ${brief(m)}` }));
    }
    for (const n of f.notes) problems.push(el('div', { class: 'note-line', text: n }));
    const planned = f.would_copy || [];
    for (const m of planned.slice(0, DRY_RUN_SHOWN)) problems.push(el('div', { class: 'note-line would-copy', text: `Would copy: ${brief(m)} (${humanBytes(m.size)})` }));
    if (planned.length > DRY_RUN_SHOWN) problems.push(el('div', { class: 'note-line', text: `… and ${count(planned.length - DRY_RUN_SHOWN)} more: the log lists every one.` }));
    const name = el('th', { scope: 'row', text: f.source === f.destination ? f.source : `${f.source} → ${f.destination}` });
    const cells = verifying
      ? [el('td', {}, badge(state, '', VERIFY_STATES)),
        el('td', { class: 'num', text: v ? v.source_messages : '—' }), el('td', { class: 'num', text: v ? v.destination_messages : '—' })]
      : [el('td', {}, badge(state)),
        el('td', { class: 'num', text: dry ? planned.length : f.migrated }), el('td', { class: 'num', text: f.skipped }),
        el('td', { class: 'num', text: f.failed }), el('td', { class: 'num', text: humanBytes(dry ? planned.reduce((a, m) => a + m.size, 0) : f.bytes) }),
        checked ? verificationCell(f) : null];
    return el('tr', { 'data-folder': f.source, 'data-state': state }, name, cells, el('td', {}, problems));
  });
  const heads = verifying
    ? ['Folder', 'Verification', 'On the source', 'On the destination', 'Details']
    : ['Folder', 'Status', dry ? 'Would copy' : 'Copied', 'Already there', 'Failed', dry ? 'Bytes to copy' : 'Bytes', ...(checked ? ['Verification'] : []), 'Details'];
  return el('div', {},
    r.error ? reason(r.error, r.error_code, 'reason mailbox-error') : null,
    r.folders.length ? el('table', { class: 'grid folders' },
      el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows)) : null);
}

/** A verification's counts for one mailbox, or the whole job. */
/** One verifying row's counts, from its folders' verifications. */
function checkedCounts(rows) {
  const c = { source: 0, destination: 0 };
  for (const r of rows) {
    for (const f of r.folders) {
      if (!f.verification) continue;
      c.source += f.verification.source_messages;
      c.destination += f.verification.destination_messages;
    }
  }
  return c;
}

function render() {
  const v = current;
  $('#no-results').hidden = !!v;
  $('#job-head').hidden = !v;
  $('#rows').hidden = !v;
  $('#row-tools').hidden = !v;
  const running = jobs.filter((j) => j.state !== 'finished').length;
  $('#running-badge').hidden = running === 0;
  $('#running-badge').textContent = running ? `${running} running` : '';
  if (!v) {
    $('#no-match').hidden = true;
    return;
  }
  const state = jobState(v);
  const verifying = isVerification(v);
  const words = verifying ? VERIFY_STATES : STATES;
  const dry = isDryRun(v);
  setText($('#job-name'), !v.name ? 'Starting…' : (verifying ? `Verification of job ${v.name}` : (dry ? `Dry run of job ${v.name}` : `Job ${v.name}`)));
  const head = $('#job-state');
  if (head.dataset.state !== state || head.dataset.words !== String(verifying)) {
    head.replaceWith(Object.assign(badge(state, '', words), { id: 'job-state' }));
    $('#job-state').dataset.words = String(verifying);
  }
  setText($('#job-route'), `${v.source} → ${v.destination}`);
  $('#job-kind').hidden = !verifying && !dry;
  setText($('#job-kind'), dry ? DRY_RUN_NOTE : VERIFY_NOTE);
  // The app adds the rows up (mailferry::service::Totals).
  const t = v.totals;
  if (verifying) {
    setText($('#job-totals'), `${count(t.mailboxes_done)} of ${count(v.rows.length)} mailboxes checked · ${count(t.folders_verified)} of ${count(t.folders)} folders verified`
      + ` · ${count(t.source_messages)} messages on the source, ${count(t.destination_messages)} on the destination · ${count(t.missing)} missing, ${count(t.extra)} extra`);
  } else {
    setText($('#job-totals'), `${count(t.mailboxes_done)} of ${count(v.rows.length)} mailboxes done · ${count(t.messages_done)} messages, ${humanBytes(t.bytes_done)}`
      + (v.state === 'finished' ? (dry
        ? ` · would copy ${count(t.would_copy)} (${humanBytes(t.would_copy_bytes)}), ${count(t.skipped)} already there, ${count(t.failed)} failed`
        : ` · ${count(t.migrated)} copied, ${count(t.skipped)} already there, ${count(t.failed)} failed`)
        + (t.filtered ? `, ${count(t.filtered)} left out by filters` : '') : '')
      + (v.run_id ? ` · run #${v.run_id}` : ''));
  }
  renderSummary();
  setText($('#col-messages'), verifying ? 'On the source' : 'Messages');
  setText($('#col-bytes'), verifying ? 'On the destination' : 'Bytes');
  $('#job-error').hidden = !v.error;
  setText($('#job-error'), v.error || '');
  $('#job-warnings').hidden = !(v.warnings && v.warnings.length);
  setText($('#job-warnings'), (v.warnings || []).map((w) => `Note: ${w}`).join(' '));
  const cancel = $('#cancel-job');
  cancel.hidden = v.state === 'finished' || !v.job_id;
  cancel.disabled = v.state === 'cancelling';
  setText(cancel, v.state === 'cancelling' ? 'Cancelling…' : (verifying ? 'Cancel the verification' : 'Cancel the job'));
  // Retry failed: the run's failed and partial mailboxes again, same job.
  const failing = t.states.failed + t.states.partial;
  const retry = $('#retry-failed');
  retry.hidden = !(v.state === 'finished' && !verifying && v.run_id && failing > 0);
  setText(retry, `Retry ${failing === 1 ? 'the failed mailbox' : `the ${count(failing)} failed mailboxes`}`);
  const logged = v.state === 'finished' && (!!v.run_id || !!v.session_log);
  $('#results-log').hidden = !logged;
  $('#results-csv').hidden = !logged;
  ensureTable(v);
  renderFilters(words);
  renderRows(v);
}

/** Sets a node's text only when it differs: no needless layout, selection kept. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// ------------------------------------------------ results: the summary strip

function jobElapsed(v) {
  return v.state === 'finished' ? v.elapsed_ms : jobClock.ms + (Date.now() - jobClock.at);
}

function renderSummary() {
  const v = current;
  const box = $('#summary');
  box.hidden = isVerification(v);
  if (box.hidden) return;
  const s = summarize(v, jobElapsed(v));
  const bar = $('#overall-bar');
  bar.setAttribute('aria-valuenow', String(s.pct));
  bar.firstElementChild.style.transform = `scaleX(${s.pct / 100})`;
  bar.dataset.state = jobState(v);
  const t = v.totals;
  setText($('#overall-pct'), `${s.pct}% · ${humanBytes(t.bytes_done)} of ${humanBytes(t.bytes_total)}${!s.finished && t.states.pending > 0 ? ' found so far' : ''}`);
  setText($('#sum-elapsed'), duration(s.elapsed_ms));
  setText($('#sum-rate'), s.elapsed_ms > 0 ? `${humanBytes(Math.round(s.rate))}/s` : '—');
  setText($('#sum-eta'), s.finished ? 'Done' : (s.eta_ms === null ? 'Estimating…' : `about ${duration(s.eta_ms)}`));
}

// ------------------------------------------------ results: filter, search, sort

/** @type {import('./summary.js').StateFilter} */
let stateFilter = 'all';
/** @type {import('./summary.js').SortKey} */
let sortKey = 'list';
let sortDesc = false;

/** @type {import('./summary.js').StateFilter[]} */
const FILTERS = ['all', 'failed', 'partial', 'running', 'pending', 'success'];

function renderFilters(words) {
  const box = $('#state-filter');
  if (box.children.length === 0) {
    for (const f of FILTERS) {
      box.append(el('button', {
        type: 'button', class: `filter state-${f}`, 'data-filter': f, 'aria-pressed': 'false',
        onclick: () => { stateFilter = f; render(); },
      }));
    }
  }
  const t = current.totals.states;
  for (const b of box.children) {
    const f = b.dataset.filter;
    const n = f === 'all' ? current.rows.length : t[f];
    const label = f === 'all' ? 'All' : words[f].word;
    setText(b, `${f === 'all' ? '' : `${words[f].icon} `}${label} ${count(n)}`);
    b.setAttribute('aria-pressed', String(f === stateFilter));
    // A state with no mailbox is hidden unless it is the filter in use.
    b.hidden = f !== 'all' && n === 0 && f !== stateFilter;
  }
  for (const th of $$('#rows [role="columnheader"][data-sort]')) {
    th.setAttribute('aria-sort', th.dataset.sort !== sortKey ? 'none' : (sortDesc ? 'descending' : 'ascending'));
  }
}

function sortBy(key) {
  if (sortKey === key) sortDesc = !sortDesc;
  else { sortKey = key; sortDesc = false; }
  render();
}

// ------------------------------------------------ results: the rows, in place

// One block per mailbox, made once for a view and then updated in place:
// focus, selection and open details survive every update.
let table = null;   // { key, bodies }

/** Which rows a table was made for: another job, run, kind or user list is another table. */
function tableKey(v) {
  return `${v.job_id}:${v.run_id ?? ''}:${v.kind}:${v.rows.map((r) => r.account).join('\n')}`;
}

/** The rows' blocks for `v`: kept while it is the same job, run and users; made anew (filter and search cleared) for another. */
function ensureTable(v) {
  const key = tableKey(v);
  if (table && table.key === key) return;
  // A job's run id arrives once it has begun: the same rows, kept.
  if (table && table.key === `${v.job_id}::${v.kind}:${v.rows.map((r) => r.account).join('\n')}`) {
    table.key = key;
    return;
  }
  const rows = $('#rows');
  for (const b of $$(':scope > .account', rows)) b.remove();
  table = { key, bodies: v.rows.map((r, i) => makeBody(i)) };
  for (const b of table.bodies) rows.append(b.el);
  stateFilter = 'all';
  $('#row-search').value = '';
}

function renderRows(v) {
  const rows = $('#rows');
  v.rows.forEach((r, i) => updateBody(table.bodies[i], r, v));
  // Filter, search and order: nodes move only when the order changes.
  const query = $('#row-search').value;
  let shown = 0;
  v.rows.forEach((r, i) => {
    const visible = shows(r, stateFilter, query);
    table.bodies[i].el.hidden = !visible;
    if (visible) shown++;
  });
  // Only the rows out of place move (a row overtaking another is one move).
  const want = order(v.rows, sortKey, sortDesc).map((i) => table.bodies[i].el);
  const focused = /** @type {HTMLElement | null} */ (document.activeElement);
  let at = /** @type {HTMLElement | null} */ (rows.querySelector(':scope > .account'));
  for (const b of want) {
    if (at === b) at = /** @type {HTMLElement | null} */ (b.nextElementSibling);
    else rows.insertBefore(b, at);
  }
  // Moving a node takes the focus from it: give it back.
  if (focused && focused !== document.activeElement && rows.contains(focused)) focused.focus({ preventScroll: true });
  $('#no-match').hidden = shown > 0 || v.rows.length === 0;
  setText($('#row-count'), shown === v.rows.length ? `${count(shown)} mailbox${shown === 1 ? '' : 'es'}` : `Showing ${count(shown)} of ${count(v.rows.length)} mailboxes`);
}

function makeBody(i) {
  const b = { i, row: null, detailsOf: null, accountKey: null };
  b.toggle = el('button', {
    type: 'button', class: 'expand', 'aria-controls': `details-${i}`,
    onclick: () => {
      const key = rowKey(current, b.row);
      if (expanded.has(key)) expanded.delete(key); else expanded.add(key);
      updateBody(b, b.row, current);
    },
  }, el('span', { 'aria-hidden': 'true' }));
  const cell = (cls) => el('div', { role: 'cell', class: cls });
  b.badgeTd = cell();
  b.account = el('div', { role: 'rowheader' });
  b.fill = el('div', { class: 'fill' });
  b.bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, b.fill);
  b.pct = el('span', { class: 'pct' });
  b.comparing = el('span', { class: 'muted', text: 'Comparing…' });
  b.progress = cell('progress-cell');
  b.messages = cell('num messages');
  b.bytes = cell('num bytes');
  b.folder = cell('folder');
  b.elapsed = cell('num elapsed');
  b.detailsTd = el('div', { role: 'cell' });
  b.details = el('div', { class: 'details', role: 'row', id: `details-${i}`, hidden: true }, b.detailsTd);
  b.el = el('div', { class: 'account', role: 'rowgroup' },
    el('div', { class: 'main cols', role: 'row' }, el('div', { role: 'cell' }, b.toggle), b.badgeTd, b.account, b.progress, b.messages, b.bytes, b.folder, b.elapsed),
    b.details);
  return b;
}

const rowKey = (v, r) => `${v.job_id}:${v.run_id}:${r.account}`;

function rowPct(r) {
  return r.messages_total > 0 ? Math.round((100 * r.messages_done) / r.messages_total)
    : (['success', 'partial'].includes(r.state) ? 100 : 0);
}

/** Brings one mailbox's block up to its row; untouched when nothing changed. */
function updateBody(b, r, v) {
  const verifying = isVerification(v);
  const open = expanded.has(rowKey(v, r));
  const changed = b.row !== r || b.open !== open;
  b.row = r;
  b.open = open;
  if (!changed) return;
  const words = verifying ? VERIFY_STATES : STATES;
  const body = b.el;
  if (body.dataset.state !== r.state) {
    body.className = `account state-${r.state}`;
    body.dataset.state = r.state;
  }
  body.dataset.account = r.account;
  const badgeKey = `${r.state}:${verifying}`;
  if (b.badgeTd.dataset.key !== badgeKey) {
    b.badgeTd.replaceChildren(badge(r.state, '', words));
    b.badgeTd.dataset.key = badgeKey;
  }
  b.toggle.setAttribute('aria-expanded', String(open));
  b.toggle.setAttribute('aria-label', `${open ? 'Hide' : 'Show'} the folders of ${r.account}`);
  setText(b.toggle.firstElementChild, open ? '▾' : '▸');
  // The account cell holds a link to Help: rebuilt only when its words change.
  const accountKey = JSON.stringify([r.account, r.local_user, r.retrying, open ? null : r.error, r.error_code]);
  if (b.accountKey !== accountKey) {
    b.accountKey = accountKey;
    b.account.replaceChildren(r.account === r.local_user ? r.account : `${r.account} → ${r.local_user}`,
      r.retrying ? el('div', { class: 'muted', text: `Retrying: ${r.retrying}` }) : '',
      r.error && !open ? reason(r.error, r.error_code) : '');
  }
  const pct = rowPct(r);
  if (verifying && r.state === 'running') {
    if (b.progress.firstChild !== b.comparing) b.progress.replaceChildren(b.comparing);
  } else {
    if (b.progress.firstChild !== b.bar) b.progress.replaceChildren(b.bar, b.pct);
    b.fill.style.transform = `scaleX(${pct / 100})`;
    b.bar.setAttribute('aria-valuenow', String(pct));
    b.bar.setAttribute('aria-label', `${r.account}: ${pct}%`);
    setText(b.pct, `${pct}%`);
  }
  const c = verifying ? checkedCounts([r]) : null;
  setText(b.messages, verifying ? count(c.source) : (r.state === 'pending' ? '—' : `${count(r.messages_done)} / ${count(r.messages_total)}`));
  setText(b.bytes, verifying ? count(c.destination) : (r.state === 'pending' ? '—' : `${humanBytes(r.bytes_done)} / ${humanBytes(r.bytes_total)}`));
  setText(b.folder, r.state === 'pending' ? '—'
    : (r.state === 'running' && verifying ? `${r.folders.length} checked…`
      : (r.state === 'running' ? (r.folder || 'connecting…') : `${r.folders.length} folder${r.folders.length === 1 ? '' : 's'}`)));
  setText(b.elapsed, r.state === 'pending' ? '—' : duration(rowElapsed(r)));
  b.details.hidden = !open;
  // Details are made when shown, and again only when the row's folders changed.
  if (open) {
    const of = JSON.stringify([r.folders, r.error, r.error_code, r.state, verifying]);
    if (b.detailsOf !== of) {
      b.detailsOf = of;
      b.detailsTd.replaceChildren(folderTable(r, v));
    }
  }
}

/** Once a second: only the running times and the summary move. */
function tick() {
  if (!current || !table || $('#page-results').hidden) return;
  if (current.state !== 'finished') renderSummary();
  current.rows.forEach((r, i) => {
    if (r.state === 'running') setText(table.bodies[i].elapsed, duration(rowElapsed(r)));
  });
}

async function attach(jobId) {
  const updates = jobUpdates();
  const view = await invoke('attach_job', { job_id: jobId, on_event: updates.channel });
  if (!view) return false;
  watch(view, updates);
  render();
  return true;
}

async function refreshJobs() {
  try { jobs = await invoke('list_jobs'); } catch { jobs = []; }
  const picker = $('#job-picker');
  const sel = $('#job-select');
  picker.hidden = jobs.length < 2;
  sel.textContent = '';
  for (const j of [...jobs].reverse()) {
    const words = isVerification(j) ? VERIFY_STATES : STATES;
    sel.append(el('option', { value: String(j.job_id), text: `${j.name || 'Starting…'}${isVerification(j) ? ' (verification)' : ''} — ${(words[jobState(j)] || STATES.unfinished).word}` }));
  }
  if (current && current.job_id) sel.value = String(current.job_id);
  render();
}

async function restoreWatch() {
  await refreshJobs();
  const saved = Number(sessionStorage.getItem('mailferry-job'));
  const target = jobs.find((j) => j.job_id === saved) || jobs[jobs.length - 1];
  if (target) await attach(target.job_id);
  // A running job is shown; so is the one watched when the page was
  // reloaded, even if it finished meanwhile.
  const left = sessionStorage.getItem('mailferry-page');
  if (jobs.some((j) => j.state !== 'finished') || (target && left === 'results')) show('results');
}

// ---------------------------------------------------------------- history

function outcomeOf(run) {
  if (run.verdict) return run.verdict;
  return run.live_job_id ? 'running' : 'unfinished';
}

/** A time of the history ("2026-11-28 10:00:00 +0000"), or null. */
function parseTime(t) {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)$/.exec(t || '');
  const d = m ? new Date(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) : null;
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** A time of the history as the user's locale writes it. */
function when(t) {
  const d = parseTime(t);
  return d ? WHEN.format(d) : (t || '');
}

/** How long a run took, or a dash while it has not finished. */
function took(start, end) {
  const a = parseTime(start), b = parseTime(end);
  return a && b ? duration(Math.max(0, b.getTime() - a.getTime())) : '—';
}

// Each load is numbered: only the newest one renders, and `data-loaded` on
// the rows says which one did (the tests wait on it, never on stale rows).
let historyLoads = 0;

async function loadHistory() {
  const err = $('#history-error');
  const load = ++historyLoads;
  let runs;
  try {
    runs = await invoke('history');
    err.hidden = true;
  } catch (e) {
    if (load !== historyLoads) return;
    err.hidden = false;
    err.textContent = words(e);
    $('#history-rows').dataset.loaded = String(load);
    return;
  }
  if (load !== historyLoads) return;
  $('#history-empty').hidden = runs.length > 0;
  $('#history').hidden = runs.length === 0;
  const tbody = $('#history-rows');
  tbody.textContent = '';
  for (const r of runs) {
    const state = outcomeOf(r);
    if (r.preflight) {
      tbody.append(preflightHistoryRow(r, state));
      continue;
    }
    const actions = el('td', { class: 'actions-cell' },
      el('button', { type: 'button', class: 'secondary open-run', onclick: () => openRun(r), text: 'Open' }),
      r.verdict ? el('button', { type: 'button', class: 'secondary download-log', onclick: () => download(r.run_id, 'text', '#history-status'), text: 'Download log' }) : null,
      r.verdict ? el('button', { type: 'button', class: 'secondary download-csv', onclick: () => download(r.run_id, 'csv', '#history-status'), text: 'Download CSV' }) : null,
      r.can_rerun && !r.live_job_id && !r.dry_run ? el('button', { type: 'button', class: 'secondary rerun', onclick: () => rerun(r.run_id), text: 'Run again' }) : null,
      !r.live_job_id ? el('button', {
        type: 'button', class: 'secondary edit', onclick: () => editRun(r.run_id), text: 'Edit',
        title: 'Open this job in the form to change it and run it again',
      }) : null,
      r.can_rerun && !r.live_job_id && !r.dry_run && (r.verdict === 'failed' || r.verdict === 'partial') ? el('button', {
        type: 'button', class: 'secondary retry', onclick: () => retryFailed(r.run_id), text: 'Retry failed',
        title: 'Run only the mailboxes that failed or were partial in this run again',
      }) : null,
      r.can_rerun && !r.live_job_id && !r.dry_run ? el('button', {
        type: 'button', class: 'secondary verify', onclick: () => verify(r.run_id), text: 'Verify',
        title: 'Compare every folder of the source with the destination, copying nothing',
      }) : null);
    tbody.append(el('tr', { 'data-run': String(r.run_id), 'data-job': r.job_name, 'data-state': state },
      el('td', { class: 'num', text: `#${r.run_id}` }),
      el('th', { scope: 'row' }, r.job_name, r.dry_run ? el('span', { class: 'tag dry-run', text: 'Dry run' }) : null),
      el('td', { class: 'started', text: when(r.started_at) }),
      el('td', { class: 'num took', text: took(r.started_at, r.finished_at) }),
      el('td', { text: `${r.source_host} → ${r.dest_host}` }),
      el('td', { class: 'num', text: count(r.mailboxes) }),
      el('td', { class: 'counts', text: r.dry_run
        ? `nothing changed: ${count(r.skipped)} already there, ${count(r.failed)} failed`
        : `${count(r.migrated)} copied, ${count(r.skipped)} already there, ${count(r.failed)} failed` }),
      el('td', { class: 'num size', text: humanBytes(r.bytes) }),
      el('td', {}, badge(state)),
      actions));
  }
  tbody.dataset.loaded = String(load);
}

/** A pre-flight report of the history: opened below the list, or saved. */
function preflightHistoryRow(r, state) {
  const saveAs = (format) => save('download_preflight', { run_id: r.run_id, format }, '#history-status');
  const actions = el('td', { class: 'actions-cell' },
    el('button', { type: 'button', class: 'secondary open-preflight', onclick: () => openPreflight(r.run_id), text: 'Open' }),
    el('button', { type: 'button', class: 'secondary preflight-csv', onclick: () => saveAs('csv'), text: 'Download CSV' }),
    el('button', { type: 'button', class: 'secondary edit', onclick: () => editRun(r.run_id), text: 'Edit', title: 'Open this job in the form to change it and run it' }));
  return el('tr', { 'data-run': String(r.run_id), 'data-job': r.job_name, 'data-state': state, 'data-kind': 'preflight' },
    el('td', { class: 'num', text: `#${r.run_id}` }),
    el('th', { scope: 'row' }, r.job_name, el('span', { class: 'tag preflight', text: 'Pre-flight' })),
    el('td', { class: 'started', text: when(r.started_at) }),
    el('td', { class: 'num took', text: took(r.started_at, r.finished_at) }),
    el('td', { text: `${r.source_host} → ${r.dest_host}` }),
    el('td', { class: 'num', text: count(r.mailboxes) }),
    el('td', { class: 'counts', text: `nothing changed: ${count(r.skipped)} already there` }),
    el('td', { class: 'num size', text: '—' }),
    el('td', {}, badge(state)),
    actions);
}

async function openPreflight(runId) {
  try {
    const report = await invoke('preflight_report', { run_id: runId });
    $('#history-preflight-view').replaceChildren(renderPreflight(report, (format) => save('download_preflight', { run_id: runId, format }, '#history-status')));
    $('#history-preflight').hidden = false;
    $('#h-history-preflight').textContent = `Pre-flight report of job ${report.job} (run #${runId})`;
    $('#history-preflight').scrollIntoView({ block: 'start' });
  } catch (e) {
    $('#history-status').textContent = words(e);
  }
}

async function openRun(r) {
  if (r.live_job_id) {
    await attach(r.live_job_id);
    show('results');
    return;
  }
  if (!r.verdict) {
    $('#history-status').textContent = `Run #${r.run_id} did not finish (MailFerry was closed while it ran). Run the job again to resume it.`;
    return;
  }
  try {
    current = shown(await invoke('run_details', { run_id: r.run_id }));
    watching = null;
    show('results');
    render();
  } catch (e) {
    $('#history-status').textContent = words(e);
  }
}

/** Runs `cmd` (rerun_job, retry_failed or verify_job) for a run of the history and watches it on Results. */
async function follow(cmd, runId, statusSel = '#history-status') {
  const updates = jobUpdates();
  try {
    watch(await invoke(cmd, { run_id: runId, on_event: updates.channel }), updates);
    show('results');
    render();
  } catch (e) {
    $(statusSel).textContent = words(e);
  }
}

const rerun = (runId) => follow('rerun_job', runId);
const retryFailed = (runId, statusSel) => follow('retry_failed', runId, statusSel);
// The verification pass alone: nothing copied, nothing in the history.
const verify = (runId) => follow('verify_job', runId);

async function download(runId, format, statusSel) {
  return save('download_log', { run_id: runId, format }, statusSel);
}

/** The log of what Results shows: a run's, or a verification's (kept by the session). */
function downloadShown(format) {
  if (!current) return null;
  if (!current.run_id && current.session_log) return save('download_verification_log', { job_id: current.job_id, format }, '#save-status');
  return download(current.run_id, format, '#save-status');
}

async function save(cmd, args, statusSel) {
  const out = $(statusSel);
  try {
    const path = await invoke(cmd, args);
    out.textContent = path ? `Saved to ${path}` : 'Not saved.';
  } catch (e) {
    out.textContent = words(e);
  }
}

// ---------------------------------------------------------------- closing

function onNotice(n) {
  if (n.notice !== 'close-requested') return;
  $('#close-text').textContent = `${n.running === 1 ? 'A migration is' : `${n.running} migrations are`} still running. `
    + 'Closing MailFerry stops it after the current batch; running the job again later resumes it.';
  const d = $('#close-dialog');
  if (!d.open) d.showModal();
}

// ---------------------------------------------------------------- set-up

function setUp() {
  for (const p of PROTOS) addPort(p, DEFAULT_PORTS[p]);
  // Before the first applyOAuthRules, which shows only the steps that apply.
  for (const { pre } of Object.values(SIDES)) $(`#${pre}-oauth`).append(setupSteps(pre));
  for (const b of $$('.add-port')) {
    b.addEventListener('click', () => addPort(b.closest('tr').dataset.proto).focus());
  }
  for (const t of $$('.tab')) t.addEventListener('click', () => show(t.dataset.page));
  $('#help-filter').addEventListener('input', filterCatalogue);
  for (const r of $$('input[name="protocol"]')) r.addEventListener('change', () => { applyProtocolRules(); validateSoon(); });
  for (const r of $$('input[name="auth"]')) r.addEventListener('change', () => { applyAuthRules(); validateSoon(); });
  $('#preflight').addEventListener('click', () => { preflight().catch(() => {}); });
  $('#cancel-preflight').addEventListener('click', () => { cancelPreflight().catch(() => {}); });
  $('#dry-run').addEventListener('change', () => { $('#start').textContent = $('#dry-run').checked ? 'Start dry run' : 'Start migration'; });
  for (const r of $$('input[name="source-auth"]')) {
    r.addEventListener('change', () => {
      if (sideAuth('source') === 'oauth') suggestFlow('source');
      applyAuthRules(); validateSoon(); previewUsers().catch(() => {});
    });
  }
  for (const side of /** @type {Side[]} */ (['source', 'destination'])) {
    const pre = SIDES[side].pre;
    $(`#${pre}-preset`).addEventListener('change', () => { applyPreset(side); previewUsers().catch(() => {}); });
    $(`#${pre}-oauth-flow`).addEventListener('change', (e) => {
      e.target.dataset.touched = 'true';
      applyAuthRules(); previewUsers().catch(() => {});
    });
    $(`#${pre}-oauth-provider`).addEventListener('change', () => {
      applyAuthRules();
      // Another sign-in service: its addresses are needed.
      if ($(`#${pre}-oauth-provider`).value === 'custom') $(`#${pre}-oauth-advanced`).open = true;
    });
    $(`#${pre}-oauth-key-file`).addEventListener('change', (e) => {
      const f = e.target.files[0];
      if (f) readKeyFile(side, f).catch(() => {});
    });
    $(`#${pre}-sign-in`).addEventListener('click', (e) => { openSignIn(side, e.currentTarget).catch(() => {}); });
    $(`#${pre}-app-password`).addEventListener('click', (e) => { openLink(e.currentTarget.dataset.url, $('#form-status')).catch(() => {}); });
    $(`#${pre}-app-password-copy`).addEventListener('click', async (e) => {
      const url = e.currentTarget.dataset.url;
      status(await copyText(url) ? `Copied ${url}` : `Copy this address: ${url}`);
    });
  }
  $('#signin-cancel').addEventListener('click', () => { cancelSignIn().catch(() => {}); });
  $('#signin-close').addEventListener('click', closeSignIn);
  // Escape closes the panel as Close does.
  $('#signin-dialog').addEventListener('cancel', (e) => { e.preventDefault(); closeSignIn(); });
  $('#signin-open').addEventListener('click', (e) => { openLink(e.currentTarget.dataset.url, $('#signin-status')).catch(() => {}); });
  const copyInPanel = async (what, text) => {
    const ok = await copyText(text, $('#signin-dialog'));
    $('#signin-status').textContent = ok ? `${what} copied.` : `${what} could not be copied: select it and copy it yourself.`;
  };
  $('#signin-copy-code').addEventListener('click', () => copyInPanel('The code', $('#signin-user-code').textContent));
  $('#signin-copy-address').addEventListener('click', (e) => copyInPanel('The address', e.currentTarget.dataset.url));
  $('#signin-copy-url').addEventListener('click', (e) => copyInPanel('The address', e.currentTarget.dataset.url));
  $('#dest-security').addEventListener('change', () => {
    $('#dest-port').placeholder = $('#dest-security').value === 'tls' ? '993' : '143';
  });
  $('#job-form').addEventListener('input', (e) => { if (e.target.id !== 'users-file') validateSoon(); });
  $('#job-form').addEventListener('submit', start);
  $('#check').addEventListener('click', () => check(true));
  $('#job-form').addEventListener('focusout', (e) => {
    const field = Object.keys(FIELD_INPUTS).find((f) => FIELD_INPUTS[f] === `#${e.target.id}`);
    if (field) visited.add(field);
    // Any of a side's OAuth settings left: its errors may show.
    const box = e.target.closest && e.target.closest('[data-field]');
    if (box) visited.add(box.dataset.field);
  });
  $('#test-logins').addEventListener('click', testLogins);
  $('#cancel-logins').addEventListener('click', () => { cancelLogins().catch(() => {}); });
  $('#users-file').addEventListener('change', (e) => { if (e.target.files[0]) readUsersFile(e.target.files[0]); });
  for (const b of $$('.pick-ca')) b.addEventListener('click', () => pickCertificate(b).catch(() => {}));
  const area = $('#users');
  area.addEventListener('dragover', (e) => { e.preventDefault(); area.classList.add('dropping'); });
  area.addEventListener('dragleave', () => area.classList.remove('dropping'));
  area.addEventListener('drop', (e) => {
    e.preventDefault();
    area.classList.remove('dropping');
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) readUsersFile(f);
  });
  $('#vault-memory').addEventListener('click', async () => { showVault(await invoke('vault_use_memory')); clearErrors(); });
  $('#vault-retry').addEventListener('click', async () => showVault(await invoke('vault_retry')));
  $('#cancel-job').addEventListener('click', async () => {
    if (current && current.job_id) {
      await invoke('cancel_job', { job_id: current.job_id });
      current.state = 'cancelling';
      render();
    }
  });
  $('#retry-failed').addEventListener('click', () => { if (current && current.run_id) retryFailed(current.run_id, '#save-status'); });
  $('#results-log').addEventListener('click', () => downloadShown('text'));
  $('#results-csv').addEventListener('click', () => downloadShown('csv'));
  $('#job-select').addEventListener('change', (e) => attach(Number(e.target.value)));
  $('#close-keep').addEventListener('click', () => $('#close-dialog').close());
  $('#close-stop').addEventListener('click', async () => {
    $('#close-stop').disabled = true;
    $('#close-stop').textContent = 'Stopping…';
    await invoke('confirm_close');
  });
  setInterval(tick, 1000);
  $('#row-search').addEventListener('input', () => render());
  for (const th of $$('#rows [role="columnheader"][data-sort]')) th.firstElementChild.addEventListener('click', () => sortBy(th.dataset.sort));
  applyProtocolRules();
  applyAuthRules();
}

async function boot() {
  setUp();
  // The form works without the presets: "Other server" is always there.
  loadPresets().catch(() => {});
  try {
    showVault(await invoke('vault_status'));
    await invoke('watch_app', { on_notice: newChannel(onNotice) });
    await restoreWatch();
  } catch (e) {
    $('#err-form').hidden = false;
    $('#err-form').textContent = `MailFerry's backend did not answer: ${e}`;
  }
  document.body.dataset.ready = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
