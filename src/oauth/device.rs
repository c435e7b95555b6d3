//! Sign-in with a code shown on screen (RFC 8628): the person opens an
//! address on any device and types the code; MailFerry polls the token
//! endpoint until they have.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::grants::{self, Ctx, Grant, Tokens};
use super::{http, DevicePrompt, OAuthError};
use crate::copy::Cancel;
use crate::job::OAuth;
use crate::secret::Secret;

/// The wait between polls when the service does not say (RFC 8628 §3.2).
const DEFAULT_INTERVAL: u64 = 5;
/// A code's life when the service does not say.
const DEFAULT_EXPIRY: u64 = 900;
/// Network failures in a row while polling before giving up.
const POLL_FAILURES: u32 = 3;

/// The device authorization answer (RFC 8628 §3.2).
#[derive(Deserialize)]
struct DeviceJson {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    /// Google's name for it.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<serde_json::Value>,
    interval: Option<serde_json::Value>,
}

/// The person's approval of `user`'s sign-in, as tokens.
pub(crate) async fn device_tokens(
    oauth: &OAuth,
    user: &str,
    prompt: &(dyn Fn(DevicePrompt) + Send + Sync),
    cancel: &Cancel,
) -> Result<Tokens, OAuthError> {
    let device_url = oauth
        .device_url
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| OAuthError::BadSettings {
            reason: "sign-in with a code needs the provider's device endpoint (device_url)".into(),
        })?;
    if oauth.client_id.is_empty() {
        return Err(OAuthError::BadSettings {
            reason: "sign-in with a code needs the app's client ID (client_id)".into(),
        });
    }
    let mut form = vec![("client_id", oauth.client_id.as_str())];
    if !oauth.scope.is_empty() {
        form.push(("scope", &oauth.scope));
    }
    let ctx = Ctx::new(oauth, user, Grant::DeviceAuthorization, device_url);
    let resp = cancellable(cancel, http::post_form(device_url, &form)).await?;
    if let Some((code, description)) = grants::error_of(&resp) {
        return Err(grants::provider_error(
            &ctx,
            &code,
            &grants::scrub(&description, &[]),
        ));
    }
    let bad = |detail: &str| OAuthError::BadResponse {
        service: ctx.service.clone(),
        status: resp.status,
        detail: detail.to_string(),
    };
    if !(200..300).contains(&resp.status) {
        return Err(bad("not a sign-in code"));
    }
    let json: DeviceJson =
        serde_json::from_slice(&resp.body).map_err(|_| bad("the answer was not JSON"))?;
    let (Some(device_code), Some(user_code), Some(verification_uri)) = (
        json.device_code.filter(|c| !c.is_empty()),
        json.user_code.filter(|c| !c.is_empty()),
        json.verification_uri.or(json.verification_url),
    ) else {
        return Err(bad(
            "the answer lacked device_code, user_code or verification_uri",
        ));
    };
    let device_code = Secret::new(device_code);
    let expires_in = json
        .expires_in
        .as_ref()
        .and_then(grants::seconds_of)
        .unwrap_or(DEFAULT_EXPIRY);
    let mut interval = Duration::from_secs(
        json.interval
            .as_ref()
            .and_then(grants::seconds_of)
            .unwrap_or(DEFAULT_INTERVAL)
            .max(1),
    );
    prompt(DevicePrompt {
        user: user.to_string(),
        verification_uri,
        verification_uri_complete: json.verification_uri_complete,
        user_code,
        expires_in,
    });

    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let ctx = Ctx::new(oauth, user, Grant::DeviceCode, &oauth.token_url);
    let secrets = grants::device_secrets(oauth, &device_code);
    let mut failures = 0;
    loop {
        cancellable(cancel, async {
            tokio::time::sleep(interval).await;
            Ok(())
        })
        .await?;
        if Instant::now() >= deadline {
            return Err(OAuthError::ExpiredToken {
                service: ctx.service.clone(),
                description: format!(
                    "the code was not entered within {} minutes",
                    expires_in.div_ceil(60)
                ),
            });
        }
        let answer = cancellable(cancel, grants::poll_device(oauth, &device_code)).await;
        let resp = match answer {
            Ok(resp) => resp,
            Err(e) if e.is_transient() && failures < POLL_FAILURES => {
                failures += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        match grants::error_of(&resp) {
            Some((code, _)) if code == "authorization_pending" => failures = 0,
            // RFC 8628 §3.5: five seconds more from now on.
            Some((code, _)) if code == "slow_down" => {
                failures = 0;
                interval += Duration::from_secs(5);
            }
            None if resp.status >= 500 && failures < POLL_FAILURES => failures += 1,
            _ => return grants::read_tokens(&ctx, &resp, &secrets),
        }
    }
}

/// `work`, or `Cancelled` as soon as `cancel` fires.
pub(crate) async fn cancellable<T>(
    cancel: &Cancel,
    work: impl std::future::Future<Output = Result<T, OAuthError>>,
) -> Result<T, OAuthError> {
    tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => Err(OAuthError::Cancelled),
    }
}
