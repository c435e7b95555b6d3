//! Just enough HTTP/1.1 for token endpoints: one request per connection
//! (`Connection: close`), a form POST or a GET, and the answer read whole
//! (Content-Length, chunked, or up to the close). HTTPS with the system's
//! roots; plain http only to this computer (test servers).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::OAuthError;
use crate::net::{self, CertPolicy, NetError};

/// How long one exchange with a token endpoint may take, all told.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// The most a head or a body may be: token answers are a few KB.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// An `http(s)://host[:port]/path?query` address, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The path and query, from the first `/`.
    pub target: String,
}

impl Url {
    /// `Err` says what is wrong, for a message.
    pub fn parse(url: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url:?} is not an https:// address"));
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        // No user:password@ part: nothing of the kind belongs in a token URL.
        if authority.contains('@') || authority.is_empty() {
            return Err(format!("{url:?} has no usable host name"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // An IPv6 literal: [::1]:8080
            Some(v6) => {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("{url:?} has an unclosed [ in its host"))?;
                (h.to_string(), after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            },
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("{url:?} has a bad port number"))?,
            None if https => 443,
            None => 80,
        };
        let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1");
        if !https && !local {
            return Err(format!(
                "{url:?} is not an https:// address (plain http is allowed only to this computer)"
            ));
        }
        Ok(Url {
            https,
            host,
            port,
            target,
        })
    }

    /// `host` or `host:port`, as the Host header and messages say it.
    pub fn authority(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        match (self.https, self.port) {
            (true, 443) | (false, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

/// The host a URL names, for messages ("login.microsoftonline.com");
/// the URL itself when it cannot be read.
pub(crate) fn service_of(url: &str) -> String {
    Url::parse(url)
        .map(|u| u.authority())
        .unwrap_or_else(|_| url.to_string())
}

/// An answer: its status and body (headers are not needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `form` (application/x-www-form-urlencoded) to `url`.
pub(crate) async fn post_form(url: &str, form: &[(&str, &str)]) -> Result<Response, OAuthError> {
    let body = encode_form(form);
    request(
        url,
        "POST",
        Some(body.as_bytes()),
        TIMEOUT,
        &CertPolicy::System,
    )
    .await
}

/// GETs `url`.
#[allow(dead_code)] // GET endpoints (tokeninfo); only the tests use it yet
pub(crate) async fn get(url: &str) -> Result<Response, OAuthError> {
    request(url, "GET", None, TIMEOUT, &CertPolicy::System).await
}

/// One request and its answer, within `limit` all told.
pub(crate) async fn request(
    url: &str,
    method: &str,
    body: Option<&[u8]>,
    limit: Duration,
    certs: &CertPolicy,
) -> Result<Response, OAuthError> {
    let service = service_of(url);
    let u = Url::parse(url).map_err(|reason| OAuthError::BadSettings { reason })?;
    let exchange = async {
        let tcp = net::connect_tcp(&u.host, u.port, limit)
            .await
            .map_err(|e| unreachable(&service, e, limit))?;
        let mut stream = match u.https {
            true => net::start_tls(tcp, &u.host, certs, limit)
                .await
                .map_err(|e| unreachable(&service, e, limit))?,
            false => net::Stream::Plain(tcp),
        };
        exchange(&mut stream, &u, method, body)
            .await
            .map_err(|reason| match reason {
                Failure::Io(reason) => OAuthError::Unreachable {
                    service: service.clone(),
                    reason,
                },
                Failure::Garbled(detail) => OAuthError::BadResponse {
                    service: service.clone(),
                    status: 0,
                    detail,
                },
            })
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(r) => r,
        Err(_) => Err(OAuthError::Timeout {
            service,
            after: limit,
        }),
    }
}

fn unreachable(service: &str, e: NetError, limit: Duration) -> OAuthError {
    match e {
        NetError::Timeout => OAuthError::Timeout {
            service: service.to_string(),
            after: limit,
        },
        e => OAuthError::Unreachable {
            service: service.to_string(),
            reason: e.to_string(),
        },
    }
}

/// Why an exchange failed, before the service's name is put to it.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The connection failed.
    Io(String),
    /// The answer was not HTTP as expected.
    Garbled(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Failure::Io("the connection closed before the answer was complete".into())
            }
            _ => Failure::Io(e.to_string()),
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    url: &Url,
    method: &str,
    body: Option<&[u8]>,
) -> Result<Response, Failure> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: MailFerry/{}\r\nAccept: application/json\r\nConnection: close\r\n",
        url.target,
        url.authority(),
        env!("CARGO_PKG_VERSION")
    );
    if let Some(b) = body {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&out).await?;
    stream.flush().await?;
    read_response(stream).await
}

/// Reads an answer: skips 1xx interim answers, then the body by its
/// framing.
async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Response, Failure> {
    let mut buf = Vec::new();
    loop {
        let head_end = read_head(stream, &mut buf).await?;
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = parse_status(status_line)
            .ok_or_else(|| Failure::Garbled(format!("not an HTTP answer ({status_line:.60})")))?;
        if (100..200).contains(&status) {
            continue;
        }
        let mut chunked = false;
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| {
                    Failure::Garbled(format!("a bad Content-Length ({value:.20})"))
                })?);
            }
        }
        let body = if chunked {
            read_chunked(stream, buf).await?
        } else if let Some(n) = length {
            if n > MAX_BODY {
                return Err(Failure::Garbled(format!(
                    "an answer of {n} bytes, too large"
                )));
            }
            read_exactly(stream, buf, n).await?
        } else {
            read_to_close(stream, buf).await?
        };
        return Ok(Response { status, body });
    }
}

fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    match code.len() {
        3 => code.parse().ok(),
        _ => None,
    }
}

/// Reads until `buf` holds a whole head; where its blank line starts.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, Failure> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(i);
        }
        if buf.len() > MAX_HEAD {
            return Err(Failure::Garbled("an answer whose headers never end".into()));
        }
        if fill(stream, buf).await? == 0 {
            return Err(match buf.is_empty() {
                true => Failure::Io("the server closed the connection without answering".into()),
                false => Failure::Garbled("an answer cut short in its headers".into()),
            });
        }
    }
}

/// Reads more into `buf`; 0 at the end. A TLS peer that closes without
/// close_notify is an end too: the framing decides whether that is early.
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, Failure> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(e.into()),
    }
}

async fn read_exactly<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    n: usize,
) -> Result<Vec<u8>, Failure> {
    while buf.len() < n {
        if fill(stream, &mut buf).await? == 0 {
            return Err(Failure::Io(
                "the connection closed before the answer was complete".into(),
            ));
        }
    }
    buf.truncate(n);
    Ok(buf)
}

async fn read_to_close<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    while fill(stream, &mut buf).await? > 0 {
        if buf.len() > MAX_BODY {
            return Err(Failure::Garbled("an answer too large".into()));
        }
    }
    Ok(buf)
}

/// Decodes a chunked body (RFC 9112 §7.1); trailers are read and dropped.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream, &mut buf).await?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| Failure::Garbled(format!("a bad chunk size ({size_text:.20})")))?;
        if body.len() + size > MAX_BODY {
            return Err(Failure::Garbled("an answer too large".into()));
        }
        if size == 0 {
            // Trailers, up to the blank line (or the close).
            while !read_line(stream, &mut buf).await?.is_empty() {}
            return Ok(body);
        }
        while buf.len() < size + 2 {
            if fill(stream, &mut buf).await? == 0 {
                return Err(Failure::Io(
                    "the connection closed in the middle of the answer".into(),
                ));
            }
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(Failure::Garbled("a chunk without its line end".into()));
        }
        buf.drain(..size + 2);
    }
}

/// One CRLF-ended line taken off the front of `buf` (reading as needed);
/// empty at the close.
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<String, Failure> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD {
            return Err(Failure::Garbled("a chunk line that never ends".into()));
        }
        if fill(stream, buf).await? == 0 {
            return match buf.is_empty() {
                true => Ok(String::new()),
                false => Err(Failure::Io(
                    "the connection closed in the middle of the answer".into(),
                )),
            };
        }
    }
}

/// `a=1&b=x%20y`: every byte but the unreserved ones percent-encoded.
pub(crate) fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes one form or query component: `+` is a space, `%XX` a byte.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `name=value` pairs of a query string or form body, decoded.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}
