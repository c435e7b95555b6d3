//! The user list: one mailbox per line.

use std::collections::HashMap;

use serde::Serialize;
use ts_rs::TS;

use super::JobError;
use crate::secret::Secret;

/// Most mailboxes one job may hold; more must be split into batches.
pub const MAX_MAILBOXES: usize = 500;

/// Whether the user list must give each source password (2nd column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourcePasswords {
    /// Each user logs in to the source with their own password.
    #[default]
    Required,
    /// The old host's admin logs in for every user: a line may be just
    /// `source_user`, and a blank 2nd column is fine.
    NotNeeded,
}

/// One line of the user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// 1-based line number in the list as typed, for error messages.
    pub line: usize,
    pub source_user: String,
    /// The second column; `None` only when [`SourcePasswords::NotNeeded`]
    /// and the column is absent or blank.
    pub source_password: Option<Secret>,
    /// Defaults to `source_user` when the third column is absent or blank.
    pub local_user: String,
    /// The fourth column, when present and not blank.
    pub local_password: Option<Secret>,
}

/// Parses `source_user<d>source_password[<d>local_user[<d>local_password]]`
/// lines.
///
/// - A byte-order mark is dropped (at the start of any line, since lists
///   may be joined). LF, CRLF and a lone CR all end a line; line numbers
///   count them the way a text editor does.
/// - U+FFFD in a name or password is refused: it means the list was not
///   UTF-8 and was decoded lossily, so the login could never succeed.
/// - Blank lines and lines whose first non-blank character is `#` are
///   ignored.
/// - A line is read as RFC 4180 CSV, as spreadsheets save it: a field in
///   double quotes may hold the delimiter, and a quote inside it is written
///   twice (`"alice","p,w""x"` is `alice` with the password `p,w"x`). A
///   quoted line with an odd number of quotes is refused rather than
///   guessed at; a quote inside an unquoted column is kept as typed.
///   Outside quotes, a line is split at the first three delimiters, so the
///   fourth column (local password) may itself contain the delimiter; the
///   source password may not.
/// - A first line that names its columns (`Username,Password`) is a header
///   row: it is skipped, and [`header_row`] says so.
/// - User names are trimmed of surrounding spaces and tabs and may not
///   contain whitespace or control characters.
/// - Passwords are kept exactly as typed, including leading or trailing
///   spaces (`alice, pw` has the password `" pw"`), because a space can be
///   part of a real password and silently dropping it would fail the login.
///   Only the line ending is removed. A source password that is empty or only
///   blanks is treated as missing; a local password that is empty or only
///   blanks counts as absent.
/// - With [`SourcePasswords::NotNeeded`] (the source's admin logs in for
///   every user) the source password may be blank or absent: `jane`,
///   `jane,` and `jane,,jane@new,pw` are all read. A line without the
///   delimiter that holds another common one (`jane;pw` when the delimiter
///   is `,`) is still refused: it is more likely a mis-delimited password
///   than a user name, and a user name is shown.
/// - A blank or absent third column means `local_user = source_user`.
/// - Source users and local users must each be unique. The comparison
///   ignores case, because mail servers almost always do and `Bob`/`bob`
///   would copy into (or from) the same mailbox twice.
///
/// Error messages name lines and columns but never echo a password, nor a
/// field that may be a password typed with the wrong delimiter.
pub fn parse_users(
    text: &str,
    delimiter: char,
    source: SourcePasswords,
) -> Result<Vec<UserEntry>, JobError> {
    check_delimiter(delimiter)?;
    let mut entries = Vec::new();
    for read in read_lines(text, delimiter, source) {
        entries.push(read.map_err(|(line, reason)| JobError::UserLine { line, reason })?);
    }
    if entries.is_empty() {
        return Err(JobError::NoUsers { delimiter });
    }
    if entries.len() > MAX_MAILBOXES {
        return Err(JobError::TooManyMailboxes {
            count: entries.len(),
            max: MAX_MAILBOXES,
        });
    }
    Ok(entries)
}

/// The user list as MailFerry reads it, every line at once (where
/// [`parse_users`] stops at the first bad one): what the form shows
/// before a job starts. Passwords are never in it, only whether a line
/// has a local password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct UsersPreview {
    /// Every data line, in order.
    pub lines: Vec<PreviewLine>,
    /// The line of a header row, skipped.
    pub header: Option<usize>,
    /// Lines that name a mailbox.
    pub mailboxes: usize,
    /// Lines with an error.
    pub problems: usize,
    /// What is wrong with the list as a whole (no users, too many, the
    /// delimiter), in the words of the job's error.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PreviewLine {
    pub line: usize,
    /// Empty on a line with an error: a mis-delimited line may hold a
    /// password where the name should be.
    pub source_user: String,
    pub local_user: String,
    pub local_password: bool,
    /// Why the line can't be used, a sentence.
    pub error: Option<String>,
}

impl UsersPreview {
    /// A list that can't be read at all, for `e`.
    pub fn refused(e: &JobError) -> UsersPreview {
        UsersPreview {
            lines: Vec::new(),
            header: None,
            mailboxes: 0,
            problems: 0,
            error: Some(e.to_string()),
        }
    }
}

/// Reads every line of a user list; see [`UsersPreview`].
pub fn preview_users(text: &str, delimiter: char, source: SourcePasswords) -> UsersPreview {
    if let Err(e) = check_delimiter(delimiter) {
        return UsersPreview::refused(&e);
    }
    let mut preview = UsersPreview::refused(&JobError::NoUsers { delimiter });
    preview.error = None;
    preview.header = header_row(text, delimiter);
    for read in read_lines(text, delimiter, source) {
        preview.lines.push(match read {
            Ok(u) => {
                preview.mailboxes += 1;
                PreviewLine {
                    line: u.line,
                    source_user: u.source_user,
                    local_user: u.local_user,
                    local_password: u.local_password.is_some(),
                    error: None,
                }
            }
            Err((line, reason)) => {
                preview.problems += 1;
                PreviewLine {
                    line,
                    source_user: String::new(),
                    local_user: String::new(),
                    local_password: false,
                    error: Some(sentence(&reason)),
                }
            }
        });
    }
    preview.error = if preview.mailboxes == 0 && preview.problems == 0 {
        Some(JobError::NoUsers { delimiter }.to_string())
    } else if preview.mailboxes + preview.problems > MAX_MAILBOXES {
        Some(
            JobError::TooManyMailboxes {
                count: preview.mailboxes + preview.problems,
                max: MAX_MAILBOXES,
            }
            .to_string(),
        )
    } else {
        None
    };
    preview
}

/// A reason (which reads on after "Line N: ") as a sentence of its own.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// A tab is fine (names and passwords cannot hold one); other blanks, line
/// breaks and quotes are not.
fn check_delimiter(delimiter: char) -> Result<(), JobError> {
    if delimiter != '\t' && (delimiter.is_whitespace() || delimiter.is_control())
        || delimiter == '"'
    {
        return Err(JobError::BadDelimiter(delimiter.to_string()));
    }
    Ok(())
}

/// Each data line read on its own, as an entry or `(line, reason)`. A
/// line that repeats an earlier good line's user is the bad one.
fn read_lines(
    text: &str,
    delimiter: char,
    source: SourcePasswords,
) -> Vec<Result<UserEntry, (usize, String)>> {
    // Lower-cased name -> line where it first appeared.
    let mut sources: HashMap<String, usize> = HashMap::new();
    let mut locals: HashMap<String, usize> = HashMap::new();
    let header = header_row(text, delimiter);
    data_lines(text)
        .filter(|(line, _)| Some(*line) != header)
        .map(|(line, content)| {
            let u = read_line(line, content, delimiter, source).map_err(|r| (line, r))?;
            let source_key = u.source_user.to_lowercase();
            let local_key = u.local_user.to_lowercase();
            if let Some(earlier) = sources.get(&source_key) {
                return Err((
                    line,
                    format!(
                        "source user {} is already listed on line {earlier}. \
                         List each mailbox once; delete one of the two lines.",
                        u.source_user
                    ),
                ));
            }
            if let Some(earlier) = locals.get(&local_key) {
                return Err((
                    line,
                    format!(
                        "local user {} is already the destination of line {earlier}; \
                         to merge two mailboxes into one, run them as separate jobs.",
                        u.local_user
                    ),
                ));
            }
            sources.insert(source_key, line);
            locals.insert(local_key, line);
            Ok(u)
        })
        .collect()
}

/// One data line as an entry, or why it can't be one.
fn read_line(
    line: usize,
    content: &str,
    delimiter: char,
    source: SourcePasswords,
) -> Result<UserEntry, String> {
    let fields = fields(content, delimiter)?;
    let mut cols = fields.iter().map(String::as_str);
    let source_user = trim_blanks(cols.next().unwrap_or_default());
    let source_password = match (cols.next(), source) {
        (Some(p), _) => p,
        (None, SourcePasswords::Required) => return Err(missing_delimiter(content, delimiter)),
        (None, SourcePasswords::NotNeeded) => {
            if let Some(other) = other_delimiter(content, delimiter) {
                return Err(seems_mis_delimited(delimiter, other));
            }
            ""
        }
    };
    let local_user = cols.next().map(trim_blanks).unwrap_or_default();
    let local_password = cols.next();

    if source_user.is_empty() {
        return Err(format!(
            "the source user (before the first '{delimiter}') is empty. \
             Write the user name first: source_user{delimiter}source_password."
        ));
    }
    check_user_name(source_user, "source user")?;
    let source_password = if !source_password.trim().is_empty() {
        check_password(source_password, "source password")?;
        Some(Secret::new(source_password))
    } else if source == SourcePasswords::Required {
        return Err(format!(
            "no password after the delimiter '{delimiter}'. \
             Add the source password: source_user{delimiter}source_password."
        ));
    } else {
        None
    };
    let local_user = if local_user.is_empty() {
        source_user
    } else {
        check_user_name(local_user, "local user (3rd column)")?;
        local_user
    };
    let local_password = match local_password {
        Some(p) if !p.trim().is_empty() => {
            check_password(p, "local password (4th column)")?;
            Some(Secret::new(p))
        }
        _ => None,
    };
    Ok(UserEntry {
        line,
        source_user: source_user.to_string(),
        source_password,
        local_user: local_user.to_string(),
        local_password,
    })
}

/// The line of a header row (`Username,Password`, `email;password;…`),
/// when the list's first data line is one.
pub fn header_row(text: &str, delimiter: char) -> Option<usize> {
    let (line, content) = data_lines(text).next()?;
    let fields = fields(content, delimiter).ok()?;
    let word = |i: usize| -> String {
        fields.get(i).map_or_else(String::new, |f| {
            f.chars()
                .filter(|c| !matches!(c, ' ' | '\t' | '_' | '-' | '.'))
                .collect::<String>()
                .to_lowercase()
        })
    };
    const USERS: &[&str] = &[
        "user",
        "username",
        "users",
        "sourceuser",
        "sourceusername",
        "login",
        "email",
        "emailaddress",
        "mail",
        "account",
        "mailbox",
        "address",
    ];
    const PASSWORDS: &[&str] = &[
        "password",
        "pass",
        "passwd",
        "pwd",
        "sourcepassword",
        "secret",
    ];
    (USERS.contains(&word(0).as_str()) && PASSWORDS.contains(&word(1).as_str())).then_some(line)
}

/// A line's columns (at most four). A line with a column that starts
/// with a double quote is read by the `csv` crate (RFC 4180); others are
/// split as they always were, so a quote inside a password (`p"w`) is
/// kept as typed.
fn fields(content: &str, delimiter: char) -> Result<Vec<String>, String> {
    let plain: Vec<String> = content.splitn(4, delimiter).map(str::to_string).collect();
    if !plain.iter().any(|f| f.starts_with('"')) || !delimiter.is_ascii() {
        return Ok(plain);
    }
    if content.matches('"').count() % 2 == 1 {
        return Err(format!(
            "a double quote is not closed. A column in quotes ends with a quote, and a \
             quote inside it is written twice (\"p\"\"w\" for p\"w); put the column in quotes \
             if it holds a quote. The delimiter is '{delimiter}'."
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter as u8)
        .from_reader(content.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => {}
        // Not UTF-8 cannot happen (a &str); an empty line is not data.
        Ok(false) | Err(_) => return Ok(plain),
    }
    let mut out: Vec<String> = record.iter().take(3).map(str::to_string).collect();
    // Unquoted delimiters past the third belong to the local password.
    let rest: Vec<&str> = record.iter().skip(3).collect();
    if !rest.is_empty() {
        out.push(rest.join(&delimiter.to_string()));
    }
    Ok(out)
}

/// A column as a user list line holds it: in double quotes (inner quotes
/// doubled) when it holds the delimiter or a quote, so that
/// [`parse_users`] reads back exactly `field`.
pub fn list_field(field: &str, delimiter: char) -> std::borrow::Cow<'_, str> {
    if field.contains(delimiter) || field.contains('"') {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

/// Lines that carry data, with their 1-based line numbers: BOM dropped,
/// LF/CRLF/CR line endings removed, blank and `#` comment lines skipped.
/// Shared with the folder lists so every list reads the same way.
pub(super) fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = Some(text);
    let lines = std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\n', '\r']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    });
    lines
        .enumerate()
        // A BOM starts the text, or a later line when lists are joined.
        .map(|(i, l)| (i + 1, l.strip_prefix('\u{feff}').unwrap_or(l)))
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
}

fn trim_blanks(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The reason for a line without any delimiter. The line is not quoted: with
/// the wrong delimiter it holds the password.
fn missing_delimiter(content: &str, delimiter: char) -> String {
    let hint = other_delimiter(content, delimiter)
        .map(|c| {
            let shown = if c == '\t' {
                "a tab".to_string()
            } else {
                format!("'{c}'")
            };
            format!(
                " The line seems to use {shown} instead; change the delimiter setting or the line."
            )
        })
        .unwrap_or_default();
    format!(
        "no password after the delimiter '{delimiter}'. \
         Write source_user{delimiter}source_password.{hint}"
    )
}

/// A common delimiter other than `delimiter` that `content` holds.
fn other_delimiter(content: &str, delimiter: char) -> Option<char> {
    [',', ';', '\t', '|', ':']
        .into_iter()
        .find(|&c| c != delimiter && content.contains(c))
}

/// The reason for a one-column line (no source password needed) that holds
/// another delimiter. The line is not quoted: it may hold a password.
fn seems_mis_delimited(delimiter: char, other: char) -> String {
    let shown = if other == '\t' {
        "a tab".to_string()
    } else {
        format!("'{other}'")
    };
    format!(
        "there is no '{delimiter}' on the line, but it holds {shown}: the list seems to use \
         {shown} as its delimiter. Change the delimiter setting, or, if the whole line is the \
         user name, end it with '{delimiter}'."
    )
}

/// U+FFFD is what a list not saved as UTF-8 turns into after lossy decoding;
/// logging in with it would fail with a misleading "wrong password".
fn not_utf8(what: &str) -> String {
    format!(
        "the {what} holds a character that could not be read, so the list is probably \
         not saved as UTF-8. Save it as UTF-8 and try again."
    )
}

/// The name is not quoted when invalid: a mis-delimited line may have glued
/// the password onto it.
fn check_user_name(name: &str, what: &str) -> Result<(), String> {
    if name.contains('\u{fffd}') {
        return Err(not_utf8(what));
    }
    // U+FEFF is neither whitespace nor control, but just as invisible.
    match name
        .chars()
        .position(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}')
    {
        None => Ok(()),
        Some(at) => Err(format!(
            "the {what} contains a space or control character (at character {}). \
             User names cannot hold spaces; check the delimiter and remove stray characters.",
            at + 1
        )),
    }
}

fn check_password(password: &str, what: &str) -> Result<(), String> {
    if password.contains('\u{fffd}') {
        return Err(not_utf8(what));
    }
    match password.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "the {what} contains a control character (U+{:04X}), which cannot be typed \
             at a login. Re-type the password; the list may have been damaged by copying.",
            u32::from(c)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list as read when each source password is required (every test
    /// but those of admin logins).
    fn parse_users(text: &str, delimiter: char) -> Result<Vec<UserEntry>, JobError> {
        super::parse_users(text, delimiter, SourcePasswords::Required)
    }

    fn preview_users(text: &str, delimiter: char) -> UsersPreview {
        super::preview_users(text, delimiter, SourcePasswords::Required)
    }

    fn admin_list(text: &str, delimiter: char) -> Result<Vec<UserEntry>, JobError> {
        super::parse_users(text, delimiter, SourcePasswords::NotNeeded)
    }

    #[test]
    fn with_a_source_admin_the_source_password_column_may_be_blank_or_absent() {
        let users = admin_list("jane@x\nbob@x,\ncarol@x,,carol@new,pw\ndan@x,own-pw", ',').unwrap();
        let read: Vec<_> = users
            .iter()
            .map(|u| {
                (
                    u.line,
                    u.source_user.as_str(),
                    u.source_password.as_ref().map(Secret::expose),
                    u.local_user.as_str(),
                    u.local_password.as_ref().map(Secret::expose),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (1, "jane@x", None, "jane@x", None),
                (2, "bob@x", None, "bob@x", None),
                (3, "carol@x", None, "carol@new", Some("pw")),
                // A password given anyway is kept (it is not used).
                (4, "dan@x", Some("own-pw"), "dan@x", None),
            ]
        );
        // Blanks only are no password either; a quoted empty column too.
        let users = admin_list("jane@x;   ;jane@new\n\"bob@x\";\"\"", ';').unwrap();
        assert!(users.iter().all(|u| u.source_password.is_none()));
    }

    #[test]
    fn with_a_source_admin_the_other_rules_still_hold() {
        // Duplicates, bad names, an empty user, a damaged password.
        let bad = |text: &str| match admin_list(text, ',') {
            Err(JobError::UserLine { line, reason }) => (line, reason),
            other => panic!("{text:?}: expected a UserLine error, got {other:?}"),
        };
        let (line, reason) = bad("jane\nJANE");
        assert_eq!(line, 2);
        assert!(reason.contains("already listed on line 1"), "{reason}");
        assert!(bad("jane smith").1.contains("contains a space"));
        assert!(bad(",,jane@new").1.contains("source user"));
        assert!(bad("jane,p\u{1}w").1.contains("source password"));
        assert!(bad("jane\nbob,,jane")
            .1
            .contains("already the destination of line 1"));
        assert_eq!(
            admin_list("# none\n", ','),
            Err(JobError::NoUsers { delimiter: ',' })
        );
    }

    #[test]
    fn with_a_source_admin_a_line_that_seems_to_use_another_delimiter_is_refused_unshown() {
        for (text, shown) in [("jane;S3cr3t!x", "';'"), ("jane\tS3cr3t!x", "a tab")] {
            let Err(JobError::UserLine { line: 1, reason }) = admin_list(text, ',') else {
                panic!("{text:?} accepted");
            };
            assert!(reason.starts_with("there is no ','"), "{reason}");
            assert!(reason.contains(shown), "{reason}");
            assert!(!reason.contains("S3cr3t"), "{reason}");
        }
        // Ending the line with the delimiter says the whole of it is the name.
        let users = admin_list("smith;john,", ',').unwrap();
        assert_eq!(users[0].source_user, "smith;john");
    }

    #[test]
    fn the_preview_with_a_source_admin_reports_no_missing_source_password() {
        let text = "Email,Password,New email\njane@x\nbob@x,,bob@new,pw\ncarol@x,";
        let p = super::preview_users(text, ',', SourcePasswords::NotNeeded);
        assert_eq!((p.mailboxes, p.problems, p.error), (3, 0, None));
        assert_eq!(p.header, Some(1));
        assert_eq!(p.lines[1].local_user, "bob@new");
        assert!(p.lines[1].local_password);
        // The same list when each user logs in with their own password.
        let p = preview_users(text, ',');
        assert_eq!((p.mailboxes, p.problems), (0, 3));
        assert!(p.lines[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("No password after"));
    }

    fn user_line_error(text: &str, delimiter: char) -> (usize, String) {
        match parse_users(text, delimiter) {
            Err(JobError::UserLine { line, reason }) => (line, reason),
            other => panic!("expected a UserLine error, got {other:?}"),
        }
    }

    #[test]
    fn full_line_has_all_four_columns() {
        let users = parse_users("alice,pw1,alice2,pw2\n", ',').unwrap();
        assert_eq!(
            users,
            vec![UserEntry {
                line: 1,
                source_user: "alice".into(),
                source_password: Some(Secret::new("pw1")),
                local_user: "alice2".into(),
                local_password: Some(Secret::new("pw2")),
            }]
        );
    }

    #[test]
    fn spreadsheet_csv_quotes_are_read_as_rfc_4180() {
        // What a spreadsheet saves: every column quoted, a delimiter and a
        // doubled quote inside the password.
        let users = parse_users(
            "\"alice\",\"p,w\"\"x\"\r\n\"bob\",\"pw2\",\"bob2\",\"a,b\"\r\ncarol,\"pw3\"\r\n",
            ',',
        )
        .unwrap();
        assert_eq!(users[0].source_user, "alice");
        assert_eq!(
            users[0].source_password.as_ref().unwrap().expose(),
            "p,w\"x"
        );
        assert_eq!(users[0].local_user, "alice");
        assert_eq!(users[1].local_user, "bob2");
        assert_eq!(
            users[1].local_password.as_ref().map(Secret::expose),
            Some("a,b")
        );
        assert_eq!(users[2].source_password.as_ref().unwrap().expose(), "pw3");
        // Semicolons, as spreadsheets in many locales save CSV.
        let users = parse_users("\"dan\";\"p;w\"\n", ';').unwrap();
        assert_eq!(users[0].source_password.as_ref().unwrap().expose(), "p;w");
    }

    #[test]
    fn a_quote_inside_an_unquoted_password_is_kept() {
        let users = parse_users("alice,p\"w\nbob,a\"b\"c,bob2,x,y", ',').unwrap();
        assert_eq!(users[0].source_password.as_ref().unwrap().expose(), "p\"w");
        assert_eq!(
            users[1].source_password.as_ref().unwrap().expose(),
            "a\"b\"c"
        );
        // Unquoted, the fourth column still takes the rest of the line.
        assert_eq!(
            users[1].local_password.as_ref().map(Secret::expose),
            Some("x,y")
        );
    }

    #[test]
    fn an_unclosed_quote_is_refused_without_the_password() {
        let (line, reason) = user_line_error("alice,pw\n\"bob\",\"sec,ret\n", ',');
        assert_eq!(line, 2);
        assert!(reason.contains("double quote is not closed"), "{reason}");
        assert!(!reason.contains("sec"), "{reason}");
    }

    #[test]
    fn a_header_row_is_skipped_and_said() {
        let text = "\u{feff}\"Username\",\"Password\",\"Local user\"\r\nalice,pw\r\n";
        let users = parse_users(text, ',').unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].line, 2);
        assert_eq!(header_row(text, ','), Some(1));
        assert_eq!(
            header_row("# batch 1\nEmail;PASSWORD\nbob;pw", ';'),
            Some(2)
        );
        assert_eq!(header_row("e-mail address,source_password\n", ','), Some(1));
        assert_eq!(header_row("E-Mail,Pass\n", ','), Some(1));
        // Only the first data line can be a header; a mailbox is never one.
        assert_eq!(header_row("alice,pw\nuser,password", ','), None);
        assert_eq!(header_row("alice,password\n", ','), None);
    }

    #[test]
    fn the_preview_reads_every_line_and_names_each_problem_without_passwords() {
        let text = "\u{feff}Email;Password\r\n\
                    \"al;ice\";\"p;w\"\"x\"\r\n\
                    bob;secret-bob;robert;local-pw\r\n\
                    carol secret-carol\r\n\
                    BOB;other\r\n\
                    dave;pw\r\n";
        let p = preview_users(text, ';');
        assert_eq!(p.header, Some(1));
        assert_eq!((p.mailboxes, p.problems, p.error.as_deref()), (3, 2, None));
        let lines: Vec<_> = p.lines.iter().map(|l| l.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert_eq!(p.lines[0].source_user, "al;ice");
        assert_eq!(p.lines[1].local_user, "robert");
        assert!(p.lines[1].local_password && !p.lines[0].local_password);
        // A line without the delimiter shows no name: its password is in it.
        assert_eq!(p.lines[2].source_user, "");
        let glued = p.lines[2].error.as_deref().unwrap();
        assert!(
            glued.starts_with("No password after the delimiter ';'"),
            "{glued}"
        );
        let again = p.lines[3].error.as_deref().unwrap();
        assert!(again.contains("already listed on line 3"), "{again}");
        assert_eq!(p.lines[4].source_user, "dave");
        let shown = format!("{p:?}");
        for secret in ["p;w", "secret-bob", "local-pw", "secret-carol", "other"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // The job itself stops at the first of them.
        assert_eq!(user_line_error(text, ';').0, 4);
    }

    #[test]
    fn the_preview_says_what_is_wrong_with_the_whole_list() {
        let empty = preview_users("# nothing\n", ',');
        assert!(empty.error.unwrap().contains("The user list is empty"));
        let many: String = (0..501).map(|i| format!("u{i},pw\n")).collect();
        let p = preview_users(&many, ',');
        assert_eq!(p.mailboxes, 501);
        assert!(p.error.unwrap().contains("501"));
        let bad = preview_users("a b", ' ');
        assert!(bad.lines.is_empty() && bad.error.is_some());
    }

    #[test]
    fn bom_and_crlf_are_tolerated() {
        let users = parse_users("\u{feff}alice,pw1\r\nbob,pw2\r\ncarol,pw3\r", ',').unwrap();
        let names: Vec<_> = users.iter().map(|u| u.source_user.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert_eq!(users[0].source_password.as_ref().unwrap().expose(), "pw1");
        assert_eq!(users[1].source_password.as_ref().unwrap().expose(), "pw2");
        assert_eq!(users[2].source_password.as_ref().unwrap().expose(), "pw3");
    }

    #[test]
    fn lone_cr_line_endings_count_as_lines() {
        let users = parse_users("alice,pw1\rbob,pw2\r\r\ncarol,pw3", ',').unwrap();
        let lines: Vec<_> = users.iter().map(|u| u.line).collect();
        assert_eq!(lines, [1, 2, 4]);
        assert_eq!(users[1].source_password.as_ref().unwrap().expose(), "pw2");
    }

    #[test]
    fn bom_at_the_start_of_a_later_line_is_dropped() {
        // What a job gets when an inline list and a file are joined.
        let users = parse_users("alice,pw\n\u{feff}bob,pw2", ',').unwrap();
        assert_eq!(users[1].source_user, "bob");
        let (_, reason) = user_line_error("bo\u{feff}b,pw", ',');
        assert!(reason.contains("source user"), "{reason}");
    }

    #[test]
    fn text_not_saved_as_utf8_is_refused() {
        // From String::from_utf8_lossy on a Latin-1 file.
        let (_, reason) = user_line_error("alice,gr\u{fffd}n", ',');
        assert!(reason.contains("source password"), "{reason}");
        assert!(reason.contains("UTF-8"), "{reason}");
        let (_, reason) = user_line_error("j\u{fffd}rg,pw", ',');
        assert!(reason.contains("UTF-8"), "{reason}");
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let text = "# migration batch 1\n\n   \n\t\n  # indented comment\nalice,pw\n";
        let users = parse_users(text, ',').unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].line, 6);
    }

    #[test]
    fn malformed_line_names_its_line_number() {
        let text = "# header\nalice,pw\n\nbob\ncarol,pw";
        let (line, reason) = user_line_error(text, ',');
        assert_eq!(line, 4);
        assert!(
            reason.contains("no password after the delimiter ','"),
            "{reason}"
        );
    }

    #[test]
    fn missing_delimiter_suggests_the_one_in_use() {
        let (_, reason) = user_line_error("alice;pw", ',');
        assert!(reason.contains("';'"), "{reason}");
        let (_, reason) = user_line_error("alice\tpw", ',');
        assert!(reason.contains("a tab"), "{reason}");
    }

    #[test]
    fn empty_or_blank_password_is_missing() {
        let (_, reason) = user_line_error("alice,", ',');
        assert!(
            reason.contains("no password after the delimiter ','"),
            "{reason}"
        );
        let (_, reason) = user_line_error("alice,  ,bob", ',');
        assert!(reason.contains("no password"), "{reason}");
    }

    #[test]
    fn empty_source_user_is_refused() {
        let (line, reason) = user_line_error("alice,pw\n  ,pw", ',');
        assert_eq!(line, 2);
        assert!(reason.contains("source user"), "{reason}");
        assert!(reason.contains("empty"), "{reason}");
    }

    #[test]
    fn user_names_with_spaces_or_control_characters_are_refused() {
        let (_, reason) = user_line_error("alice smith,pw", ',');
        assert!(reason.contains("source user contains a space"), "{reason}");
        let (_, reason) = user_line_error("alice\u{1},pw", ',');
        assert!(reason.contains("source user"), "{reason}");
        let (_, reason) = user_line_error("alice,pw,al ice", ',');
        assert!(reason.contains("local user"), "{reason}");
    }

    #[test]
    fn fields_are_trimmed_but_passwords_are_kept_exactly() {
        let users = parse_users(" alice\t,  pass word ,\tali ,  pw2 ", ',').unwrap();
        assert_eq!(users[0].source_user, "alice");
        assert_eq!(
            users[0].source_password.as_ref().unwrap().expose(),
            "  pass word "
        );
        assert_eq!(users[0].local_user, "ali");
        assert_eq!(
            users[0].local_password.as_ref().map(Secret::expose),
            Some("  pw2 ")
        );
    }

    #[test]
    fn password_with_control_character_is_refused() {
        let (_, reason) = user_line_error("alice,pw\0rd", ',');
        assert!(reason.contains("source password"), "{reason}");
        assert!(reason.contains("U+0000"), "{reason}");
        let (_, reason) = user_line_error("alice,pw,bob,p\u{7f}", ',');
        assert!(reason.contains("local password"), "{reason}");
    }

    #[test]
    fn local_user_defaults_to_source_user() {
        let users = parse_users("alice,pw\nbob,pw,\ncarol,pw,  ,\n", ',').unwrap();
        for u in &users {
            assert_eq!(u.local_user, u.source_user);
            assert_eq!(u.local_password, None);
        }
    }

    #[test]
    fn blank_local_password_is_absent() {
        let users = parse_users("alice,pw,ali,\nbob,pw,bo,   ", ',').unwrap();
        assert_eq!(users[0].local_password, None);
        assert_eq!(users[1].local_password, None);
    }

    #[test]
    fn local_password_may_hold_the_delimiter() {
        let users = parse_users("alice,pw,ali,a,b,c", ',').unwrap();
        assert_eq!(
            users[0].local_password.as_ref().map(Secret::expose),
            Some("a,b,c")
        );
    }

    #[test]
    fn semicolon_delimiter_allows_commas_in_names() {
        let users = parse_users("CN=Smith, John;p,w;smith, j;x", ';');
        // Commas are fine but the space after them is not.
        assert!(matches!(users, Err(JobError::UserLine { line: 1, .. })));
        let users = parse_users("smith,john;p,w;j,smith;x,y", ';').unwrap();
        assert_eq!(users[0].source_user, "smith,john");
        assert_eq!(users[0].source_password.as_ref().unwrap().expose(), "p,w");
        assert_eq!(users[0].local_user, "j,smith");
        assert_eq!(
            users[0].local_password.as_ref().map(Secret::expose),
            Some("x,y")
        );
    }

    #[test]
    fn duplicate_source_user_names_the_earlier_line() {
        let (line, reason) = user_line_error("alice,pw\nbob,pw\nAlice,pw2,alice3", ',');
        assert_eq!(line, 3);
        assert!(reason.contains("line 1"), "{reason}");
        assert!(reason.contains("Alice"), "{reason}");
    }

    #[test]
    fn duplicate_local_user_is_refused_with_merge_advice() {
        let (line, reason) = user_line_error("alice,pw\n\nbob,pw,alice", ',');
        assert_eq!(line, 3);
        assert_eq!(
            reason,
            "local user alice is already the destination of line 1; \
             to merge two mailboxes into one, run them as separate jobs."
        );
    }

    #[test]
    fn empty_list_is_no_users() {
        assert_eq!(
            parse_users("\u{feff}# nothing yet\r\n\r\n", ';'),
            Err(JobError::NoUsers { delimiter: ';' })
        );
        assert_eq!(
            parse_users("", ','),
            Err(JobError::NoUsers { delimiter: ',' })
        );
    }

    #[test]
    fn exactly_500_mailboxes_are_accepted() {
        let text: String = (0..MAX_MAILBOXES)
            .map(|i| format!("user{i},pw\n"))
            .collect();
        assert_eq!(parse_users(&text, ',').unwrap().len(), MAX_MAILBOXES);
    }

    #[test]
    fn more_than_500_mailboxes_is_refused_with_split_advice() {
        let text: String = (0..MAX_MAILBOXES + 3)
            .map(|i| format!("user{i},pw\n"))
            .collect();
        let err = parse_users(&text, ',').unwrap_err();
        assert_eq!(
            err,
            JobError::TooManyMailboxes {
                count: 503,
                max: 500
            }
        );
        assert!(err.to_string().contains("Split the user list"), "{err}");
    }

    #[test]
    fn unsafe_delimiters_are_refused() {
        for d in [' ', '\n', '\r', '"', '\0'] {
            assert_eq!(
                parse_users("alice,pw", d),
                Err(JobError::BadDelimiter(d.to_string())),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_tab_delimits_as_the_docs_promise() {
        let list = parse_users("alice\tpw, with comma\tal@new\tx y\n", '\t').unwrap();
        assert_eq!(
            list[0].source_password.as_ref().unwrap().expose(),
            "pw, with comma"
        );
        assert_eq!(list[0].local_user, "al@new");
        assert_eq!(list[0].local_password.as_ref().unwrap().expose(), "x y");
    }

    #[test]
    fn errors_never_show_a_password() {
        const PW: &str = "S3cr3t!x";
        let cases = [
            format!("alice;{PW}"),   // wrong delimiter: whole line is one field
            format!("alice {PW},x"), // password glued to the user name
            format!(",{PW}"),        // empty user
            format!("alice,{PW}\0"), // control char in password
            format!("alice,x,bob,{PW}\u{1}"),
            format!("alice,{PW}\nalice,{PW}"),
            format!("alice,{PW}\nbob,{PW},alice,{PW}"),
            format!("al\u{7}ice,{PW}"),
            format!("alice,{PW}\u{fffd}"),
        ];
        for text in &cases {
            let err = parse_users(text, ',').expect_err(text);
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(PW), "{text:?} -> {shown}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    fn parse_users(text: &str, delimiter: char) -> Result<Vec<UserEntry>, JobError> {
        super::parse_users(text, delimiter, SourcePasswords::Required)
    }
    use proptest::prelude::*;

    fn line_text(
        (user, pw, local, local_pw): &(String, String, Option<String>, Option<String>),
        d: char,
    ) -> String {
        let mut l = format!("{user}{d}{pw}");
        if local.is_some() || local_pw.is_some() {
            l.push(d);
            l.push_str(local.as_deref().unwrap_or(""));
        }
        if let Some(p) = local_pw {
            l.push(d);
            l.push_str(p);
        }
        l
    }

    /// Random text never panics the parser, and whatever it accepts is
    /// sane; a generated list reads back exactly; and a damaged line is an
    /// error that never quotes a password.
    #[test]
    fn fuzz_user_list_parser() {
        let entry = (
            "[a-z][a-z0-9.]{0,6}(@[a-z]{1,5}\\.example)?",
            "Pw[A-Za-z0-9!$%&*+/=?^_~ -]{6,10}",
            proptest::option::of("[a-z][a-z0-9]{0,6}@new\\.example"),
            proptest::option::of("Pw[A-Za-z0-9;,]{6,10}"),
        );
        let junk = "[a-zé@. ,;\t#|\"\r\n\u{feff}\u{fffd}\u{7}]{0,120}";
        let strategy = (
            proptest::collection::vec(entry, 1..12),
            prop_oneof![Just(','), Just(';'), Just('\t'), Just('|')],
            junk,
            0..4u8,
            any::<prop::sample::Index>(),
        );
        crate::fuzzing::fuzz("user list", strategy, |(entries, d, junk, damage, at)| {
            // 1. Random text: no panic; what is accepted is sane.
            if let Ok(list) = parse_users(&junk, d) {
                prop_assert!(list.len() <= MAX_MAILBOXES);
                for e in &list {
                    prop_assert!(!e.source_user.is_empty() && !e.local_user.is_empty());
                    prop_assert!(!e
                        .source_user
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control()));
                }
            }
            // 2. A generated list reads back exactly (when its users
            // are unique, as the parser demands).
            let mut seen = std::collections::HashSet::new();
            let mut locals = std::collections::HashSet::new();
            let entries: Vec<_> = entries
                .into_iter()
                .filter(|(_, pw, _, _)| !pw.contains(d))
                .filter(|(u, _, l, _)| {
                    seen.insert(u.to_lowercase())
                        && locals.insert(l.as_deref().unwrap_or(u).to_lowercase())
                })
                .collect();
            prop_assume!(!entries.is_empty());
            let mut text: String = entries.iter().map(|e| line_text(e, d) + "\r\n").collect();
            let list = parse_users(&text, d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(list.len(), entries.len());
            for (e, (u, pw, l, lpw)) in list.iter().zip(&entries) {
                prop_assert_eq!(&e.source_user, u);
                prop_assert_eq!(e.source_password.as_ref().unwrap().expose(), pw.as_str());
                prop_assert_eq!(&e.local_user, l.as_ref().unwrap_or(u));
                prop_assert_eq!(
                    e.local_password.as_ref().map(|p| p.expose().to_string()),
                    lpw.clone()
                );
            }
            // 3. Damage one line: an error naming a line, never a password.
            let i = at.index(entries.len());
            let (u, pw, _, _) = &entries[i];
            let bad = match damage {
                0 => format!("{u}{pw}"),         // delimiter missing
                1 => format!("{u}{d}{pw}\u{1}"), // control character
                2 => format!("{u} x{d}{pw}"),    // space in the name
                _ => line_text(&entries[0], d),  // listed twice
            };
            text.push_str(&bad);
            text.push('\n');
            if let Err(err) = parse_users(&text, d) {
                let words = err.to_string();
                for (_, pw, _, lpw) in &entries {
                    prop_assert!(!words.contains(pw.as_str()), "{words}");
                    if let Some(p) = lpw {
                        prop_assert!(!words.contains(p.as_str()), "{words}");
                    }
                }
                prop_assert!(words.starts_with("User list, line "), "{words}");
            } else {
                prop_assert!(false, "damaged line {bad:?} accepted");
            }
            Ok(())
        });
    }
}
