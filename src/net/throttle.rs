//! A job-wide bandwidth limit: one token bucket that every source
//! connection of a job draws from as it reads, so that the job as a whole
//! reads at most the rate its `[options] max_mb_per_second` names. Writes
//! are not limited: what goes to the destination is what was read.
//!
//! The bucket holds at most one second of the rate, and starts full. A
//! read is granted only once the bucket holds a small quantum (about a
//! sixteenth of a second of the rate), takes at most what it holds, and
//! gives back what the read did not use before the read returns, so no
//! connection can overdraw it and none holds tokens while its server is
//! silent. Hence, at any time, bytes read ≤ burst + rate × time elapsed.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The most one read takes at once: connections sharing the bucket take
/// turns in small steps.
pub const MAX_READ: usize = 16 * 1024;

/// The shortest wait for tokens, so that a waiting reader always lets time
/// pass before it asks again.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A handle on a job's token bucket; clones share it.
#[derive(Clone)]
pub struct Throttle {
    bucket: Arc<Mutex<Bucket>>,
    /// Bytes per second.
    rate: f64,
    /// The most the bucket holds: what may be read at once after a pause.
    burst: f64,
    /// What the bucket must hold before a read is granted.
    quantum: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Throttle({} bytes/s)", self.rate)
    }
}

impl Throttle {
    /// A full bucket for `bytes_per_second` (at least 1).
    pub fn new(bytes_per_second: u64) -> Throttle {
        let rate = bytes_per_second.max(1) as f64;
        // One second of the rate: the bound on a burst.
        let burst = rate;
        let quantum = (rate / 16.0).clamp(1.0, MAX_READ as f64).min(burst);
        Throttle {
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            })),
            rate,
            burst,
            quantum,
        }
    }

    /// Bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// The most read at once after a pause (the bucket's size).
    pub fn burst(&self) -> u64 {
        self.burst as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // Only arithmetic happens under the lock: a poisoned one is sound.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes up to [`MAX_READ`] bytes' worth of tokens when the bucket
    /// holds a quantum; otherwise when it will.
    fn take(&self, now: Instant) -> Result<usize, Instant> {
        let mut b = self.lock();
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= self.quantum {
            let n = b.tokens.min(MAX_READ as f64).floor();
            b.tokens -= n;
            return Ok(n as usize);
        }
        let wait = Duration::from_secs_f64((self.quantum - b.tokens) / self.rate);
        Err(now + wait.max(MIN_WAIT))
    }

    /// Gives back tokens taken and not used.
    fn give_back(&self, n: usize) {
        if n > 0 {
            let mut b = self.lock();
            b.tokens = (b.tokens + n as f64).min(self.burst);
        }
    }

    /// How many bytes the caller may read now (to be settled with
    /// [`Throttle::settle`] before its poll returns), or `Pending` with a
    /// wake-up set for when the bucket will hold enough. `wait` keeps the
    /// timer between polls.
    pub(crate) fn poll_grant(
        &self,
        wait: &mut Option<Pin<Box<Sleep>>>,
        cx: &mut Context<'_>,
    ) -> Poll<usize> {
        loop {
            match self.take(Instant::now()) {
                Ok(n) => {
                    *wait = None;
                    return Poll::Ready(n);
                }
                Err(when) => {
                    let sleep =
                        wait.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(when)));
                    sleep.as_mut().reset(when);
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// A read granted `granted` bytes used `used` of them.
    pub(crate) fn settle(&self, granted: usize, used: usize) {
        self.give_back(granted.saturating_sub(used));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Timed;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads everything `peer` sends, through a throttled `Timed`.
    async fn drain(
        stream: tokio::io::DuplexStream,
        throttle: Throttle,
        timeout: Duration,
    ) -> std::io::Result<usize> {
        let mut timed = Timed::new(stream, timeout);
        timed.set_throttle(Some(throttle));
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        loop {
            match timed.read(&mut buf).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    fn sender(mut peer: tokio::io::DuplexStream, bytes: usize) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                if peer.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_never_outruns_the_rate_beyond_one_burst() {
        let throttle = Throttle::new(100_000);
        assert_eq!(throttle.burst(), 100_000);
        let (client, server) = tokio::io::duplex(1 << 20);
        let bytes = 1_000_000;
        let send = sender(server, bytes);
        let started = Instant::now();
        let reader = tokio::spawn(drain(client, throttle.clone(), Duration::from_secs(60)));
        send.await.unwrap();
        let got = reader.await.unwrap().unwrap();
        let took = started.elapsed().as_secs_f64();
        assert_eq!(got, bytes);
        // (bytes − burst) / rate = 9 s at least, and not much more.
        assert!(took >= 9.0, "{took} s");
        assert!(took < 9.2, "{took} s");
    }

    #[tokio::test(start_paused = true)]
    async fn connections_share_one_rate() {
        let throttle = Throttle::new(50_000);
        let started = Instant::now();
        let mut readers = Vec::new();
        for _ in 0..4 {
            let (client, server) = tokio::io::duplex(1 << 20);
            sender(server, 200_000);
            readers.push(tokio::spawn(drain(
                client,
                throttle.clone(),
                Duration::from_secs(60),
            )));
        }
        let mut total = 0;
        for r in readers {
            total += r.await.unwrap().unwrap();
        }
        let took = started.elapsed().as_secs_f64();
        assert_eq!(total, 800_000);
        // (800,000 − 50,000) / 50,000 = 15 s for the four together.
        assert!((15.0..15.3).contains(&took), "{took} s");
    }

    /// Waiting for tokens is not silence: a read timeout far shorter than
    /// the throttled transfer never fires while bytes keep coming, and
    /// still fires once the server goes quiet.
    #[tokio::test(start_paused = true)]
    async fn waiting_for_the_bucket_does_not_time_out_a_read() {
        let throttle = Throttle::new(10_000);
        let (client, mut server) = tokio::io::duplex(1 << 20);
        server.write_all(&vec![b'x'; 60_000]).await.unwrap();
        let mut timed = Timed::new(client, Duration::from_millis(100));
        timed.set_throttle(Some(throttle));
        let started = Instant::now();
        let mut got = vec![0u8; 60_000];
        timed.read_exact(&mut got).await.unwrap();
        // 50,000 bytes past the burst at 10,000 bytes/s.
        assert!(started.elapsed() >= Duration::from_secs(5));
        let quiet = Instant::now();
        let err = timed.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        let waited = quiet.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_millis(300),
            "{waited:?}"
        );
        drop(server);
    }

    #[test]
    fn a_tiny_rate_still_grants_reads() {
        let t = Throttle::new(10_000);
        assert!(t.quantum >= 1.0 && t.quantum <= t.burst);
        let now = Instant::now();
        let first = t.take(now).unwrap();
        assert_eq!(first, 10_000);
        let when = t.take(now).unwrap_err();
        assert!(when > now);
        t.settle(first, 4_000);
        assert_eq!(t.take(now), Ok(6_000));
    }
}
