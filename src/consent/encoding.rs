//! The byte encoding every evidence hash of this module (and of `notices` and `flags`)
//! covers: the same primitives as the audit record (`src/audit/record.rs`,
//! `audit/FORMAT.md` §2), so one independent verifier can read both.
//!
//! - `u8`: one byte; `u64`: 8 bytes big-endian; `u32` lengths are 4 bytes big-endian.
//! - `str`: `u32` byte length, then the UTF-8 bytes.
//! - `opt<T>`: `0x00` for none, or `0x01` followed by `T`.
//! - `hash`: 32 raw bytes.
//! - `list<T>`: `u32` count, then each `T`.
//!
//! Every encoding starts with a version byte and a domain tag (`str`), so the encoding of
//! one kind of event can never be read as another kind's.

use crate::audit::merkle::Hash;

/// Builds one canonical encoding.
#[derive(Default)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    /// Starts an encoding: version byte, then the domain tag.
    pub fn new(version: u8, tag: &str) -> Self {
        let mut encoder = Self { out: Vec::with_capacity(256) };
        encoder.out.push(version);
        encoder.str(tag);
        encoder
    }

    fn len(&mut self, len: usize) {
        // Lengths come from validated, bounded inputs far below 4 GiB.
        self.out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }

    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn str(&mut self, value: &str) -> &mut Self {
        self.len(value.len());
        self.out.extend_from_slice(value.as_bytes());
        self
    }

    pub fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            None => self.out.push(0),
            Some(v) => {
                self.out.push(1);
                self.str(v);
            }
        }
        self
    }

    pub fn hash(&mut self, value: &Hash) -> &mut Self {
        self.out.extend_from_slice(value);
        self
    }

    pub fn opt_hash(&mut self, value: Option<&Hash>) -> &mut Self {
        match value {
            None => self.out.push(0),
            Some(h) => {
                self.out.push(1);
                self.out.extend_from_slice(h);
            }
        }
        self
    }

    pub fn list_str<'a>(&mut self, values: impl ExactSizeIterator<Item = &'a str>) -> &mut Self {
        self.len(values.len());
        for value in values {
            self.str(value);
        }
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// SHA-256 of an encoding (the evidence hash an audit record carries).
pub fn sha256(bytes: &[u8]) -> Hash {
    crate::keys::crypto::sha256(bytes)
}

/// A 64-character lowercase hex SHA-256 from the outside.
pub fn parse_hex_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn primitives_encode_as_documented() {
        let bytes = Encoder::new(1, "t")
            .u64(258)
            .str("ab")
            .opt_str(None)
            .opt_str(Some(""))
            .opt_hash(Some(&[7; 32]))
            .list_str(["x", "yz"].into_iter())
            .finish();
        let mut expected =
            vec![1, 0, 0, 0, 1, b't', 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 2, b'a', b'b', 0, 1, 0, 0, 0, 0, 1];
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, b'x', 0, 0, 0, 2, b'y', b'z']);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn hex_hashes_are_64_lowercase_hex_digits() {
        let hash = "ab".repeat(32);
        assert_eq!(parse_hex_hash(&hash), Some([0xab; 32]));
        assert_eq!(parse_hex_hash(&hash.to_uppercase()), None);
        assert_eq!(parse_hex_hash(&hash[..62]), None);
        assert_eq!(parse_hex_hash(&"zz".repeat(32)), None);
    }
}
