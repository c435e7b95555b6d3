//! Sign-in in the browser (RFC 8252): the authorization code flow with
//! PKCE (RFC 7636), the browser coming back to a one-off loopback address
//! on this computer.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::device::cancellable;
use super::grants::{self, Ctx, Grant, Tokens};
use super::http::{encode_form, parse_query};
use super::OAuthError;
use crate::copy::Cancel;
use crate::job::{OAuth, Provider};
use crate::secret::Secret;

/// How long the person has to sign in before MailFerry stops waiting.
const PATIENCE: Duration = Duration::from_secs(15 * 60);
/// How long one visit to the loopback may take to send its request.
const REQUEST_TIME: Duration = Duration::from_secs(10);

/// `len` random bytes, base64url: PKCE's verifier and the state.
fn random_text(len: usize) -> Result<String, OAuthError> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| OAuthError::Browser {
            reason: "this computer gave no random numbers".into(),
        })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// PKCE's S256 challenge of a verifier (RFC 7636 §4.2).
pub(crate) fn challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The address the browser opens.
pub(crate) fn authorization_url(
    oauth: &OAuth,
    auth_url: &str,
    user: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", oauth.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", oauth.scope.as_str()),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if !user.is_empty() {
        params.push(("login_hint", user));
    }
    // Google (and servers like it) give a refresh token only for offline
    // access, and again only with consent; Microsoft gives one for the
    // offline_access scope, and its prompt=consent would ask people who may
    // not consent themselves.
    if oauth.provider != Provider::Microsoft {
        params.push(("access_type", "offline"));
        params.push(("prompt", "consent"));
    }
    let sep = match auth_url.contains('?') {
        true => '&',
        false => '?',
    };
    format!("{auth_url}{sep}{}", encode_form(&params))
}

/// The person's sign-in of `user` in the browser, as tokens.
pub(crate) async fn browser_tokens(
    oauth: &OAuth,
    user: &str,
    open: &(dyn Fn(&str) + Send + Sync),
    cancel: &Cancel,
) -> Result<Tokens, OAuthError> {
    let auth_url = oauth
        .auth_url
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| OAuthError::BadSettings {
            reason: "sign-in in the browser needs the provider's authorization endpoint (auth_url)"
                .into(),
        })?;
    if oauth.client_id.is_empty() {
        return Err(OAuthError::BadSettings {
            reason: "sign-in in the browser needs the app's client ID (client_id)".into(),
        });
    }
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| OAuthError::Browser {
            reason: format!(
                "MailFerry could not listen on this computer for the browser's return ({e})"
            ),
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| OAuthError::Browser {
            reason: format!("the loopback address is unknown ({e})"),
        })?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = Secret::new(random_text(32)?);
    let state = random_text(16)?;
    open(&authorization_url(
        oauth,
        auth_url,
        user,
        &redirect_uri,
        &state,
        &challenge(verifier.expose()),
    ));
    let ctx = Ctx::new(oauth, user, Grant::AuthorizationCode, auth_url);
    let waited = cancellable(cancel, async {
        tokio::time::timeout(PATIENCE, wait_for_code(&listener, &state, &ctx))
            .await
            .map_err(|_| OAuthError::Browser {
                reason: format!(
                    "no sign-in came back from the browser within {} minutes. Start the sign-in again",
                    PATIENCE.as_secs() / 60
                ),
            })?
    })
    .await;
    let (mut browser, code) = waited?;
    let tokens = cancellable(
        cancel,
        grants::authorization_code(oauth, user, code.expose(), &redirect_uri, &verifier),
    )
    .await;
    let page = match &tokens {
        Ok(_) => page(
            "Signed in",
            &format!("MailFerry is signed in to {user}. You can close this window and return to MailFerry."),
        ),
        Err(_) => page(
            "Sign-in failed",
            "The sign-in did not complete. MailFerry says why; you can close this window and return to it.",
        ),
    };
    answer(&mut browser, 200, &page).await;
    tokens
}

/// Waits for the browser's visit that carries the code (or the refusal)
/// for this sign-in; other visits (a favicon, an old tab) are answered and
/// ignored.
async fn wait_for_code(
    listener: &TcpListener,
    state: &str,
    ctx: &Ctx<'_>,
) -> Result<(TcpStream, Secret), OAuthError> {
    loop {
        let (mut sock, _) = listener.accept().await.map_err(|e| OAuthError::Browser {
            reason: format!("the browser's return could not be received ({e})"),
        })?;
        let Ok(Some(target)) = tokio::time::timeout(REQUEST_TIME, read_target(&mut sock)).await
        else {
            continue;
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if path != "/" {
            answer(&mut sock, 404, &page("Not found", "Nothing here.")).await;
            continue;
        }
        let params = parse_query(query);
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        // A visit without this sign-in's state is not its answer (RFC 6749
        // §10.12): an old tab, or another site's doing.
        if param("state") != Some(state) {
            answer(
                &mut sock,
                400,
                &page(
                    "Out of date",
                    "This sign-in page is out of date. Close it and use the one MailFerry opened last.",
                ),
            )
            .await;
            continue;
        }
        if let Some(error) = param("error") {
            let description = grants::scrub(param("error_description").unwrap_or_default(), &[]);
            answer(
                &mut sock,
                200,
                &page(
                    "Sign-in not completed",
                    "The sign-in was not completed. You can close this window and return to MailFerry.",
                ),
            )
            .await;
            return Err(grants::provider_error(ctx, error, &description));
        }
        match param("code").filter(|c| !c.is_empty()) {
            Some(code) => return Ok((sock, Secret::new(code))),
            None => {
                answer(
                    &mut sock,
                    400,
                    &page("No sign-in", "The browser came back without a sign-in."),
                )
                .await
            }
        }
    }
}

/// The request target of a visit (`/?code=…&state=…`), `None` if it is not
/// a GET.
async fn read_target(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 32 * 1024 {
            return None;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next()?.split(' ');
    match (first.next(), first.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

/// A small page for the browser's window.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MailFerry: {}</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>{}</h1><p>{}</p></body></html>",
        escape(title),
        escape(title),
        escape(text)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn answer(sock: &mut TcpStream, status: u16, html: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    // The browser may be gone already: nothing to do about it.
    let _ = sock.write_all(reply.as_bytes()).await;
    let _ = sock.shutdown().await;
}
