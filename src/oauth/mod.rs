//! OAuth 2.0 tokens for logging in to Google, Microsoft and any other
//! server that takes SASL XOAUTH2 or OAUTHBEARER: getting them (the grants
//! a job's `[side.oauth]` names), keeping refresh tokens in the secret
//! store (the OS keyring), and handing each connection a token that is
//! still fresh. The engine's connections ask [`TokenBroker`]; the CLI's
//! `sign-in` and the app's Sign in button use [`sign_in_device`] and
//! [`sign_in_browser`].

mod broker;
mod browser;
mod device;
mod error;
mod grants;
mod http;
mod jwt;
#[cfg(test)]
mod tests;

pub use broker::TokenBroker;
pub use error::OAuthError;

use crate::copy::Cancel;
use crate::job::OAuth;
use crate::secret::{Secret, SecretRef};
use crate::service::SecretStore;

/// What a person is shown to sign in with a code (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DevicePrompt {
    /// The mailbox being signed in.
    pub user: String,
    /// Where to go (on any device).
    pub verification_uri: String,
    /// The same with the code filled in, when the provider gives it.
    pub verification_uri_complete: Option<String>,
    /// The code to type there.
    pub user_code: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
}

/// The name under which `user`'s refresh token is kept in the secret
/// store: one per sign-in service, app and mailbox.
pub fn refresh_token_ref(oauth: &OAuth, user: &str) -> SecretRef {
    format!(
        "oauth refresh token: {user} at {} for {}",
        oauth.token_url, oauth.client_id
    )
}

/// Whether `user` has a sign-in kept in `store` (a refresh token).
pub fn is_signed_in(
    oauth: &OAuth,
    user: &str,
    store: &dyn SecretStore,
) -> Result<bool, OAuthError> {
    store
        .get(&refresh_token_ref(oauth, user))
        .map(|t| t.is_some_and(|t| !t.is_empty()))
        .map_err(|e| OAuthError::SecretStore { reason: e.0 })
}

/// Signs `user` in with a code shown on screen (RFC 8628): `prompt` gets
/// the code and address as soon as the provider gives them; returns once
/// the person has approved (the refresh token is then in `store`), or
/// fails on denial, expiry or `cancel`.
pub async fn sign_in_device(
    oauth: &OAuth,
    user: &str,
    store: &dyn SecretStore,
    prompt: &(dyn Fn(DevicePrompt) + Send + Sync),
    cancel: &Cancel,
) -> Result<(), OAuthError> {
    let tokens = device::device_tokens(oauth, user, prompt, cancel).await?;
    keep(oauth, user, store, tokens.refresh_token)
}

/// Signs `user` in through the browser (authorization code with PKCE, on
/// a loopback redirect, RFC 8252): `open` is given the address to open;
/// returns once the browser came back (the refresh token is then in
/// `store`).
pub async fn sign_in_browser(
    oauth: &OAuth,
    user: &str,
    store: &dyn SecretStore,
    open: &(dyn Fn(&str) + Send + Sync),
    cancel: &Cancel,
) -> Result<(), OAuthError> {
    let tokens = browser::browser_tokens(oauth, user, open, cancel).await?;
    keep(oauth, user, store, tokens.refresh_token)
}

/// Keeps a new sign-in's refresh token in the store.
fn keep(
    oauth: &OAuth,
    user: &str,
    store: &dyn SecretStore,
    refresh_token: Option<Secret>,
) -> Result<(), OAuthError> {
    let token = refresh_token.ok_or_else(|| OAuthError::NoRefreshToken {
        service: http::service_of(&oauth.token_url),
    })?;
    store
        .put(&refresh_token_ref(oauth, user), &token)
        .map_err(|e| OAuthError::SecretStore { reason: e.0 })
}
