//! The Environment tab's forms read back: the editor's rows (`orig-N`,
//! `key-N`, `value-N`, `remove-N`) turned into the change they ask for
//! against the latest env, and the confirmation's fields (`set-key-N`,
//! `set-value-N`, `unset-N`) that carry that change to the final POST.

use slipway_core::domain::{Env, EnvChange, InvalidInput};
use std::collections::{BTreeMap, BTreeSet};

/// What the confirmed change does besides creating the release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Creates the release only.
    Save,
    /// Creates the release and promotes it.
    Apply,
}

impl Intent {
    pub fn parse(raw: &str) -> Result<Intent, InvalidInput> {
        match raw {
            "save" => Ok(Intent::Save),
            "apply" => Ok(Intent::Apply),
            _ => Err(InvalidInput::new("intent", "must be save or apply")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Save => "save",
            Intent::Apply => "apply",
        }
    }
}

/// The fields of a form, by name; a name given twice keeps the last.
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    pub fn new(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs.into_iter().collect())
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or_default()
    }

    /// The `N`s of the fields named `prefix-N`, in order.
    fn indexes(&self, prefix: &str) -> BTreeSet<u32> {
        self.0
            .keys()
            .filter_map(|name| name.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok())
            .collect()
    }
}

/// One row of the editor: a key of the latest env (`orig`) or a new one.
#[derive(Debug)]
struct Row {
    orig: Option<String>,
    key: String,
    value: String,
    remove: bool,
}

fn rows(fields: &Fields) -> Vec<Row> {
    let mut indexes = fields.indexes("key");
    indexes.extend(fields.indexes("orig"));
    indexes
        .into_iter()
        .map(|n| Row {
            orig: Some(fields.get(&format!("orig-{n}")))
                .filter(|o| !o.is_empty())
                .map(str::to_owned),
            key: fields.get(&format!("key-{n}")).trim().to_owned(),
            value: fields.get(&format!("value-{n}")).to_owned(),
            remove: !fields.get(&format!("remove-{n}")).is_empty(),
        })
        .collect()
}

/// The change the editor's rows ask for against `old`: a row of an
/// existing key with an empty value keeps its value (also when the key is
/// renamed), a checked `remove` drops it, a new row with a key adds it.
/// Keys only in the errors.
pub fn edited_change(old: &Env, fields: &Fields) -> Result<Edit, InvalidInput> {
    let mut new: BTreeMap<String, String> = old.as_map().clone();
    let mut seen = BTreeSet::new();
    // Renamed keys that keep their value: new key -> old key.
    let mut renamed = BTreeMap::new();
    for row in rows(fields) {
        let Some(orig) = row.orig else {
            if row.key.is_empty() {
                continue;
            }
            if !seen.insert(row.key.clone()) || old.get(&row.key).is_some() {
                return Err(twice(&row.key));
            }
            new.insert(row.key, row.value);
            continue;
        };
        let Some(kept) = old.get(&orig) else {
            return Err(InvalidInput::new(
                "env",
                "the form names a key the latest release does not have; reload the page",
            ));
        };
        new.remove(&orig);
        if row.remove {
            continue;
        }
        if row.key.is_empty() {
            return Err(InvalidInput::new(
                "env",
                "a key is empty; tick remove to drop a variable",
            ));
        }
        let value = if row.value.is_empty() {
            if row.key != orig {
                renamed.insert(row.key.clone(), orig.clone());
            }
            kept.to_owned()
        } else {
            row.value
        };
        if !seen.insert(row.key.clone()) {
            return Err(twice(&row.key));
        }
        new.insert(row.key, value);
    }
    let Edit {
        set, unset, change, ..
    } = change_between(old, &new)?;
    // A renamed key's kept value is not carried by the confirmation page
    // (it was never revealed there): the rename is, by name.
    let renames = renamed
        .into_iter()
        .filter(|(to, _)| set.contains_key(to))
        .collect::<BTreeMap<_, _>>();
    let set = set
        .into_iter()
        .filter(|(key, _)| !renames.contains_key(key))
        .collect();
    Ok(Edit {
        set,
        unset,
        renames,
        change,
    })
}

fn twice(key: &str) -> InvalidInput {
    let shown: String = key.chars().take(64).collect();
    InvalidInput::new("env", format!("{shown} appears twice"))
}

/// A validated change with its parts, which the confirmation page carries.
pub struct Edit {
    /// Keys set to a value typed in the form.
    pub set: BTreeMap<String, String>,
    pub unset: Vec<String>,
    /// Keys set to another key's current value (a rename): new -> old.
    pub renames: BTreeMap<String, String>,
    pub change: EnvChange,
}

/// The set and unset that turn `old` into `new`, validated.
fn change_between(old: &Env, new: &BTreeMap<String, String>) -> Result<Edit, InvalidInput> {
    let set: BTreeMap<String, String> = new
        .iter()
        .filter(|(key, value)| old.get(key) != Some(value.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let unset: Vec<String> = old
        .keys()
        .filter(|key| !new.contains_key(*key))
        .map(str::to_owned)
        .collect();
    let change = EnvChange::parse(set.clone(), unset.clone())?;
    Ok(Edit {
        set,
        unset,
        renames: BTreeMap::new(),
        change,
    })
}

/// The change the confirmation page carries, read back against `old`,
/// the env it was made from (renames take their values from it).
pub fn confirmed_change(fields: &Fields, old: &Env) -> Result<EnvChange, InvalidInput> {
    let mut set: BTreeMap<String, String> = fields
        .indexes("set-key")
        .into_iter()
        .map(|n| {
            (
                fields.get(&format!("set-key-{n}")).to_owned(),
                fields.get(&format!("set-value-{n}")).to_owned(),
            )
        })
        .collect();
    for n in fields.indexes("rename-to") {
        let from = fields.get(&format!("rename-from-{n}"));
        let Some(value) = old.get(from) else {
            return Err(InvalidInput::new(
                "env",
                "a renamed key is no longer in the latest release",
            ));
        };
        let to = fields.get(&format!("rename-to-{n}")).to_owned();
        set.insert(to, value.to_owned());
    }
    let unset = fields
        .indexes("unset")
        .into_iter()
        .map(|n| fields.get(&format!("unset-{n}")).to_owned())
        .collect();
    EnvChange::parse(set, unset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::domain::EnvDiff;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::parse(map).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn summary(old: &Env, form: &[(&str, &str)]) -> String {
        let change = edited_change(old, &fields(form)).unwrap().change;
        EnvDiff::between(old, &old.apply(&change).unwrap()).summary()
    }

    #[test]
    fn empty_values_keep_and_rows_add_change_remove_and_rename() {
        let old = env(&[("A", "1"), ("B", "2"), ("C", "3")]);
        let untouched = [
            ("orig-0", "A"),
            ("key-0", "A"),
            ("value-0", ""),
            ("orig-1", "B"),
            ("key-1", "B"),
            ("orig-2", "C"),
            ("key-2", "C"),
            ("key-3", ""),
            ("value-3", ""),
        ];
        assert_eq!(summary(&old, &untouched), "");
        let edited = [
            ("orig-0", "A"),
            ("key-0", "A"),
            ("value-0", "one"),
            ("orig-1", "B"),
            ("key-1", "B"),
            ("remove-1", "1"),
            ("orig-2", "C"),
            ("key-2", "D"),
            ("key-3", "NEW"),
            ("value-3", "x"),
        ];
        assert_eq!(
            summary(&old, &edited),
            "env add:D add:NEW change:A remove:B remove:C"
        );
        let change = edited_change(&old, &fields(&edited)).unwrap().change;
        assert_eq!(old.apply(&change).unwrap().get("D"), Some("3"), "renamed");
    }

    #[test]
    fn duplicates_empty_keys_and_bad_keys_are_refused() {
        let old = env(&[("A", "1")]);
        for form in [
            &[("key-0", "A"), ("value-0", "x")][..],
            &[("key-0", "N"), ("key-1", "N")],
            &[("orig-0", "A"), ("key-0", "")],
            &[("key-0", "<script>")],
            &[("orig-0", "GONE"), ("key-0", "GONE")],
        ] {
            assert!(edited_change(&old, &fields(form)).is_err(), "{form:?}");
        }
    }

    #[test]
    fn the_confirmation_carries_the_change_back() {
        let old = env(&[("A", "1"), ("B", "2"), ("C", "secret")]);
        let edited = [
            ("orig-0", "A"),
            ("key-0", "A"),
            ("value-0", "two"),
            ("orig-1", "B"),
            ("key-1", "B"),
            ("remove-1", "1"),
            ("orig-2", "C"),
            ("key-2", "D"),
        ];
        let edit = edited_change(&old, &fields(&edited)).unwrap();
        assert_eq!(edit.set.keys().collect::<Vec<_>>(), ["A"], "no kept value");
        assert_eq!(edit.renames.get("D").map(String::as_str), Some("C"));
        let form = fields(&[
            ("set-key-0", "A"),
            ("set-value-0", "two"),
            ("unset-0", "B"),
            ("unset-1", "C"),
            ("rename-from-0", "C"),
            ("rename-to-0", "D"),
        ]);
        let change = confirmed_change(&form, &old).unwrap();
        assert_eq!(
            old.apply(&change).unwrap(),
            old.apply(&edit.change).unwrap()
        );
        assert_eq!(change.set_keys().collect::<Vec<_>>(), ["A", "D"]);
        assert_eq!(change.unset_keys().collect::<Vec<_>>(), ["B", "C"]);
        assert_eq!(Intent::parse("apply").unwrap(), Intent::Apply);
        assert!(Intent::parse("other").is_err());
    }
}
