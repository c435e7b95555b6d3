//! A debug trace of each IMAP connection's traffic, to see where a run
//! waits on round trips: `MAILFERRY_TRACE=FILE` writes one line per read
//! and write (milliseconds since the process started tracing, connection
//! number, direction, bytes, the first line). Credentials never appear:
//! a LOGIN or AUTHENTICATE line keeps only its tag and command, and
//! anything that is not a known command (a literal, a SASL response) only
//! its length.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

struct Tracer {
    out: Mutex<LineWriter<File>>,
    start: Instant,
}

static TRACER: OnceLock<Option<Tracer>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(1);

fn tracer() -> Option<&'static Tracer> {
    TRACER
        .get_or_init(|| {
            let path = std::env::var_os("MAILFERRY_TRACE")?;
            let file = File::create(path).ok()?;
            Some(Tracer {
                out: Mutex::new(LineWriter::new(file)),
                start: Instant::now(),
            })
        })
        .as_ref()
}

/// A traced connection's number (`None` when not tracing).
pub fn connection(label: &str) -> Option<u64> {
    tracer()?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    note(Some(id), label);
    Some(id)
}

/// Something that happened on connection `id`.
pub fn note(id: Option<u64>, what: &str) {
    let (Some(id), Some(t)) = (id, tracer()) else {
        return;
    };
    let ms = t.start.elapsed().as_secs_f64() * 1000.0;
    let mut out = t.out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(out, "{ms:10.1} #{id} {what}");
}

pub fn sent(id: Option<u64>, bytes: &[u8]) {
    if id.is_some() {
        note(id, &format!("> {:6} {}", bytes.len(), command_line(bytes)));
    }
}

pub fn received(id: Option<u64>, bytes: &[u8]) {
    if id.is_some() {
        note(id, &format!("< {:6} {}", bytes.len(), first_line(bytes)));
    }
}

const SHOWN: usize = 100;

fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(SHOWN);
    String::from_utf8_lossy(&bytes[..end])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect()
}

/// The first line of what was written, when it is a command that carries
/// no secret; otherwise as little as can be shown safely.
fn command_line(bytes: &[u8]) -> String {
    const KNOWN: &[&str] = &[
        "CAPABILITY",
        "NOOP",
        "LOGOUT",
        "STARTTLS",
        "SELECT",
        "EXAMINE",
        "CREATE",
        "DELETE",
        "RENAME",
        "SUBSCRIBE",
        "LIST",
        "LSUB",
        "STATUS",
        "APPEND",
        "CLOSE",
        "EXPUNGE",
        "SEARCH",
        "FETCH",
        "STORE",
        "COPY",
        "UID",
        "NAMESPACE",
        "ID",
        "ENABLE",
        "IDLE",
        "COMPRESS",
        "GETQUOTAROOT",
        "GETQUOTA",
        "XLIST",
        "UNSELECT",
        "CHECK",
    ];
    let line = first_line(bytes);
    let mut words = line.split(' ');
    let (tag, verb) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let verb_upper = verb.to_ascii_uppercase();
    if verb_upper == "LOGIN" || verb_upper == "AUTHENTICATE" {
        return format!("{tag} {verb} (the rest not shown)");
    }
    if line == "DONE" || KNOWN.contains(&verb_upper.as_str()) {
        return line;
    }
    "(not shown)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            command_line(b"A1 LOGIN bob secret\r\n"),
            "A1 LOGIN (the rest not shown)"
        );
        assert_eq!(
            command_line(b"A2 authenticate PLAIN AGJvYgBzZWNyZXQ=\r\n"),
            "A2 authenticate (the rest not shown)"
        );
        assert_eq!(command_line(b"AGJvYgBzZWNyZXQ=\r\n"), "(not shown)");
        assert_eq!(command_line(b"my pass word\r\n"), "(not shown)");
        assert_eq!(
            command_line(b"A3 UID FETCH 1:* (FLAGS)\r\nA4 NOOP\r\n"),
            "A3 UID FETCH 1:* (FLAGS)"
        );
    }
}
