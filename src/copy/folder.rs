//! One folder: find what the destination lacks, fetch it in batches, append.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::key::{content_key, describe};
use super::mapping::FolderTask;
use super::Ctx;
use crate::error::MailError;
use crate::imap::{AppendItem, AppendResult, ImapClient, MessageMeta, Selected};
use crate::outcome::{FolderOutcome, MessageFailure};
use crate::progress::Event;
use crate::store::LedgerEntry;

/// Running totals of one mailbox, for progress events.
pub(crate) struct Tally {
    account: String,
    messages_done: u64,
    messages_total: u64,
    bytes_done: u64,
    bytes_total: u64,
}

impl Tally {
    pub fn new(account: &str) -> Tally {
        Tally {
            account: account.to_string(),
            messages_done: 0,
            messages_total: 0,
            bytes_done: 0,
            bytes_total: 0,
        }
    }

    fn event(&self, folder: &str) -> Event {
        Event::Progress {
            account: self.account.clone(),
            folder: folder.to_string(),
            messages_done: self.messages_done,
            messages_total: self.messages_total,
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total,
        }
    }
}

/// What one folder's copy has done so far; survives reconnects, so a retry
/// neither double-counts nor forgets.
#[derive(Default)]
pub(crate) struct FolderState {
    migrated: HashSet<u32>,
    /// Already on the destination before this run touched them.
    present: HashSet<u32>,
    failures: HashMap<u32, MessageFailure>,
    bytes: u64,
    notes: BTreeSet<String>,
    /// Messages counted into the tally's totals, so a retry adds none twice.
    counted: HashSet<u32>,
}

impl FolderState {
    pub fn finish(&self, task: &FolderTask, error: Option<String>) -> FolderOutcome {
        let mut failures: Vec<MessageFailure> = self.failures.values().cloned().collect();
        failures.sort_by_key(|f| f.uid);
        let mut notes = task.notes.clone();
        notes.extend(self.notes.iter().cloned());
        FolderOutcome {
            source: task.source_name.clone(),
            destination: task.dest_name.clone(),
            migrated: self.migrated.len() as u64,
            skipped: self.present.difference(&self.migrated).count() as u64,
            failed: failures.len() as u64,
            bytes: self.bytes,
            notes,
            failures,
            error,
        }
    }
}

pub(crate) async fn copy_folder(
    ctx: &Ctx,
    src: &mut ImapClient,
    dst: &mut ImapClient,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
) -> Result<(), MailError> {
    let account = tally.account.clone();
    let job = ctx.job_name.as_str();
    let ssel = src.open_folder(&task.source_raw, true).await?;
    let uids = if ssel.exists == 0 {
        Vec::new()
    } else {
        src.uids().await?
    };
    let ledger = ctx
        .store
        .folder_ledger(job, &account, &task.source_raw, ssel.uid_validity)?;
    let pending: Vec<u32> = uids
        .iter()
        .copied()
        .filter(|u| !ledger.uids.contains(u))
        .collect();
    state
        .present
        .extend(uids.iter().filter(|u| ledger.uids.contains(u)));
    if pending.is_empty() {
        return Ok(());
    }

    // What the destination folder already holds, minus the copies the
    // ledger already accounts for, by content key.
    let dsel = dst.open_folder(&task.dest_raw, false).await?;
    let metas = src.fetch_meta(Some(&pending)).await?;
    let mut available: HashMap<String, usize> = HashMap::new();
    if dsel.exists > 0 {
        for m in dst.fetch_meta(None).await? {
            *available
                .entry(content_key(m.size, &m.header_fields))
                .or_default() += 1;
        }
    }
    for (key, n) in ctx.store.claimed_keys(job, &account, &task.dest_raw)? {
        if let Some(a) = available.get_mut(&key) {
            *a = a.saturating_sub(n);
        }
    }
    let mut found = Vec::new();
    let mut to_copy = Vec::new();
    for m in metas {
        let key = content_key(m.size, &m.header_fields);
        match available.get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                state.present.insert(m.uid);
                found.push(LedgerEntry {
                    uid: m.uid,
                    dest_uid: None,
                    content_key: key,
                });
            }
            _ => to_copy.push(m),
        }
    }
    ctx.store.record(
        job,
        &account,
        &task.source_raw,
        ssel.uid_validity,
        &task.dest_raw,
        &found,
    )?;

    for m in &to_copy {
        if state.counted.insert(m.uid) {
            tally.messages_total += 1;
            tally.bytes_total += m.size;
        }
    }
    ctx.emit(Event::FolderStarted {
        account: account.clone(),
        folder: task.source_name.clone(),
        messages_total: to_copy.len() as u64,
        bytes_total: to_copy.iter().map(|m| m.size).sum(),
    });

    for batch in batches(&to_copy, ctx.opts.batch_bytes, ctx.opts.batch_messages) {
        if ctx.cancel.is_cancelled() {
            return Err(MailError::Cancelled);
        }
        let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
        let mut bodies: HashMap<u32, Vec<u8>> = src
            .fetch_bodies(&uids)
            .await?
            .into_iter()
            .map(|b| (b.uid, b.body))
            .collect();
        // A message expunged on the source since it was listed is gone;
        // there is nothing to copy.
        let batch: Vec<&MessageMeta> = batch
            .iter()
            .copied()
            .filter(|m| bodies.contains_key(&m.uid))
            .collect();
        let flags: Vec<Vec<String>> = batch
            .iter()
            .map(|m| keep_flags(&m.flags, &dsel, &mut state.notes))
            .collect();
        let items: Vec<AppendItem<'_>> = batch
            .iter()
            .zip(&flags)
            .map(|(m, f)| AppendItem {
                flags: f,
                internal_date: m.internal_date.as_deref(),
                body: bodies.get(&m.uid).map(Vec::as_slice).unwrap_or_default(),
            })
            .collect();
        let stored = append_batch(dst, task, &batch, &items, state).await?;
        let mut entries = Vec::new();
        for (i, dest_uid) in stored {
            let m = batch[i];
            let size = items[i].body.len() as u64;
            entries.push(LedgerEntry {
                uid: m.uid,
                dest_uid,
                content_key: content_key(size, &m.header_fields),
            });
            state.migrated.insert(m.uid);
            state.failures.remove(&m.uid);
            state.bytes += size;
            tally.messages_done += 1;
            tally.bytes_done += m.size;
        }
        ctx.store.record(
            job,
            &account,
            &task.source_raw,
            ssel.uid_validity,
            &task.dest_raw,
            &entries,
        )?;
        for m in &batch {
            bodies.remove(&m.uid);
        }
        ctx.emit(tally.event(&task.source_name));
    }
    Ok(())
}

/// Appends a batch; returns (index in batch, new UID) for each stored one.
/// A refused MULTIAPPEND stores nothing, so it is retried one by one to find
/// the message the server refuses.
async fn append_batch(
    dst: &mut ImapClient,
    task: &FolderTask,
    batch: &[&MessageMeta],
    items: &[AppendItem<'_>],
    state: &mut FolderState,
) -> Result<Vec<(usize, Option<u32>)>, MailError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if items.len() > 1 && dst.can_multiappend() {
        match dst.append(&task.dest_raw, items).await? {
            AppendResult::Stored(uids) => {
                return Ok((0..items.len())
                    .map(|i| (i, uids.as_ref().map(|u| u[i])))
                    .collect())
            }
            AppendResult::Refused(text) => check_fatal(dst, &text)?,
        }
    }
    let mut stored = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match dst
            .append(&task.dest_raw, std::slice::from_ref(item))
            .await?
        {
            AppendResult::Stored(uids) => stored.push((i, uids.and_then(|u| u.first().copied()))),
            AppendResult::Refused(text) => {
                check_fatal(dst, &text)?;
                let m = batch[i];
                let (date, from, subject) = describe(&m.header_fields);
                let reason = if is_too_big(&text) {
                    MailError::TooBig {
                        folder: task.dest_name.clone(),
                        size: item.body.len() as u64,
                        server_text: text,
                    }
                } else {
                    MailError::AppendRejected {
                        folder: task.dest_name.clone(),
                        server_text: text,
                    }
                };
                state.failures.insert(
                    m.uid,
                    MessageFailure {
                        uid: m.uid,
                        date,
                        from,
                        subject,
                        reason: reason.to_string(),
                    },
                );
            }
        }
    }
    Ok(stored)
}

/// A refusal that means no further message can go in: over quota.
fn check_fatal(dst: &ImapClient, text: &str) -> Result<(), MailError> {
    let upper = text.to_ascii_uppercase();
    if upper.contains("OVERQUOTA")
        || upper.contains("QUOTA EXCEEDED")
        || upper.contains("OVER QUOTA")
    {
        return Err(MailError::OverQuota {
            user: dst.user().to_string(),
            server_text: text.to_string(),
        });
    }
    Ok(())
}

fn is_too_big(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    [
        "TOOBIG",
        "TOO BIG",
        "TOO LARGE",
        "APPENDLIMIT",
        "SIZE LIMIT",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// Flags the destination folder will keep; the rest are noted for the user.
/// `\Recent` is never sent: only the server may set it.
fn keep_flags(flags: &[String], sel: &Selected, notes: &mut BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for f in flags {
        if f.eq_ignore_ascii_case("\\Recent") {
            continue;
        }
        let system = f.starts_with('\\');
        let allowed = sel.permanent_flags.is_empty()
            || if system {
                sel.permanent_flags
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(f))
            } else {
                sel.allows_keyword(f)
            };
        let valid = system
            || f.bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
        if allowed && valid {
            out.push(f.clone());
        } else {
            notes.insert(format!(
                "The flag {f} is not kept: the destination folder does not accept it."
            ));
        }
    }
    out
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

    #[test]
    fn recent_is_dropped_and_refused_keywords_are_noted() {
        let sel = Selected {
            permanent_flags: vec!["\\Seen".into(), "\\Deleted".into()],
            ..Default::default()
        };
        let mut notes = BTreeSet::new();
        let kept = keep_flags(
            &[
                "\\Seen".into(),
                "\\Recent".into(),
                "$Label1".into(),
                "\\Deleted".into(),
            ],
            &sel,
            &mut notes,
        );
        assert_eq!(kept, vec!["\\Seen", "\\Deleted"]);
        assert_eq!(notes.len(), 1);
        assert!(notes.iter().next().unwrap().contains("$Label1"));
    }

    #[test]
    fn any_keyword_is_kept_when_the_folder_allows_new_ones() {
        let sel = Selected {
            permanent_flags: vec!["\\Seen".into(), "\\*".into()],
            ..Default::default()
        };
        let mut notes = BTreeSet::new();
        assert_eq!(
            keep_flags(&["$Label1".into()], &sel, &mut notes),
            vec!["$Label1"]
        );
        assert!(notes.is_empty());
    }
}
