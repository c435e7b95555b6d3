//! The judges are judged: `compare` ("the destination holds exactly the
//! source's mail") and `duplicates` ("copies beyond what the source holds")
//! must say no to a wrong destination, and yes to a right one.
//!
//! Most tests build snapshots in code (no server): a source with a
//! byte-identical pair, flags, keywords, a nested folder and an empty one,
//! and a destination made from it with one thing wrong. The last test does
//! the same through real Dovecot servers and the probe, so that the
//! snapshot itself is shown to see flags, dates and bytes.
//!
//! Four gaps the judges once had are shut and pinned here: mail in a
//! destination folder the source lacks, duplicates there, a second copy
//! with other flags or date, and a missing \Noselect folder.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::corpus::{raw_name, snapshot, snapshot_with, FolderSnapshot, MessageFacts, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{compare, duplicates, seed_small_corpus, SMALL_CORPUS};
use support::probe::Probe;

// ------------------------------------------------------------ building --

/// A message: its body says `name`, padded to `size` bytes.
fn msg(name: &str, size: usize, date: i64, flags: &[&str]) -> MessageFacts {
    let mut body = format!("Subject: {name}\r\n\r\n").into_bytes();
    body.resize(size.max(body.len()), b'x');
    MessageFacts::new(&body, date, flags)
}

/// A snapshot holding these folders, UIDs from `first_uid` up in the order
/// given. Every folder is selectable; `parents` are added as \Noselect.
fn snap(folders: &[(&str, Vec<MessageFacts>)], first_uid: u32, parents: &[&str]) -> Snapshot {
    let mut all_folders: BTreeSet<String> = parents.iter().map(|p| p.to_string()).collect();
    let mut map = BTreeMap::new();
    for (i, (path, messages)) in folders.iter().enumerate() {
        all_folders.insert(path.to_string());
        let messages: BTreeMap<u32, MessageFacts> = messages
            .iter()
            .enumerate()
            .map(|(k, f)| (first_uid + k as u32, f.clone()))
            .collect();
        let folder = FolderSnapshot {
            uidvalidity: 1_700_000_000 + first_uid + i as u32,
            uidnext: first_uid + messages.len() as u32,
            messages,
        };
        map.insert(path.to_string(), folder);
    }
    Snapshot {
        all_folders,
        folders: map,
    }
}

const D1: i64 = 1_268_000_000; // 2010-03-07
const D2: i64 = 946_684_799; // 1999-12-31 23:59:59 UTC
const D3: i64 = 1_709_164_800; // 2024-02-29

/// The source's folders: INBOX holds a byte-identical pair (`twin`, twice,
/// same flags and date), Sent two messages that differ in one byte only,
/// `Archive/2019` sits under a \Noselect `Archive`, `Empty` is empty.
fn source_folders() -> Vec<(&'static str, Vec<MessageFacts>)> {
    vec![
        (
            "INBOX",
            vec![
                msg("hello", 1_200, D1, &[]),
                msg("twin", 3_000, D1, &["\\Seen"]),
                msg("twin", 3_000, D1, &["\\Seen"]),
                msg("big", 2_000_000, D3, &["\\Seen", "\\Flagged"]),
            ],
        ),
        (
            "Sent",
            vec![
                msg("sent-a", 900, D2, &["\\Seen", "\\Answered"]),
                msg("sent-b", 900, D2, &["\\Seen", "\\Answered"]),
                msg("fwd", 5_000, D3, &["\\Seen", "$Forwarded"]),
            ],
        ),
        (
            "Archive/2019",
            vec![
                msg("old-1", 700, D2, &["\\Seen"]),
                msg("old-2", 800, D2 + 1, &["\\Seen", "ProjectX"]),
            ],
        ),
        ("Empty", vec![]),
    ]
}

fn source() -> Snapshot {
    snap(&source_folders(), 1, &["Archive"])
}

/// A faithful copy: same messages per folder, but other UIDs, another
/// UIDVALIDITY and another order (as a real copy may have).
fn faithful_copy() -> Snapshot {
    let folders: Vec<(&str, Vec<MessageFacts>)> = source_folders()
        .into_iter()
        .map(|(path, mut messages)| {
            messages.reverse();
            (path, messages)
        })
        .collect();
    snap(&folders, 101, &["Archive"])
}

/// A faithful copy changed by `change` in `folder`.
fn copy_with(folder: &str, change: impl FnOnce(&mut Vec<MessageFacts>)) -> Snapshot {
    let mut folders = source_folders();
    let (_, messages) = folders
        .iter_mut()
        .find(|(p, _)| *p == folder)
        .expect("a source folder");
    change(messages);
    snap(&folders, 101, &["Archive"])
}

/// `compare` must fail and name `folder` in its answer.
fn assert_rejected(dst: &Snapshot, folder: &str) -> String {
    match compare(&source(), dst) {
        Ok(()) => panic!("compare accepted a wrong destination (wrong in {folder:?})"),
        Err(e) => {
            assert!(
                e.contains(folder),
                "the answer does not name {folder:?}: {e}"
            );
            e
        }
    }
}

// --------------------------------------------------------------- right --

#[test]
fn an_identical_copy_is_accepted_with_no_duplicate_even_with_other_uids_and_order() {
    let (src, dst) = (source(), faithful_copy());
    assert_ne!(src, dst, "the copy has other UIDs and UIDVALIDITYs");
    assert_eq!(compare(&src, &dst), Ok(()));
    assert_eq!(duplicates(&src, &dst), 0);
    // And the source judged against itself.
    assert_eq!(compare(&src, &src), Ok(()));
    assert_eq!(duplicates(&src, &src), 0);
}

// ------------------------------------------------------------- missing --

#[test]
fn a_missing_message_is_rejected_and_is_no_duplicate() {
    let dst = copy_with("Sent", |m| {
        m.remove(2);
    });
    let e = assert_rejected(&dst, "Sent");
    assert!(
        e.contains("3 messages on the source, 2 on the destination"),
        "{e}"
    );
    assert_eq!(duplicates(&source(), &dst), 0);
}

#[test]
fn one_missing_copy_of_a_byte_identical_pair_is_rejected() {
    // The folder still holds every distinct message: only counting shows it.
    let dst = copy_with("INBOX", |m| {
        m.remove(2);
    });
    assert_rejected(&dst, "INBOX");
    assert_eq!(duplicates(&source(), &dst), 0);
}

#[test]
fn a_missing_folder_is_rejected_whether_it_holds_mail_or_not() {
    for gone in ["Sent", "Archive/2019", "Empty"] {
        let folders: Vec<_> = source_folders()
            .into_iter()
            .filter(|(p, _)| *p != gone)
            .collect();
        let dst = snap(&folders, 101, &["Archive"]);
        let e = assert_rejected(&dst, gone);
        assert!(e.contains("missing on the destination"), "{e}");
        assert_eq!(duplicates(&source(), &dst), 0);
    }
}

#[test]
fn a_folder_that_is_only_a_noselect_name_on_the_destination_is_missing() {
    // The name exists, but it holds no mail and cannot be selected.
    let folders: Vec<_> = source_folders()
        .into_iter()
        .filter(|(p, _)| *p != "Sent")
        .collect();
    let dst = snap(&folders, 101, &["Archive", "Sent"]);
    assert!(dst.all_folders.contains("Sent"));
    assert_rejected(&dst, "Sent");
}

#[test]
fn an_empty_destination_is_rejected_in_every_folder() {
    let dst = snap(&[], 1, &[]);
    let e = compare(&source(), &dst).unwrap_err();
    for folder in ["INBOX", "Sent", "Archive/2019", "Empty"] {
        assert!(e.contains(folder), "{folder} not named: {e}");
    }
    assert_eq!(duplicates(&source(), &dst), 0);
}

// ---------------------------------------------------------- duplicates --

#[test]
fn a_duplicate_message_is_rejected_and_counted_once() {
    let dst = copy_with("Sent", |m| {
        let again = m[0].clone();
        m.push(again);
    });
    let e = assert_rejected(&dst, "Sent");
    assert!(e.contains("(0 missing, 1 extra)"), "{e}");
    assert_eq!(duplicates(&source(), &dst), 1);
}

#[test]
fn a_third_copy_of_a_byte_identical_pair_is_one_duplicate_not_two() {
    let dst = copy_with("INBOX", |m| {
        let again = m[1].clone();
        m.push(again);
    });
    assert_rejected(&dst, "INBOX");
    assert_eq!(duplicates(&source(), &dst), 1);
}

#[test]
fn duplicates_in_several_folders_are_all_counted() {
    let mut folders = source_folders();
    for (path, messages) in folders.iter_mut() {
        let extra = match *path {
            "INBOX" => 3,
            "Archive/2019" => 2,
            _ => 0,
        };
        for _ in 0..extra {
            let again = messages[0].clone();
            messages.push(again);
        }
    }
    let dst = snap(&folders, 101, &["Archive"]);
    let e = compare(&source(), &dst).unwrap_err();
    assert!(e.contains("INBOX") && e.contains("Archive/2019"), "{e}");
    assert!(!e.contains("Sent"), "{e}");
    assert_eq!(duplicates(&source(), &dst), 5);
}

#[test]
fn a_duplicate_next_to_a_missing_message_is_rejected_though_the_count_matches() {
    // Same number of messages, all from the source: one lost, one twice.
    let dst = copy_with("Sent", |m| {
        m[2] = m[0].clone();
    });
    assert_rejected(&dst, "Sent");
    assert_eq!(duplicates(&source(), &dst), 1);
}

// ------------------------------------------------------------- altered --

#[test]
fn a_message_with_other_flags_is_rejected() {
    // A flag lost, a flag added, a keyword lost.
    let changes: [(&str, usize, &[&str]); 3] = [
        ("Sent", 0, &["\\Seen"]),
        ("INBOX", 0, &["\\Seen"]),
        ("Sent", 2, &["\\Seen"]),
    ];
    for (folder, i, flags) in changes {
        let dst = copy_with(folder, |m| {
            m[i].flags = flags.iter().map(|f| f.to_string()).collect();
        });
        assert_rejected(&dst, folder);
        assert_eq!(duplicates(&source(), &dst), 0);
    }
}

#[test]
fn a_message_with_another_internaldate_is_rejected_even_one_second_off() {
    for delta in [1, -3600, 86_400 * 365] {
        let dst = copy_with("Archive/2019", |m| m[0].internaldate += delta);
        assert_rejected(&dst, "Archive/2019");
        assert_eq!(duplicates(&source(), &dst), 0);
    }
}

#[test]
fn a_message_with_other_bytes_is_rejected_same_size_or_not() {
    // One byte changed (same size), one byte cut.
    let same_size = msg("hellO", 1_200, D1, &[]);
    let shorter = msg("hello", 1_199, D1, &[]);
    assert_eq!(same_size.size, 1_200);
    for other in [same_size, shorter] {
        let dst = copy_with("INBOX", |m| m[0] = other.clone());
        assert_rejected(&dst, "INBOX");
        assert_eq!(duplicates(&source(), &dst), 0);
    }
}

// --------------------------------------------------------------- extra --

#[test]
fn an_extra_message_not_from_the_source_is_rejected_but_is_no_duplicate() {
    let dst = copy_with("Archive/2019", |m| {
        m.push(msg("stranger", 4_000, D3, &[]));
    });
    let e = assert_rejected(&dst, "Archive/2019");
    assert!(e.contains("(0 missing, 1 extra)"), "{e}");
    assert_eq!(duplicates(&source(), &dst), 0);
}

#[test]
fn a_message_in_the_wrong_folder_is_rejected_in_both_and_is_no_duplicate() {
    let mut folders = source_folders();
    let moved = folders[1].1.remove(0); // out of Sent
    folders[2].1.push(moved); // into Archive/2019
    let dst = snap(&folders, 101, &["Archive"]);
    let e = compare(&source(), &dst).unwrap_err();
    assert!(e.contains("Sent") && e.contains("Archive/2019"), "{e}");
    assert_eq!(duplicates(&source(), &dst), 0);
}

#[test]
fn a_message_in_a_folder_that_was_empty_on_the_source_is_rejected() {
    let dst = copy_with("Empty", |m| m.push(msg("stranger", 600, D1, &[])));
    assert_rejected(&dst, "Empty");
    assert_eq!(duplicates(&source(), &dst), 0);
}

// ------------------------------------------ folders the source lacks --

/// A destination folder the source does not have is looked at too: a whole
/// second copy of INBOX in "INBOX-copy", or a stray message in "Junk", is
/// rejected (an empty extra folder is not: servers make their own).
#[test]
fn mail_in_a_destination_folder_the_source_lacks_is_rejected() {
    let mut folders = source_folders();
    let inbox = folders[0].1.clone();
    folders.push(("INBOX-copy", inbox));
    let dst = snap(&folders, 101, &["Archive"]);
    let e = assert_rejected(&dst, "INBOX-copy");
    assert!(e.contains("in a folder the source does not have"), "{e}");
    assert!(duplicates(&source(), &dst) > 0);

    let mut folders = source_folders();
    folders.push(("Junk", vec![msg("stranger", 600, D1, &[])]));
    let dst = snap(&folders, 101, &["Archive"]);
    assert_rejected(&dst, "Junk");
    assert_eq!(duplicates(&source(), &dst), 0, "a stranger is no duplicate");

    let mut folders = source_folders();
    folders.push(("Trash", Vec::new()));
    assert_eq!(
        compare(&source(), &snap(&folders, 101, &["Archive"])),
        Ok(())
    );
}

/// Copies of a source message count as duplicates in whatever folder they
/// are: three copies in a folder the source lacks are three duplicates.
#[test]
fn duplicates_in_a_folder_the_source_lacks_are_counted() {
    let mut folders = source_folders();
    let twice = folders[0].1[0].clone();
    folders.push(("Elsewhere", vec![twice.clone(), twice.clone(), twice]));
    let dst = snap(&folders, 101, &["Archive"]);
    assert_eq!(duplicates(&source(), &dst), 3);
    assert_rejected(&dst, "Elsewhere");
}

/// A second copy that differs in flags or INTERNALDATE (say, one appended
/// without its flags) is a duplicate all the same: the same bytes twice.
#[test]
fn a_second_copy_with_other_flags_or_date_is_a_duplicate() {
    let flags_lost = copy_with("Sent", |m| {
        let mut again = m[0].clone();
        again.flags.clear();
        m.push(again);
    });
    let date_moved = copy_with("Sent", |m| {
        let mut again = m[0].clone();
        again.internaldate += 3600;
        m.push(again);
    });
    for dst in [flags_lost, date_moved] {
        let e = assert_rejected(&dst, "Sent");
        assert!(e.contains("(0 missing, 1 extra)"), "{e}");
        assert_eq!(duplicates(&source(), &dst), 1);
    }
}

/// A source folder that is only a \Noselect name must exist on the
/// destination too.
#[test]
fn a_missing_noselect_folder_is_rejected() {
    let dst = snap(&source_folders(), 101, &[]);
    assert!(!dst.all_folders.contains("Archive"));
    assert_rejected(&dst, "Archive");
}

// ------------------------------------------------- through real servers --

fn copy_account_with_probes(src: &Dovecot, dst: &Dovecot) {
    let mut from = Probe::login(src.imap_port(), "alice", "apw");
    let mut to = Probe::login_master(dst.imap_port(), "alice", MASTER_USER, MASTER_PASSWORD);
    let (prefix, d) = from.namespace();
    let d = d.unwrap();
    for (folder, _) in SMALL_CORPUS {
        let raw = raw_name(folder, &prefix, d);
        if folder != "INBOX" {
            to.create(&raw);
        }
        for m in from.fetch_all(&raw) {
            let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
            to.append(&raw, &flags, &m.internaldate, &m.body);
        }
    }
    from.logout();
    to.logout();
}

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), "alice", MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

/// The small corpus copied message by message with the probe is accepted;
/// then each wrong change made on the real destination is rejected, one
/// folder at a time (the changes add up, each verdict must name the new
/// folder): a duplicate APPENDed, flags changed by STORE, a message
/// EXPUNGEd, one re-APPENDed with another date, one with a byte changed,
/// and a folder DELETEd.
#[test]
fn real_servers_a_probe_copy_is_accepted_and_each_wrong_change_is_rejected() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user("alice", "apw");
    dst.add_user("alice", "unused");
    let total = seed_small_corpus(&src, "alice", "apw");
    copy_account_with_probes(&src, &dst);
    let s = snapshot(&src, "alice", "apw");
    assert_eq!(s.total_messages(), total);
    let d = dest_snapshot(&dst);
    assert_eq!(compare(&s, &d), Ok(()));
    assert_eq!(duplicates(&s, &d), 0);

    let judge = |folder: &str, dups: usize| {
        let d = dest_snapshot(&dst);
        let e = compare(&s, &d).expect_err(folder);
        assert!(e.contains(folder), "{folder} not named: {e}");
        assert_eq!(
            duplicates(&s, &d),
            dups,
            "after the change in {folder}: {e}"
        );
        e
    };
    let mut p = Probe::login_master(dst.imap_port(), "alice", MASTER_USER, MASTER_PASSWORD);
    let (prefix, delim) = p.namespace();
    let raw = |folder: &str| raw_name(folder, &prefix, delim.unwrap());
    let first = |p: &mut Probe, folder: &str| p.fetch_all(&raw(folder)).remove(0);

    // A duplicate: INBOX's first message APPENDed again, as it was.
    let m = first(&mut p, "INBOX");
    let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    p.append(&raw("INBOX"), &flags, &m.internaldate, &m.body);
    judge("INBOX", 1);

    // Other flags: STORE on Sent's first message.
    let m = first(&mut p, "Sent");
    p.store_flags(&raw("Sent"), m.uid, &["\\Flagged"]);
    judge("Sent", 1);

    // A message lost: EXPUNGE in Archive.
    let m = first(&mut p, "Archive");
    p.expunge_uid(&raw("Archive"), m.uid);
    judge("Archive", 1);

    // Another INTERNALDATE: Archive/2019's first message replaced by the
    // same bytes and flags, 59 seconds later.
    let m = first(&mut p, "Archive/2019");
    let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    let later = m.internaldate.replacen(":00 ", ":59 ", 1);
    assert_ne!(later, m.internaldate);
    p.expunge_uid(&raw("Archive/2019"), m.uid);
    p.append(&raw("Archive/2019"), &flags, &later, &m.body);
    judge("Archive/2019", 1);

    // Other bytes, same size, flags and date: in Entwürfe.
    let m = first(&mut p, "Entwürfe");
    let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    let mut body = m.body.clone();
    let at = body.len() - 5; // the "end" line
    body[at] = if body[at] == b'e' { b'E' } else { b'e' };
    p.expunge_uid(&raw("Entwürfe"), m.uid);
    p.append(&raw("Entwürfe"), &flags, &m.internaldate, &body);
    judge("Entwürfe", 1);

    // A folder gone.
    p.command("SELECT INBOX");
    p.delete(&raw("Entwürfe"));
    p.logout();
    let e = judge("Entwürfe", 1);
    assert!(e.contains("Entwürfe: missing on the destination"), "{e}");
}
