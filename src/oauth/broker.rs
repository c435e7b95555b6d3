//! Tokens for the connections of one side of a job: fetched once, kept
//! while they are fresh, fetched anew when they are about to expire or a
//! server refused one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{grants, refresh_token_ref, OAuthError};
use crate::job::{OAuth, OAuthFlow};
use crate::secret::Secret;
use crate::service::SecretStore;

/// A token's lifetime when the service does not say (the usual hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A token is fetched anew when less than this remains of it, so a
/// connection opened late in a long job does not log in with a token about
/// to expire.
const MARGIN: Duration = Duration::from_secs(300);

/// Gives each connection of one side of a job an access token, fetching
/// and refreshing them as needed; shared by all of that side's mailboxes.
/// Cheap to clone: the clones share one cache.
#[derive(Clone)]
pub struct TokenBroker(Arc<Inner>);

struct Inner {
    oauth: OAuth,
    store: Option<Arc<dyn SecretStore>>,
    /// By user; one entry under "" for the tenant's app (client
    /// credentials), whose token is good for every mailbox.
    cache: Mutex<HashMap<String, Cached>>,
    /// One fetch at a time per entry: the mailboxes and connections that
    /// start together wait for one token instead of each asking for one.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Refresh tokens the service rotated that could not be written to the
    /// store: used for the rest of this process instead of the stale one.
    rotated: Mutex<HashMap<String, Secret>>,
}

struct Cached {
    token: Secret,
    /// When it is fetched anew.
    renew_at: Instant,
}

impl std::fmt::Debug for TokenBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenBroker({})", self.0.oauth.flow.label())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// When a token valid for `lifetime` from `now` is fetched anew: five
/// minutes before it expires, or halfway through a shorter life.
fn renew_at(now: Instant, lifetime: Duration) -> Instant {
    now + lifetime - MARGIN.min(lifetime / 2)
}

impl TokenBroker {
    /// `store` holds refresh tokens (signed-in mailboxes) and is where
    /// rotated ones are written back; `None` when the job needs none.
    pub fn new(oauth: OAuth, store: Option<Arc<dyn SecretStore>>) -> TokenBroker {
        TokenBroker(Arc::new(Inner {
            oauth,
            store,
            cache: Mutex::default(),
            fetching: Mutex::default(),
            rotated: Mutex::default(),
        }))
    }

    pub fn oauth(&self) -> &OAuth {
        &self.0.oauth
    }

    /// Whether a refused token can be replaced by another (all but pasted
    /// tokens).
    pub fn can_renew(&self) -> bool {
        !self.0.oauth.flow.token_in_user_list()
    }

    /// Whose entry `user`'s token is.
    fn key(&self, user: &str) -> String {
        match self.0.oauth.flow {
            OAuthFlow::ClientCredentials => String::new(),
            _ => user.to_string(),
        }
    }

    fn cached(&self, key: &str) -> Option<Secret> {
        let cache = lock(&self.0.cache);
        cache
            .get(key)
            .filter(|c| Instant::now() < c.renew_at)
            .map(|c| c.token.clone())
    }

    /// An access token for `user`, valid for a few minutes at least.
    /// `own` is the user list's secret (the pasted token, for
    /// `flow = "token"`).
    pub async fn token(&self, user: &str, own: Option<&Secret>) -> Result<Secret, OAuthError> {
        if self.0.oauth.flow.token_in_user_list() {
            return own.filter(|t| !t.is_empty()).cloned().ok_or_else(|| {
                OAuthError::NoPastedToken {
                    user: user.to_string(),
                }
            });
        }
        let key = self.key(user);
        if let Some(t) = self.cached(&key) {
            return Ok(t);
        }
        let gate = lock(&self.0.fetching)
            .entry(key.clone())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        // Another connection may have fetched it while this one waited.
        if let Some(t) = self.cached(&key) {
            return Ok(t);
        }
        let fetched_at = Instant::now();
        let tokens = self.fetch(user).await?;
        let lifetime = tokens.expires_in.unwrap_or(DEFAULT_LIFETIME);
        lock(&self.0.cache).insert(
            key,
            Cached {
                token: tokens.access_token.clone(),
                renew_at: renew_at(fetched_at, lifetime),
            },
        );
        Ok(tokens.access_token)
    }

    /// The server refused `token` for `user`: forget it, so that the next
    /// [`TokenBroker::token`] gets a new one.
    pub fn refused(&self, user: &str, token: &Secret) {
        let key = self.key(user);
        let mut cache = lock(&self.0.cache);
        // Only that token: one fetched since by another connection stays.
        if cache.get(&key).is_some_and(|c| &c.token == token) {
            cache.remove(&key);
        }
    }

    async fn fetch(&self, user: &str) -> Result<grants::Tokens, OAuthError> {
        let oauth = &self.0.oauth;
        match oauth.flow {
            OAuthFlow::ClientCredentials => grants::client_credentials(oauth).await,
            OAuthFlow::ServiceAccount => grants::jwt_bearer(oauth, user).await,
            OAuthFlow::Device | OAuthFlow::Browser => self.refresh(user).await,
            OAuthFlow::Token => Err(OAuthError::NoPastedToken {
                user: user.to_string(),
            }),
        }
    }

    /// A signed-in mailbox's token, from its refresh token in the store;
    /// a rotated refresh token is written back.
    async fn refresh(&self, user: &str) -> Result<grants::Tokens, OAuthError> {
        let oauth = &self.0.oauth;
        let not_signed_in = || OAuthError::NotSignedIn {
            user: user.to_string(),
        };
        let name = refresh_token_ref(oauth, user);
        let kept = lock(&self.0.rotated).get(&name).cloned();
        let refresh_token = match (kept, &self.0.store) {
            (Some(t), _) => t,
            (None, Some(store)) => store
                .get(&name)
                .map_err(|e| OAuthError::SecretStore { reason: e.0 })?
                .filter(|t| !t.is_empty())
                .ok_or_else(not_signed_in)?,
            (None, None) => return Err(not_signed_in()),
        };
        let tokens = grants::refresh(oauth, user, &refresh_token).await?;
        if let Some(new) = tokens
            .refresh_token
            .as_ref()
            .filter(|t| **t != refresh_token)
        {
            let written = self
                .0
                .store
                .as_ref()
                .is_some_and(|s| s.put(&name, new).is_ok());
            // The old one may no longer work: keep the new one at least
            // for this run (the next sign-in fixes the store).
            let mut rotated = lock(&self.0.rotated);
            match written {
                true => rotated.remove(&name),
                false => rotated.insert(name, new.clone()),
            };
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_five_minutes_early_or_halfway_through_a_short_life() {
        let now = Instant::now();
        assert_eq!(
            renew_at(now, Duration::from_secs(3600)),
            now + Duration::from_secs(3300)
        );
        assert_eq!(
            renew_at(now, Duration::from_secs(60)),
            now + Duration::from_secs(30)
        );
        assert_eq!(renew_at(now, Duration::ZERO), now);
    }
}
