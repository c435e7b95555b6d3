//! The Inbox read over POP3: every message by UIDL, dated from its headers,
//! matched against the destination by content key after download (POP3 has
//! no cheap header fetch, and its LIST sizes are not always exact).

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::dest::{self, Outgoing};
use super::key::{content_key, key_fields_of};
use super::mapping::FolderTask;
use super::pop_date;
use super::source::{Listing, Source, Target};
use super::KeepAlive;
use crate::error::MailError;
use crate::pop3::{Fetched, Pop3Client};
use crate::store::POP3_INBOX;

/// The ledger folder of the Inbox read over IMAP: its entries are the same
/// messages under other ids, so they don't count as copies here.
const IMAP_INBOX: &str = "INBOX";

pub(crate) struct PopInbox<'a> {
    pop: &'a mut Pop3Client,
    /// Message numbers and UIDLs, as listed.
    uidl: Vec<(u32, String)>,
    /// Sizes by message number, as listed.
    sizes: HashMap<u32, u64>,
}

impl<'a> PopInbox<'a> {
    pub fn new(pop: &'a mut Pop3Client) -> PopInbox<'a> {
        PopInbox {
            pop,
            uidl: Vec::new(),
            sizes: HashMap::new(),
        }
    }
}

impl KeepAlive for PopInbox<'_> {
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), MailError>> {
        self.pop.noop()
    }
}

impl Source for PopInbox<'_> {
    type Planned = (u32, String);
    type Fetched = Vec<Fetched>;

    async fn list(&mut self, _task: &FolderTask) -> Result<Listing, MailError> {
        self.uidl = self.pop.uidl().await?;
        Ok(Listing {
            ledger: POP3_INBOX.into(),
            uid_validity: 0,
            ids: self.uidl.iter().map(|(_, uid)| uid.clone()).collect(),
            except: Some(IMAP_INBOX),
        })
    }

    async fn plan(
        &mut self,
        pending: Vec<String>,
        _target: &mut Target<'_>,
    ) -> Result<Vec<(u32, String)>, MailError> {
        let pending: HashSet<String> = pending.into_iter().collect();
        self.sizes = self.pop.list().await?.into_iter().collect();
        Ok(std::mem::take(&mut self.uidl)
            .into_iter()
            .filter(|(_, uid)| pending.contains(uid))
            .collect())
    }

    fn id(&self, m: &(u32, String)) -> String {
        m.1.clone()
    }

    fn number(&self, m: &(u32, String)) -> u32 {
        m.0
    }

    fn size(&self, m: &(u32, String)) -> u64 {
        self.sizes.get(&m.0).copied().unwrap_or(0)
    }

    fn fetch(
        &mut self,
        msgnos: &[u32],
        max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<Fetched>, MailError>> + Send {
        self.pop
            .retr_many(msgnos, usize::try_from(max_bytes).unwrap_or(usize::MAX))
    }

    fn prepare(
        &mut self,
        batch: &[(u32, String)],
        fetched: Vec<Fetched>,
        target: &mut Target<'_>,
    ) -> Result<Vec<Outgoing>, MailError> {
        let mut found = Vec::new();
        let mut outgoing = Vec::new();
        for ((_, uid), body) in batch.iter().zip(fetched) {
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    dest::source_failure(target.state, uid, &[], e.to_string(), e.code());
                    continue;
                }
            };
            let header_fields = key_fields_of(&body);
            let size = body.len() as u64;
            let key = content_key(size, &header_fields);
            if let Some(entry) = target
                .dest
                .found(target.state, target.tally, uid, size, &key)
            {
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
        target.dest.record(&found)?;
        Ok(outgoing)
    }
}
