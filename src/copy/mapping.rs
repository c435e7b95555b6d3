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

/// What a host that keeps labels as folders (Gmail, by its preset's
/// quirks) changes in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Labels {
    /// The source does: its views (All Mail, Starred, Important) show
    /// mail kept in its other folders, and are skipped...
    pub source: bool,
    /// ...unless the job copies them anyway (`gmail_views = "copy"`).
    pub copy_views: bool,
    /// The destination does: nothing is ever put into its views.
    pub destination: bool,
}

/// The source's views a plan leaves out: Gmail's All Mail, Starred and
/// Important, when the source keeps labels as folders and the job does
/// not copy them.
pub fn skipped_views<'a>(
    listed: &'a [ListedFolder],
    src: &Naming,
    labels: Labels,
) -> Vec<special_use::View<'a>> {
    match labels.source && !labels.copy_views {
        true => special_use::gmail_views(listed, src),
        false => Vec::new(),
    }
}

/// The log's words on a view left out.
pub fn skipped_view_note(v: &special_use::View<'_>) -> String {
    let how = match v.found {
        special_use::Found::Marked => format!("marked {}", v.usage.attribute()),
        special_use::Found::Named => "known by its name".into(),
    };
    let archived = match v.usage {
        FolderUse::All => " Mail archived in Gmail without any label is only in All Mail: if the account has such mail, copy the views.",
        _ => "",
    };
    format!(
        "The source folder {:?} ({how}) was not copied: a Gmail view of mail kept in other folders: skipped so messages are not copied twice. To copy it anyway, set gmail_views = \"copy\" in the job's [folders].{archived}",
        v.folder.name
    )
}

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
/// it) still wins. A source that keeps labels as folders has its views
/// left out ([`skipped_views`]); a destination that does never receives
/// anything into its views.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    listed: &[ListedFolder],
    src: &Naming,
    dst_listed: &[ListedFolder],
    dst: &Naming,
    skip: &[String],
    translations: &[Translation],
    special: SpecialUse,
    labels: Labels,
) -> Vec<FolderTask> {
    let pairs = match special {
        SpecialUse::Auto => pairings(listed, src, dst_listed, dst),
        SpecialUse::Off => Vec::new(),
    };
    let views = skipped_views(listed, src, labels);
    let dest_views = match labels.destination {
        true => special_use::gmail_views(dst_listed, dst),
        false => Vec::new(),
    };
    let mut tasks = Vec::new();
    for f in listed {
        if skip.iter().any(|rule| skipped(rule, &f.name, src)) {
            continue;
        }
        if views.iter().any(|v| v.folder.raw == f.raw) {
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
        if let Some(v) = dest_views.iter().find(|v| v.folder.raw == dest.0) {
            // Mail put into a view would be another copy of mail that is
            // elsewhere, or would not stay (Gmail): a label of its own.
            let last = source_path.last().cloned().unwrap_or_default();
            let mut name = dest_name(std::slice::from_ref(&last), dst, &mut Vec::new());
            if dest_views.iter().any(|w| w.folder.name == name) || name == dest.1 {
                name = dest_name(&[format!("{last} (copy)")], dst, &mut Vec::new());
            }
            notes.push(format!(
                "{} would go into the destination's {} view, {:?}, which shows mail kept in other folders and is never written to: it goes to {name:?} instead.",
                f.name,
                v.usage.word(),
                v.folder.name,
            ));
            dest = (utf7::encode(&name), name);
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
    // A folder that only held views (Gmail's `[Gmail]` on a server that
    // keeps its other folders elsewhere) would be an empty shell.
    let holds = |t: &FolderTask, path: &[String]| {
        let mine = logical_path(&t.source_name, src);
        path.len() > mine.len() && starts_with(path, &mine)
    };
    tasks.retain(|t| {
        t.selectable
            || !views
                .iter()
                .any(|v| holds(t, &logical_path(&v.folder.name, src)))
            || listed.iter().any(|f| {
                holds(t, &logical_path(&f.name, src))
                    && !views.iter().any(|v| v.folder.raw == f.raw)
            })
    });
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
        plan(
            listed,
            src,
            &[],
            dst,
            skip,
            translations,
            SpecialUse::Auto,
            Labels::default(),
        )
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
            Labels::default(),
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
            Labels::default(),
        );
        let auto_onto_nothing = plan(
            &apple_source(),
            &slash(),
            &[folder("INBOX", '/')],
            &courier(),
            &[],
            &[],
            SpecialUse::Auto,
            Labels::default(),
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
            Labels::default(),
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
        let tasks = plan(
            &src,
            &slash(),
            &dst,
            &courier(),
            &[],
            &[],
            SpecialUse::Auto,
            Labels::default(),
        );
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
        let tasks = plan(
            &src,
            &courier(),
            &dst,
            &slash(),
            &[],
            &[],
            SpecialUse::Auto,
            Labels::default(),
        );
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

    fn gmail_source() -> Vec<ListedFolder> {
        let mut root = folder("[Gmail]", '/');
        root.selectable = false;
        vec![
            folder("INBOX", '/'),
            folder("Work", '/'),
            root,
            marked("[Gmail]/All Mail", '/', FolderUse::All),
            marked("[Gmail]/Starred", '/', FolderUse::Flagged),
            marked("[Gmail]/Important", '/', FolderUse::Important),
        ]
    }

    fn gmail(source: bool, copy_views: bool, destination: bool) -> Labels {
        Labels {
            source,
            copy_views,
            destination,
        }
    }

    fn plan_gmail(src: &[ListedFolder], dst: &[ListedFolder], labels: Labels) -> Vec<FolderTask> {
        plan(
            src,
            &slash(),
            dst,
            &slash(),
            &[],
            &[],
            SpecialUse::Auto,
            labels,
        )
    }

    #[test]
    fn gmail_views_are_skipped_with_the_reason_and_their_empty_root_with_them() {
        let src = gmail_source();
        let tasks = plan_gmail(&src, &[], gmail(true, false, false));
        assert_eq!(
            names(&tasks),
            vec![("INBOX", "INBOX"), ("Work", "Work")],
            "views and the [Gmail] shell left out"
        );
        let notes: Vec<String> = skipped_views(&src, &slash(), gmail(true, false, false))
            .iter()
            .map(skipped_view_note)
            .collect();
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert_eq!(
            notes[0],
            "The source folder \"[Gmail]/All Mail\" (marked \\All) was not copied: a Gmail view of mail kept in other folders: skipped so messages are not copied twice. To copy it anyway, set gmail_views = \"copy\" in the job's [folders]. Mail archived in Gmail without any label is only in All Mail: if the account has such mail, copy the views."
        );
        assert!(notes[1].starts_with(
            "The source folder \"[Gmail]/Starred\" (marked \\Flagged) was not copied"
        ));
        // A root that holds something else stays.
        let mut more = src.clone();
        more.push(folder("[Gmail]/Sent Mail", '/'));
        let names_more: Vec<String> = plan_gmail(&more, &[], gmail(true, false, false))
            .iter()
            .map(|t| t.source_name.clone())
            .collect();
        assert!(
            names_more.contains(&"[Gmail]".to_string()),
            "{names_more:?}"
        );
    }

    #[test]
    fn gmail_views_are_copied_by_their_names_when_the_job_says_so_or_the_source_is_no_gmail() {
        for labels in [gmail(true, true, false), gmail(false, false, false)] {
            let tasks = plan_gmail(&gmail_source(), &[], labels);
            let got: Vec<&str> = tasks.iter().map(|t| t.dest_name.as_str()).collect();
            assert_eq!(
                got,
                [
                    "INBOX",
                    "Work",
                    "[Gmail]",
                    "[Gmail]/All Mail",
                    "[Gmail]/Important",
                    "[Gmail]/Starred"
                ],
                "{labels:?}"
            );
            assert!(skipped_views(&gmail_source(), &slash(), labels).is_empty());
        }
    }

    #[test]
    fn nothing_goes_into_a_gmail_destinations_views() {
        let mut root = folder("[Gmail]", '/');
        root.selectable = false;
        let dst = vec![
            folder("INBOX", '/'),
            root,
            marked("[Gmail]/All Mail", '/', FolderUse::All),
            marked("[Gmail]/Starred", '/', FolderUse::Flagged),
            // No attributes: Gmail's name says it.
            folder("[Gmail]/Important", '/'),
            marked("[Gmail]/Sent Mail", '/', FolderUse::Sent),
        ];
        let src = vec![
            folder("INBOX", '/'),
            folder("[Gmail]/All Mail", '/'),
            folder("[Gmail]/Starred", '/'),
            folder("[Gmail]/Important", '/'),
            marked("Sent", '/', FolderUse::Sent),
        ];
        let tasks = plan_gmail(&src, &dst, gmail(false, false, true));
        assert_eq!(
            names(&tasks),
            vec![
                ("INBOX", "INBOX"),
                ("[Gmail]/All Mail", "All Mail"),
                ("[Gmail]/Important", "Important"),
                ("[Gmail]/Starred", "Starred"),
                ("Sent", "[Gmail]/Sent Mail"),
            ]
        );
        assert_eq!(
            tasks[1].notes,
            ["[Gmail]/All Mail would go into the destination's All view, \"[Gmail]/All Mail\", which shows mail kept in other folders and is never written to: it goes to \"All Mail\" instead."]
        );
        // The same source onto a destination that keeps no labels: by name.
        let plain = plan_gmail(&src, &dst, gmail(false, false, false));
        assert!(names(&plain).contains(&("[Gmail]/Starred", "[Gmail]/Starred")));
    }

    #[test]
    fn a_top_level_view_of_the_same_name_gets_a_copy_of_its_own() {
        let dst = vec![
            folder("INBOX", '/'),
            marked("Starred", '/', FolderUse::Flagged),
        ];
        let src = vec![folder("Starred", '/')];
        let tasks = plan_gmail(&src, &dst, gmail(false, false, true));
        assert_eq!(names(&tasks), vec![("Starred", "Starred (copy)")]);
    }
}
