//! APPEND as a migration wants it: non-synchronizing literals (LITERAL+) when
//! offered, several messages in one command (MULTIAPPEND) when offered, and
//! the new UIDs from APPENDUID (UIDPLUS). Built on async-imap's public
//! `run_command` / `read_response` and the raw stream.

use async_imap::imap_proto::Response;
use tokio::io::AsyncWriteExt;

use super::client::ImapClient;
use super::codes::outcome_text;
use super::quote;
use crate::error::MailError;

/// One message to append.
#[derive(Debug, Clone, Copy)]
pub struct AppendItem<'a> {
    /// Flags to store (already filtered: no `\Recent`, only what the folder allows).
    pub flags: &'a [String],
    /// INTERNALDATE as the source wrote it, time zone included.
    pub internal_date: Option<&'a str>,
    pub body: &'a [u8],
}

/// What the server said about one APPEND command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendResult {
    /// Stored; the new UIDs when the server reports APPENDUID.
    Stored(Option<Vec<u32>>),
    /// Refused with `NO`/`BAD`: the server's words.
    Refused(String),
}

impl ImapClient {
    /// Whether several messages can go in one APPEND.
    pub fn can_multiappend(&self) -> bool {
        self.has("MULTIAPPEND")
    }

    /// Appends `items` to folder `raw` in one command (MULTIAPPEND when more
    /// than one: the server stores all or none). `then_examine`: the last
    /// APPEND of a copy, the folder's verification next: its EXAMINE and
    /// UID SEARCH go out at once behind it (one round trip less a folder).
    pub async fn append(
        &mut self,
        raw: &str,
        items: &[AppendItem<'_>],
        then_examine: bool,
    ) -> Result<AppendResult, MailError> {
        assert!(!items.is_empty(), "append needs at least one message");
        let literal_plus = self.has("LITERAL+");
        let doing = "appending messages";
        let first = format!(
            "APPEND {} {}",
            quote(raw),
            item_prefix(&items[0], literal_plus)
        );
        let tag = self.send(&first, doing).await?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                let head = format!(" {}\r\n", item_prefix(item, literal_plus));
                self.write_raw(head.as_bytes(), !literal_plus, doing)
                    .await?;
            }
            if !literal_plus {
                // A synchronizing literal waits for the server's "+" (or a refusal).
                let step = self
                    .read_with(doing, |r| match r {
                        Response::Continue { .. } => Ok(None),
                        Response::Done {
                            tag: t,
                            status,
                            outcome,
                        } if *t == tag => Ok(Some(outcome_text(status, outcome))),
                        _ => Err(()),
                    })
                    .await?;
                match step {
                    Ok(None) => {}
                    Ok(Some(refusal)) => return Ok(AppendResult::Refused(refusal)),
                    Err(()) => {
                        return Err(MailError::Protocol {
                            place: self.place.clone(),
                            doing: doing.into(),
                            detail: "expected a continuation for the message literal".into(),
                        })
                    }
                }
            }
            self.write_raw(item.body, false, doing).await?;
        }
        self.write_raw(b"\r\n", !then_examine, doing).await?;
        if then_examine {
            self.send_ahead(raw).await?;
        }
        let reply = self.collect(&tag, doing, |_| {}).await?;
        if !reply.ok {
            return Ok(AppendResult::Refused(reply.server_text));
        }
        Ok(AppendResult::Stored(
            reply.append_uids.filter(|u| u.len() == items.len()),
        ))
    }

    /// Writes bytes past async-imap (message literals); the stream's own
    /// time limit applies to every write.
    async fn write_raw(&mut self, bytes: &[u8], flush: bool, doing: &str) -> Result<(), MailError> {
        let stream = self.session.get_mut();
        let res = async {
            stream.write_all(bytes).await?;
            if flush {
                stream.flush().await?;
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        res.map_err(|e| self.io_err(doing, &e))
    }
}

/// `(flags) "date" {n+}` for one message.
fn item_prefix(item: &AppendItem<'_>, literal_plus: bool) -> String {
    let mut s = String::new();
    s.push('(');
    s.push_str(&item.flags.join(" "));
    s.push_str(") ");
    if let Some(d) = item.internal_date {
        s.push_str(&quote(d));
        s.push(' ');
    }
    s.push_str(&format!(
        "{{{}{}}}",
        item.body.len(),
        if literal_plus { "+" } else { "" }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_has_flags_date_and_literal() {
        let flags = vec!["\\Seen".to_string(), "$Forwarded".to_string()];
        let item = AppendItem {
            flags: &flags,
            internal_date: Some("17-Jul-1996 02:44:25 -0700"),
            body: b"abc",
        };
        assert_eq!(
            item_prefix(&item, true),
            r#"(\Seen $Forwarded) "17-Jul-1996 02:44:25 -0700" {3+}"#
        );
        assert_eq!(
            item_prefix(&item, false),
            r#"(\Seen $Forwarded) "17-Jul-1996 02:44:25 -0700" {3}"#
        );
    }
}
