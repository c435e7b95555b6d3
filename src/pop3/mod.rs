//! A small POP3 client for reading a source mailbox: TLS or STLS, APOP,
//! SASL PLAIN or USER/PASS, and STAT, LIST, UIDL, TOP and (pipelined) RETR
//! with exact dot-unstuffing and bounded reads. It never sends DELE: reading
//! leaves the source as it was.

mod client;
mod wire;

use std::time::Duration;

use crate::error::{ErrorClass, Place, Side};
use crate::net::CertPolicy;

pub use client::Pop3Client;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop3Transport {
    /// TLS from the first byte (POP3S, port 995).
    Tls,
    /// STLS when the server offers it. Without it, APOP when the greeting
    /// allows it, else USER/PASS in plaintext only when `allow_plaintext`.
    Stls { allow_plaintext: bool },
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Pop3Endpoint {
    pub side: Side,
    pub host: String,
    /// Tried in order until one connects.
    pub ports: Vec<u16>,
    pub transport: Pop3Transport,
    pub certs: CertPolicy,
    /// "POP3" or "POP3S", for messages.
    pub protocol: &'static str,
    /// Limit for each read and write.
    pub timeout: Duration,
    /// How long connecting (TCP, then TLS) may take.
    pub connect_timeout: Duration,
}

/// One message that could not be read, while the session goes on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Pop3MessageError {
    #[error("Message {msgno} on {place} is {size} bytes, larger than the limit of {limit} bytes, so it was not copied. Raise the message size limit of the job to copy it.")]
    TooLarge {
        place: Place,
        msgno: u32,
        size: u64,
        limit: u64,
    },

    #[error("{place} refused to send message {msgno} (it may have been deleted meanwhile). [{server_text}]")]
    Refused {
        place: Place,
        msgno: u32,
        server_text: String,
    },
}

impl Pop3MessageError {
    pub fn msgno(&self) -> u32 {
        match self {
            Pop3MessageError::TooLarge { msgno, .. } | Pop3MessageError::Refused { msgno, .. } => {
                *msgno
            }
        }
    }

    /// Its entry in the error catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            Pop3MessageError::TooLarge { .. } => "message-too-big",
            Pop3MessageError::Refused { .. } => "message-not-sent",
        }
    }

    /// Always [`ErrorClass::PerMessage`]: the other messages go on.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::PerMessage
    }
}

/// A message's bytes, or why this one message could not be read.
pub type Fetched = Result<Vec<u8>, Pop3MessageError>;
