//! A short look at both servers' speed, for the estimate: round trips
//! (NOOP) to each, and the source's download speed from a sample of the
//! messages a copy would send (BODY.PEEK, or POP3 RETR then RSET: nothing
//! is marked read), up to about 2 MB, then over IMAP the same sample split
//! among as many connections as the job would copy over at once (at most
//! four), fetched side by side: how much more the source gives at once.
//! Nothing is sent to the destination but NOOP: its speed storing mail is
//! modelled ([`super::estimate`]).

use std::time::{Duration, Instant};

use super::estimate::{Parallel, Sample, Speeds};
use crate::copy::{Connector, KeepAlive, Options};
use crate::error::MailError;
use crate::job::{Job, UserEntry};

/// About this much of the messages to copy is downloaded as a sample.
pub(crate) const SAMPLE_BYTES: u64 = 2_000_000;
/// The most messages a sample holds (one FETCH command names them all).
const SAMPLE_MESSAGES: usize = 400;
/// The most connections the side-by-side fetch opens.
const SIDE_BY_SIDE: usize = 4;
/// Round trips timed on each connection (their median counts).
const TRIPS: usize = 3;

/// A source folder to take the sample from, and its messages to copy.
#[derive(Debug, Clone)]
pub(crate) struct SampleFolder {
    pub raw: String,
    pub over_pop3: bool,
    /// Source id (IMAP UID, POP3 UIDL) and size.
    pub messages: Vec<(String, u64)>,
}

/// What the probe measured, and what it could not.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    pub speeds: Speeds,
    pub source_login: Option<Duration>,
    pub destination_login: Option<Duration>,
    /// Why part of it could not be measured.
    pub problems: Vec<String>,
}

/// Probes both servers as `user`; `at_once`: the connection pairs the job
/// would copy over at the same time. The job's MB/s limit does not apply:
/// the estimate applies it to what it measured.
pub(crate) async fn measure(
    job: &Job,
    opts: &Options,
    user: &UserEntry,
    folder: Option<&SampleFolder>,
    at_once: usize,
) -> Measured {
    let unlimited = Options {
        max_bytes_per_second: None,
        ..opts.clone()
    };
    let connect = Connector::new(job, &unlimited);
    let mut m = Measured::default();
    // Both servers at once: over a distant link each login and round trip
    // is waited for (the destination is sent only NOOPs, which do not
    // disturb the source's timed download).
    let destination = async {
        let started = Instant::now();
        let mut dst = connect.destination(user).await?;
        let login = started.elapsed();
        let rtt = round_trip(&mut dst).await;
        dst.logout().await;
        Ok::<_, MailError>((login, rtt))
    };
    let pop3 = folder.map_or(!connect.reads_imap(), |f| f.over_pop3);
    let source = async {
        match pop3 {
            true => pop3_source(&connect, user, folder, &mut m).await,
            false => imap_source(&connect, user, folder, &mut m, at_once).await,
        }
    };
    let (destination, source) = tokio::join!(destination, source);
    match destination {
        Ok((login, rtt)) => {
            m.destination_login = Some(login);
            match rtt {
                Ok(rtt) => m.speeds.destination_rtt = rtt,
                Err(e) => m.problems.push(e.to_string()),
            }
        }
        Err(e) => m.problems.push(e.to_string()),
    }
    if let Err(e) = source {
        m.problems.push(e.to_string());
    }
    m
}

async fn imap_source(
    connect: &Connector,
    user: &UserEntry,
    folder: Option<&SampleFolder>,
    m: &mut Measured,
    at_once: usize,
) -> Result<(), MailError> {
    let started = Instant::now();
    let Some(mut src) = connect.source_imap(user).await? else {
        return Ok(());
    };
    m.source_login = Some(started.elapsed());
    let result = async {
        m.speeds.source_rtt = round_trip(&mut src).await?;
        let Some(folder) = folder else {
            return Ok(());
        };
        let picked = pick(&folder.messages, SAMPLE_BYTES);
        let uids: Vec<u32> = picked
            .iter()
            .filter_map(|&i| folder.messages[i].0.parse().ok())
            .collect();
        if uids.is_empty() {
            return Ok(());
        }
        src.open_folder(&folder.raw, true).await?;
        // The first message read pays the server's one-off costs, which a
        // copy pays once for the whole folder (Dovecot reads a maildir's
        // whole list of files: 0.25 s at 100,000 messages): not timed.
        src.fetch_bodies(&uids[..1]).await?;
        let started = Instant::now();
        let bodies = src.fetch_bodies(&uids).await?;
        let took = started.elapsed().saturating_sub(m.speeds.source_rtt);
        m.speeds.sample = Some(Sample {
            messages: bodies.len() as u64,
            bytes: bodies.iter().map(|b| b.body.len() as u64).sum(),
            took,
        });
        let at_once = at_once.min(SIDE_BY_SIDE).min(bodies.len());
        if at_once >= 2 {
            let sizes: Vec<(u32, u64)> = bodies
                .iter()
                .map(|b| (b.uid, b.body.len() as u64))
                .collect();
            // A server that refuses more connections leaves it unmeasured
            // (a copy would make do with fewer).
            if let Ok(alongside) = side_by_side(connect, user, &folder.raw, &sizes, at_once).await {
                let alongside = alongside.saturating_sub(m.speeds.source_rtt);
                m.speeds.parallel = Some(Parallel {
                    connections: at_once,
                    speedup: took.as_secs_f64() / alongside.as_secs_f64().max(1e-6),
                });
            }
        }
        Ok(())
    }
    .await;
    src.logout().await;
    result
}

/// The time `at_once` more connections take to fetch `sample` (UID, size)
/// split among them by bytes, side by side.
async fn side_by_side(
    connect: &Connector,
    user: &UserEntry,
    raw: &str,
    sample: &[(u32, u64)],
    at_once: usize,
) -> Result<Duration, MailError> {
    let mut parts: Vec<(u64, Vec<u32>)> = vec![(0, Vec::new()); at_once];
    let mut by_size = sample.to_vec();
    by_size.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    for (uid, size) in by_size {
        if let Some(part) = parts.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            part.0 += size;
            part.1.push(uid);
        }
    }
    let opened = futures_util::future::join_all((0..at_once).map(|_| async {
        let mut c = connect.source_imap(user).await?.ok_or_else(|| {
            MailError::Internal("an IMAP sample of a job that reads no IMAP".into())
        })?;
        match c.open_folder(raw, true).await {
            Ok(_) => Ok(c),
            Err(e) => {
                c.logout().await;
                Err(e)
            }
        }
    }))
    .await;
    let mut conns = Vec::with_capacity(at_once);
    let mut failed = None;
    for c in opened {
        match c {
            Ok(c) => conns.push(c),
            Err(e) => failed = Some(e),
        }
    }
    let result = match failed {
        Some(e) => Err(e),
        None => {
            let started = Instant::now();
            let fetched = futures_util::future::join_all(
                conns
                    .iter_mut()
                    .zip(&parts)
                    .map(|(c, (_, uids))| c.fetch_bodies(uids)),
            )
            .await;
            let took = started.elapsed();
            fetched.into_iter().try_for_each(|f| f.map(|_| ()))?;
            Ok(took)
        }
    };
    futures_util::future::join_all(conns.into_iter().map(|c| c.logout())).await;
    result
}

async fn pop3_source(
    connect: &Connector,
    user: &UserEntry,
    folder: Option<&SampleFolder>,
    m: &mut Measured,
) -> Result<(), MailError> {
    let started = Instant::now();
    let mut pop = connect.source_pop3(user).await?;
    m.source_login = Some(started.elapsed());
    let result = async {
        m.speeds.source_rtt = round_trip(&mut pop).await?;
        let Some(folder) = folder else {
            return Ok(());
        };
        let picked = pick(&folder.messages, SAMPLE_BYTES);
        if picked.is_empty() {
            return Ok(());
        }
        let numbers: std::collections::HashMap<String, u32> =
            pop.uidl().await?.into_iter().map(|(n, u)| (u, n)).collect();
        let wanted: Vec<u32> = picked
            .iter()
            .filter_map(|&i| numbers.get(&folder.messages[i].0).copied())
            .collect();
        let started = Instant::now();
        let fetched = pop.retr_many(&wanted, usize::MAX).await?;
        // RETR's replies, then RSET's: two round trips that are not the
        // download.
        let took = started
            .elapsed()
            .saturating_sub(m.speeds.source_rtt.saturating_mul(2));
        let bodies: Vec<Vec<u8>> = fetched.into_iter().filter_map(Result::ok).collect();
        m.speeds.sample = Some(Sample {
            messages: bodies.len() as u64,
            bytes: bodies.iter().map(|b| b.len() as u64).sum(),
            took,
        });
        Ok(())
    }
    .await;
    pop.quit().await;
    result
}

/// The median of a few timed round trips (NOOP).
async fn round_trip(c: &mut impl KeepAlive) -> Result<Duration, MailError> {
    let mut times = Vec::with_capacity(TRIPS);
    for _ in 0..TRIPS {
        let started = Instant::now();
        c.keep_alive().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[TRIPS / 2])
}

/// Which of `messages` (id, size) to download as a sample of about
/// `budget` bytes, like the whole both in count and in bytes: first spread
/// evenly over their sizes, in half the budget; then, while the budget
/// lasts, the largest message that fits while the sample's mean size is
/// below the whole's, the smallest while above, as long as it brings the
/// means nearer (mail is mostly small messages, with much of the bytes in
/// a few large ones that an even spread misses). Everything when it all fits; the smallest alone
/// when nothing does (unless even that is over four budgets). At most
/// [`SAMPLE_MESSAGES`]. Indexes into `messages`.
pub(crate) fn pick(messages: &[(String, u64)], budget: u64) -> Vec<usize> {
    let n = messages.len();
    let total: u64 = messages.iter().map(|(_, s)| s).sum();
    if total <= budget && n <= SAMPLE_MESSAGES {
        return (0..n).collect();
    }
    let mut by_size: Vec<usize> = (0..n).collect();
    by_size.sort_by_key(|&i| messages[i].1);
    let size = |pos: usize| messages[by_size[pos]].1;
    let mean = total as f64 / n as f64;
    let wanted = ((budget as f64 / mean) as usize).clamp(1, SAMPLE_MESSAGES);
    let step = (n / wanted).max(1);
    let mut taken = vec![false; n];
    let (mut bytes, mut count) = (0u64, 0usize);
    for pos in (step / 2..n).step_by(step) {
        if bytes + size(pos) <= budget / 2 && count < SAMPLE_MESSAGES {
            taken[pos] = true;
            (bytes, count) = (bytes + size(pos), count + 1);
        }
    }
    while count < SAMPLE_MESSAGES {
        let now = bytes as f64 / count.max(1) as f64;
        let room = budget - bytes;
        // Only a message that brings the sample's mean nearer the whole's.
        let next = match count == 0 || now < mean {
            true => (0..n)
                .rev()
                .find(|&p| !taken[p] && size(p) <= room)
                .filter(|&p| count == 0 || size(p) as f64 > now),
            false => (0..n)
                .find(|&p| !taken[p])
                .filter(|&p| size(p) <= room && (size(p) as f64) < now),
        };
        let Some(pos) = next else { break };
        taken[pos] = true;
        (bytes, count) = (bytes + size(pos), count + 1);
    }
    let mut picked: Vec<usize> = (0..n).filter(|&p| taken[p]).map(|p| by_size[p]).collect();
    if picked.is_empty() && size(0) <= budget.saturating_mul(4) {
        picked.push(by_size[0]);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(sizes: &[u64]) -> Vec<(String, u64)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| (i.to_string(), *s))
            .collect()
    }

    fn mean(msgs: &[(String, u64)], picked: &[usize]) -> f64 {
        picked.iter().map(|&i| msgs[i].1).sum::<u64>() as f64 / picked.len() as f64
    }

    #[test]
    fn a_sample_spreads_over_the_sizes_within_the_budget() {
        // 100 messages of 1 to 100 KB (50.5 KB on average): about 20 in
        // 1 MB, of about the same mean size.
        let msgs = sized(&(1..=100).rev().map(|k| k * 1000).collect::<Vec<_>>());
        let picked = pick(&msgs, 1_000_000);
        let sizes: Vec<u64> = picked.iter().map(|&i| msgs[i].1).collect();
        assert!(sizes.iter().sum::<u64>() <= 1_000_000, "{sizes:?}");
        assert!(sizes.len() >= 15, "{sizes:?}");
        assert!(
            sizes.iter().any(|s| *s <= 5000) && sizes.iter().any(|s| *s >= 90_000),
            "{sizes:?}"
        );
        assert!(
            (mean(&msgs, &picked) / 50_500.0 - 1.0).abs() < 0.2,
            "{sizes:?}"
        );
    }

    #[test]
    fn a_few_large_messages_get_into_the_sample_as_into_the_whole() {
        // Mostly 10 KB, and three of 1 MB: 39.7 KB on average (a sample of
        // 2 MB can hold one of them, and comes near it).

        let mut sizes = vec![10_000; 97];
        sizes.extend([1_000_000; 3]);
        let msgs = sized(&sizes);
        let picked = pick(&msgs, 2_000_000);
        let total: u64 = picked.iter().map(|&i| msgs[i].1).sum();
        assert!(total <= 2_000_000);
        assert!(picked.iter().any(|&i| msgs[i].1 == 1_000_000), "{picked:?}");
        assert!(
            (mean(&msgs, &picked) / 39_700.0 - 1.0).abs() < 0.3,
            "{}",
            mean(&msgs, &picked)
        );
        // Never more than one FETCH should name.
        let many = sized(&vec![10; 5000]);
        assert_eq!(pick(&many, 2_000_000).len(), SAMPLE_MESSAGES);
    }

    #[test]
    fn all_when_it_fits_the_smallest_when_nothing_does() {
        assert_eq!(pick(&sized(&[10, 20, 30]), 100), vec![0, 1, 2]);
        assert_eq!(pick(&sized(&[500, 300, 400]), 100), vec![1]);
        assert!(pick(&sized(&[500, 900]), 100).is_empty());
        assert!(pick(&[], 100).is_empty());
    }
}
