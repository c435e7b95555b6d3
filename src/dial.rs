//! Reaching a server: the first port of a list that accepts a connection,
//! secured with TLS when the protocol starts with it; failures in a user's
//! words. Shared by the IMAP and POP3 clients.

use std::time::Duration;

use crate::error::{self, MailError, Place, Side};
use crate::net::CertPolicy;
use crate::net::{self, NetError, Stream};

/// Where to connect, and how.
pub struct Target<'a> {
    pub side: Side,
    pub host: &'a str,
    /// Tried in order until one accepts.
    pub ports: &'a [u16],
    /// "IMAP4S", "POP3", …, for messages.
    pub protocol: &'static str,
    /// TLS from the first byte, with these certificate rules.
    pub tls: Option<&'a CertPolicy>,
    pub connect_timeout: Duration,
}

/// Connects to the first port that accepts (a TLS failure there is final:
/// the server answered); `MailError::Connect` when none does.
pub async fn dial(t: &Target<'_>) -> Result<(Stream, Place), MailError> {
    let mut last = NetError::Refused;
    for &port in t.ports {
        let tcp = match net::connect_tcp(t.host, port, t.connect_timeout).await {
            Ok(tcp) => tcp,
            Err(e) => {
                last = e;
                continue;
            }
        };
        let place = Place {
            side: t.side,
            host: t.host.to_string(),
            port,
            protocol: t.protocol,
        };
        let stream = match t.tls {
            Some(certs) => secure(tcp, t.host, certs, t.connect_timeout, &place).await?,
            None => Stream::Plain(tcp),
        };
        return Ok((stream, place));
    }
    Err(MailError::Connect {
        side: t.side,
        host: t.host.to_string(),
        ports: t
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        protocol: t.protocol,
        reason: last,
    })
}

/// The TLS handshake (at once, or after STARTTLS/STLS), its failure told
/// as the user reads it.
pub async fn secure(
    tcp: tokio::net::TcpStream,
    host: &str,
    certs: &CertPolicy,
    limit: Duration,
    place: &Place,
) -> Result<Stream, MailError> {
    net::start_tls(tcp, host, certs, limit)
        .await
        .map_err(|e| error::tls_failure(place, e, limit))
}
