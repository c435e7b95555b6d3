//! Finding each side's Sent, Drafts, Trash, Junk and Archive folders (and
//! the virtual All / Flagged / Important ones): by the server's special-use
//! attribute first, else by a well-known name.
//!
//! Where the names come from: the default folder names of Outlook and
//! Exchange in each language ("Sent Items", "Gesendete Objekte", "Éléments
//! envoyés", "Elementos enviados", "Posta inviata", "Verzonden items",
//! "Itens Enviados"…), Apple Mail ("Sent Messages", "Deleted Messages"),
//! Thunderbird ("Sent", "Trash", "Archives"), Gmail and Yahoo ("Sent Mail",
//! "Spam", "Bulk Mail"), and the translations of common webmails
//! (Roundcube, Horde, SOGo: "Gesendet", "Papierkorb", "Envoyés",
//! "Corbeille", "Enviados", "Papelera", "Inviati", "Cestino"…). A side with
//! several of them uses the first in table order, so the most usual name
//! of each language comes first.

use std::collections::BTreeMap;

use super::mapping::{logical_path, Naming};
use crate::imap::{FolderUse, ListedFolder};

const SENT: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Gesendet",
    "Gesendete Objekte",
    "Gesendete Elemente",
    "Éléments envoyés",
    "Envoyés",
    "Enviados",
    "Elementos enviados",
    "Posta inviata",
    "Inviati",
    "Elementi inviati",
    "Verzonden items",
    "Verzonden",
    "Itens Enviados",
    "Enviadas",
];

const DRAFTS: &[&str] = &[
    "Drafts",
    "Entwürfe",
    "Brouillons",
    "Borradores",
    "Bozze",
    "Concepten",
    "Rascunhos",
];

const TRASH: &[&str] = &[
    "Trash",
    "Deleted Items",
    "Deleted Messages",
    "Papierkorb",
    "Gelöschte Objekte",
    "Gelöschte Elemente",
    "Corbeille",
    "Éléments supprimés",
    "Papelera",
    "Elementos eliminados",
    "Cestino",
    "Posta eliminata",
    "Elementi eliminati",
    "Prullenbak",
    "Verwijderde items",
    "Lixeira",
    "Itens Excluídos",
    "Itens Eliminados",
    "Lixo",
];

const JUNK: &[&str] = &[
    "Junk",
    "Junk E-mail",
    "Junk Email",
    "Junk-E-Mail",
    "Spam",
    "Bulk Mail",
    "Spamverdacht",
    "Courrier indésirable",
    "Correo no deseado",
    "Posta indesiderata",
    "Ongewenste e-mail",
    "Lixo Eletrônico",
    "Lixo Eletrónico",
];

const ARCHIVE: &[&str] = &[
    "Archive", "Archives", "Archiv", "Archivio", "Archivo", "Archief", "Arquivo",
];

/// The well-known names of folders for `u`, most usual first. The virtual
/// uses have none: only a server's attribute says a folder is one.
pub fn names(u: FolderUse) -> &'static [&'static str] {
    match u {
        FolderUse::Sent => SENT,
        FolderUse::Drafts => DRAFTS,
        FolderUse::Trash => TRASH,
        FolderUse::Junk => JUNK,
        FolderUse::Archive => ARCHIVE,
        FolderUse::All | FolderUse::Flagged | FolderUse::Important => &[],
    }
}

/// How a side's folder of some use was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The server marks it with the attribute.
    Marked,
    /// Its name is one of [`names`].
    Named,
}

impl Found {
    /// How it was found, for notes: "marked \Sent", "found by its name".
    pub fn describe(self, u: FolderUse) -> String {
        match self {
            Found::Marked => format!("marked {}", u.attribute()),
            Found::Named => "found by its name".into(),
        }
    }
}

/// One side's folder of one use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Special<'a> {
    pub folder: &'a ListedFolder,
    pub found: Found,
}

/// Each use's folder on one side: the first folder marked for it, else the
/// first top-level folder (with or without the namespace prefix) whose name
/// is in the table, compared case-insensitively. A marked folder is never
/// taken by its name for another use, nor is the Inbox. `selectable_only`
/// leaves out unmarked folders that cannot hold messages (for a
/// destination). A marked one is kept even so: a server marks folders that
/// hold mail, and Dovecot 2.3 lists a marked `auto = create` folder as
/// `\Noselect` once a subfolder exists, though it takes messages.
pub fn find<'a>(
    listed: &'a [ListedFolder],
    naming: &Naming,
    selectable_only: bool,
) -> BTreeMap<FolderUse, Special<'a>> {
    // Lower-cased names of unmarked top-level folders, in listed order.
    let top: Vec<(String, &ListedFolder)> = listed
        .iter()
        .filter(|f| f.selectable || !selectable_only)
        .filter(|f| f.special_use.is_none())
        .filter_map(|f| match logical_path(&f.name, naming).as_slice() {
            [one] if !one.eq_ignore_ascii_case("INBOX") => Some((one.to_lowercase(), f)),
            _ => None,
        })
        .collect();
    let mut out = BTreeMap::new();
    for u in FolderUse::EVERY {
        let marked = listed.iter().find(|f| f.special_use == Some(u));
        let special = match marked {
            Some(folder) => Some(Special {
                folder,
                found: Found::Marked,
            }),
            None => names(u).iter().find_map(|n| {
                let n = n.to_lowercase();
                top.iter()
                    .find(|(name, _)| *name == n)
                    .map(|(_, f)| Special {
                        folder: f,
                        found: Found::Named,
                    })
            }),
        };
        if let Some(s) = special {
            out.insert(u, s);
        }
    }
    out
}

/// Gmail's views' names under `[Gmail]/` (`[Google Mail]/` in Germany and
/// the UK), by language, for a server that marks none of them: English,
/// German, French, Spanish. The server's attribute is what counts; these
/// only stand in for it.
const GMAIL_ALL: &[&str] = &["All Mail", "Alle Nachrichten", "Tous les messages", "Todos"];
const GMAIL_STARRED: &[&str] = &["Starred", "Markiert", "Suivis", "Destacados"];
const GMAIL_IMPORTANT: &[&str] = &["Important", "Wichtig", "Importants", "Importantes"];
const GMAIL_ROOTS: &[&str] = &["[Gmail]", "[Google Mail]"];

/// A Gmail view: a folder that shows mail kept in other folders (labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<'a> {
    pub folder: &'a ListedFolder,
    pub usage: FolderUse,
    pub found: Found,
}

/// The views of a side that keeps labels as folders (Gmail): All Mail
/// (`\All`), Starred (`\Flagged`) and Important (`\Important`), by the
/// server's attribute; a use no folder is marked with is looked for by
/// Gmail's names for it, directly under `[Gmail]` or `[Google Mail]`.
pub fn gmail_views<'a>(listed: &'a [ListedFolder], naming: &Naming) -> Vec<View<'a>> {
    let mut out = Vec::new();
    for (usage, names) in [
        (FolderUse::All, GMAIL_ALL),
        (FolderUse::Flagged, GMAIL_STARRED),
        (FolderUse::Important, GMAIL_IMPORTANT),
    ] {
        let marked: Vec<View<'a>> = listed
            .iter()
            .filter(|f| f.special_use == Some(usage))
            .map(|folder| View {
                folder,
                usage,
                found: Found::Marked,
            })
            .collect();
        if !marked.is_empty() {
            out.extend(marked);
            continue;
        }
        let named = listed
            .iter()
            .filter(|f| f.special_use.is_none())
            .find(|f| match logical_path(&f.name, naming).as_slice() {
                [root, name] => {
                    GMAIL_ROOTS.iter().any(|r| r.eq_ignore_ascii_case(root))
                        && names.iter().any(|n| n.eq_ignore_ascii_case(name))
                }
                _ => false,
            });
        out.extend(named.map(|folder| View {
            folder,
            usage,
            found: Found::Named,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::utf7;

    fn folder(name: &str, special_use: Option<FolderUse>) -> ListedFolder {
        ListedFolder {
            raw: utf7::encode(name),
            name: name.into(),
            delimiter: Some('.'),
            selectable: true,
            special_use,
        }
    }

    fn courier() -> Naming {
        Naming {
            prefix: "INBOX.".into(),
            delimiter: Some('.'),
        }
    }

    fn found(listed: &[ListedFolder], u: FolderUse) -> Option<(&str, Found)> {
        find(listed, &courier(), true)
            .get(&u)
            .map(|s| (s.folder.name.as_str(), s.found))
    }

    #[test]
    fn attribute_wins_over_a_name_and_the_first_name_in_table_order_wins() {
        let listed = [
            folder("INBOX", None),
            folder("INBOX.Gesendet", None),
            folder("INBOX.Sent", None),
            folder("INBOX.Elementos enviados", Some(FolderUse::Sent)),
            folder("INBOX.gelöschte objekte", None),
            folder("INBOX.PAPIERKORB", None),
        ];
        assert_eq!(
            found(&listed, FolderUse::Sent),
            Some(("INBOX.Elementos enviados", Found::Marked))
        );
        // "Papierkorb" comes before "Gelöschte Objekte" in the table,
        // whatever the case or the order of the listing.
        assert_eq!(
            found(&listed, FolderUse::Trash),
            Some(("INBOX.PAPIERKORB", Found::Named))
        );
        assert_eq!(found(&listed, FolderUse::Drafts), None);
    }

    #[test]
    fn names_match_top_level_folders_with_or_without_the_prefix_only() {
        let listed = [
            folder("Entwürfe", None),
            folder("INBOX.Projects.Trash", None),
            folder("INBOX.Archiv", None),
        ];
        assert_eq!(
            found(&listed, FolderUse::Drafts),
            Some(("Entwürfe", Found::Named))
        );
        assert_eq!(found(&listed, FolderUse::Trash), None);
        assert_eq!(
            found(&listed, FolderUse::Archive),
            Some(("INBOX.Archiv", Found::Named))
        );
    }

    #[test]
    fn a_marked_folder_is_not_taken_by_its_name_for_another_use() {
        let listed = [
            folder("INBOX.Trash", Some(FolderUse::Junk)),
            folder("INBOX.Spam", None),
        ];
        assert_eq!(
            found(&listed, FolderUse::Junk),
            Some(("INBOX.Trash", Found::Marked))
        );
        assert_eq!(found(&listed, FolderUse::Trash), None);
    }

    #[test]
    fn virtual_uses_are_found_by_attribute_only_and_unselectable_names_can_be_left_out() {
        let mut parent = folder("INBOX.Sent", None);
        parent.selectable = false;
        let mut marked_parent = folder("INBOX.Bin", Some(FolderUse::Trash));
        marked_parent.selectable = false;
        let listed = [
            folder("INBOX.All Mail", None),
            folder("INBOX.Everything", Some(FolderUse::All)),
            parent,
            marked_parent,
        ];
        assert_eq!(
            found(&listed, FolderUse::All),
            Some(("INBOX.Everything", Found::Marked))
        );
        assert_eq!(found(&listed, FolderUse::Sent), None);
        assert!(find(&listed, &courier(), false).contains_key(&FolderUse::Sent));
        assert_eq!(
            found(&listed, FolderUse::Trash),
            Some(("INBOX.Bin", Found::Marked))
        );
    }

    fn slash() -> Naming {
        Naming {
            prefix: String::new(),
            delimiter: Some('/'),
        }
    }

    fn views(listed: &[ListedFolder]) -> Vec<(&str, FolderUse, Found)> {
        gmail_views(listed, &slash())
            .iter()
            .map(|v| (v.folder.name.as_str(), v.usage, v.found))
            .collect()
    }

    #[test]
    fn gmail_views_are_found_by_attribute_whatever_their_language() {
        let listed = [
            folder("INBOX", None),
            folder("[Google Mail]/Alle Nachrichten", Some(FolderUse::All)),
            folder("[Google Mail]/Markiert", Some(FolderUse::Flagged)),
            folder("[Google Mail]/Wichtig", Some(FolderUse::Important)),
            folder("[Google Mail]/Gesendet", Some(FolderUse::Sent)),
            // A label of the same name as a view is a label.
            folder("All Mail", None),
        ];
        assert_eq!(
            views(&listed),
            [
                (
                    "[Google Mail]/Alle Nachrichten",
                    FolderUse::All,
                    Found::Marked
                ),
                ("[Google Mail]/Markiert", FolderUse::Flagged, Found::Marked),
                ("[Google Mail]/Wichtig", FolderUse::Important, Found::Marked),
            ]
        );
    }

    #[test]
    fn without_attributes_gmails_names_under_its_root_stand_in() {
        let listed = [
            folder("INBOX", None),
            folder("[Gmail]", None),
            folder("[Gmail]/All Mail", None),
            folder("[Gmail]/starred", None),
            folder("[Gmail]/Sent Mail", None),
            folder("Projects/Important", None),
            folder("Important", None),
        ];
        assert_eq!(
            views(&listed),
            [
                ("[Gmail]/All Mail", FolderUse::All, Found::Named),
                ("[Gmail]/starred", FolderUse::Flagged, Found::Named),
            ]
        );
        // A mark for one use leaves the names to stand in for the others.
        let mut marked = listed.to_vec();
        marked.push(folder("[Gmail]/Wichtig", Some(FolderUse::Important)));
        assert_eq!(views(&marked).len(), 3);
        assert_eq!(views(&marked)[2].2, Found::Marked);
    }

    #[test]
    fn tables_hold_no_name_twice() {
        let mut seen = std::collections::HashSet::new();
        for u in FolderUse::EVERY {
            for n in names(u) {
                assert!(seen.insert(n.to_lowercase()), "{n} is listed twice");
            }
        }
    }
}
