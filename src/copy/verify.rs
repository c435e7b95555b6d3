//! The verification pass: a source folder compared with its destination
//! folder as both servers hold them now. A message the ledger sent there
//! with a known UID is verified by that UID still being there (a UID names
//! one message for as long as the folder's UIDVALIDITY lasts); any other is
//! matched by content key against the destination's copies that no entry
//! accounts for. Whatever is left is missing (source side) or extra (a
//! destination copy of a source message beyond those the source holds).
//! Cheap where it can be: a UID SEARCH on the destination, and headers
//! fetched only for what the UIDs leave open.

use std::collections::{HashMap, HashSet};

use super::dest::SourceList;
use super::key::{content_key, describe};
use super::mapping::FolderTask;
use super::truth::{Book, Standing};
use super::Ctx;
use crate::error::MailError;
use crate::imap::{ImapClient, Selected};
use crate::job::UserEntry;
use crate::outcome::{MessageBrief, MessageFailure, Verification};
use crate::store::DestSnapshot;

/// Compares `list` (the source folder as just listed) with the destination
/// folder. `src`: the IMAP source, to read the headers of messages the
/// ledger has no key for (`None` for the POP3 Inbox, whose messages then
/// count as missing). `dest_exists`: false when the destination has no such
/// folder at all.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn folder(
    ctx: &Ctx,
    user: &UserEntry,
    mut src: Option<&mut ImapClient>,
    dst: &mut ImapClient,
    task: &FolderTask,
    list: &SourceList,
    failures: &HashMap<String, MessageFailure>,
    dest_exists: bool,
    expected: Option<DestSnapshot>,
) -> Result<(Verification, Option<DestSnapshot>), MailError> {
    let book = Book::new(ctx, user, &list.ledger, list.uid_validity, task);
    let (sel, dest_uids) = match dest_exists {
        true => dst.open_and_uids(&task.dest_raw, true).await?,
        false => (Selected::default(), Vec::new()),
    };
    let uid_validity = sel.uid_validity;
    // The destination folder as verified.
    let now = sel
        .uid_next
        .filter(|_| dest_exists)
        .map(|uid_next| DestSnapshot {
            uid_validity,
            uid_next,
            messages: sel.exists,
        });
    // The copy left the folder as it expected: the next run may believe
    // the ledger on one STATUS.
    if let Some(expected) = expected.filter(|e| Some(*e) == now) {
        book.set_snapshot(Some(expected))?;
    }
    let dest_set: HashSet<u32> = dest_uids.iter().copied().collect();
    let standing = Standing {
        uid_validity,
        uids: &dest_set,
    };
    // The claims are reduced to the UIDs they claim before the ledger is
    // read: a large folder holds one of the two at a time.
    let claims = ctx
        .store
        .claims_for_matching(book.scope(), &task.dest_raw, None)?;
    let (claimed, _) = standing.claimed(&claims, None);
    drop(claims);
    let ledger = ctx
        .store
        .folder_ledger(book.scope(), &list.ledger, list.uid_validity)?;

    // By UID where the ledger knows it; the rest by content key.
    let mut by_uid: HashSet<u32> = HashSet::new();
    let mut keyed: Vec<(&String, String)> = Vec::new();
    let mut unkeyed: Vec<&String> = Vec::new();
    for id in &list.ids {
        let entry = ledger
            .entries
            .get(id)
            .filter(|e| e.dest_folder == task.dest_raw);
        match entry {
            Some(e) if e.dest_uid.is_some() && standing.holds(e.dest_uid, e.dest_uid_validity) => {
                let uid = e.dest_uid.unwrap_or_default();
                if by_uid.insert(uid) {
                    continue;
                }
                keyed.push((id, e.content_key.to_string()));
            }
            Some(e) => keyed.push((id, e.content_key.to_string())),
            None => unkeyed.push(id),
        }
    }
    let mut source_fields = match src.as_deref_mut() {
        Some(src) if !unkeyed.is_empty() => source_headers(src, task, list, &unkeyed).await?,
        _ => HashMap::new(),
    };
    for id in &unkeyed {
        if let Some((size, fields)) = source_fields.get(*id) {
            keyed.push((id, content_key(*size, fields)));
        }
    }
    let mut unclaimed = unclaimed_on_destination(dst, &dest_uids, &claimed).await?;

    let mut missing = Vec::new();
    let mut found_by_key = 0u64;
    for (id, key) in &keyed {
        match unclaimed.get_mut(key).and_then(Vec::pop) {
            Some(_) => found_by_key += 1,
            None => missing.push(*id),
        }
    }
    let keyed_ids: HashSet<&String> = keyed.iter().map(|(id, _)| *id).collect();
    missing.extend(
        unkeyed
            .iter()
            .filter(|id| !keyed_ids.contains(*id))
            .copied(),
    );
    // What is missing is described from its headers on the source.
    let undescribed: Vec<&String> = missing
        .iter()
        .filter(|id| !failures.contains_key(**id) && !source_fields.contains_key(**id))
        .copied()
        .collect();
    if let Some(src) = src.filter(|_| !undescribed.is_empty()) {
        source_fields.extend(source_headers(src, task, list, &undescribed).await?);
    }
    let missing = missing
        .into_iter()
        .map(|id| brief_of_source(id, failures, &source_fields))
        .collect();
    // Only copies still unclaimed can be extra copies of source messages
    // (usually there are none: no key of the folder's is gathered then).
    let source_keys: HashSet<&str> = match unclaimed.values().any(|left| !left.is_empty()) {
        false => HashSet::new(),
        true => keyed
            .iter()
            .map(|(_, k)| k.as_str())
            .chain(
                list.ids
                    .iter()
                    .filter_map(|id| ledger.entries.get(id).map(|e| e.content_key.as_str())),
            )
            .collect(),
    };
    let extra = extra_copies(unclaimed, &source_keys);
    let other = (dest_uids.len() as u64)
        .saturating_sub(by_uid.len() as u64 + found_by_key + extra.len() as u64);
    let v = Verification {
        source_messages: list.ids.len() as u64,
        destination_messages: dest_uids.len() as u64,
        missing,
        extra,
        other,
    };
    Ok((v, now))
}

/// The destination's copies no entry accounts for, by content key: UID and
/// key header fields.
async fn unclaimed_on_destination(
    dst: &mut ImapClient,
    dest_uids: &[u32],
    claimed: &HashSet<u32>,
) -> Result<HashMap<String, Vec<(u32, Vec<u8>)>>, MailError> {
    let mut open_uids: Vec<u32> = dest_uids
        .iter()
        .copied()
        .filter(|u| !claimed.contains(u))
        .collect();
    open_uids.sort_unstable();
    let mut unclaimed: HashMap<String, Vec<(u32, Vec<u8>)>> = HashMap::new();
    for m in dst.fetch_meta(Some(&open_uids), true).await? {
        unclaimed
            .entry(content_key(m.size, &m.header_fields))
            .or_default()
            .push((m.uid, m.header_fields));
    }
    Ok(unclaimed)
}

/// Copies left over on the destination of a message the source has: extra
/// copies (other unclaimed messages are the destination's own).
fn extra_copies(
    unclaimed: HashMap<String, Vec<(u32, Vec<u8>)>>,
    source_keys: &HashSet<&str>,
) -> Vec<MessageBrief> {
    let mut extra = Vec::new();
    for (key, left) in unclaimed {
        if !source_keys.contains(key.as_str()) {
            continue;
        }
        for (uid, fields) in left {
            let (date, from, subject) = describe(&fields);
            extra.push(MessageBrief {
                id: format!("destination UID {uid}"),
                date,
                from,
                subject,
            });
        }
    }
    extra.sort_by(|a, b| a.id.cmp(&b.id));
    extra
}

/// Size and key header fields of source messages, by id (none when the
/// folder is no longer the one listed).
async fn source_headers(
    src: &mut ImapClient,
    task: &FolderTask,
    list: &SourceList,
    ids: &[&String],
) -> Result<HashMap<String, (u64, Vec<u8>)>, MailError> {
    let sel = src.open_folder(&task.source_raw, true).await?;
    if sel.uid_validity != list.uid_validity {
        return Ok(HashMap::new());
    }
    let uids: Vec<u32> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    Ok(src
        .fetch_meta(Some(&uids), true)
        .await?
        .into_iter()
        .map(|m| (m.uid.to_string(), (m.size, m.header_fields)))
        .collect())
}

fn brief_of_source(
    id: &str,
    failures: &HashMap<String, MessageFailure>,
    fields: &HashMap<String, (u64, Vec<u8>)>,
) -> MessageBrief {
    let (date, from, subject) = match (failures.get(id), fields.get(id)) {
        (Some(f), _) => (f.date.clone(), f.from.clone(), f.subject.clone()),
        (None, Some((_, h))) => describe(h),
        (None, None) => Default::default(),
    };
    MessageBrief {
        id: id.to_string(),
        date,
        from,
        subject,
    }
}
