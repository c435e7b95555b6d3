//! Mapping source folders to destination folders: skip rules, translations,
//! namespace prefixes, hierarchy delimiters and modified UTF-7.

use crate::imap::{utf7, FolderSize, ListedFolder};
use crate::job::Translation;

/// A server's folder naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Personal namespace prefix (decoded), e.g. `INBOX.`; often empty.
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// What replaces a destination delimiter found inside a folder name.
pub const DELIMITER_SUBSTITUTE: char = '_';

/// One source folder and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderTask {
    /// Source name on the wire.
    pub source_raw: String,
    /// Source name as the user sees it (decoded, as listed).
    pub source_name: String,
    pub selectable: bool,
    /// Destination name on the wire.
    pub dest_raw: String,
    /// Destination name as the user sees it.
    pub dest_name: String,
    /// Things to tell the user about this mapping.
    pub notes: Vec<String>,
    /// What the source said the folder holds before copying began (STATUS),
    /// so progress totals are known from the start.
    pub expected: Option<FolderSize>,
}

/// The folder path with the source prefix removed, as components.
fn logical_path(name: &str, naming: &Naming) -> Vec<String> {
    if name.eq_ignore_ascii_case("INBOX") {
        return vec!["INBOX".into()];
    }
    let stripped = if !naming.prefix.is_empty()
        && name.starts_with(&naming.prefix)
        && name.len() > naming.prefix.len()
    {
        &name[naming.prefix.len()..]
    } else {
        name
    };
    match naming.delimiter {
        Some(d) => stripped.split(d).map(str::to_string).collect(),
        None => vec![stripped.to_string()],
    }
}

/// Whether `rule` names this folder or one of its ancestors, either as
/// listed or without the namespace prefix.
fn rule_matches(rule: &str, name: &str, naming: &Naming) -> Option<usize> {
    let path = logical_path(name, naming);
    let rule_path = logical_path(rule, naming);
    let same = |a: &str, b: &str| {
        a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
    };
    if rule_path.len() <= path.len() && rule_path.iter().zip(&path).all(|(a, b)| same(a, b)) {
        return Some(rule_path.len());
    }
    None
}

/// Builds the destination name for a logical path.
fn dest_name(path: &[String], dst: &Naming, notes: &mut Vec<String>) -> String {
    if path.len() == 1 && path[0].eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    let parts: Vec<String> = path
        .iter()
        .map(|p| match dst.delimiter {
            Some(d) if p.contains(d) => {
                let fixed = p.replace(d, &DELIMITER_SUBSTITUTE.to_string());
                notes.push(format!(
                    "The name {p:?} holds {d:?}, which separates folders on the destination; it was renamed to {fixed:?}."
                ));
                fixed
            }
            _ => p.clone(),
        })
        .collect();
    let sep = dst.delimiter.map(String::from).unwrap_or_default();
    format!("{}{}", dst.prefix, parts.join(&sep))
}

/// Plans every listed source folder that is not skipped.
pub fn plan(
    listed: &[ListedFolder],
    src: &Naming,
    dst: &Naming,
    skip: &[String],
    translations: &[Translation],
) -> Vec<FolderTask> {
    let mut tasks = Vec::new();
    for f in listed {
        if skip
            .iter()
            .any(|rule| rule_matches(rule, &f.name, src).is_some())
        {
            continue;
        }
        let mut path = logical_path(&f.name, src);
        let mut notes = Vec::new();
        // The longest matching translation wins; it renames the subtree.
        let best = translations
            .iter()
            .filter_map(|t| rule_matches(&t.source, &f.name, src).map(|len| (len, t)))
            .max_by_key(|(len, _)| *len);
        if let Some((len, t)) = best {
            let mut new_path = logical_path(&t.destination, src);
            new_path.extend(path.drain(len..));
            path = new_path;
        }
        let dest_name = dest_name(&path, dst, &mut notes);
        tasks.push(FolderTask {
            source_raw: f.raw.clone(),
            source_name: f.name.clone(),
            selectable: f.selectable,
            dest_raw: utf7::encode(&dest_name),
            dest_name,
            notes,
            expected: None,
        });
    }
    // INBOX first, then parents before children.
    tasks.sort_by(|a, b| {
        (a.dest_name != "INBOX", &a.dest_name).cmp(&(b.dest_name != "INBOX", &b.dest_name))
    });
    tasks
}

/// Every ancestor of a destination name, outermost first (without the
/// namespace prefix itself), so parents can be created before children.
pub fn ancestors(dest_name: &str, dst: &Naming) -> Vec<String> {
    let Some(d) = dst.delimiter else {
        return Vec::new();
    };
    let body = dest_name.strip_prefix(&dst.prefix).unwrap_or(dest_name);
    let parts: Vec<&str> = body.split(d).collect();
    (1..parts.len())
        .map(|n| format!("{}{}", dst.prefix, parts[..n].join(&d.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, delim: char) -> ListedFolder {
        ListedFolder {
            raw: utf7::encode(name),
            name: name.into(),
            delimiter: Some(delim),
            selectable: true,
        }
    }

    fn slash() -> Naming {
        Naming {
            prefix: String::new(),
            delimiter: Some('/'),
        }
    }

    fn courier() -> Naming {
        Naming {
            prefix: "INBOX.".into(),
            delimiter: Some('.'),
        }
    }

    fn names(tasks: &[FolderTask]) -> Vec<(&str, &str)> {
        tasks
            .iter()
            .map(|t| (t.source_name.as_str(), t.dest_name.as_str()))
            .collect()
    }

    #[test]
    fn slash_source_maps_into_courier_prefix_and_dots() {
        let listed = [
            "INBOX",
            "Sent",
            "Projects/Résumé & Co 日本",
            "Folder.With.Dots",
        ]
        .map(|n| folder(n, '/'));
        let tasks = plan(&listed, &slash(), &courier(), &[], &[]);
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("Folder.With.Dots", "INBOX.Folder_With_Dots"),
                (
                    "Projects/Résumé & Co 日本",
                    "INBOX.Projects.Résumé & Co 日本"
                ),
                ("Sent", "INBOX.Sent"),
            ]
        );
        assert_eq!(
            tasks[2].dest_raw,
            "INBOX.Projects.R&AOk-sum&AOk- &- Co &ZeVnLA-"
        );
        assert!(tasks[1].notes[0].contains("renamed to \"Folder_With_Dots\""));
    }

    #[test]
    fn courier_source_loses_its_prefix_on_a_slash_destination() {
        let listed = ["INBOX", "INBOX.Sent", "INBOX.Archive.2019"].map(|n| folder(n, '.'));
        let tasks = plan(&listed, &courier(), &slash(), &[], &[]);
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("INBOX.Archive.2019", "Archive/2019"),
                ("INBOX.Sent", "Sent")
            ]
        );
    }

    #[test]
    fn skip_removes_the_folder_and_its_subfolders() {
        let listed = ["INBOX", "Trash", "Trash/Old", "Trashy"].map(|n| folder(n, '/'));
        let tasks = plan(&listed, &slash(), &slash(), &["Trash".into()], &[]);
        assert_eq!(
            names(&tasks),
            vec![("INBOX", "INBOX"), ("Trashy", "Trashy")]
        );
    }

    #[test]
    fn translation_renames_the_subtree_and_the_longest_rule_wins() {
        let listed = ["Sent Items", "Sent Items/2019", "Sent Items/Keep"].map(|n| folder(n, '/'));
        let t = vec![
            Translation {
                source: "Sent Items".into(),
                destination: "Sent".into(),
            },
            Translation {
                source: "Sent Items/Keep".into(),
                destination: "Archive/Kept".into(),
            },
        ];
        let tasks = plan(&listed, &slash(), &slash(), &[], &t);
        assert_eq!(
            names(&tasks),
            vec![
                ("Sent Items/Keep", "Archive/Kept"),
                ("Sent Items", "Sent"),
                ("Sent Items/2019", "Sent/2019")
            ]
        );
    }

    #[test]
    fn skip_and_translate_accept_names_with_or_without_prefix() {
        let listed = ["INBOX", "INBOX.Junk", "INBOX.Old"].map(|n| folder(n, '.'));
        let t = vec![Translation {
            source: "INBOX.Old".into(),
            destination: "Archive".into(),
        }];
        let tasks = plan(&listed, &courier(), &slash(), &["Junk".into()], &t);
        assert_eq!(
            names(&tasks),
            vec![("INBOX", "INBOX"), ("INBOX.Old", "Archive")]
        );
    }

    #[test]
    fn ancestors_are_listed_outermost_first() {
        assert_eq!(ancestors("a/b/c", &slash()), vec!["a", "a/b"]);
        assert_eq!(ancestors("INBOX.a.b", &courier()), vec!["INBOX.a"]);
        assert!(ancestors("INBOX", &courier()).is_empty());
    }
}
