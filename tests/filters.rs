//! The job's `[filters]` against private Dovecot instances: messages on
//! both sides of each date boundary and of the size limit, over IMAP (by
//! INTERNALDATE and RFC822.SIZE) and POP3 (by the header's date and LIST's
//! size, with and without TOP); what is left out is counted, the oversized
//! named in the log, progress stays whole, and a re-run without the
//! filters copies the rest and nothing twice.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use mailferry::copy::Options;
use mailferry::job::Filters;
use mailferry::outcome::{JobOutcome, Verdict};
use mailferry::progress::Event;
use mailferry::report::render_log;
use support::corpus::{sha256_hex, snapshot, snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{Action, Dir, Fault, FaultProxy, Trigger};
use support::jobs::{run_job, JobSpec};
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
/// The size limit the tests set: a message of exactly this size is copied.
const MAX: u64 = 5000;

fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Since 10 January 2024, before 1 February 2024, at most 5000 bytes.
fn filters() -> Filters {
    Filters {
        since: day(2024, 1, 10),
        before: day(2024, 2, 1),
        max_message_bytes: Some(MAX),
    }
}

fn plain_servers() -> (Dovecot, Dovecot) {
    let (s, d) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    s.add_user(USER, PASSWORD);
    d.add_user(USER, "unused");
    (s, d)
}

/// A CRLF message of exactly `size` bytes.
fn message(subject: &str, date: Option<&str>, size: u64) -> Vec<u8> {
    let id: String = subject
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut m = format!(
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.test>\r\n"
    );
    if let Some(d) = date {
        m += &format!("Date: {d}\r\n");
    }
    m += "\r\n";
    let mut left = size - m.len() as u64;
    assert!(left >= 2, "{subject}: {size} bytes is too small");
    while left > 0 {
        // Lines of at most 78 bytes; never leave a single byte over.
        let take = match left {
            n if n <= 78 => n,
            n if n - 78 < 2 => 76,
            _ => 78,
        };
        m += &"x".repeat(take as usize - 2);
        m += "\r\n";
        left -= take;
    }
    assert_eq!(m.len() as u64, size);
    m.into_bytes()
}

/// Every message body of a destination folder, as sha256.
fn bodies(snap: &Snapshot, folder: &str) -> BTreeSet<String> {
    snap.facts(folder).into_iter().map(|f| f.sha256).collect()
}

fn hashes<'a>(bodies: impl IntoIterator<Item = &'a Vec<u8>>) -> BTreeSet<String> {
    bodies.into_iter().map(|b| sha256_hex(b)).collect()
}

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), USER, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

fn run(job: &JobSpec, filters: Filters, db: &Path) -> (JobOutcome, Vec<Event>) {
    let mut job = job.job();
    job.filters = filters;
    run_job(job, db, Options::default())
}

/// `mailferry verify`: the verification pass alone.
fn verify_only(job: mailferry::job::Job, db: &Path) -> JobOutcome {
    let store = mailferry::store::Store::open(db).expect("open store");
    let sink: mailferry::progress::Sink = std::sync::Arc::new(|_: &Event| {});
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(mailferry::copy::verify(
            job,
            store,
            sink,
            Options::default(),
            mailferry::copy::Cancel::default(),
        ))
        .expect("verification ran")
}

/// Every progress event's (messages done, total, bytes done, total).
fn progress_of(events: &[Event]) -> Vec<(u64, u64, u64, u64)> {
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

#[test]
fn imap_filters_leave_out_the_right_messages_count_them_and_a_rerun_without_them_copies_the_rest() {
    let (src, dst) = plain_servers();
    // (folder, INTERNALDATE, subject, size, copied under the filters)
    let seeded = [
        (
            "INBOX",
            "09-Jan-2024 23:59:59 +0000",
            "the day before since",
            1200,
            false,
        ),
        (
            "INBOX",
            "10-Jan-2024 00:00:00 +0000",
            "since itself",
            1200,
            true,
        ),
        (
            "INBOX",
            "31-Jan-2024 23:59:59 +0000",
            "the day before before",
            1200,
            true,
        ),
        (
            "INBOX",
            "01-Feb-2024 00:00:00 +0000",
            "before itself",
            1200,
            false,
        ),
        (
            "INBOX",
            "15-Jan-2024 12:00:00 +0000",
            "exactly the limit",
            MAX,
            true,
        ),
        (
            "INBOX",
            "15-Jan-2024 12:00:00 +0000",
            "one byte too many",
            MAX + 1,
            false,
        ),
        (
            "Archive",
            "20-Jan-2024 08:00:00 +0000",
            "archived in range",
            900,
            true,
        ),
        (
            "Archive",
            "01-Jun-2023 08:00:00 +0000",
            "archived long ago",
            900,
            false,
        ),
    ];
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    p.create("Archive");
    let mut all = Vec::new();
    let mut admitted = Vec::new();
    for (folder, date, subject, size, copied) in seeded {
        let body = message(subject, None, size);
        p.append(folder, &[], date, &body);
        if copied {
            admitted.push((folder, body.clone()));
        }
        all.push((folder, body));
    }
    p.logout();
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("m.db");
    let spec = JobSpec::plain("filters", src.imap_port(), dst.imap_port(), "alice,secret1");

    let (outcome, events) = run(&spec, filters(), &db);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated(), 4, "{outcome:#?}");
    assert_eq!(outcome.filtered(), 4);
    assert_eq!(outcome.failed(), 0);
    let after = dest_snapshot(&dst);
    for folder in ["INBOX", "Archive"] {
        let want = hashes(
            admitted
                .iter()
                .filter(|(f, _)| *f == folder)
                .map(|(_, b)| b),
        );
        assert_eq!(bodies(&after, folder), want, "{folder}");
    }
    let inbox = &outcome.mailboxes[0]
        .folders
        .iter()
        .find(|f| f.source == "INBOX")
        .unwrap();
    assert_eq!((inbox.migrated, inbox.filtered), (3, 3));
    assert_eq!(inbox.filtered_bytes, 1200 + 1200 + MAX + 1);
    assert_eq!(inbox.oversized.len(), 1, "{inbox:#?}");
    assert_eq!(inbox.oversized[0].subject, "one byte too many");
    assert_eq!(inbox.oversized[0].size, MAX + 1);
    // Verification looks only at what the filters admit: nothing missing.
    let v = inbox.verification.as_ref().expect("verified");
    assert!(v.verified() && v.source_messages == 3, "{v:?}");
    let log = render_log(&outcome);
    assert!(
        log.contains("INBOX: 3 migrated, 0 skipped, 0 failed, 3 left out by the job's filters (2 dated outside the job's dates, 1 larger than its size limit)"),
        "{log}"
    );
    assert!(
        log.contains("subject \"one byte too many\", 5.0 KB"),
        "{log}"
    );
    assert!(!log.contains("since itself"), "{log}");

    // Progress: the totals are the whole mailbox from the first event on,
    // what is left out counts as done, and done ends at the total.
    let progress = progress_of(&events);
    let first = progress[0];
    let source_bytes: u64 = seeded.iter().map(|s| s.3).sum();
    assert_eq!(first, (0, seeded.len() as u64, 0, source_bytes));
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
    assert_eq!(
        *progress.last().unwrap(),
        (first.1, first.1, first.3, first.3)
    );

    // The verification pass alone does not call them missing either.
    let mut job = spec.job();
    job.filters = filters();
    let checked = verify_only(job, &db);
    assert_eq!(checked.verdict(), Verdict::Success, "{checked:#?}");
    assert_eq!(checked.filtered(), 4);

    // The same filters again: nothing to copy, the same left out.
    let (again, _) = run(&spec, filters(), &db);
    assert_eq!(
        (again.migrated(), again.skipped(), again.filtered()),
        (0, 4, 4)
    );
    // Without them: the rest, and nothing twice.
    let (rest, _) = run(&spec, Filters::default(), &db);
    assert_eq!(rest.verdict(), Verdict::Success, "{rest:#?}");
    assert_eq!(
        (rest.migrated(), rest.skipped(), rest.filtered()),
        (4, 4, 0)
    );
    let after = dest_snapshot(&dst);
    for folder in ["INBOX", "Archive"] {
        let want = hashes(all.iter().filter(|(f, _)| *f == folder).map(|(_, b)| b));
        assert_eq!(bodies(&after, folder), want, "{folder}");
        assert_eq!(
            after.facts(folder).len(),
            want.len(),
            "{folder}: a copy twice"
        );
    }
    assert_eq!(
        after.total_messages(),
        snapshot(&src, USER, PASSWORD).total_messages()
    );
}

/// The POP3 Inbox: each message's date from its header, its size from LIST.
fn pop_seeded() -> Vec<(Vec<u8>, bool)> {
    vec![
        (
            message(
                "the day before since",
                Some("Tue, 9 Jan 2024 23:59:59 +0000"),
                1200,
            ),
            false,
        ),
        (
            message(
                "since itself",
                Some("Wed, 10 Jan 2024 00:00:00 +0000"),
                1200,
            ),
            true,
        ),
        (
            message(
                "before itself",
                Some("Thu, 1 Feb 2024 00:00:00 +0000"),
                1200,
            ),
            false,
        ),
        // Late on the 31st where it was sent, 1 February in UTC: its own day.
        (
            message(
                "the 31st in New York",
                Some("Wed, 31 Jan 2024 22:00:00 -0500"),
                1200,
            ),
            true,
        ),
        (message("no date at all", None, 1200), true),
        (
            message(
                "exactly the limit",
                Some("Mon, 15 Jan 2024 12:00:00 +0000"),
                MAX,
            ),
            true,
        ),
        (
            message(
                "one byte too many",
                Some("Mon, 15 Jan 2024 12:00:00 +0000"),
                MAX + 1,
            ),
            false,
        ),
    ]
}

/// Seeds the Inbox; the INTERNALDATE is outside the filters' range on
/// purpose: POP3 cannot see it.
fn seed_pop_inbox(src: &Dovecot, messages: &[(Vec<u8>, bool)]) {
    let mut p = Probe::login(src.imap_port(), USER, PASSWORD);
    for (body, _) in messages {
        p.append("INBOX", &[], "01-Jan-2020 00:00:00 +0000", body);
    }
    p.logout();
}

/// Runs the POP3 job with the filters, then without them, checking both.
/// `top`: whether the server's TOP is seen (the oversized message is then
/// named from its header; without it, downloading it only to name it
/// would defeat the limit).
fn pop3_filters_then_none(spec: &JobSpec, src: &Dovecot, dst: &Dovecot, top: bool) {
    let messages = pop_seeded();
    seed_pop_inbox(src, &messages);
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("m.db");

    let (outcome, events) = run(spec, filters(), &db);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(
        (outcome.migrated(), outcome.filtered()),
        (4, 3),
        "{outcome:#?}"
    );
    let want = hashes(messages.iter().filter(|(_, c)| *c).map(|(b, _)| b));
    assert_eq!(bodies(&dest_snapshot(dst), "INBOX"), want);
    let inbox = &outcome.mailboxes[0].folders[0];
    assert_eq!(inbox.oversized.len(), 1, "{inbox:#?}");
    assert_eq!(inbox.oversized[0].size, MAX + 1);
    let named = if top { "one byte too many" } else { "" };
    assert_eq!(inbox.oversized[0].subject, named);
    assert!(
        inbox.verification.as_ref().is_some_and(|v| v.verified()),
        "{inbox:#?}"
    );
    let progress = progress_of(&events);
    let last = progress.last().expect("progress");
    assert_eq!((last.0, last.2), (last.1, last.3), "{progress:?}");
    for w in progress.windows(2) {
        assert!(
            w[1].0 >= w[0].0 && w[1].2 >= w[0].2,
            "done went back: {w:?}"
        );
    }

    let (rest, _) = run(spec, Filters::default(), &db);
    assert_eq!(rest.verdict(), Verdict::Success, "{rest:#?}");
    assert_eq!((rest.migrated(), rest.skipped()), (3, 4), "{rest:#?}");
    let after = dest_snapshot(dst);
    assert_eq!(
        bodies(&after, "INBOX"),
        hashes(messages.iter().map(|(b, _)| b))
    );
    assert_eq!(after.facts("INBOX").len(), messages.len(), "a copy twice");
}

#[test]
fn pop3_filters_judge_the_header_date_and_list_size_and_name_the_oversized_message() {
    let (src, dst) = plain_servers();
    let mut spec = JobSpec::plain(
        "pop3-filters",
        src.pop3_port(),
        dst.imap_port(),
        "alice,secret1",
    );
    spec.source_protocol = "pop3";
    pop3_filters_then_none(&spec, &src, &dst, true);
}

/// A server whose CAPA does not list TOP (hidden by a proxy after login):
/// messages are judged once downloaded, and those left out are not stored.
#[test]
fn pop3_without_top_judges_each_message_once_downloaded() {
    let (src, dst) = plain_servers();
    // The second CAPA (after login, the one the client keeps) lists
    // "TOP-HIDDEN" for TOP: the offset is counted from where the pattern
    // starts.
    let proxy = FaultProxy::start(
        src.pop3_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "\r\nTOP", 5),
            Action::ReplaceLine("-HIDDEN".into()),
        )
        .when_client_sent("APOP")
        .always()],
    );
    let mut spec = JobSpec::plain(
        "pop3-no-top",
        proxy.port(),
        dst.imap_port(),
        "alice,secret1",
    );
    spec.source_protocol = "pop3";
    pop3_filters_then_none(&spec, &src, &dst, false);
    assert!(!proxy.fired().is_empty(), "TOP was not hidden");
}
