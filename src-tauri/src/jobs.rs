//! Jobs the app has started in this session. Each runs on the engine's own
//! runtime, independent of the page: the page attaches a Channel to watch it,
//! and may leave, reload and attach again; the job goes on meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mailferry::copy::{self, Cancel, Options, VerifyError};
use mailferry::job::Job;
use mailferry::outcome::{FolderOutcome, JobOutcome, MailboxOutcome, Verdict};
use mailferry::progress::{Event, Sink};
use mailferry::store::{BeginError, Store};
use serde::Serialize;
use tauri::ipc::Channel;

/// The runtime every migration runs on: the engine's, not the page's.
pub fn engine_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("mailferry-engine")
            .enable_all()
            .build()
            .expect("the engine's runtime could not start")
    })
}

/// A row's state: the page colours it, and always shows the word too.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Pending,
    Running,
    Success,
    Partial,
    Failed,
}

impl From<Verdict> for RowState {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Success => RowState::Success,
            Verdict::Partial => RowState::Partial,
            Verdict::Failed => RowState::Failed,
        }
    }
}

/// One account of a running (or finished) job.
#[derive(Debug, Clone, Serialize)]
pub struct RowView {
    pub account: String,
    pub local_user: String,
    pub state: RowState,
    pub folder: Option<String>,
    pub messages_done: u64,
    pub messages_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub migrated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub elapsed_ms: u64,
    pub folders: Vec<FolderOutcome>,
    pub error: Option<String>,
    /// The error's entry in the error catalogue (the Help page).
    pub error_code: Option<String>,
    /// The latest transient fault being retried, while it is.
    pub retrying: Option<String>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl RowView {
    fn pending(account: &str, local_user: &str) -> RowView {
        RowView {
            account: account.to_string(),
            local_user: local_user.to_string(),
            state: RowState::Pending,
            folder: None,
            messages_done: 0,
            messages_total: 0,
            bytes_done: 0,
            bytes_total: 0,
            migrated: 0,
            skipped: 0,
            failed: 0,
            elapsed_ms: 0,
            folders: Vec::new(),
            error: None,
            error_code: None,
            retrying: None,
            started: None,
        }
    }

    /// A finished mailbox as History shows it.
    pub fn from_outcome(m: &MailboxOutcome) -> RowView {
        let done = m.migrated() + m.skipped() + m.failed();
        RowView {
            state: m.verdict().into(),
            messages_done: done,
            messages_total: done,
            bytes_done: m.bytes(),
            bytes_total: m.bytes(),
            migrated: m.migrated(),
            skipped: m.skipped(),
            failed: m.failed(),
            elapsed_ms: m.elapsed_ms,
            folders: m.folders.clone(),
            error: m.error.clone(),
            error_code: m.error_code.clone(),
            ..RowView::pending(&m.source_user, &m.local_user)
        }
    }
}

/// What a job of the session does: copy (a run, recorded in the history)
/// or only compare the source with the destination (the engine's
/// verification pass: nothing copied, not recorded).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Migration,
    Verification,
}

/// What the page shows of a job.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub job_id: u64,
    pub kind: JobKind,
    /// Empty until the engine has named the job (a number when left blank).
    pub name: String,
    pub run_id: Option<i64>,
    /// `starting`, `running`, `cancelling` or `finished`.
    pub state: &'static str,
    pub verdict: Option<Verdict>,
    /// Why the job could not start, or stopped as a whole.
    pub error: Option<String>,
    pub source: String,
    pub destination: String,
    pub warnings: Vec<String>,
    pub elapsed_ms: u64,
    pub rows: Vec<RowView>,
    /// The session keeps this job's outcome for its log (a verification,
    /// or a run the history could not record).
    pub session_log: bool,
}

/// What flows to the page over a job's Channel: the engine's own events,
/// and the app's word that the job has ended.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Push {
    Engine(Event),
    App(AppPush),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AppPush {
    JobEnded { view: Box<JobView> },
}

/// Least time between two progress messages of one account to the page.
const PROGRESS_EVERY: Duration = Duration::from_millis(120);

struct Inner {
    view: JobView,
    channel: Option<Channel<Push>>,
    started: Instant,
    last_sent: HashMap<String, Instant>,
    /// A progress event held back by the throttle, per account.
    held: HashMap<String, Event>,
    /// A verification's outcome once it has ended: it is not in the
    /// history, and its log is rendered from it.
    outcome: Option<JobOutcome>,
}

/// How a job ended: its run in the history (a migration), its verdict, and
/// the outcome to keep (a verification's).
pub struct Ended {
    pub run_id: Option<i64>,
    pub verdict: Verdict,
    pub outcome: Option<JobOutcome>,
    /// What went wrong around a job that ran (its record in the history).
    pub error: Option<String>,
}

pub struct Live {
    pub id: u64,
    cancel: Cancel,
    inner: Mutex<Inner>,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> JobView {
        snapshot(&self.lock())
    }

    pub fn is_running(&self) -> bool {
        self.lock().view.state != "finished"
    }

    pub fn kind(&self) -> JobKind {
        self.lock().view.kind
    }

    /// A finished verification's outcome (a migration's is in the history).
    pub fn outcome(&self) -> Option<JobOutcome> {
        self.lock().outcome.clone()
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
        let mut g = self.lock();
        if g.view.state != "finished" {
            g.view.state = "cancelling";
        }
    }

    /// Points the job's messages at `channel` (a page that just opened or
    /// reloaded) and returns where the job stands, atomically: nothing is
    /// lost or doubled between the two.
    pub fn attach(&self, channel: Channel<Push>) -> JobView {
        let mut g = self.lock();
        g.channel = Some(channel);
        g.held.clear();
        snapshot(&g)
    }

    fn apply(&self, e: &Event) {
        let mut g = self.lock();
        update(&mut g, e);
        let now = Instant::now();
        match e {
            Event::Progress { account, .. } => {
                let recent = g
                    .last_sent
                    .get(account)
                    .is_some_and(|t| now.duration_since(*t) < PROGRESS_EVERY);
                if recent {
                    g.held.insert(account.clone(), e.clone());
                    return;
                }
                g.held.remove(account);
                g.last_sent.insert(account.clone(), now);
            }
            Event::FolderStarted { account, .. }
            | Event::FolderFinished { account, .. }
            | Event::MailboxFinished { account, .. }
            | Event::Retrying { account, .. } => {
                if let Some(held) = g.held.remove(account) {
                    send(&mut g, Push::Engine(held));
                }
            }
            _ => {}
        }
        send(&mut g, Push::Engine(e.clone()));
    }

    /// The job has ended, or the engine refused it (the error's words).
    fn finish(&self, result: Result<Ended, String>) {
        let mut g = self.lock();
        match result {
            Ok(ended) => {
                g.view.run_id = ended.run_id;
                g.view.verdict = Some(ended.verdict);
                g.view.error = ended.error;
                g.view.session_log = ended.outcome.is_some();
                g.outcome = ended.outcome;
            }
            Err(e) => {
                g.view.error = Some(e);
                g.view.verdict = Some(Verdict::Failed);
            }
        }
        g.view.elapsed_ms = g.started.elapsed().as_millis() as u64;
        g.view.state = "finished";
        let view = snapshot(&g);
        send(
            &mut g,
            Push::App(AppPush::JobEnded {
                view: Box::new(view),
            }),
        );
    }
}

fn send(g: &mut Inner, push: Push) {
    if let Some(ch) = &g.channel {
        if ch.send(push).is_err() {
            g.channel = None;
        }
    }
}

fn snapshot(g: &Inner) -> JobView {
    let mut view = g.view.clone();
    if view.state != "finished" {
        view.elapsed_ms = g.started.elapsed().as_millis() as u64;
    }
    for row in &mut view.rows {
        if let (RowState::Running, Some(t)) = (row.state, row.started) {
            row.elapsed_ms = t.elapsed().as_millis() as u64;
        }
    }
    view
}

fn update(g: &mut Inner, e: &Event) {
    let row = |g: &mut Inner, account: &str| -> Option<usize> {
        g.view.rows.iter().position(|r| r.account == account)
    };
    match e {
        Event::JobStarted { job, .. } => {
            g.view.name = job.clone();
            if g.view.state == "starting" {
                g.view.state = "running";
            }
        }
        Event::MailboxStarted { account } => {
            if let Some(i) = row(g, account) {
                let r = &mut g.view.rows[i];
                r.state = RowState::Running;
                r.started = Some(Instant::now());
            }
        }
        Event::FolderStarted {
            account, folder, ..
        } => {
            if let Some(i) = row(g, account) {
                g.view.rows[i].folder = Some(folder.clone());
            }
        }
        Event::Progress {
            account,
            folder,
            messages_done,
            messages_total,
            bytes_done,
            bytes_total,
        } => {
            if let Some(i) = row(g, account) {
                let r = &mut g.view.rows[i];
                r.folder = Some(folder.clone());
                r.messages_done = *messages_done;
                r.messages_total = *messages_total;
                r.bytes_done = *bytes_done;
                r.bytes_total = *bytes_total;
                r.retrying = None;
            }
        }
        Event::FolderFinished { account, outcome } => {
            if let Some(i) = row(g, account) {
                let r = &mut g.view.rows[i];
                r.migrated += outcome.migrated;
                r.skipped += outcome.skipped;
                r.failed += outcome.failed;
                r.folders.push(outcome.clone());
            }
        }
        Event::Retrying {
            account, reason, ..
        } => {
            if let Some(i) = row(g, account) {
                g.view.rows[i].retrying = Some(reason.clone());
            }
        }
        Event::MailboxFinished {
            account, outcome, ..
        } => {
            if let Some(i) = row(g, account) {
                let started = g.view.rows[i].started;
                let (done, total) = (g.view.rows[i].messages_done, g.view.rows[i].messages_total);
                let mut r = RowView::from_outcome(outcome);
                // Keep the live counts when they say more (messages the
                // engine scanned but a failure stopped).
                r.messages_done = r.messages_done.max(done);
                r.messages_total = r.messages_total.max(total);
                r.started = started;
                g.view.rows[i] = r;
            }
        }
        Event::JobFinished { verdict, .. } => {
            g.view.verdict = Some(*verdict);
        }
    }
}

/// Every job of this session.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    all: Mutex<Vec<Arc<Live>>>,
}

impl Jobs {
    fn list(&self) -> MutexGuard<'_, Vec<Arc<Live>>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: u64) -> Option<Arc<Live>> {
        self.list().iter().find(|j| j.id == id).cloned()
    }

    pub fn views(&self) -> Vec<JobView> {
        self.list().iter().map(|j| j.snapshot()).collect()
    }

    pub fn running(&self) -> usize {
        self.list().iter().filter(|j| j.is_running()).count()
    }

    pub fn cancel_all(&self) {
        for j in self.list().iter() {
            j.cancel();
        }
    }

    /// Starts `job` on the engine's runtime and waits until the engine has
    /// begun it (named it, recorded it in the history) or refused to.
    pub async fn start(
        &self,
        job: Job,
        store: Store,
        opts: Options,
        channel: Option<Channel<Push>>,
    ) -> Result<Arc<Live>, BeginError> {
        self.launch(
            JobKind::Migration,
            job,
            channel,
            move |job, sink, cancel| async move {
                let done = copy::run(job, store, sink, opts, cancel).await?;
                let verdict = done.outcome.verdict();
                Ok(match done.unrecorded {
                    None => Ended {
                        run_id: Some(done.run.run_id),
                        verdict,
                        outcome: None,
                        error: None,
                    },
                    // Not in the history: its log comes from the session.
                    Some(e) => Ended {
                        run_id: None,
                        verdict,
                        outcome: Some(done.outcome),
                        error: Some(format!("The job ran (its log says what was copied), but MailFerry could not record it in its history: {e}")),
                    },
                })
            },
        )
        .await
    }

    /// Starts the engine's verification pass alone for `job` (nothing is
    /// copied, nothing recorded in the history) and waits until it has
    /// begun or was refused. Its outcome stays with the job, for its log.
    pub async fn verify(
        &self,
        job: Job,
        store: Store,
        opts: Options,
        channel: Option<Channel<Push>>,
    ) -> Result<Arc<Live>, VerifyError> {
        self.launch(
            JobKind::Verification,
            job,
            channel,
            move |job, sink, cancel| async move {
                let outcome = copy::verify(job, store, sink, opts, cancel).await?;
                Ok(Ended {
                    run_id: None,
                    verdict: outcome.verdict(),
                    outcome: Some(outcome),
                    error: None,
                })
            },
        )
        .await
    }

    /// The session's side of either: a row per mailbox, the engine's events
    /// applied to the view, the end recorded.
    async fn launch<E, W, F>(
        &self,
        kind: JobKind,
        job: Job,
        channel: Option<Channel<Push>>,
        work: W,
    ) -> Result<Arc<Live>, E>
    where
        E: std::fmt::Display + Send + 'static,
        W: FnOnce(Job, Sink, Cancel) -> F,
        F: std::future::Future<Output = Result<Ended, E>> + Send + 'static,
    {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let view = JobView {
            job_id: id,
            kind,
            name: job.name.clone().unwrap_or_default(),
            run_id: None,
            state: "starting",
            verdict: None,
            error: None,
            source: format!("{} ({})", job.source.host, job.source.protocol.label()),
            destination: format!("{} (port {})", job.destination.host, job.destination.port),
            warnings: job.warnings(),
            elapsed_ms: 0,
            session_log: false,
            rows: job
                .users
                .iter()
                .map(|u| RowView::pending(&u.source_user, &u.local_user))
                .collect(),
        };
        let live = Arc::new(Live {
            id,
            cancel: Cancel::default(),
            inner: Mutex::new(Inner {
                view,
                channel,
                started: Instant::now(),
                last_sent: HashMap::new(),
                held: HashMap::new(),
                outcome: None,
            }),
        });
        self.list().push(live.clone());
        // Answered once: begun (the engine named the job) or refused.
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), E>>();
        let begun = Arc::new(Mutex::new(Some(tx)));
        let answer = move |r: Result<(), E>| {
            if let Some(tx) = begun.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(r);
            }
        };
        let answer = Arc::new(answer);
        let for_sink = live.clone();
        let started = answer.clone();
        let sink: Sink = Arc::new(move |e: &Event| {
            for_sink.apply(e);
            if let Event::JobStarted { .. } = e {
                started(Ok(()));
            }
        });
        let task = work(job, sink, live.cancel.clone());
        let for_end = live.clone();
        engine_runtime().spawn(async move {
            match task.await {
                Ok(ended) => for_end.finish(Ok(ended)),
                Err(e) => {
                    for_end.finish(Err(e.to_string()));
                    answer(Err(e));
                }
            }
        });
        match rx.await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) | Err(_) => Ok(live),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tauri::ipc::InvokeResponseBody;

    fn live(accounts: &[&str]) -> (Arc<Live>, Arc<StdMutex<Vec<serde_json::Value>>>) {
        let got = Arc::new(StdMutex::new(Vec::new()));
        let sink = got.clone();
        let channel: Channel<Push> = Channel::new(move |body| {
            if let InvokeResponseBody::Json(j) = body {
                sink.lock().unwrap().push(serde_json::from_str(&j).unwrap());
            }
            Ok(())
        });
        let view = JobView {
            job_id: 1,
            kind: JobKind::Migration,
            name: String::new(),
            run_id: None,
            state: "starting",
            verdict: None,
            error: None,
            source: "old (IMAP4S)".into(),
            destination: "new (port 993)".into(),
            warnings: Vec::new(),
            elapsed_ms: 0,
            session_log: false,
            rows: accounts.iter().map(|a| RowView::pending(a, a)).collect(),
        };
        let live = Arc::new(Live {
            id: 1,
            cancel: Cancel::default(),
            inner: Mutex::new(Inner {
                view,
                channel: Some(channel),
                started: Instant::now(),
                last_sent: HashMap::new(),
                held: HashMap::new(),
                outcome: None,
            }),
        });
        (live, got)
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

    #[test]
    fn events_move_a_row_from_pending_to_running_to_its_verdict() {
        let (live, got) = live(&["jane", "bob"]);
        live.apply(&Event::JobStarted {
            job: "1001".into(),
            mailboxes: 2,
        });
        live.apply(&Event::MailboxStarted {
            account: "jane".into(),
        });
        live.apply(&progress("jane", 4));
        let v = live.snapshot();
        assert_eq!(v.name, "1001");
        assert_eq!(v.state, "running");
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
        let kinds: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["event"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "job-started",
                "mailbox-started",
                "progress",
                "folder-finished",
                "mailbox-finished"
            ]
        );
    }

    #[test]
    fn progress_is_throttled_but_the_latest_is_sent_before_the_folder_ends() {
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
        assert_eq!(got.len(), 3);
        assert_eq!(got[1]["event"], "progress");
        assert_eq!(got[1]["messages_done"], 5);
        assert_eq!(got[2]["event"], "folder-finished");
    }

    #[test]
    fn a_folders_verification_reaches_the_page_with_the_messages_it_names() {
        use mailferry::outcome::{MessageBrief, Verification};
        let (live, got) = live(&["jane"]);
        let brief = |id: &str, subject: &str| MessageBrief {
            id: id.into(),
            subject: subject.into(),
            ..Default::default()
        };
        let folder = FolderOutcome {
            source: "Sent".into(),
            destination: "Sent".into(),
            verification: Some(Box::new(Verification {
                source_messages: 5,
                destination_messages: 5,
                missing: vec![brief("4", "Quarterly report")],
                extra: vec![brief("destination UID 9", "Lunch?")],
                other: 0,
            })),
            ..Default::default()
        };
        live.apply(&Event::FolderFinished {
            account: "jane".into(),
            outcome: folder,
        });
        let sent = got.lock().unwrap().last().cloned().unwrap();
        let v = &sent["outcome"]["verification"];
        assert_eq!(v["missing"][0]["subject"], "Quarterly report");
        assert_eq!(v["extra"][0]["id"], "destination UID 9");
        let view = serde_json::to_value(live.snapshot()).unwrap();
        assert_eq!(view["kind"], "migration");
        let v = &view["rows"][0]["folders"][0]["verification"];
        assert_eq!(
            (
                v["source_messages"].as_u64(),
                v["missing"].as_array().map(Vec::len)
            ),
            (Some(5), Some(1))
        );
    }

    #[test]
    fn a_reloaded_page_attaches_and_gets_the_state_then_the_news() {
        let (live, old) = live(&["jane"]);
        live.apply(&Event::MailboxStarted {
            account: "jane".into(),
        });
        let (_, fresh) = super::tests::live(&[]);
        let sink = fresh.clone();
        let channel: Channel<Push> = Channel::new(move |body| {
            if let InvokeResponseBody::Json(j) = body {
                sink.lock().unwrap().push(serde_json::from_str(&j).unwrap());
            }
            Ok(())
        });
        let view = live.attach(channel);
        assert_eq!(view.rows[0].state, RowState::Running);
        live.apply(&progress("jane", 2));
        assert_eq!(old.lock().unwrap().len(), 1);
        assert_eq!(fresh.lock().unwrap().len(), 1);
        live.cancel();
        assert_eq!(live.snapshot().state, "cancelling");
        live.finish(Ok(Ended {
            run_id: Some(7),
            verdict: Verdict::Partial,
            outcome: None,
            error: None,
        }));
        let v = live.snapshot();
        assert_eq!((v.state, v.run_id), ("finished", Some(7)));
        assert_eq!(fresh.lock().unwrap().last().unwrap()["event"], "job-ended");
    }
}
