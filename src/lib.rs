//! MailFerry engine: copies mailboxes from an old mail host to a new one.
//!
//! Data flows one way: a [`job::Job`] (validated) drives the [`copy`] engine,
//! which reads through a source protocol ([`imap`]), writes to the destination
//! ([`imap`]), records what it did in the [`store`] and reports [`progress`].
//! Nothing here knows about Tauri or any user interface.

pub mod compress;
pub mod copy;
pub mod dial;
pub mod error;
#[cfg(test)]
pub(crate) mod fuzzing;
pub mod human;
pub mod imap;
pub mod job;
pub mod login;
pub mod net;
pub mod oauth;
pub mod outcome;
pub mod pop3;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod sasl;
pub mod secret;
pub mod service;
pub mod store;
