//! One IMAP source folder: find what the destination lacks, fetch it in
//! batches bounded in bytes, append.

use std::collections::HashMap;

use super::dest::{self, FolderState, Outgoing, Tally};
use super::key::{content_key, key_fields_of};
use super::mapping::FolderTask;
use super::overlap::{self, Sink};
use super::truth::{self, Book, Opened};
use super::Ctx;
use crate::error::MailError;
use crate::imap::{ImapClient, MessageBytes, MessageMeta};
use crate::job::UserEntry;
use crate::store::POP3_INBOX;

pub(crate) async fn copy_folder(
    ctx: &Ctx,
    user: &UserEntry,
    src: &mut ImapClient,
    dst: &mut ImapClient,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
) -> Result<(), MailError> {
    let ssel = src.open_folder(&task.source_raw, true).await?;
    let uids = if ssel.exists == 0 {
        Vec::new()
    } else {
        src.uids().await?
    };
    let ids: Vec<String> = uids.iter().map(u32::to_string).collect();
    state.source_ids(&task.source_raw, ssel.uid_validity, &ids);
    let book = Book::new(ctx, user, &task.source_raw, ssel.uid_validity, task);
    // The Inbox read over POP3 in another run is the same messages under
    // other ids: its entries must not count as copies made for this one.
    let except = task
        .source_name
        .eq_ignore_ascii_case("INBOX")
        .then_some(POP3_INBOX);
    let Some(Opened { mut dest, pending }) =
        truth::open(ctx, dst, book, &ids, except, state).await?
    else {
        return Ok(());
    };
    let pending: Vec<u32> = pending.iter().filter_map(|id| id.parse().ok()).collect();

    // With nothing on the destination to match, the keys are made from the
    // bodies as they arrive: the source need not read every header twice.
    let from_bodies = dest.is_empty();
    let metas = src.fetch_meta(Some(&pending), !from_bodies).await?;
    let mut found = Vec::new();
    let mut to_copy = Vec::new();
    // Each key is made once and goes with its message to the ledger.
    let mut keys: HashMap<u32, String> = HashMap::new();
    for m in metas {
        if from_bodies {
            to_copy.push(m);
            continue;
        }
        let key = content_key(m.size, &m.header_fields);
        match dest.found(state, tally, &m.uid.to_string(), m.size, &key) {
            Some(entry) => found.push(entry),
            None => {
                keys.insert(m.uid, key);
                to_copy.push(m);
            }
        }
    }
    dest.record(&found)?;

    for m in &to_copy {
        state.plan(tally, &m.uid.to_string(), m.size);
    }
    dest::announce(
        ctx,
        tally,
        task,
        to_copy.len() as u64,
        to_copy.iter().map(|m| m.size).sum(),
    );

    let batches = batches(&to_copy, ctx.opts.batch_bytes(), ctx.opts.batch_messages);
    let sink = Sink {
        dest: &mut dest,
        state,
        tally,
        folder: &task.source_name,
    };
    overlap::copy_batches(
        ctx,
        src,
        dst,
        sink,
        &batches,
        |batch| {
            let uids = batch.iter().map(|m| m.uid).collect();
            (uids, batch.iter().map(|m| m.size).sum())
        },
        |batch, fetched, sink| {
            let mut bodies: HashMap<u32, MessageBytes> =
                fetched.into_iter().map(|b| (b.uid, b.body)).collect();
            // A message expunged on the source since it was listed is gone;
            // there is nothing to copy.
            let outgoing = batch
                .iter()
                .filter_map(|m| {
                    let body = bodies.remove(&m.uid)?;
                    let size = body.len() as u64;
                    let (header_fields, content_key) = match from_bodies {
                        true => {
                            let fields = key_fields_of(&body);
                            let key = content_key(size, &fields);
                            (fields, key)
                        }
                        // The key is made from the bytes stored, as the
                        // destination will report them; RFC822.SIZE
                        // normally agrees, and then the key is made already.
                        false => {
                            let key = keys
                                .remove(&m.uid)
                                .filter(|_| m.size == size)
                                .unwrap_or_else(|| content_key(size, &m.header_fields));
                            (m.header_fields.clone(), key)
                        }
                    };
                    Some(Outgoing {
                        id: m.uid.to_string(),
                        header_fields,
                        content_key,
                        flags: sink.dest.keep_flags(&m.flags, sink.state),
                        internal_date: m.internal_date.clone(),
                        body,
                    })
                })
                .collect();
            Ok(outgoing)
        },
    )
    .await?;
    dest.finish(dst).await
}

/// Splits messages into batches bounded in bytes and count; a message larger
/// than the byte bound goes alone.
fn batches(msgs: &[MessageMeta], max_bytes: u64, max_count: usize) -> Vec<Vec<&MessageMeta>> {
    let mut out: Vec<Vec<&MessageMeta>> = Vec::new();
    let mut bytes = 0;
    for m in msgs {
        let full = out
            .last()
            .is_none_or(|b| b.len() >= max_count || bytes + m.size > max_bytes);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += m.size;
        if let Some(b) = out.last_mut() {
            b.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: u32, size: u64) -> MessageMeta {
        MessageMeta {
            uid,
            size,
            flags: vec![],
            internal_date: None,
            header_fields: vec![],
        }
    }

    #[test]
    fn batches_respect_bytes_and_count() {
        let msgs: Vec<_> = [10, 10, 10, 100, 5]
            .iter()
            .enumerate()
            .map(|(i, s)| meta(i as u32, *s))
            .collect();
        let b = batches(&msgs, 25, 10);
        let sizes: Vec<Vec<u64>> = b
            .iter()
            .map(|b| b.iter().map(|m| m.size).collect())
            .collect();
        assert_eq!(sizes, vec![vec![10, 10], vec![10], vec![100], vec![5]]);
        assert_eq!(batches(&msgs, 1000, 2).len(), 3);
    }
}
