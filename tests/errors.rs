//! Every error a user may see, produced by its real fault (a real Dovecot,
//! or the fault proxy in front of one), with its class shown by what the
//! engine does (retries for transient, the message listed for per message,
//! the mailbox stopped for fatal), the other mailbox going on, and the
//! words the user reads.

mod support;

use std::time::Duration;

use mailferry::copy::Options;
use mailferry::outcome::{JobOutcome, MailboxOutcome, Verdict};
use mailferry::progress::Event;
use support::dovecot::{Dovecot, Layout, ServerOptions};
use support::faults::{
    make_cert, seed_small_corpus, Action, CertKind, Dir, Fault, FaultProxy, TlsFront, Trigger,
};
use support::jobs::JobSpec;

/// alice and bob on the source, each with the small corpus; the
/// destination has both.
fn pair_with(dst: Dovecot) -> (Dovecot, Dovecot) {
    let src = Dovecot::start_plaintext(Layout::Slash);
    for (u, p) in [("alice", "apw"), ("bob", "bpw")] {
        src.add_user(u, p);
        seed_small_corpus(&src, u, p);
        dst.add_user(u, "unused");
    }
    (src, dst)
}

fn pair() -> (Dovecot, Dovecot) {
    pair_with(Dovecot::start_plaintext(Layout::Slash))
}

fn spec(name: &str, src_port: u16, dst_port: u16) -> JobSpec {
    JobSpec {
        // INBOX only: one folder shows each error, and runs stay short.
        skip: "Sent\nArchive\nEntwürfe\n".into(),
        ..JobSpec::plain(name, src_port, dst_port, "alice,apw\nbob,bpw\n")
    }
}

fn quick() -> Options {
    Options {
        timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        parallel_mailboxes: 2,
        ..Options::default()
    }
}

fn run(spec: &JobSpec) -> (JobOutcome, Vec<Event>) {
    let db = tempfile::tempdir().unwrap();
    spec.run_with(&db.path().join("m.db"), quick())
}

/// With a timeout longer than Dovecot's half-second delay of a failed login.
fn run_patient(spec: &JobSpec) -> (JobOutcome, Vec<Event>) {
    let db = tempfile::tempdir().unwrap();
    let opts = Options {
        timeout: Duration::from_secs(5),
        ..quick()
    };
    spec.run_with(&db.path().join("m.db"), opts)
}

fn mailbox<'a>(o: &'a JobOutcome, user: &str) -> &'a MailboxOutcome {
    o.mailboxes.iter().find(|m| m.source_user == user).unwrap()
}

fn retries_of(events: &[Event], user: &str) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { account, .. } if account == user))
        .count()
}

/// A fatal error: `user` was never retried (the retries shown if it was).
fn assert_not_retried(events: &[Event], user: &str) {
    let retries: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { account, .. } if account == user))
        .collect();
    assert!(retries.is_empty(), "fatal: not retried: {retries:?}");
}

/// The error the user reads for alice: the mailbox's, else its INBOX's.
fn alice_error(o: &JobOutcome) -> String {
    let m = mailbox(o, "alice");
    m.error
        .clone()
        .or_else(|| m.folders.iter().find_map(|f| f.error.clone()))
        .unwrap_or_else(|| panic!("alice has no error: {m:#?}"))
}

fn bob_is_fine(o: &JobOutcome) {
    let bob = mailbox(o, "bob");
    assert_eq!(bob.verdict(), Verdict::Success, "{bob:#?}");
    assert_eq!(bob.migrated(), 9, "bob's INBOX: {bob:#?}");
}

/// A fault on alice's source connections only (they log in as alice).
fn on_alice(trigger: Trigger, action: Action) -> Fault {
    Fault::new(trigger, action)
        .always()
        .when_client_sent("LOGIN \"alice\"")
}

/// A transient error that never clears: retried `retries` times, then the
/// folder fails with its words and the others go on.
fn persistent_source_fault(name: &str, fault: Fault) -> String {
    let (src, dst) = pair();
    let proxy = FaultProxy::start(src.imap_port(), vec![fault]);
    let (o, events) = run(&spec(name, proxy.port(), dst.imap_port()));
    assert!(!proxy.fired().is_empty());
    bob_is_fine(&o);
    assert_eq!(retries_of(&events, "alice"), 2, "transient: retried");
    let err = alice_error(&o);
    assert!(
        err.ends_with("MailFerry reconnected 2 times without getting further, so it stopped here; run the job again later: it resumes where it stopped."),
        "{err}"
    );
    err
}

#[test]
fn error_fetching_timed_out_on_fetch() {
    let err = persistent_source_fault(
        "fetch-timeout",
        on_alice(
            Trigger::pattern(Dir::ToClient, "BODY[] {", 0),
            Action::Stall(Duration::from_secs(1)),
        ),
    );
    assert!(err.starts_with("Error fetching UID "), "{err}");
    assert!(
        err.contains("from the source server 127.0.0.1 (IMAP4, port"),
        "{err}"
    );
    assert!(err.contains(": timed out on fetch. The server sent nothing for 0.3 seconds: it is overloaded, or it is slowing this account down. Try again later; if it keeps happening, wait 24–48 hours"), "{err}");
}

#[test]
fn socket_came_disconnected() {
    let err = persistent_source_fault(
        "disconnected",
        on_alice(
            Trigger::pattern(Dir::ToClient, "BODY[] {", 200),
            Action::Cut,
        ),
    );
    assert!(
        err.starts_with("The connection to the source server 127.0.0.1 (IMAP4, port"),
        "{err}"
    );
    assert!(err.contains("was dropped while fetching messages (socket came disconnected): the source server stopped answering within the expected interval"), "{err}");
}

#[test]
fn timed_out_during_read() {
    let err = persistent_source_fault(
        "read-timeout",
        on_alice(
            Trigger::pattern(Dir::ToClient, "* OK [UIDVALIDITY", 0),
            Action::Stall(Duration::from_secs(1)),
        ),
    );
    assert!(err.contains("timed out during read while opening folder INBOX: the source server is too slow to respond (nothing came for 0.3 seconds)"), "{err}");
    assert!(err.contains("timeout_seconds"), "{err}");
}

#[test]
fn login_failed_stops_that_mailbox_only() {
    let (src, dst) = pair();
    let mut s = spec("login", src.imap_port(), dst.imap_port());
    s.users = "alice,wrong-password\nbob,bpw\n".into();
    let (o, events) = run_patient(&s);
    bob_is_fine(&o);
    assert_not_retried(&events, "alice");
    let alice = mailbox(&o, "alice");
    assert_eq!(alice.verdict(), Verdict::Failed);
    let err = alice_error(&o);
    assert!(
        err.starts_with("Could not log in to the source server 127.0.0.1 (IMAP4, port"),
        "{err}"
    );
    assert!(err.contains("as alice: the server refused the user name or password. Check both in the user list (some hosts want the whole email address as the user name). The server said: NO [AUTHENTICATIONFAILED]"), "{err}");
    assert!(!err.contains("wrong-password"));
}

#[test]
fn throttled_logins_are_retried_and_then_succeed() {
    let (src, dst) = pair();
    let proxy = FaultProxy::start(
        src.imap_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "OK Logged in", 0),
            Action::ReplaceLine(
                "NO Request is throttled. Suggested Backoff Time: 5 milliseconds".into(),
            ),
        )
        .times(2)
        .when_client_sent("LOGIN \"alice\"")],
    );
    let (o, events) = run(&spec("throttled", proxy.port(), dst.imap_port()));
    assert_eq!(proxy.fired().len(), 2);
    assert_eq!(o.verdict(), Verdict::Success, "{o:#?}");
    bob_is_fine(&o);
    let reasons: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying {
                account, reason, ..
            } if account == "alice" => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("The source server 127.0.0.1 (IMAP4, port"),
        "{}",
        reasons[0]
    );
    assert!(reasons[0].contains("is throttling this account while logging in: it allows only so many connections, commands or bytes per period. MailFerry waits and retries; if it keeps happening, copy fewer mailboxes at once (parallel_mailboxes in the job's [options])"), "{}", reasons[0]);
    assert!(
        reasons[0].ends_with("[NO Request is throttled. Suggested Backoff Time: 5 milliseconds]"),
        "{}",
        reasons[0]
    );
}

#[test]
fn too_many_connections_and_unavailable_are_transient() {
    let err = persistent_source_fault(
        "unavailable",
        on_alice(
            Trigger::pattern(Dir::ToClient, "OK Logged in", 0),
            Action::ReplaceLine("NO [UNAVAILABLE] Temporary authentication failure.".into()),
        ),
    );
    assert!(
        err.contains("is temporarily unavailable while logging in"),
        "{err}"
    );
    assert!(
        err.contains("[NO [UNAVAILABLE] Temporary authentication failure.]"),
        "{err}"
    );

    let err = persistent_source_fault(
        "too-many",
        Fault::new(
            Trigger::pattern(Dir::ToClient, "OK Logged in", 0),
            Action::ReplaceLine("NO [ALERT] Too many simultaneous connections. (Failure)".into()),
        )
        .always()
        .when_client_sent("LOGIN \"alice\""),
    );
    assert!(
        err.contains("is throttling this account while logging in"),
        "{err}"
    );
}

#[test]
fn bye_is_transient_and_explained() {
    let err = persistent_source_fault(
        "bye",
        on_alice(
            Trigger::pattern(Dir::ToClient, "* OK [UIDVALIDITY", 0),
            Action::Bye("* BYE Server shutting down for maintenance".into()),
        ),
    );
    assert!(
        err.contains(
            "closed the connection while opening folder INBOX (BYE): the server is restarting"
        ),
        "{err}"
    );
    assert!(
        err.contains("[BYE Server shutting down for maintenance]"),
        "{err}"
    );
}

#[test]
fn garbage_and_replies_cut_short_are_transient() {
    let err = persistent_source_fault(
        "garbage",
        on_alice(
            Trigger::pattern(Dir::ToClient, "* OK [UIDVALIDITY", 0),
            Action::Garbage(b"\x00\x07 )( garbage ]]\r\n".to_vec()),
        ),
    );
    assert!(
        err.contains("sent a reply MailFerry could not understand while opening folder INBOX")
            || err.contains("(socket came disconnected)"),
        "{err}"
    );
}

#[test]
fn a_greeting_that_is_not_imap_is_explained() {
    let (src, dst) = pair();
    let proxy = FaultProxy::start(
        src.imap_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "* OK", 0),
            Action::ReplaceLine("220 smtp.old-host.example ESMTP ready".into()),
        )
        .always()],
    );
    let (o, events) = run(&spec("not-imap", proxy.port(), dst.imap_port()));
    assert_eq!(o.verdict(), Verdict::Failed);
    assert_not_retried(&events, "alice");
    let err = alice_error(&o);
    assert!(err.contains("is not an IMAP server: it greeted with something else. Check the port and the protocol"), "{err}");
    assert!(
        err.ends_with("[220 smtp.old-host.example ESMTP ready]"),
        "{err}"
    );
}

#[test]
fn tls_spoken_to_a_plain_port_and_plain_to_a_tls_port() {
    let src = Dovecot::start(Layout::Slash);
    let dst = Dovecot::start_plaintext(Layout::Slash);
    src.add_user("alice", "apw");
    dst.add_user("alice", "unused");
    // IMAP4S to the plain port.
    let mut s = spec("tls-to-plain", src.imap_port(), dst.imap_port());
    s.users = "alice,apw\n".into();
    s.source_protocol = "imap4s";
    s.source_ca = Some(src.ca_file());
    s.source_extra = String::new();
    let (o, events) = run(&s);
    assert_eq!(retries_of(&events, "alice"), 0);
    let err = alice_error(&o);
    assert!(err.contains("the server answered in plain text, so this port does not speak TLS from the first byte. Choose IMAP4 for this port (MailFerry then switches to TLS with STARTTLS), or enter the server's TLS port (usually 993)."), "{err}");
    // IMAP4 to the TLS port.
    let mut s = spec("plain-to-tls", src.imaps_port(), dst.imap_port());
    s.users = "alice,apw\n".into();
    let (o, events) = run(&s);
    assert_eq!(retries_of(&events, "alice"), 0);
    let err = alice_error(&o);
    assert!(err.contains("expects TLS from the first byte, but the job speaks plain IMAP to it, so it never answered. Choose IMAP4S for this port"), "{err}");
}

#[test]
fn certificates_expired_for_another_host_and_self_signed() {
    let plain = Dovecot::start_plaintext(Layout::Slash);
    plain.add_user("alice", "apw");
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            CertKind::Expired,
            "the server's certificate has expired: the host has not renewed it. Ask the host to renew it; meanwhile, if you trust this server, choose to accept invalid certificates for this job.",
        ),
        (
            CertKind::OtherHost,
            "the server's certificate was issued for a different host name: the server name in the job is an alias. Enter the host name the certificate was issued for",
        ),
    ];
    for (kind, words) in cases {
        let cert = make_cert(dir.path(), kind);
        let front = TlsFront::start(plain.imap_port(), &cert.cert_pem, &cert.key_pem);
        let mut s = spec(&format!("{kind:?}"), front.port(), plain.imap_port());
        s.users = "alice,apw\n".into();
        s.source_protocol = "imap4s";
        s.source_host = "localhost".into();
        s.source_ca = Some(cert.ca_file.clone());
        s.source_extra = String::new();
        let (o, events) = run(&s);
        assert_eq!(o.verdict(), Verdict::Failed);
        assert_not_retried(&events, "alice");
        let err = alice_error(&o);
        assert!(
            err.starts_with(
                "Could not make a secure connection to the source server localhost (IMAP4S, port"
            ),
            "{err}"
        );
        assert!(err.contains(words), "{kind:?}: {err}");
        // Accepting invalid certificates gets through.
        s.source_extra = "accept_invalid_certs = true\n".into();
        s.name = format!("{kind:?}-accepted");
        let (o, _) = run(&s);
        assert_eq!(o.verdict(), Verdict::Success, "{o:#?}");
    }
    // Self-signed, not trusted: the certificate of a good chain, without
    // its authority.
    let cert = make_cert(dir.path(), CertKind::Good);
    let front = TlsFront::start(plain.imap_port(), &cert.cert_pem, &cert.key_pem);
    let mut s = spec("untrusted", front.port(), plain.imap_port());
    s.users = "alice,apw\n".into();
    s.source_protocol = "imap4s";
    s.source_host = "localhost".into();
    s.source_extra = String::new();
    let (o, _) = run(&s);
    let err = alice_error(&o);
    assert!(err.contains("self-signed or issued by an authority this computer does not trust. If you trust this server, add its certificate authority file to the job (ca_file)"), "{err}");
}

#[test]
fn destination_over_quota_stops_that_mailbox_only() {
    let dst = Dovecot::start_with(&ServerOptions {
        tls: false,
        extra_config: "mail_plugins = $mail_plugins quota\nplugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=100K\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    });
    let src = Dovecot::start_plaintext(Layout::Slash);
    src.add_user("alice", "apw");
    seed_small_corpus(&src, "alice", "apw");
    src.add_user("bob", "bpw");
    dst.add_user("alice", "unused");
    dst.add_user("bob", "unused");
    // bob's mailbox is small: two messages.
    let mut p = support::probe::Probe::login(src.imap_port(), "bob", "bpw");
    for i in 0..2 {
        let body = format!("Message-ID: <b{i}@x>\r\nSubject: small {i}\r\n\r\nhello\r\n");
        p.append("INBOX", &[], "01-Jan-2020 10:00:00 +0000", body.as_bytes());
    }
    p.logout();
    let mut s = spec("quota", src.imap_port(), dst.imap_port());
    s.skip = String::new();
    // Patient: a server over quota recounts its maildir, and a 300 ms
    // timeout on a loaded machine would add a retry this test is not about.
    let (o, events) = run_patient(&s);
    let bob = mailbox(&o, "bob");
    assert_eq!(bob.verdict(), Verdict::Success, "{bob:#?}");
    assert_not_retried(&events, "alice");
    let alice = mailbox(&o, "alice");
    let err = alice.error.clone().unwrap_or_default();
    assert!(err.starts_with("The destination mailbox alice is full (over quota): the new server refused more mail. Ask the new host to raise the quota, or remove mail there, then run the job again: it copies only what is missing. [NO [OVERQUOTA]"), "{alice:#?}");
    assert!(alice.migrated() > 0, "what fitted was copied: {alice:#?}");
}

#[test]
fn a_message_too_big_for_the_destination_is_listed_and_the_rest_copied() {
    let dst = Dovecot::start_with(&ServerOptions {
        tls: false,
        extra_config: "mail_plugins = $mail_plugins quota\nplugin {\n  quota = maildir:User quota\n  quota_max_mail_size = 9k\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    });
    let (src, dst) = pair_with(dst);
    let (o, events) = run(&spec("toobig", src.imap_port(), dst.imap_port()));
    assert_eq!(retries_of(&events, "alice"), 0, "per message: not retried");
    for user in ["alice", "bob"] {
        let m = mailbox(&o, user);
        assert!(m.error.is_none(), "{m:#?}");
        let inbox = &m.folders[0];
        assert!(inbox.failed > 0 && inbox.migrated > 0, "{inbox:#?}");
        assert_eq!(inbox.failed + inbox.migrated, 9);
        // The verification saw the folder after the messages that went one
        // by one (the refused MULTIAPPEND's look ahead was dropped).
        let v = inbox.verification.as_ref().expect("verified");
        assert_eq!(
            (v.destination_messages, v.missing.len() as u64),
            (inbox.migrated, inbox.failed),
            "{v:#?}"
        );
        let f = &inbox.failures[0];
        assert!(f.subject.starts_with("INBOX message"), "{f:#?}");
        assert!(
            f.reason
                .starts_with("The destination refused a message of "),
            "{}",
            f.reason
        );
        assert!(f.reason.contains("in folder INBOX: the message is too big, larger than the new server accepts. Ask the new host to raise its message size limit"), "{}", f.reason);
        assert_eq!(m.verdict(), Verdict::Partial);
    }
}

#[test]
fn a_folder_the_source_refuses_to_open_fails_alone_and_the_others_are_copied() {
    use std::os::unix::fs::PermissionsExt;
    let (src, dst) = pair();
    // Dovecot reads alice's mail as uid 8: a Sent it may not read is a
    // folder it lists but refuses to open.
    let sent = src.home("alice").join("Maildir/Sent");
    std::fs::set_permissions(&sent, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut s = spec("refused-folder", src.imap_port(), dst.imap_port());
    s.skip = "Archive\nEntwürfe\n".into();
    let (o, events) = run(&s);
    std::fs::set_permissions(&sent, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        retries_of(&events, "alice"),
        0,
        "fatal for the folder: not retried"
    );
    let alice = mailbox(&o, "alice");
    assert!(alice.error.is_none(), "the mailbox went on: {alice:#?}");
    assert_eq!(alice.verdict(), Verdict::Partial, "{alice:#?}");
    let folder = |m: &MailboxOutcome, name: &str| {
        m.folders
            .iter()
            .find(|f| f.source == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {m:#?}"))
    };
    let failed = folder(alice, "Sent");
    let err = failed.error.clone().unwrap_or_default();
    assert!(
        err.starts_with("The source server 127.0.0.1 (IMAP4, port "),
        "{err}"
    );
    assert!(err.contains(" refused EXAMINE"), "{err}");
    assert!(err.contains("Its reason is in its own words below; if it is not clear, send this log to the host's support. [NO"), "{err}");
    assert_eq!(failed.error_code.as_deref(), Some("refused"));
    assert_eq!((failed.migrated, failed.verdict()), (0, Verdict::Failed));
    assert_eq!(folder(alice, "INBOX").migrated, 9, "{alice:#?}");
    let bob = mailbox(&o, "bob");
    assert_eq!(bob.verdict(), Verdict::Success, "{bob:#?}");
    assert_eq!(
        (folder(bob, "INBOX").migrated, folder(bob, "Sent").migrated),
        (9, 6)
    );
}

#[test]
fn a_folder_name_the_destination_refuses_fails_that_folder_alone() {
    let (src, dst) = pair();
    let mut s = spec("refused-name", src.imap_port(), dst.imap_port());
    s.skip = "Archive\nEntwürfe\n".into();
    // Longer than a file name may be on the destination's disk.
    let long = "S".repeat(300);
    s.translate = format!("Sent,{long}\n");
    let (o, events) = run(&s);
    for user in ["alice", "bob"] {
        let m = mailbox(&o, user);
        assert_eq!(retries_of(&events, user), 0);
        assert!(m.error.is_none(), "the mailbox went on: {m:#?}");
        assert_eq!(m.verdict(), Verdict::Partial, "{m:#?}");
        let sent = m.folders.iter().find(|f| f.source == "Sent").unwrap();
        let err = sent.error.clone().unwrap_or_default();
        assert!(err.starts_with(&format!("The folder {long} could not be created on the destination: the new server does not allow that name. Its messages were not copied; the other folders were. Translate the folder to another name in the job, or skip it, then run the job again. [NO")), "{err}");
        assert_eq!(sent.error_code.as_deref(), Some("folder-not-created"));
        assert_eq!((sent.migrated, sent.verdict()), (0, Verdict::Failed));
        let inbox = m.folders.iter().find(|f| f.source == "INBOX").unwrap();
        assert_eq!(
            (inbox.migrated, inbox.verdict()),
            (9, Verdict::Success),
            "{m:#?}"
        );
    }
}

#[test]
fn a_missing_destination_mailbox_is_named_as_such() {
    let (src, dst) = pair();
    let mut s = spec("missing", src.imap_port(), dst.imap_port());
    s.users = "alice,apw,nobody-here\nbob,bpw\n".into();
    let (o, events) = run_patient(&s);
    bob_is_fine(&o);
    assert_eq!(retries_of(&events, "alice"), 0);
    let err = alice_error(&o);
    assert!(err.contains("for nobody-here as the admin admin: login failed. The mailbox nobody-here may not exist on the new server (MailFerry never creates accounts)"), "{err}");
}

#[test]
fn unknown_hosts_and_closed_ports_are_explained() {
    let plain = Dovecot::start_plaintext(Layout::Slash);
    let mut s = spec("unknown-host", plain.imap_port(), plain.imap_port());
    s.users = "alice,apw\n".into();
    s.source_host = "no-such-host.invalid".into();
    let (o, events) = run(&s);
    assert_eq!(retries_of(&events, "alice"), 0);
    let err = alice_error(&o);
    assert!(
        err.contains(
            "Could not connect to the source server no-such-host.invalid on any of the ports tried"
        ),
        "{err}"
    );
    assert!(
        err.contains("the host name could not be resolved. Check the server name"),
        "{err}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = spec("closed", closed, plain.imap_port());
    s.users = "alice,apw\n".into();
    let (o, _) = run(&s);
    let err = alice_error(&o);
    assert!(err.contains("the connection was refused (nothing listens on that port). Check the ports and the protocol"), "{err}");
}

#[test]
fn malformed_job_files_get_clear_errors_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .env("MAILFERRY_DB", dir.path().join("m.db"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        err
    };
    let err = check("binary.toml", &[0xff, 0xfe, 0x00, 0x01, b'[', 0x80]);
    assert!(err.starts_with("The job file could not be read"), "{err}");
    let err = check("empty.toml", b"");
    assert!(
        err.starts_with("The job file is not valid: missing field `source`"),
        "{err}"
    );
    let err = check("types.toml", b"[source]\nhost = 5\n");
    assert!(err.contains("See docs/job-file.md"), "{err}");
    let base = "[source]\nhost = \"old.example\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n";
    let err = check(
        "users.toml",
        format!("{base}[users]\nlist = \"alice\\nbob,pw\\n\"\n").as_bytes(),
    );
    assert!(
        err.starts_with("User list, line 1: no password after the delimiter ','"),
        "{err}"
    );
    let err = check(
        "options.toml",
        format!("{base}[users]\nlist = \"a,b\"\n[options]\nretries = 99\n").as_bytes(),
    );
    assert!(
        err.contains("The option retries is out of range: 99 is not between 0 and 50"),
        "{err}"
    );
}
