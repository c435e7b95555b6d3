//! A private, throw-away Dovecot instance per test: own temp dir, own ports,
//! own config, started as a child and stopped on drop. See README.md.
//!
//! `ServerOptions` also gives fixed ports, a fixed directory and a mode without TLS
//! (for the local demo in `examples/demo_servers.rs`, and for tests of
//! servers that offer no STARTTLS).

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

/// The four listeners of an instance. `0` disables a listener (only the TLS
/// ones may be disabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
}

impl Ports {
    fn listed(self) -> [(&'static str, u16); 4] {
        [
            ("imap", self.imap),
            ("imaps", self.imaps),
            ("pop3", self.pop3),
            ("pop3s", self.pop3s),
        ]
    }
}

/// How to start an instance. `ServerOptions::new(layout)` is what `start` does.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub layout: Layout,
    /// `None`: free ports picked at random. `Some`: exactly these (an
    /// instance on busy ports fails at once, with the port named).
    pub ports: Option<Ports>,
    /// `None`: a fresh `/tmp/mfbed-XXXXXX`. `Some(dir)`: this directory,
    /// wiped at start and removed on drop. Its file name names the instance
    /// (process titles, `processes()`, `stop_leftover`), so make it
    /// distinctive, and keep the path short (Dovecot's sockets live in
    /// `dir/run`, and a Unix socket path has at most 107 bytes). Every
    /// directory above it must be searchable by the `mail` user.
    pub dir: Option<PathBuf>,
    /// `false`: `ssl = no`. No imaps/pop3s listeners (their ports read 0),
    /// no STARTTLS/STLS offered; passwords go in clear on the plain ports.
    pub tls: bool,
    /// More configuration, appended to the generated one (e.g. the quota
    /// plugin and its limits).
    pub extra_config: String,
    /// OAuth 2.0 logins (SASL XOAUTH2 and OAUTHBEARER) with tokens checked
    /// by a loopback identity provider (`oauth::Idp::dovecot()`). Passwords
    /// keep working.
    pub oauth: Option<OAuthOptions>,
}

/// How Dovecot checks OAuth tokens: its `oauth2` passdb asks
/// `tokeninfo_url` + token and compares the answer's `email` with the
/// login name; `scope`, when set, must be among the token's scopes.
#[derive(Debug, Clone)]
pub struct OAuthOptions {
    pub tokeninfo_url: String,
    pub scope: Option<String>,
}

impl ServerOptions {
    pub fn new(layout: Layout) -> ServerOptions {
        ServerOptions {
            layout,
            ports: None,
            dir: None,
            tls: true,
            extra_config: String::new(),
            oauth: None,
        }
    }
}

pub struct Dovecot {
    /// The instance's directory: config, `users/`, `mail/`, `run/`, logs.
    root: PathBuf,
    /// Set when `root` is a temp dir (removed when this is dropped).
    temp: Option<tempfile::TempDir>,
    conf: PathBuf,
    child: Option<Child>,
    layout: Layout,
    ports: Ports,
    tls: bool,
}

impl Dovecot {
    /// Starts a fresh instance and waits until it accepts an IMAP LOGIN.
    /// Panics (with the log tail) if it cannot.
    pub fn start(layout: Layout) -> Dovecot {
        Dovecot::start_with(&ServerOptions::new(layout))
    }

    /// Like `start`, on fixed ports (on 127.0.0.1). Panics if one is busy.
    pub fn start_on(layout: Layout, ports: Ports) -> Dovecot {
        Dovecot::start_with(&ServerOptions {
            ports: Some(ports),
            ..ServerOptions::new(layout)
        })
    }

    /// Like `start`, without TLS at all: `ssl = no`, no imaps/pop3s
    /// listeners (`imaps_port()` and `pop3s_port()` are 0), and neither
    /// STARTTLS nor STLS in the capabilities.
    pub fn start_plaintext(layout: Layout) -> Dovecot {
        Dovecot::start_with(&ServerOptions {
            tls: false,
            ..ServerOptions::new(layout)
        })
    }

    /// Starts an instance as `options` say; panics with the reason if it
    /// cannot.
    pub fn start_with(options: &ServerOptions) -> Dovecot {
        Dovecot::try_start_with(options).unwrap_or_else(|e| panic!("could not start dovecot:\n{e}"))
    }

    /// Starts an instance as `options` say. Random ports are retried a few
    /// times (someone may grab one meanwhile); fixed ports are not.
    pub fn try_start_with(options: &ServerOptions) -> Result<Dovecot, String> {
        let attempts = if options.ports.is_some() { 1 } else { 4 };
        let mut errors = Vec::new();
        for _ in 0..attempts {
            match Dovecot::try_start(options) {
                Ok(server) => return Ok(server),
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("\n----\n"))
    }

    fn try_start(options: &ServerOptions) -> Result<Dovecot, String> {
        let layout = options.layout;
        let tls = options.tls;
        let ports = match options.ports {
            Some(ports) => {
                check_ports(ports, tls)?;
                Ports {
                    imaps: if tls { ports.imaps } else { 0 },
                    pop3s: if tls { ports.pop3s } else { 0 },
                    ..ports
                }
            }
            None => free_ports(tls),
        };
        let (root, temp) = match &options.dir {
            None => {
                let temp = tempfile::Builder::new().prefix("mfbed-").tempdir().unwrap();
                (temp.path().to_path_buf(), Some(temp))
            }
            Some(dir) => (fresh_fixed_dir(dir)?, None),
        };
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let mail = root.join("mail");
        fs::create_dir(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        let instance = instance_name(&root);
        let ready_password = format!("{:016x}", RandomState::new().build_hasher().finish());
        fs::write(
            root.join("masters"),
            format!("{MASTER_USER}:{{PLAIN}}{MASTER_PASSWORD}\n"),
        )
        .unwrap();
        fs::create_dir(root.join("users")).unwrap();
        write_user(&root, READY_USER, &ready_password);
        let ssl = match tls {
            true => Some(certificate()),
            false => None,
        };
        let conf = root.join("dovecot.conf");
        let mut text = config(&root, &instance, layout, ports, ssl);
        if let Some(o) = &options.oauth {
            text = with_oauth(&text, &root, o);
        }
        text.push_str(&options.extra_config);
        fs::write(&conf, text).unwrap();
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
            root,
            temp,
            conf,
            child: Some(child),
            layout,
            ports,
            tls,
        };
        // On error, dropping `server` stops whatever did start.
        server.wait_ready(&ready_password)?;
        Ok(server)
    }

    /// Pids of the processes of an instance whose files are in `dir` (from
    /// this process or an earlier one).
    pub fn processes_of(dir: &Path) -> Vec<u32> {
        instance_pids(dir)
    }

    /// Stops what is left of an instance that used the fixed directory `dir`
    /// (one whose owner was killed before it could stop it) and removes the
    /// directory. Returns the pids it had to stop (empty: nothing ran).
    pub fn stop_leftover(dir: &Path) -> Vec<u32> {
        let pids = instance_pids(dir);
        if !pids.is_empty() {
            // The master stops its children itself; the rest go anyway.
            for pid in &pids {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .stderr(Stdio::null())
                    .status();
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let left = instance_pids(dir);
                if left.is_empty() {
                    break;
                }
                if Instant::now() > deadline {
                    for pid in left {
                        let _ = Command::new("kill")
                            .arg("-9")
                            .arg(pid.to_string())
                            .stderr(Stdio::null())
                            .status();
                    }
                    sleep(Duration::from_millis(100));
                    break;
                }
                sleep(Duration::from_millis(20));
            }
        }
        if dir.join("dovecot.conf").exists() {
            let _ = fs::remove_dir_all(dir);
        }
        pids
    }

    fn wait_ready(&mut self, password: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("dovecot exited ({status}):\n{}", self.log_tail()));
            }
            let result = try_login(self.ports.imap, READY_USER, password);
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

    /// False once the master process has exited (e.g. it got the terminal's
    /// Ctrl-C: it shares our process group).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Adds a mail user, usable at once. (Each user has a passwd-file of its
    /// own: Dovecot re-reads a changed passwd-file at most once a second.)
    pub fn add_user(&self, name: &str, password: &str) {
        write_user(&self.root, name, password);
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn imap_port(&self) -> u16 {
        self.ports.imap
    }

    /// 0 on an instance without TLS.
    pub fn imaps_port(&self) -> u16 {
        self.ports.imaps
    }

    pub fn pop3_port(&self) -> u16 {
        self.ports.pop3
    }

    /// 0 on an instance without TLS.
    pub fn pop3s_port(&self) -> u16 {
        self.ports.pop3s
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// False for `start_plaintext` (`ssl = no`).
    pub fn has_tls(&self) -> bool {
        self.tls
    }

    /// The instance's directory (config, users, mail, run, logs).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The self-signed certificate (CN=localhost, SAN localhost + 127.0.0.1)
    /// a TLS client must trust. (The same file for every instance; it exists
    /// even for an instance without TLS.)
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
        self.root.join("mail").join(user)
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
    /// The whole of this instance's dovecot.log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("dovecot.log")).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let tail = |name: &str| {
            let text = fs::read_to_string(self.root.join(name)).unwrap_or_default();
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
        instance_pids(&self.root)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // What `doveadm stop` does (SIGTERM to the master), minus its polling
        // in whole seconds: the master then needs ~1 s to reap its log process.
        // (Not if it has exited and been reaped: its pid may be reused.)
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
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
            let left = instance_pids(&self.root);
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                for pid in left {
                    let _ = Command::new("kill")
                        .arg("-9")
                        .arg(pid.to_string())
                        .stderr(Stdio::null())
                        .status();
                }
                break;
            }
            sleep(Duration::from_millis(10));
        }
        // A temp dir goes with `temp`; a fixed one is removed here.
        if self.temp.is_none() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// The instance name: the directory's file name (`mfbed-XXXXXX`, or the
/// fixed directory's name). Dovecot titles its processes with it.
fn instance_name(dir: &Path) -> String {
    let name = dir.file_name().and_then(|n| n.to_str());
    name.expect("an instance directory with a UTF-8 name")
        .to_string()
}

/// Pids of Dovecot processes whose command line names the instance in `dir`
/// (the master's `-c DIR/dovecot.conf`, the children's `NAME/imap-login`
/// titles).
fn instance_pids(dir: &Path) -> Vec<u32> {
    let name = instance_name(dir);
    // pgrep takes an extended regex: escape whatever is not plain.
    let mut pattern = String::new();
    for c in name.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(format!("{pattern}[/.]"))
        .output()
        .unwrap();
    // Only Dovecot's own programs: not, say, a `tail -f` of the log.
    let is_dovecot = |pid: &u32| {
        fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.to_string_lossy().contains("dovecot"))
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(is_dovecot)
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

/// Distinct free ports (imaps and pop3s 0 without TLS).
fn free_ports(tls: bool) -> Ports {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    Ports {
        imap: port(0),
        imaps: if tls { port(1) } else { 0 },
        pop3: port(2),
        pop3s: if tls { port(3) } else { 0 },
    }
}

/// True if nothing listens on 127.0.0.1:`port` (a listener of our own
/// binds it for a moment).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Fixed ports: all distinct, all free.
fn check_ports(ports: Ports, tls: bool) -> Result<(), String> {
    let wanted: Vec<(&str, u16)> = ports
        .listed()
        .into_iter()
        .filter(|&(name, _)| tls || !name.ends_with('s'))
        .collect();
    let mut seen = Vec::new();
    for (name, port) in wanted {
        if port == 0 {
            if name == "imap" || name == "pop3" {
                return Err(format!("the {name} port must not be 0"));
            }
            continue;
        }
        if seen.contains(&port) {
            return Err(format!("port {port} is given twice ({ports:?})"));
        }
        seen.push(port);
        if !port_is_free(port) {
            return Err(format!(
                "port {port} ({name}) on 127.0.0.1 is already in use"
            ));
        }
    }
    Ok(())
}

/// `dir`, empty and ready; refused while an instance still runs there.
fn fresh_fixed_dir(dir: &Path) -> Result<PathBuf, String> {
    let running = instance_pids(dir);
    if !running.is_empty() {
        return Err(format!(
            "a Dovecot instance still runs in {} (pids {running:?}); stop it first \
             (Dovecot::stop_leftover)",
            dir.display()
        ));
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// A self-signed certificate and key, made once and kept in cargo's
/// per-target temp dir (shared by test processes and runs).
fn certificate() -> (&'static Path, &'static Path) {
    static CERT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (cert, key) = CERT.get_or_init(|| {
        // Tests get CARGO_TARGET_TMPDIR; examples do not, so they use the
        // same place (for the default target dir) through the manifest dir.
        let base = match option_env!("CARGO_TARGET_TMPDIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp"),
        };
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

/// Adds the `oauth2` passdbs in front of the password ones: the first for
/// each user's own tokens, the second for app-only tokens (client
/// credentials), which the identity provider answers as the constant user
/// `oauth::APP_USER` because Dovecot 2.3 cannot put the login name in the
/// tokeninfo URL (a `%u` there crashes its auth process).
fn with_oauth(conf: &str, root: &Path, o: &OAuthOptions) -> String {
    let scope = o
        .scope
        .as_deref()
        .map(|s| format!("scope = {s}\n"))
        .unwrap_or_default();
    let user = format!(
        "tokeninfo_url = {}\nusername_attribute = email\n{scope}",
        o.tokeninfo_url
    );
    let app = format!(
        "tokeninfo_url = {}\nusername_attribute = email\nusername_format = {}\n{scope}",
        o.tokeninfo_url.replacen("?", "?app=1&", 1),
        super::oauth::APP_USER
    );
    fs::write(root.join("oauth2-user.conf"), user).unwrap();
    fs::write(root.join("oauth2-app.conf"), app).unwrap();
    let d = root.display();
    let passdbs = format!(
        r#"passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2-user.conf
  result_failure = continue
  result_internalfail = continue
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2-app.conf
}}
"#
    );
    let at = conf
        .find("passdb {")
        .expect("a passdb in the generated config");
    let mut text = conf.replacen(
        "auth_mechanisms = plain login apop",
        "auth_mechanisms = plain login apop xoauth2 oauthbearer",
        1,
    );
    let at = at + (text.len() - conf.len());
    text.insert_str(at, &passdbs);
    text
}

fn config(
    root: &Path,
    instance: &str,
    layout: Layout,
    ports: Ports,
    ssl: Option<(&Path, &Path)>,
) -> String {
    let d = root.display();
    let (location, sep, prefix) = (layout.mail_location(), layout.delimiter(), layout.prefix());
    let Ports {
        imap,
        imaps,
        pop3,
        pop3s,
    } = ports;
    // Without TLS the imaps/pop3s listeners get port 0 (off): left out, the
    // built-in ones on 993/995 would be bound (we run as root).
    let ssl = match ssl {
        Some((cert, key)) => format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}",
            cert.display(),
            key.display()
        ),
        None => "ssl = no".to_string(),
    };
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/run/state
instance_name = {instance}
protocols = imap pop3
listen = 127.0.0.1
log_path = {d}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login apop
auth_master_user_separator = *
auth_cache_size = 0
auth_failure_delay = 0
mail_location = {location}
# Throw-away mail: no fsync() per saved message (matters on slow disks).
mail_fsync = never
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
