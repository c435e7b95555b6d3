//! Proves the test bed itself: Dovecot instances, the probe, the corpus and
//! the snapshot comparisons.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::time::{Duration, Instant};
use support::corpus::{
    assert_same_mail, assert_unchanged, format_utc, parse_internaldate, seed_standard_corpus,
    snapshot, snapshot_with, CorpusSummary, Snapshot,
};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::probe::{mutf7_decode, mutf7_encode, parse_items, Item, Probe};

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

fn seeded(layout: Layout) -> (Dovecot, CorpusSummary, Snapshot) {
    let t = Instant::now();
    let server = Dovecot::start(layout);
    let started = t.elapsed();
    server.add_user(USER, PASSWORD);
    let summary = seed_standard_corpus(&server, USER, PASSWORD);
    let seeded = t.elapsed();
    let snap = snapshot(&server, USER, PASSWORD);
    eprintln!(
        "{layout:?}: started {started:?}, seeded {seeded:?}, snapshot {:?}",
        t.elapsed()
    );
    (server, summary, snap)
}

fn identity(path: &str) -> String {
    path.to_string()
}

fn panics(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("should have panicked");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn corpus_reads_back_the_same_on_both_layouts() {
    let t = Instant::now();
    let ((slash, slash_seeded, slash_snap), (courier, courier_seeded, courier_snap)) =
        std::thread::scope(|s| {
            let slash = s.spawn(|| seeded(Layout::Slash));
            let courier = s.spawn(|| seeded(Layout::Courier));
            (slash.join().unwrap(), courier.join().unwrap())
        });

    // Every folder holds exactly what was seeded (bodies, sizes, dates, flags).
    for (seeded, snap) in [
        (&slash_seeded, &slash_snap),
        (&courier_seeded, &courier_snap),
    ] {
        assert!(seeded.folders.keys().eq(snap.folders.keys()));
        for (path, facts) in &seeded.folders {
            assert_eq!(&snap.facts(path), facts, "{path}");
        }
        assert_eq!(snap.total_messages(), seeded.total());
    }
    assert_eq!((slash_seeded.total(), courier_seeded.total()), (38, 36));
    assert_eq!(slash_seeded.count("Folder.With.Dots"), 2);
    assert_eq!(slash_seeded.count("Empty"), 0);
    assert!(slash_snap.folders.contains_key("Empty"));

    // Folder trees: `Projects` exists but is not selectable.
    let mut all = vec![
        "Archive",
        "Archive/2019",
        "Empty",
        "Entwürfe",
        "Folder With Space",
        "INBOX",
        "Projects",
        "Projects/Résumé & Co 日本",
        "Sent",
    ];
    assert!(courier_snap.all_folders.iter().eq(&all));
    all.push("Folder.With.Dots");
    all.sort();
    assert!(slash_snap.all_folders.iter().eq(&all));
    assert!(!slash_snap.folders.contains_key("Projects"));
    assert!(!courier_snap.folders.contains_key("Projects"));

    // Same mail on both servers, both ways (Courier cannot hold dotted names).
    assert_same_mail(&courier_snap, &slash_snap, identity);
    let mut without_dots = slash_snap.clone();
    without_dots.folders.remove("Folder.With.Dots");
    assert_same_mail(&without_dots, &courier_snap, identity);

    // Dates are instants: the 2010 -0700 message, and the one at +1400.
    let inbox = courier_snap.facts("INBOX");
    let at = |date| {
        inbox
            .iter()
            .filter(move |f| f.internaldate == parse_internaldate(date))
    };
    let in_2010: Vec<_> = at("15-Jun-2010 15:30:00 +0000").collect();
    assert_eq!(in_2010.len(), 3, "{inbox:#?}"); // Latin-1 headers, and the duplicate twice
    let answered = in_2010
        .iter()
        .find(|f| f.flags.contains("\\Answered"))
        .unwrap();
    assert_eq!(answered.internaldate, 1_276_615_800);
    assert!(answered.flags.iter().eq(["\\Answered", "\\Seen"]));
    let big = at("31-Dec-2021 23:59:59 +1400")
        .max_by_key(|f| f.size)
        .unwrap();
    assert!(big.size > 3_000_000, "{big}");
    assert_eq!(format_utc(big.internaldate), "2021-12-31T09:59:59Z");
    // \Deleted survives (nothing expunges), \Recent is never reported.
    let flags: std::collections::BTreeSet<&str> = slash_snap
        .folders
        .values()
        .flat_map(|f| f.messages.values())
        .flat_map(|m| &m.flags)
        .map(String::as_str)
        .collect();
    let expected = [
        "$Forwarded",
        "$Label1",
        "ProjectX",
        "\\Answered",
        "\\Deleted",
        "\\Draft",
        "\\Flagged",
        "\\Seen",
    ];
    assert!(flags.iter().eq(&expected), "{flags:?}");
    // The byte-identical duplicate is there twice.
    let mut sorted = inbox.clone();
    sorted.dedup();
    assert_eq!(inbox.len(), sorted.len() + 1);

    // A snapshot changes nothing.
    assert_unchanged(&slash_snap, &snapshot(&slash, USER, PASSWORD));

    // The oracle does fail: a lost flag, and a delete + re-append (same
    // content, new UID) that only the UID-aware comparison notices.
    let mut flagless = courier_snap.clone();
    let first = flagless
        .folders
        .get_mut("Sent")
        .unwrap()
        .messages
        .values_mut()
        .next()
        .unwrap();
    first.flags.clear();
    let msg = panics(|| assert_same_mail(&courier_snap, &flagless, identity));
    assert!(
        msg.contains("\"Sent\" -> \"Sent\": 5 vs 5 messages") && msg.contains("missing"),
        "{msg}"
    );

    let mut probe = Probe::login(courier.imap_port(), USER, PASSWORD);
    let sent = probe.fetch_all("INBOX.Sent");
    let m = &sent[0];
    let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    probe.expunge_uid("INBOX.Sent", m.uid);
    probe.append("INBOX.Sent", &flags, &m.internaldate, &m.body);
    probe.logout();
    let after = snapshot(&courier, USER, PASSWORD);
    assert_same_mail(&courier_snap, &after, identity);
    let msg = panics(|| assert_unchanged(&courier_snap, &after));
    assert!(
        msg.contains("\"Sent\": UIDs [1, 2, 3, 4, 5] -> [2, 3, 4, 5, 6]"),
        "{msg}"
    );

    eprintln!("corpus test took {:?}", t.elapsed());
    std::thread::scope(|s| {
        s.spawn(|| drop(slash));
        drop(courier);
    });
}

#[test]
fn master_user_logs_in_for_alice() {
    let server = Dovecot::start(Layout::Courier);
    server.add_user(USER, PASSWORD);
    let port = server.imap_port();
    let mut probe = Probe::login(port, USER, PASSWORD);
    let uid = probe.append(
        "INBOX",
        &["\\Seen"],
        "01-May-2020 10:00:00 +0000",
        b"Subject: hi\r\n\r\nhello\r\n",
    );
    assert_eq!(uid, 1);
    probe.store_flags("INBOX", uid, &["\\Flagged", "$Label1"]);
    probe.create("INBOX.Gone");
    probe.delete("INBOX.Gone");
    probe.logout();

    // SASL PLAIN with authzid=alice, and LOGIN "alice*admin".
    let mut master = Probe::login_master(port, USER, MASTER_USER, MASTER_PASSWORD);
    assert_eq!(master.examine("INBOX").exists, 1);
    let seen = snapshot_with(&mut master);
    master.logout();
    let mut starred = Probe::login(port, &format!("{USER}*{MASTER_USER}"), MASTER_PASSWORD);
    assert_eq!(snapshot_with(&mut starred), seen);
    starred.logout();
    assert_eq!(seen, snapshot(&server, USER, PASSWORD));
    assert!(seen.all_folders.iter().eq(["INBOX"]));
    let flags = &seen.folders["INBOX"].messages[&1].flags;
    assert!(flags.iter().eq(["$Label1", "\\Flagged"]), "{flags:?}");

    assert!(Probe::try_login(port, USER, "wrong").is_err());
    assert!(Probe::try_login(port, &format!("{USER}*{MASTER_USER}"), "wrong").is_err());
    let status = server.doveadm(&["mailbox", "status", "-u", USER, "messages", "INBOX"]);
    assert_eq!(status.trim(), "INBOX messages=1");
}

/// What each port says within a second of connecting (waiting in parallel).
fn greetings(ports: &[u16]) -> Vec<String> {
    let streams: Vec<TcpStream> = ports
        .iter()
        .map(|&port| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(1);
    let read = |mut stream: TcpStream| {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0; 200];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    streams.into_iter().map(read).collect()
}

#[test]
fn ports_tls_late_users_and_clean_shutdown() {
    let server = Dovecot::start(Layout::Slash);
    // Users added while running work at once, one after another.
    for (user, password) in [
        ("bob", "pw-bob"),
        ("carol", "pw-carol"),
        ("Dave", "pw-dave"),
    ] {
        server.add_user(user, password);
        Probe::login(server.imap_port(), user, password).logout();
    }

    let ports = [
        server.imap_port(),
        server.pop3_port(),
        server.imaps_port(),
        server.pop3s_port(),
    ];
    let said = greetings(&ports);
    assert!(
        said[0].starts_with("* OK") && said[1].starts_with("+OK"),
        "{said:?}"
    );
    assert_eq!(said[2..], ["", ""], "a TLS port greets in clear text");
    for port in [server.imaps_port(), server.pop3s_port()] {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile"])
            .arg(server.ca_file())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "port {port}: {text}"
        );
    }

    let conf = server.config_path().to_path_buf();
    assert!(!server.processes().is_empty());
    let t = Instant::now();
    drop(server);
    eprintln!("stop took {:?}", t.elapsed());
    let left = Command::new("pgrep").arg("-f").arg(&conf).output().unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(!conf.exists());
}

#[test]
fn modified_utf7_and_dates() {
    assert_eq!(
        mutf7_encode("~peter/mail/台北/日本語"),
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    );
    assert_eq!(mutf7_encode("Entwürfe"), "Entw&APw-rfe");
    assert_eq!(
        mutf7_encode("Résumé & Co 日本"),
        "R&AOk-sum&AOk- &- Co &ZeVnLA-"
    );
    for name in [
        "",
        "&",
        "a&b-c",
        "Entwürfe",
        "📬 Post & Ümläute",
        "日本語 x 日本語",
        "~/.x",
    ] {
        assert_eq!(mutf7_decode(&mutf7_encode(name)).unwrap(), name);
    }
    assert!(mutf7_decode("&Zev").is_err());
    assert!(mutf7_decode("&2D0-").is_err()); // a lone surrogate

    assert_eq!(
        parse_internaldate("15-Jun-2010 08:30:00 -0700"),
        1_276_615_800
    );
    assert_eq!(
        parse_internaldate(" 5-Jul-2015 10:00:00 +0200"),
        1_436_083_200
    );
    assert_eq!(
        parse_internaldate("10-Mar-2026 07:15:00 -0330"),
        1_773_139_500
    );
    assert_eq!(
        parse_internaldate("29-Feb-2024 12:00:00 +0530"),
        1_709_188_200
    );
    assert_eq!(
        format_utc(parse_internaldate("01-Jan-1999 00:00:00 +0000")),
        "1999-01-01T00:00:00Z"
    );
    assert_eq!(format_utc(-1), "1969-12-31T23:59:59Z");
}

#[test]
fn probe_parses_literals_anywhere() {
    let raw = b"* LIST (\\HasNoChildren) \"/\" {7}\r\nq\"u\\o)e\r\n";
    let items = parse_items(raw);
    assert_eq!(items[4], Item::Str(b"q\"u\\o)e".to_vec()));
    let raw: &[&[u8]] = &[
        b"* 1 FETCH (UID 7 BODY[HEADER.FIELDS (SUBJECT)] {5}\r\nab\r\nc",
        b" FLAGS (\\Seen) X \"a\\\"b\")\r\n",
    ];
    let items = parse_items(&raw.concat());
    let attrs = items[3].list();
    assert_eq!(attrs[2], Item::Atom("BODY[HEADER.FIELDS (SUBJECT)]".into()));
    assert_eq!(attrs[3], Item::Str(b"ab\r\nc".to_vec()));
    assert_eq!(attrs[5], Item::List(vec![Item::Atom("\\Seen".into())]));
    assert_eq!(attrs[7], Item::Str(b"a\"b".to_vec()));
}

/// The OAuth test bed: Dovecot takes tokens the loopback identity provider
/// issued (a user's own only for that user, an app-only one for anyone)
/// and refuses revoked ones and ones without the scope it requires.
#[test]
fn dovecot_checks_oauth_tokens_with_the_test_identity_provider() {
    use support::dovecot::ServerOptions;
    use support::oauth::{Idp, SCOPE};
    let idp = Idp::start();
    let server = Dovecot::start_with(&ServerOptions {
        oauth: Some(idp.dovecot()),
        ..ServerOptions::new(Layout::Slash)
    });
    server.add_user("alice", "pw1");
    server.add_user("bob", "pw2");
    let hour = Duration::from_secs(3600);
    let alices = idp.mint("alice", SCOPE, hour);
    Probe::try_xoauth2(server.imap_port(), "alice", &alices)
        .unwrap()
        .logout();
    assert!(Probe::try_xoauth2(server.imap_port(), "bob", &alices).is_err());
    let wrong_scope = idp.mint("alice", "https://mail.test/other", hour);
    assert!(Probe::try_xoauth2(server.imap_port(), "alice", &wrong_scope).is_err());
    idp.revoke(&alices);
    assert!(Probe::try_xoauth2(server.imap_port(), "alice", &alices).is_err());
    // Client credentials: one token, every mailbox.
    idp.register_client("tenant-app", Some("s3cret"));
    let app = post_form(
        &idp.token_url(),
        &format!(
            "grant_type=client_credentials&client_id=tenant-app&client_secret=s3cret&scope={}",
            support::oauth::enc(SCOPE)
        ),
    );
    let app = app["access_token"].as_str().unwrap().to_string();
    for user in ["alice", "bob"] {
        Probe::try_xoauth2(server.imap_port(), user, &app)
            .unwrap()
            .logout();
    }
    // Passwords still work beside tokens.
    Probe::login(server.imap_port(), "alice", "pw1").logout();
    assert_eq!(idp.grants(), ["client_credentials"]);
}

/// A blocking form POST to the identity provider, for the test above.
fn post_form(url: &str, body: &str) -> serde_json::Value {
    use std::io::Write;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (_, json) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(json).unwrap()
}
