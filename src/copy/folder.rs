//! An IMAP source folder: its messages by UID, matched against the
//! destination by content key before anything is fetched, sent with their
//! flags and INTERNALDATE.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::dest::{self, Outgoing};
use super::filter::{day_of, LeftOut};
use super::key::{content_key, describe, key_digest, key_fields_of, key_text};
use super::mapping::FolderTask;
use super::source::{Listing, Source, Target};
use super::KeepAlive;
use crate::error::{MailError, Side};
use crate::human::human_bytes;
use crate::imap::{FetchedBody, ImapClient};
use crate::job::{Filters, Job};
use crate::outcome::PlannedMessage;
use crate::store::POP3_INBOX;

pub(crate) struct ImapFolder<'a> {
    client: &'a mut ImapClient,
    /// Keys are made from the bodies as they arrive (nothing on the
    /// destination to match: the source need not read every header twice).
    from_bodies: bool,
    /// Messages in the folder as it was opened.
    exists: u32,
    /// What the mailbox may still move today by its hosts' daily limits.
    allowance: DailyAllowance,
    /// The largest message the destination takes, where it does not say
    /// so itself: larger ones are not sent.
    max_message: Option<SizeCap>,
    /// Each planned message's size, to take from the allowance (kept only
    /// when the mailbox has a daily limit).
    sizes: HashMap<u32, u64>,
    /// What listing the folder reads beside the UIDs.
    prefetch: Prefetch,
    /// Every message's size as listed, when listing read them.
    listed_sizes: Option<HashMap<u32, u64>>,
    /// Messages read whole while listing, not yet handed out.
    prefetched: HashMap<u32, FetchedBody>,
    /// Date, sender and subject of every message, as the pre-flight's
    /// census read them: a dry run names what it would copy from these
    /// rather than fetch the same header fields again.
    described: HashMap<u32, (String, String, String)>,
}

/// What listing a folder reads beside its UIDs. When its destination
/// folder was created by this run, every message will be planned and
/// fetched: their sizes come with the listing (one round trip less), and a
/// small folder's messages too (two less). A distant server's thousand
/// small folders are mostly round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefetch {
    Nothing,
    Sizes,
    Messages,
}

/// The largest folder read whole while it is listed.
const SMALL_FOLDER_BYTES: u64 = 1 << 20;
const SMALL_FOLDER_MESSAGES: u64 = 200;

impl Prefetch {
    /// For a folder whose destination folder this run created, holding
    /// `expected` (its STATUS, when the server gave one).
    pub fn for_new_destination(expected: Option<&crate::imap::FolderSize>) -> Prefetch {
        match expected {
            Some(e)
                if e.messages <= SMALL_FOLDER_MESSAGES
                    && e.bytes.is_some_and(|b| b <= SMALL_FOLDER_BYTES) =>
            {
                Prefetch::Messages
            }
            _ => Prefetch::Sizes,
        }
    }
}

/// A message planned for copying: what fetching it and sending it needs
/// until its body arrives, in 24 bytes (its flags and INTERNALDATE come
/// with the body, its header fields are not kept).
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    uid: u32,
    size: u64,
    /// Its content key as planned (from the header fields the source sent
    /// for matching the destination by content), to go with it to the
    /// ledger; `None` when keys are made from the bodies.
    key: Option<Box<[u8; 32]>>,
}

impl<'a> ImapFolder<'a> {
    pub fn new(client: &'a mut ImapClient) -> ImapFolder<'a> {
        ImapFolder {
            client,
            from_bodies: false,
            exists: 0,
            allowance: DailyAllowance::default(),
            max_message: None,
            sizes: HashMap::new(),
            prefetch: Prefetch::Nothing,
            listed_sizes: None,
            prefetched: HashMap::new(),
            described: HashMap::new(),
        }
    }

    /// Listing reads `what` beside the UIDs.
    pub fn with_prefetch(mut self, what: Prefetch) -> Self {
        self.prefetch = what;
        self
    }

    /// With the mailbox's daily allowance and the destination's size limit.
    pub fn with_limits(mut self, allowance: DailyAllowance, max: Option<SizeCap>) -> Self {
        self.allowance = allowance;
        self.max_message = max;
        self
    }
}

/// What one mailbox may still move in this run by its hosts' daily limits
/// (Gmail: 2,500 MB downloaded, 500 MB uploaded per day), shared by its
/// folders and connections. A batch that would take the run past a limit
/// is not fetched: the mailbox pauses before the host locks it out.
/// Without limits it allows anything.
#[derive(Clone, Default)]
pub(crate) struct DailyAllowance {
    /// Tightest first.
    caps: Arc<Vec<DayCap>>,
    /// Bytes taken so far in this run.
    used: Arc<AtomicU64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DayCap {
    side: Side,
    host: String,
    /// "download" or "upload".
    what: &'static str,
    bytes: u64,
}

impl DailyAllowance {
    /// The job's hosts' limits: what a mailbox downloads from the source,
    /// and uploads to the destination (the same bytes).
    pub fn for_job(job: &Job) -> DailyAllowance {
        let mut caps: Vec<DayCap> = [
            (
                Side::Source,
                &job.source.host,
                "download",
                job.source.quirks.daily_download_bytes,
            ),
            (
                Side::Destination,
                &job.destination.host,
                "upload",
                job.destination.quirks.daily_upload_bytes,
            ),
        ]
        .into_iter()
        .filter_map(|(side, host, what, bytes)| {
            Some(DayCap {
                side,
                host: host.clone(),
                what,
                bytes: bytes?,
            })
        })
        .collect();
        caps.sort_by_key(|c| c.bytes);
        DailyAllowance {
            caps: Arc::new(caps),
            used: Arc::default(),
        }
    }

    /// Whether any host of the job has a daily limit.
    pub fn is_limited(&self) -> bool {
        !self.caps.is_empty()
    }

    /// Takes `bytes` for the next batch, or says (as the error the mailbox
    /// stops with) that they would take this run past a daily limit.
    pub fn take(&self, bytes: u64) -> Result<(), MailError> {
        let mut used = self.used.load(Ordering::SeqCst);
        loop {
            let after = used.saturating_add(bytes);
            if let Some(c) = self.caps.iter().find(|c| after > c.bytes) {
                return Err(MailError::daily_limit_ahead(
                    c.side, &c.host, c.what, c.bytes,
                ));
            }
            match self
                .used
                .compare_exchange(used, after, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }
}

/// The largest message a destination takes, when it does not say so with
/// APPENDLIMIT: its preset's figure, or the job's `max_message_mb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SizeCap {
    pub bytes: u64,
    /// "Microsoft 365", or the destination's host name.
    pub host: String,
    /// How the limit may be raised, where the host allows it.
    pub advice: String,
}

impl SizeCap {
    /// The cap for a job's destination, when it has one.
    pub fn for_job(job: &Job) -> Option<SizeCap> {
        let d = &job.destination;
        let bytes = d.quirks.max_message_bytes?;
        let host = d
            .preset
            .map_or(d.host.clone(), |p| p.info().name.to_string());
        let advice = d
            .preset
            .and_then(|p| p.raise_size_limit())
            .map(str::to_string)
            .unwrap_or_else(|| "If the host takes larger messages, raise max_message_mb in the job's [destination]; otherwise forward this one by hand.".into());
        Some(SizeCap {
            bytes,
            host,
            advice,
        })
    }

    /// Why a message of `size` in `folder` was not sent.
    fn words(&self, folder: &str, size: u64) -> String {
        format!(
            "The message of {} in folder {folder} is larger than {} accepts ({}), so it was not sent; the other messages were copied. {}",
            human_bytes(size),
            self.host,
            human_bytes(self.bytes),
            self.advice
        )
    }
}

impl ImapFolder<'_> {
    /// The UIDs of the open folder that the filters admit, judged by
    /// INTERNALDATE and RFC822.SIZE (one FETCH, no bodies); the oversized
    /// are named from their headers, fetched for them alone.
    async fn admitted(
        &mut self,
        filters: &Filters,
        left_out: &mut LeftOut,
    ) -> Result<Vec<u32>, MailError> {
        // What the filters judge by, a few bytes a message.
        let mut listed = Vec::new();
        self.client
            .fetch_meta_each(None, false, |m| {
                let day = m.internal_date.as_deref().and_then(day_of);
                listed.push((m.uid, day, m.size));
            })
            .await?;
        listed.sort_unstable_by_key(|(uid, _, _)| *uid);
        let mut uids = Vec::with_capacity(listed.len());
        for (uid, day, size) in listed {
            if left_out.admits(filters, &uid.to_string(), day, size) {
                uids.push(uid);
            }
        }
        let oversized: Vec<u32> = left_out
            .oversized
            .iter()
            .filter_map(|m| m.source_id.parse().ok())
            .collect();
        for m in self.client.fetch_meta(Some(&oversized), true).await? {
            left_out.name(&m.uid.to_string(), &m.header_fields);
        }
        Ok(uids)
    }
}

impl ImapFolder<'_> {
    /// Records each planned message larger than the destination's size cap
    /// (`big`: UID, size and header fields, empty where planning fetched
    /// none) as failed, named by its date, sender and subject (its header
    /// fetched for it alone when planning had none).
    async fn too_big(
        &mut self,
        big: Vec<(u32, u64, Vec<u8>)>,
        target: &mut Target<'_>,
    ) -> Result<(), MailError> {
        let Some(cap) = self.max_message.clone() else {
            return Ok(());
        };
        let bare: Vec<u32> = big
            .iter()
            .filter(|(_, _, fields)| fields.is_empty())
            .map(|(uid, _, _)| *uid)
            .collect();
        let mut fields: HashMap<u32, Vec<u8>> = match bare.is_empty() {
            true => HashMap::new(),
            false => self
                .client
                .fetch_meta(Some(&bare), true)
                .await?
                .into_iter()
                .map(|m| (m.uid, m.header_fields))
                .collect(),
        };
        let folder = target.dest.book.dest_name.clone();
        for (uid, size, header) in big {
            let header = fields.remove(&uid).unwrap_or(header);
            // The catalogue's entry for messages too big for the destination.
            let code = "message-too-big";
            dest::source_failure(
                target.state,
                &uid.to_string(),
                &header,
                cap.words(&folder, size),
                code,
            );
        }
        Ok(())
    }
}

impl KeepAlive for ImapFolder<'_> {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.client.noop()
    }
}

impl Source for ImapFolder<'_> {
    type Planned = Planned;
    type Fetched = Vec<FetchedBody>;

    async fn list(&mut self, task: &FolderTask, filters: &Filters) -> Result<Listing, MailError> {
        let mut left_out = LeftOut::default();
        // Without filters, opening and listing go in one round trip.
        let (sel, uids) = match (filters.is_empty(), self.prefetch) {
            (true, Prefetch::Nothing) => self.client.open_and_uids(&task.source_raw, true).await?,
            (true, what) => {
                let (sel, sizes, messages) = self
                    .client
                    .open_and_list(&task.source_raw, what == Prefetch::Messages)
                    .await?;
                let uids = sizes.iter().map(|(uid, _)| *uid).collect();
                self.listed_sizes = Some(sizes.into_iter().collect());
                self.prefetched = messages.into_iter().map(|m| (m.uid, m)).collect();
                (sel, uids)
            }
            (false, _) => {
                let sel = self.client.open_folder(&task.source_raw, true).await?;
                let uids = match sel.exists {
                    0 => Vec::new(),
                    _ => self.admitted(filters, &mut left_out).await?,
                };
                (sel, uids)
            }
        };
        self.exists = sel.exists;
        Ok(Listing {
            ledger: task.source_raw.clone(),
            uid_validity: sel.uid_validity,
            ids: uids.iter().map(u32::to_string).collect(),
            left_out,
            // The Inbox read over POP3 in another run is the same messages
            // under other ids.
            except: task
                .source_name
                .eq_ignore_ascii_case("INBOX")
                .then_some(POP3_INBOX),
        })
    }

    /// One FETCH of the pending messages' sizes (and header fields, when
    /// the destination holds anything to match by content), read as it
    /// arrives: what is found on the destination goes to the ledger as it
    /// is found, and each message to send is kept in a [`Planned`].
    async fn plan(
        &mut self,
        pending: Vec<String>,
        target: &mut Target<'_>,
    ) -> Result<Vec<Planned>, MailError> {
        let pending: Vec<u32> = pending.iter().filter_map(|id| id.parse().ok()).collect();
        self.from_bodies = target.dest.is_empty();
        let from_bodies = self.from_bodies;
        let cap = self.max_message.as_ref().map(|c| c.bytes);
        let mut sizes = match self.allowance.is_limited() {
            true => Some(&mut self.sizes),
            false => None,
        };
        let mut big = Vec::new();
        let mut to_copy = Vec::new();
        let mut found = Vec::new();
        let mut recorded = Ok(());
        // Sizes listed already do when no header is needed.
        let listed = self.listed_sizes.take().filter(|_| from_bodies);
        let mut each = |uid: u32, size: u64, fields: &[u8]| {
            if let Some(sizes) = sizes.as_deref_mut() {
                sizes.insert(uid, size);
            }
            if cap.is_some_and(|cap| size > cap) {
                big.push((uid, size, fields.to_vec()));
                return;
            }
            if from_bodies {
                to_copy.push(Planned {
                    uid,
                    size,
                    key: None,
                });
                return;
            }
            let digest = key_digest(size, fields);
            let key = key_text(&digest);
            let id = uid.to_string();
            match target
                .dest
                .found(target.state, target.tally, &id, size, &key)
            {
                Some(entry) => found.push(entry),
                None => to_copy.push(Planned {
                    uid,
                    size,
                    key: Some(Box::new(digest)),
                }),
            }
            // Recorded a few hundred at a time, not all kept till the end.
            if found.len() >= 500 && recorded.is_ok() {
                recorded = target.dest.record(&found);
                found.clear();
            }
        };
        match listed {
            Some(listed) => {
                for uid in &pending {
                    if let Some(size) = listed.get(uid) {
                        each(*uid, *size, &[]);
                    }
                }
            }
            None => {
                self.client
                    .fetch_sizes(&pending, !from_bodies, each)
                    .await?
            }
        }
        recorded?;
        target.dest.record(&found)?;
        self.too_big(big, target).await?;
        to_copy.shrink_to_fit();
        Ok(to_copy)
    }

    fn id(&self, m: &Planned) -> String {
        m.uid.to_string()
    }

    fn number(&self, m: &Planned) -> u32 {
        m.uid
    }

    fn size(&self, m: &Planned) -> u64 {
        m.size
    }

    fn fetch(
        &mut self,
        uids: &[u32],
        _max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<FetchedBody>, MailError>> + Send {
        let bytes = uids.iter().filter_map(|u| self.sizes.get(u)).sum();
        let allowed = self.allowance.take(bytes);
        // Read while listing: handed out as they are asked for.
        let read: Option<Vec<FetchedBody>> =
            match uids.iter().all(|u| self.prefetched.contains_key(u)) {
                true => Some(
                    uids.iter()
                        .filter_map(|u| self.prefetched.remove(u))
                        .collect(),
                ),
                false => None,
            };
        let fetch = self.client.fetch_bodies(uids);
        async move {
            allowed?;
            match read {
                Some(read) => Ok(read),
                None => fetch.await,
            }
        }
    }

    fn prepare(
        &mut self,
        batch: &[Planned],
        fetched: Vec<FetchedBody>,
        target: &mut Target<'_>,
    ) -> Result<Vec<Outgoing>, MailError> {
        let mut bodies: HashMap<u32, FetchedBody> =
            fetched.into_iter().map(|b| (b.uid, b)).collect();
        // A message expunged on the source since it was listed is gone;
        // there is nothing to copy.
        Ok(batch
            .iter()
            .filter_map(|m| {
                let FetchedBody {
                    body,
                    flags,
                    internal_date,
                    ..
                } = bodies.remove(&m.uid)?;
                let size = body.len() as u64;
                // The key is made from the bytes stored, as the destination
                // will report them; RFC822.SIZE normally agrees, and then
                // the key is made already. The header fields, for naming
                // the message should the destination refuse it, are read
                // from the body then ([`DestFolder::deliver`]).
                let (header_fields, content_key) = match m.key.as_ref().filter(|_| m.size == size) {
                    Some(digest) => (Vec::new(), key_text(digest)),
                    None => {
                        let fields = key_fields_of(&body);
                        let key = content_key(size, &fields);
                        (fields, key)
                    }
                };
                Some(Outgoing {
                    id: m.uid.to_string(),
                    header_fields,
                    content_key,
                    flags: target.dest.keep_flags(&flags, target.state),
                    internal_date,
                    body,
                })
            })
            .collect())
    }

    /// Planning matched by content already; the header fields of the
    /// messages planned are fetched to name them (those the census did not
    /// read already).
    async fn would_copy(
        &mut self,
        planned: Vec<Planned>,
        _target: &mut Target<'_>,
    ) -> Result<Vec<PlannedMessage>, MailError> {
        let mut named = std::mem::take(&mut self.described);
        let uids: Vec<u32> = planned
            .iter()
            .map(|m| m.uid)
            .filter(|uid| !named.contains_key(uid))
            .collect();
        if !uids.is_empty() {
            self.client
                .fetch_meta_each(Some(&uids), true, |m| {
                    named.insert(m.uid, describe(&m.header_fields));
                })
                .await?;
        }
        Ok(planned
            .into_iter()
            .map(|m| {
                let (date, from, subject) = named.remove(&m.uid).unwrap_or_default();
                PlannedMessage {
                    source_id: m.uid.to_string(),
                    date,
                    from,
                    subject,
                    size: m.size,
                }
            })
            .collect())
    }

    /// One FETCH of every message's size and key fields (which also name
    /// the messages a dry run would copy).
    async fn census(&mut self) -> Result<Vec<(u64, Option<String>)>, MailError> {
        if self.exists == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let described = &mut self.described;
        self.client
            .fetch_meta_each(None, true, |m| {
                out.push((m.size, Some(content_key(m.size, &m.header_fields))));
                described.insert(m.uid, describe(&m.header_fields));
            })
            .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> Job {
        let text = format!(
            "[source]\npreset = \"gmail\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"p\"\n{extra}\n[users]\nlist = \"jane,pw\"\n"
        );
        crate::job::JobFile::from_toml(&text)
            .and_then(|f| f.validate(std::path::Path::new(".")))
            .unwrap()
    }

    #[test]
    fn a_mailbox_stops_before_the_batch_that_would_pass_gmails_daily_download_limit() {
        let a = DailyAllowance::for_job(&job(""));
        let mb = 1_000_000;
        // 2,500 MB a day: 2,400 MB go, then 100 MB exactly reach the limit.
        assert!(a.take(2_400 * mb).is_ok());
        let shared = a.clone();
        assert!(shared.take(100 * mb).is_ok());
        // One byte more would pass it: refused, and nothing taken.
        let e = a.take(1).unwrap_err();
        assert_eq!(e.code(), "daily-limit");
        let words = e.to_string();
        assert!(words.starts_with("The daily limit was reached for this mailbox on the source server imap.gmail.com: the host lets each mailbox download 2,500 MB over IMAP a day"), "{words}");
        assert!(words.contains("copies nothing twice"), "{words}");
        assert_eq!(a.used.load(Ordering::SeqCst), 2_500 * mb);
    }

    #[test]
    fn the_tighter_daily_limit_of_the_two_hosts_is_the_one_said() {
        // Gmail to Gmail: 500 MB up is tighter than 2,500 MB down.
        let a = DailyAllowance::for_job(&job("preset = \"gmail\""));
        assert!(a.take(500_000_000).is_ok());
        let words = a.take(1).unwrap_err().to_string();
        assert!(
            words.contains(
                "on the destination server new.example: the host lets each mailbox upload 500 MB"
            ),
            "{words}"
        );
        // No preset, no limit.
        let mut plain = job("");
        plain.source.quirks = crate::job::Quirks::default();
        let a = DailyAllowance::for_job(&plain);
        assert!(a.take(u64::MAX / 2).is_ok());
        assert!(a.take(u64::MAX / 2).is_ok());
    }

    #[test]
    fn microsoft_365s_size_cap_says_how_an_admin_raises_it() {
        let cap = SizeCap::for_job(&job("preset = \"microsoft-365\"")).unwrap();
        assert_eq!(cap.bytes, 35_000_000);
        let words = cap.words("Archive", 41_900_000);
        assert_eq!(
            words,
            "The message of 41.9 MB in folder Archive is larger than Microsoft 365 accepts (35.0 MB), so it was not sent; the other messages were copied. An administrator can raise the limit to 150 MB (Exchange Online PowerShell: Set-Mailbox -Identity <mailbox> -MaxReceiveSize 150MB), then set max_message_mb = 150 in the job's [destination] and run the job again: it sends only what is missing."
        );
        let raised =
            SizeCap::for_job(&job("preset = \"microsoft-365\"\nmax_message_mb = 150")).unwrap();
        assert_eq!(raised.bytes, 150_000_000);
        assert!(SizeCap::for_job(&job("")).is_none());
    }
}
