//! The destination is the truth: what a destination folder really holds of
//! a source folder. The ledger's entries are believed only while the
//! destination bears them out: at once when the folder's STATUS is what it
//! was when the ledger last agreed with it (a re-run with nothing new costs
//! one STATUS a folder), otherwise after looking at its UIDs. Entries it no
//! longer bears out are forgotten and their messages sent again; batches a
//! run sent without hearing back (its intents) are looked for, once the
//! connections they went over are over, before anything is sent again.

use std::collections::{HashMap, HashSet};

use super::dest::{Available, DestFolder, FolderState};
use super::key::content_key;
use super::mapping::FolderTask;
use super::{lingering, Ctx, Mode};
use crate::error::MailError;
use crate::imap::{FolderStatus, ImapClient, Selected};
use crate::job::UserEntry;
use crate::store::{Claim, DestSnapshot, LedgerEntry, Recorded, Scope, Store};

/// The ledger of one source folder copied into one destination folder.
pub(crate) struct Book {
    store: Store,
    job: String,
    account: String,
    dest_user: String,
    /// The source folder under its ledger name (raw IMAP name, or
    /// [`crate::store::POP3_INBOX`]).
    pub folder: String,
    pub uid_validity: u32,
    pub dest_raw: String,
    /// Its name as the user reads it.
    pub dest_name: String,
    /// The destination folder's UIDVALIDITY, once it is open.
    pub dest_uid_validity: u32,
    /// A dry run's book: it reads the ledger and writes nothing to it.
    dry: bool,
}

impl Book {
    pub fn new(
        ctx: &Ctx,
        user: &UserEntry,
        folder: &str,
        uid_validity: u32,
        task: &FolderTask,
    ) -> Book {
        Book {
            store: ctx.store.clone(),
            job: ctx.job_name.clone(),
            account: user.source_user.clone(),
            dest_user: user.local_user.clone(),
            folder: folder.to_string(),
            uid_validity,
            dest_raw: task.dest_raw.clone(),
            dest_name: task.dest_name.clone(),
            dest_uid_validity: 0,
            dry: ctx.mode == Mode::DryRun,
        }
    }

    pub fn scope(&self) -> Scope<'_> {
        Scope {
            job: &self.job,
            account: &self.account,
            dest_user: &self.dest_user,
        }
    }

    /// Keeps what reached the destination (and settles its intents).
    pub fn record(&self, entries: &[LedgerEntry]) -> Result<(), MailError> {
        if self.dry {
            return Ok(());
        }
        self.store.record(
            self.scope(),
            &self.folder,
            self.uid_validity,
            &self.dest_raw,
            self.dest_uid_validity,
            entries,
        )
    }

    /// Before an APPEND: which messages it carries, over which connection.
    pub fn intend(&self, connection: &str, items: &[(&str, &str)]) -> Result<(), MailError> {
        if self.dry {
            return Ok(());
        }
        self.store.intend(
            self.scope(),
            &self.folder,
            &self.dest_raw,
            connection,
            items,
        )
    }

    /// Drops intents that need nothing more (`None`: all of this folder).
    pub fn settle(&self, ids: Option<&[String]>) -> Result<(), MailError> {
        if self.dry {
            return Ok(());
        }
        self.store.settle_intents(self.scope(), &self.folder, ids)
    }

    pub fn set_snapshot(&self, snap: Option<DestSnapshot>) -> Result<(), MailError> {
        if self.dry {
            return Ok(());
        }
        self.store
            .set_dest_snapshot(self.scope(), &self.dest_raw, snap)
    }
}

pub(crate) fn snapshot_of(st: FolderStatus) -> DestSnapshot {
    DestSnapshot {
        uid_validity: st.uid_validity,
        uid_next: st.uid_next,
        messages: st.messages,
    }
}

/// Which destination copies the ledger still accounts for, judged against
/// the UIDs the folder holds now.
pub(crate) struct Standing<'a> {
    pub uid_validity: u32,
    pub uids: &'a HashSet<u32>,
}

impl Standing<'_> {
    /// Whether the destination bears out an entry: it went into this very
    /// folder (same UIDVALIDITY) and, where its UID there is known, that
    /// UID is still there. Without a UID (a server without UIDPLUS) only
    /// its content key can be counted.
    pub fn holds(&self, dest_uid: Option<u32>, dest_uid_validity: Option<u32>) -> bool {
        dest_uid_validity == Some(self.uid_validity)
            && dest_uid.is_none_or(|u| self.uids.contains(&u))
    }

    /// The destination copies that entries account for: by UID, and by key
    /// where the UID is not known. Entries of `except` are left out.
    pub fn claimed(
        &self,
        claims: &[Claim],
        except: Option<&str>,
    ) -> (HashSet<u32>, HashMap<String, usize>) {
        let mut uids = HashSet::new();
        let mut keys: HashMap<String, usize> = HashMap::new();
        for c in claims {
            if Some(c.folder.as_str()) == except || !self.holds(c.dest_uid, c.dest_uid_validity) {
                continue;
            }
            match c.dest_uid {
                Some(u) => {
                    uids.insert(u);
                }
                None => *keys.entry(c.content_key.clone()).or_default() += 1,
            }
        }
        (uids, keys)
    }
}

/// Waits until the uploads an interrupted run left unconfirmed into this
/// folder are over (whatever the server still does with them must be done
/// before the folder is looked at). Whether there were any.
async fn wait_for_interrupted_uploads(
    ctx: &Ctx,
    book: &Book,
    state: &mut FolderState,
) -> Result<bool, MailError> {
    let intents = ctx.store.intents(book.scope(), &book.folder)?;
    if intents.is_empty() {
        return Ok(false);
    }
    let waited = lingering::wait(
        intents.iter().map(|i| i.connection.as_str()),
        ctx.opts.timeout,
    )
    .await;
    if waited.as_secs() >= 1 {
        state.note(format!(
            "Waited {} s for the destination to finish an upload an interrupted run had started, before looking for its messages.",
            waited.as_secs()
        ));
    }
    // What an earlier run sent and this one finds counts as already there;
    // only this run's own unconfirmed appends (in `state` already) count
    // as copied when found.
    Ok(true)
}

/// Whether the destination folder is as the ledger last saw it agree (one
/// STATUS), every recorded copy of `source_ids` in it.
async fn unchanged<'l>(
    ctx: &Ctx,
    dst: &mut ImapClient,
    book: &Book,
    source_ids: &[String],
    recorded: &impl Fn(&String) -> Option<&'l Recorded>,
) -> Result<bool, MailError> {
    let Some(snap) = ctx.store.dest_snapshot(book.scope(), &book.dest_raw)? else {
        return Ok(false);
    };
    let now = snapshot_of(dst.status(&book.dest_raw).await?);
    let same_folder = source_ids
        .iter()
        .all(|id| recorded(id).is_some_and(|e| e.dest_uid_validity == Some(now.uid_validity)));
    Ok(now == snap && same_folder)
}

/// What the folder holds that no entry accounts for: the copies a source
/// message may be matched to by content key, by key.
async fn unclaimed_copies(
    dst: &mut ImapClient,
    standing: &Standing<'_>,
    claims: &[Claim],
    except: Option<&str>,
) -> Result<Available, MailError> {
    let (claimed_uids, mut key_claims) = standing.claimed(claims, except);
    let mut unclaimed: Vec<u32> = standing.uids.difference(&claimed_uids).copied().collect();
    unclaimed.sort_unstable();
    // Each copy's header read as it arrives, none kept.
    let mut available = Available::default();
    dst.fetch_sizes(&unclaimed, true, |uid, size, fields| {
        let key = content_key(size, fields);
        match key_claims.get_mut(&key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => available.add(&key, uid),
        }
    })
    .await?;
    Ok(available)
}

/// What is left to send after the destination was consulted.
pub(crate) struct Opened {
    pub dest: DestFolder,
    /// Source ids the destination lacks, in source order.
    pub pending: Vec<String>,
}

/// Whether the destination folder of `task` may be opened (SELECT and
/// UID SEARCH) while the source is still being listed, before the ledger
/// is consulted: [`open`] would open it anyway. It would not when one
/// STATUS may do (a snapshot is kept), nor before an interrupted run's
/// uploads into it are over (intents are kept under `ledger_names`).
pub(crate) fn opens_anyway(
    ctx: &Ctx,
    scope: Scope<'_>,
    task: &FolderTask,
    ledger_names: &[&str],
) -> Result<bool, MailError> {
    if ctx.mode != Mode::Copy || ctx.store.dest_snapshot(scope, &task.dest_raw)?.is_some() {
        return Ok(false);
    }
    for name in ledger_names {
        if !ctx.store.intents(scope, name)?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The destination folder as opened early (see [`opens_anyway`]): how
/// SELECT found it, and its UIDs.
pub(crate) type OpenedEarly = (Selected, Vec<u32>);

/// Decides, against the destination, which of `source_ids` it already
/// holds (marked present in `state`), and opens the destination folder for
/// the rest (`None`: nothing to send). `except`: the Inbox under its other
/// protocol's ledger name, whose entries are the same messages. `early`:
/// the folder as opened beside the source's listing, when it was.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn open(
    ctx: &Ctx,
    dst: &mut ImapClient,
    mut book: Book,
    source_ids: &[String],
    except: Option<&str>,
    state: &mut FolderState,
    early: Option<OpenedEarly>,
) -> Result<Option<Opened>, MailError> {
    let ledger = ctx
        .store
        .folder_ledger(book.scope(), &book.folder, book.uid_validity)?;
    let interrupted = match early {
        Some(_) => false,
        None => wait_for_interrupted_uploads(ctx, &book, state).await?,
    };
    let recorded = |id: &String| {
        ledger
            .entries
            .get(id)
            .filter(|e| e.dest_folder == book.dest_raw)
    };

    // A re-run with nothing new: one STATUS tells whether the folder is
    // as the ledger last saw it agree.
    if !interrupted
        && early.is_none()
        && source_ids.iter().all(|id| recorded(id).is_some())
        && unchanged(ctx, dst, &book, source_ids, &recorded).await?
    {
        for id in source_ids {
            state.present(id);
        }
        return Ok(None);
    }

    // Otherwise, the folder itself: which UIDs it holds now (a dry run
    // only looks: EXAMINE changes nothing there, not even \Recent).
    let (sel, dest_uids) = match early {
        Some(opened) => opened,
        None => {
            dst.open_and_uids(&book.dest_raw, ctx.mode == Mode::DryRun)
                .await?
        }
    };
    book.dest_uid_validity = sel.uid_validity;
    let dest_uids: HashSet<u32> = dest_uids.into_iter().collect();
    let standing = Standing {
        uid_validity: sel.uid_validity,
        uids: &dest_uids,
    };
    // Entries of any source folder that point here and that the folder no
    // longer bears out are forgotten: their messages are sent again.
    let claims = ctx
        .store
        .claims_for_matching(book.scope(), &book.dest_raw, None)?;
    let mut stale: HashMap<&str, Vec<String>> = HashMap::new();
    for c in claims
        .iter()
        .filter(|c| !standing.holds(c.dest_uid, c.dest_uid_validity))
    {
        stale
            .entry(c.folder.as_str())
            .or_default()
            .push(c.id.to_string());
    }
    // A dry run keeps them: it changes nothing, and what it decides does
    // not depend on them.
    if !book.dry {
        for (folder, ids) in &stale {
            ctx.store.forget(book.scope(), folder, ids)?;
        }
    }
    let mut pending = Vec::new();
    let mut recreated = false;
    for id in source_ids {
        match recorded(id) {
            Some(e) if standing.holds(e.dest_uid, e.dest_uid_validity) => state.present(id),
            // An entry from before destination UIDs were kept proves
            // nothing either way: its message is looked for by content.
            Some(e) if e.dest_uid_validity.is_none() => pending.push(id.clone()),
            Some(e) => {
                recreated |= e.dest_uid_validity != Some(sel.uid_validity);
                state.gone_from_destination(id);
                pending.push(id.clone());
            }
            None => pending.push(id.clone()),
        }
    }
    state.destination_recreated(recreated);
    if pending.is_empty() {
        if let Some(uid_next) = sel.uid_next {
            book.set_snapshot(Some(DestSnapshot {
                uid_validity: sel.uid_validity,
                uid_next,
                messages: sel.exists,
            }))?;
        }
        book.settle(None)?;
        return Ok(None);
    }

    let available = unclaimed_copies(dst, &standing, &claims, except).await?;
    Ok(Some(Opened {
        dest: DestFolder::new(book, sel, available),
        pending,
    }))
}
