//! Presets for the big mail hosts (`preset = "gmail"` in `[source]` or
//! `[destination]`): their servers, ports and security, how they sign in,
//! and their known limits and quirks. Sources for each figure are in
//! docs/cloud.md.

use serde::Deserialize;

use super::oauth::Provider;
use super::{Protocol, Security};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Gmail,
    GoogleWorkspace,
    #[serde(rename = "microsoft-365")]
    Microsoft365,
    #[serde(rename = "outlook.com")]
    OutlookCom,
    Yahoo,
    Icloud,
    Fastmail,
    Zoho,
}

/// How a host accepts logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignIn {
    /// OAuth 2.0 only (passwords over IMAP are refused).
    OAuthOnly,
    /// OAuth 2.0, or an app password.
    OAuthOrAppPassword,
    /// An app password made in the account's settings (the account's own
    /// password is refused over IMAP).
    AppPassword,
    /// The account's password (or an app password when two-step
    /// verification is on).
    Password,
}

/// A host's limits and habits that the copy respects. All unset for a
/// server without a preset.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Quirks {
    /// Gmail: labels are folders, so a message with two labels is in two
    /// folders, and `[Gmail]/All Mail` (`\All`), `Important` (`\Important`)
    /// and `Starred` (`\Flagged`) hold copies of mail that is elsewhere
    /// too. On a source these are skipped by default; on a destination
    /// nothing is ever copied into them.
    pub labels_as_folders: bool,
    /// At most this many connections to one mailbox at a time.
    pub max_connections_per_mailbox: Option<usize>,
    /// The largest message the host accepts, when it does not say so with
    /// APPENDLIMIT.
    pub max_message_bytes: Option<u64>,
    /// Bytes one mailbox may download over IMAP in a day.
    pub daily_download_bytes: Option<u64>,
    /// Bytes one mailbox may upload over IMAP in a day.
    pub daily_upload_bytes: Option<u64>,
}

/// What a preset fills in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresetInfo {
    pub preset: Preset,
    /// As the form shows it.
    pub name: &'static str,
    pub imap_host: &'static str,
    /// POP3S host, when the host offers POP3.
    pub pop3_host: Option<&'static str>,
    pub sign_in: SignIn,
    /// The OAuth provider, when the host signs in with OAuth.
    pub provider: Option<Provider>,
    /// Where the user makes an app password.
    pub app_password_url: Option<&'static str>,
    pub quirks: Quirks,
    /// A sentence for the form about signing in.
    pub hint: &'static str,
}

const MB: u64 = 1_000_000;

impl Preset {
    pub const ALL: [Preset; 8] = [
        Preset::Gmail,
        Preset::GoogleWorkspace,
        Preset::Microsoft365,
        Preset::OutlookCom,
        Preset::Yahoo,
        Preset::Icloud,
        Preset::Fastmail,
        Preset::Zoho,
    ];

    pub fn info(self) -> PresetInfo {
        let google_quirks = Quirks {
            labels_as_folders: true,
            max_connections_per_mailbox: Some(4),
            max_message_bytes: Some(25 * MB),
            daily_download_bytes: Some(2_500 * MB),
            daily_upload_bytes: Some(500 * MB),
        };
        let microsoft_quirks = Quirks {
            max_connections_per_mailbox: Some(4),
            max_message_bytes: Some(35 * MB),
            ..Quirks::default()
        };
        match self {
            Preset::Gmail => PresetInfo {
                preset: self,
                name: "Gmail",
                imap_host: "imap.gmail.com",
                pop3_host: Some("pop.gmail.com"),
                sign_in: SignIn::OAuthOrAppPassword,
                provider: Some(Provider::Google),
                app_password_url: Some("https://myaccount.google.com/apppasswords"),
                quirks: google_quirks,
                hint: "Sign in with Google, or use an app password (Google Account → Security → App passwords; needs 2-Step Verification).",
            },
            Preset::GoogleWorkspace => PresetInfo {
                preset: self,
                name: "Google Workspace",
                imap_host: "imap.gmail.com",
                pop3_host: Some("pop.gmail.com"),
                sign_in: SignIn::OAuthOrAppPassword,
                provider: Some(Provider::Google),
                app_password_url: Some("https://myaccount.google.com/apppasswords"),
                quirks: google_quirks,
                hint: "For every mailbox of a domain, use a service account with domain-wide delegation; for one mailbox, sign in with Google.",
            },
            Preset::Microsoft365 => PresetInfo {
                preset: self,
                name: "Microsoft 365",
                imap_host: "outlook.office365.com",
                pop3_host: Some("outlook.office365.com"),
                sign_in: SignIn::OAuthOnly,
                provider: Some(Provider::Microsoft),
                app_password_url: None,
                quirks: microsoft_quirks,
                hint: "Microsoft 365 accepts only OAuth 2.0 over IMAP: for every mailbox of a tenant, use an app with IMAP.AccessAsApp (client credentials); for one mailbox, sign in with Microsoft.",
            },
            Preset::OutlookCom => PresetInfo {
                preset: self,
                name: "Outlook.com",
                imap_host: "outlook.office365.com",
                pop3_host: Some("outlook.office365.com"),
                sign_in: SignIn::OAuthOnly,
                provider: Some(Provider::Microsoft),
                app_password_url: None,
                quirks: microsoft_quirks,
                hint: "Outlook.com and Hotmail accept only OAuth 2.0 over IMAP: sign in with Microsoft (tenant \"consumers\").",
            },
            Preset::Yahoo => PresetInfo {
                preset: self,
                name: "Yahoo Mail",
                imap_host: "imap.mail.yahoo.com",
                pop3_host: Some("pop.mail.yahoo.com"),
                sign_in: SignIn::AppPassword,
                provider: None,
                app_password_url: Some("https://login.yahoo.com/account/security/app-passwords"),
                quirks: Quirks {
                    max_connections_per_mailbox: Some(4),
                    ..Quirks::default()
                },
                hint: "Yahoo needs an app password: Account security → Generate app password. The account's own password is refused.",
            },
            Preset::Icloud => PresetInfo {
                preset: self,
                name: "iCloud Mail",
                imap_host: "imap.mail.me.com",
                pop3_host: None,
                sign_in: SignIn::AppPassword,
                provider: None,
                app_password_url: Some("https://account.apple.com/account/manage"),
                quirks: Quirks {
                    max_connections_per_mailbox: Some(4),
                    max_message_bytes: Some(20 * MB),
                    ..Quirks::default()
                },
                hint: "iCloud needs an app-specific password: Apple Account → Sign-In and Security → App-Specific Passwords. The user name is the full iCloud address.",
            },
            Preset::Fastmail => PresetInfo {
                preset: self,
                name: "Fastmail",
                imap_host: "imap.fastmail.com",
                pop3_host: Some("pop.fastmail.com"),
                sign_in: SignIn::AppPassword,
                provider: None,
                app_password_url: Some("https://app.fastmail.com/settings/security/apps"),
                quirks: Quirks::default(),
                hint: "Fastmail needs an app password with IMAP (or POP) access: Settings → Privacy & Security → Manage app passwords.",
            },
            Preset::Zoho => PresetInfo {
                preset: self,
                name: "Zoho Mail",
                imap_host: "imap.zoho.com",
                pop3_host: Some("pop.zoho.com"),
                sign_in: SignIn::Password,
                provider: None,
                app_password_url: Some("https://accounts.zoho.com/home#security/app_password"),
                quirks: Quirks::default(),
                hint: "Turn on IMAP access in Zoho Mail's settings first; with two-factor authentication on, use an app password. Accounts outside the US use their region's host (imap.zoho.eu, imap.zoho.in…).",
            },
        }
    }
}

impl Preset {
    /// How the host's message size limit is raised, where it can be, for
    /// the log's words on a message too big for it.
    pub fn raise_size_limit(self) -> Option<&'static str> {
        match self {
            Preset::Microsoft365 => Some("An administrator can raise the limit to 150 MB (Exchange Online PowerShell: Set-Mailbox -Identity <mailbox> -MaxReceiveSize 150MB), then set max_message_mb = 150 in the job's [destination] and run the job again: it sends only what is missing."),
            _ => None,
        }
    }
}

/// What a preset puts in `[source]` when the job leaves it blank: its
/// IMAP host over IMAP4S, or its POP3 host when the job reads POP3 (a host
/// without POP3 keeps its IMAP host, and the login says so).
pub fn source_defaults(p: Preset, protocol: Option<Protocol>) -> (String, Protocol) {
    let info = p.info();
    match (protocol, info.pop3_host) {
        (Some(pr @ (Protocol::Pop3 | Protocol::Pop3s)), Some(pop)) => (pop.to_string(), pr),
        (pr, _) => (info.imap_host.to_string(), pr.unwrap_or(Protocol::Imap4s)),
    }
}

/// What a preset puts in `[destination]` when the job leaves it blank.
pub fn destination_defaults(p: Preset) -> (String, u16, Security) {
    (p.info().imap_host.to_string(), 993, Security::Tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_names_its_host_and_how_to_sign_in() {
        for p in Preset::ALL {
            let i = p.info();
            assert!(i.imap_host.contains('.'), "{p:?}");
            assert!(!i.hint.is_empty());
            match i.sign_in {
                SignIn::OAuthOnly => assert!(i.provider.is_some()),
                SignIn::AppPassword => assert!(i.app_password_url.is_some(), "{p:?}"),
                _ => {}
            }
        }
        let ids: Vec<String> = Preset::ALL
            .iter()
            .map(|p| serde_json::to_string(p).unwrap())
            .collect();
        assert!(ids.contains(&"\"microsoft-365\"".to_string()), "{ids:?}");
        assert!(ids.contains(&"\"outlook.com\"".to_string()), "{ids:?}");
        assert!(ids.contains(&"\"google-workspace\"".to_string()), "{ids:?}");
    }

    #[test]
    fn a_pop3_job_gets_the_hosts_pop3_server() {
        assert_eq!(
            source_defaults(Preset::Gmail, None),
            ("imap.gmail.com".into(), Protocol::Imap4s)
        );
        assert_eq!(
            source_defaults(Preset::Gmail, Some(Protocol::Pop3s)),
            ("pop.gmail.com".into(), Protocol::Pop3s)
        );
        assert_eq!(
            source_defaults(Preset::Icloud, Some(Protocol::Pop3s)),
            ("imap.mail.me.com".into(), Protocol::Pop3s)
        );
    }
}
