//! Tests for env keys, envs, changes and diffs (the product rules for descriptions).

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn change(set: &[(&str, &str)], unset: &[&str]) -> EnvChange {
    EnvChange::parse(map(set), unset.iter().map(|k| (*k).to_owned()).collect()).expect("valid")
}

/// An env whose `KEY=VALUE\n` size is exactly `total` bytes (keys `K00`, `K01`, ...).
fn map_of_total(total: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut left = total;
    for i in 0.. {
        let key = format!("K{i:02}");
        let value_len = (left - key.len() - 2).min(MAX_VALUE_BYTES);
        left -= key.len() + 2 + value_len;
        out.insert(key, "v".repeat(value_len));
        if left == 0 {
            break;
        }
    }
    out
}

#[test]
fn env_key_accepts_valid_keys() {
    for good in [
        "A",
        "_",
        "foo",
        "FOO_BAR_2",
        "_x9",
        &"K".repeat(MAX_KEY_BYTES),
    ] {
        assert_eq!(EnvKey::parse(good).expect(good).as_str(), good);
    }
}

#[test]
fn env_key_rejects_invalid_keys() {
    for bad in [
        "", "1FOO", "FOO-BAR", "FOO BAR", "FOO=BAR", "FÖO", "FOO.BAR",
    ] {
        let err = EnvKey::parse(bad).expect_err(bad);
        assert_eq!(err.field, format!("env.{bad}"));
    }
    let long = "K".repeat(MAX_KEY_BYTES + 1);
    let err = EnvKey::parse(&long).expect_err("too long");
    assert_eq!(err.field, "env");
    assert_eq!(err.message, "key is 257 bytes; the limit is 256");
}

#[test]
fn env_key_never_echoes_control_characters() {
    let err = EnvKey::parse("FOO\n\u{1b}[31m").expect_err("control");
    assert_eq!(err.field, "env");
    assert!(!err.to_string().contains('\u{1b}'));
}

#[test]
fn set_on_empty_env_describes_additions() {
    let env = Env::empty()
        .apply(&change(&[("FOO", "1"), ("BAR", "2")], &[]))
        .expect("fits");
    let diff = EnvDiff::between(&Env::empty(), &env);
    assert_eq!(diff.summary(), "env add:BAR add:FOO");
    assert_eq!(diff.added(), ["BAR", "FOO"]);
}

#[test]
fn set_and_unset_describe_add_change_remove_in_order() {
    let old = Env::parse(map(&[("FOO", "1"), ("BAR", "2")])).expect("valid");
    let new = old
        .apply(&change(&[("BAR", "new"), ("BAZ", "x")], &["FOO"]))
        .expect("fits");
    let diff = EnvDiff::between(&old, &new);
    assert_eq!(diff.summary(), "env add:BAZ change:BAR remove:FOO");
    assert_eq!(diff.changed(), ["BAR"]);
    assert_eq!(diff.removed(), ["FOO"]);
    assert_eq!(new.get("BAR"), Some("new"));
    assert_eq!(new.get("FOO"), None);
}

#[test]
fn no_op_changes_give_an_empty_diff() {
    let old = Env::parse(map(&[("FOO", "1")])).expect("valid");
    let same = old.apply(&change(&[("FOO", "1")], &[])).expect("fits");
    let absent = old.apply(&change(&[], &["NOPE"])).expect("fits");
    for new in [same, absent] {
        let diff = EnvDiff::between(&old, &new);
        assert!(diff.is_empty());
        assert_eq!(diff.summary(), "");
        assert_eq!(new, old);
    }
}

#[test]
fn value_limit_is_inclusive_and_errors_hide_the_value() {
    let at_limit = "S".repeat(MAX_VALUE_BYTES);
    assert!(Env::parse(map(&[("BIG", &at_limit)])).is_ok());

    let over = "SECRET".repeat(MAX_VALUE_BYTES / 6 + 1);
    for err in [
        Env::parse(map(&[("BIG", &over)])).expect_err("over"),
        EnvChange::parse(map(&[("BIG", &over)]), vec![]).expect_err("over"),
    ] {
        assert_eq!(err.field, "env.BIG");
        assert_eq!(
            err.message,
            format!("value is {} bytes; the limit is 32768", over.len())
        );
        assert!(!err.to_string().contains("SECRET"));
    }
}

#[test]
fn total_limit_is_inclusive() {
    let at_limit = map_of_total(MAX_ENV_BYTES);
    assert!(Env::parse(at_limit).is_ok());
    let err = Env::parse(map_of_total(MAX_ENV_BYTES + 1)).expect_err("over");
    assert_eq!(err.field, "env");
    assert_eq!(
        err.message,
        "is 262145 bytes as KEY=VALUE lines; the limit is 262144"
    );
}

#[test]
fn apply_rejects_a_result_over_the_total_limit() {
    let env = Env::parse(map_of_total(MAX_ENV_BYTES - 10)).expect("fits");
    assert!(env.apply(&change(&[("ZZ", "123456")], &[])).is_ok());
    let err = env
        .apply(&change(&[("ZZ", "1234567")], &[]))
        .expect_err("one byte over");
    assert_eq!(err.field, "env");
}

#[test]
fn nul_in_a_value_is_rejected_without_echoing_it() {
    let err = Env::parse(map(&[("A", "hunter2\0")])).expect_err("nul");
    assert_eq!(err.field, "env.A");
    assert!(!err.to_string().contains("hunter2"));
    assert!(EnvChange::parse(map(&[("A", "\0")]), vec![]).is_err());
}

#[test]
fn change_rejects_bad_keys_and_conflicts() {
    let err = EnvChange::parse(map(&[("1A", "x")]), vec![]).expect_err("bad set key");
    assert_eq!(err.field, "env.1A");

    let err = EnvChange::parse(BTreeMap::new(), vec!["A-B".into()]).expect_err("bad unset key");
    assert_eq!(err.field, "unset");
    assert!(err.message.starts_with("A-B: "), "{}", err.message);

    let err = EnvChange::parse(map(&[("A", "1")]), vec!["A".into()]).expect_err("conflict");
    assert_eq!(err, InvalidInput::new("env.A", "is both set and unset"));
}

#[test]
fn debug_prints_keys_but_never_values() {
    let env = Env::parse(map(&[("B", "hunter2"), ("A", "swordfish")])).expect("valid");
    assert_eq!(format!("{env:?}"), r#"Env { keys: ["A", "B"] }"#);
    let change = change(&[("A", "hunter2")], &["C"]);
    let shown = format!("{change:?}");
    assert!(!shown.contains("hunter2") && shown.contains('C'), "{shown}");
}

#[test]
fn accessors_expose_sorted_entries() {
    let env = Env::parse(map(&[("B", "2"), ("A", "1")])).expect("valid");
    assert_eq!(env.len(), 2);
    assert!(!env.is_empty() && Env::empty().is_empty());
    assert_eq!(env.keys().collect::<Vec<_>>(), ["A", "B"]);
    assert_eq!(env.iter().collect::<Vec<_>>(), [("A", "1"), ("B", "2")]);
    assert_eq!(env.as_map(), &map(&[("A", "1"), ("B", "2")]));
    assert_eq!(env.into_map().len(), 2);
}

#[test]
fn serde_is_a_plain_object_and_deserialize_validates() {
    let env = Env::parse(map(&[("A", "1"), ("B", "2")])).expect("valid");
    let json = serde_json::to_string(&env).expect("serialize");
    assert_eq!(json, r#"{"A":"1","B":"2"}"#);
    assert_eq!(
        serde_json::from_str::<Env>(&json).expect("deserialize"),
        env
    );
    let err = serde_json::from_str::<Env>(r#"{"BAD-KEY":"1"}"#).expect_err("bad key");
    assert!(err.to_string().contains("env.BAD-KEY"), "{err}");
}

#[test]
fn diff_serializes_keys_only() {
    let old = Env::parse(map(&[("A", "old-secret")])).expect("valid");
    let new = Env::parse(map(&[("A", "new-secret")])).expect("valid");
    let json = serde_json::to_string(&EnvDiff::between(&old, &new)).expect("serialize");
    assert_eq!(json, r#"{"added":[],"changed":["A"],"removed":[]}"#);
}
