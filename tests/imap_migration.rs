//! IMAP to IMAP migrations between private Dovecot instances, checked by an
//! independent IMAP probe: every folder, every message byte for byte, its
//! INTERNALDATE and flags, and re-runs that change nothing.

mod support;

use mailferry::outcome::Verdict;
use mailferry::progress::Event;
use support::corpus::{
    assert_same_mail, assert_unchanged, raw_name, seed_standard_corpus, snapshot, snapshot_with,
};
use support::dovecot::{Dovecot, Layout, ServerOptions, MASTER_PASSWORD, MASTER_USER};
use support::jobs::{DestAuth, JobSpec};
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

/// The destination name of a corpus folder on a "."-separated server.
fn dotted_rename(path: &str) -> String {
    path.replace("Folder.With.Dots", "Folder_With_Dots")
}

fn identity(path: &str) -> String {
    path.to_string()
}

fn servers(src: Layout, dst: Layout) -> (Dovecot, Dovecot) {
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start(src));
        let d = sc.spawn(|| Dovecot::start(dst));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "other-password");
    (s, d)
}

fn dest_snapshot(dst: &Dovecot, user: &str) -> support::corpus::Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), user, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

fn plain_job(name: &str, src_port: u16, dst_port: u16, users: String) -> JobSpec {
    JobSpec::plain(name, src_port, dst_port, &users)
}

/// Two plaintext servers that offer COMPRESS=DEFLATE (Dovecot's imap_zlib).
fn zlib_servers() -> (Dovecot, Dovecot) {
    let zlib = || ServerOptions {
        tls: false,
        extra_config: "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    };
    (Dovecot::start_with(&zlib()), Dovecot::start_with(&zlib()))
}

#[test]
fn slash_source_to_courier_destination_copies_everything_and_a_rerun_copies_nothing() {
    let (src, dst) = servers(Layout::Slash, Layout::Courier);
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    let before_src = snapshot(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let job = JobSpec::new("slash-to-courier", &src, &dst, "alice,secret1");

    let (outcome, events) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated() as usize, seeded.total());
    assert_eq!(outcome.skipped(), 0);
    let after = dest_snapshot(&dst, USER);
    assert_same_mail(&before_src, &after, dotted_rename);
    // Empty folders and non-selectable parents exist too.
    for folder in ["Empty", "Projects", "Archive/2019", "Folder With Space"] {
        assert!(
            after.all_folders.contains(folder),
            "{folder} missing: {:?}",
            after.all_folders
        );
    }
    // The rename is told, not silent.
    let mailbox = &outcome.mailboxes[0];
    let dots = mailbox
        .folders
        .iter()
        .find(|f| f.source == "Folder.With.Dots")
        .unwrap();
    assert_eq!(dots.destination, "INBOX.Folder_With_Dots");
    assert!(
        dots.notes
            .iter()
            .any(|n| n.contains("renamed to \"Folder_With_Dots\"")),
        "{:?}",
        dots.notes
    );
    // The source is untouched: same UIDs, flags (no \Seen added), content.
    assert_unchanged(&before_src, &snapshot(&src, USER, PASSWORD));

    // Progress: per account, counts and bytes up to the totals.
    let last = events
        .iter()
        .rev()
        .filter_map(|e| match e {
            Event::Progress {
                account,
                messages_done,
                messages_total,
                bytes_done,
                bytes_total,
                ..
            } => Some((
                account.clone(),
                *messages_done,
                *messages_total,
                *bytes_done,
                *bytes_total,
            )),
            _ => None,
        })
        .next()
        .expect("progress events");
    assert_eq!(last.0, "alice");
    assert_eq!(
        (last.1, last.2),
        (seeded.total() as u64, seeded.total() as u64)
    );
    assert_eq!(last.3, last.4);
    assert!(last.4 > 4_000_000, "bytes total {}", last.4);
    assert!(matches!(events.first(), Some(Event::JobStarted { .. })));
    assert!(matches!(
        events.last(),
        Some(Event::JobFinished {
            verdict: Verdict::Success,
            ..
        })
    ));

    // A second run copies nothing and leaves the destination exactly as it was.
    let (again, _) = job.run(&db.path().join("m.db"));
    assert_eq!(again.verdict(), Verdict::Success);
    assert_eq!(again.migrated(), 0);
    assert_eq!(again.skipped() as usize, seeded.total());
    assert_unchanged(&after, &dest_snapshot(&dst, USER));
}

#[test]
fn courier_source_to_slash_destination_over_starttls_with_per_user_passwords() {
    let (src, dst) = servers(Layout::Courier, Layout::Slash);
    dst.add_user("alice2", "pw2");
    seed_standard_corpus(&src, USER, PASSWORD);
    let before_src = snapshot(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("courier-to-slash", &src, &dst, "alice,secret1,alice2,pw2");
    job.source_protocol = "imap4";
    job.source_ports = vec![src.imap_port()];
    job.dest_security = "starttls";
    job.dest_port = dst.imap_port();
    job.auth = DestAuth::PerUser;

    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.mailboxes[0].local_user, "alice2");
    let after = snapshot(&dst, "alice2", "pw2");
    assert_same_mail(&before_src, &after, identity);
    assert!(
        !after.all_folders.iter().any(|f| f.starts_with("INBOX/")),
        "prefix leaked: {:?}",
        after.all_folders
    );
}

#[test]
fn master_user_login_with_the_separator_form_copies_into_the_users_mailbox() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("separator", &src, &dst, "alice,secret1");
    job.auth = DestAuth::MasterSeparator;
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_same_mail(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, USER),
        identity,
    );
}

#[test]
fn rerun_without_the_ledger_matches_by_content_and_duplicates_nothing() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let job = JobSpec::new("no-ledger", &src, &dst, "alice,secret1");
    let (first, _) = job.run(&db.path().join("first.db"));
    assert_eq!(first.verdict(), Verdict::Success);
    let after = dest_snapshot(&dst, USER);

    // A fresh database: no ledger, so every message is matched by content.
    // The corpus holds a byte-identical duplicate and messages sharing a
    // Message-ID: all must be recognised, none copied again.
    let (second, _) = job.run(&db.path().join("second.db"));
    assert_eq!(second.verdict(), Verdict::Success, "{second:#?}");
    assert_eq!(second.migrated(), 0);
    assert_eq!(second.skipped() as usize, seeded.total());
    assert_unchanged(&after, &dest_snapshot(&dst, USER));
}

#[test]
fn partial_destination_gets_only_what_it_lacks() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    // Another tool already copied INBOX and half of Sent.
    let mut from = Probe::login(src.imap_port(), USER, PASSWORD);
    let mut to = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let mut already = 0;
    for (folder, keep) in [("INBOX", usize::MAX), ("Sent", 2)] {
        if folder != "INBOX" {
            to.create(folder);
        }
        for m in from.fetch_all(folder).into_iter().take(keep) {
            let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
            to.append(folder, &flags, &m.internaldate, &m.body);
            already += 1;
        }
    }
    from.logout();
    to.logout();

    let db = tempfile::tempdir().unwrap();
    let (outcome, events) =
        JobSpec::new("partial", &src, &dst, "alice,secret1").run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.skipped() as usize, already);
    assert_eq!(outcome.migrated() as usize, seeded.total() - already);

    // Progress only moves forward: the totals are the source's whole
    // mailbox from the first event on (STATUS before copying), and what is
    // already on the destination counts as done.
    let progress = progress_of(&events);
    let first = progress.first().expect("progress events");
    let source_bytes: u64 = seeded.folders.values().flatten().map(|m| m.size).sum();
    assert_eq!((first.0, first.1), (0, seeded.total() as u64));
    assert_eq!((first.2, first.3), (0, source_bytes));
    for w in progress.windows(2) {
        assert!(
            w[1].0 >= w[0].0 && w[1].2 >= w[0].2,
            "done went back: {w:?}"
        );
        assert_eq!(
            (w[1].1, w[1].3),
            (first.1, first.3),
            "totals changed: {w:?}"
        );
    }
    let last = progress.last().unwrap();
    assert_eq!(*last, (first.1, first.1, first.3, first.3));
    assert_same_mail(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, USER),
        identity,
    );
}

/// Every progress event's (messages done, total, bytes done, total); the
/// first comes before any folder begins (the totals read by STATUS).
fn progress_of(events: &[Event]) -> Vec<(u64, u64, u64, u64)> {
    let started = events
        .iter()
        .position(|e| matches!(e, Event::FolderStarted { .. }))
        .unwrap();
    let first_progress = events
        .iter()
        .position(|e| matches!(e, Event::Progress { .. }))
        .unwrap();
    assert!(first_progress < started, "totals came after a folder began");
    events
        .iter()
        .filter_map(|e| match e {
            Event::Progress {
                messages_done,
                messages_total,
                bytes_done,
                bytes_total,
                ..
            } => Some((*messages_done, *messages_total, *bytes_done, *bytes_total)),
            _ => None,
        })
        .collect()
}

/// A source without STATUS=SIZE (RFC 8438; older servers): the message
/// totals are still known from the start and only move forward; bytes are
/// added as each folder is scanned.
#[test]
fn without_status_size_the_message_totals_are_still_known_first() {
    let src = Dovecot::start_with(&ServerOptions {
        tls: false,
        extra_config: "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MULTIAPPEND CHILDREN LIST-EXTENDED ESEARCH MOVE SPECIAL-USE\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    });
    let dst = Dovecot::start_plaintext(Layout::Slash);
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let users = format!("{USER},{PASSWORD}");
    let (outcome, events) =
        plain_job("no-size", src.imap_port(), dst.imap_port(), users).run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let progress = progress_of(&events);
    let total = seeded.total() as u64;
    assert_eq!((progress[0].0, progress[0].1, progress[0].3), (0, total, 0));
    for w in progress.windows(2) {
        assert!(
            w[1].0 >= w[0].0 && w[1].2 >= w[0].2,
            "done went back: {w:?}"
        );
        assert_eq!(w[1].1, total, "message total changed: {w:?}");
        assert!(w[1].3 >= w[0].3, "byte total went back: {w:?}");
    }
    let source_bytes: u64 = seeded.folders.values().flatten().map(|m| m.size).sum();
    assert_eq!(
        *progress.last().unwrap(),
        (total, total, source_bytes, source_bytes)
    );
}

#[test]
fn changed_uidvalidity_falls_back_to_content_keys() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let job = JobSpec::new("uidvalidity", &src, &dst, "alice,secret1");
    let (first, _) = job.run(&db.path().join("m.db"));
    assert_eq!(first.verdict(), Verdict::Success);
    let after = dest_snapshot(&dst, USER);

    // Recreate "Sent" on the source: same messages, new UIDVALIDITY, so the
    // ledger's UIDs for it mean nothing any more.
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    let before = p.examine("Sent");
    let messages = p.fetch_all("Sent");
    p.logout();
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.delete("Sent");
    p.create("Sent");
    for m in &messages {
        let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
        p.append("Sent", &flags, &m.internaldate, &m.body);
    }
    assert_ne!(p.examine("Sent").uidvalidity, before.uidvalidity);
    p.logout();

    let (second, _) = job.run(&db.path().join("m.db"));
    assert_eq!(second.verdict(), Verdict::Success, "{second:#?}");
    assert_eq!(second.migrated(), 0, "{second:#?}");
    assert_unchanged(&after, &dest_snapshot(&dst, USER));
}

#[test]
fn skipped_folders_stay_behind_and_translated_folders_take_their_subfolders() {
    let (src, dst) = servers(Layout::Slash, Layout::Courier);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("rules", &src, &dst, "alice,secret1");
    job.skip = "Empty\n# a comment\nFolder With Space\n".into();
    job.translate = "Archive,Old Mail\nSent:Sent Items\n".into();
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let after = dest_snapshot(&dst, USER);
    for gone in ["Empty", "Folder With Space", "Archive", "Sent"] {
        assert!(
            !after.all_folders.contains(gone),
            "{gone} should not exist: {:?}",
            after.all_folders
        );
    }
    let src_snap = snapshot(&src, USER, PASSWORD);
    let rename = |p: &str| {
        dotted_rename(p)
            .replacen("Archive", "Old Mail", 1)
            .replace("Sent", "Sent Items")
    };
    let mut kept = src_snap.clone();
    kept.folders
        .retain(|k, _| k != "Empty" && k != "Folder With Space");
    assert_same_mail(&kept, &after, rename);
    assert!(after.all_folders.contains("Old Mail/2019"));
}

#[test]
fn a_wrong_password_fails_that_mailbox_and_the_others_go_on() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    src.add_user("bob", "bobpw");
    dst.add_user("bob", "x");
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let job = JobSpec::new(
        "wrong-pw",
        &src,
        &dst,
        "alice,secret1\nbob,not-his-password\n",
    );
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Partial);
    let alice = &outcome.mailboxes[0];
    let bob = &outcome.mailboxes[1];
    assert_eq!(alice.verdict(), Verdict::Success);
    assert_eq!(bob.verdict(), Verdict::Failed);
    let err = bob.error.as_deref().unwrap();
    assert!(
        err.starts_with("Could not log in to the source server localhost (IMAP4S, port"),
        "{err}"
    );
    assert!(
        err.contains(
            "as bob: the server refused the user name or password. Check both in the user list (some hosts want the whole email address as the user name). The server said: NO"
        ),
        "{err}"
    );
    assert!(err.contains("Authentication failed"), "{err}");
    assert!(!err.contains("not-his-password"));
}

#[test]
fn an_untrusted_certificate_is_explained() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("untrusted", &src, &dst, "alice,secret1");
    job.source_ca = None;
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed);
    let err = outcome.mailboxes[0].error.as_deref().unwrap();
    assert!(
        err.contains("Could not make a secure connection to the source server localhost (IMAP4S"),
        "{err}"
    );
    assert!(
        err.contains("self-signed or issued by an authority this computer does not trust"),
        "{err}"
    );
    assert!(
        err.contains("add its certificate authority file to the job"),
        "{err}"
    );

    // The wrong host name for a trusted certificate is named as such.
    let mut job = JobSpec::new("wrong-host", &src, &dst, "alice,secret1");
    job.source_host = "127.0.0.2".into();
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(dst.ca_file(), other.path()).unwrap();
    job.source_ca = Some(other.path().to_path_buf());
    let (outcome, _) = job.run(&db.path().join("m2.db"));
    let err = outcome.mailboxes[0].error.as_deref().unwrap_or_default();
    assert!(
        err.contains("Could not make a secure connection") || err.contains("Could not connect"),
        "{err}"
    );
}

#[test]
fn ports_are_tried_in_order_and_a_closed_list_is_explained() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("ports", &src, &dst, "alice,secret1");
    job.source_ports = vec![closed, src.imaps_port()];
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");

    job.name = "closed".into();
    job.source_ports = vec![closed];
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed);
    let err = outcome.mailboxes[0].error.as_deref().unwrap();
    assert!(
        err.contains(&format!(
            "on any of the ports tried ({closed}) with IMAP4S: the connection was refused"
        )),
        "{err}"
    );
}

#[test]
fn courier_destination_receives_nested_and_non_ascii_names_in_modified_utf7() {
    let (src, dst) = servers(Layout::Slash, Layout::Courier);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let (outcome, _) =
        JobSpec::new("utf7", &src, &dst, "alice,secret1").run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success);
    // The raw names on the wire, as the server lists them.
    let mut p = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let raw: Vec<String> = p.list().into_iter().map(|l| l.name_raw).collect();
    p.logout();
    for logical in ["Entwürfe", "Projects/Résumé & Co 日本", "Folder With Space"] {
        let expected = raw_name(logical, "INBOX.", '.');
        assert!(raw.contains(&expected), "{expected} not in {raw:?}");
    }
    assert!(raw.contains(&"INBOX.Entw&APw-rfe".to_string()));
}

#[test]
fn folders_are_copied_over_several_connections_and_fewer_when_the_server_refuses_more() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let logins = |server: &Dovecot| {
        server
            .log()
            .matches("imap-login: Info: Login: user=<alice>")
            .count()
    };
    let before = logins(&src);
    let opts = mailferry::copy::Options {
        connections_per_mailbox: 3,
        ..Default::default()
    };
    let (outcome, _) = JobSpec::new("three-connections", &src, &dst, "alice,secret1")
        .run_with(&db.path().join("m.db"), opts);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(logins(&src) - before, 3, "three source connections");
    assert_same_mail(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, USER),
        identity,
    );

    // A source that allows one connection per user: the extra workers are
    // refused and the first copies everything alone.
    let one = Dovecot::start_with(&ServerOptions {
        extra_config: "protocol imap {\n  mail_max_userip_connections = 1\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    });
    one.add_user(USER, PASSWORD);
    seed_standard_corpus(&one, USER, PASSWORD);
    let dst2 = Dovecot::start(Layout::Courier);
    dst2.add_user(USER, "x");
    let opts = mailferry::copy::Options {
        connections_per_mailbox: 3,
        ..Default::default()
    };
    let (outcome, _) = JobSpec::new("one-connection", &one, &dst2, "alice,secret1")
        .run_with(&db.path().join("m.db"), opts);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert!(
        one.log().contains("mail_max_userip_connections=1"),
        "the extra connections were refused: {}",
        one.log_tail()
    );
    assert_same_mail(
        &snapshot(&one, USER, PASSWORD),
        &dest_snapshot(&dst2, USER),
        dotted_rename,
    );
}

/// COMPRESS=DEFLATE both ways (RFC 4978) against Dovecot's imap_zlib: the
/// same mail arrives, and far fewer bytes cross the wire than without it.
#[test]
fn compress_deflate_copies_the_same_mail_with_fewer_bytes_on_the_wire() {
    use mailferry::compress::CompressMode;
    use support::corpus::seed_bench_account;
    use support::faults::FaultProxy;
    let (src, dst) = zlib_servers();
    src.add_user(USER, PASSWORD);
    let seeded = seed_bench_account(&src, USER, PASSWORD, 200, 3_000_000);
    let source = snapshot(&src, USER, PASSWORD);
    let mut wire = Vec::new();
    for (mode, local) in [("always", "zipped"), ("never", "plain")] {
        dst.add_user(local, "unused");
        let (sp, dp) = (
            FaultProxy::start(src.imap_port(), vec![]),
            FaultProxy::start(dst.imap_port(), vec![]),
        );
        let spec = JobSpec {
            options: format!("compress = \"{mode}\""),
            ..plain_job(
                &format!("compress-{mode}"),
                sp.port(),
                dp.port(),
                format!("{USER},{PASSWORD},{local}"),
            )
        };
        let job = spec.job();
        let opts = mailferry::copy::Options::for_job(&job);
        assert_eq!(
            opts.compress,
            if mode == "always" {
                CompressMode::Always
            } else {
                CompressMode::Never
            }
        );
        let db = tempfile::tempdir().unwrap();
        let (outcome, _) = spec.run_with(&db.path().join("m.db"), opts);
        assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
        assert_eq!(outcome.migrated() as usize, seeded.messages);
        assert_same_mail(&source, &dest_snapshot(&dst, local), identity);
        let sent: Vec<Vec<u8>> = dp.client_bytes();
        let asked = |c: &Vec<u8>| c.windows(16).any(|w| w == b"COMPRESS DEFLATE");
        let appended: usize = sent.iter().map(Vec::len).sum();
        assert_eq!(
            sent.iter().all(asked),
            mode == "always",
            "every connection, both sides"
        );
        assert_eq!(sp.client_bytes().iter().all(asked), mode == "always");
        // Nothing readable after COMPRESS: the fetches are compressed too.
        let fetches = sp
            .client_bytes()
            .iter()
            .map(|c| c.windows(9).filter(|w| w == b"BODY.PEEK").count())
            .sum::<usize>();
        assert_eq!(fetches == 0, mode == "always", "{fetches} readable fetches");
        wire.push(appended);
    }
    let (zipped, plain) = (wire[0], wire[1]);
    eprintln!(
        "compress: {} messages, {} bytes: {zipped} bytes sent to the destination compressed, {plain} plain ({:.0}%)",
        seeded.messages,
        seeded.bytes,
        100.0 * zipped as f64 / plain as f64
    );
    assert!(plain as u64 > seeded.bytes, "{plain} vs {}", seeded.bytes);
    assert!(zipped * 10 < plain * 8, "{zipped} vs {plain}");
}

#[test]
fn a_rerun_with_nothing_new_logs_in_once_per_mailbox() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let logins = |server: &Dovecot| {
        server
            .log()
            .matches("imap-login: Info: Login: user=<alice>")
            .count()
    };
    let opts = || mailferry::copy::Options {
        connections_per_mailbox: 3,
        ..Default::default()
    };
    let spec = JobSpec::new("rerun-logins", &src, &dst, "alice,secret1");
    let (outcome, _) = spec.run_with(&db.path().join("m.db"), opts());
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let before = logins(&src);
    // Nothing new: the extra connection pairs are never opened.
    let (outcome, _) = spec.run_with(&db.path().join("m.db"), opts());
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(logins(&src) - before, 1, "one source connection");
    assert_same_mail(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, USER),
        identity,
    );
}

/// Garbage in the middle of a compressed stream, then a cut: the copy
/// reconnects and resumes, and the destination ends identical to the source.
#[test]
fn garbage_in_a_compressed_stream_is_retried_and_nothing_is_lost_or_doubled() {
    use mailferry::compress::CompressMode;
    use support::corpus::seed_bench_account;
    use support::faults::{Action, Dir, Fault, FaultProxy, Trigger};
    let (src, dst) = zlib_servers();
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    let seeded = seed_bench_account(&src, USER, PASSWORD, 60, 600_000);
    // Well past the plain greeting and login, inside compressed replies.
    let fault = Fault::new(
        Trigger::bytes(Dir::ToClient, 3_000),
        Action::Garbage(vec![0xff; 64]),
    )
    .when_client_sent("COMPRESS DEFLATE");
    let sp = FaultProxy::start(src.imap_port(), vec![fault]);
    let spec = plain_job(
        "compress-garbage",
        sp.port(),
        dst.imap_port(),
        format!("{USER},{PASSWORD}"),
    );
    let opts = mailferry::copy::Options {
        compress: CompressMode::Always,
        backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let db = tempfile::tempdir().unwrap();
    let (outcome, events) = spec.run_with(&db.path().join("m.db"), opts);
    assert_eq!(sp.fired().len(), 1, "the garbage went in once");
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated() as usize, seeded.messages);
    let reasons: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    // Garbage may inflate to junk before the cut is seen, so the words are
    // "garbled" or "disconnected": either way, retried.
    assert!(!reasons.is_empty(), "retried after the garbage");
    assert_same_mail(
        &snapshot(&src, USER, PASSWORD),
        &dest_snapshot(&dst, USER),
        identity,
    );
}

/// A fresh copy makes each content key from the body as it arrives (nothing
/// on the destination to match, so the source's headers are not fetched
/// first). Those keys, kept in the ledger, must be the keys the destination
/// reports for the same messages, or a later run could not tell them apart.
#[test]
fn keys_made_from_bodies_equal_the_keys_the_destination_reports() {
    use mailferry::copy::key::content_key;
    use mailferry::imap::{Endpoint, ImapClient, Login, Transport};
    use mailferry::secret::Secret;
    let (src, dst) = (
        Dovecot::start_plaintext(Layout::Slash),
        Dovecot::start_plaintext(Layout::Courier),
    );
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    seed_standard_corpus(&src, USER, PASSWORD);
    let spec = plain_job(
        "body-keys",
        src.imap_port(),
        dst.imap_port(),
        format!("{USER},{PASSWORD}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (outcome, _) = spec.run(&db);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let store = mailferry::store::Store::open(&db).unwrap();
    let endpoint = Endpoint {
        side: mailferry::error::Side::Destination,
        host: "127.0.0.1".into(),
        ports: vec![dst.imap_port()],
        transport: Transport::Plain,
        certs: mailferry::net::CertPolicy::System,
        protocol: "IMAP4",
        timeout: std::time::Duration::from_secs(30),
        connect_timeout: std::time::Duration::from_secs(5),
        compress: mailferry::compress::CompressMode::Never,
    };
    let login = Login::SaslPlain {
        authzid: USER.into(),
        authcid: MASTER_USER.into(),
        password: Secret::new(MASTER_PASSWORD),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let checked = rt.block_on(async {
        let mut c = ImapClient::connect(&endpoint, &login).await.unwrap();
        let mut checked = 0;
        for f in c.list().await.unwrap().into_iter().filter(|f| f.selectable) {
            c.open_folder(&f.raw, true).await.unwrap();
            let mut reported = std::collections::HashMap::<String, usize>::new();
            for m in c.fetch_meta(None, true).await.unwrap() {
                *reported
                    .entry(content_key(m.size, &m.header_fields))
                    .or_default() += 1;
            }
            let scope = mailferry::store::Scope {
                job: "body-keys",
                account: USER,
                dest_user: USER,
            };
            let mut ledger = std::collections::HashMap::<String, usize>::new();
            for c in store.claims(scope, &f.raw, None).unwrap() {
                *ledger.entry(c.content_key).or_default() += 1;
            }
            assert_eq!(ledger, reported, "folder {}", f.name);
            checked += reported.values().sum::<usize>();
        }
        c.logout().await;
        checked
    });
    assert_eq!(checked, outcome.migrated() as usize);
}

#[test]
fn source_admin_login_copies_everything_with_no_source_passwords_in_the_list() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    dst.add_user("alice2", "unused");
    seed_standard_corpus(&src, USER, PASSWORD);
    let before = snapshot(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    // SASL PLAIN with alice as authorization identity, then LOGIN
    // alice*admin; each into its own destination mailbox.
    for (method, users, local) in [
        ("sasl-plain", "alice", "alice"),
        ("separator", "alice,,alice2", "alice2"),
    ] {
        let mut job = JobSpec::new(&format!("source-admin-{method}"), &src, &dst, users);
        job.source_extra = support::jobs::source_admin(method, MASTER_PASSWORD);
        let (outcome, _) = job.run(&db.path().join("m.db"));
        assert_eq!(
            outcome.verdict(),
            Verdict::Success,
            "{method}: {outcome:#?}"
        );
        assert_eq!(outcome.migrated() as usize, before.total_messages());
        assert_same_mail(&before, &dest_snapshot(&dst, local), identity);
    }
    // Reading as the admin changed nothing on the source.
    assert_unchanged(&before, &snapshot(&src, USER, PASSWORD));
}

#[test]
fn a_wrong_source_admin_password_blames_the_admin_login_and_test_logins_agrees() {
    use mailferry::copy::{test_logins, Cancel, Options};
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("source-admin-wrong", &src, &dst, "alice");
    job.source_extra = support::jobs::source_admin("sasl-plain", "not-the-admin-pw");
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed, "{outcome:#?}");
    let mailbox = &outcome.mailboxes[0];
    let err = mailbox.error.as_deref().unwrap();
    assert!(
        err.starts_with(&format!(
            "Could not log in to the source server localhost (IMAP4S, port {}) for alice as the admin {MASTER_USER}: the old host refused its admin login (the user's own password was not used)",
            src.imaps_port()
        )),
        "{err}"
    );
    assert!(!err.contains("not-the-admin-pw"), "{err}");
    assert_eq!(
        mailbox.error_code.as_deref(),
        Some("source-admin-login-failed")
    );

    // Test logins logs in the same way: the same refusal, then success
    // with the right password.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let check = |spec: &JobSpec| {
        let job = spec.job();
        let opts = Options::for_job(&job);
        rt.block_on(test_logins(job, opts, Cancel::default(), |_, _| {}))
    };
    let checks = check(&job);
    assert_eq!(checks[0].source_code, Some("source-admin-login-failed"));
    assert_eq!(checks[0].source_error.as_deref(), Some(err));
    assert_eq!(checks[0].destination_error, None);
    job.source_extra = support::jobs::source_admin("separator", MASTER_PASSWORD);
    let checks = check(&job);
    assert!(checks[0].ok(), "{checks:?}");
}
