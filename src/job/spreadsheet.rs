//! A user list saved as a spreadsheet (XLSX, XLS, XLSB or ODS), as
//! resellers receive them: its first sheet becomes the lines of the user
//! list, so the form shows it and the one parser reads it.

use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Data, Reader};

use super::users::list_field;
use super::JobError;

/// The user list's columns: source user, source password, local user,
/// local password.
const COLUMNS: usize = 4;

/// The first sheet of `bytes` as user list lines joined by `delimiter`,
/// one line per row (row N is line N, so the list's errors name the
/// spreadsheet's rows). Columns holding the delimiter or a quote are
/// quoted. A row with more than four columns, a cell holding a line break
/// or a spreadsheet error (`#N/A`) is refused with its row: a column taken
/// for another would fail the login, or copy into the wrong mailbox.
pub fn users_from_spreadsheet(bytes: &[u8], delimiter: char) -> Result<String, JobError> {
    let bad = |reason: String| JobError::Spreadsheet(reason);
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|_| {
        bad("it is not a spreadsheet MailFerry can read (XLSX, XLS, XLSB or ODS)".into())
    })?;
    let range = match book.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(e)) => return Err(bad(format!("its first sheet could not be read ({e})"))),
        None => return Err(bad("it has no sheet".into())),
    };
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    // Rows above the sheet's used range are blank lines, so numbers match.
    let mut lines: Vec<String> = vec![String::new(); first_row as usize];
    for (i, cells) in range.rows().enumerate() {
        let row = first_row as usize + i + 1;
        let mut fields: Vec<String> = vec![String::new(); first_col as usize];
        for (j, cell) in cells.iter().enumerate() {
            let column = first_col as usize + j + 1;
            let text = match cell {
                Data::Error(e) => {
                    return Err(bad(format!(
                        "row {row}, column {column} holds the spreadsheet error {e}; \
                         type the value itself there"
                    )))
                }
                other => other.to_string(),
            };
            if text.contains(['\n', '\r']) {
                return Err(bad(format!(
                    "row {row}, column {column} holds a line break; a user name or \
                     password cannot"
                )));
            }
            fields.push(text);
        }
        while fields.last().is_some_and(|f| f.trim().is_empty()) {
            fields.pop();
        }
        if fields.len() > COLUMNS {
            return Err(bad(format!(
                "row {row} has {} columns; the user list takes four at most: source user, \
                 source password, local user and local password, in that order. Delete the \
                 other columns",
                fields.len()
            )));
        }
        let quoted: Vec<_> = fields.iter().map(|f| list_field(f, delimiter)).collect();
        lines.push(quoted.join(&delimiter.to_string()));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::users::{parse_users, SourcePasswords};
    use crate::secret::Secret;

    /// tests/data/users.xlsx: a header row, `alice@example.com` with the
    /// password `p,w"1`, `bob` with the number 12345 as his password (a
    /// spreadsheet stores it as a number) and the local user `robert`, a
    /// blank row, then `carol` with a password.
    const XLSX: &[u8] = include_bytes!("../../tests/data/users.xlsx");

    #[test]
    fn an_xlsx_user_list_reads_as_its_rows() {
        let text = users_from_spreadsheet(XLSX, ',').unwrap();
        assert_eq!(
            text,
            "Email,Password\nalice@example.com,\"p,w\"\"1\"\nbob,12345,robert\n\ncarol,pw-carol\n"
        );
        let users = parse_users(&text, ',', SourcePasswords::Required).unwrap();
        let read: Vec<_> = users
            .iter()
            .map(|u| {
                (
                    u.line,
                    u.source_user.as_str(),
                    u.source_password.as_ref().map_or("", Secret::expose),
                    u.local_user.as_str(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (2, "alice@example.com", "p,w\"1", "alice@example.com"),
                (3, "bob", "12345", "robert"),
                (5, "carol", "pw-carol", "carol"),
            ]
        );
        // Another delimiter quotes other columns.
        let semi = users_from_spreadsheet(XLSX, ';').unwrap();
        assert!(semi.contains("alice@example.com;\"p,w\"\"1\"\n"), "{semi}");
    }

    #[test]
    fn what_is_not_a_spreadsheet_or_not_a_user_list_is_refused_in_plain_words() {
        let e = users_from_spreadsheet(b"alice,pw\n", ',').unwrap_err();
        assert!(
            e.to_string()
                .contains("not a spreadsheet MailFerry can read"),
            "{e}"
        );
        // A fifth column (notes) would end up in the local password.
        let wide = include_bytes!("../../tests/data/users-wide.xlsx");
        let e = users_from_spreadsheet(wide, ',').unwrap_err().to_string();
        assert!(
            e.contains("row 2 has 5 columns; the user list takes four at most"),
            "{e}"
        );
        assert!(!e.contains("lpw"), "{e}");
        let error = include_bytes!("../../tests/data/users-error.xlsx");
        let e = users_from_spreadsheet(error, ',').unwrap_err().to_string();
        assert!(
            e.contains("row 1, column 2 holds the spreadsheet error #N/A"),
            "{e}"
        );
        assert_eq!(JobError::Spreadsheet(String::new()).field(), "users");
    }
}
