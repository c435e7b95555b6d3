//! The one way to run things, for the CLI and the app alike: start a job,
//! verify one, test its logins, watch, cancel, re-attach, list runs and
//! saved jobs. It owns the live view of every job ([`view`]); whoever
//! watches gets row updates, never raw engine events.

mod live;
mod logins;
mod preflight;
mod retry;
mod saved;
mod secrets;
mod view;

pub use live::{Ended, Live, Watcher};
pub use logins::{LoginEvent, LoginTest};
pub use preflight::PreflightRun;
pub use retry::RetryError;
pub use saved::{EditForm, SavedError};
pub use secrets::{MemorySecrets, SecretError, SecretStore};
pub use view::{JobKind, JobState, JobView, RowState, RowView, StateCounts, Totals, Update};

use std::sync::{Arc, Mutex};

use serde::Serialize;
use ts_rs::TS;

use crate::copy::{self, Cancel, LoginCheck, Options};
use crate::error::MailError;
use crate::job::Job;
use crate::progress::{Event, Sink};
use crate::store::{BeginError, RunSummary, Store};

/// Why a job did not start. Nothing was copied.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StartError {
    #[error(transparent)]
    Begin(#[from] BeginError),
    #[error(transparent)]
    Verify(#[from] copy::VerifyError),
    /// A verification of a job that is copying now would report what it has
    /// not copied yet as missing.
    #[error("Job {0} is running: verify it once it has finished.")]
    Running(String),
}

impl StartError {
    /// Which part of a job's form the error is about: `name`, or the job
    /// as a whole.
    pub fn field(&self) -> &'static str {
        match self {
            StartError::Begin(BeginError::NameTaken(_)) | StartError::Verify(_) => "name",
            _ => "job",
        }
    }
}

/// One line of History: the run, and the live job when this process runs it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HistoryRow {
    #[serde(flatten)]
    pub run: RunSummary,
    pub live_job_id: Option<u64>,
    /// Whether it can run again without typing its passwords (it is saved).
    pub can_rerun: bool,
}

/// MailFerry's jobs, over one database, on one runtime.
pub struct Service {
    store: Store,
    runtime: tokio::runtime::Handle,
    jobs: live::Jobs,
    login_tests: logins::Running,
    /// Pre-flight checks running now, to stop them.
    preflights: logins::Running,
    /// Where OAuth refresh tokens are kept, given to every run, check and
    /// pre-flight whose options name none.
    secrets: Option<Arc<dyn SecretStore>>,
}

impl Service {
    /// Jobs will run on `runtime`.
    pub fn new(store: Store, runtime: tokio::runtime::Handle) -> Service {
        Service {
            store,
            runtime,
            jobs: live::Jobs::default(),
            login_tests: logins::Running::default(),
            preflights: logins::Running::default(),
            secrets: None,
        }
    }

    /// The same, with `secrets` holding the OAuth refresh tokens of
    /// signed-in mailboxes (the app's keyring).
    pub fn with_secrets(self, secrets: Arc<dyn SecretStore>) -> Service {
        Service {
            secrets: Some(secrets),
            ..self
        }
    }

    /// `opts`, with this service's secret store unless they name one.
    fn with_store(&self, opts: Options) -> Options {
        match (&opts.secrets, &self.secrets) {
            (None, Some(s)) => opts.with_secrets(s.clone()),
            _ => opts,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts `job` and returns once the engine has begun it (named it,
    /// recorded it in the history) or refused to. Updates go to `watcher`.
    /// With `opts.dry_run` it is a dry run: nothing is changed.
    pub async fn start(
        &self,
        job: Job,
        opts: Options,
        watcher: Option<Watcher>,
    ) -> Result<Arc<Live>, StartError> {
        let store = self.store.clone();
        let opts = self.with_store(opts);
        let kind = match opts.dry_run {
            true => JobKind::DryRun,
            false => JobKind::Migration,
        };
        self.launch(kind, job, watcher, move |job, sink, cancel| async move {
            let done = copy::run(job, store, sink, opts, cancel).await?;
            Ok(Ended {
                verdict: done.outcome.verdict(),
                outcome: done.outcome,
                recorded: done.unrecorded.is_none(),
                error: done.unrecorded.map(|e| {
                    format!("The job ran (its log says what was copied), but MailFerry could not record it in its history: {e}")
                }),
            })
        })
        .await
    }

    /// Starts the verification pass alone for `job` (nothing copied,
    /// nothing recorded in the history); its outcome stays with the job.
    pub async fn verify(
        &self,
        job: Job,
        opts: Options,
        watcher: Option<Watcher>,
    ) -> Result<Arc<Live>, StartError> {
        if let Some(name) = job.name.as_deref() {
            let copying = self
                .jobs
                .list()
                .iter()
                .any(|j| j.kind() == JobKind::Migration && j.is_running() && j.name() == name);
            if copying {
                return Err(StartError::Running(name.to_string()));
            }
        }
        let store = self.store.clone();
        let opts = self.with_store(opts);
        self.launch(
            JobKind::Verification,
            job,
            watcher,
            move |job, sink, cancel| async move {
                let outcome = copy::verify(job, store, sink, opts, cancel).await?;
                Ok(Ended {
                    verdict: outcome.verdict(),
                    outcome,
                    recorded: false,
                    error: None,
                })
            },
        )
        .await
    }

    /// Logs in to both servers for every mailbox of `job`, copying nothing.
    pub async fn test_logins(&self, job: Job, opts: Options) -> Result<Vec<LoginCheck>, MailError> {
        Ok(self.test_logins_live(job, opts, |_| {}).await?.checks)
    }

    /// [`Service::test_logins`], telling `on_event` of each mailbox as soon
    /// as it is tried; [`Service::cancel_login_tests`] stops it, and the
    /// answer then has the mailboxes tried by then.
    pub async fn test_logins_live(
        &self,
        job: Job,
        opts: Options,
        mut on_event: impl FnMut(LoginEvent) + Send + 'static,
    ) -> Result<LoginTest, MailError> {
        let (cancel, registered) = self.login_tests.add();
        let opts = self.with_store(opts);
        let mailboxes = job.users.len();
        self.runtime
            .spawn(async move {
                let _registered = registered;
                on_event(LoginEvent::Started { mailboxes });
                let checks = copy::test_logins(job, opts, cancel, |index, check| {
                    on_event(LoginEvent::Tested {
                        index,
                        check: check.clone(),
                    })
                })
                .await;
                LoginTest {
                    mailboxes,
                    cancelled: checks.len() < mailboxes,
                    checks,
                }
            })
            .await
            .map_err(|e| MailError::Internal(format!("testing the logins stopped: {e}")))
    }

    /// Stops the login tests running now: no further login starts, those
    /// under way are dropped. How many tests there were.
    pub fn cancel_login_tests(&self) -> usize {
        self.login_tests.cancel_all()
    }

    /// A job of this process.
    pub fn job(&self, job_id: u64) -> Option<Arc<Live>> {
        self.jobs.list().iter().find(|j| j.id == job_id).cloned()
    }

    /// Every job of this process, running or finished.
    pub fn jobs(&self) -> Vec<JobView> {
        self.jobs.list().iter().map(|j| j.snapshot()).collect()
    }

    /// Watches a job again: where it stands now; further updates go to
    /// `watcher`.
    pub fn attach(&self, job_id: u64, watcher: Watcher) -> Option<JobView> {
        self.job(job_id).map(|j| j.attach(watcher))
    }

    /// Stops a job after its current batches; it ends and is recorded like
    /// any other (a later run resumes it).
    pub fn cancel(&self, job_id: u64) -> bool {
        self.job(job_id).map(|j| j.cancel()).is_some()
    }

    pub fn cancel_all(&self) {
        for j in self.jobs.list().iter() {
            j.cancel();
        }
        self.login_tests.cancel_all();
        self.preflights.cancel_all();
    }

    /// Jobs still running.
    pub fn running(&self) -> usize {
        self.jobs.list().iter().filter(|j| j.is_running()).count()
    }

    /// Every run in the history (the CLI's and the app's, dry runs marked
    /// as such), newest first, with the live job of this process that runs
    /// it.
    pub fn history(&self) -> Result<Vec<HistoryRow>, MailError> {
        let runs = self.store.runs()?;
        let live: Vec<JobView> = self
            .jobs()
            .into_iter()
            .filter(|v| {
                matches!(v.kind, JobKind::Migration | JobKind::DryRun)
                    && v.state != JobState::Finished
            })
            .collect();
        let saved = self.store.saved_job_names()?;
        Ok(runs
            .into_iter()
            .map(|run| HistoryRow {
                live_job_id: live
                    .iter()
                    .find(|v| run.finished_at.is_none() && v.run_id == Some(run.run_id))
                    .map(|v| v.job_id),
                can_rerun: saved.contains(&run.job_name),
                run,
            })
            .collect())
    }

    /// Keeps `job` for running again: its passwords in `secrets`, the rest
    /// of its `form` (a `JobFile` as JSON) in the database, under `name`.
    pub fn save_job(
        &self,
        secrets: &dyn SecretStore,
        name: &str,
        form: &serde_json::Value,
        job: &Job,
    ) -> Result<(), SavedError> {
        saved::save(&self.store, secrets, name, form, job)
    }

    /// The form of the job run `run_id` ran, its passwords back from
    /// `secrets`.
    pub fn saved_form(
        &self,
        secrets: &dyn SecretStore,
        run_id: i64,
    ) -> Result<serde_json::Value, SavedError> {
        saved::form_of_run(&self.store, secrets, run_id)
    }

    /// `job` (the job of run `run_id`) with only the mailboxes that run
    /// left failed or partial: what Retry failed starts.
    pub fn failed_of_run(&self, job: Job, run_id: i64) -> Result<Job, RetryError> {
        retry::failed_of_run(&self.store, job, run_id)
    }

    /// The job of run `run_id` back in the form (Edit and run again): its
    /// passwords where the secret store has them, a note for the rest.
    pub fn edit_form(
        &self,
        secrets: &dyn SecretStore,
        run_id: i64,
    ) -> Result<EditForm, SavedError> {
        saved::form_to_edit(&self.store, secrets, run_id)
    }

    /// A finished run of the history, as its view.
    pub fn run_view(&self, run_id: i64) -> Result<Option<JobView>, MailError> {
        Ok(self
            .store
            .run_outcome(run_id)?
            .map(|o| JobView::of_run(run_id, &o)))
    }

    /// Either kind of job: its view, the engine's events folded into it,
    /// its end recorded.
    async fn launch<W, F>(
        &self,
        kind: JobKind,
        job: Job,
        watcher: Option<Watcher>,
        work: W,
    ) -> Result<Arc<Live>, StartError>
    where
        W: FnOnce(Job, Sink, Cancel) -> F,
        F: std::future::Future<Output = Result<Ended, StartError>> + Send + 'static,
    {
        let live = self.jobs.add(kind, &job, watcher);
        // Answered once: begun (the engine named the job) or refused.
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), StartError>>();
        let answer = Arc::new(Mutex::new(Some(tx)));
        let reply = move |r: Result<(), StartError>| {
            if let Some(tx) = answer.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(r);
            }
        };
        let reply = Arc::new(reply);
        let (for_sink, begun) = (live.clone(), reply.clone());
        let sink: Sink = Arc::new(move |e: &Event| {
            for_sink.apply(e);
            if let Event::JobStarted { .. } = e {
                begun(Ok(()));
            }
        });
        let task = work(job, sink, live.cancel_handle());
        let for_end = live.clone();
        self.runtime.spawn(async move {
            match task.await {
                Ok(ended) => for_end.finish(Ok(ended)),
                Err(e) => {
                    for_end.finish(Err(e.to_string()));
                    reply(Err(e));
                }
            }
        });
        match rx.await {
            Ok(Err(e)) => Err(e),
            // Begun; or the task ended without a word (a panic): the view
            // says so.
            Ok(Ok(())) | Err(_) => Ok(live),
        }
    }
}
