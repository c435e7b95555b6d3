//! Folders to skip and folder-name translations.
//!
//! Both lists read like the user list: a leading byte-order mark is dropped,
//! LF/CRLF/CR all end a line, and blank lines and `#` comment lines are
//! ignored. Names are trimmed of surrounding whitespace and compared exactly
//! (folder names are case-sensitive on most servers).

use std::collections::HashMap;
use std::collections::HashSet;

use super::users::data_lines;
use super::JobError;

/// `source` → `destination`, both written as folder paths with the source
/// server's hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub source: String,
    pub destination: String,
}

/// One folder name per line, trimmed; a repeated name is kept once, at its
/// first position.
pub fn parse_skip_list(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    data_lines(text)
        .map(|(_, l)| l.trim())
        .filter(|name| seen.insert(*name))
        .map(str::to_string)
        .collect()
}

/// `source,destination` per line, or `source:destination`.
///
/// Which separator a line uses: exactly one `:` wins (so names may hold
/// commas); otherwise exactly one `,`. Anything else is ambiguous and
/// refused rather than guessed. A name holding both `,` and `:` cannot be
/// written.
pub fn parse_translations(text: &str) -> Result<Vec<Translation>, JobError> {
    let mut out = Vec::new();
    let mut sources: HashMap<String, usize> = HashMap::new();
    for (line, content) in data_lines(text) {
        let bad = |reason: String| JobError::TranslationLine { line, reason };
        let sep = separator(content).map_err(bad)?;
        let (source, destination) = content.split_once(sep).unwrap_or_default();
        let (source, destination) = (source.trim(), destination.trim());
        if source.is_empty() {
            return Err(bad(format!(
                "the source folder (before '{sep}') is empty. \
                 Write the folder to rename first: source{sep}destination."
            )));
        }
        if destination.is_empty() {
            return Err(bad(format!(
                "the destination folder (after '{sep}') is empty. \
                 Write the new name after it: source{sep}destination; \
                 to leave a folder out, use the skip list instead."
            )));
        }
        if let Some(earlier) = sources.insert(source.to_string(), line) {
            return Err(bad(format!(
                "the folder {source:?} is already translated on line {earlier}. \
                 A folder can have only one destination; delete one of the two lines."
            )));
        }
        out.push(Translation {
            source: source.to_string(),
            destination: destination.to_string(),
        });
    }
    Ok(out)
}

fn separator(content: &str) -> Result<char, String> {
    let colons = content.matches(':').count();
    let commas = content.matches(',').count();
    match (colons, commas) {
        (1, _) => Ok(':'),
        (_, 1) => Ok(','),
        (0, 0) => Err("there is no ',' between the two folder names. \
             Write source,destination (or source:destination when a name holds a comma)."
            .to_string()),
        (0, _) => Err(format!(
            "the line holds {commas} commas, so it is unclear where the source name ends. \
             When folder names contain commas, separate them with ':' instead: source:destination."
        )),
        (_, 0) => Err(format!(
            "the line holds {colons} colons, so it is unclear where the source name ends. \
             When folder names contain ':', separate them with ',' instead: source,destination."
        )),
        _ => Err(format!(
            "the line holds {colons} colons and {commas} commas, so it is unclear where the \
             source name ends. Separate the names with ':' when they contain commas, or with \
             ',' when they contain ':'; names holding both cannot be translated."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(source: &str, destination: &str) -> Translation {
        Translation {
            source: source.into(),
            destination: destination.into(),
        }
    }

    fn translation_error(text: &str) -> (usize, String) {
        match parse_translations(text) {
            Err(JobError::TranslationLine { line, reason }) => (line, reason),
            other => panic!("expected a TranslationLine error, got {other:?}"),
        }
    }

    #[test]
    fn skip_list_trims_and_ignores_comments_and_blank_lines() {
        let text = "\u{feff}# folders to leave behind\r\n  Junk \r\n\r\n\tTrash\r\n   # Spam\r\nINBOX/Old stuff";
        assert_eq!(parse_skip_list(text), ["Junk", "Trash", "INBOX/Old stuff"]);
    }

    #[test]
    fn skip_list_removes_duplicates_keeping_first_order() {
        let text = "Trash\nJunk\n Trash\nDrafts\nJunk\ntrash";
        assert_eq!(parse_skip_list(text), ["Trash", "Junk", "Drafts", "trash"]);
    }

    #[test]
    fn skip_list_of_nothing_is_empty() {
        assert!(parse_skip_list("").is_empty());
        assert!(parse_skip_list("\u{feff}\n# none\n  \n").is_empty());
    }

    #[test]
    fn comma_pairs_are_trimmed() {
        let text = "\u{feff}# renames\r\n Sent Items , Sent \r\n\r\nDeleted Items,Trash\r";
        assert_eq!(
            parse_translations(text).unwrap(),
            [tr("Sent Items", "Sent"), tr("Deleted Items", "Trash")]
        );
    }

    #[test]
    fn colon_pairs_allow_commas_in_names() {
        assert_eq!(
            parse_translations("Projects/A, B and C : Archive/A, B, C").unwrap(),
            [tr("Projects/A, B and C", "Archive/A, B, C")]
        );
        assert_eq!(parse_translations("Old:New").unwrap(), [tr("Old", "New")]);
    }

    #[test]
    fn single_comma_is_used_when_names_hold_several_colons() {
        assert_eq!(
            parse_translations("Meeting 10:30 to 11:00,Meetings").unwrap(),
            [tr("Meeting 10:30 to 11:00", "Meetings")]
        );
    }

    #[test]
    fn empty_text_has_no_translations() {
        assert_eq!(parse_translations("# none\n\n"), Ok(vec![]));
    }

    #[test]
    fn missing_separator_names_its_line() {
        let (line, reason) = translation_error("A,B\n\nJust a folder\n");
        assert_eq!(line, 3);
        assert!(reason.contains("no ','"), "{reason}");
    }

    #[test]
    fn several_commas_ask_for_a_colon() {
        let (line, reason) = translation_error("A, B, C");
        assert_eq!(line, 1);
        assert!(reason.contains("separate them with ':'"), "{reason}");
    }

    #[test]
    fn several_colons_and_commas_are_ambiguous() {
        let (_, reason) = translation_error("a:b:c,d,e");
        assert!(reason.contains("2 colons and 2 commas"), "{reason}");
        let (_, reason) = translation_error("a:b:c");
        assert!(reason.contains("with ','"), "{reason}");
    }

    #[test]
    fn empty_side_is_refused() {
        let (_, reason) = translation_error(" ,Trash");
        assert!(reason.contains("source folder"), "{reason}");
        let (_, reason) = translation_error("Trash:  ");
        assert!(reason.contains("destination folder"), "{reason}");
        assert!(reason.contains("skip list"), "{reason}");
    }

    #[test]
    fn same_source_twice_names_the_earlier_line() {
        let (line, reason) = translation_error("# x\nSent,Sent Items\nJunk,Spam\n Sent : Outbox");
        assert_eq!(line, 4);
        assert!(reason.contains("line 2"), "{reason}");
        assert!(reason.contains("\"Sent\""), "{reason}");
    }

    #[test]
    fn two_sources_may_share_a_destination() {
        assert_eq!(
            parse_translations("Junk,Spam\nJunk E-mail,Spam")
                .unwrap()
                .len(),
            2
        );
    }
}
