//! The integration-test bed: private Dovecot instances, an independent IMAP
//! probe and a standard corpus. See README.md.
#![allow(dead_code)]

pub mod corpus;
pub mod dovecot;
pub mod faults;
pub mod jobs;
pub mod link;
pub mod oauth;
pub mod probe;
