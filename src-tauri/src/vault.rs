//! Where the passwords typed in the form go: the OS keyring (Secret Service
//! on Linux, Keychain on macOS, Credential Manager on Windows). SQLite only
//! ever holds the names of the keyring entries ([`SecretRef`]).
//!
//! When no keyring can be used (no Secret Service on the session bus, or a
//! locked one), the app says so plainly and the user may choose to keep
//! passwords in memory for this run of the app only.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use ts_rs::TS;

/// The keyring "service" every MailFerry entry is filed under.
pub const SERVICE: &str = "MailFerry";

use mailferry::secret::Secret;
pub use mailferry::secret::SecretRef;
use mailferry::service::{SecretError, SecretStore};

/// Makes keyring entries; the OS's default, or a mock in tests.
pub type EntryMaker = Box<dyn Fn(&str) -> keyring::Result<keyring::Entry> + Send + Sync>;

/// Where passwords go.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum VaultKind {
    /// The OS keyring.
    Keyring,
    /// Memory, for this run of the app only (the user chose it).
    Memory,
    /// Nowhere yet: no keyring could be used (the message says why).
    Unavailable,
}

impl VaultKind {
    pub fn word(self) -> &'static str {
        match self {
            VaultKind::Keyring => "keyring",
            VaultKind::Memory => "memory",
            VaultKind::Unavailable => "unavailable",
        }
    }
}

/// Where passwords are kept now, for the page to show.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct VaultStatus {
    pub kind: VaultKind,
    /// One plain sentence for the user.
    pub message: String,
    /// What the system said (a D-Bus error, say), for whoever looks after
    /// the computer: shown folded away, never in the sentence.
    pub detail: Option<String>,
}

enum Backend {
    Keyring(EntryMaker),
    Memory(HashMap<SecretRef, String>),
    Unavailable {
        reason: String,
        detail: Option<String>,
        maker: EntryMaker,
    },
}

pub struct Vault {
    backend: Mutex<Backend>,
}

/// Why a password could not be stored or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultError(pub String);

impl std::error::Error for VaultError {}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user-facing sentence for a keyring failure. Never includes a secret:
/// keyring errors carry none, only the platform's reason.
pub fn explain(e: &keyring::Error) -> String {
    match e {
        keyring::Error::PlatformFailure(_) => "No keyring is available: MailFerry could not reach \
             the system's password store (on Linux, the Secret Service of GNOME Keyring or KWallet). \
             Start or unlock it and try the keyring again, or keep passwords in memory for this run only."
            .into(),
        keyring::Error::NoStorageAccess(_) => "No keyring is available: the system's password store \
             (on Linux, the Secret Service of GNOME Keyring or KWallet) is not set up, is locked, or \
             refused access. Unlock or set it up and try the keyring again, or keep passwords in memory \
             for this run only."
            .into(),
        other => format!(
            "The system's password store failed: {other}. Keep passwords in memory for this \
             run only, or try again."
        ),
    }
}

/// The platform's own words for a keyring failure (a D-Bus error or socket
/// path), kept apart from the sentence above.
pub fn detail(e: &keyring::Error) -> Option<String> {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            Some(inner.to_string())
        }
        _ => None,
    }
}

const PROBE: &str = "mailferry-probe";

impl Vault {
    /// The OS keyring, if a probe entry can be written, read and removed;
    /// else unavailable (with the reason), until the user picks memory.
    pub fn detect() -> Vault {
        Vault::detect_with(Box::new(|name| keyring::Entry::new(SERVICE, name)))
    }

    pub fn detect_with(maker: EntryMaker) -> Vault {
        let probe = (|| {
            let entry = maker(PROBE)?;
            entry.set_password("probe")?;
            let back = entry.get_password()?;
            let _ = entry.delete_credential();
            if back != "probe" {
                return Err(keyring::Error::NoStorageAccess(
                    "a stored probe value came back different".into(),
                ));
            }
            Ok(())
        })();
        let backend = match probe {
            Ok(()) => Backend::Keyring(maker),
            Err(e) => Backend::Unavailable {
                reason: explain(&e),
                detail: detail(&e),
                maker,
            },
        };
        Vault {
            backend: Mutex::new(backend),
        }
    }

    /// A vault that keeps everything in memory (tests, and the user's
    /// choice when no keyring is available).
    pub fn memory() -> Vault {
        Vault {
            backend: Mutex::new(Backend::Memory(HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backend> {
        self.backend.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> VaultStatus {
        match &*self.lock() {
            Backend::Keyring(_) => VaultStatus {
                kind: VaultKind::Keyring,
                message: "Passwords are kept in the system keyring; MailFerry's database keeps only references to them.".into(),
                detail: None,
            },
            Backend::Memory(_) => VaultStatus {
                kind: VaultKind::Memory,
                message: "Passwords are kept in memory for this run of MailFerry only: they are forgotten when it closes.".into(),
                detail: None,
            },
            Backend::Unavailable { reason, detail, .. } => VaultStatus {
                kind: VaultKind::Unavailable,
                message: reason.clone(),
                detail: detail.clone(),
            },
        }
    }

    /// The user accepted keeping passwords in memory for this run.
    pub fn use_memory(&self) -> VaultStatus {
        {
            let mut b = self.lock();
            if !matches!(*b, Backend::Keyring(_)) {
                *b = Backend::Memory(HashMap::new());
            }
        }
        self.status()
    }

    /// Tries the OS keyring again (after the user started or unlocked it).
    pub fn retry_keyring(&self) -> VaultStatus {
        {
            let mut b = self.lock();
            let old = std::mem::replace(&mut *b, Backend::Memory(HashMap::new()));
            *b = match old {
                Backend::Unavailable { maker, .. } => Vault::detect_with(maker)
                    .backend
                    .into_inner()
                    .unwrap_or_else(|p| p.into_inner()),
                other => other,
            };
        }
        self.status()
    }

    /// `keyring` or `memory`, as recorded next to the references.
    pub fn kind(&self) -> &'static str {
        self.status().kind.word()
    }

    pub fn put(&self, name: &str, secret: &str) -> Result<(), VaultError> {
        match &mut *self.lock() {
            Backend::Keyring(maker) => maker(name)
                .and_then(|e| e.set_password(secret))
                .map_err(|e| VaultError(explain(&e))),
            Backend::Memory(map) => {
                map.insert(name.to_string(), secret.to_string());
                Ok(())
            }
            Backend::Unavailable { reason, .. } => Err(VaultError(reason.clone())),
        }
    }

    /// `Ok(None)` when there is no such entry.
    pub fn get(&self, name: &str) -> Result<Option<String>, VaultError> {
        match &*self.lock() {
            Backend::Keyring(maker) => match maker(name).and_then(|e| e.get_password()) {
                Ok(s) => Ok(Some(s)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(VaultError(explain(&e))),
            },
            Backend::Memory(map) => Ok(map.get(name).cloned()),
            Backend::Unavailable { reason, .. } => Err(VaultError(reason.clone())),
        }
    }

    pub fn delete(&self, name: &str) -> Result<(), VaultError> {
        match &mut *self.lock() {
            Backend::Keyring(maker) => match maker(name).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(VaultError(explain(&e))),
            },
            Backend::Memory(map) => {
                map.remove(name);
                Ok(())
            }
            Backend::Unavailable { reason, .. } => Err(VaultError(reason.clone())),
        }
    }
}

/// The engine's saved jobs keep their passwords here.
impl SecretStore for Vault {
    fn kind(&self) -> &'static str {
        Vault::kind(self)
    }

    fn put(&self, name: &str, secret: &Secret) -> Result<(), SecretError> {
        Vault::put(self, name, secret.expose()).map_err(|e| SecretError(e.0))
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        Vault::get(self, name)
            .map(|s| s.map(Secret::new))
            .map_err(|e| SecretError(e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_vault_stores_reads_and_deletes() {
        let v = Vault::memory();
        assert_eq!(v.status().kind, VaultKind::Memory);
        v.put("a", "secret-1").unwrap();
        assert_eq!(v.get("a").unwrap().as_deref(), Some("secret-1"));
        v.delete("a").unwrap();
        assert_eq!(v.get("a").unwrap(), None);
    }

    /// keyring's mock credentials: each entry is its own store, so the probe
    /// works and the error paths can be forced.
    #[test]
    fn mock_keyring_probe_succeeds_and_is_used() {
        let v = Vault::detect_with(Box::new(|name| {
            keyring::Entry::new_with_credential(
                keyring::mock::default_credential_builder().build(None, SERVICE, name)?,
            )
            .pipe_ok()
        }));
        assert_eq!(v.status().kind, VaultKind::Keyring);
        // A mock entry does not outlive its Entry: writing works, and a new
        // entry of the same name reads nothing.
        v.put("x", "pw").unwrap();
        assert_eq!(v.get("x").unwrap(), None);
    }

    #[test]
    fn unreachable_keyring_says_so_and_offers_memory() {
        let v = Vault::detect_with(Box::new(|_name| {
            Err(keyring::Error::PlatformFailure(
                "org.freedesktop.DBus.Error.NotSupported: Unable to autolaunch a dbus-daemon"
                    .into(),
            ))
        }));
        let s = v.status();
        assert_eq!(s.kind, VaultKind::Unavailable);
        assert!(
            s.message.starts_with("No keyring is available"),
            "{}",
            s.message
        );
        assert!(s.message.contains("in memory for this run only"));
        // The bus's words are kept for support, out of the sentence.
        assert!(!s.message.contains("DBus"), "{}", s.message);
        assert!(s
            .detail
            .unwrap()
            .contains("Unable to autolaunch a dbus-daemon"));
        let err = v.put("a", "hunter2").unwrap_err();
        assert!(!err.0.contains("hunter2"));
        assert_eq!(v.use_memory().kind, VaultKind::Memory);
        v.put("a", "hunter2").unwrap();
        assert_eq!(v.get("a").unwrap().as_deref(), Some("hunter2"));
    }

    #[test]
    fn locked_keyring_is_explained() {
        let v = Vault::detect_with(Box::new(|_name| {
            Err(keyring::Error::NoStorageAccess(
                "collection is locked".into(),
            ))
        }));
        assert!(v.status().message.contains("locked"));
    }

    /// The real Secret Service: test.sh runs the tests inside a D-Bus session
    /// with an unlocked gnome-keyring and sets MAILFERRY_TEST_SECRET_SERVICE.
    #[test]
    fn real_secret_service_round_trip() {
        if std::env::var_os("MAILFERRY_TEST_SECRET_SERVICE").is_none() {
            eprintln!("skipped: set MAILFERRY_TEST_SECRET_SERVICE=1 inside a D-Bus session with gnome-keyring (test.sh does)");
            return;
        }
        let v = Vault::detect();
        assert_eq!(
            v.status().kind,
            VaultKind::Keyring,
            "{}",
            v.status().message
        );
        let name = format!("test entry {}", std::process::id());
        v.put(&name, "s3cret pass, with spaces").unwrap();
        assert_eq!(
            v.get(&name).unwrap().as_deref(),
            Some("s3cret pass, with spaces")
        );
        v.delete(&name).unwrap();
        assert_eq!(v.get(&name).unwrap(), None);
    }

    trait PipeOk: Sized {
        fn pipe_ok(self) -> keyring::Result<Self> {
            Ok(self)
        }
    }
    impl PipeOk for keyring::Entry {}
}
