//! The destination side of copying one folder, shared by every kind of
//! source: what the folder already holds (by content key), which flags it
//! keeps, and appending batches with per-message failures recorded.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::key::{content_key, describe};
use super::mapping::FolderTask;
use super::Ctx;
use crate::error::MailError;
use crate::imap::{AppendItem, AppendResult, ImapClient, MessageBytes, Selected};
use crate::outcome::{FolderOutcome, MessageFailure};
use crate::progress::Event;
use crate::store::LedgerEntry;

const WORK: u8 = 1;
const DONE: u8 = 2;

/// Running totals of one mailbox, for progress events.
#[derive(Clone)]
pub(crate) struct Tally {
    pub account: String,
    /// Shared by the folders copied at the same time in one mailbox.
    counts: std::sync::Arc<std::sync::Mutex<Counts>>,
    /// [`WORK`] once a folder of the mailbox has messages to copy (extra
    /// connections are opened only then), [`DONE`] once the first worker
    /// has finished.
    work: std::sync::Arc<tokio::sync::watch::Sender<u8>>,
}

#[derive(Default)]
struct Counts {
    messages_done: u64,
    messages_total: u64,
    bytes_done: u64,
    bytes_total: u64,
}

impl Tally {
    pub fn new(account: &str) -> Tally {
        Tally {
            account: account.to_string(),
            counts: Default::default(),
            work: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// A folder has messages to copy: wakes the workers waiting in
    /// [`Tally::wait_for_work`].
    pub fn work_found(&self) {
        self.work.send_if_modified(|w| {
            let old = *w;
            *w |= WORK;
            *w != old
        });
    }

    /// The first worker is done: wakes every waiting worker.
    pub fn first_done(&self) {
        self.work.send_if_modified(|w| {
            let old = *w;
            *w |= WORK | DONE;
            *w != old
        });
    }

    /// Waits until a folder has something to copy or the first worker is
    /// done.
    pub async fn wait_for_work(&self) {
        let mut rx = self.work.subscribe();
        // Never fails: `self` holds the sender.
        let _ = rx.wait_for(|w| *w & WORK != 0).await;
    }

    /// Waits until the first worker is done.
    pub async fn wait_for_first_done(&self) {
        let mut rx = self.work.subscribe();
        let _ = rx.wait_for(|w| *w & DONE != 0).await;
    }

    /// Adds to the counts (negative to take back a planned message).
    fn add(&self, done: (u64, u64), total: (i64, i64)) {
        // The lock is never held across an await or a panic-prone call.
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.messages_done += done.0;
        c.bytes_done += done.1;
        c.messages_total = c.messages_total.saturating_add_signed(total.0);
        c.bytes_total = c.bytes_total.saturating_add_signed(total.1);
    }

    pub fn event(&self, folder: &str) -> Event {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        Event::Progress {
            account: self.account.clone(),
            folder: folder.to_string(),
            messages_done: c.messages_done,
            messages_total: c.messages_total,
            bytes_done: c.bytes_done,
            bytes_total: c.bytes_total,
        }
    }
}

/// What one folder's copy has done so far, by source message id (IMAP UID
/// or POP3 UIDL); survives reconnects, so a retry neither double-counts nor
/// forgets.
#[derive(Default)]
pub(crate) struct FolderState {
    migrated: HashSet<String>,
    /// Already on the destination before this run touched them.
    present: HashSet<String>,
    failures: HashMap<String, MessageFailure>,
    bytes: u64,
    notes: BTreeSet<String>,
    /// Messages counted into the tally's totals, so a retry adds none twice.
    counted: HashSet<String>,
    /// Messages sent in an APPEND whose tagged reply never came: they may
    /// or may not be on the destination. A retry looks for them by content
    /// key before sending them again.
    in_doubt: HashSet<String>,
}

impl FolderState {
    /// The folder's outcome; `error` is what stopped it (its words and its
    /// catalogue code), if anything did.
    pub fn finish(&self, task: &FolderTask, error: Option<(String, &str)>) -> FolderOutcome {
        let mut failures: Vec<MessageFailure> = self.failures.values().cloned().collect();
        failures.sort_by(|a, b| a.source_id.cmp(&b.source_id));
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
            error_code: error.as_ref().map(|(_, code)| code.to_string()),
            error: error.map(|(words, _)| words),
        }
    }

    /// The message is already on the destination (per the ledger).
    pub fn present(&mut self, id: &str) {
        self.present.insert(id.to_string());
    }

    /// The message was found on the destination by its content key: one
    /// this run appended without hearing the server's OK (the connection
    /// died first) counts as migrated; any other was already there.
    pub fn found(&mut self, tally: &mut Tally, id: &str, size: u64) {
        if self.in_doubt.remove(id) {
            self.migrated.insert(id.to_string());
            self.bytes += size;
            tally.add((1, size), (0, 0));
        } else {
            self.present.insert(id.to_string());
            if self.counted.remove(id) {
                tally.add((0, 0), (-1, -(size as i64)));
            }
        }
    }

    /// Changes whenever messages get through (copied, found or refused),
    /// so the count of retries can start again.
    pub fn progress_mark(&self) -> (usize, usize, usize) {
        (self.migrated.len(), self.present.len(), self.failures.len())
    }

    /// Adds messages about to be copied to the mailbox's totals, once each.
    pub fn plan(&mut self, tally: &mut Tally, id: &str, size: u64) {
        if self.counted.insert(id.to_string()) {
            tally.add((0, 0), (1, size as i64));
        }
        tally.work_found();
    }
}

/// A message ready to append.
pub(crate) struct Outgoing {
    /// IMAP UID or POP3 UIDL.
    pub id: String,
    /// The identifying header fields, for the content key and for messages.
    pub header_fields: Vec<u8>,
    /// The content key of `body`, when the source side already made it for
    /// this very size (one SHA-256 per message, not two).
    pub content_key: Option<String>,
    pub flags: Vec<String>,
    pub internal_date: Option<String>,
    pub body: MessageBytes,
}

/// A destination folder, opened for appending, with the content keys it
/// already holds that no ledger entry accounts for.
pub(crate) struct DestFolder {
    pub raw: String,
    pub name: String,
    sel: Selected,
    available: HashMap<String, usize>,
}

impl DestFolder {
    /// SELECTs the folder and reads its content keys in one FETCH. `claimed`
    /// counts, per key, the copies the ledger already accounts for.
    pub async fn open(
        dst: &mut ImapClient,
        task: &FolderTask,
        claimed: HashMap<String, usize>,
    ) -> Result<DestFolder, MailError> {
        let sel = dst.open_folder(&task.dest_raw, false).await?;
        let mut available: HashMap<String, usize> = HashMap::new();
        if sel.exists > 0 {
            for m in dst.fetch_meta(None, true).await? {
                *available
                    .entry(content_key(m.size, &m.header_fields))
                    .or_default() += 1;
            }
        }
        for (key, n) in claimed {
            if let Some(a) = available.get_mut(&key) {
                *a = a.saturating_sub(n);
            }
        }
        Ok(DestFolder {
            raw: task.dest_raw.clone(),
            name: task.dest_name.clone(),
            sel,
            available,
        })
    }

    /// Whether nothing here is left to match a source message against.
    pub fn is_empty(&self) -> bool {
        self.available.values().all(|&n| n == 0)
    }

    /// Whether a copy with this key is already here (and not yet matched to
    /// another source message). Each copy matches one source message only.
    pub fn take(&mut self, key: &str) -> bool {
        match self.available.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Flags this folder will keep; the rest are noted for the user.
    /// `\Recent` is never sent: only the server may set it.
    pub fn keep_flags(&self, flags: &[String], state: &mut FolderState) -> Vec<String> {
        keep_flags(flags, &self.sel, &mut state.notes)
    }

    /// Appends a batch (one MULTIAPPEND when the server has it) and records
    /// the outcome in `state` and `tally`; returns the ledger entries of
    /// what was stored. A refused MULTIAPPEND stores
    /// nothing, so it is retried one by one to find the message refused.
    pub async fn deliver(
        &self,
        dst: &mut ImapClient,
        msgs: &[Outgoing],
        state: &mut FolderState,
        tally: &mut Tally,
    ) -> Result<Vec<LedgerEntry>, MailError> {
        let items: Vec<AppendItem<'_>> = msgs
            .iter()
            .map(|m| AppendItem {
                flags: &m.flags,
                internal_date: m.internal_date.as_deref(),
                body: &m.body[..],
            })
            .collect();
        // Until the server's tagged reply arrives, each message is in doubt:
        // a connection lost now leaves it stored or not.
        state.in_doubt.extend(msgs.iter().map(|m| m.id.clone()));
        let mut delivered = Vec::with_capacity(msgs.len());
        if items.len() > 1 && dst.can_multiappend() {
            match dst.append(&self.raw, &items).await? {
                AppendResult::Stored(uids) => {
                    for (i, m) in msgs.iter().enumerate() {
                        let uid = uids.as_ref().map(|u| u[i]);
                        delivered.push(stored(m, uid, state, tally));
                    }
                    return Ok(delivered);
                }
                // MULTIAPPEND stores all or none: find the refused one below.
                AppendResult::Refused(text) => check_refusal(dst, &text)?,
            }
        }
        for (item, m) in items.iter().zip(msgs) {
            match dst.append(&self.raw, std::slice::from_ref(item)).await? {
                AppendResult::Stored(uids) => {
                    let uid = uids.and_then(|u| u.first().copied());
                    delivered.push(stored(m, uid, state, tally));
                }
                AppendResult::Refused(text) => {
                    check_refusal(dst, &text)?;
                    state.in_doubt.remove(&m.id);
                    self.record_failure(m, text, state);
                }
            }
        }
        Ok(delivered)
    }

    fn record_failure(&self, m: &Outgoing, text: String, state: &mut FolderState) {
        let (date, from, subject) = describe(&m.header_fields);
        let reason = if is_too_big(&text) {
            MailError::TooBig {
                folder: self.name.clone(),
                size: m.body.len() as u64,
                server_text: text,
            }
        } else {
            MailError::AppendRejected {
                folder: self.name.clone(),
                server_text: text,
            }
        };
        state.failures.insert(
            m.id.clone(),
            MessageFailure {
                source_id: m.id.clone(),
                date,
                from,
                subject,
                reason: reason.to_string(),
                code: reason.code().into(),
            },
        );
    }
}

/// Records a message the destination confirmed storing.
fn stored(
    m: &Outgoing,
    dest_uid: Option<u32>,
    state: &mut FolderState,
    tally: &mut Tally,
) -> LedgerEntry {
    let size = m.body.len() as u64;
    state.in_doubt.remove(&m.id);
    state.migrated.insert(m.id.clone());
    state.failures.remove(&m.id);
    state.bytes += size;
    tally.add((1, size), (0, 0));
    LedgerEntry {
        id: m.id.clone(),
        dest_uid,
        content_key: m
            .content_key
            .clone()
            .unwrap_or_else(|| content_key(size, &m.header_fields)),
    }
}

/// Records a message that could not be read from the source.
pub(crate) fn source_failure(
    state: &mut FolderState,
    id: &str,
    header_fields: &[u8],
    reason: String,
    code: &str,
) {
    let (date, from, subject) = describe(header_fields);
    state.failures.insert(
        id.to_string(),
        MessageFailure {
            source_id: id.to_string(),
            date,
            from,
            subject,
            reason,
            code: code.into(),
        },
    );
}

/// Emits the folder's start with what it will copy.
pub(crate) fn announce(ctx: &Ctx, tally: &Tally, task: &FolderTask, messages: u64, bytes: u64) {
    ctx.emit(Event::FolderStarted {
        account: tally.account.clone(),
        folder: task.source_name.clone(),
        messages_total: messages,
        bytes_total: bytes,
    });
}

/// A refused APPEND that is not about the message: over quota (no further
/// message can go in) or a busy server (try again later).
fn check_refusal(dst: &ImapClient, text: &str) -> Result<(), MailError> {
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
    if let Some(b) = crate::error::busy(text) {
        return Err(b.error(dst.place().clone(), "appending messages", text.to_string()));
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
        "LARGER THAN THE MAXIMUM",
        "MAXIMUM SIZE",
        "MESSAGE SIZE EXCEEDS",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn quota_and_size_refusals_are_recognised() {
        assert!(is_too_big("NO [TOOBIG] Mail too large"));
        assert!(is_too_big("NO Message exceeds APPENDLIMIT"));
        assert!(is_too_big(
            "NO [LIMIT] Mail size is larger than the maximum size allowed by server configuration"
        ));
        assert!(!is_too_big("NO [OVERQUOTA] Quota exceeded"));
    }
}
