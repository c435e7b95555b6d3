//! The app's commands through tauri's mock runtime: the real context (so
//! the capabilities in capabilities/main.json apply), a real database in a
//! temporary folder, and an in-memory vault.

use mailferry::outcome::{FolderOutcome, JobOutcome, MailboxOutcome};
use mailferry::store::Store;
use mailferry_app::{setup, vault::Vault, AppState};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct TestApp {
    _dir: tempfile::TempDir,
    store: Store,
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("mailferry.db")).unwrap();
    let app = setup(
        mock_builder(),
        AppState::new(Ok(store.clone()), Vault::memory()),
    )
    .build(tauri::generate_context!("../tauri.conf.json"))
    .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _dir: dir,
        store,
        _app: app,
        window,
    }
}

/// Where "Download log" writes in these tests: one folder for the whole
/// process (the tests run side by side and share its environment).
fn save_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var(mailferry_app::commands::SAVE_DIR_FOR_TESTS, dir.path());
        dir
    })
    .path()
}

fn call(app: &TestApp, cmd: &str, body: Value) -> Result<Value, Value> {
    call_on(&app.window, cmd, body)
}

/// [`call`] from any thread: the page's window calls `cmd`.
fn call_on(window: &WebviewWindow<MockRuntime>, cmd: &str, body: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|r| r.deserialize::<Value>().unwrap())
}

fn job(users: &str) -> Value {
    json!({
        "name": "acme",
        "source": {"host": "old.example", "protocol": "imap4s",
                   "ports": {"imap4": [143], "imap4s": [993], "pop3": [110], "pop3s": [995]}},
        "destination": {"host": "new.example", "port": 993, "security": "tls", "auth": "user"},
        "folders": {"skip": "", "translate": ""},
        "users": {"delimiter": ",", "list": users},
        "options": {}
    })
}

#[test]
fn validate_job_answers_with_the_engines_field_and_line() {
    let app = app();
    let v = call(
        &app,
        "validate_job",
        json!({"request": {"job": job("jane,pw1,jane,pw2\nbob,pw3")}}),
    )
    .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["field"], "users");
    assert_eq!(v["error"]["line"], 2);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2 of the user list has no local password"));
    let v = call(
        &app,
        "validate_job",
        json!({"request": {"job": job("jane,pw1,jane,pw2")}}),
    )
    .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["mailboxes"], 1);
}

#[test]
fn a_spreadsheet_becomes_the_user_list_and_the_preview_reads_it_without_passwords() {
    let app = app();
    let bytes = include_bytes!("../../tests/data/users.xlsx").to_vec();
    let list = call(
        &app,
        "import_users",
        json!({"bytes": bytes, "delimiter": ";"}),
    )
    .unwrap();
    let list = list.as_str().unwrap();
    assert_eq!(
        list,
        "Email;Password\nalice@example.com;\"p,w\"\"1\"\nbob;12345;robert\n\ncarol;pw-carol\n"
    );
    let p = call(
        &app,
        "preview_users",
        json!({"list": list, "delimiter": ";"}),
    )
    .unwrap();
    assert_eq!(
        (
            p["mailboxes"].clone(),
            p["problems"].clone(),
            p["header"].clone()
        ),
        (json!(3), json!(0), json!(1))
    );
    assert_eq!(p["lines"][1]["local_user"], "robert");
    let shown = p.to_string();
    for password in ["p,w", "12345", "pw-carol"] {
        assert!(!shown.contains(password), "{password} in {shown}");
    }
    // Not a spreadsheet: the user list's field says why.
    let e = call(
        &app,
        "import_users",
        json!({"bytes": b"alice,pw".to_vec(), "delimiter": ","}),
    )
    .unwrap_err();
    assert_eq!(e["field"], "users");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a spreadsheet MailFerry can read"),
        "{e}"
    );
}

#[test]
fn a_form_the_engine_cannot_read_is_an_error_of_the_form() {
    let app = app();
    let mut j = job("jane,pw1,jane,pw2");
    j["source"]["ports"]["imap4s"] = json!([70000]);
    let v = call(&app, "validate_job", json!({"request": {"job": j}})).unwrap();
    assert_eq!(v["error"]["field"], "form");
    let mut j = job("jane,pw1,jane,pw2");
    j["options"] = json!({"parallel_mailboxes": 99});
    let v = call(&app, "validate_job", json!({"request": {"job": j}})).unwrap();
    assert_eq!(v["error"]["field"], "options", "{v}");
}

#[test]
fn history_and_run_details_read_the_shared_database() {
    let app = app();
    assert_eq!(call(&app, "history", json!({})).unwrap(), json!([]));
    // A run recorded by anyone (the CLI, say) shows in History.
    let run = app
        .store
        .begin_run(Some("from-cli"), "f", "old.example", "new.example", 1)
        .unwrap();
    let outcome = JobOutcome {
        name: "from-cli".into(),
        source: "old.example (IMAP4S)".into(),
        destination: "new.example (port 993)".into(),
        mailboxes: vec![MailboxOutcome {
            source_user: "jane".into(),
            local_user: "jane".into(),
            folders: vec![FolderOutcome {
                source: "INBOX".into(),
                destination: "INBOX".into(),
                migrated: 2,
                failed: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    app.store
        .finish_run(run.run_id, &outcome, "the log")
        .unwrap();
    let h = call(&app, "history", json!({})).unwrap();
    assert_eq!(h[0]["job_name"], "from-cli");
    assert_eq!(h[0]["verdict"], "partial");
    assert_eq!(h[0]["can_rerun"], false);
    let d = call(&app, "run_details", json!({"run_id": run.run_id})).unwrap();
    assert_eq!(d["state"], "finished");
    assert_eq!(d["rows"][0]["state"], "partial");
    assert_eq!(d["rows"][0]["migrated"], 2);
    assert_eq!(d["rows"][0]["folders"][0]["failed"], 1);
    let e = call(&app, "run_details", json!({"run_id": 999})).unwrap_err();
    // Errors cross as a code to act on, and words.
    assert_eq!(e["code"], "not-found", "{e}");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("not in the history"));
}

#[test]
fn download_log_writes_text_and_csv() {
    let app = app();
    let run = app
        .store
        .begin_run(Some("acme"), "f", "old.example", "new.example", 0)
        .unwrap();
    let outcome = JobOutcome {
        name: "acme".into(),
        ..Default::default()
    };
    app.store
        .finish_run(run.run_id, &outcome, "MailFerry migration log\n")
        .unwrap();
    save_dir();
    let p = call(
        &app,
        "download_log",
        json!({"run_id": run.run_id, "format": "text"}),
    )
    .unwrap();
    let text = std::fs::read_to_string(p.as_str().unwrap()).unwrap();
    assert_eq!(text, "MailFerry migration log\n");
    let p = call(
        &app,
        "download_log",
        json!({"run_id": run.run_id, "format": "csv"}),
    )
    .unwrap();
    assert!(p.as_str().unwrap().ends_with(".csv"));
    let csv = std::fs::read_to_string(p.as_str().unwrap()).unwrap();
    assert!(csv.starts_with("job,source_user,local_user,folder,"));
}

#[test]
fn vault_status_and_memory_choice() {
    let app = app();
    let s = call(&app, "vault_status", json!({})).unwrap();
    assert_eq!(s["kind"], "memory");
    let s = call(&app, "vault_use_memory", json!({})).unwrap();
    assert_eq!(s["kind"], "memory");
}

#[test]
fn the_error_catalogue_reaches_the_page_with_codes_classes_and_advice() {
    let app = app();
    let list = call(&app, "error_catalogue", json!({})).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), mailferry::error::catalogue().len());
    let login = list.iter().find(|e| e["code"] == "login-failed").unwrap();
    assert_eq!(login["class"], "fatal-for-mailbox");
    assert!(login["title"].as_str().unwrap().contains("Login failed"));
    assert!(login["meaning"]
        .as_str()
        .unwrap()
        .contains("user name or password"));
    assert!(login["what_to_do"].as_str().unwrap().contains("user list"));
    let refused = list.iter().find(|e| e["code"] == "refused").unwrap();
    assert_eq!(refused["class"], "fatal-for-folder");
}

#[test]
fn jobs_of_the_session_are_listed_and_unknown_ones_are_not_cancelled() {
    let app = app();
    assert_eq!(call(&app, "list_jobs", json!({})).unwrap(), json!([]));
    assert_eq!(
        call(&app, "cancel_job", json!({"job_id": 42})).unwrap(),
        json!(false)
    );
}

#[test]
fn the_page_may_not_call_what_the_capability_does_not_grant() {
    let app = app();
    // A core plugin command, and the dialog plugin: neither is granted.
    for cmd in ["plugin:app|version", "plugin:dialog|save"] {
        let e = call(&app, cmd, json!({})).unwrap_err();
        assert!(
            e.to_string().contains("not allowed"),
            "{cmd} was allowed: {e}"
        );
    }
}

/// A port on this computer where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A job of one mailbox whose servers are at `port` on this computer, that
/// gives up at the first fault.
fn local_job(port: u16) -> Value {
    let mut j = job("jane,pw1,jane,pw2");
    j["source"]["host"] = json!("127.0.0.1");
    j["source"]["ports"]["imap4s"] = json!([port]);
    j["destination"]["host"] = json!("127.0.0.1");
    j["destination"]["port"] = json!(port);
    j["options"] = json!({"retries": 0, "connect_timeout_seconds": 5, "timeout_seconds": 30});
    j
}

/// The page's Channel, as the page passes it.
const CHANNEL: &str = "__CHANNEL__:1";

/// Waits until the session's job `id` has finished, and returns its view.
fn finished(app: &TestApp, id: &Value) -> Value {
    for _ in 0..600 {
        let jobs = call(app, "list_jobs", json!({})).unwrap();
        let job = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| &j["job_id"] == id)
            .cloned()
            .expect("the job is in the session's list");
        if job["state"] == "finished" {
            return job;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("job {id} did not finish");
}

#[test]
fn verify_job_runs_the_verification_alone_and_keeps_its_log_in_the_session() {
    let app = app();
    let started = call(
        &app,
        "start_job",
        json!({"request": {"job": local_job(closed_port())}, "on_event": CHANNEL}),
    )
    .unwrap();
    assert_eq!(started["kind"], "migration");
    finished(&app, &started["job_id"]);
    let h = call(&app, "history", json!({})).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(h[0]["can_rerun"], true);
    let run_id = h[0]["run_id"].clone();

    let v = call(
        &app,
        "verify_job",
        json!({"run_id": run_id, "on_event": CHANNEL}),
    )
    .unwrap();
    assert_eq!(v["kind"], "verification");
    assert_eq!(v["name"], "acme");
    assert_ne!(v["job_id"], started["job_id"]);
    assert_eq!(v["rows"][0]["account"], "jane");
    let v = finished(&app, &v["job_id"]);
    // Nothing answers at that port: the mailbox could not be checked.
    assert_eq!(v["verdict"], "failed", "{v}");
    assert_eq!(v["run_id"], Value::Null);
    assert!(v["rows"][0]["error"].as_str().is_some(), "{v}");
    // The verification is not a run: History has the one run it had.
    let h = call(&app, "history", json!({})).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h[0]["live_job_id"], Value::Null);

    save_dir();
    let p = call(
        &app,
        "download_verification_log",
        json!({"job_id": v["job_id"], "format": "text"}),
    )
    .unwrap();
    let p = p.as_str().unwrap();
    assert!(p.ends_with("mailferry-acme-verify.log"), "{p}");
    let text = std::fs::read_to_string(p).unwrap();
    assert!(
        text.starts_with("MailFerry verification log (nothing was copied)\nJob:         acme\n"),
        "{text}"
    );
    assert!(text.contains("== jane : FAILED"), "{text}");
    let p = call(
        &app,
        "download_verification_log",
        json!({"job_id": v["job_id"], "format": "csv"}),
    )
    .unwrap();
    let csv = std::fs::read_to_string(p.as_str().unwrap()).unwrap();
    assert!(csv.starts_with("job,source_user,"), "{csv}");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",verification,filtered"),
        "{csv}"
    );
    assert!(csv.contains("\nacme,jane,jane,,,failed,"), "{csv}");
    // A migration's log is the run's, in the history: not here.
    let e = call(
        &app,
        "download_verification_log",
        json!({"job_id": started["job_id"], "format": "text"}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "not-found", "{e}");
    assert!(e["message"].as_str().unwrap().contains("no log yet"), "{e}");
}

#[test]
fn verify_job_needs_a_job_started_from_the_app() {
    let app = app();
    let run = app
        .store
        .begin_run(Some("from-cli"), "f", "old.example", "new.example", 1)
        .unwrap();
    app.store
        .finish_run(run.run_id, &JobOutcome::default(), "the log")
        .unwrap();
    let e = call(
        &app,
        "verify_job",
        json!({"run_id": run.run_id, "on_event": CHANNEL}),
    )
    .unwrap_err();
    assert_eq!(
        (e["field"].as_str(), e["code"].as_str()),
        (Some("job"), Some("not-saved"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("was not started from this app"),
        "{e}"
    );
    assert_eq!(call(&app, "list_jobs", json!({})).unwrap(), json!([]));
    let e = call(
        &app,
        "verify_job",
        json!({"run_id": 999, "on_event": CHANNEL}),
    )
    .unwrap_err();
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("not in the history"));
}

#[test]
fn verify_job_waits_until_the_jobs_migration_has_finished() {
    let app = app();
    // A server that takes the connection and never says a word: the
    // migration waits for it (until its time limit).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = call(
        &app,
        "start_job",
        json!({"request": {"job": local_job(port)}, "on_event": CHANNEL}),
    )
    .unwrap();
    let h = call(&app, "history", json!({})).unwrap();
    assert_eq!(h[0]["live_job_id"], started["job_id"]);
    let e = call(
        &app,
        "verify_job",
        json!({"run_id": h[0]["run_id"], "on_event": CHANNEL}),
    )
    .unwrap_err();
    assert_eq!(
        e["message"],
        "Job acme is running: verify it once it has finished."
    );
    assert_eq!(e["code"], "job-running");
    let jobs = call(&app, "list_jobs", json!({})).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "no verification started");
    call(&app, "cancel_job", json!({"job_id": started["job_id"]})).unwrap();
    drop(silent);
}

#[test]
fn retry_failed_runs_the_failed_mailboxes_of_a_run_again_in_the_same_job() {
    let app = app();
    let mut j = local_job(closed_port());
    j["users"]["list"] = json!("jane,pw1,jane,pw2\nbob,pw3,bob,pw4");
    let started = call(
        &app,
        "start_job",
        json!({"request": {"job": j}, "on_event": CHANNEL}),
    )
    .unwrap();
    // Nothing answers at that port: both mailboxes fail.
    assert_eq!(finished(&app, &started["job_id"])["verdict"], "failed");
    let run_id = call(&app, "history", json!({})).unwrap()[0]["run_id"].clone();

    let retry = call(
        &app,
        "retry_failed",
        json!({"run_id": run_id, "on_event": CHANNEL}),
    )
    .unwrap();
    assert_eq!(retry["kind"], "migration");
    assert_eq!(retry["name"], "acme");
    let accounts: Vec<_> = retry["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["account"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(accounts, ["jane", "bob"]);
    finished(&app, &retry["job_id"]);
    let h = call(&app, "history", json!({})).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h[0]["job_name"], "acme");

    // A run from the command line has no passwords kept; an unknown run
    // is not in the history.
    let cli = app
        .store
        .begin_run(Some("from-cli"), "f", "old.example", "new.example", 1)
        .unwrap();
    app.store
        .finish_run(cli.run_id, &JobOutcome::default(), "the log")
        .unwrap();
    let e = call(
        &app,
        "retry_failed",
        json!({"run_id": cli.run_id, "on_event": CHANNEL}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "not-saved", "{e}");
    let e = call(
        &app,
        "retry_failed",
        json!({"run_id": 999, "on_event": CHANNEL}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "not-found", "{e}");

    // Edit and run again: the app's job whole, the command line's with a note.
    let edit = call(&app, "edit_form", json!({"run_id": run_id})).unwrap();
    assert_eq!(edit["note"], Value::Null, "{edit}");
    assert_eq!(
        edit["form"]["users"]["list"],
        "jane,pw1,jane,pw2\nbob,pw3,bob,pw4\n"
    );
    let edit = call(&app, "edit_form", json!({"run_id": cli.run_id})).unwrap();
    assert_eq!(edit["form"]["name"], "from-cli");
    assert!(
        edit["note"]
            .as_str()
            .unwrap()
            .contains("ran from the command line"),
        "{edit}"
    );
}

#[test]
fn test_logins_tells_each_mailbox_over_the_channel_and_answers_with_all_of_them() {
    let app = app();
    let mut j = local_job(closed_port());
    j["users"]["list"] = json!("jane,pw1,jane,pw2\nbob,pw3,bob,pw4");
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let channel = tauri::ipc::Channel::new({
        let heard = heard.clone();
        move |body: tauri::ipc::InvokeResponseBody| {
            heard
                .lock()
                .unwrap()
                .push(body.deserialize::<Value>().unwrap());
            Ok(())
        }
    });
    let request = serde_json::from_value(json!({ "job": j })).unwrap();
    let state = tauri::Manager::state::<AppState>(&app._app);
    let answer = tauri::async_runtime::block_on(mailferry_app::commands::test_logins(
        state, request, channel,
    ))
    .unwrap();
    // Nothing answers at that port: both fail, each with its words.
    assert_eq!(answer.mailboxes, 2);
    assert!(!answer.cancelled);
    let users: Vec<_> = answer
        .checks
        .iter()
        .map(|c| c.source_user.as_str())
        .collect();
    assert_eq!(users, ["jane", "bob"]);
    assert!(answer.checks.iter().all(|c| c.source_error.is_some()));
    let heard = heard.lock().unwrap().clone();
    assert_eq!(
        heard[0],
        json!({"event": "started", "mailboxes": 2}),
        "{heard:?}"
    );
    let mut tested: Vec<(u64, String)> = heard[1..]
        .iter()
        .map(|e| {
            assert_eq!(e["event"], "tested", "{e}");
            (
                e["index"].as_u64().unwrap(),
                e["check"]["source_user"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    tested.sort();
    assert_eq!(tested, [(0, "jane".to_string()), (1, "bob".to_string())]);

    // Through the page's IPC: the summary, every mailbox tried.
    let answer = call(
        &app,
        "test_logins",
        json!({"request": {"job": j}, "on_event": CHANNEL}),
    )
    .unwrap();
    assert_eq!(answer["mailboxes"], 2, "{answer}");
    assert_eq!(answer["cancelled"], false);
    assert_eq!(answer["checks"][1]["source_user"], "bob");
    assert_eq!(answer["checks"][1]["source_code"], "connect", "{answer}");
}

#[test]
fn cancel_login_test_stops_the_running_test_and_it_answers_with_what_was_tried() {
    let app = app();
    // Nothing to stop yet.
    assert_eq!(
        call(&app, "cancel_login_test", json!({})).unwrap(),
        json!(false)
    );
    // A server that takes the connections and never says a word: every
    // login waits (a minute, unless stopped).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut j = local_job(silent.local_addr().unwrap().port());
    j["users"]["list"] = json!("jane,pw1,jane,pw2\nbob,pw3,bob,pw4\ncarol,pw5,carol,pw6");
    j["options"]["connect_timeout_seconds"] = json!(60);
    j["options"]["timeout_seconds"] = json!(60);
    let window = app.window.clone();
    let test = std::thread::spawn(move || {
        call_on(
            &window,
            "test_logins",
            json!({"request": {"job": j}, "on_event": CHANNEL}),
        )
    });
    let waited = std::time::Instant::now();
    while call(&app, "cancel_login_test", json!({})).unwrap() != json!(true) {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "the test never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stopped = std::time::Instant::now();
    let answer = test.join().unwrap().unwrap();
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(5),
        "cancelled at once, not at the time limit"
    );
    assert_eq!(
        answer,
        json!({"mailboxes": 3, "checks": [], "cancelled": true})
    );
    assert_eq!(
        call(&app, "cancel_login_test", json!({})).unwrap(),
        json!(false),
        "it has ended"
    );
    drop(silent);
}

/// `job(..)` with the destination on Microsoft 365, signing in with `flow`.
fn oauth_job(flow: &str) -> Value {
    let mut j = job("jane,pw1,jane@contoso.example\nbob,pw2,bob@contoso.example");
    j["destination"] = json!({"preset": "microsoft-365", "auth": "oauth",
        "oauth": {"flow": flow, "client_id": "app-1", "client_secret": "app-secret", "tenant": "contoso.example"}});
    j
}

#[test]
fn host_presets_give_the_page_the_engines_table() {
    let app = app();
    let list = call(&app, "host_presets", json!({})).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), mailferry::job::Preset::ALL.len());
    let ms = list.iter().find(|p| p["id"] == "microsoft-365").unwrap();
    assert_eq!(ms["name"], "Microsoft 365");
    assert_eq!(ms["imap_host"], "outlook.office365.com");
    assert_eq!(ms["sign_in"], "oauth-only");
    assert_eq!(ms["provider"], "microsoft");
    let yahoo = list.iter().find(|p| p["id"] == "yahoo").unwrap();
    assert_eq!(yahoo["sign_in"], "app-password");
    assert!(yahoo["app_password_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn oauth_status_tells_each_mailbox_of_the_side_signed_in_or_not_from_the_vault() {
    let app = app();
    let ask = |flow: &str, side: &str| {
        call(
            &app,
            "oauth_status",
            json!({"request": {"job": oauth_job(flow)}, "side": side}),
        )
    };
    assert_eq!(
        ask("device", "destination").unwrap(),
        json!([{"user": "jane@contoso.example", "signed_in": false},
               {"user": "bob@contoso.example", "signed_in": false}])
    );
    // Bob's refresh token in the vault, under the engine's name for it.
    let request = mailferry_app::form::JobRequest {
        job: oauth_job("device"),
    };
    let job = mailferry_app::form::parse(&request, std::path::Path::new("/")).unwrap();
    let oauth = job.destination.auth.oauth().unwrap();
    let state = tauri::Manager::state::<AppState>(&app._app);
    state
        .vault
        .put(
            &mailferry::oauth::refresh_token_ref(oauth, "bob@contoso.example"),
            "refresh-token-1",
        )
        .unwrap();
    let answer = ask("device", "destination").unwrap();
    assert_eq!(
        answer[1],
        json!({"user": "bob@contoso.example", "signed_in": true})
    );
    assert!(!answer.to_string().contains("refresh-token-1"));

    // No one signs in to each mailbox with the tenant's app, nor on a side
    // that logs in with passwords: the error is that side's OAuth field's.
    let e = ask("client-credentials", "destination").unwrap_err();
    assert_eq!(
        (e["code"].clone(), e["field"].clone()),
        (json!("invalid-job"), json!("destination.oauth"))
    );
    let e = ask("device", "source").unwrap_err();
    assert_eq!(e["field"], "source.oauth");
    // A form the engine refuses is refused with its field.
    let mut bad = oauth_job("device");
    bad["destination"]["oauth"]["client_id"] = json!("");
    let e = call(
        &app,
        "oauth_status",
        json!({"request": {"job": bad}, "side": "destination"}),
    )
    .unwrap_err();
    assert_eq!(e["field"], "destination.oauth");
    assert!(e["message"].as_str().unwrap().contains("client_id"), "{e}");
}

#[test]
fn oauth_sign_in_refuses_a_mailbox_not_in_the_list_and_a_side_without_a_persons_sign_in() {
    let app = app();
    let sign_in = |flow: &str, user: &str| {
        call(
            &app,
            "oauth_sign_in",
            json!({"request": {"job": oauth_job(flow)}, "side": "destination", "user": user, "on_event": CHANNEL}),
        )
    };
    let e = sign_in("device", "mallory@contoso.example").unwrap_err();
    assert_eq!(e["code"], "not-found");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("mallory@contoso.example is not a mailbox of the user list"));
    let e = sign_in("client-credentials", "jane@contoso.example").unwrap_err();
    assert_eq!(e["field"], "destination.oauth");
    assert!(!e.to_string().contains("app-secret"), "{e}");
    assert_eq!(
        call(&app, "cancel_sign_in", json!({})).unwrap(),
        json!(false),
        "nothing is under way"
    );
}

#[test]
fn open_link_opens_only_the_addresses_mailferry_knows() {
    let app = app();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("opened.txt");
    std::env::set_var(mailferry_app::signin::OPEN_LOG_FOR_TESTS, &log);
    let url = "https://login.yahoo.com/account/security/app-passwords";
    assert_eq!(
        call(&app, "open_link", json!({"url": url})).unwrap(),
        Value::Null
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("{url}\n"));
    for other in ["https://evil.example/", "file:///etc/passwd", "--help"] {
        let e = call(&app, "open_link", json!({"url": other})).unwrap_err();
        assert!(e["message"].as_str().unwrap().contains("opens only"), "{e}");
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("{url}\n"));
}

#[test]
fn the_users_preview_needs_no_source_password_with_oauth_but_with_pasted_tokens() {
    let app = app();
    let preview = |flow: Value| {
        call(
            &app,
            "preview_users",
            json!({"list": "jane\nbob,token-1", "delimiter": ",", "source_oauth": flow}),
        )
        .unwrap()
    };
    for flow in ["device", "browser", "client-credentials", "service-account"] {
        let p = preview(json!(flow));
        assert_eq!(
            (p["mailboxes"].clone(), p["problems"].clone()),
            (json!(2), json!(0)),
            "{flow}"
        );
    }
    // Tokens are the list's second column, as passwords are.
    for flow in [json!("token"), Value::Null] {
        let p = preview(flow.clone());
        assert_eq!(p["problems"], json!(1), "{flow}");
        assert!(!p.to_string().contains("token-1"));
    }
}
