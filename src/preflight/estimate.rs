//! How long the job would take, as a range, from what the dry run
//! measured (its own work on each mailbox, which a copy repeats), a short
//! probe of the servers (round trips, and a timed download of sample
//! messages), and a model of what cannot be measured without copying: the
//! destination storing what it is sent.
//!
//! A copy of a mailbox is (1) the checks a dry run also makes: logins,
//! listing, comparing with the destination, and afterwards verifying (the
//! dry run spreads the folders over the connection pairs a copy would
//! open, and waits for as many round trips a folder);
//! (2) creating the destination folders (all sent at once at best, one
//! after another at worst); (3) moving the messages, where
//! fetching the next batch overlaps appending the last one, so the time is
//! at best the slower of download and upload, at worst both one after the
//! other (servers on one machine share its processors: the benchmark's
//! copies come near that); (4) a round trip to each server per batch. Folders of a mailbox share its
//! connection pairs, mailboxes run `parallel_mailboxes` at a time, and the
//! job's MB/s limit bounds the whole.

use std::time::Duration;

use super::Estimate;
use crate::human::human_bytes;

/// A local Dovecot 2.3 (maildir on tmpfs) storing appended mail: per
/// message and per byte, a little under its CPU time per fresh copy on
/// the faster of the benchmark's two machines (docs/performance.md: 50 to
/// 70 µs a message there, 120 µs on the other). Few servers store faster,
/// so this is the low end of the upload; its high end is this times
/// [`UPLOAD_SLACK`] (three times the slower machine's figure: its Dovecot
/// on a busy disk took three times as long), or as slow as the download,
/// if that is slower.
const UPLOAD_PER_MESSAGE: f64 = 40e-6;
const UPLOAD_PER_BYTE: f64 = 1.0 / 400e6;
const UPLOAD_SLACK: f64 = 9.0;
/// The copy's checks against the dry run's: at least the same (it lists
/// and compares as the dry run did), at most this many times (it also
/// verifies every folder afterwards, reading both sides again).
const CHECKS_HIGH: f64 = 2.5;
/// A sample's timing is a handful of milliseconds on a fast link: this
/// much either side of it is noise.
const SAMPLE_LOW: f64 = 0.8;
const SAMPLE_HIGH: f64 = 1.5;
/// Without a sample, the download is taken to be this many times slower
/// than the local upload, at worst.
const UNSAMPLED_HIGH: f64 = 12.0;

/// One mailbox's share of the job, as the dry run found it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Work {
    /// The dry run's own work on the mailbox (logins, listing, comparing
    /// with the destination), without what only the report reads.
    pub checks: Duration,
    /// What a copy would send.
    pub messages: u64,
    pub bytes: u64,
    /// Batches it would send them in (a round trip to each server each).
    pub batches: u64,
    /// Destination folders it would create (CREATE and SUBSCRIBE each).
    pub creates: u64,
    /// Folders with something to copy: the mailbox's connection pairs
    /// share them out.
    pub busy_folders: usize,
}

/// A timed download of sample messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub messages: u64,
    pub bytes: u64,
    /// Without the round trip of the command itself.
    pub took: Duration,
}

/// The sample fetched again, split among several connections side by
/// side: how many, and how much faster than over one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Parallel {
    pub connections: usize,
    pub speedup: f64,
}

/// What the probe measured of the servers.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Speeds {
    pub source_rtt: Duration,
    pub destination_rtt: Duration,
    pub sample: Option<Sample>,
    pub parallel: Option<Parallel>,
}

/// The job's knobs that shape the time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setup {
    pub parallel_mailboxes: usize,
    pub connections_per_mailbox: usize,
    /// The pairs a mailbox opens when the servers are distant (the copy's
    /// option of that name).
    pub connections_when_distant: usize,
    pub max_bytes_per_second: Option<u64>,
    /// How much faster the dry run's mailboxes went side by side than
    /// they would have one after another (measured: the sum of their times
    /// over the dry run's own).
    pub side_by_side: f64,
}

/// Seconds, low and high.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub low: f64,
    pub high: f64,
}

/// The download of `w`, low and high: the sample's time scaled by bytes
/// and by messages. A sample with smaller messages than the mailbox's
/// overstates the cost per byte and understates the cost per message, so
/// the truth lies between the two scalings (and they meet when the sample
/// is like the whole).
fn download(w: &Work, sample: Option<&Sample>) -> Range {
    match sample {
        Some(s) if s.messages > 0 && s.bytes > 0 => {
            let took = s.took.as_secs_f64();
            let by_count = took * w.messages as f64 / s.messages as f64;
            let by_bytes = took * w.bytes as f64 / s.bytes as f64;
            Range {
                low: by_count.min(by_bytes) * SAMPLE_LOW,
                high: by_count.max(by_bytes) * SAMPLE_HIGH,
            }
        }
        _ => {
            let local = upload(w);
            Range {
                low: local,
                high: local * UNSAMPLED_HIGH,
            }
        }
    }
}

/// The upload of `w` at a local Dovecot's speed.
fn upload(w: &Work) -> f64 {
    w.messages as f64 * UPLOAD_PER_MESSAGE + w.bytes as f64 * UPLOAD_PER_BYTE
}

/// One mailbox copied alone, low and high: its checks, and moving its
/// mail (creating its folders, the transfer, the round trips of each
/// batch). The low end shares the moving out among the mailbox's
/// connection pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Parts {
    checks: Range,
    moving: Range,
}

fn mailbox(w: &Work, speeds: &Speeds, connections: usize) -> Parts {
    let down = download(w, speeds.sample.as_ref());
    let up_low = upload(w);
    let up_high = (up_low * UPLOAD_SLACK).max(down.high);
    let (src, dst) = (
        speeds.source_rtt.as_secs_f64(),
        speeds.destination_rtt.as_secs_f64(),
    );
    let rtt = src.max(dst);
    let trips = w.batches as f64;
    // CREATE and SUBSCRIBE of every folder in one go at best, each its
    // own round trip at worst.
    let create = Range {
        low: if w.creates > 0 { dst } else { 0.0 },
        high: w.creates as f64 * 2.0 * dst,
    };
    let checks = w.checks.as_secs_f64();
    let pairs = connections.min(w.busy_folders).max(1) as f64;
    Parts {
        checks: Range {
            low: checks,
            high: checks * CHECKS_HIGH,
        },
        moving: Range {
            low: create.low + (down.low.max(up_low) + trips * rtt) / pairs,
            high: create.high + down.high + up_high + trips * (src + dst),
        },
    }
}

/// The connection pairs a mailbox copies over, as a copy decides: more
/// when either server is distant (by the measured round trips).
pub(crate) fn per_mailbox(setup: &Setup, speeds: &Speeds) -> usize {
    let distant = speeds.source_rtt.max(speeds.destination_rtt) >= crate::compress::DISTANT;
    match distant && setup.connections_per_mailbox > 1 {
        true => setup
            .connections_when_distant
            .max(setup.connections_per_mailbox),
        false => setup.connections_per_mailbox,
    }
}

/// The connection pairs the job copies over at once, each mailbox having
/// `per_mailbox` (one a folder with mail to copy), and no more than a job
/// opens (`parallel_mailboxes`, or `connections_per_mailbox` if more).
pub(crate) fn pairs(work: &[Work], setup: &Setup, per_mailbox: usize) -> usize {
    let busy: usize = work
        .iter()
        .map(|w| per_mailbox.min(w.busy_folders).max(1))
        .sum();
    setup
        .parallel_mailboxes
        .max(setup.connections_per_mailbox)
        .min(busy)
        .max(1)
}

/// The whole job, low and high. The low end has every mailbox that runs
/// at once go as fast as alone. At the high end, the checks go side by
/// side as fast as the dry run's did (they wait on round trips more than
/// on the servers), the moving only as much faster as the source gave the
/// sample over several connections at once (it is the servers' work), and
/// no mailbox faster than alone without help.
pub(crate) fn range(work: &[Work], speeds: &Speeds, setup: &Setup) -> Range {
    let per_mailbox = per_mailbox(setup, speeds);
    let job_pairs = setup.parallel_mailboxes.max(setup.connections_per_mailbox);
    let parts: Vec<Parts> = work
        .iter()
        .map(|w| mailbox(w, speeds, per_mailbox.min(job_pairs)))
        .collect();
    let at_once = setup.parallel_mailboxes.min(work.len()).max(1) as f64;
    let side_by_side = setup.side_by_side.clamp(1.0, at_once);
    let pairs = pairs(work, setup, per_mailbox) as f64;
    let together = speeds.parallel.map_or(1.0, |p| p.speedup).clamp(1.0, pairs);
    let sum = |f: &dyn Fn(&Parts) -> f64| parts.iter().map(f).sum::<f64>();
    let longest = |f: &dyn Fn(&Parts) -> f64| parts.iter().map(f).fold(0.0, f64::max);
    let mut low = (sum(&|p| p.checks.low + p.moving.low) / at_once)
        .max(longest(&|p| p.checks.low + p.moving.low));
    let mut high = (sum(&|p| p.checks.high) / side_by_side + sum(&|p| p.moving.high) / together)
        .max(longest(&|p| p.checks.high + p.moving.high));
    if let Some(limit) = setup.max_bytes_per_second.filter(|l| *l > 0) {
        let bytes: u64 = work.iter().map(|w| w.bytes).sum();
        let floor = bytes as f64 / limit as f64;
        low = low.max(floor);
        high = high.max(floor + sum(&|p| p.checks.high) / side_by_side);
    }
    Range { low, high }
}

/// The estimate as the report gives it: the range, and in words what it
/// rests on. `checked`: the mailboxes measured, of `total`.
pub(crate) fn estimate(
    work: &[Work],
    speeds: &Speeds,
    setup: &Setup,
    (checked, total): (usize, usize),
) -> Estimate {
    let r = range(work, speeds, setup);
    let ms = |s: f64| (s * 1000.0).round().max(0.0) as u64;
    let (low_ms, high_ms) = (ms(r.low), ms(r.high).max(ms(r.low)));
    Estimate {
        low_seconds: low_ms / 1000,
        high_seconds: high_ms.div_ceil(1000),
        basis: basis(work, speeds, setup, (checked, total)),
        low_ms,
        high_ms,
    }
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms < 10.0 {
        true => format!("{ms:.1} ms"),
        false => format!("{ms:.0} ms"),
    }
}

fn basis(
    work: &[Work],
    speeds: &Speeds,
    setup: &Setup,
    (checked, total): (usize, usize),
) -> String {
    let messages: u64 = work.iter().map(|w| w.messages).sum();
    let bytes: u64 = work.iter().map(|w| w.bytes).sum();
    let checks: Duration = work.iter().map(|w| w.checks).sum();
    let mut s = format!(
        "For {messages} messages ({}) to copy from {checked} mailbox{}",
        human_bytes(bytes),
        if checked == 1 { "" } else { "es" }
    );
    if checked < total {
        s += &format!(" (of {total}: the others could not be checked and are not counted)");
    }
    s += &format!(
        ". Measured: the checks a copy repeats (logins, listing, comparing with the destination), {} in all; round trips of {} to the source and {} to the destination",
        human_duration(checks.as_millis() as u64),
        millis(speeds.source_rtt),
        millis(speeds.destination_rtt),
    );
    match &speeds.sample {
        Some(sm) if sm.messages > 0 => {
            let rate = sm.bytes as f64 / sm.took.as_secs_f64().max(1e-6);
            s += &format!(
                "; the source's download speed, from {} sample message{} ({}) fetched in {} ({}/s).",
                sm.messages,
                if sm.messages == 1 { "" } else { "s" },
                human_bytes(sm.bytes),
                millis(sm.took),
                human_bytes(rate as u64),
            );
        }
        _ => s += ". The source's download speed could not be sampled: it is taken to be between a local server's and twelve times slower.",
    }
    if let Some(p) = &speeds.parallel {
        s += &format!(
            " Over {} connections side by side it gave the same sample {:.1} times as fast.",
            p.connections, p.speedup
        );
    }
    s += " Assumed, not measured (that would take copying): how fast the destination stores mail, from as fast as a local Dovecot to nine times slower, or as slow as the download if that is slower; downloading and storing overlapping fully at best, not at all at worst; the copy's checks, with its verification afterwards, taking 1 to 2.5 times the dry run's; creating folders all at once at best, one after another at worst. Over a link to the new server slower than the one to the old, the copy takes longer than this.";
    s += &format!(
        " The job's settings: {} mailbox{} at a time, {} connection pair{} per mailbox",
        setup.parallel_mailboxes,
        if setup.parallel_mailboxes == 1 {
            ""
        } else {
            "es"
        },
        setup.connections_per_mailbox,
        if setup.connections_per_mailbox == 1 {
            ""
        } else {
            "s"
        },
    );
    let pairs = per_mailbox(setup, speeds);
    if pairs != setup.connections_per_mailbox {
        s += &format!(" ({pairs} with servers this distant)");
    }
    if let Some(limit) = setup.max_bytes_per_second {
        s += &format!(", at most {}/s", human_bytes(limit));
    }
    s += ".";
    s
}

/// A duration as a person reads it: `850 ms`, `12 s`, `3 min 20 s`,
/// `2 h 05 min`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..=59 => format!("{} s", (ms as f64 / 1000.0).round() as u64),
        60..=3599 => match s % 60 {
            0 => format!("{} min", s / 60),
            r => format!("{} min {r} s", s / 60),
        },
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The estimate in a few words: `about 2 min to 5 min`.
pub fn words(e: &Estimate) -> String {
    let (low, high) = match (e.low_ms, e.high_ms) {
        (0, 0) => (e.low_seconds * 1000, e.high_seconds * 1000),
        pair => pair,
    };
    let (l, h) = (human_duration(low), human_duration(high));
    match l == h {
        true => format!("about {l}"),
        false => format!("{l} to {h}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(messages: u64, bytes: u64) -> Work {
        Work {
            checks: Duration::from_millis(100),
            messages,
            bytes,
            batches: 1,
            creates: 0,
            busy_folders: 1,
        }
    }

    fn setup(parallel: usize, connections: usize) -> Setup {
        Setup {
            parallel_mailboxes: parallel,
            connections_per_mailbox: connections,
            connections_when_distant: 4,
            max_bytes_per_second: None,
            side_by_side: 1.0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_sample_like_the_mailbox_brackets_its_download_by_the_noise_only() {
        // 100 messages of 10 KB in 0.1 s: a mailbox of 1,000 such takes 1 s.
        let s = Sample {
            messages: 100,
            bytes: 1_000_000,
            took: Duration::from_millis(100),
        };
        let d = download(&work(1000, 10_000_000), Some(&s));
        assert!(close(d.low, 0.8) && close(d.high, 1.5), "{d:?}");
        // Smaller messages in the sample than in the mailbox: the truth
        // lies between scaling by count (1 s) and by bytes (2 s).
        let d = download(&work(1000, 20_000_000), Some(&s));
        assert!(close(d.low, 0.8) && close(d.high, 3.0), "{d:?}");
    }

    #[test]
    fn without_a_sample_the_download_is_bracketed_by_the_local_model() {
        let w = work(1000, 10_000_000);
        let d = download(&w, None);
        let local = 1000.0 * UPLOAD_PER_MESSAGE + 10_000_000.0 * UPLOAD_PER_BYTE;
        assert!(close(d.low, local) && close(d.high, local * UNSAMPLED_HIGH));
    }

    #[test]
    fn a_mailbox_adds_checks_folders_to_create_transfer_and_round_trips() {
        let speeds = Speeds {
            source_rtt: Duration::from_millis(10),
            destination_rtt: Duration::from_millis(20),
            sample: Some(Sample {
                messages: 10,
                bytes: 100_000,
                took: Duration::from_millis(100),
            }),
            parallel: None,
        };
        let w = Work {
            checks: Duration::from_secs(2),
            messages: 1000,
            bytes: 10_000_000,
            batches: 5,
            creates: 3,
            busy_folders: 4,
        };
        // Download 10 s (by count and by bytes alike): 8 to 15 s. Upload
        // at the local speed 0.16 s, at worst as slow as the download.
        let r = mailbox(&w, &speeds, 2);
        assert!(close(r.checks.low, 2.0) && close(r.checks.high, 2.0 * CHECKS_HIGH));
        // The folders created in one round trip at best, each CREATE and
        // SUBSCRIBE its own at worst.
        let low = 0.020 + (8.0 + 5.0 * 0.020) / 2.0;
        let high = 3.0 * 2.0 * 0.020 + 15.0 + 15.0 + 5.0 * 0.030;
        assert!(close(r.moving.low, low), "{} != {low}", r.moving.low);
        assert!(close(r.moving.high, high), "{} != {high}", r.moving.high);
        // One busy folder: a second connection pair has nothing to do.
        let alone = mailbox(
            &Work {
                busy_folders: 1,
                ..w
            },
            &speeds,
            2,
        );
        assert!(close(alone.moving.low, 0.020 + 8.0 + 5.0 * 0.020));
    }

    #[test]
    fn distant_servers_get_the_pairs_a_copy_opens_for_them() {
        let near = Speeds {
            source_rtt: Duration::from_micros(200),
            destination_rtt: Duration::from_micros(300),
            ..Speeds::default()
        };
        let far = Speeds {
            destination_rtt: Duration::from_millis(40),
            ..near.clone()
        };
        assert_eq!(per_mailbox(&setup(4, 2), &near), 2);
        assert_eq!(per_mailbox(&setup(4, 2), &far), 4);
        // One pair asked for stays one; more than the distant count stays.
        assert_eq!(per_mailbox(&setup(4, 1), &far), 1);
        assert_eq!(per_mailbox(&setup(4, 6), &far), 6);
        // A distant mailbox of 10 busy folders, alone in the job: it copies
        // over 4 pairs, so its moving is shared 4 ways, not 2.
        let w = Work {
            checks: Duration::from_secs(10),
            messages: 1000,
            bytes: 10_000_000,
            batches: 8,
            busy_folders: 10,
            ..Work::default()
        };
        let r = range(std::slice::from_ref(&w), &far, &setup(4, 2));
        let parts = mailbox(&w, &far, 4);
        assert!(
            close(r.low, parts.checks.low + parts.moving.low),
            "{r:?} {parts:?}"
        );
        assert!(parts.moving.low < mailbox(&w, &far, 2).moving.low);
    }

    #[test]
    fn mailboxes_side_by_side_and_the_bandwidth_limit_shape_the_job() {
        let speeds = Speeds::default();
        let nothing = Work {
            checks: Duration::from_secs(1),
            ..Work::default()
        };
        let four = vec![nothing.clone(); 4];
        // Low: all four at once; high: as fast as the dry run went side by
        // side (here 2x).
        let s = Setup {
            side_by_side: 2.0,
            ..setup(4, 1)
        };
        let r = range(&four, &speeds, &s);
        assert!(
            close(r.low, 1.0) && close(r.high, 4.0 * CHECKS_HIGH / 2.0),
            "{r:?}"
        );
        // Moving mail goes only as much faster side by side as the source
        // gave the sample (here 1.5x over 4 connections), and no mailbox
        // faster than alone.
        let sampled = Speeds {
            sample: Some(Sample {
                messages: 100,
                bytes: 10_000_000,
                took: Duration::from_secs(1),
            }),
            parallel: Some(Parallel {
                connections: 4,
                speedup: 1.5,
            }),
            ..Speeds::default()
        };
        let busy = Work {
            messages: 100,
            bytes: 10_000_000,
            ..nothing.clone()
        };
        let one = mailbox(&busy, &sampled, 1);
        let r = range(&vec![busy.clone(); 4], &sampled, &s);
        let high = 4.0 * one.checks.high / 2.0 + 4.0 * one.moving.high / 1.5;
        assert!(close(r.high, high), "{} != {high}", r.high);
        assert!(close(r.low, one.checks.low + one.moving.low), "{r:?}");
        let alone = range(&[busy], &sampled, &s);
        assert!(
            close(alone.high, one.checks.high + one.moving.high),
            "{alone:?}"
        );
        // Never faster than the limit lets the bytes through.
        let big = Work {
            bytes: 50_000_000,
            ..nothing
        };
        let limited = Setup {
            max_bytes_per_second: Some(1_000_000),
            ..setup(1, 1)
        };
        let r = range(&[big], &speeds, &limited);
        assert!(r.low >= 50.0 && r.high >= 50.0 + CHECKS_HIGH, "{r:?}");
    }

    #[test]
    fn the_estimate_rounds_outwards_and_says_what_it_rests_on() {
        let e = estimate(
            &[work(1000, 10_000_000)],
            &Speeds::default(),
            &setup(4, 2),
            (1, 2),
        );
        assert!(e.low_ms <= e.high_ms);
        assert!(e.low_seconds * 1000 <= e.low_ms && e.high_seconds * 1000 >= e.high_ms);
        assert!(e.basis.starts_with("For 1000 messages (10.0 MB) to copy from 1 mailbox (of 2: the others could not be checked and are not counted). Measured: "), "{}", e.basis);
        assert!(e.basis.contains("could not be sampled"), "{}", e.basis);
        assert!(e.basis.contains("Assumed, not measured"), "{}", e.basis);
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(12_400), "12 s");
        assert_eq!(human_duration(200_000), "3 min 20 s");
        assert_eq!(human_duration(7_500_000), "2 h 05 min");
        let e = Estimate {
            low_seconds: 0,
            high_seconds: 2,
            basis: String::new(),
            low_ms: 400,
            high_ms: 1_600,
        };
        assert_eq!(words(&e), "400 ms to 2 s");
    }
}
