//! Host presets and OAuth 2.0 sign-in, as the form sees them: the
//! engine's preset table in the page's words, each side's mailboxes with
//! whether they are signed in, the events of one mailbox's sign-in, and
//! opening the system browser. The grants themselves are the engine's
//! (`mailferry::oauth`); refresh tokens go to the app's vault.

use std::sync::Mutex;

use mailferry::copy::Cancel;
use mailferry::job::presets::SignIn;
use mailferry::job::{AccountAuth, Job, OAuth, OAuthFlow, Preset, Provider};
use mailferry::oauth::DevicePrompt;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::form::{CommandError, ErrorCode};

/// How a big host accepts logins (the engine's `SignIn`, named for the page).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
pub enum HostSignIn {
    /// OAuth 2.0 only: passwords over IMAP are refused.
    #[serde(rename = "oauth-only")]
    OAuthOnly,
    /// OAuth 2.0, or an app password.
    #[serde(rename = "oauth-or-app-password")]
    OAuthOrAppPassword,
    /// An app password made in the account's settings.
    #[serde(rename = "app-password")]
    AppPassword,
    /// The account's password.
    #[serde(rename = "password")]
    Password,
}

impl From<SignIn> for HostSignIn {
    fn from(s: SignIn) -> Self {
        match s {
            SignIn::OAuthOnly => HostSignIn::OAuthOnly,
            SignIn::OAuthOrAppPassword => HostSignIn::OAuthOrAppPassword,
            SignIn::AppPassword => HostSignIn::AppPassword,
            SignIn::Password => HostSignIn::Password,
        }
    }
}

/// Whose sign-in service issues a host's tokens.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    Google,
    Microsoft,
    /// Any other: the job gives its endpoints.
    Custom,
}

impl From<Provider> for OAuthProvider {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Google => OAuthProvider::Google,
            Provider::Microsoft => OAuthProvider::Microsoft,
            Provider::Custom => OAuthProvider::Custom,
        }
    }
}

/// One preset of the form's Preset select (`Preset::info()`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct HostPreset {
    /// As the job names it: `preset = "microsoft-365"`.
    pub id: String,
    /// As the form shows it.
    pub name: String,
    pub imap_host: String,
    pub pop3_host: Option<String>,
    pub sign_in: HostSignIn,
    /// The OAuth provider, when the host signs in with OAuth.
    pub provider: Option<OAuthProvider>,
    /// Where the user makes an app password.
    pub app_password_url: Option<String>,
    /// A sentence about signing in.
    pub hint: String,
}

/// The engine's presets, in its order.
pub fn host_presets() -> Vec<HostPreset> {
    Preset::ALL
        .iter()
        .map(|&p| {
            let i = p.info();
            HostPreset {
                id: serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                name: i.name.into(),
                imap_host: i.imap_host.into(),
                pop3_host: i.pop3_host.map(Into::into),
                sign_in: i.sign_in.into(),
                provider: i.provider.map(Into::into),
                app_password_url: i.app_password_url.map(Into::into),
                hint: i.hint.into(),
            }
        })
        .collect()
}

/// Where a side's tokens come from (`flow` of `[side.oauth]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum SignInFlow {
    Device,
    Browser,
    ClientCredentials,
    ServiceAccount,
    Token,
}

impl From<SignInFlow> for OAuthFlow {
    fn from(f: SignInFlow) -> Self {
        match f {
            SignInFlow::Device => OAuthFlow::Device,
            SignInFlow::Browser => OAuthFlow::Browser,
            SignInFlow::ClientCredentials => OAuthFlow::ClientCredentials,
            SignInFlow::ServiceAccount => OAuthFlow::ServiceAccount,
            SignInFlow::Token => OAuthFlow::Token,
        }
    }
}

impl From<OAuthFlow> for SignInFlow {
    // Both ways, so that a flow the engine adds does not compile until the
    // page's select knows it.
    fn from(f: OAuthFlow) -> Self {
        match f {
            OAuthFlow::Device => SignInFlow::Device,
            OAuthFlow::Browser => SignInFlow::Browser,
            OAuthFlow::ClientCredentials => SignInFlow::ClientCredentials,
            OAuthFlow::ServiceAccount => SignInFlow::ServiceAccount,
            OAuthFlow::Token => SignInFlow::Token,
        }
    }
}

/// One side of a job.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    /// The form's field for this side's OAuth settings (the engine's
    /// `JobError::field`).
    pub fn oauth_field(self) -> &'static str {
        match self {
            Side::Source => "source.oauth",
            Side::Destination => "destination.oauth",
        }
    }

    fn auth(self, job: &Job) -> &AccountAuth {
        match self {
            Side::Source => &job.source.auth,
            Side::Destination => &job.destination.auth,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// A mailbox of one side, and whether its refresh token is in the vault.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct OAuthMailbox {
    pub user: String,
    pub signed_in: bool,
}

/// What one mailbox's sign-in tells the page while it waits.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum SignInEvent {
    /// Sign in with a code: the person types `user_code` at
    /// `verification_uri`, on any device.
    Code {
        user: String,
        verification_uri: String,
        /// The same with the code filled in, when the provider gives it.
        verification_uri_complete: Option<String>,
        user_code: String,
        /// Seconds until the code expires.
        expires_in: u64,
    },
    /// Sign in in the browser: it was opened at `url`, or could not be
    /// (`opened` false: the page shows the address to copy).
    Browser {
        user: String,
        url: String,
        opened: bool,
    },
}

impl From<DevicePrompt> for SignInEvent {
    fn from(p: DevicePrompt) -> Self {
        SignInEvent::Code {
            user: p.user,
            verification_uri: p.verification_uri,
            verification_uri_complete: p.verification_uri_complete,
            user_code: p.user_code,
            expires_in: p.expires_in,
        }
    }
}

/// The side's OAuth settings, when a person signs in to each of its
/// mailboxes (code or browser); else why there is nothing to sign in.
pub fn person_oauth(job: &Job, side: Side) -> Result<&OAuth, CommandError> {
    match side.auth(job).oauth() {
        Some(o) if o.flow.per_mailbox_sign_in() => Ok(o),
        Some(o) => Err(CommandError::new(
            ErrorCode::InvalidJob,
            side.oauth_field(),
            format!(
                "The {} signs in with {}: no one signs in to each mailbox. Choose \"Sign in each mailbox with a code\" or \"in the browser\" to sign mailboxes in.",
                side.words(),
                o.flow.label()
            ),
        )),
        None => Err(CommandError::new(
            ErrorCode::InvalidJob,
            side.oauth_field(),
            format!(
                "The {} does not sign in with OAuth 2.0: choose it under Signing in first.",
                side.words()
            ),
        )),
    }
}

/// The side's mailboxes in the user list's order, each once: the source
/// user on the source, the local user on the destination.
pub fn mailboxes(job: &Job, side: Side) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    job.users
        .iter()
        .map(|u| match side {
            Side::Source => u.source_user.clone(),
            Side::Destination => u.local_user.clone(),
        })
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

/// The sign-in under way (one at a time), and the addresses the page may
/// open in the browser because a sign-in gave them.
#[derive(Default)]
pub struct SignIns {
    current: Mutex<Option<(u64, Cancel)>>,
    next: std::sync::atomic::AtomicU64,
    links: Mutex<Vec<String>>,
}

impl SignIns {
    /// A new sign-in; one still under way is cancelled (the page shows one
    /// at a time).
    pub fn begin(&self) -> (u64, Cancel) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let cancel = Cancel::default();
        let old = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace((id, cancel.clone()));
        if let Some((_, c)) = old {
            c.cancel();
        }
        (id, cancel)
    }

    pub fn end(&self, id: u64) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|(i, _)| *i == id) {
            *cur = None;
        }
    }

    /// Whether one was under way.
    pub fn cancel(&self) -> bool {
        match &*self.current.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((_, c)) => {
                c.cancel();
                true
            }
            None => false,
        }
    }

    /// `url` came from a provider during a sign-in: the page may open it.
    pub fn allow(&self, url: &str) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if !links.iter().any(|l| l == url) {
            links.push(url.to_string());
        }
    }

    /// Only addresses MailFerry itself knows: a preset's app-password page,
    /// or an address a provider gave during a sign-in. The page never
    /// opens an address typed into it.
    pub fn may_open(&self, url: &str) -> bool {
        let known = host_presets()
            .iter()
            .any(|p| p.app_password_url.as_deref() == Some(url))
            || self
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|l| l == url);
        known && is_web_address(url)
    }
}

fn is_web_address(url: &str) -> bool {
    (url.starts_with("https://")
        || url.starts_with("http://127.0.0.1")
        || url.starts_with("http://localhost"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Test only: when set, addresses are appended to this file instead of
/// being opened (no browser in a test).
pub const OPEN_LOG_FOR_TESTS: &str = "MAILFERRY_TEST_OPEN_LOG";

/// Opens `url` in the system browser.
pub fn open_in_browser(url: &str) -> Result<(), String> {
    if !is_web_address(url) {
        return Err(format!("{url:?} is not a web address."));
    }
    if let Some(log) = std::env::var_os(OPEN_LOG_FOR_TESTS) {
        use std::io::Write;
        return std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| writeln!(f, "{url}"))
            .map_err(|e| e.to_string());
    }
    #[cfg(target_os = "macos")]
    let mut cmd = {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    };
    #[cfg(windows)]
    let mut cmd = {
        // Not `cmd /c start`: the address would pass through cmd's parser.
        let mut c = std::process::Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    };
    #[cfg(all(unix, not(target_os = "macos")))]
    let mut cmd = {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("the system browser could not be started ({e})"))?;
    // Reaped in the background: the opener exits once the browser has it.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_gets_every_preset_with_the_job_files_ids() {
        let all = host_presets();
        assert_eq!(all.len(), Preset::ALL.len());
        let ms = all.iter().find(|p| p.id == "microsoft-365").unwrap();
        assert_eq!(ms.name, "Microsoft 365");
        assert_eq!(ms.sign_in, HostSignIn::OAuthOnly);
        assert_eq!(ms.provider, Some(OAuthProvider::Microsoft));
        assert!(all.iter().any(|p| p.id == "outlook.com"));
        let yahoo = all.iter().find(|p| p.id == "yahoo").unwrap();
        assert_eq!(serde_json::to_value(yahoo.sign_in).unwrap(), "app-password");
        assert!(yahoo.app_password_url.is_some());
        assert_eq!(serde_json::to_value(ms.sign_in).unwrap(), "oauth-only");
    }

    #[test]
    fn flows_are_named_as_the_job_file_names_them() {
        for f in [
            SignInFlow::Device,
            SignInFlow::Browser,
            SignInFlow::ClientCredentials,
            SignInFlow::ServiceAccount,
            SignInFlow::Token,
        ] {
            let engine = OAuthFlow::from(f);
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::to_value(engine).unwrap()
            );
            assert_eq!(SignInFlow::from(engine), f);
        }
    }

    #[test]
    fn only_known_web_addresses_may_be_opened() {
        let s = SignIns::default();
        assert!(s.may_open("https://myaccount.google.com/apppasswords"));
        assert!(!s.may_open("https://evil.example/"));
        assert!(!s.may_open("file:///etc/passwd"));
        s.allow("https://microsoft.com/devicelogin");
        assert!(s.may_open("https://microsoft.com/devicelogin"));
        s.allow("javascript:alert(1)");
        assert!(!s.may_open("javascript:alert(1)"));
        assert!(open_in_browser("--help").is_err());
    }

    #[test]
    fn a_new_sign_in_cancels_the_one_under_way() {
        let s = SignIns::default();
        let (first, c1) = s.begin();
        let (second, c2) = s.begin();
        assert!(c1.is_cancelled());
        s.end(first);
        assert!(s.cancel());
        assert!(c2.is_cancelled());
        s.end(second);
        assert!(!s.cancel());
    }
}
