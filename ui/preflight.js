// The pre-flight report as the page shows it: a summary with the
// estimate, the warnings that need a decision, a table of mailboxes and a
// table of folders, both sortable by any column (a click, or Enter on the
// column's button), and the report's downloads.

import { el, humanBytes, duration } from './app.js';
import { count } from './summary.js';

/** @typedef {import('./contract').PreflightReport} PreflightReport */
/** @typedef {import('./contract').MailboxPreflight} MailboxPreflight */
/** @typedef {import('./contract').FolderPreflight} FolderPreflight */

const WARNING_WORDS = {
  unreachable: 'Cannot log in',
  'over-quota': 'Over quota',
  'too-large': 'Too large',
  'folder-name': 'Folder name',
  'no-internal-date': 'No received date',
  duplicates: 'Duplicates',
};

const MAPPING_WORDS = { existing: 'Exists', created: 'Will be created', skipped: 'Skipped by a rule' };

const plural = (n, one, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

/** Seconds as the estimate says them: "about 40 s", "3 min", "1 h 20 min". */
function span(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  const h = Math.floor(seconds / 3600), m = Math.round((seconds % 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** The estimate in words. */
export function estimateWords(e) {
  if (!e) return 'No estimate: no mailbox could be reached.';
  const low = span(e.low_seconds), high = span(e.high_seconds);
  return low === high ? `Estimated time: about ${low}.` : `Estimated time: between ${low} and ${high}.`;
}

/** The report's figures over every mailbox. */
export function reportTotals(report) {
  const t = { mailboxes: report.mailboxes.length, reached: 0, folders: 0, messages: 0, bytes: 0, present: 0, to_copy: 0, to_copy_bytes: 0, filtered: 0 };
  for (const m of report.mailboxes) {
    if (!m.error) t.reached++;
    for (const f of m.folders) {
      if (f.mapping === 'skipped') continue;
      t.folders++;
      t.messages += f.messages;
      t.bytes += f.bytes;
      t.present += f.present;
      t.to_copy += f.to_copy;
      t.to_copy_bytes += f.to_copy_bytes;
      t.filtered += f.filtered;
    }
  }
  return t;
}

/**
 * A table whose rows sort by any column: each header is a button, and its
 * cell says the order (aria-sort). `columns`: { label, value(row) → sort
 * key, cell(row) → text or node, num }.
 */
function sortable(caption, columns, rows, cls) {
  let by = -1, descending = false;
  const tbody = el('tbody');
  const heads = columns.map((c, i) => el('th', { scope: 'col', class: c.num ? 'num' : null },
    el('button', { type: 'button', class: 'sort', onclick: () => { descending = by === i ? !descending : false; by = i; fill(); } }, c.label)));
  const fill = () => {
    const sorted = rows.slice();
    if (by >= 0) {
      const v = columns[by].value;
      sorted.sort((a, b) => {
        const x = v(a), y = v(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return descending ? -c : c;
      });
    }
    heads.forEach((h, i) => {
      if (i === by) h.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else h.removeAttribute('aria-sort');
    });
    tbody.replaceChildren(...sorted.map((r) => el('tr', { 'data-key': r.key },
      ...columns.map((c, i) => el(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: c.num ? 'num' : null }, c.cell(r))))));
  };
  fill();
  return el('div', { class: 'preflight-scroll' },
    el('table', { class: `grid ${cls}` }, el('caption', { text: caption }), el('thead', {}, el('tr', {}, heads)), tbody));
}

/** One line per mailbox: its logins, what it would get, its quota. */
function mailboxTable(report) {
  const rows = report.mailboxes.map((m, i) => {
    const folders = m.folders.filter((f) => f.mapping !== 'skipped');
    const toCopy = folders.reduce((a, f) => a + f.to_copy, 0);
    const toCopyBytes = folders.reduce((a, f) => a + f.to_copy_bytes, 0);
    const quota = m.quota;
    const free = quota ? quota.limit_bytes - quota.used_bytes : null;
    return { key: `m${i}`, m, folders: folders.length, toCopy, toCopyBytes, quota, free };
  });
  const quotaCell = (r) => {
    if (!r.quota) return el('span', { class: 'muted', text: r.m.error ? '—' : 'No quota' });
    const over = r.toCopyBytes > r.free;
    return el('span', { class: over ? 'bad' : null },
      `${humanBytes(r.quota.used_bytes)} of ${humanBytes(r.quota.limit_bytes)} used`, over ? ' · too small' : '');
  };
  return sortable('Mailboxes', [
    { label: 'Mailbox', value: (r) => r.m.source_user, cell: (r) => r.m.source_user === r.m.local_user ? r.m.source_user : `${r.m.source_user} → ${r.m.local_user}` },
    { label: 'Logins', value: (r) => (r.m.error ? 1 : 0), cell: (r) => (r.m.error ? el('span', { class: 'reason', text: r.m.error }) : '✓ Both sides') },
    { label: 'Folders', num: true, value: (r) => r.folders, cell: (r) => count(r.folders) },
    { label: 'To copy', num: true, value: (r) => r.toCopy, cell: (r) => count(r.toCopy) },
    { label: 'Size to copy', num: true, value: (r) => r.toCopyBytes, cell: (r) => humanBytes(r.toCopyBytes) },
    { label: 'Destination quota', value: (r) => (r.free === null ? Infinity : r.free - r.toCopyBytes), cell: quotaCell },
    { label: 'Largest message it takes', num: true, value: (r) => r.m.append_limit ?? Infinity, cell: (r) => (r.m.append_limit ? humanBytes(r.m.append_limit) : '—') },
  ], rows, 'preflight-mailboxes');
}

/** One line per folder of every mailbox. */
function folderTable(report) {
  const rows = report.mailboxes.flatMap((m, i) => m.folders.map((f, j) => ({ key: `m${i}f${j}`, m, f })));
  return sortable('Folders', [
    { label: 'Mailbox', value: (r) => r.m.source_user, cell: (r) => r.m.source_user },
    { label: 'Source folder', value: (r) => r.f.source, cell: (r) => r.f.source },
    { label: 'Destination folder', value: (r) => r.f.destination, cell: (r) => (r.f.mapping === 'skipped' ? '—' : r.f.destination) },
    { label: 'Mapping', value: (r) => r.f.mapping, cell: (r) => MAPPING_WORDS[r.f.mapping] || r.f.mapping },
    { label: 'Messages', num: true, value: (r) => r.f.messages, cell: (r) => count(r.f.messages) },
    { label: 'Size', num: true, value: (r) => r.f.bytes, cell: (r) => humanBytes(r.f.bytes) },
    { label: 'Already there', num: true, value: (r) => r.f.present, cell: (r) => count(r.f.present) },
    { label: 'To copy', num: true, value: (r) => r.f.to_copy, cell: (r) => count(r.f.to_copy) },
    { label: 'Size to copy', num: true, value: (r) => r.f.to_copy_bytes, cell: (r) => humanBytes(r.f.to_copy_bytes) },
    { label: 'Left out', num: true, value: (r) => r.f.filtered, cell: (r) => count(r.f.filtered) },
    { label: 'Notes', value: (r) => r.f.notes.join(' '), cell: (r) => el('div', {}, ...(r.f.error ? [el('div', { class: 'reason', text: r.f.error })] : []), ...r.f.notes.map((n) => el('div', { class: 'note-line', text: n }))) },
  ], rows, 'preflight-folders');
}

/**
 * The report, ready to insert. `download(format)` saves it (`csv` or
 * `text`); none when the report is not kept (a cancelled check).
 * @param {PreflightReport} report
 * @param {null | ((format: string) => void)} download
 */
export function renderPreflight(report, download) {
  const t = reportTotals(report);
  const summary = `${plural(t.mailboxes, 'mailbox', 'mailboxes')}${t.reached < t.mailboxes ? ` (${count(t.mailboxes - t.reached)} not reached)` : ''}`
    + ` · ${plural(t.folders, 'folder')} · ${plural(t.messages, 'message')} (${humanBytes(t.bytes)}) on the source`
    + ` · ${count(t.present)} already on the destination · ${count(t.to_copy)} to copy (${humanBytes(t.to_copy_bytes)})`
    + (t.filtered ? ` · ${count(t.filtered)} left out by filters` : '') + '.';
  const warnings = report.warnings.length
    ? el('ul', { class: 'preflight-warnings' }, ...report.warnings.map((w) => el('li', { 'data-kind': w.kind },
      el('b', { text: `${WARNING_WORDS[w.kind] || w.kind}: ` }),
      w.account ? `${w.account}${w.folder ? `, ${w.folder}` : ''}: ` : '', w.words)))
    : el('p', { class: 'preflight-clear', text: 'Nothing needs a decision before the job starts.' });
  return el('div', { class: 'preflight' },
    el('p', { class: 'preflight-summary', text: summary }),
    el('p', { class: 'preflight-estimate' }, el('b', { text: estimateWords(report.estimate) }),
      report.estimate ? el('span', { class: 'hint', text: ` ${report.estimate.basis}` }) : null),
    el('p', { class: 'muted', text: `Made ${report.created_at} in ${duration(report.elapsed_ms)}: nothing was created, copied or changed on either server.` }),
    el('h3', { text: report.warnings.length ? `Needs a decision (${count(report.warnings.length)})` : 'Needs a decision' }),
    warnings,
    download ? el('div', { class: 'row' },
      el('button', { type: 'button', class: 'secondary preflight-csv', onclick: () => download('csv'), text: 'Download CSV' }),
      el('button', { type: 'button', class: 'secondary preflight-text', onclick: () => download('text'), text: 'Download report' })) : null,
    mailboxTable(report),
    folderTable(report));
}
