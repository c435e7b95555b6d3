//! A system notification when a job ends while MailFerry's window is in
//! the background: a long job should not need watching.

use std::sync::Arc;

use mailferry::service::{JobKind, JobView, Live};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

/// Test only: when set, notifications are appended to this file (one JSON
/// object a line) instead of shown, whatever the window's focus.
pub const NOTIFY_FILE_FOR_TESTS: &str = "MAILFERRY_TEST_NOTIFY_FILE";

/// The notification's title and body for a job that ended.
pub fn words(view: &JobView) -> (String, String) {
    let s = &view.totals.states;
    let what = match view.kind {
        JobKind::Verification => "Verification",
        JobKind::Migration => "Migration",
        JobKind::DryRun => "Dry run",
    };
    let title = match (&view.error, s.failed, s.partial) {
        (Some(_), ..) => format!("{what} {} stopped", view.name),
        (None, 0, 0) => format!("{what} {} finished", view.name),
        _ => format!("{what} {} finished with problems", view.name),
    };
    let mailboxes = view.rows.len() as u64;
    let mut parts = vec![format!(
        "{} of {} mailbox{} succeeded",
        group(s.success),
        group(mailboxes),
        if mailboxes == 1 { "" } else { "es" }
    )];
    for (n, word) in [(s.partial, "partial"), (s.failed, "failed")] {
        if n > 0 {
            parts.push(format!("{} {word}", group(n)));
        }
    }
    let unfinished = mailboxes.saturating_sub(s.success + s.partial + s.failed);
    if unfinished > 0 {
        parts.push(format!("{} not done", group(unfinished)));
    }
    let mut body = parts.join(", ");
    body.push('.');
    if let Some(e) = &view.error {
        body = format!("{e} {body}");
    } else if view.kind == JobKind::Migration {
        body += &format!(
            " {} messages copied, {} already there.",
            group(view.totals.migrated),
            group(view.totals.skipped)
        );
    }
    (title, body)
}

/// 1538 as "1,538".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Notifies once `live` ends, unless the window has the focus then (the
/// page shows the end itself).
pub fn when_ended<R: Runtime>(app: AppHandle<R>, live: Arc<Live>) {
    crate::jobs::engine_runtime().spawn(async move {
        live.finished().await;
        let (title, body) = words(&live.snapshot());
        if let Some(file) = std::env::var_os(NOTIFY_FILE_FOR_TESTS) {
            let line = serde_json::json!({ "title": title, "body": body }).to_string() + "\n";
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
            return;
        }
        let focused = app
            .get_webview_window("main")
            .and_then(|w| w.is_focused().ok())
            .unwrap_or(false);
        if !focused {
            // No notification service (a bare session) is no reason to fail.
            let _ = app.notification().builder().title(title).body(body).show();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry::service::RowState;

    fn view(states: &[RowState]) -> JobView {
        let mut v = JobView::of_run(0, &Default::default());
        v.name = "acme".into();
        v.rows = states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut r = mailferry::service::RowView::pending(&format!("u{i}"), "");
                r.state = *s;
                r
            })
            .collect();
        v.totals = mailferry::service::Totals::of(&v.rows);
        v
    }

    #[test]
    fn the_words_give_the_outcome_counts() {
        use RowState::*;
        let mut v = view(&[Success; 3]);
        v.totals.migrated = 1538;
        assert_eq!(
            words(&v),
            (
                "Migration acme finished".into(),
                "3 of 3 mailboxes succeeded. 1,538 messages copied, 0 already there.".into()
            )
        );
        let v = view(&[Success, Partial, Failed, Failed, Pending]);
        let (title, body) = words(&v);
        assert_eq!(title, "Migration acme finished with problems");
        assert!(
            body.starts_with("1 of 5 mailboxes succeeded, 1 partial, 2 failed, 1 not done."),
            "{body}"
        );
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(999), "999");
    }
}
