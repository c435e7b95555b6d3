//! The CLI's progress lines, drawn from the service's row updates (the
//! same view the app's page shows): a line when a mailbox starts, fails a
//! folder, retries or ends, and its progress at most every half second.

use std::time::{Duration, Instant};

use mailferry::human::human_bytes;
use mailferry::service::{JobKind, JobState, RowState, RowView, Update};

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
    /// The job is a dry run: rows say what would be copied.
    dry_run: bool,
}

/// Least time between two progress lines of one mailbox.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

impl Printer {
    pub fn lines(&mut self, u: &Update) -> Vec<String> {
        match u {
            Update::Job { view } => {
                let mut out = Vec::new();
                self.dry_run = view.kind == JobKind::DryRun;
                if !self.named && view.state != JobState::Starting {
                    self.named = true;
                    out.push(format!(
                        "Job {}: {} mailboxes{}",
                        view.name,
                        view.rows.len(),
                        match self.dry_run {
                            true => " (dry run: nothing is changed on the destination)",
                            false => "",
                        }
                    ));
                }
                out
            }
            Update::Row { index, row, .. } => {
                if self.rows.len() <= *index {
                    self.rows.resize(*index + 1, Seen::default());
                }
                row_lines(&mut self.rows[*index], row, self.dry_run)
            }
            Update::Ended { .. } => Vec::new(),
        }
    }
}

fn row_lines(seen: &mut Seen, r: &RowView, dry_run: bool) -> Vec<String> {
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
        if dry_run && !f.would_copy.is_empty() {
            let (count, bytes) = f.would_copy();
            out.push(format!(
                "{account}: {}: would copy {count} messages ({})",
                f.source,
                human_bytes(bytes)
            ));
        }
        // Large messages that stay behind by the job's rule are named: the
        // customer must hear which ones did not move.
        for big in &f.oversized {
            out.push(format!(
                "{account}: {}: left out, larger than the job's size limit: {:?} from {:?}, {}",
                f.source,
                big.subject,
                big.from,
                human_bytes(big.size)
            ));
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
            let filtered: u64 = r.folders.iter().map(|f| f.filtered).sum();
            let filtered = match filtered {
                0 => String::new(),
                n => format!(", {n} left out by the job's filters"),
            };
            let moved = match dry_run {
                true => {
                    let (count, bytes) = r
                        .folders
                        .iter()
                        .map(|f| f.would_copy())
                        .fold((0, 0), |(c, b), (c2, b2)| (c + c2, b + b2));
                    format!("would copy {count} ({})", human_bytes(bytes))
                }
                false => format!("{} migrated", r.migrated),
            };
            out.push(format!(
                "{account}: {word} — {moved}, {} skipped, {} failed{filtered}{}",
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

    #[test]
    fn messages_left_out_by_filters_are_counted_and_the_oversized_named() {
        let mut p = Printer::default();
        let mut row = RowView::pending("jane", "jane");
        row.state = RowState::Running;
        p.lines(&update(&row));
        row.folders.push(FolderOutcome {
            source: "INBOX".into(),
            migrated: 2,
            filtered: 3,
            oversized: vec![mailferry::outcome::OversizedMessage {
                subject: "Holiday video".into(),
                from: "bob@example.test".into(),
                size: 30_000_000,
                ..Default::default()
            }],
            ..Default::default()
        });
        row.migrated = 2;
        row.state = RowState::Success;
        assert_eq!(
            p.lines(&update(&row)),
            [
                "jane: INBOX: left out, larger than the job's size limit: \"Holiday video\" from \"bob@example.test\", 30.0 MB",
                "jane: SUCCESS — 2 migrated, 0 skipped, 0 failed, 3 left out by the job's filters"
            ]
        );
    }

    #[test]
    fn a_dry_run_says_what_it_would_copy() {
        let mut p = Printer {
            dry_run: true,
            ..Printer::default()
        };
        let mut row = RowView::pending("jane", "jane");
        row.state = RowState::Running;
        p.lines(&update(&row));
        let planned = |size| mailferry::outcome::PlannedMessage {
            size,
            ..Default::default()
        };
        row.folders.push(FolderOutcome {
            source: "INBOX".into(),
            skipped: 4,
            would_copy: vec![planned(1_500_000), planned(500_000)],
            ..Default::default()
        });
        row.skipped = 4;
        row.state = RowState::Success;
        assert_eq!(
            p.lines(&update(&row)),
            [
                "jane: INBOX: would copy 2 messages (2.0 MB)",
                "jane: SUCCESS — would copy 2 (2.0 MB), 4 skipped, 0 failed"
            ]
        );
    }
}
