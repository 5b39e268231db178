//! Sealing secrets at rest: AES-256-GCM under a [`Keyring`] (the current key,
//! and during a rotation the previous one).
//!
//! A sealed value is text, `v1.<key id>.<base64(nonce || ciphertext || tag)>`:
//! the key id (a short fingerprint of the key) says which key opens it, so
//! values sealed before a rotation keep opening until they are re-sealed.
//! The [`Purpose`] is the associated data: a value sealed as one column's
//! content does not open as another's. Nothing here prints a key or a
//! plaintext; errors name key ids only.

use crate::secret::Secret;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;

/// Bytes in a secret key (AES-256).
pub const KEY_LEN: usize = 32;
/// The format's version: the first part of every sealed value.
const VERSION: &str = "v1";
/// Hex characters of the key id.
const KEY_ID_LEN: usize = 8;

/// What a sealed value is for; bound to the ciphertext as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purpose(&'static str);

impl Purpose {
    /// `releases.env`.
    pub const RELEASE_ENV: Purpose = Purpose("release-env");
    /// `webhooks.secret` and `webhooks.previous_secret`.
    pub const WEBHOOK_SECRET: Purpose = Purpose("webhook-secret");
    /// The known value that tells whether a key opens a database.
    pub const KEY_CHECK: Purpose = Purpose("key-check");

    /// A purpose of the caller's: one name per kind of stored value.
    pub const fn new(name: &'static str) -> Purpose {
        Purpose(name)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// Why a key was refused. Never carries the key's text.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("it is not base64; a key is {KEY_LEN} bytes, base64-encoded")]
    NotBase64,
    #[error("it decodes to {0} bytes; a key is {KEY_LEN} bytes, base64-encoded")]
    WrongLength(usize),
}

/// Why a value could not be sealed or opened. Never carries the value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed under key {found}, which is not configured (configured: {configured})")]
    UnknownKey { found: String, configured: String },
    #[error("the sealed value does not authenticate: it was altered, or sealed for another use")]
    Rejected,
    #[error("the system random number generator failed")]
    Random,
}

/// One AES-256 key and its id.
struct Key {
    id: String,
    aead: LessSafeKey,
}

impl Key {
    fn from_base64(text: &str) -> Result<Key, KeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| KeyError::NotBase64)?;
        let bytes = Secret::new(bytes);
        if bytes.expose().len() != KEY_LEN {
            return Err(KeyError::WrongLength(bytes.expose().len()));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes.expose())
            .map_err(|_| KeyError::WrongLength(bytes.expose().len()))?;
        Ok(Key {
            id: key_id(bytes.expose()),
            aead: LessSafeKey::new(unbound),
        })
    }
}

/// The first hex characters of a domain-separated SHA-256 of the key: enough
/// to tell two keys apart, nothing that helps find one.
fn key_id(bytes: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"slipway seal key id\0")
        .chain_update(bytes)
        .finalize();
    digest
        .iter()
        .take(KEY_ID_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new secret key: 32 bytes from the system's CSPRNG, base64-encoded.
pub fn generate_key() -> Result<Secret<String>, SealError> {
    let mut bytes = [0u8; KEY_LEN];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
    Ok(Secret::new(STANDARD.encode(bytes)))
}

/// The keys that seal (the current one) and open (current or previous).
pub struct Keyring {
    current: Key,
    previous: Option<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("previous", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

impl Keyring {
    /// The current key and, during a rotation, the previous one (both
    /// base64 of 32 bytes). A previous key equal to the current is ignored.
    pub fn from_base64(current: &str, previous: Option<&str>) -> Result<Keyring, KeyError> {
        let current = Key::from_base64(current)?;
        let previous = previous.map(Key::from_base64).transpose()?;
        let previous = previous.filter(|p| p.id != current.id);
        Ok(Keyring { current, previous })
    }

    /// A keyring of one fresh random key (tests, first start of `dev`).
    pub fn generate() -> Result<Keyring, SealError> {
        let key = generate_key()?;
        Keyring::from_base64(key.expose(), None).map_err(|_| SealError::Random)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// How every value sealed under the current key begins.
    pub fn current_prefix(&self) -> String {
        format!("{VERSION}.{}.", self.current.id)
    }

    /// The id of the previous key, when there is one.
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.id.as_str())
    }

    /// Seals `plaintext` for `purpose` under the current key, with a fresh
    /// random nonce.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        sealed.extend_from_slice(&nonce);
        let mut in_out = plaintext.to_vec();
        self.current
            .aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_str().as_bytes()),
                &mut in_out,
            )
            .map_err(|_| SealError::Rejected)?;
        sealed.extend_from_slice(&in_out);
        let id = &self.current.id;
        Ok(format!("{VERSION}.{id}.{}", STANDARD_NO_PAD.encode(sealed)))
    }

    /// Opens a value sealed for `purpose` under the current or the previous
    /// key. Fails, and never returns anything, when it does not authenticate.
    pub fn open(&self, purpose: Purpose, sealed: &str) -> Result<Vec<u8>, SealError> {
        let (id, body) = split(sealed).ok_or(SealError::Malformed)?;
        let key = self.key(id).ok_or_else(|| SealError::UnknownKey {
            found: id.to_owned(),
            configured: self.configured(),
        })?;
        let mut data = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if data.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let mut ciphertext = data.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&data).map_err(|_| SealError::Malformed)?;
        let plaintext = key
            .aead
            .open_in_place(
                nonce,
                Aad::from(purpose.as_str().as_bytes()),
                &mut ciphertext,
            )
            .map_err(|_| SealError::Rejected)?;
        Ok(plaintext.to_vec())
    }

    /// [`Keyring::open`] for a value that was sealed from text.
    pub fn open_text(&self, purpose: Purpose, sealed: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(purpose, sealed)?).map_err(|_| SealError::Rejected)
    }

    /// Whether `text` has the sealed format (whichever key sealed it).
    pub fn is_sealed(text: &str) -> bool {
        split(text).is_some()
    }

    /// Whether `sealed` was sealed under the current key: re-sealing it
    /// would change nothing but the nonce.
    pub fn is_current(&self, sealed: &str) -> bool {
        split(sealed).is_some_and(|(id, _)| id == self.current.id)
    }

    fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == id)
    }

    fn configured(&self) -> String {
        match &self.previous {
            Some(previous) => format!("{} and previous {}", self.current.id, previous.id),
            None => self.current.id.clone(),
        }
    }
}

/// `v1.<id>.<body>` into its key id and body.
fn split(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(VERSION)?.strip_prefix('.')?;
    let (id, body) = rest.split_once('.')?;
    let hex = id.len() == KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then_some((id, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::generate().unwrap()
    }

    #[test]
    fn round_trip_for_the_same_purpose() {
        let keys = keyring();
        let sealed = keys.seal(Purpose::RELEASE_ENV, b"API_KEY=hunter2").unwrap();
        assert!(sealed.starts_with(&format!("v1.{}.", keys.current_id())));
        assert!(!sealed.contains("hunter2"));
        assert!(Keyring::is_sealed(&sealed));
        assert!(keys.is_current(&sealed));
        assert_eq!(
            keys.open(Purpose::RELEASE_ENV, &sealed).unwrap(),
            b"API_KEY=hunter2"
        );
        assert_eq!(keys.open(Purpose::RELEASE_ENV, "v1.00000000.").ok(), None);
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let keys = keyring();
        let a = keys.seal(Purpose::RELEASE_ENV, b"same").unwrap();
        let b = keys.seal(Purpose::RELEASE_ENV, b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_value_sealed_for_one_purpose_does_not_open_for_another() {
        let keys = keyring();
        let sealed = keys.seal(Purpose::WEBHOOK_SECRET, b"whsec_x").unwrap();
        assert_eq!(
            keys.open(Purpose::RELEASE_ENV, &sealed),
            Err(SealError::Rejected)
        );
    }

    #[test]
    fn the_previous_key_opens_and_only_the_current_one_seals() {
        let old_key = generate_key().unwrap();
        let old = Keyring::from_base64(old_key.expose(), None).unwrap();
        let sealed = old.seal(Purpose::RELEASE_ENV, b"v").unwrap();
        let new_key = generate_key().unwrap();
        let rotated = Keyring::from_base64(new_key.expose(), Some(old_key.expose())).unwrap();
        assert_eq!(rotated.previous_id(), Some(old.current_id()));
        assert_eq!(rotated.open(Purpose::RELEASE_ENV, &sealed).unwrap(), b"v");
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.seal(Purpose::RELEASE_ENV, b"v").unwrap();
        assert!(rotated.is_current(&resealed));

        let only_new = Keyring::from_base64(new_key.expose(), None).unwrap();
        let err = only_new.open(Purpose::RELEASE_ENV, &sealed).unwrap_err();
        assert_eq!(
            err,
            SealError::UnknownKey {
                found: old.current_id().to_owned(),
                configured: only_new.current_id().to_owned()
            }
        );
        assert_eq!(old.open(Purpose::RELEASE_ENV, &resealed).ok(), None);
    }

    #[test]
    fn any_changed_byte_is_rejected() {
        let keys = keyring();
        let sealed = keys.seal(Purpose::RELEASE_ENV, b"some plaintext").unwrap();
        let prefix = format!("v1.{}.", keys.current_id());
        let body = STANDARD_NO_PAD
            .decode(sealed.strip_prefix(&prefix).unwrap())
            .unwrap();
        for i in 0..body.len() {
            let mut altered = body.clone();
            altered[i] ^= 0x01;
            let text = format!("{prefix}{}", STANDARD_NO_PAD.encode(&altered));
            assert_eq!(
                keys.open(Purpose::RELEASE_ENV, &text),
                Err(SealError::Rejected),
                "byte {i}"
            );
        }
        let short = format!("{prefix}{}", STANDARD_NO_PAD.encode(&body[..NONCE_LEN - 1]));
        assert_eq!(
            keys.open(Purpose::RELEASE_ENV, &short),
            Err(SealError::Malformed)
        );
        for bad in ["", "{}", "whsec_abc", "v1.xyz.abc", "v2.00000000.abc"] {
            assert_eq!(
                keys.open(Purpose::RELEASE_ENV, bad),
                Err(SealError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_errors_do_not_echo_them() {
        assert_eq!(
            Keyring::from_base64("not base64 at all!", None).unwrap_err(),
            KeyError::NotBase64
        );
        let short = STANDARD.encode([7u8; 16]);
        let err = Keyring::from_base64(&short, None).unwrap_err();
        assert_eq!(err, KeyError::WrongLength(16));
        assert!(!err.to_string().contains(&short));
        let good = generate_key().unwrap();
        assert_eq!(
            Keyring::from_base64(good.expose(), Some("???")).unwrap_err(),
            KeyError::NotBase64
        );
        let unpadded = good.expose().trim_end_matches('=').to_owned();
        let a = Keyring::from_base64(good.expose(), None).unwrap();
        let b = Keyring::from_base64(&unpadded, None).unwrap();
        assert_eq!(a.current_id(), b.current_id());
        let debug = format!("{a:?}");
        assert!(!debug.contains(good.expose().as_str()), "{debug}");
        // The same key as previous is no second key.
        let same = Keyring::from_base64(good.expose(), Some(good.expose())).unwrap();
        assert_eq!(same.previous_id(), None);
    }
}
