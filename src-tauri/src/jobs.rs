//! The app's side of running jobs: the engine's runtime (jobs run there,
//! independent of the page) and the page's Channel as a watcher of the
//! service's updates. The jobs themselves, and their view, are the engine's
//! (`mailferry::service`).

use std::sync::{Arc, OnceLock};

use mailferry::service::{Update, Watcher};
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

/// Sends a job's updates to the page over `channel`, until the page is gone.
pub fn watcher(channel: Channel<Update>) -> Watcher {
    Arc::new(move |u: &Update| channel.send(u.clone()).is_ok())
}
