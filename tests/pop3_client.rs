//! The POP3 client against a private Dovecot: every message byte for byte
//! (checked against the IMAP probe's BODY[]), over POP3S and POP3+STLS,
//! pipelined or not; logins (AUTH PLAIN in one and two steps, APOP,
//! USER/PASS, refusals); and a source left exactly as it was.

mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use mailferry::error::{MailError, Side};
use mailferry::net::CertPolicy;
use mailferry::pop3::{Pop3Client, Pop3Endpoint, Pop3MessageError, Pop3Transport};
use mailferry::secret::Secret;
use sha2::{Digest, Sha256};
use support::dovecot::{Dovecot, Layout};
use support::probe::{FetchedMessage, Part, Probe};

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
const DATE: &str = "15-Jun-2010 08:30:00 -0700";
/// The cap in the tests: above every message but the large one.
const CAP: usize = 1 << 20;

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn pop3s(server: &Dovecot) -> Pop3Endpoint {
    Pop3Endpoint {
        side: Side::Source,
        host: server.host().into(),
        ports: vec![server.pop3s_port()],
        transport: Pop3Transport::Tls,
        certs: CertPolicy::CaFile(server.ca_file()),
        protocol: "POP3S",
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(30),
    }
}

fn stls(server: &Dovecot, allow_plaintext: bool) -> Pop3Endpoint {
    Pop3Endpoint {
        ports: vec![server.pop3_port()],
        transport: Pop3Transport::Stls { allow_plaintext },
        protocol: "POP3",
        ..pop3s(server)
    }
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\nDate: Tue, 15 Jun 2010 08:30:00 -0700\r\n\r\n{body}"
    )
    .into_bytes()
}

/// The messages seeded into alice's INBOX.
fn corpus() -> Vec<(Vec<u8>, &'static [&'static str])> {
    let mut large = String::new();
    let mut i = 0u64;
    while large.len() < 3 << 20 {
        // 76 characters of pseudo-base64 a line; every 50th line starts with a dot.
        let dot = if i.is_multiple_of(50) { "." } else { "" };
        let word = format!("{dot}{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        large.push_str(&word.repeat(5)[..76]);
        large.push_str("\r\n");
        i += 1;
    }
    vec![
        (message("plain", "Hello Alice,\r\nsee you.\r\n"), &[]),
        (
            message(
                "dots",
                ".\r\n..\r\n...\r\n.leading dot\r\n..two dots\r\nmid . dot\r\n. \r\n.\r\n",
            ),
            &["\\Seen"],
        ),
        // Dovecot turns the bare LFs into CRLF on APPEND (see the unit tests
        // for bare LF kept as sent).
        (message("bare-lf", "one\ntwo\n.\nthree\r\n"), &["\\Flagged"]),
        (message("large", &large), &[]),
        (
            message(
                "8bit",
                "Gr\u{fc}\u{df}e, \u{65e5}\u{672c}\r\n\t.tab-dot\r\n",
            ),
            &["\\Answered", "$Forwarded"],
        ),
        (message("only-dot-line-last", "text\r\n."), &[]),
    ]
}

fn seed(server: &Dovecot) -> Vec<FetchedMessage> {
    server.add_user(USER, PASSWORD);
    let mut probe = Probe::login(server.imap_port(), USER, PASSWORD);
    for (body, flags) in corpus() {
        probe.append("INBOX", flags, DATE, &body);
    }
    let messages = probe.fetch_all("INBOX");
    probe.logout();
    messages
}

/// The header and the blank line after it, as TOP n 0 returns them.
fn header(body: &[u8]) -> &[u8] {
    let end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &body[..end + 4]
}

/// What POP3 can return for a message: the same bytes, except that a
/// message without a final line end gets one (the multi-line reply must end
/// in CRLF before its terminator).
fn as_pop3(body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    if !body.ends_with(b"\n") {
        body.extend_from_slice(b"\r\n");
    }
    body
}

/// Everything a migration reads, checked against the probe's view. Without
/// `quit` the connection is just dropped at the end.
async fn read_all(ep: &Pop3Endpoint, expected: &[FetchedMessage], uidvalidity: u32, quit: bool) {
    let mut client = Pop3Client::connect(ep, USER, &Secret::new(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ep.protocol));
    assert!(client.has("PIPELINING") && client.has("TOP") && client.has("UIDL"));
    let n = expected.len() as u32;

    let (count, octets) = client.stat().await.unwrap();
    assert_eq!(count, n);
    assert_eq!(octets, expected.iter().map(|m| m.size).sum::<u64>());
    let sizes: Vec<(u32, u64)> = (1..=n).zip(expected.iter().map(|m| m.size)).collect();
    assert_eq!(client.list().await.unwrap(), sizes);
    // Dovecot's default pop3_uidl_format %08Xu%08Xv (lower-case hex) names the IMAP UID,
    // which proves message n is the probe's n-th message.
    let uids: Vec<(u32, String)> = (1..=n)
        .zip(
            expected
                .iter()
                .map(|m| format!("{:08x}{uidvalidity:08x}", m.uid)),
        )
        .collect();
    assert_eq!(client.uidl().await.unwrap(), uids);

    let msgnos: Vec<u32> = (1..=n).collect();
    let mut one_by_one = Vec::new();
    for (&msgno, m) in msgnos.iter().zip(expected) {
        let got = client.retr(msgno, 8 << 20).await.unwrap().unwrap();
        assert_eq!(sha(&got), sha(&as_pop3(&m.body)), "message {msgno}");
        let top = client.top(msgno, 0).await.unwrap().unwrap();
        assert_eq!(top, header(&m.body), "TOP {msgno} 0");
        one_by_one.push(got);
    }
    let pipelined = client.retr_many(&msgnos, 8 << 20).await.unwrap();
    let pipelined: Vec<Vec<u8>> = pipelined.into_iter().map(Result::unwrap).collect();
    assert!(pipelined == one_by_one, "pipelined RETR differs");

    // The cap: the large message is refused, the others around it are read.
    let capped = client.retr_many(&msgnos, CAP).await.unwrap();
    for ((msgno, got), m) in msgnos.iter().zip(&capped).zip(expected) {
        match got {
            Ok(body) => assert_eq!(body, &as_pop3(&m.body)),
            Err(Pop3MessageError::TooLarge {
                msgno: no,
                size,
                limit,
                ..
            }) => {
                assert_eq!((no, *size, *limit), (msgno, m.size, CAP as u64));
                assert!(m.size > CAP as u64);
            }
            Err(e) => panic!("{e}"),
        }
    }
    let err = client.retr(4, CAP).await.unwrap().unwrap_err();
    assert!(err.to_string().contains("Message 4 on"), "{err}");
    // A message number that does not exist is that message's error only.
    let missing = client.retr_many(&[n + 1, 1], CAP).await.unwrap();
    assert!(
        matches!(&missing[0], Err(Pop3MessageError::Refused { msgno, server_text, .. })
            if *msgno == n + 1 && server_text.starts_with("-ERR")),
        "{missing:?}"
    );
    assert_eq!(
        missing[1].as_deref().unwrap(),
        &as_pop3(&expected[0].body)[..]
    );
    if quit {
        client.quit().await;
    }
}

/// Waits until `count` lines of Dovecot's log hold both `who` and `what`.
fn wait_for_log(server: &Dovecot, who: &str, what: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log_tail();
        let seen = log.lines().filter(|l| l.contains(who) && l.contains(what));
        if seen.count() >= count {
            return;
        }
        assert!(Instant::now() < deadline, "{count} x {who} {what}?\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pop3s_and_stls_read_every_message_byte_for_byte_and_change_nothing() {
    let server = Dovecot::start(Layout::Slash);
    let expected = seed(&server);
    assert_eq!(expected.len(), corpus().len());
    assert!(expected.iter().any(|m| m.size > 3 << 20));
    let uidvalidity = {
        let mut probe = Probe::login(server.imap_port(), USER, PASSWORD);
        let info = probe.examine("INBOX");
        probe.logout();
        info.uidvalidity
    };

    // A closed port first: ports are tried in order.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut tls = pop3s(&server);
    tls.ports.insert(0, closed_port);
    block_on(async {
        read_all(&tls, &expected, uidvalidity, true).await;
        read_all(&stls(&server, false), &expected, uidvalidity, false).await;
    });

    // An empty mailbox.
    server.add_user("bob", "bobpw");
    block_on(async {
        let mut client = Pop3Client::connect(&pop3s(&server), "bob", &Secret::new("bobpw"))
            .await
            .unwrap();
        assert_eq!(client.stat().await.unwrap(), (0, 0));
        assert!(client.list().await.unwrap().is_empty());
        assert!(client.uidl().await.unwrap().is_empty());
        assert!(client.retr_many(&[], CAP).await.unwrap().is_empty());
        client.quit().await;
    });

    // Dovecot updates flags as a session ends: wait for both to have ended.
    wait_for_log(&server, "pop3(alice)", "Disconnected", 2);

    // The source is as it was: same UIDs, bodies and flags. (Dovecot marks
    // what RETR read \Seen when a session ends, QUIT or not, unless RSET
    // came after; quit() and retr_many() send it.)
    let mut probe = Probe::login(server.imap_port(), USER, PASSWORD);
    let after = probe.fetch_all("INBOX");
    probe.logout();
    assert_eq!(after, expected);
    assert!(after
        .iter()
        .all(|m| !m.flags.iter().any(|f| f == "\\Deleted")));
}

#[test]
fn wrong_password_is_a_login_error_that_never_shows_the_password() {
    let server = Dovecot::start(Layout::Slash);
    server.add_user(USER, PASSWORD);
    let wrong = "Wr0ng-Passw0rd-xyz";
    for ep in [pop3s(&server), stls(&server, false)] {
        let err = block_on(Pop3Client::connect(&ep, USER, &Secret::new(wrong))).unwrap_err();
        let MailError::Login { server_text, .. } = &err else {
            panic!("{}: {err:?}", ep.protocol)
        };
        assert_eq!(server_text, "-ERR [AUTH] Authentication failed.");
        let text = err.to_string();
        assert!(text.contains("Check both in the user list"), "{text}");
        assert!(text.contains(USER), "{text}");
        assert!(!format!("{text} {err:?}").contains(wrong));
    }
}

#[test]
fn a_password_too_long_for_one_auth_line_logs_in_in_two_steps() {
    let server = Dovecot::start(Layout::Slash);
    let long: String = (0..300).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    server.add_user(USER, &long);
    block_on(async {
        let mut client = Pop3Client::connect(&pop3s(&server), USER, &Secret::new(&long))
            .await
            .unwrap();
        assert_eq!(client.stat().await.unwrap(), (0, 0));
        client.quit().await;
    });
    assert!(server.log_tail().contains("method=PLAIN"));
}

/// Rewrites the instance's config and reloads it: POP3 without STLS, with
/// `mechanisms`, until the POP3 greeting shows it took effect.
fn reconfigure_pop3(server: &Dovecot, mechanisms: &str, apop: bool) {
    let extra = format!("auth_mechanisms = {mechanisms}\nprotocol pop3 {{\n  ssl = no\n}}\n");
    let conf = std::fs::read_to_string(server.config_path()).unwrap();
    std::fs::write(server.config_path(), conf + &extra).unwrap();
    server.doveadm(&["reload"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        use std::io::{BufRead, BufReader, Write};
        let tcp = std::net::TcpStream::connect(("127.0.0.1", server.pop3_port())).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(tcp.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        (&tcp).write_all(b"CAPA\r\nQUIT\r\n").unwrap();
        let mut capa = String::new();
        while !capa.ends_with("\r\n.\r\n") && r.read_line(&mut capa).unwrap() > 0 {}
        if greeting.contains('<') == apop && !capa.contains("STLS") {
            return;
        }
        assert!(Instant::now() < deadline, "reload did not take: {greeting}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn without_stls_apop_or_plaintext_only_when_allowed() {
    let server = Dovecot::start(Layout::Slash);
    let expected = seed(&server);
    let secret = Secret::new(PASSWORD);

    // No STLS and no APOP timestamp: refused unless plaintext is allowed.
    reconfigure_pop3(&server, "plain login", false);
    let err = block_on(Pop3Client::connect(&stls(&server, false), USER, &secret)).unwrap_err();
    assert!(matches!(err, MailError::PlaintextRefused { .. }), "{err}");
    block_on(async {
        let mut client = Pop3Client::connect(&stls(&server, true), USER, &secret)
            .await
            .unwrap();
        assert_eq!(client.stat().await.unwrap().0, expected.len() as u32);
        client.quit().await;
    });
    assert!(server.log_tail().contains("method=PLAIN"));

    // With an APOP timestamp in the greeting: APOP, even without plaintext.
    reconfigure_pop3(&server, "plain login apop", true);
    block_on(async {
        let mut client = Pop3Client::connect(&stls(&server, false), USER, &secret)
            .await
            .unwrap();
        let got = client.retr(2, CAP).await.unwrap().unwrap();
        assert_eq!(got, expected[1].body);
        client.quit().await;
        let err = Pop3Client::connect(&stls(&server, false), USER, &Secret::new("nope"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, MailError::Login { server_text, .. } if server_text.starts_with("-ERR")),
            "{err:?}"
        );
    });
    assert!(server.log_tail().contains("method=APOP"));
}

/// Not a benchmark with asserts: prints what pipelined RETR achieves over
/// POP3S on this machine, and one message at a time for comparison.
#[test]
fn retr_many_throughput_over_pop3s() {
    const N: usize = 1000;
    let server = Dovecot::start(Layout::Slash);
    server.add_user(USER, PASSWORD);
    let mut probe = Probe::login(server.imap_port(), USER, PASSWORD);
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let line = format!("{i:06} {}\r\n", "lorem ipsum dolor sit amet ".repeat(2));
            message(&format!("bulk-{i}"), &line.repeat(30 * 1024 / line.len()))
        })
        .collect();
    for batch in bodies.chunks(100) {
        let mut parts = vec![Part::Text("APPEND \"INBOX\"")];
        for body in batch {
            parts.push(Part::Text(" () "));
            parts.push(Part::Literal(body));
        }
        probe.command_parts(&parts);
    }
    probe.logout();
    let total: usize = bodies.iter().map(Vec::len).sum();

    block_on(async {
        let mut client = Pop3Client::connect(&pop3s(&server), USER, &Secret::new(PASSWORD))
            .await
            .unwrap();
        let msgnos: Vec<u32> = (1..=N as u32).collect();
        let t = Instant::now();
        let got = client.retr_many(&msgnos, CAP).await.unwrap();
        let pipelined = t.elapsed();
        for (g, b) in got.iter().zip(&bodies) {
            assert!(g.as_ref().unwrap() == b);
        }
        let t = Instant::now();
        for &n in &msgnos {
            client.retr(n, CAP).await.unwrap().unwrap();
        }
        let single = t.elapsed();
        client.quit().await;
        let mb = total as f64 / 1e6;
        for (how, d) in [("pipelined", pipelined), ("one at a time", single)] {
            let s = d.as_secs_f64();
            eprintln!(
                "POP3S RETR {how}: {N} messages, {mb:.1} MB in {s:.2} s: {:.0} msgs/s, {:.1} MB/s",
                N as f64 / s,
                mb / s
            );
        }
    });
}
