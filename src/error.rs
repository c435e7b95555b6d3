//! Errors met while migrating, each with its class and its words for a user.
//!
//! Every message follows one order: what happened, the likely cause, what to
//! do, then the server's own words in brackets (for support tickets). The
//! catalogue of them, as users read it, is `docs/errors.md`; [`catalogue`]
//! gives the same list to the app.

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::net::NetError;

/// Which server an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    pub fn word(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// What the engine does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Worth reconnecting and trying again (with backoff, a bounded number
    /// of times), resuming where the run stopped.
    Transient,
    /// Only this message failed; the folder goes on.
    PerMessage,
    /// This folder cannot be copied; the mailbox's other folders go on.
    FatalForFolder,
    /// This mailbox cannot go on; the other mailboxes do.
    FatalForMailbox,
}

/// Where a server was reached: for messages only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub side: Side,
    pub host: String,
    pub port: u16,
    pub protocol: &'static str,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} server {} ({}, port {})",
            self.side.word(),
            self.host,
            self.protocol,
            self.port
        )
    }
}

impl Place {
    /// "IMAP" or "POP3", for advice about ports.
    fn family(&self) -> &'static str {
        if self.protocol.starts_with("POP3") {
            "POP3"
        } else {
            "IMAP"
        }
    }
}

/// Which way data was going when a connection timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

/// What a server's refusal of an OAuth access token says about it (from
/// the JSON of its SASL error challenge, RFC 7628 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// `invalid_token` (XOAUTH2: `401`): expired, revoked, or not for this
    /// server. Google says so, with its `scope`, for a token that lacks
    /// the scope too; Dovecot for every refusal (its `scope` is always
    /// `mail`).
    Invalid { scope: Option<String> },
    /// `insufficient_scope` (`403`): the token lacks the scope the server
    /// wants; `wanted` when it says which.
    Scope { wanted: Option<String> },
    /// No reason given: no challenge (Microsoft 365 says only
    /// `AUTHENTICATE failed.`), or one not understood.
    Unexplained,
}

/// An error met while migrating. Display is the sentence a user reads: what
/// happened, the likely cause, what to do, then the server's own words in
/// brackets. No variant ever holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// No port of the list accepted a connection.
    Connect {
        side: Side,
        host: String,
        ports: String,
        protocol: &'static str,
        reason: NetError,
    },
    /// The TLS handshake refused the server's certificate. `reason` says why
    /// and what to do.
    Certificate {
        place: Place,
        reason: String,
    },
    /// TLS spoken to a plain port (`server_uses_tls == false`), or plain
    /// text to a TLS port (`true`).
    WrongSecurity {
        place: Place,
        server_uses_tls: bool,
    },
    /// The greeting was not that of an IMAP (or POP3) server.
    NotMailServer {
        place: Place,
        server_text: String,
    },
    /// The server refused the user name or password.
    Login {
        place: Place,
        user: String,
        server_text: String,
    },
    /// An admin (master) login for one user was refused. On the
    /// destination the mailbox may be missing there, or the admin login is
    /// wrong; on the source (its own code and words) the admin's name or
    /// password, or its right to act for that user: never the user's own
    /// password, which was not sent. One variant for both sides, as a second
    /// one as large would make every `MailError` larger.
    AdminLogin {
        place: Place,
        user: String,
        admin: String,
        server_text: String,
    },
    PlaintextRefused {
        place: Place,
    },
    /// The server refused the OAuth access token (SASL OAUTHBEARER or
    /// XOAUTH2). The connection layer fetches a fresh token and tries once
    /// more when it sees this ([`MailError::is_token_refused`]).
    TokenRefused {
        place: Place,
        user: String,
        /// Boxed: inline it would make every `MailError` larger.
        problem: Box<TokenProblem>,
        /// The error challenge's JSON, then the NO / -ERR line.
        server_text: String,
    },
    /// The login is OAuth, and the server offers neither OAUTHBEARER nor
    /// XOAUTH2.
    OAuthNotOffered {
        place: Place,
        user: String,
    },
    // ---- crate::oauth (token broker) ----
    /// No OAuth access token could be had for `user` from the sign-in
    /// service (nothing was sent to the mail server). Boxed: an OAuthError
    /// inline would make every `MailError` larger.
    NoToken {
        side: Side,
        user: String,
        error: Box<crate::oauth::OAuthError>,
    },
    // ---- end crate::oauth ----
    /// Message bodies did not come within the time limit.
    FetchTimeout {
        place: Place,
        /// The UIDs (or POP3 message numbers) asked for.
        what: String,
        after: Duration,
    },
    /// Any other read (or write) that did not finish within the time limit.
    Timeout {
        place: Place,
        doing: String,
        after: Duration,
        direction: Direction,
    },
    /// The connection closed or was reset.
    Disconnected {
        place: Place,
        doing: String,
    },
    /// The server said BYE and closed the connection.
    Bye {
        place: Place,
        doing: String,
        server_text: String,
    },
    /// The server limits this account: too many connections, commands or
    /// bytes ("Request is throttled", "Too many connections").
    Throttled {
        place: Place,
        doing: String,
        server_text: String,
    },
    /// The server is temporarily unable to serve (`[UNAVAILABLE]`,
    /// `[SYS/TEMP]`, `[IN-USE]`).
    Unavailable {
        place: Place,
        doing: String,
        server_text: String,
    },
    /// The host's daily limit on what one mailbox may move over IMAP was
    /// reached (Gmail's bandwidth limits), or the next messages would go
    /// past it: the mailbox pauses, the rest left for the next day.
    DailyLimit(Box<DayLimit>),
    Refused {
        place: Place,
        command: String,
        server_text: String,
    },
    /// A reply that could not be parsed, or was cut short.
    Protocol {
        place: Place,
        doing: String,
        detail: String,
    },
    OverQuota {
        user: String,
        server_text: String,
    },
    TooBig {
        folder: String,
        size: u64,
        server_text: String,
    },
    AppendRejected {
        folder: String,
        server_text: String,
    },
    CreateFolder {
        folder: String,
        server_text: String,
    },
    Store(String),
    /// The database was made by a newer MailFerry: it is left untouched.
    NewerDatabase {
        path: String,
        found: usize,
        known: usize,
    },
    /// A fault in MailFerry itself (a task that panicked): the words of it.
    Internal(String),
    Cancelled,
}

/// "60 seconds", "1 second", "0.3 seconds".
fn span(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        let s = ms / 1000;
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        format!("{:.1} seconds", d.as_secs_f64())
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use MailError::*;
        match self {
            Connect {
                side,
                host,
                ports,
                protocol,
                reason,
            } => write!(
                f,
                "Could not connect to the {} server {host} on any of the ports tried ({ports}) with {protocol}: {reason}. {}",
                side.word(),
                match reason {
                    NetError::Resolve => "Check the server name: it may be misspelt, or the domain may no longer point to a mail server.",
                    NetError::Refused => "Check the ports and the protocol (IMAP4 is usually 143, IMAP4S 993, POP3 110, POP3S 995), and that the server is running.",
                    _ => "Check the server name, the ports and the protocol, and that no firewall blocks the connection. If they are right, the server may be down: try again later.",
                }
            ),
            Certificate { place, reason } => {
                write!(f, "Could not make a secure connection to {place}: {reason}")
            }
            WrongSecurity {
                place,
                server_uses_tls: false,
            } => write!(
                f,
                "Could not make a secure connection to {place}: the server answered in plain text, so this port does not speak TLS from the first byte. Choose {} for this port (MailFerry then switches to TLS with STARTTLS), or enter the server's TLS port (usually {}).",
                if place.family() == "POP3" { "POP3" } else { "IMAP4" },
                if place.family() == "POP3" { 995 } else { 993 },
            ),
            WrongSecurity {
                place,
                server_uses_tls: true,
            } => write!(
                f,
                "{} expects TLS from the first byte, but the job speaks plain {} to it, so it never answered. Choose {} for this port, or enter the server's plain port (usually {}).",
                capitalized(&place.to_string()),
                place.family(),
                if place.family() == "POP3" { "POP3S" } else { "IMAP4S" },
                if place.family() == "POP3" { 110 } else { 143 },
            ),
            NotMailServer { place, server_text } => write!(
                f,
                "{} is not a{} {} server: it greeted with something else. Check the port and the protocol (IMAP4 is usually 143, IMAP4S 993, POP3 110, POP3S 995). [{server_text}]",
                capitalized(&place.to_string()),
                if place.family() == "IMAP" { "n" } else { "" },
                place.family()
            ),
            Login {
                place,
                user,
                server_text,
            } => write!(
                f,
                "Could not log in to {place} as {user}: the server refused the user name or password. Check both in the user list (some hosts want the whole email address as the user name). The server said: {server_text}"
            ),
            AdminLogin {
                place,
                user,
                admin,
                server_text,
            } if place.side == Side::Source => write!(
                f,
                "Could not log in to {place} for {user} as the admin {admin}: the old host refused its admin login (the user's own password was not used). The admin user name or password is wrong, or this admin may not act for {user} (or {user} does not exist there). Check the admin login in the job's source settings and the user name in the user list. [{server_text}]"
            ),
            AdminLogin {
                place,
                user,
                admin,
                server_text,
            } => write!(
                f,
                "Could not log in to {place} for {user} as the admin {admin}: login failed. The mailbox {user} may not exist on the new server (MailFerry never creates accounts), or the admin user name or password is wrong. Create the mailbox on the new server, or check the admin login. [{server_text}]"
            ),
            PlaintextRefused { place } => write!(
                f,
                "{} offers no STARTTLS, so the password would travel unencrypted. Use the TLS protocol and port if the server has one, or allow plaintext logins for this job if you accept the risk.",
                capitalized(&place.to_string())
            ),
            TokenRefused {
                place,
                user,
                problem,
                server_text,
            } => match &**problem {
                TokenProblem::Invalid { scope } => write!(
                    f,
                    "Could not log in to {place} as {user} with OAuth: the server refused the access token. It has expired or was revoked{}. Sign in to the account again (or refresh its token), then run the job again; if a fresh token is refused too, check that it was issued for this mailbox. [{server_text}]",
                    match scope {
                        Some(scope) => format!(", or it lacks the permission (scope) the server asks for: {scope}"),
                        None => String::new(),
                    }
                ),
                TokenProblem::Scope { wanted } => write!(
                    f,
                    "Could not log in to {place} as {user} with OAuth: the access token does not grant the permission (scope) the server needs{}. Sign in again and grant mail access; the app must ask for {}. [{server_text}]",
                    match wanted {
                        Some(w) => format!(" ({w})"),
                        None => String::new(),
                    },
                    match place.family() {
                        "POP3" => "https://mail.google.com/ on Google, and POP.AccessAsUser.All (signing in as the user) or POP.AccessAsApp (an app acting for mailboxes, with admin consent) on Microsoft 365",
                        _ => "https://mail.google.com/ on Google, and IMAP.AccessAsUser.All (signing in as the user) or IMAP.AccessAsApp (an app acting for mailboxes, with admin consent) on Microsoft 365",
                    }
                ),
                TokenProblem::Unexplained => {
                    let (proto, switch) = match place.family() {
                        "POP3" => ("POP", "PopEnabled"),
                        _ => ("IMAP", "ImapEnabled"),
                    };
                    write!(
                        f,
                        "Could not log in to {place} as {user} with OAuth: the server refused the sign-in without saying why. The likely causes: {proto} is turned off for this mailbox (turn it on in the Microsoft 365 admin center under the user's Mail, Manage email apps, or with Set-CASMailbox -Identity {user} -{switch} $true); the app signing in has no permission on this mailbox (register it with New-ServicePrincipal, then grant it Add-MailboxPermission -Identity {user} -User <its service principal id> -AccessRights FullAccess); or {user} is not the mailbox's address (use its primary email address). Changes in Microsoft 365 can take up to an hour to apply. [{server_text}]"
                    )
                }
            },
            // ---- crate::oauth ----
            NoToken { side, user, error } => write!(
                f,
                "Could not get an OAuth access token to log in to the {} server as {user}. {error}",
                side.word()
            ),
            // ---- end crate::oauth ----
            OAuthNotOffered { place, user } => write!(
                f,
                "Could not log in to {place} as {user} with OAuth: the server does not offer OAuth sign-in (neither OAUTHBEARER nor XOAUTH2 is among its login methods; some servers offer them only over TLS). Log in with the password instead (or an app password, where the host asks for two-step verification), or check the server name, protocol and port."
            ),
            FetchTimeout { place, what, after } => write!(
                f,
                "Error fetching {what} from {place}: timed out on fetch. The server sent nothing for {}: it is overloaded, or it is slowing this account down. Try again later; if it keeps happening, wait 24–48 hours (some hosts limit accounts that download a lot) and run the job again: it resumes where it stopped.",
                span(*after)
            ),
            Timeout {
                place,
                doing,
                after,
                direction: Direction::Read,
            } => write!(
                f,
                "{} timed out during read while {doing}: the {} server is too slow to respond (nothing came for {}). MailFerry reconnects and resumes; if it keeps happening, try again at a quieter time, or give the job a longer timeout (timeout_seconds in its [options]).",
                capitalized(&place.to_string()),
                place.side.word(),
                span(*after)
            ),
            Timeout {
                place,
                doing,
                after,
                direction: Direction::Write,
            } => write!(
                f,
                "{} timed out during write while {doing}: the {} server accepted no data for {}, so it is overloaded or the network is congested. MailFerry reconnects and resumes; if it keeps happening, try again at a quieter time, or give the job a longer timeout (timeout_seconds in its [options]).",
                capitalized(&place.to_string()),
                place.side.word(),
                span(*after)
            ),
            Disconnected { place, doing } => write!(
                f,
                "The connection to {place} was dropped while {doing} (socket came disconnected): the {} server stopped answering within the expected interval, or the network dropped the connection. MailFerry reconnects and resumes; if it keeps happening, check the network, or try again later.",
                place.side.word()
            ),
            Bye {
                place,
                doing,
                server_text,
            } => write!(
                f,
                "{} closed the connection while {doing} (BYE): the server is restarting, or it ends sessions it considers idle or excessive. MailFerry reconnects and resumes; if it keeps happening, try again later. [{server_text}]",
                capitalized(&place.to_string())
            ),
            Throttled {
                place,
                doing,
                server_text,
            } => write!(
                f,
                "{} is throttling this account while {doing}: it allows only so many connections, commands or bytes per period. MailFerry waits and retries; if it keeps happening, copy fewer mailboxes at once (parallel_mailboxes in the job's [options]), or wait a few hours and run the job again: it resumes where it stopped. [{server_text}]",
                capitalized(&place.to_string())
            ),
            Unavailable {
                place,
                doing,
                server_text,
            } => write!(
                f,
                "{} is temporarily unavailable while {doing}: the server is busy, under maintenance, or the mailbox is in use by another program. MailFerry waits and retries; if it keeps happening, try again later. [{server_text}]",
                capitalized(&place.to_string())
            ),
            DailyLimit(d) => write!(
                f,
                "The daily limit was reached for this mailbox on the {} server {}: {} MailFerry paused the mailbox; the rest of it is left for now. Run the job again after {} (24 hours from now): it resumes where it stopped, and copies nothing twice.{}",
                d.side.word(),
                d.host,
                d.cause,
                d.resume_at,
                match d.server_text.is_empty() {
                    true => String::new(),
                    false => format!(" [{}]", d.server_text),
                }
            ),
            Refused {
                place,
                command,
                server_text,
            } => write!(
                f,
                "{} refused {command}. Its reason is in its own words below; if it is not clear, send this log to the host's support. [{server_text}]",
                capitalized(&place.to_string())
            ),
            Protocol {
                place,
                doing,
                detail,
            } => write!(
                f,
                "{} sent a reply MailFerry could not understand while {doing}: {detail}. The reply was garbled or cut short, or this is not the server it should be. MailFerry reconnects and retries; if it keeps happening, check the port and protocol, and send this log to the host's support.",
                capitalized(&place.to_string())
            ),
            OverQuota { user, server_text } => write!(
                f,
                "The destination mailbox {user} is full (over quota): the new server refused more mail. Ask the new host to raise the quota, or remove mail there, then run the job again: it copies only what is missing. [{server_text}]"
            ),
            TooBig {
                folder,
                size,
                server_text,
            } => write!(
                f,
                "The destination refused a message of {} in folder {folder}: the message is too big, larger than the new server accepts. Ask the new host to raise its message size limit, then run the job again; the other messages were copied. [{server_text}]",
                crate::human::human_bytes(*size)
            ),
            AppendRejected {
                folder,
                server_text,
            } => write!(
                f,
                "The destination refused a message in folder {folder}: it rejected the message's content (it may be malformed, or caught by a filter). The other messages were copied; forward this one by hand if it matters. [{server_text}]"
            ),
            CreateFolder {
                folder,
                server_text,
            } => write!(
                f,
                "The folder {folder} could not be created on the destination: the new server does not allow that name. Its messages were not copied; the other folders were. Translate the folder to another name in the job, or skip it, then run the job again. [{server_text}]"
            ),
            Store(e) => write!(
                f,
                "MailFerry's own database could not be used: {e}. Check that the disk is not full and the data folder is writable."
            ),
            NewerDatabase { path, found, known } => write!(
                f,
                "The database {path} was made by a newer MailFerry (its schema is version {found}; this MailFerry knows versions up to {known}). It was left untouched. Install the newer MailFerry again, or choose another database (--db, or MAILFERRY_DB)."
            ),
            Internal(e) => write!(
                f,
                "MailFerry stopped copying this mailbox because of a fault of its own ({e}). What was copied is kept: run the job again to resume, and send this log to MailFerry's developers."
            ),
            Cancelled => write!(
                f,
                "The job was cancelled before this mailbox finished. Run the job again to resume: messages already copied are not copied again."
            ),
        }
    }
}

impl std::error::Error for MailError {}

impl MailError {
    pub fn class(&self) -> ErrorClass {
        use MailError::*;
        match self {
            FetchTimeout { .. }
            | Timeout { .. }
            | Disconnected { .. }
            | Bye { .. }
            | Throttled { .. }
            | Unavailable { .. }
            | Protocol { .. } => ErrorClass::Transient,
            Connect { reason, .. } => match reason {
                NetError::Timeout | NetError::Io(_) => ErrorClass::Transient,
                _ => ErrorClass::FatalForMailbox,
            },
            // crate::oauth: the sign-in service unreachable or at fault.
            NoToken { error, .. } if error.is_transient() => ErrorClass::Transient,
            NoToken { .. } => ErrorClass::FatalForMailbox,
            TooBig { .. } | AppendRejected { .. } => ErrorClass::PerMessage,
            // One folder refused (opening, reading or creating it): the
            // others may work.
            Refused { .. } | CreateFolder { .. } => ErrorClass::FatalForFolder,
            Certificate { .. }
            | WrongSecurity { .. }
            | NotMailServer { .. }
            | Login { .. }
            | AdminLogin { .. }
            // Like a refused password: trying again with the same token
            // cannot help (the connection layer fetches a new one first).
            | TokenRefused { .. }
            | OAuthNotOffered { .. }
            | PlaintextRefused { .. }
            | OverQuota { .. }
            | DailyLimit(_)
            | Store(_)
            | NewerDatabase { .. }
            | Internal(_)
            | Cancelled => ErrorClass::FatalForMailbox,
        }
    }

    /// A stable name for the kind of error: the anchor of its entry in
    /// `docs/errors.md` and in [`catalogue`].
    pub fn code(&self) -> &'static str {
        use MailError::*;
        match self {
            Connect { .. } => "connect",
            Certificate { .. } => "certificate",
            WrongSecurity { .. } => "wrong-security",
            NotMailServer { .. } => "not-a-mail-server",
            Login { .. } => "login-failed",
            AdminLogin { place, .. } if place.side == Side::Source => "source-admin-login-failed",
            AdminLogin { .. } => "admin-login-failed",
            PlaintextRefused { .. } => "plaintext-refused",
            TokenRefused { .. } => "token-refused",
            OAuthNotOffered { .. } => "oauth-not-offered",
            NoToken { .. } => "no-token", // crate::oauth
            FetchTimeout { .. } => "timed-out-on-fetch",
            Timeout {
                direction: Direction::Read,
                ..
            } => "timed-out-during-read",
            Timeout {
                direction: Direction::Write,
                ..
            } => "timed-out-during-write",
            Disconnected { .. } => "socket-came-disconnected",
            Bye { .. } => "bye",
            Throttled { .. } => "throttled",
            Unavailable { .. } => "unavailable",
            DailyLimit(_) => "daily-limit",
            Refused { .. } => "refused",
            Protocol { .. } => "garbled-reply",
            OverQuota { .. } => "over-quota",
            TooBig { .. } => "message-too-big",
            AppendRejected { .. } => "message-rejected",
            CreateFolder { .. } => "folder-not-created",
            Store(_) => "database",
            NewerDatabase { .. } => "database-too-new",
            Internal(_) => "internal-error",
            Cancelled => "cancelled",
        }
    }

    /// Whether the server refused an OAuth access token: a fresh token may
    /// log in where this one did not.
    pub fn is_token_refused(&self) -> bool {
        matches!(self, MailError::TokenRefused { .. })
    }

    /// What a refused token's server said about it.
    pub fn token_problem(&self) -> Option<&TokenProblem> {
        match self {
            MailError::TokenRefused { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The same error seen on a connection that gave up waiting for message
    /// bodies: a timeout becomes "timed out on fetch".
    pub fn on_fetch(self, what: String) -> MailError {
        match self {
            MailError::Timeout {
                place,
                after,
                direction: Direction::Read,
                ..
            } => MailError::FetchTimeout { place, what, after },
            other => other,
        }
    }
}

/// A mailbox paused at its host's daily limit ([`MailError::DailyLimit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayLimit {
    pub side: Side,
    pub host: String,
    /// Why, in words ending with a full stop: the host's refusal, or the
    /// limit MailFerry stopped short of.
    pub cause: String,
    /// When to run the job again: 24 hours after the pause, local time.
    pub resume_at: String,
    /// The server's words; empty when MailFerry stopped first.
    pub server_text: String,
}

impl MailError {
    /// The host refused more today ([`Busy::DailyLimit`]).
    pub fn daily_limit_hit(place: &Place, server_text: String) -> MailError {
        MailError::DailyLimit(Box::new(DayLimit {
            side: place.side,
            host: place.host.clone(),
            cause: "the host allows each mailbox only so many bytes (or commands) over IMAP a day, and refuses more until the day is over.".into(),
            resume_at: resume_at(),
            server_text,
        }))
    }

    /// The next messages would take this run of the mailbox past the
    /// host's daily limit of `limit` bytes to `what` ("download" from a
    /// source, "upload" to a destination), so MailFerry stopped first.
    pub fn daily_limit_ahead(side: Side, host: &str, what: &str, limit: u64) -> MailError {
        MailError::DailyLimit(Box::new(DayLimit {
            side,
            host: host.to_string(),
            cause: format!(
                "the host lets each mailbox {what} {} over IMAP a day, and the next messages would have gone past it in this run (MailFerry stops short of the limit, so the host does not lock the mailbox out).",
                megabytes(limit)
            ),
            resume_at: resume_at(),
            server_text: String::new(),
        }))
    }
}

/// "2,500 MB": a host's limit as hosts write it (a figure that is no
/// whole number of MB, as the computer shows sizes).
fn megabytes(bytes: u64) -> String {
    if !bytes.is_multiple_of(1_000_000) {
        return crate::human::human_bytes(bytes);
    }
    let digits = (bytes / 1_000_000).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} MB")
}

/// A day from now, in this computer's time zone.
fn resume_at() -> String {
    (chrono::Local::now() + chrono::Duration::hours(24))
        .format("%Y-%m-%d %H:%M %z")
        .to_string()
}

/// What a refusal's words say about the server's state, when they say it is
/// busy rather than refusing for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Throttled,
    Unavailable,
    /// Gmail's "Account exceeded command or bandwidth limits": the
    /// mailbox's daily allowance is spent; retrying today cannot help.
    DailyLimit,
}

/// Recognises the replies of servers that limit or are temporarily unable:
/// `Request is throttled` and `User is authenticated but not connected`
/// (Microsoft), `Too many simultaneous connections`, Dovecot's `Maximum
/// number of connections`, `[UNAVAILABLE]` (RFC 5530), POP3's `[IN-USE]`,
/// `[SYS/TEMP]` and `[LOGIN-DELAY]` (RFC 2449, 3206); and Google's daily
/// limit, `Account exceeded command or bandwidth limits`.
pub fn busy(server_text: &str) -> Option<Busy> {
    let t = server_text.to_ascii_uppercase();
    // Before the others: Gmail says it with [OVERQUOTA] or [UNAVAILABLE].
    if t.contains("BANDWIDTH LIMIT") || t.contains("COMMAND OR BANDWIDTH") {
        return Some(Busy::DailyLimit);
    }
    const THROTTLED: [&str; 8] = [
        "THROTTL",
        "TOO MANY CONNECTIONS",
        "TOO MANY SIMULTANEOUS",
        "TOO MANY CONCURRENT",
        "MAXIMUM NUMBER OF CONNECTIONS",
        "RATE LIMIT",
        "[LOGIN-DELAY]",
        "TRY AGAIN LATER",
    ];
    const UNAVAILABLE: [&str; 7] = [
        "[UNAVAILABLE]",
        // Microsoft 365, when the mailbox's server is not reachable yet.
        "AUTHENTICATED BUT NOT CONNECTED",
        "SERVER UNAVAILABLE",
        "TEMPORARILY UNAVAILABLE",
        "[SYS/TEMP]",
        "[IN-USE]",
        "[INUSE]",
    ];
    if THROTTLED.iter().any(|w| t.contains(w)) {
        Some(Busy::Throttled)
    } else if UNAVAILABLE.iter().any(|w| t.contains(w)) {
        Some(Busy::Unavailable)
    } else {
        None
    }
}

impl Busy {
    pub fn error(self, place: Place, doing: &str, server_text: String) -> MailError {
        let doing = doing.to_string();
        match self {
            Busy::Throttled => MailError::Throttled {
                place,
                doing,
                server_text,
            },
            Busy::Unavailable => MailError::Unavailable {
                place,
                doing,
                server_text,
            },
            Busy::DailyLimit => MailError::daily_limit_hit(&place, server_text),
        }
    }
}

/// A refused command: transient when its words say the server is busy.
pub fn refused(place: Place, command: &str, doing: &str, server_text: String) -> MailError {
    let at = place.clone();
    refused_or(place, doing, server_text, |server_text| {
        MailError::Refused {
            place: at,
            command: command.to_string(),
            server_text,
        }
    })
}

/// A refusal: transient when its words say the server is busy, else the
/// error `otherwise` makes of the server's words.
pub fn refused_or(
    place: Place,
    doing: &str,
    server_text: String,
    otherwise: impl FnOnce(String) -> MailError,
) -> MailError {
    match busy(&server_text) {
        Some(b) => b.error(place, doing, server_text),
        None => otherwise(server_text),
    }
}

/// A failure to secure a connection, for a user.
pub fn tls_failure(place: &Place, e: NetError, after: Duration) -> MailError {
    match e {
        NetError::Certificate(reason) => MailError::Certificate {
            place: place.clone(),
            reason,
        },
        NetError::Timeout => MailError::Timeout {
            place: place.clone(),
            doing: "starting TLS".into(),
            after,
            direction: Direction::Read,
        },
        NetError::NotTls => MailError::WrongSecurity {
            place: place.clone(),
            server_uses_tls: false,
        },
        NetError::Io(_) => MailError::Disconnected {
            place: place.clone(),
            doing: "starting TLS".into(),
        },
        other => MailError::Certificate {
            place: place.clone(),
            reason: format!(
                "{other}. Check that this port speaks TLS, and try again later; if it keeps happening, choose to accept invalid certificates for this job only if you trust the server."
            ),
        },
    }
}

impl From<rusqlite::Error> for MailError {
    fn from(e: rusqlite::Error) -> Self {
        MailError::Store(e.to_string())
    }
}

/// One kind of error as the app lists it: its code, its class, a title,
/// what it usually means and what to do. `docs/errors.md` says the same at
/// greater length.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CatalogueEntry {
    pub code: &'static str,
    pub class: ErrorClass,
    pub title: &'static str,
    pub meaning: &'static str,
    pub what_to_do: &'static str,
}

/// Every kind of error a user may see, in the order of `docs/errors.md`.
pub fn catalogue() -> Vec<CatalogueEntry> {
    use ErrorClass::*;
    let e = |code, class, title, meaning, what_to_do| CatalogueEntry {
        code,
        class,
        title,
        meaning,
        what_to_do,
    };
    vec![
        e("timed-out-on-fetch", Transient, "Error fetching … timed out on fetch",
          "The source stopped sending messages in the middle of a download. Hosts that limit how much an account may download per day do this, and so do overloaded servers.",
          "MailFerry retries on its own. If the folder still fails, try again later; if it keeps happening, wait 24–48 hours and run the job again: it resumes where it stopped."),
        e("socket-came-disconnected", Transient, "Socket came disconnected",
          "The connection closed without warning: the server stopped answering within the expected interval, restarted, or dropped a long session, or a router or the network lost the connection.",
          "MailFerry reconnects and resumes. If it keeps happening, check the network (Wi-Fi, VPN) or try at another time."),
        e("timed-out-during-read", Transient, "Timed out during read",
          "The server accepted the connection but did not answer a command within the time limit: it is too slow to respond, usually because it is busy.",
          "MailFerry retries. If it keeps happening, try at a quieter time, or allow more seconds to wait for a server (timeout_seconds)."),
        e("login-failed", FatalForMailbox, "Login failed",
          "The server refused the user name or password (older tools said \"login failed [NO - …]\"). Some hosts want the full email address as the user name, others only the part before @; hosts with two-step verification need an app password.",
          "Check the email, username and password in the user list, then use Test logins before starting again."),
        e("token-refused", FatalForMailbox, "OAuth access token refused",
          "The server refused the OAuth access token: it has expired or was revoked, it lacks the mail permission (scope) the server needs, or (Microsoft 365, which gives no reason) IMAP or POP is turned off for the mailbox, the app has no permission on it, or the user name is not the mailbox's address. MailFerry gets a fresh token and tries once more before it reports this.",
          "Sign in to the account again. If a fresh token is refused too: grant mail access (Google https://mail.google.com/, Microsoft 365 IMAP.AccessAsUser.All or IMAP.AccessAsApp, POP.* for POP3), turn IMAP/POP on for the mailbox (Set-CASMailbox), give the app FullAccess on it (New-ServicePrincipal, Add-MailboxPermission), and use the mailbox's primary address."),
        e("oauth-not-offered", FatalForMailbox, "The server does not offer OAuth sign-in",
          "The job signs in with OAuth, but the server lists neither OAUTHBEARER nor XOAUTH2 among its login methods (some offer them only over TLS).",
          "Log in with the password (or an app password) instead, or check the server name, protocol and port."),
        e("no-token", FatalForMailbox, "No OAuth access token",
          "MailFerry could not get an access token from the sign-in service (Google, Microsoft or the one the job names), so nothing was sent to the mail server: the mailbox is not signed in yet, its sign-in expired or was revoked, the app's client ID, secret or tenant is wrong, domain-wide delegation or admin consent is missing, or the sign-in service could not be reached (then MailFerry retries).",
          "Sign in to the mailbox again (the app's Sign in mailboxes…, or mailferry sign-in JOB --user USER), or fix what the message names in the job's OAuth settings; docs/cloud.md walks through each provider's setup."),
        e("connect", FatalForMailbox, "Could not connect",
          "No port in the list accepted a connection: the host name does not resolve, nothing listens on the port, or a firewall drops the connection (MailFerry retries when it timed out).",
          "Check the server name, the ports and the protocol, and that no firewall blocks the connection."),
        e("certificate", FatalForMailbox, "Certificate rejected (expired, self-signed, other host)",
          "The server's certificate could not be trusted: it has expired, is self-signed or from an unknown authority, was issued for another host name, or is not valid yet (then this computer's clock is wrong).",
          "Ask the host to fix the certificate, add its certificate file to the job, use the host name it was issued for, or accept invalid certificates if you trust the server."),
        e("wrong-security", FatalForMailbox, "TLS and plain text mixed up",
          "The protocol does not match the port: a TLS protocol was used on a plain port, or plain text on a TLS port.",
          "Choose the protocol that matches the port: IMAP4S/POP3S for TLS ports (993/995), IMAP4/POP3 for plain ones (143/110)."),
        e("not-a-mail-server", FatalForMailbox, "Not an IMAP or POP3 server",
          "Something answered on that port, but not a mail server of that kind (a web or SMTP server, say).",
          "Check the port and the protocol."),
        e("plaintext-refused", FatalForMailbox, "No STARTTLS: password would travel unencrypted",
          "The server offers no encryption on that port, so logging in would send the password in plain text.",
          "Use the TLS protocol and port, or allow plaintext logins for the job if you accept the risk."),
        e("admin-login-failed", FatalForMailbox, "Admin login failed for a mailbox",
          "The destination refused the admin acting for this user: the mailbox does not exist there yet (MailFerry never creates accounts), or the admin login is wrong, and then every mailbox fails the same way.",
          "Create the mailbox on the new server, or check the admin user and password."),
        e("source-admin-login-failed", FatalForMailbox, "The old host refused its admin login for a mailbox",
          "The source is set to log in as the old host's admin (master) user acting for each user, and the old host refused it: the admin user name or password is wrong (then every mailbox fails the same way), or the admin may not act for this user, or the user does not exist there. The user's own password plays no part.",
          "Check the admin user, password and login method in the job's source settings, and the user name in the user list."),
        e("throttled", Transient, "Throttled (too many connections or requests)",
          "The server limits how many connections, commands or bytes an account may use per period (\"Request is throttled\", \"Too many simultaneous connections\").",
          "MailFerry waits and retries. If it keeps happening, copy fewer mailboxes at once, or wait a few hours and run the job again."),
        e("daily-limit", FatalForMailbox, "Daily limit reached: the mailbox paused",
          "The host limits what one mailbox may download or upload over IMAP per day (Gmail: 2,500 MB down, 500 MB up), and the limit was reached (\"Account exceeded command or bandwidth limits\"), or the next messages would have gone past it. The mailbox is partial: what was copied stays, the rest waits.",
          "Run the job again after the time the log gives (24 hours later): it resumes where it stopped and copies nothing twice. The other mailboxes go on meanwhile."),
        e("unavailable", Transient, "Server temporarily unavailable",
          "The server is busy or under maintenance, or the mailbox is open in another program ([UNAVAILABLE], [IN-USE], [SYS/TEMP]).",
          "MailFerry waits and retries. If it keeps happening, close other mail programs on that mailbox, or try later."),
        e("bye", Transient, "The server closed the connection (BYE)",
          "The server said goodbye: it is restarting, or it ends sessions it considers idle or excessive.",
          "MailFerry reconnects and resumes. If it keeps happening, try again later."),
        e("timed-out-during-write", Transient, "Timed out during write",
          "The server accepted no data for the time limit while MailFerry was sending, usually a message to the destination.",
          "MailFerry reconnects and checks whether the message arrived before sending it again. If it keeps happening, try at a quieter time, or allow more seconds to wait."),
        e("garbled-reply", Transient, "A reply MailFerry could not understand",
          "The server's reply was garbled or cut short, or the port belongs to another kind of server.",
          "MailFerry reconnects and retries. If it keeps happening, check the port and protocol, and send the log to the host's support; if the words say compressed data was garbled, set compress = \"never\" in the job's [options]."),
        e("over-quota", FatalForMailbox, "Destination mailbox over quota",
          "The new server refused more mail for this mailbox: it is full.",
          "Ask the new host to raise the quota, or remove mail there, then run the job again: it copies only what is missing."),
        e("message-too-big", PerMessage, "Message too big",
          "One message is larger than the new server accepts ([TOOBIG], APPENDLIMIT), or a POP3 message is over MailFerry's 256 MB limit. The log names it by folder, date, sender and subject.",
          "Ask the new host to raise the message size limit and run the job again, or forward the message by hand."),
        e("message-rejected", PerMessage, "Message content rejected",
          "The destination refused one message for its content (malformed, or caught by a filter). The other messages are copied.",
          "Forward the message by hand if it matters."),
        e("message-not-sent", PerMessage, "The source would not send a message",
          "The POP3 server refused to send one message, usually because it was deleted while the job ran.",
          "Run the job again: it tries the messages that are still there."),
        e("refused", FatalForFolder, "A command was refused",
          "The server refused a command MailFerry needs (to open or read a folder, say), for a reason MailFerry does not recognise. That folder is not copied; the mailbox's other folders are.",
          "Read the server's words in brackets; send the log to the host's support."),
        e("folder-not-created", FatalForFolder, "A folder could not be created",
          "The destination does not allow that folder name (too long, or a character it refuses). That folder is not copied; the mailbox's other folders are.",
          "Translate the folder to another name in the job, or skip it."),
        e("database", FatalForMailbox, "MailFerry's database could not be used",
          "The ledger and history live in a SQLite file in your data folder, which could not be written.",
          "Check that the disk is not full and the data folder is writable."),
        e("database-too-new", FatalForMailbox, "MailFerry's database is from a newer MailFerry",
          "The database was written by a newer version of MailFerry, which may store things this one does not understand. MailFerry leaves it untouched rather than damage it.",
          "Install the newer MailFerry again, or choose another database (--db, or MAILFERRY_DB)."),
        e("internal-error", FatalForMailbox, "A fault in MailFerry itself",
          "MailFerry stopped copying one mailbox because of a bug of its own. The other mailboxes went on, and what was copied is kept.",
          "Run the job again: it resumes where it stopped. Send the log to MailFerry's developers."),
        e("cancelled", FatalForMailbox, "Cancelled",
          "The job was stopped. Connections were logged out, and everything copied so far is in the ledger.",
          "Run the job again to resume."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> Place {
        Place {
            side: Side::Source,
            host: "mail.old.example".into(),
            port: 993,
            protocol: "IMAP4S",
        }
    }

    #[test]
    fn throttling_and_unavailable_replies_are_recognised() {
        for t in [
            "NO Request is throttled. Suggested Backoff Time: 92415 milliseconds",
            "* BYE [ALERT] Too many simultaneous connections. (Failure)",
            "* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)",
            "-ERR [LOGIN-DELAY] wait 5 minutes",
            "NO too many connections",
        ] {
            assert_eq!(busy(t), Some(Busy::Throttled), "{t}");
        }
        for t in [
            "NO [UNAVAILABLE] Temporary authentication failure.",
            "NO Server Unavailable. 15",
            "NO User is authenticated but not connected.",
            "-ERR [IN-USE] Mailbox locked",
            "-ERR [SYS/TEMP] try later",
        ] {
            assert_eq!(busy(t), Some(Busy::Unavailable), "{t}");
        }
        for t in [
            "NO [AUTHENTICATIONFAILED] Authentication failed.",
            "NO [TOOBIG] Mail too large",
            "NO [OVERQUOTA] Quota exceeded",
        ] {
            assert_eq!(busy(t), None, "{t}");
        }
        let e = refused(
            place(),
            "SELECT",
            "opening folder X",
            "NO [UNAVAILABLE] later".into(),
        );
        assert_eq!(e.class(), ErrorClass::Transient);
        let e = refused(
            place(),
            "SELECT",
            "opening folder X",
            "NO [NONEXISTENT] gone".into(),
        );
        assert_eq!(e.class(), ErrorClass::FatalForFolder);
    }

    #[test]
    fn gmails_daily_limit_pauses_the_mailbox_and_says_when_to_resume() {
        for t in [
            "NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)",
            "* BYE [UNAVAILABLE] Account exceeded command or bandwidth limits.",
            "NO [ALERT] Account exceeded command or bandwidth limits. (Failure)",
            "NO [UNAVAILABLE] Temporary System Error, bandwidth limits exceeded",
        ] {
            assert_eq!(busy(t), Some(Busy::DailyLimit), "{t}");
        }
        let before = chrono::Local::now() + chrono::Duration::hours(24);
        let e = refused(
            place(),
            "UID FETCH",
            "fetching messages",
            "NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)".into(),
        );
        let after = chrono::Local::now() + chrono::Duration::hours(24);
        assert_eq!(e.class(), ErrorClass::FatalForMailbox);
        assert_eq!(e.code(), "daily-limit");
        let text = e.to_string();
        assert!(text.starts_with("The daily limit was reached for this mailbox on the source server mail.old.example: the host allows each mailbox only so many bytes"), "{text}");
        assert!(text.contains("the rest of it is left for now"), "{text}");
        assert!(text.contains("it resumes where it stopped, and copies nothing twice. [NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)]"), "{text}");
        // The time to resume is a day from now, to the minute.
        let when = [before, after].map(|t| t.format("%Y-%m-%d %H:%M %z").to_string());
        assert!(
            when.iter().any(|w| text.contains(&format!("Run the job again after {w} (24 hours from now)"))),
            "{text} / {when:?}"
        );
        let ahead = MailError::daily_limit_ahead(
            Side::Destination,
            "imap.gmail.com",
            "upload",
            500_000_000,
        );
        let text = ahead.to_string();
        assert!(text.starts_with("The daily limit was reached for this mailbox on the destination server imap.gmail.com: the host lets each mailbox upload 500 MB over IMAP a day"), "{text}");
        assert!(text.ends_with("copies nothing twice."), "{text}");
        assert_eq!(ahead.code(), "daily-limit");
        assert_eq!(megabytes(2_500_000_000), "2,500 MB");
        assert_eq!(megabytes(35_000_000), "35 MB");
    }

    #[test]
    fn the_four_known_messages_are_recognisable() {
        let fetch = MailError::FetchTimeout {
            place: place(),
            what: "UID 4:9".into(),
            after: Duration::from_secs(60),
        };
        let text = fetch.to_string();
        assert!(text.starts_with("Error fetching UID 4:9 from the source server mail.old.example (IMAP4S, port 993): timed out on fetch."), "{text}");
        assert!(text.contains("wait 24–48 hours"), "{text}");
        let read = MailError::Timeout {
            place: place(),
            doing: "listing messages".into(),
            after: Duration::from_secs(60),
            direction: Direction::Read,
        };
        assert!(read.to_string().contains("timed out during read while listing messages: the source server is too slow to respond (nothing came for 60 seconds)"), "{read}");
        let dropped = MailError::Disconnected {
            place: place(),
            doing: "fetching messages".into(),
        };
        assert!(dropped.to_string().contains("(socket came disconnected): the source server stopped answering within the expected interval"), "{dropped}");
        let login = MailError::Login {
            place: place(),
            user: "jane@old.example".into(),
            server_text: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        };
        assert_eq!(login.to_string(), "Could not log in to the source server mail.old.example (IMAP4S, port 993) as jane@old.example: the server refused the user name or password. Check both in the user list (some hosts want the whole email address as the user name). The server said: NO [AUTHENTICATIONFAILED] Authentication failed.");
        for e in [&fetch, &read, &dropped] {
            assert_eq!(e.class(), ErrorClass::Transient);
        }
        assert_eq!(login.class(), ErrorClass::FatalForMailbox);
    }

    #[test]
    fn a_refused_source_admin_login_blames_the_admin_not_the_users_password() {
        let e = MailError::AdminLogin {
            place: place(),
            user: "jane@old.example".into(),
            admin: "root".into(),
            server_text: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        };
        assert_eq!(e.to_string(), "Could not log in to the source server mail.old.example (IMAP4S, port 993) for jane@old.example as the admin root: the old host refused its admin login (the user's own password was not used). The admin user name or password is wrong, or this admin may not act for jane@old.example (or jane@old.example does not exist there). Check the admin login in the job's source settings and the user name in the user list. [NO [AUTHENTICATIONFAILED] Authentication failed.]");
        assert_eq!(e.class(), ErrorClass::FatalForMailbox);
        assert_eq!(e.code(), "source-admin-login-failed");
    }

    #[test]
    fn every_code_is_in_the_catalogue_and_the_docs() {
        let docs = include_str!("../docs/errors.md");
        let codes: Vec<&str> = catalogue().iter().map(|e| e.code).collect();
        for code in &codes {
            assert!(
                docs.contains(&format!("<a id=\"{code}\"></a>")),
                "docs/errors.md lacks {code}"
            );
        }
        let samples = [
            MailError::Store("x".into()),
            MailError::Internal("x".into()),
            MailError::NewerDatabase {
                path: "x".into(),
                found: 9,
                known: 3,
            },
            MailError::Cancelled,
            MailError::OverQuota {
                user: "u".into(),
                server_text: "t".into(),
            },
        ];
        for e in samples {
            assert!(codes.contains(&e.code()));
        }
        let pop3 = crate::pop3::Pop3MessageError::Refused {
            place: place(),
            msgno: 1,
            server_text: "t".into(),
        };
        assert!(codes.contains(&pop3.code()));
    }

    /// The app lists the catalogue in the order of docs/errors.md, and each
    /// entry's class is the one its heading there gives.
    #[test]
    fn the_catalogue_follows_the_docs() {
        let docs = include_str!("../docs/errors.md");
        let mut last = 0;
        for entry in catalogue() {
            let anchor = format!("<a id=\"{}\"></a>", entry.code);
            let at = docs.find(&anchor).expect("every code is in the docs");
            assert!(at > last, "{} is out of the docs' order", entry.code);
            last = at;
            let heading = docs[at..].lines().next().unwrap_or_default();
            let word = match entry.class {
                ErrorClass::Transient => "*transient*",
                ErrorClass::PerMessage => "*per message*",
                ErrorClass::FatalForFolder => "*fatal for the folder*",
                ErrorClass::FatalForMailbox => "*fatal for the mailbox*",
            };
            assert!(
                heading.contains(word) || entry.code == "cancelled",
                "{heading} should say {word}"
            );
        }
    }

    fn refused_token(protocol: &'static str, problem: TokenProblem) -> MailError {
        MailError::TokenRefused {
            place: Place {
                protocol,
                port: if protocol == "POP3S" { 995 } else { 993 },
                ..place()
            },
            user: "jane@contoso.com".into(),
            problem: Box::new(problem),
            server_text: "NO AUTHENTICATE failed.".into(),
        }
    }

    #[test]
    fn a_refused_token_says_why_in_plain_words() {
        let e = refused_token("IMAP4S", TokenProblem::Invalid { scope: None });
        assert_eq!(e.to_string(), "Could not log in to the source server mail.old.example (IMAP4S, port 993) as jane@contoso.com with OAuth: the server refused the access token. It has expired or was revoked. Sign in to the account again (or refresh its token), then run the job again; if a fresh token is refused too, check that it was issued for this mailbox. [NO AUTHENTICATE failed.]");
        assert!(e.is_token_refused());
        assert_eq!(
            e.token_problem(),
            Some(&TokenProblem::Invalid { scope: None })
        );
        assert_eq!(
            (e.code(), e.class()),
            ("token-refused", ErrorClass::FatalForMailbox)
        );
        // Google answers any bad token with 401 and the scope it wants.
        let e = refused_token(
            "IMAP4S",
            TokenProblem::Invalid {
                scope: Some("https://mail.google.com/".into()),
            },
        );
        assert!(e.to_string().contains("It has expired or was revoked, or it lacks the permission (scope) the server asks for: https://mail.google.com/. Sign in"), "{e}");

        let e = refused_token(
            "IMAP4S",
            TokenProblem::Scope {
                wanted: Some("https://outlook.office.com/IMAP.AccessAsUser.All".into()),
            },
        );
        let text = e.to_string();
        assert!(text.contains("the access token does not grant the permission (scope) the server needs (https://outlook.office.com/IMAP.AccessAsUser.All). Sign in again and grant mail access"), "{text}");
        assert!(
            text.contains("https://mail.google.com/ on Google"),
            "{text}"
        );
        assert!(text.contains("IMAP.AccessAsApp"), "{text}");
        let e = refused_token("POP3S", TokenProblem::Scope { wanted: None });
        let text = e.to_string();
        assert!(text.contains("the server needs. Sign in again"), "{text}");
        assert!(
            text.contains("POP.AccessAsUser.All") && !text.contains("IMAP."),
            "{text}"
        );

        // Microsoft 365 gives no reason: the likely causes, with what to do.
        let text = refused_token("IMAP4S", TokenProblem::Unexplained).to_string();
        for words in [
            "refused the sign-in without saying why",
            "IMAP is turned off for this mailbox",
            "Manage email apps",
            "Set-CASMailbox -Identity jane@contoso.com -ImapEnabled $true",
            "New-ServicePrincipal",
            "Add-MailboxPermission -Identity jane@contoso.com -User <its service principal id> -AccessRights FullAccess",
            "is not the mailbox's address",
            "[NO AUTHENTICATE failed.]",
        ] {
            assert!(text.contains(words), "{words}: {text}");
        }
        let text = refused_token("POP3S", TokenProblem::Unexplained).to_string();
        assert!(
            text.contains("POP is turned off") && text.contains("-PopEnabled $true"),
            "{text}"
        );
    }

    #[test]
    fn a_server_without_oauth_suggests_a_password() {
        let e = MailError::OAuthNotOffered {
            place: place(),
            user: "jane".into(),
        };
        assert_eq!(e.to_string(), "Could not log in to the source server mail.old.example (IMAP4S, port 993) as jane with OAuth: the server does not offer OAuth sign-in (neither OAUTHBEARER nor XOAUTH2 is among its login methods; some servers offer them only over TLS). Log in with the password instead (or an app password, where the host asks for two-step verification), or check the server name, protocol and port.");
        assert!(!e.is_token_refused());
        assert_eq!(e.token_problem(), None);
        assert_eq!(
            (e.code(), e.class()),
            ("oauth-not-offered", ErrorClass::FatalForMailbox)
        );
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::from_secs(60)), "60 seconds");
        assert_eq!(span(Duration::from_secs(1)), "1 second");
        assert_eq!(span(Duration::from_millis(300)), "0.3 seconds");
    }
}
