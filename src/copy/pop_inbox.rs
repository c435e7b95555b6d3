//! The Inbox read over POP3: every message by UIDL, dated from its headers,
//! matched against the destination by content key after download (POP3 has
//! no cheap header fetch, and its LIST sizes are not always exact).

use std::collections::{HashMap, HashSet};

use super::dest::{self, FolderState, Outgoing, Tally};
use super::key::{content_key, key_fields_of};
use super::mapping::FolderTask;
use super::overlap::{self, Sink};
use super::truth::{self, Book, Opened};
use super::{pop_date, Ctx};
use crate::error::MailError;
use crate::imap::ImapClient;
use crate::job::UserEntry;
use crate::pop3::Pop3Client;
use crate::store::POP3_INBOX;

/// The ledger folder of the Inbox read over IMAP: its entries are the same
/// messages under other ids, so they don't count as copies here.
const IMAP_INBOX: &str = "INBOX";

pub(crate) async fn copy_pop_inbox(
    ctx: &Ctx,
    user: &UserEntry,
    pop: &mut Pop3Client,
    dst: &mut ImapClient,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
) -> Result<(), MailError> {
    let uidl = pop.uidl().await?;
    let ids: Vec<String> = uidl.iter().map(|(_, uid)| uid.clone()).collect();
    state.source_ids(POP3_INBOX, 0, &ids);
    let book = Book::new(ctx, user, POP3_INBOX, 0, task);
    let Some(Opened { mut dest, pending }) =
        truth::open(ctx, dst, book, &ids, Some(IMAP_INBOX), state).await?
    else {
        return Ok(());
    };
    let pending: HashSet<String> = pending.into_iter().collect();
    let pending: Vec<(u32, String)> = uidl
        .into_iter()
        .filter(|(_, uid)| pending.contains(uid))
        .collect();
    let sizes: HashMap<u32, u64> = pop.list().await?.into_iter().collect();
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

    // Downloading batch N+1 overlaps appending batch N, as for IMAP.
    let batches = batches(
        &pending,
        &size_of,
        ctx.opts.batch_bytes(),
        ctx.opts.batch_messages,
    );
    let sink = Sink {
        dest: &mut dest,
        state,
        tally,
        folder: &task.source_name,
    };
    overlap::copy_batches(
        ctx,
        pop,
        dst,
        sink,
        &batches,
        |batch| {
            let msgnos = batch.iter().map(|(n, _)| *n).collect();
            (msgnos, batch.iter().map(|(n, _)| size_of(n)).sum())
        },
        |batch, fetched, sink| {
            let mut found = Vec::new();
            let mut outgoing = Vec::new();
            for ((_, uid), body) in batch.iter().zip(fetched) {
                let body = match body {
                    Ok(b) => b,
                    Err(e) => {
                        dest::source_failure(sink.state, uid, &[], e.to_string(), e.code());
                        continue;
                    }
                };
                let header_fields = key_fields_of(&body);
                let size = body.len() as u64;
                let key = content_key(size, &header_fields);
                if let Some(entry) = sink.dest.found(sink.state, sink.tally, uid, size, &key) {
                    found.push(entry);
                    continue;
                }
                outgoing.push(Outgoing {
                    id: uid.clone(),
                    internal_date: pop_date::internal_date(&body),
                    header_fields,
                    content_key: key,
                    flags: Vec::new(),
                    body: body.into(),
                });
            }
            sink.dest.record(&found)?;
            Ok(outgoing)
        },
    )
    .await?;
    dest.finish(dst).await
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
