//! `mailferry sign-in`: signs a job's mailboxes in with OAuth, with a code
//! shown here or in the browser, keeping each refresh token in the keyring
//! for the runs that follow.

use std::sync::Arc;

use mailferry::copy::{Cancel, Options};
use mailferry::job::{AccountAuth, Job, OAuth, OAuthFlow};
use mailferry::oauth::{self, DevicePrompt, OAuthError};
use mailferry::service::SecretStore;

use crate::keyring_store::KeyringStore;

/// Which side's mailboxes, for `--side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SideArg {
    Source,
    Destination,
}

/// One mailbox to sign in.
struct Todo<'a> {
    side: &'static str,
    oauth: &'a OAuth,
    user: String,
}

/// What to sign in: each side with a per-mailbox flow (or the one asked
/// for), each of its users (or the one asked for). `Err` says why there is
/// nothing to do.
fn todo<'a>(
    job: &'a Job,
    side: Option<SideArg>,
    user: Option<&str>,
) -> Result<Vec<Todo<'a>>, String> {
    let sides: [(SideArg, &'static str, &AccountAuth, Vec<&str>); 2] = [
        (
            SideArg::Source,
            "source",
            &job.source.auth,
            job.users.iter().map(|u| u.source_user.as_str()).collect(),
        ),
        (
            SideArg::Destination,
            "destination",
            &job.destination.auth,
            job.users.iter().map(|u| u.local_user.as_str()).collect(),
        ),
    ];
    let mut out = Vec::new();
    // One sign-in per service, app and mailbox: both sides of a job may
    // share it.
    let mut seen = std::collections::HashSet::new();
    let mut found_user = false;
    for (arg, word, auth, users) in sides {
        if side.is_some_and(|s| s != arg) {
            continue;
        }
        let Some(o) = auth.oauth() else {
            if side.is_some() {
                return Err(format!("The job's {word} does not sign in with OAuth (auth = \"oauth\"): there is nothing to sign in."));
            }
            continue;
        };
        if !o.flow.per_mailbox_sign_in() {
            if side.is_some() {
                return Err(format!(
                    "The job's {word} signs in with {}: no mailbox needs signing in one by one.",
                    o.flow.label()
                ));
            }
            continue;
        }
        for u in users {
            if user.is_some_and(|w| w != u) {
                continue;
            }
            found_user = true;
            if !seen.insert(oauth::refresh_token_ref(o, u)) {
                continue;
            }
            out.push(Todo {
                side: word,
                oauth: o,
                user: u.to_string(),
            });
        }
    }
    if let (Some(u), false) = (user, found_user) {
        if out.is_empty()
            && job
                .users
                .iter()
                .any(|x| x.source_user == u || x.local_user == u)
        {
            return Err(format!(
                "{u} is not on a side of this job that signs in with a code or in the browser."
            ));
        }
        return Err(format!(
            "{u} is not in the job's user list: sign in one of its mailboxes."
        ));
    }
    if out.is_empty() {
        return Err("No side of this job signs in with a code or in the browser (flow = \"device\" or \"browser\" in [source.oauth] or [destination.oauth]): there is nothing to sign in.".into());
    }
    Ok(out)
}

/// Signs the mailboxes in; the exit code (0 all signed in, 3 some, 4
/// none, 5 nothing could start).
pub fn sign_in(job: &Job, side: Option<SideArg>, user: Option<&str>, browser: bool) -> u8 {
    let todo = match todo(job, side, user) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return super::exit::BAD_JOB;
        }
    };
    let store = KeyringStore::new();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Could not start: {e}");
            return super::exit::NOT_STARTED;
        }
    };
    let cancel = Cancel::default();
    let on_ctrl_c = cancel.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let (mut done, mut failed, mut already) = (0, 0, 0);
    for t in &todo {
        // Without --user, a mailbox signed in already is left as it is.
        if user.is_none() {
            match oauth::is_signed_in(t.oauth, &t.user, &store) {
                Ok(true) => {
                    already += 1;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    eprintln!("{e}");
                    return super::exit::NOT_STARTED;
                }
            }
        }
        let in_browser = browser || t.oauth.flow == OAuthFlow::Browser;
        println!(
            "Signing in {} ({}, {}):",
            t.user,
            t.side,
            match in_browser {
                true => "in the browser",
                false => "with a code",
            }
        );
        let result = runtime.block_on(async {
            match in_browser {
                true => {
                    let user = t.user.clone();
                    let open = move |url: &str| {
                        println!("  Sign in as {user} in the browser window that opens; if none opens, open this address:\n  {url}");
                        open_browser(url);
                    };
                    oauth::sign_in_browser(t.oauth, &t.user, &store, &open, &cancel).await
                }
                false => {
                    oauth::sign_in_device(t.oauth, &t.user, &store, &show_code, &cancel).await
                }
            }
        });
        match result {
            Ok(()) => {
                done += 1;
                println!("  {} is signed in (kept in the system keyring).", t.user);
            }
            Err(OAuthError::Cancelled) => {
                eprintln!("Sign-in cancelled; {done} mailbox(es) were signed in before.");
                return super::exit::PARTIAL;
            }
            Err(e) => {
                failed += 1;
                eprintln!("  {e}");
            }
        }
    }
    println!(
        "{done} mailbox(es) signed in{}{}.",
        match already {
            0 => String::new(),
            n => format!(", {n} already signed in (`--user NAME` signs one in again)"),
        },
        match failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        }
    );
    match (failed, done + already) {
        (0, _) => super::exit::SUCCESS,
        (_, 0) => super::exit::FAILED,
        _ => super::exit::PARTIAL,
    }
}

fn show_code(p: DevicePrompt) {
    println!(
        "  Open {} on any device and enter the code {} (it expires in {} minutes).",
        p.verification_uri,
        p.user_code,
        p.expires_in.div_ceil(60)
    );
    if let Some(complete) = p.verification_uri_complete {
        println!("  Or open {complete}, which has the code filled in.");
    }
    println!("  Waiting for the sign-in of {}…", p.user);
}

/// Opens `url` in the system's browser ($BROWSER when set); the address is
/// printed anyway, for when none opens.
fn open_browser(url: &str) {
    let mut cmd = match std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        Some(b) => std::process::Command::new(b),
        None if cfg!(target_os = "macos") => std::process::Command::new("open"),
        // Not `cmd /c start`: cmd would split the address at its `&`s.
        None if cfg!(windows) => {
            let mut c = std::process::Command::new("rundll32");
            c.arg("url.dll,FileProtocolHandler");
            c
        }
        None => std::process::Command::new("xdg-open"),
    };
    let _ = cmd
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// `opts`, with the keyring for a job whose mailboxes were signed in one by
/// one (their refresh tokens are there).
pub fn with_keyring(job: &Job, opts: Options) -> Options {
    let signed_in = [&job.source.auth, &job.destination.auth]
        .iter()
        .any(|a| a.oauth().is_some_and(|o| o.flow.per_mailbox_sign_in()));
    match signed_in {
        true => opts.with_secrets(Arc::new(KeyringStore::new()) as Arc<dyn SecretStore>),
        false => opts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(source: &str, destination: &str) -> Job {
        let text = format!(
            "[source]\nhost = \"old.example\"\n{source}\n[destination]\nhost = \"new.example\"\n{destination}\n[users]\nlist = \"\"\"\njane@old.example,,jane@new.example\nbob@old.example,,bob@new.example\n\"\"\"\n"
        );
        mailferry::job::JobFile::from_toml(&text)
            .and_then(|f| f.validate(std::path::Path::new(".")))
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    const DEVICE: &str = "auth = \"oauth\"\n[source.oauth]\nprovider = \"microsoft\"\nflow = \"device\"\nclient_id = \"abc\"\n";
    const APP: &str = "auth = \"oauth\"\n[destination.oauth]\nprovider = \"microsoft\"\nflow = \"client-credentials\"\nclient_id = \"abc\"\nclient_secret = \"s\"\ntenant = \"t.example\"\n";
    const MASTER: &str = "auth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n";

    #[test]
    fn every_user_of_each_side_that_signs_in_one_by_one_is_listed() {
        let j = job(DEVICE, APP);
        let t = todo(&j, None, None).unwrap();
        let users: Vec<_> = t.iter().map(|t| (t.side, t.user.as_str())).collect();
        assert_eq!(
            users,
            [
                ("source", "jane@old.example"),
                ("source", "bob@old.example")
            ]
        );
        let one = todo(&j, None, Some("bob@old.example")).unwrap();
        assert_eq!(one.len(), 1);
        assert!(todo(&j, None, Some("zed@x"))
            .err()
            .unwrap()
            .contains("not in the job's user list"));
        assert!(todo(&j, None, Some("bob@new.example"))
            .err()
            .unwrap()
            .contains("not on a side of this job that signs in"));
        assert!(todo(&j, Some(SideArg::Destination), None)
            .err()
            .unwrap()
            .contains("the tenant's app (client credentials)"));
        let none = job(MASTER, MASTER);
        assert!(todo(&none, None, None)
            .err()
            .unwrap()
            .contains("nothing to sign in"));
    }

    #[test]
    fn only_jobs_with_signed_in_mailboxes_open_the_keyring() {
        let opts = with_keyring(&job(MASTER, APP), Options::default());
        assert!(opts.secrets.is_none());
        let opts = with_keyring(&job(DEVICE, MASTER), Options::default());
        assert!(format!("{:?}", opts.secrets).contains("keyring"));
    }
}
