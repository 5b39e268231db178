//! Release descriptions: an explicit [`Description`], the [`GitInfo`] a build came
//! from, and the Convox-style defaults (`build <sha> <subject>`, `env add:...`,
//! `rollback to R...`) used when no description is given.

use crate::domain::{string_newtype_impls, EnvDiff, InvalidInput, ReleaseId};

/// Longest accepted description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest accepted git commit message, in bytes.
const MAX_GIT_MESSAGE_BYTES: usize = 64 * 1024;
/// Accepted git sha lengths: abbreviated (4) up to SHA-256 (64).
const GIT_SHA_LEN: std::ops::RangeInclusive<usize> = 4..=64;
/// Length of the sha shown in descriptions.
const SHORT_SHA_LEN: usize = 10;

/// An explicit, single-line release description of at most 1024 characters. It may
/// be empty: an explicit empty description still replaces the default.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Description(String);

impl Description {
    /// Rejects control characters (including newlines and tabs) and overlong text.
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        if s.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "description",
                "must be a single line without control characters (newlines, tabs, ...)",
            ));
        }
        let chars = s.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(InvalidInput::new(
                "description",
                format!("is {chars} characters; the limit is {MAX_DESCRIPTION_CHARS}"),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The description as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_newtype_impls!(Description);

/// The commit a build was made from: its sha (lower-case hex) and subject line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GitInfo {
    sha: String,
    subject: String,
}

impl GitInfo {
    /// Validates the sha (4-64 hex digits, either case) and the message (at most
    /// 64 KiB), keeping the message's first line, trimmed, as the subject.
    pub fn parse(sha: &str, message: Option<&str>) -> Result<Self, InvalidInput> {
        if !GIT_SHA_LEN.contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidInput::new(
                "git_sha",
                "must be 4 to 64 hexadecimal digits",
            ));
        }
        let message = message.unwrap_or("");
        if message.len() > MAX_GIT_MESSAGE_BYTES {
            return Err(InvalidInput::new(
                "git_message",
                format!(
                    "is {} bytes; the limit is {MAX_GIT_MESSAGE_BYTES}",
                    message.len()
                ),
            ));
        }
        // `lines` also drops a trailing `\r`; other control characters would corrupt
        // a one-line description, so they become spaces.
        let first_line = message.lines().next().unwrap_or("");
        let subject: String = first_line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Ok(Self {
            sha: sha.to_ascii_lowercase(),
            subject: subject.trim().to_owned(),
        })
    }

    /// The full sha, lower-case.
    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// The first 10 characters of the sha (all of it if shorter).
    pub fn short_sha(&self) -> &str {
        // The sha is ASCII, so any byte index is a char boundary.
        &self.sha[..self.sha.len().min(SHORT_SHA_LEN)]
    }

    /// The commit's subject line; empty when there was no message.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// The description of a release made by a build: the explicit one if given, else
/// `build <short sha> <subject>` from git, else empty.
pub fn build_description(explicit: Option<&Description>, git: Option<&GitInfo>) -> String {
    match (explicit, git) {
        (Some(description), _) => description.as_str().to_owned(),
        (None, Some(git)) if git.subject().is_empty() => format!("build {}", git.short_sha()),
        (None, Some(git)) => format!("build {} {}", git.short_sha(), git.subject()),
        (None, None) => String::new(),
    }
}

/// The description of a release made by an env change: the explicit one if given,
/// else the diff's summary (`env add:A change:B remove:C`).
pub fn env_description(explicit: Option<&Description>, diff: &EnvDiff) -> String {
    match explicit {
        Some(description) => description.as_str().to_owned(),
        None => diff.summary(),
    }
}

/// The description of a release made by rolling back to `to`.
pub fn rollback_description(to: &ReleaseId) -> String {
    format!("rollback to {to}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Env, EnvChange};
    use std::collections::BTreeMap;

    fn git(sha: &str, message: Option<&str>) -> GitInfo {
        GitInfo::parse(sha, message).expect("valid git info")
    }

    #[test]
    fn build_description_uses_short_sha_and_subject() {
        let info = git(
            "7329df90c1abcdef",
            Some("this is my commit message\n\nbody"),
        );
        assert_eq!(info.short_sha(), "7329df90c1");
        assert_eq!(
            build_description(None, Some(&info)),
            "build 7329df90c1 this is my commit message"
        );
    }

    #[test]
    fn build_description_without_subject_or_git() {
        assert_eq!(
            build_description(None, Some(&git("7329DF90C1", None))),
            "build 7329df90c1"
        );
        assert_eq!(
            build_description(None, Some(&git("abcd", Some("\nbody")))),
            "build abcd"
        );
        assert_eq!(build_description(None, None), "");
    }

    #[test]
    fn explicit_description_wins_even_when_empty() {
        let info = git("7329df90c1", Some("msg"));
        let explicit = Description::parse("hotfix").expect("valid");
        assert_eq!(build_description(Some(&explicit), Some(&info)), "hotfix");
        let empty = Description::parse("").expect("valid");
        assert_eq!(build_description(Some(&empty), Some(&info)), "");

        let old = Env::empty();
        let set = BTreeMap::from([("A".to_owned(), "1".to_owned())]);
        let new = old
            .apply(&EnvChange::parse(set, vec![]).expect("valid"))
            .expect("fits");
        let diff = EnvDiff::between(&old, &new);
        assert_eq!(env_description(None, &diff), "env add:A");
        assert_eq!(env_description(Some(&explicit), &diff), "hotfix");
    }

    #[test]
    fn rollback_description_names_the_release() {
        let id = ReleaseId::parse("RABCDEFGHIJ").expect("valid");
        assert_eq!(rollback_description(&id), "rollback to RABCDEFGHIJ");
    }

    #[test]
    fn subject_is_trimmed_and_cleaned() {
        let info = git("abcd", Some("  fix\tthe\u{7}bug \r\nmore"));
        assert_eq!(info.subject(), "fix the bug");
        assert_eq!(info.sha(), "abcd");
    }

    #[test]
    fn bad_shas_are_rejected() {
        for bad in ["", "abc", "xyz1234", "7329df90c1 ", &"a".repeat(65), "é329"] {
            let err = GitInfo::parse(bad, None).expect_err(bad);
            assert_eq!(err.field, "git_sha");
        }
        assert!(GitInfo::parse(&"A".repeat(64), None).is_ok());
    }

    #[test]
    fn overlong_git_message_is_rejected() {
        let message = "m".repeat(MAX_GIT_MESSAGE_BYTES + 1);
        let err = GitInfo::parse("abcd", Some(&message)).expect_err("too long");
        assert_eq!(err.field, "git_message");
        assert!(GitInfo::parse("abcd", Some(&message[1..])).is_ok());
    }

    #[test]
    fn descriptions_must_be_short_single_lines() {
        assert!(Description::parse(&"é".repeat(1024)).is_ok());
        let err = Description::parse(&"a".repeat(1025)).expect_err("too long");
        assert_eq!(
            err,
            InvalidInput::new("description", "is 1025 characters; the limit is 1024")
        );
        for bad in ["two\nlines", "cr\r", "tab\there", "bell\u{7}", "\u{85}"] {
            assert_eq!(Description::parse(bad).expect_err(bad).field, "description");
        }
        let d: Description = serde_json::from_str("\"ship it\"").expect("valid");
        assert_eq!(d.clone().into_string(), "ship it");
        assert!(serde_json::from_str::<Description>("\"a\\nb\"").is_err());
    }
}
