//! Reading one JSON value of a manifest as the type a field wants, with
//! errors naming the field's path and the value's kind (never the value).

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::domain::InvalidInput;

/// `value` as an object; `what` describes the expected shape for the error.
pub(super) fn as_object<'a>(
    value: &'a Value,
    path: &str,
    what: &str,
) -> Result<&'a Map<String, Value>, InvalidInput> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(InvalidInput::new(
            path,
            format!("must be {what}, not {}", kind(other)),
        )),
    }
}

/// `value` as an object whose keys are all in `allowed`.
pub(super) fn object<'a>(
    value: &'a Value,
    path: &str,
    what: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, InvalidInput> {
    let map = as_object(value, path, what)?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(InvalidInput::new(
            format!("{path}.{}", shown(unknown)),
            format!("unknown field; expected one of {}", allowed.join(", ")),
        ));
    }
    Ok(map)
}

/// A non-empty string.
pub(super) fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, InvalidInput> {
    match value {
        Value::String(s) if s.is_empty() => Err(InvalidInput::new(path, "must not be empty")),
        Value::String(s) => Ok(s),
        other => Err(InvalidInput::new(
            path,
            format!("must be a string, not {}", kind(other)),
        )),
    }
}

pub(super) fn boolean(value: &Value, path: &str) -> Result<bool, InvalidInput> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(InvalidInput::new(
            path,
            format!("must be true or false, not {}", kind(other)),
        )),
    }
}

/// A non-negative integer in `range`; strings, floats and negatives are rejected.
pub(super) fn integer(
    value: &Value,
    path: &str,
    range: RangeInclusive<u64>,
) -> Result<u64, InvalidInput> {
    match value.as_u64() {
        Some(n) => check_range(n, path, range),
        None => Err(InvalidInput::new(
            path,
            format!(
                "must be an integer from {} to {}, not {}",
                range.start(),
                range.end(),
                kind(value)
            ),
        )),
    }
}

pub(super) fn check_range(
    n: u64,
    path: &str,
    range: RangeInclusive<u64>,
) -> Result<u64, InvalidInput> {
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(InvalidInput::new(
            path,
            format!(
                "must be an integer from {} to {}, not {n}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// `map[key]` as an integer in `range` (reported on `path.key`), or `default`.
pub(super) fn optional_integer(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    range: RangeInclusive<u64>,
    default: u32,
) -> Result<u32, InvalidInput> {
    match map.get(key) {
        Some(v) => Ok(narrow(integer(v, &format!("{path}.{key}"), range)?)),
        None => Ok(default),
    }
}

/// Narrows a range-checked integer; every caller's range fits the target type, so
/// the fallback is unreachable but keeps this panic-free.
pub(super) fn narrow<T: TryFrom<u64> + Default>(n: u64) -> T {
    T::try_from(n).unwrap_or_default()
}

pub(super) fn too_long(path: &str, len: usize, limit: usize) -> InvalidInput {
    InvalidInput::new(path, format!("is {len} bytes; the limit is {limit}"))
}

/// Describes a JSON value's type for messages (numbers are not secrets).
pub(super) fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A user-supplied key made safe to echo in a field path: control characters
/// become `?` and very long keys are cut.
pub(super) fn shown(key: &str) -> String {
    const MAX_SHOWN_CHARS: usize = 64;
    let mut out: String = key
        .chars()
        .take(MAX_SHOWN_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if key.chars().count() > MAX_SHOWN_CHARS {
        out.push('…');
    }
    out
}
