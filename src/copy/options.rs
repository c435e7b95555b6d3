//! The knobs of a run: how many mailboxes and connections at once, how long
//! to wait, how much to hold in memory, how to retry.

use std::sync::Arc;
use std::time::Duration;

use crate::compress::CompressMode;
use crate::job::Job;
use crate::service::SecretStore;

/// Tuning knobs; the defaults suit most servers. A job's `[options]`
/// override them ([`Options::for_job`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Mailboxes copied at the same time.
    pub parallel_mailboxes: usize,
    /// Folders of one mailbox copied at the same time, each over its own
    /// source and destination connections. Extra connections a server
    /// refuses are simply not used; they are opened only once a folder has
    /// messages to copy, and only while the job has fewer connection pairs
    /// than `parallel_mailboxes` (or this number, if larger).
    pub connections_per_mailbox: usize,
    /// The same, when either server is distant (a round trip of
    /// [`DISTANT`] or more, measured as the first connections log in):
    /// there each folder's few round trips weigh more than its bytes, and
    /// more folders at once hide them. A job's own
    /// `connections_per_mailbox` sets both.
    pub connections_when_distant: usize,
    /// How long each network read or write may wait for a byte to move (and
    /// logging in may take).
    pub timeout: Duration,
    /// How long connecting (TCP, then TLS) may take.
    pub connect_timeout: Duration,
    /// Most message bytes fetched and appended as one batch (at most a
    /// quarter of `memory_bytes`, so the two batches in flight of two
    /// connection pairs fit in it).
    pub batch_bytes: u64,
    /// Most message bytes the whole job holds in memory at once, over all
    /// its mailboxes and batches in flight. A message larger than this is
    /// still copied, alone.
    pub memory_bytes: u64,
    /// Most messages in one batch.
    pub batch_messages: usize,
    /// Reconnects in a row after transient faults before a folder (or the
    /// start of a mailbox) gives up. Messages getting through start the
    /// count again.
    pub retries: u32,
    /// First pause before a retry; doubles each time, with jitter.
    pub backoff: Duration,
    /// The longest pause before a retry.
    pub max_backoff: Duration,
    /// A connection idle this long while the other side works gets a NOOP.
    pub keepalive: Duration,
    /// A POP3 message larger than this is not downloaded (and is reported).
    pub max_message_bytes: u64,
    /// When IMAP connections are compressed.
    pub compress: CompressMode,
    /// The most the whole job reads from the source per second, over all
    /// its connections and mailboxes (`None`: no limit). What it appends
    /// follows, since it is what was read.
    pub max_bytes_per_second: Option<u64>,
    /// Do everything but change the destination: connect, list, plan and
    /// settle what is already there as a copy would, then report what it
    /// would create and copy. Nothing is created, appended or recorded in
    /// the ledger; the history keeps it as a dry run.
    pub dry_run: bool,
    /// Where OAuth refresh tokens are kept (the keyring): needed by jobs
    /// whose mailboxes were signed in with a code or in the browser.
    pub secrets: Option<Secrets>,
}

/// A shared secret store, for [`Options`] (which prints itself and is
/// cloned for every mailbox).
#[derive(Clone)]
pub struct Secrets(pub Arc<dyn SecretStore>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({})", self.0.kind())
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallel_mailboxes: 4,
            connections_per_mailbox: 2,
            connections_when_distant: 4,
            timeout: Duration::from_secs(60),
            connect_timeout: crate::net::CONNECT_TIMEOUT,
            batch_bytes: 16 * 1024 * 1024,
            memory_bytes: 32 * 1024 * 1024,
            batch_messages: 200,
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            keepalive: Duration::from_secs(120),
            max_message_bytes: 256 * 1024 * 1024,
            compress: CompressMode::Auto,
            max_bytes_per_second: None,
            dry_run: false,
            secrets: None,
        }
    }
}

impl Options {
    /// The defaults with the job's `[options]` applied.
    pub fn for_job(job: &Job) -> Options {
        let o = &job.options;
        let d = Options::default();
        Options {
            parallel_mailboxes: o.parallel_mailboxes.unwrap_or(d.parallel_mailboxes),
            connections_per_mailbox: hosts_cap(
                job,
                o.connections_per_mailbox
                    .unwrap_or(d.connections_per_mailbox),
            ),
            connections_when_distant: hosts_cap(
                job,
                o.connections_per_mailbox
                    .unwrap_or(d.connections_when_distant),
            ),
            timeout: o.timeout_seconds.map_or(d.timeout, Duration::from_secs),
            connect_timeout: o
                .connect_timeout_seconds
                .map_or(d.connect_timeout, Duration::from_secs),
            retries: o.retries.unwrap_or(d.retries),
            keepalive: o.keepalive_seconds.map_or(d.keepalive, Duration::from_secs),
            compress: o.compress.unwrap_or(d.compress),
            max_bytes_per_second: o.max_mb_per_second.map(|r| r.0),
            ..d
        }
    }

    /// The same, with `store` for OAuth refresh tokens.
    pub fn with_secrets(self, store: Arc<dyn SecretStore>) -> Options {
        Options {
            secrets: Some(Secrets(store)),
            ..self
        }
    }

    /// The byte bound of one batch.
    pub fn batch_bytes(&self) -> u64 {
        self.batch_bytes.min(self.memory_bytes / 4).max(1)
    }

    /// The pause before retry number `attempt` (1-based): the backoff
    /// doubled each time, at most `max_backoff`, times a random 0.5 to 1.5
    /// so that many mailboxes do not hammer a server in step.
    pub fn pause_before(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_backoff).mul_f64(0.5 + jitter())
    }
}

/// `wanted`, at most what either host allows one mailbox at a time (its
/// preset's quirks: Gmail counts every IMAP connection of an account
/// against its limit, and Microsoft 365 throttles many).
pub use crate::compress::DISTANT;

fn hosts_cap(job: &Job, wanted: usize) -> usize {
    [&job.source.quirks, &job.destination.quirks]
        .iter()
        .filter_map(|q| q.max_connections_per_mailbox)
        .fold(wanted, usize::min)
        .max(1)
}

/// A number in [0, 1), different each call.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_with_jitter_up_to_the_cap() {
        let o = Options {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..Options::default()
        };
        for _ in 0..50 {
            let p1 = o.pause_before(1);
            assert!(
                p1 >= Duration::from_millis(50) && p1 < Duration::from_millis(150),
                "{p1:?}"
            );
            let p3 = o.pause_before(3);
            assert!(
                p3 >= Duration::from_millis(200) && p3 < Duration::from_millis(600),
                "{p3:?}"
            );
            let p20 = o.pause_before(20);
            assert!(
                p20 >= Duration::from_millis(500) && p20 < Duration::from_millis(1500),
                "{p20:?}"
            );
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| o.pause_before(2)).collect();
        assert!(spread.len() > 10, "jitter should vary: {spread:?}");
    }

    #[test]
    fn a_hosts_connection_limit_caps_the_connections_per_mailbox() {
        let job = |source: &str, options: &str| {
            let text = format!(
                "[source]\n{source}\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"p\"\n[users]\nlist = \"jane,pw\"\n[options]\n{options}\n"
            );
            crate::job::JobFile::from_toml(&text)
                .and_then(|f| f.validate(std::path::Path::new(".")))
                .unwrap()
        };
        let per_mailbox = |j: &Job| Options::for_job(j).connections_per_mailbox;
        // Gmail allows 4: 8 asked for become 4, 3 stay 3.
        let gmail = "preset = \"gmail\"";
        assert_eq!(per_mailbox(&job(gmail, "connections_per_mailbox = 8")), 4);
        assert_eq!(per_mailbox(&job(gmail, "connections_per_mailbox = 3")), 3);
        assert_eq!(per_mailbox(&job(gmail, "")), 2);
        // No preset: no cap.
        let plain = "host = \"old.example\"";
        assert_eq!(per_mailbox(&job(plain, "connections_per_mailbox = 8")), 8);
        // The tighter of the two sides wins.
        let mut j = job(plain, "connections_per_mailbox = 8");
        j.destination.quirks.max_connections_per_mailbox = Some(3);
        j.source.quirks.max_connections_per_mailbox = Some(5);
        assert_eq!(per_mailbox(&j), 3);
    }
}
