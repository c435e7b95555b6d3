//! The job: one description of a migration, shared by the CLI's TOML file and
//! the app's form. Raw input ([`JobFile`]) is validated once into a [`Job`].

mod error;
pub mod folders;
pub mod oauth;
pub mod presets;
pub mod spreadsheet;
pub mod users;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use error::JobError;
pub use folders::Translation;
pub use oauth::{OAuth, OAuthFlow, Provider};
pub use presets::{Preset, Quirks};
pub use spreadsheet::users_from_spreadsheet;
pub use users::{
    list_field, preview_users, PreviewLine, SourcePasswords, UserEntry, UsersPreview, MAX_MAILBOXES,
};

use crate::net::CertPolicy;
use crate::secret::Secret;

/// How the old server is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Imap4,
    Imap4s,
    Pop3,
    Pop3s,
    Auto,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Imap4 => "IMAP4",
            Protocol::Imap4s => "IMAP4S",
            Protocol::Pop3 => "POP3",
            Protocol::Pop3s => "POP3S",
            Protocol::Auto => "Auto",
        }
    }
}

/// Ports tried in order for each protocol; 0 disables a protocol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    pub imap4: Vec<u16>,
    pub imap4s: Vec<u16>,
    pub pop3: Vec<u16>,
    pub pop3s: Vec<u16>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            imap4: vec![143],
            imap4s: vec![993],
            pop3: vec![110],
            pop3s: vec![995],
        }
    }
}

impl Ports {
    /// The usable ports of one protocol, in order; empty when disabled.
    pub fn usable(&self, protocol: Protocol) -> Vec<u16> {
        let list = match protocol {
            Protocol::Imap4 | Protocol::Auto => &self.imap4,
            Protocol::Imap4s => &self.imap4s,
            Protocol::Pop3 => &self.pop3,
            Protocol::Pop3s => &self.pop3s,
        };
        if list.contains(&0) {
            return Vec::new();
        }
        list.clone()
    }
}

/// Transport security towards the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Tls,
    Starttls,
    Plain,
}

/// How MailFerry logs in to a server (the source or the destination) for
/// each mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountAuth {
    /// Each user's own password (from the user list: the 2nd column on the
    /// source, the 4th on the destination).
    PerUser,
    /// An admin acting for every user.
    Master {
        user: String,
        password: Secret,
        method: MasterMethod,
    },
    /// OAuth 2.0 (SASL XOAUTH2 or OAUTHBEARER), with tokens from the
    /// sign-in service the settings name.
    OAuth(Box<OAuth>),
}

impl AccountAuth {
    /// Whether each user's line in the list must carry this side's
    /// password (or, for pasted OAuth tokens, the token).
    pub fn needs_user_secret(&self) -> bool {
        match self {
            AccountAuth::PerUser => true,
            AccountAuth::Master { .. } => false,
            AccountAuth::OAuth(o) => o.flow.token_in_user_list(),
        }
    }

    pub fn oauth(&self) -> Option<&OAuth> {
        match self {
            AccountAuth::OAuth(o) => Some(o),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterMethod {
    /// SASL PLAIN with the user as authorization identity (RFC 4616).
    SaslPlain,
    /// `LOGIN user<sep>admin password`, Dovecot's master-user login form.
    LoginSeparator(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub host: String,
    pub protocol: Protocol,
    pub ports: Ports,
    pub certs: CertPolicy,
    /// Send passwords over an unencrypted connection when the server offers
    /// no STARTTLS. Off unless chosen.
    pub allow_plaintext: bool,
    /// Each user's own password, the old host's admin acting for each
    /// user (then the user list needs no source passwords), or OAuth.
    pub auth: AccountAuth,
    /// The big host this is, when the job names one.
    pub preset: Option<Preset>,
    /// That host's limits and habits (none without a preset).
    pub quirks: Quirks,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub certs: CertPolicy,
    pub auth: AccountAuth,
    pub preset: Option<Preset>,
    pub quirks: Quirks,
}

/// A validated job, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `None` when left blank: a numeric name is generated when it runs.
    pub name: Option<String>,
    pub source: Source,
    pub destination: Destination,
    /// Folders left out: exact names, or patterns where `*` matches
    /// anything and `%` anything but the hierarchy delimiter.
    pub skip: Vec<String>,
    pub translations: Vec<Translation>,
    /// Whether Sent, Drafts, Trash, Junk, Archive… are mapped onto the
    /// destination's own such folders, whatever their names.
    pub special_use: SpecialUse,
    /// Whether Gmail's views (All Mail, Starred, Important) of a source
    /// that keeps labels as folders are copied.
    pub gmail_views: GmailViews,
    /// Which messages are copied at all.
    pub filters: Filters,
    pub users: Vec<UserEntry>,
    /// Time limits and retries; unset ones take the engine's defaults.
    pub options: JobOptions,
    /// What validation noticed and did about the input (a header row
    /// skipped): said with the warnings.
    pub notes: Vec<String>,
}

/// The `[options]` of a job: each unset one keeps the engine's default
/// (`copy::Options::default()`), and the command line may override them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// How long a read or write may wait for the server (and logging in
    /// may take).
    pub timeout_seconds: Option<u64>,
    /// How long connecting (TCP, then TLS) may take.
    pub connect_timeout_seconds: Option<u64>,
    /// Reconnects after a transient fault before a folder (or mailbox)
    /// gives up; the count starts again whenever messages get through.
    pub retries: Option<u32>,
    /// NOOP on a connection idle this long while the other side works.
    pub keepalive_seconds: Option<u64>,
    /// Mailboxes copied at the same time.
    pub parallel_mailboxes: Option<usize>,
    /// Folders of one mailbox copied at the same time, each over its own
    /// pair of connections.
    pub connections_per_mailbox: Option<usize>,
    /// COMPRESS=DEFLATE: `auto` (servers beyond the local network),
    /// `always` or `never`.
    pub compress: Option<crate::compress::CompressMode>,
    /// The most the whole job reads from the source per second, in MB
    /// (1,000,000 bytes); unset is no limit.
    pub max_mb_per_second: Option<Rate>,
}

/// Bytes per second, written in a job as MB per second (a decimal number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rate(pub u64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let mb = f64::deserialize(d)?;
        if !(0.01..=10_000.0).contains(&mb) {
            return Err(serde::de::Error::custom(format!(
                "max_mb_per_second: {mb} is not between 0.01 and 10000"
            )));
        }
        Ok(Rate((mb * 1_000_000.0).round() as u64))
    }
}

/// Special-use folder mapping (RFC 6154 attributes, else well-known names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SpecialUse {
    /// The source's Sent goes to the destination's Sent whatever either is
    /// called; an explicit translation still wins.
    #[default]
    Auto,
    /// Folders are mapped by name only.
    Off,
}

/// What a job does with the views of a source that keeps labels as
/// folders (Gmail: All Mail, Starred, Important), which show mail kept in
/// its other folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GmailViews {
    /// Left out (and said in the log): their messages arrive through
    /// their labels, once each.
    #[default]
    Skip,
    /// Copied by their names like any other folder: a message with a
    /// label then arrives twice (or more).
    Copy,
}

/// A message size in MB (1,000,000 bytes) as a job writes it, e.g. the
/// largest message a destination takes; kept in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MessageMb(pub u64);

impl<'de> Deserialize<'de> for MessageMb {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MessageMb, D::Error> {
        let mb = f64::deserialize(d)?;
        if !(1.0..=10_000.0).contains(&mb) {
            return Err(serde::de::Error::custom(format!(
                "max_message_mb: {mb} is not between 1 and 10000"
            )));
        }
        Ok(MessageMb((mb * 1_000_000.0).round() as u64))
    }
}

/// Which messages a job copies. A message left out by a filter is
/// reported as skipped by a rule, never as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filters {
    /// Only messages dated on or after this day (inclusive).
    pub since: Option<chrono::NaiveDate>,
    /// Only messages dated before this day (exclusive).
    pub before: Option<chrono::NaiveDate>,
    /// Messages larger than this many bytes are left out.
    pub max_message_bytes: Option<u64>,
}

impl Filters {
    /// Whether a message of this date (its calendar day as the message
    /// states it, in its own time zone: IMAP INTERNALDATE, or the header
    /// date for POP3) and size is copied. A message whose date is unknown
    /// passes the date filters.
    pub fn admits(&self, day: Option<chrono::NaiveDate>, size: u64) -> bool {
        if self.too_large(size) {
            return false;
        }
        match day {
            None => true,
            Some(day) => {
                self.since.is_none_or(|since| day >= since)
                    && self.before.is_none_or(|before| day < before)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Whether a message of this size is left out for it.
    pub fn too_large(&self, size: u64) -> bool {
        self.max_message_bytes.is_some_and(|max| size > max)
    }

    /// Whether messages are chosen by their date at all.
    pub fn by_date(&self) -> bool {
        self.since.is_some() || self.before.is_some()
    }

    /// The filters in words, for the log's header; empty when there are
    /// none.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.since, self.before) {
            (Some(s), Some(b)) => parts.push(format!("messages dated {s} up to (not on) {b}")),
            (Some(s), None) => parts.push(format!("messages dated {s} or later")),
            (None, Some(b)) => parts.push(format!("messages dated before {b}")),
            (None, None) => {}
        }
        if let Some(max) = self.max_message_bytes {
            parts.push(format!(
                "no message larger than {}",
                crate::human::human_bytes(max)
            ));
        }
        parts.join("; ")
    }
}

impl JobOptions {
    fn validate(self) -> Result<JobOptions, JobError> {
        let range = |key: &'static str, v: Option<u64>, lo: u64, hi: u64| match v {
            Some(v) if v < lo || v > hi => Err(JobError::BadOption {
                key,
                reason: format!("{v} is not between {lo} and {hi}"),
            }),
            _ => Ok(()),
        };
        range("timeout_seconds", self.timeout_seconds, 1, 3600)?;
        range(
            "connect_timeout_seconds",
            self.connect_timeout_seconds,
            1,
            600,
        )?;
        range("retries", self.retries.map(u64::from), 0, 50)?;
        range("keepalive_seconds", self.keepalive_seconds, 5, 3600)?;
        range(
            "parallel_mailboxes",
            self.parallel_mailboxes.map(|n| n as u64),
            1,
            32,
        )?;
        range(
            "connections_per_mailbox",
            self.connections_per_mailbox.map(|n| n as u64),
            1,
            8,
        )?;
        Ok(self)
    }
}

// ---- the file as written ----

/// A job as written in a TOML file or sent by the app's form.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    #[serde(default)]
    pub name: String,
    pub source: SourceFile,
    pub destination: DestinationFile,
    #[serde(default)]
    pub folders: FoldersFile,
    pub users: UsersFile,
    #[serde(default)]
    pub filters: FiltersFile,
    #[serde(default)]
    pub options: JobOptions,
}

/// `[filters]` as written: dates as `"YYYY-MM-DD"`, the size in MB
/// (1,000,000 bytes).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FiltersFile {
    pub since: Option<String>,
    pub before: Option<String>,
    pub max_message_mb: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// A big host's settings and quirks; the host may then be left blank.
    pub preset: Option<Preset>,
    #[serde(default)]
    pub host: String,
    pub protocol: Option<Protocol>,
    #[serde(default)]
    pub ports: Ports,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub accept_invalid_certs: bool,
    #[serde(default)]
    pub allow_plaintext: bool,
    #[serde(default)]
    pub auth: AuthMode,
    pub master_user: Option<String>,
    pub master_password: Option<Secret>,
    #[serde(default)]
    pub master_method: MasterMethodFile,
    pub master_separator: Option<String>,
    /// With `auth = "oauth"`.
    pub oauth: Option<oauth::OAuthFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    #[default]
    User,
    Master,
    #[serde(rename = "oauth")]
    OAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MasterMethodFile {
    #[default]
    SaslPlain,
    Separator,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DestinationFile {
    pub preset: Option<Preset>,
    #[serde(default)]
    pub host: String,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub accept_invalid_certs: bool,
    #[serde(default)]
    pub auth: AuthMode,
    pub master_user: Option<String>,
    pub master_password: Option<Secret>,
    #[serde(default)]
    pub master_method: MasterMethodFile,
    pub master_separator: Option<String>,
    pub oauth: Option<oauth::OAuthFile>,
    /// The largest message the destination takes, in MB, where it does not
    /// say (no APPENDLIMIT); replaces its preset's figure (Microsoft 365's
    /// 35 MB, which an admin may raise to 150 MB).
    pub max_message_mb: Option<MessageMb>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FoldersFile {
    #[serde(default)]
    pub skip: String,
    #[serde(default)]
    pub translate: String,
    #[serde(default)]
    pub special_use: SpecialUse,
    /// `skip` or `copy` Gmail's views (All Mail, Starred, Important).
    #[serde(default)]
    pub gmail_views: GmailViews,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    pub delimiter: Option<String>,
    #[serde(default)]
    pub list: String,
    /// A file holding the list, relative to the job file.
    pub file: Option<PathBuf>,
}

impl Job {
    /// Things in the job that will not do what the user may expect, but are
    /// not errors: folder rules that POP3 cannot apply.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        if matches!(self.source.protocol, Protocol::Pop3 | Protocol::Pop3s) {
            if !self.skip.is_empty() {
                out.push(
                    "Folders to skip do not apply to POP3: POP3 only reads the Inbox.".to_string(),
                );
            }
            if self
                .translations
                .iter()
                .any(|t| !t.source.eq_ignore_ascii_case("INBOX"))
            {
                out.push(
                    "Folder translations other than INBOX do not apply to POP3: POP3 only reads the Inbox.".to_string(),
                );
            }
        }
        out
    }
}

impl JobFile {
    pub fn from_toml(text: &str) -> Result<JobFile, JobError> {
        toml::from_str(text).map_err(|e| JobError::Syntax(e.message().to_string()))
    }

    /// Validates everything, reading the user-list file relative to `base`.
    pub fn validate(&self, base: &Path) -> Result<Job, JobError> {
        let name = validate_name(&self.name)?;
        let source = self.source.validate(base)?;
        let destination = self.destination.validate(base)?;

        let delimiter = parse_delimiter(self.users.delimiter.as_deref())?;
        let mut list = self.users.list.clone();
        if let Some(file) = &self.users.file {
            let path = base.join(file);
            let text = std::fs::read(&path).map_err(|e| JobError::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if !list.trim().is_empty() {
                list.push('\n');
            }
            list.push_str(&String::from_utf8_lossy(&text));
        }
        let needs = if source.auth.needs_user_secret() {
            SourcePasswords::Required
        } else {
            SourcePasswords::NotNeeded
        };
        let users = users::parse_users(&list, delimiter, needs)?;
        let mut notes = Vec::new();
        if let Some(line) = users::header_row(&list, delimiter) {
            notes.push(format!(
                "Line {line} of the user list names its columns (a header row): it was skipped."
            ));
        }
        if destination.auth.needs_user_secret() {
            if let Some(u) = users.iter().find(|u| u.local_password.is_none()) {
                return Err(JobError::MissingLocalPassword { line: u.line });
            }
        }
        Ok(Job {
            name,
            source,
            destination,
            skip: folders::parse_skip_list(&self.folders.skip),
            translations: folders::parse_translations(&self.folders.translate)?,
            special_use: self.folders.special_use,
            gmail_views: self.folders.gmail_views,
            filters: self.filters.validate()?,
            users,
            options: self.options.validate()?,
            notes,
        })
    }
}

/// Reads and validates a job file.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let text = std::fs::read_to_string(path).map_err(|e| JobError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    JobFile::from_toml(&text)?.validate(base)
}

fn validate_name(name: &str) -> Result<Option<String>, JobError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(JobError::BadName(name.to_string()));
    }
    Ok(Some(name.to_string()))
}

/// The user list as the form shows it before a job starts, with the
/// delimiter as typed there; `source` says whether the source logs in as
/// each user (who then needs a password) or as the old host's admin.
pub fn preview_user_list(list: &str, delimiter: &str, source: SourcePasswords) -> UsersPreview {
    match parse_delimiter(Some(delimiter)) {
        Ok(d) => preview_users(list, d, source),
        Err(e) => UsersPreview::refused(&e),
    }
}

fn parse_delimiter(text: Option<&str>) -> Result<char, JobError> {
    let Some(text) = text else { return Ok(',') };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some('\t'), None) => Ok('\t'),
        (Some(c), None) if !c.is_whitespace() && c != '"' && !c.is_control() => Ok(c),
        _ => Err(JobError::BadDelimiter(text.to_string())),
    }
}

fn validate_host(host: &str, missing: JobError) -> Result<String, JobError> {
    let host = host.trim();
    if host.is_empty() {
        return Err(missing);
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(JobError::BadHost(host.to_string()));
    }
    Ok(host.to_string())
}

fn cert_policy(
    ca_file: &Option<PathBuf>,
    accept_invalid: bool,
    base: &Path,
) -> Result<CertPolicy, JobError> {
    if accept_invalid {
        return Ok(CertPolicy::AcceptInvalid);
    }
    match ca_file {
        None => Ok(CertPolicy::System),
        Some(p) => {
            let path = base.join(p);
            std::fs::metadata(&path).map_err(|e| JobError::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            Ok(CertPolicy::CaFile(path))
        }
    }
}

/// OAuth for one side: its `[side.oauth]` table, the preset's provider by
/// default.
fn oauth_login(
    side: &'static str,
    file: &Option<oauth::OAuthFile>,
    preset: Option<Preset>,
    base: &Path,
) -> Result<AccountAuth, JobError> {
    let file = file.clone().unwrap_or_default();
    let provider = preset.and_then(|p| p.info().provider);
    Ok(AccountAuth::OAuth(Box::new(
        file.validate(side, provider, base)?,
    )))
}

/// Each user's own password, or an admin acting for every user; `Err`
/// names the missing setting.
fn admin_login(
    mode: AuthMode,
    user: &Option<String>,
    password: &Option<Secret>,
    method: MasterMethodFile,
    separator: &Option<String>,
) -> Result<AccountAuth, &'static str> {
    if mode != AuthMode::Master {
        return Ok(AccountAuth::PerUser);
    }
    let user = user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or("the admin user name (master_user)")?;
    let password = password
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or("the admin password (master_password)")?;
    let method = match method {
        MasterMethodFile::SaslPlain => MasterMethod::SaslPlain,
        MasterMethodFile::Separator => {
            MasterMethod::LoginSeparator(separator.clone().unwrap_or_else(|| "*".into()))
        }
    };
    Ok(AccountAuth::Master {
        user: user.to_string(),
        password,
        method,
    })
}

impl FiltersFile {
    fn validate(&self) -> Result<Filters, JobError> {
        let day = |key: &'static str, text: &Option<String>| -> Result<_, JobError> {
            let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
                return Ok(None);
            };
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| JobError::BadFilter {
                    key,
                    reason: format!(
                        "{text:?} is not a date. Write it as year-month-day, for example \"2024-01-31\"."
                    ),
                })
        };
        let since = day("since", &self.since)?;
        let before = day("before", &self.before)?;
        if let (Some(s), Some(b)) = (since, before) {
            if s >= b {
                return Err(JobError::BadFilter {
                    key: "before",
                    reason: format!(
                        "({b}) is not after since ({s}), so no message could be copied. \
                         Copy messages from since up to the day before \"before\"."
                    ),
                });
            }
        }
        let max_message_bytes = match self.max_message_mb {
            None => None,
            Some(mb) if mb.is_finite() && mb > 0.0 && mb <= 1_000_000.0 => {
                Some((mb * 1_000_000.0).round() as u64)
            }
            Some(mb) => {
                return Err(JobError::BadFilter {
                    key: "max_message_mb",
                    reason: format!(
                    "{mb} is not a size in MB above 0. Leave it out to copy messages of any size."
                ),
                })
            }
        };
        Ok(Filters {
            since,
            before,
            max_message_bytes,
        })
    }
}

impl SourceFile {
    fn validate(&self, base: &Path) -> Result<Source, JobError> {
        let (preset_host, preset_protocol) = match self.preset {
            Some(p) => {
                let (h, pr) = presets::source_defaults(p, self.protocol);
                (h, Some(pr))
            }
            None => (String::new(), None),
        };
        let host = if self.host.trim().is_empty() {
            &preset_host
        } else {
            &self.host
        };
        let host = validate_host(host, JobError::MissingSourceHost)?;
        let protocol = self
            .protocol
            .or(preset_protocol)
            .unwrap_or(Protocol::Imap4s);
        // Auto reads every folder but the Inbox over IMAP4, so it needs an
        // IMAP4 port; its POP3 ports may all be 0 (the Inbox then comes over
        // IMAP4 too).
        if self.ports.usable(protocol).is_empty() {
            return Err(JobError::NoPorts {
                protocol: match protocol {
                    Protocol::Auto => {
                        "IMAP4 (Auto reads every folder but the Inbox over IMAP4)".to_string()
                    }
                    p => p.label().to_string(),
                },
            });
        }
        Ok(Source {
            host,
            protocol,
            ports: self.ports.clone(),
            certs: cert_policy(&self.ca_file, self.accept_invalid_certs, base)?,
            allow_plaintext: self.allow_plaintext,
            auth: match self.auth {
                AuthMode::OAuth => oauth_login("source", &self.oauth, self.preset, base)?,
                mode => admin_login(
                    mode,
                    &self.master_user,
                    &self.master_password,
                    self.master_method,
                    &self.master_separator,
                )
                .map_err(JobError::MissingSourceMaster)?,
            },
            preset: self.preset,
            quirks: self.preset.map(|p| p.info().quirks).unwrap_or_default(),
        })
    }
}

impl DestinationFile {
    fn validate(&self, base: &Path) -> Result<Destination, JobError> {
        let preset = self.preset.map(presets::destination_defaults);
        let host = match &preset {
            Some((h, ..)) if self.host.trim().is_empty() => h,
            _ => &self.host,
        };
        let host = validate_host(host, JobError::MissingDestinationHost)?;
        let security = self
            .security
            .or(preset.as_ref().map(|p| p.2))
            .unwrap_or(Security::Tls);
        let port = self.port.unwrap_or(match security {
            Security::Tls => 993,
            _ => 143,
        });
        if port == 0 {
            return Err(JobError::NoPorts {
                protocol: "destination IMAP".into(),
            });
        }
        let auth = match self.auth {
            AuthMode::OAuth => oauth_login("destination", &self.oauth, self.preset, base)?,
            mode => admin_login(
                mode,
                &self.master_user,
                &self.master_password,
                self.master_method,
                &self.master_separator,
            )
            .map_err(JobError::MissingMaster)?,
        };
        Ok(Destination {
            host,
            port,
            security,
            certs: cert_policy(&self.ca_file, self.accept_invalid_certs, base)?,
            auth,
            preset: self.preset,
            quirks: self.quirks(),
        })
    }

    /// The preset's quirks, with the job's own message size limit.
    fn quirks(&self) -> Quirks {
        let mut q = self.preset.map(|p| p.info().quirks).unwrap_or_default();
        if let Some(mb) = self.max_message_mb {
            q.max_message_bytes = Some(mb.0);
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[source]
host = "old.example"
[destination]
host = "new.example"
auth = "master"
master_user = "admin"
master_password = "pw"
[users]
list = "jane,pw1"
"#;

    fn parse(text: &str) -> Result<Job, JobError> {
        JobFile::from_toml(text)?.validate(Path::new("."))
    }

    fn with(extra_source: &str, rest: &str) -> String {
        BASE.replace(
            "host = \"old.example\"",
            &format!("host = \"old.example\"\n{extra_source}"),
        ) + rest
    }

    #[test]
    fn defaults_are_imap4s_on_993_to_tls_993() {
        let job = parse(BASE).unwrap();
        assert_eq!(job.name, None);
        assert_eq!(job.source.protocol, Protocol::Imap4s);
        assert_eq!(job.source.ports.usable(Protocol::Imap4s), vec![993]);
        assert_eq!(job.destination.port, 993);
        assert_eq!(job.destination.security, Security::Tls);
        assert_eq!(job.source.certs, CertPolicy::System);
        assert_eq!(job.users[0].local_user, "jane");
    }

    #[test]
    fn a_protocol_with_every_port_disabled_is_refused() {
        let err = parse(&with("protocol = \"pop3\"\nports = { pop3 = [0] }", "")).unwrap_err();
        assert!(
            err.to_string().contains("Every POP3 port is disabled"),
            "{err}"
        );
        let err = parse(&with("protocol = \"auto\"\nports = { imap4 = [0] }", "")).unwrap_err();
        assert!(
            err.to_string()
                .contains("Auto reads every folder but the Inbox over IMAP4"),
            "{err}"
        );
        // Auto without POP3 is fine: the Inbox comes over IMAP4.
        assert!(parse(&with("protocol = \"auto\"\nports = { pop3 = [0] }", "")).is_ok());
    }

    #[test]
    fn pop3_folder_rules_are_warnings_not_errors() {
        let text = with(
            "protocol = \"pop3s\"",
            "[folders]\nskip = \"Trash\"\ntranslate = \"INBOX,Old\\nSent,Sent Items\"\n",
        );
        let job = parse(&text).unwrap();
        let w = job.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("Folders to skip do not apply to POP3"));
        assert!(w[1].contains("translations other than INBOX"));
    }

    #[test]
    fn a_header_row_is_said_among_the_warnings() {
        let job = parse(&BASE.replace(
            "list = \"jane,pw1\"",
            "list = \"Email,Password\\njane,pw1\"",
        ))
        .unwrap();
        assert_eq!(job.users.len(), 1);
        assert_eq!(
            job.warnings(),
            ["Line 1 of the user list names its columns (a header row): it was skipped."]
        );
        assert!(parse(BASE).unwrap().warnings().is_empty());
    }

    #[test]
    fn per_user_logins_need_the_fourth_column() {
        let text = BASE.replace("auth = \"master\"", "auth = \"user\"");
        assert_eq!(
            parse(&text).unwrap_err(),
            JobError::MissingLocalPassword { line: 1 }
        );
        let text = text.replace("jane,pw1", "jane,pw1,jane@new,pw2");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_source_admin_login_needs_no_source_passwords_in_the_user_list() {
        let list = "list = \"jane@x\\nbob@x,\\ncarol@x,,carol@new,pw\"";
        let admin = with(
            "auth = \"master\"\nmaster_user = \"root\"\nmaster_password = \"rootpw\"",
            "",
        )
        .replace("list = \"jane,pw1\"", list);
        let job = parse(&admin).unwrap();
        assert_eq!(job.users.len(), 3);
        assert!(job.users.iter().all(|u| u.source_password.is_none()));
        assert_eq!(
            job.source.auth,
            AccountAuth::Master {
                user: "root".into(),
                password: Secret::new("rootpw"),
                method: MasterMethod::SaslPlain,
            }
        );
        // Each user's own login still needs every source password.
        let own = BASE.replace("list = \"jane,pw1\"", list);
        assert!(matches!(
            parse(&own),
            Err(JobError::UserLine { line: 1, .. })
        ));
        let err = parse(&with("auth = \"master\"\nmaster_user = \"root\"", "")).unwrap_err();
        assert_eq!(
            err,
            JobError::MissingSourceMaster("the admin password (master_password)")
        );
    }

    #[test]
    fn master_logins_need_user_and_password() {
        let text = BASE.replace("master_password = \"pw\"\n", "");
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("master_password"));
        let sep = BASE.replace(
            "master_password = \"pw\"",
            "master_password = \"pw\"\nmaster_method = \"separator\"",
        );
        match parse(&sep).unwrap().destination.auth {
            AccountAuth::Master { method, .. } => {
                assert_eq!(method, MasterMethod::LoginSeparator("*".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input_gets_clear_errors() {
        assert_eq!(
            parse(&BASE.replace("old.example", "")).unwrap_err(),
            JobError::MissingSourceHost
        );
        assert!(matches!(
            parse(&BASE.replace("old.example", "old host")),
            Err(JobError::BadHost(_))
        ));
        let err = parse(&BASE.replace("[users]", "colour = \"blue\"\n[users]")).unwrap_err();
        assert!(matches!(err, JobError::Syntax(_)), "{err}");
        assert!(err.to_string().contains("docs/job-file.md"));
        let err = parse(&BASE.replace("list =", "delimiter = \";;\"\nlist =")).unwrap_err();
        assert_eq!(err, JobError::BadDelimiter(";;".into()));
        let err = parse(&format!("name = \"{}\"\n{BASE}", "x".repeat(101))).unwrap_err();
        assert!(matches!(err, JobError::BadName(_)));
        let err = parse(&BASE.replace(
            "[destination]",
            "ca_file = \"/nonexistent/ca.pem\"\n[destination]",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/ca.pem could not be read"),
            "{err}"
        );
    }

    #[test]
    fn options_are_optional_checked_and_named_in_errors() {
        assert_eq!(parse(BASE).unwrap().options, JobOptions::default());
        let text = format!("{BASE}\n[options]\ntimeout_seconds = 30\nretries = 2\n");
        let o = parse(&text).unwrap().options;
        assert_eq!((o.timeout_seconds, o.retries), (Some(30), Some(2)));
        let err = parse(&format!("{BASE}\n[options]\ntimeout_seconds = 0\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The option timeout_seconds is out of range: 0 is not between 1 and 3600. Change it in the job's [options], or remove it to use the default."
        );
        assert_eq!(err.field(), "options");
        let err = parse(&format!("{BASE}\n[options]\ntimeout = 5\n")).unwrap_err();
        assert!(matches!(err, JobError::Syntax(_)), "{err}");
        let err = parse(&format!("{BASE}\n[options]\nretries = -1\n")).unwrap_err();
        assert!(matches!(err, JobError::Syntax(_)), "{err}");
        let o = parse(&format!("{BASE}\n[options]\ncompress = \"never\"\n"))
            .unwrap()
            .options;
        assert_eq!(o.compress, Some(crate::compress::CompressMode::Never));
        let err = parse(&format!("{BASE}\n[options]\ncompress = \"sometimes\"\n")).unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
    }

    #[test]
    fn filters_admit_since_itself_and_leave_out_before_itself_and_one_byte_too_many() {
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let f = Filters {
            since: day("2024-01-10"),
            before: day("2024-02-01"),
            max_message_bytes: Some(1000),
        };
        assert!(!f.admits(day("2024-01-09"), 10));
        assert!(f.admits(day("2024-01-10"), 10));
        assert!(f.admits(day("2024-01-31"), 10));
        assert!(!f.admits(day("2024-02-01"), 10));
        assert!(f.admits(day("2024-01-20"), 1000));
        assert!(!f.admits(day("2024-01-20"), 1001));
        // No usable date passes the date filters, never the size filter.
        assert!(f.admits(None, 1000));
        assert!(!f.admits(None, 1001));
        assert!(Filters::default().admits(day("1970-01-01"), u64::MAX));
        assert_eq!(
            f.describe(),
            "messages dated 2024-01-10 up to (not on) 2024-02-01; no message larger than 1.0 KB"
        );
        assert_eq!(Filters::default().describe(), "");
    }

    #[test]
    fn filters_are_read_in_days_and_decimal_megabytes() {
        let text = format!(
            "{BASE}\n[filters]\nsince = \"2024-01-10\"\nbefore = \"2024-02-01\"\nmax_message_mb = 25\n"
        );
        let f = parse(&text).unwrap().filters;
        assert_eq!(f.since, chrono::NaiveDate::from_ymd_opt(2024, 1, 10));
        assert_eq!(f.before, chrono::NaiveDate::from_ymd_opt(2024, 2, 1));
        assert_eq!(f.max_message_bytes, Some(25_000_000));
        assert!(parse(BASE).unwrap().filters.is_empty());
    }

    #[test]
    fn gmail_views_are_skipped_unless_the_job_copies_them() {
        assert_eq!(parse(BASE).unwrap().gmail_views, GmailViews::Skip);
        let copy = format!("{BASE}\n[folders]\ngmail_views = \"copy\"\n");
        assert_eq!(parse(&copy).unwrap().gmail_views, GmailViews::Copy);
        let err = parse(&format!("{BASE}\n[folders]\ngmail_views = \"some\"\n")).unwrap_err();
        assert!(matches!(err, JobError::Syntax(_)), "{err}");
    }

    #[test]
    fn a_preset_fills_the_blanks_and_never_overrides_what_the_job_says() {
        let gmail = BASE.replace("host = \"old.example\"", "preset = \"gmail\"");
        let job = parse(&gmail).unwrap();
        assert_eq!(job.source.host, "imap.gmail.com");
        assert_eq!(job.source.protocol, Protocol::Imap4s);
        assert!(job.source.quirks.labels_as_folders);
        let own = BASE.replace(
            "host = \"old.example\"",
            "preset = \"gmail\"\nhost = \"127.0.0.1\"\nprotocol = \"imap4\"\nports = { imap4 = [10143] }",
        );
        let job = parse(&own).unwrap();
        assert_eq!(
            (job.source.host.as_str(), job.source.protocol),
            ("127.0.0.1", Protocol::Imap4)
        );
        assert_eq!(job.source.ports.usable(Protocol::Imap4), vec![10143]);
        assert_eq!(job.source.quirks.daily_download_bytes, Some(2_500_000_000));
        assert_eq!(job.destination.quirks, Quirks::default());
    }

    #[test]
    fn a_destinations_message_size_limit_replaces_its_presets() {
        let m365 = BASE.replace(
            "host = \"new.example\"",
            "preset = \"microsoft-365\"\nhost = \"127.0.0.1\"\nport = 10993",
        );
        let job = parse(&m365).unwrap();
        assert_eq!(
            (job.destination.host.as_str(), job.destination.port),
            ("127.0.0.1", 10993)
        );
        assert_eq!(job.destination.quirks.max_message_bytes, Some(35_000_000));
        assert_eq!(job.destination.quirks.max_connections_per_mailbox, Some(4));
        let raised = m365.replace("port = 10993", "port = 10993\nmax_message_mb = 150");
        let job = parse(&raised).unwrap();
        assert_eq!(job.destination.quirks.max_message_bytes, Some(150_000_000));
        let err =
            parse(&m365.replace("port = 10993", "port = 10993\nmax_message_mb = 0")).unwrap_err();
        assert!(err.to_string().contains("not between 1 and 10000"), "{err}");
    }

    #[test]
    fn the_example_job_file_is_valid_and_skips_gmails_views() {
        let text = include_str!("../../examples/job.toml");
        let job = parse(text).unwrap();
        assert_eq!(job.gmail_views, GmailViews::Skip);
        // Its commented-out preset and size lines work as written.
        let on = text
            .replace("# preset = \"gmail\"", "preset = \"gmail\"")
            .replace("# max_message_mb = 150", "max_message_mb = 150");
        let job = parse(&on).unwrap();
        assert!(job.source.quirks.labels_as_folders);
        assert_eq!(job.source.host, "mail.old-host.example");
        assert_eq!(job.destination.quirks.max_message_bytes, Some(150_000_000));
    }

    #[test]
    fn users_file_is_read_relative_to_the_job_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.csv"), "\u{feff}bob;pw;robert\r\n").unwrap();
        let text = BASE.replace("list = \"jane,pw1\"", "delimiter = \";\"\nfile = \"u.csv\"");
        std::fs::write(dir.path().join("job.toml"), text).unwrap();
        let job = load(&dir.path().join("job.toml")).unwrap();
        assert_eq!(job.users.len(), 1);
        assert_eq!(job.users[0].local_user, "robert");
        let missing = load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(missing, JobError::Unreadable { .. }));
    }
}
