//! Where passwords are kept between runs. The app keeps them in the OS
//! keyring (or, when the user chooses, in memory for the session); the CLI
//! needs none (its job file holds them); tests use [`MemorySecrets`]. The
//! database only ever holds the names of the entries.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::secret::{Secret, SecretRef};

/// Why a password could not be kept or read: the words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// A store of passwords by name.
pub trait SecretStore: Send + Sync {
    /// `keyring` or `memory`: recorded with a saved job, to explain a
    /// password that is gone.
    fn kind(&self) -> &'static str;
    fn put(&self, name: &str, secret: &Secret) -> Result<(), SecretError>;
    /// `None` when there is no such entry.
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError>;
}

/// The name of one password of a job in the store.
pub fn secret_ref(job: &str, role: &str, user: &str, host: &str) -> SecretRef {
    format!("job {job}: {role} {user}@{host}")
}

/// Passwords in memory, gone with the process.
#[derive(Default)]
pub struct MemorySecrets(Mutex<HashMap<String, Secret>>);

impl SecretStore for MemorySecrets {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn put(&self, name: &str, secret: &Secret) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), secret.clone());
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned())
    }
}
