//! Jobs of this process: each runs on its own task, independent of who
//! watches. A watcher (the app's page, the CLI's printer) may attach, leave
//! and attach again; the job goes on meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::view::{fold, Changed, JobKind, JobState, JobView, Totals, Update};
use crate::copy::Cancel;
use crate::outcome::{JobOutcome, Verdict};
use crate::progress::Event;

/// Receives a job's updates; returns false once it is gone (a closed page),
/// and is then dropped.
pub type Watcher = Arc<dyn Fn(&Update) -> bool + Send + Sync>;

/// Least time between two updates of one row that only say progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(120);

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Ended {
    pub verdict: Verdict,
    /// What happened to every mailbox.
    pub outcome: JobOutcome,
    /// Whether the outcome is in the history (a migration recorded there);
    /// otherwise the session keeps it for its log.
    pub recorded: bool,
    /// What went wrong around a job that ran (its record in the history).
    pub error: Option<String>,
}

struct Inner {
    view: JobView,
    watcher: Option<Watcher>,
    started: Instant,
    /// When each row's progress was last sent, and the rows whose latest
    /// progress is held back by the throttle.
    last_sent: HashMap<usize, Instant>,
    held: std::collections::HashSet<usize>,
    ended: Option<Ended>,
}

/// One job of this process.
pub struct Live {
    pub id: u64,
    cancel: Cancel,
    inner: Mutex<Inner>,
    done: tokio::sync::Notify,
}

impl Live {
    pub(super) fn new(id: u64, view: JobView, watcher: Option<Watcher>) -> Live {
        Live {
            id,
            cancel: Cancel::default(),
            inner: Mutex::new(Inner {
                view,
                watcher,
                started: Instant::now(),
                last_sent: HashMap::new(),
                held: Default::default(),
                ended: None,
            }),
            done: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn cancel_handle(&self) -> Cancel {
        self.cancel.clone()
    }

    pub fn snapshot(&self) -> JobView {
        let g = self.lock();
        g.view.now(g.started)
    }

    pub fn is_running(&self) -> bool {
        self.lock().view.state != JobState::Finished
    }

    /// The job's name (empty until the engine has named it).
    pub fn name(&self) -> String {
        self.lock().view.name.clone()
    }

    pub fn kind(&self) -> JobKind {
        self.lock().view.kind
    }

    /// How the job ended, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.lock().ended.clone()
    }

    /// Waits for the end of the job.
    pub async fn finished(&self) -> Ended {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(e) = self.ended() {
                return e;
            }
            notified.await;
        }
    }

    /// Stops the job after the current batches (what was copied stays).
    pub fn cancel(&self) {
        self.cancel.cancel();
        let mut g = self.lock();
        if g.view.state != JobState::Finished {
            g.view.state = JobState::Cancelling;
            let view = g.view.now(g.started);
            send(
                &mut g,
                Update::Job {
                    view: Box::new(view),
                },
            );
        }
    }

    /// Points the job's updates at `watcher` and returns where the job
    /// stands, atomically: nothing is lost or doubled between the two.
    pub fn attach(&self, watcher: Watcher) -> JobView {
        let mut g = self.lock();
        g.watcher = Some(watcher);
        g.held.clear();
        g.view.now(g.started)
    }

    /// Folds an engine event into the view and tells the watcher what
    /// changed; a row's progress at most every [`PROGRESS_EVERY`], its
    /// latest sent with its next change of another kind.
    pub(super) fn apply(&self, e: &Event) {
        let mut g = self.lock();
        match fold(&mut g.view, e) {
            Changed::Nothing => {}
            Changed::Job => {
                let view = g.view.now(g.started);
                send(
                    &mut g,
                    Update::Job {
                        view: Box::new(view),
                    },
                );
            }
            Changed::Row(i) => {
                let now = Instant::now();
                if let Event::Progress { .. } = e {
                    let recent = g
                        .last_sent
                        .get(&i)
                        .is_some_and(|t| now.duration_since(*t) < PROGRESS_EVERY);
                    if recent {
                        g.held.insert(i);
                        return;
                    }
                    g.last_sent.insert(i, now);
                }
                g.held.remove(&i);
                if let Some(row) = g.view.row_now(i) {
                    let (job_id, run_id) = (g.view.job_id, g.view.run_id);
                    let totals = Totals::of(&g.view.rows);
                    send(
                        &mut g,
                        Update::Row {
                            job_id,
                            run_id,
                            index: i,
                            row: Box::new(row),
                            totals: Box::new(totals),
                        },
                    );
                }
            }
        }
    }

    /// The job has ended, or the engine refused it (the error's words).
    pub(super) fn finish(&self, result: Result<Ended, String>) {
        let mut g = self.lock();
        g.view.elapsed_ms = g.started.elapsed().as_millis() as u64;
        match result {
            Ok(ended) => {
                g.view.verdict = Some(ended.verdict);
                g.view.error = ended.error.clone();
                g.view.session_log = !ended.recorded;
                if !ended.recorded {
                    // Not in the history: nothing there to open.
                    g.view.run_id = None;
                }
                g.ended = Some(ended);
            }
            Err(e) => {
                g.view.error = Some(e);
                g.view.verdict = Some(Verdict::Failed);
            }
        }
        g.view.state = JobState::Finished;
        let view = g.view.now(g.started);
        send(
            &mut g,
            Update::Ended {
                view: Box::new(view),
            },
        );
        drop(g);
        self.done.notify_waiters();
    }
}

fn send(g: &mut Inner, update: Update) {
    if let Some(w) = &g.watcher {
        if !w(&update) {
            g.watcher = None;
        }
    }
}

/// Every job of this process.
#[derive(Default)]
pub(super) struct Jobs {
    next: std::sync::atomic::AtomicU64,
    all: Mutex<Vec<Arc<Live>>>,
}

impl Jobs {
    pub(super) fn list(&self) -> MutexGuard<'_, Vec<Arc<Live>>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn add(
        &self,
        kind: JobKind,
        job: &crate::job::Job,
        watcher: Option<Watcher>,
    ) -> Arc<Live> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let live = Arc::new(Live::new(id, JobView::starting(id, kind, job), watcher));
        self.list().push(live.clone());
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FolderOutcome, MailboxOutcome};
    use crate::service::view::RowState;

    type Got = Arc<Mutex<Vec<serde_json::Value>>>;

    fn collector() -> (Watcher, Got) {
        let got: Got = Arc::default();
        let sink = got.clone();
        let w: Watcher = Arc::new(move |u: &Update| {
            sink.lock().unwrap().push(serde_json::to_value(u).unwrap());
            true
        });
        (w, got)
    }

    fn live(accounts: &[&str]) -> (Live, Got) {
        let (w, got) = collector();
        let mut view = JobView::of_run(0, &JobOutcome::default());
        view.state = JobState::Starting;
        view.run_id = None;
        view.job_id = 1;
        view.rows = accounts
            .iter()
            .map(|a| crate::service::RowView::pending(a, a))
            .collect();
        (Live::new(1, view, Some(w)), got)
    }

    fn progress(account: &str, done: u64) -> Event {
        Event::Progress {
            account: account.into(),
            folder: "INBOX".into(),
            messages_done: done,
            messages_total: 10,
            bytes_done: done * 100,
            bytes_total: 1000,
        }
    }

    fn kinds(got: &Got) -> Vec<String> {
        got.lock()
            .unwrap()
            .iter()
            .map(|m| m["update"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn events_move_a_row_from_pending_to_running_to_its_verdict() {
        let (live, got) = live(&["jane", "bob"]);
        live.apply(&Event::JobStarted {
            job: "1001".into(),
            run_id: Some(7),
            mailboxes: 2,
        });
        live.apply(&Event::MailboxStarted {
            account: "jane".into(),
        });
        live.apply(&progress("jane", 4));
        let v = live.snapshot();
        assert_eq!((v.name.as_str(), v.run_id), ("1001", Some(7)));
        assert_eq!(v.state, JobState::Running);
        assert_eq!(v.rows[0].state, RowState::Running);
        assert_eq!(v.rows[0].messages_done, 4);
        assert_eq!(v.rows[1].state, RowState::Pending);
        let folder = FolderOutcome {
            source: "INBOX".into(),
            destination: "INBOX".into(),
            migrated: 9,
            failed: 1,
            ..Default::default()
        };
        live.apply(&Event::FolderFinished {
            account: "jane".into(),
            outcome: folder.clone(),
        });
        let outcome = MailboxOutcome {
            source_user: "jane".into(),
            local_user: "jane".into(),
            folders: vec![folder],
            ..Default::default()
        };
        live.apply(&Event::MailboxFinished {
            account: "jane".into(),
            verdict: outcome.verdict(),
            outcome,
        });
        let v = live.snapshot();
        assert_eq!(v.rows[0].state, RowState::Partial);
        assert_eq!((v.rows[0].migrated, v.rows[0].failed), (9, 1));
        assert_eq!(v.rows[0].messages_done, 10);
        assert_eq!(kinds(&got), ["job", "row", "row", "row", "row"]);
        let last = got.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (last["index"].as_u64(), last["run_id"].as_i64()),
            (Some(0), Some(7))
        );
        assert_eq!(last["row"]["state"], "partial");
        // The job's totals travel with each row.
        let t = &last["totals"];
        assert_eq!(
            (
                t["mailboxes_done"].as_u64(),
                t["migrated"].as_u64(),
                t["failed"].as_u64()
            ),
            (Some(1), Some(9), Some(1))
        );
        assert_eq!(serde_json::to_value(&live.snapshot().totals).unwrap(), *t);
    }

    #[test]
    fn progress_is_throttled_but_the_latest_goes_with_the_rows_next_change() {
        let (live, got) = live(&["jane"]);
        for n in 1..=5 {
            live.apply(&progress("jane", n));
        }
        // The first went out; the rest are held back by the throttle.
        assert_eq!(got.lock().unwrap().len(), 1);
        live.apply(&Event::FolderFinished {
            account: "jane".into(),
            outcome: FolderOutcome::default(),
        });
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["row"]["messages_done"], 5);
        assert_eq!(got[1]["row"]["folders"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn a_folders_verification_reaches_the_watcher_with_the_messages_it_names() {
        use crate::outcome::{MessageBrief, Verification};
        let (live, got) = live(&["jane"]);
        let brief = |id: &str, subject: &str| MessageBrief {
            id: id.into(),
            subject: subject.into(),
            ..Default::default()
        };
        live.apply(&Event::FolderFinished {
            account: "jane".into(),
            outcome: FolderOutcome {
                source: "Sent".into(),
                verification: Some(Box::new(Verification {
                    source_messages: 5,
                    destination_messages: 5,
                    missing: vec![brief("4", "Quarterly report")],
                    extra: vec![brief("destination UID 9", "Lunch?")],
                    other: 0,
                })),
                ..Default::default()
            },
        });
        let sent = got.lock().unwrap().last().cloned().unwrap();
        let v = &sent["row"]["folders"][0]["verification"];
        assert_eq!(v["missing"][0]["subject"], "Quarterly report");
        assert_eq!(v["extra"][0]["id"], "destination UID 9");
    }

    #[test]
    fn a_reattached_watcher_gets_the_state_then_the_news_and_the_end() {
        let (live, old) = live(&["jane"]);
        live.apply(&Event::MailboxStarted {
            account: "jane".into(),
        });
        let (fresh, got) = collector();
        let view = live.attach(fresh);
        assert_eq!(view.rows[0].state, RowState::Running);
        live.apply(&progress("jane", 2));
        assert_eq!(old.lock().unwrap().len(), 1);
        assert_eq!(got.lock().unwrap().len(), 1);
        live.cancel();
        assert_eq!(live.snapshot().state, JobState::Cancelling);
        assert_eq!(
            got.lock().unwrap().last().unwrap()["view"]["state"],
            "cancelling"
        );
        live.finish(Ok(Ended {
            verdict: Verdict::Partial,
            outcome: JobOutcome::default(),
            recorded: true,
            error: None,
        }));
        let v = live.snapshot();
        assert_eq!(v.state, JobState::Finished);
        assert!(!v.session_log);
        assert_eq!(got.lock().unwrap().last().unwrap()["update"], "ended");
    }

    #[test]
    fn a_watcher_that_is_gone_is_dropped() {
        let (live, _) = live(&["jane"]);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        live.attach(Arc::new(move |_: &Update| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            false
        }));
        live.apply(&Event::MailboxStarted {
            account: "jane".into(),
        });
        live.apply(&Event::Retrying {
            account: "jane".into(),
            folder: "INBOX".into(),
            attempt: 1,
            reason: "dropped".into(),
        });
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
