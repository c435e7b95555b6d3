//! The CLI's progress lines, drawn from the service's row updates (the
//! same view the app's page shows): a line when a mailbox starts, fails a
//! folder, retries or ends, and its progress at most every half second.

use std::time::{Duration, Instant};

use mailferry::human::human_bytes;
use mailferry::service::{JobState, RowState, RowView, Update};

/// What was printed of one row.
#[derive(Default, Clone)]
struct Seen {
    started: bool,
    folders: usize,
    retrying: Option<String>,
    progress_at: Option<Instant>,
    ended: bool,
}

/// Turns updates into lines.
#[derive(Default)]
pub struct Printer {
    named: bool,
    rows: Vec<Seen>,
}

/// Least time between two progress lines of one mailbox.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

impl Printer {
    pub fn lines(&mut self, u: &Update) -> Vec<String> {
        match u {
            Update::Job { view } => {
                let mut out = Vec::new();
                if !self.named && view.state != JobState::Starting {
                    self.named = true;
                    out.push(format!("Job {}: {} mailboxes", view.name, view.rows.len()));
                }
                out
            }
            Update::Row { index, row, .. } => {
                if self.rows.len() <= *index {
                    self.rows.resize(*index + 1, Seen::default());
                }
                row_lines(&mut self.rows[*index], row)
            }
            Update::Ended { .. } => Vec::new(),
        }
    }
}

fn row_lines(seen: &mut Seen, r: &RowView) -> Vec<String> {
    let mut out = Vec::new();
    let account = &r.account;
    if r.state != RowState::Pending && !seen.started {
        seen.started = true;
        out.push(format!("{account}: connecting"));
    }
    for f in r.folders.iter().skip(seen.folders) {
        if f.error.is_some() || f.failed > 0 {
            out.push(format!(
                "{account}: {}: {} migrated, {} failed{}",
                f.source,
                f.migrated,
                f.failed,
                f.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        } else if let Some(v) = f.verification.as_ref().filter(|v| !v.verified()) {
            out.push(format!("{account}: {}: {}", f.source, v.summary()));
        }
    }
    seen.folders = r.folders.len();
    if r.retrying.is_some() && r.retrying != seen.retrying {
        out.push(format!(
            "{account}: {}: retrying: {}",
            r.folder.as_deref().unwrap_or("connecting"),
            r.retrying.as_deref().unwrap_or_default()
        ));
    }
    seen.retrying = r.retrying.clone();
    match r.state {
        RowState::Pending => {}
        RowState::Running => {
            let now = Instant::now();
            let due = seen
                .progress_at
                .is_none_or(|t| now.duration_since(t) >= PROGRESS_EVERY);
            if due && r.messages_total > 0 {
                seen.progress_at = Some(now);
                out.push(format!(
                    "{account}: {}/{} messages, {}/{} ({})",
                    r.messages_done,
                    r.messages_total,
                    human_bytes(r.bytes_done),
                    human_bytes(r.bytes_total),
                    r.folder.as_deref().unwrap_or_default()
                ));
            }
        }
        RowState::Success | RowState::Partial | RowState::Failed if !seen.ended => {
            seen.ended = true;
            let word = match r.state {
                RowState::Success => "SUCCESS",
                RowState::Partial => "PARTIAL",
                _ => "FAILED",
            };
            out.push(format!(
                "{account}: {word} — {} migrated, {} skipped, {} failed{}",
                r.migrated,
                r.skipped,
                r.failed,
                r.error
                    .as_deref()
                    .map(|e| format!("\n  {e}"))
                    .unwrap_or_default()
            ));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry::outcome::FolderOutcome;

    fn update(row: &RowView) -> Update {
        Update::Row {
            job_id: 1,
            run_id: Some(1),
            index: 0,
            row: Box::new(row.clone()),
            totals: Default::default(),
        }
    }

    #[test]
    fn a_mailbox_prints_its_start_a_failed_folder_and_its_end_once() {
        let mut p = Printer::default();
        let mut row = RowView::pending("jane", "jane");
        assert!(p.lines(&update(&row)).is_empty());
        row.state = RowState::Running;
        row.messages_total = 10;
        row.messages_done = 3;
        row.folder = Some("INBOX".into());
        assert_eq!(
            p.lines(&update(&row)),
            ["jane: connecting", "jane: 3/10 messages, 0 B/0 B (INBOX)"]
        );
        // Progress again at once: held back.
        row.messages_done = 4;
        assert!(p.lines(&update(&row)).is_empty());
        row.folders.push(FolderOutcome {
            source: "Sent".into(),
            migrated: 2,
            failed: 1,
            error: Some("The server refused it.".into()),
            ..Default::default()
        });
        row.failed = 1;
        row.migrated = 2;
        row.state = RowState::Partial;
        assert_eq!(
            p.lines(&update(&row)),
            [
                "jane: Sent: 2 migrated, 1 failed: The server refused it.",
                "jane: PARTIAL — 2 migrated, 0 skipped, 1 failed"
            ]
        );
        assert!(p.lines(&update(&row)).is_empty());
    }
}
