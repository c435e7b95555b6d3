//! The copy loop every source shares: fetching batch N+1 from the source
//! overlaps appending batch N to the destination, so each server works
//! while the other does. Each batch takes its bytes from the job's budget
//! before it is fetched and gives them back once appended, so memory stays
//! bounded across the whole job.

use super::source::{Source, Target};
use super::{with_keepalive, Ctx, Mode};
use crate::error::MailError;
use crate::imap::ImapClient;

/// Copies `batches` of `src`; what reached the destination goes into the
/// ledger (even when the fetch running beside the append failed). The
/// connection not in use (the destination during the first fetch, the
/// source during the last append) gets NOOPs while it waits.
pub(crate) async fn copy_batches<S: Source>(
    ctx: &Ctx,
    src: &mut S,
    dst: &mut ImapClient,
    mut target: Target<'_>,
    batches: &[&[S::Planned]],
) -> Result<(), MailError> {
    let max = ctx.opts.max_message_bytes;
    let numbers = |src: &S, batch: &[S::Planned]| -> (Vec<u32>, u64) {
        (
            batch.iter().map(|m| src.number(m)).collect(),
            batch.iter().map(|m| src.size(m)).sum(),
        )
    };
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let (mut fetched, mut share) = {
        let (ids, bytes) = numbers(src, first);
        let fetch = async {
            let share = ctx.budget.take(bytes).await;
            Ok::<_, MailError>((src.fetch(&ids, max).await?, share))
        };
        with_keepalive(dst, ctx.opts.keepalive, fetch).await?
    };
    for (i, batch) in batches.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(MailError::Cancelled);
        }
        let outgoing = src.prepare(batch, fetched, &mut target)?;
        let next = batches.get(i + 1).map(|b| numbers(src, b));
        // A copy verifies its folder right after the last batch.
        let last = next.is_none() && ctx.mode == Mode::Copy;
        let appended = {
            let Target {
                dest, state, tally, ..
            } = &mut target;
            let (dest, dst) = (&mut **dest, &mut *dst);
            async move {
                let delivered = dest.deliver(dst, &outgoing, state, tally, last).await;
                // The batch's bytes go back to the budget as soon as it is
                // appended, while the next fetch may still wait for them.
                drop(outgoing);
                drop(share);
                delivered
            }
        };
        let (entries, next_fetched) = match next {
            Some((ids, bytes)) => {
                let fetch = async {
                    let share = ctx.budget.take(bytes).await;
                    Ok::<_, MailError>((src.fetch(&ids, max).await?, share))
                };
                let (delivered, next_fetched) = tokio::join!(appended, fetch);
                (delivered, Some(next_fetched))
            }
            None => (
                with_keepalive(src, ctx.opts.keepalive, appended).await,
                None,
            ),
        };
        target.dest.record(&entries?)?;
        ctx.emit(target.tally.event(target.folder));
        match next_fetched {
            Some(next) => (fetched, share) = next?,
            None => break,
        }
    }
    Ok(())
}
