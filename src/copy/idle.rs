//! Keeping a waiting connection alive: NOOPs while the other side works.

use std::future::Future;
use std::time::Duration;

use crate::error::MailError;
use crate::imap::ImapClient;
use crate::pop3::Pop3Client;

/// A connection that can be kept alive while it waits.
pub(crate) trait KeepAlive {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>>;
}

impl KeepAlive for ImapClient {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.noop()
    }
}

impl KeepAlive for Pop3Client {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.noop()
    }
}

/// Runs `work` while `idle` waits, sending it a NOOP every `every` so that
/// neither the server nor a firewall drops it for silence. A NOOP that has
/// started is finished before returning (half a command would leave the
/// connection unusable); one that fails stops the NOOPs, and the next real
/// command on `idle` meets the error.
pub(crate) async fn with_keepalive<T, K: KeepAlive>(
    idle: &mut K,
    every: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut healthy = true;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(every), if healthy => {
                let noop = idle.keep_alive();
                tokio::pin!(noop);
                let mut done = None;
                loop {
                    tokio::select! {
                        r = &mut noop => {
                            healthy = r.is_ok();
                            break;
                        }
                        out = &mut work, if done.is_none() => done = Some(out),
                    }
                }
                if let Some(out) = done {
                    return out;
                }
            }
        }
    }
}
