//! The report as text (the command line's output and the run's log, in
//! the job log's manner) and as CSV for a spreadsheet.

use std::fmt::Write;

use super::estimate::{human_duration, words};
use super::{FolderMapping, FolderPreflight, MailboxPreflight, PreflightReport, WarningKind};
use crate::human::human_bytes;

impl WarningKind {
    /// Its word, as the JSON has it.
    pub fn word(self) -> &'static str {
        match self {
            WarningKind::Unreachable => "unreachable",
            WarningKind::OverQuota => "over-quota",
            WarningKind::TooLarge => "too-large",
            WarningKind::FolderName => "folder-name",
            WarningKind::NoInternalDate => "no-internal-date",
            WarningKind::Duplicates => "duplicates",
        }
    }

    /// Its label in the text report (a word, never only a colour).
    fn label(self) -> &'static str {
        match self {
            WarningKind::Unreachable => "UNREACHABLE",
            WarningKind::OverQuota => "OVER QUOTA",
            WarningKind::TooLarge => "TOO LARGE",
            WarningKind::FolderName => "FOLDER NAME",
            WarningKind::NoInternalDate => "NO RECEIVED DATE",
            WarningKind::Duplicates => "DUPLICATES",
        }
    }
}

impl FolderMapping {
    /// Its word, as the JSON has it.
    pub fn word(self) -> &'static str {
        match self {
            FolderMapping::Existing => "existing",
            FolderMapping::Created => "created",
            FolderMapping::Skipped => "skipped",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            FolderMapping::Existing => "EXISTS",
            FolderMapping::Created => "CREATE",
            FolderMapping::Skipped => "SKIP  ",
        }
    }
}

/// `3 to copy (1.2 MB)`.
fn count(n: u64, what: &str, bytes: u64) -> String {
    format!("{n} {what} ({})", human_bytes(bytes))
}

fn totals(folders: &[FolderPreflight]) -> (u64, u64, u64, u64, u64, u64) {
    folders
        .iter()
        .filter(|f| f.mapping != FolderMapping::Skipped)
        .fold((0, 0, 0, 0, 0, 0), |t, f| {
            (
                t.0 + f.messages,
                t.1 + f.bytes,
                t.2 + f.present,
                t.3 + f.present_bytes,
                t.4 + f.to_copy,
                t.5 + f.to_copy_bytes,
            )
        })
}

pub(super) fn render(r: &PreflightReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "MailFerry pre-flight report (nothing was copied or changed)"
    );
    let _ = writeln!(s, "Job:         {}", r.job);
    let _ = writeln!(
        s,
        "Made:        {} (in {})",
        r.created_at,
        human_duration(r.elapsed_ms)
    );
    let _ = writeln!(s, "Source:      {}", r.source);
    let _ = writeln!(s, "Destination: {}", r.destination);
    let _ = writeln!(s, "Mailboxes:   {}", r.mailboxes.len());
    match &r.estimate {
        Some(e) => {
            let _ = writeln!(s, "Estimate:    {}", words(e));
            let _ = writeln!(s, "             {}", e.basis);
        }
        None => {
            let _ = writeln!(
                s,
                "Estimate:    none (no mailbox was checked to the end, or the check was stopped)"
            );
        }
    }
    let _ = writeln!(s);
    match r.warnings.len() {
        0 => {
            let _ = writeln!(s, "Warnings:    none");
        }
        n => {
            let _ = writeln!(
                s,
                "Warnings ({n}, most serious first; each needs a decision before the job starts):"
            );
            for w in &r.warnings {
                let whom = match (&w.account, &w.folder) {
                    (Some(a), Some(f)) => format!("{a}, folder {f:?}: "),
                    (Some(a), None) => format!("{a}: "),
                    (None, Some(f)) => format!("folder {f:?}: "),
                    (None, None) => String::new(),
                };
                let _ = writeln!(s, "  [{}] {whom}{}", w.kind.label(), w.words);
            }
        }
    }
    for m in &r.mailboxes {
        let _ = writeln!(s);
        mailbox(&mut s, m);
    }
    let _ = writeln!(s);
    let all: Vec<FolderPreflight> = r
        .mailboxes
        .iter()
        .flat_map(|m| m.folders.iter().cloned())
        .collect();
    let (messages, bytes, present, present_bytes, to_copy, to_copy_bytes) = totals(&all);
    let unreachable = r.mailboxes.iter().filter(|m| m.error.is_some()).count();
    let _ = writeln!(
        s,
        "Summary: {} mailboxes{}; {} on the source, {}, {}; {} warning{}{}.",
        r.mailboxes.len(),
        match unreachable {
            0 => String::new(),
            n => format!(" ({n} could not be checked)"),
        },
        count(messages, "messages", bytes),
        count(present, "already on the destination", present_bytes),
        count(to_copy, "to copy", to_copy_bytes),
        r.warnings.len(),
        if r.warnings.len() == 1 { "" } else { "s" },
        match &r.estimate {
            Some(e) => format!("; the copy would take {}", words(e)),
            None => String::new(),
        }
    );
    s
}

fn mailbox(s: &mut String, m: &MailboxPreflight) {
    let target = match m.local_user == m.source_user {
        true => String::new(),
        false => format!(" -> {}", m.local_user),
    };
    let (messages, bytes, present, present_bytes, to_copy, to_copy_bytes) = totals(&m.folders);
    let _ = writeln!(
        s,
        "== {}{target} : {}, {}, {}; checked in {}",
        m.source_user,
        count(messages, "messages", bytes),
        count(present, "already there", present_bytes),
        count(to_copy, "to copy", to_copy_bytes),
        human_duration(m.elapsed_ms)
    );
    if let Some(e) = &m.error {
        let _ = writeln!(s, "   Could not be checked: {e}");
    }
    match m.quota {
        Some(q) => {
            let after = q.used_bytes + to_copy_bytes;
            let _ = writeln!(
                s,
                "   Quota: {} used of {}; after the copy about {} ({}){}",
                human_bytes(q.used_bytes),
                human_bytes(q.limit_bytes),
                human_bytes(after),
                percent(after, q.limit_bytes),
                if after > q.limit_bytes {
                    " — OVER QUOTA"
                } else {
                    ""
                }
            );
        }
        None if m.error.is_none() => {
            let _ = writeln!(s, "   Quota: the destination sets none (or does not say)");
        }
        None => {}
    }
    if let Some(limit) = m.append_limit {
        let _ = writeln!(
            s,
            "   Largest message the destination accepts: {}",
            human_bytes(limit)
        );
    }
    for n in &m.notes {
        let _ = writeln!(s, "   note: {n}");
    }
    for f in &m.folders {
        folder(s, f);
    }
}

fn percent(part: u64, whole: u64) -> String {
    match whole {
        0 => "-".into(),
        w => format!("{:.0}%", part as f64 * 100.0 / w as f64),
    }
}

fn folder(s: &mut String, f: &FolderPreflight) {
    let mark = f.mapping.mark();
    if f.mapping == FolderMapping::Skipped {
        let _ = writeln!(
            s,
            "   [{mark}] {}: {}, skipped by the job's folder rules",
            f.source,
            count(f.messages, "messages", f.bytes)
        );
        return;
    }
    let dest = match f.destination == f.source {
        true => String::new(),
        false => format!(" -> {}", f.destination),
    };
    let mut line = format!(
        "   [{mark}] {}{dest}: {}, {}, {}",
        f.source,
        count(f.messages, "messages", f.bytes),
        count(f.present, "already there", f.present_bytes),
        count(f.to_copy, "to copy", f.to_copy_bytes),
    );
    if f.filtered > 0 {
        let _ = write!(
            line,
            ", {}",
            count(
                f.filtered,
                "left out by the job's filters",
                f.filtered_bytes
            )
        );
    }
    if f.duplicates > 0 {
        let _ = write!(
            line,
            ", {} duplicate{}",
            f.duplicates,
            plural_s(f.duplicates)
        );
    }
    let _ = writeln!(s, "{line}");
    for n in &f.notes {
        let _ = writeln!(s, "            note: {n}");
    }
    if let Some(e) = &f.error {
        let _ = writeln!(s, "            error: {e}");
    }
    for m in &f.too_large {
        let _ = writeln!(
            s,
            "            too large for the destination: date {:?}, from {:?}, subject {:?}, {} (source id {})",
            m.date,
            m.from,
            m.subject,
            human_bytes(m.size),
            m.source_id
        );
    }
    for m in &f.oversized {
        let _ = writeln!(
            s,
            "            left out, larger than the job's size limit: date {:?}, from {:?}, subject {:?}, {}",
            m.date,
            m.from,
            m.subject,
            human_bytes(m.size)
        );
    }
}

fn plural_s(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

const HEADER: [&str; 18] = [
    "row",
    "mailbox",
    "local_user",
    "source_folder",
    "destination_folder",
    "mapping",
    "messages",
    "bytes",
    "already_there",
    "bytes_already_there",
    "to_copy",
    "bytes_to_copy",
    "left_out_by_filters",
    "duplicates",
    "notes",
    "date",
    "from",
    "subject",
];

/// One CSV row: its kind and the columns after it, by name (the rest
/// blank).
fn row(kind: &str, m: Option<&MailboxPreflight>, cols: &[(&str, String)]) -> Vec<String> {
    let mut out = vec![String::new(); HEADER.len()];
    out[0] = kind.to_string();
    if let Some(m) = m {
        out[1] = m.source_user.clone();
        out[2] = m.local_user.clone();
    }
    for (name, value) in cols {
        if let Some(i) = HEADER.iter().position(|h| h == name) {
            out[i] = value.clone();
        }
    }
    out
}

pub(super) fn csv(r: &PreflightReport) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for m in &r.mailboxes {
        for f in &m.folders {
            let mut notes = f.notes.clone();
            notes.extend(f.error.iter().map(|e| format!("error: {e}")));
            rows.push(row(
                "folder",
                Some(m),
                &[
                    ("source_folder", f.source.clone()),
                    ("destination_folder", f.destination.clone()),
                    ("mapping", f.mapping.word().into()),
                    ("messages", f.messages.to_string()),
                    ("bytes", f.bytes.to_string()),
                    ("already_there", f.present.to_string()),
                    ("bytes_already_there", f.present_bytes.to_string()),
                    ("to_copy", f.to_copy.to_string()),
                    ("bytes_to_copy", f.to_copy_bytes.to_string()),
                    ("left_out_by_filters", f.filtered.to_string()),
                    ("duplicates", f.duplicates.to_string()),
                    ("notes", notes.join("\n")),
                ],
            ));
        }
        if let Some(e) = &m.error {
            rows.push(row("error", Some(m), &[("notes", e.clone())]));
        }
        if let Some(q) = m.quota {
            let adds: u64 = m.folders.iter().map(|f| f.to_copy_bytes).sum();
            rows.push(row(
                "quota",
                Some(m),
                &[
                    ("bytes", q.limit_bytes.to_string()),
                    ("bytes_already_there", q.used_bytes.to_string()),
                    ("bytes_to_copy", adds.to_string()),
                    (
                        "notes",
                        format!(
                            "quota {} (bytes: the limit; already there: used; to copy: what the job adds)",
                            human_bytes(q.limit_bytes)
                        ),
                    ),
                ],
            ));
        }
        for f in &m.folders {
            let big = f.too_large.iter().map(|b| {
                (
                    "too-large",
                    b.date.clone(),
                    b.from.clone(),
                    b.subject.clone(),
                    b.size,
                    format!(
                        "larger than the destination accepts ({})",
                        human_bytes(m.append_limit.unwrap_or(0))
                    ),
                )
            });
            let left = f.oversized.iter().map(|b| {
                (
                    "left-out-for-size",
                    b.date.clone(),
                    b.from.clone(),
                    b.subject.clone(),
                    b.size,
                    "larger than the job's size limit: left out".to_string(),
                )
            });
            for (kind, date, from, subject, size, why) in big.chain(left) {
                rows.push(row(
                    kind,
                    Some(m),
                    &[
                        ("source_folder", f.source.clone()),
                        ("destination_folder", f.destination.clone()),
                        ("bytes", size.to_string()),
                        ("notes", why),
                        ("date", date),
                        ("from", from),
                        ("subject", subject),
                    ],
                ));
            }
        }
        for w in r
            .warnings
            .iter()
            .filter(|w| w.account.as_deref() == Some(m.source_user.as_str()))
        {
            rows.push(row(
                "warning",
                Some(m),
                &[
                    ("source_folder", w.folder.clone().unwrap_or_default()),
                    ("notes", format!("{}: {}", w.kind.word(), w.words)),
                ],
            ));
        }
    }
    for w in r.warnings.iter().filter(|w| w.account.is_none()) {
        rows.push(row(
            "warning",
            None,
            &[
                ("source_folder", w.folder.clone().unwrap_or_default()),
                ("notes", format!("{}: {}", w.kind.word(), w.words)),
            ],
        ));
    }
    if let Some(e) = &r.estimate {
        rows.push(row(
            "estimate",
            None,
            &[("notes", format!("{}. {}", words(e), e.basis))],
        ));
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a row that could not be written would
    // be missing, never garbled.
    let _ = w.write_record(HEADER);
    for r in &rows {
        let _ = w.write_record(r);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::{Estimate, PreflightWarning, QuotaUse};
    use super::*;
    use crate::outcome::PlannedMessage;

    fn report() -> PreflightReport {
        PreflightReport {
            job: "acme".into(),
            source: "old.example (IMAP4S)".into(),
            destination: "new.example (port 993)".into(),
            created_at: "2026-11-30 10:00:00 +0000".into(),
            mailboxes: vec![MailboxPreflight {
                source_user: "jane".into(),
                local_user: "jane.doe".into(),
                folders: vec![
                    FolderPreflight {
                        source: "INBOX".into(),
                        destination: "INBOX".into(),
                        mapping: FolderMapping::Existing,
                        notes: vec![],
                        messages: 5,
                        bytes: 5000,
                        present: 2,
                        present_bytes: 2000,
                        to_copy: 3,
                        to_copy_bytes: 3000,
                        filtered: 0,
                        filtered_bytes: 0,
                        duplicates: 1,
                        error: None,
                        too_large: vec![PlannedMessage {
                            source_id: "9".into(),
                            date: "Mon, 1 Jun 2020 10:00:00 +0000".into(),
                            from: "Bob \"the builder\" <bob@example.test>".into(),
                            subject: "Plans, drawings\r\nand more".into(),
                            size: 2500,
                        }],
                        oversized: vec![],
                    },
                    FolderPreflight {
                        source: "Sent, old \"2019\"".into(),
                        destination: "Sent Items".into(),
                        mapping: FolderMapping::Created,
                        notes: vec![
                            "Sent is the source's Sent folder;\nit goes to \"Sent Items\".".into(),
                        ],
                        messages: 1,
                        bytes: 100,
                        present: 0,
                        present_bytes: 0,
                        to_copy: 1,
                        to_copy_bytes: 100,
                        filtered: 0,
                        filtered_bytes: 0,
                        duplicates: 0,
                        error: None,
                        too_large: vec![],
                        oversized: vec![],
                    },
                ],
                quota: Some(QuotaUse {
                    used_bytes: 1000,
                    limit_bytes: 3500,
                }),
                append_limit: Some(2000),
                elapsed_ms: 1200,
                ..Default::default()
            }],
            estimate: Some(Estimate {
                low_seconds: 1,
                high_seconds: 3,
                basis: "Measured: a lot.".into(),
                low_ms: 1200,
                high_ms: 2600,
            }),
            warnings: vec![PreflightWarning {
                kind: WarningKind::OverQuota,
                account: Some("jane".into()),
                folder: None,
                words: "Over by 600 B, say \"what to do\".".into(),
            }],
            elapsed_ms: 3000,
        }
    }

    #[test]
    fn the_csv_quotes_as_rfc_4180_says_and_reads_back() {
        let text = csv(&report());
        assert!(text.starts_with("row,mailbox,local_user,source_folder,destination_folder,mapping,messages,bytes,already_there,bytes_already_there,to_copy,bytes_to_copy,left_out_by_filters,duplicates,notes,date,from,subject\r\n"), "{text}");
        assert!(
            text.contains(
                "\r\nfolder,jane,jane.doe,INBOX,INBOX,existing,5,5000,2,2000,3,3000,0,1,,,,\r\n"
            ),
            "{text}"
        );
        // Commas, quotes and line breaks inside a field: quoted, quotes doubled.
        assert!(text.contains("\"Sent, old \"\"2019\"\"\""), "{text}");
        assert!(
            text.contains("\"Sent is the source's Sent folder;\nit goes to \"\"Sent Items\"\".\""),
            "{text}"
        );
        let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .collect::<Result<_, _>>()
            .unwrap();
        let kinds: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(
            kinds,
            [
                "folder",
                "folder",
                "quota",
                "too-large",
                "warning",
                "estimate"
            ]
        );
        assert!(rows.iter().all(|r| r.len() == HEADER.len()));
        assert_eq!(&rows[1][3], "Sent, old \"2019\"");
        assert_eq!(&rows[2][7], "3500");
        assert_eq!(&rows[3][17], "Plans, drawings\r\nand more");
        assert_eq!(&rows[3][16], "Bob \"the builder\" <bob@example.test>");
        assert_eq!(
            &rows[4][14],
            "over-quota: Over by 600 B, say \"what to do\"."
        );
        assert!(
            rows[5][14].starts_with("1 s to 3 s. Measured"),
            "{:?}",
            &rows[5]
        );
    }

    #[test]
    fn the_text_reads_like_the_job_log() {
        let text = render(&report());
        for line in [
            "MailFerry pre-flight report (nothing was copied or changed)\n",
            "Job:         acme\n",
            "Estimate:    1 s to 3 s\n",
            "Warnings (1, most serious first; each needs a decision before the job starts):\n",
            "  [OVER QUOTA] jane: Over by 600 B, say \"what to do\".\n",
            "== jane -> jane.doe : 6 messages (5.1 KB), 2 already there (2.0 KB), 4 to copy (3.1 KB); checked in 1 s\n",
            "   Quota: 1.0 KB used of 3.5 KB; after the copy about 4.1 KB (117%) — OVER QUOTA\n",
            "   Largest message the destination accepts: 2.0 KB\n",
            "   [EXISTS] INBOX: 5 messages (5.0 KB), 2 already there (2.0 KB), 3 to copy (3.0 KB), 1 duplicate\n",
            "   [CREATE] Sent, old \"2019\" -> Sent Items: 1 messages (100 B)",
            "            too large for the destination: date \"Mon, 1 Jun 2020 10:00:00 +0000\"",
            "Summary: 1 mailboxes; 6 messages (5.1 KB) on the source, 2 already on the destination (2.0 KB), 4 to copy (3.1 KB); 1 warning; the copy would take 1 s to 3 s.\n",
        ] {
            assert!(text.contains(line), "{line}\nnot in\n{text}");
        }
    }
}
