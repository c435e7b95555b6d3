//! A dry run: the whole job as a copy would go through it (connect, list,
//! plan, settle against the destination what is already there), with what
//! it would change reported instead of done. Every folder says where it
//! would go and whether that folder exists or would be created; every
//! message a copy would send is named (its envelope alone is fetched).
//!
//! Nothing is created, appended, flagged or deleted on the destination
//! (its folders are only EXAMINEd), and the ledger is read, never written
//! ([`super::truth::Book`] writes nothing in a dry run).

use std::collections::{HashMap, HashSet};

use super::dest::DestFolder;
use super::mapping::{self, FolderTask, Naming};
use super::source::{Source, Target};
use super::truth::{Book, Opened};
use super::{dest, Ctx};
use crate::error::MailError;
use crate::imap::{utf7, ListedFolder, Selected};

/// What a dry run decided about a mailbox's folders.
pub(super) struct FolderPlan {
    /// Destination folders (raw names) that do not exist: a copy would
    /// create them.
    pub absent: HashSet<String>,
    /// Decisions no copied folder accounts for: parent folders to create,
    /// source folders the job's rules skip.
    pub notes: Vec<String>,
}

/// Decides, as a copy would, which destination folders it would create,
/// and tells each folder (in its notes) where it goes: into an existing
/// folder, or one to be created, mapped to another name or not. `existing`
/// holds the destination's raw names.
pub(super) fn folders(
    listed: &[ListedFolder],
    tasks: &mut [FolderTask],
    existing: &mut HashSet<String>,
    dst_naming: &Naming,
) -> FolderPlan {
    let mut absent = HashSet::new();
    let mut notes = Vec::new();
    let planned: HashSet<&str> = tasks.iter().map(|t| t.source_raw.as_str()).collect();
    for f in listed {
        if !planned.contains(f.raw.as_str()) {
            notes.push(format!(
                "Dry run: the source folder {:?} is skipped by the job's folder rules.",
                f.name
            ));
        }
    }
    for task in tasks.iter_mut() {
        // The same walk as a copy's: parents first, each name once.
        let mut names = mapping::ancestors(&task.dest_name, dst_naming);
        names.push(task.dest_name.clone());
        let mut created = Vec::new();
        for name in names {
            let raw = utf7::encode(&name);
            if existing.insert(raw.clone()) {
                absent.insert(raw);
                created.push(name);
            }
        }
        if !task.selectable {
            notes.extend(created.iter().map(|name| {
                format!(
                    "Dry run: the destination folder {name:?} would be created (on the source, {:?} holds no messages, only folders).",
                    task.source_name
                )
            }));
            continue;
        }
        let verb = match task.dest_name == task.source_name {
            true => "goes into",
            false => "is mapped to",
        };
        let state = match absent.contains(&task.dest_raw) {
            true => "which would be created",
            false => "which exists",
        };
        let parents: Vec<String> = created
            .iter()
            .filter(|n| **n != task.dest_name)
            .map(|n| format!("{n:?}"))
            .collect();
        let parents = match parents.len() {
            0 => String::new(),
            1 => format!(", with its parent folder {}", parents[0]),
            _ => format!(", with its parent folders {}", parents.join(", ")),
        };
        task.notes.push(format!(
            "Dry run: {verb} the destination folder {:?}, {state}{parents}.",
            task.dest_name
        ));
    }
    FolderPlan { absent, notes }
}

/// A destination folder a dry run would create: it holds nothing, so
/// every message listed would be sent (the ledger's entries for it are
/// not borne out by a folder that is not there).
pub(super) fn absent(book: Book, source_ids: &[String]) -> Opened {
    Opened {
        dest: DestFolder::new(book, Selected::default(), HashMap::new()),
        pending: source_ids.to_vec(),
    }
}

/// Instead of copying `planned`: names each message a copy would send
/// (after the source has matched what it can against the destination by
/// content) and keeps them in the folder's outcome.
pub(super) async fn report<S: Source>(
    ctx: &Ctx,
    src: &mut S,
    planned: Vec<S::Planned>,
    mut target: Target<'_>,
    task: &FolderTask,
) -> Result<(), MailError> {
    let would = src.would_copy(planned, &mut target).await?;
    let bytes = would.iter().map(|m| m.size).sum();
    // Decided is done, for progress: a dry run's folder ends here.
    target.state.settle(target.tally, task.expected, (0, 0));
    dest::announce(ctx, target.tally, task, would.len() as u64, bytes);
    target.state.would_copy = would;
    ctx.emit(target.tally.event(target.folder));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(raw: &str, selectable: bool) -> ListedFolder {
        ListedFolder {
            raw: raw.into(),
            name: raw.into(),
            delimiter: Some('/'),
            selectable,
            special_use: None,
        }
    }

    fn task(source: &str, dest: &str, selectable: bool) -> FolderTask {
        FolderTask {
            source_raw: source.into(),
            source_name: source.into(),
            selectable,
            dest_raw: dest.into(),
            dest_name: dest.into(),
            notes: Vec::new(),
            expected: None,
        }
    }

    #[test]
    fn each_folder_says_where_it_goes_and_what_would_be_created() {
        let slash = Naming {
            prefix: String::new(),
            delimiter: Some('/'),
        };
        let source = [
            listed("INBOX", true),
            listed("Old/Sent", true),
            listed("Projects", false),
            listed("Projects/A", true),
            listed("Junk", true),
        ];
        let mut tasks = vec![
            task("INBOX", "INBOX", true),
            task("Old/Sent", "Archive/Sent", true),
            task("Projects", "Projects", false),
            task("Projects/A", "Projects/A", true),
        ];
        let mut existing: HashSet<String> = ["INBOX".to_string(), "Projects/A".to_string()]
            .into_iter()
            .collect();
        let plan = folders(&source, &mut tasks, &mut existing, &slash);
        let absent: HashSet<&str> = plan.absent.iter().map(String::as_str).collect();
        assert_eq!(
            absent,
            HashSet::from(["Archive", "Archive/Sent", "Projects"])
        );
        assert_eq!(
            tasks[0].notes,
            ["Dry run: goes into the destination folder \"INBOX\", which exists."]
        );
        assert_eq!(
            tasks[1].notes,
            ["Dry run: is mapped to the destination folder \"Archive/Sent\", which would be created, with its parent folder \"Archive\"."]
        );
        assert_eq!(
            tasks[3].notes,
            ["Dry run: goes into the destination folder \"Projects/A\", which exists."]
        );
        assert_eq!(
            plan.notes,
            [
                "Dry run: the source folder \"Junk\" is skipped by the job's folder rules.",
                "Dry run: the destination folder \"Projects\" would be created (on the source, \"Projects\" holds no messages, only folders)."
            ]
        );
    }

    #[test]
    fn the_log_of_a_dry_run_says_so_and_names_each_message() {
        use crate::outcome::{FolderOutcome, JobOutcome, MailboxOutcome, PlannedMessage};
        let job = JobOutcome {
            name: "acme".into(),
            dry_run: true,
            mailboxes: vec![MailboxOutcome {
                source_user: "jane".into(),
                local_user: "jane".into(),
                notes: vec![
                    "Dry run: the destination folder \"Projects\" would be created.".into(),
                ],
                folders: vec![FolderOutcome {
                    source: "INBOX".into(),
                    destination: "INBOX".into(),
                    skipped: 3,
                    would_copy: vec![PlannedMessage {
                        source_id: "7".into(),
                        date: "Mon, 1 Jun 2020 10:00:00 +0000".into(),
                        from: "Bob <bob@example.test>".into(),
                        subject: "Hi".into(),
                        size: 2000,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(job.would_copy(), (1, 2000));
        let log = crate::report::render_log(&job);
        assert!(
            log.starts_with("MailFerry dry run log (nothing was changed on the destination)\n"),
            "{log}"
        );
        for line in [
            "== jane : SUCCESS — would copy 1 (2.0 KB), 3 skipped (already there), 0 failed",
            "   note: Dry run: the destination folder \"Projects\" would be created.",
            "   [OK  ] INBOX: would copy 1 (2.0 KB), 3 skipped, 0 failed",
            "          would copy: folder \"INBOX\", date \"Mon, 1 Jun 2020 10:00:00 +0000\", from \"Bob <bob@example.test>\", subject \"Hi\", 2.0 KB (source id 7)",
            "Summary: DRY RUN, nothing was changed on the destination (success) — 1 mailboxes; would copy 1 messages (2.0 KB); 3 skipped (already there), 0 failed.",
        ] {
            assert!(log.contains(line), "{line}\nnot in\n{log}");
        }
        assert!(!log.contains("migrated"), "{log}");
    }

    #[test]
    fn an_outcome_stored_before_dry_runs_still_reads() {
        let old = r#"{"name":"a","started_at":"","finished_at":"","source":"","destination":"","mailboxes":[{"source_user":"j","local_user":"j","folders":[{"source":"INBOX","destination":"INBOX","migrated":1,"skipped":0,"failed":0,"bytes":5,"notes":[],"failures":[],"error":null}],"error":null,"elapsed_ms":1}]}"#;
        let job: crate::outcome::JobOutcome = serde_json::from_str(old).unwrap();
        assert!(!job.dry_run);
        assert!(job.mailboxes[0].notes.is_empty());
        assert!(job.mailboxes[0].folders[0].would_copy.is_empty());
    }
}
