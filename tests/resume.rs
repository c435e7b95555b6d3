//! Stopping a job half way, by SIGKILL or by cancelling it, and running it
//! again: the destination ends identical to the source, nothing twice, and
//! the second run copies only what was missing.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailferry::copy::{self, Cancel, Options};
use mailferry::outcome::Verdict;
use mailferry::progress::Event;
use mailferry::store::Store;
use support::corpus::{snapshot, snapshot_with, Snapshot};
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER};
use support::faults::{
    compare, duplicates, seed_small_corpus, Action, Dir, Fault, FaultProxy, Trigger,
};
use support::jobs::JobSpec;
use support::probe::Probe;

fn servers() -> (Dovecot, Dovecot, usize) {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user("alice", "apw");
    dst.add_user("alice", "unused");
    let total = seed_small_corpus(&src, "alice", "apw");
    (src, dst, total)
}

/// A slow source: about 100 KB/s, so a run takes a few seconds.
fn slow() -> Vec<Fault> {
    vec![Fault::new(
        Trigger::bytes(Dir::ToClient, 0),
        Action::Delay {
            every: Duration::from_millis(10),
            chunk: 1024,
        },
    )
    .always()]
}

fn spec(name: &str, src_port: u16, dst_port: u16) -> JobSpec {
    JobSpec {
        options: "timeout_seconds = 10\nparallel_mailboxes = 1".into(),
        ..JobSpec::plain(name, src_port, dst_port, "alice,apw")
    }
}

fn dest_snapshot(dst: &Dovecot) -> Snapshot {
    let mut probe = Probe::login_master(dst.imap_port(), "alice", MASTER_USER, MASTER_PASSWORD);
    let snap = snapshot_with(&mut probe);
    probe.logout();
    snap
}

/// The mailbox's totals in the final view of `mailferry run --json` output.
fn finished_counts(stdout: &str) -> (u64, u64) {
    for line in stdout.lines() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v["update"] == "ended" {
            let row = &v["view"]["rows"][0];
            return (
                row["migrated"].as_u64().unwrap(),
                row["skipped"].as_u64().unwrap(),
            );
        }
    }
    panic!("no ended update in:\n{stdout}");
}

#[test]
fn killed_with_sigkill_mid_job_then_run_again_ends_identical_copying_only_what_was_missing() {
    let (src, dst, total) = servers();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let proxy = FaultProxy::start(src.imap_port(), slow());
    let job = spec("killed", proxy.port(), dst.imap_port()).write(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .env("MAILFERRY_DB", &db)
        .args(["run", "--json", "--log"])
        .arg(dir.path().join("first.log"))
        .arg(&job)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the first batch is on the destination and in the
    // ledger, while the next one is on its way.
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        // A row update with messages done: the first batch is through.
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
        if v["row"]["messages_done"].as_u64().unwrap_or(0) > 0 {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let after_kill = dest_snapshot(&dst).total_messages();
    assert!(
        after_kill > 0 && after_kill < total,
        "killed half way: {after_kill} of {total} copied"
    );

    proxy.set_faults(vec![]);
    let out = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .env("MAILFERRY_DB", &db)
        .args(["run", "--json", "--log"])
        .arg(dir.path().join("second.log"))
        .arg(&job)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (migrated, skipped) = finished_counts(&stdout);
    assert_eq!(
        (migrated as usize, skipped as usize),
        (total - after_kill, after_kill),
        "the second run copies only what was missing"
    );
    let (s, d) = (snapshot(&src, "alice", "apw"), dest_snapshot(&dst));
    compare(&s, &d).unwrap();
    assert_eq!(duplicates(&s, &d), 0);
}

#[test]
fn a_cancelled_job_logs_out_keeps_its_ledger_and_resumes() {
    let (src, dst, total) = servers();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let sp = FaultProxy::start(src.imap_port(), slow());
    let dp = FaultProxy::start(dst.imap_port(), vec![]);
    let spec = spec("cancelled", sp.port(), dp.port());
    let opts = Options {
        batch_messages: 3,
        ..Options::for_job(&spec.job())
    };

    let cancel = Cancel::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink: mailferry::progress::Sink = {
        let (cancel, events) = (cancel.clone(), events.clone());
        Arc::new(move |e: &Event| {
            // Once something is copied (the first progress event gives
            // the totals, before anything is).
            if matches!(e, Event::Progress { messages_done, .. } if *messages_done > 0) {
                cancel.cancel();
            }
            events.lock().unwrap().push(e.clone());
        })
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = rt
        .block_on(copy::run(
            spec.job(),
            Store::open(&db).unwrap(),
            sink,
            opts.clone(),
            cancel,
        ))
        .unwrap()
        .outcome;
    let alice = &first.mailboxes[0];
    assert!(
        alice.error.as_deref().unwrap_or_default().starts_with(
            "The job was cancelled before this mailbox finished. Run the job again to resume"
        ),
        "{alice:#?}"
    );
    let copied = first.migrated() as usize;
    assert!(copied > 0 && copied < total, "{copied} of {total}");
    assert_eq!(
        dest_snapshot(&dst).total_messages(),
        copied,
        "the ledger knows all that was copied"
    );
    // Both connections were logged out, not dropped.
    for proxy in [&sp, &dp] {
        let last = proxy.client_bytes().pop().unwrap();
        assert!(
            String::from_utf8_lossy(&last).contains(" LOGOUT\r\n"),
            "no LOGOUT: {}",
            String::from_utf8_lossy(&last)
        );
    }

    sp.set_faults(vec![]);
    let (second, _) = support::jobs::run_job(spec.job(), Path::new(&db), opts);
    assert_eq!(second.verdict(), Verdict::Success, "{second:#?}");
    assert_eq!(second.migrated() as usize, total - copied);
    assert_eq!(second.skipped() as usize, copied);
    let (s, d) = (snapshot(&src, "alice", "apw"), dest_snapshot(&dst));
    compare(&s, &d).unwrap();
    assert_eq!(duplicates(&s, &d), 0);
}
