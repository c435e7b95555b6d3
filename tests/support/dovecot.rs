//! A private, throw-away Dovecot instance per test: own temp dir, own ports,
//! own config, started as a child and stopped on drop. See README.md.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const MASTER_USER: &str = "admin";
pub const MASTER_PASSWORD: &str = "adminpw";
/// Debian's `mail` user and group own every mailbox.
const MAIL_UID: u32 = 8;
/// An internal user, only used to check that the instance accepts logins.
const READY_USER: &str = "bedcheck";

/// How the personal namespace looks to IMAP clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Separator "/", no prefix, maildir LAYOUT=fs (folder names may hold '.').
    Slash,
    /// Separator ".", prefix "INBOX.", plain Maildir++ (like Courier, old Cyrus).
    Courier,
}

impl Layout {
    pub fn delimiter(self) -> char {
        match self {
            Layout::Slash => '/',
            Layout::Courier => '.',
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Layout::Slash => "",
            Layout::Courier => "INBOX.",
        }
    }

    fn mail_location(self) -> &'static str {
        match self {
            Layout::Slash => "maildir:~/Maildir:LAYOUT=fs",
            Layout::Courier => "maildir:~/Maildir",
        }
    }
}

pub struct Dovecot {
    dir: tempfile::TempDir,
    conf: PathBuf,
    child: Option<Child>,
    layout: Layout,
    /// imap, imaps, pop3, pop3s
    ports: [u16; 4],
}

impl Dovecot {
    /// Starts a fresh instance and waits until it accepts an IMAP LOGIN.
    /// Panics (with the log tail) if it cannot.
    pub fn start(layout: Layout) -> Dovecot {
        let mut errors = Vec::new();
        for _ in 0..4 {
            match Dovecot::try_start(layout) {
                Ok(server) => return server,
                // Usually a port that someone else grabbed meanwhile: retry.
                Err(e) => errors.push(e),
            }
        }
        panic!("could not start dovecot:\n{}", errors.join("\n----\n"));
    }

    fn try_start(layout: Layout) -> Result<Dovecot, String> {
        let dir = tempfile::Builder::new().prefix("mfbed-").tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let mail = root.join("mail");
        fs::create_dir(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        let instance = root.file_name().unwrap().to_str().unwrap().to_string();
        let ready_password = format!("{:016x}", RandomState::new().build_hasher().finish());
        fs::write(
            root.join("masters"),
            format!("{MASTER_USER}:{{PLAIN}}{MASTER_PASSWORD}\n"),
        )
        .unwrap();
        fs::create_dir(root.join("users")).unwrap();
        write_user(&root, READY_USER, &ready_password);
        let ports = free_ports();
        let (cert, key) = certificate();
        let conf = root.join("dovecot.conf");
        fs::write(&conf, config(&root, &instance, layout, ports, cert, key)).unwrap();
        let log = |name| fs::File::create(root.join(name)).unwrap();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .map_err(|e| format!("cannot run dovecot: {e}"))?;
        let mut server = Dovecot {
            dir,
            conf,
            child: Some(child),
            layout,
            ports,
        };
        // On error, dropping `server` stops whatever did start.
        server.wait_ready(&ready_password)?;
        Ok(server)
    }

    fn wait_ready(&mut self, password: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("dovecot exited ({status}):\n{}", self.log_tail()));
            }
            let result = try_login(self.ports[0], READY_USER, password);
            let Err(last) = result else { return Ok(()) };
            if Instant::now() > deadline {
                return Err(format!(
                    "dovecot not ready after 20 s ({last}):\n{}",
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(25));
        }
    }

    /// Adds a mail user, usable at once. (Each user has a passwd-file of its
    /// own: Dovecot re-reads a changed passwd-file at most once a second.)
    pub fn add_user(&self, name: &str, password: &str) {
        write_user(self.dir.path(), name, password);
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn imap_port(&self) -> u16 {
        self.ports[0]
    }

    pub fn imaps_port(&self) -> u16 {
        self.ports[1]
    }

    pub fn pop3_port(&self) -> u16 {
        self.ports[2]
    }

    pub fn pop3s_port(&self) -> u16 {
        self.ports[3]
    }

    /// The self-signed certificate (CN=localhost, SAN localhost + 127.0.0.1)
    /// a TLS client must trust.
    pub fn ca_file(&self) -> PathBuf {
        certificate().0.to_path_buf()
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// The user's home; the mail is in `home/Maildir`.
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    /// Runs `doveadm -c CONF args...`, panics with stderr on failure.
    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "doveadm {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The last lines of Dovecot's log and of its stderr.
    pub fn log_tail(&self) -> String {
        let tail = |name: &str| {
            let text = fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "--- dovecot.log (tail) ---\n{}\n--- stderr ---\n{}",
            tail("dovecot.log"),
            tail("stderr.log")
        )
    }

    /// Pids of processes still running for this instance (master and children
    /// carry the instance's directory name in their command line).
    pub fn processes(&self) -> Vec<u32> {
        instance_pids(self.dir.path())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // What `doveadm stop` does (SIGTERM to the master), minus its polling
        // in whole seconds: the master then needs ~1 s to reap its log process.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            sleep(Duration::from_millis(10));
        }
        // Children exit right after the master; kill any straggler of ours.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = instance_pids(self.dir.path());
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                for pid in left {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
                break;
            }
            sleep(Duration::from_millis(10));
        }
    }
}

/// Pids whose command line names `dir` (its name is unique: `mfbed-XXXXXX`).
fn instance_pids(dir: &Path) -> Vec<u32> {
    let name = dir.file_name().unwrap().to_str().unwrap();
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(format!("{name}[/.]"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn write_user(root: &Path, name: &str, password: &str) {
    let bad = |s: &str| s.is_empty() || s.contains([':', '/', '%', '\n', '\r']);
    assert!(
        !bad(name) && !bad(password),
        "unusable user/password {name:?}"
    );
    // Dovecot looks users up in lower case (auth_username_format = %Lu).
    let name = name.to_lowercase();
    let home = root.join("mail").join(&name);
    let line = format!(
        "{name}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_UID}::{}\n",
        home.display()
    );
    // Write, then rename into place: Dovecot never sees half a line.
    let tmp = root.join("users").join(format!(".{name}.new"));
    fs::write(&tmp, line).unwrap();
    fs::rename(tmp, root.join("users").join(name)).unwrap();
}

/// Four distinct free ports: imap, imaps, pop3, pop3s.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    [port(0), port(1), port(2), port(3)]
}

/// A self-signed certificate and key, made once and kept in cargo's
/// per-target temp dir (shared by test processes and runs).
fn certificate() -> (&'static Path, &'static Path) {
    static CERT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (cert, key) = CERT.get_or_init(|| {
        let base = PathBuf::from(option_env!("CARGO_TARGET_TMPDIR").unwrap_or("/tmp"));
        let dir = base.join("mailferry-testbed-cert");
        if !dir.join("key.pem").exists() {
            fs::create_dir_all(&base).unwrap();
            let tmp = tempfile::Builder::new()
                .prefix("cert-")
                .tempdir_in(&base)
                .unwrap();
            let out = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                ])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .arg("-keyout")
                .arg(tmp.path().join("key.pem"))
                .arg("-out")
                .arg(tmp.path().join("cert.pem"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl req: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Atomic publish; if another process won the race, keep its pair.
            let kept = tmp.keep();
            if fs::rename(&kept, &dir).is_err() {
                let _ = fs::remove_dir_all(kept);
            }
        }
        (dir.join("cert.pem"), dir.join("key.pem"))
    });
    (cert, key)
}

fn config(
    root: &Path,
    instance: &str,
    layout: Layout,
    [imap, imaps, pop3, pop3s]: [u16; 4],
    cert: &Path,
    key: &Path,
) -> String {
    let d = root.display();
    let (cert, key) = (cert.display(), key.display());
    let (location, sep, prefix) = (layout.mail_location(), layout.delimiter(), layout.prefix());
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/run/state
instance_name = {instance}
protocols = imap pop3
listen = 127.0.0.1
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
auth_cache_size = 0
auth_failure_delay = 0
mail_location = {location}
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
namespace inbox {{
  inbox = yes
  separator = {sep}
  prefix = {prefix}
}}
passdb {{
  driver = passwd-file
  args = {d}/masters
  master = yes
  result_success = continue
}}
passdb {{
  driver = passwd-file
  args = {d}/users/%u
}}
userdb {{
  driver = passwd-file
  args = {d}/users/%u
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
protocol pop3 {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"#
    )
}

/// One IMAP LOGIN on the plain port; Ok once the server accepted it.
fn try_login(port: u16, user: &str, password: &str) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    let mut read_line = |line: &mut String| {
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err("connection closed".to_string()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    };
    read_line(&mut line)?;
    if line.contains("Waiting for authentication") {
        read_line(&mut line)?;
    }
    if !line.starts_with("* OK") {
        return Err(format!("greeting: {line:?}"));
    }
    (&stream)
        .write_all(format!("r LOGIN \"{user}\" \"{password}\"\r\nz LOGOUT\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    loop {
        read_line(&mut line)?;
        if line.starts_with("r OK") {
            return Ok(());
        }
        if line.starts_with("r ") {
            return Err(format!("login: {line:?}"));
        }
    }
}
