//! A Google service account's signed request (RFC 7523): a JWT signed
//! with RS256 by the account's private key, asking for a token that acts
//! for one user (domain-wide delegation).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

use super::OAuthError;
use crate::job::oauth::ServiceAccountKey;
use crate::secret::Secret;

/// How long a signed request is good for: Google's most.
const LIFETIME: u64 = 3600;

/// The account's RSA key, read from its PEM (PKCS#8, as Google gives it,
/// or PKCS#1).
pub(crate) fn key_pair(pem: &Secret) -> Result<RsaKeyPair, OAuthError> {
    let bad = |reason: &str| OAuthError::BadKey {
        reason: reason.to_string(),
    };
    let der = PrivateKeyDer::from_pem_slice(pem.expose().as_bytes())
        .map_err(|_| bad("its private_key is not a PEM private key"))?;
    let pair = match &der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err(bad("its private_key is not an RSA key")),
    };
    // ring's reason names the check that failed, never the key.
    pair.map_err(|e| OAuthError::BadKey {
        reason: format!("its private_key is not a usable RSA key ({e})"),
    })
}

/// The signed request for `user` (`sub`), at `now` (seconds since 1970).
pub(crate) fn service_account_assertion(
    key: &ServiceAccountKey,
    user: &str,
    scope: &str,
    audience: &str,
    now: u64,
) -> Result<Secret, OAuthError> {
    let pair = key_pair(&key.private_key)?;
    let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = key.private_key_id.as_deref().filter(|k| !k.is_empty()) {
        header["kid"] = kid.into();
    }
    let claims = serde_json::json!({
        "iss": key.client_email,
        "sub": user,
        "scope": scope,
        "aud": audience,
        "iat": now,
        "exp": now + LIFETIME,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| OAuthError::BadKey {
        reason: "signing with it failed".into(),
    })?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}
