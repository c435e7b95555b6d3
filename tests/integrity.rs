//! The destination is the truth: re-runs believe MailFerry's ledger only
//! while the destination bears it out, every message arrives exactly once
//! (twins included), and the verification pass finds what differs. Real
//! Dovecot on both sides, checked by the independent probe.

mod support;

use std::path::Path;

use mailferry::copy::{self, Cancel, Options};
use mailferry::outcome::{JobOutcome, Verdict};
use mailferry::store::Store;
use support::corpus::{raw_name, seed_standard_corpus, snapshot, snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{compare, duplicates};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
const DATE: &str = "15-Jun-2010 08:30:00 -0700";

fn servers() -> (Dovecot, Dovecot) {
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "unused");
    (s, d)
}

fn job(name: &str, src: &Dovecot, dst: &Dovecot) -> JobSpec {
    JobSpec::plain(
        name,
        src.imap_port(),
        dst.imap_port(),
        &format!("{USER},{PASSWORD}"),
    )
}

fn dest_snapshot(dst: &Dovecot, user: &str) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), user, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

fn dest_probe(dst: &Dovecot, user: &str) -> Probe {
    Probe::login_master(dst.imap_port(), user, MASTER_USER, MASTER_PASSWORD)
}

/// Identical to the source, and nothing twice.
fn assert_identical(src: &Snapshot, dst: &Snapshot) {
    compare(src, dst).unwrap_or_else(|e| panic!("destination differs from the source: {e}"));
    assert_eq!(duplicates(src, dst), 0);
}

/// Every folder of the outcome verified, and nothing else wrong.
fn assert_verified(outcome: &JobOutcome) {
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    for m in &outcome.mailboxes {
        for f in &m.folders {
            let v = f
                .verification
                .as_ref()
                .unwrap_or_else(|| panic!("{} was not verified", f.source));
            assert!(v.verified(), "{}: {}", f.source, v.summary());
        }
    }
}

fn notes(outcome: &JobOutcome) -> Vec<String> {
    outcome
        .mailboxes
        .iter()
        .flat_map(|m| m.folders.iter().flat_map(|f| f.notes.clone()))
        .collect()
}

/// The verification pass alone, as `mailferry verify` runs it.
fn verify(spec: &JobSpec, db: &Path) -> JobOutcome {
    let store = Store::open(db).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(copy::verify(
        spec.job(),
        store,
        mailferry::progress::discard(),
        Options::default(),
        Cancel::default(),
    ))
    .unwrap()
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{subject}@integrity.test>\r\nDate: Tue, 15 Jun 2010 08:30:00 -0700\r\nFrom: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn an_emptied_destination_account_gets_everything_again_and_a_third_run_copies_nothing() {
    let (src, dst) = servers();
    let corpus = seed_standard_corpus(&src, USER, PASSWORD);
    let spec = job("reset", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_verified(&first);
    assert_eq!(first.migrated() as usize, corpus.total());

    // The provider resets the account: every folder gone, the Inbox new.
    std::fs::remove_dir_all(dst.home(USER)).unwrap();
    assert_eq!(dest_snapshot(&dst, USER).total_messages(), 0);

    let (second, _) = spec.run(&db);
    assert_verified(&second);
    assert_eq!(second.migrated() as usize, corpus.total(), "{second:#?}");
    assert_eq!(second.skipped(), 0);
    let source = snapshot(&src, USER, PASSWORD);
    assert_identical(&source, &dest_snapshot(&dst, USER));
    assert!(
        notes(&second)
            .iter()
            .any(|n| n.contains("emptied or recreated since the last run")),
        "the log says why messages were copied again: {:?}",
        notes(&second)
    );

    let (third, _) = spec.run(&db);
    assert_verified(&third);
    assert_eq!(third.migrated(), 0);
    assert_eq!(third.skipped() as usize, corpus.total());
    assert_identical(&source, &dest_snapshot(&dst, USER));
}

#[test]
fn a_deleted_destination_folder_and_a_deleted_message_are_restored_and_nothing_else_copied() {
    let (src, dst) = servers();
    let corpus = seed_standard_corpus(&src, USER, PASSWORD);
    let spec = job("restore", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_verified(&first);

    let mut p = dest_probe(&dst, USER);
    p.delete("Sent");
    let archive = p.fetch_all("Archive");
    p.expunge_uid("Archive", archive[1].uid);
    p.logout();

    let (second, _) = spec.run(&db);
    assert_verified(&second);
    assert_eq!(second.migrated() as usize, corpus.count("Sent") + 1);
    assert_eq!(
        second.skipped() as usize,
        corpus.total() - corpus.count("Sent") - 1
    );
    let archive = second.mailboxes[0]
        .folders
        .iter()
        .find(|f| f.source == "Archive")
        .unwrap();
    assert_eq!((archive.migrated, archive.skipped), (1, 3));
    assert!(
        archive
            .notes
            .iter()
            .any(|n| n.contains("deleted from the destination folder")
                && n.contains("1 message copied again")),
        "{:?}",
        archive.notes
    );
    assert_identical(&snapshot(&src, USER, PASSWORD), &dest_snapshot(&dst, USER));
}

#[test]
fn two_identical_messages_with_only_the_first_in_the_ledger_both_arrive_once() {
    let (src, dst) = servers();
    let twin = message("twin", "the same bytes twice");
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.create("Twins");
    p.append("Twins", &["\\Seen"], DATE, &twin);
    let spec = job("twins", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_verified(&first);
    assert_eq!(first.migrated(), 1);

    // The second copy arrives on the source: the ledger knows the first.
    p.append("Twins", &["\\Seen"], DATE, &twin);
    p.logout();
    let (second, _) = spec.run(&db);
    assert_verified(&second);
    assert_eq!((second.migrated(), second.skipped()), (1, 1));
    let (third, _) = spec.run(&db);
    assert_eq!((third.migrated(), third.skipped()), (0, 2));
    let dest = dest_snapshot(&dst, USER);
    assert_eq!(dest.facts("Twins").len(), 2);
    assert_identical(&snapshot(&src, USER, PASSWORD), &dest);
}

/// A ledger key that is not the key the destination reports (a server whose
/// RFC822.SIZE or header folding differs from the bytes sent) must still
/// account for its copy: a later twin is sent, not matched to it.
#[test]
fn a_copy_whose_recorded_key_differs_from_the_destinations_still_counts_as_taken() {
    let (src, dst) = servers();
    let twin = message("folded", "a twin arrives later");
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.append("INBOX", &[], DATE, &twin);
    let spec = job("keys", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_verified(&first);
    let db_conn = rusqlite::Connection::open(&db).unwrap();
    let changed = db_conn
        .execute(
            "UPDATE ledger SET content_key = 'not-what-the-server-says'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db_conn);

    p.append("INBOX", &[], DATE, &twin);
    p.logout();
    let (second, _) = spec.run(&db);
    assert_eq!((second.migrated(), second.skipped()), (1, 1), "{second:#?}");
    assert_eq!(dest_snapshot(&dst, USER).facts("INBOX").len(), 2);
}

/// Two source folders translated into one destination folder, copied by two
/// workers at once, with a message both hold: the destination gets both
/// copies (each folder counts what the other put there).
#[test]
fn two_folders_translated_into_one_with_a_shared_message_each_deliver_their_copy() {
    let (src, dst) = servers();
    let shared = message("shared", "in both folders");
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    for folder in ["Old", "Older"] {
        p.create(folder);
        p.append(folder, &[], DATE, &shared);
        for i in 0..40 {
            let own = message(&format!("{folder}-{i}"), &"x".repeat(2000));
            p.append(folder, &[], DATE, &own);
        }
    }
    p.logout();
    let mut spec = job("merge", &src, &dst);
    spec.translate = "Old,Merged\nOlder,Merged".into();
    spec.options = "connections_per_mailbox = 2".into();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_eq!(first.verdict(), Verdict::Success, "{first:#?}");
    assert_eq!(first.migrated(), 82);
    let merged = dest_snapshot(&dst, USER).facts("Merged");
    assert_eq!(merged.len(), 82);
    let source = snapshot(&src, USER, PASSWORD);
    let shared_facts = source
        .facts("Old")
        .into_iter()
        .min_by_key(|f| f.size)
        .unwrap();
    let copies = merged
        .iter()
        .filter(|f| f.sha256 == shared_facts.sha256)
        .count();
    assert_eq!(copies, 2);
    let (again, _) = spec.run(&db);
    assert_eq!((again.migrated(), again.skipped()), (0, 82));
    assert_eq!(dest_snapshot(&dst, USER).facts("Merged").len(), 82);
}

#[test]
fn a_changed_translation_or_destination_mailbox_under_the_same_job_name_receives_everything() {
    let (src, dst) = servers();
    dst.add_user("alice2", "unused");
    let corpus = seed_standard_corpus(&src, USER, PASSWORD);
    let mut spec = job("moves", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    assert_verified(&spec.run(&db).0);

    // Same job name, Sent now goes to "Sent Items".
    spec.translate = "Sent,Sent Items".into();
    let (moved, _) = spec.run(&db);
    assert_verified(&moved);
    assert_eq!(moved.migrated() as usize, corpus.count("Sent"));
    assert_eq!(
        dest_snapshot(&dst, USER).facts("Sent Items"),
        snapshot(&src, USER, PASSWORD).facts("Sent")
    );

    // Same job name, the account now goes to another destination mailbox.
    spec.translate = String::new();
    spec.users = format!("{USER},{PASSWORD},alice2");
    let (elsewhere, _) = spec.run(&db);
    assert_verified(&elsewhere);
    assert_eq!(elsewhere.migrated() as usize, corpus.total());
    assert_identical(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, "alice2"),
    );
}

#[test]
fn verification_finds_a_message_deleted_and_a_duplicate_added_behind_mailferrys_back() {
    let (src, dst) = servers();
    seed_standard_corpus(&src, USER, PASSWORD);
    let spec = job("verified", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    assert_verified(&spec.run(&db).0);
    assert_verified(&verify(&spec, &db));

    let mut p = dest_probe(&dst, USER);
    let archive = p.fetch_all("Archive");
    p.expunge_uid("Archive", archive[0].uid);
    let sent = p.fetch_all("Sent");
    p.append("Sent", &[], &sent[2].internaldate, &sent[2].body);
    // A message that is not from the source at all is no fault.
    p.append("Sent", &[], DATE, &message("welcome", "from the new host"));
    p.logout();

    let checked = verify(&spec, &db);
    assert_eq!(checked.verdict(), Verdict::Partial);
    assert_eq!(checked.migrated(), 0, "verifying copies nothing");
    let folder = |name: &str| {
        checked.mailboxes[0]
            .folders
            .iter()
            .find(|f| f.source == name)
            .and_then(|f| f.verification.clone())
            .unwrap()
    };
    let archive_v = folder("Archive");
    assert_eq!(archive_v.missing.len(), 1, "{archive_v:?}");
    assert!(archive_v.extra.is_empty());
    assert!(!archive_v.missing[0].subject.is_empty());
    let sent_v = folder("Sent");
    assert!(sent_v.missing.is_empty(), "{sent_v:?}");
    assert_eq!(sent_v.extra.len(), 1, "{sent_v:?}");
    assert_eq!(sent_v.other, 1);
    assert!(!sent_v.extra[0].subject.is_empty());
    assert!(folder("INBOX").verified());
    let log = mailferry::report::render_log(&checked);
    assert!(log.contains("NOT verified: 1 missing"), "{log}");
    assert!(log.contains("NOT verified: 1 extra"), "{log}");

    // A run restores the missing message; the extra copy stays (MailFerry
    // never deletes on the destination) and is still reported.
    let (rerun, _) = spec.run(&db);
    assert_eq!(rerun.migrated(), 1);
    let after = verify(&spec, &db);
    let sent_after = after.mailboxes[0]
        .folders
        .iter()
        .find(|f| f.source == "Sent")
        .unwrap();
    assert_eq!(sent_after.verification.as_ref().unwrap().extra.len(), 1);
    let archive_after = after.mailboxes[0]
        .folders
        .iter()
        .find(|f| f.source == "Archive")
        .unwrap();
    assert!(archive_after.verification.as_ref().unwrap().verified());
}

/// Without a ledger (another computer, or records lost) the verification
/// pass compares by content alone, and says the same.
#[test]
fn verification_without_a_ledger_compares_by_content() {
    let (src, dst) = servers();
    seed_standard_corpus(&src, USER, PASSWORD);
    let spec = job("elsewhere", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    assert_verified(&spec.run(&dir.path().join("first.db")).0);
    let fresh = dir.path().join("fresh.db");
    assert_verified(&verify(&spec, &fresh));

    let mut p = dest_probe(&dst, USER);
    let inbox_raw = raw_name("INBOX", "", '/');
    let inbox = p.fetch_all(&inbox_raw);
    p.expunge_uid(&inbox_raw, inbox[3].uid);
    p.logout();
    let checked = verify(&spec, &fresh);
    let v = checked.mailboxes[0].folders[0]
        .verification
        .clone()
        .unwrap();
    assert_eq!(checked.mailboxes[0].folders[0].source, "INBOX");
    assert_eq!((v.missing.len(), v.extra.len()), (1, 0), "{v:?}");
}

fn auto_job(name: &str, src: &Dovecot, dst: &Dovecot) -> JobSpec {
    let mut spec = job(name, src, dst);
    spec.source_protocol = "auto";
    spec.ports_line = Some(format!(
        "ports = {{ imap4 = [{}], pop3 = [{}] }}",
        src.imap_port(),
        src.pop3_port()
    ));
    spec
}

/// The Inbox read over POP3, the destination emptied, the job run again:
/// the Inbox arrives again, once.
#[test]
fn an_emptied_destination_gets_the_pop3_inbox_again() {
    let (src, dst) = servers();
    let corpus = seed_standard_corpus(&src, USER, PASSWORD);
    let spec = auto_job("pop-reset", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (first, _) = spec.run(&db);
    assert_verified(&first);
    let inbox = |o: &JobOutcome| {
        o.mailboxes[0]
            .folders
            .iter()
            .find(|f| f.source == "INBOX")
            .map(|f| (f.migrated, f.skipped))
            .unwrap()
    };
    assert_eq!(inbox(&first), (corpus.count("INBOX") as u64, 0));

    let mut p = dest_probe(&dst, USER);
    for m in p.fetch_all("INBOX") {
        p.expunge_uid("INBOX", m.uid);
    }
    p.logout();
    let (second, _) = spec.run(&db);
    assert_verified(&second);
    assert_eq!(inbox(&second), (corpus.count("INBOX") as u64, 0));
    assert_eq!(second.migrated() as usize, corpus.count("INBOX"));
    let (third, _) = spec.run(&db);
    assert_eq!(third.migrated(), 0);
    assert_eq!(
        dest_snapshot(&dst, USER).facts("INBOX").len(),
        corpus.count("INBOX")
    );
}

/// In an Auto job, a folder read over IMAP and translated into the Inbox
/// holds a twin of a message the POP3 Inbox copied: the POP3 copy is
/// accounted for, so the twin arrives too.
#[test]
fn a_folder_translated_into_the_pop3_inbox_delivers_its_twin_of_an_inbox_message() {
    let (src, dst) = servers();
    let twin = message("pop-twin", "in the Inbox and in Old Inbox");
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.append("INBOX", &[], DATE, &twin);
    p.append("INBOX", &[], DATE, &message("only-inbox", "one"));
    p.create("Old Inbox");
    p.append("Old Inbox", &[], DATE, &twin);
    p.logout();
    let mut spec = auto_job("pop-twins", &src, &dst);
    spec.translate = "Old Inbox,INBOX".into();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // The POP3 Inbox first (the other folder skipped), then "Old Inbox",
    // which finds the Inbox's copy of its twin already there.
    spec.skip = "Old Inbox".into();
    let (inbox_only, _) = spec.run(&db);
    assert_eq!(inbox_only.migrated(), 2, "{inbox_only:#?}");
    spec.skip = String::new();
    let (first, _) = spec.run(&db);
    assert_eq!((first.migrated(), first.skipped()), (1, 2), "{first:#?}");
    let again = spec.run(&db).0;
    assert_eq!((again.migrated(), again.skipped()), (0, 3));
    let inbox = dest_snapshot(&dst, USER).facts("INBOX");
    assert_eq!(inbox.len(), 3);
}

/// A ledger written before destination UIDs were kept (an older MailFerry):
/// its entries prove nothing, so the next run looks by content, copies
/// nothing and says nothing was emptied; the one after is fast again.
#[test]
fn a_ledger_from_an_older_mailferry_copies_nothing_again() {
    let (src, dst) = servers();
    let corpus = seed_standard_corpus(&src, USER, PASSWORD);
    let spec = job("upgrade", &src, &dst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    assert_verified(&spec.run(&db).0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE ledger SET dest_uid = NULL, dest_uid_validity = NULL, dest_user = '';
         DELETE FROM dest_folders;",
    )
    .unwrap();
    drop(conn);

    let (upgraded, _) = spec.run(&db);
    assert_verified(&upgraded);
    assert_eq!(
        (upgraded.migrated(), upgraded.skipped() as usize),
        (0, corpus.total())
    );
    assert!(
        notes(&upgraded).iter().all(|n| !n.contains("copied again")),
        "{:?}",
        notes(&upgraded)
    );
    let (after, _) = spec.run(&db);
    assert_verified(&after);
    assert_eq!(after.migrated(), 0);
    assert_identical(&snapshot(&src, USER, PASSWORD), &dest_snapshot(&dst, USER));
}
