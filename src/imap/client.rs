//! The IMAP client a migration uses, wrapping an async-imap session.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_imap::imap_proto::{
    self, AttributeValue, MailboxDatum, Response, ResponseCode, Status, StatusAttribute,
};
use async_imap::{Authenticator, Client, Session};
use tokio::io::AsyncWriteExt;

use super::codes::{self, outcome_text};
use super::listing::{self, ListedFolder};
use super::raw::{self, FolderSize, RawError};
use super::{quote, utf7};
use crate::compress::CompressMode;
use crate::dial;
use crate::error::{self, busy, Direction, MailError, Place, Side};
use crate::net::{self, CertPolicy, Stream, Timed};
use crate::sasl::{self, Challenge, OAuthMechanism};
use crate::secret::Secret;

mod quota;
pub use quota::Quota;

/// The header fields that, with the size, identify a message's content on
/// both sides (the dedup key; `copy::key::KEY_FIELDS` lists the same).
pub const HEADER_FIELDS: &str = "MESSAGE-ID DATE FROM TO CC SUBJECT IN-REPLY-TO";

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS from the first byte (IMAP4S, port 993).
    Tls,
    /// STARTTLS when the server offers it; without it, plaintext only when
    /// `allow_plaintext`.
    StartTls { allow_plaintext: bool },
    /// No TLS at all (explicitly chosen).
    Plain,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub side: Side,
    pub host: String,
    /// Tried in order until one connects.
    pub ports: Vec<u16>,
    pub transport: Transport,
    pub certs: CertPolicy,
    pub protocol: &'static str,
    /// How long a read or write may wait for a byte; also the limit for
    /// logging in.
    pub timeout: Duration,
    /// How long connecting (TCP, then TLS) may take.
    pub connect_timeout: Duration,
    /// When to ask the server for COMPRESS=DEFLATE.
    pub compress: CompressMode,
}

/// How to log in (shared with POP3).
pub use crate::login::Login;

/// What SELECT or EXAMINE told about a folder.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub exists: u32,
    pub uid_validity: u32,
    pub uid_next: Option<u32>,
    /// Flags that may be stored permanently; `\*` means any keyword.
    pub permanent_flags: Vec<String>,
}

/// What STATUS told about a folder that need not be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderStatus {
    pub messages: u32,
    pub uid_next: u32,
    pub uid_validity: u32,
}

impl Selected {
    pub fn allows_keyword(&self, keyword: &str) -> bool {
        self.permanent_flags
            .iter()
            .any(|f| f == "\\*" || f.eq_ignore_ascii_case(keyword))
    }
}

/// A message's metadata and its dedup key material.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    pub uid: u32,
    pub size: u64,
    pub flags: Vec<String>,
    /// INTERNALDATE exactly as the server wrote it, time zone included.
    pub internal_date: Option<String>,
    /// The bytes of the [`HEADER_FIELDS`] section.
    pub header_fields: Vec<u8>,
}

/// A message fetched whole, with its flags and INTERNALDATE as they are
/// when it is fetched (so that what was planned need not keep them).
#[derive(Debug)]
pub struct FetchedBody {
    pub uid: u32,
    pub body: MessageBytes,
    pub flags: Vec<String>,
    /// INTERNALDATE exactly as the server wrote it, time zone included.
    pub internal_date: Option<String>,
}

/// A message's bytes: read by the IMAP client straight into a buffer that is
/// kept as it is (a message is not copied after it arrives), or any vector.
pub struct MessageBytes(Repr);

enum Repr {
    Vec(Vec<u8>),
    Kept(Box<dyn Held>),
}

/// A buffer that holds the message at `range`.
trait Held: Send + Sync {
    fn bytes(&self) -> &[u8];
}

struct Keep<T> {
    owner: T,
    range: std::ops::Range<usize>,
    view: for<'a> fn(&'a T) -> &'a [u8],
}

impl<T: Send + Sync> Held for Keep<T> {
    fn bytes(&self) -> &[u8] {
        (self.view)(&self.owner)
            .get(self.range.clone())
            .unwrap_or_default()
    }
}

impl MessageBytes {
    /// `range` of what `view` shows of `owner` (async-imap's response type
    /// can't be named outside it, hence the function).
    fn kept<T: Send + Sync + 'static>(
        owner: T,
        range: std::ops::Range<usize>,
        view: for<'a> fn(&'a T) -> &'a [u8],
    ) -> MessageBytes {
        MessageBytes(Repr::Kept(Box::new(Keep { owner, range, view })))
    }
}

impl From<Vec<u8>> for MessageBytes {
    fn from(v: Vec<u8>) -> MessageBytes {
        MessageBytes(Repr::Vec(v))
    }
}

impl std::ops::Deref for MessageBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Vec(v) => v,
            Repr::Kept(k) => k.bytes(),
        }
    }
}

impl std::fmt::Debug for MessageBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageBytes({} bytes)", self.len())
    }
}

/// The result of a tagged command (its untagged responses go to a callback:
/// async-imap's response type cannot be stored outside it).
pub(super) struct Reply {
    /// The tagged reply was OK.
    pub ok: bool,
    /// `NO [CODE] text` as the server sent it, for messages.
    pub server_text: String,
    /// UIDs from an `[APPENDUID v uids]` code on the tagged reply.
    pub append_uids: Option<Vec<u32>>,
}

/// A logged-in IMAP connection.
pub struct ImapClient {
    pub(super) session: Session<Timed<Stream>>,
    pub(super) place: Place,
    /// The mailbox logged in to, for messages.
    user: String,
    caps: HashSet<String>,
    pub(super) timeout: Duration,
    /// Personal namespace prefix and hierarchy delimiter.
    prefix: String,
    delimiter: Option<char>,
    /// How long a round trip took just after logging in.
    round_trip: Duration,
    /// COMPRESS is wanted and not sent yet.
    compress_wanted: bool,
    /// A folder's EXAMINE and UID SEARCH sent behind its last APPEND, not
    /// yet read.
    ahead: Option<Ahead>,
}

/// EXAMINE and UID SEARCH ALL sent ahead: [`ImapClient::open_and_uids`]
/// of that folder reads their replies; any other command reads and drops
/// them first.
struct Ahead {
    raw: String,
    open: imap_proto::RequestId,
    search: imap_proto::RequestId,
}

impl std::fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImapClient({})", self.place)
    }
}

struct PlainAuth<'a> {
    authzid: &'a str,
    authcid: &'a str,
    password: &'a str,
}

impl Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        format!("{}\0{}\0{}", self.authzid, self.authcid, self.password).into_bytes()
    }
}

/// One OAuth SASL exchange: the initial response when SASL-IR did not
/// carry it, then the server's error challenge, if any.
struct OAuthExchange {
    mech: OAuthMechanism,
    first: Option<Secret>,
    challenge: Option<Challenge>,
}

impl Authenticator for &mut OAuthExchange {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        if let Some(first) = self.first.take() {
            return first.expose().as_bytes().to_vec();
        }
        // After the token, a challenge is the server's error (RFC 7628
        // §3.2.2); answering it lets the server finish with its NO.
        self.challenge = Some(Challenge::read(challenge));
        self.mech.answer_to_error().to_vec()
    }
}

/// What SELECT or EXAMINE says of the folder, from one untagged response.
fn selected_data(r: &Response<'_>, sel: &mut Selected) {
    match r {
        Response::MailboxData(MailboxDatum::Exists(n)) => sel.exists = *n,
        Response::Data { outcome, .. } => match &outcome.code {
            Some(ResponseCode::UidValidity(v)) => sel.uid_validity = *v,
            Some(ResponseCode::UidNext(v)) => sel.uid_next = Some(*v),
            Some(ResponseCode::PermanentFlags(f)) => {
                sel.permanent_flags = f.iter().map(|s| s.to_string()).collect()
            }
            _ => {}
        },
        _ => {}
    }
}

fn raw_err(place: &Place, doing: &str, after: Duration, e: RawError) -> MailError {
    match e {
        RawError::Timeout => MailError::Timeout {
            place: place.clone(),
            doing: doing.into(),
            after,
            direction: Direction::Read,
        },
        RawError::Closed | RawError::Io => MailError::Disconnected {
            place: place.clone(),
            doing: doing.into(),
        },
        RawError::TooLong => MailError::Protocol {
            place: place.clone(),
            doing: doing.into(),
            detail: "a reply line was far too long".into(),
        },
    }
}

/// Pulls the server's words out of async-imap's NO/BAD error text.
fn server_words(text: &str) -> String {
    if let Some(start) = text.find("info: Some(\"") {
        let rest = &text[start + "info: Some(\"".len()..];
        if let Some(end) = rest.rfind("\")") {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    text.to_string()
}

impl ImapClient {
    /// Connects (trying each port in turn), secures and logs in, and turns
    /// compression on where it is wanted.
    pub async fn connect(ep: &Endpoint, login: &Login) -> Result<ImapClient, MailError> {
        let mut client = Self::connect_uncompressed(ep, login).await?;
        client.compress_if_wanted().await?;
        Ok(client)
    }

    /// [`ImapClient::connect`] without compression yet: a connection that
    /// may turn out to have nothing to carry need not pay the round trip
    /// of COMPRESS ([`ImapClient::compress_if_wanted`] turns it on).
    pub async fn connect_uncompressed(
        ep: &Endpoint,
        login: &Login,
    ) -> Result<ImapClient, MailError> {
        let (stream, place, caps, trace) = Self::open(ep).await?;
        let stream = Timed::new(stream, ep.timeout).traced(trace);
        let mut client = Self::login(stream, place, caps, ep.timeout, login).await?;
        client.compress_wanted = client.has("COMPRESS=DEFLATE")
            && ep.compress.wanted_for(
                client.session.get_ref().get_ref().peer_ip(),
                client.round_trip,
            );
        Ok(client)
    }

    /// Turns compression on, once, where the job's setting and the
    /// measured round trip want it. Only between commands, with no folder
    /// open (the server may send nothing unasked meanwhile).
    pub async fn compress_if_wanted(&mut self) -> Result<(), MailError> {
        if std::mem::take(&mut self.compress_wanted) {
            self.compress().await?;
        }
        Ok(())
    }

    /// COMPRESS DEFLATE (RFC 4978). A server that declines leaves the
    /// connection as it was: compression is only ever a saving.
    async fn compress(&mut self) -> Result<(), MailError> {
        let reply = self
            .run("COMPRESS DEFLATE", "turning on compression", |_| {})
            .await?;
        if reply.ok {
            // The server compresses from the byte after its OK: nothing of
            // it is buffered yet, as it sends nothing before our next command.
            self.session.get_mut().get_mut().compress();
        }
        Ok(())
    }

    /// Whether this connection is compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self.session.get_ref().get_ref(), Stream::Compressed(_))
    }

    /// From now on, what this connection reads draws on the job's
    /// bandwidth (counted as the client reads it: after decompression, so
    /// the wire carries no more).
    pub fn limit_reads(&mut self, throttle: net::Throttle) {
        self.session.get_mut().set_throttle(Some(throttle));
    }

    async fn open(
        ep: &Endpoint,
    ) -> Result<(Stream, Place, HashSet<String>, Option<u64>), MailError> {
        let started = std::time::Instant::now();
        let (stream, place) = dial::dial(&dial::Target {
            side: ep.side,
            host: &ep.host,
            ports: &ep.ports,
            protocol: ep.protocol,
            tls: matches!(ep.transport, Transport::Tls).then_some(&ep.certs),
            connect_timeout: ep.connect_timeout,
        })
        .await?;
        let trace = net::trace::connection(&format!(
            "{place}: connected{} in {} ms",
            if stream.is_tls() { " and secured" } else { "" },
            started.elapsed().as_millis()
        ));
        let (stream, place, caps) = Self::greet(stream, ep, place).await?;
        net::trace::note(trace, "greeting and capabilities read");
        Ok((stream, place, caps, trace))
    }

    /// Greeting, CAPABILITY and STARTTLS, read by hand before async-imap
    /// takes over the stream.
    async fn greet(
        mut stream: Stream,
        ep: &Endpoint,
        place: Place,
    ) -> Result<(Stream, Place, HashSet<String>), MailError> {
        let t = ep.timeout;
        let doing = "waiting for the server's greeting";
        let greeting = match raw::read_line(&mut stream, t).await {
            Ok(line) => line,
            // Silence on a plain connection: a TLS port waiting for a
            // handshake, or a slow server. Ask the port itself.
            Err(RawError::Timeout)
                if !stream.is_tls()
                    && net::speaks_tls(&ep.host, place.port, ep.connect_timeout).await =>
            {
                return Err(MailError::WrongSecurity {
                    place,
                    server_uses_tls: true,
                })
            }
            Err(e) => return Err(raw_err(&place, doing, t, e)),
        };
        check_greeting(&greeting, &place, stream.is_tls())?;
        let mut caps = Self::raw_capabilities(&mut stream, &place, t).await?;
        if let Transport::StartTls { allow_plaintext } = ep.transport {
            if caps.contains("STARTTLS") {
                let (_, done) = raw::command(&mut stream, "S1", "STARTTLS", t)
                    .await
                    .map_err(|e| raw_err(&place, "starting TLS", t, e))?;
                if !done.starts_with(b"OK") {
                    return Err(error::refused(
                        place,
                        "STARTTLS",
                        "starting TLS",
                        String::from_utf8_lossy(&done).into_owned(),
                    ));
                }
                let Stream::Plain(tcp) = stream else {
                    unreachable!("STARTTLS only runs on a plain connection")
                };
                stream = dial::secure(tcp, &ep.host, &ep.certs, ep.connect_timeout, &place).await?;
                caps = Self::raw_capabilities(&mut stream, &place, t).await?;
            } else if !allow_plaintext {
                return Err(MailError::PlaintextRefused { place });
            }
        }
        Ok((stream, place, caps))
    }

    async fn raw_capabilities(
        stream: &mut Stream,
        place: &Place,
        t: Duration,
    ) -> Result<HashSet<String>, MailError> {
        let (lines, done) = raw::command(stream, "C1", "CAPABILITY", t)
            .await
            .map_err(|e| raw_err(place, "asking for the server's capabilities", t, e))?;
        let mut caps = HashSet::new();
        for line in lines.iter().chain(std::iter::once(&done)) {
            if let Some(c) = raw::capabilities_in(line) {
                caps.extend(c);
            }
        }
        Ok(caps)
    }

    async fn login(
        stream: Timed<Stream>,
        place: Place,
        mut caps: HashSet<String>,
        timeout: Duration,
        login: &Login,
    ) -> Result<ImapClient, MailError> {
        let client = Client::new(stream);
        let user = login.user().to_string();
        let doing = "logging in";
        // Every way of logging in may take at most `timeout`.
        let timed_out = |place| MailError::Timeout {
            place,
            doing: doing.into(),
            after: timeout,
            direction: Direction::Read,
        };
        // Post-login capabilities differ from pre-login ones; they come in
        // the LOGIN reply's code when the server sends (and we can parse) it.
        let mut fresh_caps = false;
        let mut oauth: Option<OAuthExchange> = None;
        let result = match login {
            Login::Password { password, .. } | Login::Separator { password, .. } => {
                let fut = client.login_with_capabilities(login.login_name(), password.expose());
                match tokio::time::timeout(timeout, fut).await {
                    Err(_) => return Err(timed_out(place)),
                    Ok(Ok((session, new_caps))) => {
                        if let Some(new_caps) = new_caps {
                            caps = new_caps.iter().map(cap_name).collect();
                            fresh_caps = true;
                        }
                        Ok(session)
                    }
                    Ok(Err((e, _))) => Err(e),
                }
            }
            Login::SaslPlain {
                authzid,
                authcid,
                password,
            } => {
                let mut auth = PlainAuth {
                    authzid,
                    authcid,
                    password: password.expose(),
                };
                // With SASL-IR (RFC 4959) the response rides on the command
                // line: a round trip less (the same trick as OAuth below).
                let command = match caps.contains("SASL-IR") {
                    true => Secret::new(format!("PLAIN {}", sasl::base64(&auth.process(b"")))),
                    false => Secret::new("PLAIN".to_string()),
                };
                let fut = client.authenticate(command.expose(), auth);
                timed(timeout, fut)
                    .await
                    .ok_or_else(|| timed_out(place.clone()))?
            }
            Login::OAuth { user: name, token } => {
                let Some(mech) = OAuthMechanism::choose(|m| caps.contains(&format!("AUTH={m}")))
                else {
                    return Err(MailError::OAuthNotOffered { place, user });
                };
                let Some(first) = mech.initial_response(name, token) else {
                    return Err(MailError::Login {
                        place,
                        user,
                        server_text: "(not sent: the user name or token holds a character OAuth sign-in cannot carry)".into(),
                    });
                };
                // SASL-IR (RFC 4959) saves a round trip. async-imap writes
                // the mechanism as given, so the initial response rides
                // along after it; without SASL-IR it answers the first `+`.
                let (command, first) = match caps.contains("SASL-IR") {
                    true => {
                        let b64 = sasl::base64(first.expose().as_bytes());
                        (Secret::new(format!("{} {b64}", mech.name())), None)
                    }
                    false => (Secret::new(mech.name()), Some(first)),
                };
                let exchange = oauth.insert(OAuthExchange {
                    mech,
                    first,
                    challenge: None,
                });
                let fut = client.authenticate(command.expose(), exchange);
                timed(timeout, fut)
                    .await
                    .ok_or_else(|| timed_out(place.clone()))?
            }
        };
        let challenge = oauth.as_ref().and_then(|o| o.challenge.as_ref());
        let session = result.map_err(|e| match e {
            async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                let server_text = format!("NO {}", server_words(&text));
                match busy(&server_text) {
                    Some(b) => b.error(place.clone(), doing, server_text),
                    None if oauth.is_some() => MailError::TokenRefused {
                        place: place.clone(),
                        user: user.clone(),
                        problem: Box::new(sasl::problem_of(challenge)),
                        server_text: sasl::server_text(challenge, &server_text),
                    },
                    None => MailError::Login {
                        place: place.clone(),
                        user: user.clone(),
                        server_text,
                    },
                }
            }
            // A challenge that is not base64 after the token was sent: the
            // server's refusal, garbled; a fresh token may still help.
            async_imap::error::Error::Parse(async_imap::error::ParseError::Authentication(
                text,
                _,
            )) if oauth.as_ref().is_some_and(|o| o.first.is_none()) => {
                let challenge = Challenge::read(text.as_bytes());
                MailError::TokenRefused {
                    place: place.clone(),
                    user: user.clone(),
                    problem: Box::new(challenge.problem()),
                    server_text: format!("+ {} (not base64)", challenge.text),
                }
            }
            async_imap::error::Error::Io(e) => io_err(&place, doing, timeout, &e),
            async_imap::error::Error::Parse(e) => MailError::Protocol {
                place: place.clone(),
                doing: doing.into(),
                detail: truncate(&e.to_string(), 300),
            },
            _ => MailError::Disconnected {
                place: place.clone(),
                doing: doing.into(),
            },
        })?;
        let user = user.clone();
        let mut client = ImapClient {
            session,
            place,
            user,
            caps,
            timeout,
            prefix: String::new(),
            delimiter: None,
            round_trip: Duration::ZERO,
            compress_wanted: false,
            ahead: None,
        };
        client.after_login(!fresh_caps).await?;
        Ok(client)
    }

    /// NAMESPACE and, unless the login's reply gave them, the capabilities,
    /// in one round trip. NAMESPACE goes first: it is read by hand, byte by
    /// byte, so async-imap's reader never holds any of its reply.
    async fn after_login(&mut self, capabilities: bool) -> Result<(), MailError> {
        let doing = "reading the server's namespace";
        let sent = std::time::Instant::now();
        let namespace = self.send("NAMESPACE", doing).await?;
        let caps = match capabilities {
            true => Some(
                self.send("CAPABILITY", "asking for the server's capabilities")
                    .await?,
            ),
            false => None,
        };
        let t = self.timeout;
        let (lines, done) = raw::read_until_tag(self.session.get_mut(), &namespace.0, t)
            .await
            .map_err(|e| raw_err(&self.place, doing, t, e))?;
        self.round_trip = sent.elapsed();
        let found = match done.starts_with(b"OK") {
            true => lines.iter().find_map(|l| raw::parse_namespace(l)),
            false => None,
        };
        if let Some(tag) = caps {
            let mut fresh = HashSet::new();
            self.collect(&tag, "asking for the server's capabilities", |r| {
                if let Response::Capabilities(list) = r {
                    fresh.extend(list.iter().map(proto_cap_name));
                }
            })
            .await?;
            self.caps = fresh;
        }
        match found {
            Some((prefix, delimiter)) => {
                self.prefix = prefix;
                self.delimiter = delimiter;
                Ok(())
            }
            // A server without NAMESPACE: no prefix, and the delimiter from
            // LIST "" "".
            None => self.load_delimiter().await,
        }
    }

    /// The hierarchy delimiter, from LIST "" "" (no NAMESPACE).
    async fn load_delimiter(&mut self) -> Result<(), MailError> {
        let mut delimiter = None;
        self.run("LIST \"\" \"\"", "reading the hierarchy delimiter", |r| {
            if let Response::MailboxData(MailboxDatum::List(l)) = r {
                delimiter = l.delimiter.as_ref().and_then(|d| d.chars().next());
            }
        })
        .await?;
        self.delimiter = delimiter;
        Ok(())
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    /// How long a round trip to the server took (NAMESPACE, just after
    /// logging in): how distant it is.
    pub fn round_trip(&self) -> Duration {
        self.round_trip
    }

    /// The mailbox this connection is logged in to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the server announced a capability (upper-case name).
    pub fn has(&self, cap: &str) -> bool {
        self.caps.contains(cap)
    }

    /// The personal namespace prefix, e.g. `INBOX.` on Courier-style servers.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn delimiter(&self) -> Option<char> {
        self.delimiter
    }

    // ---- running commands ----

    /// Sends a command line. Every read and write waits at most
    /// `timeout` for a byte to move (see [`Timed`]).
    pub(super) async fn send(
        &mut self,
        cmd: &str,
        doing: &str,
    ) -> Result<imap_proto::RequestId, MailError> {
        if let Some(ahead) = self.ahead.take() {
            self.drop_ahead(ahead).await?;
        }
        match self.session.run_command(cmd).await {
            Err(async_imap::error::Error::Io(e)) => Err(self.io_err(doing, &e)),
            Err(_) => Err(self.disconnected(doing)),
            Ok(tag) => Ok(tag),
        }
    }

    /// Sends EXAMINE and UID SEARCH ALL of `raw` without reading their
    /// replies (see [`Ahead`]).
    pub(super) async fn send_ahead(&mut self, raw: &str) -> Result<(), MailError> {
        let doing = "opening a folder";
        let open = self.send(&format!("EXAMINE {}", quote(raw)), doing).await?;
        let search = self.send("UID SEARCH ALL", doing).await?;
        self.ahead = Some(Ahead {
            raw: raw.to_string(),
            open,
            search,
        });
        Ok(())
    }

    /// Reads and drops the replies of commands sent ahead.
    async fn drop_ahead(&mut self, ahead: Ahead) -> Result<(), MailError> {
        let doing = "opening a folder";
        self.allow_for(2);
        let read = async {
            self.collect(&ahead.open, doing, |_| {}).await?;
            self.collect(&ahead.search, doing, |_| {}).await
        }
        .await;
        self.allow_for(1);
        read.map(|_| ())
    }

    /// While `commands` pipelined commands are answered: a server may hold
    /// every reply until the last command is done, so the silence allowed
    /// is the sum of theirs.
    fn allow_for(&mut self, commands: usize) {
        let limit = self.timeout * u32::try_from(commands.max(1)).unwrap_or(u32::MAX);
        self.session.get_mut().set_limit(limit);
    }

    /// A failed read or write: a timeout, or a connection gone.
    pub(super) fn io_err(&self, doing: &str, e: &std::io::Error) -> MailError {
        io_err(&self.place, doing, self.timeout, e)
    }

    pub(super) fn disconnected(&self, doing: &str) -> MailError {
        MailError::Disconnected {
            place: self.place.clone(),
            doing: doing.into(),
        }
    }

    /// Reads one response, with the read timeout, and hands it to `f`.
    pub(super) async fn read_with<T>(
        &mut self,
        doing: &str,
        f: impl FnOnce(&Response<'_>) -> T,
    ) -> Result<T, MailError> {
        match self.session.read_response().await {
            Ok(Some(r)) => Ok(f(r.parsed())),
            Ok(None) => Err(self.disconnected(doing)),
            Err(e) => Err(self.io_err(doing, &e)),
        }
    }

    /// Reads responses up to the tagged one for `tag`, handing each untagged
    /// one to `on_untagged`.
    pub(super) async fn collect(
        &mut self,
        tag: &imap_proto::RequestId,
        doing: &str,
        mut on_untagged: impl FnMut(&Response<'_>),
    ) -> Result<Reply, MailError> {
        loop {
            let step = self
                .read_with(doing, |r| {
                    let step = tagged(r, tag);
                    if step.is_none() {
                        on_untagged(r);
                    }
                    step
                })
                .await?;
            match step {
                None => continue,
                Some(Ok(reply)) => return Ok(reply),
                Some(Err(bye)) => return Err(self.bye(doing, bye)),
            }
        }
    }

    /// The error for a BYE while `doing`: busy servers are transient.
    fn bye(&self, doing: &str, bye: String) -> MailError {
        match busy(&bye) {
            Some(b) => b.error(self.place.clone(), doing, bye),
            None => MailError::Bye {
                place: self.place.clone(),
                doing: doing.into(),
                server_text: bye,
            },
        }
    }

    pub(super) async fn run(
        &mut self,
        cmd: &str,
        doing: &str,
        on_untagged: impl FnMut(&Response<'_>),
    ) -> Result<Reply, MailError> {
        let tag = self.send(cmd, doing).await?;
        self.collect(&tag, doing, on_untagged).await
    }

    /// Runs a command that must succeed.
    async fn run_ok(
        &mut self,
        cmd: &str,
        what: &str,
        doing: &str,
        on_untagged: impl FnMut(&Response<'_>),
    ) -> Result<Reply, MailError> {
        let reply = self.run(cmd, doing, on_untagged).await?;
        if !reply.ok {
            return Err(error::refused(
                self.place.clone(),
                what,
                doing,
                reply.server_text,
            ));
        }
        Ok(reply)
    }

    // ---- folders ----

    /// Every folder, selectable or not, with its special-use attribute.
    pub async fn list(&mut self) -> Result<Vec<ListedFolder>, MailError> {
        // XLIST only where SPECIAL-USE is missing: it is the older form.
        if self.has("XLIST") && !self.has("SPECIAL-USE") {
            if let (out, Ok(())) = self
                .list_by_hand("XLIST \"\" \"*\"", "listing folders (XLIST)")
                .await?
            {
                return Ok(out);
            }
        }
        let doing = "listing folders";
        let (mut out, done) = self.list_by_hand("LIST \"\" \"*\"", doing).await?;
        if let Err(server_text) = done {
            return Err(error::refused(
                self.place.clone(),
                "listing folders (LIST)",
                doing,
                server_text,
            ));
        }
        // RFC 6154 lets a plain LIST leave the attributes out (Dovecot puts
        // them in); then they are asked for. A refusal leaves names only.
        if self.has("SPECIAL-USE") && out.iter().all(|f| f.special_use.is_none()) {
            let cmd = "LIST \"\" \"*\" RETURN (SPECIAL-USE)";
            if let (marked, Ok(())) = self
                .list_by_hand(cmd, "listing special-use folders")
                .await?
            {
                let marked: HashMap<String, _> =
                    marked.into_iter().map(|f| (f.raw, f.special_use)).collect();
                for f in &mut out {
                    f.special_use = marked.get(&f.raw).copied().flatten();
                }
            }
        }
        Ok(out)
    }

    /// LIST (or XLIST), read by hand: imap-proto refuses a whole reply
    /// over one attribute it half knows (Gmail's `\AllMail`), and does not
    /// parse `* XLIST` lines. The folders, and `Err` with the server's
    /// words when it refused the command.
    async fn list_by_hand(
        &mut self,
        cmd: &str,
        doing: &str,
    ) -> Result<(Vec<ListedFolder>, Result<(), String>), MailError> {
        let tag = self.send(cmd, doing).await?;
        let t = self.timeout;
        let (lines, done) = raw::read_until_tag(self.session.get_mut(), &tag.0, t)
            .await
            .map_err(|e| raw_err(&self.place, doing, t, e))?;
        let folders = lines.iter().filter_map(|l| listing::list_line(l)).collect();
        let done = match done.starts_with(b"OK") {
            true => Ok(()),
            false => Err(String::from_utf8_lossy(&done).into_owned()),
        };
        Ok((folders, done))
    }

    /// CREATE; an existing folder is not an error.
    pub async fn create(&mut self, raw: &str) -> Result<(), MailError> {
        let reply = self
            .run(
                &format!("CREATE {}", quote(raw)),
                "creating a folder",
                |_| {},
            )
            .await?;
        self.created(raw, reply)
    }

    /// What a CREATE's reply means: an existing folder is not an error.
    fn created(&self, raw: &str, reply: Reply) -> Result<(), MailError> {
        if reply.ok
            || reply
                .server_text
                .to_ascii_uppercase()
                .contains("ALREADYEXISTS")
        {
            return Ok(());
        }
        let folder = utf7::decode(raw).unwrap_or_else(|| raw.to_string());
        if reply.server_text.to_ascii_uppercase().contains("OVERQUOTA") {
            return Err(MailError::OverQuota {
                user: self.user.clone(),
                server_text: reply.server_text,
            });
        }
        Err(error::refused_or(
            self.place.clone(),
            "creating a folder",
            reply.server_text,
            |server_text| MailError::CreateFolder {
                folder,
                server_text,
            },
        ))
    }

    /// CREATE and SUBSCRIBE for each of `raws` (parents before children),
    /// pipelined a hundred folders at a time: one round trip where one a
    /// command would take one each. The outer error is the connection's;
    /// the inner ones are each folder's CREATE (SUBSCRIBE failures are
    /// harmless, the folder exists).
    pub async fn create_all(
        &mut self,
        raws: &[String],
    ) -> Result<Vec<Result<(), MailError>>, MailError> {
        const AT_ONCE: usize = 100;
        let doing = "creating folders";
        let mut out = Vec::with_capacity(raws.len());
        for chunk in raws.chunks(AT_ONCE) {
            let mut tags = Vec::with_capacity(chunk.len());
            for raw in chunk {
                let create = self.send(&format!("CREATE {}", quote(raw)), doing).await?;
                let subscribe = self
                    .send(&format!("SUBSCRIBE {}", quote(raw)), doing)
                    .await?;
                tags.push((raw, create, subscribe));
            }
            self.allow_for(2 * tags.len());
            let mut replies = Vec::with_capacity(tags.len());
            let mut failed = None;
            for (raw, create, subscribe) in tags {
                let step = async {
                    let reply = self.collect(&create, doing, |_| {}).await?;
                    self.collect(&subscribe, doing, |_| {}).await?;
                    Ok::<_, MailError>(reply)
                }
                .await;
                match step {
                    Ok(reply) => replies.push((raw, reply)),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            self.allow_for(1);
            if let Some(e) = failed {
                return Err(e);
            }
            for (raw, reply) in replies {
                out.push(self.created(raw, reply));
            }
        }
        Ok(out)
    }

    /// SUBSCRIBE; failures are harmless and ignored (the folder exists).
    pub async fn subscribe(&mut self, raw: &str) -> Result<(), MailError> {
        self.run(
            &format!("SUBSCRIBE {}", quote(raw)),
            "subscribing a folder",
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// EXAMINE (read-only, for the source) or SELECT (the destination).
    pub async fn open_folder(&mut self, raw: &str, read_only: bool) -> Result<Selected, MailError> {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let doing = format!(
            "opening folder {}",
            utf7::decode(raw).unwrap_or_else(|| raw.to_string())
        );
        let mut sel = Selected::default();
        self.run_ok(
            &format!("{verb} {}", quote(raw)),
            &format!("{verb} {raw}"),
            &doing,
            |r| selected_data(r, &mut sel),
        )
        .await?;
        Ok(sel)
    }

    /// STATUS of a folder: its message count, UIDNEXT and UIDVALIDITY,
    /// without opening it.
    pub async fn status(&mut self, raw: &str) -> Result<FolderStatus, MailError> {
        let doing = format!(
            "checking folder {}",
            utf7::decode(raw).unwrap_or_else(|| raw.to_string())
        );
        let mut st = FolderStatus::default();
        self.run_ok(
            &format!("STATUS {} (MESSAGES UIDNEXT UIDVALIDITY)", quote(raw)),
            &format!("STATUS {raw}"),
            &doing,
            |r| {
                if let Response::MailboxData(MailboxDatum::Status { status, .. }) = r {
                    for a in status {
                        match a {
                            StatusAttribute::Messages(n) => st.messages = *n,
                            StatusAttribute::UidNext(n) => st.uid_next = *n,
                            StatusAttribute::UidValidity(n) => st.uid_validity = *n,
                            _ => {}
                        }
                    }
                }
            },
        )
        .await?;
        Ok(st)
    }

    /// Message count and size (where the server has STATUS=SIZE) of each
    /// folder, with its UIDNEXT and UIDVALIDITY, `None` for one the server
    /// refuses. The STATUS commands are pipelined, a few hundred at a time
    /// (enough to save the round trips, few enough that neither side's
    /// buffers fill while the other writes), and read by hand: imap-proto
    /// does not parse SIZE. Only on a connection with no folder open, so
    /// nothing unsolicited is waiting in async-imap's buffer.
    pub async fn sizes(&mut self, raws: &[&str]) -> Result<Vec<Option<FolderSize>>, MailError> {
        let items = if self.has("STATUS=SIZE") {
            "(MESSAGES SIZE UIDNEXT UIDVALIDITY)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        };
        self.statuses(raws, items).await
    }

    /// MESSAGES, UIDNEXT and UIDVALIDITY of each folder (`None`: refused),
    /// pipelined like [`ImapClient::sizes`].
    pub async fn statuses_of(
        &mut self,
        raws: &[&str],
    ) -> Result<Vec<Option<FolderSize>>, MailError> {
        self.statuses(raws, "(MESSAGES UIDNEXT UIDVALIDITY)").await
    }

    async fn statuses(
        &mut self,
        raws: &[&str],
        items: &str,
    ) -> Result<Vec<Option<FolderSize>>, MailError> {
        // A STATUS line and its answer are under 100 bytes each: a few
        // hundred in flight fit any socket buffer. Each answer read lets
        // the next command go, so a thousand folders cost one round trip.
        const AT_ONCE: usize = 250;
        let doing = "reading the size of each folder (STATUS)";
        let mut out = Vec::with_capacity(raws.len());
        let mut pending = raws.iter();
        let mut in_flight = std::collections::VecDeque::with_capacity(AT_ONCE);
        for raw in pending.by_ref().take(AT_ONCE) {
            in_flight.push_back(
                self.send(&format!("STATUS {} {items}", quote(raw)), doing)
                    .await?,
            );
        }
        let window = in_flight.len();
        let t = self.timeout * u32::try_from(window.max(1)).unwrap_or(u32::MAX);
        self.allow_for(window);
        let read = async {
            while let Some(tag) = in_flight.pop_front() {
                let (lines, done) = raw::read_until_tag(self.session.get_mut(), &tag.0, t)
                    .await
                    .map_err(|e| raw_err(&self.place, doing, t, e))?;
                let found = lines.iter().find_map(|l| raw::parse_status(l));
                out.push(if done.starts_with(b"OK") { found } else { None });
                if let Some(raw) = pending.next() {
                    in_flight.push_back(
                        self.send(&format!("STATUS {} {items}", quote(raw)), doing)
                            .await?,
                    );
                }
            }
            Ok::<_, MailError>(())
        }
        .await;
        self.allow_for(1);
        read?;
        Ok(out)
    }

    /// SELECT (or EXAMINE) and the folder's UIDs, pipelined: one round trip.
    /// (If the folder cannot be opened, the search fails too, harmlessly.)
    pub async fn open_and_uids(
        &mut self,
        raw: &str,
        read_only: bool,
    ) -> Result<(Selected, Vec<u32>), MailError> {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let doing = format!(
            "opening folder {}",
            utf7::decode(raw).unwrap_or_else(|| raw.to_string())
        );
        let (open, search) = match self.ahead.take() {
            // Sent behind the last APPEND: only the replies are left.
            Some(a) if read_only && a.raw == raw => (a.open, a.search),
            other => {
                self.ahead = other;
                let open = self.send(&format!("{verb} {}", quote(raw)), &doing).await?;
                (open, self.send("UID SEARCH ALL", "listing messages").await?)
            }
        };
        let mut sel = Selected::default();
        let mut uids = Vec::new();
        self.allow_for(2);
        let replies = async {
            let reply = self
                .collect(&open, &doing, |r| selected_data(r, &mut sel))
                .await?;
            let listed = self
                .collect(&search, "listing messages", |r| {
                    if let Response::MailboxData(MailboxDatum::Search(list)) = r {
                        uids.extend_from_slice(list);
                    }
                })
                .await?;
            Ok::<_, MailError>((reply, listed))
        }
        .await;
        self.allow_for(1);
        let (reply, listed) = replies?;
        if !reply.ok {
            return Err(error::refused(
                self.place.clone(),
                &format!("{verb} {raw}"),
                &doing,
                reply.server_text,
            ));
        }
        if !listed.ok {
            return Err(error::refused(
                self.place.clone(),
                "UID SEARCH",
                "listing messages",
                listed.server_text,
            ));
        }
        uids.sort_unstable();
        Ok((sel, uids))
    }

    /// This connection as the operating system knows it
    /// (`local address>server address`), so that a later run can tell
    /// whether it is still open; empty when unknown.
    pub fn connection_id(&self) -> String {
        self.session.get_ref().get_ref().connection_id()
    }

    /// Every UID in the open folder.
    pub async fn uids(&mut self) -> Result<Vec<u32>, MailError> {
        let mut uids = Vec::new();
        self.run_ok("UID SEARCH ALL", "UID SEARCH", "listing messages", |r| {
            if let Response::MailboxData(MailboxDatum::Search(list)) = r {
                uids.extend_from_slice(list);
            }
        })
        .await?;
        uids.sort_unstable();
        Ok(uids)
    }

    /// Metadata and dedup header fields of the given UIDs (`None`: all).
    pub async fn fetch_meta(
        &mut self,
        uids: Option<&[u32]>,
        headers: bool,
    ) -> Result<Vec<MessageMeta>, MailError> {
        let mut out = Vec::new();
        self.fetch_meta_each(uids, headers, |m| out.push(m)).await?;
        Ok(out)
    }

    /// [`ImapClient::fetch_meta`], each message handed to `each` as it
    /// arrives instead of all of them kept: a folder of 100,000 messages
    /// is read in the memory of one.
    pub async fn fetch_meta_each(
        &mut self,
        uids: Option<&[u32]>,
        headers: bool,
        mut each: impl FnMut(MessageMeta),
    ) -> Result<(), MailError> {
        let set = match uids {
            Some([]) => return Ok(()),
            Some(u) => super::uid_set(u),
            None => "1:*".into(),
        };
        let fields = match headers {
            true => format!(" BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"),
            false => String::new(),
        };
        let cmd = format!("UID FETCH {set} (UID FLAGS INTERNALDATE RFC822.SIZE{fields})");
        self.run_ok(&cmd, "UID FETCH", "reading message headers", |r| {
            if let Response::Fetch(_, attrs) = r {
                let mut m = MessageMeta {
                    uid: 0,
                    size: 0,
                    flags: Vec::new(),
                    internal_date: None,
                    header_fields: Vec::new(),
                };
                for a in attrs {
                    match a {
                        AttributeValue::Uid(u) => m.uid = *u,
                        AttributeValue::Rfc822Size(s) => m.size = u64::from(*s),
                        AttributeValue::Flags(f) => {
                            m.flags = f.iter().map(|s| s.to_string()).collect()
                        }
                        AttributeValue::InternalDate(d) => m.internal_date = Some(d.to_string()),
                        AttributeValue::BodySection { data, .. } => {
                            m.header_fields = data.as_deref().unwrap_or_default().to_vec()
                        }
                        _ => {}
                    }
                }
                // A FETCH without UID is an unsolicited flag update; ignore.
                if m.uid != 0 {
                    each(m);
                }
            }
        })
        .await?;
        Ok(())
    }

    /// Size (and, with `headers`, the dedup header fields) of each of the
    /// given UIDs, handed to `each(uid, size, header_fields)` as they
    /// arrive, nothing kept: what planning a copy needs, and no more.
    pub async fn fetch_sizes(
        &mut self,
        uids: &[u32],
        headers: bool,
        mut each: impl FnMut(u32, u64, &[u8]),
    ) -> Result<(), MailError> {
        if uids.is_empty() {
            return Ok(());
        }
        let fields = match headers {
            true => format!(" BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"),
            false => String::new(),
        };
        let cmd = format!(
            "UID FETCH {} (UID RFC822.SIZE{fields})",
            super::uid_set(uids)
        );
        self.run_ok(&cmd, "UID FETCH", "reading message headers", |r| {
            if let Response::Fetch(_, attrs) = r {
                let (mut uid, mut size, mut header) = (0, 0, &[][..]);
                for a in attrs {
                    match a {
                        AttributeValue::Uid(u) => uid = *u,
                        AttributeValue::Rfc822Size(s) => size = u64::from(*s),
                        AttributeValue::BodySection { data, .. } => {
                            header = data.as_deref().unwrap_or_default()
                        }
                        _ => {}
                    }
                }
                // A FETCH without UID is an unsolicited flag update; ignore.
                if uid != 0 {
                    each(uid, size, header);
                }
            }
        })
        .await?;
        Ok(())
    }

    /// Full message bytes of the given UIDs. The source is never changed:
    /// BODY.PEEK leaves \Seen alone.
    pub async fn fetch_bodies(&mut self, uids: &[u32]) -> Result<Vec<FetchedBody>, MailError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = super::uid_set(uids);
        let cmd = format!("UID FETCH {set} (UID FLAGS INTERNALDATE BODY.PEEK[])");
        let doing = "fetching messages";
        let what = format!("UID {set}");
        let tag = self
            .send(&cmd, doing)
            .await
            .map_err(|e| e.on_fetch(what.clone()))?;
        let mut out = Vec::with_capacity(uids.len());
        let reply = self.read_bodies(&tag, doing, &what, &mut out).await?;
        if !reply.ok {
            return Err(error::refused(
                self.place.clone(),
                "UID FETCH (message bodies)",
                doing,
                reply.server_text,
            ));
        }
        Ok(out)
    }

    /// Reads the bodies a UID FETCH sends, up to its tagged reply.
    async fn read_bodies(
        &mut self,
        tag: &imap_proto::RequestId,
        doing: &str,
        what: &str,
        out: &mut Vec<FetchedBody>,
    ) -> Result<Reply, MailError> {
        loop {
            let r = match self.session.read_response().await {
                Ok(Some(r)) => r,
                Ok(None) => return Err(self.disconnected(doing).on_fetch(what.into())),
                Err(e) => return Err(self.io_err(doing, &e).on_fetch(what.into())),
            };
            match tagged(r.parsed(), tag) {
                Some(Ok(reply)) => return Ok(reply),
                Some(Err(bye)) => return Err(self.bye(doing, bye).on_fetch(what.into())),
                None => {}
            }
            let Some(Body {
                uid,
                body,
                flags,
                internal_date,
            }) = fetched_body(r.parsed())
            else {
                continue;
            };
            // The literal lies in the reader's buffer, which the response
            // owns: keeping the response keeps the message without a copy.
            let owner: &[u8] = r.borrow_owner();
            let start = (body.as_ptr() as usize).wrapping_sub(owner.as_ptr() as usize);
            let body = if start <= owner.len() && body.len() <= owner.len() - start {
                let range = start..start + body.len();
                MessageBytes::kept(r, range, |r| r.borrow_owner())
            } else {
                MessageBytes::from(body.to_vec())
            };
            out.push(FetchedBody {
                uid,
                body,
                flags,
                internal_date,
            });
        }
    }

    /// EXAMINE, and every message's UID and size (with `bodies`, the whole
    /// messages too) in the same round trip: a folder whose every message
    /// will be fetched anyway (its destination folder is new) is listed,
    /// planned and, when small, read at once.
    pub async fn open_and_list(
        &mut self,
        raw: &str,
        bodies: bool,
    ) -> Result<(Selected, Vec<(u32, u64)>, Vec<FetchedBody>), MailError> {
        let doing = format!(
            "opening folder {}",
            utf7::decode(raw).unwrap_or_else(|| raw.to_string())
        );
        let open = self
            .send(&format!("EXAMINE {}", quote(raw)), &doing)
            .await?;
        let items = match bodies {
            true => "UID FLAGS INTERNALDATE BODY.PEEK[]",
            false => "UID RFC822.SIZE",
        };
        let listing = match bodies {
            true => "fetching messages",
            false => "listing messages",
        };
        let fetch = self
            .send(&format!("UID FETCH 1:* ({items})"), listing)
            .await?;
        let mut sel = Selected::default();
        let mut sizes = Vec::new();
        let mut fetched = Vec::new();
        self.allow_for(2);
        let replies = async {
            let reply = self
                .collect(&open, &doing, |r| selected_data(r, &mut sel))
                .await?;
            let listed = match bodies {
                true => {
                    self.read_bodies(&fetch, listing, "UID 1:*", &mut fetched)
                        .await?
                }
                false => {
                    self.collect(&fetch, listing, |r| {
                        if let Response::Fetch(_, attrs) = r {
                            let (mut uid, mut size) = (0, 0);
                            for a in attrs {
                                match a {
                                    AttributeValue::Uid(u) => uid = *u,
                                    AttributeValue::Rfc822Size(s) => size = u64::from(*s),
                                    _ => {}
                                }
                            }
                            // Without UID: an unsolicited flag update.
                            if uid != 0 {
                                sizes.push((uid, size));
                            }
                        }
                    })
                    .await?
                }
            };
            Ok::<_, MailError>((reply, listed))
        }
        .await;
        self.allow_for(1);
        let (reply, listed) = replies?;
        if !reply.ok {
            return Err(error::refused(
                self.place.clone(),
                &format!("EXAMINE {raw}"),
                &doing,
                reply.server_text,
            ));
        }
        // Some servers refuse `1:*` in an empty folder.
        if !listed.ok && sel.exists > 0 {
            let what = match bodies {
                true => "UID FETCH 1:* (message bodies)",
                false => "UID FETCH 1:*",
            };
            return Err(error::refused(
                self.place.clone(),
                what,
                listing,
                listed.server_text,
            ));
        }
        if bodies {
            sizes = fetched
                .iter()
                .map(|b| (b.uid, b.body.len() as u64))
                .collect();
        }
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        Ok((sel, sizes, fetched))
    }

    /// NOOP: keeps an idle connection alive (and lets the server say BYE).
    pub async fn noop(&mut self) -> Result<(), MailError> {
        self.run_ok("NOOP", "NOOP", "keeping the connection alive", |_| {})
            .await
            .map(|_| ())
    }

    /// LOGOUT, ignoring a server that has already gone. Everything the
    /// connection did was confirmed already, so the server's goodbye is
    /// not waited for (a round trip to a distant server): LOGOUT is sent
    /// and the connection closed.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            if self.session.run_command("LOGOUT").await.is_ok() {
                let _ = self.session.get_mut().shutdown().await;
            }
        })
        .await;
    }
}

/// The outcome of the command tagged `tag` when `r` is its tagged reply
/// (`Err`: a BYE, whatever the tag); `None` for any other response.
fn tagged(r: &Response<'_>, tag: &imap_proto::RequestId) -> Option<Result<Reply, String>> {
    match r {
        Response::Done {
            tag: t,
            status,
            outcome,
        } if t == tag => {
            let append_uids = match &outcome.code {
                Some(ResponseCode::AppendUid(_, set)) => Some(codes::expand(set)),
                _ => None,
            };
            Some(Ok(Reply {
                ok: *status == Status::Ok,
                server_text: outcome_text(status, outcome),
                append_uids,
            }))
        }
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Some(Err(outcome_text(&Status::Bye, outcome))),
        _ => None,
    }
}

/// What a FETCH response of a whole message holds.
struct Body<'a> {
    uid: u32,
    body: &'a [u8],
    flags: Vec<String>,
    internal_date: Option<String>,
}

/// UID, body, flags and INTERNALDATE of a FETCH response that has a UID
/// and a body.
fn fetched_body<'a>(r: &'a Response<'_>) -> Option<Body<'a>> {
    let Response::Fetch(_, attrs) = r else {
        return None;
    };
    let mut uid = 0;
    let mut body = None;
    let mut flags = Vec::new();
    let mut internal_date = None;
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = *u,
            AttributeValue::BodySection { data, .. } => {
                body = Some(data.as_deref().unwrap_or_default())
            }
            AttributeValue::Flags(f) => flags = f.iter().map(|s| s.to_string()).collect(),
            AttributeValue::InternalDate(d) => internal_date = Some(d.to_string()),
            _ => {}
        }
    }
    body.filter(|_| uid != 0).map(|body| Body {
        uid,
        body,
        flags,
        internal_date,
    })
}

/// Checks the first line a server sends: `* OK` or `* PREAUTH`; a BYE
/// (busy, throttled) is transient; anything else is not an IMAP server.
fn check_greeting(greeting: &[u8], place: &Place, over_tls: bool) -> Result<(), MailError> {
    if greeting.starts_with(b"* OK") || greeting.starts_with(b"* PREAUTH") {
        return Ok(());
    }
    let text = truncate(&String::from_utf8_lossy(greeting), 200);
    let doing = "waiting for the server's greeting";
    if greeting.len() > 4 && greeting[..5].eq_ignore_ascii_case(b"* BYE") {
        return Err(match busy(&text) {
            Some(b) => b.error(place.clone(), doing, text),
            None => MailError::Bye {
                place: place.clone(),
                doing: doing.into(),
                server_text: text,
            },
        });
    }
    // A TLS record (handshake or alert) where text was expected.
    if !over_tls && greeting.len() > 1 && matches!(greeting[0], 0x15 | 0x16) && greeting[1] == 3 {
        return Err(MailError::WrongSecurity {
            place: place.clone(),
            server_uses_tls: true,
        });
    }
    Err(MailError::NotMailServer {
        place: place.clone(),
        server_text: text,
    })
}

/// A failed read or write on a connection.
fn io_err(place: &Place, doing: &str, after: Duration, e: &std::io::Error) -> MailError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut => MailError::Timeout {
            place: place.clone(),
            doing: doing.into(),
            after,
            direction: if e.to_string().contains("write") {
                Direction::Write
            } else {
                Direction::Read
            },
        },
        // A reply that could not be parsed, or compressed data that could
        // not be inflated.
        K::InvalidData => MailError::Protocol {
            place: place.clone(),
            doing: doing.into(),
            detail: truncate(&e.to_string(), 300),
        },
        K::Other if e.to_string().contains("parsing") => MailError::Protocol {
            place: place.clone(),
            doing: doing.into(),
            detail: truncate(&e.to_string(), 300),
        },
        _ => MailError::Disconnected {
            place: place.clone(),
            doing: doing.into(),
        },
    }
}

fn cap_name(c: &async_imap::types::Capability) -> String {
    use async_imap::types::Capability as C;
    match c {
        C::Imap4rev1 => "IMAP4REV1".into(),
        C::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
        C::Atom(a) => a.to_ascii_uppercase(),
    }
}

fn proto_cap_name(c: &imap_proto::Capability<'_>) -> String {
    match c {
        imap_proto::Capability::Imap4rev1 => "IMAP4REV1".into(),
        imap_proto::Capability::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
        imap_proto::Capability::Atom(a) => a.to_ascii_uppercase(),
    }
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max).collect::<String>() + "…"
}

/// An AUTHENTICATE exchange within `timeout`: `None` when it ran out,
/// else its outcome with the client dropped on failure.
async fn timed<S, C>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<S, (async_imap::error::Error, C)>>,
) -> Option<Result<S, async_imap::error::Error>> {
    tokio::time::timeout(timeout, fut)
        .await
        .ok()
        .map(|r| r.map_err(|(e, _)| e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TokenProblem;

    /// A scripted IMAP server (`crate::net::script`).
    async fn fake(
        greeting: &'static str,
        replies: Vec<String>,
    ) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        crate::net::script::serve(greeting, replies).await
    }

    fn endpoint(port: u16) -> Endpoint {
        Endpoint {
            side: Side::Source,
            host: "127.0.0.1".into(),
            ports: vec![port],
            transport: Transport::Plain,
            certs: CertPolicy::System,
            protocol: "IMAP4",
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            compress: CompressMode::Never,
        }
    }

    fn oauth(user: &str, token: &str) -> Login {
        Login::OAuth {
            user: user.into(),
            token: Secret::new(token),
        }
    }

    /// Microsoft 365 refuses with no error challenge: the words list the
    /// likely causes. The initial response rides on the command (SASL-IR).
    #[tokio::test]
    async fn a_refusal_without_a_challenge_is_an_unexplained_token_refusal() {
        let (port, server) = fake(
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR] ready\r\n",
            vec![
                "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR\r\nC1 OK done\r\n".into(),
                "A0001 NO AUTHENTICATE failed.\r\n".into(),
            ],
        )
        .await;
        let err = ImapClient::connect(&endpoint(port), &oauth("jane@contoso.com", "tok"))
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
        assert_eq!(**problem, TokenProblem::Unexplained);
        assert_eq!(server_text, "NO AUTHENTICATE failed.");
        assert!(err.is_token_refused());
        assert!(err.to_string().contains("ImapEnabled"), "{err}");
        let ir = sasl::base64(b"user=jane@contoso.com\x01auth=Bearer tok\x01\x01");
        assert_eq!(
            server.await.unwrap(),
            [
                "C1 CAPABILITY".to_string(),
                format!("A0001 AUTHENTICATE XOAUTH2 {ir}")
            ]
        );
    }

    /// Without SASL-IR the initial response answers the first `+`; the
    /// error challenge is answered with ^A and its JSON read.
    #[tokio::test]
    async fn without_sasl_ir_oauthbearer_answers_the_continuation_then_the_error() {
        let json = br#"{"status":"insufficient_scope","scope":"https://mail.google.com/"}"#;
        let (port, server) = fake(
            "* OK ready\r\n",
            vec![
                "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\nC1 OK done\r\n".into(),
                "+ \r\n".into(),
                format!("+ {}\r\n", sasl::base64(json)),
                "A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n".into(),
            ],
        )
        .await;
        let err = ImapClient::connect(&endpoint(port), &oauth("a,b=c", "tok"))
            .await
            .unwrap_err();
        let MailError::TokenRefused { problem, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            **problem,
            TokenProblem::Scope {
                wanted: Some("https://mail.google.com/".into())
            }
        );
        assert!(err.to_string().contains("IMAP.AccessAsUser.All"), "{err}");
        assert!(!err.to_string().contains("tok\u{1}"), "{err}");
        assert_eq!(
            server.await.unwrap(),
            [
                "C1 CAPABILITY".to_string(),
                "A0001 AUTHENTICATE OAUTHBEARER".into(),
                sasl::base64(b"n,a=a=2Cb=3Dc,\x01auth=Bearer tok\x01\x01"),
                "AQ==".into(),
            ]
        );
    }

    #[tokio::test]
    async fn a_server_without_oauth_mechanisms_is_told_before_anything_is_sent() {
        let (port, server) = fake(
            "* OK ready\r\n",
            vec!["* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nC1 OK done\r\n".into()],
        )
        .await;
        let err = ImapClient::connect(&endpoint(port), &oauth("jane", "tok"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::OAuthNotOffered { .. }), "{err}");
        assert!(!err.is_token_refused());
        assert_eq!(server.await.unwrap(), ["C1 CAPABILITY"]);
    }

    /// A busy server's refusal stays transient, OAuth or not.
    #[tokio::test]
    async fn a_throttled_oauth_login_is_transient_not_a_refused_token() {
        let (port, _server) = fake(
            "* OK ready\r\n",
            vec![
                "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\nC1 OK done\r\n".into(),
                "A0001 NO Request is throttled. Suggested Backoff Time: 92415 milliseconds\r\n"
                    .into(),
            ],
        )
        .await;
        let err = ImapClient::connect(&endpoint(port), &oauth("jane", "tok"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Throttled { .. }), "{err}");
    }

    #[test]
    fn kept_bytes_show_their_range_of_the_buffer() {
        let buf = b"* 1 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n".to_vec();
        let start = buf.windows(5).position(|w| w == b"hello").unwrap();
        let kept = MessageBytes::kept(buf, start..start + 5, |b| b.as_slice());
        assert_eq!(&kept[..], b"hello");
        assert_eq!(&MessageBytes::from(b"abc".to_vec())[..], b"abc");
        assert_eq!(format!("{kept:?}"), "MessageBytes(5 bytes)");
    }

    /// Compressed data that can't be inflated is a garbled reply (retried,
    /// with words that point at compression), not a dropped connection.
    #[tokio::test]
    async fn garbage_that_cannot_be_inflated_is_a_garbled_reply() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut server, client) = tokio::io::duplex(64);
        server.write_all(&[0xff; 32]).await.unwrap();
        drop(server);
        let mut z = crate::compress::Deflate::new(client);
        let e = z.read_to_end(&mut Vec::new()).await.unwrap_err();
        let place = Place {
            side: Side::Source,
            host: "mail.example".into(),
            port: 143,
            protocol: "IMAP4",
        };
        let err = io_err(&place, "fetching messages", Duration::from_secs(60), &e);
        assert_eq!(err.code(), "garbled-reply");
        assert_eq!(err.class(), crate::error::ErrorClass::Transient);
        assert!(err.to_string().contains("compressed data garbled"), "{err}");
    }
}
