//! The report put together: each mailbox from its dry-run outcome and
//! what the dry run found for the report ([`super::findings`]), the work
//! the estimate weighs, and the warnings.

use super::estimate::Work;
use super::findings::MailboxFacts;
use super::probe::SampleFolder;
use super::{
    FolderMapping, FolderPreflight, MailboxPreflight, PreflightWarning, QuotaUse, WarningKind,
};
use crate::copy::mapping::HOLDS_DELIMITER;
use crate::copy::Options;
use crate::human::human_bytes;
use crate::outcome::{FolderOutcome, MailboxOutcome};

/// One mailbox of the report.
pub(crate) fn mailbox(m: &MailboxOutcome, facts: &MailboxFacts) -> MailboxPreflight {
    let limit = facts.append_limit;
    let mut folders: Vec<FolderPreflight> =
        m.folders.iter().map(|f| folder(f, facts, limit)).collect();
    folders.extend(facts.skipped.iter().map(|(name, size)| FolderPreflight {
        source: name.clone(),
        destination: String::new(),
        mapping: FolderMapping::Skipped,
        notes: vec!["Left out by the job's folder rules ([folders] skip).".into()],
        messages: size.map_or(0, |s| s.messages),
        bytes: size.and_then(|s| s.bytes).unwrap_or(0),
        present: 0,
        present_bytes: 0,
        to_copy: 0,
        to_copy_bytes: 0,
        filtered: 0,
        filtered_bytes: 0,
        duplicates: 0,
        error: None,
        too_large: Vec::new(),
        oversized: Vec::new(),
    }));
    // The dry run's notes on skipped folders are the Skipped rows now.
    let skipped_notes: Vec<String> = facts
        .skipped
        .iter()
        .map(|(name, _)| {
            format!("Dry run: the source folder {name:?} is skipped by the job's folder rules.")
        })
        .collect();
    let quota = facts
        .quota
        .iter()
        .filter(|q| q.limit_bytes > 0)
        .min_by_key(|q| q.limit_bytes.saturating_sub(q.used_bytes))
        .map(|q| QuotaUse {
            used_bytes: q.used_bytes,
            limit_bytes: q.limit_bytes,
        });
    MailboxPreflight {
        source_user: m.source_user.clone(),
        local_user: m.local_user.clone(),
        error: m.error.clone(),
        error_code: m.error_code.clone(),
        too_large: folders.iter().flat_map(|f| f.too_large.clone()).collect(),
        folders,
        quota,
        append_limit: limit,
        elapsed_ms: m.elapsed_ms,
        notes: m
            .notes
            .iter()
            .filter(|n| !skipped_notes.contains(n))
            .filter_map(|n| report_note(n))
            .collect(),
    }
}

/// A dry run's note as the report says it. Where a folder goes is its
/// row's destination and mapping already: of the dry run's words on it
/// only the parent folders a copy would create remain. Other notes lose
/// their "Dry run:" (the whole report is one).
fn report_note(note: &str) -> Option<String> {
    let Some(rest) = note.strip_prefix("Dry run: ") else {
        return Some(note.to_string());
    };
    if rest.starts_with("goes into ") || rest.starts_with("is mapped to ") {
        return rest
            .split_once(", with its ")
            .map(|(_, parents)| format!("A copy would also create its {parents}"));
    }
    let mut chars = rest.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
}

fn folder(f: &FolderOutcome, facts: &MailboxFacts, limit: Option<u64>) -> FolderPreflight {
    let found = facts.folders.get(&f.source);
    let (to_copy, to_copy_bytes) = f.would_copy();
    // The census counts every message; without it (the folder failed
    // before it was counted) STATUS's figures, or what the dry run saw.
    let (messages, bytes, duplicates) =
        match (found.and_then(|x| x.census), found.and_then(|x| x.expected)) {
            (Some(c), _) => (c.messages, c.bytes, c.duplicates),
            (None, Some(e)) => (e.messages, e.bytes.unwrap_or(0), 0),
            (None, None) => (
                f.skipped + to_copy + f.filtered,
                to_copy_bytes + f.filtered_bytes,
                0,
            ),
        };
    FolderPreflight {
        source: f.source.clone(),
        destination: f.destination.clone(),
        mapping: match found.is_none_or(|x| x.exists) {
            true => FolderMapping::Existing,
            false => FolderMapping::Created,
        },
        notes: f.notes.iter().filter_map(|n| report_note(n)).collect(),
        messages,
        bytes,
        present: f.skipped,
        // What is there is what the source holds less what it would copy
        // and what the filters leave out (sizes as the source gives them).
        present_bytes: match f.skipped {
            0 => 0,
            _ => bytes.saturating_sub(to_copy_bytes + f.filtered_bytes),
        },
        to_copy,
        to_copy_bytes,
        filtered: f.filtered,
        filtered_bytes: f.filtered_bytes,
        duplicates,
        error: f.error.clone(),
        too_large: f
            .would_copy
            .iter()
            .filter(|m| limit.is_some_and(|l| m.size > l))
            .cloned()
            .collect(),
        oversized: f.oversized.clone(),
    }
}

/// What a copy of the mailbox would do, for the estimate.
pub(crate) fn work(m: &MailboxOutcome, facts: &MailboxFacts, opts: &Options) -> Work {
    let mut w = Work {
        checks: std::time::Duration::from_millis(m.elapsed_ms).saturating_sub(facts.extra),
        creates: facts.creates,
        ..Work::default()
    };
    for f in &m.folders {
        let (messages, bytes) = f.would_copy();
        if messages == 0 {
            continue;
        }
        w.messages += messages;
        w.bytes += bytes;
        w.busy_folders += 1;
        w.batches += bytes
            .div_ceil(opts.batch_bytes())
            .max(messages.div_ceil(opts.batch_messages.max(1) as u64));
    }
    w
}

/// The mailbox's folder with the most bytes to copy, to sample.
pub(crate) fn sample_folder(m: &MailboxOutcome, facts: &MailboxFacts) -> Option<SampleFolder> {
    let f = m
        .folders
        .iter()
        .filter(|f| !f.would_copy.is_empty())
        .max_by_key(|f| f.would_copy().1)?;
    let found = facts.folders.get(&f.source)?;
    Some(SampleFolder {
        raw: found.raw.clone(),
        over_pop3: found.over_pop3,
        messages: f
            .would_copy
            .iter()
            .map(|p| (p.source_id.clone(), p.size))
            .collect(),
    })
}

fn plural(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// What needs a decision before the job starts, most serious first.
/// `pop3_inbox`: the job reads the Inbox over POP3.
pub(crate) fn warnings(mailboxes: &[MailboxPreflight], pop3_inbox: bool) -> Vec<PreflightWarning> {
    let mut out = Vec::new();
    let mut warn = |kind, account: &str, folder: Option<&str>, words: String| {
        out.push(PreflightWarning {
            kind,
            account: (!account.is_empty()).then(|| account.to_string()),
            folder: folder.map(str::to_string),
            words,
        })
    };
    let (mut pop3_mailboxes, mut pop3_messages) = (0u64, 0u64);
    for m in mailboxes {
        let account = m.source_user.as_str();
        // A mailbox the user stopped the check in is not unreachable.
        let stopped = m.error_code.as_deref() == Some("cancelled");
        if let (Some(e), false) = (&m.error, stopped) {
            warn(WarningKind::Unreachable, account, None, e.clone());
        }
        let adds: u64 = m.folders.iter().map(|f| f.to_copy_bytes).sum();
        if let Some(q) = m.quota {
            let after = q.used_bytes.saturating_add(adds);
            if after > q.limit_bytes {
                warn(
                    WarningKind::OverQuota,
                    account,
                    None,
                    format!(
                        "The destination mailbox {} would go over its quota by about {}: it uses {} of {}, and the job would add {}. Ask the new host to raise the quota to at least {}, or copy less (leave folders out with [folders] skip, or older mail with [filters] since), then check again; as it is, the copy stops this mailbox once it is full.",
                        m.local_user,
                        human_bytes(after - q.limit_bytes),
                        human_bytes(q.used_bytes),
                        human_bytes(q.limit_bytes),
                        human_bytes(adds),
                        human_bytes(after),
                    ),
                );
            }
        }
        if let (Some(limit), false) = (m.append_limit, m.too_large.is_empty()) {
            let n = m.too_large.len() as u64;
            warn(
                WarningKind::TooLarge,
                account,
                None,
                format!(
                    "{} {} larger than the destination accepts ({}, its APPENDLIMIT): the copy would list {} as failed. The report names {}; ask the new host to raise the limit, or leave such mail out with [filters] max_message_mb.",
                    plural(n, "message", "messages"),
                    if n == 1 { "is" } else { "are" },
                    human_bytes(limit),
                    if n == 1 { "it" } else { "them" },
                    if n == 1 { "it" } else { "each" },
                ),
            );
        }
        for f in &m.folders {
            if f.notes.iter().any(|n| n.contains(HOLDS_DELIMITER)) {
                warn(
                    WarningKind::FolderName,
                    account,
                    Some(&f.source),
                    format!(
                        "The folder name {:?} holds a character that separates folders on the destination: it would be copied into {:?} instead. Rename it on the source first if another name suits better.",
                        f.source, f.destination
                    ),
                );
            }
        }
        let inbox = m
            .folders
            .iter()
            .find(|f| f.source.eq_ignore_ascii_case("INBOX") && f.messages > 0);
        if let (true, Some(inbox)) = (pop3_inbox, inbox) {
            pop3_mailboxes += 1;
            pop3_messages += inbox.messages;
        }
        for f in m.folders.iter().filter(|f| f.duplicates > 0) {
            let n = f.duplicates;
            warn(
                WarningKind::Duplicates,
                account,
                Some(&f.source),
                format!(
                    "{} in {:?} {} like another of the same folder (the same size, Message-ID, date, sender, recipients and subject). The copy keeps every one, as many times as the source has it (none is merged into another); delete the duplicates on the source first if the destination should not have them.",
                    plural(n, "message", "messages"),
                    f.source,
                    if n == 1 { "looks exactly" } else { "look exactly" },
                ),
            );
        }
    }
    if pop3_mailboxes > 0 {
        warn(
            WarningKind::NoInternalDate,
            "",
            Some("INBOX"),
            format!(
                "The source is read over POP3, which keeps no received date: the {} in the Inbox of {} would be filed on the destination under the date of each one's newest Received header, else its Date header, else the time of the copy. A mail program that sorts by received date shows those dates.",
                plural(pop3_messages, "message", "messages"),
                plural(pop3_mailboxes, "mailbox", "mailboxes"),
            ),
        );
    }
    out.sort_by_key(|w| rank(w.kind));
    out
}

/// Most serious first.
fn rank(kind: WarningKind) -> u8 {
    match kind {
        WarningKind::Unreachable => 0,
        WarningKind::OverQuota => 1,
        WarningKind::TooLarge => 2,
        WarningKind::FolderName => 3,
        WarningKind::NoInternalDate => 4,
        WarningKind::Duplicates => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::super::findings::{Census, FolderFacts};
    use super::*;
    use crate::imap::Quota;
    use crate::outcome::PlannedMessage;

    fn planned(id: &str, size: u64) -> PlannedMessage {
        PlannedMessage {
            source_id: id.into(),
            subject: format!("message {id}"),
            size,
            ..Default::default()
        }
    }

    fn outcome() -> (MailboxOutcome, MailboxFacts) {
        let m = MailboxOutcome {
            source_user: "jane".into(),
            local_user: "jane".into(),
            elapsed_ms: 900,
            folders: vec![
                FolderOutcome {
                    source: "INBOX".into(),
                    destination: "INBOX".into(),
                    skipped: 2,
                    filtered: 1,
                    filtered_bytes: 50,
                    would_copy: vec![planned("7", 100), planned("8", 5000)],
                    ..Default::default()
                },
                FolderOutcome {
                    source: "A.B".into(),
                    destination: "A_B".into(),
                    notes: vec![format!(
                        "The name \"A.B\" holds '.', {HOLDS_DELIMITER}; it was renamed to \"A_B\"."
                    )],
                    ..Default::default()
                },
            ],
            notes: vec![
                "Dry run: the source folder \"Junk\" is skipped by the job's folder rules.".into(),
            ],
            ..Default::default()
        };
        let mut facts = MailboxFacts {
            quota: vec![Quota {
                root: "User quota".into(),
                used_bytes: 1000,
                limit_bytes: 5000,
                messages: None,
            }],
            append_limit: Some(4000),
            skipped: vec![("Junk".into(), None)],
            creates: 1,
            extra: std::time::Duration::from_millis(100),
            ..Default::default()
        };
        facts.folders.insert(
            "INBOX".into(),
            FolderFacts {
                raw: "INBOX".into(),
                exists: true,
                census: Some(Census {
                    messages: 5,
                    bytes: 5450,
                    duplicates: 1,
                    keyed: true,
                }),
                ..Default::default()
            },
        );
        facts.folders.insert(
            "A.B".into(),
            FolderFacts {
                raw: "A.B".into(),
                exists: false,
                ..Default::default()
            },
        );
        (m, facts)
    }

    #[test]
    fn a_folder_adds_up_from_the_census_and_the_dry_run() {
        let (m, facts) = outcome();
        let r = mailbox(&m, &facts);
        let inbox = &r.folders[0];
        assert_eq!(
            (
                inbox.messages,
                inbox.bytes,
                inbox.present,
                inbox.present_bytes
            ),
            (5, 5450, 2, 300)
        );
        assert_eq!((inbox.to_copy, inbox.to_copy_bytes), (2, 5100));
        assert_eq!(inbox.mapping, FolderMapping::Existing);
        assert_eq!(r.folders[1].mapping, FolderMapping::Created);
        assert_eq!(r.folders[2].mapping, FolderMapping::Skipped);
        assert_eq!(r.folders[2].source, "Junk");
        assert_eq!(r.too_large.len(), 1);
        assert_eq!(inbox.too_large[0].source_id, "8");
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(
            r.quota,
            Some(QuotaUse {
                used_bytes: 1000,
                limit_bytes: 5000
            })
        );
        let w = work(&m, &facts, &Options::default());
        assert_eq!(
            (w.messages, w.bytes, w.busy_folders, w.batches, w.creates),
            (2, 5100, 1, 1, 1)
        );
        assert_eq!(w.checks, std::time::Duration::from_millis(800));
        let s = sample_folder(&m, &facts).unwrap();
        assert_eq!(s.messages, vec![("7".into(), 100), ("8".into(), 5000)]);
    }

    #[test]
    fn the_dry_runs_notes_say_only_what_the_row_does_not() {
        assert_eq!(
            report_note("Dry run: goes into the destination folder \"INBOX\", which exists."),
            None
        );
        assert_eq!(
            report_note("Dry run: is mapped to the destination folder \"Archive/Sent\", which would be created, with its parent folder \"Archive\".").as_deref(),
            Some("A copy would also create its parent folder \"Archive\".")
        );
        assert_eq!(
            report_note("Dry run: the destination folder \"Projects\" would be created.")
                .as_deref(),
            Some("The destination folder \"Projects\" would be created.")
        );
        assert_eq!(report_note("A flag.").as_deref(), Some("A flag."));
    }

    #[test]
    fn warnings_come_most_serious_first_and_say_what_to_do() {
        let (m, facts) = outcome();
        let mut r = mailbox(&m, &facts);
        let down = MailboxPreflight {
            source_user: "bob".into(),
            error: Some("Could not log in to old.example as bob.".into()),
            ..Default::default()
        };
        r.folders[0].messages = 5;
        let w = warnings(&[r, down], true);
        let kinds: Vec<WarningKind> = w.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                WarningKind::Unreachable,
                WarningKind::OverQuota,
                WarningKind::TooLarge,
                WarningKind::FolderName,
                WarningKind::NoInternalDate,
                WarningKind::Duplicates,
            ]
        );
        assert_eq!(w[0].account.as_deref(), Some("bob"));
        assert_eq!(w[0].words, "Could not log in to old.example as bob.");
        assert!(w[1].words.starts_with("The destination mailbox jane would go over its quota by about 1.1 KB: it uses 1.0 KB of 5.0 KB, and the job would add 5.1 KB. Ask the new host to raise the quota to at least 6.1 KB"), "{}", w[1].words);
        assert!(
            w[2].words
                .starts_with("1 message is larger than the destination accepts (4.0 KB"),
            "{}",
            w[2].words
        );
        assert_eq!(w[3].folder.as_deref(), Some("A.B"));
        assert!(
            w[4].words
                .contains("the 5 messages in the Inbox of 1 mailbox"),
            "{}",
            w[4].words
        );
        assert_eq!(w[4].account, None);
        assert!(
            w[5].words
                .starts_with("1 message in \"INBOX\" looks exactly like another"),
            "{}",
            w[5].words
        );
        assert!(
            w[5].words.contains("The copy keeps every one"),
            "{}",
            w[5].words
        );
    }
}
