//! One mailbox: connect, plan folders, copy each with retries. The Inbox is
//! read over POP3 for POP3, POP3S and Auto jobs; every other folder over IMAP.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::dest::{FolderState, SourceList, Tally};
use super::folder::{DailyAllowance, ImapFolder, Prefetch, SizeCap};
use super::mapping::{self, FolderTask, Labels, Naming};
use super::pop_inbox::PopInbox;
use super::source;
use super::{dry, scope_of, verify, with_keepalive, Ctx, Mode};
use crate::error::{ErrorClass, MailError};
use crate::imap::{utf7, FolderSize, ImapClient, ListedFolder};
use crate::job::{GmailViews, UserEntry};
use crate::outcome::{FolderOutcome, MailboxOutcome, Verification};
use crate::progress::Event;
use crate::store::{DestSnapshot, Verified};

pub(crate) async fn run_mailbox(ctx: &Ctx, user: &UserEntry) -> MailboxOutcome {
    let started = Instant::now();
    let account = user.source_user.clone();
    let mut outcome = MailboxOutcome {
        source_user: user.source_user.clone(),
        local_user: user.local_user.clone(),
        ..Default::default()
    };
    if ctx.cancel.is_cancelled() {
        // Never started: nothing to log out of, nothing to record.
        Stop::from(&MailError::Cancelled).record(&mut outcome);
        ctx.emit(Event::MailboxFinished {
            account,
            verdict: outcome.verdict(),
            outcome: outcome.clone(),
        });
        return outcome;
    }
    ctx.emit(Event::MailboxStarted {
        account: account.clone(),
    });
    let _slot = ctx.pairs.mailbox();
    if let Err(stop) = copy_mailbox(ctx, user, &mut outcome).await {
        stop.record(&mut outcome);
    }
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    ctx.emit(Event::MailboxFinished {
        account,
        verdict: outcome.verdict(),
        outcome: outcome.clone(),
    });
    outcome
}

/// Why a mailbox (or a folder) stopped: the words a user reads, and the
/// code of their entry in the error catalogue.
struct Stop {
    words: String,
    code: &'static str,
}

impl From<&MailError> for Stop {
    fn from(e: &MailError) -> Stop {
        Stop {
            words: e.to_string(),
            code: e.code(),
        }
    }
}

impl Stop {
    fn record(self, outcome: &mut MailboxOutcome) {
        outcome.error = Some(self.words);
        outcome.error_code = Some(self.code.into());
    }
}

/// Counts reconnects after transient faults, and pauses before each.
struct Retry<'a> {
    ctx: &'a Ctx,
    account: &'a str,
    /// Failures in a row without progress.
    attempt: u32,
}

impl<'a> Retry<'a> {
    fn new(ctx: &'a Ctx, account: &'a str) -> Retry<'a> {
        Retry {
            ctx,
            account,
            attempt: 0,
        }
    }

    /// Messages got through: the next fault starts a fresh count.
    fn progressed(&mut self) {
        self.attempt = 0;
    }

    /// After a failure: `Ok` once it is worth trying again (after a pause
    /// with backoff and jitter), or the error to give up with.
    async fn again(&mut self, e: MailError, folder: &str) -> Result<(), MailError> {
        if e.class() != ErrorClass::Transient || self.attempt >= self.ctx.opts.retries {
            return Err(e);
        }
        self.attempt += 1;
        self.ctx.emit(Event::Retrying {
            account: self.account.to_string(),
            folder: folder.to_string(),
            attempt: self.attempt,
            reason: e.to_string(),
        });
        tokio::select! {
            _ = tokio::time::sleep(self.ctx.opts.pause_before(self.attempt)) => Ok(()),
            _ = self.ctx.cancel.cancelled() => Err(MailError::Cancelled),
        }
    }

    /// The words for an error given up on: a transient one says that
    /// MailFerry tried again, and what then.
    fn final_words(&self, e: &MailError) -> Stop {
        let words = if e.class() == ErrorClass::Transient && self.attempt > 0 {
            format!(
                "{e} MailFerry reconnected {} time{} without getting further, so it stopped here; run the job again later: it resumes where it stopped.",
                self.attempt,
                if self.attempt == 1 { "" } else { "s" }
            )
        } else {
            e.to_string()
        };
        Stop {
            words,
            code: e.code(),
        }
    }
}

/// The long-lived connections of a mailbox: the destination, and the IMAP
/// source when the job reads any folder over IMAP. POP3 sessions are opened
/// for the Inbox only (POP3 servers may lock the mailbox while one is open).
struct Conns {
    imap: Option<ImapClient>,
    dst: ImapClient,
}

impl Conns {
    /// Both sides at once: a distant server's logins take several round
    /// trips each.
    async fn open(ctx: &Ctx, user: &UserEntry) -> Result<Conns, MailError> {
        let mut c = Self::open_uncompressed(ctx, user).await?;
        c.compress_if_wanted().await?;
        Ok(c)
    }

    /// [`Conns::open`] without compression yet: the mailbox's first pair,
    /// which may find nothing to copy (a re-run), then sends no COMPRESS.
    async fn open_uncompressed(ctx: &Ctx, user: &UserEntry) -> Result<Conns, MailError> {
        let (imap, dst) = tokio::join!(
            ctx.connect.source_imap_uncompressed(user),
            ctx.connect.destination_uncompressed(user)
        );
        match (imap, dst) {
            (Ok(imap), Ok(dst)) => Ok(Conns { imap, dst }),
            (Err(e), dst) => {
                if let Ok(dst) = dst {
                    dst.logout().await;
                }
                Err(e)
            }
            (Ok(imap), Err(e)) => {
                if let Some(imap) = imap {
                    imap.logout().await;
                }
                Err(e)
            }
        }
    }

    /// Both sides' compression, where wanted, at once.
    async fn compress_if_wanted(&mut self) -> Result<(), MailError> {
        let source = async {
            match self.imap.as_mut() {
                Some(imap) => imap.compress_if_wanted().await,
                None => Ok(()),
            }
        };
        let (source, dst) = tokio::join!(source, self.dst.compress_if_wanted());
        source.and(dst)
    }

    /// The longer of the two sides' round trips.
    fn round_trip(&self) -> std::time::Duration {
        let source = self.imap.as_ref().map(ImapClient::round_trip);
        self.dst.round_trip().max(source.unwrap_or_default())
    }

    async fn close(self) {
        let source = async {
            if let Some(imap) = self.imap {
                imap.logout().await;
            }
        };
        tokio::join!(source, self.dst.logout());
    }
}

fn naming(c: &ImapClient) -> Naming {
    Naming {
        prefix: utf7::decode(c.prefix()).unwrap_or_else(|| c.prefix().to_string()),
        delimiter: c.delimiter(),
    }
}

/// Copies one folder (over POP3 when it is the Inbox of a job that reads
/// the Inbox over POP3), then compares it with its destination folder. A
/// verifying job only compares; a dry run only plans.
async fn copy_one(
    ctx: &Ctx,
    user: &UserEntry,
    conns: &mut Conns,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
    shared: &Shared,
) -> Result<(), MailError> {
    let over_pop3 = ctx.connect.over_pop3(&task.source_name);
    let exists = !shared.absent.contains(&task.dest_raw);
    let verifiable = ctx.mode == Mode::Copy && !over_pop3;
    if verifiable {
        if let Some(v) = shared.unchanged.get(&task.source_raw) {
            if settle_unchanged(ctx, user, task, state, tally, v)? {
                return Ok(());
            }
        }
        // Looked at afresh: an earlier verification no longer stands.
        ctx.store
            .set_verified(scope_of(ctx, user), &task.source_raw, None)?;
    }
    let dst = &mut conns.dst;
    if over_pop3 {
        let mut pop = ctx.connect.source_pop3(user).await?;
        let mut inbox = PopInbox::new(&mut pop);
        let work = source::read(ctx, user, &mut inbox, dst, task, state, tally, exists);
        // An Auto job's IMAP source waits for the other folders meanwhile:
        // NOOPs keep it from being dropped for silence.
        let res = match conns.imap.as_mut() {
            Some(imap) => with_keepalive(imap, ctx.opts.keepalive, work).await,
            None => work.await,
        };
        pop.quit().await;
        res?;
    } else {
        // The destination's size limit stands in only where it gives none
        // itself; the pre-flight report lists such mail on its own.
        let cap = match dst.append_limit().is_none() && ctx.findings.is_none() {
            true => SizeCap::for_job(&ctx.job),
            false => None,
        };
        let imap = conns.imap.as_mut().ok_or_else(|| {
            MailError::Internal("a folder other than the Inbox of a POP3 job".into())
        })?;
        // Into a folder this run created, every message will be fetched
        // (read with the listing only where no daily limit must be checked
        // before each download). A dry run would send every message of a
        // folder it would create: their sizes come with the listing.
        let prefetch = match ctx.mode {
            Mode::Copy if shared.created.contains(&task.dest_raw) => {
                match shared.allowance.is_limited() {
                    true => Prefetch::Sizes,
                    false => Prefetch::for_new_destination(task.expected.as_ref()),
                }
            }
            Mode::DryRun if !exists => Prefetch::Sizes,
            _ => Prefetch::Nothing,
        };
        source::read(
            ctx,
            user,
            &mut ImapFolder::new(imap)
                .with_limits(shared.allowance.clone(), cap)
                .with_prefetch(prefetch),
            dst,
            task,
            state,
            tally,
            exists,
        )
        .await?;
    }
    if ctx.mode == Mode::DryRun {
        return Ok(());
    }
    let Some(list) = state.source.take() else {
        return Ok(());
    };
    // The POP3 Inbox has no source connection to read headers from.
    let src = match over_pop3 {
        true => None,
        false => conns.imap.as_mut(),
    };
    let expected = state.expected_snapshot.take();
    let (v, dest_now) = verify::folder(
        ctx,
        user,
        src,
        &mut conns.dst,
        task,
        &list,
        state.failures(),
        exists,
        expected,
    )
    .await?;
    let clean = v.missing.is_empty() && v.extra.is_empty() && state.failures().is_empty();
    if let (true, true, Some(dest)) = (verifiable, clean, dest_now) {
        keep_verified(ctx, user, task, &list, dest)?;
    }
    state.verification = Some(Box::new(v));
    Ok(())
}

/// A folder found complete: kept, with both sides' STATUS, when the
/// folder's STATUS before the copy (`task.expected`) is what was listed
/// and every message listed is in the ledger as copied there, so that
/// while neither side changes a re-run needs no more than STATUS.
fn keep_verified(
    ctx: &Ctx,
    user: &UserEntry,
    task: &FolderTask,
    list: &SourceList,
    dest: DestSnapshot,
) -> Result<(), MailError> {
    let Some(FolderSize {
        messages,
        uid_next: Some(uid_next),
        uid_validity: Some(uid_validity),
        ..
    }) = task.expected
    else {
        return Ok(());
    };
    if uid_validity != list.uid_validity
        || list.ids.len() as u64 != messages
        || !ctx.job.filters.is_empty()
    {
        return Ok(());
    }
    let scope = scope_of(ctx, user);
    let copied = ctx
        .store
        .ids_copied_into(scope, &list.ledger, uid_validity, &task.dest_raw)?;
    let listed: HashSet<&str> = list.ids.iter().map(|id| id.as_str()).collect();
    if copied.len() != listed.len() || !copied.iter().all(|id| listed.contains(id.as_str())) {
        return Ok(());
    }
    let verified = Verified {
        source: DestSnapshot {
            uid_validity,
            uid_next,
            messages: messages as u32,
        },
        dest_folder: task.dest_raw.clone(),
        dest,
    };
    ctx.store.set_verified(scope, &list.ledger, Some(&verified))
}

/// A folder neither side changed since its last clean verification (both
/// STATUS answers are as they were then): every message is there, as the
/// ledger says. `false` when the ledger does not bear that out, or a run
/// left uploads into it unconfirmed: then the folder is looked at.
fn settle_unchanged(
    ctx: &Ctx,
    user: &UserEntry,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
    v: &Verified,
) -> Result<bool, MailError> {
    let scope = scope_of(ctx, user);
    if !ctx.store.intents(scope, &task.source_raw)?.is_empty() {
        return Ok(false);
    }
    let ids = ctx.store.ids_copied_into(
        scope,
        &task.source_raw,
        v.source.uid_validity,
        &task.dest_raw,
    )?;
    if ids.len() != v.source.messages as usize {
        return Ok(false);
    }
    for id in &ids {
        state.present(id);
    }
    state.settle(tally, task.expected, (0, 0));
    let (source, dest) = (u64::from(v.source.messages), u64::from(v.dest.messages));
    state.verification = Some(Box::new(Verification {
        source_messages: source,
        destination_messages: dest,
        missing: Vec::new(),
        extra: Vec::new(),
        other: dest.saturating_sub(source),
    }));
    Ok(true)
}

/// What the folder workers of one mailbox share.
#[derive(Default)]
struct Shared {
    /// One lock per destination folder: folders copied into the same
    /// destination folder go one after another, so each counts what the
    /// others put there before matching by content.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Destination folders that do not exist (a verifying job or a dry
    /// run creates none).
    absent: HashSet<String>,
    /// What the mailbox may still move today by its hosts' daily limits.
    allowance: DailyAllowance,
    /// Source folders (raw names) neither side changed since their last
    /// clean verification, with it.
    unchanged: HashMap<String, Verified>,
    /// Destination folders (raw names) this run created.
    created: HashSet<String>,
}

impl Shared {
    async fn lock(&self, dest_raw: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(dest_raw.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// The folders of a mailbox, planned, and the ones the destination refused
/// to create (by destination name) with why.
struct Plan {
    tasks: Vec<FolderTask>,
    not_created: HashMap<String, MailError>,
    /// Destination folders that do not exist (only when verifying, or in
    /// a dry run).
    absent: HashSet<String>,
    /// What the log says of the mailbox's folders as a whole: Gmail's
    /// views left out, a dry run's decisions.
    notes: Vec<String>,
    /// See [`Shared::unchanged`].
    unchanged: HashMap<String, Verified>,
    /// See [`Shared::created`].
    created: HashSet<String>,
}

/// Connects, lists both sides, plans the folders and creates them on the
/// destination (parents and empty folders too, so the tree is complete).
async fn prepare(ctx: &Ctx, user: &UserEntry) -> Result<(Conns, Plan), MailError> {
    let mut conns = Conns::open_uncompressed(ctx, user).await?;
    match plan_and_create(ctx, user, &mut conns).await {
        Ok(plan) => Ok((conns, plan)),
        Err(e) => {
            if e.class() != ErrorClass::Transient {
                conns.close().await;
            }
            Err(e)
        }
    }
}

async fn plan_and_create(
    ctx: &Ctx,
    user: &UserEntry,
    conns: &mut Conns,
) -> Result<Plan, MailError> {
    // Both sides' folders at once.
    let (listed, dst_listed) = match conns.imap.as_mut() {
        Some(imap) => {
            let (src, dst) = tokio::join!(imap.list(), conns.dst.list());
            (Some(src?), dst?)
        }
        None => (None, conns.dst.list().await?),
    };
    let (listed, src_naming, skip) = match (listed, conns.imap.as_ref()) {
        (Some(listed), Some(imap)) => (listed, naming(imap), ctx.job.skip.clone()),
        // POP3 has the Inbox only; folder skips don't apply (the job warns).
        _ => (
            vec![ListedFolder {
                raw: "INBOX".into(),
                name: "INBOX".into(),
                delimiter: None,
                selectable: true,
                special_use: None,
            }],
            Naming {
                prefix: String::new(),
                delimiter: None,
            },
            Vec::new(),
        ),
    };
    let dst_naming = naming(&conns.dst);
    let labels = Labels {
        source: ctx.job.source.quirks.labels_as_folders,
        copy_views: ctx.job.gmail_views == GmailViews::Copy,
        destination: ctx.job.destination.quirks.labels_as_folders,
    };
    let mut tasks = mapping::plan(
        &listed,
        &src_naming,
        &dst_listed,
        &dst_naming,
        &skip,
        &ctx.job.translations,
        ctx.job.special_use,
        labels,
    );
    // Gmail's views left out, each said with why (the log has no other
    // trace of a folder not copied).
    let views = mapping::skipped_views(&listed, &src_naming, labels);
    let mut notes: Vec<String> = views.iter().map(mapping::skipped_view_note).collect();
    // The views, and a folder left out for holding nothing else, are
    // accounted for by those notes: not "skipped by the job's rules".
    let planned: HashSet<&str> = tasks.iter().map(|t| t.source_raw.as_str()).collect();
    let holds_view = |f: &ListedFolder| {
        let inside = format!(
            "{}{}",
            f.name,
            f.delimiter.map(String::from).unwrap_or_default()
        );
        f.delimiter.is_some() && views.iter().any(|v| v.folder.name.starts_with(&inside))
    };
    let listed: Vec<ListedFolder> = listed
        .iter()
        .filter(|f| !views.iter().any(|v| v.folder.raw == f.raw))
        .filter(|f| planned.contains(f.raw.as_str()) || !holds_view(f))
        .cloned()
        .collect();
    if let Some(imap) = conns.imap.as_mut() {
        holding_mail_though_noselect(imap, &mut tasks).await?;
    }
    let mut existing: HashSet<String> = dst_listed.iter().map(|f| f.raw.clone()).collect();
    existing.insert("INBOX".into());
    let mut not_created = HashMap::new();
    if ctx.mode == Mode::Verify {
        let absent = tasks
            .iter()
            .filter(|t| !existing.contains(&t.dest_raw))
            .map(|t| t.dest_raw.clone())
            .collect();
        return Ok(Plan {
            tasks,
            not_created,
            absent,
            notes,
            unchanged: HashMap::new(),
            created: HashSet::new(),
        });
    }
    // What each folder holds, so progress totals are known from the start
    // (one round trip per few dozen folders). A POP3 job's lone Inbox
    // gets its totals when it starts.
    // With it, the destination's STATUS of each folder verified complete
    // by an earlier run: where neither side changed since, the folder is
    // done (see `settle_unchanged`).
    let mut unchanged = HashMap::new();
    if let Some(imap) = conns.imap.as_mut() {
        let raws: Vec<&str> = tasks
            .iter()
            .filter(|t| t.selectable)
            .map(|t| t.source_raw.as_str())
            .collect();
        let verified = match ctx.mode == Mode::Copy && ctx.job.filters.is_empty() {
            true => earlier_verifications(ctx, user, &tasks)?,
            false => Vec::new(),
        };
        let dest_raws: Vec<&str> = verified.iter().map(|v| v.dest_folder.as_str()).collect();
        let (sizes, dest_now) = tokio::join!(imap.sizes(&raws), async {
            match dest_raws.is_empty() {
                true => Ok(Vec::new()),
                false => conns.dst.statuses_of(&dest_raws).await,
            }
        });
        let (sizes, dest_now) = (sizes?, dest_now?);
        for (task, size) in tasks.iter_mut().filter(|t| t.selectable).zip(sizes) {
            task.expected = size;
        }
        for (v, now) in verified.into_iter().zip(dest_now) {
            let same = |a: Option<FolderSize>, b: DestSnapshot| {
                a.is_some_and(|a| {
                    a.messages == u64::from(b.messages)
                        && a.uid_next == Some(b.uid_next)
                        && a.uid_validity == Some(b.uid_validity)
                })
            };
            let task = tasks
                .iter()
                .find(|t| t.selectable && t.dest_raw == v.dest_folder && unchanged_source(t, &v));
            if let (Some(task), true) = (task, same(now, v.dest)) {
                unchanged.insert(task.source_raw.clone(), v);
            }
        }
    }
    if ctx.mode == Mode::DryRun {
        let dry = dry::folders(&listed, &mut tasks, &mut existing, &dst_naming);
        if let Some(findings) = &ctx.findings {
            let (src, dst) = (conns.imap.as_mut(), &mut conns.dst);
            findings
                .planned(user, &ctx.connect, src, dst, &listed, &tasks, &dry.absent)
                .await?;
        }
        notes.extend(dry.notes);
        return Ok(Plan {
            tasks,
            not_created,
            absent: dry.absent,
            notes,
            unchanged: HashMap::new(),
            created: HashSet::new(),
        });
    }
    // Every folder missing on the destination, parents first, created in
    // one pipelined exchange.
    let mut to_create = Vec::new();
    for task in &tasks {
        let mut names = mapping::ancestors(&task.dest_name, &dst_naming);
        names.push(task.dest_name.clone());
        for name in names {
            let raw = utf7::encode(&name);
            if existing.insert(raw.clone()) {
                to_create.push(raw);
            }
        }
    }
    let results = conns.dst.create_all(&to_create).await?;
    let mut refused = HashMap::new();
    let mut created = HashSet::new();
    for (raw, result) in to_create.iter().zip(results) {
        match result {
            Ok(()) => {
                created.insert(raw.clone());
            }
            // A name this server refuses fails that folder alone.
            Err(e) if e.class() == ErrorClass::FatalForFolder => {
                refused.insert(raw.as_str(), e);
            }
            Err(e) => return Err(e),
        }
    }
    for task in &tasks {
        let leaf = utf7::encode(&task.dest_name);
        let refusal = refused
            .get(task.dest_raw.as_str())
            .or_else(|| refused.get(leaf.as_str()));
        if let Some(e) = refusal {
            not_created.insert(task.dest_name.clone(), e.clone());
        }
    }
    Ok(Plan {
        tasks,
        not_created,
        absent: HashSet::new(),
        notes,
        unchanged,
        created,
    })
}

/// The earlier clean verifications of this mailbox's folders that still
/// point where the folders go now.
fn earlier_verifications(
    ctx: &Ctx,
    user: &UserEntry,
    tasks: &[FolderTask],
) -> Result<Vec<Verified>, MailError> {
    let mut out = Vec::new();
    for t in tasks.iter().filter(|t| t.selectable) {
        if ctx.connect.over_pop3(&t.source_name) {
            continue;
        }
        if let Some(v) = ctx.store.verified(scope_of(ctx, user), &t.source_raw)? {
            if v.dest_folder == t.dest_raw {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Whether the source folder's STATUS now is what it was when verified.
fn unchanged_source(task: &FolderTask, v: &Verified) -> bool {
    task.expected.is_some_and(|e| {
        e.messages == u64::from(v.source.messages)
            && e.uid_next == Some(v.source.uid_next)
            && e.uid_validity == Some(v.source.uid_validity)
    })
}

/// A folder listed `\Noselect` that STATUS still counts messages in is
/// copied like any other. Dovecot lists an auto-created folder that got a
/// subfolder before its first message that way for good, while SELECT,
/// STATUS and APPEND all work on it: skipping it would leave its mail
/// behind without a word. One pipelined round trip, only for such folders.
async fn holding_mail_though_noselect(
    imap: &mut ImapClient,
    tasks: &mut [FolderTask],
) -> Result<(), MailError> {
    let raws: Vec<&str> = tasks
        .iter()
        .filter(|t| !t.selectable)
        .map(|t| t.source_raw.as_str())
        .collect();
    if raws.is_empty() {
        return Ok(());
    }
    let sizes = imap.sizes(&raws).await?;
    for (task, size) in tasks.iter_mut().filter(|t| !t.selectable).zip(sizes) {
        if let Some(size) = size.filter(|s| s.messages > 0) {
            task.selectable = true;
            task.notes.push(format!(
                "The source lists {:?} as a folder that holds no messages (\\Noselect), yet counts {} in it: they were copied too.",
                task.source_name, size.messages
            ));
        }
    }
    Ok(())
}

/// Copies a mailbox: its folders are shared out to up to
/// `connections_per_mailbox` workers, each with its own connections (a
/// server that refuses the extra connections just gets fewer workers). A
/// transient fault drops a worker's connections and retries (with backoff)
/// where its folder stopped: the ledger and the destination's content keys
/// say what is already there, so nothing is lost or copied twice. Returns
/// why the mailbox stopped.
async fn copy_mailbox(
    ctx: &Ctx,
    user: &UserEntry,
    outcome: &mut MailboxOutcome,
) -> Result<(), Stop> {
    let account = user.source_user.as_str();
    let mut retry = Retry::new(ctx, account);
    let (
        conns,
        Plan {
            tasks,
            not_created,
            absent,
            notes,
            unchanged,
            created,
        },
    ) = loop {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::from(&MailError::Cancelled));
        }
        match prepare(ctx, user).await {
            Ok(ready) => break ready,
            Err(e) => {
                if let Err(e) = retry.again(e, "").await {
                    return Err(retry.final_words(&e));
                }
            }
        }
    };
    outcome.notes.extend(notes);
    let mut done = Vec::new();
    let mut queue = VecDeque::new();
    for (i, task) in tasks.iter().filter(|t| t.selectable).enumerate() {
        match not_created.get(&task.dest_name) {
            Some(e) => {
                let folder = FolderState::default().finish(task, Some((e.to_string(), e.code())));
                ctx.emit(Event::FolderFinished {
                    account: user.source_user.clone(),
                    outcome: folder.clone(),
                });
                done.push((i, folder));
            }
            None => queue.push_back((i, task)),
        }
    }
    let queue = Mutex::new(queue);
    // One pair asked for stays one pair, however distant the servers.
    let per_mailbox = ctx.opts.connections_per_mailbox;
    let wanted = match conns.round_trip() >= super::options::DISTANT && per_mailbox > 1 {
        true => ctx.opts.connections_when_distant.max(per_mailbox),
        false => per_mailbox,
    };
    let workers = wanted.clamp(1, queue.lock().map(|q| q.len()).unwrap_or(1).max(1));
    let stopping = AtomicBool::new(false);
    let tally = Tally::new(&user.source_user);
    let queued = queue.lock().map(|q| q.clone()).unwrap_or_default();
    let known = queued.iter().any(|(_, t)| t.expected.is_some());
    if let (true, Some((_, first))) = (known, queued.front()) {
        let (messages, bytes) = queued
            .iter()
            .filter_map(|(_, t)| t.expected)
            .fold((0, 0), |(m, b), e| {
                (m + e.messages, b + e.bytes.unwrap_or(0))
            });
        tally.expect(messages, bytes);
        ctx.emit(tally.event(&first.source_name));
    }
    // Folders with mail to look at: extra connection pairs may open now,
    // while the first pair lists and plans (a re-run where nothing changed
    // opens none). A dry run spreads its folders as the copy would: over a
    // distant link each waits for several round trips.
    let work = queued.iter().any(|(_, t)| {
        t.expected.is_some_and(|e| e.messages > 0) && !unchanged.contains_key(&t.source_raw)
    });
    if ctx.mode != Mode::Verify && work {
        tally.work_found();
    }
    // The first pair compresses only now, and not when it has nothing to
    // carry: a re-run with nothing new spares COMPRESS its round trip
    // (nothing is open on either side yet). A connection this breaks fails
    // its next command, which is retried like any other.
    let nothing_new = queued.iter().all(|(_, t)| {
        unchanged.contains_key(&t.source_raw) || t.expected.is_some_and(|e| e.messages == 0)
    });
    let mut conns = conns;
    if !(ctx.mode == Mode::Copy && nothing_new) {
        let _ = conns.compress_if_wanted().await;
    }
    let shared = Shared {
        absent,
        unchanged,
        created,
        allowance: DailyAllowance::for_job(&ctx.job),
        ..Default::default()
    };
    let mut first = Some(conns);
    let runs = (0..workers).map(|_| {
        let conns = first.take();
        worker(ctx, user, conns, &queue, &stopping, tally.clone(), &shared)
    });
    let results = futures_util::future::join_all(runs).await;
    let mut stopped = None;
    for (folders, why) in results {
        done.extend(folders);
        stopped = stopped.or(why);
    }
    done.sort_by_key(|(i, _)| *i);
    outcome.folders.extend(done.into_iter().map(|(_, f)| f));
    match stopped {
        Some(stop) => Err(stop),
        None if ctx.cancel.is_cancelled() && outcome.folders.len() < queue_len(&tasks) => {
            Err(Stop::from(&MailError::Cancelled))
        }
        None => Ok(()),
    }
}

fn queue_len(tasks: &[FolderTask]) -> usize {
    tasks.iter().filter(|t| t.selectable).count()
}

/// Takes folders from the queue until it is empty or the mailbox must stop.
/// A worker without connections (all but the first) opens its own first; if
/// the servers refuse them, it leaves the folders to the others.
async fn worker(
    ctx: &Ctx,
    user: &UserEntry,
    conns: Option<Conns>,
    queue: &Mutex<VecDeque<(usize, &FolderTask)>>,
    stopping: &AtomicBool,
    tally: Tally,
    shared: &Shared,
) -> (Vec<(usize, FolderOutcome)>, Option<Stop>) {
    let first = conns.is_some();
    let result = work(ctx, user, conns, queue, stopping, tally.clone(), shared).await;
    if first {
        // Workers still waiting for a folder with work need not wait longer.
        tally.first_done();
    }
    result
}

async fn work(
    ctx: &Ctx,
    user: &UserEntry,
    mut conns: Option<Conns>,
    queue: &Mutex<VecDeque<(usize, &FolderTask)>>,
    stopping: &AtomicBool,
    mut tally: Tally,
    shared: &Shared,
) -> (Vec<(usize, FolderOutcome)>, Option<Stop>) {
    let mut done = Vec::new();
    // An extra worker's place among the job's connection pairs.
    let mut _slot = None;
    if conns.is_none() {
        // Another pair of logins pays off only once a folder has messages
        // to copy (a re-run with nothing new never opens it), and only
        // while the job has room for more pairs.
        tokio::select! {
            _ = tally.wait_for_work() => {}
            _ = ctx.cancel.cancelled() => return (done, None),
        }
        loop {
            let empty = queue.lock().map(|q| q.is_empty()).unwrap_or(true);
            if empty || stopping.load(Ordering::SeqCst) || ctx.cancel.is_cancelled() {
                return (done, None);
            }
            if let Some(slot) = ctx.pairs.extra() {
                _slot = Some(slot);
                break;
            }
            tokio::select! {
                _ = ctx.pairs.room() => {}
                _ = tally.wait_for_first_done() => {}
                _ = ctx.cancel.cancelled() => return (done, None),
            }
        }
        match Conns::open(ctx, user).await {
            Ok(c) => conns = Some(c),
            Err(_) => return (done, None),
        }
    }
    loop {
        if stopping.load(Ordering::SeqCst) || ctx.cancel.is_cancelled() {
            break;
        }
        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
        let Some((i, task)) = next else { break };
        let (folder, stop) =
            copy_with_retries(ctx, user, &mut conns, task, &mut tally, shared).await;
        ctx.emit(Event::FolderFinished {
            account: user.source_user.clone(),
            outcome: folder.clone(),
        });
        done.push((i, folder));
        if let Some(why) = stop {
            stopping.store(true, Ordering::SeqCst);
            if let Some(c) = conns.take() {
                c.close().await;
            }
            return (done, Some(why));
        }
    }
    if let Some(c) = conns.take() {
        c.close().await;
    }
    (done, None)
}

/// Copies one folder, reconnecting and resuming after transient faults.
/// Returns its outcome, and why the mailbox stops when it cannot go on (a
/// fatal error, or servers that can no longer be reached).
async fn copy_with_retries(
    ctx: &Ctx,
    user: &UserEntry,
    conns: &mut Option<Conns>,
    task: &FolderTask,
    tally: &mut Tally,
    shared: &Shared,
) -> (FolderOutcome, Option<Stop>) {
    let _only_one_into_this_folder = shared.lock(&task.dest_raw).await;
    let mut state = FolderState::default();
    let mut retry = Retry::new(ctx, &user.source_user);
    let mut connecting = false;
    let folder_error = loop {
        let mark = state.progress_mark();
        let result = async {
            if conns.is_none() {
                connecting = true;
                *conns = Some(Conns::open(ctx, user).await?);
                connecting = false;
            }
            let c = conns.as_mut().expect("connected just above");
            copy_one(ctx, user, c, task, &mut state, tally, shared).await
        }
        .await;
        let Err(e) = result else { break None };
        if state.progress_mark() != mark {
            retry.progressed();
        }
        if e.class() == ErrorClass::Transient {
            // The connection is broken or in an unknown state: drop it
            // (a LOGOUT would only wait for a server that is not there).
            *conns = None;
        }
        match retry.again(e, &task.source_name).await {
            Ok(()) => continue,
            Err(e) => break Some(e),
        }
    };
    let Some(e) = folder_error else {
        return (state.finish(task, None), None);
    };
    let why = retry.final_words(&e);
    let folder = state.finish(task, Some((why.words.clone(), why.code)));
    // The mailbox stops when it cannot go on (a fatal error), and when the
    // servers cannot even be reached any more; otherwise the next folder
    // gets fresh connections and its own retries.
    let stop = e.class() == ErrorClass::FatalForMailbox || connecting;
    (folder, stop.then_some(why))
}
