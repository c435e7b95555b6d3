//! Building job files for tests and running them through the engine.

use std::path::Path;
use std::sync::{Arc, Mutex};

use mailferry::copy::{self, Cancel, Options};
use mailferry::outcome::JobOutcome;
use mailferry::progress::Event;
use mailferry::store::Store;

use super::dovecot::{Dovecot, MASTER_PASSWORD, MASTER_USER};

/// How the destination logs in.
#[derive(Clone, Copy, Debug)]
pub enum DestAuth {
    /// Each user's own password (4th column).
    PerUser,
    MasterSaslPlain,
    MasterSeparator,
}

/// A job between two test servers, written as the TOML a user would write.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub name: String,
    pub source_host: String,
    /// "imap4" (STARTTLS) or "imap4s".
    pub source_protocol: &'static str,
    pub source_ports: Vec<u16>,
    pub source_ca: Option<std::path::PathBuf>,
    pub dest_host: String,
    pub dest_port: u16,
    /// "tls", "starttls" or "plain".
    pub dest_security: &'static str,
    pub dest_ca: Option<std::path::PathBuf>,
    pub auth: DestAuth,
    pub users: String,
    pub skip: String,
    pub translate: String,
    /// Replaces the generated `ports = ...` line of `[source]` when set
    /// (Auto jobs name two protocols' ports).
    pub ports_line: Option<String>,
    /// More `[source]` lines, e.g. `allow_plaintext = true`.
    pub source_extra: String,
    /// Lines of an `[options]` table, e.g. `timeout_seconds = 5`.
    pub options: String,
}

impl JobSpec {
    /// IMAP4S to IMAP4S, the admin acting for users, one user line.
    pub fn new(name: &str, src: &Dovecot, dst: &Dovecot, users: &str) -> JobSpec {
        JobSpec {
            name: name.to_string(),
            source_host: "localhost".into(),
            source_protocol: "imap4s",
            source_ports: vec![src.imaps_port()],
            source_ca: Some(src.ca_file()),
            dest_host: "localhost".into(),
            dest_port: dst.imaps_port(),
            dest_security: "tls",
            dest_ca: Some(dst.ca_file()),
            auth: DestAuth::MasterSaslPlain,
            users: users.to_string(),
            skip: String::new(),
            translate: String::new(),
            ports_line: None,
            source_extra: String::new(),
            options: String::new(),
        }
    }

    /// Plain IMAP4 on both sides of 127.0.0.1 (no TLS: the fastest, and a
    /// proxy in between sees every byte), the admin acting for each user.
    pub fn plain(name: &str, src_port: u16, dst_port: u16, users: &str) -> JobSpec {
        JobSpec {
            name: name.to_string(),
            source_host: "127.0.0.1".into(),
            source_protocol: "imap4",
            source_ports: vec![src_port],
            source_ca: None,
            dest_host: "127.0.0.1".into(),
            dest_port: dst_port,
            dest_security: "plain",
            dest_ca: None,
            auth: DestAuth::MasterSaslPlain,
            users: users.to_string(),
            skip: String::new(),
            translate: String::new(),
            ports_line: None,
            source_extra: "allow_plaintext = true\n".into(),
            options: String::new(),
        }
    }

    pub fn toml(&self) -> String {
        let q = |s: &str| format!("{s:?}");
        let ports: Vec<String> = self.source_ports.iter().map(u16::to_string).collect();
        let mut t = format!(
            "name = {}\n\n[source]\nhost = {}\nprotocol = {}\n",
            q(&self.name),
            q(&self.source_host),
            q(self.source_protocol)
        );
        match &self.ports_line {
            Some(line) => t += &format!("{line}\n"),
            None => {
                t += &format!(
                    "ports = {{ {} = [{}] }}\n",
                    self.source_protocol,
                    ports.join(", ")
                )
            }
        }
        if let Some(ca) = &self.source_ca {
            t += &format!("ca_file = {}\n", q(&ca.display().to_string()));
        }
        t += &self.source_extra;
        t += &format!(
            "\n[destination]\nhost = {}\nport = {}\nsecurity = {}\n",
            q(&self.dest_host),
            self.dest_port,
            q(self.dest_security)
        );
        if let Some(ca) = &self.dest_ca {
            t += &format!("ca_file = {}\n", q(&ca.display().to_string()));
        }
        match self.auth {
            DestAuth::PerUser => t += "auth = \"user\"\n",
            DestAuth::MasterSaslPlain | DestAuth::MasterSeparator => {
                t += &format!(
                    "auth = \"master\"\nmaster_user = {}\nmaster_password = {}\n",
                    q(MASTER_USER),
                    q(MASTER_PASSWORD)
                );
                if let DestAuth::MasterSeparator = self.auth {
                    t += "master_method = \"separator\"\nmaster_separator = \"*\"\n";
                }
            }
        }
        t += &format!(
            "\n[folders]\nskip = {}\ntranslate = {}\n",
            q(&self.skip),
            q(&self.translate)
        );
        t += &format!("\n[users]\nlist = {}\n", q(&self.users));
        if !self.options.is_empty() {
            t += &format!("\n[options]\n{}\n", self.options);
        }
        t
    }

    /// Writes the job file into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, self.toml()).expect("write job file");
        path
    }

    /// Validates and runs the job with `db`, collecting every event.
    pub fn run(&self, db: &Path) -> (JobOutcome, Vec<Event>) {
        let job = mailferry::job::JobFile::from_toml(&self.toml())
            .and_then(|f| f.validate(Path::new(".")))
            .unwrap_or_else(|e| panic!("test job is invalid: {e}\n{}", self.toml()));
        run_job(job, db, Options::default())
    }

    /// Like `run`, with these engine options (short timeouts, retries...).
    pub fn run_with(&self, db: &Path, opts: Options) -> (JobOutcome, Vec<Event>) {
        run_job(self.job(), db, opts)
    }

    /// The validated job.
    pub fn job(&self) -> mailferry::job::Job {
        mailferry::job::JobFile::from_toml(&self.toml())
            .and_then(|f| f.validate(Path::new(".")))
            .unwrap_or_else(|e| panic!("test job is invalid: {e}\n{}", self.toml()))
    }
}

/// Runs a validated job on a fresh runtime, collecting every event.
pub fn run_job(job: mailferry::job::Job, db: &Path, opts: Options) -> (JobOutcome, Vec<Event>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = events.clone();
    let sink: mailferry::progress::Sink =
        Arc::new(move |e: &Event| sink_events.lock().unwrap().push(e.clone()));
    let store = Store::open(db).expect("open store");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let finished = rt
        .block_on(copy::run(job, store, sink, opts, Cancel::default()))
        .unwrap_or_else(|e| panic!("job did not start: {e}"));
    assert!(finished.unrecorded.is_none(), "{:?}", finished.unrecorded);
    let outcome = finished.outcome;
    let events = events.lock().unwrap().clone();
    (outcome, events)
}

/// `[source]` lines for logging in as the source's Dovecot master user
/// (`method`: "sasl-plain" or "separator") with `password`.
pub fn source_admin(method: &str, password: &str) -> String {
    format!(
        "auth = \"master\"\nmaster_user = {MASTER_USER:?}\nmaster_password = {password:?}\n\
         master_method = {method:?}\nmaster_separator = \"*\"\n"
    )
}
