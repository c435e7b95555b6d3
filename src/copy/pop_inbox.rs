//! The Inbox read over POP3: every message by UIDL, dated from its headers,
//! matched against the destination by content key after download (POP3 has
//! no cheap header fetch, and its LIST sizes are not always exact).
//! The job's filters judge LIST's size and the header's date, read with
//! TOP n 0 where the server has it, else once the message is downloaded.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::dest::{self, Outgoing};
use super::filter::{day_of, LeftOut};
use super::key::{content_key, describe, key_fields_of};
use super::mapping::FolderTask;
use super::pop_date;
use super::source::{Listing, Source, Target};
use super::KeepAlive;
use crate::error::MailError;
use crate::job::Filters;
use crate::outcome::PlannedMessage;
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
    /// The job's filters, as listing applied them.
    filters: Filters,
    /// Messages whose header TOP could not give, when the date filters
    /// need it: judged once downloaded, and then not sent if left out.
    undated: HashSet<u32>,
}

impl<'a> PopInbox<'a> {
    pub fn new(pop: &'a mut Pop3Client) -> PopInbox<'a> {
        PopInbox {
            pop,
            uidl: Vec::new(),
            sizes: HashMap::new(),
            filters: Filters::default(),
            undated: HashSet::new(),
        }
    }

    /// Sets aside the messages the filters leave out, by LIST's size and
    /// the date in the header (TOP n 0, only when a date filter needs it or
    /// to name an oversized message); `self.uidl` keeps the rest.
    async fn screen(&mut self, filters: &Filters) -> Result<LeftOut, MailError> {
        let mut left_out = LeftOut::default();
        self.sizes = self.pop.list().await?.into_iter().collect();
        let size = |n: &u32| self.sizes.get(n).copied().unwrap_or(0);
        let wanted: Vec<u32> = match self.pop.can_top() {
            true => self
                .uidl
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| filters.by_date() || filters.too_large(size(n)))
                .collect(),
            false => Vec::new(),
        };
        let headers: HashMap<u32, Vec<u8>> = wanted
            .iter()
            .copied()
            .zip(self.pop.top_many(&wanted, 0).await?)
            .filter_map(|(n, top)| Some((n, top.ok()?)))
            .collect();
        let mut admitted = Vec::with_capacity(self.uidl.len());
        for (n, uid) in std::mem::take(&mut self.uidl) {
            let header = headers.get(&n);
            let day = header
                .and_then(|h| pop_date::internal_date(h))
                .and_then(|d| day_of(&d));
            if filters.by_date() && header.is_none() && !filters.too_large(size(&n)) {
                self.undated.insert(n);
            }
            if left_out.admits(filters, &uid, day, size(&n)) {
                admitted.push((n, uid));
            } else if let Some(h) = header {
                left_out.name(&uid, &key_fields_of(h));
            }
        }
        self.uidl = admitted;
        Ok(left_out)
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

    async fn list(&mut self, _task: &FolderTask, filters: &Filters) -> Result<Listing, MailError> {
        self.uidl = self.pop.uidl().await?;
        self.filters = *filters;
        let left_out = match filters.is_empty() {
            true => LeftOut::default(),
            false => self.screen(filters).await?,
        };
        Ok(Listing {
            ledger: POP3_INBOX.into(),
            uid_validity: 0,
            ids: self.uidl.iter().map(|(_, uid)| uid.clone()).collect(),
            except: Some(IMAP_INBOX),
            left_out,
        })
    }

    async fn plan(
        &mut self,
        pending: Vec<String>,
        _target: &mut Target<'_>,
    ) -> Result<Vec<(u32, String)>, MailError> {
        let pending: HashSet<String> = pending.into_iter().collect();
        if self.filters.is_empty() {
            self.sizes = self.pop.list().await?.into_iter().collect();
        }
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
        for ((n, uid), body) in batch.iter().zip(fetched) {
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    dest::source_failure(target.state, uid, &[], e.to_string(), e.code());
                    continue;
                }
            };
            let internal_date = pop_date::internal_date(&body);
            if self.undated.contains(n) {
                let day = internal_date.as_deref().and_then(day_of);
                let listed = self.sizes.get(n).copied().unwrap_or(0);
                if !self.filters.admits(day, listed) {
                    target.state.left_out_after_fetch(target.tally, uid, listed);
                    continue;
                }
            }
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
                internal_date,
                header_fields,
                content_key: key,
                flags: Vec::new(),
                body: body.into(),
            });
        }
        target.dest.record(&found)?;
        Ok(outgoing)
    }

    /// A copy matches POP3 messages against the destination once they are
    /// downloaded; a dry run reads their headers alone (TOP n 0) and
    /// matches by those and LIST's size instead.
    async fn would_copy(
        &mut self,
        planned: Vec<(u32, String)>,
        target: &mut Target<'_>,
    ) -> Result<Vec<PlannedMessage>, MailError> {
        let headers: Vec<Option<Vec<u8>>> = match self.pop.can_top() {
            true => {
                let numbers: Vec<u32> = planned.iter().map(|(n, _)| *n).collect();
                let tops = self.pop.top_many(&numbers, 0).await?;
                tops.into_iter().map(Result::ok).collect()
            }
            false => vec![None; planned.len()],
        };
        let size = |n: &u32| self.sizes.get(n).copied().unwrap_or(0);
        let mut out = Vec::with_capacity(planned.len());
        for ((n, uid), header) in planned.into_iter().zip(headers) {
            let fields = header.as_deref().map(key_fields_of);
            if let Some(fields) = &fields {
                let key = content_key(size(&n), fields);
                if target
                    .dest
                    .found(target.state, target.tally, &uid, size(&n), &key)
                    .is_some()
                {
                    continue;
                }
            } else {
                target.state.note(
                    "Dry run: the source did not send some headers alone (TOP), so those messages are listed without their date, sender and subject, and were not looked for on the destination by content: a copy may find some of them there already.".into(),
                );
            }
            let (date, from, subject) = describe(fields.as_deref().unwrap_or_default());
            out.push(PlannedMessage {
                source_id: uid,
                date,
                from,
                subject,
                size: size(&n),
            });
        }
        Ok(out)
    }

    /// LIST's sizes, and the keys of the headers alone (TOP n 0) where the
    /// server has TOP, as a dry run matches them.
    async fn census(&mut self) -> Result<Vec<(u64, Option<String>)>, MailError> {
        let sizes = self.pop.list().await?;
        let numbers: Vec<u32> = sizes.iter().map(|(n, _)| *n).collect();
        let headers: Vec<Option<Vec<u8>>> = match self.pop.can_top() {
            true => self
                .pop
                .top_many(&numbers, 0)
                .await?
                .into_iter()
                .map(Result::ok)
                .collect(),
            false => vec![None; numbers.len()],
        };
        Ok(sizes
            .iter()
            .zip(headers)
            .map(|((_, size), header)| {
                let key = header.map(|h| content_key(*size, &key_fields_of(&h)));
                (*size, key)
            })
            .collect())
    }
}
