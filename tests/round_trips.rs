//! How few round trips a copy takes: a re-run where neither side changed
//! opens no folder at all (one STATUS a folder on each side), and still
//! sees every change made behind its back. `probe` measures a copy over a
//! simulated distant link (`support::link`).

mod support;

use std::time::Instant;

use mailferry::compress::CompressMode;
use mailferry::copy::Options;
use support::corpus::{seed_bench_account, seed_folders_account, snapshot};
use support::dovecot::{Dovecot, Layout, ServerOptions};
use support::faults::{compare, seed_small_corpus, FaultProxy};
use support::jobs::JobSpec;
use support::link::{Link, LinkProxy};
use support::probe::Probe;

/// What the client sent over each connection of `proxy` from connection
/// `from` on, as text.
fn sent(proxy: &FaultProxy, from: usize) -> Vec<String> {
    proxy.client_bytes()[from..]
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// A source and a destination Dovecot, started side by side.
fn two_servers(options: &ServerOptions) -> (Dovecot, Dovecot) {
    std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_with(options));
        let d = sc.spawn(|| Dovecot::start_with(options));
        (s.join().unwrap(), d.join().unwrap())
    })
}

/// Plaintext servers, `user` on both (secret1 on the source, secret2 on
/// the destination), the source seeded with the small corpus: the servers
/// and how many messages it holds.
fn seeded_servers(user: &str) -> (Dovecot, Dovecot, u64) {
    let (src, dst) = two_servers(&ServerOptions {
        tls: false,
        ..ServerOptions::new(Layout::Slash)
    });
    src.add_user(user, "secret1");
    dst.add_user(user, "secret2");
    let total = seed_small_corpus(&src, user, "secret1") as u64;
    (src, dst, total)
}

/// The pre-flight report of `job`, its history in `db`.
fn preflight(job: &JobSpec, db: &std::path::Path) -> mailferry::preflight::PreflightReport {
    let store = mailferry::store::Store::open(db).unwrap();
    let opts = Options::for_job(&job.job());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, report) = rt
        .block_on(mailferry::preflight::run(
            job.job(),
            store,
            opts,
            mailferry::copy::Cancel::default(),
            |_| {},
        ))
        .unwrap();
    report
}

fn opens_a_folder(text: &str) -> bool {
    text.contains(" SELECT ") || text.contains(" EXAMINE ")
}

#[test]
fn an_unchanged_mailbox_is_rerun_on_status_alone_and_changes_behind_its_back_are_seen() {
    let (src, dst, total) = seeded_servers("alice");
    let sp = FaultProxy::start(src.imap_port(), Vec::new());
    let dp = FaultProxy::start(dst.imap_port(), Vec::new());
    let job = JobSpec::plain("status-alone", sp.port(), dp.port(), "alice,secret1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run = || job.run_with(&db, Options::default()).0;
    let check = || {
        compare(
            &snapshot(&src, "alice", "secret1"),
            &snapshot(&dst, "alice", "secret2"),
        )
        .unwrap()
    };

    let fresh = run();
    assert_eq!((fresh.migrated(), fresh.failed()), (total, 0), "{fresh:#?}");
    check();

    // Nothing changed: one connection a side, and no folder opened.
    let (s0, d0) = (sp.connections(), dp.connections());
    let again = run();
    assert_eq!(
        (again.migrated(), again.skipped()),
        (0, total),
        "{again:#?}"
    );
    assert_eq!((sp.connections() - s0, dp.connections() - d0), (1, 1));
    for text in sent(&sp, s0).iter().chain(&sent(&dp, d0)) {
        assert!(!opens_a_folder(text), "a folder was opened:\n{text}");
        assert!(text.contains(" STATUS "), "{text}");
        assert!(!text.contains(" FETCH "), "{text}");
    }
    let mailbox = &again.mailboxes[0];
    for f in &mailbox.folders {
        let v = f.verification.as_ref().expect("verified");
        assert!(v.missing.is_empty() && v.extra.is_empty(), "{f:#?}");
        assert_eq!(v.source_messages, f.skipped, "{f:#?}");
    }

    // A message deleted on the destination behind its back is copied
    // again; one appended to the source is copied.
    let mut d = Probe::login(dst.imap_port(), "alice", "secret2");
    let sent_uid = d
        .fetch_all("Sent")
        .first()
        .map(|m| m.uid)
        .expect("Sent holds mail");
    d.expunge_uid("Sent", sent_uid);
    d.logout();
    let mut s = Probe::login(src.imap_port(), "alice", "secret1");
    s.append(
        "Archive",
        &["\\Seen"],
        "01-Feb-2024 10:00:00 +0000",
        b"From: a@example.com\r\nSubject: new since\r\nMessage-ID: <new-since@example.com>\r\n\r\nhello\r\n",
    );
    s.logout();
    let (s0, d0) = (sp.connections(), dp.connections());
    let third = run();
    assert_eq!((third.migrated(), third.failed()), (2, 0), "{third:#?}");
    check();
    let opened: Vec<String> = sent(&sp, s0)
        .into_iter()
        .chain(sent(&dp, d0))
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|line| opens_a_folder(&format!("{line} ")))
        .collect();
    assert!(
        opened.iter().any(|t| t.contains("\"Sent\""))
            && opened.iter().any(|t| t.contains("\"Archive\"")),
        "{opened:?}"
    );
    assert!(
        !opened.iter().any(|t| t.contains("\"INBOX\"")),
        "the unchanged Inbox was opened: {opened:?}"
    );

    // And after that, nothing again.
    let fourth = run();
    assert_eq!(
        (fourth.migrated(), fourth.skipped()),
        (0, total + 1),
        "{fourth:#?}"
    );
    check();
}

/// COMPRESS costs a round trip a connection: the first pair sends it only
/// once the plan shows mail to carry, so a re-run with nothing new sends
/// none, and a copy still compresses.
#[test]
fn a_rerun_with_nothing_new_sends_no_compress() {
    let (src, dst) = two_servers(&ServerOptions {
        tls: false,
        extra_config: "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n".into(),
        ..ServerOptions::new(Layout::Slash)
    });
    src.add_user("zip", "secret1");
    dst.add_user("zip", "secret2");
    let total = seed_small_corpus(&src, "zip", "secret1") as u64;
    let sp = FaultProxy::start(src.imap_port(), Vec::new());
    let dp = FaultProxy::start(dst.imap_port(), Vec::new());
    let job = JobSpec::plain("compress-later", sp.port(), dp.port(), "zip,secret1");
    let opts = || Options {
        compress: CompressMode::Always,
        ..Options::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let compressing = |p: &FaultProxy, from: usize| {
        sent(p, from)
            .iter()
            .filter(|t| t.contains(" COMPRESS DEFLATE"))
            .count()
    };

    let fresh = job.run_with(&db, opts()).0;
    assert_eq!((fresh.migrated(), fresh.failed()), (total, 0), "{fresh:#?}");
    // Every connection of the copy compressed, the first pair's included.
    assert_eq!(compressing(&sp, 0), sp.connections(), "source");
    assert_eq!(compressing(&dp, 0), dp.connections(), "destination");
    compare(
        &snapshot(&src, "zip", "secret1"),
        &snapshot(&dst, "zip", "secret2"),
    )
    .unwrap();

    let (s0, d0) = (sp.connections(), dp.connections());
    let again = job.run_with(&db, opts()).0;
    assert_eq!(
        (again.migrated(), again.skipped()),
        (0, total),
        "{again:#?}"
    );
    assert_eq!((sp.connections() - s0, dp.connections() - d0), (1, 1));
    assert_eq!((compressing(&sp, s0), compressing(&dp, d0)), (0, 0));
}

/// A pre-flight check of a distant mailbox goes through its folders as
/// the copy would, over four connection pairs rather than one folder after
/// another, and its estimate counts the pairs the copy will open there.
#[test]
fn a_preflight_over_a_distant_link_spreads_its_folders_over_the_copys_pairs() {
    let (src, dst, total) = seeded_servers("far");
    let link = Link::rtt_ms(40);
    let sp = LinkProxy::start(src.imap_port(), link);
    let dp = LinkProxy::start(dst.imap_port(), link);
    let job = JobSpec::plain("far", sp.port(), dp.port(), "far,secret1");
    let opts = Options::for_job(&job.job());
    assert_eq!(
        (opts.connections_per_mailbox, opts.connections_when_distant),
        (2, 4)
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let report = preflight(&job, &db);
    let counted: u64 = report.mailboxes[0].folders.iter().map(|f| f.to_copy).sum();
    assert_eq!(counted, total, "{report:#?}");
    // The dry run's four pairs, then the probe's one login: the
    // destination is sent nothing else.
    assert_eq!(dp.connections(), 4 + 1, "{report:#?}");
    let estimate = report.estimate.expect("an estimate");
    assert!(
        estimate
            .basis
            .contains("2 connection pairs per mailbox (4 with servers this distant)"),
        "{}",
        estimate.basis
    );

    let (fresh, _) = job.run_with(&db, Options::default());
    assert_eq!((fresh.migrated(), fresh.failed()), (total, 0), "{fresh:#?}");
    compare(
        &snapshot(&src, "far", "secret1"),
        &snapshot(&dst, "far", "secret2"),
    )
    .unwrap();
}

/// A pre-flight check into an empty destination asks the source, for each
/// folder it would create there, only for its listing with the sizes (in
/// the round trip that opens it) and for the census of its header fields,
/// which also names the messages it would copy: no second FETCH of either.
/// (The Inbox exists on the destination: its sizes come with planning.)
#[test]
fn a_preflight_reads_each_folders_sizes_and_header_fields_once() {
    let (src, dst, total) = seeded_servers("once");
    let sp = FaultProxy::start(src.imap_port(), Vec::new());
    let dp = FaultProxy::start(dst.imap_port(), Vec::new());
    let job = JobSpec::plain("once", sp.port(), dp.port(), "once,secret1");
    let dir = tempfile::tempdir().unwrap();
    let report = preflight(&job, &dir.path().join("db"));
    let folders = &report.mailboxes[0].folders;
    let to_copy: u64 = folders.iter().map(|f| f.to_copy).sum();
    assert_eq!(to_copy, total, "{report:#?}");
    let busy = folders.iter().filter(|f| f.messages > 0).count();
    let created = folders
        .iter()
        .filter(|f| f.messages > 0 && f.mapping == mailferry::preflight::FolderMapping::Created)
        .count();
    assert_eq!((busy, created), (5, 4), "{report:#?}");
    // Every command the source was sent, the probe's sample fetch aside
    // (bodies only).
    let commands: Vec<String> = sent(&sp, 0)
        .iter()
        .flat_map(|t| t.split("\r\n").map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.contains(" UID FETCH "))
        .collect();
    let headers: Vec<&String> = commands
        .iter()
        .filter(|l| l.contains("HEADER.FIELDS"))
        .collect();
    assert_eq!(headers.len(), busy, "{headers:#?}");
    assert!(headers.iter().all(|l| l.contains(" 1:* ")), "{headers:#?}");
    let sizes: Vec<&String> = commands
        .iter()
        .filter(|l| l.contains("RFC822.SIZE") && !l.contains("HEADER.FIELDS"))
        .collect();
    assert_eq!(sizes.len(), busy, "{sizes:#?}");
    let listed = sizes
        .iter()
        .filter(|l| l.contains(" 1:* (UID RFC822.SIZE)"))
        .count();
    assert_eq!(listed, created, "{sizes:#?}");
}

/// By hand: `MAILFERRY_TRACE=/tmp/trace RTT_MS=40 cargo test --release
/// --test round_trips probe -- --ignored --nocapture` prints the wall time
/// of a fresh copy and a re-run over the link (MESSAGES, MB, or FOLDERS).
#[test]
#[ignore]
fn probe() {
    let rtt: u64 = std::env::var("RTT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let messages: usize = std::env::var("MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mb: u64 = std::env::var("MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(38);
    let src = Dovecot::start(Layout::Slash);
    let dst = Dovecot::start(Layout::Slash);
    src.add_user("far", "far-pw");
    dst.add_user("near", "near-pw");
    // FOLDERS=n: n folders of 5 small messages instead.
    match std::env::var("FOLDERS").ok().and_then(|v| v.parse().ok()) {
        Some(folders) => {
            seed_folders_account(&src, "far", "far-pw", folders, 5);
        }
        None => {
            seed_bench_account(&src, "far", "far-pw", messages, mb * 1_000_000);
        }
    }
    let link = Link::rtt_ms(rtt);
    let sp = LinkProxy::start(src.imaps_port(), link);
    let dp = LinkProxy::start(dst.imaps_port(), link);
    let mut spec = JobSpec::new("wan", &src, &dst, "far,far-pw,near\n");
    spec.source_ports = vec![sp.port()];
    spec.dest_port = dp.port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    for run in ["fresh", "re-run"] {
        let t = Instant::now();
        let (outcome, _) = spec.run_with(&db, Options::default());
        println!(
            "{run}: {:.2} s, {:?}",
            t.elapsed().as_secs_f64(),
            outcome.mailboxes[0].verdict()
        );
    }
    compare(
        &snapshot(&src, "far", "far-pw"),
        &snapshot(&dst, "near", "near-pw"),
    )
    .unwrap();
}
