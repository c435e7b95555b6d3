//! The pre-flight report against private Dovecot instances: per folder
//! what the source holds, what the destination has already (by the copy's
//! own reconciliation) and where it would go; the destination's quota and
//! APPENDLIMIT; warnings; the report kept in the history; `mailferry
//! preflight --json`. Nothing changes on either server.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mailferry::copy::{Cancel, Options};
use mailferry::job::Job;
use mailferry::preflight::{
    self, FolderMapping, FolderPreflight, MailboxPreflight, PreflightProgress, PreflightReport,
    QuotaUse, WarningKind,
};
use mailferry::store::Store;
use support::corpus::{
    assert_unchanged, seed_standard_corpus, snapshot, snapshot_with, standard_corpus, MessageFacts,
    Snapshot,
};
use support::dovecot::{Dovecot, Layout, ServerOptions, MASTER_PASSWORD, MASTER_USER};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

/// The destination's quota: 100 KiB, far less than the corpus (GETQUOTAROOT
/// needs imap_quota in IMAP).
const QUOTA_100K: &str = "mail_plugins = $mail_plugins quota\nprotocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\nplugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=100K\n}\n";

/// Dovecot 2.3 announces no APPENDLIMIT of its own (not even with
/// quota_max_mail_size): it is added to the capabilities.
const APPENDLIMIT: u64 = 500_000;

fn servers(dst_layout: Layout, dst_config: &str) -> (Dovecot, Dovecot) {
    let start = |layout, extra: &str| {
        Dovecot::start_with(&ServerOptions {
            tls: false,
            extra_config: extra.into(),
            ..ServerOptions::new(layout)
        })
    };
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| start(Layout::Slash, ""));
        let d = sc.spawn(|| start(dst_layout, dst_config));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "unused");
    (s, d)
}

fn dest_probe(dst: &Dovecot) -> Probe {
    Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD)
}

/// The destination as a client sees it, and its folder list with the
/// subscriptions.
fn destination_state(dst: &Dovecot) -> (Snapshot, String) {
    let mut p = dest_probe(dst);
    let snap = snapshot_with(&mut p);
    p.logout();
    let folders = dst.doveadm(&["mailbox", "list", "-u", USER]);
    let subscribed = dst.doveadm(&["mailbox", "list", "-s", "-u", USER]);
    (snap, format!("{folders}--\n{subscribed}"))
}

fn job(src: &Dovecot, dst: &Dovecot, name: &str) -> JobSpec {
    JobSpec::plain(
        name,
        src.imap_port(),
        dst.imap_port(),
        &format!("{USER},{PASSWORD}"),
    )
}

/// Makes the report of `job` with the database `db`: its run id, the
/// report, and the progress it told.
fn report_of(job: Job, db: &Path) -> (i64, PreflightReport, Vec<PreflightProgress>) {
    let store = Store::open(db).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = Options::for_job(&job);
    let mut told = Vec::new();
    let (run_id, report) = rt
        .block_on(preflight::run(job, store, opts, Cancel::default(), |p| {
            told.push(p)
        }))
        .unwrap_or_else(|e| panic!("the pre-flight check did not start: {e}"));
    (run_id, report, told)
}

fn folder<'a>(m: &'a MailboxPreflight, source: &str) -> &'a FolderPreflight {
    m.folders
        .iter()
        .find(|f| f.source == source)
        .unwrap_or_else(|| panic!("no folder {source:?} in {m:#?}"))
}

/// (messages, bytes) of a multiset of messages.
fn sum(facts: &[MessageFacts]) -> (u64, u64) {
    (facts.len() as u64, facts.iter().map(|f| f.size).sum())
}

/// The source messages a destination folder holds a copy of (byte for
/// byte, each copy matching one message).
fn present(source: &[MessageFacts], destination: &[MessageFacts]) -> Vec<MessageFacts> {
    let mut there: BTreeMap<&str, usize> = BTreeMap::new();
    for d in destination {
        *there.entry(d.sha256.as_str()).or_default() += 1;
    }
    source
        .iter()
        .filter(|s| match there.get_mut(s.sha256.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .cloned()
        .collect()
}

#[test]
fn a_destination_over_quota_is_warned_before_anything_is_copied_and_the_cli_prints_json() {
    let (src, dst) = servers(Layout::Slash, QUOTA_100K);
    let seeded = seed_standard_corpus(&src, USER, PASSWORD);
    let source = snapshot(&src, USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let path = job(&src, &dst, "full").write(dir.path());
    let db = dir.path().join("m.db");
    let before = destination_state(&dst);

    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let path_arg = path.to_str().unwrap();
    let out = cli(&["preflight", "--json", path_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 7: a mailbox would go over its quota (README, exit codes).
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    let report: PreflightReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(destination_state(&dst), before, "the destination changed");
    assert_unchanged(&source, &snapshot(&src, USER, PASSWORD));

    let m = &report.mailboxes[0];
    assert!(m.error.is_none(), "{m:#?}");
    assert_eq!(
        m.quota,
        Some(QuotaUse {
            used_bytes: 0,
            limit_bytes: 100 * 1024
        })
    );
    let to_copy: u64 = m.folders.iter().map(|f| f.to_copy).sum();
    assert_eq!(to_copy as usize, seeded.total(), "nothing is there yet");
    let w = &report.warnings[0];
    assert_eq!(w.kind, WarningKind::OverQuota, "{:#?}", report.warnings);
    assert_eq!(w.account.as_deref(), Some(USER));
    assert!(
        w.words
            .starts_with("The destination mailbox alice would go over its quota by about ")
            && w.words.contains("it uses 0 B of 102.4 KB")
            && w.words
                .contains("Ask the new host to raise the quota to at least"),
        "{}",
        w.words
    );

    // The text says the same, and so does the exit code; History lists it.
    let out = cli(&["preflight", path_arg]);
    assert_eq!(out.status.code(), Some(7));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("MailFerry pre-flight report (nothing was copied or changed)\n"));
    assert!(
        text.contains(
            "  [OVER QUOTA] alice: The destination mailbox alice would go over its quota"
        ),
        "{text}"
    );
    assert!(
        text.contains("   Quota: 0 B used of 102.4 KB; after the copy about "),
        "{text}"
    );
    assert!(text.contains(" — OVER QUOTA\n"), "{text}");
    let history = cli(&["history"]);
    let history = String::from_utf8_lossy(&history.stdout);
    assert_eq!(
        history
            .matches("PRE-FLIGHT, nothing changed: would copy ")
            .count(),
        2,
        "{history}"
    );
    assert_eq!(destination_state(&dst), before, "the destination changed");
}

#[test]
fn a_half_filled_destination_is_counted_exactly_folder_by_folder_and_the_report_kept() {
    let (src, dst) = servers(Layout::Courier, "");
    seed_standard_corpus(&src, USER, PASSWORD);
    let corpus = |path: &str| {
        &standard_corpus()
            .iter()
            .find(|f| f.path == path)
            .unwrap()
            .messages
    };
    // Put there by hand (no ledger: the report finds them by content, as
    // a copy would): five of the Inbox, two of Sent in the destination's
    // own Sent folder ("Sent Items"), and an empty "Drafts".
    let mut p = dest_probe(&dst);
    p.create("INBOX.Sent Items");
    p.create("INBOX.Drafts");
    for m in &corpus("INBOX")[..5] {
        p.append("INBOX", &m.flags, m.internaldate, &m.body);
    }
    for m in &corpus("Sent")[1..3] {
        p.append("INBOX.Sent Items", &m.flags, m.internaldate, &m.body);
    }
    p.logout();
    let source = snapshot(&src, USER, PASSWORD);
    let before = destination_state(&dst);

    let mut spec = job(&src, &dst, "half");
    spec.skip = "Archive/2019".into();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (run_id, report, told) = report_of(spec.job(), &db);
    assert_eq!(destination_state(&dst), before, "the destination changed");
    assert_unchanged(&source, &snapshot(&src, USER, PASSWORD));
    assert_eq!(
        told,
        [PreflightProgress {
            done: 1,
            total: 1,
            account: USER.into()
        }]
    );

    let m = &report.mailboxes[0];
    assert!(m.error.is_none(), "{m:#?}");
    assert_eq!((m.quota, m.append_limit), (None, None));
    use FolderMapping::{Created, Existing};
    let expected = [
        ("INBOX", "INBOX", Existing, "INBOX"),
        ("Sent", "INBOX.Sent Items", Existing, "Sent Items"),
        ("Entwürfe", "INBOX.Drafts", Existing, "Drafts"),
        ("Archive", "INBOX.Archive", Created, ""),
        ("Folder.With.Dots", "INBOX.Folder_With_Dots", Created, ""),
        ("Folder With Space", "INBOX.Folder With Space", Created, ""),
        (
            "Projects/Résumé & Co 日本",
            "INBOX.Projects.Résumé & Co 日本",
            Created,
            "",
        ),
        ("Empty", "INBOX.Empty", Created, ""),
    ];
    for (name, destination, mapping, there) in expected {
        let f = folder(m, name);
        let all = source.facts(name);
        let found = present(&all, &before.0.facts(there));
        let (messages, bytes) = sum(&all);
        let (present, present_bytes) = sum(&found);
        assert_eq!(
            (f.destination.as_str(), f.mapping),
            (destination, mapping),
            "{f:#?}"
        );
        assert_eq!(
            (
                f.messages,
                f.bytes,
                f.present,
                f.present_bytes,
                f.to_copy,
                f.to_copy_bytes
            ),
            (
                messages,
                bytes,
                present,
                present_bytes,
                messages - present,
                bytes - present_bytes
            ),
            "{name}: {f:#?}"
        );
        assert!(f.error.is_none(), "{f:#?}");
    }
    assert_eq!(folder(m, "INBOX").present, 5);
    assert_eq!(folder(m, "Sent").present, 2);
    // Every source folder is there, the skipped one as Skipped with what
    // it holds.
    let planned: Vec<&str> = m
        .folders
        .iter()
        .filter(|f| f.mapping != FolderMapping::Skipped)
        .map(|f| f.source.as_str())
        .collect();
    let mut listed: Vec<&str> = source.folders.keys().map(String::as_str).collect();
    listed.retain(|f| *f != "Archive/2019");
    let mut sorted = planned.clone();
    sorted.sort();
    listed.sort();
    assert_eq!(sorted, listed);
    let skipped = folder(m, "Archive/2019");
    assert_eq!(skipped.mapping, FolderMapping::Skipped);
    assert_eq!(
        (skipped.messages, skipped.bytes),
        sum(&source.facts("Archive/2019"))
    );
    // Special-use folders say so.
    assert!(
        folder(m, "Sent")
            .notes
            .iter()
            .any(|n| n.starts_with("Sent is the source's Sent folder")),
        "{:?}",
        folder(m, "Sent").notes
    );
    assert!(
        folder(m, "Entwürfe")
            .notes
            .iter()
            .any(|n| n.starts_with("Entwürfe is the source's Drafts folder")),
        "{:?}",
        folder(m, "Entwürfe").notes
    );
    // The corpus Inbox holds a message stored twice and two messages that
    // differ in one byte of their body only: two that look exactly like
    // another.
    assert_eq!(folder(m, "INBOX").duplicates, 2);
    assert!(m
        .folders
        .iter()
        .all(|f| f.source == "INBOX" || f.duplicates == 0));
    let warnings: Vec<(WarningKind, Option<&str>)> = report
        .warnings
        .iter()
        .map(|w| (w.kind, w.folder.as_deref()))
        .collect();
    assert_eq!(
        warnings,
        [
            (WarningKind::FolderName, Some("Folder.With.Dots")),
            (WarningKind::Duplicates, Some("INBOX")),
        ],
        "{:#?}",
        report.warnings
    );
    let e = report.estimate.as_ref().expect("an estimate");
    assert!(e.low_ms <= e.high_ms && e.high_ms > 0, "{e:?}");
    assert!(e.basis.contains("sample message"), "{}", e.basis);

    // Kept in the history, and read back as it was made; its log is the
    // text; nothing was recorded as copied.
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.preflight_report(run_id).unwrap().as_ref(),
        Some(&report)
    );
    let text = store.run_log(run_id).unwrap().unwrap();
    assert_eq!(text, preflight::render_text(&report));
    assert!(
        text.contains("   [SKIP  ] Archive/2019: 4 messages ("),
        "{text}"
    );
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].preflight && !runs[0].dry_run);
    let ledger: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ledger, 0);
    let csv = preflight::to_csv(&report);
    let rows = csv.lines().filter(|l| l.starts_with("folder,")).count();
    assert_eq!(rows, m.folders.len(), "{csv}");
}

#[test]
fn messages_over_the_destinations_appendlimit_are_listed_and_those_over_the_jobs_limit_left_out() {
    let config = format!("imap_capability = +APPENDLIMIT={APPENDLIMIT}\n");
    let (src, dst) = servers(Layout::Slash, &config);
    seed_standard_corpus(&src, USER, PASSWORD);
    let source = snapshot(&src, USER, PASSWORD);
    let mut job = job(&src, &dst, "large").job();
    let job_limit = 2_000_000;
    job.filters.max_message_bytes = Some(job_limit);
    let dir = tempfile::tempdir().unwrap();
    let (_, report, _) = report_of(job, &dir.path().join("m.db"));

    let m = &report.mailboxes[0];
    assert!(m.error.is_none(), "{m:#?}");
    assert_eq!(m.append_limit, Some(APPENDLIMIT));
    let sizes = |pick: &dyn Fn(u64) -> bool| -> BTreeMap<String, Vec<u64>> {
        let mut out = BTreeMap::new();
        for (path, f) in &source.folders {
            let mut s: Vec<u64> = f
                .messages
                .values()
                .map(|m| m.size)
                .filter(|s| pick(*s))
                .collect();
            if !s.is_empty() {
                s.sort();
                out.insert(path.clone(), s);
            }
        }
        out
    };
    let too_large = sizes(&|s| s > APPENDLIMIT && s <= job_limit);
    let left_out = sizes(&|s| s > job_limit);
    assert!(!too_large.is_empty() && !left_out.is_empty());
    let found = |list: fn(&FolderPreflight) -> Vec<u64>| -> BTreeMap<String, Vec<u64>> {
        m.folders
            .iter()
            .map(|f| (f.source.clone(), list(f)))
            .filter(|(_, s)| !s.is_empty())
            .map(|(k, mut s)| {
                s.sort();
                (k, s)
            })
            .collect()
    };
    assert_eq!(
        found(|f| f.too_large.iter().map(|b| b.size).collect()),
        too_large
    );
    assert_eq!(
        found(|f| f.oversized.iter().map(|b| b.size).collect()),
        left_out
    );
    let listed: usize = too_large.values().map(Vec::len).sum();
    assert_eq!(m.too_large.len(), listed);
    assert!(m
        .too_large
        .iter()
        .all(|b| !b.subject.is_empty() && !b.date.is_empty()));

    let w = report
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::TooLarge)
        .unwrap_or_else(|| panic!("{:#?}", report.warnings));
    assert!(
        w.words.starts_with(&format!(
            "{listed} message{} larger than the destination accepts (500.0 KB, its APPENDLIMIT)",
            if listed == 1 { " is" } else { "s are" }
        )),
        "{}",
        w.words
    );
    let text = preflight::render_text(&report);
    assert!(
        text.contains("too large for the destination: date ")
            && text.contains("subject \"Random data\""),
        "{text}"
    );
    assert!(
        text.contains("left out, larger than the job's size limit: date "),
        "{text}"
    );
}

#[test]
fn a_pop3_source_is_counted_and_its_missing_received_dates_are_warned() {
    let (src, dst) = servers(Layout::Slash, "");
    let message = |i: usize| {
        format!(
            "Date: Mon, 1 Jun 2020 10:0{i}:00 +0000\r\nFrom: Carol <carol@example.test>\r\nSubject: pop {i}\r\nMessage-ID: <pop-{i}@example.test>\r\n\r\nBody {i}\r\n"
        )
    };
    // Three messages, the first stored twice; the second is on the
    // destination already.
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    for i in [0, 1, 2, 0] {
        p.append(
            "INBOX",
            &[],
            "01-Jan-2020 00:00:00 +0000",
            message(i).as_bytes(),
        );
    }
    p.logout();
    let mut p = dest_probe(&dst);
    p.append(
        "INBOX",
        &[],
        "01-Jun-2020 10:01:00 +0000",
        message(1).as_bytes(),
    );
    p.logout();
    let before = destination_state(&dst);

    let mut spec = JobSpec::plain("pop", src.pop3_port(), dst.imap_port(), "alice,secret1");
    spec.source_protocol = "pop3";
    let dir = tempfile::tempdir().unwrap();
    let (_, report, _) = report_of(spec.job(), &dir.path().join("m.db"));
    assert_eq!(destination_state(&dst), before, "the destination changed");

    let m = &report.mailboxes[0];
    assert!(m.error.is_none(), "{m:#?}");
    let inbox = folder(m, "INBOX");
    let size = |i: usize| message(i).len() as u64;
    assert_eq!(
        (
            inbox.messages,
            inbox.bytes,
            inbox.present,
            inbox.present_bytes
        ),
        (4, 2 * size(0) + size(1) + size(2), 1, size(1))
    );
    assert_eq!((inbox.to_copy, inbox.duplicates), (3, 1));
    let kinds: Vec<WarningKind> = report.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        [WarningKind::NoInternalDate, WarningKind::Duplicates]
    );
    assert!(
        report.warnings[0]
            .words
            .starts_with("The source is read over POP3, which keeps no received date: the 4 messages in the Inbox of 1 mailbox would be filed"),
        "{}",
        report.warnings[0].words
    );
    let e = report.estimate.as_ref().expect("an estimate");
    assert!(e.basis.contains("from 3 sample messages"), "{}", e.basis);
}
