//! The HTTP client, each grant and the broker against a tiny in-test
//! HTTP responder on 127.0.0.1, and the JWT checked with ring's own RSA
//! verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{self, Url};
use super::*;
use crate::job::oauth::ServiceAccountKey;
use crate::job::{OAuthFlow, Provider};
use crate::service::MemorySecrets;

// ---------------------------------------------------------------- responder

/// One request the responder received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    head: String,
    form: HashMap<String, String>,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn grants(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter_map(|s| s.form.get("grant_type").cloned())
            .collect()
    }
}

/// Answers each connection with the raw bytes `answer` makes of its
/// request, then closes it.
async fn serve(answer: impl Fn(&Seen) -> String + Send + Sync + 'static) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + 4 + length {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = String::from_utf8_lossy(&buf[head_end + 4..]).into_owned();
                let mut first = head.lines().next().unwrap_or_default().split(' ');
                let s = Seen {
                    method: first.next().unwrap_or_default().to_string(),
                    target: first.next().unwrap_or_default().to_string(),
                    head: head.clone(),
                    form: http::parse_query(&body).into_iter().collect(),
                };
                log.lock().unwrap().push(s.clone());
                let reply = answer(&s);
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { port, seen }
}

fn reply(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn oauth_error(code: &str, description: &str) -> String {
    reply(
        400,
        &serde_json::json!({"error": code, "error_description": description}).to_string(),
    )
}

fn settings(flow: OAuthFlow, server: &Server) -> OAuth {
    OAuth {
        flow,
        provider: Provider::Custom,
        client_id: "mf-client".into(),
        client_secret: match flow {
            OAuthFlow::ClientCredentials => Some(Secret::new("client-secret-xyzzy")),
            _ => None,
        },
        tenant: None,
        scope: "https://mail.test/imap offline".into(),
        token_url: server.url("/token"),
        device_url: Some(server.url("/device")),
        auth_url: Some(server.url("/authorize")),
        service_account: None,
    }
}

/// Secrets that must never be in a message.
const NEVER: [&str; 4] = [
    "client-secret-xyzzy",
    "rt-secret-1",
    "rt-rotated-2",
    "device-code-secret",
];

fn assert_clean(e: &OAuthError) {
    for text in [e.to_string(), format!("{e:?}")] {
        for s in NEVER {
            assert!(!text.contains(s), "{s} in {text}");
        }
    }
}

// ------------------------------------------------------------------ HTTP

#[test]
fn urls_are_taken_apart_and_plain_http_is_only_for_this_computer() {
    let u = Url::parse("https://login.example.com/tenant/oauth2/v2.0/token?x=1").unwrap();
    assert_eq!(
        (u.https, u.host.as_str(), u.port, u.target.as_str()),
        (
            true,
            "login.example.com",
            443,
            "/tenant/oauth2/v2.0/token?x=1"
        )
    );
    assert_eq!(u.authority(), "login.example.com");
    let l = Url::parse("http://127.0.0.1:8080").unwrap();
    assert_eq!((l.port, l.target.as_str()), (8080, "/"));
    assert_eq!(l.authority(), "127.0.0.1:8080");
    let v6 = Url::parse("http://[::1]:9/t").unwrap();
    assert_eq!((v6.host.as_str(), v6.port), ("::1", 9));
    assert_eq!(Url::parse("https://h.example?a=b").unwrap().target, "/?a=b");
    assert!(Url::parse("http://idp.example/token")
        .unwrap_err()
        .contains("only to this computer"));
    assert!(Url::parse("ftp://x").is_err());
    assert!(Url::parse("https://user:pw@h/").is_err());
    assert!(Url::parse("https://h:99999/").is_err());
}

#[test]
fn forms_are_percent_encoded_and_decoded() {
    let form = http::encode_form(&[("scope", "a b/c"), ("x", "é&=+")]);
    assert_eq!(form, "scope=a%20b%2Fc&x=%C3%A9%26%3D%2B");
    let back = http::parse_query(&form);
    assert_eq!(back[0], ("scope".into(), "a b/c".into()));
    assert_eq!(back[1], ("x".into(), "é&=+".into()));
    assert_eq!(http::percent_decode("a+b%2"), "a b%2");
}

#[tokio::test]
async fn a_form_post_is_sent_and_a_content_length_answer_read() {
    let server = serve(|_| reply(200, r#"{"ok":true}"#)).await;
    let r = http::post_form(&server.url("/token"), &[("grant_type", "x y")])
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &br#"{"ok":true}"#[..]));
    let seen = &server.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("POST", "/token")
    );
    assert_eq!(seen.form["grant_type"], "x y");
    let head = seen.head.to_ascii_lowercase();
    for h in [
        "connection: close",
        "content-type: application/x-www-form-urlencoded",
        "content-length: 16",
        &format!("host: 127.0.0.1:{}", server.port),
    ] {
        assert!(head.contains(h), "{h} not in {head}");
    }
}

#[tokio::test]
async fn chunked_answers_and_interim_answers_are_read() {
    let server = serve(|_| {
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;ext=1\r\n{\"err\r\n10\r\nor\":\"invalid_cli\r\n4\r\nent\"\r\n1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n"
            .to_string()
    })
    .await;
    let r = http::get(&server.url("/t")).await.unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        r#"{"error":"invalid_client"}"#
    );
    assert_eq!(server.seen()[0].method, "GET");
}

#[tokio::test]
async fn an_answer_without_length_is_read_to_the_close() {
    let server = serve(|_| "HTTP/1.0 200 OK\r\n\r\n{\"a\":1}".to_string()).await;
    let r = http::get(&server.url("/")).await.unwrap();
    assert_eq!(r.body, br#"{"a":1}"#);
}

#[tokio::test]
async fn cut_short_silent_and_unreachable_servers_are_told_apart() {
    let cut = serve(|_| "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"a\"".to_string()).await;
    let e = http::get(&cut.url("/")).await.unwrap_err();
    assert!(
        matches!(&e, OAuthError::Unreachable { reason, .. } if reason.contains("before the answer was complete")),
        "{e:?}"
    );
    assert!(e.is_transient());
    let garbled = serve(|_| "SSH-2.0-OpenSSH\r\n\r\n".to_string()).await;
    let e = http::get(&garbled.url("/")).await.unwrap_err();
    assert!(matches!(e, OAuthError::BadResponse { .. }), "{e:?}");

    // Accepts, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (_s, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let e = http::request(
        &format!("http://127.0.0.1:{port}/token"),
        "GET",
        None,
        Duration::from_millis(300),
        &crate::net::CertPolicy::System,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        OAuthError::Timeout {
            service: format!("127.0.0.1:{port}"),
            after: Duration::from_millis(300)
        }
    );
    assert!(e.to_string().contains("did not answer within"), "{e}");
    hold.abort();

    // Nothing listens.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let e = http::get(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "Could not reach the sign-in service 127.0.0.1:{port}"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn https_is_spoken_with_the_servers_certificate_checked() {
    use tokio_rustls::rustls;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(reply(200, "{}").as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let url = format!("https://localhost:{port}/token");
    let ok = http::request(
        &url,
        "GET",
        None,
        Duration::from_secs(5),
        &crate::net::CertPolicy::CaFile(ca),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    // The system's roots do not know this certificate.
    let e = http::request(
        &url,
        "GET",
        None,
        Duration::from_secs(5),
        &crate::net::CertPolicy::System,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, OAuthError::Unreachable { reason, .. } if reason.contains("certificate")),
        "{e:?}"
    );
}

// ---------------------------------------------------------------- grants

#[tokio::test]
async fn a_refresh_sends_the_refresh_token_and_reads_a_rotated_one() {
    let server = serve(|_| {
        reply(
            200,
            r#"{"access_token":"at-1","token_type":"Bearer","expires_in":"3599","refresh_token":"rt-rotated-2"}"#,
        )
    })
    .await;
    let o = settings(OAuthFlow::Device, &server);
    let t = grants::refresh(&o, "jane", &Secret::new("rt-secret-1"))
        .await
        .unwrap();
    assert_eq!(t.access_token.expose(), "at-1");
    assert_eq!(t.expires_in, Some(Duration::from_secs(3599)));
    assert_eq!(t.refresh_token.unwrap().expose(), "rt-rotated-2");
    let form = &server.seen()[0].form;
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-secret-1");
    assert_eq!(form["client_id"], "mf-client");
    assert_eq!(form["scope"], o.scope);
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn client_credentials_send_the_secret_and_the_scope() {
    let server = serve(|_| reply(200, r#"{"access_token":"app-token","expires_in":3600}"#)).await;
    let o = settings(OAuthFlow::ClientCredentials, &server);
    let t = grants::client_credentials(&o).await.unwrap();
    assert_eq!(t.access_token.expose(), "app-token");
    assert!(t.refresh_token.is_none());
    let form = &server.seen()[0].form;
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_secret"], "client-secret-xyzzy");
    assert_eq!(form["scope"], o.scope);
}

#[tokio::test]
async fn each_provider_error_is_told_in_words_with_its_description_and_no_secret() {
    let cases: Vec<(&str, &str, OAuthFlow, Provider, &str)> = vec![
        (
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
            OAuthFlow::ClientCredentials,
            Provider::Microsoft,
            "Check client_id and client_secret",
        ),
        (
            "invalid_grant",
            "Token has been expired or revoked.",
            OAuthFlow::Device,
            Provider::Google,
            "Sign in to this mailbox again: `mailferry sign-in <job file> --user jane`",
        ),
        (
            "invalid_scope",
            "AADSTS70011: The provided value for scope is not valid.",
            OAuthFlow::Browser,
            Provider::Microsoft,
            "Check scope in the job's OAuth settings",
        ),
        (
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method.",
            OAuthFlow::ServiceAccount,
            Provider::Google,
            "Domain-wide delegation",
        ),
        (
            "unauthorized_client",
            "AADSTS700016: Application not found.",
            OAuthFlow::ClientCredentials,
            Provider::Microsoft,
            "grant admin consent",
        ),
        (
            "invalid_grant",
            "AADSTS65001: The user or administrator has not consented.",
            OAuthFlow::Browser,
            Provider::Microsoft,
            "grant admin consent",
        ),
        (
            "invalid_grant",
            "Invalid email or User ID",
            OAuthFlow::ServiceAccount,
            Provider::Google,
            "may not exist in the Google Workspace domain",
        ),
        (
            "temporarily_unavailable",
            "Try later.",
            OAuthFlow::ClientCredentials,
            Provider::Custom,
            "refused the request (temporarily_unavailable)",
        ),
    ];
    for (code, description, flow, provider, words) in cases {
        let echo = format!("{description} (you sent client-secret-xyzzy)");
        let server = serve(move |_| oauth_error(code, &echo)).await;
        let mut o = settings(flow, &server);
        o.provider = provider;
        o.client_secret = Some(Secret::new("client-secret-xyzzy"));
        let e = match flow {
            OAuthFlow::ClientCredentials => grants::client_credentials(&o).await,
            OAuthFlow::ServiceAccount => {
                let r = grants::read_tokens(
                    &grants::Ctx::new(&o, "jane", grants::Grant::JwtBearer, &o.token_url),
                    &http::get(&o.token_url).await.unwrap(),
                    &["rt-secret-1", "client-secret-xyzzy"],
                );
                r
            }
            _ => grants::refresh(&o, "jane", &Secret::new("rt-secret-1")).await,
        }
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains(words), "{code}: {text}");
        assert!(text.contains(&format!("[{description}")), "{text}");
        assert!(text.contains("(you sent ***)"), "{text}");
        assert_clean(&e);
        assert_eq!(
            e.is_transient(),
            code == "temporarily_unavailable",
            "{code}"
        );
    }
}

#[tokio::test]
async fn an_answer_that_is_not_oauth_says_so_with_its_status() {
    let server = serve(|s| match s.target.as_str() {
        "/token" => "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot found".to_string(),
        _ => reply(503, "<html>down</html>"),
    })
    .await;
    let mut o = settings(OAuthFlow::ClientCredentials, &server);
    let e = grants::client_credentials(&o).await.unwrap_err();
    assert!(e.to_string().contains("(not a token, HTTP 404)"), "{e}");
    assert!(!e.is_transient());
    o.token_url = server.url("/down");
    let e = grants::client_credentials(&o).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let ok_but_empty = serve(|_| reply(200, r#"{"token_type":"Bearer"}"#)).await;
    o.token_url = ok_but_empty.url("/token");
    let e = grants::client_credentials(&o).await.unwrap_err();
    assert!(e.to_string().contains("no access_token"), "{e}");
}

// ------------------------------------------------------------------- JWT

/// A fresh RSA key from openssl: (PKCS#8 PEM, PKCS#1 PEM).
fn rsa_key() -> (String, String) {
    let run = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        if let Some(i) = input {
            child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let pkcs8 = run(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        None,
    );
    let pkcs1 = run(&["rsa", "-traditional"], Some(&pkcs8));
    (pkcs8, pkcs1)
}

fn sa_key(pem: &str, token_uri: &str) -> ServiceAccountKey {
    ServiceAccountKey {
        client_email: "mf@proj.iam.gserviceaccount.com".into(),
        private_key: Secret::new(pem),
        private_key_id: Some("kid-1".into()),
        token_uri: token_uri.into(),
    }
}

fn b64json(part: &str) -> serde_json::Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_service_account_jwt_is_rs256_signed_with_the_claims_google_wants() {
    use base64::Engine;
    let (pkcs8, pkcs1) = rsa_key();
    for pem in [&pkcs8, &pkcs1] {
        let key = sa_key(pem, "https://oauth2.googleapis.com/token");
        let jwt = jwt::service_account_assertion(
            &key,
            "jane@example.com",
            "https://mail.google.com/",
            "https://oauth2.googleapis.com/token",
            1_700_000_000,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            b64json(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        assert_eq!(
            b64json(parts[1]),
            serde_json::json!({
                "iss": "mf@proj.iam.gserviceaccount.com",
                "sub": "jane@example.com",
                "scope": "https://mail.google.com/",
                "aud": "https://oauth2.googleapis.com/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
            })
        );
        let pair = jwt::key_pair(&key.private_key).unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            pair.public().as_ref(),
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies with the key's public half");
    }
}

#[test]
fn a_bad_key_is_named_without_its_text() {
    let not_pem = jwt::key_pair(&Secret::new("MIIEvQIBADANBgkqhkiG9w0")).unwrap_err();
    assert!(
        not_pem.to_string().contains("not a PEM private key"),
        "{not_pem}"
    );
    assert!(not_pem.to_string().contains("Download a new JSON key"));
    let garbage = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    let e = jwt::key_pair(&Secret::new(garbage)).unwrap_err();
    assert!(matches!(e, OAuthError::BadKey { .. }), "{e:?}");
    assert!(!e.to_string().contains("MIIB"), "{e}");
}

#[tokio::test]
async fn the_jwt_bearer_grant_sends_one_assertion_per_user() {
    let (pkcs8, _) = rsa_key();
    let server = serve(|s| {
        let sub = s.form["assertion"].split('.').nth(1).map(b64json).unwrap()["sub"]
            .as_str()
            .unwrap()
            .to_string();
        reply(
            200,
            &format!(r#"{{"access_token":"at-for-{sub}","expires_in":3600}}"#),
        )
    })
    .await;
    let mut o = settings(OAuthFlow::ServiceAccount, &server);
    o.client_id = String::new();
    o.service_account = Some(sa_key(&pkcs8, &o.token_url));
    let broker = TokenBroker::new(o.clone(), None);
    let jane = broker.token("jane", None).await.unwrap();
    let bob = broker.token("bob", None).await.unwrap();
    assert_eq!((jane.expose(), bob.expose()), ("at-for-jane", "at-for-bob"));
    // Cached: no third request.
    broker.token("jane", None).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let claims = b64json(seen[0].form["assertion"].split('.').nth(1).unwrap());
    assert_eq!(claims["aud"], o.token_url.as_str());
}

// ---------------------------------------------------------------- device

/// A device endpoint in Google's words (`verification_url`), whose token
/// endpoint answers each poll with the next of `polls`.
async fn device_server(polls: Vec<String>) -> Server {
    let polls = Mutex::new(polls.into_iter());
    serve(move |s| match s.target.as_str() {
        "/device" => reply(
            200,
            r#"{"device_code":"device-code-secret","user_code":"WDJB-MJHT","verification_url":"https://www.google.com/device","expires_in":1800,"interval":1}"#,
        ),
        _ => polls
            .lock()
            .unwrap()
            .next()
            .unwrap_or_else(|| oauth_error("expired_token", "no more")),
    })
    .await
}

#[tokio::test]
async fn a_device_sign_in_shows_the_code_polls_and_keeps_the_refresh_token() {
    let server = device_server(vec![
        oauth_error("authorization_pending", "waiting"),
        oauth_error("slow_down", "too fast"),
        reply(
            200,
            r#"{"access_token":"at-1","expires_in":3600,"refresh_token":"rt-secret-1"}"#,
        ),
    ])
    .await;
    let o = settings(OAuthFlow::Device, &server);
    let store = MemorySecrets::default();
    let shown = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    sign_in_device(
        &o,
        "jane@example.com",
        &store,
        &|p| shown.lock().unwrap().push(p),
        &Cancel::default(),
    )
    .await
    .unwrap();
    // 1 s, 1 s, then 1 + 5 s after slow_down.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(8), "{took:?}");
    assert_eq!(
        shown.into_inner().unwrap(),
        vec![DevicePrompt {
            user: "jane@example.com".into(),
            verification_uri: "https://www.google.com/device".into(),
            verification_uri_complete: None,
            user_code: "WDJB-MJHT".into(),
            expires_in: 1800,
        }]
    );
    assert_eq!(
        store
            .get(&refresh_token_ref(&o, "jane@example.com"))
            .unwrap()
            .unwrap()
            .expose(),
        "rt-secret-1"
    );
    let seen = server.seen();
    assert_eq!(seen[0].form["client_id"], "mf-client");
    assert_eq!(seen[0].form["scope"], o.scope);
    assert_eq!(
        server.grants(),
        vec!["urn:ietf:params:oauth:grant-type:device_code"; 3]
    );
    assert_eq!(seen[1].form["device_code"], "device-code-secret");
    assert!(is_signed_in(&o, "jane@example.com", &store).unwrap());
    assert!(!is_signed_in(&o, "bob@example.com", &store).unwrap());
}

#[tokio::test]
async fn a_declined_expired_or_cancelled_device_sign_in_says_which() {
    for (answer, words) in [
        (
            oauth_error("access_denied", "The user declined."),
            "The sign-in was declined",
        ),
        (
            oauth_error("expired_token", "Code expired."),
            "The sign-in code expired",
        ),
    ] {
        let server = device_server(vec![answer]).await;
        let o = settings(OAuthFlow::Device, &server);
        let store = MemorySecrets::default();
        let e = sign_in_device(&o, "jane", &store, &|_| {}, &Cancel::default())
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with(words), "{e}");
        assert_clean(&e);
        assert!(!is_signed_in(&o, "jane", &store).unwrap());
    }
    let server = device_server(vec![oauth_error("authorization_pending", "w"); 100]).await;
    let o = settings(OAuthFlow::Device, &server);
    let cancel = Cancel::default();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        c.cancel();
    });
    let started = std::time::Instant::now();
    let e = sign_in_device(&o, "jane", &MemorySecrets::default(), &|_| {}, &cancel)
        .await
        .unwrap_err();
    assert_eq!(e, OAuthError::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(3));
}

// --------------------------------------------------------------- browser

/// A GET on the loopback, as the browser does it: (status, body).
async fn visit(url: &str) -> (u16, String) {
    let u = Url::parse(url).unwrap();
    let mut s = tokio::net::TcpStream::connect((u.host.as_str(), u.port))
        .await
        .unwrap();
    s.write_all(
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\n\r\n",
            u.target,
            u.authority()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    (status, out)
}

fn query_of(url: &str) -> HashMap<String, String> {
    http::parse_query(url.split_once('?').unwrap().1)
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_browser_sign_in_checks_state_and_pkce_and_keeps_the_refresh_token() {
    let server = serve(|_| {
        reply(
            200,
            r#"{"access_token":"at-1","expires_in":3600,"refresh_token":"rt-secret-1"}"#,
        )
    })
    .await;
    let o = settings(OAuthFlow::Browser, &server);
    let store = MemorySecrets::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let browser = tokio::spawn(async move {
        let url = rx.recv().await.unwrap();
        let q = query_of(&url);
        let redirect = q["redirect_uri"].clone();
        // An old tab, and a favicon: answered and ignored.
        let (status, page) = visit(&format!("{redirect}?code=evil&state=old")).await;
        assert_eq!(status, 400);
        assert!(page.contains("out of date"), "{page}");
        let (status, _) = visit(&format!("{redirect}favicon.ico")).await;
        assert_eq!(status, 404);
        let (status, page) = visit(&format!(
            "{redirect}?code=the-code&state={}",
            http::percent_encode(&q["state"])
        ))
        .await;
        assert_eq!(status, 200);
        assert!(page.contains("You can close this window"), "{page}");
        (url, q)
    });
    sign_in_browser(
        &o,
        "jane@example.com",
        &store,
        &move |url| tx.send(url.to_string()).unwrap(),
        &Cancel::default(),
    )
    .await
    .unwrap();
    let (url, q) = browser.await.unwrap();
    assert!(url.starts_with(&server.url("/authorize?")), "{url}");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "mf-client");
    assert_eq!(q["scope"], o.scope);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["login_hint"], "jane@example.com");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(q["redirect_uri"].ends_with('/'));
    assert!(q["state"].len() >= 20);
    let form = &server.seen()[0].form;
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["redirect_uri"], q["redirect_uri"]);
    assert_eq!(
        browser::challenge(&form["code_verifier"]),
        q["code_challenge"]
    );
    assert!(form["code_verifier"].len() >= 43);
    assert_eq!(
        store
            .get(&refresh_token_ref(&o, "jane@example.com"))
            .unwrap()
            .unwrap()
            .expose(),
        "rt-secret-1"
    );
}

#[tokio::test]
async fn a_browser_sign_in_the_person_declined_says_so() {
    let server = serve(|_| reply(500, "{}")).await;
    let mut o = settings(OAuthFlow::Browser, &server);
    o.provider = Provider::Microsoft;
    let open = move |url: &str| {
        let q = query_of(url);
        // Microsoft gets neither Google's offline access nor a forced
        // consent.
        assert!(!q.contains_key("prompt") && !q.contains_key("access_type"));
        let back = format!(
            "{}?error=access_denied&error_description=AADSTS65004%3A+User+declined&state={}",
            q["redirect_uri"],
            http::percent_encode(&q["state"])
        );
        tokio::spawn(async move { visit(&back).await });
    };
    let e = sign_in_browser(
        &o,
        "jane",
        &MemorySecrets::default(),
        &open,
        &Cancel::default(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().starts_with("The sign-in was declined")
            && e.to_string().contains("[AADSTS65004: User declined]"),
        "{e}"
    );
    assert!(server.seen().is_empty());
}

// ---------------------------------------------------------------- broker

#[tokio::test]
async fn one_app_token_serves_every_mailbox_until_a_server_refuses_it() {
    let n = Arc::new(Mutex::new(0));
    let count = n.clone();
    let server = serve(move |_| {
        let mut n = count.lock().unwrap();
        *n += 1;
        reply(
            200,
            &format!(r#"{{"access_token":"app-{n}","expires_in":3600}}"#),
        )
    })
    .await;
    let broker = TokenBroker::new(settings(OAuthFlow::ClientCredentials, &server), None);
    // Many connections at once: one request.
    let all = futures_util::future::join_all(["a", "b", "c", "d", "e"].map(|u| {
        let b = broker.clone();
        async move { b.token(u, None).await.unwrap() }
    }))
    .await;
    assert!(all.iter().all(|t| t.expose() == "app-1"), "{all:?}");
    assert_eq!(*n.lock().unwrap(), 1);
    // An old token refused after a new one came: the new one stays.
    broker.refused("a", &Secret::new("stale"));
    assert_eq!(broker.token("z", None).await.unwrap().expose(), "app-1");
    broker.refused("a", &Secret::new("app-1"));
    assert_eq!(broker.token("b", None).await.unwrap().expose(), "app-2");
    assert_eq!(server.grants(), vec!["client_credentials"; 2]);
    assert!(format!("{broker:?}").contains("client credentials"));
}

#[tokio::test]
async fn a_mailbox_not_signed_in_is_told_how_to_sign_in() {
    let server = serve(|_| reply(500, "{}")).await;
    let o = settings(OAuthFlow::Device, &server);
    let store: Arc<dyn SecretStore> = Arc::new(MemorySecrets::default());
    for b in [
        TokenBroker::new(o.clone(), Some(store)),
        TokenBroker::new(o.clone(), None),
    ] {
        let e = b.token("jane@example.com", None).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "jane@example.com is not signed in yet: MailFerry has no saved sign-in for this mailbox (or it was removed from the keyring). Sign in to this mailbox first: `mailferry sign-in <job file> --user jane@example.com` or the app's Sign in button."
        );
        assert!(e.needs_sign_in());
    }
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_and_a_rotated_refresh_token_kept() {
    let n = Arc::new(Mutex::new(0));
    let count = n.clone();
    let server = serve(move |s| {
        let mut n = count.lock().unwrap();
        *n += 1;
        let rotated = match s.form["refresh_token"].as_str() {
            "rt-secret-1" => r#","refresh_token":"rt-rotated-2""#,
            _ => "",
        };
        reply(
            200,
            &format!(r#"{{"access_token":"at-{n}","expires_in":1{rotated}}}"#),
        )
    })
    .await;
    let o = settings(OAuthFlow::Browser, &server);
    let store = Arc::new(MemorySecrets::default());
    store
        .put(&refresh_token_ref(&o, "jane"), &Secret::new("rt-secret-1"))
        .unwrap();
    let broker = TokenBroker::new(o.clone(), Some(store.clone()));
    assert_eq!(broker.token("jane", None).await.unwrap().expose(), "at-1");
    // Rotated: written back.
    assert_eq!(
        store
            .get(&refresh_token_ref(&o, "jane"))
            .unwrap()
            .unwrap()
            .expose(),
        "rt-rotated-2"
    );
    // Half of its one second gone: fetched anew, with the new refresh
    // token.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(broker.token("jane", None).await.unwrap().expose(), "at-2");
    let seen = server.seen();
    assert_eq!(seen[1].form["refresh_token"], "rt-rotated-2");
    assert_eq!(server.grants(), vec!["refresh_token"; 2]);
}

#[tokio::test]
async fn a_revoked_sign_in_asks_for_a_new_one() {
    // The service quoting the refresh token back is not shown it.
    let server = serve(|s| {
        oauth_error(
            "invalid_grant",
            &format!(
                "Token {} has been expired or revoked.",
                s.form["refresh_token"]
            ),
        )
    })
    .await;
    let o = settings(OAuthFlow::Device, &server);
    let store: Arc<dyn SecretStore> = Arc::new(MemorySecrets::default());
    store
        .put(&refresh_token_ref(&o, "jane"), &Secret::new("rt-secret-1"))
        .unwrap();
    let e = TokenBroker::new(o, Some(store))
        .token("jane", None)
        .await
        .unwrap_err();
    assert!(e.needs_sign_in());
    assert!(
        e.to_string()
            .contains("[Token *** has been expired or revoked.]"),
        "{e}"
    );
    assert_clean(&e);
}

#[tokio::test]
async fn pasted_tokens_come_from_the_user_list() {
    let server = serve(|_| reply(500, "{}")).await;
    let broker = TokenBroker::new(settings(OAuthFlow::Token, &server), None);
    let own = Secret::new("pasted");
    assert_eq!(broker.token("jane", Some(&own)).await.unwrap(), own);
    assert!(!broker.can_renew());
    let e = broker
        .token("jane", Some(&Secret::default()))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        OAuthError::NoPastedToken {
            user: "jane".into()
        }
    );
    assert!(server.seen().is_empty());
}
