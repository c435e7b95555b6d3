//! Whole migrations between two private Dovecots that check OAuth tokens
//! with a loopback identity provider, once with each way of getting
//! tokens: the tenant's app (client credentials), a service account (a
//! signed JWT per user), a code shown on screen (device authorization),
//! the browser (authorization code with PKCE on a loopback redirect) and
//! tokens pasted in the user list. Then: tokens revoked in the middle of a
//! job are replaced and the job completes with nothing lost or doubled; a
//! mailbox not signed in says how to sign in; and no token, refresh token
//! or client secret reaches the database or the log.
//!
//! The mailboxes' passwords are never in a job: every login is OAuth.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailferry::copy::{self, Cancel, Options};
use mailferry::job::{Job, OAuth};
use mailferry::oauth::{self, refresh_token_ref, DevicePrompt};
use mailferry::outcome::{JobOutcome, Verdict};
use mailferry::progress::Event;
use mailferry::secret::Secret;
use mailferry::service::{MemorySecrets, SecretStore};
use mailferry::store::Store;
use support::corpus::{assert_same_mail, seed_standard_corpus, snapshot, Snapshot};
use support::dovecot::{Dovecot, Layout, ServerOptions};
use support::faults::{Action, Dir, Fault, FaultProxy, Trigger};
use support::jobs::{DestAuth, JobSpec};
use support::oauth::{service_account_json, service_account_key, Idp, SCOPE};

/// The mailboxes' passwords: only the test's oracle (the probe) uses them.
fn password(user: &str, side: &str) -> String {
    format!("{user}-{side}-password-not-in-the-job")
}

const CLIENT_SECRET: &str = "app-secret-never-on-disk";

/// Two Dovecots checking tokens with `idp`, each with `users`; the source's
/// mailboxes filled with the standard corpus.
fn servers(idp: &Idp, users: &[&str]) -> (Dovecot, Dovecot) {
    let options = ServerOptions {
        oauth: Some(idp.dovecot()),
        ..ServerOptions::new(Layout::Slash)
    };
    let (src, dst) = std::thread::scope(|s| {
        let a = s.spawn(|| Dovecot::start_with(&options));
        let b = s.spawn(|| Dovecot::start_with(&options));
        (a.join().unwrap(), b.join().unwrap())
    });
    for u in users {
        src.add_user(u, &password(u, "source"));
        dst.add_user(u, &password(u, "destination"));
        seed_standard_corpus(&src, u, &password(u, "source"));
    }
    (src, dst)
}

/// A job file between the two: IMAP4S both ways (or `spec` as given),
/// each side's `[side.oauth]` table from its lines.
fn job_toml(mut spec: JobSpec, source: &str, destination: &str) -> String {
    spec.auth = DestAuth::PerUser;
    spec.source_extra += &format!("auth = \"oauth\"\n[source.oauth]\n{source}");
    spec.toml().replacen(
        "auth = \"user\"\n",
        &format!("auth = \"oauth\"\n[destination.oauth]\n{destination}"),
        1,
    )
}

fn validate(toml: &str) -> Job {
    mailferry::job::JobFile::from_toml(toml)
        .and_then(|f| f.validate(Path::new(".")))
        .unwrap_or_else(|e| panic!("test job is invalid: {e}\n{toml}"))
}

/// `[side.oauth]` lines for a custom provider at `idp`.
fn oauth_lines(idp: &Idp, flow: &str, client_id: &str, secret: Option<&str>) -> String {
    let mut t = format!(
        "flow = {flow:?}\nclient_id = {client_id:?}\nscope = {SCOPE:?}\ntoken_url = {:?}\ndevice_url = {:?}\nauth_url = {:?}\n",
        idp.token_url(),
        idp.device_url(),
        idp.auth_url()
    );
    if let Some(s) = secret {
        t += &format!("client_secret = {s:?}\n");
    }
    t
}

/// Runs `job`, telling `on_event` of each event as it comes; the outcome
/// and every event.
fn run(
    job: Job,
    db: &Path,
    opts: Options,
    on_event: impl Fn(&Event) + Send + Sync + 'static,
) -> (JobOutcome, Vec<Event>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let kept = events.clone();
    let sink: mailferry::progress::Sink = Arc::new(move |e: &Event| {
        on_event(e);
        kept.lock().unwrap().push(e.clone());
    });
    let store = Store::open(db).expect("open store");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let finished = rt
        .block_on(copy::run(job, store, sink, opts, Cancel::default()))
        .unwrap_or_else(|e| panic!("job did not start: {e}"));
    let events = events.lock().unwrap().clone();
    (finished.outcome, events)
}

fn succeeded(outcome: &JobOutcome) {
    assert_eq!(
        outcome.verdict(),
        Verdict::Success,
        "{:#?}",
        outcome
            .mailboxes
            .iter()
            .map(|m| (&m.source_user, &m.error))
            .collect::<Vec<_>>()
    );
}

/// Every user's mail is on the destination, once.
fn same_mail(src: &Dovecot, dst: &Dovecot, users: &[&str]) -> Vec<Snapshot> {
    users
        .iter()
        .map(|u| {
            let before = snapshot(src, u, &password(u, "source"));
            let after = snapshot(dst, u, &password(u, "destination"));
            assert_same_mail(&before, &after, |p| p.to_string());
            after
        })
        .collect()
}

/// The identity provider's tokens look like `at-12-0123456789abcdef`
/// (`rt-`, `dc-`, `code-` too): any such string in `bytes`.
fn idp_tokens_in(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut found = Vec::new();
    for kind in ["at-", "rt-", "dc-", "code-"] {
        for (i, _) in text.match_indices(kind) {
            let rest = &text[i + kind.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let hex = rest[digits..]
                .strip_prefix('-')
                .map(|h| h.chars().take_while(char::is_ascii_hexdigit).count())
                .unwrap_or(0);
            if digits > 0 && hex == 16 {
                found.push(text[i..i + kind.len() + digits + 17].to_string());
            }
        }
    }
    found
}

/// No token of the identity provider, nor any of `secrets`, is in the
/// database's files, the job's log or its events.
fn nothing_secret_kept(db: &Path, outcome: &JobOutcome, events: &[Event], secrets: &[&str]) {
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    let dir = db.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        places.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(places
        .iter()
        .any(|(p, b)| p.ends_with(".db") && !b.is_empty()));
    places.push((
        "the log".into(),
        mailferry::report::render_log(outcome).into_bytes(),
    ));
    places.push(("the events".into(), format!("{events:?}").into_bytes()));
    for (place, bytes) in &places {
        let tokens = idp_tokens_in(bytes);
        assert!(tokens.is_empty(), "{tokens:?} in {place}");
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {place}"
            );
        }
    }
}

fn grants(idp: &Idp, kind: &str) -> usize {
    idp.grants().iter().filter(|g| g.ends_with(kind)).count()
}

// ------------------------------------------------------------ the grants

#[test]
fn the_tenants_app_copies_every_mailbox_with_one_token_per_side() {
    let idp = Idp::start();
    idp.register_client("source-app", Some(CLIENT_SECRET));
    idp.register_client("destination-app", Some("other-app-secret"));
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let toml = job_toml(
        JobSpec::new("cc", &src, &dst, "alice\nbob"),
        &oauth_lines(
            &idp,
            "client-credentials",
            "source-app",
            Some(CLIENT_SECRET),
        ),
        &oauth_lines(
            &idp,
            "client-credentials",
            "destination-app",
            Some("other-app-secret"),
        ),
    );
    let (outcome, events) = run(validate(&toml), &db, Options::default(), |_| {});
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    // Two mailboxes, several connections each: one token per side.
    assert_eq!(idp.grants(), vec!["client_credentials"; 2]);
    nothing_secret_kept(&db, &outcome, &events, &[CLIENT_SECRET, "other-app-secret"]);
}

#[test]
fn a_service_account_signs_one_request_per_user() {
    let idp = Idp::start();
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (pem, public) = service_account_key(keys.path());
    idp.trust_service_account("migrator@proj.iam.gserviceaccount.com", public);
    let key = keys.path().join("key.json");
    std::fs::write(
        &key,
        service_account_json(
            "migrator@proj.iam.gserviceaccount.com",
            &pem,
            &idp.token_url(),
        ),
    )
    .unwrap();
    let sa = format!(
        "flow = \"service-account\"\nscope = {SCOPE:?}\nservice_account_key = {:?}\n",
        key.display().to_string()
    );
    let db = dir.path().join("m.db");
    let toml = job_toml(JobSpec::new("sa", &src, &dst, "alice\nbob"), &sa, &sa);
    let (outcome, events) = run(validate(&toml), &db, Options::default(), |_| {});
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    // One per user and side (each side's broker has its own cache).
    assert_eq!(
        idp.grants(),
        vec!["urn:ietf:params:oauth:grant-type:jwt-bearer"; 4]
    );
    let body = pem.lines().nth(1).unwrap();
    nothing_secret_kept(&db, &outcome, &events, &[body]);
}

#[test]
fn mailboxes_signed_in_with_a_code_migrate_with_their_refresh_tokens() {
    let idp = Idp::start();
    idp.register_client("mf-device", None);
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let device = oauth_lines(&idp, "device", "mf-device", None);
    let job = validate(&job_toml(
        JobSpec::new("device", &src, &dst, "alice\nbob"),
        &device,
        &device,
    ));
    let oauth = job.source.auth.oauth().unwrap().clone();
    let store = Arc::new(MemorySecrets::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for u in users {
        idp.approve_device_as(u);
        let shown = Mutex::new(Vec::<DevicePrompt>::new());
        rt.block_on(oauth::sign_in_device(
            &oauth,
            u,
            store.as_ref(),
            &|p| shown.lock().unwrap().push(p),
            &Cancel::default(),
        ))
        .unwrap();
        let shown = shown.into_inner().unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].user, u);
        assert!(shown[0].user_code.starts_with("MF-"), "{shown:?}");
        assert!(oauth::is_signed_in(&oauth, u, store.as_ref()).unwrap());
    }
    let signed_in = grants(&idp, "device_code");
    assert!(signed_in >= 4, "{:?}", idp.grants()); // a pending poll, then approval
    let opts = Options::default().with_secrets(store.clone());
    let (outcome, events) = run(job, &db, opts, |_| {});
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    // The run refreshed: one per user and side.
    assert_eq!(grants(&idp, "refresh_token"), 4, "{:?}", idp.grants());
    let refresh: Vec<String> = users
        .iter()
        .map(|u| {
            store
                .get(&refresh_token_ref(&oauth, u))
                .unwrap()
                .unwrap()
                .expose()
                .to_string()
        })
        .collect();
    let refs: Vec<&str> = refresh.iter().map(String::as_str).collect();
    nothing_secret_kept(&db, &outcome, &events, &refs);
}

/// A blocking GET: (status, the Location header, the body).
fn get(url: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let target = if target.is_empty() { "/" } else { target };
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let location = out
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, location, body.unwrap_or_default())
}

#[test]
fn mailboxes_signed_in_in_the_browser_migrate_with_their_refresh_tokens() {
    let idp = Idp::start();
    idp.register_client("mf-browser", None);
    let users = ["alice"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let browser = oauth_lines(&idp, "browser", "mf-browser", None);
    let job = validate(&job_toml(
        JobSpec::new("browser", &src, &dst, "alice"),
        &browser,
        &browser,
    ));
    let oauth: OAuth = job.destination.auth.oauth().unwrap().clone();
    let store = Arc::new(MemorySecrets::default());
    idp.approve_browser_as("alice");
    // The test is the browser: the IdP's page redirects at once to the
    // loopback address, whose page is kept.
    let page = Arc::new(Mutex::new(String::new()));
    let shown = page.clone();
    let auth_url = idp.auth_url();
    let open = move |url: &str| {
        assert!(url.starts_with(&format!("{auth_url}?")), "{url}");
        let url = url.to_string();
        let shown = shown.clone();
        std::thread::spawn(move || {
            let (status, location, _) = get(&url);
            assert_eq!(status, 302);
            let back = location.unwrap();
            assert!(back.starts_with("http://127.0.0.1:"), "{back}");
            let (status, _, body) = get(&back);
            assert_eq!(status, 200);
            *shown.lock().unwrap() = body;
        });
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(oauth::sign_in_browser(
        &oauth,
        "alice",
        store.as_ref(),
        &open,
        &Cancel::default(),
    ))
    .unwrap();
    // The browser's window says it may be closed.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while page.lock().unwrap().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        page.lock().unwrap().contains("You can close this window"),
        "{}",
        page.lock().unwrap()
    );
    assert_eq!(idp.grants(), vec!["authorization_code"]);
    let opts = Options::default().with_secrets(store.clone());
    let (outcome, events) = run(job, &db, opts, |_| {});
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    assert_eq!(
        idp.grants(),
        vec!["authorization_code", "refresh_token", "refresh_token"]
    );
    let refresh = store
        .get(&refresh_token_ref(&oauth, "alice"))
        .unwrap()
        .unwrap();
    nothing_secret_kept(&db, &outcome, &events, &[refresh.expose()]);
}

#[test]
fn tokens_pasted_in_the_user_list_log_in_as_they_are() {
    let idp = Idp::start();
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let hour = Duration::from_secs(3600);
    let list = users
        .iter()
        .map(|u| {
            format!(
                "{u},{},{u},{}",
                idp.mint(u, SCOPE, hour),
                idp.mint(u, SCOPE, hour)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let token = format!("flow = \"token\"\nscope = {SCOPE:?}\n");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let toml = job_toml(JobSpec::new("pasted", &src, &dst, &list), &token, &token);
    let (outcome, _) = run(validate(&toml), &db, Options::default(), |_| {});
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    assert!(idp.grants().is_empty(), "{:?}", idp.grants());
}

// ------------------------------------------------------ tokens that go bad

/// The app's token is revoked between two mailboxes: the second's login is
/// refused, a new token is fetched, and it logs in.
#[test]
fn a_shared_token_revoked_between_mailboxes_is_replaced_once() {
    let idp = Idp::start();
    idp.register_client("app", Some(CLIENT_SECRET));
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let app = oauth_lines(&idp, "client-credentials", "app", Some(CLIENT_SECRET));
    let mut spec = JobSpec::new("revoked", &src, &dst, "alice\nbob");
    spec.options = "parallel_mailboxes = 1".into();
    let job = validate(&job_toml(spec, &app, &app));
    let idp = Arc::new(idp);
    let revoker = idp.clone();
    let revoked = AtomicBool::new(false);
    let opts = Options::for_job(&job);
    let (outcome, _) = run(job, &db, opts, move |e| {
        if matches!(e, Event::MailboxFinished { .. }) && !revoked.swap(true, Ordering::SeqCst) {
            revoker.revoke_access_tokens();
        }
    });
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    // One per side, then one more per side after the refusal.
    assert_eq!(idp.grants(), vec!["client_credentials"; 4]);
}

/// Every access token is revoked while the first folder is being copied,
/// and the destination's connection is cut in the middle of an APPEND:
/// the reconnection's login is refused, the refresh token gets a new one,
/// and the job completes with every message there exactly once.
#[test]
fn a_token_revoked_mid_job_is_refreshed_and_nothing_is_lost_or_doubled() {
    let idp = Idp::start();
    idp.register_client("mf-source", None);
    idp.register_client("mf-destination", None);
    idp.set_rotate_refresh(true);
    let users = ["alice"];
    let (src, dst) = servers(&idp, &users);
    let proxy = FaultProxy::start(
        dst.imap_port(),
        vec![Fault::new(
            Trigger::pattern(Dir::ToServer, "APPEND", 40),
            Action::Cut,
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // Each side its own app, as when moving between two providers.
    let mut spec = JobSpec::plain("mid-job", src.imap_port(), proxy.port(), "alice");
    spec.source_ca = Some(src.ca_file()); // the source's port offers STARTTLS
    spec.options = "connections_per_mailbox = 1".into();
    let job = validate(&job_toml(
        spec,
        &oauth_lines(&idp, "device", "mf-source", None),
        &oauth_lines(&idp, "browser", "mf-destination", None),
    ));
    let source = job.source.auth.oauth().unwrap().clone();
    let oauth = job.destination.auth.oauth().unwrap().clone();
    // Signed in already (as a device or browser sign-in leaves them).
    let store = Arc::new(MemorySecrets::default());
    for (o, client) in [(&source, "mf-source"), (&oauth, "mf-destination")] {
        store
            .put(
                &refresh_token_ref(o, "alice"),
                &Secret::new(idp.mint_refresh("alice", client, SCOPE)),
            )
            .unwrap();
    }
    let idp = Arc::new(idp);
    let revoker = idp.clone();
    let revoked = AtomicBool::new(false);
    let opts = Options {
        backoff: Duration::from_millis(50),
        ..Options::for_job(&job)
    }
    .with_secrets(store.clone());
    let (outcome, events) = run(job, &db, opts, move |e| {
        if matches!(e, Event::FolderStarted { .. }) && !revoked.swap(true, Ordering::SeqCst) {
            revoker.revoke_access_tokens();
        }
    });
    succeeded(&outcome);
    same_mail(&src, &dst, &users);
    assert_eq!(proxy.fired().len(), 1, "the cut happened");
    assert!(
        events.iter().any(|e| matches!(e, Event::Retrying { .. })),
        "the engine reconnected"
    );
    // Before: one per side. After the cut: the destination's token was
    // refused and refreshed (the source's too if it reconnected).
    let refreshes = grants(&idp, "refresh_token");
    assert!(refreshes >= 3, "{:?}", idp.grants());
    // The rotated refresh token was written back, and works.
    let kept = store
        .get(&refresh_token_ref(&oauth, "alice"))
        .unwrap()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = oauth::TokenBroker::new(oauth.clone(), Some(store.clone()));
    rt.block_on(broker.token("alice", None)).unwrap();
    assert_ne!(
        store
            .get(&refresh_token_ref(&oauth, "alice"))
            .unwrap()
            .unwrap(),
        kept
    );
    nothing_secret_kept(&db, &outcome, &events, &[kept.expose()]);
}

#[test]
fn a_mailbox_not_signed_in_fails_with_how_to_sign_in() {
    let idp = Idp::start();
    idp.register_client("mf-device", None);
    let users = ["alice"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let device = oauth_lines(&idp, "device", "mf-device", None);
    let job = validate(&job_toml(
        JobSpec::new("unsigned", &src, &dst, "alice"),
        &device,
        &device,
    ));
    let opts = Options::default().with_secrets(Arc::new(MemorySecrets::default()));
    let (outcome, _) = run(job, &db, opts, |_| {});
    assert_eq!(outcome.verdict(), Verdict::Failed);
    let m = &outcome.mailboxes[0];
    let error = m.error.as_deref().unwrap();
    assert!(
        error.contains("alice is not signed in yet")
            && error.contains("`mailferry sign-in <job file> --user alice`"),
        "{error}"
    );
    assert_eq!(m.error_code.as_deref(), Some("no-token"));
    assert!(idp.grants().is_empty());
}

// ------------------------------------------------------------------ CLI

/// `mailferry sign-in` with a code, then `mailferry run` with the refresh
/// token from the keyring. Needs a Secret Service: test.sh runs the tests
/// in a D-Bus session with an unlocked gnome-keyring and sets
/// MAILFERRY_TEST_SECRET_SERVICE.
#[test]
fn the_cli_signs_a_mailbox_in_with_a_code_and_runs_with_the_keyring() {
    if std::env::var_os("MAILFERRY_TEST_SECRET_SERVICE").is_none() {
        eprintln!("skipped: set MAILFERRY_TEST_SECRET_SERVICE=1 inside a D-Bus session with gnome-keyring (test.sh does)");
        return;
    }
    let idp = Idp::start();
    idp.register_client("mf-cli", None);
    idp.approve_device_as("alice");
    let users = ["alice"];
    let (src, dst) = servers(&idp, &users);
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let device = oauth_lines(&idp, "device", "mf-cli", None);
    let job = work.path().join("cli.toml");
    std::fs::write(
        &job,
        job_toml(
            JobSpec::new("cli-oauth", &src, &dst, "alice"),
            &device,
            &device,
        ),
    )
    .unwrap();
    let db = dir.path().join("m.db");
    let mailferry = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let job = job.to_str().unwrap();
    let (code, out, err) = mailferry(&["sign-in", job]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("and enter the code MF-"), "{out}");
    assert!(
        out.contains("alice is signed in (kept in the system keyring)"),
        "{out}"
    );
    // Both sides sign in at the same service with the same app: once.
    assert!(out.contains("1 mailbox(es) signed in."), "{out}");
    let (code, out, _) = mailferry(&["sign-in", job]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("0 mailbox(es) signed in, 1 already signed in"),
        "{out}"
    );
    assert_eq!(grants(&idp, "device_code"), 2, "{:?}", idp.grants());

    let log = work.path().join("cli.log");
    let (code, out, err) = mailferry(&["run", job, "--log", log.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    same_mail(&src, &dst, &users);
    assert_eq!(grants(&idp, "refresh_token"), 2, "{:?}", idp.grants());
    for path in [db.clone(), log] {
        let bytes = std::fs::read(&path).unwrap();
        let tokens = idp_tokens_in(&bytes);
        assert!(tokens.is_empty(), "{tokens:?} in {}", path.display());
    }
    assert!(idp_tokens_in(out.as_bytes()).is_empty() && idp_tokens_in(err.as_bytes()).is_empty());
}

// ------------------------------------------------------------ pre-flight

/// The pre-flight report logs in with each mailbox's token before anything
/// is copied: a token without the mail scope is named on its mailbox (and
/// among the warnings) in the words of a refused token, a good one is
/// checked through to its folders, and neither server changes.
#[test]
fn the_pre_flight_report_tries_each_mailboxs_token_before_the_job() {
    use mailferry::preflight::{self, WarningKind};
    let idp = Idp::start();
    let users = ["alice", "bob"];
    let (src, dst) = servers(&idp, &users);
    let hour = Duration::from_secs(3600);
    let list = format!(
        "alice,{},alice\nbob,{},bob",
        idp.mint("alice", SCOPE, hour),
        idp.mint("bob", "https://mail.test/calendar", hour)
    );
    idp.register_client("tenant-app", Some(CLIENT_SECRET));
    let dest = oauth_lines(
        &idp,
        "client-credentials",
        "tenant-app",
        Some(CLIENT_SECRET),
    );
    let toml = job_toml(
        JobSpec::new("preflight-oauth", &src, &dst, &list),
        &format!("flow = \"token\"\nscope = {SCOPE:?}\n"),
        &dest,
    );
    let before: Vec<Snapshot> = users
        .iter()
        .map(|u| snapshot(&dst, u, &password(u, "destination")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("m.db")).unwrap();
    let job = validate(&toml);
    let opts = Options::for_job(&job);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, report) = rt
        .block_on(preflight::run(job, store, opts, Cancel::default(), |_| {}))
        .unwrap_or_else(|e| panic!("the pre-flight check did not start: {e}"));
    let alice = &report.mailboxes[0];
    let bob = &report.mailboxes[1];
    assert_eq!(alice.error, None, "{alice:#?}");
    assert!(!alice.folders.is_empty(), "{alice:#?}");
    let words = bob.error.as_deref().unwrap_or_default();
    assert!(
        words.contains("bob") && words.contains("refused the access token"),
        "{words}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::Unreachable && w.account.as_deref() == Some("bob")),
        "{:#?}",
        report.warnings
    );
    for (u, b) in users.iter().zip(&before) {
        assert_eq!(&snapshot(&dst, u, &password(u, "destination")), b, "{u}");
    }
}
