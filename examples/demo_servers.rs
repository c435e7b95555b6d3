//! Two local Dovecot servers to try MailFerry on, and to benchmark it:
//!
//! ```text
//! cargo run --release --example demo_servers            # until Ctrl-C
//! cargo run --release -- run examples/local-demo.toml   # in another terminal
//! cargo run --release -- run examples/local-bench.toml
//! ```
//!
//! The source (folders "/", no prefix) listens on 127.0.0.1 ports 10143
//! (imap), 10993 (imaps), 10110 (pop3) and 10995 (pop3s); the destination
//! (Courier style: "INBOX." prefix, "." separator) on 11143, 11993, 11110
//! and 11995. On the source, `demo`/`demo-pw` holds the test bed's standard
//! corpus and `bench`/`bench-pw` 2,000 generated messages (66 MB); on the
//! destination both exist with empty mailboxes, and the master user
//! `admin`/`adminpw` may log in for them. The servers' certificate is
//! copied to `target/demo/ca.pem`, which the example jobs trust.
//!
//! Needs Dovecot (`dovecot-imapd dovecot-pop3d`) and openssl, and root, like
//! the integration tests (see tests/support/README.md). The servers keep
//! their files in /tmp/mailferry-demo-source and -destination while they
//! run, and remove them when they stop.
//!
//! `--many N` adds N small mailboxes on both sides, `m000`/`pw-000` to
//! `m{N-1}`, each with 3 messages (2 in INBOX, 1 in Sent) on the source:
//! a reseller's job of hundreds of mailboxes (the end-to-end test's).
//!
//! Options: `--no-bench` skips the bench account; `--seconds N` stops after
//! N seconds (for scripts); `--stop` stops the servers of an earlier run that
//! was killed and left the ports busy (or of a run in another terminal).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use clap::Parser;
use mailferry::human::human_bytes;
use support::corpus::{seed_bench_account, seed_standard_corpus};
use support::dovecot::{
    port_is_free, Dovecot, Layout, Ports, ServerOptions, MASTER_PASSWORD, MASTER_USER,
};

const SOURCE_PORTS: Ports = Ports {
    imap: 10143,
    imaps: 10993,
    pop3: 10110,
    pop3s: 10995,
};
const DEST_PORTS: Ports = Ports {
    imap: 11143,
    imaps: 11993,
    pop3: 11110,
    pop3s: 11995,
};
const DEMO: (&str, &str) = ("demo", "demo-pw");
const BENCH: (&str, &str) = ("bench", "bench-pw");
const RERUN: &str = "cargo run --release --example demo_servers";

/// Two local Dovecot servers with seeded accounts, for the MailFerry demo
/// and benchmarks. Runs until Ctrl-C.
#[derive(Parser)]
#[command(name = "demo_servers")]
struct Args {
    /// Don't create the `bench` account (2,000 messages, 66 MB).
    #[arg(long)]
    no_bench: bool,
    /// Messages in the bench account.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    bench_messages: usize,
    /// Size of the bench account in MB (1 MB = 1,000,000 bytes).
    #[arg(long, value_name = "MB", default_value_t = 66)]
    bench_mb: u64,
    /// Small mailboxes m000.. (password pw-000..) on both sides.
    #[arg(long, value_name = "N", default_value_t = 0)]
    many: usize,
    /// Stop by itself after N seconds.
    #[arg(long, value_name = "N")]
    seconds: Option<u64>,
    /// Stop the demo servers of an earlier run that still hold the ports,
    /// then exit.
    #[arg(long)]
    stop: bool,
}

/// Where an instance keeps its files while it runs: fixed, so that `--stop`
/// finds it; short, for Dovecot's socket paths.
fn instance_dir(role: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mailferry-demo-{role}"))
}

/// `target/demo` of this checkout: the jobs in examples/ name
/// `../target/demo/ca.pem`.
fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dirs = [instance_dir("source"), instance_dir("destination")];
    if args.stop {
        return stop_leftovers(&dirs);
    }
    if let Err(message) = check_ports(&dirs) {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_signals(stop.clone()) {
        eprintln!("Cannot watch for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }

    let t = Instant::now();
    let options = |layout, ports, dir: &Path| ServerOptions {
        ports: Some(ports),
        dir: Some(dir.to_path_buf()),
        ..ServerOptions::new(layout)
    };
    let source = options(Layout::Slash, SOURCE_PORTS, &dirs[0]);
    let dest = options(Layout::Courier, DEST_PORTS, &dirs[1]);
    let (source, dest) = std::thread::scope(|s| {
        let source = s.spawn(|| Dovecot::try_start_with(&source));
        let dest = s.spawn(|| Dovecot::try_start_with(&dest));
        (source.join().unwrap(), dest.join().unwrap())
    });
    let (mut source, mut dest) = match (source, dest) {
        (Ok(s), Ok(d)) => (s, d),
        (s, d) => {
            // Whichever did start stops when dropped here.
            for (role, result) in [("source", s.err()), ("destination", d.err())] {
                if let Some(e) = result {
                    eprintln!("The {role} server did not start:\n{e}\n");
                }
            }
            return ExitCode::FAILURE;
        }
    };
    let started = t.elapsed();

    let users: &[(&str, &str)] = if args.no_bench {
        &[DEMO]
    } else {
        &[DEMO, BENCH]
    };
    for (user, password) in users {
        source.add_user(user, password);
        dest.add_user(user, password);
    }
    let t = Instant::now();
    let corpus = seed_standard_corpus(&source, DEMO.0, DEMO.1);
    let corpus_time = t.elapsed();
    let corpus_bytes: u64 = corpus.folders.values().flatten().map(|m| m.size).sum();
    let bench = (!args.no_bench).then(|| {
        let t = Instant::now();
        let target = args.bench_mb * 1_000_000;
        let summary = seed_bench_account(&source, BENCH.0, BENCH.1, args.bench_messages, target);
        (summary, t.elapsed())
    });

    let many = (args.many > 0).then(|| {
        let t = Instant::now();
        seed_many(&source, &dest, args.many);
        t.elapsed()
    });

    let ca = demo_dir().join("ca.pem");
    let copied =
        std::fs::create_dir_all(demo_dir()).and_then(|_| std::fs::copy(source.ca_file(), &ca));
    if let Err(e) = copied {
        eprintln!("Cannot copy the certificate to {}: {e}", ca.display());
        return ExitCode::FAILURE;
    }

    let ports = |p: Ports| {
        format!(
            "imap {}  imaps {}  pop3 {}  pop3s {}",
            p.imap, p.imaps, p.pop3, p.pop3s
        )
    };
    println!("MailFerry demo servers are up (started in {started:.1?}).");
    println!();
    println!(
        "  source       127.0.0.1  {}   folders like Archive/2019",
        ports(SOURCE_PORTS)
    );
    println!(
        "  destination  127.0.0.1  {}   folders like INBOX.Archive.2019",
        ports(DEST_PORTS)
    );
    println!(
        "  TLS          self-signed for localhost and 127.0.0.1: trust {}",
        ca.display()
    );
    println!();
    println!(
        "  source       {} / {}    standard corpus: {} messages in {} folders, {}, seeded in {corpus_time:.1?}",
        DEMO.0,
        DEMO.1,
        corpus.total(),
        corpus.folders.len(),
        human_bytes(corpus_bytes)
    );
    if let Some((summary, took)) = &bench {
        println!(
            "               {} / {}  bench: {} messages in {} folders, {} (1-20 KB: {}, 20-200 KB: {}, 0.5-4 MB: {}), seeded in {took:.1?}",
            BENCH.0,
            BENCH.1,
            summary.messages,
            summary.folders.len(),
            human_bytes(summary.bytes),
            summary.by_class[0],
            summary.by_class[1],
            summary.by_class[2]
        );
    }
    if let Some(took) = many {
        println!(
            "               m000 / pw-000 .. {} / {}  {} small mailboxes, 3 messages each, seeded in {took:.1?}",
            many_user(args.many - 1).0,
            many_user(args.many - 1).1,
            args.many
        );
    }
    let names: Vec<&str> = users.iter().map(|(user, _)| *user).collect();
    println!(
        "  destination  {} (empty mailboxes); master user {MASTER_USER} / {MASTER_PASSWORD}",
        names.join(", ")
    );
    println!();
    println!("Next, in another terminal:");
    println!("    cargo run --release -- run examples/local-demo.toml");
    if bench.is_some() {
        println!("    cargo run --release -- run examples/local-bench.toml");
    }
    println!("A second run of a job copies nothing (0 migrated).");
    println!(
        "Server logs: {}/dovecot.log, {}/dovecot.log",
        dirs[0].display(),
        dirs[1].display()
    );
    match args.seconds {
        Some(n) => println!("The servers stop after {n} s, or on Ctrl-C."),
        None => println!("Ctrl-C stops the servers."),
    }

    let deadline = args
        .seconds
        .map(|n| Instant::now() + Duration::from_secs(n));
    loop {
        if stop.load(Ordering::SeqCst) {
            println!("Stopping the servers...");
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            println!("Time is up: stopping the servers...");
            break;
        }
        // A server that got the terminal's Ctrl-C before us, or `--stop`.
        if !source.is_running() || !dest.is_running() {
            println!("A server has stopped: stopping the other one...");
            break;
        }
        sleep(Duration::from_millis(100));
    }
    std::thread::scope(|s| {
        s.spawn(move || drop(source));
        s.spawn(move || drop(dest));
    });
    println!("Stopped.");
    ExitCode::SUCCESS
}

/// The `i`th small mailbox and its password.
fn many_user(i: usize) -> (String, String) {
    (format!("m{i:03}"), format!("pw-{i:03}"))
}

/// `n` small mailboxes on both servers, 3 messages each on the source;
/// seeded 8 at a time.
fn seed_many(source: &Dovecot, dest: &Dovecot, n: usize) {
    for i in 0..n {
        let (user, password) = many_user(i);
        source.add_user(&user, &password);
        dest.add_user(&user, &password);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let (user, password) = many_user(i);
                let mut probe = support::probe::Probe::login(source.imap_port(), &user, &password);
                probe.create("Sent");
                for (k, folder) in ["INBOX", "INBOX", "Sent"].into_iter().enumerate() {
                    let body = format!(
                        "From: {user}@old.example\r\nTo: friend@example.com\r\nSubject: Message {k} of {user}\r\n\
                         Date: Mon, 2 Mar 2020 10:0{k}:00 +0000\r\nMessage-ID: <{user}-{k}@old.example>\r\n\r\nHello from {user}, {k}.\r\n"
                    );
                    probe.append(folder, &[], &format!("02-Mar-2020 10:0{k}:00 +0000"), body.as_bytes());
                }
                probe.logout();
            });
        }
    });
}

/// Ok if every demo port is free; else what to do about it.
fn check_ports(dirs: &[PathBuf]) -> Result<(), String> {
    let all = [SOURCE_PORTS, DEST_PORTS].map(|p| [p.imap, p.imaps, p.pop3, p.pop3s]);
    let busy: Vec<String> = all
        .iter()
        .flatten()
        .filter(|&&port| !port_is_free(port))
        .map(u16::to_string)
        .collect();
    if busy.is_empty() {
        return Ok(());
    }
    let ours: Vec<u32> = dirs.iter().flat_map(|d| Dovecot::processes_of(d)).collect();
    let first = busy[0].clone();
    let ports = match busy.len() {
        1 => format!("Port {first} is"),
        _ => format!("Ports {} are", busy.join(", ")),
    };
    Err(match ours.is_empty() {
        false => format!(
            "{ports} busy: the demo servers of an earlier run still hold them \
             (pids {ours:?}).\nStop them with:\n    {RERUN} -- --stop"
        ),
        true => format!(
            "{ports} in use on 127.0.0.1 by another program; the demo needs \
             10143, 10993, 10110, 10995 and 11143, 11993, 11110, 11995.\n\
             See which program it is with:\n    ss -ltnp '( sport = :{first} )'\n\
             and stop it, then start the demo again."
        ),
    })
}

/// `--stop`: stops the servers of another run (killed, or still running in
/// another terminal: it then stops too).
fn stop_leftovers(dirs: &[PathBuf]) -> ExitCode {
    let mut stopped = 0;
    for dir in dirs {
        let pids = Dovecot::stop_leftover(dir);
        if !pids.is_empty() {
            println!(
                "Stopped the demo server in {} ({} processes).",
                dir.display(),
                pids.len()
            );
            stopped += 1;
        }
    }
    if stopped == 0 {
        println!("No demo server was running.");
    }
    let all = [SOURCE_PORTS, DEST_PORTS].map(|p| [p.imap, p.imaps, p.pop3, p.pop3s]);
    let busy: Vec<String> = all
        .iter()
        .flatten()
        .filter(|&&port| !port_is_free(port))
        .map(u16::to_string)
        .collect();
    if busy.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "Ports {} are still in use, by another program.",
            busy.join(", ")
        );
        ExitCode::FAILURE
    }
}

/// Sets `stop` on SIGINT (Ctrl-C), SIGTERM or SIGHUP, so that `main` can
/// stop the servers and remove their files. Once this returns, those
/// signals no longer kill the process. (The Dovecot masters share our
/// process group: a Ctrl-C in the terminal reaches them too, and they stop
/// by themselves; dropping them then only waits and cleans up.)
fn watch_signals(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term, mut hup) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        )
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        stop.store(true, Ordering::SeqCst);
    });
    Ok(())
}
