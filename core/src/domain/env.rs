//! Environment variables of a release: validated keys ([`EnvKey`]), the immutable
//! env itself ([`Env`]), a requested change ([`EnvChange`]) and the key-level
//! difference between two envs ([`EnvDiff`]) used for release descriptions.
//!
//! Values are secrets: nothing here prints or reports a value, only keys and sizes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::InvalidInput;

/// Longest accepted key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest accepted value, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
/// Largest accepted env, counted as the sum of `KEY=VALUE\n` line lengths.
pub const MAX_ENV_BYTES: usize = 256 * 1024;

/// The field an error about `key` is reported on: `env.KEY`, or plain `env` when
/// the key is not safe to echo (control characters, or too long to be useful).
fn key_field(key: &str) -> String {
    if key.len() <= MAX_KEY_BYTES && !key.chars().any(char::is_control) {
        format!("env.{key}")
    } else {
        "env".to_owned()
    }
}

/// Returns the rule `key` breaks, if any.
fn key_problem(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let Some(first) = bytes.first() else {
        return Some("key must not be empty".to_owned());
    };
    if bytes.len() > MAX_KEY_BYTES {
        return Some(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            bytes.len()
        ));
    }
    let valid = (first.is_ascii_alphabetic() || *first == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if valid {
        None
    } else {
        Some("key must start with a letter or '_' and contain only A-Z, a-z, 0-9 and '_'".into())
    }
}

/// Checks one value; the error names the key only.
fn check_value(key: &str, value: &str) -> Result<(), InvalidInput> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(InvalidInput::new(
            key_field(key),
            format!(
                "value is {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            ),
        ));
    }
    if value.contains('\0') {
        // A NUL cannot be passed to a process through execve's environment.
        return Err(InvalidInput::new(
            key_field(key),
            "value contains a NUL character, which a process environment cannot hold",
        ));
    }
    Ok(())
}

/// Checks the total size of an env whose entries are already valid.
fn check_total(map: &BTreeMap<String, String>) -> Result<(), InvalidInput> {
    let total: usize = map.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if total > MAX_ENV_BYTES {
        return Err(InvalidInput::new(
            "env",
            format!("is {total} bytes as KEY=VALUE lines; the limit is {MAX_ENV_BYTES}"),
        ));
    }
    Ok(())
}

/// An environment variable name: `^[A-Za-z_][A-Za-z0-9_]*$`, at most 256 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvKey(String);

impl EnvKey {
    /// Checks the key rule; errors are reported on field `env.<key>` (or `env`).
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        match key_problem(s) {
            None => Ok(Self(s.to_owned())),
            Some(message) => Err(InvalidInput::new(key_field(s), message)),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::domain::string_newtype_impls!(EnvKey);
/// The key rule as a regular expression, for the OpenAPI document.
const KEY_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

crate::domain::string_schema!(
    EnvKey,
    KEY_PATTERN,
    "An environment variable name, at most 256 bytes."
);

/// An immutable, validated set of environment variables with sorted keys.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// An env with no variables.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Validates every key and value and the total size.
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, InvalidInput> {
        for (key, value) in &map {
            EnvKey::parse(key)?;
            check_value(key, value)?;
        }
        check_total(&map)?;
        Ok(Self(map))
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `(key, value)` pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying sorted map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The underlying sorted map, by value.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The env with `change` applied; fails only if the result is too large.
    pub fn apply(&self, change: &EnvChange) -> Result<Env, InvalidInput> {
        let mut map = self.0.clone();
        for (key, value) in &change.set {
            map.insert(key.clone(), value.clone());
        }
        for key in &change.unset {
            map.remove(key);
        }
        check_total(&map)?;
        Ok(Self(map))
    }
}

impl fmt::Debug for Env {
    /// Keys only: values are secrets and must not reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("keys", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Serialize for Env {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        Env::parse(map).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Env {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Object)
            .property_names(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(KEY_PATTERN)),
            ))
            .additional_properties(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String),
            ))
            .description(Some(
                "Environment variables by key (`^[A-Za-z_][A-Za-z0-9_]*$`); \
                 at most 256 KiB as KEY=VALUE lines.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Env {}

/// A validated request to set and unset variables, applied with [`Env::apply`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvChange {
    set: BTreeMap<String, String>,
    unset: BTreeSet<String>,
}

impl EnvChange {
    /// Validates keys and values; a key may not be both set and unset. Unsetting a
    /// key that is not in the env is allowed and does nothing.
    pub fn parse(set: BTreeMap<String, String>, unset: Vec<String>) -> Result<Self, InvalidInput> {
        for (key, value) in &set {
            EnvKey::parse(key)?;
            check_value(key, value)?;
        }
        let mut unset_keys = BTreeSet::new();
        for key in unset {
            if let Some(problem) = key_problem(&key) {
                let message = match key_field(&key).strip_prefix("env.") {
                    Some(shown) => format!("{shown}: {problem}"),
                    None => problem,
                };
                return Err(InvalidInput::new("unset", message));
            }
            if set.contains_key(&key) {
                return Err(InvalidInput::new(key_field(&key), "is both set and unset"));
            }
            unset_keys.insert(key);
        }
        Ok(Self {
            set,
            unset: unset_keys,
        })
    }

    /// Keys to set, in order.
    pub fn set_keys(&self) -> impl Iterator<Item = &str> {
        self.set.keys().map(String::as_str)
    }

    /// Keys to unset, in order.
    pub fn unset_keys(&self) -> impl Iterator<Item = &str> {
        self.unset.iter().map(String::as_str)
    }
}

impl fmt::Debug for EnvChange {
    /// Keys only, like [`Env`]'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvChange")
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .field("unset", &self.unset)
            .finish()
    }
}

/// Which keys differ between two envs (keys only, never values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EnvDiff {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
}

impl EnvDiff {
    /// The keys added, changed and removed going from `old` to `new`, each sorted.
    pub fn between(old: &Env, new: &Env) -> Self {
        let mut diff = Self::default();
        for (key, value) in new.iter() {
            match old.get(key) {
                None => diff.added.push(key.to_owned()),
                Some(previous) if previous != value => diff.changed.push(key.to_owned()),
                Some(_) => {}
            }
        }
        diff.removed = old
            .keys()
            .filter(|key| new.get(key).is_none())
            .map(str::to_owned)
            .collect();
        diff
    }

    /// Keys present only in the new env.
    pub fn added(&self) -> &[String] {
        &self.added
    }

    /// Keys present in both with different values.
    pub fn changed(&self) -> &[String] {
        &self.changed
    }

    /// Keys present only in the old env.
    pub fn removed(&self) -> &[String] {
        &self.removed
    }

    /// Whether the two envs are equal.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// Convox's release description: `env add:A change:B remove:C`, or `""` when
    /// nothing changed.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = String::from("env");
        let groups = [
            ("add", &self.added),
            ("change", &self.changed),
            ("remove", &self.removed),
        ];
        for (verb, keys) in groups {
            for key in keys {
                out.push(' ');
                out.push_str(verb);
                out.push(':');
                out.push_str(key);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
