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

fn call(app: &TestApp, cmd: &str, body: Value) -> Result<Value, Value> {
    get_ipc_response(
        &app.window,
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
    assert!(e.as_str().unwrap().contains("not in the history"));
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
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var(mailferry_app::commands::SAVE_DIR_FOR_TESTS, dir.path());
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
