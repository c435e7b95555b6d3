//! The CLI's secret store: the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows), filed under the same
//! service as the app's entries, so a mailbox signed in by either is signed
//! in for both.

use mailferry::secret::Secret;
use mailferry::service::{SecretError, SecretStore};

/// The keyring "service" every MailFerry entry is filed under (the app's
/// too: src-tauri/src/vault.rs).
pub const SERVICE: &str = "MailFerry";

/// Makes keyring entries: the OS's, or a mock in tests.
type EntryMaker = Box<dyn Fn(&str) -> keyring::Result<keyring::Entry> + Send + Sync>;

pub struct KeyringStore {
    entry: EntryMaker,
}

impl KeyringStore {
    /// The OS keyring.
    pub fn new() -> KeyringStore {
        KeyringStore::with(Box::new(|name| keyring::Entry::new(SERVICE, name)))
    }

    fn with(entry: EntryMaker) -> KeyringStore {
        KeyringStore { entry }
    }
}

/// A keyring failure in the user's words; keyring errors carry no secret,
/// only the platform's reason.
fn explain(e: &keyring::Error) -> SecretError {
    SecretError(match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => format!(
            "no keyring is available: the system's password store (on Linux, the Secret Service of GNOME Keyring or KWallet) could not be reached, is locked, or refused access. Start or unlock it, then try again. [{inner}]"
        ),
        other => format!("the system's password store failed ({other}). Try again."),
    })
}

impl SecretStore for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    fn put(&self, name: &str, secret: &Secret) -> Result<(), SecretError> {
        (self.entry)(name)
            .and_then(|e| e.set_password(secret.expose()))
            .map_err(|e| explain(&e))
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        match (self.entry)(name).and_then(|e| e.get_password()) {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(explain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keyring's mock: each entry is its own store, so what is written is
    /// read back through the same entry only; a new entry reads nothing.
    #[test]
    fn a_missing_entry_is_none_and_a_failing_keyring_is_explained() {
        let mock = KeyringStore::with(Box::new(|name| {
            Ok(keyring::Entry::new_with_credential(
                keyring::mock::default_credential_builder().build(None, SERVICE, name)?,
            ))
        }));
        mock.put("a", &Secret::new("rt")).unwrap();
        assert_eq!(mock.get("a").unwrap(), None);

        let down = KeyringStore::with(Box::new(|_| {
            Err(keyring::Error::PlatformFailure(
                "org.freedesktop.DBus.Error.ServiceUnknown".into(),
            ))
        }));
        let e = down.put("a", &Secret::new("refresh-token-1")).unwrap_err();
        assert!(e.0.starts_with("no keyring is available"), "{}", e.0);
        assert!(e.0.contains("[org.freedesktop.DBus.Error.ServiceUnknown]"));
        assert!(!e.0.contains("refresh-token-1"));
        assert!(down.get("a").is_err());
    }
}
