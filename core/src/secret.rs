//! Secrets: the [`Secret`] wrapper that never prints its contents, and API token
//! helpers (generation, storage hash, constant-time comparison).

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};

/// Prefix of every API token, so leaked tokens are easy to recognise and scan for.
const TOKEN_PREFIX: &str = "slp_";
/// Random bytes in a token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// Base62 digits needed for any 32-byte value: 62^43 > 2^256 > 62^42.
const TOKEN_DIGITS: usize = 43;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A value that never appears in `Debug` or `Display` output (both print
/// `[redacted]`), so it cannot leak through logs or error messages by accident.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value; call sites that reveal a secret are easy to grep for.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A new API token: `slp_` and 43 base62 digits encoding 32 CSPRNG bytes.
pub fn generate_token() -> Secret<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill(&mut bytes);
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_DIGITS);
    token.push_str(TOKEN_PREFIX);
    token.push_str(&base62_fixed(&bytes));
    Secret::new(token)
}

/// Prefix of webhook signing secrets (the Standard Webhooks convention).
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// A new webhook signing secret: `whsec_` and the base64 of 32 CSPRNG bytes.
pub fn generate_webhook_secret() -> Secret<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    Secret::new(format!("{WEBHOOK_SECRET_PREFIX}{encoded}"))
}

/// The lower-case hex SHA-256 of `token`: tokens are stored only as this hash.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares two byte strings in time that depends only on their lengths, so a
/// timing attacker cannot learn how much of a guessed hash matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// `bytes` as a big-endian number in base62, left-padded with `0` to 43 digits.
fn base62_fixed(bytes: &[u8; TOKEN_BYTES]) -> String {
    let mut number = *bytes;
    let mut digits = [b'0'; TOKEN_DIGITS];
    // Always 43 long divisions by 62, least significant digit first: the number
    // is zero by the end since 62^43 > 2^256, and the loop does not depend on it.
    for digit in digits.iter_mut().rev() {
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            // acc < 62 * 256, so the quotient fits a byte.
            *byte = u8::try_from(acc / 62).unwrap_or(u8::MAX);
            remainder = acc % 62;
        }
        *digit = BASE62[remainder as usize];
    }
    digits.iter().map(|&d| char::from(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_have_a_fixed_shape() {
        let token = generate_token();
        let text = token.expose();
        assert_eq!(text.len(), 47);
        assert!(text.starts_with("slp_"));
        assert!(
            text[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
            "{text}"
        );
    }

    #[test]
    fn tokens_are_unique() {
        let tokens: HashSet<String> = (0..1000).map(|_| generate_token().into_inner()).collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn webhook_secrets_carry_32_random_bytes() {
        use base64::Engine;
        let a = generate_webhook_secret().into_inner();
        let b = generate_webhook_secret().into_inner();
        assert_ne!(a, b);
        let key = a.strip_prefix("whsec_").expect("prefix");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64");
        assert_eq!(bytes.len(), 32);
    }

    #[test]
    fn hash_token_matches_the_sha256_test_vector() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{:?}", generate_token()).contains("slp_"));
    }

    #[test]
    fn base62_known_values() {
        assert_eq!(base62_fixed(&[0; 32]), "0".repeat(43));
        assert_eq!(
            base62_fixed(&[0xff; 32]),
            "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1"
        );
        let mut counting = [0u8; 32];
        for (i, b) in counting.iter_mut().enumerate() {
            *b = u8::try_from(i).expect("small");
        }
        assert_eq!(
            base62_fixed(&counting),
            "003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf"
        );
        let mut sixty_two = [0u8; 32];
        sixty_two[31] = 62;
        assert_eq!(base62_fixed(&sixty_two), format!("{}10", "0".repeat(41)));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let hash = hash_token("slp_x");
        assert!(constant_time_eq(
            hash.as_bytes(),
            hash_token("slp_x").as_bytes()
        ));
    }
}
