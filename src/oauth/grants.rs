//! The token endpoint's grants (RFC 6749 §4–6, RFC 7523, RFC 8628) and the
//! reading of its answers: a token, or an error in the user's words.

use std::time::Duration;

use serde::Deserialize;

use super::http::{self, Response};
use super::{jwt, OAuthError};
use crate::job::{OAuth, OAuthFlow, Provider};
use crate::secret::Secret;

/// A token endpoint's good answer.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub access_token: Secret,
    /// How long it is valid, when the service says.
    pub expires_in: Option<Duration>,
    /// A new refresh token (a first sign-in, or a rotated one).
    pub refresh_token: Option<Secret>,
}

/// Which grant a request was: the same error code means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    Refresh,
    ClientCredentials,
    JwtBearer,
    DeviceCode,
    AuthorizationCode,
    /// The device authorization request itself (RFC 8628 §3.1).
    DeviceAuthorization,
}

/// What an error is about, for its words.
pub(crate) struct Ctx<'a> {
    pub oauth: &'a OAuth,
    pub user: &'a str,
    pub grant: Grant,
    /// The service's address, for messages.
    pub service: String,
}

impl<'a> Ctx<'a> {
    pub fn new(oauth: &'a OAuth, user: &'a str, grant: Grant, url: &str) -> Ctx<'a> {
        Ctx {
            oauth,
            user,
            grant,
            service: http::service_of(url),
        }
    }
}

/// An OAuth answer's fields, good or bad.
#[derive(Deserialize, Default)]
struct TokenJson {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A number of seconds, which some services send as a string.
pub(crate) fn seconds_of(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `error` and `error_description` of an error answer, when it is one.
pub(crate) fn error_of(resp: &Response) -> Option<(String, String)> {
    let json: TokenJson = serde_json::from_slice(&resp.body).ok()?;
    let code = json.error.filter(|c| !c.is_empty())?;
    Some((code, json.error_description.unwrap_or_default()))
}

/// Reads a token endpoint's answer. `secrets` are the values this request
/// sent, wiped from any words of the service that quote them.
pub(crate) fn read_tokens(
    ctx: &Ctx<'_>,
    resp: &Response,
    secrets: &[&str],
) -> Result<Tokens, OAuthError> {
    if let Some((code, description)) = error_of(resp) {
        return Err(provider_error(ctx, &code, &scrub(&description, secrets)));
    }
    let bad = |detail: &str| OAuthError::BadResponse {
        service: ctx.service.clone(),
        status: resp.status,
        detail: detail.to_string(),
    };
    if !(200..300).contains(&resp.status) {
        return Err(bad("not a token"));
    }
    let json: TokenJson =
        serde_json::from_slice(&resp.body).map_err(|_| bad("the answer was not JSON"))?;
    let access_token = json
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("the answer had no access_token"))?;
    Ok(Tokens {
        access_token: Secret::new(access_token),
        expires_in: json
            .expires_in
            .as_ref()
            .and_then(seconds_of)
            .map(Duration::from_secs),
        refresh_token: json
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    })
}

/// The service's words, without anything this request sent that must not
/// be seen, and short enough for a message.
pub(crate) fn scrub(description: &str, secrets: &[&str]) -> String {
    let mut d: String = description
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        d = d.replace(s, "***");
    }
    match d.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &d[..i]),
        None => d,
    }
}

/// An OAuth error code (RFC 6749 §5.2, RFC 8628 §3.5) in the user's words.
pub(crate) fn provider_error(ctx: &Ctx<'_>, code: &str, description: &str) -> OAuthError {
    let service = ctx.service.clone();
    let description = description.to_string();
    let o = ctx.oauth;
    let unauthorized = |description: String| OAuthError::UnauthorizedClient {
        service: service.clone(),
        provider: o.provider,
        flow: o.flow,
        client_id: o.client_id.clone(),
        scope: o.scope.clone(),
        description,
    };
    match code {
        "invalid_client" => OAuthError::InvalidClient {
            service,
            description,
        },
        // Entra says a missing consent as invalid_grant (AADSTS65001).
        "invalid_grant"
            if o.provider == Provider::Microsoft
                && (description.contains("AADSTS65001")
                    || description.to_ascii_lowercase().contains("consent")) =>
        {
            unauthorized(description)
        }
        "invalid_grant" => match ctx.grant {
            Grant::JwtBearer => OAuthError::ServiceAccountRefused {
                service,
                user: ctx.user.to_string(),
                description,
            },
            Grant::AuthorizationCode => OAuthError::CodeRefused {
                service,
                description,
            },
            Grant::DeviceCode | Grant::DeviceAuthorization => OAuthError::ExpiredToken {
                service,
                description,
            },
            Grant::Refresh | Grant::ClientCredentials => OAuthError::SignInExpired {
                service,
                user: ctx.user.to_string(),
                description,
            },
        },
        "invalid_scope" => OAuthError::InvalidScope {
            service,
            scope: o.scope.clone(),
            description,
        },
        "unauthorized_client" | "consent_required" | "interaction_required" => {
            unauthorized(description)
        }
        "access_denied" | "authorization_declined" => OAuthError::AccessDenied {
            service,
            description,
        },
        "expired_token" => OAuthError::ExpiredToken {
            service,
            description,
        },
        other => OAuthError::Provider {
            service,
            code: other.to_string(),
            description,
        },
    }
}

/// The client's own credentials in a form, when it has a secret.
fn with_client<'a>(oauth: &'a OAuth, form: &mut Vec<(&'a str, &'a str)>) {
    if !oauth.client_id.is_empty() {
        form.push(("client_id", &oauth.client_id));
    }
    if let Some(s) = &oauth.client_secret {
        form.push(("client_secret", s.expose()));
    }
}

fn secrets_of<'a>(oauth: &'a OAuth, more: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = more.to_vec();
    if let Some(s) = &oauth.client_secret {
        v.push(s.expose());
    }
    v
}

/// A new access token for a signed-in mailbox (RFC 6749 §6).
pub(crate) async fn refresh(
    oauth: &OAuth,
    user: &str,
    refresh_token: &Secret,
) -> Result<Tokens, OAuthError> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    with_client(oauth, &mut form);
    // Microsoft wants the scope again; others take it as a narrowing.
    if !oauth.scope.is_empty() {
        form.push(("scope", &oauth.scope));
    }
    let resp = http::post_form(&oauth.token_url, &form).await?;
    let ctx = Ctx::new(oauth, user, Grant::Refresh, &oauth.token_url);
    read_tokens(&ctx, &resp, &secrets_of(oauth, &[refresh_token.expose()]))
}

/// The tenant's app's own token, good for every mailbox (RFC 6749 §4.4).
pub(crate) async fn client_credentials(oauth: &OAuth) -> Result<Tokens, OAuthError> {
    let mut form = vec![("grant_type", "client_credentials")];
    with_client(oauth, &mut form);
    if !oauth.scope.is_empty() {
        form.push(("scope", &oauth.scope));
    }
    let resp = http::post_form(&oauth.token_url, &form).await?;
    let ctx = Ctx::new(oauth, "", Grant::ClientCredentials, &oauth.token_url);
    read_tokens(&ctx, &resp, &secrets_of(oauth, &[]))
}

/// A service account's token acting for `user` (RFC 7523 §2.1).
pub(crate) async fn jwt_bearer(oauth: &OAuth, user: &str) -> Result<Tokens, OAuthError> {
    if oauth.flow != OAuthFlow::ServiceAccount {
        return Err(OAuthError::BadSettings {
            reason: "a signed request needs a service account".into(),
        });
    }
    let key = oauth
        .service_account
        .as_ref()
        .ok_or_else(|| OAuthError::BadKey {
            reason: "the job has no service account key".into(),
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let assertion = jwt::service_account_assertion(key, user, &oauth.scope, &oauth.token_url, now)?;
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.expose()),
    ];
    let resp = http::post_form(&oauth.token_url, &form).await?;
    let ctx = Ctx::new(oauth, user, Grant::JwtBearer, &oauth.token_url);
    read_tokens(&ctx, &resp, &[assertion.expose()])
}

/// The code from the browser exchanged for tokens (RFC 6749 §4.1.3 with
/// RFC 7636's verifier).
pub(crate) async fn authorization_code(
    oauth: &OAuth,
    user: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &Secret,
) -> Result<Tokens, OAuthError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose()),
    ];
    with_client(oauth, &mut form);
    let resp = http::post_form(&oauth.token_url, &form).await?;
    let ctx = Ctx::new(oauth, user, Grant::AuthorizationCode, &oauth.token_url);
    read_tokens(&ctx, &resp, &secrets_of(oauth, &[code, verifier.expose()]))
}

/// One poll of the token endpoint for a device code (RFC 8628 §3.4): the
/// raw answer, read by the caller (pending and slow_down are not errors).
pub(crate) async fn poll_device(
    oauth: &OAuth,
    device_code: &Secret,
) -> Result<Response, OAuthError> {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.expose()),
    ];
    with_client(oauth, &mut form);
    http::post_form(&oauth.token_url, &form).await
}

/// Where the secrets of one request are, for scrubbing the answer.
pub(crate) fn device_secrets<'a>(oauth: &'a OAuth, device_code: &'a Secret) -> Vec<&'a str> {
    secrets_of(oauth, &[device_code.expose()])
}
