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
            TooBig { .. } | AppendRejected { .. } => ErrorClass::PerMessage,
            // One folder refused (opening, reading or creating it): the
            // others may work.
            Refused { .. } | CreateFolder { .. } => ErrorClass::FatalForFolder,
            Certificate { .. }
            | WrongSecurity { .. }
            | NotMailServer { .. }
            | Login { .. }
            | AdminLogin { .. }
            | PlaintextRefused { .. }
            | OverQuota { .. }
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

/// What a refusal's words say about the server's state, when they say it is
/// busy rather than refusing for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Throttled,
    Unavailable,
}

/// Recognises the replies of servers that limit or are temporarily unable:
/// `Request is throttled` (Microsoft), `Too many simultaneous connections`,
/// `Account exceeded command or bandwidth limits` (Google), Dovecot's
/// `Maximum number of connections`, `[UNAVAILABLE]` (RFC 5530), and POP3's
/// `[IN-USE]`, `[SYS/TEMP]` and `[LOGIN-DELAY]` (RFC 2449, 3206).
pub fn busy(server_text: &str) -> Option<Busy> {
    let t = server_text.to_ascii_uppercase();
    const THROTTLED: [&str; 10] = [
        "THROTTL",
        "TOO MANY CONNECTIONS",
        "TOO MANY SIMULTANEOUS",
        "TOO MANY CONCURRENT",
        "MAXIMUM NUMBER OF CONNECTIONS",
        "BANDWIDTH LIMIT",
        "COMMAND OR BANDWIDTH",
        "RATE LIMIT",
        "[LOGIN-DELAY]",
        "TRY AGAIN LATER",
    ];
    const UNAVAILABLE: [&str; 6] = [
        "[UNAVAILABLE]",
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
            "NO [ALERT] Account exceeded command or bandwidth limits. (Failure)",
            "* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)",
            "-ERR [LOGIN-DELAY] wait 5 minutes",
            "NO too many connections",
        ] {
            assert_eq!(busy(t), Some(Busy::Throttled), "{t}");
        }
        for t in [
            "NO [UNAVAILABLE] Temporary authentication failure.",
            "NO Server Unavailable. 15",
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

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::from_secs(60)), "60 seconds");
        assert_eq!(span(Duration::from_secs(1)), "1 second");
        assert_eq!(span(Duration::from_millis(300)), "0.3 seconds");
    }
}
