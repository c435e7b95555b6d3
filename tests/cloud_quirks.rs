//! The big hosts' limits, on private Dovecots behind the fault proxy:
//! Gmail's daily transfer limit (its reply on FETCH and on APPEND, and the
//! proactive stop before it), Microsoft 365's throttling replies, and its
//! message size limit where the server gives no APPENDLIMIT.

mod support;

use std::path::Path;
use std::time::Duration;

use mailferry::copy::Options;
use mailferry::job::Job;
use mailferry::outcome::{JobOutcome, MailboxOutcome, Verdict};
use mailferry::progress::Event;
use support::corpus::{snapshot, snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{
    compare, duplicates, seed_small_corpus, Action, Dir, Fault, FaultProxy, Trigger,
};
use support::jobs::{run_job, JobSpec};
use support::probe::Probe;

const USER: &str = "carl";
const PASSWORD: &str = "cloud1";
const TOTAL: usize = 28;
const GMAIL_LIMIT: &str = "NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)";

fn servers() -> (Dovecot, Dovecot) {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user(USER, PASSWORD);
    assert_eq!(seed_small_corpus(&src, USER, PASSWORD), TOTAL);
    (src, dst)
}

/// Short timeouts, quick retries, small batches (several per folder).
fn quick() -> Options {
    Options {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        retries: 8,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(80),
        batch_messages: 4,
        batch_bytes: 64 * 1024,
        parallel_mailboxes: 1,
        ..Options::default()
    }
}

/// A job between two ports (the servers', or proxies in front of them),
/// with `source_lines` and `destination_lines` added to its tables (a
/// `preset` with the job's own host and ports: it fills only blanks).
fn job(
    name: &str,
    source_port: u16,
    dest_port: u16,
    local: &str,
    source_lines: &str,
    destination_lines: &str,
) -> Job {
    let mut spec = JobSpec::plain(
        name,
        source_port,
        dest_port,
        &format!("{USER},{PASSWORD},{local}"),
    );
    spec.source_extra = format!("allow_plaintext = true\n{source_lines}");
    let text = spec.toml().replace(
        "[destination]\n",
        &format!("[destination]\n{destination_lines}"),
    );
    let job = mailferry::job::JobFile::from_toml(&text)
        .and_then(|f| f.validate(Path::new(".")))
        .unwrap_or_else(|e| panic!("test job is invalid: {e}\n{text}"));
    assert_eq!(job.source.host, "127.0.0.1", "a preset overrode the host");
    job
}

fn dest_snapshot(dst: &Dovecot, user: &str) -> Snapshot {
    let mut p = Probe::login_master(dst.imap_port(), user, MASTER_USER, MASTER_PASSWORD);
    let s = snapshot_with(&mut p);
    p.logout();
    s
}

fn retries(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn only(outcome: &JobOutcome) -> &MailboxOutcome {
    assert_eq!(outcome.mailboxes.len(), 1);
    &outcome.mailboxes[0]
}

/// The words of a mailbox paused at the daily limit: what, when to resume
/// (a day from the pause, to the minute), and that a re-run copies nothing
/// twice.
fn assert_paused_for_the_day(
    m: &MailboxOutcome,
    side: &str,
    started: chrono::DateTime<chrono::Local>,
) {
    assert_eq!(m.error_code.as_deref(), Some("daily-limit"), "{m:#?}");
    assert_eq!(m.verdict(), Verdict::Partial, "{m:#?}");
    let words = m.error.clone().unwrap_or_default();
    let head =
        format!("The daily limit was reached for this mailbox on the {side} server 127.0.0.1: ");
    assert!(words.starts_with(&head), "{words}");
    assert!(
        words.contains("MailFerry paused the mailbox; the rest of it is left for now."),
        "{words}"
    );
    assert!(
        words.contains("it resumes where it stopped, and copies nothing twice"),
        "{words}"
    );
    let at = words
        .split("Run the job again after ")
        .nth(1)
        .and_then(|rest| rest.split(" (24 hours from now)").next())
        .unwrap_or_else(|| panic!("no time to resume in: {words}"));
    let at = chrono::DateTime::parse_from_str(at, "%Y-%m-%d %H:%M %z")
        .unwrap_or_else(|e| panic!("{at:?}: {e}"));
    let day = chrono::Duration::hours(24);
    let now = chrono::Local::now();
    assert!(
        at >= started + day - chrono::Duration::minutes(1) && at <= now + day,
        "resume at {at}, run started {started}"
    );
}

/// Gmail answers a FETCH with its limit text (in Sent, the last folder,
/// once the others are copied): the mailbox stops at once (no retries:
/// they cannot help today), partial, the rest left; the next run copies
/// the rest and nothing twice.
#[test]
fn gmails_limit_reply_to_a_fetch_pauses_the_mailbox_and_the_next_run_finishes_it() {
    let (src, dst) = servers();
    dst.add_user("carl-f", "unused");
    let limit = Fault::new(
        Trigger::pattern(Dir::ToClient, "OK Fetch completed", 0),
        Action::ReplaceLine(GMAIL_LIMIT.into()),
    )
    .when_client_sent("EXAMINE \"Sent\"");
    let proxy = FaultProxy::start(src.imap_port(), vec![limit]);
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("f.db");
    let gmail = "preset = \"gmail\"\n";
    let started = chrono::Local::now();
    let first = job(
        "gmail-fetch",
        proxy.port(),
        dst.imap_port(),
        "carl-f",
        gmail,
        "",
    );
    let (outcome, events) = run_job(first, &db, quick());
    assert_eq!(proxy.fired().len(), 1);
    let m = only(&outcome);
    assert_paused_for_the_day(m, "source", started);
    assert!(m
        .error
        .as_deref()
        .unwrap_or_default()
        .ends_with(&format!("[{GMAIL_LIMIT}]")));
    assert!(retries(&events).is_empty(), "{:?}", retries(&events));
    let copied = m.migrated() as usize;
    assert!(
        copied > 0 && copied < TOTAL,
        "copied until the limit, the rest left: {copied}"
    );
    let log = mailferry::report::render_log(&outcome);
    assert!(log.contains("PARTIAL"), "{log}");
    assert!(
        log.contains("   Stopped: The daily limit was reached for this mailbox"),
        "{log}"
    );

    let again = job(
        "gmail-fetch",
        src.imap_port(),
        dst.imap_port(),
        "carl-f",
        gmail,
        "",
    );
    let (outcome, _) = run_job(again, &db, quick());
    let m = only(&outcome);
    assert_eq!(m.verdict(), Verdict::Success, "{m:#?}");
    assert_eq!(
        m.migrated() as usize,
        TOTAL - copied,
        "nothing copied twice"
    );
    println!(
        "first run {copied} of {TOTAL} messages, then paused; the next run {}",
        m.migrated()
    );
    let (s, d) = (
        snapshot(&src, USER, PASSWORD),
        dest_snapshot(&dst, "carl-f"),
    );
    compare(&s, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&s, &d), 0);
}

/// The same reply to an APPEND (here after the message was stored, the
/// worst case): the mailbox pauses, and the next run finds what was
/// stored instead of sending it again.
#[test]
fn gmails_limit_reply_to_an_append_pauses_and_the_next_run_sends_nothing_twice() {
    let (src, dst) = servers();
    dst.add_user("carl-a", "unused");
    let limit = Fault::new(
        Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
        Action::ReplaceLine(GMAIL_LIMIT.into()),
    );
    let proxy = FaultProxy::start(dst.imap_port(), vec![limit]);
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("a.db");
    let gmail = "preset = \"gmail\"\n";
    let started = chrono::Local::now();
    let first = job(
        "gmail-append",
        src.imap_port(),
        proxy.port(),
        "carl-a",
        "",
        gmail,
    );
    assert_eq!(
        first.destination.quirks.daily_upload_bytes,
        Some(500_000_000)
    );
    let (outcome, events) = run_job(first, &db, quick());
    assert_eq!(proxy.fired().len(), 1);
    assert_paused_for_the_day(only(&outcome), "destination", started);
    assert!(retries(&events).is_empty(), "{:?}", retries(&events));

    // Through the same proxy (the job's servers are its name's), its one
    // fault spent.
    let again = job(
        "gmail-append",
        src.imap_port(),
        proxy.port(),
        "carl-a",
        "",
        gmail,
    );
    let (outcome, _) = run_job(again, &db, quick());
    assert_eq!(only(&outcome).verdict(), Verdict::Success, "{outcome:#?}");
    let (s, d) = (
        snapshot(&src, USER, PASSWORD),
        dest_snapshot(&dst, "carl-a"),
    );
    compare(&s, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&s, &d), 0);
}

/// With a daily download limit of 50 KB (Gmail's 2,500 MB, scaled down
/// to the ~140 KB corpus), each run stops before the batch that would pass
/// it, with the same words, and copies at most that much; run after run the
/// mailbox completes, every message once.
#[test]
fn a_mailbox_stops_short_of_its_daily_limit_and_completes_over_several_runs() {
    let (src, dst) = servers();
    dst.add_user("carl-p", "unused");
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("p.db");
    let limit = 50_000u64;
    let mut runs = Vec::new();
    loop {
        let started = chrono::Local::now();
        let mut j = job(
            "gmail-proactive",
            src.imap_port(),
            dst.imap_port(),
            "carl-p",
            "preset = \"gmail\"\n",
            "",
        );
        assert_eq!(j.source.quirks.daily_download_bytes, Some(2_500_000_000));
        j.source.quirks.daily_download_bytes = Some(limit);
        let (outcome, _) = run_job(j, &db, quick());
        let m = only(&outcome).clone();
        assert!(
            m.bytes() <= limit,
            "run {}: {} bytes",
            runs.len() + 1,
            m.bytes()
        );
        runs.push((m.migrated(), m.bytes()));
        if m.verdict() == Verdict::Success {
            break;
        }
        assert_paused_for_the_day(&m, "source", started);
        let words = m.error.unwrap_or_default();
        assert!(
            words.contains("the host lets each mailbox download 50.0 KB over IMAP a day, and the next messages would have gone past it in this run"),
            "{words}"
        );
        assert!(runs.len() < 10, "no end: {runs:?}");
    }
    println!("runs (messages, bytes) under a {limit}-byte daily limit: {runs:?}");
    assert!(runs.len() >= 3, "~140 KB at 50 KB a run: {runs:?}");
    assert_eq!(
        runs.iter().map(|r| r.0).sum::<u64>() as usize,
        TOTAL,
        "{runs:?}"
    );
    let (s, d) = (
        snapshot(&src, USER, PASSWORD),
        dest_snapshot(&dst, "carl-p"),
    );
    compare(&s, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&s, &d), 0);
}

/// Microsoft 365's throttling replies, each once: `Request is throttled`
/// for an APPEND the server did store, `Server Unavailable. 15` for a
/// FETCH, `User is authenticated but not connected` for opening a folder.
/// Each is retried after a pause; the job ends identical, nothing doubled.
#[test]
fn microsoft_365s_throttling_replies_are_retried_and_nothing_is_lost_or_doubled() {
    let (src, dst) = servers();
    dst.add_user("carl-m", "unused");
    let src_faults = vec![
        Fault::new(
            Trigger::pattern(Dir::ToClient, "OK Fetch completed", 0),
            Action::ReplaceLine("NO Server Unavailable. 15".into()),
        )
        .when_client_sent("BODY.PEEK[]"),
        Fault::new(
            Trigger::pattern(Dir::ToClient, "OK [READ-ONLY] Examine completed", 0),
            Action::ReplaceLine("NO User is authenticated but not connected.".into()),
        ),
    ];
    let dst_faults = vec![Fault::new(
        Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
        Action::ReplaceLine(
            "NO Request is throttled. Suggested Backoff Time: 10 milliseconds".into(),
        ),
    )];
    let sp = FaultProxy::start(src.imap_port(), src_faults);
    let dp = FaultProxy::start(dst.imap_port(), dst_faults);
    let db = tempfile::tempdir().unwrap();
    let j = job(
        "m365-throttled",
        sp.port(),
        dp.port(),
        "carl-m",
        "",
        "preset = \"microsoft-365\"\n",
    );
    assert_eq!(j.destination.quirks.max_connections_per_mailbox, Some(4));
    let (outcome, events) = run_job(j, &db.path().join("m.db"), quick());
    assert_eq!(sp.fired().len() + dp.fired().len(), 3, "every fault fired");
    let reasons = retries(&events);
    for words in [
        "is throttling this account while appending messages",
        "is temporarily unavailable while fetching messages",
        "is temporarily unavailable while opening folder",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(words)),
            "{words}: {reasons:#?}"
        );
    }
    let m = only(&outcome);
    assert_eq!(m.verdict(), Verdict::Success, "{m:#?}");
    assert_eq!(m.migrated() as usize, TOTAL);
    let (s, d) = (
        snapshot(&src, USER, PASSWORD),
        dest_snapshot(&dst, "carl-m"),
    );
    compare(&s, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&s, &d), 0);
}

/// A destination that gives no APPENDLIMIT (Dovecot here, Microsoft 365
/// in life) gets its preset's size limit: larger messages are not sent,
/// each named with its date, sender and subject and how an admin raises
/// the limit. (The limit is scaled down from 35 MB to 20 KB so that the
/// corpus has such messages.) Raised, the next run sends just them.
#[test]
fn messages_over_microsoft_365s_size_limit_are_named_not_sent_and_follow_once_it_is_raised() {
    let (src, dst) = servers();
    dst.add_user("carl-s", "unused");
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("s.db");
    let m365 = "preset = \"microsoft-365\"\n";
    let s = snapshot(&src, USER, PASSWORD);
    let cap = 20_000u64;
    let big: Vec<u64> = s
        .folders
        .values()
        .flat_map(|f| f.messages.values())
        .map(|m| m.size)
        .filter(|&size| size > cap)
        .collect();
    assert!(!big.is_empty() && big.len() < TOTAL, "{big:?}");

    let mut j = job(
        "m365-size",
        src.imap_port(),
        dst.imap_port(),
        "carl-s",
        "",
        m365,
    );
    assert_eq!(j.destination.quirks.max_message_bytes, Some(35_000_000));
    j.destination.quirks.max_message_bytes = Some(cap);
    let (outcome, _) = run_job(j, &db, quick());
    let m = only(&outcome);
    assert_eq!(m.verdict(), Verdict::Partial, "{m:#?}");
    assert_eq!(m.failed() as usize, big.len());
    assert_eq!(m.migrated() as usize, TOTAL - big.len());
    for f in m.folders.iter().flat_map(|f| &f.failures) {
        assert_eq!(f.code, "message-too-big");
        assert!(
            !f.date.is_empty() && !f.from.is_empty() && !f.subject.is_empty(),
            "{f:?}"
        );
        assert!(
            f.reason
                .contains("is larger than Microsoft 365 accepts (20.0 KB), so it was not sent"),
            "{}",
            f.reason
        );
        assert!(
            f.reason.contains("An administrator can raise the limit to 150 MB (Exchange Online PowerShell: Set-Mailbox -Identity <mailbox> -MaxReceiveSize 150MB)"),
            "{}",
            f.reason
        );
    }
    let log = mailferry::report::render_log(&outcome);
    assert_eq!(
        log.matches("is larger than Microsoft 365 accepts").count(),
        big.len(),
        "{log}"
    );
    let d = dest_snapshot(&dst, "carl-s");
    assert_eq!(d.total_messages(), TOTAL - big.len());
    assert!(d
        .folders
        .values()
        .flat_map(|f| f.messages.values())
        .all(|m| m.size <= cap));

    let raised = job(
        "m365-size",
        src.imap_port(),
        dst.imap_port(),
        "carl-s",
        "",
        &format!("{m365}max_message_mb = 150\n"),
    );
    assert_eq!(
        raised.destination.quirks.max_message_bytes,
        Some(150_000_000)
    );
    let (outcome, _) = run_job(raised, &db, quick());
    let m = only(&outcome);
    assert_eq!(m.verdict(), Verdict::Success, "{m:#?}");
    assert_eq!(m.migrated() as usize, big.len());
    let d = dest_snapshot(&dst, "carl-s");
    compare(&s, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duplicates(&s, &d), 0);
}
