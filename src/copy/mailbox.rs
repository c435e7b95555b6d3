//! One mailbox: connect both sides, plan folders, copy each with retries.

use std::collections::HashSet;
use std::time::Instant;

use super::dest::{FolderState, Tally};
use super::folder;
use super::mapping::{self, Naming};
use super::Ctx;
use crate::error::{ErrorClass, MailError};
use crate::imap::{utf7, ImapClient};
use crate::job::UserEntry;
use crate::outcome::{FolderOutcome, MailboxOutcome};
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

async fn connect_pair(ctx: &Ctx, user: &UserEntry) -> Result<(ImapClient, ImapClient), MailError> {
    let src = ImapClient::connect(&ctx.source_endpoint(), &ctx.source_login(user)).await?;
    let dst = match ImapClient::connect(&ctx.destination_endpoint(), &ctx.destination_login(user))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            src.logout().await;
            return Err(e);
        }
    };
    Ok((src, dst))
}

fn naming(c: &ImapClient) -> Naming {
    Naming {
        prefix: utf7::decode(c.prefix()).unwrap_or_else(|| c.prefix().to_string()),
        delimiter: c.delimiter(),
    }
}

async fn copy_mailbox(
    ctx: &Ctx,
    user: &UserEntry,
    outcome: &mut MailboxOutcome,
) -> Result<(), MailError> {
    let (mut src, mut dst) = connect_pair(ctx, user).await?;
    let listed = src.list().await?;
    let dst_listed = dst.list().await?;
    let (src_naming, dst_naming) = (naming(&src), naming(&dst));
    let tasks = mapping::plan(
        &listed,
        &src_naming,
        &dst_naming,
        &ctx.job.skip,
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
                dst.create(&raw).await?;
                dst.subscribe(&raw).await?;
            }
        }
    }

    let mut tally = Tally::new(&user.source_user);
    for task in tasks.iter().filter(|t| t.selectable) {
        if ctx.cancel.is_cancelled() {
            return Err(MailError::Cancelled);
        }
        let mut state = FolderState::default();
        let mut attempt = 0;
        let folder_error = loop {
            let res =
                folder::copy_folder(ctx, &mut src, &mut dst, task, &mut state, &mut tally).await;
            let Err(e) = res else { break None };
            match e.class() {
                ErrorClass::FatalForMailbox => {
                    outcome
                        .folders
                        .push(state.finish(task, Some(e.to_string())));
                    src.logout().await;
                    dst.logout().await;
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
                    match connect_pair(ctx, user).await {
                        Ok((s, d)) => (src, dst) = (s, d),
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
            // fresh pair for the next folder, or stop the mailbox.
            (src, dst) = connect_pair(ctx, user).await?;
        }
    }
    src.logout().await;
    dst.logout().await;
    Ok(())
}
