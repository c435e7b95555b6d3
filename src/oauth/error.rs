//! Why no token could be had, in the user's words: what happened, the
//! likely cause, what to do, then the sign-in service's own words in
//! brackets. No variant ever holds a token, a refresh token or a secret.

use std::time::Duration;

use crate::job::{OAuthFlow, Provider};

/// Why no token could be had: the words for the user, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_client`: the app's ID or secret.
    #[error("The sign-in service {service} refused MailFerry's app registration (invalid_client): the client ID or client secret in the job is wrong, the secret has expired, or the app was deleted. Check client_id and client_secret in the job's OAuth settings against the app's registration at the provider. [{description}]")]
    InvalidClient {
        service: String,
        description: String,
    },

    /// `invalid_grant` on a refresh: the person must sign in again.
    #[error("The sign-in of {user} has expired or was revoked at {service} (invalid_grant): the password was changed, the person or an administrator signed MailFerry out, or the sign-in went unused too long. Sign in to this mailbox again: `mailferry sign-in <job file> --user {user}` or the app's Sign in button. [{description}]")]
    SignInExpired {
        service: String,
        user: String,
        description: String,
    },

    /// `invalid_grant` for a service account's signed request.
    #[error("{service} refused the service account's signed request for {user} (invalid_grant): {user} may not exist in the Google Workspace domain, the key may have been deleted or disabled, or this computer's clock is wrong. Check the user name, download a new key if needed (Google Cloud: IAM → Service accounts → Keys), and check the clock. [{description}]")]
    ServiceAccountRefused {
        service: String,
        user: String,
        description: String,
    },

    /// `invalid_grant` for a code just given: it was used or is too old.
    #[error("{service} would not accept the sign-in it had just given (invalid_grant): it took too long, or it was already used. Sign in again. [{description}]")]
    CodeRefused {
        service: String,
        description: String,
    },

    #[error("{service} refused the permissions asked for (invalid_scope: {scope}): a scope is misspelt, or the app may not ask for it. Check scope in the job's OAuth settings, or leave it out to use the provider's default. [{description}]")]
    InvalidScope {
        service: String,
        scope: String,
        description: String,
    },

    /// `unauthorized_client`, or consent missing: the administrator's part.
    #[error("{}", unauthorized_words(service, *provider, *flow, client_id, scope, description))]
    UnauthorizedClient {
        service: String,
        provider: Provider,
        flow: OAuthFlow,
        client_id: String,
        scope: String,
        description: String,
    },

    /// `access_denied`: the person declined.
    #[error("The sign-in was declined at {service} (access_denied): the person signing in chose not to allow MailFerry, or an administrator blocks the app. Sign in again and accept, or ask the administrator to allow the app. [{description}]")]
    AccessDenied {
        service: String,
        description: String,
    },

    /// `expired_token`: the code shown was not used in time.
    #[error("The sign-in code expired before it was used (expired_token): codes are valid for a few minutes only. Start the sign-in again and enter the new code promptly. [{description}]")]
    ExpiredToken {
        service: String,
        description: String,
    },

    /// Any other error the service names.
    #[error("The sign-in service {service} refused the request ({code}). Its reason is in its own words below; check the job's OAuth settings, or try again later. [{description}]")]
    Provider {
        service: String,
        code: String,
        description: String,
    },

    /// No refresh token in the store for a mailbox that needs one.
    #[error("{user} is not signed in yet: MailFerry has no saved sign-in for this mailbox (or it was removed from the keyring). Sign in to this mailbox first: `mailferry sign-in <job file> --user {user}` or the app's Sign in button.")]
    NotSignedIn { user: String },

    /// `flow = "token"` and the user list has no token for this user.
    #[error("There is no access token for {user}: the job takes tokens from the user list (flow = \"token\"), and this user's line has none. Put a current access token in the password column, or choose another way to sign in.")]
    NoPastedToken { user: String },

    #[error("Could not reach the sign-in service {service}: {reason}. Check the network and the addresses in the job's OAuth settings (token_url, device_url, auth_url); if they are right, try again later.")]
    Unreachable { service: String, reason: String },

    #[error("The sign-in service {service} did not answer within {}: it is slow or unreachable from here. MailFerry tries again on the next connection; if it keeps happening, check the network (a proxy or firewall may block it).", seconds(*after))]
    Timeout { service: String, after: Duration },

    /// An answer that is not an OAuth answer (HTML, garbled, no token).
    /// `status` is 0 when the answer was not even HTTP.
    #[error("The sign-in service {service} gave an answer MailFerry could not use ({detail}{}): the address in the job may not be its token endpoint, or the service has a fault. Check token_url in the job's OAuth settings, or try again later.", status_words(*status))]
    BadResponse {
        service: String,
        status: u16,
        detail: String,
    },

    /// Signed in, but no refresh token came with it.
    #[error("{service} signed the mailbox in but gave no refresh token, so MailFerry cannot keep the sign-in: the app was not granted offline access. For Microsoft, include offline_access in the scope; for Google, remove MailFerry's access in the account's security settings and sign in again.")]
    NoRefreshToken { service: String },

    /// The service account's key cannot sign.
    #[error("The service account's key could not be used: {reason}. Download a new JSON key from Google Cloud (IAM → Service accounts → Keys) and put it in the job.")]
    BadKey { reason: String },

    /// The job's settings do not allow what was asked.
    #[error("The job's OAuth settings cannot be used for this: {reason}.")]
    BadSettings { reason: String },

    /// The keyring could not be read or written.
    #[error("MailFerry could not read or keep the sign-in in the keyring: {reason}")]
    SecretStore { reason: String },

    /// The browser's way back (the loopback address) failed.
    #[error("The sign-in in the browser did not finish: {reason}.")]
    Browser { reason: String },

    #[error("The sign-in was cancelled.")]
    Cancelled,
}

impl OAuthError {
    /// Whether trying again later may work without anyone changing
    /// anything (the network, or the service's own fault).
    pub fn is_transient(&self) -> bool {
        match self {
            OAuthError::Unreachable { .. } | OAuthError::Timeout { .. } => true,
            OAuthError::BadResponse { status, .. } => *status >= 500 || *status == 429,
            OAuthError::Provider { code, .. } => {
                matches!(code.as_str(), "temporarily_unavailable" | "server_error")
            }
            _ => false,
        }
    }

    /// Whether the person must sign in (again) to fix it.
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self,
            OAuthError::NotSignedIn { .. } | OAuthError::SignInExpired { .. }
        )
    }
}

fn seconds(d: Duration) -> String {
    match d.as_secs() {
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

fn status_words(status: u16) -> String {
    match status {
        0 => String::new(),
        s => format!(", HTTP {s}"),
    }
}

fn unauthorized_words(
    service: &str,
    provider: Provider,
    flow: OAuthFlow,
    client_id: &str,
    scope: &str,
    description: &str,
) -> String {
    match (provider, flow) {
        (Provider::Google, OAuthFlow::ServiceAccount) | (Provider::Custom, OAuthFlow::ServiceAccount) => format!(
            "{service} would not let the service account act for the users (unauthorized_client): domain-wide delegation has not been granted for its client ID and the scope {scope}. In the Google Admin console (Security → Access and data control → API controls → Domain-wide delegation), add the service account's client ID (client_id in its key file) with the scope {scope}; it can take a few minutes to apply. [{description}]"
        ),
        (Provider::Microsoft, _) => format!(
            "{service} would not give the app {client_id} a token (unauthorized_client): an administrator has not consented to the app in Microsoft Entra, or the app is not allowed this way of signing in. In the Entra admin center (App registrations → the app → API permissions), grant admin consent for its IMAP and POP permissions (IMAP.AccessAsApp for the tenant's app); for sign-in with a code, also allow public client flows (Authentication). [{description}]"
        ),
        (Provider::Google, _) => format!(
            "{service} would not give the app {client_id} a token (unauthorized_client): the app is not allowed {} (a \"Desktop app\" client is needed for the browser, a \"TVs and Limited Input devices\" one for codes), or the Workspace administrator has not allowed it. Check the app's OAuth client in Google Cloud (APIs & Services → Credentials) and the Admin console's API controls. [{description}]",
            flow.label()
        ),
        (Provider::Custom, _) => format!(
            "{service} would not give the app {client_id} a token (unauthorized_client): the app is not allowed {}, or an administrator has not consented to it. Check the app's settings at the provider, or ask its administrator. [{description}]",
            flow.label()
        ),
    }
}
