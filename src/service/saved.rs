//! Saved jobs: a job's form kept so that it can run again without anyone
//! typing its passwords: the form without them in the database, the
//! passwords in a [`SecretStore`].

use super::secrets::{secret_ref, SecretError, SecretStore};
use crate::error::MailError;
use crate::job::{list_field, AccountAuth, Job};
use crate::secret::Secret;
use crate::store::{SavedJob, SavedUser, Store};

/// Why a saved job cannot run again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedError {
    #[error("Run #{0} is not in the history.")]
    NoSuchRun(i64),
    #[error("Job {0} was not started from this app, so its passwords are not kept: start it from New migration.")]
    NotSaved(String),
    #[error("The password {name:?} is no longer in the {place}. Start the job again from New migration and type the passwords.")]
    Missing { name: String, place: &'static str },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] MailError),
}

/// The entries of the secret store that hold all of a job's passwords
/// together (JSON, by their references): a few keyring writes for 500
/// mailboxes, not 500 (which took over 30 s with GNOME Keyring). The first
/// entry starts with how many there are.
fn bundle_ref(job: &str, part: usize) -> String {
    match part {
        1 => format!("job {job}: passwords"),
        n => format!("job {job}: passwords {n}"),
    }
}

/// Characters per entry: Windows' Credential Manager keeps at most 2,560
/// bytes (UTF-16) a credential.
const PART_CHARS: usize = 600;

fn put_bundle(secrets: &dyn SecretStore, job: &str, json: &str) -> Result<(), SecretError> {
    let chars: Vec<char> = json.chars().collect();
    let parts: Vec<String> = chars
        .chunks(PART_CHARS)
        .map(|c| c.iter().collect())
        .collect();
    for (i, part) in parts.iter().enumerate().rev() {
        // The first, which names the count, goes last. A save cut short
        // may leave the older first entry over newer parts: their JSON
        // does not parse, so the job asks for its passwords again rather
        // than using wrong ones.
        let text = match i {
            0 => format!("{}\n{part}", parts.len()),
            _ => part.clone(),
        };
        secrets.put(&bundle_ref(job, i + 1), &Secret::new(text))?;
    }
    Ok(())
}

/// The job's passwords by reference; empty when there is no whole bundle
/// (saved by an older MailFerry, or lost).
fn get_bundle(
    secrets: &dyn SecretStore,
    job: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, SecretError> {
    let Some(first) = secrets.get(&bundle_ref(job, 1))? else {
        return Ok(Default::default());
    };
    let Some((count, mut json)) = first
        .expose()
        .split_once('\n')
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.to_string())))
    else {
        return Ok(Default::default());
    };
    for part in 2..=count {
        match secrets.get(&bundle_ref(job, part))? {
            Some(p) => json.push_str(p.expose()),
            None => return Ok(Default::default()),
        }
    }
    Ok(serde_json::from_str(&json).unwrap_or_default())
}

/// Puts every password of `job` in `secrets` (one entry) and saves the
/// rest of its `form` (a `JobFile` as JSON) under `name`.
pub(super) fn save(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    form: &serde_json::Value,
    job: &Job,
) -> Result<(), SavedError> {
    let (src, dst) = (&job.source.host, &job.destination.host);
    let mut bundle = serde_json::Map::new();
    let mut keep = |r: &str, secret: &Secret| {
        bundle.insert(r.to_string(), secret.expose().into());
    };
    let mut users = Vec::new();
    for u in &job.users {
        let source_password = match &u.source_password {
            Some(p) => {
                let r = secret_ref(name, "source", &u.source_user, src);
                keep(&r, p);
                Some(r)
            }
            None => None,
        };
        let local_password = match &u.local_password {
            Some(p) => {
                let r = secret_ref(name, "destination", &u.local_user, dst);
                keep(&r, p);
                Some(r)
            }
            None => None,
        };
        users.push(SavedUser {
            source_user: u.source_user.clone(),
            source_password,
            local_user: u.local_user.clone(),
            local_password,
        });
    }
    let master_password = match &job.destination.auth {
        AccountAuth::Master { user, password, .. } => {
            let r = secret_ref(name, "admin", user, dst);
            keep(&r, password);
            Some(r)
        }
        AccountAuth::PerUser | AccountAuth::OAuth(_) => None,
    };
    let source_master_password = match &job.source.auth {
        AccountAuth::Master { user, password, .. } => {
            let r = secret_ref(name, "source admin", user, src);
            keep(&r, password);
            Some(r)
        }
        AccountAuth::PerUser | AccountAuth::OAuth(_) => None,
    };
    for (side, key, secret) in oauth_secrets(form) {
        bundle.insert(oauth_ref(name, side, key), secret.into());
    }
    put_bundle(
        secrets,
        name,
        &serde_json::Value::Object(bundle).to_string(),
    )?;
    let mut form = without_secrets(form);
    if let Some(o) = form.as_object_mut() {
        o.insert("name".into(), name.into());
    }
    store.save_job(&SavedJob {
        job_name: name.to_string(),
        form,
        users,
        master_password,
        source_master_password,
        vault: secrets.kind().to_string(),
    })?;
    Ok(())
}

/// The form of the job of run `run_id`, with its passwords back.
pub(super) fn form_of_run(
    store: &Store,
    secrets: &dyn SecretStore,
    run_id: i64,
) -> Result<serde_json::Value, SavedError> {
    let name = store
        .runs()?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .map(|r| r.job_name)
        .ok_or(SavedError::NoSuchRun(run_id))?;
    let saved = store.saved_job(&name)?.ok_or(SavedError::NotSaved(name))?;
    restore(secrets, &saved)
}

/// A job of the history back in the form, for Edit and run again: a saved
/// job's form with the passwords the secret store still has; for a job
/// the app did not save (the command line ran it), what the history knows
/// (its name, servers and mailboxes) and a `note` asking for the rest.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct EditForm {
    /// A `JobFile` as JSON, as the page's form sends it.
    #[ts(type = "unknown")]
    pub form: serde_json::Value,
    /// What the user still has to type, and why.
    pub note: Option<String>,
}

pub(super) fn form_to_edit(
    store: &Store,
    secrets: &dyn SecretStore,
    run_id: i64,
) -> Result<EditForm, SavedError> {
    let run = store
        .runs()?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .ok_or(SavedError::NoSuchRun(run_id))?;
    if let Some(saved) = store.saved_job(&run.job_name)? {
        return match restore(secrets, &saved) {
            Ok(form) => Ok(EditForm { form, note: None }),
            Err(SavedError::Missing { place, .. }) => Ok(EditForm {
                form: blank_passwords(&saved),
                note: Some(format!(
                    "Some passwords of job {} are no longer in the {place}: type each mailbox's password after its user name{}.",
                    run.job_name,
                    if has_oauth_secrets(&saved.form) {
                        ", and the OAuth client secret or service account key"
                    } else {
                        ""
                    }
                )),
            }),
            Err(e) => Err(e),
        };
    }
    // Ran from the command line: the history has its servers and mailboxes.
    let users: String = store
        .run_outcome(run_id)?
        .map(|o| o.mailboxes)
        .unwrap_or_default()
        .iter()
        .map(|m| format!("{},,{}\n", m.source_user, m.local_user))
        .collect();
    Ok(EditForm {
        form: serde_json::json!({
            "name": run.job_name,
            "source": {"host": run.source_host},
            "destination": {"host": run.dest_host},
            "users": {"delimiter": ",", "list": users},
        }),
        note: Some(format!(
            "Job {} ran from the command line, so MailFerry kept its servers and mailboxes but not its passwords, ports or options: \
             type each mailbox's password after its user name, and check the rest.",
            run.job_name
        )),
    })
}

/// A saved job's form with its users but no passwords (`user,,local`).
fn blank_passwords(saved: &SavedJob) -> serde_json::Value {
    let mut form = saved.form.clone();
    let d = delimiter(&form);
    let list: String = saved
        .users
        .iter()
        .map(|u| format!("{}{d}{d}{}\n", u.source_user, u.local_user))
        .collect();
    if let Some(users) = form.get_mut("users").and_then(|u| u.as_object_mut()) {
        users.insert("list".into(), list.into());
        users.remove("file");
    }
    form
}

/// The user list's delimiter in a saved form.
fn delimiter(form: &serde_json::Value) -> char {
    form.pointer("/users/delimiter")
        .and_then(|d| d.as_str())
        .and_then(|d| d.chars().next())
        .unwrap_or(',')
}

/// The secrets of the sides' OAuth settings (`[side.oauth]`), kept with
/// the passwords: the app's client secret and a service account's key.
const OAUTH_SECRETS: [&str; 2] = ["client_secret", "service_account_json"];

/// The name of an OAuth secret of a job in its bundle.
fn oauth_ref(job: &str, side: &str, key: &str) -> String {
    format!("job {job}: {side} oauth {key}")
}

/// Each OAuth secret the form holds: its side, its key and its text.
fn oauth_secrets(form: &serde_json::Value) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for side in ["source", "destination"] {
        for key in OAUTH_SECRETS {
            if let Some(text) = form
                .pointer(&format!("/{side}/oauth/{key}"))
                .and_then(|v| v.as_str())
                .filter(|t| !t.is_empty())
            {
                out.push((side, key, text.to_string()));
            }
        }
    }
    out
}

/// The form without its passwords: the user list and both sides' admin
/// passwords removed (the users are kept as [`SavedUser`]s with references),
/// and each OAuth secret set to `null`: still a valid job, and a mark that
/// the bundle holds it.
fn without_secrets(form: &serde_json::Value) -> serde_json::Value {
    let mut form = form.clone();
    if let Some(users) = form.get_mut("users").and_then(|u| u.as_object_mut()) {
        users.remove("list");
    }
    for side in ["source", "destination"] {
        if let Some(server) = form.get_mut(side).and_then(|d| d.as_object_mut()) {
            server.remove("master_password");
            if let Some(oauth) = server.get_mut("oauth").and_then(|o| o.as_object_mut()) {
                for key in OAUTH_SECRETS {
                    match oauth.get(key).and_then(|v| v.as_str()) {
                        Some("") => {
                            oauth.remove(key);
                        }
                        Some(_) => {
                            oauth.insert(key.into(), serde_json::Value::Null);
                        }
                        None => {}
                    }
                }
            }
        }
    }
    form
}

/// Whether a saved form had OAuth secrets (now `null`, in the bundle).
fn has_oauth_secrets(form: &serde_json::Value) -> bool {
    ["source", "destination"].iter().any(|side| {
        OAUTH_SECRETS.iter().any(|key| {
            form.pointer(&format!("/{side}/oauth/{key}"))
                .is_some_and(|v| v.is_null())
        })
    })
}

/// A saved job's form with its passwords read back.
fn restore(secrets: &dyn SecretStore, saved: &SavedJob) -> Result<serde_json::Value, SavedError> {
    let bundle = get_bundle(secrets, &saved.job_name)?;
    let get = |name: &str| -> Result<String, SavedError> {
        if let Some(p) = bundle.get(name).and_then(|p| p.as_str()) {
            return Ok(p.to_string());
        }
        // Jobs saved before the bundle kept an entry per password.
        match secrets.get(name)? {
            Some(s) => Ok(s.expose().to_string()),
            None => Err(SavedError::Missing {
                name: name.to_string(),
                place: match saved.vault.as_str() {
                    "memory" => "memory of an earlier run of MailFerry",
                    _ => "keyring",
                },
            }),
        }
    };
    let mut form = saved.form.clone();
    let delimiter = delimiter(&form);
    // Passwords may hold the delimiter or quotes (a spreadsheet's CSV).
    let field = |s: &str| list_field(s, delimiter).into_owned();
    let mut list = String::new();
    for u in &saved.users {
        // No source password: the source's admin logs in for the user.
        let sp = match &u.source_password {
            Some(r) => get(r)?,
            None => String::new(),
        };
        list.push_str(&format!(
            "{}{delimiter}{}{delimiter}{}",
            u.source_user,
            field(&sp),
            u.local_user
        ));
        if let Some(r) = &u.local_password {
            list.push_str(&format!("{delimiter}{}", field(&get(r)?)));
        }
        list.push('\n');
    }
    if let Some(users) = form.get_mut("users").and_then(|u| u.as_object_mut()) {
        users.insert("list".into(), list.into());
        users.remove("file");
    }
    for (side, r) in [
        ("destination", &saved.master_password),
        ("source", &saved.source_master_password),
    ] {
        if let Some(r) = r {
            let mp = get(r)?;
            if let Some(server) = form.get_mut(side).and_then(|d| d.as_object_mut()) {
                server.insert("master_password".into(), mp.into());
            }
        }
    }
    for side in ["source", "destination"] {
        for key in OAUTH_SECRETS {
            let Some(slot) = form.pointer_mut(&format!("/{side}/oauth/{key}")) else {
                continue;
            };
            if slot.is_null() {
                *slot = get(&oauth_ref(&saved.job_name, side, key))?.into();
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFile;
    use crate::service::MemorySecrets;

    fn form(list: &str) -> serde_json::Value {
        serde_json::json!({
            "name": "acme",
            "source": {"host": "old.example", "protocol": "imap4s", "ports": {"imap4": [143], "imap4s": [993], "pop3": [110], "pop3s": [995]}},
            "destination": {"host": "new.example", "port": 993, "security": "tls", "auth": "master",
                            "master_user": "admin", "master_password": "admin-secret", "master_method": "sasl-plain"},
            "folders": {"skip": "Trash", "translate": "Sent Items,Sent"},
            "users": {"delimiter": ";", "list": list}
        })
    }

    /// `form` with the source logging in as the old host's admin.
    fn source_admin(mut form: serde_json::Value) -> serde_json::Value {
        let source = form["source"].as_object_mut().unwrap();
        for (k, v) in [
            ("auth", "master"),
            ("master_user", "root"),
            ("master_password", "source-admin-secret"),
            ("master_method", "separator"),
            ("master_separator", "*"),
        ] {
            source.insert(k.into(), v.into());
        }
        form
    }

    fn parse(form: &serde_json::Value) -> Job {
        let file: JobFile = serde_json::from_value(form.clone()).unwrap();
        file.validate(std::path::Path::new("/")).unwrap()
    }

    /// Line numbers may differ between the typed list and the restored one.
    fn same_but_lines(mut a: Job, b: &Job) -> Job {
        for (u, t) in a.users.iter_mut().zip(&b.users) {
            u.line = t.line;
        }
        a
    }

    fn begun(store: &Store) -> i64 {
        store
            .begin_run(Some("acme"), "fp", "old.example", "new.example", 1)
            .unwrap()
            .run_id
    }

    #[test]
    fn passwords_go_to_the_secret_store_never_to_the_database_and_come_back() {
        // Each user's own source password (quoted columns: a delimiter and
        // quotes inside passwords), then the old host's admin logging in
        // for users listed without source passwords.
        let own = form("jane;pw-1;jane.doe;pw;with;delims\n\"bob\";\"p;w\"\"x\";bob;\"\"\"q\"\n");
        let admin = source_admin(form("jane;;jane.doe;pw;with;delims\nbob\ncarol;pw-1\n"));
        for (f, kept) in [
            (own, "job acme: source jane@old.example"),
            (admin, "job acme: source admin root@old.example"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("m.db");
            let store = Store::open(&db).unwrap();
            let secrets = MemorySecrets::default();
            let job = parse(&f);
            save(&store, &secrets, "acme", &f, &job).unwrap();
            let saved = store.saved_job("acme").unwrap().unwrap();
            assert_eq!(saved.form["name"], "acme");
            drop(store);
            // The database and its write-ahead log, whatever is on disk.
            let mut refs = 0;
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                let on_disk = String::from_utf8_lossy(&bytes);
                refs += on_disk.matches(kept).count();
                for secret in [
                    "pw-1",
                    "admin-secret",
                    "pw;with;delims",
                    "source-admin-secret",
                ] {
                    assert!(!on_disk.contains(secret), "{secret} is on disk");
                }
            }
            assert!(refs > 0, "the references are kept");
            let store = Store::open(&db).unwrap();
            let run = begun(&store);
            let again = parse(&form_of_run(&store, &secrets, run).unwrap());
            assert_eq!(again, same_but_lines(job, &again));
        }
    }

    #[test]
    fn oauth_secrets_go_to_the_secret_store_never_to_the_database_and_come_back() {
        // The source: a Google service account's key; the destination: a
        // Microsoft 365 tenant's app with its client secret.
        let key = r#"{"type":"service_account","client_email":"mf@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIBsecret-key-material\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.googleapis.com/token"}"#;
        let f = serde_json::json!({
            "name": "acme",
            "source": {"preset": "google-workspace", "host": "imap.gmail.com", "protocol": "imap4s",
                       "ports": {"imap4": [143], "imap4s": [993], "pop3": [110], "pop3s": [995]},
                       "auth": "oauth", "oauth": {"flow": "service-account", "service_account_json": key}},
            "destination": {"preset": "microsoft-365", "host": "outlook.office365.com", "port": 993, "security": "tls",
                            "auth": "oauth", "oauth": {"flow": "client-credentials", "client_id": "app-id-1",
                                                       "client_secret": "tenant-app-secret", "tenant": "contoso.example"}},
            "users": {"delimiter": ",", "list": "jane\nbob,,robert\n"}
        });
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let store = Store::open(&db).unwrap();
        let secrets = MemorySecrets::default();
        let job = parse(&f);
        save(&store, &secrets, "acme", &f, &job).unwrap();
        let saved = store.saved_job("acme").unwrap().unwrap();
        assert_eq!(saved.form["destination"]["oauth"]["client_id"], "app-id-1");
        assert!(saved.form["destination"]["oauth"]["client_secret"].is_null());
        assert!(saved.form["source"]["oauth"]["service_account_json"].is_null());
        drop(store);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let on_disk = String::from_utf8_lossy(&bytes);
            for secret in [
                "tenant-app-secret",
                "MIIBsecret-key-material",
                "PRIVATE KEY",
            ] {
                assert!(!on_disk.contains(secret), "{secret} is on disk");
            }
        }
        let store = Store::open(&db).unwrap();
        let run = begun(&store);
        let again = form_of_run(&store, &secrets, run).unwrap();
        assert_eq!(
            again["destination"]["oauth"]["client_secret"],
            "tenant-app-secret"
        );
        assert_eq!(again["source"]["oauth"]["service_account_json"], key);
        let again = parse(&again);
        assert_eq!(again, same_but_lines(job, &again));

        // The keyring lost them: the job comes back, and the note asks for them.
        let e = form_to_edit(&store, &MemorySecrets::default(), run).unwrap();
        assert!(e.form["destination"]["oauth"]["client_secret"].is_null());
        assert_eq!(e.form["destination"]["oauth"]["tenant"], "contoso.example");
        assert!(
            e.note
                .as_deref()
                .unwrap()
                .contains("OAuth client secret or service account key"),
            "{:?}",
            e.note
        );
    }

    #[test]
    fn a_password_no_longer_kept_and_a_job_never_saved_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let run = begun(&store);
        let e = form_of_run(&store, &MemorySecrets::default(), run).unwrap_err();
        assert_eq!(e, SavedError::NotSaved("acme".into()));
        let f = form("jane;pw-1");
        save(&store, &MemorySecrets::default(), "acme", &f, &parse(&f)).unwrap();
        let e = form_of_run(&store, &MemorySecrets::default(), run).unwrap_err();
        assert!(
            e.to_string().starts_with("The password \"job acme: source jane@old.example\" is no longer in the memory of an earlier run of MailFerry."),
            "{e}"
        );
        assert_eq!(
            form_of_run(&store, &MemorySecrets::default(), 99).unwrap_err(),
            SavedError::NoSuchRun(99)
        );
    }

    #[test]
    fn edit_gives_back_the_source_admin_password_and_users_without_source_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let secrets = MemorySecrets::default();
        let f = source_admin(form("jane;;jane.doe\nbob"));
        save(&store, &secrets, "acme", &f, &parse(&f)).unwrap();
        let saved = store.saved_job("acme").unwrap().unwrap();
        assert!(saved.users.iter().all(|u| u.source_password.is_none()));
        assert_eq!(saved.form["source"].get("master_password"), None);
        assert_eq!(saved.form["source"]["master_user"], "root");
        let run = begun(&store);
        let e = form_to_edit(&store, &secrets, run).unwrap();
        assert_eq!(e.note, None);
        assert_eq!(e.form["users"]["list"], "jane;;jane.doe\nbob;;bob\n");
        assert_eq!(e.form["source"]["master_password"], "source-admin-secret");
        assert_eq!(e.form["destination"]["master_password"], "admin-secret");
        assert_eq!(parse(&e.form).source.auth, parse(&f).source.auth);

        // The keyring lost it: the job comes back and asks for it.
        let e = form_to_edit(&store, &MemorySecrets::default(), run).unwrap();
        assert_eq!(e.form["source"].get("master_password"), None);
        assert!(e.note.unwrap().contains("no longer in the"));
    }

    #[test]
    fn edit_brings_back_a_saved_job_a_job_without_its_passwords_and_a_cli_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let secrets = MemorySecrets::default();
        let f = form("jane;pw-1;jane.doe");
        save(&store, &secrets, "acme", &f, &parse(&f)).unwrap();
        let run = begun(&store);
        let e = form_to_edit(&store, &secrets, run).unwrap();
        assert_eq!(e.note, None);
        assert_eq!(e.form["users"]["list"], "jane;pw-1;jane.doe\n");
        assert_eq!(e.form["destination"]["master_password"], "admin-secret");

        // The keyring lost them: the users come back, the passwords are asked for.
        let empty = MemorySecrets::default();
        let e = form_to_edit(&store, &empty, run).unwrap();
        assert_eq!(e.form["users"]["list"], "jane;;jane.doe\n");
        assert_eq!(e.form["source"]["host"], "old.example");
        assert!(e.note.unwrap().contains("no longer in the"));

        // The command line's job: what the history knows of it.
        let cli = store
            .begin_run(Some("nightly"), "fp2", "a.example", "b.example", 1)
            .unwrap()
            .run_id;
        let outcome = crate::outcome::JobOutcome {
            mailboxes: vec![crate::outcome::MailboxOutcome {
                source_user: "bob".into(),
                local_user: "bob2".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        store.finish_run(cli, &outcome, "log").unwrap();
        let e = form_to_edit(&store, &secrets, cli).unwrap();
        assert_eq!(
            e.form,
            serde_json::json!({"name": "nightly", "source": {"host": "a.example"},
                "destination": {"host": "b.example"}, "users": {"delimiter": ",", "list": "bob,,bob2\n"}})
        );
        assert!(e.note.unwrap().contains("ran from the command line"));
        assert_eq!(
            form_to_edit(&store, &secrets, 999).unwrap_err(),
            SavedError::NoSuchRun(999)
        );
    }

    #[test]
    fn a_jobs_passwords_are_kept_together_and_older_entries_still_read() {
        struct Counting(MemorySecrets, std::sync::atomic::AtomicUsize);
        impl SecretStore for Counting {
            fn kind(&self) -> &'static str {
                "memory"
            }
            fn put(&self, name: &str, secret: &Secret) -> Result<(), SecretError> {
                self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.0.put(name, secret)
            }
            fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
                self.0.get(name)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let secrets = Counting(MemorySecrets::default(), Default::default());
        let f = form("jane;pw-1;jane.doe;pw-2\nbob;pw-3");
        save(&store, &secrets, "acme", &f, &parse(&f)).unwrap();
        assert_eq!(secrets.1.load(std::sync::atomic::Ordering::SeqCst), 1);
        let run = begun(&store);
        let list = "jane;pw-1;jane.doe;pw-2\nbob;pw-3;bob\n";
        assert_eq!(
            form_of_run(&store, &secrets, run).unwrap()["users"]["list"],
            list
        );

        // Saved by an earlier MailFerry: an entry per password.
        let older = MemorySecrets::default();
        for (r, p) in [
            ("job acme: source jane@old.example", "pw-1"),
            ("job acme: destination jane.doe@new.example", "pw-2"),
            ("job acme: source bob@old.example", "pw-3"),
            ("job acme: admin admin@new.example", "admin-secret"),
        ] {
            older.put(r, &Secret::new(p)).unwrap();
        }
        let again = form_of_run(&store, &older, run).unwrap();
        assert_eq!(again["users"]["list"], list);
        assert_eq!(again["destination"]["master_password"], "admin-secret");

        // 500 mailboxes: a few entries, none over what Windows keeps.
        let many: String = (0..500).map(|i| format!("user{i};pw-é{i}\n")).collect();
        let f = form(&many);
        save(&store, &secrets, "acme", &f, &parse(&f)).unwrap();
        let puts = secrets.1.load(std::sync::atomic::Ordering::SeqCst) - 1;
        assert!((2..=100).contains(&puts), "{puts} entries");
        for part in 1..=puts {
            let p = secrets.get(&bundle_ref("acme", part)).unwrap().unwrap();
            assert!(p.expose().encode_utf16().count() * 2 <= 2560);
        }
        let again = form_of_run(&store, &secrets, run).unwrap();
        let restored = again["users"]["list"].as_str().unwrap();
        assert_eq!(restored.lines().count(), 500);
        assert!(restored.contains("user499;pw-é499;user499\n"));
    }
}
