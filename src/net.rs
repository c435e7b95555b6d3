//! TCP and TLS connections with timeouts, and the certificate policies.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::job::CertPolicy;

/// How long connecting (TCP plus TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A connection that is either plain or TLS, so one IMAP client can use both
/// and STARTTLS can upgrade in place.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
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

pub async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, NetError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| NetError::Timeout)?
        .map_err(|e| NetError::from_io(&e))?;
    // Small commands and their replies should not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Wraps a TCP connection in TLS, verifying the server per `policy`.
pub async fn start_tls(
    tcp: TcpStream,
    host: &str,
    policy: &CertPolicy,
) -> Result<Stream, NetError> {
    let config = client_config(policy)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| NetError::Tls(format!("{host:?} is not a valid server name")))?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
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
        Some(other) => NetError::Tls(other.to_string()),
        None => NetError::Tls(e.to_string()),
    }
}

fn describe_cert_error(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match e {
        C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet (check the computer's clock)".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the server's certificate was issued for a different host name".into()
        }
        C::UnknownIssuer => {
            "the server's certificate is self-signed or issued by an authority this computer does not trust".into()
        }
        C::Revoked => "the server's certificate has been revoked".into(),
        // webpki's words for a self-signed certificate that is its own CA.
        other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "the server's certificate is self-signed or issued by an authority this computer does not trust".into()
        }
        other => format!("the server's certificate was rejected ({other:?})"),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(policy: &CertPolicy) -> Result<ClientConfig, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let config = match policy {
        CertPolicy::AcceptInvalid => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
            .with_no_client_auth(),
        CertPolicy::System | CertPolicy::CaFile(_) => {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let mut pinned = Vec::new();
            if let CertPolicy::CaFile(path) = policy {
                pinned = read_pem(path)?;
                for cert in &pinned {
                    // A self-signed server certificate is often not a valid
                    // CA; it is still honoured below as a pinned certificate.
                    let _ = roots.add(cert.clone());
                }
            }
            if roots.is_empty() {
                return Err(NetError::Certificate(
                    "this computer has no trusted certificate authorities; add the server's certificate authority file to the job".into(),
                ));
            }
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| NetError::Tls(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned { webpki, pinned }))
                .with_no_client_auth()
        }
    };
    Ok(config)
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

/// The usual chain verification, plus: a server certificate that is itself
/// in the job's certificate file is trusted as it is (a pinned self-signed
/// certificate), whatever its CA flags say.
#[derive(Debug)]
struct Pinned {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
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
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
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
