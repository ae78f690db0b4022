//! The cryptographic primitives Custodia is built from, each behind one small API.
//!
//! Owns: 256-bit secret keys that cannot be printed, AES-256-GCM sealing with a
//! self-describing header (format version, key id, nonce), HKDF subkeys, HMAC and
//! SHA-256, and the unambiguous encoding of associated data. It does not know about
//! tenants, parties or storage; callers decide what a key and its associated data mean.
//!
//! Invariants: a sealed value opens only with the same key *and* the same associated
//! data; any change to header, nonce, ciphertext, tag or associated data is an
//! integrity error, never different plaintext. Key bytes never reach `Debug`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Format byte at the start of every sealed value, so the layout can evolve.
const SEAL_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 64;

/// Why a cryptographic operation failed. Carries no key or plaintext material.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The sealed value, its key or its associated data do not match: tampered,
    /// moved to another place, or opened with the wrong key.
    #[error("integrity check failed")]
    Integrity,
    /// The sealed value is not in a format this build understands.
    #[error("malformed sealed value")]
    Malformed,
    /// The operating system's random number generator failed.
    #[error("random number generator unavailable")]
    Random,
}

/// A 256-bit secret key. Zeroed on drop; `Debug` never shows the bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Key256([u8; 32]);

impl std::fmt::Debug for Key256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key256(<redacted>)")
    }
}

impl Key256 {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random_bytes::<32>()?))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Accepts exactly 32 bytes; anything else is malformed key material.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(array))
    }

    /// Raw bytes, for wrapping under another key or writing a key file.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Derives an independent subkey for one purpose (HKDF-SHA256, RFC 5869).
    /// Different `info` gives unrelated keys, which is how one root key serves
    /// several purposes without them ever sharing a key.
    pub fn derive(&self, info: &[&[u8]]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"custodia/hkdf/v1");
        let prk = salt.extract(&self.0);
        // Length-prefix each part so that different part lists never give the same info.
        let encoded: Vec<Vec<u8>> =
            info.iter().flat_map(|part| [(part.len() as u32).to_be_bytes().to_vec(), part.to_vec()]).collect();
        let info: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let mut out = [0u8; 32];
        // PANIC SAFETY: ring only fails for output lengths over 255 * 32 bytes; ours is 32.
        #[allow(clippy::expect_used)]
        prk.expand(&info, KeyLen32).and_then(|okm| okm.fill(&mut out)).expect("HKDF expand of 32 bytes cannot fail");
        Self(out)
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn hmac(&self, message: &[u8]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, message);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

struct KeyLen32;
impl hkdf::KeyType for KeyLen32 {
    fn len(&self) -> usize {
        32
    }
}

/// Random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// Encodes associated-data parts with length prefixes, so that ("ab", "c") and
/// ("a", "bc") never produce the same bytes.
pub fn associated_data(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Encrypts `plaintext` with AES-256-GCM under `key`, binding it to `aad`.
///
/// Layout: `[format=1][key_id_len][key_id][nonce: 12][ciphertext ‖ tag: 16]`. The key
/// id travels in the clear so a reader knows which key opens the value; it is also
/// authenticated, because callers put it in `aad`.
pub fn seal(key: &Key256, key_id: &str, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN {
        return Err(CryptoError::Malformed);
    }
    let nonce = random_bytes::<NONCE_LEN>()?;
    let cipher = Aes256Gcm::new_from_slice(key.expose()).map_err(|_| CryptoError::Malformed)?;
    let body = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &full_aad(key_id, aad) })
        .map_err(|_| CryptoError::Integrity)?;
    let mut out = Vec::with_capacity(2 + key_id.len() + NONCE_LEN + body.len());
    out.push(SEAL_FORMAT_V1);
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decrypts a value made by [`seal`]; fails unless key and `aad` both match.
pub fn open(key: &Key256, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let parts = SealedParts::parse(sealed)?;
    let cipher = Aes256Gcm::new_from_slice(key.expose()).map_err(|_| CryptoError::Malformed)?;
    cipher
        .decrypt(Nonce::from_slice(parts.nonce), Payload { msg: parts.body, aad: &full_aad(parts.key_id, aad) })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Integrity)
}

/// The key id named in a sealed value's header, to pick the key that opens it.
pub fn sealed_key_id(sealed: &[u8]) -> Result<&str, CryptoError> {
    Ok(SealedParts::parse(sealed)?.key_id)
}

/// The header's key id is authenticated on its own as well as through the caller's
/// associated data, so swapping headers can never go unnoticed.
fn full_aad(key_id: &str, aad: &[u8]) -> Vec<u8> {
    let mut out = associated_data(&["custodia/seal/v1", key_id]);
    out.extend_from_slice(aad);
    out
}

struct SealedParts<'a> {
    key_id: &'a str,
    nonce: &'a [u8],
    body: &'a [u8],
}

impl<'a> SealedParts<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, CryptoError> {
        let (&format, rest) = sealed.split_first().ok_or(CryptoError::Malformed)?;
        if format != SEAL_FORMAT_V1 {
            return Err(CryptoError::Malformed);
        }
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (key_id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(key_id).map_err(|_| CryptoError::Malformed)?;
        let (nonce, body) = rest.split_at(NONCE_LEN);
        Ok(Self { key_id, nonce, body })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> Key256 {
        Key256::generate().unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_associated_data() {
        let k = key();
        let sealed = seal(&k, "dk1", b"ctx", b"secret value").unwrap();
        assert_eq!(&open(&k, b"ctx", &sealed).unwrap()[..], b"secret value");
        assert_eq!(sealed_key_id(&sealed).unwrap(), "dk1");
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let k = key();
        assert_ne!(seal(&k, "dk1", b"a", b"v").unwrap(), seal(&k, "dk1", b"a", b"v").unwrap());
    }

    #[test]
    fn a_flipped_bit_anywhere_is_an_integrity_or_format_error() {
        let k = key();
        let sealed = seal(&k, "dk1", b"ctx", b"secret value").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let err = open(&k, b"ctx", &bad).unwrap_err();
            assert!(matches!(err, CryptoError::Integrity | CryptoError::Malformed), "byte {i}");
        }
    }

    #[test]
    fn other_associated_data_or_key_fails() {
        let k = key();
        let sealed = seal(&k, "dk1", b"party-a|name", b"v").unwrap();
        assert_eq!(open(&k, b"party-b|name", &sealed).unwrap_err(), CryptoError::Integrity);
        assert_eq!(open(&key(), b"party-a|name", &sealed).unwrap_err(), CryptoError::Integrity);
    }

    #[test]
    fn truncated_or_empty_input_is_malformed() {
        let k = key();
        let sealed = seal(&k, "dk1", b"", b"v").unwrap();
        for len in 0..sealed.len() {
            assert!(open(&k, b"", &sealed[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn associated_data_parts_are_unambiguous() {
        assert_ne!(associated_data(&["ab", "c"]), associated_data(&["a", "bc"]));
    }

    #[test]
    fn derived_subkeys_are_independent_and_stable() {
        let root = key();
        let a = root.derive(&[b"blind-index", b"phone"]);
        let b = root.derive(&[b"blind-index", b"email"]);
        assert_ne!(a, b);
        assert_eq!(a, root.derive(&[b"blind-index", b"phone"]));
        assert_ne!(a.hmac(b"x"), b.hmac(b"x"));
        assert_ne!(root.derive(&[b"ab", b"c"]), root.derive(&[b"a", b"bc"]), "info parts are unambiguous");
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let k = Key256::from_bytes([0xAB; 32]);
        let shown = format!("{k:?}");
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab"), "{shown}");
    }
}
