// Applies the app's updates to the job the page shows. The app folds the
// engine's events into rows (mailferry::service); the page only puts each
// row where it belongs. Types: ui/contract.d.ts, generated from Rust.
// @ts-check

/** @typedef {import('./contract').JobView} JobView */
/** @typedef {import('./contract').RowView} RowView */
/** @typedef {import('./contract').Update} Update */

/**
 * A row as the page keeps it: `t0` is when its running time was last
 * given, so the page can count on from `elapsed_ms`.
 * @typedef {RowView & { t0?: number | null }} ShownRow
 */

/**
 * Stamps the rows that are running with the time they arrived.
 * @param {RowView} row
 * @param {number} now
 * @returns {ShownRow}
 */
export function stamped(row, now) {
  return { ...row, t0: row.state === 'running' ? now : null };
}

/**
 * The view after `update`, or null when the update is about another job.
 * `ended` is true when the job has ended (the final view).
 * @param {JobView} current
 * @param {Update} update
 * @param {number} now
 * @returns {{ view: JobView, ended: boolean } | null}
 */
export function applyUpdate(current, update, now) {
  switch (update.update) {
    case 'job':
    case 'ended': {
      if (update.view.job_id !== current.job_id) return null;
      if (current.run_id !== null && update.view.run_id !== null && update.view.run_id !== current.run_id) return null;
      const view = { ...update.view, rows: update.view.rows.map((r) => stamped(r, now)) };
      return { view, ended: update.update === 'ended' };
    }
    case 'row': {
      // Bound to its run: a run of the history shown with the same
      // job id never takes another run's rows.
      if (update.job_id !== current.job_id || update.index >= current.rows.length) return null;
      if (current.run_id !== null && update.run_id !== null && update.run_id !== current.run_id) return null;
      const rows = current.rows.slice();
      rows[update.index] = stamped(update.row, now);
      return { view: { ...current, run_id: update.run_id ?? current.run_id, rows, totals: update.totals }, ended: false };
    }
    default:
      return null;
  }
}
