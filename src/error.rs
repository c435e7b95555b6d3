//! Errors met while migrating, each with its class and its words for a user.

use serde::Serialize;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Worth reconnecting and trying again.
    Transient,
    /// Only this message failed; the folder goes on.
    PerMessage,
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

/// An error met while migrating. Display is the sentence a user reads: what
/// happened, the likely cause, what to do, then the server's own words in
/// brackets. No variant ever holds a password.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error("Could not connect to the {side} server {host} on any of the ports tried ({ports}) with {protocol}: {reason}. Check the server name, the ports and the protocol, and that no firewall blocks the connection.", side = side.word())]
    Connect {
        side: Side,
        host: String,
        ports: String,
        protocol: &'static str,
        reason: NetError,
    },

    #[error("Could not make a secure connection to {place}: {reason}. If you trust this server, add its certificate authority file to the job, or choose to accept invalid certificates.")]
    Certificate { place: Place, reason: String },

    #[error("Could not log in to {place} as {user}: the server refused the login. Check the email, username and password. [{server_text}]")]
    Login {
        place: Place,
        user: String,
        server_text: String,
    },

    #[error("{place} offers no STARTTLS, so the password would travel unencrypted. Use the TLS protocol and port if the server has one, or allow plaintext logins for this job if you accept the risk.")]
    PlaintextRefused { place: Place },

    #[error("{place} did not answer in time while {doing}: the server is too slow or the network is congested. Try again later.")]
    Timeout { place: Place, doing: String },

    #[error("The connection to {place} was dropped while {doing} (socket came disconnected): the server stopped answering. MailFerry retries; if it keeps happening, try again later.")]
    Disconnected { place: Place, doing: String },

    #[error("{place} refused {command}. [{server_text}]")]
    Refused {
        place: Place,
        command: String,
        server_text: String,
    },

    #[error("{place} sent a reply MailFerry could not understand while {doing}: {detail}")]
    Protocol {
        place: Place,
        doing: String,
        detail: String,
    },

    #[error("The destination mailbox {user} is full: the server refused more mail. Ask the new host to raise the quota, then run the job again to copy the rest. [{server_text}]")]
    OverQuota { user: String, server_text: String },

    #[error("The destination refused a message of {size} bytes in folder {folder}: it is larger than the server accepts. [{server_text}]")]
    TooBig {
        folder: String,
        size: u64,
        server_text: String,
    },

    #[error("The destination refused a message in folder {folder}. [{server_text}]")]
    AppendRejected { folder: String, server_text: String },

    #[error("The folder {folder} could not be created on the destination. [{server_text}]")]
    CreateFolder { folder: String, server_text: String },

    #[error("MailFerry's own database could not be used: {0}. Check that the disk is not full and the data folder is writable.")]
    Store(String),

    #[error("The job was cancelled.")]
    Cancelled,
}

impl MailError {
    pub fn class(&self) -> ErrorClass {
        use MailError::*;
        match self {
            Timeout { .. } | Disconnected { .. } | Protocol { .. } => ErrorClass::Transient,
            Connect { reason, .. } => match reason {
                NetError::Timeout | NetError::Io(_) => ErrorClass::Transient,
                _ => ErrorClass::FatalForMailbox,
            },
            TooBig { .. } | AppendRejected { .. } => ErrorClass::PerMessage,
            Certificate { .. }
            | Login { .. }
            | PlaintextRefused { .. }
            | Refused { .. }
            | OverQuota { .. }
            | CreateFolder { .. }
            | Store(_)
            | Cancelled => ErrorClass::FatalForMailbox,
        }
    }
}

impl From<rusqlite::Error> for MailError {
    fn from(e: rusqlite::Error) -> Self {
        MailError::Store(e.to_string())
    }
}
