//! What connects: a job's servers turned into endpoints and logins, and the
//! connections of one mailbox opened from them. Runs, verification and
//! "Test logins" all connect through here, so they say the same about the
//! same failure.

use super::Options;
use crate::error::{MailError, Side};
use crate::imap::{Endpoint, ImapClient, Login, Transport};
use crate::job::{AccountAuth, Job, MasterMethod, Protocol, Security, UserEntry};
use crate::pop3::{Pop3Client, Pop3Endpoint, Pop3Transport};

/// The endpoints of one job, made once.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The IMAP source; `None` for POP3 and POP3S jobs.
    imap: Option<Endpoint>,
    /// The POP3 side of POP3, POP3S and Auto jobs (the Inbox); `None` for
    /// IMAP jobs, and for Auto with POP3 disabled.
    pop3: Option<Pop3Endpoint>,
    destination: Endpoint,
    auth: AccountAuth,
}

impl Connector {
    pub fn new(job: &Job, opts: &Options) -> Connector {
        Connector {
            imap: source_imap(job, opts),
            pop3: source_pop3(job, opts),
            destination: destination(job, opts),
            auth: job.destination.auth.clone(),
        }
    }

    /// Whether any folder is read over IMAP (all but POP3 and POP3S jobs).
    pub fn reads_imap(&self) -> bool {
        self.imap.is_some()
    }

    /// Whether the Inbox is read over POP3.
    pub fn reads_pop3(&self) -> bool {
        self.pop3.is_some()
    }

    /// Whether the source folder `name` is read over POP3 (the Inbox of a
    /// job that reads the Inbox over POP3).
    pub fn over_pop3(&self, name: &str) -> bool {
        self.reads_pop3() && name.eq_ignore_ascii_case("INBOX")
    }

    /// The IMAP source session of `user`, when the job reads IMAP.
    pub async fn source_imap(&self, user: &UserEntry) -> Result<Option<ImapClient>, MailError> {
        match &self.imap {
            Some(ep) => Ok(Some(ImapClient::connect(ep, &source_login(user)).await?)),
            None => Ok(None),
        }
    }

    /// A POP3 session of `user`, for a job that reads the Inbox over POP3.
    pub async fn source_pop3(&self, user: &UserEntry) -> Result<Pop3Client, MailError> {
        let ep = self.pop3.as_ref().ok_or_else(|| {
            MailError::Internal("POP3 asked of a job that reads no folder over POP3".into())
        })?;
        Pop3Client::connect(ep, &user.source_user, &user.source_password).await
    }

    /// The destination session of `user`. A refused login of an admin
    /// acting for the user says so: the mailbox may be missing there.
    pub async fn destination(&self, user: &UserEntry) -> Result<ImapClient, MailError> {
        ImapClient::connect(&self.destination, &self.destination_login(user))
            .await
            .map_err(|e| match (e, &self.auth) {
                (
                    MailError::Login {
                        place, server_text, ..
                    },
                    AccountAuth::Master { user: admin, .. },
                ) => MailError::AdminLogin {
                    place,
                    user: user.local_user.clone(),
                    admin: admin.clone(),
                    server_text,
                },
                (e, _) => e,
            })
    }

    fn destination_login(&self, u: &UserEntry) -> Login {
        match &self.auth {
            AccountAuth::PerUser => Login::Password {
                user: u.local_user.clone(),
                password: u.local_password.clone().unwrap_or_default(),
            },
            AccountAuth::Master {
                user,
                password,
                method: MasterMethod::SaslPlain,
            } => Login::SaslPlain {
                authzid: u.local_user.clone(),
                authcid: user.clone(),
                password: password.clone(),
            },
            AccountAuth::Master {
                user,
                password,
                method: MasterMethod::LoginSeparator(sep),
            } => Login::Password {
                user: format!("{}{sep}{user}", u.local_user),
                password: password.clone(),
            },
        }
    }
}

fn source_login(u: &UserEntry) -> Login {
    Login::Password {
        user: u.source_user.clone(),
        password: u.source_password.clone(),
    }
}

fn source_imap(job: &Job, opts: &Options) -> Option<Endpoint> {
    let s = &job.source;
    let (transport, protocol) = match s.protocol {
        Protocol::Pop3 | Protocol::Pop3s => return None,
        Protocol::Imap4s => (Transport::Tls, Protocol::Imap4s),
        Protocol::Imap4 | Protocol::Auto => (
            Transport::StartTls {
                allow_plaintext: s.allow_plaintext,
            },
            Protocol::Imap4,
        ),
    };
    Some(Endpoint {
        side: Side::Source,
        host: s.host.clone(),
        ports: s.ports.usable(protocol),
        transport,
        certs: s.certs.clone(),
        protocol: protocol.label(),
        timeout: opts.timeout,
        connect_timeout: opts.connect_timeout,
        compress: opts.compress,
    })
}

fn source_pop3(job: &Job, opts: &Options) -> Option<Pop3Endpoint> {
    let s = &job.source;
    let (transport, protocol) = match s.protocol {
        Protocol::Pop3s => (Pop3Transport::Tls, Protocol::Pop3s),
        Protocol::Pop3 | Protocol::Auto => (
            Pop3Transport::Stls {
                allow_plaintext: s.allow_plaintext,
            },
            Protocol::Pop3,
        ),
        Protocol::Imap4 | Protocol::Imap4s => return None,
    };
    let ports = s.ports.usable(protocol);
    if ports.is_empty() {
        return None;
    }
    Some(Pop3Endpoint {
        side: Side::Source,
        host: s.host.clone(),
        ports,
        transport,
        certs: s.certs.clone(),
        protocol: protocol.label(),
        timeout: opts.timeout,
        connect_timeout: opts.connect_timeout,
    })
}

fn destination(job: &Job, opts: &Options) -> Endpoint {
    let d = &job.destination;
    let (transport, protocol) = match d.security {
        Security::Tls => (Transport::Tls, "IMAP4S"),
        Security::Starttls => (
            Transport::StartTls {
                allow_plaintext: false,
            },
            "IMAP4 with STARTTLS",
        ),
        Security::Plain => (Transport::Plain, "IMAP4"),
    };
    Endpoint {
        side: Side::Destination,
        host: d.host.clone(),
        ports: vec![d.port],
        transport,
        certs: d.certs.clone(),
        protocol,
        timeout: opts.timeout,
        connect_timeout: opts.connect_timeout,
        compress: opts.compress,
    }
}
