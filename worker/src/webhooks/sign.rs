//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): an
//! HMAC-SHA256 over `{msg_id}.{timestamp}.{body}`, sent as `v1,<base64>` in the
//! `webhook-signature` header, one entry per key so secrets can rotate without
//! downtime.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// The prefix that marks a symmetric Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// Key sizes the specification allows: at least 24 bytes, at most 512 bits.
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// Reads secrets with or without `=` padding; both are seen in the wild.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signing secret, `whsec_` + base64 of 24 to 64 key bytes.
///
/// `Debug` does not print the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// Parses a `whsec_…` secret.
    pub fn parse(secret: &str) -> Result<SigningKey, BadSecret> {
        let encoded = secret
            .strip_prefix(PREFIX)
            .ok_or(BadSecret::MissingPrefix)?;
        let key = LENIENT.decode(encoded).map_err(|_| BadSecret::NotBase64)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(BadSecret::WrongLength(key.len()));
        }
        Ok(SigningKey(key))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// Why a signing secret was rejected. Messages never echo the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSecret {
    /// The secret does not start with `whsec_`.
    #[error("a webhook signing secret must start with \"whsec_\"")]
    MissingPrefix,
    /// What follows `whsec_` is not standard base64.
    #[error("a webhook signing secret must be \"whsec_\" followed by standard base64")]
    NotBase64,
    /// The key is too short or too long.
    #[error("a webhook signing secret must encode 24 to 64 bytes, not {0}")]
    WrongLength(usize),
}

/// `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`.
///
/// `msg_id` must not contain `.`; Slipway's event ids never do.
pub fn sign(key: &SigningKey, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC accepts keys of any length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one `v1,…` per key, space-separated, in key order.
pub fn signature_header(keys: &[SigningKey], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| sign(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks test vector, from the reference library's test
    // "sign function works" in standard-webhooks/standard-webhooks,
    // libraries/javascript/src/webhook.test.ts (commit 10d3e46d7); the same
    // values appear in the other reference libraries' tests.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const OTHER_SECRET: &str = "whsec_c2xpcHdheS10ZXN0LWtleS1mb3Itcm90YXRpb24=";

    fn key(secret: &str) -> SigningKey {
        SigningKey::parse(secret).expect(secret)
    }

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let signature = sign(
            &key(VECTOR_SECRET),
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        );
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn one_key_gives_one_signature() {
        let header = signature_header(
            &[key(VECTOR_SECRET)],
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        );
        assert_eq!(header, VECTOR_SIGNATURE);
    }

    #[test]
    fn two_keys_give_two_space_separated_signatures_in_key_order() {
        let keys = [key(VECTOR_SECRET), key(OTHER_SECRET)];
        let header = signature_header(&keys, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2, "{header}");
        assert_eq!(parts[0], VECTOR_SIGNATURE);
        assert_eq!(
            parts[1],
            sign(&keys[1], VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
        );
        assert_ne!(parts[0], parts[1]);
        assert!(parts[1].starts_with("v1,"));
        assert_eq!(signature_header(&[], VECTOR_MSG_ID, 0, b""), "");
    }

    #[test]
    fn every_signed_part_changes_the_signature() {
        let k = key(VECTOR_SECRET);
        let base = sign(&k, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_ne!(base, sign(&k, "msg_other", VECTOR_TIMESTAMP, VECTOR_BODY));
        assert_ne!(
            base,
            sign(&k, VECTOR_MSG_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY)
        );
        assert_ne!(base, sign(&k, VECTOR_MSG_ID, VECTOR_TIMESTAMP, b"{}"));
    }

    #[test]
    fn padding_is_optional_when_parsing() {
        let padded = key(OTHER_SECRET);
        let unpadded = key(OTHER_SECRET.trim_end_matches('='));
        assert_eq!(padded, unpadded);
    }

    #[test]
    fn bad_secrets_are_rejected_without_echoing_them() {
        let cases = [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", BadSecret::MissingPrefix),
            (
                "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                BadSecret::MissingPrefix,
            ),
            ("whsec_not*base64!", BadSecret::NotBase64),
            ("whsec_", BadSecret::WrongLength(0)),
            ("whsec_c2hvcnQ=", BadSecret::WrongLength(5)),
            (
                &format!("whsec_{}", STANDARD.encode([7u8; 65])),
                BadSecret::WrongLength(65),
            ),
        ];
        for (secret, expected) in cases {
            let err = SigningKey::parse(secret).expect_err(secret);
            assert_eq!(err, expected, "{secret}");
            let encoded = secret.trim_start_matches("whsec_");
            assert!(encoded.is_empty() || !err.to_string().contains(encoded));
        }
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let shown = format!("{:?}", key(VECTOR_SECRET));
        assert_eq!(shown, "SigningKey(..)");
    }
}
