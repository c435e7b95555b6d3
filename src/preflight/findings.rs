//! What the report needs that a dry run alone does not keep, gathered as
//! the dry run goes (the copy engine calls in where it has the answer at
//! hand): each destination mailbox's quota and size limit, where each
//! folder goes and whether that folder exists, what the skipped folders
//! hold, and each source folder's full census (messages, bytes, exact
//! duplicates). Only a dry run made for the report has a collector.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use crate::copy::mapping::FolderTask;
use crate::copy::Connector;
use crate::error::MailError;
use crate::imap::{FolderSize, ImapClient, ListedFolder, Quota};
use crate::job::UserEntry;

/// The collector of one report, shared by the dry run's mailbox tasks.
#[derive(Default)]
pub(crate) struct Findings {
    /// By (source user, destination user).
    mailboxes: Mutex<HashMap<(String, String), MailboxFacts>>,
}

/// What was found of one mailbox.
#[derive(Debug, Clone, Default)]
pub(crate) struct MailboxFacts {
    /// The destination's quota roots of the Inbox (GETQUOTAROOT).
    pub quota: Vec<Quota>,
    /// The destination's APPENDLIMIT.
    pub append_limit: Option<u64>,
    /// Source folders the job's rules leave out, with what they hold
    /// (`None`: not selectable, or the server would not say).
    pub skipped: Vec<(String, Option<FolderSize>)>,
    /// By source folder name (as the user sees it).
    pub folders: HashMap<String, FolderFacts>,
    /// Destination folders a copy would create (parents included).
    pub creates: u64,
    /// Time spent on reading only the report needs (no copy does it), to
    /// take out of the mailbox's measured time.
    pub extra: Duration,
}

/// What was found of one source folder.
#[derive(Debug, Clone, Default)]
pub(crate) struct FolderFacts {
    /// Its name on the wire, to read a sample of it.
    pub raw: String,
    /// Whether its destination folder exists already.
    pub exists: bool,
    /// Whether the job reads it over POP3 (the Inbox of a POP3 job).
    pub over_pop3: bool,
    /// What STATUS said it holds, before it was listed.
    pub expected: Option<FolderSize>,
    /// What it holds, message by message, once listed.
    pub census: Option<Census>,
}

/// A source folder counted message by message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Census {
    pub messages: u64,
    pub bytes: u64,
    /// Messages whose content key another message of the folder has too:
    /// the copies beyond the first of each.
    pub duplicates: u64,
    /// Whether duplicates could be looked for (a POP3 server without TOP
    /// gives no headers short of downloading).
    pub keyed: bool,
}

impl Census {
    /// Counts a folder from each message's size and content key (`None`
    /// when its header could not be read).
    pub fn of(messages: &[(u64, Option<String>)]) -> Census {
        let mut keys = HashSet::new();
        let mut duplicates = 0;
        for (_, key) in messages {
            if let Some(k) = key {
                if !keys.insert(k.as_str()) {
                    duplicates += 1;
                }
            }
        }
        Census {
            messages: messages.len() as u64,
            bytes: messages.iter().map(|(size, _)| size).sum(),
            duplicates,
            keyed: messages.iter().all(|(_, k)| k.is_some()),
        }
    }
}

impl Findings {
    fn with(&self, user: &UserEntry, f: impl FnOnce(&mut MailboxFacts)) {
        // A panic elsewhere leaves plain data: still usable.
        let mut all = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        f(all
            .entry((user.source_user.clone(), user.local_user.clone()))
            .or_default());
    }

    /// What was found of `user`'s mailbox (once: it is taken out).
    pub fn take(&self, user: (&str, &str)) -> MailboxFacts {
        let mut all = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(&(user.0.to_string(), user.1.to_string()))
            .unwrap_or_default()
    }

    /// Once a dry run has planned a mailbox's folders (`absent`: the
    /// destination folders it would create), with both servers' sessions
    /// open and no folder selected: the destination's quota and size
    /// limit, each folder's plan, and what the skipped folders hold.
    #[allow(clippy::too_many_arguments)]
    pub async fn planned(
        &self,
        user: &UserEntry,
        connect: &Connector,
        src: Option<&mut ImapClient>,
        dst: &mut ImapClient,
        listed: &[ListedFolder],
        tasks: &[FolderTask],
        absent: &HashSet<String>,
    ) -> Result<(), MailError> {
        let started = std::time::Instant::now();
        let quota = dst.quota("INBOX").await?;
        let append_limit = dst.append_limit();
        let planned: HashSet<&str> = tasks.iter().map(|t| t.source_raw.as_str()).collect();
        let skipped: Vec<&ListedFolder> = listed
            .iter()
            .filter(|f| !planned.contains(f.raw.as_str()))
            .collect();
        let selectable: Vec<&str> = skipped
            .iter()
            .filter(|f| f.selectable)
            .map(|f| f.raw.as_str())
            .collect();
        let mut sizes = match src {
            Some(src) if !selectable.is_empty() => src.sizes(&selectable).await?,
            _ => Vec::new(),
        }
        .into_iter();
        let skipped: Vec<(String, Option<FolderSize>)> = skipped
            .iter()
            .map(|f| {
                let size = match f.selectable {
                    true => sizes.next().flatten(),
                    false => None,
                };
                (f.name.clone(), size)
            })
            .collect();
        let folders = tasks
            .iter()
            .filter(|t| t.selectable)
            .map(|t| {
                let facts = FolderFacts {
                    raw: t.source_raw.clone(),
                    exists: !absent.contains(&t.dest_raw),
                    over_pop3: connect.over_pop3(&t.source_name),
                    expected: t.expected,
                    census: None,
                };
                (t.source_name.clone(), facts)
            })
            .collect();
        let took = started.elapsed();
        self.with(user, |m| {
            m.quota = quota;
            m.append_limit = append_limit;
            m.skipped = skipped;
            m.folders = folders;
            m.creates = absent.len() as u64;
            m.extra += took;
        });
        Ok(())
    }

    /// A source folder, counted message by message (taking `took`).
    pub fn counted(&self, user: &UserEntry, folder: &str, census: Census, took: Duration) {
        self.with(user, |m| {
            m.folders.entry(folder.to_string()).or_default().census = Some(census);
            m.extra += took;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_census_counts_the_copies_beyond_the_first_of_each_key() {
        let k = |s: &str| Some(s.to_string());
        let c = Census::of(&[(10, k("a")), (10, k("a")), (20, k("b")), (10, k("a"))]);
        assert_eq!(
            c,
            Census {
                messages: 4,
                bytes: 50,
                duplicates: 2,
                keyed: true
            }
        );
        let unkeyed = Census::of(&[(5, None), (5, None)]);
        assert_eq!((unkeyed.duplicates, unkeyed.keyed), (0, false));
        assert_eq!(Census::of(&[]).messages, 0);
    }
}
