//! The POP3 session: connecting, securing, logging in, and the read-only
//! commands a migration needs.

use base64::Engine as _;

use super::wire::{self, Body, Status, Wire, WireError};
use super::{Fetched, Pop3Endpoint, Pop3MessageError, Pop3Transport};
use crate::dial;
use crate::error::{self, busy, Direction, MailError, Place};
use crate::login::Login;
use crate::net::{self, Stream};
use crate::sasl::{self, Challenge, OAuthMechanism};
use crate::secret::Secret;

/// Capability lists and the like.
const CAPA_LIMIT: usize = 64 * 1024;
/// LIST and UIDL of even a huge mailbox (a line is at most ~80 bytes).
const LISTING_LIMIT: usize = 64 << 20;
/// The header of one message (TOP).
const TOP_LIMIT: usize = 8 << 20;
/// RETR commands sent ahead when pipelining; up to twice this many are in
/// flight, a few kilobytes, so neither side can block the other.
const PIPELINE_WINDOW: usize = 64;
/// RFC 5034: an AUTH command line with its initial response.
const MAX_AUTH_LINE: usize = 255;

/// How to log in, chosen from the greeting, CAPA and the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    Apop(String),
    SaslPlain,
    UserPass,
    OAuth(OAuthMechanism),
}

/// A logged-in POP3 connection. It never sends DELE.
pub struct Pop3Client {
    wire: Wire<Stream>,
    place: Place,
    user: String,
    /// CAPA lines, upper-cased; `None` when the server has no CAPA.
    caps: Option<Vec<String>>,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pop3Client({})", self.place)
    }
}

impl Pop3Client {
    /// Connects (trying each port in turn), secures and logs in.
    ///
    /// The order, after the `+OK` greeting (whose APOP timestamp is kept)
    /// and CAPA (an `-ERR` from an old server is fine):
    ///
    /// 1. [`Pop3Transport::Tls`]: TLS from the first byte, go to 3.
    /// 2. [`Pop3Transport::Stls`] on the plain connection:
    ///    - CAPA lists STLS: STLS, TLS handshake, CAPA again, go to 3;
    ///    - else the greeting has an APOP timestamp: APOP (the password
    ///      itself is never sent);
    ///    - else, only with `allow_plaintext`: USER/PASS in plaintext;
    ///    - else [`MailError::PlaintextRefused`], and nothing was sent.
    /// 3. Over TLS: `AUTH PLAIN` when CAPA lists `SASL ... PLAIN` (initial
    ///    response on the command line if that fits 255 octets, and the
    ///    two-step form otherwise or when the server answers `+ `); else
    ///    USER/PASS.
    ///
    /// A refused login is [`MailError::Login`] with the server's `-ERR`
    /// line. CAPA is asked once more after login, since capabilities may
    /// change then (RFC 2449).
    pub async fn connect(
        ep: &Pop3Endpoint,
        user: &str,
        password: &Secret,
    ) -> Result<Pop3Client, MailError> {
        let login = Login::Password {
            user: user.to_string(),
            password: password.clone(),
        };
        Self::connect_as(ep, &login).await
    }

    /// Like [`Pop3Client::connect`], with any [`Login`]. An admin acting
    /// for the user logs in the same way on the same secured connection,
    /// never with APOP (which has no room for a second name):
    /// [`Login::SaslPlain`] is `AUTH PLAIN` with the user as authorization
    /// identity (RFC 5034), whether or not CAPA lists it, as nothing else
    /// can carry it; [`Login::Separator`] is `USER user<sep>admin` and
    /// `PASS`. Without TLS either needs `allow_plaintext`.
    /// [`Login::OAuth`] is `AUTH OAUTHBEARER`, else `AUTH XOAUTH2`, as CAPA's
    /// `SASL` line offers them; neither is [`MailError::OAuthNotOffered`],
    /// a refused token [`MailError::TokenRefused`].
    pub async fn connect_as(ep: &Pop3Endpoint, login: &Login) -> Result<Pop3Client, MailError> {
        let (stream, place) = dial::dial(&dial::Target {
            side: ep.side,
            host: &ep.host,
            ports: &ep.ports,
            protocol: ep.protocol,
            tls: matches!(ep.transport, Pop3Transport::Tls).then_some(&ep.certs),
            connect_timeout: ep.connect_timeout,
        })
        .await?;
        let client = Pop3Client {
            wire: Wire::new(stream, ep.timeout),
            place,
            user: login.user().to_string(),
            caps: None,
        };
        client.start(ep, login).await
    }

    async fn start(mut self, ep: &Pop3Endpoint, login: &Login) -> Result<Self, MailError> {
        let doing = "waiting for the server's greeting";
        let greeting = match self.wire.read_line().await {
            Ok(line) => line,
            // Silence on a plain connection: a TLS port waiting for a
            // handshake, or a slow server. Ask the port itself.
            Err(WireError::Timeout)
                if !self.wire.get_ref().is_tls()
                    && net::speaks_tls(&ep.host, self.place.port, ep.connect_timeout).await =>
            {
                return Err(MailError::WrongSecurity {
                    place: self.place,
                    server_uses_tls: true,
                });
            }
            Err(e) => return Err(self.wire_err(doing, e)),
        };
        match wire::status(&greeting) {
            Some(Status::Ok) => {}
            Some(Status::Err) => {
                let text = String::from_utf8_lossy(&greeting).into_owned();
                // A server that turns connections away says so in its
                // greeting; try again later.
                return Err(match busy(&text) {
                    Some(b) => b.error(self.place, doing, text),
                    None => MailError::Unavailable {
                        place: self.place,
                        doing: doing.into(),
                        server_text: text,
                    },
                });
            }
            _ if !self.wire.get_ref().is_tls()
                && greeting.len() > 1
                && matches!(greeting[0], 0x15 | 0x16)
                && greeting[1] == 3 =>
            {
                return Err(MailError::WrongSecurity {
                    place: self.place,
                    server_uses_tls: true,
                });
            }
            _ => {
                return Err(MailError::NotMailServer {
                    place: self.place,
                    server_text: wire::excerpt(&greeting),
                })
            }
        }
        self.capa().await?;
        let method = if self.wire.get_ref().is_tls() {
            self.method_for(login, true)?
        } else if self.has("STLS") {
            self = self.stls(ep).await?;
            self.capa().await?;
            self.method_for(login, true)?
        } else if let (Login::Password { .. }, Some(stamp)) =
            (login, wire::apop_timestamp(&greeting))
        {
            Method::Apop(stamp)
        } else if matches!(
            ep.transport,
            Pop3Transport::Stls {
                allow_plaintext: true
            }
        ) {
            self.method_for(login, false)?
        } else {
            return Err(MailError::PlaintextRefused { place: self.place });
        };
        self.login(&method, login).await?;
        self.capa().await?;
        Ok(self)
    }

    /// How `login` is sent: an admin's always its own way; a user's own
    /// password by AUTH PLAIN when offered over TLS, else USER/PASS; a
    /// token by the OAuth mechanism CAPA's SASL line offers.
    fn method_for(&self, login: &Login, tls: bool) -> Result<Method, MailError> {
        Ok(match login {
            Login::SaslPlain { .. } => Method::SaslPlain,
            Login::Separator { .. } => Method::UserPass,
            Login::Password { .. } if tls && self.offers_sasl("PLAIN") => Method::SaslPlain,
            Login::Password { .. } => Method::UserPass,
            Login::OAuth { .. } => match OAuthMechanism::choose(|m| self.offers_sasl(m)) {
                Some(mech) => Method::OAuth(mech),
                None => {
                    return Err(MailError::OAuthNotOffered {
                        place: self.place.clone(),
                        user: self.user.clone(),
                    })
                }
            },
        })
    }

    /// Whether CAPA's `SASL` line lists a mechanism (upper-case name).
    fn offers_sasl(&self, mech: &str) -> bool {
        self.caps.iter().flatten().any(|line| {
            let mut words = line.split_whitespace();
            words.next() == Some("SASL") && words.any(|m| m == mech)
        })
    }

    /// CAPA; keeps what was known when the server refuses it.
    async fn capa(&mut self) -> Result<(), MailError> {
        let doing = "asking for the server's capabilities";
        let (status, _) = self.command("CAPA", doing).await?;
        match status {
            Status::Ok => {
                let data = self.body(CAPA_LIMIT, None, doing).await?;
                let lines =
                    wire::lines(&data).map(|l| String::from_utf8_lossy(l).to_ascii_uppercase());
                self.caps = Some(lines.collect());
            }
            Status::Err => {}
            Status::More => return Err(self.unexpected_more(doing)),
        }
        Ok(())
    }

    async fn stls(mut self, ep: &Pop3Endpoint) -> Result<Self, MailError> {
        let doing = "starting TLS";
        let (status, text) = self.command("STLS", doing).await?;
        if status != Status::Ok {
            return Err(MailError::Refused {
                place: self.place,
                command: "STLS".into(),
                server_text: text,
            });
        }
        let Pop3Client {
            wire,
            place,
            user,
            caps,
        } = self;
        let timeout = ep.timeout;
        let Some(Stream::Plain(tcp)) = wire.into_inner() else {
            return Err(MailError::Protocol {
                place,
                doing: doing.into(),
                detail: "the server sent more than it should right after accepting STLS".into(),
            });
        };
        let stream = dial::secure(tcp, &ep.host, &ep.certs, ep.connect_timeout, &place).await?;
        Ok(Pop3Client {
            wire: Wire::new(stream, timeout),
            place,
            user,
            caps,
        })
    }

    async fn login(&mut self, method: &Method, login: &Login) -> Result<(), MailError> {
        let doing = "logging in";
        if let Method::OAuth(mech) = method {
            return self.login_oauth(*mech, login).await;
        }
        // The name that proves itself with the password; `authzid` is who
        // it acts for (SASL PLAIN only).
        let user = login.login_name().into_owned();
        let authzid = login.authzid();
        let pass = login.password().expose();
        let unsafe_char = |s: &str| s.contains(['\r', '\n', '\0']);
        if unsafe_char(&user)
            || unsafe_char(authzid)
            || unsafe_char(pass)
            || user.contains(' ') && method != &Method::SaslPlain
        {
            return Err(self.login_err(
                "(not sent: the user name or password holds a character this login cannot carry)"
                    .into(),
            ));
        }
        let (status, text) = match method {
            Method::Apop(stamp) => {
                let line = format!("APOP {user} {}", wire::apop_digest(stamp, pass));
                self.command(&line, doing).await?
            }
            Method::UserPass => {
                let (status, text) = self.command(&format!("USER {user}"), doing).await?;
                match status {
                    Status::Ok => self.command(&format!("PASS {pass}"), doing).await?,
                    _ => (status, text),
                }
            }
            Method::OAuth(_) => unreachable!("sent by login_oauth"),
            Method::SaslPlain => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{authzid}\0{user}\0{pass}"));
                let line = format!("AUTH PLAIN {token}");
                let (status, text) = match line.len() + 2 <= MAX_AUTH_LINE {
                    true => self.command(&line, doing).await?,
                    false => self.command("AUTH PLAIN", doing).await?,
                };
                match status {
                    Status::More => {
                        let (status, text) = self.command(&token, doing).await?;
                        if status == Status::More {
                            // A second challenge PLAIN has no answer for.
                            self.command("*", doing).await?
                        } else {
                            (status, text)
                        }
                    }
                    _ => (status, text),
                }
            }
        };
        match status {
            Status::Ok => Ok(()),
            Status::Err => Err(self.login_err(text)),
            Status::More => Err(self.unexpected_more(doing)),
        }
    }

    /// `AUTH OAUTHBEARER` or `AUTH XOAUTH2` (RFC 5034): the initial
    /// response on the command line when that fits 255 octets (tokens
    /// rarely do), else after the server's empty `+ `. A `+ ` after the
    /// token carries the server's error JSON; the mechanism's answer to it
    /// (not `*`, which Dovecot reports as an abort) brings the `-ERR`.
    async fn login_oauth(&mut self, mech: OAuthMechanism, login: &Login) -> Result<(), MailError> {
        let doing = "logging in";
        let Some(first) = mech.initial_response(login.user(), login.password()) else {
            return Err(self.login_err(
                "(not sent: the user name or token holds a character OAuth sign-in cannot carry)"
                    .into(),
            ));
        };
        let first = Secret::new(sasl::base64(first.expose().as_bytes()));
        let with_first = Secret::new(format!("AUTH {} {}", mech.name(), first.expose()));
        let inline = with_first.expose().len() + 2 <= MAX_AUTH_LINE;
        let (mut status, mut text) = match inline {
            true => self.command(with_first.expose(), doing).await?,
            false => {
                self.command(&format!("AUTH {}", mech.name()), doing)
                    .await?
            }
        };
        let mut first = (!inline).then_some(first);
        let mut challenge = None;
        let mut answered = 0;
        while status == Status::More {
            (status, text) = if let Some(first) = first.take() {
                self.command(first.expose(), doing).await?
            } else if answered == 0 {
                answered += 1;
                challenge = Some(Challenge::read_base64(
                    text.strip_prefix('+').unwrap_or_default(),
                ));
                let answer = sasl::base64(mech.answer_to_error());
                self.command(&answer, doing).await?
            } else if answered == 1 {
                // A second challenge: cancel (RFC 5034).
                answered += 1;
                self.command("*", doing).await?
            } else {
                return Err(self.unexpected_more(doing));
            };
        }
        match status {
            Status::Ok => Ok(()),
            _ => Err(match busy(&text) {
                Some(b) => b.error(self.place.clone(), doing, text),
                None => MailError::TokenRefused {
                    place: self.place.clone(),
                    user: self.user.clone(),
                    problem: Box::new(sasl::problem_of(challenge.as_ref())),
                    server_text: sasl::server_text(challenge.as_ref(), &text),
                },
            }),
        }
    }

    /// From now on, what this connection reads draws on the job's
    /// bandwidth.
    pub fn limit_reads(&mut self, throttle: net::Throttle) {
        self.wire.limit_reads(throttle);
    }

    /// Where this connection goes, for messages.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// The mailbox this connection is logged in to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether CAPA lists a capability (upper-case name, e.g. "PIPELINING").
    pub fn has(&self, cap: &str) -> bool {
        self.caps
            .iter()
            .flatten()
            .any(|line| line.split_whitespace().next() == Some(cap))
    }

    /// STAT: the number of messages and their total size in octets.
    pub async fn stat(&mut self) -> Result<(u32, u64), MailError> {
        let doing = "counting messages (STAT)";
        let text = self.command_ok("STAT", doing).await?;
        wire::parse_stat(&text).ok_or_else(|| {
            self.protocol(
                doing,
                format!("STAT answered {}", wire::excerpt(text.as_bytes())),
            )
        })
    }

    /// UIDL: every message number with its unique id.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, MailError> {
        self.listing("UIDL", "listing unique ids (UIDL)", wire::uid)
            .await
    }

    /// LIST: every message number with its size in octets.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, MailError> {
        self.listing("LIST", "listing message sizes (LIST)", |w| w.parse().ok())
            .await
    }

    async fn listing<T>(
        &mut self,
        cmd: &str,
        doing: &str,
        value: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<(u32, T)>, MailError> {
        self.command_ok(cmd, doing).await?;
        let data = self.body(LISTING_LIMIT, None, doing).await?;
        wire::parse_listing(&data, value).map_err(|detail| self.protocol(doing, detail))
    }

    /// TOP: the header and the first `lines` lines of the body (0: the
    /// header and the blank line after it). Unlike RETR, Dovecot does not
    /// mark the message \Seen for TOP.
    pub async fn top(&mut self, msgno: u32, lines: u32) -> Result<Fetched, MailError> {
        if self.caps.is_some() && !self.has("TOP") {
            return Err(MailError::Refused {
                place: self.place.clone(),
                command: "TOP".into(),
                server_text: "its capabilities (CAPA) do not list TOP".into(),
            });
        }
        self.send(
            &format!("TOP {msgno} {lines}\r\n"),
            "reading a message header",
        )
        .await?;
        self.read_message(msgno, TOP_LIMIT).await
    }

    /// Whether TOP may be tried: CAPA lists it, or the server has no CAPA
    /// (TOP is optional in RFC 1939; such a server answers `-ERR` if it
    /// lacks it, a [`Pop3MessageError`] for each message).
    pub fn can_top(&self) -> bool {
        self.caps.is_none() || self.has("TOP")
    }

    /// TOP of several messages, in the order given: each one's header and
    /// its first `lines` lines. Pipelined like [`Pop3Client::retr_many`]
    /// when the server has PIPELINING; a header over 8 MB or a message the
    /// server refuses is a [`Pop3MessageError`] and the session goes on.
    pub async fn top_many(
        &mut self,
        msgnos: &[u32],
        lines: u32,
    ) -> Result<Vec<Fetched>, MailError> {
        let mut out = Vec::with_capacity(msgnos.len());
        if !self.has("PIPELINING") {
            for &n in msgnos {
                out.push(self.top(n, lines).await?);
            }
            return Ok(out);
        }
        let doing = "reading message headers";
        let send = |msgnos: &[u32]| -> String {
            msgnos
                .iter()
                .map(|n| format!("TOP {n} {lines}\r\n"))
                .collect()
        };
        let batches: Vec<&[u32]> = msgnos.chunks(PIPELINE_WINDOW).collect();
        if let Some(first) = batches.first() {
            self.send(&send(first), doing).await?;
        }
        for (i, batch) in batches.iter().enumerate() {
            if let Some(next) = batches.get(i + 1) {
                self.send(&send(next), doing).await?;
            }
            for &n in batch.iter() {
                out.push(self.read_message(n, TOP_LIMIT).await?);
            }
        }
        Ok(out)
    }

    /// RETR: one message, byte for byte. A message over `max_bytes` (or one
    /// the server refuses) is a [`Pop3MessageError`] and the session goes on.
    /// Dovecot marks what RETR read \Seen when the session ends, unless RSET
    /// came after: [`Pop3Client::quit`] and [`Pop3Client::retr_many`] send it.
    pub async fn retr(&mut self, msgno: u32, max_bytes: usize) -> Result<Fetched, MailError> {
        self.send(&format!("RETR {msgno}\r\n"), "downloading a message")
            .await?;
        self.read_message(msgno, max_bytes).await
    }

    /// RETR of several messages, in the order given, then RSET (so that a
    /// connection lost later marks none of them \Seen on Dovecot). With
    /// PIPELINING the commands go out in batches of 64, each in one write
    /// while the replies of the previous batch are read; without it, one
    /// message at a time. Every message is held in memory: pass batches.
    pub async fn retr_many(
        &mut self,
        msgnos: &[u32],
        max_bytes: usize,
    ) -> Result<Vec<Fetched>, MailError> {
        let doing = "downloading messages";
        let mut out = Vec::with_capacity(msgnos.len());
        if msgnos.is_empty() {
            return Ok(out);
        }
        if !self.has("PIPELINING") {
            for &n in msgnos {
                out.push(self.retr(n, max_bytes).await?);
            }
            self.command("RSET", doing).await?;
            return Ok(out);
        }
        let batches: Vec<&[u32]> = msgnos.chunks(PIPELINE_WINDOW).collect();
        self.send_retrs(batches[0], batches.len() == 1).await?;
        for (i, batch) in batches.iter().enumerate() {
            if let Some(next) = batches.get(i + 1) {
                self.send_retrs(next, i + 2 == batches.len()).await?;
            }
            for &n in batch.iter() {
                out.push(self.read_message(n, max_bytes).await?);
            }
        }
        self.reply(doing).await?;
        Ok(out)
    }

    async fn send_retrs(&mut self, msgnos: &[u32], last: bool) -> Result<(), MailError> {
        let mut lines: String = msgnos.iter().map(|n| format!("RETR {n}\r\n")).collect();
        if last {
            lines.push_str("RSET\r\n");
        }
        self.send(&lines, "downloading messages").await
    }

    /// The reply to a RETR or TOP already sent.
    async fn read_message(&mut self, msgno: u32, limit: usize) -> Result<Fetched, MailError> {
        let doing = format!("downloading message {msgno}");
        let what = format!("message {msgno}");
        let (status, text) = self
            .reply(&doing)
            .await
            .map_err(|e| e.on_fetch(what.clone()))?;
        match status {
            Status::Ok => {}
            Status::Err => {
                return Ok(Err(Pop3MessageError::Refused {
                    place: self.place.clone(),
                    msgno,
                    server_text: text,
                }))
            }
            Status::More => return Err(self.unexpected_more(&doing)),
        }
        let body = self.wire.read_body(limit, wire::octets(&text)).await;
        Ok(
            match body.map_err(|e| self.wire_err(&doing, e).on_fetch(what))? {
                Body::Data(data) => Ok(data),
                Body::TooLarge(size) => Err(Pop3MessageError::TooLarge {
                    place: self.place.clone(),
                    msgno,
                    size,
                    limit: limit as u64,
                }),
            },
        )
    }

    /// NOOP: keeps an idle session alive.
    pub async fn noop(&mut self) -> Result<(), MailError> {
        self.command_ok("NOOP", "keeping the connection alive")
            .await
            .map(|_| ())
    }

    /// RSET (so that nothing read is marked \Seen on servers that do that
    /// at QUIT, like Dovecot) and QUIT, ignoring a server that has gone.
    pub async fn quit(mut self) {
        if self.send("RSET\r\n", "resetting").await.is_ok() {
            let _ = self.reply("resetting").await;
        }
        if self.send("QUIT\r\n", "logging out").await.is_ok() {
            let _ = self.reply("logging out").await;
        }
        self.wire.shutdown().await;
    }

    // ---- lines and errors ----

    async fn send(&mut self, line: &str, doing: &str) -> Result<(), MailError> {
        let sent = self.wire.send(line.as_bytes()).await;
        sent.map_err(|e| match self.wire_err(doing, e) {
            MailError::Timeout {
                place,
                doing,
                after,
                ..
            } => MailError::Timeout {
                place,
                doing,
                after,
                direction: Direction::Write,
            },
            other => other,
        })
    }

    /// Reads one status line: its status and the line itself.
    async fn reply(&mut self, doing: &str) -> Result<(Status, String), MailError> {
        let line = self.wire.read_line().await;
        let line = line.map_err(|e| self.wire_err(doing, e))?;
        match wire::status(&line) {
            Some(status) => Ok((status, String::from_utf8_lossy(&line).into_owned())),
            None => Err(self.protocol(
                doing,
                format!("expected +OK or -ERR, got {}", wire::excerpt(&line)),
            )),
        }
    }

    /// Sends a command line (which may hold a secret: it never goes into an
    /// error) and reads its status line.
    async fn command(&mut self, line: &str, doing: &str) -> Result<(Status, String), MailError> {
        self.send(&format!("{line}\r\n"), doing).await?;
        self.reply(doing).await
    }

    /// A command that must answer `+OK`; returns that line.
    async fn command_ok(&mut self, cmd: &str, doing: &str) -> Result<String, MailError> {
        match self.command(cmd, doing).await? {
            (Status::Ok, text) => Ok(text),
            (Status::Err, text) => Err(error::refused(self.place.clone(), cmd, doing, text)),
            (Status::More, _) => Err(self.unexpected_more(doing)),
        }
    }

    /// A multi-line reply's data that must fit `limit`.
    async fn body(
        &mut self,
        limit: usize,
        hint: Option<u64>,
        doing: &str,
    ) -> Result<Vec<u8>, MailError> {
        let body = self.wire.read_body(limit, hint).await;
        match body.map_err(|e| self.wire_err(doing, e))? {
            Body::Data(data) => Ok(data),
            Body::TooLarge(size) => {
                Err(self.protocol(doing, format!("the reply was far too long ({size} bytes)")))
            }
        }
    }

    fn wire_err(&self, doing: &str, e: WireError) -> MailError {
        let place = self.place.clone();
        let doing = doing.to_string();
        match e {
            WireError::Timeout => MailError::Timeout {
                place,
                doing,
                after: self.wire.timeout(),
                direction: Direction::Read,
            },
            WireError::Closed => MailError::Disconnected { place, doing },
            WireError::TooLong => MailError::Protocol {
                place,
                doing,
                detail: "a reply was far too long".into(),
            },
        }
    }

    fn protocol(&self, doing: &str, detail: String) -> MailError {
        MailError::Protocol {
            place: self.place.clone(),
            doing: doing.into(),
            detail,
        }
    }

    fn unexpected_more(&self, doing: &str) -> MailError {
        self.protocol(doing, "a continuation (+) where none was expected".into())
    }

    /// A refused login; `[IN-USE]`, `[SYS/TEMP]` or `[LOGIN-DELAY]` in its
    /// words mean "later", not "wrong password".
    fn login_err(&self, server_text: String) -> MailError {
        match busy(&server_text) {
            Some(b) => b.error(self.place.clone(), "logging in", server_text),
            None => MailError::Login {
                place: self.place.clone(),
                user: self.user.clone(),
                server_text,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::Side;
    use crate::net::CertPolicy;

    /// A scripted server (`crate::net::script`).
    async fn fake(
        greeting: &'static str,
        replies: Vec<&'static str>,
    ) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let replies = replies.into_iter().map(String::from).collect();
        crate::net::script::serve(greeting, replies).await
    }

    fn endpoint(port: u16, allow_plaintext: bool) -> Pop3Endpoint {
        Pop3Endpoint {
            side: Side::Source,
            host: "127.0.0.1".into(),
            ports: vec![port],
            transport: Pop3Transport::Stls { allow_plaintext },
            certs: CertPolicy::System,
            protocol: "POP3",
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn apop_when_there_is_no_stls_and_the_password_is_not_sent() {
        let (port, server) = fake(
            "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
            vec![
                "+OK\r\nUSER\r\nTOP\r\n.\r\n",
                "+OK maildrop has 1 message\r\n",
                "-ERR\r\n",
            ],
        )
        .await;
        let secret = Secret::new("tanstaaf");
        let client = Pop3Client::connect(&endpoint(port, false), "mrose", &secret)
            .await
            .unwrap();
        assert!(
            client.has("TOP"),
            "CAPA before login is kept when the later one fails"
        );
        drop(client);
        assert_eq!(
            server.await.unwrap(),
            [
                "CAPA",
                "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
                "CAPA"
            ]
        );
    }

    #[tokio::test]
    async fn no_stls_and_no_apop_refuses_plaintext_before_sending_anything() {
        let (port, server) = fake("+OK ready\r\n", vec!["+OK\r\nUSER\r\n.\r\n"]).await;
        let err = Pop3Client::connect(&endpoint(port, false), "u", &Secret::new("pw"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::PlaintextRefused { .. }), "{err}");
        assert_eq!(server.await.unwrap(), ["CAPA"]);
    }

    fn oauth(token: &str) -> Login {
        Login::OAuth {
            user: "jane@example.com".into(),
            token: Secret::new(token),
        }
    }

    /// OAUTHBEARER is preferred; Dovecot's error challenge is answered
    /// with ^A (so its `-ERR` is the real refusal) and its JSON read.
    #[tokio::test]
    async fn an_oauthbearer_refusal_is_read_from_the_error_challenge() {
        let (port, server) = fake(
            "+OK ready <1.2@x>\r\n",
            vec![
                "+OK\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n",
                "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n",
                "-ERR [AUTH] Authentication failed.\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect_as(&endpoint(port, true), &oauth("tok"))
            .await
            .unwrap_err();
        let MailError::TokenRefused {
            problem,
            server_text,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(
            **problem,
            crate::error::TokenProblem::Invalid { scope: None }
        );
        assert_eq!(
            server_text,
            r#"{"status":"invalid_token"} -ERR [AUTH] Authentication failed."#
        );
        let first = base64::engine::general_purpose::STANDARD
            .encode("n,a=jane@example.com,\x01auth=Bearer tok\x01\x01");
        assert_eq!(
            server.await.unwrap(),
            [
                "CAPA".to_string(),
                format!("AUTH OAUTHBEARER {first}"),
                "AQ==".into()
            ]
        );
    }

    /// A token too long for a 255-octet command line follows the server's
    /// empty `+ `; XOAUTH2's answer to an error is an empty line; a second
    /// challenge is cancelled with `*`.
    #[tokio::test]
    async fn a_long_xoauth2_token_goes_after_the_continuation() {
        let token = "t".repeat(300);
        let (port, server) = fake(
            "+OK ready\r\n",
            vec![
                "+OK\r\nSASL PLAIN XOAUTH2\r\n.\r\n",
                "+ \r\n",
                "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=\r\n",
                "+ again\r\n",
                "-ERR Authentication aborted by client.\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect_as(&endpoint(port, true), &oauth(&token))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            MailError::TokenRefused {
                place: err_place(&err),
                user: "jane@example.com".into(),
                problem: Box::new(crate::error::TokenProblem::Invalid {
                    scope: Some("mail".into())
                }),
                server_text: r#"{"status":"401","schemes":"bearer","scope":"mail"} -ERR Authentication aborted by client."#.into(),
            }
        );
        let first = base64::engine::general_purpose::STANDARD.encode(format!(
            "user=jane@example.com\x01auth=Bearer {token}\x01\x01"
        ));
        assert_eq!(
            server.await.unwrap(),
            ["CAPA", "AUTH XOAUTH2", &first, "", "*"]
        );
    }

    fn err_place(e: &MailError) -> Place {
        match e {
            MailError::TokenRefused { place, .. } => place.clone(),
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn oauth_without_an_oauth_mechanism_in_capa_is_not_offered() {
        for capa in ["+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n", "-ERR no CAPA\r\n"] {
            let (port, server) = fake("+OK ready <1.2@x>\r\n", vec![capa]).await;
            let err = Pop3Client::connect_as(&endpoint(port, true), &oauth("tok"))
                .await
                .unwrap_err();
            assert!(matches!(err, MailError::OAuthNotOffered { .. }), "{err}");
            assert_eq!(server.await.unwrap(), ["CAPA"]);
        }
    }

    /// A refusal with no challenge (Microsoft 365's POP) lists the likely
    /// causes; `[SYS/TEMP]` stays transient.
    #[tokio::test]
    async fn a_bare_pop3_refusal_of_a_token_is_unexplained_and_a_busy_one_transient() {
        let (port, _server) = fake(
            "+OK ready\r\n",
            vec![
                "+OK\r\nSASL XOAUTH2\r\n.\r\n",
                "-ERR Authentication failure: unknown user name or bad password.\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect_as(&endpoint(port, true), &oauth("tok"))
            .await
            .unwrap_err();
        assert!(err.is_token_refused(), "{err}");
        assert!(err.to_string().contains("-PopEnabled $true"), "{err}");
        let (port, _server) = fake(
            "+OK ready\r\n",
            vec![
                "+OK\r\nSASL XOAUTH2\r\n.\r\n",
                "-ERR [SYS/TEMP] try later\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect_as(&endpoint(port, true), &oauth("tok"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Unavailable { .. }), "{err}");
    }

    fn admin_sasl() -> Login {
        Login::SaslPlain {
            authzid: "jane".into(),
            authcid: "root".into(),
            password: Secret::new("rootpw"),
        }
    }

    fn admin_separator() -> Login {
        Login::Separator {
            user: "jane".into(),
            separator: "*".into(),
            admin: "root".into(),
            password: Secret::new("rootpw"),
        }
    }

    #[tokio::test]
    async fn an_admin_logs_in_by_auth_plain_with_the_user_as_authorization_identity() {
        // No SASL in CAPA and an APOP stamp: neither changes an admin's login.
        let (port, server) = fake(
            "+OK ready <1.2@x>\r\n",
            vec!["+OK\r\nUSER\r\n.\r\n", "+OK welcome\r\n", "-ERR\r\n"],
        )
        .await;
        let client = Pop3Client::connect_as(&endpoint(port, true), &admin_sasl())
            .await
            .unwrap();
        assert_eq!(client.user(), "jane");
        drop(client);
        let token = base64::engine::general_purpose::STANDARD.encode("jane\0root\0rootpw");
        assert_eq!(
            server.await.unwrap(),
            [
                "CAPA".to_string(),
                format!("AUTH PLAIN {token}"),
                "CAPA".into()
            ]
        );
    }

    #[tokio::test]
    async fn an_admin_logs_in_by_user_and_pass_with_the_separator_form() {
        let (port, server) = fake(
            "+OK ready <1.2@x>\r\n",
            vec![
                "+OK\r\nSASL PLAIN\r\n.\r\n",
                "+OK\r\n",
                "+OK welcome\r\n",
                "-ERR\r\n",
            ],
        )
        .await;
        let client = Pop3Client::connect_as(&endpoint(port, true), &admin_separator())
            .await
            .unwrap();
        drop(client);
        assert_eq!(
            server.await.unwrap(),
            ["CAPA", "USER jane*root", "PASS rootpw", "CAPA"]
        );
    }

    #[tokio::test]
    async fn an_admins_password_is_not_sent_in_clear_unless_allowed_not_even_by_apop() {
        for login in [admin_sasl(), admin_separator()] {
            let (port, server) = fake("+OK ready <1.2@x>\r\n", vec!["+OK\r\nUSER\r\n.\r\n"]).await;
            let err = Pop3Client::connect_as(&endpoint(port, false), &login)
                .await
                .unwrap_err();
            assert!(matches!(err, MailError::PlaintextRefused { .. }), "{err}");
            assert_eq!(server.await.unwrap(), ["CAPA"]);
        }
    }

    #[tokio::test]
    async fn a_refused_admin_login_is_a_login_error_for_the_user() {
        let (port, _server) = fake(
            "+OK ready\r\n",
            vec![
                "+OK\r\nUSER\r\n.\r\n",
                "-ERR [AUTH] Authentication failed.\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect_as(&endpoint(port, true), &admin_sasl())
            .await
            .unwrap_err();
        let MailError::Login {
            user, server_text, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(user, "jane");
        assert_eq!(server_text, "-ERR [AUTH] Authentication failed.");
        assert!(!format!("{err} {err:?}").contains("rootpw"));
    }

    #[tokio::test]
    async fn user_pass_on_an_old_server_when_allowed_and_a_refusal_is_a_login_error() {
        let (port, server) = fake(
            "+OK ready\r\n",
            vec![
                "-ERR unknown command\r\n",
                "+OK\r\n",
                "-ERR [AUTH] Authentication failed.\r\n",
            ],
        )
        .await;
        let err = Pop3Client::connect(&endpoint(port, true), "u", &Secret::new("hunter2"))
            .await
            .unwrap_err();
        let MailError::Login { server_text, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(server_text, "-ERR [AUTH] Authentication failed.");
        assert!(err
            .to_string()
            .contains("the server refused the user name or password. Check both in the user list"));
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        assert_eq!(server.await.unwrap(), ["CAPA", "USER u", "PASS hunter2"]);
    }

    #[tokio::test]
    async fn garbage_and_refusals_in_the_greeting() {
        let (port, _) = fake("* OK IMAP4rev1 ready\r\n", vec![]).await;
        let err = Pop3Client::connect(&endpoint(port, true), "u", &Secret::new("p"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, MailError::NotMailServer { server_text, .. } if server_text.contains("* OK IMAP4rev1")),
            "{err:?}"
        );
        assert_eq!(err.class(), crate::error::ErrorClass::FatalForMailbox);
        assert!(err.to_string().contains("is not a POP3 server"), "{err}");
        // A server turning connections away: later, not never.
        let (port, _) = fake("-ERR [SYS/TEMP] too many connections\r\n", vec![]).await;
        let err = Pop3Client::connect(&endpoint(port, true), "u", &Secret::new("p"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Throttled { .. }), "{err:?}");
        assert_eq!(err.class(), crate::error::ErrorClass::Transient);
        let (port, _) = fake("-ERR [IN-USE] mailbox locked\r\n", vec![]).await;
        let err = Pop3Client::connect(&endpoint(port, true), "u", &Secret::new("p"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Unavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn data_sent_along_with_the_stls_answer_is_refused() {
        let (port, _) = fake(
            "+OK ready\r\n",
            vec!["+OK\r\nSTLS\r\n.\r\n", "+OK Begin TLS\r\n+OK injected\r\n"],
        )
        .await;
        let err = Pop3Client::connect(&endpoint(port, false), "u", &Secret::new("p"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, MailError::Protocol { detail, .. } if detail.contains("STLS")),
            "{err:?}"
        );
    }

    /// A client over a plain connection to a scripted server, past the
    /// greeting, to drive one exchange directly.
    async fn scripted(
        replies: Vec<&'static str>,
        caps: &[&str],
    ) -> (Pop3Client, tokio::task::JoinHandle<Vec<String>>) {
        let (port, server) = fake("+OK\r\n", replies).await;
        let tcp = net::connect_tcp("127.0.0.1", port, Duration::from_secs(5))
            .await
            .unwrap();
        let mut client = Pop3Client {
            wire: Wire::new(Stream::Plain(tcp), Duration::from_secs(5)),
            place: Place {
                side: Side::Source,
                host: "127.0.0.1".into(),
                port,
                protocol: "POP3",
            },
            user: "u".into(),
            caps: Some(caps.iter().map(|c| c.to_string()).collect()),
        };
        client.wire.read_line().await.unwrap();
        (client, server)
    }

    /// The login of the scripted client's user `u` with her own password.
    fn own(password: &str) -> Login {
        Login::Password {
            user: "u".into(),
            password: Secret::new(password),
        }
    }

    #[tokio::test]
    async fn auth_plain_with_an_initial_response_and_in_two_steps() {
        let token = "AHUAcHc="; // "\0u\0pw"
        let (mut client, server) = scripted(vec!["+OK\r\n"], &[]).await;
        client.login(&Method::SaslPlain, &own("pw")).await.unwrap();
        drop(client);
        assert_eq!(server.await.unwrap(), [format!("AUTH PLAIN {token}")]);

        // A server that ignores the initial response and asks for it.
        let (mut client, server) = scripted(vec!["+ \r\n", "+OK\r\n"], &[]).await;
        client.login(&Method::SaslPlain, &own("pw")).await.unwrap();
        drop(client);
        assert_eq!(
            server.await.unwrap(),
            [format!("AUTH PLAIN {token}"), token.into()]
        );

        // Too long for one 255-octet line: two steps from the start.
        let long = "p".repeat(200);
        let (mut client, server) = scripted(vec!["+ \r\n", "-ERR [AUTH] no\r\n"], &[]).await;
        let err = client
            .login(&Method::SaslPlain, &own(&long))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, MailError::Login { server_text, .. } if server_text == "-ERR [AUTH] no")
        );
        assert!(!format!("{err} {err:?}").contains(&long));
        drop(client);
        let seen = server.await.unwrap();
        assert_eq!(seen[0], "AUTH PLAIN");
        assert!(seen[1].len() > 255);
    }

    #[tokio::test]
    async fn line_breaks_in_credentials_are_never_sent() {
        let (mut client, server) = scripted(vec!["+OK\r\n"], &[]).await;
        let err = client
            .login(&Method::UserPass, &own("pw\r\nDELE 1"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Login { .. }), "{err:?}");
        drop(client);
        assert!(server.await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pipelined_retr_reads_replies_in_order_past_errors_and_oversized_ones() {
        let (mut client, server) = scripted(
            vec![
                "+OK 3 octets\r\na\r\n.\r\n",
                "-ERR no such message\r\n",
                "+OK\r\n0123456789\r\n.\r\n",
                "+OK\r\n..\r\n.\r\n",
                "+OK\r\n",
            ],
            &["PIPELINING"],
        )
        .await;
        let got = client.retr_many(&[1, 9, 2, 3], 8).await.unwrap();
        assert_eq!(got[0], Ok(b"a\r\n".to_vec()));
        assert!(matches!(
            &got[1],
            Err(Pop3MessageError::Refused { msgno: 9, .. })
        ));
        let Err(too_large) = &got[2] else { panic!() };
        assert_eq!(too_large.msgno(), 2);
        assert!(
            too_large.to_string().contains("Message 2 on"),
            "{too_large}"
        );
        assert!(too_large.to_string().contains("12 bytes"), "{too_large}");
        assert_eq!(got[3], Ok(b".\r\n".to_vec()));
        drop(client);
        assert_eq!(
            server.await.unwrap(),
            ["RETR 1", "RETR 9", "RETR 2", "RETR 3", "RSET"]
        );
    }

    #[tokio::test]
    async fn pipelined_top_reads_headers_in_order_past_a_refused_one() {
        let (mut client, server) = scripted(
            vec![
                "+OK\r\nSubject: a\r\n\r\n.\r\n",
                "-ERR no such message\r\n",
                "+OK\r\nSubject: c\r\n\r\n.\r\n",
            ],
            &["PIPELINING", "TOP"],
        )
        .await;
        assert!(client.can_top());
        let got = client.top_many(&[1, 9, 3], 0).await.unwrap();
        assert_eq!(got[0], Ok(b"Subject: a\r\n\r\n".to_vec()));
        assert!(matches!(
            &got[1],
            Err(Pop3MessageError::Refused { msgno: 9, .. })
        ));
        assert_eq!(got[2], Ok(b"Subject: c\r\n\r\n".to_vec()));
        drop(client);
        assert_eq!(server.await.unwrap(), ["TOP 1 0", "TOP 9 0", "TOP 3 0"]);
    }

    #[tokio::test]
    async fn malformed_listings_and_stat_are_protocol_errors() {
        let (mut client, _server) = scripted(
            vec![
                "+OK\r\n1 abc\r\nnonsense\r\n.\r\n",
                "+OK lots\r\n",
                "-ERR no UIDL here\r\n",
            ],
            &[],
        )
        .await;
        let err = client.uidl().await.unwrap_err();
        assert!(
            matches!(&err, MailError::Protocol { detail, .. } if detail.contains("nonsense")),
            "{err:?}"
        );
        assert!(matches!(
            client.stat().await,
            Err(MailError::Protocol { .. })
        ));
        assert!(matches!(
            client.uidl().await,
            Err(MailError::Refused { .. })
        ));
        assert!(matches!(
            client.top(1, 0).await,
            Err(MailError::Refused { .. })
        ));
        assert!(matches!(
            client.list().await,
            Err(MailError::Disconnected { .. })
        ));
    }
}
