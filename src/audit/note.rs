//! Signed notes, checkpoints and cosignatures in the public C2SP formats, with Ed25519 via `ring`.
//!
//! Why: the audit log publishes the heads of its Merkle trees as signed checkpoints, so that anyone
//! holding the log's verifier key, and any witness that cosigns, can detect a forked or rewritten log.
//! Using the public formats rather than our own lets existing tools (Go's `sumdb/note`, witnesses,
//! monitors) check our log without custom code:
//!
//! * signed notes: <https://c2sp.org/signed-note>, keys in the text encodings of Go's
//!   `golang.org/x/mod/sumdb/note` (`PRIVATE+KEY+<name>+<id>+<base64>` and `<name>+<id>+<base64>`);
//! * checkpoints: <https://c2sp.org/tlog-checkpoint>;
//! * cosignatures: <https://c2sp.org/tlog-cosignature>, the Ed25519 `cosignature/v1` type (0x04).
//!
//! Parsing is strict: anything the specifications forbid is refused rather than repaired, and base64
//! must be canonical, so a parsed note re-serialises to exactly the bytes it was parsed from.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::digest::{Context, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use std::fmt;
use zeroize::Zeroizing;

/// Signature type byte of plain Ed25519 note signatures (signed-note, "Signature types").
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of timestamped Ed25519 witness cosignatures (tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Most signature lines a note may carry; more is refused when parsing and when adding.
///
/// The spec asks verifiers for a limit of at least 16; 100 is what Go's `sumdb/note` uses, so any
/// note Go accepts we accept too, while a hostile note cannot make us verify without bound.
pub const MAX_SIGNATURES: usize = 100;

/// Largest cosignature timestamp allowed: tlog-cosignature says it MUST NOT exceed 2^63 - 1.
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

const SIGNATURE_PREFIX: &str = "\u{2014} ";
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";
const COSIGNATURE_HEADER: &str = "cosignature/v1\n";
const SEED_LEN: usize = 32;
const PUBLIC_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
const KEY_ID_LEN: usize = 4;
const TIMESTAMP_LEN: usize = 8;
const ROOT_LEN: usize = 32;
/// Length of base64(alg || 32 bytes): 33 bytes encode to 44 characters without padding.
const KEY_MATERIAL_B64_LEN: usize = 44;

/// Why a key, note, checkpoint or cosignature was refused.
///
/// The variants are stable so callers can match on them; the `&'static str` reasons are for people
/// and may be reworded. No variant ever carries secret key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or contains a '+', a Unicode space or an ASCII control character.
    #[error("invalid key name")]
    InvalidKeyName,
    /// Key text does not have the `[PRIVATE+KEY+]<name>+<8 hex>+<base64>` shape.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// Key text is for another signature type than the one asked for.
    #[error("unsupported key algorithm {found:#04x}, expected {expected:#04x}")]
    UnsupportedAlgorithm {
        /// The type byte this kind of key must have.
        expected: u8,
        /// The type byte found in the key text.
        found: u8,
    },
    /// The key id written in key text is not the one computed from the name and key.
    #[error("key id does not match the key")]
    KeyIdMismatch,
    /// The system random number generator failed while generating a key.
    #[error("key generation failed")]
    KeyGeneration,
    /// Text to be signed is not valid note text.
    #[error("invalid note text: {0}")]
    InvalidText(&'static str),
    /// A signed note does not follow the signed-note format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A single signature line does not follow the signed-note format.
    #[error("malformed signature line: {0}")]
    MalformedSignature(&'static str),
    /// A note has, or would get, more than [`MAX_SIGNATURES`] signature lines.
    #[error("too many signatures (limit {0})")]
    TooManySignatures(usize),
    /// Signing was asked for with no signing key.
    #[error("no signing keys given")]
    NoSigners,
    /// A note already carries a signature by this key.
    #[error("duplicate signature by key {name}+{key_id:08x}")]
    DuplicateSignature {
        /// Key name of the signature.
        name: String,
        /// Key id of the signature.
        key_id: u32,
    },
    /// Two different trusted keys share this name and key id, so a signature cannot be attributed.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// Key name shared by the keys.
        name: String,
        /// Key id shared by the keys.
        key_id: u32,
    },
    /// A signature by a trusted key does not verify: the note must be rejected as a whole.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name of the failing signature.
        name: String,
        /// Key id of the failing signature.
        key_id: u32,
    },
    /// No signature of the note is by a trusted key.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// A signature was checked against a key whose name or id it does not carry.
    #[error("signature is not by key {name}+{key_id:08x}")]
    KeyMismatch {
        /// Key name of the key asked for.
        name: String,
        /// Key id of the key asked for.
        key_id: u32,
    },
    /// Checkpoint text or fields do not follow tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A cosignature timestamp is above 2^63 - 1.
    #[error("cosignature timestamp {0} exceeds 2^63-1")]
    TimestampOutOfRange(u64),
}

type Result<T> = std::result::Result<T, NoteError>;

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Checks a key name against the spec: non-empty, no '+', no Unicode space, and (so that it can
/// appear in a note at all) no ASCII control character.
fn check_name(name: &str) -> Result<()> {
    let bad_char = |c: char| c == '+' || c.is_whitespace() || c < ' ';
    if name.is_empty() || name.chars().any(bad_char) {
        return Err(NoteError::InvalidKeyName);
    }
    Ok(())
}

/// Returns why `text` cannot be note text, if it cannot: it must end in a newline and contain no
/// ASCII control character other than newline.
fn note_text_problem(text: &str) -> Option<&'static str> {
    if !text.ends_with('\n') {
        return Some("text must end with a newline");
    }
    if has_forbidden_control(text) {
        return Some("text contains a control character");
    }
    None
}

/// Reports whether `s` holds an ASCII control character other than newline.
fn has_forbidden_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 && b != b'\n')
}

/// Computes the key id: the first four bytes, big-endian, of SHA-256(name || "\n" || alg || key).
fn compute_key_id(name: &str, alg: u8, public: &[u8; PUBLIC_LEN]) -> u32 {
    let mut ctx = Context::new(&SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[alg]);
    ctx.update(public);
    let digest = ctx.finish();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest.as_ref()[..KEY_ID_LEN]);
    u32::from_be_bytes(id)
}

/// Parses the 8-digit lowercase hex key id of key text.
fn parse_key_id(hex: &str) -> Result<u32> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if hex.len() != 2 * KEY_ID_LEN || !hex.bytes().all(lower_hex) {
        return Err(NoteError::MalformedKey("key id must be 8 lowercase hex digits"));
    }
    u32::from_str_radix(hex, 16).map_err(|_| NoteError::MalformedKey("key id must be 8 lowercase hex digits"))
}

/// The three '+'-separated fields of key text (after any `PRIVATE+KEY+` prefix).
struct KeyFields<'a> {
    name: &'a str,
    key_id: u32,
    material: &'a str,
}

/// Splits `<name>+<hex id>+<base64>`; the base64 part may itself contain '+', the name may not.
fn split_key_text(text: &str) -> Result<KeyFields<'_>> {
    let (name, rest) = text.split_once('+').ok_or(NoteError::MalformedKey("missing key id"))?;
    let (hex, material) = rest.split_once('+').ok_or(NoteError::MalformedKey("missing key material"))?;
    check_name(name)?;
    let key_id = parse_key_id(hex)?;
    Ok(KeyFields { name, key_id, material })
}

/// Verifies an Ed25519 signature; any length other than 64 bytes simply fails.
fn ed25519_verify(public: &[u8; PUBLIC_LEN], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public).verify(message, signature).is_ok()
}

/// Renders `<name>+<8 hex>` as used in key text and error messages.
fn name_and_id(name: &str, key_id: u32) -> String {
    format!("{name}+{key_id:08x}")
}

// ---------------------------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------------------------

/// A named Ed25519 public key of one signature type; shared by log and witness verifier keys.
#[derive(Clone, PartialEq, Eq)]
struct PublicKeyInfo {
    name: String,
    alg: u8,
    key_id: u32,
    public: [u8; PUBLIC_LEN],
}

impl PublicKeyInfo {
    fn new(name: &str, alg: u8, public: [u8; PUBLIC_LEN]) -> Result<Self> {
        check_name(name)?;
        Ok(Self { name: name.to_owned(), alg, key_id: compute_key_id(name, alg, &public), public })
    }

    fn parse(text: &str, alg: u8) -> Result<Self> {
        let fields = split_key_text(text)?;
        let raw = STANDARD
            .decode(fields.material)
            .map_err(|_| NoteError::MalformedKey("key material is not canonical base64"))?;
        let (&found, key) = raw.split_first().ok_or(NoteError::MalformedKey("empty key material"))?;
        if found != alg {
            return Err(NoteError::UnsupportedAlgorithm { expected: alg, found });
        }
        let public: [u8; PUBLIC_LEN] =
            key.try_into().map_err(|_| NoteError::MalformedKey("public key must be 32 bytes"))?;
        let info = Self::new(fields.name, alg, public)?;
        if info.key_id != fields.key_id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(info)
    }

    fn to_text(&self) -> String {
        let mut raw = [0u8; 1 + PUBLIC_LEN];
        raw[0] = self.alg;
        raw[1..].copy_from_slice(&self.public);
        format!("{}+{}", name_and_id(&self.name, self.key_id), STANDARD.encode(raw))
    }

    fn matches(&self, signature: &NoteSignature) -> bool {
        self.name == signature.name && self.key_id == signature.key_id
    }
}

impl fmt::Debug for PublicKeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Finds the one trusted key with the signature's name and id; two different such keys are an
/// error, because the signature could then not be attributed.
fn find_key<'a>(
    known: impl Iterator<Item = &'a PublicKeyInfo>,
    signature: &NoteSignature,
) -> Result<Option<&'a PublicKeyInfo>> {
    let mut found: Option<&PublicKeyInfo> = None;
    for key in known.filter(|k| k.matches(signature)) {
        match found {
            Some(previous) if previous.public != key.public => {
                return Err(NoteError::AmbiguousKey { name: key.name.clone(), key_id: key.key_id });
            }
            _ => found = Some(key),
        }
    }
    Ok(found)
}

/// A log's Ed25519 verifier key (type 0x01), as `<name>+<hex8 id>+<base64(0x01 || key)>`.
///
/// Why: this is the public half that auditors pin to check the log's checkpoints; the text form is
/// Go's `sumdb/note` vkey, so the same string works with Go tooling.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey(PublicKeyInfo);

impl VerifierKey {
    /// Builds a verifier key from a name and raw public key, computing its key id.
    pub fn new(name: &str, public_key: [u8; PUBLIC_LEN]) -> Result<Self> {
        PublicKeyInfo::new(name, ALG_ED25519, public_key).map(Self)
    }

    /// Parses verifier key text, checking the name rules, the type byte and the key id.
    pub fn parse(text: &str) -> Result<Self> {
        PublicKeyInfo::parse(text, ALG_ED25519).map(Self)
    }

    /// Returns the canonical text form, which [`VerifierKey::parse`] accepts.
    pub fn to_text(&self) -> String {
        self.0.to_text()
    }

    /// The key name, which signature lines by this key carry.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The key id, which signature lines by this key carry in their first four bytes.
    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_LEN] {
        &self.0.public
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey").field(&self.0).finish()
    }
}

/// A witness's cosignature verifier key (type 0x04), as `<name>+<hex8 id>+<base64(0x04 || key)>`.
///
/// Why a separate type from [`VerifierKey`]: a cosignature signs a different message and its key id
/// uses another type byte, so the two must never be interchangeable.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessVerifierKey(PublicKeyInfo);

impl WitnessVerifierKey {
    /// Builds a witness verifier key from a name and raw public key, computing its key id.
    pub fn new(name: &str, public_key: [u8; PUBLIC_LEN]) -> Result<Self> {
        PublicKeyInfo::new(name, ALG_COSIGNATURE_V1, public_key).map(Self)
    }

    /// Parses witness verifier key text, checking the name rules, the type byte and the key id.
    pub fn parse(text: &str) -> Result<Self> {
        PublicKeyInfo::parse(text, ALG_COSIGNATURE_V1).map(Self)
    }

    /// Returns the canonical text form, which [`WitnessVerifierKey::parse`] accepts.
    pub fn to_text(&self) -> String {
        self.0.to_text()
    }

    /// The witness (cosigner) name, which its signature lines carry.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The key id, computed with type byte 0x04.
    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_LEN] {
        &self.0.public
    }
}

impl fmt::Debug for WitnessVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WitnessVerifierKey").field(&self.0).finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Secret keys
// ---------------------------------------------------------------------------------------------

/// Private key text (`PRIVATE+KEY+...`), wiped from memory on drop and never printed by `Debug`.
///
/// Why a wrapper instead of `String`: a plain string is too easy to log by accident (`{:?}`, or a
/// struct deriving `Debug`). `Display` and [`PrivateKeyText::expose_secret`] do give the text, for
/// writing the key file; copies made from them are the caller's to protect.
pub struct PrivateKeyText(Zeroizing<String>);

impl PrivateKeyText {
    /// Returns the secret text; call only where it is written to its protected store.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

/// Writes the secret text: this is the one deliberate way out, for writing the key file.
impl fmt::Display for PrivateKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PrivateKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyText(<redacted>)")
    }
}

/// An Ed25519 seed with its name, type byte and derived public key; shared by both signing keys.
///
/// Only the seed is kept (zeroed on drop); ring's expanded key pair is derived for each signature
/// so that no unwiped copy of the private scalar outlives a signing call.
struct SecretKeyInfo {
    public: PublicKeyInfo,
    seed: Zeroizing<[u8; SEED_LEN]>,
}

impl SecretKeyInfo {
    fn from_seed(name: &str, alg: u8, seed: Zeroizing<[u8; SEED_LEN]>) -> Result<Self> {
        let pair = key_pair(&seed)?;
        let mut public = [0u8; PUBLIC_LEN];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(Self { public: PublicKeyInfo::new(name, alg, public)?, seed })
    }

    fn generate(name: &str, alg: u8) -> Result<Self> {
        check_name(name)?;
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        SystemRandom::new().fill(&mut seed[..]).map_err(|_| NoteError::KeyGeneration)?;
        Self::from_seed(name, alg, seed)
    }

    fn parse(text: &str, alg: u8) -> Result<Self> {
        let rest = text.strip_prefix(PRIVATE_PREFIX).ok_or(NoteError::MalformedKey("missing PRIVATE+KEY+ prefix"))?;
        let fields = split_key_text(rest)?;
        let mut raw = Zeroizing::new([0u8; 1 + SEED_LEN]);
        let decoded = STANDARD
            .decode_slice(fields.material, &mut raw[..])
            .map_err(|_| NoteError::MalformedKey("key material is not canonical base64 of 33 bytes"))?;
        if decoded != raw.len() {
            return Err(NoteError::MalformedKey("key material is not canonical base64 of 33 bytes"));
        }
        if raw[0] != alg {
            return Err(NoteError::UnsupportedAlgorithm { expected: alg, found: raw[0] });
        }
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        seed.copy_from_slice(&raw[1..]);
        let key = Self::from_seed(fields.name, alg, seed)?;
        if key.public.key_id != fields.key_id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(key)
    }

    /// Writes the private text without leaving unwiped copies of the seed in our own buffers.
    fn to_text(&self) -> PrivateKeyText {
        let mut raw = Zeroizing::new([0u8; 1 + SEED_LEN]);
        raw[0] = self.public.alg;
        raw[1..].copy_from_slice(&self.seed[..]);
        let mut encoded = Zeroizing::new([0u8; KEY_MATERIAL_B64_LEN]);
        // Cannot fail: 33 bytes always encode to exactly 44 characters. Were it to, the text would
        // merely be unparseable, never wrong.
        let written = STANDARD.encode_slice(&raw[..], &mut encoded[..]).unwrap_or(0);
        let head = name_and_id(&self.public.name, self.public.key_id);
        let mut text = Zeroizing::new(String::with_capacity(PRIVATE_PREFIX.len() + head.len() + 1 + written));
        text.push_str(PRIVATE_PREFIX);
        text.push_str(&head);
        text.push('+');
        text.extend(encoded[..written].iter().map(|&b| char::from(b)));
        PrivateKeyText(text)
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        let signature = key_pair(&self.seed)?.sign(message);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(signature.as_ref());
        Ok(out)
    }

    fn debug(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(kind)
            .field("name", &self.public.name)
            .field("key_id", &format_args!("{:08x}", self.public.key_id))
            .field("seed", &format_args!("<redacted>"))
            .finish()
    }
}

/// Expands a seed into ring's key pair; only fails if ring rejects a 32-byte seed, which it does not.
fn key_pair(seed: &[u8; SEED_LEN]) -> Result<Ed25519KeyPair> {
    Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| NoteError::MalformedKey("Ed25519 seed rejected"))
}

/// A log's Ed25519 signing key (type 0x01), in Go's `PRIVATE+KEY+<name>+<id>+<base64>` text form.
///
/// Why: it signs the log's checkpoints. The seed is wiped on drop and `Debug` never shows it.
pub struct SigningKey(SecretKeyInfo);

impl SigningKey {
    /// Generates a new key from the system random number generator.
    pub fn generate(name: &str) -> Result<Self> {
        SecretKeyInfo::generate(name, ALG_ED25519).map(Self)
    }

    /// Parses private key text, checking the name, the type byte and that the key id matches.
    pub fn parse(text: &str) -> Result<Self> {
        SecretKeyInfo::parse(text, ALG_ED25519).map(Self)
    }

    /// Returns the private key text, which [`SigningKey::parse`] accepts, wrapped against leaks.
    pub fn to_text(&self) -> PrivateKeyText {
        self.0.to_text()
    }

    /// Returns the matching verifier key, to hand to anyone who must check our signatures.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey(self.0.public.clone())
    }

    /// The key name, written on every signature line.
    pub fn name(&self) -> &str {
        &self.0.public.name
    }

    /// The key id, written at the start of every signature.
    pub fn key_id(&self) -> u32 {
        self.0.public.key_id
    }

    /// Signs note text (which must already be valid) into a signature line.
    fn sign_text(&self, text: &str) -> Result<NoteSignature> {
        let signature = self.0.sign(text.as_bytes())?;
        Ok(NoteSignature { name: self.name().to_owned(), key_id: self.key_id(), signature: signature.to_vec() })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("SigningKey", f)
    }
}

/// A witness's cosigning key (type 0x04), as `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>`.
///
/// Why a separate type from [`SigningKey`]: a witness key must only ever produce timestamped
/// cosignatures, never plain note signatures, and its key id is computed with type byte 0x04.
pub struct WitnessKey(SecretKeyInfo);

impl WitnessKey {
    /// Generates a new witness key from the system random number generator.
    pub fn generate(name: &str) -> Result<Self> {
        SecretKeyInfo::generate(name, ALG_COSIGNATURE_V1).map(Self)
    }

    /// Parses witness private key text; the type byte must be 0x04 and the key id must match.
    pub fn parse(text: &str) -> Result<Self> {
        SecretKeyInfo::parse(text, ALG_COSIGNATURE_V1).map(Self)
    }

    /// Returns the private key text, which [`WitnessKey::parse`] accepts, wrapped against leaks.
    pub fn to_text(&self) -> PrivateKeyText {
        self.0.to_text()
    }

    /// Returns the matching witness verifier key, to hand to those who count cosignatures.
    pub fn verifier(&self) -> WitnessVerifierKey {
        WitnessVerifierKey(self.0.public.clone())
    }

    /// The witness name, written on every cosignature line.
    pub fn name(&self) -> &str {
        &self.0.public.name
    }

    /// The key id (type byte 0x04), written at the start of every cosignature.
    pub fn key_id(&self) -> u32 {
        self.0.public.key_id
    }

    /// Cosigns a checkpoint body at `timestamp` (POSIX seconds), returning the signature.
    ///
    /// The body must parse as a checkpoint, so a witness key never signs anything else.
    pub fn cosign(&self, checkpoint_body: &str, timestamp: u64) -> Result<NoteSignature> {
        Checkpoint::parse(checkpoint_body)?;
        let message = cosignature_message(checkpoint_body, timestamp)?;
        let signature = self.0.sign(&message)?;
        let mut bytes = Vec::with_capacity(TIMESTAMP_LEN + SIGNATURE_LEN);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature);
        Ok(NoteSignature { name: self.name().to_owned(), key_id: self.key_id(), signature: bytes })
    }
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("WitnessKey", f)
    }
}

// ---------------------------------------------------------------------------------------------
// Signature lines and notes
// ---------------------------------------------------------------------------------------------

/// One signature line of a note: key name, key id and the signature bytes after the key id.
///
/// Why keep unknown ones: a note is re-served with all its lines (for example a checkpoint that
/// witnesses cosigned), and the spec requires ignoring, not dropping, what we cannot verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one line `— <name> <base64(key id || signature)>`, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<Self> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.contains('\n') || has_forbidden_control(line) {
            return Err(NoteError::MalformedSignature("control character in signature line"));
        }
        let rest =
            line.strip_prefix(SIGNATURE_PREFIX).ok_or(NoteError::MalformedSignature("missing em dash prefix"))?;
        let (name, encoded) = rest.split_once(' ').ok_or(NoteError::MalformedSignature("missing signature"))?;
        check_name(name).map_err(|_| NoteError::MalformedSignature("invalid key name"))?;
        let raw =
            STANDARD.decode(encoded).map_err(|_| NoteError::MalformedSignature("signature is not canonical base64"))?;
        if raw.len() <= KEY_ID_LEN {
            return Err(NoteError::MalformedSignature("signature too short"));
        }
        let (id, signature) = raw.split_at(KEY_ID_LEN);
        let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        Ok(Self { name: name.to_owned(), key_id, signature: signature.to_vec() })
    }

    /// Returns the line, em dash first and newline last, exactly as it appears in a note.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(KEY_ID_LEN + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    /// The key name on the line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id from the first four bytes of the signature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key id (for a cosignature: timestamp then Ed25519 signature).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// A signed note: text ending in a newline and one to [`MAX_SIGNATURES`] signature lines.
///
/// Why a type and not a string: it keeps the text and the lines apart so that cosignatures can be
/// appended and the note re-served byte for byte; a `Note` is always well-formed and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Signs `text` with each key, in order, producing a note.
    pub fn sign(text: &str, signers: &[&SigningKey]) -> Result<Self> {
        if let Some(problem) = note_text_problem(text) {
            return Err(NoteError::InvalidText(problem));
        }
        if signers.is_empty() {
            return Err(NoteError::NoSigners);
        }
        let mut note = Self { text: text.to_owned(), signatures: Vec::with_capacity(signers.len()) };
        for signer in signers {
            note.push_signature(signer.sign_text(text)?)?;
        }
        Ok(note)
    }

    /// Parses a signed note strictly: valid UTF-8, no control characters but newline, text and
    /// signatures split at the last blank line, every line after it a well-formed signature line.
    pub fn parse(message: &str) -> Result<Self> {
        if has_forbidden_control(message) {
            return Err(NoteError::MalformedNote("control character in note"));
        }
        let split = message.rfind("\n\n").ok_or(NoteError::MalformedNote("no blank line before signatures"))?;
        let (text, block) = (&message[..split + 1], &message[split + 2..]);
        let body =
            block.strip_suffix('\n').ok_or(NoteError::MalformedNote("signature block must end with a newline"))?;
        let mut signatures = Vec::new();
        for line in body.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures(MAX_SIGNATURES));
            }
            signatures.push(NoteSignature::parse_line(line).map_err(malformed_note)?);
        }
        Ok(Self { text: text.to_owned(), signatures })
    }

    /// Parses a signed note from bytes, refusing invalid UTF-8.
    pub fn parse_bytes(message: &[u8]) -> Result<Self> {
        let message = std::str::from_utf8(message).map_err(|_| NoteError::MalformedNote("not valid UTF-8"))?;
        Self::parse(message)
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All signature lines, in order, verified or not.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Serialises the note: text, blank line, one line per signature.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out
    }

    /// Adds our own signature by `key` after the existing lines.
    pub fn sign_with(&mut self, key: &SigningKey) -> Result<()> {
        let signature = key.sign_text(&self.text)?;
        self.push_signature(signature)
    }

    /// Appends a signature line (for example a witness's cosignature) without checking it.
    ///
    /// Refused if the note already has a line with the same key name and id, or is full.
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<()> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(MAX_SIGNATURES));
        }
        let same_key = |s: &NoteSignature| s.name == signature.name && s.key_id == signature.key_id;
        if self.signatures.iter().any(same_key) {
            return Err(NoteError::DuplicateSignature { name: signature.name, key_id: signature.key_id });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Parses and appends one signature line, as a witness returns it.
    pub fn push_signature_line(&mut self, line: &str) -> Result<()> {
        self.push_signature(NoteSignature::parse_line(line)?)
    }

    /// Verifies the note against trusted log keys.
    ///
    /// Lines whose name and id match no trusted key are ignored (and listed as unverified); every
    /// line that matches a trusted key must verify, or the whole note is refused; at least one must.
    pub fn verify(&self, known: &[VerifierKey]) -> Result<VerifiedNote> {
        let mut verified: Vec<VerifierKey> = Vec::new();
        let mut unverified = Vec::new();
        for signature in &self.signatures {
            let Some(key) = find_key(known.iter().map(|k| &k.0), signature)? else {
                unverified.push(signature.clone());
                continue;
            };
            if !ed25519_verify(&key.public, self.text.as_bytes(), &signature.signature) {
                return Err(invalid_signature(signature));
            }
            if !verified.iter().any(|v| v.0 == *key) {
                verified.push(VerifierKey(key.clone()));
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(VerifiedNote { note: self.clone(), verified, unverified })
    }

    /// Verifies the cosignatures of trusted witnesses on this (checkpoint) note.
    ///
    /// Lines of unknown keys are ignored; a line by a trusted witness that fails is an error. The
    /// result may be empty: how many cosignatures suffice is the caller's policy.
    pub fn verify_cosignatures(&self, witnesses: &[WitnessVerifierKey]) -> Result<Vec<VerifiedCosignature>> {
        let mut out: Vec<VerifiedCosignature> = Vec::new();
        for signature in &self.signatures {
            let Some(key) = find_key(witnesses.iter().map(|k| &k.0), signature)? else {
                continue;
            };
            let witness = WitnessVerifierKey(key.clone());
            let timestamp = verify_cosignature(&self.text, signature, &witness)?;
            if !out.iter().any(|c| c.witness == witness) {
                out.push(VerifiedCosignature { witness, timestamp });
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Turns a signature-line error met while parsing a whole note into a note error.
fn malformed_note(error: NoteError) -> NoteError {
    match error {
        NoteError::MalformedSignature(reason) => NoteError::MalformedNote(reason),
        other => other,
    }
}

fn invalid_signature(signature: &NoteSignature) -> NoteError {
    NoteError::InvalidSignature { name: signature.name.clone(), key_id: signature.key_id }
}

/// A note whose signatures by trusted keys all verified, with at least one such signature.
///
/// Why a distinct type: code that needs a verified checkpoint can demand this one in its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<VerifierKey>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        self.note.text()
    }

    /// The whole note, all lines kept, for re-serialising or adding cosignatures.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The trusted keys that signed, each once, in order of first appearance.
    pub fn verified_keys(&self) -> &[VerifierKey] {
        &self.verified
    }

    /// The lines by keys not in the trusted list, left unchecked.
    pub fn unverified_signatures(&self) -> &[NoteSignature] {
        &self.unverified
    }
}

/// Signs `text` (which must end in a newline) with each key and returns the signed note text.
pub fn sign_note(text: &str, signers: &[&SigningKey]) -> Result<String> {
    Note::sign(text, signers).map(|note| note.to_text())
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/// A transparency log checkpoint: the note text naming a tree head.
///
/// Why: this is what the log signs and witnesses cosign. The project adds one extension line,
/// `time <RFC 3339 UTC>`; extension lines are opaque here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (first line); non-empty, no control characters.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 Merkle tree root hash at `size`.
    pub root: [u8; ROOT_LEN],
    /// Extension lines after the root, each non-empty, without newline.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parses checkpoint note text strictly: at least three non-empty lines ending in a newline,
    /// a decimal size without leading zeros, and a root that is canonical base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(problem) = note_text_problem(text) {
            return Err(NoteError::MalformedCheckpoint(problem));
        }
        let mut lines = text.strip_suffix('\n').unwrap_or(text).split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines.next().ok_or(NoteError::MalformedCheckpoint("missing size line"))?;
        let root = lines.next().ok_or(NoteError::MalformedCheckpoint("missing root hash line"))?;
        let checkpoint = Self {
            origin: origin.to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
            extensions: lines.map(str::to_owned).collect(),
        };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    /// Checks that the fields can be written as checkpoint text that parses back to them.
    pub fn validate(&self) -> Result<()> {
        check_line(&self.origin).map_err(|_| NoteError::MalformedCheckpoint("origin must be a non-empty line"))?;
        for extension in &self.extensions {
            check_line(extension).map_err(|_| NoteError::MalformedCheckpoint("extension lines must be non-empty"))?;
        }
        Ok(())
    }

    /// Writes the note text: origin, size, base64 root, then each extension line, each ending in
    /// a newline.
    ///
    /// Infallible so it can feed [`sign_note`] directly; fields that [`Checkpoint::validate`]
    /// refuses (an empty origin, a newline inside a line) give text that does not parse back to
    /// the same checkpoint, so callers taking fields from outside should validate first.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for extension in &self.extensions {
            out.push_str(extension);
            out.push('\n');
        }
        out
    }
}

/// Accepts a non-empty line free of newlines and other control characters.
fn check_line(line: &str) -> std::result::Result<(), ()> {
    if line.is_empty() || line.contains('\n') || has_forbidden_control(line) {
        return Err(());
    }
    Ok(())
}

/// Parses the tree size: ASCII decimal, no sign, no leading zero unless it is "0", fits in u64.
fn parse_size(line: &str) -> Result<u64> {
    let bad = NoteError::MalformedCheckpoint("size must be a decimal number without leading zeros");
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) || (line.len() > 1 && line.starts_with('0')) {
        return Err(bad);
    }
    line.parse::<u64>().map_err(|_| bad)
}

/// Parses the root hash: canonical padded standard base64 of exactly 32 bytes.
fn parse_root(line: &str) -> Result<[u8; ROOT_LEN]> {
    let bad = || NoteError::MalformedCheckpoint("root hash must be base64 of 32 bytes");
    let raw = STANDARD.decode(line).map_err(|_| bad())?;
    raw.try_into().map_err(|_| bad())
}

// ---------------------------------------------------------------------------------------------
// Cosignatures
// ---------------------------------------------------------------------------------------------

/// A witness cosignature that verified: who, and the time the witness stated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCosignature {
    /// The trusted witness key that cosigned.
    pub witness: WitnessVerifierKey,
    /// The cosignature timestamp, POSIX seconds.
    pub timestamp: u64,
}

/// Builds the signed message of an Ed25519 cosignature/v1: the header line, the time line and the
/// checkpoint body.
fn cosignature_message(checkpoint_body: &str, timestamp: u64) -> Result<Vec<u8>> {
    if timestamp > MAX_COSIGNATURE_TIMESTAMP {
        return Err(NoteError::TimestampOutOfRange(timestamp));
    }
    Ok(format!("{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_body}").into_bytes())
}

/// Cosigns a checkpoint body with a witness key and returns the signature line (with newline).
pub fn cosign(checkpoint_body: &str, timestamp: u64, key: &WitnessKey) -> Result<String> {
    key.cosign(checkpoint_body, timestamp).map(|signature| signature.to_line())
}

/// Verifies one cosignature on a checkpoint body against a witness key; returns its timestamp.
///
/// The line must carry the witness's name and key id, the body must be a checkpoint, and the
/// signature must be 8 timestamp bytes and an Ed25519 signature over the cosignature/v1 message.
pub fn verify_cosignature(
    checkpoint_body: &str,
    signature: &NoteSignature,
    witness: &WitnessVerifierKey,
) -> Result<u64> {
    if !witness.0.matches(signature) {
        return Err(NoteError::KeyMismatch { name: witness.name().to_owned(), key_id: witness.key_id() });
    }
    Checkpoint::parse(checkpoint_body)?;
    if signature.signature.len() != TIMESTAMP_LEN + SIGNATURE_LEN {
        return Err(invalid_signature(signature));
    }
    let (time, ed25519) = signature.signature.split_at(TIMESTAMP_LEN);
    let mut time_bytes = [0u8; TIMESTAMP_LEN];
    time_bytes.copy_from_slice(time);
    let timestamp = u64::from_be_bytes(time_bytes);
    let message = cosignature_message(checkpoint_body, timestamp)?;
    if !ed25519_verify(witness.public_key(), &message, ed25519) {
        return Err(invalid_signature(signature));
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // From golang.org/x/mod/sumdb/note note_test.go.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str =
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str =
        "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // From transparency-dev/formats note_cosigv1_test.go: a real witness's 0x04 verifier key.
    const REMORA_WITNESS_VKEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

    // From c2sp.org/tlog-checkpoint and tlog-cosignature (examples in the specs).
    const SPEC_BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const SPEC_COSIG: &str = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    // Computed independently with Python's `cryptography` package (seed bytes 0..32 for the witness,
    // 32..64 for the log), hashing and formatting by hand per the specs; not by this module.
    const PY_WITNESS_SKEY: &str =
        "PRIVATE+KEY+witness.example/w1+e75f6532+BAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
    const PY_WITNESS_VKEY: &str = "witness.example/w1+e75f6532+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const PY_COSIG_TIME: u64 = 1679315147;
    const PY_COSIG: &str = "— witness.example/w1 519lMgAAAABkGFDLBuRDazBLVac2NE+Y+IjbjQOcXLfF9CSDZVUIoS83rE1nFZsVE8YiWV6Ngr7lV8H6bdoBQGP/l73euDMQ9k+bBQ==\n";
    const PY_LOG_SKEY: &str =
        "PRIVATE+KEY+example.com/behind-the-sofa+13e30ba2+ASAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/";
    const PY_LOG_VKEY: &str = "example.com/behind-the-sofa+13e30ba2+ASmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X";
    const PY_LOG_SIG: &str = "— example.com/behind-the-sofa E+MLootScofIiK0RZI/1vBb3DLwLb9bRvYSiPagYXhmOMuCwTwTFDFGPPIh+bN0lJBDcB8sSuVirgwX2FlEsjzuB1gQ=\n";

    type TestResult = std::result::Result<(), NoteError>;

    fn peter() -> Result<SigningKey> {
        SigningKey::parse(PETER_SKEY)
    }

    fn seeded(name: &str, byte: u8) -> Result<SigningKey> {
        SecretKeyInfo::from_seed(name, ALG_ED25519, Zeroizing::new([byte; SEED_LEN])).map(SigningKey)
    }

    fn seeded_witness(name: &str, byte: u8) -> Result<WitnessKey> {
        SecretKeyInfo::from_seed(name, ALG_COSIGNATURE_V1, Zeroizing::new([byte; SEED_LEN])).map(WitnessKey)
    }

    fn checkpoint_body() -> String {
        Checkpoint {
            origin: "custodia.example/audit/t1".to_owned(),
            size: 42,
            root: [7u8; ROOT_LEN],
            extensions: vec!["time 2026-11-23T12:00:00Z".to_owned()],
        }
        .to_text()
    }

    // --- keys -------------------------------------------------------------------------------

    #[test]
    fn go_keys_parse_and_round_trip() -> TestResult {
        let vkey = VerifierKey::parse(PETER_VKEY)?;
        assert_eq!(vkey.name(), "PeterNeumann");
        assert_eq!(vkey.key_id(), 0xc74f20a3);
        assert_eq!(vkey.to_text(), PETER_VKEY);
        let skey = peter()?;
        assert_eq!(skey.verifier(), vkey);
        assert_eq!(skey.to_text().expose_secret(), PETER_SKEY);
        // Display is the deliberate way to write the key file.
        assert_eq!(format!("{}\n", skey.to_text()), format!("{PETER_SKEY}\n"));
        assert_eq!(VerifierKey::parse(ENOCH_VKEY)?.to_text(), ENOCH_VKEY);
        Ok(())
    }

    #[test]
    fn mangled_verifier_keys_are_rejected() {
        let bytes = PETER_VKEY.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if i != 0 || j != bytes.len() {
                    let s = String::from_utf8_lossy(&bytes[i..j]);
                    assert!(VerifierKey::parse(&s).is_err(), "accepted {s:?}");
                }
            }
        }
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] += 1;
            let s = String::from_utf8_lossy(&b);
            assert!(VerifierKey::parse(&s).is_err(), "accepted {s:?}");
        }
        // From the Go test: wrong key length and unknown algorithm, each with a matching key id.
        let wrong_len = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
        assert!(VerifierKey::parse(wrong_len).is_err());
        let bad_alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        assert_eq!(VerifierKey::parse(bad_alg), Err(NoteError::UnsupportedAlgorithm { expected: 1, found: 0x65 }));
    }

    #[test]
    fn mangled_signing_keys_are_rejected() {
        let bytes = PETER_SKEY.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if i != 0 || j != bytes.len() {
                    let s = String::from_utf8_lossy(&bytes[i..j]);
                    assert!(SigningKey::parse(&s).is_err(), "accepted {s:?}");
                }
            }
        }
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] += 1;
            let s = String::from_utf8_lossy(&b);
            assert!(SigningKey::parse(&s).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn key_text_rules() {
        assert_eq!(
            VerifierKey::parse(&PETER_VKEY.replace("c74f20a3", "C74F20A3")).map(|_| ()),
            Err(NoteError::MalformedKey("key id must be 8 lowercase hex digits"))
        );
        assert_eq!(VerifierKey::parse(&PETER_VKEY.replace("c74f20a3", "c74f20a4")), Err(NoteError::KeyIdMismatch));
        assert_eq!(
            SigningKey::parse(&PETER_SKEY.replace("c74f20a3", "c74f20a4")).err(),
            Some(NoteError::KeyIdMismatch)
        );
        assert!(VerifierKey::parse(&format!("{PETER_VKEY} ")).is_err());
        assert!(VerifierKey::parse(&format!("{PETER_VKEY}\n")).is_err());
        assert!(VerifierKey::parse("").is_err());
        // A 0x01 key is not a witness key and vice versa.
        assert_eq!(
            WitnessVerifierKey::parse(PETER_VKEY).err(),
            Some(NoteError::UnsupportedAlgorithm { expected: 4, found: 1 })
        );
        assert_eq!(
            VerifierKey::parse(REMORA_WITNESS_VKEY).err(),
            Some(NoteError::UnsupportedAlgorithm { expected: 1, found: 4 })
        );
        assert_eq!(
            WitnessKey::parse(PETER_SKEY).err(),
            Some(NoteError::UnsupportedAlgorithm { expected: 4, found: 1 })
        );
    }

    #[test]
    fn name_rules() {
        for bad in ["", "a+b", "a b", "a\tb", "a\u{a0}b", "a\u{2003}b", "a\u{1}b", "a\nb"] {
            assert_eq!(SigningKey::generate(bad).err(), Some(NoteError::InvalidKeyName), "{bad:?}");
            assert_eq!(VerifierKey::new(bad, [0; 32]).err(), Some(NoteError::InvalidKeyName), "{bad:?}");
        }
        for good in ["a", "example.com/log", "ünïcødé/名前", "oid/1.3.6.1.4.1"] {
            assert!(VerifierKey::new(good, [0; 32]).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn generated_keys_round_trip() -> TestResult {
        let key = SigningKey::generate("custodia.example/audit")?;
        let again = SigningKey::parse(key.to_text().expose_secret())?;
        assert_eq!(again.verifier(), key.verifier());
        assert_eq!(VerifierKey::parse(&key.verifier().to_text())?, key.verifier());
        let witness = WitnessKey::generate("witness.example/w9")?;
        let again = WitnessKey::parse(witness.to_text().expose_secret())?;
        assert_eq!(again.verifier(), witness.verifier());
        assert_eq!(WitnessVerifierKey::parse(&witness.verifier().to_text())?, witness.verifier());
        assert_ne!(SigningKey::generate("x")?.verifier(), SigningKey::generate("x")?.verifier());
        Ok(())
    }

    #[test]
    fn debug_never_shows_secrets() -> TestResult {
        let key = peter()?;
        let secret_b64 = PETER_SKEY.rsplit_once("c74f20a3+").map(|(_, s)| s).unwrap_or("?");
        let seed_b64 = STANDARD.encode(&key.0.seed[..]);
        let witness = WitnessKey::parse(PY_WITNESS_SKEY)?;
        for shown in [format!("{key:?}"), format!("{:?}", key.to_text()), format!("{witness:?}"), format!("{:#?}", key)]
        {
            assert!(shown.contains("redacted"), "{shown}");
            assert!(!shown.contains(secret_b64) && !shown.contains(&seed_b64), "{shown}");
            assert!(!shown.contains("BAABAgMEBQYHCAkKCwwNDg8Q"), "{shown}");
        }
        Ok(())
    }

    #[test]
    fn independent_vectors_keys() -> TestResult {
        assert_eq!(WitnessKey::parse(PY_WITNESS_SKEY)?.verifier().to_text(), PY_WITNESS_VKEY);
        assert_eq!(SigningKey::parse(PY_LOG_SKEY)?.verifier().to_text(), PY_LOG_VKEY);
        let remora = WitnessVerifierKey::parse(REMORA_WITNESS_VKEY)?;
        assert_eq!((remora.name(), remora.key_id()), ("remora.n621.de", 0xda77ade7));
        assert_eq!(remora.to_text(), REMORA_WITNESS_VKEY);
        Ok(())
    }

    // --- notes ------------------------------------------------------------------------------

    #[test]
    fn go_sign_vector() -> TestResult {
        let want = format!("{GO_TEXT}\n{PETER_SIG}");
        assert_eq!(sign_note(GO_TEXT, &[&peter()?])?, want);
        Ok(())
    }

    #[test]
    fn go_open_vector() -> TestResult {
        let peter = VerifierKey::parse(PETER_VKEY)?;
        let enoch = VerifierKey::parse(ENOCH_VKEY)?;
        let msg = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = Note::parse(&msg)?;
        assert_eq!(note.text(), GO_TEXT);
        assert_eq!(note.to_text(), msg);

        let one = note.verify(std::slice::from_ref(&peter))?;
        assert_eq!(one.verified_keys(), std::slice::from_ref(&peter));
        assert_eq!(one.unverified_signatures(), &[NoteSignature::parse_line(ENOCH_SIG)?]);
        assert_eq!(one.text(), GO_TEXT);

        let both = note.verify(&[peter.clone(), enoch.clone()])?;
        assert_eq!(both.verified_keys(), &[peter.clone(), enoch.clone()]);
        assert!(both.unverified_signatures().is_empty());

        assert_eq!(note.verify(&[]).err(), Some(NoteError::NoVerifiedSignature));
        // An identical duplicate of a trusted key is harmless.
        assert!(note.verify(&[enoch.clone(), peter.clone(), enoch]).is_ok());
        Ok(())
    }

    #[test]
    fn go_open_rejections() -> TestResult {
        let peter = VerifierKey::parse(PETER_VKEY)?;
        let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
        assert_eq!(Note::parse(&many).err(), Some(NoteError::TooManySignatures(MAX_SIGNATURES)));
        let at_limit = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
        assert!(Note::parse(&at_limit)?.verify(std::slice::from_ref(&peter)).is_ok());

        let bad_sig = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert_eq!(
            Note::parse(&bad_sig)?.verify(&[peter]).err(),
            Some(NoteError::InvalidSignature { name: "PeterNeumann".to_owned(), key_id: 0xc74f20a3 })
        );

        let bad_msgs = [
            GO_TEXT.to_owned(),
            format!("{GO_TEXT}\n"),
            format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{GO_TEXT}\n{PETER_SIG}"),
            format!(
                "{GO_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
        ];
        for msg in &bad_msgs {
            assert!(matches!(Note::parse(msg), Err(NoteError::MalformedNote(_))), "accepted {msg:?}");
        }
        let mut invalid_utf8 = b"\xff".to_vec();
        invalid_utf8.extend_from_slice(format!("{GO_TEXT}\n{PETER_SIG}").as_bytes());
        assert!(matches!(Note::parse_bytes(&invalid_utf8), Err(NoteError::MalformedNote(_))));
        assert!(Note::parse_bytes(format!("{GO_TEXT}\n{PETER_SIG}").as_bytes()).is_ok());
        Ok(())
    }

    #[test]
    fn strict_note_parsing() {
        let rejects = [
            format!("{GO_TEXT}\n{PETER_SIG}\n"),                       // trailing blank line
            format!("{GO_TEXT}\n{}", PETER_SIG.replace('—', "-")),     // ASCII dash
            format!("{GO_TEXT}\n{}", PETER_SIG.replace("— ", "—  ")),  // two spaces
            format!("{GO_TEXT}\n{}", PETER_SIG.replace("=\n", "\n")),  // unpadded base64
            format!("{GO_TEXT}\n{}", PETER_SIG.replace("AM=", "AN=")), // non-canonical trailing bits
            format!("{GO_TEXT}\n{}", PETER_SIG.replace("\n", " \n")),  // trailing space
            format!("{GO_TEXT}\n{}", PETER_SIG.replace("\n", "\r\n")), // CRLF
            format!("{GO_TEXT}\n— PeterNeumann AAAA\n"),               // only a key id
            format!("{GO_TEXT}\n— PeterNeumann \n"),                   // empty signature
            format!("{GO_TEXT}\n— Peter+Neumann AAAAAA==\n"),          // '+' in name
            format!("\t{GO_TEXT}\n{PETER_SIG}"),                       // tab in text
        ];
        for msg in &rejects {
            assert!(Note::parse(msg).is_err(), "accepted {msg:?}");
        }
    }

    #[test]
    fn text_with_blank_lines_round_trips() -> TestResult {
        let key = seeded("k", 1)?;
        for text in ["\n", "a\n\nb\n", "a\n\n", "a\n\n\n", "— looks like a signature\n\nx\n"] {
            let signed = sign_note(text, &[&key])?;
            let note = Note::parse(&signed)?;
            assert_eq!(note.text(), text);
            assert_eq!(note.to_text(), signed);
            assert!(note.verify(&[key.verifier()]).is_ok());
        }
        Ok(())
    }

    #[test]
    fn sign_rejects_bad_input() -> TestResult {
        let key = peter()?;
        assert_eq!(sign_note("abc", &[&key]).err(), Some(NoteError::InvalidText("text must end with a newline")));
        assert_eq!(sign_note("", &[&key]).err(), Some(NoteError::InvalidText("text must end with a newline")));
        assert!(matches!(sign_note("a\rb\n", &[&key]), Err(NoteError::InvalidText(_))));
        assert_eq!(sign_note(GO_TEXT, &[]).err(), Some(NoteError::NoSigners));
        assert!(matches!(sign_note(GO_TEXT, &[&key, &key]), Err(NoteError::DuplicateSignature { .. })));
        Ok(())
    }

    #[test]
    fn tampering_is_detected() -> TestResult {
        let key = seeded("custodia.example/audit", 9)?;
        let trusted = [key.verifier()];
        let signed = sign_note("hello\nworld\n", &[&key])?;
        assert!(Note::parse(&signed)?.verify(&trusted).is_ok());

        let text_changed = signed.replacen("world", "w0rld", 1);
        assert!(matches!(Note::parse(&text_changed)?.verify(&trusted), Err(NoteError::InvalidSignature { .. })));

        // Flip one bit in the signature part (after the 4-byte key id).
        let mut note = Note::parse(&signed)?;
        note.signatures[0].signature[10] ^= 1;
        let reparsed = Note::parse(&note.to_text())?;
        assert!(matches!(reparsed.verify(&trusted), Err(NoteError::InvalidSignature { .. })));

        // Change the key id: the line no longer names a trusted key, so nothing verifies.
        let mut note = Note::parse(&signed)?;
        note.signatures[0].key_id ^= 1;
        assert_eq!(Note::parse(&note.to_text())?.verify(&trusted).err(), Some(NoteError::NoVerifiedSignature));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_ignored_but_kept() -> TestResult {
        let ours = seeded("custodia.example/audit", 1)?;
        let stranger = seeded("stranger.example", 2)?;
        let same_name_other_key = seeded("custodia.example/audit", 3)?;
        let signed = sign_note("x\n", &[&stranger, &ours, &same_name_other_key])?;
        let verified = Note::parse(&signed)?.verify(&[ours.verifier()])?;
        assert_eq!(verified.verified_keys(), &[ours.verifier()]);
        assert_eq!(verified.unverified_signatures().len(), 2);
        assert_eq!(verified.note().to_text(), signed);
        Ok(())
    }

    #[test]
    fn wrong_key_for_a_known_name_and_id_is_an_error() -> TestResult {
        let signer = seeded("custodia.example/audit", 1)?;
        let other = seeded("custodia.example/audit", 2)?;
        // A trusted key that claims the signer's name and id but holds another public key.
        let impostor =
            VerifierKey(PublicKeyInfo { public: *other.verifier().public_key(), ..signer.verifier().0.clone() });
        let note = Note::parse(&sign_note("x\n", &[&signer])?)?;
        assert!(matches!(note.verify(std::slice::from_ref(&impostor)), Err(NoteError::InvalidSignature { .. })));
        assert!(matches!(note.verify(&[signer.verifier(), impostor]), Err(NoteError::AmbiguousKey { .. })));
        Ok(())
    }

    #[test]
    fn appending_signatures_re_serialises_exactly() -> TestResult {
        let msg = format!("{GO_TEXT}\n{PETER_SIG}");
        let mut note = Note::parse(&msg)?;
        note.push_signature_line(ENOCH_SIG)?;
        assert_eq!(note.to_text(), format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}"));
        assert!(matches!(note.push_signature_line(ENOCH_SIG), Err(NoteError::DuplicateSignature { .. })));
        assert!(matches!(note.sign_with(&peter()?), Err(NoteError::DuplicateSignature { .. })));
        assert!(matches!(note.push_signature_line("— x"), Err(NoteError::MalformedSignature(_))));
        assert!(matches!(note.push_signature_line(&format!("{PETER_SIG}\n")), Err(NoteError::MalformedSignature(_))));

        let extra = seeded("extra", 5)?;
        note.sign_with(&extra)?;
        let again = Note::parse(&note.to_text())?;
        assert_eq!(again, note);
        assert_eq!(again.verify(&[extra.verifier(), VerifierKey::parse(PETER_VKEY)?])?.verified_keys().len(), 2);
        Ok(())
    }

    #[test]
    fn signature_limit_applies_when_appending() -> TestResult {
        let mut note = Note::sign("x\n", &[&seeded("k0", 0)?])?;
        for i in 1..MAX_SIGNATURES {
            note.push_signature(NoteSignature { name: format!("k{i}"), key_id: 1, signature: vec![0; 64] })?;
        }
        let one_more = NoteSignature { name: "late".to_owned(), key_id: 1, signature: vec![0; 64] };
        assert_eq!(note.push_signature(one_more), Err(NoteError::TooManySignatures(MAX_SIGNATURES)));
        assert_eq!(Note::parse(&note.to_text())?, note);
        Ok(())
    }

    // --- checkpoints ------------------------------------------------------------------------

    #[test]
    fn checkpoint_round_trip() -> TestResult {
        let cp = Checkpoint::parse(SPEC_BODY)?;
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_text(), SPEC_BODY);

        let body = checkpoint_body();
        assert_eq!(
            body,
            format!("custodia.example/audit/t1\n42\n{}\ntime 2026-11-23T12:00:00Z\n", STANDARD.encode([7u8; 32]))
        );
        let parsed = Checkpoint::parse(&body)?;
        assert_eq!(parsed.extensions, ["time 2026-11-23T12:00:00Z"]);
        assert_eq!(parsed.to_text(), body);

        let empty = Checkpoint { origin: "o".to_owned(), size: 0, root: [0; 32], extensions: vec![] };
        assert_eq!(Checkpoint::parse(&empty.to_text())?, empty);
        let max = Checkpoint { size: u64::MAX, ..empty };
        assert_eq!(Checkpoint::parse(&max.to_text())?, max);
        Ok(())
    }

    #[test]
    fn checkpoint_rejections() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let rejects = [
            format!("o\n1\n{root}"),    // no final newline
            "o\n1\n".to_owned(),        // no root
            format!("\n1\n{root}\n"),   // empty origin
            format!("o\n01\n{root}\n"), // leading zero
            format!("o\n00\n{root}\n"),
            format!("o\n+1\n{root}\n"), // sign
            format!("o\n-1\n{root}\n"),
            format!("o\n 1\n{root}\n"),
            format!("o\n1 \n{root}\n"),
            format!("o\n\n{root}\n"),                     // empty size
            format!("o\n18446744073709551616\n{root}\n"), // u64::MAX + 1
            format!("o\n0x1\n{root}\n"),
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".to_owned(), // unpadded
            "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n".to_owned(), // URL alphabet
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".to_owned(), // trailing bits
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=AAAA\n".to_owned(), // 35 bytes
            "o\n1\nAAAA\n".to_owned(),                                        // 3 bytes
            format!("o\n1\n{root}\n\n"),                                      // empty extension line
            format!("o\n1\n{root}\next\n\n"),
            format!("o\n1\n{root}\nbad\rext\n"), // control character
        ];
        for text in &rejects {
            assert!(matches!(Checkpoint::parse(text), Err(NoteError::MalformedCheckpoint(_))), "accepted {text:?}");
        }
        let base = Checkpoint { origin: "o".to_owned(), size: 1, root: [0; 32], extensions: vec![] };
        for bad in [
            Checkpoint { origin: String::new(), ..base.clone() },
            Checkpoint { origin: "a\nb".to_owned(), ..base.clone() },
            Checkpoint { extensions: vec![String::new()], ..base.clone() },
            Checkpoint { extensions: vec!["a\nb".to_owned()], ..base.clone() },
            Checkpoint { extensions: vec!["a\tb".to_owned()], ..base },
        ] {
            assert!(matches!(bad.validate(), Err(NoteError::MalformedCheckpoint(_))), "{bad:?}");
            // What to_text writes for such fields never parses back as the same checkpoint.
            assert_ne!(Checkpoint::parse(&bad.to_text()).ok().as_ref(), Some(&bad), "{bad:?}");
        }
    }

    #[test]
    fn independent_vector_log_signature() -> TestResult {
        let key = SigningKey::parse(PY_LOG_SKEY)?;
        let signed = sign_note(SPEC_BODY, &[&key])?;
        assert_eq!(signed, format!("{SPEC_BODY}\n{PY_LOG_SIG}"));
        assert!(Note::parse(&signed)?.verify(&[VerifierKey::parse(PY_LOG_VKEY)?]).is_ok());
        Ok(())
    }

    // --- cosignatures -----------------------------------------------------------------------

    #[test]
    fn independent_vector_cosignature() -> TestResult {
        let key = WitnessKey::parse(PY_WITNESS_SKEY)?;
        assert_eq!(cosign(SPEC_BODY, PY_COSIG_TIME, &key)?, PY_COSIG);
        let line = NoteSignature::parse_line(PY_COSIG)?;
        let witness = WitnessVerifierKey::parse(PY_WITNESS_VKEY)?;
        assert_eq!(verify_cosignature(SPEC_BODY, &line, &witness)?, PY_COSIG_TIME);
        Ok(())
    }

    #[test]
    fn spec_example_cosignature_layout() -> TestResult {
        // The spec's example line: key id, then the timestamp 1679315147 big-endian, then 64 bytes.
        let line = NoteSignature::parse_line(SPEC_COSIG)?;
        assert_eq!(line.name(), "witness.example.com/w1");
        assert_eq!(line.signature().len(), TIMESTAMP_LEN + SIGNATURE_LEN);
        assert_eq!(line.signature()[..TIMESTAMP_LEN], 1679315147u64.to_be_bytes());
        assert_eq!(line.to_line(), SPEC_COSIG);
        Ok(())
    }

    #[test]
    fn cosigned_checkpoint_flow() -> TestResult {
        let log = seeded("custodia.example/audit/t1", 1)?;
        let w1 = seeded_witness("witness.example/w1", 2)?;
        let w2 = seeded_witness("witness.example/w2", 3)?;
        let body = checkpoint_body();
        let mut note = Note::sign(&body, &[&log])?;
        note.push_signature_line(&cosign(&body, 1_800_000_000, &w1)?)?;
        note.push_signature(w2.cosign(&body, 1_800_000_001)?)?;
        let served = note.to_text();

        let parsed = Note::parse(&served)?;
        assert_eq!(parsed.to_text(), served);
        let verified = parsed.verify(&[log.verifier()])?;
        assert_eq!(verified.unverified_signatures().len(), 2);
        let cosigs = parsed.verify_cosignatures(&[w1.verifier(), w2.verifier()])?;
        assert_eq!(
            cosigs,
            [
                VerifiedCosignature { witness: w1.verifier(), timestamp: 1_800_000_000 },
                VerifiedCosignature { witness: w2.verifier(), timestamp: 1_800_000_001 },
            ]
        );
        assert!(parsed.verify_cosignatures(&[])?.is_empty());
        // A witness key is not a log key: its cosignature never counts as a log signature.
        let as_log_key = VerifierKey::new(w1.name(), *w1.verifier().public_key())?;
        assert_eq!(parsed.verify(&[as_log_key]).err(), Some(NoteError::NoVerifiedSignature));
        Ok(())
    }

    #[test]
    fn cosignature_tampering_is_detected() -> TestResult {
        let witness = seeded_witness("witness.example/w1", 2)?;
        let trusted = witness.verifier();
        let body = checkpoint_body();
        let good = witness.cosign(&body, 1_800_000_000)?;
        assert_eq!(verify_cosignature(&body, &good, &trusted)?, 1_800_000_000);

        let other_body = body.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(verify_cosignature(&other_body, &good, &trusted), Err(NoteError::InvalidSignature { .. })));

        let mut later = good.clone();
        later.signature[TIMESTAMP_LEN - 1] ^= 1;
        assert!(matches!(verify_cosignature(&body, &later, &trusted), Err(NoteError::InvalidSignature { .. })));

        let mut flipped = good.clone();
        flipped.signature[TIMESTAMP_LEN + 5] ^= 1;
        assert!(matches!(verify_cosignature(&body, &flipped, &trusted), Err(NoteError::InvalidSignature { .. })));

        let mut short = good.clone();
        short.signature.pop();
        assert!(matches!(verify_cosignature(&body, &short, &trusted), Err(NoteError::InvalidSignature { .. })));

        let stranger = seeded_witness("witness.example/w1", 9)?.verifier();
        assert!(matches!(verify_cosignature(&body, &good, &stranger), Err(NoteError::KeyMismatch { .. })));

        // A known witness line that fails makes the whole cosignature check fail.
        let log = seeded("custodia.example/audit/t1", 1)?;
        let mut note = Note::sign(&body, &[&log])?;
        note.push_signature(flipped)?;
        assert!(matches!(note.verify_cosignatures(&[trusted]), Err(NoteError::InvalidSignature { .. })));
        Ok(())
    }

    #[test]
    fn cosignature_input_rules() -> TestResult {
        let witness = seeded_witness("witness.example/w1", 2)?;
        let body = checkpoint_body();
        assert_eq!(
            witness.cosign(&body, MAX_COSIGNATURE_TIMESTAMP + 1).err(),
            Some(NoteError::TimestampOutOfRange(MAX_COSIGNATURE_TIMESTAMP + 1))
        );
        assert!(witness.cosign(&body, MAX_COSIGNATURE_TIMESTAMP).is_ok());
        assert!(matches!(witness.cosign("not a checkpoint\n", 1), Err(NoteError::MalformedCheckpoint(_))));
        let good = witness.cosign(&body, 1)?;
        assert!(matches!(
            verify_cosignature("not a checkpoint\n", &good, &witness.verifier()),
            Err(NoteError::MalformedCheckpoint(_))
        ));

        // A timestamp above 2^63-1 is refused even when the signature over it is valid.
        let huge = u64::MAX;
        let message = format!("cosignature/v1\ntime {huge}\n{body}");
        let ed = witness.0.sign(message.as_bytes())?;
        let mut bytes = huge.to_be_bytes().to_vec();
        bytes.extend_from_slice(&ed);
        let forged = NoteSignature { name: witness.name().to_owned(), key_id: witness.key_id(), signature: bytes };
        assert_eq!(verify_cosignature(&body, &forged, &witness.verifier()), Err(NoteError::TimestampOutOfRange(huge)));
        Ok(())
    }

    // --- properties -------------------------------------------------------------------------

    fn note_text() -> impl Strategy<Value = String> {
        proptest::collection::vec("[^\\x00-\\x1f]{0,40}", 0..6).prop_map(|lines| {
            lines.iter().fold(String::new(), |mut acc, l| {
                acc.push_str(l);
                acc.push('\n');
                acc
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn prop_note_round_trip(text in note_text()) {
            let text = if text.is_empty() { "\n".to_owned() } else { text };
            let key = seeded("prop.example/log", 4).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let signed = sign_note(&text, &[&key]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let note = Note::parse(&signed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(note.text(), text.as_str());
            prop_assert_eq!(note.to_text(), signed);
            prop_assert!(note.verify(&[key.verifier()]).is_ok());
        }

        #[test]
        fn prop_checkpoint_round_trip(
            origin in "[^\\x00-\\x1f]{1,30}",
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[^\\x00-\\x1f]{1,30}", 0..4),
        ) {
            let cp = Checkpoint { origin, size, root, extensions };
            prop_assert!(cp.validate().is_ok());
            let text = cp.to_text();
            let parsed = Checkpoint::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed, cp);
        }

        #[test]
        fn prop_parse_never_panics(msg in "\\PC{0,200}") {
            let _ = Note::parse(&msg);
            let _ = Checkpoint::parse(&msg);
            let _ = VerifierKey::parse(&msg);
            let _ = SigningKey::parse(&msg);
        }
    }
}
