//! "Test logins": log in to both servers for every mailbox of a job, without
//! copying anything, and say which fail and why.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinSet;
use ts_rs::TS;

use super::run::panic_words;
use super::{Cancel, Connector, Options};
use crate::error::MailError;
use crate::job::{Job, UserEntry};

/// The result of trying one mailbox's logins.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct LoginCheck {
    pub source_user: String,
    pub local_user: String,
    /// `None` when the source login worked; else the user-facing error.
    pub source_error: Option<String>,
    pub destination_error: Option<String>,
    /// The errors' entries in the error catalogue.
    pub source_code: Option<&'static str>,
    pub destination_code: Option<&'static str>,
}

impl LoginCheck {
    fn new(
        (source_user, local_user): (&str, &str),
        source: Option<MailError>,
        destination: Option<MailError>,
    ) -> Self {
        LoginCheck {
            source_user: source_user.into(),
            local_user: local_user.into(),
            source_error: source.as_ref().map(ToString::to_string),
            destination_error: destination.as_ref().map(ToString::to_string),
            source_code: source.map(|e| e.code()),
            destination_code: destination.map(|e| e.code()),
        }
    }
}

impl LoginCheck {
    pub fn ok(&self) -> bool {
        self.source_error.is_none() && self.destination_error.is_none()
    }
}

/// Tries every login of `job`, logging out straight away, several
/// mailboxes at a time (`parallel_mailboxes`). Over Auto, the source is
/// tried over IMAP and POP3 both. `tested` hears of each mailbox (its place
/// in the user list, and its check) as soon as it is tried. Once `cancel`
/// is cancelled no further login starts and those under way are dropped
/// (their connections closed). The answer: the mailboxes tried, in the
/// user list's order (every one of them unless cancelled).
pub async fn test_logins(
    job: Job,
    opts: Options,
    cancel: Cancel,
    mut tested: impl FnMut(usize, &LoginCheck) + Send,
) -> Vec<LoginCheck> {
    let connect = Arc::new(Connector::new(&job, &opts));
    let users = job.users;
    let parallel = opts.parallel_mailboxes.max(1);
    let mut done: Vec<Option<LoginCheck>> = vec![None; users.len()];
    let mut tasks = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut next = 0;
    loop {
        if cancel.is_cancelled() {
            // Stopped: no login starts, those under way go (those already
            // over still count).
            tasks.abort_all();
        }
        while next < users.len() && tasks.len() < parallel && !cancel.is_cancelled() {
            let (connect, user) = (connect.clone(), users[next].clone());
            let handle = tasks.spawn(async move { check(&connect, &user).await });
            index_of.insert(handle.id(), next);
            next += 1;
        }
        let ended = tokio::select! {
            biased;
            () = cancel.cancelled(), if !cancel.is_cancelled() => continue,
            ended = tasks.join_next_with_id() => ended,
        };
        let Some(ended) = ended else { break };
        let (i, c) = match ended {
            Ok((id, c)) => (index_of[&id], c),
            Err(e) if e.is_cancelled() => continue,
            Err(e) => {
                let i = index_of[&e.id()];
                let u = &users[i];
                let fault = MailError::Internal(panic_words(e));
                let c = LoginCheck::new((&u.source_user, &u.local_user), Some(fault), None);
                (i, c)
            }
        };
        tested(i, &c);
        done[i] = Some(c);
    }
    done.into_iter().flatten().collect()
}

/// Both logins of one mailbox.
async fn check(connect: &Connector, user: &UserEntry) -> LoginCheck {
    let mut source = None;
    match connect.source_imap(user).await {
        Ok(Some(c)) => c.logout().await,
        Ok(None) => {}
        Err(e) => source = Some(e),
    }
    if source.is_none() && connect.reads_pop3() {
        match connect.source_pop3(user).await {
            Ok(c) => c.quit().await,
            Err(e) => source = Some(e),
        }
    }
    let destination = match connect.destination(user).await {
        Ok(c) => {
            c.logout().await;
            None
        }
        Err(e) => Some(e),
    };
    LoginCheck::new((&user.source_user, &user.local_user), source, destination)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// A job of `users` mailboxes whose two servers are at `port` here.
    fn job(port: u16, users: usize, parallel: usize) -> (Job, Options) {
        let list: Vec<String> = (0..users).map(|i| format!("user{i},pw")).collect();
        let text = format!(
            "[source]\nhost = \"127.0.0.1\"\nports = {{ imap4s = [{port}] }}\n[destination]\nhost = \"127.0.0.1\"\nport = {port}\nauth = \"master\"\nmaster_user = \"admin\"\nmaster_password = \"pw\"\n[users]\nlist = \"{}\"\n[options]\nretries = 0\nparallel_mailboxes = {parallel}\nconnect_timeout_seconds = 60\ntimeout_seconds = 60\n",
            list.join("\\n")
        );
        let job = crate::job::JobFile::from_toml(&text)
            .unwrap()
            .validate(std::path::Path::new("."))
            .unwrap();
        let opts = Options::for_job(&job);
        (job, opts)
    }

    /// A server here that closes its first `refused` connections at once
    /// and holds the others open without a word; how many came.
    fn server(refused: usize) -> (u16, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let came = Arc::new(AtomicUsize::new(0));
        let counted = came.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                if counted.fetch_add(1, Ordering::SeqCst) >= refused {
                    held.push(stream);
                }
            }
        });
        (port, came)
    }

    #[tokio::test]
    async fn every_mailbox_is_told_with_its_place_and_the_answer_keeps_the_lists_order() {
        let (port, _) = server(usize::MAX);
        let (job, opts) = job(port, 5, 2);
        let heard = Mutex::new(Vec::new());
        let checks = test_logins(job, opts, Cancel::default(), |i, c: &LoginCheck| {
            heard.lock().unwrap().push((i, c.source_user.clone()));
        })
        .await;
        let users: Vec<&str> = checks.iter().map(|c| c.source_user.as_str()).collect();
        assert_eq!(users, ["user0", "user1", "user2", "user3", "user4"]);
        assert!(checks.iter().all(|c| !c.ok() && c.source_code.is_some()));
        let mut heard = heard.into_inner().unwrap();
        heard.sort();
        let expected: Vec<(usize, String)> = (0..5).map(|i| (i, format!("user{i}"))).collect();
        assert_eq!(heard, expected);
    }

    #[tokio::test]
    async fn a_cancelled_test_starts_no_login_drops_those_under_way_and_keeps_what_finished() {
        // user0's two logins are refused at once; user1 then waits on a
        // server that never answers (one mailbox at a time).
        let (port, came) = server(2);
        let (job, opts) = job(port, 4, 1);
        let cancel = Cancel::default();
        let heard = Arc::new(AtomicUsize::new(0));
        let test = tokio::spawn({
            let (cancel, heard) = (cancel.clone(), heard.clone());
            test_logins(job, opts, cancel, move |_, _: &LoginCheck| {
                heard.fetch_add(1, Ordering::SeqCst);
            })
        });
        let waited = Instant::now();
        while came.load(Ordering::SeqCst) < 3 {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "user1 never connected"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(came.load(Ordering::SeqCst), 3, "one mailbox at a time");
        let stopped = Instant::now();
        cancel.cancel();
        let checks = tokio::time::timeout(Duration::from_secs(5), test)
            .await
            .expect("the test stops promptly")
            .unwrap();
        assert!(stopped.elapsed() < Duration::from_secs(2));
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].source_user, "user0");
        assert!(checks[0].source_error.is_some() && checks[0].destination_error.is_some());
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(came.load(Ordering::SeqCst), 3, "no login started after");
    }

    #[tokio::test]
    async fn no_more_than_parallel_mailboxes_log_in_at_once() {
        let (port, came) = server(0);
        let (job, opts) = job(port, 5, 2);
        let cancel = Cancel::default();
        let test = tokio::spawn(test_logins(
            job,
            opts,
            cancel.clone(),
            |_, _: &LoginCheck| {},
        ));
        let waited = Instant::now();
        while came.load(Ordering::SeqCst) < 2 {
            assert!(waited.elapsed() < Duration::from_secs(10), "no login began");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(came.load(Ordering::SeqCst), 2);
        cancel.cancel();
        let checks = tokio::time::timeout(Duration::from_secs(5), test)
            .await
            .expect("the test stops promptly")
            .unwrap();
        assert!(checks.is_empty());
    }

    #[tokio::test]
    async fn a_test_cancelled_before_it_begins_tries_nothing() {
        let (port, came) = server(0);
        let (job, opts) = job(port, 3, 2);
        let cancel = Cancel::default();
        cancel.cancel();
        let checks = test_logins(job, opts, cancel, |_, _: &LoginCheck| {
            panic!("nothing is tried")
        })
        .await;
        assert!(checks.is_empty());
        assert_eq!(came.load(Ordering::SeqCst), 0);
    }
}
