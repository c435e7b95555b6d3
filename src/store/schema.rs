//! The database's one schema: its versions, applied in order, and the
//! refusal of a database a newer MailFerry wrote.

use std::path::Path;

use rusqlite::Connection;

use crate::error::MailError;

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    job_name     TEXT NOT NULL REFERENCES jobs(name),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    source_host  TEXT NOT NULL,
    dest_host    TEXT NOT NULL,
    mailboxes    INTEGER NOT NULL,
    verdict      TEXT,
    migrated     INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    bytes        INTEGER NOT NULL DEFAULT 0,
    result_json  TEXT,
    log_text     TEXT
);
CREATE TABLE ledger (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    dest_uid     INTEGER,
    content_key  TEXT NOT NULL,
    PRIMARY KEY (job_name, account, folder, uid)
) WITHOUT ROWID;
CREATE INDEX ledger_dest ON ledger (job_name, account, dest_folder);
"#,
    r#"
ALTER TABLE ledger ADD COLUMN dest_uid_validity INTEGER;
ALTER TABLE ledger ADD COLUMN dest_user TEXT NOT NULL DEFAULT '';
CREATE TABLE dest_folders (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    dest_user    TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid_next     INTEGER NOT NULL,
    messages     INTEGER NOT NULL,
    PRIMARY KEY (job_name, account, dest_user, dest_folder)
) WITHOUT ROWID;
CREATE TABLE intents (
    job_name     TEXT NOT NULL,
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid          TEXT NOT NULL,
    dest_folder  TEXT NOT NULL,
    content_key  TEXT NOT NULL,
    connection   TEXT NOT NULL,
    PRIMARY KEY (job_name, account, folder, uid)
) WITHOUT ROWID;
"#,
    // Saved jobs (the app's, until now in tables of its own with their own
    // version number): adopted with their rows, the old tables dropped.
    r#"
CREATE TABLE IF NOT EXISTS app_saved_jobs (
    job_name   TEXT PRIMARY KEY,
    form_json  TEXT NOT NULL,
    users_json TEXT NOT NULL,
    master_ref TEXT,
    vault      TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
CREATE TABLE saved_jobs (
    job_name   TEXT PRIMARY KEY,
    form_json  TEXT NOT NULL,
    users_json TEXT NOT NULL,
    master_ref TEXT,
    vault      TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
INSERT INTO saved_jobs SELECT job_name, form_json, users_json, master_ref, vault, saved_at FROM app_saved_jobs;
DROP TABLE app_saved_jobs;
DROP TABLE IF EXISTS app_schema;
"#,
    // The source's admin password, when the source logs in as the old
    // host's admin: a reference, like the destination's in master_ref.
    r#"
ALTER TABLE saved_jobs ADD COLUMN source_master_ref TEXT;
"#,
    // What a run was: a migration, or a dry run that changed nothing
    // (History must not show one as the other).
    r#"
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'migration';
"#,
    // A pre-flight report (a run of kind 'preflight'), kept whole as JSON:
    // History shows it again as it was made.
    r#"
ALTER TABLE runs ADD COLUMN report TEXT;
"#,
    // Folders a verification found complete, with both sides' STATUS then:
    // a re-run skips them on one STATUS a side while neither changed.
    r#"
CREATE TABLE verified_folders (
    job_name          TEXT NOT NULL,
    account           TEXT NOT NULL,
    dest_user         TEXT NOT NULL,
    folder            TEXT NOT NULL,
    uid_validity      INTEGER NOT NULL,
    uid_next          INTEGER NOT NULL,
    messages          INTEGER NOT NULL,
    dest_folder       TEXT NOT NULL,
    dest_uid_validity INTEGER NOT NULL,
    dest_uid_next     INTEGER NOT NULL,
    dest_messages     INTEGER NOT NULL,
    PRIMARY KEY (job_name, account, dest_user, folder)
) WITHOUT ROWID;
"#,
];

/// Brings the database up to the newest version this MailFerry knows. A
/// database of a later version is refused untouched: a newer MailFerry may
/// keep things there this one would misread or overwrite.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), MailError> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        return Err(MailError::NewerDatabase {
            path: path.display().to_string(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_database_from_a_newer_mailferry_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        drop(Store::open(&db).unwrap());
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", (MIGRATIONS.len() + 1) as i64)
            .unwrap();
        drop(conn);
        let before = std::fs::read(&db).unwrap();
        let err = Store::open(&db).unwrap_err();
        assert_eq!(err.code(), "database-too-new");
        assert!(
            err.to_string().starts_with(&format!(
                "The database {} was made by a newer MailFerry (its schema is version {}; this MailFerry knows versions up to {}). It was left untouched.",
                db.display(),
                MIGRATIONS.len() + 1,
                MIGRATIONS.len()
            )),
            "{err}"
        );
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }

    /// The app kept saved jobs in tables of its own (`app_saved_jobs`,
    /// versioned by `app_schema`); the one schema adopts them.
    #[test]
    fn saved_jobs_of_the_apps_old_tables_are_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let mut conn = Connection::open(&db).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "CREATE TABLE app_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
             INSERT INTO app_schema VALUES (1, 1);
             CREATE TABLE app_saved_jobs (job_name TEXT PRIMARY KEY, form_json TEXT NOT NULL,
               users_json TEXT NOT NULL, master_ref TEXT, vault TEXT NOT NULL, saved_at TEXT NOT NULL);
             INSERT INTO app_saved_jobs VALUES ('acme', '{\"source\":{\"host\":\"old\"}}',
               '[{\"source_user\":\"jane\",\"source_password\":\"job acme: source jane@old\",\"local_user\":\"jane\",\"local_password\":null}]',
               'job acme: admin admin@new', 'keyring', '2026-11-01 10:00:00');",
        )
        .unwrap();
        migrate(&mut conn, &db).unwrap();
        drop(conn);
        let store = Store::open(&db).unwrap();
        let job = store.saved_job("acme").unwrap().unwrap();
        assert_eq!(job.form["source"]["host"], "old");
        assert_eq!(
            job.users[0].source_password.as_deref(),
            Some("job acme: source jane@old")
        );
        assert_eq!(job.source_master_password, None);
        assert_eq!(
            job.master_password.as_deref(),
            Some("job acme: admin admin@new")
        );
        let tables: Vec<String> = Connection::open(&db)
            .unwrap()
            .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'app_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(tables.is_empty(), "{tables:?}");
    }
}
