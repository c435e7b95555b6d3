//! OAuth 2.0 sign-in for one side of a job (`auth = "oauth"` and its
//! `[source.oauth]` / `[destination.oauth]` table): where the tokens come
//! from, validated into [`OAuth`]. Getting the tokens is `crate::oauth`'s
//! work; this is only the description.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::JobError;
use crate::secret::Secret;

/// Whose sign-in service issues the tokens; it gives the endpoints and
/// scopes unless the job names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Google,
    Microsoft,
    /// Any other OAuth 2.0 server: the job gives its endpoints.
    #[default]
    Custom,
}

/// Where the access tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OAuthFlow {
    /// A person signs in to each mailbox on another device with a code
    /// (RFC 8628); the refresh token is kept in the keyring.
    Device,
    /// A person signs in to each mailbox in the browser, which returns to
    /// a loopback address (authorization code with PKCE, RFC 8252).
    Browser,
    /// An administrator's app, for every mailbox of a Microsoft 365 tenant
    /// (client credentials, `IMAP.AccessAsApp`).
    ClientCredentials,
    /// A Google service account with domain-wide delegation: a signed JWT
    /// exchanged for each user's token (RFC 7523).
    ServiceAccount,
    /// A token pasted in the user list's password column, for scripts.
    Token,
}

impl OAuthFlow {
    /// Whether each mailbox's token is in the user list's password column.
    pub fn token_in_user_list(self) -> bool {
        self == OAuthFlow::Token
    }

    /// Whether a person must sign in to each mailbox before the job runs.
    pub fn per_mailbox_sign_in(self) -> bool {
        matches!(self, OAuthFlow::Device | OAuthFlow::Browser)
    }

    pub fn label(self) -> &'static str {
        match self {
            OAuthFlow::Device => "sign-in with a code",
            OAuthFlow::Browser => "sign-in in the browser",
            OAuthFlow::ClientCredentials => "the tenant's app (client credentials)",
            OAuthFlow::ServiceAccount => "a service account (domain-wide delegation)",
            OAuthFlow::Token => "access tokens from the user list",
        }
    }
}

/// A Google service account's key, as downloaded from Google Cloud (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// The account's address: the JWT's issuer.
    pub client_email: String,
    /// PKCS#8 RSA key, PEM.
    pub private_key: Secret,
    pub private_key_id: Option<String>,
    /// Where the signed JWT is exchanged (and its audience).
    pub token_uri: String,
}

/// One side's validated OAuth settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth {
    pub flow: OAuthFlow,
    pub provider: Provider,
    /// Empty for pasted tokens and service accounts.
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Microsoft's tenant (a domain or ID); `None` elsewhere.
    pub tenant: Option<String>,
    /// Space-separated scopes asked for.
    pub scope: String,
    pub token_url: String,
    /// Device authorization endpoint (RFC 8628), for [`OAuthFlow::Device`].
    pub device_url: Option<String>,
    /// Authorization endpoint, for [`OAuthFlow::Browser`].
    pub auth_url: Option<String>,
    /// For [`OAuthFlow::ServiceAccount`].
    pub service_account: Option<ServiceAccountKey>,
}

/// `[source.oauth]` / `[destination.oauth]` as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuthFile {
    pub flow: Option<OAuthFlow>,
    pub provider: Option<Provider>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub tenant: Option<String>,
    pub scope: Option<String>,
    pub token_url: Option<String>,
    pub device_url: Option<String>,
    pub auth_url: Option<String>,
    /// The service account's JSON key file, relative to the job file.
    pub service_account_key: Option<PathBuf>,
    /// The same key's JSON text (what the app sends, from the keyring).
    pub service_account_json: Option<Secret>,
}

const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_DEVICE: &str = "https://oauth2.googleapis.com/device/code";
const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's one scope for IMAP and POP3.
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
/// Microsoft's scopes for a person's sign-in (IMAP and POP3, and a refresh
/// token), and the app-only one for client credentials.
pub const MICROSOFT_DELEGATED_SCOPE: &str = "https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/POP.AccessAsUser.All offline_access";
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";

impl OAuthFile {
    /// `side` is `"source"` or `"destination"`, for the messages.
    pub fn validate(
        &self,
        side: &'static str,
        default_provider: Option<Provider>,
        base: &Path,
    ) -> Result<OAuth, JobError> {
        let bad = |reason: String| JobError::BadOAuth { side, reason };
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let provider = self.provider.or(default_provider).unwrap_or_default();
        let flow = self.flow.ok_or_else(|| {
            bad("choose how tokens are obtained: flow = \"device\", \"browser\", \"client-credentials\", \"service-account\" or \"token\"".into())
        })?;
        let client_id = text(&self.client_id).unwrap_or_default();
        let client_secret = self.client_secret.clone().filter(|s| !s.is_empty());
        let tenant = text(&self.tenant);
        let ms_tenant = tenant.clone().unwrap_or_else(|| "organizations".into());
        let (token_default, device_default, auth_default) = match provider {
            Provider::Google => (
                Some(GOOGLE_TOKEN.to_string()),
                Some(GOOGLE_DEVICE.to_string()),
                Some(GOOGLE_AUTH.to_string()),
            ),
            Provider::Microsoft => {
                let base = format!("https://login.microsoftonline.com/{ms_tenant}/oauth2/v2.0");
                (
                    Some(format!("{base}/token")),
                    Some(format!("{base}/devicecode")),
                    Some(format!("{base}/authorize")),
                )
            }
            Provider::Custom => (None, None, None),
        };
        let scope = text(&self.scope).unwrap_or_else(|| match (provider, flow) {
            (Provider::Google, _) => GOOGLE_SCOPE.into(),
            (Provider::Microsoft, OAuthFlow::ClientCredentials) => MICROSOFT_APP_SCOPE.into(),
            (Provider::Microsoft, _) => MICROSOFT_DELEGATED_SCOPE.into(),
            (Provider::Custom, _) => String::new(),
        });
        let device_url = text(&self.device_url).or(device_default);
        let auth_url = text(&self.auth_url).or(auth_default);

        let service_account = if flow == OAuthFlow::ServiceAccount {
            let json = match (&self.service_account_json, &self.service_account_key) {
                (Some(j), _) if !j.is_empty() => j.expose().to_string(),
                (_, Some(p)) => {
                    let path = base.join(p);
                    std::fs::read_to_string(&path).map_err(|e| {
                        bad(format!(
                            "the service account key {} could not be read ({e}); download it again from Google Cloud (IAM → Service accounts → Keys)",
                            path.display()
                        ))
                    })?
                }
                _ => {
                    return Err(bad(
                        "a service account needs its JSON key: service_account_key = \"key.json\""
                            .into(),
                    ))
                }
            };
            Some(parse_service_account(&json).map_err(bad)?)
        } else {
            None
        };
        let token_url = text(&self.token_url)
            .or_else(|| service_account.as_ref().map(|k| k.token_uri.clone()))
            .or(token_default);

        match flow {
            OAuthFlow::Token => {}
            OAuthFlow::Device | OAuthFlow::Browser | OAuthFlow::ClientCredentials
                if client_id.is_empty() =>
            {
                return Err(bad(format!(
                    "{} needs the client ID of the app you registered (client_id); docs/cloud.md says where to make one",
                    flow.label()
                )))
            }
            OAuthFlow::ClientCredentials if client_secret.is_none() => {
                return Err(bad(
                    "the tenant's app needs its client secret (client_secret)".into(),
                ))
            }
            OAuthFlow::ClientCredentials
                if provider == Provider::Microsoft && tenant.is_none() =>
            {
                return Err(bad(
                    "the tenant's app needs the tenant (tenant = \"contoso.onmicrosoft.com\" or its ID)".into(),
                ))
            }
            // Google's device flow grants only a short list of scopes, and
            // mail is not on it: it would fail at the first sign-in.
            OAuthFlow::Device if provider == Provider::Google => {
                return Err(bad(
                    "Google does not allow mail access from sign-in with a code (its device flow refuses the scope https://mail.google.com/); use flow = \"browser\", or a service account for a Workspace domain".into(),
                ))
            }
            OAuthFlow::Device if device_url.is_none() => {
                return Err(bad(
                    "sign-in with a code needs the provider's device endpoint (device_url)".into(),
                ))
            }
            OAuthFlow::Browser if auth_url.is_none() => {
                return Err(bad(
                    "sign-in in the browser needs the provider's authorization endpoint (auth_url)"
                        .into(),
                ))
            }
            _ => {}
        }
        let token_url = match (flow, token_url) {
            (OAuthFlow::Token, t) => t.unwrap_or_default(),
            (_, Some(t)) => t,
            (_, None) => {
                return Err(bad(
                    "the provider's token endpoint is missing (token_url), or choose provider = \"google\" or \"microsoft\"".into(),
                ))
            }
        };
        for url in [Some(&token_url), device_url.as_ref(), auth_url.as_ref()]
            .into_iter()
            .flatten()
            .filter(|u| !u.is_empty())
        {
            if !(url.starts_with("https://")
                || url.starts_with("http://127.0.0.1")
                || url.starts_with("http://localhost"))
            {
                return Err(bad(format!(
                    "{url:?} is not an https:// address (plain http is allowed only to this computer)"
                )));
            }
        }
        Ok(OAuth {
            flow,
            provider,
            client_id,
            client_secret,
            tenant,
            scope,
            token_url,
            device_url,
            auth_url,
            service_account,
        })
    }
}

/// Reads a service account's JSON key; `Err` says what is wrong with it.
pub fn parse_service_account(json: &str) -> Result<ServiceAccountKey, String> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(rename = "type")]
        kind: Option<String>,
        client_email: Option<String>,
        private_key: Option<String>,
        private_key_id: Option<String>,
        token_uri: Option<String>,
    }
    let raw: Raw = serde_json::from_str(json).map_err(|e| {
        format!("the service account key is not the JSON file Google Cloud gives ({e})")
    })?;
    if raw.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err(
            "the key file is not a service account's key (its \"type\" is not \"service_account\")"
                .into(),
        );
    }
    let client_email = raw
        .client_email
        .filter(|e| !e.is_empty())
        .ok_or("the service account key has no client_email")?;
    let private_key = raw
        .private_key
        .filter(|k| k.contains("PRIVATE KEY"))
        .ok_or("the service account key has no private_key")?;
    Ok(ServiceAccountKey {
        client_email,
        private_key: Secret::new(private_key),
        private_key_id: raw.private_key_id,
        token_uri: raw.token_uri.unwrap_or_else(|| GOOGLE_TOKEN.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> OAuthFile {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_provider_fills_in_its_endpoints_and_scopes() {
        let o = file("flow = \"device\"\nclient_id = \"abc\"")
            .validate("source", Some(Provider::Microsoft), Path::new("."))
            .unwrap();
        assert_eq!(
            o.token_url,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert!(o.scope.contains("IMAP.AccessAsUser.All"), "{}", o.scope);
        let cc = file("flow = \"client-credentials\"\nclient_id = \"abc\"\nclient_secret = \"s\"\ntenant = \"contoso.example\"")
            .validate("destination", Some(Provider::Microsoft), Path::new("."))
            .unwrap();
        assert_eq!(cc.scope, MICROSOFT_APP_SCOPE);
        assert!(cc.token_url.contains("/contoso.example/"));
        let g = file("flow = \"browser\"\nclient_id = \"abc\"\nprovider = \"google\"")
            .validate("source", None, Path::new("."))
            .unwrap();
        assert_eq!(
            (g.scope.as_str(), g.auth_url.as_deref()),
            (GOOGLE_SCOPE, Some(GOOGLE_AUTH))
        );
    }

    #[test]
    fn what_is_missing_is_named() {
        let e = |t: &str| {
            file(t)
                .validate("source", Some(Provider::Microsoft), Path::new("."))
                .unwrap_err()
                .to_string()
        };
        assert!(e("").contains("flow ="), "{}", e(""));
        assert!(e("flow = \"device\"").contains("client_id"));
        assert!(e("flow = \"client-credentials\"\nclient_id = \"a\"").contains("client_secret"));
        assert!(
            e("flow = \"client-credentials\"\nclient_id = \"a\"\nclient_secret = \"s\"")
                .contains("tenant")
        );
        assert!(e("flow = \"service-account\"").contains("JSON key"));
        let google_code = file("flow = \"device\"\nclient_id = \"a\"")
            .validate("source", Some(Provider::Google), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(google_code.contains("flow = \"browser\""), "{google_code}");
        let custom = file("flow = \"device\"\nclient_id = \"a\"")
            .validate("source", None, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(custom.contains("device_url"), "{custom}");
        let http = file("flow = \"device\"\nclient_id = \"a\"\ntoken_url = \"http://idp.example/t\"\ndevice_url = \"https://idp.example/d\"")
            .validate("source", None, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(http.contains("not an https://"), "{http}");
    }

    #[test]
    fn a_service_account_key_is_read_and_its_secret_never_printed() {
        let json = r#"{"type":"service_account","client_email":"mf@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n","private_key_id":"k1","token_uri":"https://oauth2.googleapis.com/token"}"#;
        let k = parse_service_account(json).unwrap();
        assert_eq!(k.client_email, "mf@p.iam.gserviceaccount.com");
        assert!(!format!("{k:?}").contains("MIIB"));
        assert!(parse_service_account("{}")
            .unwrap_err()
            .contains("client_email"));
        assert!(parse_service_account("nope").unwrap_err().contains("JSON"));
    }
}
