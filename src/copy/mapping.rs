//! Mapping source folders to destination folders: skip rules (exact names
//! and wildcards), translations, special-use folders, namespace prefixes,
//! hierarchy delimiters and modified UTF-7.

use super::special_use;
use crate::imap::{utf7, FolderSize, FolderUse, ListedFolder};
use crate::job::{SpecialUse, Translation};

/// A server's folder naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Personal namespace prefix (decoded), e.g. `INBOX.`; often empty.
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// What replaces a destination delimiter found inside a folder name.
pub const DELIMITER_SUBSTITUTE: char = '_';

/// The words of the note on a name renamed for holding the destination's
/// delimiter (the pre-flight report picks such notes out as warnings).
pub(crate) const HOLDS_DELIMITER: &str = "which separates folders on the destination";

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
pub(super) fn logical_path(name: &str, naming: &Naming) -> Vec<String> {
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

/// Whether a skip line is a pattern rather than a name.
fn is_pattern(rule: &str) -> bool {
    rule.contains(['*', '%'])
}

/// Whether the pattern `rule` matches this folder or one of its ancestors,
/// each either as listed (with the namespace prefix) or without the prefix.
fn pattern_matches(rule: &str, name: &str, naming: &Naming) -> bool {
    let rule: Vec<char> = rule.chars().collect();
    let matches = |text: &str| {
        let text: Vec<char> = text.chars().collect();
        glob(&rule, &text, naming.delimiter)
    };
    let path = logical_path(name, naming);
    if path.len() == 1 && path[0].eq_ignore_ascii_case("INBOX") {
        return matches(name);
    }
    let prefixed = !naming.prefix.is_empty() && name.starts_with(&naming.prefix);
    let sep = naming.delimiter.map(String::from).unwrap_or_default();
    (1..=path.len()).any(|n| {
        let bare = path[..n].join(&sep);
        matches(&bare) || (prefixed && matches(&format!("{}{bare}", naming.prefix)))
    })
}

/// IMAP LIST matching (RFC 3501 6.3.8): `*` matches any characters, `%` any
/// but the hierarchy delimiter; everything else matches itself.
fn glob(pattern: &[char], text: &[char], delimiter: Option<char>) -> bool {
    // reach[j]: the pattern so far matches the first j characters.
    let mut reach = vec![false; text.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        match p {
            '*' | '%' => {
                let mut on = false;
                for j in 0..=text.len() {
                    on |= reach[j];
                    next[j] = on;
                    if p == '%' && j < text.len() && Some(text[j]) == delimiter {
                        on = false;
                    }
                }
            }
            c => {
                for j in 0..text.len() {
                    next[j + 1] = reach[j] && text[j] == c;
                }
            }
        }
        reach = next;
    }
    reach[text.len()]
}

/// Whether a skip line leaves this folder out.
fn skipped(rule: &str, name: &str, naming: &Naming) -> bool {
    if is_pattern(rule) {
        pattern_matches(rule, name, naming)
    } else {
        rule_matches(rule, name, naming).is_some()
    }
}

/// Path components made fit for the destination: a component holding the
/// destination's delimiter gets a substitute for it (and a note).
fn fit_parts(path: &[String], dst: &Naming, notes: &mut Vec<String>) -> Vec<String> {
    path.iter()
        .map(|p| match dst.delimiter {
            Some(d) if p.contains(d) => {
                let fixed = p.replace(d, &DELIMITER_SUBSTITUTE.to_string());
                notes.push(format!(
                    "The name {p:?} holds {d:?}, {HOLDS_DELIMITER}; it was renamed to {fixed:?}."
                ));
                fixed
            }
            _ => p.clone(),
        })
        .collect()
}

/// Builds the destination name for a logical path.
fn dest_name(path: &[String], dst: &Naming, notes: &mut Vec<String>) -> String {
    if path.len() == 1 && path[0].eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    let parts = fit_parts(path, dst, notes);
    let sep = dst.delimiter.map(String::from).unwrap_or_default();
    format!("{}{}", dst.prefix, parts.join(&sep))
}

/// The destination name of `rest` inside the destination folder `base`.
fn dest_name_under(base: &str, rest: &[String], dst: &Naming, notes: &mut Vec<String>) -> String {
    if rest.is_empty() {
        return base.to_string();
    }
    let sep = dst.delimiter.map(String::from).unwrap_or_default();
    let parts = fit_parts(rest, dst, notes);
    format!("{base}{sep}{}", parts.join(&sep))
}

/// A source folder of some use, and the destination's folder of that use.
struct Pairing<'a> {
    usage: FolderUse,
    source: special_use::Special<'a>,
    /// The source folder's logical path: its subfolders follow it.
    path: Vec<String>,
    /// `None` when the destination has no folder of this use (or the use
    /// is virtual): then the folder goes by its name.
    target: Option<special_use::Special<'a>>,
}

/// Each source folder of some use, with its destination counterpart.
fn pairings<'a>(
    listed: &'a [ListedFolder],
    src: &Naming,
    dst_listed: &'a [ListedFolder],
    dst: &Naming,
) -> Vec<Pairing<'a>> {
    let targets = special_use::find(dst_listed, dst, true);
    special_use::find(listed, src, false)
        .into_iter()
        .map(|(usage, source)| Pairing {
            usage,
            path: logical_path(&source.folder.name, src),
            source,
            // Virtual folders show mail kept elsewhere: never a target.
            target: match usage.is_virtual() {
                true => None,
                false => targets.get(&usage).copied(),
            },
        })
        .collect()
}

/// Whether `prefix` is `path` or one of its ancestors.
fn starts_with(path: &[String], prefix: &[String]) -> bool {
    prefix.len() <= path.len() && prefix.iter().zip(path).all(|(a, b)| a == b)
}

/// Plans every listed source folder that is not skipped. With special-use
/// mapping on, the source's Sent (Drafts, Trash, Junk, Archive) folder and
/// its subfolders go into the destination's folder of that use, whatever
/// either is called; a translation of the folder (or of a folder holding
/// it) still wins.
pub fn plan(
    listed: &[ListedFolder],
    src: &Naming,
    dst_listed: &[ListedFolder],
    dst: &Naming,
    skip: &[String],
    translations: &[Translation],
    special: SpecialUse,
) -> Vec<FolderTask> {
    let pairs = match special {
        SpecialUse::Auto => pairings(listed, src, dst_listed, dst),
        SpecialUse::Off => Vec::new(),
    };
    let mut tasks = Vec::new();
    for f in listed {
        if skip.iter().any(|rule| skipped(rule, &f.name, src)) {
            continue;
        }
        let source_path = logical_path(&f.name, src);
        let mut path = source_path.clone();
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
        let by_name = dest_name(&path, dst, &mut notes);
        // The innermost special-use folder holding this one.
        let pair = pairs
            .iter()
            .filter(|p| starts_with(&source_path, &p.path))
            .max_by_key(|p| p.path.len());
        let translated = best.map(|(len, _)| len);
        let mut dest = (utf7::encode(&by_name), by_name.clone());
        match pair {
            Some(p) if p.usage.is_virtual() && p.path == source_path => {
                notes.push(format!(
                    "{} is the source's {} folder ({}), a view of messages kept in other folders; it is copied by its name like any other folder.",
                    f.name,
                    p.usage.word(),
                    p.source.found.describe(p.usage),
                ));
            }
            Some(Pairing {
                usage,
                source,
                path: sp,
                target: Some(target),
            }) => {
                let word = usage.word();
                let target_name = &target.folder.name;
                if translated.is_some_and(|len| len >= sp.len()) {
                    if *sp == source_path {
                        notes.push(format!(
                            "{} is the source's {word} folder, but the job's translation sends it to {by_name:?} instead of the destination's {word} folder, {target_name:?}.",
                            f.name
                        ));
                    }
                } else {
                    let mut sub_notes = Vec::new();
                    let rest = &source_path[sp.len()..];
                    let name = dest_name_under(target_name, rest, dst, &mut sub_notes);
                    if name != by_name {
                        notes = sub_notes;
                        notes.insert(0, match rest.is_empty() {
                            true => format!(
                                "{} is the source's {word} folder ({}); it goes to the destination's {word} folder, {target_name:?} ({}).",
                                f.name,
                                source.found.describe(*usage),
                                target.found.describe(*usage),
                            ),
                            false => format!(
                                "{} follows {}, the source's {word} folder, into the destination's {word} folder, {target_name:?}.",
                                f.name, source.folder.name,
                            ),
                        });
                    }
                    // The target itself by its listed wire name: it exists,
                    // so nothing is created.
                    let raw = match rest.is_empty() {
                        true => target.folder.raw.clone(),
                        false => utf7::encode(&name),
                    };
                    dest = (raw, name);
                }
            }
            _ => {}
        }
        let (dest_raw, dest_name) = dest;
        tasks.push(FolderTask {
            source_raw: f.raw.clone(),
            source_name: f.name.clone(),
            selectable: f.selectable,
            dest_raw,
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
            special_use: None,
        }
    }

    fn marked(name: &str, delim: char, u: FolderUse) -> ListedFolder {
        ListedFolder {
            special_use: Some(u),
            ..folder(name, delim)
        }
    }

    /// Plans onto a destination that lists nothing (special-use mapping
    /// on, with nothing to map onto).
    fn by_name(
        listed: &[ListedFolder],
        src: &Naming,
        dst: &Naming,
        skip: &[String],
        translations: &[Translation],
    ) -> Vec<FolderTask> {
        plan(listed, src, &[], dst, skip, translations, SpecialUse::Auto)
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
        let tasks = by_name(&listed, &slash(), &courier(), &[], &[]);
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
        let tasks = by_name(&listed, &courier(), &slash(), &[], &[]);
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
        let tasks = by_name(&listed, &slash(), &slash(), &["Trash".into()], &[]);
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
        let tasks = by_name(&listed, &slash(), &slash(), &[], &t);
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
        let tasks = by_name(&listed, &courier(), &slash(), &["Junk".into()], &t);
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

    fn skips(rule: &str, listed: &[&str], naming: &Naming) -> Vec<String> {
        let d = naming.delimiter.unwrap_or('/');
        let listed: Vec<ListedFolder> = listed.iter().map(|n| folder(n, d)).collect();
        let kept = by_name(&listed, naming, naming, &[rule.into()], &[]);
        listed
            .iter()
            .filter(|f| !kept.iter().any(|t| t.source_name == f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    #[test]
    fn percent_skips_one_level_down_and_what_is_inside_it_but_not_the_parent() {
        let listed = [
            "Archive",
            "Archive/2019",
            "Archive/2019/Q1",
            "Archived",
            "Old/Archive/2019",
        ];
        assert_eq!(
            skips("Archive/%", &listed, &slash()),
            ["Archive/2019", "Archive/2019/Q1"]
        );
        // `%` stops at the delimiter, so it never reaches a deeper folder by
        // itself: `Archive/%/Q1` needs exactly one level in between.
        assert_eq!(
            skips("Archive/%/Q1", &listed, &slash()),
            ["Archive/2019/Q1"]
        );
        assert_eq!(
            skips("%/2019", &listed, &slash()),
            ["Archive/2019", "Archive/2019/Q1"]
        );
    }

    #[test]
    fn star_crosses_the_delimiter_and_matches_nothing_too() {
        let listed = [
            "INBOX",
            "Archive",
            "Archive/2019",
            "Archived",
            "Old/Archive/2019",
        ];
        assert_eq!(
            skips("*Archive*", &listed, &slash()),
            ["Archive", "Archive/2019", "Archived", "Old/Archive/2019"]
        );
        assert_eq!(
            skips("*/2019", &listed, &slash()),
            ["Archive/2019", "Old/Archive/2019"]
        );
        assert_eq!(
            skips("Archive*", &listed, &slash()),
            ["Archive", "Archive/2019", "Archived"]
        );
        // Names stay case-sensitive, as exact names are.
        assert!(skips("archive*", &listed, &slash()).is_empty());
    }

    #[test]
    fn patterns_match_with_or_without_the_namespace_prefix() {
        let listed = ["INBOX", "INBOX.Spam", "INBOX.Spam.Old", "INBOX.Spamfilter"];
        assert_eq!(skips("Spam.%", &listed, &courier()), ["INBOX.Spam.Old"]);
        assert_eq!(
            skips("INBOX.Spam.%", &listed, &courier()),
            ["INBOX.Spam.Old"]
        );
        assert_eq!(
            skips("Spam*", &listed, &courier()),
            ["INBOX.Spam", "INBOX.Spam.Old", "INBOX.Spamfilter"]
        );
        // The Inbox is only the Inbox: `%` (any top-level folder) takes it
        // too, and everything inside the others.
        assert_eq!(skips("%", &listed, &courier()), listed);
        assert_eq!(skips("INBOX", &listed, &courier()), ["INBOX"]);
    }

    #[test]
    fn glob_boundaries() {
        let g = |p: &str, t: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
                Some('/'),
            )
        };
        assert!(g("*", ""));
        assert!(g("%", ""));
        assert!(g("a%b", "ab"));
        assert!(!g("a%b", "a/b"));
        assert!(g("a*b", "a/x/b"));
        assert!(g("a%%b", "axyb"));
        assert!(g("%/%", "a/b"));
        assert!(!g("%/%", "a/b/c"));
        assert!(g("Entw*", "Entwürfe"));
        assert!(!g("a", "ab"));
    }

    fn german_destination() -> Vec<ListedFolder> {
        [
            "INBOX",
            "Gesendete Objekte",
            "Papierkorb",
            "Entwürfe",
            "Spam",
        ]
        .map(|n| folder(n, '/'))
        .to_vec()
    }

    fn apple_source() -> Vec<ListedFolder> {
        vec![
            folder("INBOX", '/'),
            marked("Sent Messages", '/', FolderUse::Sent),
            folder("Sent Messages/2019", '/'),
            marked("Deleted Messages", '/', FolderUse::Trash),
            folder("Drafts", '/'),
            folder("Junk", '/'),
            folder("Projects", '/'),
        ]
    }

    #[test]
    fn special_folders_land_in_the_destinations_folders_of_that_use_whatever_their_names() {
        let tasks = plan(
            &apple_source(),
            &slash(),
            &german_destination(),
            &slash(),
            &[],
            &[],
            SpecialUse::Auto,
        );
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("Drafts", "Entwürfe"),
                ("Sent Messages", "Gesendete Objekte"),
                ("Sent Messages/2019", "Gesendete Objekte/2019"),
                ("Deleted Messages", "Papierkorb"),
                ("Projects", "Projects"),
                ("Junk", "Spam"),
            ]
        );
        let sent = &tasks[2];
        assert_eq!(sent.dest_raw, "Gesendete Objekte");
        assert_eq!(
            sent.notes,
            ["Sent Messages is the source's Sent folder (marked \\Sent); it goes to the destination's Sent folder, \"Gesendete Objekte\" (found by its name)."]
        );
        assert_eq!(
            tasks[3].notes,
            ["Sent Messages/2019 follows Sent Messages, the source's Sent folder, into the destination's Sent folder, \"Gesendete Objekte\"."]
        );
        assert_eq!(tasks[1].dest_raw, "Entw&APw-rfe");
        assert!(tasks[1].notes[0].contains("(found by its name); it goes to"));
        assert!(tasks[5].notes.is_empty());
    }

    #[test]
    fn special_use_off_and_a_destination_without_such_folders_map_by_name() {
        let off = plan(
            &apple_source(),
            &slash(),
            &german_destination(),
            &slash(),
            &[],
            &[],
            SpecialUse::Off,
        );
        let auto_onto_nothing = plan(
            &apple_source(),
            &slash(),
            &[folder("INBOX", '/')],
            &courier(),
            &[],
            &[],
            SpecialUse::Auto,
        );
        for tasks in [&off, &auto_onto_nothing] {
            assert!(tasks.iter().all(|t| t.notes.is_empty()), "{tasks:?}");
        }
        assert!(names(&off).contains(&("Sent Messages/2019", "Sent Messages/2019")));
        assert!(names(&auto_onto_nothing).contains(&("Deleted Messages", "INBOX.Deleted Messages")));
    }

    #[test]
    fn a_translation_overrides_the_special_use_mapping_and_skips_still_skip() {
        let t = vec![Translation {
            source: "Sent Messages".into(),
            destination: "Old Sent".into(),
        }];
        let tasks = plan(
            &apple_source(),
            &slash(),
            &german_destination(),
            &slash(),
            &["Deleted Messages".into(), "Junk".into()],
            &t,
            SpecialUse::Auto,
        );
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("Drafts", "Entwürfe"),
                ("Sent Messages", "Old Sent"),
                ("Sent Messages/2019", "Old Sent/2019"),
                ("Projects", "Projects"),
            ]
        );
        assert_eq!(
            tasks[2].notes,
            ["Sent Messages is the source's Sent folder, but the job's translation sends it to \"Old Sent\" instead of the destination's Sent folder, \"Gesendete Objekte\"."]
        );
        assert!(tasks[3].notes.is_empty());
    }

    #[test]
    fn destination_attributes_win_and_virtual_folders_are_never_targets() {
        let dst = vec![
            folder("INBOX", '.'),
            folder("INBOX.Sent", '.'),
            marked("INBOX.Outbox Copies", '.', FolderUse::Sent),
            marked("INBOX.Everything", '.', FolderUse::All),
            marked("INBOX.Starred", '.', FolderUse::Flagged),
        ];
        let src = vec![
            folder("INBOX", '/'),
            folder("Sent", '/'),
            marked("All Mail", '/', FolderUse::All),
            marked("Flagged", '/', FolderUse::Flagged),
        ];
        let tasks = plan(&src, &slash(), &dst, &courier(), &[], &[], SpecialUse::Auto);
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("All Mail", "INBOX.All Mail"),
                ("Flagged", "INBOX.Flagged"),
                ("Sent", "INBOX.Outbox Copies"),
            ]
        );
        assert_eq!(
            tasks[3].notes,
            ["Sent is the source's Sent folder (found by its name); it goes to the destination's Sent folder, \"INBOX.Outbox Copies\" (marked \\Sent)."]
        );
        assert_eq!(
            tasks[1].notes,
            ["All Mail is the source's All folder (marked \\All), a view of messages kept in other folders; it is copied by its name like any other folder."]
        );
    }

    #[test]
    fn a_special_folder_that_keeps_its_name_gets_no_note_and_subfolder_names_are_fitted() {
        let src = vec![
            marked("INBOX.Sent", '.', FolderUse::Sent),
            folder("INBOX.Archive", '.'),
            folder("INBOX.Archive.a/b", '.'),
        ];
        let dst = vec![marked("Sent", '/', FolderUse::Sent), folder("Archiv", '/')];
        let tasks = plan(&src, &courier(), &dst, &slash(), &[], &[], SpecialUse::Auto);
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX.Archive", "Archiv"),
                ("INBOX.Archive.a/b", "Archiv/a_b"),
                ("INBOX.Sent", "Sent"),
            ]
        );
        assert!(tasks[2].notes.is_empty());
        assert_eq!(tasks[1].notes.len(), 2, "{:?}", tasks[1].notes);
        assert!(tasks[1].notes[1].contains("renamed to \"a_b\""));
    }
}
