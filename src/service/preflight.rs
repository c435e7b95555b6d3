//! The pre-flight report for whoever asks (the app): each mailbox told as
//! it is checked, stoppable, and kept in the history.

use serde::Serialize;
use ts_rs::TS;

use super::{Service, StartError};
use crate::copy::Options;
use crate::error::MailError;
use crate::job::Job;
use crate::preflight::{self, PreflightProgress, PreflightReport};
use crate::store::BeginError;

/// A pre-flight report and its place in the history.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct PreflightRun {
    pub run_id: i64,
    pub report: PreflightReport,
}

impl Service {
    /// Checks the whole job without copying anything (see
    /// [`crate::preflight`]), telling `on_progress` of each mailbox as it
    /// is done; [`Service::cancel_preflights`] stops it, and the report
    /// then holds the mailboxes checked by then.
    pub async fn preflight_live(
        &self,
        job: Job,
        opts: Options,
        on_progress: impl FnMut(PreflightProgress) + Send + 'static,
    ) -> Result<PreflightRun, StartError> {
        let (cancel, registered) = self.preflights.add();
        let store = self.store.clone();
        let opts = self.with_store(opts);
        self.runtime
            .spawn(async move {
                let _registered = registered;
                preflight::run(job, store, opts, cancel, on_progress).await
            })
            .await
            .map_err(|e| {
                BeginError::Store(MailError::Internal(format!(
                    "the pre-flight check stopped: {e}"
                )))
            })?
            .map(|(run_id, report)| PreflightRun { run_id, report })
            .map_err(StartError::from)
    }

    /// Stops the pre-flight checks running now; how many there were.
    pub fn cancel_preflights(&self) -> usize {
        self.preflights.cancel_all()
    }

    /// A pre-flight report kept in the history.
    pub fn preflight_report(&self, run_id: i64) -> Result<Option<PreflightReport>, MailError> {
        self.store.preflight_report(run_id)
    }
}
