//! A source folder, whatever its protocol: an IMAP folder or the Inbox read
//! over POP3. Both go through one copy: list the source, settle against the
//! destination what is already there, plan the rest, then fetch and append
//! batch by batch ([`super::overlap`]). What differs is behind [`Source`].

use std::future::Future;

use super::dest::{self, DestFolder, FolderState, Outgoing, Tally};
use super::filter::LeftOut;
use super::mapping::FolderTask;
use super::overlap;
use super::truth::{self, Book, Opened};
use super::{dry, Ctx, KeepAlive, Mode};
use crate::error::MailError;
use crate::imap::ImapClient;
use crate::job::{Filters, UserEntry};
use crate::outcome::PlannedMessage;
use crate::store::POP3_INBOX;

/// What a source folder holds, as the ledger knows it.
pub(crate) struct Listing {
    /// The ledger's name for the folder: the raw IMAP name, or
    /// [`crate::store::POP3_INBOX`].
    pub ledger: String,
    pub uid_validity: u32,
    /// Every message's id (IMAP UID, POP3 UIDL), in source order.
    pub ids: Vec<String>,
    /// The Inbox's ledger name under the other protocol: its entries are
    /// the same messages under other ids, so they prove nothing here.
    pub except: Option<&'static str>,
    /// Messages the job's filters leave out (not among `ids`).
    pub left_out: LeftOut,
}

/// One folder's copy in progress: where its messages go, what is known of
/// it, and the mailbox's counts.
pub(crate) struct Target<'a> {
    pub dest: &'a mut DestFolder,
    pub state: &'a mut FolderState,
    pub tally: &'a mut Tally,
    /// The source folder's name, for progress.
    pub folder: &'a str,
}

/// A source folder.
pub(crate) trait Source: KeepAlive {
    /// One message to copy, as planned before its body is fetched.
    type Planned;
    /// A fetched batch.
    type Fetched;

    /// Every message of the folder that the job's filters admit, those
    /// they leave out set aside, judged before anything of them is fetched
    /// where the protocol allows.
    fn list(
        &mut self,
        task: &FolderTask,
        filters: &Filters,
    ) -> impl Future<Output = Result<Listing, MailError>>;

    /// The messages among `pending` (ids the destination lacks by the
    /// ledger) to send; those found on the destination by content are
    /// recorded there instead.
    fn plan(
        &mut self,
        pending: Vec<String>,
        target: &mut Target<'_>,
    ) -> impl Future<Output = Result<Vec<Self::Planned>, MailError>>;

    /// A planned message's id in the ledger, its number to fetch it by, and
    /// its size as listed.
    fn id(&self, m: &Self::Planned) -> String;
    fn number(&self, m: &Self::Planned) -> u32;
    fn size(&self, m: &Self::Planned) -> u64;

    /// Fetches the messages `numbers`; `max_bytes`: a message larger than
    /// this is refused, where the protocol can't bound a batch otherwise.
    fn fetch(
        &mut self,
        numbers: &[u32],
        max_bytes: u64,
    ) -> impl Future<Output = Result<Self::Fetched, MailError>> + Send;

    /// The messages of a fetched batch to append (one expunged meanwhile is
    /// gone; one found on the destination after all is recorded).
    fn prepare(
        &mut self,
        batch: &[Self::Planned],
        fetched: Self::Fetched,
        target: &mut Target<'_>,
    ) -> Result<Vec<Outgoing>, MailError>;

    /// For a dry run, instead of fetching `planned`: those a copy would
    /// send, named from their envelope alone (a source that matches the
    /// destination by content only after download matches them here).
    fn would_copy(
        &mut self,
        planned: Vec<Self::Planned>,
        target: &mut Target<'_>,
    ) -> impl Future<Output = Result<Vec<PlannedMessage>, MailError>>;

    /// For the pre-flight report, once listed: every message of the folder
    /// (those the filters leave out too), its size and its content key
    /// (`None` where the header cannot be had short of downloading it).
    fn census(&mut self) -> impl Future<Output = Result<Vec<(u64, Option<String>)>, MailError>>;
}

/// Copies what the destination folder lacks of `src`; a verifying job
/// only lists it (the comparison follows in [`super::verify`]), a dry run
/// reports what it would copy ([`dry`]). `exists`: whether the destination
/// folder exists (a copy has created it; a dry run may not have).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read<S: Source>(
    ctx: &Ctx,
    user: &UserEntry,
    src: &mut S,
    dst: &mut ImapClient,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
    exists: bool,
) -> Result<(), MailError> {
    // The destination folder is opened while the source is listed when
    // it will be opened whatever the listing says: one round trip less.
    let scope = super::scope_of(ctx, user);
    let ledger_names = [task.source_raw.as_str(), POP3_INBOX];
    let (l, early) = match exists && truth::opens_anyway(ctx, scope, task, &ledger_names)? {
        true => {
            let (l, opened) = tokio::join!(
                src.list(task, &ctx.job.filters),
                dst.open_and_uids(&task.dest_raw, false)
            );
            (l?, Some(opened?))
        }
        false => (src.list(task, &ctx.job.filters).await?, None),
    };
    let mut l = l;
    if let Some(findings) = &ctx.findings {
        let started = std::time::Instant::now();
        let census = crate::preflight::Census::of(&src.census().await?);
        findings.counted(user, &task.source_name, census, started.elapsed());
    }
    state.left_out(l.left_out);
    // Left out on an earlier attempt, once fetched (a POP3 server without
    // TOP): not looked at again.
    l.ids.retain(|id| !state.is_left_out(id));
    // The folder's one list of ids is kept in `state` (for verifying);
    // it is lent out while the destination is consulted.
    let ids = std::mem::take(&mut l.ids);
    state.source_ids(&l.ledger, l.uid_validity, Vec::new());
    if ctx.mode == Mode::Verify {
        state.restore_source_ids(ids);
        return Ok(());
    }
    let book = Book::new(ctx, user, &l.ledger, l.uid_validity, task);
    let opened = match exists || ctx.mode != Mode::DryRun {
        true => truth::open(ctx, dst, book, &ids, l.except, state, early).await,
        false => Ok(Some(dry::absent(book, &ids))),
    };
    state.restore_source_ids(ids);
    let opened = opened?;
    let Some(Opened { mut dest, pending }) = opened else {
        state.settle(tally, task.expected, (0, 0));
        return Ok(());
    };
    let mut target = Target {
        dest: &mut dest,
        state,
        tally,
        folder: &task.source_name,
    };
    let planned = src.plan(pending, &mut target).await?;
    if ctx.mode == Mode::DryRun {
        return dry::report(ctx, src, planned, target, task).await;
    }
    for m in &planned {
        target.state.plan(target.tally, &src.id(m), src.size(m));
    }
    let planned_bytes = planned.iter().map(|m| src.size(m)).sum();
    target.state.settle(
        target.tally,
        task.expected,
        (planned.len() as u64, planned_bytes),
    );
    dest::announce(ctx, target.tally, task, planned.len() as u64, planned_bytes);
    let batches = batches(
        &planned,
        |m| src.size(m),
        batch_bytes(ctx.opts.batch_bytes(), planned_bytes, dst.round_trip()),
        batch_count(ctx.opts.batch_messages, planned.len()),
    );
    overlap::copy_batches(ctx, src, dst, target, &batches).await?;
    // What a large folder's copy took goes back before it is verified.
    let large = planned.len() >= 10_000;
    drop(batches);
    drop(planned);
    if large {
        super::budget::give_back_free_memory();
    }
    dest.finish(state)
}

/// The most bytes in one batch of a folder copying `planned` bytes. Over a
/// distant link the bytes may be what limits, and a folder's download and
/// upload overlap only from its second batch: a folder goes in four
/// batches or more (of 1 MiB or more). At 20 Mbit/s each way, folders of
/// 4 MB each copied in one batch took 40% longer than their bytes need.
fn batch_bytes(max: u64, planned: u64, round_trip: std::time::Duration) -> u64 {
    match round_trip >= super::options::DISTANT {
        true => max.min((planned / 4).max(1 << 20)),
        false => max,
    }
}

/// The most messages in one batch of a folder copying `planned`: at least
/// `batch_messages`, and as many as keeps a large folder to about a hundred
/// batches. A server's work for each APPEND may grow with the folder
/// (Dovecot's maildir goes over its whole index after each): at 100,000
/// messages, batches of 200 took a third more time per message than at
/// 10,000, batches of 1,000 about as much. The byte bound still holds.
fn batch_count(batch_messages: usize, planned: usize) -> usize {
    batch_messages.max(planned.div_ceil(100))
}

/// Splits messages into runs bounded in bytes and count; a message larger
/// than the byte bound goes alone.
fn batches<T>(msgs: &[T], size: impl Fn(&T) -> u64, max_bytes: u64, max_count: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, m) in msgs.iter().enumerate() {
        let s = size(m);
        if i > start && (i - start >= max_count || bytes + s > max_bytes) {
            out.push(&msgs[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += s;
    }
    if start < msgs.len() {
        out.push(&msgs[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_bytes_and_count_and_a_large_message_goes_alone() {
        let sizes = [10u64, 10, 10, 100, 5];
        let lens = |max_bytes, max_count| -> Vec<Vec<u64>> {
            batches(&sizes, |s| *s, max_bytes, max_count)
                .iter()
                .map(|b| b.to_vec())
                .collect()
        };
        assert_eq!(
            lens(25, 10),
            vec![vec![10, 10], vec![10], vec![100], vec![5]]
        );
        assert_eq!(lens(1000, 2).len(), 3);
        assert!(batches(&[] as &[u64], |s| *s, 10, 10).is_empty());
    }

    #[test]
    fn over_a_distant_link_a_folder_goes_in_four_batches_or_more() {
        let (ms, mib) = (std::time::Duration::from_millis(1), 1 << 20);
        assert_eq!(batch_bytes(8 * mib, 4 * mib, ms), 8 * mib);
        assert_eq!(batch_bytes(8 * mib, 4 * mib, 40 * ms), mib);
        assert_eq!(batch_bytes(8 * mib, 2 * mib, 40 * ms), mib);
        assert_eq!(batch_bytes(8 * mib, 100 * mib, 40 * ms), 8 * mib);
    }

    #[test]
    fn a_large_folder_goes_in_about_a_hundred_batches() {
        assert_eq!(batch_count(200, 50), 200);
        assert_eq!(batch_count(200, 20_000), 200);
        assert_eq!(batch_count(200, 100_000), 1_000);
        assert_eq!(batch_count(10, 1_001), 11);
    }
}
