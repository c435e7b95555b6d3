//! What connects: a job's servers turned into endpoints and logins, and the
//! connections of one mailbox opened from them. Runs, verification and
//! "Test logins" all connect through here, so they say the same about the
//! same failure.

use super::Options;
use crate::error::{MailError, Side};
use crate::imap::{Endpoint, ImapClient, Login, Transport};
use crate::job::{AccountAuth, Job, MasterMethod, Protocol, Security, UserEntry};
use crate::net::Throttle;
use crate::oauth::TokenBroker;
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
    /// Access tokens for a side that logs in with OAuth, shared by all its
    /// connections.
    source_tokens: Option<TokenBroker>,
    tokens: Option<TokenBroker>,
}

impl Connector {
    pub fn new(job: &Job, opts: &Options) -> Connector {
        let broker = |auth: &AccountAuth| {
            auth.oauth()
                .map(|o| TokenBroker::new(o.clone(), opts.secrets.as_ref().map(|s| s.0.clone())))
        };
        Connector {
            imap: source_imap(job, opts),
            pop3: source_pop3(job, opts),
            destination: destination(job, opts),
            source_auth: job.source.auth.clone(),
            auth: job.destination.auth.clone(),
            throttle: opts.max_bytes_per_second.map(Throttle::new),
            source_tokens: broker(&job.source.auth),
            tokens: broker(&job.destination.auth),
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
        let mut c = self.source_imap_uncompressed(user).await?;
        if let Some(c) = c.as_mut() {
            c.compress_if_wanted().await?;
        }
        Ok(c)
    }

    /// [`Connector::source_imap`], compression not yet on (see
    /// [`ImapClient::compress_if_wanted`]).
    pub async fn source_imap_uncompressed(
        &self,
        user: &UserEntry,
    ) -> Result<Option<ImapClient>, MailError> {
        let Some(ep) = &self.imap else {
            return Ok(None);
        };
        let mut retried = false;
        loop {
            let login = self.source_login(user).await?;
            match ImapClient::connect_uncompressed(ep, &login).await {
                Ok(mut c) => {
                    if let Some(t) = &self.throttle {
                        c.limit_reads(t.clone());
                    }
                    return Ok(Some(c));
                }
                Err(e) if !retried && renew(&self.source_tokens, &login, &e) => retried = true,
                Err(e) => return Err(source_refused(e, &login)),
            }
        }
    }

    /// A POP3 session of `user`, for a job that reads the Inbox over POP3.
    pub async fn source_pop3(&self, user: &UserEntry) -> Result<Pop3Client, MailError> {
        let ep = self.pop3.as_ref().ok_or_else(|| {
            MailError::Internal("POP3 asked of a job that reads no folder over POP3".into())
        })?;
        let mut retried = false;
        loop {
            let login = self.source_login(user).await?;
            match Pop3Client::connect_as(ep, &login).await {
                Ok(mut pop) => {
                    if let Some(t) = &self.throttle {
                        pop.limit_reads(t.clone());
                    }
                    return Ok(pop);
                }
                Err(e) if !retried && renew(&self.source_tokens, &login, &e) => retried = true,
                Err(e) => return Err(source_refused(e, &login)),
            }
        }
    }

    /// The destination session of `user`. A refused login of an admin
    /// acting for the user says so: the mailbox may be missing there.
    pub async fn destination(&self, user: &UserEntry) -> Result<ImapClient, MailError> {
        let mut c = self.destination_uncompressed(user).await?;
        c.compress_if_wanted().await?;
        Ok(c)
    }

    /// [`Connector::destination`], compression not yet on.
    pub async fn destination_uncompressed(
        &self,
        user: &UserEntry,
    ) -> Result<ImapClient, MailError> {
        let mut retried = false;
        let (login, e) = loop {
            let login = login_with(
                &self.auth,
                &self.tokens,
                Side::Destination,
                &user.local_user,
                user.local_password.as_ref(),
            )
            .await?;
            match ImapClient::connect_uncompressed(&self.destination, &login).await {
                Ok(c) => return Ok(c),
                Err(e) if !retried && renew(&self.tokens, &login, &e) => retried = true,
                Err(e) => break (login, e),
            }
        };
        Err(match (e, login.admin()) {
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

    async fn source_login(&self, u: &UserEntry) -> Result<Login, MailError> {
        login_with(
            &self.source_auth,
            &self.source_tokens,
            Side::Source,
            &u.source_user,
            u.source_password.as_ref(),
        )
        .await
    }
}

/// How `user` logs in under `auth`, an OAuth login with a token from
/// `tokens`; a token that cannot be had is the mailbox's error.
async fn login_with(
    auth: &AccountAuth,
    tokens: &Option<TokenBroker>,
    side: Side,
    user: &str,
    own: Option<&Secret>,
) -> Result<Login, MailError> {
    match (auth, tokens) {
        (AccountAuth::OAuth(_), Some(broker)) => match broker.token(user, own).await {
            Ok(token) => Ok(Login::OAuth {
                user: user.to_string(),
                token,
            }),
            Err(e) => Err(MailError::NoToken {
                side,
                user: user.to_string(),
                error: Box::new(e),
            }),
        },
        _ => Ok(login_as(auth, user, own)),
    }
}

/// Whether a failed login is worth one more try with a fresh token: the
/// server refused an OAuth token the broker can replace (an expired or
/// revoked one). The refused token is forgotten, so the next login fetches
/// a new one.
fn renew(tokens: &Option<TokenBroker>, login: &Login, e: &MailError) -> bool {
    match (tokens, login) {
        (Some(broker), Login::OAuth { user, token }) if e.is_token_refused() => {
            broker.refused(user, token);
            broker.can_renew()
        }
        _ => false,
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
        // Without a broker (never made by `Connector::new`): the user
        // list's token as it is.
        AccountAuth::OAuth(_) => Login::OAuth {
            user: user.to_string(),
            token: own.cloned().unwrap_or_default(),
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
