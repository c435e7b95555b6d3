//! TCP and TLS connections with timeouts, and the certificate policies.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::compress::Deflate;

#[cfg(test)]
pub(crate) mod script;
pub mod throttle;
pub mod trace;
pub use throttle::Throttle;

/// Which server certificates are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertPolicy {
    /// The operating system's trust store.
    System,
    /// The OS trust store plus the certificates in this PEM file.
    CaFile(std::path::PathBuf),
    /// Anything, including expired and self-signed certificates. Only when the
    /// user explicitly chose it.
    AcceptInvalid,
}

/// How long connecting (TCP, then the TLS handshake) may take by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A connection that is either plain or TLS, so one IMAP client can use both
/// and STARTTLS can upgrade in place.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// COMPRESS=DEFLATE over either of the others.
    Compressed(Box<Deflate<Stream>>),
    /// Only for the moment a stream is being wrapped: never read or written.
    Gone,
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Tls(_) => true,
            Stream::Compressed(z) => z.get_ref().is_tls(),
            Stream::Plain(_) | Stream::Gone => false,
        }
    }

    /// The server's address, to judge whether compressing pays.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Stream::Plain(tcp) => tcp.peer_addr().ok().map(|a| a.ip()),
            Stream::Tls(tls) => tls.get_ref().0.peer_addr().ok().map(|a| a.ip()),
            Stream::Compressed(z) => z.get_ref().peer_ip(),
            Stream::Gone => None,
        }
    }

    /// `local>peer` socket addresses of the TCP connection underneath.
    pub fn connection_id(&self) -> String {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
            Stream::Compressed(z) => return z.get_ref().connection_id(),
            Stream::Gone => return String::new(),
        };
        match (tcp.local_addr(), tcp.peer_addr()) {
            (Ok(l), Ok(p)) => format!("{l}>{p}"),
            _ => String::new(),
        }
    }

    /// From now on, every byte each way is DEFLATE-compressed.
    pub fn compress(&mut self) {
        let plain = std::mem::replace(self, Stream::Gone);
        *self = Stream::Compressed(Box::new(Deflate::new(plain)));
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Compressed(z) => Pin::new(z.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Compressed(z) => Pin::new(z.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Compressed(z) => Pin::new(z.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Compressed(z) => Pin::new(z.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NetError {
    #[error("the connection timed out")]
    Timeout,
    #[error("the connection was refused (nothing listens on that port)")]
    Refused,
    #[error("the host name could not be resolved")]
    Resolve,
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Certificate(String),
    #[error("the TLS handshake failed: {0}")]
    Tls(String),
    /// The server answered a TLS handshake in plain text.
    #[error("the server does not speak TLS on this port")]
    NotTls,
}

impl NetError {
    fn from_io(e: &io::Error) -> NetError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => NetError::Refused,
            io::ErrorKind::TimedOut => NetError::Timeout,
            _ if e.to_string().contains("lookup") || e.to_string().contains("resolve") => {
                NetError::Resolve
            }
            _ => NetError::Io(e.to_string()),
        }
    }
}

pub async fn connect_tcp(host: &str, port: u16, limit: Duration) -> Result<TcpStream, NetError> {
    let tcp = tokio::time::timeout(limit, TcpStream::connect((host, port)))
        .await
        .map_err(|_| NetError::Timeout)?
        .map_err(|e| NetError::from_io(&e))?;
    // Small commands and their replies should not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    // Keep NAT tables and firewalls aware of connections that sit idle while
    // the other side works (the engine also sends NOOPs).
    let _ = socket2_keepalive(&tcp);
    Ok(tcp)
}

/// Wraps a TCP connection in TLS, verifying the server per `policy`.
pub async fn start_tls(
    tcp: TcpStream,
    host: &str,
    policy: &CertPolicy,
    limit: Duration,
) -> Result<Stream, NetError> {
    let config = client_config(policy)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| NetError::Tls(format!("{host:?} is not a valid server name")))?;
    let connector = TlsConnector::from(config);
    let tls = tokio::time::timeout(limit, connector.connect(name, tcp))
        .await
        .map_err(|_| NetError::Timeout)?
        .map_err(|e| classify_tls_error(&e))?;
    Ok(Stream::Tls(Box::new(tls)))
}

fn classify_tls_error(e: &io::Error) -> NetError {
    let inner = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            NetError::Certificate(describe_cert_error(cert))
        }
        // Plain text where a TLS record was expected: "* OK" or "+OK".
        Some(rustls::Error::InvalidMessage(_)) => NetError::NotTls,
        Some(other) => NetError::Tls(other.to_string()),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            NetError::Io("the server closed the connection during the TLS handshake".into())
        }
        None if e.kind() == io::ErrorKind::ConnectionReset => {
            NetError::Io("the connection was reset during the TLS handshake".into())
        }
        None => NetError::Tls(e.to_string()),
    }
}

fn describe_cert_error(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    const TRUST: &str = "If you trust this server, add its certificate authority file to the job (ca_file), or choose to accept invalid certificates for this job.";
    match e {
        C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired: the host has not renewed it. Ask the host to renew it; meanwhile, if you trust this server, choose to accept invalid certificates for this job.".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet: this computer's date or time is probably wrong. Correct the clock, then run the job again.".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the server's certificate was issued for a different host name: the server name in the job is an alias. Enter the host name the certificate was issued for (often the provider's own, such as mail.provider.example), or, if you trust this server, choose to accept invalid certificates for this job.".into()
        }
        C::UnknownIssuer => {
            format!("the server's certificate is self-signed or issued by an authority this computer does not trust. {TRUST}")
        }
        C::Revoked => "the server's certificate has been revoked. Ask the host to replace it; do not accept it unless the host confirms.".into(),
        // webpki's words for a self-signed certificate that is its own CA.
        other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            format!("the server's certificate is self-signed or issued by an authority this computer does not trust. {TRUST}")
        }
        other => format!("the server's certificate was rejected ({other:?}). {TRUST}"),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The operating system's trust store, read once per process: parsing the
/// bundle cost more than a TLS handshake, and it was read for every
/// connection. (A long-lived app sees a changed bundle after a restart.)
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            Arc::new(roots)
        })
        .clone()
}

/// What a client configuration depends on: the policy, and for a
/// certificate file its certificates (not its path: a file changed between
/// two jobs of the app is read afresh).
#[derive(PartialEq, Eq, Hash)]
enum ConfigKey {
    System,
    AcceptInvalid,
    CaFile(Vec<Vec<u8>>),
}

/// One configuration per policy and process, shared by every connection:
/// built once, and its TLS session cache lets later connections to the same
/// server resume instead of doing a full handshake.
fn client_config(policy: &CertPolicy) -> Result<Arc<ClientConfig>, NetError> {
    static CONFIGS: OnceLock<Mutex<HashMap<ConfigKey, Arc<ClientConfig>>>> = OnceLock::new();
    let pinned = match policy {
        CertPolicy::CaFile(path) => read_pem(path)?,
        _ => Vec::new(),
    };
    let key = match policy {
        CertPolicy::System => ConfigKey::System,
        CertPolicy::AcceptInvalid => ConfigKey::AcceptInvalid,
        CertPolicy::CaFile(_) => ConfigKey::CaFile(pinned.iter().map(|c| c.to_vec()).collect()),
    };
    let configs = CONFIGS.get_or_init(Default::default);
    if let Some(config) = configs.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(config.clone());
    }
    let config = Arc::new(build_config(policy, pinned)?);
    configs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, config.clone());
    Ok(config)
}

fn build_config(
    policy: &CertPolicy,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<ClientConfig, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let config = match policy {
        CertPolicy::AcceptInvalid => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
            .with_no_client_auth(),
        CertPolicy::System | CertPolicy::CaFile(_) => {
            let mut own = RootCertStore::empty();
            for cert in &pinned {
                // A self-signed server certificate is often not a valid
                // CA; it is still honoured below as a pinned certificate.
                let _ = own.add(cert.clone());
            }
            let verifier = Pinned {
                own: match own.is_empty() {
                    true => None,
                    false => Some(webpki_verifier(Arc::new(own))?),
                },
                all: OnceLock::new(),
                pinned,
            };
            if verifier.own.is_none() {
                // Nothing to try before the system's roots: check now
                // that there are any, to say so before connecting.
                verifier.all_roots()?;
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

fn webpki_verifier(
    roots: Arc<RootCertStore>,
) -> Result<Arc<rustls::client::WebPkiServerVerifier>, NetError> {
    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| NetError::Tls(e.to_string()))
}

/// TCP keep-alive probes after a minute of silence.
fn socket2_keepalive(tcp: &TcpStream) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(20));
    socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive)
}

fn read_pem(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, NetError> {
    use rustls::pki_types::pem::PemObject;
    let unreadable = |e: String| {
        NetError::Certificate(format!(
            "the certificate file {} could not be read: {e}",
            path.display()
        ))
    };
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(unreadable("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The usual chain verification against the system's roots plus the job's
/// certificate file, plus: a server certificate that is itself in the job's
/// certificate file is trusted as it is (a pinned self-signed certificate),
/// whatever its CA flags say.
#[derive(Debug)]
struct Pinned {
    /// The file's certificates alone, tried first: a chain they anchor is
    /// valid against the union too, and the server a job names a file for
    /// usually has its CA in it, so the system bundle is never needed.
    own: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    /// The system's roots and the file's: the verdict whenever `own` has
    /// none, built on first need.
    all: OnceLock<Arc<rustls::client::WebPkiServerVerifier>>,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Pinned {
    fn all_roots(&self) -> Result<&Arc<rustls::client::WebPkiServerVerifier>, NetError> {
        if let Some(v) = self.all.get() {
            return Ok(v);
        }
        let mut roots = (*system_roots()).clone();
        for cert in &self.pinned {
            let _ = roots.add(cert.clone());
        }
        if roots.is_empty() {
            return Err(NetError::Certificate(
                "this computer has no trusted certificate authorities; add the server's certificate authority file to the job".into(),
            ));
        }
        let v = webpki_verifier(Arc::new(roots))?;
        Ok(self.all.get_or_init(|| v))
    }

    fn chain(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::client::danger::ServerCertVerifier as _;
        if let Some(own) = &self.own {
            if let Ok(v) =
                own.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            {
                return Ok(v);
            }
        }
        let all = self
            .all_roots()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        all.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // A pinned certificate is trusted whatever the chain check would
        // say, so it is looked for first: no chain to build, and no system
        // bundle to read for a self-signed server.
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        self.chain(end_entity, intermediates, server_name, ocsp_response, now)
    }

    // Handshake signatures do not depend on the roots.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The verifier for "accept invalid certificates": still checks signatures
/// of the handshake, accepts any certificate chain.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether `host:port` completes a TLS handshake (any certificate): asked
/// when a plain connection got no greeting, to tell "this port speaks TLS"
/// from "the server is slow".
pub async fn speaks_tls(host: &str, port: u16, limit: Duration) -> bool {
    let Ok(tcp) = connect_tcp(host, port, limit).await else {
        return false;
    };
    start_tls(tcp, host, &CertPolicy::AcceptInvalid, limit)
        .await
        .is_ok()
}

/// A stream whose reads and writes fail with [`io::ErrorKind::TimedOut`]
/// when no byte moves for `limit`: a slow but steady transfer of a large
/// message never times out, a silent server does. (The clock runs only
/// while a read or write is waiting.)
///
/// With a [`Throttle`], reads draw on the job's bandwidth; waiting for it is
/// not silence, so it never counts towards the limit.
#[derive(Debug)]
pub struct Timed<S> {
    inner: S,
    limit: Duration,
    read_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    write_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    throttle: Option<Throttle>,
    /// When the bucket will hold enough for the next read.
    throttle_wait: Option<Pin<Box<tokio::time::Sleep>>>,
    /// This connection's number in the debug trace ([`trace`]).
    trace: Option<u64>,
    /// Small writes gathered until a flush (async-imap writes a command's
    /// tag, space, text and CRLF apart): one TLS record and one packet for
    /// a command, or for an APPEND's line with a small message.
    wbuf: Vec<u8>,
    /// How much of `wbuf` is written already.
    wpos: usize,
}

/// Writes up to this size are gathered in [`Timed`]'s buffer.
const GATHER: usize = 32 << 10;

impl<S> Timed<S> {
    pub fn new(inner: S, limit: Duration) -> Timed<S> {
        Timed {
            inner,
            limit,
            read_deadline: None,
            write_deadline: None,
            throttle: None,
            throttle_wait: None,
            trace: None,
            wbuf: Vec::new(),
            wpos: 0,
        }
    }

    /// Traces this connection's traffic under number `id` ([`trace`]).
    pub fn traced(mut self, id: Option<u64>) -> Timed<S> {
        self.trace = id;
        self
    }

    pub fn trace_id(&self) -> Option<u64> {
        self.trace
    }

    /// From now on, reads take their bytes from `throttle` (`None`: no
    /// limit).
    pub fn set_throttle(&mut self, throttle: Option<Throttle>) {
        self.throttle = throttle;
        self.throttle_wait = None;
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Changes how long a read or write may wait for a byte.
    pub fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// Polls a deadline, starting it on first use; `Err` once it has passed.
fn check_deadline(
    deadline: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
    what: &str,
) -> Poll<io::Result<()>> {
    let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *deadline = None;
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out during {what}"),
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future as _;

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let (Some(throttle), true) = (&this.throttle, buf.remaining() > 0) {
            let granted = match throttle.poll_grant(&mut this.throttle_wait, cx) {
                Poll::Ready(n) => n,
                // Our own wait, not the server's silence: the clock
                // starts afresh once the read goes to the network.
                Poll::Pending => {
                    this.read_deadline = None;
                    return Poll::Pending;
                }
            };
            let (polled, used) = {
                let room = buf.initialize_unfilled_to(granted.min(buf.remaining()));
                let mut part = ReadBuf::new(room);
                let polled = Pin::new(&mut this.inner).poll_read(cx, &mut part);
                (polled, part.filled().len())
            };
            throttle.settle(granted, used);
            return match polled {
                Poll::Ready(r) => {
                    let before = buf.filled().len();
                    buf.advance(used);
                    trace::received(this.trace, &buf.filled()[before..]);
                    this.read_deadline = None;
                    Poll::Ready(r)
                }
                Poll::Pending => check_deadline(&mut this.read_deadline, this.limit, cx, "read"),
            };
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                trace::received(this.trace, &buf.filled()[before..]);
                this.read_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => check_deadline(&mut this.read_deadline, this.limit, cx, "read"),
        }
    }
}

impl<S: AsyncWrite + Unpin> Timed<S> {
    /// Writes out what was gathered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.wpos == 0 && !self.wbuf.is_empty() {
            trace::sent(self.trace, &self.wbuf);
        }
        while self.wpos < self.wbuf.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[self.wpos..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.wpos += n;
                    self.write_deadline = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return match check_deadline(&mut self.write_deadline, self.limit, cx, "write") {
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    };
                }
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wbuf.len() + buf.len() <= GATHER {
            this.wbuf.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        // Too much to gather: what was gathered goes first, then this.
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if buf.len() < GATHER {
            this.wbuf.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                if let Ok(n) = &r {
                    trace::sent(this.trace, &buf[..*n]);
                }
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                match check_deadline(&mut this.write_deadline, this.limit, cx, "write") {
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Pending,
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => check_deadline(&mut this.write_deadline, this.limit, cx, "write"),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_a_slow_one_does_not() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut timed = Timed::new(client, Duration::from_millis(100));
        let writer = tokio::spawn(async move {
            // 8 bytes, one every 60 ms: 480 ms in all, never 100 ms silent.
            for b in 0..8u8 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                server.write_all(&[b]).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
            drop(server);
        });
        let mut got = [0u8; 8];
        timed.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 7]);
        let mut more = [0u8; 1];
        let err = timed.read(&mut more).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "timed out during read");
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_reads_nothing_times_out_a_write() {
        let (client, _server) = tokio::io::duplex(16);
        let mut timed = Timed::new(client, Duration::from_millis(50));
        // Gathered, then written out by the flush.
        timed.write_all(&[0u8; 64]).await.unwrap();
        let err = timed.flush().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
