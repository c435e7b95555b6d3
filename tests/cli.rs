//! The `mailferry` command line: exit codes, the log file, JSON events,
//! history, and what never reaches the disk.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::corpus::seed_standard_corpus;
use support::dovecot::{Dovecot, Layout, MASTER_PASSWORD};
use support::jobs::JobSpec;

fn mailferry(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .env("MAILFERRY_DB", db)
        .args(args)
        .output()
        .expect("run mailferry")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn pair() -> (Dovecot, Dovecot) {
    let src = Dovecot::start(Layout::Slash);
    let dst = Dovecot::start(Layout::Courier);
    src.add_user("alice", "secret1");
    dst.add_user("alice", "unused-pw");
    (src, dst)
}

#[test]
fn check_names_the_line_of_a_malformed_user_list_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("bad.toml");
    std::fs::write(
        &job,
        "[source]\nhost = \"old.example\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n[users]\nlist = \"\"\"\n# team\njane,pw1\nbob\n\"\"\"\n",
    )
    .unwrap();
    let out = mailferry(&dir.path().join("m.db"), &["check", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("User list, line 3"), "{err}");
}

#[test]
fn check_warns_that_folder_rules_do_not_apply_to_pop3() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("pop.toml");
    std::fs::write(
        &job,
        "[source]\nhost = \"old.example\"\nprotocol = \"pop3s\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n[folders]\nskip = \"Trash\"\n[users]\nlist = \"jane,pw\"\n",
    )
    .unwrap();
    let out = mailferry(&dir.path().join("m.db"), &["check", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("Warning: Folders to skip do not apply to POP3"),
        "{err}"
    );
}

#[test]
fn more_than_500_mailboxes_is_refused_with_advice_to_split() {
    let dir = tempfile::tempdir().unwrap();
    let users: String = (0..501).map(|i| format!("user{i},pw{i}\n")).collect();
    std::fs::write(dir.path().join("users.csv"), users).unwrap();
    let job = dir.path().join("big.toml");
    std::fs::write(
        &job,
        "[source]\nhost = \"old.example\"\n[destination]\nhost = \"new.example\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n[users]\nfile = \"users.csv\"\n",
    )
    .unwrap();
    let out = mailferry(&dir.path().join("m.db"), &["run", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("501 mailboxes") && err.contains("at most 500") && err.contains("Split"),
        "{err}"
    );
}

#[test]
fn run_writes_the_log_a_rerun_copies_nothing_and_history_lists_both() {
    let (src, dst) = pair();
    let seeded = seed_standard_corpus(&src, "alice", "secret1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let job = JobSpec::new("cli-run", &src, &dst, "alice,secret1").write(dir.path());
    let log = dir.path().join("run.log");

    let out = mailferry(
        &db,
        &["run", job.to_str().unwrap(), "--log", log.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("alice: SUCCESS — {} migrated", seeded.total())),
        "{stdout}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.starts_with("MailFerry migration log\nJob:         cli-run\n"),
        "{log_text}"
    );
    assert!(
        log_text.contains("[OK  ] Entwürfe -> INBOX.Entwürfe: 3 migrated, 0 skipped, 0 failed"),
        "{log_text}"
    );
    assert!(
        log_text.contains("note: The name \"Folder.With.Dots\" holds '.'"),
        "{log_text}"
    );
    assert!(
        log_text.contains(&format!(
            "Summary: SUCCESS — 1 mailboxes; {} messages migrated",
            seeded.total()
        )),
        "{log_text}"
    );

    let out = mailferry(
        &db,
        &["run", job.to_str().unwrap(), "--log", log.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains(&format!(
            "Job cli-run: SUCCESS — 0 migrated, {} skipped",
            seeded.total()
        )),
        "{}",
        text(&out.stdout)
    );

    let out = mailferry(&db, &["history"]);
    let history = text(&out.stdout);
    assert_eq!(history.lines().count(), 2, "{history}");
    assert!(
        history
            .lines()
            .all(|l| l.contains("cli-run") && l.contains("success")),
        "{history}"
    );
    let out = mailferry(&db, &["log", "1"]);
    assert!(text(&out.stdout).contains(&format!("{} messages migrated", seeded.total())));
    let out = mailferry(&db, &["log", "99"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("There is no finished run #99"));
}

/// Exit 5 means nothing started. A run that copied mail and then could
/// not be recorded (here a trigger stands in for a full disk) says so and
/// exits 6; its log file is written all the same.
#[test]
fn a_run_that_copied_but_could_not_be_recorded_exits_6_not_5() {
    let (src, dst) = pair();
    let seeded = seed_standard_corpus(&src, "alice", "secret1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    assert_eq!(mailferry(&db, &["history"]).status.code(), Some(0));
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER full_disk BEFORE UPDATE OF finished_at ON runs
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    let job = JobSpec::new("cli-unrecorded", &src, &dst, "alice,secret1").write(dir.path());
    let log = dir.path().join("run.log");
    let out = mailferry(
        &db,
        &["run", job.to_str().unwrap(), "--log", log.to_str().unwrap()],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(6), "{stdout}{stderr}");
    assert!(
        stderr.contains("The job ran (its log says what was copied), but MailFerry could not record it in its history: MailFerry's own database could not be used: database or disk is full"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("{} messages migrated", seeded.total())),
        "the log is written all the same"
    );
    let history = text(&mailferry(&db, &["history"]).stdout);
    assert!(
        history.contains("cli-unrecorded") && history.contains("unfinished"),
        "{history}"
    );
}

/// A database a newer MailFerry wrote is left alone: nothing starts
/// (exit 5), the message says why and what to do, and the file is unchanged.
#[test]
fn a_database_from_a_newer_mailferry_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    assert_eq!(mailferry(&db, &["history"]).status.code(), Some(0));
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let out = mailferry(&db, &["history"]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("was made by a newer MailFerry (its schema is version 99;")
            && stderr.contains("Install the newer MailFerry again, or choose another database"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn json_mode_prints_one_update_per_line_the_rows_the_app_shows() {
    let (src, dst) = pair();
    let seeded = seed_standard_corpus(&src, "alice", "secret1");
    let dir = tempfile::tempdir().unwrap();
    let job = JobSpec::new("cli-json", &src, &dst, "alice,secret1").write(dir.path());
    let out = mailferry(
        &dir.path().join("m.db"),
        &[
            "run",
            job.to_str().unwrap(),
            "--json",
            "--log",
            dir.path().join("l").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let updates: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let kinds: Vec<&str> = updates
        .iter()
        .map(|u| u["update"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"job"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"ended"), "{kinds:?}");
    let first = &updates[0]["view"];
    assert_eq!(
        (first["name"].as_str(), first["state"].as_str()),
        (Some("cli-json"), Some("running"))
    );
    let run_id = first["run_id"]
        .as_i64()
        .expect("the run's id from the start");
    let rows: Vec<&serde_json::Value> = updates.iter().filter(|u| u["update"] == "row").collect();
    assert!(rows
        .iter()
        .all(|u| u["run_id"] == run_id && u["index"] == 0));
    let states: Vec<&str> = rows
        .iter()
        .map(|u| u["row"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"running"));
    assert_eq!(states.last(), Some(&"success"));
    let last = &rows.last().unwrap()["row"];
    assert_eq!(last["account"], "alice");
    assert_eq!(last["messages_done"], last["messages_total"]);
    assert_eq!(last["migrated"], seeded.total() as u64);
    // One row type everywhere: the CLI prints the service's rows, whose
    // fields are those the page's fixtures were generated with.
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let view_row = serde_json::to_value(mailferry::service::RowView::pending("", "")).unwrap();
    assert_eq!(keys(last), keys(&view_row));
    let fixtures = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/fixtures.js"),
    )
    .unwrap();
    let row_literal = fixtures
        .split("export const ROW = ")
        .nth(1)
        .and_then(|rest| rest.split(";\n").next())
        .unwrap();
    let page_row: serde_json::Value = serde_json::from_str(row_literal).unwrap();
    assert_eq!(keys(last), keys(&page_row), "ui/fixtures.js");
    let ended = &updates.last().unwrap()["view"];
    assert_eq!(
        (ended["state"].as_str(), ended["verdict"].as_str()),
        (Some("finished"), Some("success"))
    );
    assert_eq!(&ended["rows"][0]["folders"], &last["folders"]);
}

#[test]
fn exit_codes_say_partial_and_failed_and_no_password_reaches_disk() {
    let (src, dst) = pair();
    src.add_user("bob", "bobs-secret-pw");
    dst.add_user("bob", "x");
    seed_standard_corpus(&src, "alice", "secret1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");

    // bob's password is wrong: alice succeeds, bob fails: partial.
    let job = JobSpec::new(
        "cli-partial",
        &src,
        &dst,
        "alice,secret1\nbob,wrong-pw-for-bob\n",
    )
    .write(dir.path());
    let log = dir.path().join("partial.log");
    let out = mailferry(
        &db,
        &["run", job.to_str().unwrap(), "--log", log.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("bob: FAILED") && stdout.contains("Check both in the user list"),
        "{stdout}"
    );

    // Everyone fails: failed.
    let job = JobSpec::new("cli-failed", &src, &dst, "bob,wrong-pw-for-bob\n").write(dir.path());
    let out = mailferry(
        &db,
        &[
            "run",
            job.to_str().unwrap(),
            "--log",
            dir.path().join("f.log").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(4));

    // No password, source, destination or admin, is in the database files,
    // the logs or the output.
    let mut haystack = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("m.db") || name.ends_with(".log") {
            haystack.extend(std::fs::read(&path).unwrap());
        }
    }
    haystack.extend(out.stdout);
    haystack.extend(out.stderr);
    assert!(haystack.len() > 10_000, "database and logs were read");
    for secret in ["secret1", "wrong-pw-for-bob", MASTER_PASSWORD] {
        let found = haystack
            .windows(secret.len())
            .any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} found on disk or in output");
    }
}

#[test]
fn test_logins_says_which_mailboxes_can_log_in() {
    let (src, dst) = pair();
    src.add_user("bob", "bobpw");
    dst.add_user("bob", "x");
    // carol has no mailbox on the destination: the admin cannot act for her.
    src.add_user("carol", "carolpw");
    let dir = tempfile::tempdir().unwrap();
    let job = JobSpec::new(
        "cli-logins",
        &src,
        &dst,
        "alice,secret1\nbob,wrong\ncarol,carolpw\n",
    )
    .write(dir.path());
    let out = mailferry(
        &dir.path().join("m.db"),
        &["test-logins", job.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The same words as a run says of it (one way to connect for both).
    assert!(
        text(&out.stdout).contains(&format!("carol -> carol: FAILED\n  Could not log in to the destination server localhost (IMAP4S, port {}) for carol as the admin admin: login failed. The mailbox carol may not exist", dst.imaps_port())),
        "{}",
        text(&out.stdout)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("alice -> alice: both logins work"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bob -> bob: FAILED\n  Could not log in to the source server"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 of 3 mailboxes can log in on both sides."),
        "{stdout}"
    );
    // Nothing was copied or recorded.
    let out = mailferry(&dir.path().join("m.db"), &["history"]);
    assert!(text(&out.stdout).contains("No jobs have run yet."));
}

#[test]
fn verify_says_verified_then_names_a_message_deleted_on_the_destination_and_exits_3() {
    let (src, dst) = pair();
    seed_standard_corpus(&src, "alice", "secret1");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let job = JobSpec::new("cli-verify", &src, &dst, "alice,secret1").write(dir.path());
    let job = job.to_str().unwrap();
    let log = dir.path().join("verify.log");
    let log_arg = log.to_str().unwrap();
    let run_log = dir.path().join("run.log");
    let run_log = run_log.to_str().unwrap();
    let run = || {
        mailferry(&db, &["run", job, "--log", run_log])
            .status
            .code()
    };
    let verify = || {
        mailferry(&db, &["verify", job, "--log", log_arg])
            .status
            .code()
    };
    assert_eq!(run(), Some(0));

    let out = mailferry(&db, &["verify", job, "--log", log_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("Job cli-verify: VERIFIED"), "{stdout}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.starts_with("MailFerry verification log (nothing was copied)\n"),
        "{log_text}"
    );
    assert!(
        log_text.contains("verified: all 5 source messages on the destination, none twice"),
        "{log_text}"
    );

    // One message of Sent deleted on the destination behind MailFerry's back.
    let mut p = support::probe::Probe::login_master(
        dst.imap_port(),
        "alice",
        support::dovecot::MASTER_USER,
        MASTER_PASSWORD,
    );
    let sent = p.fetch_all("INBOX.Sent");
    p.expunge_uid("INBOX.Sent", sent[0].uid);
    p.logout();
    let out = mailferry(&db, &["verify", job, "--log", log_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "alice: Sent: NOT verified: 1 missing (5 on the source, 4 on the destination)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Job cli-verify: NOT VERIFIED — 1 folder differ (1 missing, 0 extra"),
        "{stdout}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("          missing: date "), "{log_text}");
    // Verifying changed nothing: the message is still missing until a run.
    assert_eq!(verify(), Some(3));
    assert_eq!(run(), Some(0));
    assert_eq!(verify(), Some(0));
}

#[test]
fn verify_needs_the_jobs_name() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("nameless.toml");
    std::fs::write(
        &job,
        "[source]\nhost = \"127.0.0.1\"\n[destination]\nhost = \"127.0.0.1\"\nauth = \"master\"\nmaster_user = \"a\"\nmaster_password = \"b\"\n[users]\nlist = \"jane,pw\"\n",
    )
    .unwrap();
    let out = mailferry(&dir.path().join("m.db"), &["verify", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("verified only by its name"),
        "{}",
        text(&out.stderr)
    );
}
