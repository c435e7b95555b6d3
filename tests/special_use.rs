//! Special-use folders between real Dovecot servers: the source's Sent,
//! Drafts, Trash and Junk land in the destination's own folders of that use
//! whatever either side calls them (found by RFC 6154 attributes, else by
//! well-known names), unless a translation says otherwise or the job turns
//! the mapping off. Checked by the independent probe.

mod support;

use mailferry::copy::{self, Cancel, Options};
use mailferry::job::SpecialUse;
use mailferry::outcome::{FolderOutcome, JobOutcome, Verdict};
use mailferry::store::Store;
use support::corpus::{snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, ServerOptions, MASTER_PASSWORD, MASTER_USER};
use support::faults::{Action, Dir, Fault, FaultProxy, Trigger};
use support::jobs::{run_job, JobSpec};
use support::probe::{mutf7_encode, Probe};

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
const DATE: &str = "15-Jun-2010 08:30:00 -0700";

/// Dovecot marks these source folders with SPECIAL-USE attributes (the
/// block adds to the harness's own `namespace inbox`).
const APPLE_STYLE_MARKS: &str = r#"
namespace inbox {
  mailbox "Sent Messages" {
    special_use = \Sent
  }
  mailbox "Deleted Messages" {
    special_use = \Trash
  }
  mailbox "Drafts" {
    special_use = \Drafts
  }
  mailbox "Junk" {
    special_use = \Junk
  }
}
"#;

/// (folder, messages) of the marked source.
const APPLE_STYLE: &[(&str, usize)] = &[
    ("INBOX", 1),
    ("Sent Messages", 3),
    ("Sent Messages/2019", 1),
    ("Deleted Messages", 2),
    ("Drafts", 1),
    ("Junk", 2),
];

/// The destination's German folders, none of them marked.
const GERMAN: &[&str] = &["Gesendete Objekte", "Papierkorb", "Entwürfe", "Spam"];

fn start(layout: Layout, extra_config: &str) -> Dovecot {
    Dovecot::start_with(&ServerOptions {
        tls: false,
        extra_config: extra_config.into(),
        ..ServerOptions::new(layout)
    })
}

/// A source and a destination (plain IMAP), users added.
fn servers(src: (Layout, &str), dst: (Layout, &str)) -> (Dovecot, Dovecot) {
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| start(src.0, src.1));
        let d = sc.spawn(|| start(dst.0, dst.1));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "unused");
    (s, d)
}

fn message(folder: &str, n: usize) -> Vec<u8> {
    format!(
        "Message-ID: <{n}.{}@special-use.test>\r\nDate: Tue, 15 Jun 2010 08:30:00 -0700\r\nFrom: a@example.com\r\nTo: b@example.com\r\nSubject: {folder} {n}\r\n\r\nBody of {folder} {n}.\r\n",
        folder.replace(['/', '.', ' '], "-")
    )
    .into_bytes()
}

/// Creates each folder (logical path, `/` between levels) and fills it.
fn seed(server: &Dovecot, folders: &[(&str, usize)]) {
    let mut p = Probe::login(server.imap_port(), USER, PASSWORD);
    let (prefix, delimiter) = p.namespace();
    let d = delimiter.unwrap_or('/');
    for (path, count) in folders {
        let raw = match *path {
            "INBOX" => "INBOX".to_string(),
            _ => format!(
                "{prefix}{}",
                mutf7_encode(&path.replace('/', &d.to_string()))
            ),
        };
        if raw != "INBOX" {
            p.create(&raw);
        }
        for n in 0..*count {
            p.append(&raw, &[], DATE, &message(path, n));
        }
    }
    p.logout();
}

/// Creates empty folders on the destination, as its users left them.
fn create_on_destination(dst: &Dovecot, names: &[&str]) {
    let mut p = dest_probe(dst);
    for name in names {
        p.create(&mutf7_encode(name));
    }
    p.logout();
}

fn dest_probe(dst: &Dovecot) -> Probe {
    Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD)
}

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut p = dest_probe(dst);
    let snap = snapshot_with(&mut p);
    p.logout();
    snap
}

fn count(snap: &Snapshot, folder: &str) -> usize {
    snap.folders
        .get(folder)
        .unwrap_or_else(|| panic!("no folder {folder}: {:?}", snap.all_folders))
        .messages
        .len()
}

/// Messages in a destination folder, whatever LIST says of it.
fn exists(dst: &Dovecot, folder: &str) -> u32 {
    let mut p = dest_probe(dst);
    let n = p.examine(&mutf7_encode(folder)).exists;
    p.logout();
    n
}

fn job(src: &Dovecot, dst: &Dovecot, name: &str) -> JobSpec {
    JobSpec::plain(
        name,
        src.imap_port(),
        dst.imap_port(),
        &format!("{USER},{PASSWORD}"),
    )
}

fn run(spec: &JobSpec, special_use: SpecialUse) -> JobOutcome {
    let mut job = spec.job();
    job.special_use = special_use;
    let db = tempfile::tempdir().unwrap();
    let (outcome, _) = run_job(job, &db.path().join("m.db"), Default::default());
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    outcome
}

fn folder<'a>(outcome: &'a JobOutcome, source: &str) -> &'a FolderOutcome {
    outcome.mailboxes[0]
        .folders
        .iter()
        .find(|f| f.source == source)
        .unwrap_or_else(|| panic!("no outcome for {source}: {outcome:#?}"))
}

#[test]
fn marked_source_folders_land_in_the_destinations_german_folders_found_by_name() {
    let (src, dst) = servers((Layout::Slash, APPLE_STYLE_MARKS), (Layout::Slash, ""));
    seed(&src, APPLE_STYLE);
    create_on_destination(&dst, GERMAN);

    let outcome = run(&job(&src, &dst, "special-use"), SpecialUse::Auto);

    let after = dest_snapshot(&dst);
    for (german, n) in [
        ("Gesendete Objekte", 3),
        ("Gesendete Objekte/2019", 1),
        ("Papierkorb", 2),
        ("Entwürfe", 1),
        ("Spam", 2),
        ("INBOX", 1),
    ] {
        assert_eq!(count(&after, german), n, "{german}");
    }
    for english in ["Sent Messages", "Deleted Messages", "Drafts", "Junk"] {
        assert!(
            !after.all_folders.iter().any(|f| f.starts_with(english)),
            "{english} was created: {:?}",
            after.all_folders
        );
    }
    assert_eq!(outcome.migrated(), 10);

    // The outcome and the log say where each went, and why.
    let sent = folder(&outcome, "Sent Messages");
    assert_eq!(sent.destination, "Gesendete Objekte");
    let expected = "Sent Messages is the source's Sent folder (marked \\Sent); it goes to the destination's Sent folder, \"Gesendete Objekte\" (found by its name).";
    assert_eq!(sent.notes, [expected]);
    assert_eq!(
        folder(&outcome, "Sent Messages/2019").destination,
        "Gesendete Objekte/2019"
    );
    let log = mailferry::report::render_log(&outcome);
    assert!(
        log.contains("[OK  ] Sent Messages -> Gesendete Objekte: 3 migrated"),
        "{log}"
    );
    assert!(log.contains(&format!("note: {expected}")), "{log}");
    for line in [
        "Deleted Messages is the source's Trash folder (marked \\Trash); it goes to the destination's Trash folder, \"Papierkorb\" (found by its name).",
        "Drafts is the source's Drafts folder (marked \\Drafts); it goes to the destination's Drafts folder, \"Entwürfe\" (found by its name).",
        "Junk is the source's Junk folder (marked \\Junk); it goes to the destination's Junk folder, \"Spam\" (found by its name).",
        "Sent Messages/2019 follows Sent Messages, the source's Sent folder, into the destination's Sent folder, \"Gesendete Objekte\".",
    ] {
        assert!(log.contains(line), "{line}\n{log}");
    }

    // A second run finds everything where the first put it.
    let again = run(&job(&src, &dst, "special-use"), SpecialUse::Auto);
    assert_eq!(again.migrated(), 0, "{again:#?}");
    assert_eq!(dest_snapshot(&dst), after);

    // The verification pass alone compares each folder with the folder the
    // copy put it in.
    let db = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let verified = rt
        .block_on(copy::verify(
            job(&src, &dst, "special-use").job(),
            Store::open(&db.path().join("m.db")).unwrap(),
            mailferry::progress::discard(),
            Options::default(),
            Cancel::default(),
        ))
        .unwrap();
    assert_eq!(verified.verdict(), Verdict::Success, "{verified:#?}");
    let sent = folder(&verified, "Sent Messages");
    assert_eq!(sent.destination, "Gesendete Objekte");
    let check = sent.verification.as_ref().expect("verified");
    assert!(check.verified() && check.source_messages == 3, "{check:?}");
}

#[test]
fn a_translation_overrides_the_special_use_mapping_and_skip_patterns_still_skip() {
    let (src, dst) = servers((Layout::Slash, APPLE_STYLE_MARKS), (Layout::Slash, ""));
    seed(&src, APPLE_STYLE);
    create_on_destination(&dst, GERMAN);
    let mut spec = job(&src, &dst, "special-use-translated");
    spec.translate = "Sent Messages,Alte Gesendete".into();
    spec.skip = "Deleted %\n*/2019\n".into();

    let outcome = run(&spec, SpecialUse::Auto);

    let after = dest_snapshot(&dst);
    assert_eq!(count(&after, "Alte Gesendete"), 3);
    assert_eq!(count(&after, "Gesendete Objekte"), 0);
    // The others still go to their German counterparts.
    assert_eq!(count(&after, "Entwürfe"), 1);
    assert_eq!(count(&after, "Spam"), 2);
    // What the patterns name stays behind, wherever it would have gone.
    assert_eq!(count(&after, "Papierkorb"), 0);
    for gone in ["Alte Gesendete/2019", "Deleted Messages"] {
        assert!(!after.all_folders.contains(gone), "{:?}", after.all_folders);
    }
    assert_eq!(outcome.migrated(), 7, "{outcome:#?}");
    assert_eq!(
        folder(&outcome, "Sent Messages").notes,
        ["Sent Messages is the source's Sent folder, but the job's translation sends it to \"Alte Gesendete\" instead of the destination's Sent folder, \"Gesendete Objekte\"."]
    );
}

#[test]
fn with_special_use_off_folders_keep_their_names() {
    let (src, dst) = servers((Layout::Slash, APPLE_STYLE_MARKS), (Layout::Slash, ""));
    seed(&src, APPLE_STYLE);
    create_on_destination(&dst, GERMAN);

    let outcome = run(&job(&src, &dst, "special-use-off"), SpecialUse::Off);

    let after = dest_snapshot(&dst);
    for (path, n) in APPLE_STYLE {
        assert_eq!(count(&after, path), *n, "{path}");
    }
    for german in GERMAN {
        assert_eq!(count(&after, german), 0, "{german}");
    }
    assert!(outcome.mailboxes[0]
        .folders
        .iter()
        .all(|f| f.notes.is_empty() && f.destination == f.source));
}

/// The destination marks its folders (with names no table knows), and also
/// has unmarked folders with the English names: the marks win.
const ODD_MARKS: &str = r#"
namespace inbox {
  mailbox "Outbox Copies" {
    special_use = \Sent
  }
  mailbox "Bin" {
    special_use = \Trash
  }
  mailbox "Rough Work" {
    special_use = \Drafts
  }
  mailbox "Unwanted" {
    special_use = \Junk
  }
  mailbox "Kept" {
    special_use = \Archive
  }
  mailbox "Everything" {
    special_use = \All
  }
}
"#;

#[test]
fn unmarked_source_folders_found_by_name_land_in_the_destinations_marked_folders() {
    let (src, dst) = servers((Layout::Courier, ""), (Layout::Slash, ODD_MARKS));
    seed(
        &src,
        &[
            ("Sent", 2),
            ("Trash", 1),
            ("Drafts", 1),
            ("Junk", 1),
            ("Archive", 1),
            ("Archive/2019", 2),
            ("Projects", 1),
        ],
    );
    create_on_destination(
        &dst,
        &[
            "Outbox Copies",
            "Bin",
            "Rough Work",
            "Unwanted",
            "Kept",
            "Everything",
        ],
    );
    create_on_destination(&dst, &["Sent", "Trash"]);

    let outcome = run(&job(&src, &dst, "special-use-marked"), SpecialUse::Auto);

    let after = dest_snapshot(&dst);
    for (path, n) in [
        ("Outbox Copies", 2),
        ("Bin", 1),
        ("Rough Work", 1),
        ("Unwanted", 1),
        ("Kept", 1),
        ("Kept/2019", 2),
        ("Projects", 1),
        ("Sent", 0),
        ("Trash", 0),
        ("Everything", 0),
    ] {
        assert_eq!(count(&after, path), n, "{path}");
    }
    assert!(
        !after.all_folders.contains("Drafts"),
        "{:?}",
        after.all_folders
    );
    assert!(
        !after.all_folders.contains("Archive"),
        "{:?}",
        after.all_folders
    );
    assert_eq!(
        folder(&outcome, "INBOX.Sent").notes,
        ["INBOX.Sent is the source's Sent folder (found by its name); it goes to the destination's Sent folder, \"Outbox Copies\" (marked \\Sent)."]
    );
    assert_eq!(
        folder(&outcome, "INBOX.Archive.2019").destination,
        "Kept/2019"
    );
}

/// Marks a server sends only when asked with `RETURN (SPECIAL-USE)` (a
/// proxy takes them out of the plain LIST). Dovecot 2.3 lists an
/// `auto = create` folder that was never written to as `\Noselect` once a
/// subfolder is created in it, and goes on doing so after messages are
/// appended to it: it stays the destination's Sent folder all the same.
const SENT_MARK_ONLY: &str = r#"
namespace inbox {
  mailbox "Outbox Copies" {
    special_use = \Sent
    auto = create
  }
}
"#;

/// The older ways of telling: a source that offers XLIST but not
/// SPECIAL-USE is asked with XLIST; a destination whose plain LIST carries
/// no marks (a proxy takes Dovecot's out) is asked again with
/// `RETURN (SPECIAL-USE)`, and its mark beats a folder named "Sent".
#[test]
fn xlist_on_the_source_and_marks_given_only_when_asked_on_the_destination() {
    let xlist_only = format!(
        "{APPLE_STYLE_MARKS}protocol imap {{\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MULTIAPPEND CHILDREN LIST-EXTENDED ESEARCH MOVE STATUS=SIZE XLIST\n}}\n"
    );
    let (src, dst) = servers(
        (Layout::Slash, &xlist_only),
        (Layout::Slash, SENT_MARK_ONLY),
    );
    seed(&src, APPLE_STYLE);
    create_on_destination(&dst, &["Sent"]);
    let src_proxy = FaultProxy::start(src.imap_port(), vec![]);
    let unmark = Fault::new(
        Trigger::pattern(Dir::ToClient, "(\\HasNoChildren \\Sent) \"/\"", 0),
        Action::ReplaceLine("(\\HasNoChildren) \"/\" \"Outbox Copies\"".into()),
    )
    .always();
    let dst_proxy = FaultProxy::start(dst.imap_port(), vec![unmark]);
    let spec = JobSpec::plain(
        "special-use-asked",
        src_proxy.port(),
        dst_proxy.port(),
        &format!("{USER},{PASSWORD}"),
    );

    let outcome = run(&spec, SpecialUse::Auto);

    let sent_by = |proxy: &FaultProxy, needle: &str| {
        proxy
            .client_bytes()
            .iter()
            .any(|c| String::from_utf8_lossy(c).contains(needle))
    };
    assert!(sent_by(&src_proxy, "XLIST \"\" \"*\""));
    assert!(sent_by(&dst_proxy, "LIST \"\" \"*\" RETURN (SPECIAL-USE)"));
    assert!(!dst_proxy.fired().is_empty(), "the proxy hid nothing");
    // The snapshot passes over "Outbox Copies": see SENT_MARK_ONLY.
    let after = dest_snapshot(&dst);
    assert_eq!(exists(&dst, "Outbox Copies"), 3);
    assert_eq!(count(&after, "Outbox Copies/2019"), 1);
    assert_eq!(count(&after, "Sent"), 0);
    assert_eq!(
        folder(&outcome, "Sent Messages").notes,
        ["Sent Messages is the source's Sent folder (marked \\Sent); it goes to the destination's Sent folder, \"Outbox Copies\" (marked \\Sent)."]
    );
    // Nothing else of the destination is marked or named for a use: the
    // rest keep their names.
    assert_eq!(count(&after, "Deleted Messages"), 2);
    assert_eq!(count(&after, "Junk"), 2);

    // A second run finds the same Sent folder (listed `\Noselect` now).
    let again = run(&spec, SpecialUse::Auto);
    assert_eq!(again.migrated(), 0, "{again:#?}");
    assert_eq!(exists(&dst, "Outbox Copies"), 3);
    assert!(!dest_snapshot(&dst).all_folders.contains("Sent Messages"));
}

/// Dovecot lists an auto-created folder that got a subfolder before its
/// first message as `\Noselect` for good, though it holds mail: the copy
/// takes that mail too, and says why.
#[test]
fn mail_in_a_folder_the_source_lists_as_noselect_is_copied_too() {
    let auto = "namespace inbox {\n  mailbox Archive {\n    auto = create\n  }\n}\n";
    let (src, dst) = servers((Layout::Slash, auto), (Layout::Slash, ""));
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.create("Archive/2019");
    p.append("Archive/2019", &[], DATE, &message("Archive/2019", 0));
    for n in 0..2 {
        p.append("Archive", &[], DATE, &message("Archive", n));
    }
    let listed = p.list();
    let archive = listed.iter().find(|e| e.name_raw == "Archive").unwrap();
    // The premise: listed as holding no messages, yet it holds two.
    assert!(!archive.selectable(), "{:?}", archive.flags);
    assert_eq!(p.examine("Archive").exists, 2);
    p.logout();

    let outcome = run(&job(&src, &dst, "noselect"), SpecialUse::Auto);
    assert_eq!(exists(&dst, "Archive"), 2);
    assert_eq!(exists(&dst, "Archive/2019"), 1);
    assert_eq!(outcome.migrated(), 3, "{outcome:#?}");
    let archive = folder(&outcome, "Archive");
    assert_eq!(archive.migrated, 2);
    assert!(
        archive
            .notes
            .iter()
            .any(|n| n.contains("\\Noselect") && n.contains("counts 2")),
        "{:?}",
        archive.notes
    );
    // A second run finds them there.
    assert_eq!(
        run(&job(&src, &dst, "noselect"), SpecialUse::Auto).migrated(),
        0
    );
}
