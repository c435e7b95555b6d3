//! The job's log: what a reseller forwards to a customer.

use std::fmt::Write;

use crate::human::human_bytes;
use crate::outcome::{FolderOutcome, JobOutcome, Verdict};

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "OK  ",
        Verdict::Partial => "PART",
        Verdict::Failed => "FAIL",
    }
}

/// A job's name as part of a file name: letters, digits, `-` and `_` kept,
/// anything else (a path separator, a space) made `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The plain-text log of a run (or of a dry run: what it would copy).
pub fn render_log(job: &JobOutcome) -> String {
    match job.dry_run {
        true => render(
            job,
            "MailFerry dry run log (nothing was changed on the destination)",
        ),
        false => render(job, "MailFerry migration log"),
    }
}

/// "N migrated", or for a dry run "would copy N (size)".
fn moved(job: &JobOutcome, migrated: u64, (count, bytes): (u64, u64)) -> String {
    match job.dry_run {
        true => format!("would copy {count} ({})", human_bytes(bytes)),
        false => format!("{migrated} migrated"),
    }
}

/// The plain-text log of a verification pass run alone.
pub fn render_verification_log(job: &JobOutcome) -> String {
    render(job, "MailFerry verification log (nothing was copied)")
}

fn render(job: &JobOutcome, title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{title}");
    let _ = writeln!(s, "Job:         {}", job.name);
    let _ = writeln!(s, "Started:     {}", job.started_at);
    let _ = writeln!(s, "Finished:    {}", job.finished_at);
    let _ = writeln!(s, "Source:      {}", job.source);
    let _ = writeln!(s, "Destination: {}", job.destination);
    if !job.filters.is_empty() {
        let _ = writeln!(s, "Filters:     only {}", job.filters);
    }
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
            "== {}{} : {} — {}, {} skipped (already there), {} failed{}, {} in {:.1} s",
            m.source_user,
            target,
            v.word().to_uppercase(),
            moved(job, m.migrated(), m.would_copy()),
            m.skipped(),
            m.failed(),
            left_out(m.filtered()),
            human_bytes(m.bytes()),
            m.elapsed_ms as f64 / 1000.0
        );
        if let Some(e) = &m.error {
            let _ = writeln!(s, "   Stopped: {e}");
        }
        for n in &m.notes {
            let _ = writeln!(s, "   note: {n}");
        }
        for f in &m.folders {
            let dest = if f.destination == f.source {
                String::new()
            } else {
                format!(" -> {}", f.destination)
            };
            let _ = writeln!(
                s,
                "   [{}] {}{}: {}, {} skipped, {} failed{}",
                mark(f.verdict()),
                f.source,
                dest,
                moved(job, f.migrated, f.would_copy()),
                f.skipped,
                f.failed,
                left_out_why(f),
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
            for m in &f.would_copy {
                let _ = writeln!(
                    s,
                    "          would copy: folder {:?}, date {:?}, from {:?}, subject {:?}, {} (source id {})",
                    f.source,
                    m.date,
                    m.from,
                    m.subject,
                    human_bytes(m.size),
                    m.source_id
                );
            }
            for big in &f.oversized {
                let _ = writeln!(
                    s,
                    "          left out, larger than the job's size limit: date {:?}, from {:?}, subject {:?}, {}",
                    big.date,
                    big.from,
                    big.subject,
                    human_bytes(big.size)
                );
            }
            if let Some(v) = &f.verification {
                let _ = writeln!(s, "          {}", v.summary());
                for (what, list) in [("missing", &v.missing), ("extra copy", &v.extra)] {
                    for b in list {
                        let _ = writeln!(
                            s,
                            "          {what}: date {:?}, from {:?}, subject {:?} ({})",
                            b.date, b.from, b.subject, b.id
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(s);
    if job.dry_run {
        let (count, bytes) = job.would_copy();
        let _ = writeln!(
            s,
            "Summary: DRY RUN, nothing was changed on the destination ({}) — {} mailboxes; would copy {count} messages ({}); {} skipped (already there), {} failed{}.",
            job.verdict().word(),
            job.mailboxes.len(),
            human_bytes(bytes),
            job.skipped(),
            job.failed(),
            left_out(job.filtered()),
        );
        return s;
    }
    let _ = writeln!(
        s,
        "Summary: {} — {} mailboxes; {} messages migrated, {} skipped (already there), {} failed{}; {} copied.",
        job.verdict().word().to_uppercase(),
        job.mailboxes.len(),
        job.migrated(),
        job.skipped(),
        job.failed(),
        left_out(job.filtered()),
        human_bytes(job.bytes())
    );
    s
}

/// ", N left out by the job's filters", when any were.
fn left_out(n: u64) -> String {
    match n {
        0 => String::new(),
        n => format!(", {n} left out by the job's filters"),
    }
}

/// A folder's messages left out by the job's filters, and by which.
fn left_out_why(f: &FolderOutcome) -> String {
    let by_size = f.oversized.len() as u64;
    let by_date = f.filtered.saturating_sub(by_size);
    let mut why = Vec::new();
    if by_date > 0 {
        why.push(format!("{by_date} dated outside the job's dates"));
    }
    if by_size > 0 {
        why.push(format!("{by_size} larger than its size limit"));
    }
    match f.filtered {
        0 => String::new(),
        n => format!(", {n} left out by the job's filters ({})", why.join(", ")),
    }
}

/// One CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The log as CSV for a spreadsheet: a header, then one line per mailbox
/// (`folder` empty) followed by one line per folder of that mailbox.
pub fn render_csv(job: &JobOutcome) -> String {
    let mut s = String::from(
        "job,source_user,local_user,folder,destination_folder,status,migrated,skipped,failed,bytes,elapsed_s,error,error_codes,verification,filtered\r\n",
    );
    let mut line = |fields: &[String]| {
        let cols: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        s.push_str(&cols.join(","));
        s.push_str("\r\n");
    };
    for m in &job.mailboxes {
        line(&[
            job.name.clone(),
            m.source_user.clone(),
            m.local_user.clone(),
            String::new(),
            String::new(),
            m.verdict().word().to_string(),
            m.migrated().to_string(),
            m.skipped().to_string(),
            m.failed().to_string(),
            m.bytes().to_string(),
            format!("{:.1}", m.elapsed_ms as f64 / 1000.0),
            m.error.clone().unwrap_or_default(),
            m.error_code.clone().unwrap_or_default(),
            String::new(),
            m.filtered().to_string(),
        ]);
        for f in &m.folders {
            let mut problems: Vec<String> = f.error.iter().cloned().collect();
            problems.extend(
                f.failures
                    .iter()
                    .map(|x| format!("{} ({}, {}): {}", x.subject, x.from, x.date, x.reason)),
            );
            // The catalogue entries behind those problems, each once.
            let mut codes: Vec<&str> = f.error_code.iter().map(String::as_str).collect();
            for x in &f.failures {
                if !x.code.is_empty() && !codes.contains(&x.code.as_str()) {
                    codes.push(&x.code);
                }
            }
            line(&[
                job.name.clone(),
                m.source_user.clone(),
                m.local_user.clone(),
                f.source.clone(),
                f.destination.clone(),
                f.verdict().word().to_string(),
                f.migrated.to_string(),
                f.skipped.to_string(),
                f.failed.to_string(),
                f.bytes.to_string(),
                String::new(),
                problems.join("; "),
                codes.join(" "),
                f.verification
                    .as_ref()
                    .map(|v| v.summary())
                    .unwrap_or_default(),
                f.filtered.to_string(),
            ]);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{MailboxOutcome, OversizedMessage, Verification};

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
    }

    #[test]
    fn csv_has_a_line_per_mailbox_and_folder_and_quotes_commas() {
        let job = JobOutcome {
            name: "acme".into(),
            mailboxes: vec![MailboxOutcome {
                source_user: "jane".into(),
                local_user: "jane".into(),
                folders: vec![
                    FolderOutcome {
                        source: "INBOX".into(),
                        destination: "INBOX".into(),
                        migrated: 3,
                        verification: Some(Box::new(Verification {
                            source_messages: 3,
                            destination_messages: 3,
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                    FolderOutcome {
                        source: "Sent, old".into(),
                        destination: "Sent".into(),
                        error: Some("the server said \"no\"".into()),
                        error_code: Some("refused".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let csv = render_csv(&job);
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(lines[0].starts_with("job,source_user,local_user,folder"));
        assert!(lines[1].starts_with("acme,jane,jane,,,partial,3,0,0,"));
        assert_eq!(
            lines[2],
            "acme,jane,jane,INBOX,INBOX,success,3,0,0,0,,,,\"verified: all 3 source messages on the destination, none twice\",0"
        );
        assert!(lines[3].starts_with("acme,jane,jane,\"Sent, old\",Sent,failed,"));
        assert!(lines[3].ends_with(",\"the server said \"\"no\"\"\",refused,,0"));
    }

    #[test]
    fn messages_left_out_by_filters_are_counted_and_the_oversized_named_and_all_is_success() {
        let job = JobOutcome {
            name: "acme".into(),
            filters: "messages dated 2024-01-01 or later; no message larger than 25.0 MB".into(),
            mailboxes: vec![MailboxOutcome {
                source_user: "jane".into(),
                local_user: "jane".into(),
                folders: vec![FolderOutcome {
                    source: "INBOX".into(),
                    destination: "INBOX".into(),
                    migrated: 3,
                    filtered: 3,
                    filtered_bytes: 30_000_100,
                    oversized: vec![OversizedMessage {
                        source_id: "7".into(),
                        date: "Mon, 1 Jan 2024 10:00:00 +0000".into(),
                        from: "Bob <bob@example.test>".into(),
                        subject: "Holiday video".into(),
                        size: 30_000_000,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(job.verdict(), Verdict::Success);
        let log = render_log(&job);
        assert!(
            log.contains("Filters:     only messages dated 2024-01-01 or later; no message larger than 25.0 MB"),
            "{log}"
        );
        assert!(log.contains("== jane : SUCCESS — 3 migrated, 0 skipped (already there), 0 failed, 3 left out by the job's filters,"), "{log}");
        assert!(log.contains("[OK  ] INBOX: 3 migrated, 0 skipped, 0 failed, 3 left out by the job's filters (2 dated outside the job's dates, 1 larger than its size limit)"), "{log}");
        assert!(log.contains("left out, larger than the job's size limit: date \"Mon, 1 Jan 2024 10:00:00 +0000\", from \"Bob <bob@example.test>\", subject \"Holiday video\", 30.0 MB"), "{log}");
        assert!(
            log.contains("0 failed, 3 left out by the job's filters; "),
            "{log}"
        );
        assert!(render_csv(&job).contains("acme,jane,jane,INBOX,INBOX,success,3,0,0,0,,,,,3\r\n"));
        // Without filters, the log says nothing of them.
        let plain = render_log(&JobOutcome::default());
        assert!(!plain.contains("Filters:") && !plain.contains("left out"));
    }

    #[test]
    fn an_outcome_stored_before_filters_still_reads() {
        let old = r#"{"source":"INBOX","destination":"INBOX","migrated":1,"skipped":0,"failed":0,"bytes":5,"notes":[],"failures":[],"error":null}"#;
        let f: FolderOutcome = serde_json::from_str(old).unwrap();
        assert_eq!((f.migrated, f.filtered, f.filtered_bytes), (1, 0, 0));
        assert!(f.oversized.is_empty());
        let job: JobOutcome = serde_json::from_str(
            r#"{"name":"a","started_at":"","finished_at":"","source":"","destination":"","mailboxes":[]}"#,
        )
        .unwrap();
        assert_eq!(job.filters, "");
    }
}
