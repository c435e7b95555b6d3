//! A loopback OAuth 2.0 identity provider for the tests: it issues tokens
//! by the grants MailFerry uses (refresh token, client credentials, JWT
//! bearer, device authorization, authorization code with PKCE) and answers
//! Dovecot's `oauth2` passdb on `/tokeninfo`. No internet, one thread per
//! connection, all state in memory.
//!
//! ```ignore
//! let idp = Idp::start();
//! let server = Dovecot::start_with(&ServerOptions { oauth: Some(idp.dovecot()), .. });
//! let token = idp.mint("alice", SCOPE, Duration::from_secs(3600));
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use super::dovecot::OAuthOptions;

/// The scope the test servers require (Dovecot's `scope` setting).
pub const SCOPE: &str = "https://mail.test/imap";
/// What an app-only token stands for: any mailbox.
const APP: &str = "*app*";
/// The name Dovecot's second oauth2 passdb compares app-only tokens with.
pub const APP_USER: &str = "app-only";

#[derive(Clone)]
struct Access {
    user: String,
    scope: String,
    expires: Instant,
    revoked: bool,
}

#[derive(Clone)]
struct Refresh {
    user: String,
    client_id: String,
    scope: String,
}

struct Device {
    client_id: String,
    scope: String,
    polls: u32,
    approved_as: Option<String>,
    denied: bool,
}

struct Code {
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
}

#[derive(Default)]
struct State {
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    clients: HashMap<String, Option<String>>,
    /// Service accounts: client_email → RSA public key (PKCS#1 DER).
    service_accounts: HashMap<String, Vec<u8>>,
    devices: HashMap<String, Device>,
    codes: HashMap<String, Code>,
    device_approver: Option<String>,
    device_denies: bool,
    browser_approver: Option<String>,
    ttl: Option<Duration>,
    rotate_refresh: bool,
    grants: Vec<String>,
    tokeninfo_calls: usize,
    counter: u64,
}

impl State {
    fn fresh(&mut self, kind: &str) -> String {
        self.counter += 1;
        let noise = std::collections::hash_map::RandomState::new();
        use std::hash::{BuildHasher, Hasher};
        let mut h = noise.build_hasher();
        h.write_u64(self.counter);
        format!("{kind}-{}-{:016x}", self.counter, h.finish())
    }

    fn issue(&mut self, user: &str, scope: &str) -> String {
        let token = self.fresh("at");
        let ttl = self.ttl.unwrap_or(Duration::from_secs(3600));
        self.access.insert(
            token.clone(),
            Access {
                user: user.to_string(),
                scope: scope.to_string(),
                expires: Instant::now() + ttl,
                revoked: false,
            },
        );
        token
    }

    fn token_reply(&mut self, user: &str, scope: &str, refresh: Option<String>) -> Value {
        let access = self.issue(user, scope);
        let ttl = self.ttl.unwrap_or(Duration::from_secs(3600)).as_secs();
        let mut v = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": scope,
        });
        if let Some(r) = refresh {
            v["refresh_token"] = r.into();
        }
        v
    }
}

/// The identity provider; stops with the test process.
pub struct Idp {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Idp {
    pub fn start() -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, port, &st);
                });
            }
        });
        Idp { port, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }
    pub fn device_url(&self) -> String {
        format!("{}/device", self.base_url())
    }
    pub fn auth_url(&self) -> String {
        format!("{}/authorize", self.base_url())
    }
    /// For Dovecot's `tokeninfo_url`: the token is appended.
    pub fn tokeninfo_url(&self) -> String {
        format!("{}/tokeninfo?access_token=", self.base_url())
    }

    /// What a Dovecot checking tokens here needs, requiring [`SCOPE`].
    pub fn dovecot(&self) -> OAuthOptions {
        OAuthOptions {
            tokeninfo_url: self.tokeninfo_url(),
            scope: Some(SCOPE.to_string()),
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An access token for `user`, as if some grant had issued it.
    pub fn mint(&self, user: &str, scope: &str, ttl: Duration) -> String {
        let mut st = self.st();
        let token = st.fresh("at");
        st.access.insert(
            token.clone(),
            Access {
                user: user.to_string(),
                scope: scope.to_string(),
                expires: Instant::now() + ttl,
                revoked: false,
            },
        );
        token
    }

    /// A refresh token for `user` and `client_id`, as if they had signed in.
    pub fn mint_refresh(&self, user: &str, client_id: &str, scope: &str) -> String {
        let mut st = self.st();
        let token = st.fresh("rt");
        st.refresh.insert(
            token.clone(),
            Refresh {
                user: user.into(),
                client_id: client_id.into(),
                scope: scope.into(),
            },
        );
        token
    }

    pub fn revoke(&self, token: &str) {
        let mut st = self.st();
        if let Some(a) = st.access.get_mut(token) {
            a.revoked = true;
        }
        st.refresh.remove(token);
    }

    /// Every access token issued so far stops working (refresh tokens keep
    /// working): what a mid-job expiry looks like to the client.
    pub fn revoke_access_tokens(&self) {
        for a in self.st().access.values_mut() {
            a.revoked = true;
        }
    }

    /// Every refresh token stops working (the person must sign in again).
    pub fn revoke_refresh_tokens(&self) {
        self.st().refresh.clear();
    }

    /// A client (app) that may use the token endpoint; `secret` for
    /// confidential clients (client credentials).
    pub fn register_client(&self, client_id: &str, secret: Option<&str>) {
        self.st()
            .clients
            .insert(client_id.to_string(), secret.map(str::to_string));
    }

    /// A service account whose JWTs (RS256) are accepted for any `sub`.
    pub fn trust_service_account(&self, client_email: &str, public_key_pkcs1_der: Vec<u8>) {
        self.st()
            .service_accounts
            .insert(client_email.to_string(), public_key_pkcs1_der);
    }

    /// Lifetime of the access tokens the token endpoint issues from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.st().ttl = Some(ttl);
    }

    /// Each refresh gives a new refresh token and retires the old one.
    pub fn set_rotate_refresh(&self, rotate: bool) {
        self.st().rotate_refresh = rotate;
    }

    /// Device codes are approved as `user` after one pending poll.
    pub fn approve_device_as(&self, user: &str) {
        let mut st = self.st();
        st.device_approver = Some(user.to_string());
        st.device_denies = false;
    }

    /// Device codes are declined by the person.
    pub fn deny_devices(&self) {
        self.st().device_denies = true;
    }

    /// The authorization page approves at once as `user` and redirects.
    pub fn approve_browser_as(&self, user: &str) {
        self.st().browser_approver = Some(user.to_string());
    }

    /// The `grant_type` of each token request, in order.
    pub fn grants(&self) -> Vec<String> {
        self.st().grants.clone()
    }

    pub fn tokeninfo_calls(&self) -> usize {
        self.st().tokeninfo_calls
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    form: HashMap<String, String>,
}

fn serve(conn: TcpStream, port: u16, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let req = Request {
        method,
        path: path.to_string(),
        query: parse_form(q),
        form: parse_form(&String::from_utf8_lossy(&body)),
    };
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let (status, headers, body) = route(&req, port, &mut st);
    drop(st);
    let mut out = conn;
    let reason = match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Not Found",
    };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

fn json_reply(status: u16, v: Value) -> (u16, String, String) {
    (
        status,
        "Content-Type: application/json\r\n".into(),
        v.to_string(),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> (u16, String, String) {
    json_reply(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn route(req: &Request, port: u16, st: &mut State) -> (u16, String, String) {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/tokeninfo") => tokeninfo(req, st),
        ("POST", "/token") => token(req, port, st),
        ("POST", "/device") => device(req, port, st),
        ("GET", "/authorize") => authorize(req, st),
        _ => (404, String::new(), "not found".into()),
    }
}

fn tokeninfo(req: &Request, st: &mut State) -> (u16, String, String) {
    st.tokeninfo_calls += 1;
    let token = req.query.get("access_token").cloned().unwrap_or_default();
    match st.access.get(&token) {
        // Dovecot cannot tell the tokeninfo endpoint which mailbox is
        // logging in, so app-only tokens (valid for every mailbox) are
        // checked by a second passdb whose URL has `app=1` and whose
        // username_format is the constant [`APP_USER`].
        Some(a) if !a.revoked && a.expires > Instant::now() => {
            let app = req.query.contains_key("app");
            let user = match (a.user == APP, app) {
                (true, true) => APP_USER.to_string(),
                (false, false) => a.user.clone(),
                _ => return oauth_error(401, "invalid_token", "Not this kind of token."),
            };
            json_reply(
                200,
                json!({
                    "email": user,
                    "scope": a.scope,
                    "expires_in": a.expires.saturating_duration_since(Instant::now()).as_secs(),
                    "active": true,
                }),
            )
        }
        _ => oauth_error(401, "invalid_token", "The token is expired or revoked."),
    }
}

fn client_ok(
    req: &Request,
    st: &State,
    need_secret: bool,
) -> Result<String, (u16, String, String)> {
    let id = req.form.get("client_id").cloned().unwrap_or_default();
    match st.clients.get(&id) {
        None => Err(oauth_error(401, "invalid_client", "Unknown client.")),
        Some(Some(secret)) => {
            if req.form.get("client_secret") == Some(secret) {
                Ok(id)
            } else {
                Err(oauth_error(401, "invalid_client", "Bad client secret."))
            }
        }
        Some(None) if need_secret => Err(oauth_error(
            401,
            "unauthorized_client",
            "This client has no secret.",
        )),
        Some(None) => Ok(id),
    }
}

fn token(req: &Request, port: u16, st: &mut State) -> (u16, String, String) {
    let grant = req.form.get("grant_type").cloned().unwrap_or_default();
    st.grants.push(grant.clone());
    match grant.as_str() {
        "client_credentials" => {
            let id = match client_ok(req, st, true) {
                Ok(id) => id,
                Err(e) => return e,
            };
            let _ = id;
            let scope = req.form.get("scope").cloned().unwrap_or_default();
            if scope.is_empty() {
                return oauth_error(400, "invalid_scope", "No scope.");
            }
            json_reply(200, st.token_reply(APP, &scope, None))
        }
        "refresh_token" => {
            let rt = req.form.get("refresh_token").cloned().unwrap_or_default();
            let Some(r) = st.refresh.get(&rt).cloned() else {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "The refresh token is expired or revoked.",
                );
            };
            if req.form.get("client_id") != Some(&r.client_id) {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "The refresh token is for another client.",
                );
            }
            let new = if st.rotate_refresh {
                st.refresh.remove(&rt);
                let n = st.fresh("rt");
                st.refresh.insert(n.clone(), r.clone());
                Some(n)
            } else {
                None
            };
            json_reply(200, st.token_reply(&r.user, &r.scope, new))
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = req.form.get("assertion").cloned().unwrap_or_default();
            match check_jwt(&assertion, port, st) {
                Ok((sub, scope)) => json_reply(200, st.token_reply(&sub, &scope, None)),
                Err(why) => oauth_error(400, "invalid_grant", &why),
            }
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if let Err(e) = client_ok(req, st, false) {
                return e;
            }
            let code = req.form.get("device_code").cloned().unwrap_or_default();
            let Some(d) = st.devices.get_mut(&code) else {
                return oauth_error(
                    400,
                    "expired_token",
                    "The device code is unknown or expired.",
                );
            };
            d.polls += 1;
            if d.denied {
                return oauth_error(400, "access_denied", "The user declined.");
            }
            match d.approved_as.clone() {
                Some(user) if d.polls > 1 => {
                    let (client_id, scope) = (d.client_id.clone(), d.scope.clone());
                    st.devices.remove(&code);
                    let rt = st.fresh("rt");
                    st.refresh.insert(
                        rt.clone(),
                        Refresh {
                            user: user.clone(),
                            client_id,
                            scope: scope.clone(),
                        },
                    );
                    json_reply(200, st.token_reply(&user, &scope, Some(rt)))
                }
                _ => oauth_error(400, "authorization_pending", "Waiting for the user."),
            }
        }
        "authorization_code" => {
            let id = match client_ok(req, st, false) {
                Ok(id) => id,
                Err(e) => return e,
            };
            let code = req.form.get("code").cloned().unwrap_or_default();
            let Some(c) = st.codes.remove(&code) else {
                return oauth_error(400, "invalid_grant", "Unknown or used code.");
            };
            let verifier = req.form.get("code_verifier").cloned().unwrap_or_default();
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            if URL_SAFE_NO_PAD.encode(digest.as_ref()) != c.challenge {
                return oauth_error(400, "invalid_grant", "PKCE verification failed.");
            }
            if req.form.get("redirect_uri") != Some(&c.redirect_uri) || id != c.client_id {
                return oauth_error(400, "invalid_grant", "redirect_uri or client mismatch.");
            }
            let rt = st.fresh("rt");
            st.refresh.insert(
                rt.clone(),
                Refresh {
                    user: c.user.clone(),
                    client_id: c.client_id,
                    scope: c.scope.clone(),
                },
            );
            json_reply(200, st.token_reply(&c.user, &c.scope, Some(rt)))
        }
        _ => oauth_error(400, "unsupported_grant_type", "Unknown grant_type."),
    }
}

/// Checks a service account's RS256 JWT (RFC 7523): signature by a trusted
/// key, `aud` this token endpoint, a `sub`, a scope, not expired.
fn check_jwt(jwt: &str, port: u16, st: &State) -> Result<(String, String), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("The assertion is not a JWT.".into());
    }
    let decode = |p: &str| {
        URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "Bad base64url.".to_string())
    };
    let header: Value =
        serde_json::from_slice(&decode(parts[0])?).map_err(|_| "Bad JWT header.".to_string())?;
    if header["alg"] != "RS256" {
        return Err("Only RS256 is accepted.".into());
    }
    let claims: Value =
        serde_json::from_slice(&decode(parts[1])?).map_err(|_| "Bad JWT claims.".to_string())?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let key = st
        .service_accounts
        .get(iss)
        .ok_or_else(|| format!("Unknown service account {iss}."))?;
    let signature = decode(parts[2])?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "Invalid JWT signature.".to_string())?;
    let aud = format!("http://127.0.0.1:{port}/token");
    if claims["aud"].as_str() != Some(aud.as_str()) {
        return Err(format!("Invalid JWT audience (want {aud})."));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let iat = claims["iat"].as_i64().unwrap_or(i64::MAX);
    if exp <= now || iat > now + 60 || exp - iat > 3600 {
        return Err("Invalid JWT: expired, from the future, or valid longer than an hour.".into());
    }
    let sub = claims["sub"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("The JWT has no sub (the user to act for).")?;
    let scope = claims["scope"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("The JWT has no scope.")?;
    Ok((sub.to_string(), scope.to_string()))
}

fn device(req: &Request, port: u16, st: &mut State) -> (u16, String, String) {
    if let Err(e) = client_ok(req, st, false) {
        return e;
    }
    let code = st.fresh("dc");
    let user_code = format!("MF-{:04}", st.counter % 10_000);
    st.devices.insert(
        code.clone(),
        Device {
            client_id: req.form.get("client_id").cloned().unwrap_or_default(),
            scope: req.form.get("scope").cloned().unwrap_or_default(),
            polls: 0,
            approved_as: st.device_approver.clone(),
            denied: st.device_denies,
        },
    );
    let uri = format!("http://127.0.0.1:{port}/activate");
    json_reply(
        200,
        json!({
            "device_code": code,
            "user_code": user_code,
            "verification_uri": uri,
            "verification_uri_complete": format!("{uri}?code={user_code}"),
            "expires_in": 600,
            "interval": 1,
        }),
    )
}

fn authorize(req: &Request, st: &mut State) -> (u16, String, String) {
    let q = &req.query;
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    if !st
        .clients
        .contains_key(q.get("client_id").map(String::as_str).unwrap_or(""))
    {
        return (400, String::new(), "unknown client".into());
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256")
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return (
            400,
            String::new(),
            "PKCE S256 and response_type=code required".into(),
        );
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let Some(user) = st.browser_approver.clone() else {
        let location = format!("{redirect}{sep}error=access_denied&state={}", enc(&state));
        return (302, format!("Location: {location}\r\n"), String::new());
    };
    let code = st.fresh("code");
    st.codes.insert(
        code.clone(),
        Code {
            user,
            client_id: q.get("client_id").cloned().unwrap_or_default(),
            redirect_uri: redirect.clone(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            scope: q.get("scope").cloned().unwrap_or_default(),
        },
    );
    let location = format!("{redirect}{sep}code={}&state={}", enc(&code), enc(&state));
    (302, format!("Location: {location}\r\n"), String::new())
}

fn parse_form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

fn dec(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

/// A fresh 2048-bit RSA key for a test service account: (the key's PEM,
/// PKCS#8, as in Google's JSON; its public half as PKCS#1 DER for
/// [`Idp::trust_service_account`]). Made with openssl, which the Dovecot
/// test bed needs anyway.
pub fn service_account_key(dir: &std::path::Path) -> (String, Vec<u8>) {
    let key = dir.join("sa-key.pem");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let k = key.to_str().unwrap();
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        k,
    ]);
    let der = dir.join("sa-pub.der");
    run(&[
        "rsa",
        "-in",
        k,
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    (
        std::fs::read_to_string(&key).unwrap(),
        std::fs::read(&der).unwrap(),
    )
}

/// A service account's JSON key file as Google gives it.
pub fn service_account_json(client_email: &str, pem: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "mailferry-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": client_email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    })
    .to_string()
}

/// Decodes a SASL initial response, for tests that look at what was sent.
pub fn b64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap_or_default()
}
