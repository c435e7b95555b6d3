//! `mailferry run --dry-run` against private Dovecot instances: the whole
//! job is gone through (connect, list, plan, settle against the
//! destination) and nothing changes on the destination or in the ledger;
//! the log names every message a run would copy, and a run afterwards
//! copies exactly those.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mailferry::outcome::{JobOutcome, Verdict};
use mailferry::store::Store;
use support::corpus::{
    assert_same_mail, assert_unchanged, raw_name, seed_standard_corpus, sha256_hex, snapshot,
    snapshot_with, Snapshot,
};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

/// Every file of the account's maildir but Dovecot's own indexes and
/// lists (which reading may refresh) and `tmp/`: relative path -> sha256.
/// Message files carry their flags in their names.
fn maildir_tree(dst: &Dovecot) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("dovecot") || name == "tmp" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, sha256_hex(&std::fs::read(&path).unwrap()));
            }
        }
    }
    let root = dst.home(USER);
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    assert!(
        out.keys().any(|k| k.contains("cur/") || k.contains("new/")),
        "no message files under {}: {out:?}",
        root.display()
    );
    out
}

/// Everything a dry run could have changed on the destination.
fn destination_state(dst: &Dovecot) -> (Snapshot, String, BTreeMap<String, String>) {
    let snap = dest_snapshot(dst);
    let folders = dst.doveadm(&["mailbox", "list", "-u", USER]);
    let subscribed = dst.doveadm(&["mailbox", "list", "-s", "-u", USER]);
    (
        snap,
        format!("{folders}--\n{subscribed}"),
        maildir_tree(dst),
    )
}

fn rows(db: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// The destination name of a corpus folder on a "."-separated server.
fn dotted(path: &str) -> String {
    path.replace("Folder.With.Dots", "Folder_With_Dots")
}

/// sha256 of each message `dst` gained in each folder since `before`.
fn gained(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (path, folder) in &after.folders {
        let old = before.folders.get(path);
        let mut new: Vec<String> = folder
            .messages
            .iter()
            .filter(|(uid, _)| old.is_none_or(|o| !o.messages.contains_key(uid)))
            .map(|(_, f)| f.sha256.clone())
            .collect();
        if !new.is_empty() {
            new.sort();
            out.insert(path.clone(), new);
        }
    }
    out
}

#[test]
fn dry_run_changes_nothing_names_every_message_it_would_copy_and_a_run_then_copies_those() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Courier));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    let source = snapshot(&src, USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();

    // A destination half filled: an earlier run (with its own ledger) left
    // Archive out, and two of Sent's copies were deleted there since.
    let mut job = JobSpec::plain("half", src.imap_port(), dst.imap_port(), "alice,secret1");
    job.skip = "Archive".into();
    let (first, _) = job.run(&dir.path().join("earlier.db"));
    assert_eq!(first.verdict(), Verdict::Success, "{first:#?}");
    let archived = seeded.count("Archive") + seeded.count("Archive/2019");
    assert_eq!(first.migrated() as usize, seeded.total() - archived);
    let sent = raw_name("Sent", "INBOX.", '.');
    let mut probe = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let sent_uids = dest_snapshot(&dst).folders["Sent"].uids();
    for uid in &sent_uids[1..3] {
        probe.expunge_uid(&sent, *uid);
    }
    probe.logout();

    // The dry run, with a ledger of its own (so it settles everything
    // against the destination by content), through the command line.
    job.skip = String::new();
    let path = job.write(dir.path());
    let db = dir.path().join("m.db");
    let log_path = dir.path().join("dry.log");
    let before = destination_state(&dst);
    let out = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--db")
        .arg(&db)
        .args(["run", "--dry-run", "--log"])
        .arg(&log_path)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = destination_state(&dst);
    assert_unchanged(&before.0, &after.0);
    assert_eq!(before.1, after.1, "folder list or subscriptions changed");
    assert_eq!(before.2, after.2, "the maildir changed");
    assert_unchanged(&source, &snapshot(&src, USER, PASSWORD));

    // Nothing recorded as copied; the history keeps a dry run.
    for table in ["ledger", "intents", "dest_folders"] {
        assert_eq!(rows(&db, table), 0, "{table}");
    }
    let store = Store::open(&db).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].dry_run);
    assert_eq!(runs[0].migrated, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let service = mailferry::service::Service::new(store.clone(), rt.handle().clone());
    // The app's History shows it, marked as a dry run (the page offers
    // no Run again, Retry or Verify for it).
    let history = service.history().unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].run.dry_run);
    let dry: JobOutcome = store.run_outcome(runs[0].run_id).unwrap().unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.verdict(), Verdict::Success, "{dry:#?}");
    assert_eq!(dry.migrated(), 0);
    let would = dry.would_copy();
    assert_eq!(would.0 as usize, archived + 2, "{dry:#?}");
    assert_eq!(
        dry.skipped() as usize,
        seeded.total() - archived - 2,
        "{dry:#?}"
    );
    assert!(
        stdout.contains(&format!(
            "DRY RUN (success), nothing was changed on the destination — would copy {} messages",
            would.0
        )),
        "{stdout}"
    );
    assert!(stdout.contains("(dry run: nothing is changed on the destination)"));

    // Every folder says where it goes; every message to copy is named.
    let folders = &dry.mailboxes[0].folders;
    let folder = |name: &str| folders.iter().find(|f| f.source == name).unwrap();
    for created in ["Archive", "Archive/2019"] {
        assert!(
            folder(created)
                .notes
                .iter()
                .any(|n| n.starts_with("Dry run: ") && n.contains(", which would be created")),
            "{:?}",
            folder(created).notes
        );
    }
    assert!(
        folder("INBOX")
            .notes
            .iter()
            .any(|n| n.contains("which exists")),
        "{:?}",
        folder("INBOX").notes
    );
    assert!(
        folder("Folder.With.Dots")
            .notes
            .iter()
            .any(|n| n.starts_with("Dry run: is mapped to the destination folder")),
        "{:?}",
        folder("Folder.With.Dots").notes
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.starts_with("MailFerry dry run log (nothing was changed on the destination)"));
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.trim_start().starts_with("would copy: "))
        .collect();
    assert_eq!(lines.len() as u64, would.0, "{log}");
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in folders {
        for m in &f.would_copy {
            assert!(
                lines.iter().any(|l| l.contains(&format!(
                    "folder {:?}, date {:?}, from {:?}, subject {:?}",
                    f.source, m.date, m.from, m.subject
                ))),
                "{m:?} not in the log:\n{log}"
            );
            assert!(!m.subject.is_empty() || !m.from.is_empty(), "{m:?}");
            let uid: u32 = m.source_id.parse().unwrap();
            let facts = &source.folders[&f.source].messages[&uid];
            assert_eq!(facts.size, m.size);
            named
                .entry(dotted(&f.source))
                .or_default()
                .push(facts.sha256.clone());
        }
    }
    named.values_mut().for_each(|v| v.sort());

    // A run now copies exactly what the dry run named.
    let (real, _) = job.run(&db);
    assert_eq!(real.verdict(), Verdict::Success, "{real:#?}");
    assert!(!real.dry_run);
    assert_eq!(real.migrated(), would.0);
    let copied = dest_snapshot(&dst);
    assert_eq!(gained(&before.0, &copied), named);
    assert_same_mail(&source, &copied, dotted);
}

/// POP3 matches the destination by content only after download in a run;
/// a dry run reads the headers alone (TOP) and matches by those and
/// LIST's size, so it names the same messages a run then copies.
#[test]
fn a_pop3_dry_run_matches_by_headers_and_size_and_a_run_copies_what_it_named() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    let message = |i: usize| {
        format!(
            "Date: Mon, 1 Jun 2020 10:0{i}:00 +0000\r\nFrom: Carol <carol@example.test>\r\nSubject: pop {i}\r\nMessage-ID: <pop-{i}@example.test>\r\n\r\nBody {i}\r\n"
        )
    };
    let mut probe = Probe::login(src.imap_port(), USER, PASSWORD);
    for i in 0..3 {
        probe.append(
            "INBOX",
            &[],
            "01-Jan-2020 00:00:00 +0000",
            message(i).as_bytes(),
        );
    }
    probe.logout();
    // One of them is on the destination already, put there by hand.
    let mut probe = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    probe.append(
        "INBOX",
        &[],
        "01-Jun-2020 10:01:00 +0000",
        message(1).as_bytes(),
    );
    probe.logout();

    let mut job = JobSpec::plain("pop-dry", src.pop3_port(), dst.imap_port(), "alice,secret1");
    job.source_protocol = "pop3";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut opts = mailferry::copy::Options::for_job(&job.job());
    opts.dry_run = true;
    let before = destination_state(&dst);
    let (dry, _) = job.run_with(&db, opts);
    let after = destination_state(&dst);
    assert_unchanged(&before.0, &after.0);
    assert_eq!(before.2, after.2, "the maildir changed");
    assert_eq!(rows(&db, "ledger"), 0);
    assert!(dry.dry_run);
    assert_eq!(dry.verdict(), Verdict::Success, "{dry:#?}");
    let inbox = &dry.mailboxes[0].folders[0];
    let subjects: Vec<&str> = inbox
        .would_copy
        .iter()
        .map(|m| m.subject.as_str())
        .collect();
    assert_eq!(subjects, ["pop 0", "pop 2"], "{inbox:#?}");
    assert_eq!(inbox.skipped, 1);
    assert_eq!(inbox.would_copy[0].size, message(0).len() as u64);

    let (real, _) = job.run(&db);
    assert_eq!(real.verdict(), Verdict::Success, "{real:#?}");
    assert_eq!((real.migrated(), real.skipped()), (2, 1));
    let gained = gained(&before.0, &dest_snapshot(&dst));
    let mut expected: Vec<String> = [0, 2]
        .iter()
        .map(|i| sha256_hex(message(*i).as_bytes()))
        .collect();
    expected.sort();
    assert_eq!(gained, BTreeMap::from([("INBOX".to_string(), expected)]));
}
