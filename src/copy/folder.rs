//! An IMAP source folder: its messages by UID, matched against the
//! destination by content key before anything is fetched, sent with their
//! flags and INTERNALDATE.

use std::collections::HashMap;
use std::future::Future;

use super::dest::Outgoing;
use super::filter::{day_of, LeftOut};
use super::key::{content_key, describe, key_fields_of};
use super::mapping::FolderTask;
use super::source::{Listing, Source, Target};
use super::KeepAlive;
use crate::error::MailError;
use crate::imap::{FetchedBody, ImapClient, MessageBytes, MessageMeta};
use crate::job::Filters;
use crate::outcome::PlannedMessage;
use crate::store::POP3_INBOX;

pub(crate) struct ImapFolder<'a> {
    client: &'a mut ImapClient,
    /// Keys are made from the bodies as they arrive (nothing on the
    /// destination to match: the source need not read every header twice).
    from_bodies: bool,
    /// Each key made while planning, to go with its message to the ledger.
    keys: HashMap<u32, String>,
    /// Messages in the folder as it was opened.
    exists: u32,
}

impl<'a> ImapFolder<'a> {
    pub fn new(client: &'a mut ImapClient) -> ImapFolder<'a> {
        ImapFolder {
            client,
            from_bodies: false,
            keys: HashMap::new(),
            exists: 0,
        }
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
        let mut metas = self.client.fetch_meta(None, false).await?;
        metas.sort_unstable_by_key(|m| m.uid);
        let mut uids = Vec::with_capacity(metas.len());
        for m in &metas {
            let day = m.internal_date.as_deref().and_then(day_of);
            if left_out.admits(filters, &m.uid.to_string(), day, m.size) {
                uids.push(m.uid);
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

impl KeepAlive for ImapFolder<'_> {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.client.noop()
    }
}

impl Source for ImapFolder<'_> {
    type Planned = MessageMeta;
    type Fetched = Vec<FetchedBody>;

    async fn list(&mut self, task: &FolderTask, filters: &Filters) -> Result<Listing, MailError> {
        let sel = self.client.open_folder(&task.source_raw, true).await?;
        self.exists = sel.exists;
        let mut left_out = LeftOut::default();
        let uids = match sel.exists {
            0 => Vec::new(),
            _ if filters.is_empty() => self.client.uids().await?,
            _ => self.admitted(filters, &mut left_out).await?,
        };
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

    async fn plan(
        &mut self,
        pending: Vec<String>,
        target: &mut Target<'_>,
    ) -> Result<Vec<MessageMeta>, MailError> {
        let pending: Vec<u32> = pending.iter().filter_map(|id| id.parse().ok()).collect();
        self.from_bodies = target.dest.is_empty();
        let metas = self
            .client
            .fetch_meta(Some(&pending), !self.from_bodies)
            .await?;
        if self.from_bodies {
            return Ok(metas);
        }
        let mut found = Vec::new();
        let mut to_copy = Vec::new();
        for m in metas {
            let key = content_key(m.size, &m.header_fields);
            match target
                .dest
                .found(target.state, target.tally, &m.uid.to_string(), m.size, &key)
            {
                Some(entry) => found.push(entry),
                None => {
                    self.keys.insert(m.uid, key);
                    to_copy.push(m);
                }
            }
        }
        target.dest.record(&found)?;
        Ok(to_copy)
    }

    fn id(&self, m: &MessageMeta) -> String {
        m.uid.to_string()
    }

    fn number(&self, m: &MessageMeta) -> u32 {
        m.uid
    }

    fn size(&self, m: &MessageMeta) -> u64 {
        m.size
    }

    fn fetch(
        &mut self,
        uids: &[u32],
        _max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<FetchedBody>, MailError>> + Send {
        self.client.fetch_bodies(uids)
    }

    fn prepare(
        &mut self,
        batch: &[MessageMeta],
        fetched: Vec<FetchedBody>,
        target: &mut Target<'_>,
    ) -> Result<Vec<Outgoing>, MailError> {
        let mut bodies: HashMap<u32, MessageBytes> =
            fetched.into_iter().map(|b| (b.uid, b.body)).collect();
        // A message expunged on the source since it was listed is gone;
        // there is nothing to copy.
        Ok(batch
            .iter()
            .filter_map(|m| {
                let body = bodies.remove(&m.uid)?;
                let size = body.len() as u64;
                let (header_fields, content_key) = match self.from_bodies {
                    true => {
                        let fields = key_fields_of(&body);
                        let key = content_key(size, &fields);
                        (fields, key)
                    }
                    // The key is made from the bytes stored, as the
                    // destination will report them; RFC822.SIZE normally
                    // agrees, and then the key is made already.
                    false => {
                        let key = self
                            .keys
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
                    flags: target.dest.keep_flags(&m.flags, target.state),
                    internal_date: m.internal_date.clone(),
                    body,
                })
            })
            .collect())
    }

    /// Planning matched by content already; the header fields of those
    /// planned without them (nothing on the destination to match) are
    /// fetched for them alone.
    async fn would_copy(
        &mut self,
        planned: Vec<MessageMeta>,
        _target: &mut Target<'_>,
    ) -> Result<Vec<PlannedMessage>, MailError> {
        let bare: Vec<u32> = planned
            .iter()
            .filter(|m| m.header_fields.is_empty())
            .map(|m| m.uid)
            .collect();
        let mut fields: HashMap<u32, Vec<u8>> = self
            .client
            .fetch_meta(Some(&bare), true)
            .await?
            .into_iter()
            .map(|m| (m.uid, m.header_fields))
            .collect();
        Ok(planned
            .into_iter()
            .map(|m| {
                let header = fields.remove(&m.uid).unwrap_or(m.header_fields);
                let (date, from, subject) = describe(&header);
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

    /// One FETCH of every message's size and key fields.
    async fn census(&mut self) -> Result<Vec<(u64, Option<String>)>, MailError> {
        if self.exists == 0 {
            return Ok(Vec::new());
        }
        let metas = self.client.fetch_meta(None, true).await?;
        Ok(metas
            .iter()
            .map(|m| (m.size, Some(content_key(m.size, &m.header_fields))))
            .collect())
    }
}
