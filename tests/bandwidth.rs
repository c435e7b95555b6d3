//! The job-wide bandwidth limit (`[options] max_mb_per_second`) against
//! private Dovecot instances: over IMAP (two connections sharing the
//! limit) and over POP3, a copy takes at least as long as the limit allows
//! for what it read, beyond one burst. The bound holds however loaded the
//! machine is; the rate achieved is printed, not asserted (the benchmark
//! measures it: `cargo run --release --example bench -- --mb-per-second`).

mod support;

use std::time::Instant;

use mailferry::outcome::{JobOutcome, Verdict};
use support::corpus::seed_bench_account;
use support::dovecot::{Dovecot, Layout};
use support::jobs::JobSpec;
use support::probe::Probe;

const USER: &str = "alice";
const PASSWORD: &str = "secret1";
/// Bytes per second: about 5 s for the 3 MB below.
const RATE: u64 = 600_000;

fn servers() -> (Dovecot, Dovecot) {
    let (src, dst) = std::thread::scope(|sc| {
        let s = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        let d = sc.spawn(|| Dovecot::start_plaintext(Layout::Slash));
        (s.join().unwrap(), d.join().unwrap())
    });
    src.add_user(USER, PASSWORD);
    dst.add_user(USER, "unused");
    (src, dst)
}

/// Runs `job` limited to [`RATE`]; checks it took at least
/// (bytes − burst) / rate, the burst being one second of the rate.
fn run_limited(mut job: JobSpec, min_bytes: u64) -> JobOutcome {
    job.options = format!("max_mb_per_second = {}", RATE as f64 / 1e6);
    let db = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let opts = mailferry::copy::Options::for_job(&job.job());
    assert_eq!(opts.max_bytes_per_second, Some(RATE));
    let (outcome, _) = job.run_with(&db.path().join("m.db"), opts);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(outcome.verdict(), Verdict::Success, "{outcome:#?}");
    let bytes = outcome.bytes();
    assert!(bytes >= min_bytes, "{bytes} bytes copied");
    let least = (bytes - RATE) as f64 / RATE as f64;
    println!(
        "{}: {bytes} bytes in {took:.2} s: {:.3} MB/s under a limit of {:.3} MB/s (at least {least:.2} s)",
        job.name,
        bytes as f64 / took / 1e6,
        RATE as f64 / 1e6
    );
    assert!(
        took >= least,
        "{bytes} bytes in {took:.2} s, under {least:.2} s"
    );
    outcome
}

#[test]
fn an_imap_copy_reads_no_faster_than_the_job_limit() {
    let (src, dst) = servers();
    // Ten folders, so that both connections of the mailbox share the
    // limit.
    seed_bench_account(&src, USER, PASSWORD, 120, 3_000_000);
    let job = JobSpec::plain(
        "imap-limited",
        src.imap_port(),
        dst.imap_port(),
        "alice,secret1",
    );
    let outcome = run_limited(job, 2_500_000);
    assert_eq!(outcome.migrated(), 120);
}

#[test]
fn a_pop3_copy_reads_no_faster_than_the_job_limit() {
    let (src, dst) = servers();
    let mut probe = Probe::login(src.imap_port(), USER, PASSWORD);
    let line = "x".repeat(98);
    for i in 0..30 {
        let body: String = (0..1000).map(|_| format!("{line}\r\n")).collect();
        let message = format!(
            "From: a@example.com\r\nSubject: limited {i}\r\nMessage-ID: <limited-{i}@example.com>\r\n\r\n{body}"
        );
        probe.append(
            "INBOX",
            &[],
            "01-Jan-2020 00:00:00 +0000",
            message.as_bytes(),
        );
    }
    probe.logout();
    let mut job = JobSpec::plain(
        "pop3-limited",
        src.pop3_port(),
        dst.imap_port(),
        "alice,secret1",
    );
    job.source_protocol = "pop3";
    let outcome = run_limited(job, 3_000_000);
    assert_eq!(outcome.migrated(), 30);
}
