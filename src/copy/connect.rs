//! What connects: a job's servers turned into endpoints and logins, and the
//! connections of one mailbox opened from them. Runs, verification and
//! "Test logins" all connect through here, so they say the same about the
//! same failure.

use super::Options;
use crate::error::{MailError, Side};
use crate::imap::{Endpoint, ImapClient, Login, Transport};
use crate::job::{AccountAuth, Job, MasterMethod, Protocol, Security, UserEntry};
use crate::net::Throttle;
use crate::pop3::{Pop3Client, Pop3Endpoint, Pop3Transport};
use crate::secret::Secret;

/// The endpoints of one job, made once.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The IMAP source; `None` for POP3 and POP3S jobs.
    imap: Option<Endpoint>,
    /// The POP3 side of POP3, POP3S and Auto jobs (the Inbox); `None` for
    /// IMAP jobs, and for Auto with POP3 disabled.
    pop3: Option<Pop3Endpoint>,
    destination: Endpoint,
    /// How the source and the destination log in.
    source_auth: AccountAuth,
    auth: AccountAuth,
    /// The job's bandwidth, shared by every source connection it opens.
    throttle: Option<Throttle>,
}

impl Connector {
    pub fn new(job: &Job, opts: &Options) -> Connector {
        Connector {
            imap: source_imap(job, opts),
            pop3: source_pop3(job, opts),
            destination: destination(job, opts),
            source_auth: job.source.auth.clone(),
            auth: job.destination.auth.clone(),
            throttle: opts.max_bytes_per_second.map(Throttle::new),
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
        let Some(ep) = &self.imap else {
            return Ok(None);
        };
        let login = self.source_login(user);
        match ImapClient::connect(ep, &login).await {
            Ok(mut c) => {
                if let Some(t) = &self.throttle {
                    c.limit_reads(t.clone());
                }
                Ok(Some(c))
            }
            Err(e) => Err(source_refused(e, &login)),
        }
    }

    /// A POP3 session of `user`, for a job that reads the Inbox over POP3.
    pub async fn source_pop3(&self, user: &UserEntry) -> Result<Pop3Client, MailError> {
        let ep = self.pop3.as_ref().ok_or_else(|| {
            MailError::Internal("POP3 asked of a job that reads no folder over POP3".into())
        })?;
        let login = self.source_login(user);
        let mut pop = Pop3Client::connect_as(ep, &login)
            .await
            .map_err(|e| source_refused(e, &login))?;
        if let Some(t) = &self.throttle {
            pop.limit_reads(t.clone());
        }
        Ok(pop)
    }

    /// The destination session of `user`. A refused login of an admin
    /// acting for the user says so: the mailbox may be missing there.
    pub async fn destination(&self, user: &UserEntry) -> Result<ImapClient, MailError> {
        let login = login_as(&self.auth, &user.local_user, user.local_password.as_ref());
        ImapClient::connect(&self.destination, &login)
            .await
            .map_err(|e| match (e, login.admin()) {
                (
                    MailError::Login {
                        place, server_text, ..
                    },
                    Some(admin),
                ) => MailError::AdminLogin {
                    place,
                    user: user.local_user.clone(),
                    admin: admin.to_string(),
                    server_text,
                },
                (e, _) => e,
            })
    }

    fn source_login(&self, u: &UserEntry) -> Login {
        login_as(
            &self.source_auth,
            &u.source_user,
            u.source_password.as_ref(),
        )
    }
}

/// How `user` logs in under `auth`; `own` is the user's own password (from
/// the user list), used only when each user logs in as themselves.
fn login_as(auth: &AccountAuth, user: &str, own: Option<&Secret>) -> Login {
    match auth {
        AccountAuth::PerUser => Login::Password {
            user: user.to_string(),
            password: own.cloned().unwrap_or_default(),
        },
        AccountAuth::Master {
            user: admin,
            password,
            method: MasterMethod::SaslPlain,
        } => Login::SaslPlain {
            authzid: user.to_string(),
            authcid: admin.clone(),
            password: password.clone(),
        },
        AccountAuth::Master {
            user: admin,
            password,
            method: MasterMethod::LoginSeparator(sep),
        } => Login::Separator {
            user: user.to_string(),
            separator: sep.clone(),
            admin: admin.clone(),
            password: password.clone(),
        },
    }
}

/// A refused source login of the old host's admin says so: its name,
/// password or right to act for the user, not the user's password.
fn source_refused(e: MailError, login: &Login) -> MailError {
    match (e, login.admin()) {
        (
            MailError::Login {
                place,
                user,
                server_text,
            },
            Some(admin),
        ) => MailError::AdminLogin {
            place,
            user,
            admin: admin.to_string(),
            server_text,
        },
        (e, _) => e,
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
