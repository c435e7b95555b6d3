//! The copy loop the IMAP folders and the POP3 Inbox share: fetching batch
//! N+1 from the source overlaps appending batch N to the destination, so
//! each server works while the other does. Each batch takes its bytes from
//! the job's budget before it is fetched and gives them back once appended,
//! so memory stays bounded across the whole job.

use std::future::Future;

use super::dest::{DestFolder, FolderState, Outgoing, Tally};
use super::{with_keepalive, Ctx, KeepAlive};
use crate::error::MailError;
use crate::imap::{FetchedBody, ImapClient};
use crate::pop3::{Fetched, Pop3Client};

/// A source that fetches a batch of messages by number (IMAP UIDs, POP3
/// message numbers).
pub(crate) trait BatchSource: KeepAlive {
    type Fetched;
    /// `max_bytes`: a message larger than this is refused, where the
    /// protocol can't bound a batch otherwise (POP3).
    fn fetch_batch(
        &mut self,
        ids: &[u32],
        max_bytes: u64,
    ) -> impl Future<Output = Result<Self::Fetched, MailError>> + Send;
}

impl BatchSource for ImapClient {
    type Fetched = Vec<FetchedBody>;
    fn fetch_batch(
        &mut self,
        uids: &[u32],
        _max_bytes: u64,
    ) -> impl Future<Output = Result<Self::Fetched, MailError>> + Send {
        self.fetch_bodies(uids)
    }
}

impl BatchSource for Pop3Client {
    type Fetched = Vec<Fetched>;
    fn fetch_batch(
        &mut self,
        msgnos: &[u32],
        max_bytes: u64,
    ) -> impl Future<Output = Result<Self::Fetched, MailError>> + Send {
        self.retr_many(msgnos, usize::try_from(max_bytes).unwrap_or(usize::MAX))
    }
}

/// Where batches go: the destination folder and what is counted of it.
pub(crate) struct Sink<'a> {
    pub dest: &'a mut DestFolder,
    pub state: &'a mut FolderState,
    pub tally: &'a mut Tally,
    /// The source folder's name, for progress.
    pub folder: &'a str,
}

/// Copies `batches`: `ids_of` gives a batch's message numbers and bytes,
/// `prepare` turns what was fetched into the messages to append; what
/// reached the destination goes into the ledger (even when the fetch running
/// beside the append failed). The connection not in use (the
/// destination during the first fetch, the source during the last append)
/// gets NOOPs while it waits.
pub(crate) async fn copy_batches<S: BatchSource, B>(
    ctx: &Ctx,
    src: &mut S,
    dst: &mut ImapClient,
    sink: Sink<'_>,
    batches: &[B],
    ids_of: impl Fn(&B) -> (Vec<u32>, u64),
    mut prepare: impl FnMut(&B, S::Fetched, &mut Sink<'_>) -> Result<Vec<Outgoing>, MailError>,
) -> Result<(), MailError> {
    let mut sink = sink;
    let max = ctx.opts.max_message_bytes;
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let (mut fetched, mut share) = {
        let (ids, bytes) = ids_of(first);
        let fetch = async {
            let share = ctx.budget.take(bytes).await;
            Ok::<_, MailError>((src.fetch_batch(&ids, max).await?, share))
        };
        with_keepalive(dst, ctx.opts.keepalive, fetch).await?
    };
    for (i, batch) in batches.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(MailError::Cancelled);
        }
        let outgoing = prepare(batch, fetched, &mut sink)?;
        let appended = {
            let Sink {
                dest, state, tally, ..
            } = &mut sink;
            let (dest, dst) = (&mut **dest, &mut *dst);
            async move {
                let delivered = dest.deliver(dst, &outgoing, state, tally).await;
                // The batch's bytes go back to the budget as soon as it is
                // appended, while the next fetch may still wait for them.
                drop(outgoing);
                drop(share);
                delivered
            }
        };
        let (entries, next_fetched) = match batches.get(i + 1) {
            Some(next) => {
                let (ids, bytes) = ids_of(next);
                let fetch = async {
                    let share = ctx.budget.take(bytes).await;
                    Ok::<_, MailError>((src.fetch_batch(&ids, max).await?, share))
                };
                let (delivered, next_fetched) = tokio::join!(appended, fetch);
                (delivered, Some(next_fetched))
            }
            None => (
                with_keepalive(src, ctx.opts.keepalive, appended).await,
                None,
            ),
        };
        sink.dest.record(&entries?)?;
        ctx.emit(sink.tally.event(sink.folder));
        match next_fetched {
            Some(next) => (fetched, share) = next?,
            None => break,
        }
    }
    Ok(())
}
