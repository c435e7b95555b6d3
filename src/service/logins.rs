//! "Test logins" for whoever asks (the CLI, the app): each mailbox told as
//! soon as it is tried, and stoppable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use ts_rs::TS;

use crate::copy::{Cancel, LoginCheck};

/// What a login test says as it goes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum LoginEvent {
    /// The test has begun: this many mailboxes to try.
    Started { mailboxes: usize },
    /// One mailbox's logins were tried.
    Tested {
        /// The mailbox's place in the job's user list.
        index: usize,
        check: LoginCheck,
    },
}

/// A login test that has ended, or was stopped.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct LoginTest {
    /// The job's mailboxes, tried or not.
    pub mailboxes: usize,
    /// The mailboxes whose logins were tried, in the user list's order.
    pub checks: Vec<LoginCheck>,
    /// Stopped before every mailbox was tried.
    pub cancelled: bool,
}

/// The login tests running now, to stop them.
#[derive(Debug, Default, Clone)]
pub(super) struct Running(Arc<Mutex<(u64, HashMap<u64, Cancel>)>>);

/// A running login test's place in [`Running`]; it leaves when dropped.
pub(super) struct Registered {
    running: Running,
    id: u64,
}

impl Running {
    /// A new test: its cancel token, and its place (held while it runs).
    pub fn add(&self) -> (Cancel, Registered) {
        let cancel = Cancel::default();
        let mut all = self.lock();
        all.0 += 1;
        let id = all.0;
        all.1.insert(id, cancel.clone());
        let running = self.clone();
        (cancel, Registered { running, id })
    }

    /// Stops every running test; how many there were.
    pub fn cancel_all(&self) -> usize {
        let all = self.lock();
        for c in all.1.values() {
            c.cancel();
        }
        all.1.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<u64, Cancel>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.running.lock().1.remove(&self.id);
    }
}
