//! POP3, POP3S and Auto sources against private Dovecot instances: the Inbox
//! over POP3 (dated from its headers), every other folder over IMAP, port
//! lists, STARTTLS/STLS, plaintext refused unless chosen, and re-runs that
//! copy nothing whichever way the Inbox was read before.

mod support;

use std::collections::BTreeMap;

use mailferry::outcome::Verdict;
use support::corpus::{
    assert_same_mail, assert_unchanged, parse_internaldate, seed_standard_corpus, sha256_hex,
    snapshot, snapshot_with, Snapshot,
};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

fn servers(src: Layout, dst: Layout) -> (Dovecot, Dovecot) {
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start(src));
        let d = sc.spawn(|| Dovecot::start(dst));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "unused");
    (s, d)
}

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

/// Messages made to probe POP3's corners: dot lines, dates in headers.
fn pop_messages() -> Vec<(Vec<u8>, &'static str)> {
    let big: String = (0..40_000)
        .map(|i| format!(".line {i} starts with a dot\r\n"))
        .collect();
    vec![
        (
            b"Received: from mx by pop.example; Tue, 15 Jun 2010 12:34:56 -0700\r\nDate: Mon, 14 Jun 2010 09:00:00 +0000\r\nFrom: a@example.com\r\nSubject: received wins\r\nMessage-ID: <r1@example.com>\r\n\r\nBody\r\n".to_vec(),
            "15-Jun-2010 12:34:56 -0700",
        ),
        (
            b"Date: Thu, 29 Feb 2024 08:00:00 +0530\r\nFrom: b@example.com\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n".to_vec(),
            "29-Feb-2024 08:00:00 +0530",
        ),
        (
            format!("Date: Fri, 1 Jan 1999 00:00:01 +0000\r\nFrom: c@example.com\r\nSubject: big\r\n\r\n{big}").into_bytes(),
            "01-Jan-1999 00:00:01 +0000",
        ),
    ]
}

fn seed_inbox(server: &Dovecot, messages: &[(Vec<u8>, &str)]) {
    let mut p = Probe::login(server.imap_port(), USER, PASSWORD);
    for (body, _) in messages {
        // The source's own INTERNALDATE is deliberately different: POP3
        // cannot see it, so the date must come from the headers.
        p.append("INBOX", &["\\Flagged"], "01-Jan-2020 00:00:00 +0000", body);
    }
    p.logout();
}

/// sha256 of body -> INTERNALDATE instant, for the destination INBOX.
fn inbox_dates(snap: &Snapshot) -> BTreeMap<String, i64> {
    snap.facts("INBOX")
        .into_iter()
        .map(|f| (f.sha256, f.internaldate))
        .collect()
}

#[test]
fn pop3s_inbox_arrives_byte_for_byte_dated_from_its_headers_and_a_rerun_copies_nothing() {
    let (src, dst) = servers(Layout::Slash, Layout::Courier);
    let messages = pop_messages();
    seed_inbox(&src, &messages);
    let before_src = snapshot(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("pop3s", &src, &dst, "alice,secret1");
    job.source_protocol = "pop3s";
    job.source_ports = vec![src.pop3s_port()];

    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated(), messages.len() as u64);
    let after = dest_snapshot(&dst);
    let dates = inbox_dates(&after);
    assert_eq!(dates.len(), messages.len());
    for (body, date) in &messages {
        let got = dates
            .get(&sha256_hex(body))
            .unwrap_or_else(|| panic!("a message did not arrive byte for byte"));
        assert_eq!(*got, parse_internaldate(date), "date of a message");
    }
    // POP3 knows no flags: nothing is invented.
    assert!(after.facts("INBOX").iter().all(|f| f.flags.is_empty()));
    // Reading over POP3 changed nothing on the source (no \Seen, nothing deleted).
    assert_unchanged(&before_src, &snapshot(&src, USER, PASSWORD));

    let (again, _) = job.run(&db.path().join("m.db"));
    assert_eq!(again.migrated(), 0, "{again:#?}");
    assert_eq!(again.skipped(), messages.len() as u64);
    assert_unchanged(&after, &dest_snapshot(&dst));

    // Without the ledger, content keys find the same messages.
    let (fresh_db, _) = job.run(&db.path().join("other.db"));
    assert_eq!(fresh_db.migrated(), 0, "{fresh_db:#?}");
    assert_unchanged(&after, &dest_snapshot(&dst));
}

#[test]
fn pop3_with_stls_and_a_port_list_that_starts_closed() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_inbox(&src, &pop_messages());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("pop3-stls", &src, &dst, "alice,secret1");
    job.source_protocol = "pop3";
    job.source_ports = vec![closed, src.pop3_port()];
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated(), 3);
}

#[test]
fn an_empty_pop3_inbox_is_a_success_with_nothing_to_copy() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("pop3-empty", &src, &dst, "alice,secret1");
    job.source_protocol = "pop3s";
    job.source_ports = vec![src.pop3s_port()];
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated() + outcome.skipped(), 0);
    assert_eq!(outcome.mailboxes[0].folders.len(), 1);
}

#[test]
fn auto_takes_the_inbox_over_pop3_and_every_other_folder_over_imap() {
    let (src, dst) = servers(Layout::Slash, Layout::Courier);
    seed_standard_corpus(&src, USER, PASSWORD);
    let src_snap = snapshot(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("auto", &src, &dst, "alice,secret1");
    job.source_protocol = "auto";
    job.ports_line = Some(format!(
        "ports = {{ imap4 = [{}], pop3 = [{}] }}",
        src.imap_port(),
        src.pop3_port()
    ));

    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated() as usize, src_snap.total_messages());
    let after = dest_snapshot(&dst);
    // Every folder but the Inbox came over IMAP: flags and dates kept.
    let mut not_inbox = src_snap.clone();
    not_inbox.folders.remove("INBOX");
    assert_same_mail(&not_inbox, &after, |p| {
        p.replace("Folder.With.Dots", "Folder_With_Dots")
    });
    // The Inbox came over POP3: the same bytes (as a multiset), no flags.
    let mut src_bodies: Vec<String> = src_snap
        .facts("INBOX")
        .into_iter()
        .map(|f| f.sha256)
        .collect();
    let mut dst_bodies: Vec<String> = after
        .facts("INBOX")
        .iter()
        .map(|f| f.sha256.clone())
        .collect();
    src_bodies.sort();
    dst_bodies.sort();
    assert_eq!(src_bodies, dst_bodies);
    assert!(after.facts("INBOX").iter().all(|f| f.flags.is_empty()));

    // The same job later run over IMAP only: the Inbox's messages, copied
    // over POP3 before, are recognised and not copied again.
    job.source_protocol = "imap4s";
    job.ports_line = None;
    job.source_ports = vec![src.imaps_port()];
    let (imap_run, _) = job.run(&db.path().join("m.db"));
    assert_eq!(imap_run.verdict(), Verdict::Success, "{imap_run:#?}");
    assert_eq!(imap_run.migrated(), 0, "{imap_run:#?}");
    assert_unchanged(&after, &dest_snapshot(&dst));
}

#[test]
fn auto_with_pop3_disabled_reads_the_inbox_over_imap() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    seed_standard_corpus(&src, USER, PASSWORD);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("auto-no-pop", &src, &dst, "alice,secret1");
    job.source_protocol = "auto";
    job.ports_line = Some(format!(
        "ports = {{ imap4 = [{}], pop3 = [0] }}",
        src.imap_port()
    ));
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    // Over IMAP the Inbox keeps its flags and dates: everything identical.
    assert_same_mail(&snapshot(&src, USER, PASSWORD), &dest_snapshot(&dst), |p| {
        p.to_string()
    });
}

#[test]
fn a_password_is_never_sent_in_clear_unless_the_job_allows_it() {
    let src = Dovecot::start_plaintext(Layout::Slash);
    let dst = Dovecot::start(Layout::Slash);
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    seed_inbox(&src, &pop_messages());
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("clear-imap4", &src, &dst, "alice,secret1");
    job.source_protocol = "imap4";
    job.source_ports = vec![src.imap_port()];
    job.source_ca = None;
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed);
    let err = outcome.mailboxes[0].error.as_deref().unwrap();
    assert!(
        err.contains("offers no STARTTLS, so the password would travel unencrypted"),
        "{err}"
    );
    assert!(err.contains("allow plaintext logins for this job"), "{err}");

    job.source_extra = "allow_plaintext = true\n".into();
    job.name = "clear-imap4-allowed".into();
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");

    // POP3 without STLS: APOP proves the password without sending it, so
    // no plaintext permission is needed (the refusal without APOP is a unit
    // test of the POP3 client).
    let mut job = JobSpec::new("clear-pop3", &src, &dst, "alice,secret1");
    job.source_protocol = "pop3";
    job.source_ports = vec![src.pop3_port()];
    job.source_ca = None;
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert!(src.log_tail().contains("method=APOP"), "{}", src.log_tail());
}

#[test]
fn a_wrong_pop3_password_is_explained_without_the_password() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("pop3-wrong", &src, &dst, "alice,not-the-password");
    job.source_protocol = "pop3s";
    job.source_ports = vec![src.pop3s_port()];
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed);
    let err = outcome.mailboxes[0].error.as_deref().unwrap();
    assert!(
        err.contains("Could not log in to the source server localhost (POP3S, port"),
        "{err}"
    );
    assert!(err.contains("Check both in the user list"), "{err}");
    assert!(!err.contains("not-the-password"));
}

#[test]
fn pop3_source_admin_login_copies_the_inbox_with_no_source_passwords_in_the_list() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    dst.add_user("alice2", "unused");
    let messages = pop_messages();
    seed_inbox(&src, &messages);
    let db = tempfile::tempdir().unwrap();
    // AUTH PLAIN with alice as authorization identity over POP3S; USER
    // alice*admin and PASS over POP3 after STLS.
    for (method, protocol, port, users, local) in [
        ("sasl-plain", "pop3s", src.pop3s_port(), "alice", "alice"),
        (
            "separator",
            "pop3",
            src.pop3_port(),
            "alice,,alice2",
            "alice2",
        ),
    ] {
        let mut job = JobSpec::new(&format!("pop3-admin-{method}"), &src, &dst, users);
        job.source_protocol = protocol;
        job.source_ports = vec![port];
        job.source_extra = support::jobs::source_admin(method, MASTER_PASSWORD);
        let (outcome, _) = job.run(&db.path().join("m.db"));
        assert_eq!(
            outcome.verdict(),
            Verdict::Success,
            "{method}: {outcome:#?}"
        );
        assert_eq!(outcome.migrated(), messages.len() as u64, "{method}");
        let mut probe = Probe::login_master(dst.imap_port(), local, MASTER_USER, MASTER_PASSWORD);
        let after = snapshot_with(&mut probe);
        probe.logout();
        let got: Vec<String> = inbox_dates(&after).into_keys().collect();
        let mut sent: Vec<String> = messages.iter().map(|(b, _)| sha256_hex(b)).collect();
        sent.sort();
        assert_eq!(got, sent, "{method}: every message byte for byte");
    }
}

#[test]
fn a_wrong_pop3_source_admin_password_blames_the_admin_login_without_the_password() {
    let (src, dst) = servers(Layout::Slash, Layout::Slash);
    let db = tempfile::tempdir().unwrap();
    let mut job = JobSpec::new("pop3-admin-wrong", &src, &dst, "alice,,alice");
    job.source_protocol = "pop3s";
    job.source_ports = vec![src.pop3s_port()];
    job.source_extra = support::jobs::source_admin("separator", "not-the-admin-pw");
    let (outcome, _) = job.run(&db.path().join("m.db"));
    assert_eq!(outcome.verdict(), Verdict::Failed, "{outcome:#?}");
    let err = outcome.mailboxes[0].error.as_deref().unwrap();
    assert!(
        err.starts_with(&format!(
            "Could not log in to the source server localhost (POP3S, port {}) for alice as the admin {MASTER_USER}: the old host refused its admin login",
            src.pop3s_port()
        )),
        "{err}"
    );
    assert!(!err.contains("not-the-admin-pw"), "{err}");
    assert_eq!(
        outcome.mailboxes[0].error_code.as_deref(),
        Some("source-admin-login-failed")
    );
}
