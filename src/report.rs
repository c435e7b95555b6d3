//! The job's log: what a reseller forwards to a customer.

use std::fmt::Write;

use crate::outcome::{JobOutcome, Verdict};

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "OK  ",
        Verdict::Partial => "PART",
        Verdict::Failed => "FAIL",
    }
}

/// Human-readable bytes: 1.5 MB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The plain-text log of a run.
pub fn render_log(job: &JobOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "MailFerry migration log");
    let _ = writeln!(s, "Job:         {}", job.name);
    let _ = writeln!(s, "Started:     {}", job.started_at);
    let _ = writeln!(s, "Finished:    {}", job.finished_at);
    let _ = writeln!(s, "Source:      {}", job.source);
    let _ = writeln!(s, "Destination: {}", job.destination);
    let _ = writeln!(s, "Mailboxes:   {}", job.mailboxes.len());
    for m in &job.mailboxes {
        let v = m.verdict();
        let _ = writeln!(s);
        let target = if m.local_user == m.source_user {
            String::new()
        } else {
            format!(" -> {}", m.local_user)
        };
        let _ = writeln!(
            s,
            "== {}{} : {} — {} migrated, {} skipped (already there), {} failed, {} in {:.1} s",
            m.source_user,
            target,
            v.word().to_uppercase(),
            m.migrated(),
            m.skipped(),
            m.failed(),
            human_bytes(m.bytes()),
            m.elapsed_ms as f64 / 1000.0
        );
        if let Some(e) = &m.error {
            let _ = writeln!(s, "   Stopped: {e}");
        }
        for f in &m.folders {
            let dest = if f.destination == f.source {
                String::new()
            } else {
                format!(" -> {}", f.destination)
            };
            let _ = writeln!(
                s,
                "   [{}] {}{}: {} migrated, {} skipped, {} failed",
                mark(f.verdict()),
                f.source,
                dest,
                f.migrated,
                f.skipped,
                f.failed
            );
            for n in &f.notes {
                let _ = writeln!(s, "          note: {n}");
            }
            if let Some(e) = &f.error {
                let _ = writeln!(s, "          error: {e}");
            }
            for fail in &f.failures {
                let _ = writeln!(
                    s,
                    "          failed message: date {:?}, from {:?}, subject {:?}: {}",
                    fail.date, fail.from, fail.subject, fail.reason
                );
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Summary: {} — {} mailboxes; {} messages migrated, {} skipped (already there), {} failed; {} copied.",
        job.verdict().word().to_uppercase(),
        job.mailboxes.len(),
        job.migrated(),
        job.skipped(),
        job.failed(),
        human_bytes(job.bytes())
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FolderOutcome, MailboxOutcome};

    #[test]
    fn log_has_header_mailbox_blocks_folder_lines_and_summary() {
        let job = JobOutcome {
            name: "acme".into(),
            source: "old.example (IMAP4S)".into(),
            destination: "new.example (port 993)".into(),
            mailboxes: vec![MailboxOutcome {
                source_user: "jane".into(),
                local_user: "jane".into(),
                folders: vec![FolderOutcome {
                    source: "INBOX".into(),
                    destination: "INBOX".into(),
                    migrated: 3,
                    skipped: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let log = render_log(&job);
        assert!(log.contains("Job:         acme"));
        assert!(log.contains("== jane : SUCCESS — 3 migrated, 1 skipped"));
        assert!(log.contains("[OK  ] INBOX: 3 migrated, 1 skipped, 0 failed"));
        assert!(log.trim_end().ends_with("copied."));
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
