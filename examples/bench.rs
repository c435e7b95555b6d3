//! The benchmark of issues 6 and 15: MailFerry side by side with Dovecot's
//! own replicator (dsync: `doveadm backup` over imapc) and mbsync (Debian's
//! `isync`), between two private Dovecot instances on 127.0.0.1, near or
//! made distant by a link simulator.
//!
//! ```text
//! cargo run --release --example bench              # full run, 3 rounds (a few minutes)
//! cargo run --release --example bench -- --quick   # smoke run (about half a minute)
//! cargo run --release --example bench -- --scenario wan --rtt-ms 40 [--mbit 20]
//! cargo run --release --example bench -- --all     # every scenario
//! ```
//!
//! It builds `target/release/mailferry` (unless `--mailferry PATH`), starts a
//! source and a destination Dovecot (both "/"-separated, no prefix, maildir),
//! seeds the source and then, round after round, lets each tool copy onto
//! fresh, empty destination accounts: a fresh copy, then a re-run with
//! nothing left to copy. Each run is a subprocess under `/usr/bin/time -v`
//! (wall clock, peak RSS, CPU time); the CPU time both Dovecot servers spent
//! meanwhile comes from /proc. After every run the destination's message
//! count is checked with `doveadm mailbox status` (a run that lost mail
//! fails the benchmark instead of winning it), and its byte total is shown.
//! The order of the tools rotates from round to round. Just before each of
//! MailFerry's fresh copies, `mailferry preflight --json` of the same job
//! estimates it (issue 13): the range is printed next to the copy's time.
//!
//! Scenarios (`--scenario NAME`, repeatable; scenarios 1 and 2 without it,
//! every one with `--all`):
//! - `single` (1): one account, 2,000 messages, 66 MB in 10 folders (1 KB
//!   to 4 MB, mostly small).
//! - `accounts` (2): 50 accounts x 200 messages (6.6 MB each) in one
//!   MailFerry job; dsync and mbsync run one process per account, as many
//!   at once as MailFerry copies mailboxes at once (`--parallel`).
//! - `wan`: issue 15's account, 1,000 messages, 38 MB in 10 folders, with
//!   its goals at 40 ms round trips.
//! - `folders`: one account of 1,000 folders x 5 small messages.
//! - `big-folder`: one folder of 100,000 small messages (MailFerry alone
//!   unless `--big-folder-all-tools`): time per message, peak RSS.
//! - `huge-message`: one 100 MB message: peak RSS against 64 MB + 2x it.
//! - `many`: 500 mailboxes x 20 messages in one job (messages per second
//!   against scenario 2's), and each round a job of 500 empty mailboxes (the
//!   cost of a mailbox by itself).
//!
//! `--rtt-ms MS [--mbit M]` puts a link simulator (tests/support/link.rs)
//! in front of each server's IMAPS port: every tool connects through it
//! (dsync writes the destination itself: only its source leg crosses it).
//! Each fresh copy then shows the bytes each proxy carried, and each table
//! the scenario's latency floor (the bytes' time at the rate plus a nominal
//! count of round trips: per mailbox 4 to connect and log in, 1 LIST, 1 per
//! folder, 2 for a fresh copy's FETCH and APPEND rounds; see `Floor`) and
//! each tool's time over it. With a link both servers offer COMPRESS=DEFLATE
//! (`--server-compress`).
//!
//! How the three tools are set up:
//! - MailFerry: `mailferry run JOB` with an IMAPS source (trusting the test
//!   certificate), a TLS destination with the master login, a throw-away
//!   database in `target/bench/`.
//! - dsync: `doveadm -c DEST.conf -o imapc_host=127.0.0.1 -o imapc_port=IMAPS
//!   -o imapc_ssl=imaps -o ssl_client_ca_file=CA -o imapc_user=U
//!   -o imapc_password=P -o "imapc_features=rfc822.size fetch-headers"
//!   -o mail_prefetch_count=20 backup -R -u DEST_USER imapc:` (run on the
//!   destination host, so it writes the maildir directly).
//! - mbsync: IMAPS on both sides (`Host localhost`: mbsync checks the
//!   certificate's DNS names, not its IP address), `Patterns *`,
//!   `Create Near`, `Sync Pull`, `CopyArrivalDate yes`, own `SyncState`.
//!
//! Needs root, Dovecot (`dovecot-imapd dovecot-pop3d`), openssl, GNU time
//! (`time`) and, for its column, `isync` (all Debian packages). Files stay
//! in `target/bench/` (jobs, configs, each run's output and `results.txt`).
//! See docs/performance.md for measured figures.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use support::corpus::{
    seed_bench_account, seed_bench_account_one_connection, seed_big_folder, seed_folders_account,
    seed_huge_message, BenchSummary, BENCH_FOLDERS,
};
use support::dovecot::{Dovecot, Layout, ServerOptions};
use support::jobs::JobSpec;
use support::link::{Link, LinkProxy};

/// Password of every destination account (mbsync logs in with it; MailFerry
/// uses the master login, dsync needs none).
const DEST_PASSWORD: &str = "bench-dest-pw";
/// The bench account's average message size (66 MB / 2,000).
const AVERAGE_MESSAGE: u64 = 33_000;
const TIME: &str = "/usr/bin/time";
/// dsync's imapc settings (see the module comment).
const IMAPC_FEATURES: &str = "rfc822.size fetch-headers";
const PREFETCH: &str = "20";

/// MailFerry next to dsync and mbsync on two local Dovecot servers, near or
/// made distant (issues 6 and 15).
#[derive(Parser)]
#[command(name = "bench")]
struct Args {
    /// Smaller, for a smoke run: 400 messages (13 MB), 10 accounts x 50
    /// messages, one round (and smaller new scenarios, see each).
    #[arg(long)]
    quick: bool,
    /// Rounds, each onto fresh destination accounts; the tables show the
    /// best round and the range. [default: 3, 1 with --quick]
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Messages in the single account. [default: 2000, 400 with --quick]
    #[arg(long, value_name = "N")]
    messages: Option<usize>,
    /// Size of the single account in MB (1,000,000 bytes). [default: 66, 13
    /// with --quick]
    #[arg(long, value_name = "MB")]
    mb: Option<u64>,
    /// Accounts of the second scenario, 0 to skip it. [default: 50, 10 with
    /// --quick]
    #[arg(long, value_name = "N")]
    accounts: Option<usize>,
    /// Messages per account of the second scenario (33 KB each on average).
    /// [default: 200, 50 with --quick]
    #[arg(long, value_name = "N")]
    per_account: Option<usize>,
    /// Mailboxes MailFerry copies at once (its `--parallel`); also the dsync
    /// and mbsync processes run at once in the second scenario.
    #[arg(long, value_name = "N", default_value_t = 4)]
    parallel: usize,
    /// MailFerry's `connections_per_mailbox` (folders of one mailbox copied
    /// at once). [default: the job file's default]
    #[arg(long, value_name = "N")]
    connections: Option<usize>,
    /// Keep both servers' mail in /dev/shm (tmpfs) instead of the temp
    /// folder's disk: takes the file system's own cost and noise out of the
    /// figures (each copy is deleted after its round to bound the memory).
    #[arg(long)]
    tmpfs: bool,
    /// Leave dsync out.
    #[arg(long)]
    no_dsync: bool,
    /// Leave mbsync out.
    #[arg(long)]
    no_mbsync: bool,
    /// The mailferry binary to measure (default: `cargo build --release`,
    /// then target/release/mailferry).
    #[arg(long, value_name = "PATH")]
    mailferry: Option<PathBuf>,
    /// Keep the servers up this long after the run (to profile a job in
    /// target/bench/ by hand).
    #[arg(long, value_name = "SECONDS")]
    hold: Option<u64>,
    /// MailFerry's job-wide bandwidth limit (`max_mb_per_second`, MB =
    /// 1,000,000 bytes); each fresh copy then also shows the rate it
    /// achieved against the limit. (The other tools are not limited: leave
    /// them out.)
    #[arg(long, value_name = "MB")]
    mb_per_second: Option<f64>,
    /// Make both servers distant: every tool's connections go through a
    /// link simulator (tests/support/link.rs), one in front of each server,
    /// that delays every byte half this round trip each way.
    #[arg(long, value_name = "MS")]
    rtt_ms: Option<u64>,
    /// With the link: at most this many Mbit/s (1,000,000 bits) each way
    /// and server, shared by all of its connections (an office line).
    /// Alone: a link with no delay and this rate.
    #[arg(long, value_name = "MBIT")]
    mbit: Option<f64>,
    /// Run this scenario (repeat it, or separate names with commas): single
    /// (or 1), accounts (or 2), wan, folders, big-folder, huge-message,
    /// many. [default: single and accounts]
    #[arg(
        long = "scenario",
        visible_alias = "only",
        value_name = "NAME",
        value_enum,
        value_delimiter = ','
    )]
    scenarios: Vec<Kind>,
    /// Run every scenario.
    #[arg(long)]
    all: bool,
    /// Both servers offer COMPRESS=DEFLATE (Dovecot's imap_zlib), as most
    /// real ones do. [default: yes with --rtt-ms or --mbit, no without:
    /// the loopback figures stay comparable with earlier ones]
    #[arg(long, value_name = "yes|no", value_parser = clap::builder::BoolishValueParser::new())]
    server_compress: Option<bool>,
    /// Skip `mailferry preflight` before MailFerry's fresh copies (over a
    /// slow link, with many folders, it can take longer than the copy).
    #[arg(long)]
    no_preflight: bool,
    /// wan: messages of its one account. [default: 1000, 200 with --quick]
    #[arg(long, value_name = "N")]
    wan_messages: Option<usize>,
    /// wan: the account's size in MB. [default: 38, 8 with --quick]
    #[arg(long, value_name = "MB")]
    wan_mb: Option<u64>,
    /// folders: folders of its one account, the INBOX included. [default:
    /// 1000, 100 with --quick]
    #[arg(long, value_name = "N")]
    folder_count: Option<usize>,
    /// folders: messages in each folder (2 to 4 KB each).
    #[arg(long, value_name = "N", default_value_t = 5)]
    per_folder: usize,
    /// big-folder: messages in its one folder, the INBOX (2 to 4 KB each).
    /// [default: 100000, 10000 with --quick]
    #[arg(long, value_name = "N")]
    big_folder_messages: Option<usize>,
    /// big-folder: measure dsync and mbsync too (MailFerry alone by default).
    #[arg(long)]
    big_folder_all_tools: bool,
    /// huge-message: the size of its one message in MB. [default: 100, 20
    /// with --quick]
    #[arg(long, value_name = "MB")]
    huge_mb: Option<u64>,
    /// many: mailboxes in its one job. [default: 500, 50 with --quick]
    #[arg(long, value_name = "N")]
    many_mailboxes: Option<usize>,
    /// many: messages per mailbox (33 KB each on average).
    #[arg(long, value_name = "N", default_value_t = 20)]
    many_messages: usize,
}

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Kind {
    /// Scenario 1: one account of 2,000 messages, 66 MB, 10 folders.
    #[value(alias = "1")]
    Single,
    /// Scenario 2: 50 accounts x 200 messages, one job.
    #[value(alias = "2")]
    Accounts,
    /// Issue 15's account: 1,000 messages, 38 MB, 10 folders.
    Wan,
    /// One account of 1,000 folders x 5 small messages.
    Folders,
    /// One folder of 100,000 small messages.
    BigFolder,
    /// One 100 MB message.
    HugeMessage,
    /// 500 mailboxes x 20 messages, one job; and a job of empty mailboxes.
    Many,
}

impl Kind {
    /// Part of its job, log and destination names.
    fn slug(self, accounts: usize) -> String {
        match self {
            // The names of issue 6 (docs/performance.md refers to them).
            Kind::Single | Kind::Accounts => format!("{accounts}acct"),
            other => other
                .to_possible_value()
                .map_or("x".into(), |v| v.get_name().to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tool {
    MailFerry,
    Dsync,
    Mbsync,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::MailFerry => "MailFerry",
            Tool::Dsync => "dsync",
            Tool::Mbsync => "mbsync",
        }
    }

    /// Prefix of its destination accounts.
    fn tag(self) -> &'static str {
        match self {
            Tool::MailFerry => "mf",
            Tool::Dsync => "ds",
            Tool::Mbsync => "mb",
        }
    }
}

/// One timed run (of one process, or of a pool of them).
#[derive(Clone, Copy, Debug, Default)]
struct Measure {
    /// Seconds.
    wall: f64,
    /// The largest peak RSS of its processes, in KiB.
    rss_kb: u64,
    /// CPU seconds (user + system) of its processes.
    cpu: f64,
    /// CPU seconds the source and the destination Dovecot spent meanwhile.
    source_cpu: f64,
    dest_cpu: f64,
    /// Logins (connections) the source and the destination saw meanwhile.
    source_logins: usize,
    dest_logins: usize,
}

/// What the destination holds after a run.
#[derive(Clone, Copy, Debug, Default)]
struct Stored {
    messages: u64,
    bytes: u64,
    /// Folders, in all accounts.
    folders: u64,
}

#[derive(Default)]
struct ToolResults {
    fresh: Vec<Measure>,
    rerun: Vec<Measure>,
    /// After each fresh copy.
    stored: Vec<Stored>,
    /// Processes per run (1, or one per account).
    processes: usize,
    /// Why a round failed ("round 2, fresh copy: ...").
    failures: Vec<String>,
    /// MailFerry: each round's pre-flight estimate, made just before its
    /// fresh copy, with the copy's time.
    estimates: Vec<(Estimated, f64)>,
    /// With a link: the bytes each fresh copy sent over it.
    link_bytes: Vec<LinkBytes>,
}

/// A pre-flight report's estimate (`mailferry preflight --json`), seconds.
#[derive(Clone, Copy, Debug)]
struct Estimated {
    low: f64,
    high: f64,
    /// How long making the report took.
    took: f64,
}

struct Scenario {
    kind: Kind,
    title: String,
    /// The tools it measures.
    tools: Vec<Tool>,
    /// Seconds it took to seed, and to run its rounds.
    seed_secs: f64,
    run_secs: f64,
    /// many: source accounts with nothing in them, and the time of a job
    /// of them each round (the cost of a mailbox alone).
    empty_accounts: Vec<(String, String)>,
    empty_runs: Vec<Measure>,
    /// Source accounts: (user, password).
    accounts: Vec<(String, String)>,
    /// Folders per account (the INBOX included).
    folders: usize,
    /// Messages per account, and in all.
    per_account: usize,
    messages: usize,
    bytes: u64,
    results: BTreeMap<Tool, ToolResults>,
    /// MailFerry / dsync per round (fresh copies).
    ratios: Vec<f64>,
}

impl Scenario {
    /// "2000 messages, 66.0 MB in 1 account of 10 folders".
    fn size(&self) -> String {
        format!(
            "{}, {} in {} of {}",
            plural(self.messages as u64, "message"),
            megabytes(self.bytes),
            plural(self.accounts.len() as u64, "account"),
            plural(self.folders as u64, "folder")
        )
    }
}

/// A command to time, with where its output goes.
struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
    /// Its stdout and stderr; `/usr/bin/time` writes to `log.time`.
    log: PathBuf,
}

struct Bed {
    src: Dovecot,
    dst: Dovecot,
    work: PathBuf,
    mailferry: PathBuf,
    parallel: usize,
    connections: Option<usize>,
    /// Mail in /dev/shm: copies are deleted after each round.
    tmpfs: bool,
    /// MailFerry's `max_mb_per_second`.
    mb_per_second: Option<f64>,
    /// The simulated link, and its proxies in front of the source's and
    /// the destination's IMAPS ports.
    link: Option<(Link, LinkProxy, LinkProxy)>,
    /// Make a pre-flight estimate before each of MailFerry's fresh copies.
    preflight: bool,
}

impl Bed {
    /// Where the tools find the source's IMAPS port (through the link).
    fn src_port(&self) -> u16 {
        match &self.link {
            Some((_, src, _)) => src.port(),
            None => self.src.imaps_port(),
        }
    }

    /// Where the tools find the destination's IMAPS port.
    fn dst_port(&self) -> u16 {
        match &self.link {
            Some((_, _, dst)) => dst.port(),
            None => self.dst.imaps_port(),
        }
    }

    /// Bytes both proxies carried so far (zero without a link).
    fn link_bytes(&self) -> LinkBytes {
        match &self.link {
            Some((_, src, dst)) => LinkBytes {
                src: src.bytes(),
                dst: dst.bytes(),
            },
            None => LinkBytes::default(),
        }
    }
}

/// Bytes over the link: (to the server, to the tool) for each server.
#[derive(Clone, Copy, Debug, Default)]
struct LinkBytes {
    src: (u64, u64),
    dst: (u64, u64),
}

impl LinkBytes {
    fn since(self, before: LinkBytes) -> LinkBytes {
        LinkBytes {
            src: (self.src.0 - before.src.0, self.src.1 - before.src.1),
            dst: (self.dst.0 - before.dst.0, self.dst.1 - before.dst.1),
        }
    }

    /// "source 0.2 MB up, 38.1 MB down; destination 38.2 MB up, 0.1 MB down".
    fn text(self) -> String {
        format!(
            "source {} up, {} down; destination {} up, {} down",
            megabytes(self.src.0),
            megabytes(self.src.1),
            megabytes(self.dst.0),
            megabytes(self.dst.1)
        )
    }
}

/// "40 ms round trips, 20 Mbit/s each way".
fn link_text(link: &Link) -> String {
    let rtt = link.one_way.as_secs_f64() * 2000.0;
    let rate = match link.bits_per_second {
        Some(bps) => format!("{} Mbit/s each way", bps as f64 / 1e6),
        None => "no rate limit".into(),
    };
    format!("{rtt:.0} ms round trips, {rate}")
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Ok(false): it ran, but a tool failed a round.
fn run(args: Args) -> Result<bool, String> {
    let quick = args.quick;
    let rounds = args.rounds.unwrap_or(if quick { 1 } else { 3 }).max(1);
    let messages = args.messages.unwrap_or(if quick { 400 } else { 2000 });
    let mb = args.mb.unwrap_or(if quick { 13 } else { 66 });
    let accounts = args.accounts.unwrap_or(if quick { 10 } else { 50 });
    let per_account = args.per_account.unwrap_or(if quick { 50 } else { 200 });
    let wan_messages = args.wan_messages.unwrap_or(if quick { 200 } else { 1000 });
    let wan_mb = args.wan_mb.unwrap_or(if quick { 8 } else { 38 });
    let folder_count = args
        .folder_count
        .unwrap_or(if quick { 100 } else { 1000 })
        .max(1);
    let per_folder = args.per_folder;
    let big = args
        .big_folder_messages
        .unwrap_or(if quick { 10_000 } else { 100_000 });
    let huge_mb = args.huge_mb.unwrap_or(if quick { 20 } else { 100 });
    let many = args.many_mailboxes.unwrap_or(if quick { 50 } else { 500 });
    let many_messages = args.many_messages;
    let selected: BTreeSet<Kind> = match (args.all, args.scenarios.is_empty()) {
        (true, _) => Kind::value_variants().iter().copied().collect(),
        (false, true) => [Kind::Single, Kind::Accounts].into(),
        (false, false) => args.scenarios.iter().copied().collect(),
    };

    preflight()?;
    // One benchmark at a time: a second one would stop this one's servers.
    let lock_path = std::env::temp_dir().join("mailferry-bench.lock");
    let lock = fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    if lock.try_lock().is_err() {
        return Err(format!(
            "another benchmark is running (it holds {})",
            lock_path.display()
        ));
    }

    let mut tools = vec![Tool::MailFerry];
    if !args.no_dsync {
        tools.push(Tool::Dsync);
    }
    if !args.no_mbsync {
        if tool_version("mbsync", "--version").is_some() {
            tools.push(Tool::Mbsync);
        } else {
            println!("mbsync is not installed (apt-get install -y isync): left out.");
        }
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mailferry = match args.mailferry {
        Some(path) => path,
        None => build_mailferry(root, &target)?,
    };
    let work = target.join("bench");
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| format!("cannot empty {}: {e}", work.display()))?;
    }
    fs::create_dir_all(work.join("logs")).map_err(|e| e.to_string())?;

    let link = match (args.rtt_ms, args.mbit) {
        (None, None) => None,
        (rtt, mbit) => Some(Link::rtt_ms(rtt.unwrap_or(0)).with_mbit(mbit)),
    };
    let server_compress = args.server_compress.unwrap_or(link.is_some());
    let mut header = machine_header(&mailferry, root);
    header.push_str(&format!(
        "Settings: {rounds} round(s); mail on {}; MailFerry --parallel {}{}{}; tools: {}\n",
        if args.tmpfs {
            "tmpfs (/dev/shm)"
        } else {
            "disk"
        },
        args.parallel,
        match args.connections {
            Some(n) => format!(", connections_per_mailbox = {n}"),
            None => String::new(),
        },
        match args.mb_per_second {
            Some(mb) => format!(", max_mb_per_second = {mb}"),
            None => String::new(),
        },
        tools
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    header.push_str(&match &link {
        Some(link) => format!(
            "Link: {} (a proxy in front of each server; dsync writes the destination itself, so only its source leg crosses the link)\n",
            link_text(link)
        ),
        None => "Link: none (loopback)\n".into(),
    });
    header.push_str(&format!(
        "Servers offer COMPRESS=DEFLATE: {} (MailFerry and mbsync use it if they choose; dsync's imapc is left as documented)\n",
        if server_compress { "yes" } else { "no" }
    ));
    print!("{header}");

    let t = Instant::now();
    let bed = start_bed(
        work.clone(),
        mailferry,
        args.parallel,
        args.connections,
        args.tmpfs,
        server_compress,
    )?;
    let link = link.map(|link| {
        let src = LinkProxy::start(bed.src.imaps_port(), link);
        let dst = LinkProxy::start(bed.dst.imaps_port(), link);
        (link, src, dst)
    });
    let bed = Bed {
        mb_per_second: args.mb_per_second,
        link,
        preflight: !args.no_preflight,
        ..bed
    };
    println!(
        "Servers up in {:.1?}: source imaps {}, destination imaps {} (127.0.0.1){}.",
        t.elapsed(),
        bed.src.imaps_port(),
        bed.dst.imaps_port(),
        match &bed.link {
            Some((_, src, dst)) => format!(
                "; through the link: source {}, destination {}",
                src.port(),
                dst.port()
            ),
            None => String::new(),
        }
    );

    let mut scenarios = Vec::new();
    let t = Instant::now();
    for &kind in &selected {
        let one = |user: &str| vec![(user.to_string(), format!("{user}-pw"))];
        let numbered = |prefix: &str, n: usize| -> Vec<(String, String)> {
            let width = n.to_string().len().max(2);
            (1..=n)
                .map(|i| {
                    (
                        format!("{prefix}{i:0width$}"),
                        format!("pw-{prefix}{i:0width$}"),
                    )
                })
                .collect()
        };
        let mut scenario = match kind {
            Kind::Single => seed(
                &bed,
                kind,
                "Scenario 1: one account".into(),
                vec![("bench".to_string(), "bench-pw".to_string())],
                BENCH_FOLDERS.len(),
                messages,
                &|server, user, password| {
                    seed_bench_account(server, user, password, messages, mb * 1_000_000)
                },
            ),
            Kind::Accounts if accounts == 0 => continue,
            Kind::Accounts => seed(
                &bed,
                kind,
                format!("Scenario 2: {accounts} accounts x {per_account} messages, one job"),
                numbered("acct", accounts),
                BENCH_FOLDERS.len(),
                per_account,
                &|server, user, password| {
                    let bytes = per_account as u64 * AVERAGE_MESSAGE;
                    seed_bench_account(server, user, password, per_account, bytes)
                },
            ),
            Kind::Wan => seed(
                &bed,
                kind,
                "Scenario wan: the account of issue 15".into(),
                one("wan"),
                BENCH_FOLDERS.len(),
                wan_messages,
                &|server, user, password| {
                    seed_bench_account(server, user, password, wan_messages, wan_mb * 1_000_000)
                },
            ),
            Kind::Folders => seed(
                &bed,
                kind,
                format!("Scenario folders: one account of {folder_count} folders x {per_folder} messages"),
                one("folders"),
                folder_count,
                folder_count * per_folder,
                &|server, user, password| {
                    seed_folders_account(server, user, password, folder_count, per_folder)
                },
            ),
            Kind::BigFolder => seed(
                &bed,
                kind,
                format!("Scenario big-folder: one folder of {big} messages"),
                one("big"),
                1,
                big,
                &|server, user, password| seed_big_folder(server, user, password, "INBOX", big),
            ),
            Kind::HugeMessage => seed(
                &bed,
                kind,
                format!("Scenario huge-message: one message of {huge_mb} MB"),
                one("huge"),
                1,
                1,
                &|server, user, password| {
                    seed_huge_message(server, user, password, huge_mb * 1_000_000)
                },
            ),
            Kind::Many => {
                let mut s = seed(
                    &bed,
                    kind,
                    format!("Scenario many: {many} mailboxes x {many_messages} messages, one job"),
                    numbered("many", many),
                    BENCH_FOLDERS.len(),
                    many_messages,
                    &|server, user, password| {
                        // The same mail as seed_bench_account's, one login
                        // instead of eleven (500 accounts: 109 s -> about 20 s).
                        let bytes = many_messages as u64 * AVERAGE_MESSAGE;
                        seed_bench_account_one_connection(
                            server,
                            user,
                            password,
                            many_messages,
                            bytes,
                        )
                    },
                );
                s.empty_accounts = numbered("empty", many);
                for (user, password) in &s.empty_accounts {
                    bed.src.add_user(user, password);
                }
                s
            }
        };
        scenario.tools = match kind {
            Kind::BigFolder if !args.big_folder_all_tools => vec![Tool::MailFerry],
            _ => tools.clone(),
        };
        println!(
            "  {}: {}; seeded in {}",
            scenario.title,
            scenario.size(),
            seconds(scenario.seed_secs)
        );
        scenarios.push(scenario);
    }
    println!("Seeded in {:.1?}.", t.elapsed());

    for scenario in &mut scenarios {
        let started = Instant::now();
        println!();
        println!("{}", scenario.title);
        if let Some((link, _, _)) = &bed.link {
            let floor = Floor::of(scenario, link, bed.parallel);
            println!(
                "  latency floor: fresh copy {}, re-run {}",
                seconds(floor.fresh()),
                seconds(floor.rerun())
            );
        }
        let tools = scenario.tools.clone();
        for round in 1..=rounds {
            // Rotate the order, so that no tool always goes first.
            let mut order = tools.clone();
            order.rotate_left((round - 1) % tools.len());
            let mut fresh = BTreeMap::new();
            for tool in order {
                if let Some(wall) = run_round(&bed, scenario, tool, round) {
                    fresh.insert(tool, wall);
                }
            }
            if let (Some(mf), Some(ds)) = (fresh.get(&Tool::MailFerry), fresh.get(&Tool::Dsync)) {
                scenario.ratios.push(mf / ds);
            }
            if !scenario.empty_accounts.is_empty() {
                run_empty(&bed, scenario, round);
            }
        }
        scenario.run_secs = started.elapsed().as_secs_f64();
    }

    let mut report = header;
    for scenario in &scenarios {
        report.push('\n');
        let floor = bed
            .link
            .as_ref()
            .map(|(link, _, _)| Floor::of(scenario, link, bed.parallel));
        report.push_str(&table(
            scenario,
            &scenario.tools,
            rounds,
            bed.parallel,
            floor.as_ref(),
        ));
        report.push_str(&format!(
            "(Seeded in {}; its rounds took {}.)\n",
            seconds(scenario.seed_secs),
            seconds(scenario.run_secs)
        ));
        report.push('\n');
        report.push_str(&match scenario.kind {
            Kind::Single => goals(scenario),
            _ => notes(
                scenario,
                &scenarios,
                bed.link.as_ref().map(|(link, _, _)| link),
                floor.as_ref(),
                bed.parallel,
            ),
        });
        let fresh = scenario.results.get(&Tool::MailFerry).map(|r| &r.fresh);
        let estimates = scenario
            .results
            .get(&Tool::MailFerry)
            .map_or(&[][..], |r| &r.estimates[..]);
        if !estimates.is_empty() {
            report.push_str(
                "\nPre-flight estimate (mailferry preflight, just before each fresh copy):\n",
            );
            for (e, wall) in estimates {
                report.push_str(&estimate_line(*e, *wall));
                report.push('\n');
            }
        }
        if bed.link.is_some() {
            report.push_str(&link_lines(scenario, &scenario.tools));
        }
        if let (Some(limit), Some(fresh)) = (bed.mb_per_second, fresh) {
            report.push_str("\nBandwidth limit, each round's fresh copy:\n");
            for m in fresh {
                report.push_str(&rate_line(scenario.bytes, m.wall, limit));
                report.push('\n');
            }
        }
    }
    println!();
    print!("{report}");
    let saved = bed.work.join("results.txt");
    let _ = fs::write(&saved, &report);
    println!(
        "\n(Saved in {}; each run's output in {}.)",
        saved.display(),
        bed.work.join("logs").display()
    );

    if let Some(seconds) = args.hold {
        println!(
            "Holding the servers for {seconds} s: source {} (imaps {}), destination {} (imaps {}).",
            bed.src.config_path().display(),
            bed.src.imaps_port(),
            bed.dst.config_path().display(),
            bed.dst.imaps_port()
        );
        std::thread::sleep(Duration::from_secs(seconds));
    }
    let ok = scenarios
        .iter()
        .all(|s| s.results.values().all(|r| r.failures.is_empty()));
    stop_bed(bed);
    drop(lock);
    Ok(ok)
}

// ---------------------------------------------------------------- setup --

fn preflight() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("run it as root (it starts private Dovecot servers, like the tests)".into());
    }
    if !Path::new(TIME).exists() {
        return Err(format!("{TIME} is missing: apt-get install -y time"));
    }
    for program in ["dovecot", "doveadm", "openssl"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {program}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!(
                "{program} is missing: apt-get install -y dovecot-imapd dovecot-pop3d openssl"
            ));
        }
    }
    Ok(())
}

/// `cargo build --release --bin mailferry`; returns the binary.
fn build_mailferry(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("Building target/release/mailferry ...");
    let mut command = Command::new(cargo);
    // Not the variables `cargo run` set for us: a build script (ring's)
    // watches CARGO_MANIFEST_DIR, and a changed value would rebuild it and
    // everything above it, here and again in the next `cargo run`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let ours = key.starts_with("CARGO_PKG_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if ours {
            command.env_remove(&*key);
        }
    }
    let status = command
        .args(["build", "--release", "--quiet", "--bin", "mailferry"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --release --bin mailferry failed".into());
    }
    Ok(target.join("release/mailferry"))
}

/// First line of `program flag`'s output, if it runs.
fn tool_version(program: &str, flag: &str) -> Option<String> {
    let out = Command::new(program).arg(flag).output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(|l| l.trim().to_string())
}

fn machine_header(mailferry: &Path, root: &Path) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".to_string(), |m| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "src",
        "Cargo.toml",
        "Cargo.lock",
    ]);
    let source = match (head.is_empty(), dirty.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!(" (git {head})"),
        (false, false) => format!(" (git {head} + uncommitted changes)"),
    };
    let mut h = String::new();
    h += "MailFerry benchmark (issues 6 and 15)\n";
    h += &format!(
        "Date: {}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M %z")
    );
    h += &format!(
        "Machine: {cores} cores, {model}; load average at start {}\n",
        load.join(" ")
    );
    h += &format!(
        "Versions: {}{source}; Dovecot {}; {}\n",
        tool_version(&mailferry.to_string_lossy(), "--version")
            .unwrap_or_else(|| "mailferry ?".into()),
        tool_version("dovecot", "--version").unwrap_or_else(|| "?".into()),
        tool_version("mbsync", "--version").unwrap_or_else(|| "no mbsync".into()),
    );
    h
}

/// Fixed directories, so that a killed run's servers are stopped by the next.
fn bed_dir(role: &str, tmpfs: bool) -> PathBuf {
    let base = match tmpfs {
        true => PathBuf::from("/dev/shm"),
        false => std::env::temp_dir(),
    };
    base.join(format!("mailferry-bench-{role}"))
}

fn start_bed(
    work: PathBuf,
    mailferry: PathBuf,
    parallel: usize,
    connections: Option<usize>,
    tmpfs: bool,
    compress: bool,
) -> Result<Bed, String> {
    for role in ["source", "destination"] {
        for on_tmpfs in [false, true] {
            let pids = Dovecot::stop_leftover(&bed_dir(role, on_tmpfs));
            if !pids.is_empty() {
                println!("Stopped the {role} server of an earlier, killed run.");
            }
        }
    }
    let options = |role| ServerOptions {
        dir: Some(bed_dir(role, tmpfs)),
        extra_config: match compress {
            true => "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n".into(),
            false => String::new(),
        },
        ..ServerOptions::new(Layout::Slash)
    };
    let (src, dst) = (options("source"), options("destination"));
    let (src, dst) = std::thread::scope(|s| {
        let src = s.spawn(|| Dovecot::try_start_with(&src));
        let dst = s.spawn(|| Dovecot::try_start_with(&dst));
        (src.join().unwrap(), dst.join().unwrap())
    });
    match (src, dst) {
        (Ok(src), Ok(dst)) => Ok(Bed {
            src,
            dst,
            work,
            mailferry,
            parallel: parallel.max(1),
            connections,
            tmpfs,
            mb_per_second: None,
            link: None,
            preflight: true,
        }),
        (src, dst) => Err(format!(
            "a server did not start:\n{}",
            [src.err(), dst.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

fn stop_bed(bed: Bed) {
    let Bed { src, dst, .. } = bed;
    std::thread::scope(|s| {
        s.spawn(move || drop(src));
        s.spawn(move || drop(dst));
    });
}

/// The seeder of one source account: (server, user, password).
type Seeder<'a> = dyn Fn(&Dovecot, &str, &str) -> BenchSummary + Sync + 'a;

/// Creates the source accounts and fills them with `fill`, a few at once;
/// each must then hold `per_account` messages in `folders` folders.
fn seed(
    bed: &Bed,
    kind: Kind,
    title: String,
    accounts: Vec<(String, String)>,
    folders: usize,
    per_account: usize,
    fill: &Seeder,
) -> Scenario {
    let started = Instant::now();
    for (user, password) in &accounts {
        bed.src.add_user(user, password);
    }
    let next = AtomicUsize::new(0);
    let stored = Mutex::new(0u64);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((user, password)) = accounts.get(i) else {
                    break;
                };
                let summary = fill(&bed.src, user, password);
                assert_eq!(
                    (summary.messages, summary.folders.len()),
                    (per_account, folders),
                    "seeded {user}: messages and folders"
                );
                *stored.lock().unwrap() += summary.bytes;
            });
        }
    });
    let bytes = stored.into_inner().unwrap();
    Scenario {
        kind,
        title,
        tools: Vec::new(),
        seed_secs: started.elapsed().as_secs_f64(),
        run_secs: 0.0,
        empty_accounts: Vec::new(),
        empty_runs: Vec::new(),
        folders,
        messages: per_account * accounts.len(),
        accounts,
        per_account,
        bytes,
        results: BTreeMap::new(),
        ratios: Vec::new(),
    }
}

// ------------------------------------------------------------------ runs --

/// One round of one tool: fresh copy onto new accounts, check, re-run, check.
/// Returns the fresh copy's wall time if the round succeeded.
fn run_round(bed: &Bed, scenario: &mut Scenario, tool: Tool, round: usize) -> Option<f64> {
    let dests: Vec<String> = scenario
        .accounts
        .iter()
        .map(|(user, _)| format!("{}{round}-{user}", tool.tag()))
        .collect();
    for d in &dests {
        bed.dst.add_user(d, DEST_PASSWORD);
    }
    let slug = scenario.kind.slug(scenario.accounts.len());
    let name = format!("{}-{slug}-r{round}", tool.tag());
    let accounts = &scenario.accounts;
    let cmds = |phase: &str| commands(bed, accounts, tool, &dests, &format!("{name}-{phase}"));
    let (expected, folders) = (scenario.per_account as u64, scenario.folders);
    type Round = (
        Measure,
        Measure,
        Stored,
        usize,
        Option<Result<Estimated, String>>,
        LinkBytes,
    );
    let outcome = (|| -> Result<Round, String> {
        let fresh_cmds = cmds("fresh")?;
        let processes = fresh_cmds.len();
        // The pre-flight report of the same job, onto the same empty
        // accounts, just before the copy it estimates.
        let estimated =
            (tool == Tool::MailFerry && bed.preflight).then(|| preflight_estimate(bed, &name));
        let before = bed.link_bytes();
        let fresh = measure(bed, fresh_cmds).map_err(|e| format!("fresh copy: {e}"))?;
        let carried = bed.link_bytes().since(before);
        let stored =
            check_stored(bed, &dests, expected, folders).map_err(|e| format!("fresh copy: {e}"))?;
        let rerun = measure(bed, cmds("rerun")?).map_err(|e| format!("re-run: {e}"))?;
        check_stored(bed, &dests, expected, folders).map_err(|e| format!("re-run: {e}"))?;
        Ok((fresh, rerun, stored, processes, estimated, carried))
    })();
    // On a disk the copies stay until the servers stop: deleting thousands
    // of files slows down ext4's inode allocation for the next run. In
    // memory they go at once.
    if bed.tmpfs {
        for d in &dests {
            let _ = fs::remove_dir_all(bed.dst.home(d));
        }
    }
    let results = scenario.results.entry(tool).or_default();
    match outcome {
        Ok((fresh, rerun, stored, processes, estimated, carried)) => {
            println!(
                "  round {round}  {:<9}  fresh {:>7} ({:>8}, CPU s: {:.2} + source {:.2} + dest {:.2})   \
                 re-run {:>7} ({:>8})   {} stored in {}; logins {} + {}, re-run {} + {}",
                tool.name(),
                seconds(fresh.wall),
                mib(fresh.rss_kb),
                fresh.cpu,
                fresh.source_cpu,
                fresh.dest_cpu,
                seconds(rerun.wall),
                mib(rerun.rss_kb),
                plural(stored.messages, "message"),
                plural(stored.folders, "folder"),
                fresh.source_logins,
                fresh.dest_logins,
                rerun.source_logins,
                rerun.dest_logins
            );
            if bed.link.is_some() {
                println!("             fresh copy over the link: {}", carried.text());
                results.link_bytes.push(carried);
            }
            if let (Tool::MailFerry, Some(limit)) = (tool, bed.mb_per_second) {
                println!("{}", rate_line(scenario.bytes, fresh.wall, limit));
            }
            match estimated {
                Some(Ok(e)) => {
                    println!("{}", estimate_line(e, fresh.wall));
                    results.estimates.push((e, fresh.wall));
                }
                Some(Err(e)) => println!("             pre-flight estimate: none ({e})"),
                None => {}
            }
            results.fresh.push(fresh);
            results.rerun.push(rerun);
            results.stored.push(stored);
            results.processes = processes;
            Some(fresh.wall)
        }
        Err(e) => {
            println!("  round {round}  {:<9}  FAILED: {e}", tool.name());
            results.failures.push(format!("round {round}, {e}"));
            None
        }
    }
}

/// many: a MailFerry job of as many empty mailboxes (only an INBOX, with
/// nothing in it) onto fresh accounts: what a mailbox costs by itself
/// (connections, logins, LIST, opening the INBOX, the check).
fn run_empty(bed: &Bed, s: &mut Scenario, round: usize) {
    if !s.tools.contains(&Tool::MailFerry) {
        return;
    }
    let dests: Vec<String> = s
        .empty_accounts
        .iter()
        .map(|(user, _)| format!("mf{round}-{user}"))
        .collect();
    for d in &dests {
        bed.dst.add_user(d, DEST_PASSWORD);
    }
    let name = format!("mf-empty-r{round}-fresh");
    let outcome = (|| -> Result<Measure, String> {
        let cmds = commands(bed, &s.empty_accounts, Tool::MailFerry, &dests, &name)?;
        let m = measure(bed, cmds)?;
        check_stored(bed, &dests, 0, 1)?;
        Ok(m)
    })();
    if bed.tmpfs {
        for d in &dests {
            let _ = fs::remove_dir_all(bed.dst.home(d));
        }
    }
    match outcome {
        Ok(m) => {
            println!(
                "  round {round}  MailFerry  {} empty mailboxes {:>7} ({:>8}): {:.1} ms a mailbox",
                dests.len(),
                seconds(m.wall),
                mib(m.rss_kb),
                m.wall * 1000.0 / dests.len() as f64
            );
            s.empty_runs.push(m);
        }
        Err(e) => {
            println!("  round {round}  MailFerry  empty mailboxes FAILED: {e}");
            let results = s.results.entry(Tool::MailFerry).or_default();
            results
                .failures
                .push(format!("round {round}, the job of empty mailboxes: {e}"));
        }
    }
}

/// The processes one run of `tool` consists of (one, or one per account).
fn commands(
    bed: &Bed,
    accounts: &[(String, String)],
    tool: Tool,
    dests: &[String],
    name: &str,
) -> Result<Vec<Cmd>, String> {
    let logs = bed.work.join("logs");
    let ca = bed.src.ca_file();
    match tool {
        Tool::MailFerry => {
            // The same job file for the fresh copy and the re-run.
            let job_name = name.trim_end_matches("-fresh").trim_end_matches("-rerun");
            let users: String = accounts
                .iter()
                .zip(dests)
                .map(|((user, password), dest)| format!("{user},{password},{dest}\n"))
                .collect();
            let mut spec = JobSpec::new(&format!("bench-{job_name}"), &bed.src, &bed.dst, &users);
            // Through the link, if any.
            spec.source_ports = vec![bed.src_port()];
            spec.dest_port = bed.dst_port();
            let mut toml = spec.toml();
            let mut options = String::new();
            if let Some(n) = bed.connections {
                options += &format!("connections_per_mailbox = {n}\n");
            }
            if let Some(mb) = bed.mb_per_second {
                options += &format!("max_mb_per_second = {mb}\n");
            }
            if !options.is_empty() {
                toml += &format!("\n[options]\n{options}");
            }
            let job = bed.work.join(format!("{}.toml", spec.name));
            fs::write(&job, toml).map_err(|e| format!("cannot write {}: {e}", job.display()))?;
            let db = bed.work.join("mailferry.db");
            let mut args: Vec<OsString> = vec!["--db".into(), db.clone().into(), "run".into()];
            args.push("--parallel".into());
            args.push(bed.parallel.to_string().into());
            args.push("--log".into());
            args.push(logs.join(format!("{name}.mailferry-log")).into());
            args.push(job.into());
            Ok(vec![Cmd {
                program: bed.mailferry.clone().into(),
                args,
                env: vec![("MAILFERRY_DB", db.into())],
                log: logs.join(format!("{name}.out")),
            }])
        }
        Tool::Dsync => Ok(accounts
            .iter()
            .zip(dests)
            .map(|((user, password), dest)| {
                let mut args: Vec<OsString> = vec!["-c".into(), bed.dst.config_path().into()];
                let settings = [
                    ("imapc_host", "127.0.0.1".to_string()),
                    ("imapc_port", bed.src_port().to_string()),
                    ("imapc_ssl", "imaps".into()),
                    ("ssl_client_ca_file", ca.display().to_string()),
                    ("imapc_user", user.clone()),
                    ("imapc_password", password.clone()),
                    ("imapc_features", IMAPC_FEATURES.into()),
                    ("mail_prefetch_count", PREFETCH.into()),
                ];
                for (key, value) in settings {
                    args.push("-o".into());
                    args.push(format!("{key}={value}").into());
                }
                for a in ["backup", "-R", "-u", dest, "imapc:"] {
                    args.push(a.into());
                }
                Cmd {
                    program: "doveadm".into(),
                    args,
                    env: Vec::new(),
                    log: logs.join(format!("{name}-{dest}.out")),
                }
            })
            .collect()),
        Tool::Mbsync => {
            // One configuration per round (channel i: account i); the fresh
            // copy and the re-run share it and its sync state.
            let round_name = name.trim_end_matches("-fresh").trim_end_matches("-rerun");
            let rc = bed.work.join(format!("{round_name}.mbsyncrc"));
            let state = bed.work.join(format!("{round_name}.mbsync-state"));
            if !rc.exists() {
                fs::create_dir_all(&state).map_err(|e| e.to_string())?;
                let mut text = String::new();
                for (i, ((user, password), dest)) in accounts.iter().zip(dests).enumerate() {
                    text += &mbsync_channel(bed, i, (user, password), dest, &state);
                }
                fs::write(&rc, text).map_err(|e| e.to_string())?;
            }
            Ok(dests
                .iter()
                .enumerate()
                .map(|(i, dest)| Cmd {
                    program: "mbsync".into(),
                    args: vec!["-c".into(), rc.clone().into(), format!("ch{i}").into()],
                    env: Vec::new(),
                    log: logs.join(format!("{name}-{dest}.out")),
                })
                .collect())
        }
    }
}

fn mbsync_channel(
    bed: &Bed,
    i: usize,
    (user, password): (&str, &str),
    dest: &str,
    state: &Path,
) -> String {
    let ca = bed.src.ca_file();
    let account = |side: &str, port: u16, user: &str, password: &str| {
        format!(
            "IMAPAccount {side}{i}\nHost localhost\nPort {port}\nUser {user}\nPass \"{password}\"\n\
             SSLType IMAPS\nCertificateFile {}\n\nIMAPStore {side}{i}\nAccount {side}{i}\n\n",
            ca.display()
        )
    };
    let mut text = account("far", bed.src_port(), user, password);
    text += &account("near", bed.dst_port(), dest, DEST_PASSWORD);
    text += &format!(
        "Channel ch{i}\nFar :far{i}:\nNear :near{i}:\nPatterns *\nCreate Near\nSync Pull\n\
         Expunge None\nCopyArrivalDate yes\nSyncState {}/{i}-\n\n",
        state.display()
    );
    text
}

/// `mailferry preflight --json` of the round's job (`name`, as
/// `commands` wrote it): the estimated range, and how long the report took.
fn preflight_estimate(bed: &Bed, name: &str) -> Result<Estimated, String> {
    let job = bed.work.join(format!("bench-{name}.toml"));
    let started = Instant::now();
    let out = Command::new(&bed.mailferry)
        .arg("--db")
        .arg(bed.work.join("mailferry.db"))
        .args(["preflight", "--json", "--parallel"])
        .arg(bed.parallel.to_string())
        .arg(&job)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mailferry preflight: {e}"))?;
    let took = started.elapsed().as_secs_f64();
    // Kept beside the copies' logs: what the estimate rested on.
    let _ = fs::write(
        bed.work.join("logs").join(format!("{name}.preflight.json")),
        &out.stdout,
    );
    let report: mailferry::preflight::PreflightReport = serde_json::from_slice(&out.stdout)
        .map_err(|e| {
            format!(
                "mailferry preflight printed no report ({e}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    let e = report
        .estimate
        .ok_or("the report has no estimate (no mailbox could be checked)")?;
    Ok(Estimated {
        low: e.low_ms as f64 / 1000.0,
        high: e.high_ms as f64 / 1000.0,
        took,
    })
}

/// "pre-flight estimate 0.40-1.30 s (made in 0.35 s), fresh copy 0.62 s: inside".
fn estimate_line(e: Estimated, wall: f64) -> String {
    let inside = e.low <= wall && wall <= e.high;
    format!(
        "             pre-flight estimate {:.2}-{:.2} s (made in {}), fresh copy {}: {}",
        e.low,
        e.high,
        seconds(e.took),
        seconds(wall),
        if inside {
            "inside the range"
        } else {
            "OUTSIDE the range"
        }
    )
}

/// Runs `cmds` (`bed.parallel` at a time) and adds what the servers spent.
fn measure(bed: &Bed, cmds: Vec<Cmd>) -> Result<Measure, String> {
    let before = (server_cpu(&bed.src), server_cpu(&bed.dst));
    let logins = (server_logins(&bed.src), server_logins(&bed.dst));
    let mut m = run_pool(cmds, bed.parallel)?;
    // Let the servers' last processes end and be reaped.
    std::thread::sleep(Duration::from_millis(100));
    m.source_cpu = (server_cpu(&bed.src) - before.0).max(0.0);
    m.dest_cpu = (server_cpu(&bed.dst) - before.1).max(0.0);
    m.source_logins = server_logins(&bed.src).saturating_sub(logins.0);
    m.dest_logins = server_logins(&bed.dst).saturating_sub(logins.1);
    Ok(m)
}

/// Logins a server logged so far ("imap-login: Info: Login: user=<...>",
/// one per connection; this Dovecot starts a login process and an imap
/// process for each).
fn server_logins(server: &Dovecot) -> usize {
    server.log().matches("-login: Info: Login: ").count()
}

/// CPU seconds used so far by a server: every live process of its own plus,
/// through the master's children times, every one that has ended.
fn server_cpu(server: &Dovecot) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let process = |pid: u32| -> f64 {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return 0.0;
        };
        // After "pid (name)": state is field 3; utime, stime, cutime and
        // cstime are fields 14 to 17.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let sum: i64 = fields
            .get(11..15)
            .unwrap_or(&[])
            .iter()
            .filter_map(|f| f.parse::<i64>().ok())
            .sum();
        sum.max(0) as f64 / ticks
    };
    server.processes().into_iter().map(process).sum()
}

/// Runs `cmds`, `workers` at a time. Wall clock: `/usr/bin/time`'s for a
/// single process, else from the first start to the last end.
fn run_pool(cmds: Vec<Cmd>, workers: usize) -> Result<Measure, String> {
    if cmds.len() == 1 {
        return timed(&cmds[0]);
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers.min(cmds.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cmd) = cmds.get(i) else { break };
                let result = timed(cmd);
                results.lock().unwrap().push(result);
            });
        }
    });
    let mut total = Measure {
        wall: t.elapsed().as_secs_f64(),
        ..Measure::default()
    };
    for result in results.into_inner().unwrap() {
        let m = result?;
        total.rss_kb = total.rss_kb.max(m.rss_kb);
        total.cpu += m.cpu;
    }
    Ok(total)
}

/// Runs one command under `/usr/bin/time -v`; fails unless it exits with 0.
fn timed(cmd: &Cmd) -> Result<Measure, String> {
    let report = cmd.log.with_extension("time");
    let out = fs::File::create(&cmd.log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(TIME)
        .arg("-v")
        .arg("-o")
        .arg(&report)
        .arg(&cmd.program)
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {TIME}: {e}"))?;
    let text = fs::read_to_string(&report).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|rest| rest.trim().to_string())
    };
    let program = Path::new(&cmd.program)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    if !status.success() {
        let output = fs::read_to_string(&cmd.log).unwrap_or_default();
        let lines: Vec<&str> = output.lines().collect();
        return Err(format!(
            "{program} exited with {} ({}):\n    {}",
            field("Exit status:").unwrap_or_else(|| status.to_string()),
            cmd.log.display(),
            lines[lines.len().saturating_sub(5)..].join("\n    ")
        ));
    }
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
        .and_then(|v| parse_elapsed(&v))
        .ok_or_else(|| format!("no wall clock time in {}", report.display()))?;
    let rss_kb = field("Maximum resident set size (kbytes):")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no peak RSS in {}", report.display()))?;
    let seconds = |name| field(name).and_then(|v| v.parse::<f64>().ok());
    let cpu = seconds("User time (seconds):").unwrap_or(0.0)
        + seconds("System time (seconds):").unwrap_or(0.0);
    Ok(Measure {
        wall,
        rss_kb,
        cpu,
        ..Measure::default()
    })
}

/// "1:02:03.45", "2:03.45" -> seconds.
fn parse_elapsed(text: &str) -> Option<f64> {
    text.split(':').try_fold(0.0, |acc, part| {
        Some(acc * 60.0 + part.parse::<f64>().ok()?)
    })
}

/// Every destination account must hold exactly `expected` messages in at
/// least `folders` folders; returns the totals.
fn check_stored(
    bed: &Bed,
    dests: &[String],
    expected: u64,
    folders: usize,
) -> Result<Stored, String> {
    let list = bed.work.join("users.txt");
    fs::write(&list, dests.join("\n") + "\n").map_err(|e| e.to_string())?;
    // One line per folder: user, mailbox, messages, bytes.
    let out = Command::new("doveadm")
        .arg("-c")
        .arg(bed.dst.config_path())
        .args(["-f", "tab", "mailbox", "status", "-F"])
        .arg(&list)
        .args(["messages vsize", "*"])
        .output()
        .map_err(|e| format!("cannot run doveadm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "doveadm mailbox status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // user -> (folders, messages, bytes)
    let mut accounts: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [user, .., messages, bytes] = cols[..] else {
            continue;
        };
        let (Ok(messages), Ok(bytes)) = (messages.parse::<u64>(), bytes.parse::<u64>()) else {
            continue;
        };
        let a = accounts.entry(user).or_default();
        a.0 += 1;
        a.1 += messages;
        a.2 += bytes;
    }
    if accounts.len() != dests.len() {
        let head: Vec<&str> = text.lines().take(20).collect();
        return Err(format!(
            "doveadm reported {} of {} accounts:\n{}",
            accounts.len(),
            dests.len(),
            head.join("\n")
        ));
    }
    let mut total = Stored::default();
    let mut wrong = Vec::new();
    let mut few = Vec::new();
    for (user, (f, messages, bytes)) in &accounts {
        total.folders += f;
        total.messages += messages;
        total.bytes += bytes;
        if *messages != expected {
            wrong.push(format!("{user}: {messages}"));
        }
        if *f < folders as u64 {
            few.push(format!("{user}: {f}"));
        }
    }
    let some = |v: &[String]| {
        let mut text = v.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 10 {
            text += &format!(" and {} more", v.len() - 10);
        }
        text
    };
    if !wrong.is_empty() {
        return Err(format!(
            "the destination does not hold {expected} messages per account ({})",
            some(&wrong)
        ));
    }
    if !few.is_empty() {
        return Err(format!(
            "the destination has fewer than {folders} folders per account ({})",
            some(&few)
        ));
    }
    Ok(total)
}

// --------------------------------------------------------------- report --

fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

/// "1 folder", "10 folders".
fn plural(n: impl Into<u64>, word: &str) -> String {
    match n.into() {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

/// Messages per second: "2331", "0.25".
fn rate(per_second: f64) -> String {
    match per_second {
        r if r < 10.0 => format!("{r:.2}"),
        r => format!("{r:.0}"),
    }
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn worst(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// "1.26 s (1.20-1.40)" with more than one round.
fn best_and_range(walls: &[f64]) -> String {
    match walls.len() {
        0 => "-".into(),
        1 => seconds(walls[0]),
        _ => format!(
            "{} ({:.2}-{:.2})",
            seconds(best(walls)),
            best(walls),
            worst(walls)
        ),
    }
}

/// The latency floor of a scenario over the link: the time its bytes need
/// on the line plus a nominal count of round trips. Per mailbox, fresh
/// copy: 4 to connect and log in (TCP, TLS, greeting, LOGIN; both servers
/// at once), 1 LIST, 1 per folder to open it (EXAMINE on the source and
/// SELECT on the destination at once) and 2 for the copy itself (a FETCH
/// round and an APPEND round, pipelined); a re-run the same without the 2.
/// Mailboxes run `parallel` at a time, in waves. It is a yardstick, not a
/// bound: a client that pipelines the folders' round trips, or spreads them
/// over connections, or compresses, can beat it.
#[derive(Clone, Copy, Debug)]
struct Floor {
    rtt: f64,
    /// Seconds the messages' bytes need at the rate (0 without one).
    data: f64,
    /// Mailboxes at once, and how many waves of them.
    waves: usize,
    folders: usize,
    /// Round trips of one mailbox.
    fresh_trips: usize,
    rerun_trips: usize,
    rate: Option<u64>,
    bytes: u64,
}

impl Floor {
    fn of(s: &Scenario, link: &Link, parallel: usize) -> Floor {
        let opened = 4 + 1 + s.folders;
        Floor {
            rtt: link.one_way.as_secs_f64() * 2.0,
            data: link
                .bits_per_second
                .map_or(0.0, |bps| s.bytes as f64 * 8.0 / bps as f64),
            waves: s.accounts.len().div_ceil(parallel.max(1)),
            folders: s.folders,
            fresh_trips: opened + if s.per_account > 0 { 2 } else { 0 },
            rerun_trips: opened,
            rate: link.bits_per_second,
            bytes: s.bytes,
        }
    }

    fn fresh(&self) -> f64 {
        self.data + (self.waves * self.fresh_trips) as f64 * self.rtt
    }

    fn rerun(&self) -> f64 {
        (self.waves * self.rerun_trips) as f64 * self.rtt
    }

    /// The formula, with the figures.
    fn text(&self) -> String {
        let ms = self.rtt * 1000.0;
        let data = match self.rate {
            Some(bps) => format!(
                "{} for the bytes ({} at {} Mbit/s) + ",
                seconds(self.data),
                megabytes(self.bytes),
                bps as f64 / 1e6
            ),
            None => String::new(),
        };
        let waves = match self.waves {
            1 => String::new(),
            n => format!(" x {n} waves of mailboxes"),
        };
        format!(
            "Latency floor: fresh copy {} = {data}{} round trips{waves} x {ms:.0} ms; re-run {} = {} round trips{waves} x {ms:.0} ms.\n\
             (Round trips per mailbox: 4 to connect and log in to both servers at once (TCP, TLS, greeting, LOGIN), 1 LIST, \
             1 per folder ({}) to open it, and for a fresh copy 2 more (a FETCH and an APPEND round). A yardstick, not a bound: \
             pipelined folders or compression can beat it.)\n",
            seconds(self.fresh()),
            self.fresh_trips,
            seconds(self.rerun()),
            self.rerun_trips,
            self.folders,
        )
    }
}

fn table(
    s: &Scenario,
    tools: &[Tool],
    rounds: usize,
    parallel: usize,
    floor: Option<&Floor>,
) -> String {
    let mut t = String::new();
    t += &format!(
        "{}: {}; {} round(s): best (range)\n",
        s.title,
        s.size(),
        rounds
    );
    if s.accounts.len() > 1 {
        t += &format!(
            "(MailFerry: one job, --parallel {parallel}; dsync, mbsync: one process per account, {parallel} at once)\n"
        );
    }
    t += "\n";
    let (floor_head, floor_line) = match floor {
        Some(_) => (" fresh / floor | re-run / floor |", "---|---|"),
        None => ("", ""),
    };
    t += &format!("| tool | fresh copy |{floor_head} msg/s | MB/s | peak RSS | CPU s: tool + source + dest | re-run | re-run RSS | re-run CPU s | stored after the fresh copy |\n");
    t += &format!("|---|---|{floor_line}---|---|---|---|---|---|---|---|\n");
    for &tool in tools {
        let Some(r) = s.results.get(&tool) else {
            continue;
        };
        if r.fresh.is_empty() {
            let blank = if floor.is_some() { " | |" } else { "" };
            t += &format!("| {} | FAILED |{blank} | | | | | | | |\n", tool.name());
            continue;
        }
        let fresh: Vec<f64> = r.fresh.iter().map(|m| m.wall).collect();
        let rerun: Vec<f64> = r.rerun.iter().map(|m| m.wall).collect();
        let top = best(&fresh);
        let rss = r.fresh.iter().map(|m| m.rss_kb).max().unwrap_or(0);
        let rerun_rss = r.rerun.iter().map(|m| m.rss_kb).max().unwrap_or(0);
        let per_process = if r.processes > 1 { " per process" } else { "" };
        let cpu = |ms: &[Measure]| {
            let tool: Vec<f64> = ms.iter().map(|m| m.cpu).collect();
            let source: Vec<f64> = ms.iter().map(|m| m.source_cpu).collect();
            let dest: Vec<f64> = ms.iter().map(|m| m.dest_cpu).collect();
            format!(
                "{:.2} + {:.2} + {:.2}",
                median(&tool),
                median(&source),
                median(&dest)
            )
        };
        let stored = r.stored.last().copied().unwrap_or_default();
        let bytes = match stored.bytes as i64 - s.bytes as i64 {
            0 => "all bytes".to_string(),
            d => format!(
                "{d:+} bytes ({:+.0} per message)",
                d as f64 / s.messages as f64
            ),
        };
        let over = |wall: f64, floor: f64| match wall / floor {
            x if !x.is_finite() => "-".into(),
            x if x < 1.0 => format!("{x:.2}x"),
            x => format!("{x:.1}x"),
        };
        let against = match floor {
            Some(f) => format!(
                " {} | {} |",
                over(top, f.fresh()),
                over(best(&rerun), f.rerun())
            ),
            None => String::new(),
        };
        t += &format!(
            "| {} | {} |{against} {} | {:.1} | {}{per_process} | {} | {} | {}{per_process} | {} | {} message{}, {bytes} |\n",
            tool.name(),
            best_and_range(&fresh),
            rate(s.messages as f64 / top),
            s.bytes as f64 / 1e6 / top,
            mib(rss),
            cpu(&r.fresh),
            best_and_range(&rerun),
            mib(rerun_rss),
            cpu(&r.rerun),
            stored.messages,
            if stored.messages == 1 { "" } else { "s" },
        );
    }
    t += "\n(msg/s and MB/s from the best fresh copy; peak RSS: the largest of the rounds; CPU s: median of the rounds, user + system seconds of the tool's processes, of the source Dovecot and of the destination Dovecot.)\n";
    let mut logins = Vec::new();
    for &tool in tools {
        let Some(r) = s.results.get(&tool) else {
            continue;
        };
        let (Some(fresh), Some(rerun)) = (r.fresh.last(), r.rerun.last()) else {
            continue;
        };
        let n = s.accounts.len().max(1) as f64;
        logins.push(format!(
            "{} {:.1} + {:.1} / {:.1} + {:.1}",
            tool.name(),
            fresh.source_logins as f64 / n,
            fresh.dest_logins as f64 / n,
            rerun.source_logins as f64 / n,
            rerun.dest_logins as f64 / n
        ));
    }
    if !logins.is_empty() {
        t += &format!(
            "(Logins per mailbox, source + destination, fresh copy / re-run (last round; each a connection): {}.)\n",
            logins.join("; ")
        );
    }
    if let Some(f) = floor {
        t += "\n";
        t += &f.text();
        t += "(x floor: the best round over the floor. dsync writes the destination itself: only its source leg crosses the link.)\n";
    }
    let wall = |tool: Tool, rerun: bool| -> Option<f64> {
        let r = s.results.get(&tool)?;
        let v: Vec<f64> = match rerun {
            false => r.fresh.iter().map(|m| m.wall).collect(),
            true => r.rerun.iter().map(|m| m.wall).collect(),
        };
        (!v.is_empty()).then(|| best(&v))
    };
    if let (Some(mf), Some(ds)) = (wall(Tool::MailFerry, false), wall(Tool::Dsync, false)) {
        t += &format!(
            "\nMailFerry / dsync, fresh copy: {:.2}x (best vs best)",
            mf / ds
        );
        if s.ratios.len() > 1 {
            t += &format!(
                "; within a round: median {:.2}x, {:.2}x-{:.2}x",
                median(&s.ratios),
                best(&s.ratios),
                worst(&s.ratios)
            );
        }
        if let (Some(mfr), Some(dsr)) = (wall(Tool::MailFerry, true), wall(Tool::Dsync, true)) {
            t += &format!("; re-run: {:.2}x", mfr / dsr);
        }
        t += "\n";
    }
    for &tool in tools {
        if let Some(r) = s.results.get(&tool) {
            for f in &r.failures {
                t += &format!("{} FAILED in {f}\n", tool.name());
            }
        }
    }
    t
}

/// What each tool's fresh copy sent over the link (in the last round), against the messages' own size: fewer bytes down from the source
/// than the messages hold mean COMPRESS=DEFLATE was on.
fn link_lines(s: &Scenario, tools: &[Tool]) -> String {
    let mut t = format!(
        "\nBytes over the link, fresh copy (the messages: {}; fewer bytes down from the source than that: COMPRESS=DEFLATE):\n",
        megabytes(s.bytes)
    );
    for &tool in tools {
        let Some(r) = s.results.get(&tool) else {
            continue;
        };
        let Some(bytes) = r.link_bytes.last() else {
            continue;
        };
        t += &format!(
            "             {:<9}  {}: {:.2}x the messages from the source\n",
            tool.name(),
            bytes.text(),
            bytes.src.1 as f64 / s.bytes.max(1) as f64
        );
    }
    t
}

/// The goals of issue 15 a scenario measures (MailFerry's best round), and
/// its own figures: time per message, RSS against the message size,
/// messages per second against scenario 2, the cost of a mailbox.
fn notes(
    s: &Scenario,
    all: &[Scenario],
    link: Option<&Link>,
    floor: Option<&Floor>,
    parallel: usize,
) -> String {
    let Some(mf) = s
        .results
        .get(&Tool::MailFerry)
        .filter(|r| !r.fresh.is_empty())
    else {
        return "Goals: MailFerry did not complete a round.\n".into();
    };
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    let walls = |ms: &[Measure]| ms.iter().map(|m| m.wall).collect::<Vec<f64>>();
    let fresh = best(&walls(&mf.fresh));
    let rerun = best(&walls(&mf.rerun));
    let rss_kb = mf
        .fresh
        .iter()
        .chain(&mf.rerun)
        .map(|m| m.rss_kb)
        .max()
        .unwrap_or(0);
    let rss_mb = rss_kb as f64 * 1024.0 / 1e6;
    // The WAN goals are set for 40 ms round trips without a rate limit.
    let at_40 = link.is_some_and(|l| l.one_way == Duration::from_millis(20));
    let wan_caveat = match link {
        Some(l) if at_40 && l.bits_per_second.is_none() => String::new(),
        Some(l) => format!(
            " (set for 40 ms round trips, no rate limit; this run: {})",
            link_text(l)
        ),
        None => " (set for 40 ms round trips: run with --rtt-ms 40)".into(),
    };
    let mut t = String::new();
    match s.kind {
        Kind::Single | Kind::Accounts => {}
        Kind::Wan | Kind::Folders => {
            let (fresh_goal, rerun_goal) = match s.kind {
                Kind::Wan => (3.0, 0.4),
                _ => (15.0, 2.0),
            };
            t += &format!(
                "Goals of issue 15 ({}, MailFerry){wan_caveat}:\n",
                s.kind.slug(1)
            );
            t += &format!(
                "- fresh copy <= {}: {}: {}\n",
                seconds(fresh_goal),
                seconds(fresh),
                verdict(fresh <= fresh_goal)
            );
            t += &format!(
                "- re-run with nothing to copy <= {}: {}: {}\n",
                seconds(rerun_goal),
                seconds(rerun),
                verdict(rerun <= rerun_goal)
            );
            if let (Kind::Wan, Some(f)) = (s.kind, floor) {
                if f.rate.is_some() {
                    let over = fresh / f.data - 1.0;
                    t += &format!(
                        "- a limited line: fresh copy within 15% of the time the bytes need ({}): {} ({:+.0}%): {}\n",
                        seconds(f.data),
                        seconds(fresh),
                        over * 100.0,
                        verdict(over <= 0.15)
                    );
                }
            }
            let per_folder = s.folders as f64 * s.accounts.len() as f64;
            if s.kind == Kind::Folders {
                t += &format!(
                    "Per folder: fresh copy {:.1} ms, re-run {:.1} ms ({} folders).\n",
                    fresh * 1000.0 / per_folder,
                    rerun * 1000.0 / per_folder,
                    s.folders
                );
            }
        }
        Kind::BigFolder => {
            let n = s.messages.max(1) as f64;
            t += &format!(
                "Size (big-folder, MailFerry, {} messages in one folder):\n",
                s.messages
            );
            t += &format!(
                "- time per message: fresh copy {:.3} ms, re-run {:.4} ms (goal: no worse than at 10,000 messages, +-10%: compare with --big-folder-messages 10000)\n",
                fresh * 1000.0 / n,
                rerun * 1000.0 / n
            );
            t += &format!(
                "- peak RSS <= 64 MB: {} ({rss_mb:.1} MB, {:.2} KB per message): {}\n",
                mib(rss_kb),
                rss_kb as f64 * 1.024 / n,
                verdict(rss_kb * 1024 <= 64_000_000)
            );
        }
        Kind::HugeMessage => {
            let limit = 64e6 + 2.0 * s.bytes as f64;
            t += &format!(
                "Size (huge-message, MailFerry): peak RSS <= 64 MB + 2 x {} = {}: {} ({rss_mb:.1} MB, {:.2}x the message): {}\n",
                megabytes(s.bytes),
                megabytes(limit as u64),
                mib(rss_kb),
                rss_kb as f64 * 1024.0 / s.bytes.max(1) as f64,
                verdict(rss_kb as f64 * 1024.0 <= limit)
            );
        }
        Kind::Many => {
            let rate = s.messages as f64 / fresh;
            t += "Many mailboxes (many, MailFerry):\n";
            let accounts = all.iter().find(|o| o.kind == Kind::Accounts).and_then(|o| {
                let r = o.results.get(&Tool::MailFerry)?;
                (!r.fresh.is_empty()).then(|| (o, best(&walls(&r.fresh))))
            });
            match accounts {
                Some((o, wall)) => {
                    let theirs = o.messages as f64 / wall;
                    t += &format!(
                        "- messages per second >= 80% of scenario 2's: {rate:.0} ({} x {}) against {theirs:.0} ({} x {}): {:.0}%: {}\n",
                        s.accounts.len(),
                        s.per_account,
                        o.accounts.len(),
                        o.per_account,
                        rate / theirs * 100.0,
                        verdict(rate >= 0.8 * theirs)
                    );
                }
                None => {
                    t += &format!(
                        "- messages per second: {rate:.0} (scenario 2 did not run: add --scenario accounts to compare)\n"
                    );
                }
            }
            let n = s.accounts.len().max(1) as f64;
            if !s.empty_runs.is_empty() {
                let empty = best(&walls(&s.empty_runs));
                t += &format!(
                    "- login cost per mailbox: a job of {} empty mailboxes took {}: {:.1} ms a mailbox ({parallel} at once: {:.0} ms each)\n",
                    s.empty_accounts.len(),
                    seconds(empty),
                    empty * 1000.0 / s.empty_accounts.len().max(1) as f64,
                    empty * 1000.0 * parallel as f64 / s.empty_accounts.len().max(1) as f64
                );
            }
            t += &format!(
                "- the re-run with nothing to copy: {:.1} ms a mailbox\n",
                rerun * 1000.0 / n
            );
        }
    }
    t
}

/// The rate a limited fresh copy achieved: its source's bytes over its
/// wall time (process start to exit, logins and listing included).
fn rate_line(bytes: u64, wall: f64, limit_mb: f64) -> String {
    let achieved = bytes as f64 / wall / 1e6;
    format!(
        "             MailFerry read {} in {}: {achieved:.3} MB/s against a limit of {limit_mb} MB/s ({:+.1}%)",
        megabytes(bytes),
        seconds(wall),
        (achieved / limit_mb - 1.0) * 100.0
    )
}

fn goals(s: &Scenario) -> String {
    let Some(mf) = s
        .results
        .get(&Tool::MailFerry)
        .filter(|r| !r.fresh.is_empty())
    else {
        return "Goals: MailFerry did not complete a round.\n".into();
    };
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    let fresh: Vec<f64> = mf.fresh.iter().map(|m| m.wall).collect();
    let rerun: Vec<f64> = mf.rerun.iter().map(|m| m.wall).collect();
    let rss = mf
        .fresh
        .iter()
        .chain(&mf.rerun)
        .map(|m| m.rss_kb)
        .max()
        .unwrap_or(0);
    let mut t = String::from("Goals of issue 6 (scenario 1, MailFerry):\n");
    match s.results.get(&Tool::Dsync).filter(|r| !r.fresh.is_empty()) {
        Some(ds) => {
            let dsync: Vec<f64> = ds.fresh.iter().map(|m| m.wall).collect();
            let ratio = best(&fresh) / best(&dsync);
            t += &format!(
                "- fresh copy <= 1.0 x dsync: {:.2}x ({} vs {}): {}\n",
                ratio,
                seconds(best(&fresh)),
                seconds(best(&dsync)),
                verdict(ratio <= 1.0)
            );
        }
        None => t += "- fresh copy <= 1.0 x dsync: dsync was not measured\n",
    }
    t += &format!(
        "- re-run with nothing to copy <= 0.25 s: {}: {}\n",
        seconds(best(&rerun)),
        verdict(best(&rerun) <= 0.25)
    );
    t += &format!(
        "- peak RSS <= 64 MB: {} ({:.1} MB): {}\n",
        mib(rss),
        rss as f64 * 1024.0 / 1e6,
        verdict(rss * 1024 <= 64_000_000)
    );
    t
}
