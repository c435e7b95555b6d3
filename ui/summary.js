// What the Results page works out from a job's view, with no DOM: the
// summary strip's figures, which rows a filter shows, and their order.
// Kept apart from app.js so it is checked strictly against the contract.
// @ts-check

/** @typedef {import('./contract').JobView} JobView */
/** @typedef {import('./contract').RowView} RowView */
/** @typedef {import('./contract').RowState} RowState */

/**
 * The summary strip's figures. `rate` is bytes a second over the whole
 * job; `eta_ms` is null until there is something to go on.
 * @typedef {{ elapsed_ms: number, pct: number, rate: number, eta_ms: number | null, finished: boolean }} Summary
 */

/**
 * @param {JobView} view
 * @param {number} elapsed_ms the job's running time, counted on by the page
 * @returns {Summary}
 */
export function summarize(view, elapsed_ms) {
  const t = view.totals;
  const finished = view.state === 'finished';
  // The rows' bars averaged: a mailbox that has not begun has no size yet,
  // so the job's bytes would shrink the bar each time one begins; each
  // row's share only grows (its totals are known when it begins).
  const shares = view.rows.reduce((sum, r) => sum + share(r), 0);
  const pct = finished ? 100 : (view.rows.length > 0 ? Math.min(100, Math.floor((100 * shares) / view.rows.length)) : 0);
  const rate = elapsed_ms > 0 ? (1000 * t.bytes_done) / elapsed_ms : 0;
  /** @type {number | null} */
  let eta_ms = null;
  const mailboxes = view.rows.length;
  if (!finished && elapsed_ms > 0) {
    if (t.states.pending === 0 && rate > 0 && t.bytes_total >= t.bytes_done) {
      // Every mailbox has begun: what is left is known in bytes.
      eta_ms = (1000 * (t.bytes_total - t.bytes_done)) / rate;
    } else if (t.mailboxes_done > 0) {
      // Mailboxes not yet begun have no size: go by mailboxes ended.
      eta_ms = (elapsed_ms * (mailboxes - t.mailboxes_done)) / t.mailboxes_done;
    }
  }
  return { elapsed_ms, pct, rate, eta_ms, finished };
}

/**
 * How much of a mailbox is behind it, 0 to 1: its messages, or all of it
 * once it ended (failed and partial too: nothing more will happen to it).
 * @param {RowView} r
 */
export function share(r) {
  if (r.state === 'success' || r.state === 'partial' || r.state === 'failed') return 1;
  return r.messages_total > 0 ? Math.min(1, r.messages_done / r.messages_total) : 0;
}

/** The filters of the strip: a state, or every row. @typedef {RowState | 'all'} StateFilter */

/**
 * Whether a row shows under the filter and the search (part of the
 * account or the destination user, any case).
 * @param {RowView} row
 * @param {StateFilter} state
 * @param {string} query
 */
export function shows(row, state, query) {
  if (state !== 'all' && row.state !== state) return false;
  const q = query.trim().toLowerCase();
  return q === '' || row.account.toLowerCase().includes(q) || row.local_user.toLowerCase().includes(q);
}

// Problems first: what needs the user comes to the top.
const STATE_RANK = { failed: 0, partial: 1, running: 2, pending: 3, success: 4 };

/** @typedef {'list' | 'state' | 'account' | 'progress' | 'messages' | 'bytes' | 'folder' | 'time'} SortKey */

/** @type {Record<Exclude<SortKey, 'list'>, (r: RowView) => number | string>} */
const KEYS = {
  state: (r) => STATE_RANK[r.state],
  account: (r) => r.account.toLowerCase(),
  progress: (r) => (r.messages_total > 0 ? r.messages_done / r.messages_total : (['success', 'partial'].includes(r.state) ? 1 : 0)),
  messages: (r) => r.messages_total,
  bytes: (r) => r.bytes_total,
  folder: (r) => (r.folder || '').toLowerCase(),
  time: (r) => r.elapsed_ms,
};

/**
 * The rows' indices in the order asked for; ties keep the job's order.
 * @param {RowView[]} rows
 * @param {SortKey} key
 * @param {boolean} descending
 * @returns {number[]}
 */
export function order(rows, key, descending) {
  const idx = rows.map((_, i) => i);
  if (key === 'list') return descending ? idx.reverse() : idx;
  const f = KEYS[key];
  const vals = rows.map(f);
  const sign = descending ? -1 : 1;
  return idx.sort((a, b) => {
    const x = vals[a], y = vals[b];
    const c = x < y ? -1 : (x > y ? 1 : 0);
    return c !== 0 ? sign * c : a - b;
  });
}

const NUMBER = new Intl.NumberFormat();
/**
 * A whole number as the user's locale writes it ("1,538").
 * @param {number} n
 */
export const count = (n) => NUMBER.format(n);
