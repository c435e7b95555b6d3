//! The destination side of copying one folder, shared by every kind of
//! source: what the folder already holds (by content key), which flags it
//! keeps, and appending batches with per-message failures recorded.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use super::filter::LeftOut;
use super::key::{describe, key_fields_of};
use super::mapping::FolderTask;
use super::truth::Book;
use super::Ctx;
use crate::error::MailError;
use crate::imap::{AppendItem, AppendResult, FolderSize, ImapClient, MessageBytes, Selected};
use crate::outcome::{
    FolderOutcome, MessageFailure, OversizedMessage, PlannedMessage, Verification,
};
use crate::progress::Event;
use crate::store::{canonical_uid, DestSnapshot, LedgerEntry};

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

    /// What the mailbox's folders hold, as STATUS said before copying
    /// began: the totals from the start (each folder settles its share in
    /// [`FolderState::settle`]).
    pub fn expect(&self, messages: u64, bytes: u64) {
        self.add((0, 0), (messages as i64, bytes as i64));
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
/// forgets. Ids are kept as [`Ids`]: a few bytes a message.
#[derive(Default)]
pub(crate) struct FolderState {
    migrated: Ids,
    /// Already on the destination before this run touched them.
    present: Ids,
    failures: HashMap<String, MessageFailure>,
    bytes: u64,
    notes: BTreeSet<String>,
    /// Messages counted into the tally's totals, so a retry adds none twice.
    counted: Ids,
    /// The folder's share of the expected totals is settled (once).
    settled: bool,
    /// Messages this run sent in an APPEND whose tagged reply never came:
    /// they may or may not be on the destination. They are looked for by
    /// content key before being sent again, and count as migrated when
    /// found.
    in_doubt: Ids,
    /// Messages the ledger had as copied that the destination no longer
    /// holds, and whether its folder was recreated (new UIDVALIDITY).
    gone: Ids,
    recreated: bool,
    /// Messages the job's filters left out, by id: their size on the
    /// source.
    left_out: Ids<u64>,
    /// Those of them left out for their size, named for the log.
    oversized: HashMap<String, OversizedMessage>,
    /// The source folder as the copy last listed it.
    pub source: Option<SourceList>,
    pub verification: Option<Box<Verification>>,
    /// A dry run's messages that a copy would send.
    pub would_copy: Vec<PlannedMessage>,
    /// What the destination folder should look like now that the copy is
    /// over, if nothing else touched it: the verification pass, which opens
    /// the folder anyway, keeps it as the folder's snapshot when it does.
    pub expected_snapshot: Option<DestSnapshot>,
}

/// A source folder's messages as listed, under the folder's ledger name.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceList {
    pub ledger: String,
    pub uid_validity: u32,
    pub ids: Vec<String>,
}

/// Source message ids, each with a value (none for a set): UIDs as
/// numbers (an IMAP folder's ids are all UIDs), anything else (POP3 UIDLs)
/// as text. A set of 100,000 UIDs takes about 1 MB, not the 6 MB of as
/// many strings.
pub(crate) struct Ids<V = ()> {
    uids: HashMap<u32, V>,
    other: HashMap<Box<str>, V>,
}

impl<V> Default for Ids<V> {
    fn default() -> Self {
        Ids {
            uids: HashMap::new(),
            other: HashMap::new(),
        }
    }
}

impl<V> Ids<V> {
    /// Adds or replaces; the value it had, if any.
    pub fn insert(&mut self, id: &str, value: V) -> Option<V> {
        match canonical_uid(id) {
            Some(uid) => self.uids.insert(uid, value),
            None => self.other.insert(id.into(), value),
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<V> {
        match canonical_uid(id) {
            Some(uid) => self.uids.remove(&uid),
            None => self.other.remove(id),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        match canonical_uid(id) {
            Some(uid) => self.uids.contains_key(&uid),
            None => self.other.contains_key(id),
        }
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.contains(id)
    }

    pub fn len(&self) -> usize {
        self.uids.len() + self.other.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.uids.values().chain(self.other.values())
    }

    /// How many of these ids `other` holds too.
    pub fn count_in<W>(&self, other: &Ids<W>) -> usize {
        self.uids
            .keys()
            .filter(|u| other.uids.contains_key(u))
            .count()
            + self
                .other
                .keys()
                .filter(|id| other.other.contains_key(*id))
                .count()
    }
}

impl FolderState {
    /// The folder's outcome; `error` is what stopped it (its words and its
    /// catalogue code), if anything did.
    pub fn finish(&self, task: &FolderTask, error: Option<(String, &str)>) -> FolderOutcome {
        let mut failures: Vec<MessageFailure> = self.failures.values().cloned().collect();
        failures.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        let mut notes = task.notes.clone();
        notes.extend(self.notes.iter().cloned());
        let mut oversized: Vec<OversizedMessage> = self.oversized.values().cloned().collect();
        // UIDs in numeric order.
        oversized.sort_by(|a, b| {
            (a.source_id.len(), &a.source_id).cmp(&(b.source_id.len(), &b.source_id))
        });
        // Said when it explains copies; entries found again by content
        // (a server that renumbered its folder) copied nothing.
        let again = self.gone.count_in(&self.migrated);
        if again > 0 {
            let what = match self.recreated {
                true => "The destination folder was emptied or recreated since the last run",
                false => "Messages copied by an earlier run were deleted from the destination folder since",
            };
            notes.push(format!(
                "{what}: {again} message{} copied again.",
                if again == 1 { "" } else { "s" }
            ));
        }
        FolderOutcome {
            source: task.source_name.clone(),
            destination: task.dest_name.clone(),
            migrated: self.migrated.len() as u64,
            skipped: (self.present.len() - self.present.count_in(&self.migrated)) as u64,
            failed: failures.len() as u64,
            bytes: self.bytes,
            notes,
            failures,
            error_code: error.as_ref().map(|(_, code)| code.to_string()),
            error: error.map(|(words, _)| words),
            verification: self.verification.clone(),
            filtered: self.left_out.len() as u64,
            filtered_bytes: self.left_out.values().sum(),
            oversized,
            would_copy: self.would_copy.clone(),
        }
    }

    /// The source folder as just listed.
    pub fn source_ids(&mut self, ledger: &str, uid_validity: u32, ids: Vec<String>) {
        self.source = Some(SourceList {
            ledger: ledger.to_string(),
            uid_validity,
            ids,
        });
    }

    /// Gives the listed ids back to [`FolderState::source`] (set by
    /// [`FolderState::source_ids`] without them while they were lent).
    pub fn restore_source_ids(&mut self, ids: Vec<String>) {
        if let Some(list) = self.source.as_mut() {
            list.ids = ids;
        }
    }

    /// What the job's filters left out as the folder was listed (again,
    /// after a reconnect: each message counts once).
    pub fn left_out(&mut self, l: LeftOut) {
        for (id, size) in l.messages {
            self.left_out.insert(&id, size);
        }
        self.oversized
            .extend(l.oversized.into_iter().map(|m| (m.source_id.clone(), m)));
    }

    pub fn is_left_out(&self, id: &str) -> bool {
        self.left_out.contains_key(id)
    }

    /// A message the date filters leave out, known only once it was
    /// fetched (its date is in its own header): it is not sent, not looked
    /// at again after a reconnect, not verified, and counts as done with
    /// the size it was planned with.
    pub fn left_out_after_fetch(&mut self, tally: &mut Tally, id: &str, size: u64) {
        if self.left_out.insert(id, size).is_none() && self.counted.contains(id) {
            tally.add((1, size), (0, 0));
        }
        if let Some(list) = self.source.as_mut() {
            list.ids.retain(|i| i != id);
        }
    }

    /// The message is already on the destination (per the ledger, borne
    /// out by the destination).
    pub fn present(&mut self, id: &str) {
        self.present.insert(id, ());
    }

    /// Something the user should know about this folder.
    pub fn note(&mut self, words: String) {
        self.notes.insert(words);
    }

    /// Messages of unconfirmed APPENDs, to be looked for.
    pub fn in_doubt<'i>(&mut self, ids: impl IntoIterator<Item = &'i str>) {
        for id in ids {
            self.in_doubt.insert(id, ());
        }
    }

    /// The ledger had this message as copied; the destination lacks it.
    pub fn gone_from_destination(&mut self, id: &str) {
        self.gone.insert(id, ());
        self.present.remove(id);
    }

    pub fn destination_recreated(&mut self, recreated: bool) {
        self.recreated |= recreated;
    }

    /// The message was found on the destination by its content key: one
    /// this run appended without hearing the server's OK (the connection
    /// died first) counts as migrated; any other was already there.
    pub fn found(&mut self, tally: &mut Tally, id: &str, size: u64) {
        if self.in_doubt.remove(id).is_some() {
            self.migrated.insert(id, ());
            self.bytes += size;
            tally.add((1, size), (0, 0));
        } else {
            self.present.insert(id, ());
            // Planned but there after all: handled, like a skipped one.
            if self.counted.remove(id).is_some() {
                tally.add((1, size), (0, 0));
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
        if self.counted.insert(id, ()).is_none() {
            tally.add((0, 0), (1, size as i64));
        }
        tally.work_found();
    }

    /// Once the folder's first scan knows what it will copy: the rest of
    /// what STATUS counted is already on the destination or left out by
    /// the job's filters, so it counts as done, and the planned messages
    /// (added by [`FolderState::plan`]) replace their share of the
    /// expected totals. Messages that arrived
    /// since STATUS raise the totals; bytes settle only where STATUS gave
    /// them.
    pub fn settle(&mut self, tally: &mut Tally, expected: Option<FolderSize>, planned: (u64, u64)) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let Some(e) = expected else { return };
        let share = |expected: u64, planned: u64| {
            (
                expected.saturating_sub(planned),
                -(expected.min(planned) as i64),
            )
        };
        let (messages_done, messages_total) = share(e.messages, planned.0);
        let (bytes_done, bytes_total) = e.bytes.map_or((0, 0), |b| share(b, planned.1));
        tally.add((messages_done, bytes_done), (messages_total, bytes_total));
    }

    /// Why messages of this folder could not be copied, by source id.
    pub fn failures(&self) -> &HashMap<String, MessageFailure> {
        &self.failures
    }
}

/// A message ready to append.
pub(crate) struct Outgoing {
    /// IMAP UID or POP3 UIDL.
    pub id: String,
    /// The identifying header fields, for the content key and for messages
    /// (empty: read from `body` when needed).
    pub header_fields: Vec<u8>,
    /// The content key of `body` (made once, by the source side).
    pub content_key: String,
    pub flags: Vec<String>,
    pub internal_date: Option<String>,
    pub body: MessageBytes,
}

/// The copies a destination folder holds that no ledger entry accounts
/// for, by content key: their UIDs, about 50 bytes a copy (a key is kept
/// as its 32 bytes, not its 64 hex digits).
#[derive(Default)]
pub(crate) struct Available {
    /// A key's first copy.
    first: HashMap<KeyBytes, u32>,
    /// Its further copies, when the folder holds it more than once.
    more: HashMap<KeyBytes, Vec<u32>>,
    /// Copies not yet taken.
    left: usize,
}

/// A content key: its digest, or (for any other text) the text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyBytes {
    Digest([u8; 32]),
    Text(Box<str>),
}

impl KeyBytes {
    fn of(key: &str) -> KeyBytes {
        let digit = |c: u8| (c as char).to_digit(16).filter(|_| !c.is_ascii_uppercase());
        let mut digest = [0u8; 32];
        let hex = key.len() == 64
            && key
                .as_bytes()
                .chunks(2)
                .zip(digest.iter_mut())
                .all(|(pair, out)| match (digit(pair[0]), digit(pair[1])) {
                    (Some(hi), Some(lo)) => {
                        *out = (hi * 16 + lo) as u8;
                        true
                    }
                    _ => false,
                });
        match hex {
            true => KeyBytes::Digest(digest),
            false => KeyBytes::Text(key.into()),
        }
    }
}

impl Available {
    /// One more copy with this key.
    pub fn add(&mut self, key: &str, uid: u32) {
        let key = KeyBytes::of(key);
        self.left += 1;
        match self.first.entry(key) {
            // A key held more than once (rare): cloned for its second map.
            Entry::Occupied(e) => self.more.entry(e.key().clone()).or_default().push(uid),
            Entry::Vacant(e) => {
                e.insert(uid);
            }
        }
    }

    /// A copy with this key not taken yet (the last one added first).
    fn take(&mut self, key: &str) -> Option<u32> {
        let key = KeyBytes::of(key);
        let uid = match self.more.get_mut(&key).and_then(Vec::pop) {
            Some(uid) => Some(uid),
            None => self.first.remove(&key),
        }?;
        self.left -= 1;
        Some(uid)
    }
}

impl From<HashMap<String, Vec<u32>>> for Available {
    fn from(map: HashMap<String, Vec<u32>>) -> Available {
        let mut a = Available::default();
        for (key, uids) in map {
            for uid in uids {
                a.add(&key, uid);
            }
        }
        a
    }
}

/// A destination folder, opened for appending, with the copies it holds
/// that no ledger entry accounts for (by content key: their UIDs).
pub(crate) struct DestFolder {
    pub book: Book,
    sel: Selected,
    available: Available,
    /// Messages this copy stored here, and the UIDNEXT they leave (`None`
    /// once a batch came back without APPENDUID): what STATUS should say
    /// at the end if nothing else touched the folder meanwhile.
    appended: u32,
    uid_next: Option<u32>,
}

impl DestFolder {
    pub fn new(book: Book, sel: Selected, available: impl Into<Available>) -> DestFolder {
        DestFolder {
            book,
            uid_next: sel.uid_next,
            sel,
            available: available.into(),
            appended: 0,
        }
    }

    /// Whether nothing here is left to match a source message against.
    pub fn is_empty(&self) -> bool {
        self.available.left == 0
    }

    /// A copy with this key that is already here and not yet matched to
    /// another source message: its UID. Each copy matches one message only.
    pub fn take(&mut self, key: &str) -> Option<u32> {
        self.available.take(key)
    }

    /// A message found here by its content key: counted, and kept in the
    /// ledger with the UID it has here.
    pub fn found(
        &mut self,
        state: &mut FolderState,
        tally: &mut Tally,
        id: &str,
        size: u64,
        key: &str,
    ) -> Option<LedgerEntry> {
        let uid = self.take(key)?;
        state.found(tally, id, size);
        Some(LedgerEntry {
            id: id.to_string(),
            dest_uid: Some(uid),
            content_key: key.to_string(),
        })
    }

    /// Keeps what reached the destination in the ledger.
    pub fn record(&self, entries: &[LedgerEntry]) -> Result<(), MailError> {
        self.book.record(entries)
    }

    /// After the folder's last batch: the intents are all settled, and
    /// what the folder should hold if it is exactly what this copy left
    /// (nothing else appended or expunged meanwhile) is noted in `state`:
    /// the verification pass keeps it as the folder's snapshot when the
    /// folder bears it out, so that the next run can believe the ledger on
    /// one STATUS.
    pub fn finish(self, state: &mut FolderState) -> Result<(), MailError> {
        self.book.settle(None)?;
        state.expected_snapshot = self.uid_next.map(|uid_next| DestSnapshot {
            uid_validity: self.sel.uid_validity,
            uid_next,
            messages: self.sel.exists + self.appended,
        });
        Ok(())
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
    /// `last`: the folder's last batch, its verification next (see
    /// [`ImapClient::append`]).
    pub async fn deliver(
        &mut self,
        dst: &mut ImapClient,
        msgs: &[Outgoing],
        state: &mut FolderState,
        tally: &mut Tally,
        last: bool,
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
        // a connection lost now (or a run killed) leaves it stored or not.
        // The intent, kept first, tells the next attempt to look for it.
        let intent: Vec<(&str, &str)> = msgs
            .iter()
            .map(|m| (m.id.as_str(), m.content_key.as_str()))
            .collect();
        self.book.intend(&dst.connection_id(), &intent)?;
        state.in_doubt(msgs.iter().map(|m| m.id.as_str()));
        let raw = self.book.dest_raw.clone();
        let mut delivered = Vec::with_capacity(msgs.len());
        if items.len() > 1 && dst.can_multiappend() {
            match dst.append(&raw, &items, last).await? {
                AppendResult::Stored(uids) => {
                    for (i, m) in msgs.iter().enumerate() {
                        let uid = uids.as_ref().map(|u| u[i]);
                        delivered.push(self.stored(m, uid, state, tally));
                    }
                    return Ok(delivered);
                }
                // MULTIAPPEND stores all or none: find the refused one below.
                AppendResult::Refused(text) => check_refusal(dst, &text)?,
            }
        }
        let count = items.len();
        for (i, (item, m)) in items.iter().zip(msgs).enumerate() {
            let then_examine = last && i + 1 == count;
            match dst
                .append(&raw, std::slice::from_ref(item), then_examine)
                .await?
            {
                AppendResult::Stored(uids) => {
                    let uid = uids.and_then(|u| u.first().copied());
                    delivered.push(self.stored(m, uid, state, tally));
                }
                AppendResult::Refused(text) => {
                    check_refusal(dst, &text)?;
                    state.in_doubt.remove(&m.id);
                    self.book.settle(Some(std::slice::from_ref(&m.id)))?;
                    self.record_failure(m, text, state);
                }
            }
        }
        Ok(delivered)
    }

    /// Records a message the destination confirmed storing.
    fn stored(
        &mut self,
        m: &Outgoing,
        dest_uid: Option<u32>,
        state: &mut FolderState,
        tally: &mut Tally,
    ) -> LedgerEntry {
        let size = m.body.len() as u64;
        state.in_doubt.remove(&m.id);
        state.migrated.insert(&m.id, ());
        state.failures.remove(&m.id);
        state.bytes += size;
        tally.add((1, size), (0, 0));
        self.appended += 1;
        self.uid_next = match (self.uid_next, dest_uid) {
            (Some(next), Some(uid)) => Some(next.max(uid + 1)),
            _ => None,
        };
        LedgerEntry {
            id: m.id.clone(),
            dest_uid,
            content_key: m.content_key.clone(),
        }
    }

    fn record_failure(&self, m: &Outgoing, text: String, state: &mut FolderState) {
        let (date, from, subject) = match m.header_fields.is_empty() {
            true => describe(&key_fields_of(&m.body)),
            false => describe(&m.header_fields),
        };
        let reason = if is_too_big(&text) {
            MailError::TooBig {
                folder: self.book.dest_name.clone(),
                size: m.body.len() as u64,
                server_text: text,
            }
        } else {
            MailError::AppendRejected {
                folder: self.book.dest_name.clone(),
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
    // Gmail's daily limit comes as [OVERQUOTA] too: a pause, not a full box.
    if crate::error::busy(text) == Some(crate::error::Busy::DailyLimit) {
        return Err(MailError::daily_limit_hit(dst.place(), text.to_string()));
    }
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

    #[test]
    fn ids_hold_uids_and_other_ids_apart_and_exactly() {
        let mut a: Ids = Ids::default();
        for id in ["1", "2", "01", "uidl-x", ""] {
            assert!(a.insert(id, ()).is_none(), "{id:?}");
        }
        assert!(a.insert("2", ()).is_some());
        assert_eq!(a.len(), 5);
        assert!(a.contains("01") && a.contains("1") && !a.contains("001"));
        let mut b: Ids<u64> = Ids::default();
        b.insert("1", 10);
        b.insert("uidl-x", 5);
        b.insert("3", 1);
        assert_eq!(a.count_in(&b), 2);
        assert_eq!(b.values().sum::<u64>(), 16);
        assert_eq!(b.remove("uidl-x"), Some(5));
        assert_eq!(b.remove("uidl-x"), None);
        assert_eq!(a.count_in(&b), 1);
    }

    #[test]
    fn available_copies_are_taken_once_each_the_last_found_first() {
        let k = crate::copy::key::content_key(10, b"Subject: a\r\n");
        let mut a = Available::default();
        a.add(&k, 4);
        a.add("not a digest", 5);
        a.add(&k, 7);
        a.add(&k, 9);
        // Upper-case hex is another key, as it was as text.
        assert_eq!(a.take(&k.to_ascii_uppercase()), None);
        assert_eq!(a.left, 4);
        assert_eq!(
            [a.take(&k), a.take(&k), a.take(&k)],
            [Some(9), Some(7), Some(4)]
        );
        assert_eq!(a.take(&k), None);
        assert_eq!(a.take("not a digest"), Some(5));
        assert_eq!(a.left, 0);
        let from: Available = HashMap::from([(k.clone(), vec![1, 2])]).into();
        assert_eq!(from.left, 2);
    }
}
