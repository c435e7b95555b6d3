//! Gmail's labels, on a private Dovecot built like Gmail: a `[Gmail]`
//! hierarchy whose All Mail is a virtual folder of every message (Dovecot's
//! virtual plugin), with Starred and Important as virtual views too, each
//! marked with its special-use attribute. A job with `preset = "gmail"` on
//! the source copies every message once (the views are skipped and said so
//! in the log); with `gmail_views = "copy"` the views are copied as well.

mod support;

use std::os::unix::fs::chown;
use std::path::Path;

use mailferry::copy::Options;
use mailferry::outcome::{JobOutcome, Verdict};
use support::corpus::{snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, ServerOptions, MASTER_PASSWORD, MASTER_USER};
use support::faults::{
    compare, duplicates, seed_small_corpus, Action, Dir, Fault, FaultProxy, Trigger,
};
use support::jobs::{run_job, JobSpec};
use support::probe::Probe;

const USER: &str = "gina";
const PASSWORD: &str = "labels1";
const VIEWS: [&str; 3] = ["[Gmail]/All Mail", "[Gmail]/Important", "[Gmail]/Starred"];

/// Dovecot's virtual plugin in a namespace of its own under `[Gmail]/`
/// (the separator of `Layout::Slash`), each view marked as Gmail marks it.
/// A view is a directory holding a `dovecot-virtual` file: the mailboxes
/// it draws from (`*`: every one; Dovecot leaves virtual ones out), then
/// the search that picks its messages.
const GMAIL_CONFIG: &str = r#"
mail_plugins = $mail_plugins virtual
namespace gmail {
  prefix = [Gmail]/
  separator = /
  location = virtual:~/virtual
  mailbox "All Mail" {
    special_use = \All
  }
  mailbox Starred {
    special_use = \Flagged
  }
  mailbox Important {
    special_use = \Important
  }
}
"#;

/// A plaintext Dovecot whose `USER` looks like a Gmail account: the small
/// corpus (28 messages in INBOX, Sent, Archive, Archive/2019, Entwürfe)
/// as labels, and the three views over them.
fn gmail_like() -> Dovecot {
    let mut options = ServerOptions::new(Layout::Slash);
    options.tls = false;
    options.extra_config = GMAIL_CONFIG.into();
    let server = Dovecot::start_with(&options);
    server.add_user(USER, PASSWORD);
    let home = server.home(USER);
    for (view, search) in [
        ("All Mail", "all"),
        ("Starred", "flagged"),
        // The corpus has no $Important keyword: answered mail stands in.
        ("Important", "answered"),
    ] {
        let dir = home.join("virtual").join(view);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dovecot-virtual"), format!("*\n  {search}\n")).unwrap();
    }
    // Dovecot runs the user's session as the mail user (uid 8).
    for dir in [
        home.clone(),
        home.join("virtual"),
        home.join("virtual/All Mail"),
        home.join("virtual/Starred"),
        home.join("virtual/Important"),
    ] {
        chown(&dir, Some(8), Some(8)).unwrap();
    }
    for view in ["All Mail", "Starred", "Important"] {
        let file = home.join("virtual").join(view).join("dovecot-virtual");
        chown(file, Some(8), Some(8)).unwrap();
    }
    seed_small_corpus(&server, USER, PASSWORD);
    server
}

fn destination() -> Dovecot {
    Dovecot::start_plaintext(Layout::Slash)
}

fn snap(server: &Dovecot, user: &str) -> Snapshot {
    let mut p = Probe::login_master(server.imap_port(), user, MASTER_USER, MASTER_PASSWORD);
    let s = snapshot_with(&mut p);
    p.logout();
    s
}

/// The source as it would be without its views: the labels alone.
fn labels_only(src: &Snapshot) -> Snapshot {
    let mut s = src.clone();
    for v in VIEWS {
        s.folders.remove(v);
        s.all_folders.remove(v);
    }
    s.all_folders.remove("[Gmail]");
    s
}

/// A job from `source_port` to the destination, `preset = "gmail"` on the
/// source with its own host, protocol and ports (the preset fills only
/// what the job leaves blank).
fn gmail_job(name: &str, source_port: u16, dst: &Dovecot, local: &str) -> JobSpec {
    let mut spec = JobSpec::plain(
        name,
        source_port,
        dst.imap_port(),
        &format!("{USER},{PASSWORD},{local}"),
    );
    spec.source_extra = "allow_plaintext = true\npreset = \"gmail\"\n".into();
    spec
}

fn run(spec: &JobSpec, extra_folders: &str, db: &Path) -> JobOutcome {
    run_with(spec, extra_folders, db, Options::default())
}

fn run_with(spec: &JobSpec, extra_folders: &str, db: &Path, opts: Options) -> JobOutcome {
    let text = spec
        .toml()
        .replace("[folders]\n", &format!("[folders]\n{extra_folders}"));
    let job = mailferry::job::JobFile::from_toml(&text)
        .and_then(|f| f.validate(Path::new(".")))
        .unwrap_or_else(|e| panic!("test job is invalid: {e}\n{text}"));
    assert!(
        job.source.quirks.labels_as_folders,
        "the gmail preset's quirks"
    );
    assert_eq!(job.source.host, "127.0.0.1", "the preset overrode the host");
    run_job(job, db, opts).0
}

/// The views really are views here: All Mail holds every message of the
/// labels, Starred and Important some of them. Copying them would copy
/// those messages again.
fn assert_views_hold_copies(src: &Snapshot) {
    let labels = labels_only(src);
    let total = labels.total_messages();
    assert_eq!(total, 28);
    assert_eq!(src.folders["[Gmail]/All Mail"].messages.len(), total);
    assert!(!src.folders["[Gmail]/Starred"].messages.is_empty());
    assert!(!src.folders["[Gmail]/Important"].messages.is_empty());
    assert_eq!(
        duplicates(&labels, src),
        total
            + src.folders["[Gmail]/Starred"].messages.len()
            + src.folders["[Gmail]/Important"].messages.len(),
        "every message of a view is a copy of one in a label"
    );
}

#[test]
fn a_gmail_source_copies_each_message_once_and_the_log_names_the_skipped_views() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(gmail_like);
        let d = sc.spawn(destination);
        (s.join().unwrap(), d.join().unwrap())
    });
    dst.add_user("gina-new", "unused");
    let before = snap(&src, USER);
    assert_views_hold_copies(&before);
    let db = tempfile::tempdir().unwrap();
    let spec = gmail_job("gmail-views", src.imap_port(), &dst, "gina-new");
    // A dry run first: it says the same of the views, and nothing of them
    // as "skipped by the job's folder rules".
    let dry = Options {
        dry_run: true,
        ..Options::default()
    };
    let planned = run_with(&spec, "", &db.path().join("dry.db"), dry);
    let dry_log = mailferry::report::render_log(&planned);
    assert!(
        dry_log.contains("note: The source folder \"[Gmail]/All Mail\" (marked \\All) was not copied: a Gmail view"),
        "{dry_log}"
    );
    assert!(
        !dry_log.contains("skipped by the job's folder rules"),
        "{dry_log}"
    );
    assert_eq!(planned.would_copy().0, 28, "{dry_log}");
    let outcome = run(&spec, "", &db.path().join("a.db"));

    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let after = snap(&dst, "gina-new");
    let labels = labels_only(&before);
    compare(&labels, &after).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&labels, &after), 0);
    assert_eq!(after.total_messages(), 28);
    assert!(
        after.all_folders.iter().all(|f| !f.starts_with("[Gmail]")),
        "no view (nor their empty [Gmail] parent) on the destination: {:?}",
        after.all_folders
    );
    let m = &outcome.mailboxes[0];
    assert_eq!(m.migrated(), 28);
    let log = mailferry::report::render_log(&outcome);
    for (view, attribute) in [
        ("[Gmail]/All Mail", "\\All"),
        ("[Gmail]/Starred", "\\Flagged"),
        ("[Gmail]/Important", "\\Important"),
    ] {
        let line = format!(
            "note: The source folder \"{view}\" (marked {attribute}) was not copied: a Gmail view of mail kept in other folders: skipped so messages are not copied twice."
        );
        assert!(log.contains(&line), "{line}\n---\n{log}");
    }
    // Nothing changed on the source.
    assert_eq!(labels_only(&snap(&src, USER)), labels);
}

#[test]
fn with_gmail_views_copy_the_views_are_copied_too() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(gmail_like);
        let d = sc.spawn(destination);
        (s.join().unwrap(), d.join().unwrap())
    });
    dst.add_user("gina-all", "unused");
    let before = snap(&src, USER);
    let db = tempfile::tempdir().unwrap();
    let spec = gmail_job("gmail-views-copy", src.imap_port(), &dst, "gina-all");
    let outcome = run(&spec, "gmail_views = \"copy\"\n", &db.path().join("b.db"));

    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let after = snap(&dst, "gina-all");
    // Every folder, the views included, holds what the source's does.
    compare(&before, &after).unwrap_or_else(|e| panic!("{e}"));
    for v in VIEWS {
        assert_eq!(
            after.folders[v].messages.len(),
            before.folders[v].messages.len(),
            "{v}"
        );
    }
    let copied = 28
        + before.folders["[Gmail]/All Mail"].messages.len()
        + before.folders["[Gmail]/Starred"].messages.len()
        + before.folders["[Gmail]/Important"].messages.len();
    assert_eq!(outcome.mailboxes[0].migrated() as usize, copied);
    let log = mailferry::report::render_log(&outcome);
    assert!(!log.contains("was not copied"), "{log}");
}

/// The known gap: a plain LIST reply that carries XLIST's `\AllMail`
/// (imap-proto refused the whole reply, so the mailbox failed). Through a
/// proxy that rewrites Dovecot's `\All` line, the view is still known and
/// skipped, and the rest is copied.
#[test]
fn a_list_reply_with_xlists_allmail_attribute_is_read_and_all_mail_still_skipped() {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(gmail_like);
        let d = sc.spawn(destination);
        (s.join().unwrap(), d.join().unwrap())
    });
    dst.add_user("gina-x", "unused");
    let rewrite = Fault::new(
        Trigger::pattern(Dir::ToClient, "* LIST (\\HasNoChildren \\All)", 0),
        Action::ReplaceLine("* LIST (\\HasNoChildren \\AllMail) \"/\" \"[Gmail]/All Mail\"".into()),
    )
    .always();
    let proxy = FaultProxy::start(src.imap_port(), vec![rewrite]);
    let before = snap(&src, USER);
    let db = tempfile::tempdir().unwrap();
    let spec = gmail_job("gmail-xlist", proxy.port(), &dst, "gina-x");
    let outcome = run(&spec, "", &db.path().join("c.db"));

    assert!(!proxy.fired().is_empty(), "the LIST line was rewritten");
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let after = snap(&dst, "gina-x");
    let labels = labels_only(&before);
    compare(&labels, &after).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&labels, &after), 0);
    let log = mailferry::report::render_log(&outcome);
    assert!(
        log.contains("The source folder \"[Gmail]/All Mail\" (marked \\All) was not copied"),
        "{log}"
    );
}
