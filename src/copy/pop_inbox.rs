//! The Inbox read over POP3: every message by UIDL, dated from its headers,
//! matched against the destination by content key after download (POP3 has
//! no cheap header fetch, and its LIST sizes are not always exact).

use std::collections::HashMap;

use super::dest::{self, DestFolder, FolderState, Outgoing, Tally};
use super::key::{content_key, key_fields_of};
use super::mapping::FolderTask;
use super::{pop_date, with_keepalive, Ctx};
use crate::error::MailError;
use crate::imap::ImapClient;
use crate::pop3::Pop3Client;
use crate::store::{LedgerEntry, POP3_INBOX};

/// The ledger folder of the Inbox read over IMAP: its entries are the same
/// messages under other ids, so they don't count as copies here.
const IMAP_INBOX: &str = "INBOX";

pub(crate) async fn copy_pop_inbox(
    ctx: &Ctx,
    pop: &mut Pop3Client,
    dst: &mut ImapClient,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
) -> Result<(), MailError> {
    let account = tally.account.clone();
    let job = ctx.job_name.as_str();
    let uidl = pop.uidl().await?;
    let ledger = ctx.store.folder_ledger(job, &account, POP3_INBOX, 0)?;
    let mut pending = Vec::new();
    for (msgno, uid) in uidl {
        if ledger.ids.contains(&uid) {
            state.present(&uid);
        } else {
            pending.push((msgno, uid));
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    let sizes: HashMap<u32, u64> = pop.list().await?.into_iter().collect();
    let claimed = ctx
        .store
        .claimed_keys(job, &account, &task.dest_raw, IMAP_INBOX)?;
    let mut dest = DestFolder::open(dst, task, claimed).await?;
    let size_of = |msgno: &u32| sizes.get(msgno).copied().unwrap_or(0);
    for (msgno, uid) in &pending {
        state.plan(tally, uid, size_of(msgno));
    }
    dest::announce(
        ctx,
        tally,
        task,
        pending.len() as u64,
        pending.iter().map(|(n, _)| size_of(n)).sum(),
    );
    let record = |entries: &[LedgerEntry]| {
        ctx.store
            .record(job, &account, POP3_INBOX, 0, &task.dest_raw, entries)
    };

    // Downloading batch N+1 overlaps appending batch N, within the job's
    // byte budget, as for IMAP.
    let batches = batches(
        &pending,
        &size_of,
        ctx.opts.batch_bytes(),
        ctx.opts.batch_messages,
    );
    let msgnos_of = |batch: &[(u32, String)]| batch.iter().map(|(n, _)| *n).collect::<Vec<u32>>();
    let bytes_of = |batch: &[(u32, String)]| batch.iter().map(|(n, _)| size_of(n)).sum::<u64>();
    let max = ctx.opts.max_message_bytes as usize;
    let (mut fetched, mut share) = match batches.first() {
        Some(first) => {
            let fetch = async {
                let share = ctx.budget.take(bytes_of(first)).await;
                Ok::<_, MailError>((pop.retr_many(&msgnos_of(first), max).await?, Some(share)))
            };
            with_keepalive(dst, ctx.opts.keepalive, fetch).await?
        }
        None => (Vec::new(), None),
    };
    for (i, batch) in batches.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(MailError::Cancelled);
        }
        let mut found = Vec::new();
        let mut outgoing = Vec::new();
        for ((_, uid), body) in batch.iter().zip(std::mem::take(&mut fetched)) {
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    dest::source_failure(state, uid, &[], e.to_string(), e.code());
                    continue;
                }
            };
            let header_fields = key_fields_of(&body);
            let key = content_key(body.len() as u64, &header_fields);
            if dest.take(&key) {
                state.found(tally, uid, body.len() as u64);
                found.push(LedgerEntry {
                    id: uid.clone(),
                    dest_uid: None,
                    content_key: key,
                });
                continue;
            }
            outgoing.push(Outgoing {
                id: uid.clone(),
                internal_date: pop_date::internal_date(&body),
                header_fields,
                content_key: Some(key),
                flags: Vec::new(),
                body: body.into(),
            });
        }
        record(&found)?;
        // The batch's bytes go back to the budget as soon as it is appended.
        let appended = {
            let (dest, dst, state, tally) = (&dest, &mut *dst, &mut *state, &mut *tally);
            let share = share.take();
            async move {
                let delivered = dest.deliver(dst, &outgoing, state, tally).await;
                drop(outgoing);
                drop(share);
                delivered
            }
        };
        let (entries, next_fetched) = match batches.get(i + 1) {
            Some(next) => {
                let fetch = async {
                    let share = ctx.budget.take(bytes_of(next)).await;
                    Ok::<_, MailError>((pop.retr_many(&msgnos_of(next), max).await?, Some(share)))
                };
                let (delivered, next_fetched) = tokio::join!(appended, fetch);
                (delivered, Some(next_fetched))
            }
            None => (
                with_keepalive(pop, ctx.opts.keepalive, appended).await,
                None,
            ),
        };
        // What reached the destination is recorded even when the download
        // running beside it failed.
        record(&entries?)?;
        ctx.emit(tally.event(&task.source_name));
        if let Some(next_fetched) = next_fetched {
            (fetched, share) = next_fetched?;
        }
    }
    Ok(())
}

/// Batches bounded in (listed) bytes and count.
fn batches<'a>(
    msgs: &'a [(u32, String)],
    size_of: &dyn Fn(&u32) -> u64,
    max_bytes: u64,
    max_count: usize,
) -> Vec<&'a [(u32, String)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (n, _)) in msgs.iter().enumerate() {
        let size = size_of(n);
        if i > start && (i - start >= max_count || bytes + size > max_bytes) {
            out.push(&msgs[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
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
    fn pop_batches_respect_bytes_and_count() {
        let msgs: Vec<(u32, String)> = (1..=5).map(|n| (n, format!("u{n}"))).collect();
        let sizes = |n: &u32| [0, 10, 10, 10, 100, 5][*n as usize];
        let lens: Vec<usize> = batches(&msgs, &sizes, 25, 10)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(lens, vec![2, 1, 1, 1]);
        let lens: Vec<usize> = batches(&msgs, &sizes, 1000, 2)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(lens, vec![2, 2, 1]);
        assert!(batches(&[], &sizes, 10, 10).is_empty());
    }
}
