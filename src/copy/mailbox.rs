//! One mailbox: connect, plan folders, copy each with retries. The Inbox is
//! read over POP3 for POP3, POP3S and Auto jobs; every other folder over IMAP.

use std::collections::HashSet;
use std::time::Instant;

use super::dest::{FolderState, Tally};
use super::mapping::{self, FolderTask, Naming};
use super::{folder, pop_inbox, Ctx};
use crate::error::{ErrorClass, MailError};
use crate::imap::{utf7, ImapClient, ListedFolder};
use crate::job::UserEntry;
use crate::outcome::{FolderOutcome, MailboxOutcome};
use crate::pop3::Pop3Client;
use crate::progress::Event;

pub(crate) async fn run_mailbox(ctx: &Ctx, user: &UserEntry) -> MailboxOutcome {
    let started = Instant::now();
    let account = user.source_user.clone();
    ctx.emit(Event::MailboxStarted {
        account: account.clone(),
    });
    let mut outcome = MailboxOutcome {
        source_user: user.source_user.clone(),
        local_user: user.local_user.clone(),
        ..Default::default()
    };
    if let Err(e) = copy_mailbox(ctx, user, &mut outcome).await {
        outcome.error = Some(e.to_string());
    }
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    ctx.emit(Event::MailboxFinished {
        account,
        verdict: outcome.verdict(),
        outcome: outcome.clone(),
    });
    outcome
}

/// The long-lived connections of a mailbox: the destination, and the IMAP
/// source when the job reads any folder over IMAP. POP3 sessions are opened
/// for the Inbox only (POP3 servers may lock the mailbox while one is open).
struct Conns {
    imap: Option<ImapClient>,
    dst: ImapClient,
}

impl Conns {
    async fn open(ctx: &Ctx, user: &UserEntry) -> Result<Conns, MailError> {
        let imap = match ctx.reads_imap() {
            true => {
                Some(ImapClient::connect(&ctx.source_endpoint(), &ctx.source_login(user)).await?)
            }
            false => None,
        };
        match ImapClient::connect(&ctx.destination_endpoint(), &ctx.destination_login(user)).await {
            Ok(dst) => Ok(Conns { imap, dst }),
            Err(e) => {
                if let Some(imap) = imap {
                    imap.logout().await;
                }
                Err(e)
            }
        }
    }

    async fn close(self) {
        if let Some(imap) = self.imap {
            imap.logout().await;
        }
        self.dst.logout().await;
    }
}

fn naming(c: &ImapClient) -> Naming {
    Naming {
        prefix: utf7::decode(c.prefix()).unwrap_or_else(|| c.prefix().to_string()),
        delimiter: c.delimiter(),
    }
}

/// Copies one folder, over POP3 when it is the Inbox of a job that reads the
/// Inbox over POP3.
async fn copy_one(
    ctx: &Ctx,
    user: &UserEntry,
    conns: &mut Conns,
    task: &FolderTask,
    state: &mut FolderState,
    tally: &mut Tally,
) -> Result<(), MailError> {
    let pop = ctx
        .pop3_endpoint()
        .filter(|_| task.source_name.eq_ignore_ascii_case("INBOX"));
    match (pop, conns.imap.as_mut()) {
        (Some(ep), _) => {
            let mut pop =
                Pop3Client::connect(&ep, &user.source_user, &user.source_password).await?;
            let res =
                pop_inbox::copy_pop_inbox(ctx, &mut pop, &mut conns.dst, task, state, tally).await;
            pop.quit().await;
            res
        }
        (None, Some(imap)) => {
            folder::copy_folder(ctx, imap, &mut conns.dst, task, state, tally).await
        }
        (None, None) => unreachable!("a job without IMAP reads only the Inbox, over POP3"),
    }
}

async fn copy_mailbox(
    ctx: &Ctx,
    user: &UserEntry,
    outcome: &mut MailboxOutcome,
) -> Result<(), MailError> {
    let mut conns = Conns::open(ctx, user).await?;
    let (listed, src_naming, skip) = match conns.imap.as_mut() {
        Some(imap) => (imap.list().await?, naming(imap), ctx.job.skip.clone()),
        // POP3 has the Inbox only; folder skips don't apply (the job warns).
        None => (
            vec![ListedFolder {
                raw: "INBOX".into(),
                name: "INBOX".into(),
                delimiter: None,
                selectable: true,
            }],
            Naming {
                prefix: String::new(),
                delimiter: None,
            },
            Vec::new(),
        ),
    };
    let dst_listed = conns.dst.list().await?;
    let dst_naming = naming(&conns.dst);
    let tasks = mapping::plan(
        &listed,
        &src_naming,
        &dst_naming,
        &skip,
        &ctx.job.translations,
    );

    // Create every destination folder (and its parents) before copying, so
    // empty and non-selectable source folders exist there too.
    let mut existing: HashSet<String> = dst_listed.iter().map(|f| f.raw.clone()).collect();
    existing.insert("INBOX".into());
    for task in &tasks {
        let mut names = mapping::ancestors(&task.dest_name, &dst_naming);
        names.push(task.dest_name.clone());
        for name in names {
            let raw = utf7::encode(&name);
            if existing.insert(raw.clone()) {
                conns.dst.create(&raw).await?;
                conns.dst.subscribe(&raw).await?;
            }
        }
    }

    let mut tally = Tally::new(&user.source_user);
    for task in tasks.iter().filter(|t| t.selectable) {
        if ctx.cancel.is_cancelled() {
            conns.close().await;
            return Err(MailError::Cancelled);
        }
        let mut state = FolderState::default();
        let mut attempt = 0;
        let folder_error = loop {
            let Err(e) = copy_one(ctx, user, &mut conns, task, &mut state, &mut tally).await else {
                break None;
            };
            match e.class() {
                ErrorClass::FatalForMailbox => {
                    outcome
                        .folders
                        .push(state.finish(task, Some(e.to_string())));
                    conns.close().await;
                    return Err(e);
                }
                ErrorClass::Transient if attempt < ctx.opts.retries => {
                    attempt += 1;
                    ctx.emit(Event::Retrying {
                        account: user.source_user.clone(),
                        folder: task.source_name.clone(),
                        attempt,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(ctx.opts.backoff * 2u32.pow(attempt - 1)).await;
                    match Conns::open(ctx, user).await {
                        Ok(fresh) => conns = fresh,
                        Err(e) if e.class() == ErrorClass::Transient => continue,
                        Err(e) => {
                            outcome
                                .folders
                                .push(state.finish(task, Some(e.to_string())));
                            return Err(e);
                        }
                    }
                }
                _ => break Some(e),
            }
        };
        let failed_transiently = folder_error
            .as_ref()
            .is_some_and(|e| e.class() == ErrorClass::Transient);
        let folder_outcome: FolderOutcome = state.finish(task, folder_error.map(|e| e.to_string()));
        ctx.emit(Event::FolderFinished {
            account: user.source_user.clone(),
            outcome: folder_outcome.clone(),
        });
        outcome.folders.push(folder_outcome);
        if failed_transiently {
            // Retries are spent and the connections are likely dead: a
            // fresh set for the next folder, or stop the mailbox.
            conns = Conns::open(ctx, user).await?;
        }
    }
    conns.close().await;
    Ok(())
}
