//! Faults between the engine and real Dovecot servers, injected by a proxy:
//! connections cut mid FETCH literal, mid APPEND literal and between an
//! APPEND and its OK, stalls past the timeout, BYE, garbage, throttling,
//! slow links. Whatever happens, the destination ends identical to the
//! source: nothing lost, nothing twice.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use mailferry::copy::Options;
use mailferry::outcome::{JobOutcome, Verdict};
use mailferry::progress::Event;
use support::corpus::{snapshot, snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{
    compare, duplicates, seed_small_corpus, Action, Dir, Fault, FaultProxy, Rng, Trigger,
};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";

/// Two plaintext Dovecots (so the proxy sees IMAP, not TLS), the source
/// seeded with the small corpus.
fn servers() -> (Dovecot, Dovecot, usize) {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user(USER, PASSWORD);
    let total = seed_small_corpus(&src, USER, PASSWORD);
    (src, dst, total)
}

/// A job from the source proxy to the destination proxy, for `local` (a
/// destination user of its own, so runs do not share a mailbox).
fn job(name: &str, src: &FaultProxy, dst: &FaultProxy, local: &str) -> JobSpec {
    JobSpec {
        name: name.into(),
        source_host: "127.0.0.1".into(),
        source_protocol: "imap4",
        source_ports: vec![src.port()],
        source_ca: None,
        dest_host: "127.0.0.1".into(),
        dest_port: dst.port(),
        dest_security: "plain",
        dest_ca: None,
        auth: support::jobs::DestAuth::MasterSaslPlain,
        users: format!("{USER},{PASSWORD},{local}"),
        skip: String::new(),
        translate: String::new(),
        ports_line: None,
        source_extra: "allow_plaintext = true\n".into(),
        options: String::new(),
    }
}

/// Short timeouts and quick retries: a fault costs well under a second.
fn quick() -> Options {
    Options {
        timeout: Duration::from_millis(400),
        connect_timeout: Duration::from_secs(2),
        retries: 8,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(80),
        batch_messages: 4,
        batch_bytes: 64 * 1024,
        keepalive: Duration::from_secs(30),
        parallel_mailboxes: 1,
        ..Options::default()
    }
}

fn dest_snapshot(dst: &Dovecot, user: &str) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), user, MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

fn retries(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { .. }))
        .count()
}

/// How many message bodies the engine sent to the destination.
fn bodies_sent(proxy: &FaultProxy) -> usize {
    proxy
        .client_bytes()
        .iter()
        .map(|c| c.windows(15).filter(|w| w == b"From: Fault Tes").count())
        .sum()
}

/// How many NOOPs the engine sent through `proxy`.
fn noops(proxy: &FaultProxy) -> usize {
    proxy
        .client_bytes()
        .iter()
        .map(|c| c.windows(6).filter(|w| w == b" NOOP\r").count())
        .sum()
}

/// One fault of a random plan, and which proxy it goes on.
#[derive(Clone, Debug)]
struct Planned {
    on_source: bool,
    fault: Fault,
    what: &'static str,
}

/// A seeded plan of 1 to 3 faults from the catalogue.
fn plan(seed: u64) -> Vec<Planned> {
    let mut rng = Rng::new(seed);
    let n = rng.range(1, 4);
    let mut out = Vec::new();
    for _ in 0..n {
        let kind = rng.range(0, 13);
        let times = rng.range(1, 3) as u32;
        let (on_source, trigger, action, what) = match kind {
            0 => (
                true,
                Trigger::bytes(Dir::ToClient, rng.range(0, 60_000)),
                Action::Cut,
                "source cut at a random point",
            ),
            1 => (
                false,
                Trigger::bytes(Dir::ToServer, rng.range(0, 80_000)),
                Action::Cut,
                "destination cut at a random point",
            ),
            2 => (
                true,
                Trigger::pattern(Dir::ToClient, "BODY[] {", rng.range(1, 3_000)),
                Action::Cut,
                "cut mid FETCH literal",
            ),
            3 => (
                false,
                Trigger::pattern(Dir::ToServer, "APPEND ", rng.range(20, 3_000)),
                Action::Cut,
                "cut mid APPEND literal",
            ),
            4 => (
                false,
                Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
                Action::Cut,
                "cut after APPEND, before its OK",
            ),
            5 => (
                rng.range(0, 2) == 0,
                Trigger::bytes(Dir::ToClient, rng.range(0, 40_000)),
                Action::Stall(Duration::from_millis(600)),
                "stall longer than the timeout",
            ),
            6 => (
                true,
                Trigger::bytes(Dir::ToClient, rng.range(0, 60_000)),
                Action::Bye("* BYE Server shutting down".into()),
                "BYE injected",
            ),
            7 => (
                rng.range(0, 2) == 0,
                Trigger::bytes(Dir::ToClient, rng.range(0, 60_000)),
                Action::Garbage(b"\x00\x01 garbage )( ]]\r\n".to_vec()),
                "garbage, then cut",
            ),
            8 => (
                rng.range(0, 2) == 0,
                Trigger::bytes(Dir::ToClient, rng.range(0, 20_000)),
                Action::Delay {
                    every: Duration::from_millis(2),
                    chunk: 4096,
                },
                "slow link",
            ),
            9 => (
                false,
                Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
                Action::ReplaceLine(
                    "NO Request is throttled. Suggested Backoff Time: 10 milliseconds".into(),
                ),
                "APPEND stored but answered 'throttled'",
            ),
            10 => (
                true,
                Trigger::pattern(Dir::ToClient, "OK Fetch completed", 0),
                Action::ReplaceLine("NO [UNAVAILABLE] Server Unavailable. 15".into()),
                "FETCH answered [UNAVAILABLE]",
            ),
            11 => (
                rng.range(0, 2) == 0,
                Trigger::pattern(Dir::ToClient, "* OK", 0),
                Action::ReplaceLine("* BYE Too many simultaneous connections.".into()),
                "greeting BYE: too many connections",
            ),
            _ => (
                false,
                Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
                Action::Stall(Duration::from_millis(600)),
                "stall after APPEND, before its OK",
            ),
        };
        out.push(Planned {
            on_source,
            fault: Fault::new(trigger, action).times(times),
            what,
        });
    }
    out
}

struct RunReport {
    seed: u64,
    what: Vec<&'static str>,
    fired: usize,
    retries: usize,
    outcome: JobOutcome,
    same: Result<(), String>,
    duplicates: usize,
    elapsed: Duration,
}

fn fault_run(src: &Dovecot, dst: &Dovecot, db: &Path, seed: u64, total: usize) -> RunReport {
    let started = Instant::now();
    let planned = plan(seed);
    let on = |source: bool| -> Vec<Fault> {
        planned
            .iter()
            .filter(|p| p.on_source == source)
            .map(|p| p.fault.clone())
            .collect()
    };
    let sp = FaultProxy::start(src.imap_port(), on(true));
    let dp = FaultProxy::start(dst.imap_port(), on(false));
    let local = format!("run{seed}");
    dst.add_user(&local, "unused");
    let spec = job(&format!("fault-{seed}"), &sp, &dp, &local);
    let (outcome, events) = spec.run_with(&db.join(format!("{seed}.db")), quick());
    let src_snap = snapshot(src, USER, PASSWORD);
    let dst_snap = dest_snapshot(dst, &local);
    let _ = total;
    RunReport {
        seed,
        what: planned.iter().map(|p| p.what).collect(),
        fired: sp.fired().len() + dp.fired().len(),
        retries: retries(&events),
        same: compare(&src_snap, &dst_snap),
        duplicates: duplicates(&src_snap, &dst_snap),
        outcome,
        elapsed: started.elapsed(),
    }
}

/// The proof of "nothing lost, nothing twice": 60 seeded random fault
/// plans over the multi-folder mailbox, 6 at a time. Each run must end with
/// the destination identical to the source, no duplicate, every message
/// counted once as migrated, and success.
#[test]
fn sixty_seeded_random_fault_runs_end_identical_without_duplicates() {
    let (src, dst, total) = servers();
    let db = tempfile::tempdir().unwrap();
    let seeds: Vec<u64> = (1..=60).collect();
    let started = Instant::now();
    let mut reports = Vec::new();
    for group in seeds.chunks(6) {
        let batch: Vec<RunReport> = std::thread::scope(|sc| {
            let handles: Vec<_> = group
                .iter()
                .map(|&seed| {
                    let (src, dst, db) = (&src, &dst, db.path());
                    sc.spawn(move || fault_run(src, dst, db, seed, total))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        reports.extend(batch);
    }
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for r in &reports {
        let verdict = r.outcome.verdict();
        let line = format!(
            "seed {:>2}: {:<7} fired {} retried {:>2} migrated {:>2} skipped {} dups {} {:>5} ms  {}{}",
            r.seed,
            verdict.word(),
            r.fired,
            r.retries,
            r.outcome.migrated(),
            r.outcome.skipped(),
            r.duplicates,
            r.elapsed.as_millis(),
            r.what.join(" + "),
            match &r.same {
                Ok(()) => String::new(),
                Err(e) => format!("  DIFFERS: {e}"),
            }
        );
        if r.same.is_err()
            || r.duplicates > 0
            || verdict != Verdict::Success
            || r.outcome.migrated() as usize != total
            || r.outcome.skipped() != 0
        {
            bad.push(format!("{line}\n{:#?}", r.outcome.mailboxes));
        }
        lines.push(line);
    }
    let fired_runs = reports.iter().filter(|r| r.fired > 0).count();
    let faults_fired: usize = reports.iter().map(|r| r.fired).sum();
    let summary = format!(
        "{} fault runs in {:.1} s: {} identical, {} with duplicates, {} runs where a fault fired ({} faults fired, {} retries)",
        reports.len(),
        started.elapsed().as_secs_f64(),
        reports.iter().filter(|r| r.same.is_ok()).count(),
        reports.iter().filter(|r| r.duplicates > 0).count(),
        fired_runs,
        faults_fired,
        reports.iter().map(|r| r.retries).sum::<usize>(),
    );
    let report = format!("{}\n{summary}\n", lines.join("\n"));
    println!("{report}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-runs.txt");
    let _ = std::fs::write(out, &report);
    assert!(
        bad.is_empty(),
        "{} runs went wrong:\n{}",
        bad.len(),
        bad.join("\n\n")
    );
    assert!(
        fired_runs >= 50,
        "at least 50 runs should meet a fault: {summary}"
    );
}

/// The APPEND in doubt: the connection dies after the server stored the
/// batch and before its tagged OK reached MailFerry. After reconnecting, it
/// finds the batch by content key and does not send it again.
#[test]
fn an_append_cut_before_its_ok_is_found_and_not_sent_again() {
    let (src, dst, total) = servers();
    let db = tempfile::tempdir().unwrap();
    let sp = FaultProxy::start(src.imap_port(), vec![]);
    let dp = FaultProxy::start(
        dst.imap_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "OK [APPENDUID", 0),
            Action::Cut,
        )],
    );
    dst.add_user("bob", "unused");
    // A long timeout: only the cut may interrupt this run, even on a busy
    // machine.
    let opts = Options {
        timeout: Duration::from_secs(5),
        ..quick()
    };
    let (outcome, events) =
        job("in-doubt", &sp, &dp, "bob").run_with(&db.path().join("m.db"), opts);
    assert_eq!(dp.fired().len(), 1);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(retries(&events), 1);
    // Counted once, as migrated (it was this run that stored it).
    assert_eq!(outcome.migrated() as usize, total);
    assert_eq!(outcome.skipped(), 0);
    // Every body went over the wire exactly once.
    assert_eq!(bodies_sent(&dp), total);
    let (s, d) = (snapshot(&src, USER, PASSWORD), dest_snapshot(&dst, "bob"));
    compare(&s, &d).unwrap();
    assert_eq!(duplicates(&s, &d), 0);
}

/// The other side of the doubt: cut mid APPEND literal, the server stored
/// nothing, so the batch is sent again, and still arrives once.
#[test]
fn an_append_cut_mid_literal_is_sent_again_and_arrives_once() {
    let (src, dst, total) = servers();
    let db = tempfile::tempdir().unwrap();
    let sp = FaultProxy::start(src.imap_port(), vec![]);
    let dp = FaultProxy::start(
        dst.imap_port(),
        vec![Fault::new(Trigger::pattern(Dir::ToServer, "APPEND ", 200), Action::Cut).times(2)],
    );
    dst.add_user("bob", "unused");
    let opts = Options {
        timeout: Duration::from_secs(5),
        ..quick()
    };
    let (outcome, events) =
        job("mid-literal", &sp, &dp, "bob").run_with(&db.path().join("m.db"), opts);
    assert_eq!(dp.fired().len(), 2);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(retries(&events), 2);
    assert_eq!(outcome.migrated() as usize, total);
    assert!(bodies_sent(&dp) > total, "the cut batches were sent again");
    let (s, d) = (snapshot(&src, USER, PASSWORD), dest_snapshot(&dst, "bob"));
    compare(&s, &d).unwrap();
    assert_eq!(duplicates(&s, &d), 0);
}

/// A slow but steady source never counts as a timeout (the limit is on
/// silence, not on the length of a transfer), and the destination, idle
/// meanwhile, gets NOOPs.
#[test]
fn a_slow_steady_source_is_no_timeout_and_the_idle_destination_gets_noops() {
    let (src, dst, _) = servers();
    let db = tempfile::tempdir().unwrap();
    let sp = FaultProxy::start(
        src.imap_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "BODY[] {", 0),
            Action::Delay {
                every: Duration::from_millis(25),
                chunk: 4096,
            },
        )
        .always()],
    );
    let dp = FaultProxy::start(dst.imap_port(), vec![]);
    dst.add_user("bob", "unused");
    let opts = Options {
        timeout: Duration::from_millis(300),
        keepalive: Duration::from_millis(100),
        batch_messages: 10,
        batch_bytes: 1 << 20,
        ..quick()
    };
    let (outcome, events) = job("slow", &sp, &dp, "bob").run_with(&db.path().join("m.db"), opts);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(retries(&events), 0, "{events:#?}");
    assert!(!sp.fired().is_empty());
    assert!(noops(&dp) > 0, "the idle destination should have had NOOPs");
    compare(&snapshot(&src, USER, PASSWORD), &dest_snapshot(&dst, "bob")).unwrap();
}

/// Auto reads the Inbox over POP3 while the IMAP source waits for the other
/// folders: that idle IMAP connection gets NOOPs, not silence.
#[test]
fn the_idle_imap_source_of_an_auto_job_gets_noops_while_pop3_reads_the_inbox() {
    let (src, dst, total) = servers();
    let db = tempfile::tempdir().unwrap();
    let pop = FaultProxy::start(
        src.pop3_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToClient, "+OK", 0),
            Action::Delay {
                every: Duration::from_millis(25),
                chunk: 2048,
            },
        )
        .always()],
    );
    let imap = FaultProxy::start(src.imap_port(), vec![]);
    let dp = FaultProxy::start(dst.imap_port(), vec![]);
    dst.add_user("carol", "unused");
    let mut spec = job("auto-idle", &imap, &dp, "carol");
    spec.source_protocol = "auto";
    spec.ports_line = Some(format!(
        "ports = {{ imap4 = [{}], pop3 = [{}] }}",
        imap.port(),
        pop.port()
    ));
    let opts = Options {
        keepalive: Duration::from_millis(100),
        // One connection pair: the Inbox first, the IMAP source idle meanwhile.
        connections_per_mailbox: 1,
        ..quick()
    };
    let (outcome, events) = spec.run_with(&db.path().join("m.db"), opts);
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    assert_eq!(outcome.migrated() as usize, total);
    assert_eq!(retries(&events), 0, "{events:#?}");
    assert!(!pop.fired().is_empty(), "the POP3 replies were slowed");
    assert!(
        noops(&imap) > 0,
        "the idle IMAP source should have had NOOPs"
    );
}
