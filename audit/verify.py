#!/usr/bin/env python3
"""Independent verifier for Custodia's tamper-evident audit log.

Written from audit/FORMAT.md alone (not from the Rust code), with the Python standard
library and the `cryptography` package only, so that a regulator can check an export
without trusting any of Custodia's own software. Section numbers (§) refer to FORMAT.md.

    python3 audit/verify.py bundle FILE --key KEY [--trusted-checkpoint FILE] [--witness KEY]...
    python3 audit/verify.py inclusion --key KEY --checkpoint FILE --proof FILE [--witness KEY]...
    python3 audit/verify.py consistency --key KEY --old FILE --new FILE --proof FILE [--witness KEY]...
    python3 audit/verify.py leaf RECORD_JSON_FILE [--bytes]

KEY is a verifier key string, `name+hex8(keyid)+base64(0x01||pubkey)`, or `@path` to a
file holding one (a witness KEY uses type byte 0x04). Exit status: 0 when everything
verified (a summary is printed), 1 when a check failed (one line on stderr says which
file, record and check), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import struct
import sys
import tarfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

T = TypeVar("T")

MAX_INT = 2**63 - 1  # indices and tree sizes: u64 on the wire, kept below 2^63 (§1)


# --------------------------------------------------------------------------- errors


class VerifyError(Exception):
    """A check that failed: `where` names the file, record or argument, `message` the check."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class ProofError(Exception):
    """A Merkle proof that does not verify; the caller knows where the proof came from."""


# --------------------------------------------------------------------------- primitives


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), the only spelling used in §1."""
    return base64.b64encode(data).decode("ascii")


def decode_b64(value: Any, where: str, what: str, length: int | None = None) -> bytes:
    """Decodes canonical padded base64; a second spelling of the same bytes is rejected."""
    if not isinstance(value, str):
        raise VerifyError(where, f"{what} must be a base64 string, not {value!r}")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise VerifyError(where, f"{what} is not standard base64 with padding: {value!r}") from None
    if b64(raw) != value:
        raise VerifyError(where, f"{what} is not canonical base64: {value!r}")
    if length is not None and len(raw) != length:
        raise VerifyError(where, f"{what} must decode to {length} bytes, not {len(raw)}")
    return raw


def decode_utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise VerifyError(where, f"not valid UTF-8 (at byte {err.start})") from None


def parse_decimal(text: str, where: str, what: str) -> int:
    """ASCII decimal without leading zeros (§1), as tlog-checkpoint requires for tree sizes."""
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", text) or int(text) > MAX_INT:
        raise VerifyError(where, f"{what} must be a decimal number without leading zeros, not {text!r}")
    return int(text)


# --------------------------------------------------------------------------- strict JSON (§1)


def parse_json(data: bytes | str, where: str) -> Any:
    """Parses one JSON value: UTF-8, no duplicate keys, no NaN or Infinity."""
    if isinstance(data, bytes):
        data = decode_utf8(data, where)

    def object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise VerifyError(where, f"duplicate JSON key {key!r}")
            obj[key] = value
        return obj

    def reject_constant(name: str) -> Any:
        raise VerifyError(where, f"{name} is not valid JSON")

    try:
        return json.loads(data, object_pairs_hook=object_without_duplicates, parse_constant=reject_constant)
    except json.JSONDecodeError as err:
        raise VerifyError(where, f"invalid JSON: {err}") from None


def json_object(value: Any, keys: Sequence[str], where: str, what: str) -> dict[str, Any]:
    """Requires an object with exactly `keys`: every v1 document has a fixed shape (§1)."""
    if not isinstance(value, dict):
        raise VerifyError(where, f"{what} must be a JSON object")
    missing = [key for key in keys if key not in value]
    if missing:
        raise VerifyError(where, f"{what} lacks {', '.join(repr(k) for k in missing)}")
    unknown = sorted(key for key in value if key not in keys)
    if unknown:
        raise VerifyError(where, f"{what} has unknown key(s) {', '.join(repr(k) for k in unknown)}")
    return value


def json_int(value: Any, where: str, what: str, maximum: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise VerifyError(where, f"{what} must be an integer from 0 to {maximum}, not {value!r}")
    return value


def json_str(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str):
        raise VerifyError(where, f"{what} must be a string, not {value!r}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise VerifyError(where, f"{what} is not valid Unicode (lone surrogate)") from None
    if size > 0xFFFFFFFF:
        raise VerifyError(where, f"{what} is longer than 2^32-1 bytes")
    return value


def json_optional(value: Any, parse: Callable[[Any, str, str], T], where: str, what: str) -> T | None:
    return None if value is None else parse(value, where, what)


def json_list(value: Any, parse: Callable[[Any, str, str], T], where: str, what: str) -> list[T]:
    if not isinstance(value, list):
        raise VerifyError(where, f"{what} must be a JSON array")
    return [parse(item, where, f"{what}[{i}]") for i, item in enumerate(value)]


def json_hash(value: Any, where: str, what: str) -> bytes:
    return decode_b64(value, where, what, 32)


# --------------------------------------------------------------------------- timestamps (§2.1)

RECORD_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
CHECKPOINT_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _timestamp(value: Any, where: str, what: str, pattern: re.Pattern[str], fmt: str, example: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise VerifyError(where, f"{what} must be UTC like {example}, not {value!r}")
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        raise VerifyError(where, f"{what} is not a valid date and time: {value!r}") from None
    return value


def record_time(value: Any, where: str, what: str) -> str:
    """Fixed-width microsecond UTC, so that string order is time order (§2.1)."""
    return _timestamp(value, where, what, RECORD_TIME_RE, "%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-23T12:00:00.000000Z")


def checkpoint_time(value: Any, where: str, what: str) -> str:
    return _timestamp(value, where, what, CHECKPOINT_TIME_RE, "%Y-%m-%dT%H:%M:%SZ", "2026-11-23T12:00:00Z")


# --------------------------------------------------------------------------- records (§2)

RECORD_VERSION = b"\x01"
GATEWAY_LOG = "_gateway"
LOG_ID_RE = re.compile(r"[a-z0-9-]{1,40}")
OUTCOMES = ("allowed", "denied", "failed")
EXPORT_ACTION = "audit.export"
RECORD_KEYS = (
    "index", "log", "recorded_at", "request_id", "client_id", "role", "on_behalf_of", "purpose",
    "action", "resource_id", "fields", "outcome", "status", "error_code", "evidence_sha256", "parties",
)
PARTY_KEYS = ("party", "prev_leaf_hash", "prev_index")


def valid_log_id(text: str) -> bool:
    return text == GATEWAY_LOG or LOG_ID_RE.fullmatch(text) is not None


def enc_str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw


def enc_opt(value: T | None, encode: Callable[[T], bytes]) -> bytes:
    return b"\x00" if value is None else b"\x01" + encode(value)


def enc_list(items: Sequence[T], encode: Callable[[T], bytes]) -> bytes:
    return struct.pack(">I", len(items)) + b"".join(encode(item) for item in items)


def enc_b32(digest: bytes) -> bytes:
    assert len(digest) == 32
    return digest


@dataclass(frozen=True)
class PartyRef:
    """One entry of a record's `parties`: the party and the link to its previous record."""

    party: str
    prev_leaf_hash: bytes | None
    prev_index: int | None  # JSON only: not in the leaf, checked against the linked record

    def encode(self) -> bytes:
        return enc_str(self.party) + enc_opt(self.prev_leaf_hash, enc_b32)


@dataclass(frozen=True)
class Record:
    """An audit record as carried in JSON (§2.2); `index` is not part of the leaf."""

    index: int
    log: str
    recorded_at: str
    request_id: str
    client_id: str | None
    role: str | None
    on_behalf_of: str | None
    purpose: str | None
    action: str
    resource_id: str | None
    fields: tuple[str, ...]
    outcome: str
    status: int
    error_code: str | None
    evidence_sha256: bytes | None
    parties: tuple[PartyRef, ...]

    def encode(self) -> bytes:
        """The canonical v1 encoding (§2.1): exactly the bytes under the leaf hash."""
        return b"".join([
            RECORD_VERSION,
            enc_str(self.log),
            enc_str(self.recorded_at),
            enc_str(self.request_id),
            enc_opt(self.client_id, enc_str),
            enc_opt(self.role, enc_str),
            enc_opt(self.on_behalf_of, enc_str),
            enc_opt(self.purpose, enc_str),
            enc_str(self.action),
            enc_opt(self.resource_id, enc_str),
            enc_list(self.fields, enc_str),
            enc_str(self.outcome),
            struct.pack(">H", self.status),
            enc_opt(self.error_code, enc_str),
            enc_opt(self.evidence_sha256, enc_b32),
            enc_list(self.parties, PartyRef.encode),
        ])

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.encode())

    def party(self, party_id: str) -> PartyRef | None:
        return next((ref for ref in self.parties if ref.party == party_id), None)


def parse_party(value: Any, where: str, what: str) -> PartyRef:
    obj = json_object(value, PARTY_KEYS, where, what)
    ref = PartyRef(
        party=json_str(obj["party"], where, f"{what}.party"),
        prev_leaf_hash=json_optional(obj["prev_leaf_hash"], json_hash, where, f"{what}.prev_leaf_hash"),
        prev_index=json_optional(obj["prev_index"], json_int, where, f"{what}.prev_index"),
    )
    if (ref.prev_leaf_hash is None) != (ref.prev_index is None):
        raise VerifyError(where, f"{what}: prev_leaf_hash and prev_index must be both null or both set")
    return ref


def parse_record(value: Any, where: str) -> Record:
    """Builds a Record from its JSON form, rejecting anything that has no v1 encoding (§2.2)."""
    obj = json_object(value, RECORD_KEYS, where, "record")

    def opt_str(key: str) -> str | None:
        return json_optional(obj[key], json_str, where, key)

    record = Record(
        index=json_int(obj["index"], where, "index"),
        log=json_str(obj["log"], where, "log"),
        recorded_at=record_time(obj["recorded_at"], where, "recorded_at"),
        request_id=json_str(obj["request_id"], where, "request_id"),
        client_id=opt_str("client_id"),
        role=opt_str("role"),
        on_behalf_of=opt_str("on_behalf_of"),
        purpose=opt_str("purpose"),
        action=json_str(obj["action"], where, "action"),
        resource_id=opt_str("resource_id"),
        fields=tuple(json_list(obj["fields"], json_str, where, "fields")),
        outcome=json_str(obj["outcome"], where, "outcome"),
        status=json_int(obj["status"], where, "status", 0xFFFF),
        error_code=opt_str("error_code"),
        evidence_sha256=json_optional(obj["evidence_sha256"], json_hash, where, "evidence_sha256"),
        parties=tuple(json_list(obj["parties"], parse_party, where, "parties")),
    )
    if not valid_log_id(record.log):
        raise VerifyError(where, f"log {record.log!r} is neither a tenant slug [a-z0-9-]{{1,40}} nor {GATEWAY_LOG!r}")
    if record.outcome not in OUTCOMES:
        raise VerifyError(where, f"outcome {record.outcome!r} is not one of {', '.join(OUTCOMES)}")
    check_parties_sorted(record.parties, where)
    return record


def check_parties_sorted(parties: Sequence[PartyRef], where: str) -> None:
    """The encoding fixes one order (party id, byte order) so one record has one leaf hash."""
    for before, after in zip(parties, parties[1:]):
        if before.party.encode("utf-8") >= after.party.encode("utf-8"):
            problem = "duplicate" if before.party == after.party else "not sorted by party id (byte order)"
            raise VerifyError(where, f"parties {before.party!r}, {after.party!r}: {problem}")


# --------------------------------------------------------------------------- Merkle tree (§3)

EMPTY_ROOT = sha256(b"")


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2, step by step (§3.2)."""
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the proof has more hashes than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof has fewer hashes than the path to the root")
    if r != root:
        raise ProofError("the proof does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2 for 0 < first < second, plus the two trivial cases of §3.3."""
    if first > second:
        raise ProofError(f"old size {first} is larger than new size {second}")
    if first == second or first == 0:
        if path:
            raise ProofError("the proof must be empty when the old size is 0 or equals the new size")
        expected = second_root if first == second else EMPTY_ROOT
        if first_root != expected:
            raise ProofError("the old root is not the new root" if first == second else "a size-0 root must be SHA-256 of the empty string")
        return
    if not path:
        raise ProofError("the proof is empty")
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof has more hashes than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof has fewer hashes than needed")
    if fr != first_root:
        raise ProofError("the proof does not lead to the old root")
    if sr != second_root:
        raise ProofError("the proof does not lead to the new root")


# --------------------------------------------------------------------------- signed notes (§4)

SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || key)[:4], the C2SP signed-note key ID."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key)[:4]


def valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


@dataclass(frozen=True)
class VerifierKey:
    """A note verifier key: who signs (name), how (type byte) and the Ed25519 public key."""

    name: str
    alg: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.alg, self.public_key)

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"

    def __str__(self) -> str:
        return f"{self.label}+{b64(bytes([self.alg]) + self.public_key)}"


def parse_verifier_key(text: str, alg: int, where: str) -> VerifierKey:
    """Parses `name+hex8(keyid)+base64(type||pubkey)` and checks the key ID it states (§4.1)."""
    name, sep1, rest = text.partition("+")
    hex_id, sep2, material = rest.partition("+")
    if not (sep1 and sep2) or not valid_key_name(name) or not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise VerifyError(where, f"not a verifier key (name+hex8+base64): {text!r}")
    raw = decode_b64(material, where, "verifier key material")
    if len(raw) != 33 or raw[0] != alg:
        raise VerifyError(where, f"verifier key must hold type 0x{alg:02x} and a 32-byte Ed25519 key")
    key = VerifierKey(name, alg, raw[1:])
    if key.key_id != bytes.fromhex(hex_id):
        raise VerifyError(where, f"verifier key ID {hex_id} does not match its name and key ({key.key_id.hex()})")
    return key


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the 4-byte key ID


@dataclass(frozen=True)
class Note:
    text: str  # includes the final newline, not the blank line
    signatures: tuple[NoteSignature, ...]


def parse_note(data: bytes, where: str) -> Note:
    """Splits a C2SP signed note into text and signature lines; malformed notes fail (§4.2)."""
    message = decode_utf8(data, where)
    control = next((ch for ch in message if ch < " " and ch != "\n"), None)
    if control is not None:
        raise VerifyError(where, f"signed note contains control character U+{ord(control):04X}")
    split = message.rfind("\n\n")
    if split < 0:
        raise VerifyError(where, "not a signed note: no blank line between text and signatures")
    text, block = message[: split + 1], message[split + 2:]
    if not block:
        raise VerifyError(where, "signed note has no signature lines")
    if not block.endswith("\n"):
        raise VerifyError(where, "signed note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerifyError(where, f"signed note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(parse_signature_line(line, where) for line in lines))


def parse_signature_line(line: str, where: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        raise VerifyError(where, f"malformed signature line {line!r}")
    name, sep, encoded = line[len(SIG_PREFIX):].partition(" ")
    if not sep or not valid_key_name(name) or " " in encoded:
        raise VerifyError(where, f"malformed signature line {line!r}")
    raw = decode_b64(encoded, where, f"signature by {name}")
    if len(raw) < 5:
        raise VerifyError(where, f"signature by {name} is too short")
    return NoteSignature(name, raw[:4], raw[4:])


def signatures_by(note: Note, key: VerifierKey) -> list[NoteSignature]:
    """Lines whose name AND key ID match; all other lines are ignored, as C2SP requires."""
    return [sig for sig in note.signatures if sig.name == key.name and sig.key_id == key.key_id]


def ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_signed_by(note: Note, key: VerifierKey, where: str) -> None:
    """Requires a signature by `key`; any line claiming to be by `key` that fails rejects the note (§4.3)."""
    matching = signatures_by(note, key)
    if not matching:
        present = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        raise VerifyError(where, f"not signed by {key.label} (signatures present: {present})")
    for sig in matching:
        if not ed25519_valid(key.public_key, sig.signature, note.text.encode("utf-8")):
            raise VerifyError(where, f"invalid signature by {key.label}: forged, or the text was altered")


def verify_cosigned_by(note: Note, witness: VerifierKey, where: str) -> int:
    """Checks a tlog-cosignature/v1 (Ed25519, type 0x04) and returns its timestamp (§4.4)."""
    matching = signatures_by(note, witness)
    if not matching:
        raise VerifyError(where, f"no cosignature by witness {witness.label}")
    for sig in matching:
        if len(sig.signature) != 8 + 64:
            raise VerifyError(where, f"cosignature by {witness.label} is not 8+64 bytes")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        message = f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + note.text.encode("utf-8")
        if timestamp > MAX_INT or not ed25519_valid(witness.public_key, sig.signature[8:], message):
            raise VerifyError(where, f"invalid cosignature by witness {witness.label}")
    return int.from_bytes(matching[0].signature[:8], "big")


# --------------------------------------------------------------------------- checkpoints (§5)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: str

    @property
    def log_id(self) -> str:
        return self.origin.rpartition("/")[2]

    def describe(self) -> str:
        return f"tree size {self.size}, root {b64(self.root)}, time {self.time}"


def log_id_of_origin(origin: str, where: str) -> str:
    """An origin is `<prefix>/<log id>` (§5.1); the verifier needs only the log id."""
    prefix, sep, log = origin.rpartition("/")
    if not sep or not prefix or not valid_log_id(log) or any(ch.isspace() or ch == "+" for ch in origin):
        raise VerifyError(where, f"origin {origin!r} is not <prefix>/<log id>")
    return log


def parse_checkpoint(text: str, where: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise VerifyError(where, "checkpoint text must be exactly four lines: origin, tree size, root, time")
    origin, size, root, time_line = lines[:4]
    log_id_of_origin(origin, where)
    if not time_line.startswith("time "):
        raise VerifyError(where, f"fourth checkpoint line must be 'time <RFC 3339>', not {time_line!r}")
    return Checkpoint(
        origin=origin,
        size=parse_decimal(size, where, "tree size"),
        root=decode_b64(root, where, "root hash", 32),
        time=checkpoint_time(time_line[len("time "):], where, "checkpoint time"),
    )


def open_checkpoint(data: bytes, key: VerifierKey, where: str, witnesses: Sequence[VerifierKey] = ()) -> Checkpoint:
    """A checkpoint counts only once the audit key's signature (and each witness's) verifies."""
    note = parse_note(data, where)
    verify_signed_by(note, key, where)
    for witness in witnesses:
        verify_cosigned_by(note, witness, where)
    return parse_checkpoint(note.text, where)


# --------------------------------------------------------------------------- proofs as JSON (§6)


@dataclass(frozen=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    hashes: list[bytes]


def parse_consistency_proof(data: bytes, where: str) -> ConsistencyProof:
    obj = json_object(parse_json(data, where), ("from_size", "to_size", "hashes"), where, "consistency proof")
    return ConsistencyProof(
        from_size=json_int(obj["from_size"], where, "from_size"),
        to_size=json_int(obj["to_size"], where, "to_size"),
        hashes=json_list(obj["hashes"], json_hash, where, "hashes"),
    )


def check_consistency(old: Checkpoint, new: Checkpoint, proof: ConsistencyProof, where: str) -> None:
    """The proof must be between exactly these two sizes and link exactly these two roots."""
    if (proof.from_size, proof.to_size) != (old.size, new.size):
        raise VerifyError(where, f"proof is from size {proof.from_size} to {proof.to_size}, the checkpoints are {old.size} and {new.size}")
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof.hashes)
    except ProofError as err:
        raise VerifyError(where, f"consistency proof from size {old.size} to {new.size} failed ({err}): "
                                 "the newer tree does not extend the older one (rewritten history)") from None


# --------------------------------------------------------------------------- bundles (§7)

MANIFEST = "manifest.txt"
BUNDLE_HEADER = "custodia-audit-bundle/v1"
REQUIRED_FILES = ("checkpoint.txt", "proofs.ndjson", "records.ndjson", "selection.json")
SINCE_FILES = ("consistency.json", "since-checkpoint.txt")
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MANIFEST_LINE_RE = re.compile(r"([0-9a-f]{64})  (\S+)")
SELECTION_KEYS = ("log", "from", "to", "party", "export_request_id")


@dataclass(frozen=True)
class Manifest:
    origin: str
    tree_size: int
    digests: dict[str, str]  # file name -> lowercase hex SHA-256


@dataclass(frozen=True)
class Selection:
    log: str
    from_: str | None
    to: str | None
    party: str | None
    export_request_id: str


@dataclass(frozen=True)
class Entry:
    """A record of the bundle with where it came from and its leaf hash."""

    line: int
    record: Record
    leaf: bytes

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def where(self) -> str:
        return f"records.ndjson line {self.line} (record {self.record.index})"


def read_tar(path: str) -> dict[str, bytes]:
    """Reads every member into memory without extracting: the names come from untrusted input."""
    try:
        archive = tarfile.open(path, mode="r:")
    except tarfile.ReadError as err:
        raise VerifyError(path, f"not an uncompressed tar archive ({err})") from None
    except OSError as err:
        raise VerifyError(path, f"cannot read: {err.strerror}") from None
    files: dict[str, bytes] = {}
    with archive:
        for member in archive:
            if not member.isfile():
                raise VerifyError(path, f"tar member {member.name!r} is not a regular file")
            if not FILE_NAME_RE.fullmatch(member.name):
                raise VerifyError(path, f"tar member {member.name!r} is not a plain file name")
            if member.name in files:
                raise VerifyError(path, f"tar member {member.name!r} appears twice")
            stream = archive.extractfile(member)
            assert stream is not None
            files[member.name] = stream.read()
    return files


def parse_manifest(text: str, where: str) -> Manifest:
    lines = text.split("\n")[:-1]  # note text always ends with a newline
    if len(lines) < 3 or lines[0] != BUNDLE_HEADER:
        raise VerifyError(where, f"first line must be {BUNDLE_HEADER!r}")
    if not lines[1].startswith("origin "):
        raise VerifyError(where, "second line must be 'origin <origin>'")
    if not lines[2].startswith("tree_size "):
        raise VerifyError(where, "third line must be 'tree_size <N>'")
    origin = lines[1][len("origin "):]
    log_id_of_origin(origin, where)
    tree_size = parse_decimal(lines[2][len("tree_size "):], where, "tree_size")
    digests: dict[str, str] = {}
    previous = ""
    for line in lines[3:]:
        match = MANIFEST_LINE_RE.fullmatch(line)
        if not match:
            raise VerifyError(where, f"malformed line {line!r} (want '<sha256 lowercase hex>  <file name>')")
        digest, name = match.groups()
        if name == MANIFEST:
            raise VerifyError(where, "manifest.txt must not list itself")
        if previous and name.encode() <= previous.encode():
            raise VerifyError(where, f"{name!r} after {previous!r}: file lines must be sorted by name, without duplicates")
        digests[name] = digest
        previous = name
    return Manifest(origin, tree_size, digests)


def check_manifest(files: dict[str, bytes], key: VerifierKey) -> Manifest:
    """Every file but the manifest is listed with its SHA-256, and nothing else is present (§7.2)."""
    if MANIFEST not in files:
        raise VerifyError(MANIFEST, "missing from the bundle")
    note = parse_note(files[MANIFEST], MANIFEST)
    verify_signed_by(note, key, MANIFEST)
    manifest = parse_manifest(note.text, MANIFEST)
    for name in manifest.digests:
        if name not in files:
            raise VerifyError(name, "listed in manifest.txt but missing from the bundle")
    for name in sorted(files):
        if name != MANIFEST and name not in manifest.digests:
            raise VerifyError(name, "present in the bundle but not listed in manifest.txt")
    for name, digest in manifest.digests.items():
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual != digest:
            raise VerifyError(name, f"SHA-256 {actual} does not match manifest.txt ({digest}): the file was altered")
    for name in manifest.digests:
        if name not in REQUIRED_FILES + SINCE_FILES:
            raise VerifyError(name, "not a file of a v1 bundle")
    for name in REQUIRED_FILES:
        if name not in files:
            raise VerifyError(name, "missing from the bundle (required)")
    if (SINCE_FILES[0] in files) != (SINCE_FILES[1] in files):
        raise VerifyError(MANIFEST, "since-checkpoint.txt and consistency.json must come together")
    return manifest


def parse_selection(data: bytes, log_id: str) -> Selection:
    where = "selection.json"
    obj = json_object(parse_json(data, where), SELECTION_KEYS, where, "selection")
    selection = Selection(
        log=json_str(obj["log"], where, "log"),
        from_=json_optional(obj["from"], record_time, where, "from"),
        to=json_optional(obj["to"], record_time, where, "to"),
        party=json_optional(obj["party"], json_str, where, "party"),
        export_request_id=json_str(obj["export_request_id"], where, "export_request_id"),
    )
    if selection.log != log_id:
        raise VerifyError(where, f"log {selection.log!r} is not the checkpoint's log {log_id!r}")
    if selection.from_ is not None and selection.to is not None and selection.from_ > selection.to:
        raise VerifyError(where, f"from {selection.from_} is after to {selection.to}")
    return selection


def parse_ndjson(data: bytes, name: str) -> list[tuple[int, Any]]:
    """One JSON value per LF-terminated line; an empty file is an empty list (§7.3)."""
    text = decode_utf8(data, name)
    if not text:
        return []
    if not text.endswith("\n"):
        raise VerifyError(name, "the last line does not end with a newline")
    values = []
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if not line.strip():
            raise VerifyError(f"{name} line {number}", "empty line")
        values.append((number, parse_json(line, f"{name} line {number}")))
    return values


def load_entries(files: dict[str, bytes], checkpoint: Checkpoint) -> list[Entry]:
    """Parses records and proofs, and proves each record is in the checkpoint's tree at its index."""
    records = parse_ndjson(files["records.ndjson"], "records.ndjson")
    proofs = parse_ndjson(files["proofs.ndjson"], "proofs.ndjson")
    if len(records) != len(proofs):
        raise VerifyError("proofs.ndjson", f"has {len(proofs)} lines for {len(records)} records in records.ndjson (one proof per record, same order)")
    entries: list[Entry] = []
    for (line, record_value), (_, proof_value) in zip(records, proofs):
        record = parse_record(record_value, f"records.ndjson line {line}")
        entry = Entry(line, record, record.leaf_hash())
        check_entry_place(entry, entries[-1] if entries else None, checkpoint)
        check_entry_proof(entry, proof_value, checkpoint)
        entries.append(entry)
    return entries


def check_entry_place(entry: Entry, previous: Entry | None, checkpoint: Checkpoint) -> None:
    if entry.record.log != checkpoint.log_id:
        raise VerifyError(entry.where, f"log {entry.record.log!r} is not the checkpoint's log {checkpoint.log_id!r}")
    if previous is not None and entry.index <= previous.index:
        raise VerifyError(entry.where, f"index {entry.index} does not follow index {previous.index} on the line before: "
                                       "records must be sorted by index, strictly increasing")
    if entry.index >= checkpoint.size:
        raise VerifyError(entry.where, f"index {entry.index} is outside the checkpoint's tree (size {checkpoint.size})")


def check_entry_proof(entry: Entry, proof_value: Any, checkpoint: Checkpoint) -> None:
    where = f"proofs.ndjson line {entry.line}"
    obj = json_object(proof_value, ("index", "tree_size", "hashes"), where, "inclusion proof")
    index = json_int(obj["index"], where, "index")
    tree_size = json_int(obj["tree_size"], where, "tree_size")
    hashes = json_list(obj["hashes"], json_hash, where, "hashes")
    if index != entry.index:
        raise VerifyError(where, f"proof is for index {index}, but line {entry.line} of records.ndjson is record {entry.index}")
    if tree_size != checkpoint.size:
        raise VerifyError(where, f"proof is against tree size {tree_size}, not the checkpoint's {checkpoint.size}")
    try:
        verify_inclusion(entry.index, checkpoint.size, entry.leaf, hashes, checkpoint.root)
    except ProofError as err:
        raise VerifyError(entry.where, f"not in the checkpoint's tree: inclusion proof failed ({err}); "
                                       "the record or its proof was altered") from None


def check_party_links(entries: Sequence[Entry]) -> None:
    """Checks every party link whose two ends are both in the bundle (§2.4)."""
    by_index = {entry.index: entry for entry in entries}
    last_seen: dict[str, Entry] = {}
    for entry in entries:
        for ref in entry.record.parties:
            earlier = last_seen.get(ref.party)
            if ref.prev_index is None:
                if earlier is not None:
                    raise VerifyError(entry.where, f"party {ref.party}: says it is the party's first record, "
                                                   f"but record {earlier.index} before it lists the party")
            else:
                check_party_link(entry, ref, earlier, by_index.get(ref.prev_index))
            last_seen[ref.party] = entry


def check_party_link(entry: Entry, ref: PartyRef, earlier: Entry | None, target: Entry | None) -> None:
    assert ref.prev_index is not None
    if ref.prev_index >= entry.index:
        raise VerifyError(entry.where, f"party {ref.party}: prev_index {ref.prev_index} is not before the record's own index")
    if earlier is not None and earlier.index > ref.prev_index:
        raise VerifyError(entry.where, f"party {ref.party}: prev_index {ref.prev_index} skips record {earlier.index}, which also lists the party")
    if target is not None:
        if target.record.party(ref.party) is None:
            raise VerifyError(entry.where, f"party {ref.party}: prev_index {ref.prev_index} names a record that does not list the party")
        if target.leaf != ref.prev_leaf_hash:
            raise VerifyError(entry.where, f"party {ref.party}: prev_leaf_hash is not the leaf hash of record {ref.prev_index}")


def check_party_export(entries: Sequence[Entry], selection: Selection) -> str:
    """Completeness of a party export through the party's chain (§7.5); returns a summary line."""
    party = selection.party
    assert party is not None
    if not entries:
        raise VerifyError("records.ndjson", "empty, but a party export must end with the export's own audit record")
    for entry in entries:
        if entry.record.party(party) is None:
            raise VerifyError(entry.where, f"does not list the selected party {party}: a party export holds only the party's records")
    start = check_chain_start(entries[0], party, selection.from_)
    for before, after in zip(entries, entries[1:]):
        check_chain_step(before, after, party, selection.from_)
    check_export_record(entries[-1], selection)
    return f"party chain: complete for {party} from {start} to the export record (index {entries[-1].index})"


def check_chain_start(first: Entry, party: str, from_: str | None) -> str:
    """The chain starts at the party's first record, or at the boundary record before `from`."""
    ref = first.record.party(party)
    assert ref is not None
    if ref.prev_index is None:
        return f"the party's first record (index {first.index})"
    missing = f"chain break for party {party}: the bundle starts here, but the record points back to record {ref.prev_index}, which is missing"
    if from_ is None:
        raise VerifyError(first.where, f"{missing}; with no 'from' the export must start at the party's first record")
    if first.record.recorded_at >= from_:
        raise VerifyError(first.where, f"{missing}; the first record must be the boundary record from before 'from' ({from_})")
    return f"the boundary record before 'from' (index {first.index})"


def check_chain_step(before: Entry, after: Entry, party: str, from_: str | None) -> None:
    """Each record links to the bundle's previous record of the party: nothing in between was dropped."""
    ref = after.record.party(party)
    assert ref is not None
    if ref.prev_index != before.index or ref.prev_leaf_hash != before.leaf:
        raise VerifyError(after.where, f"chain break for party {party}: the record's previous record for the party is "
                                       f"{ref.prev_index}, but the bundle's is {before.index}; records about the party were left out")


def check_export_record(last: Entry, selection: Selection) -> None:
    record = last.record
    if record.action != EXPORT_ACTION or record.request_id != selection.export_request_id:
        raise VerifyError(last.where, f"the bundle's last record is not the export's own audit record (action {EXPORT_ACTION!r}, "
                                      f"request_id {selection.export_request_id!r}): records about the party after it may have been left out")


def check_time_bounds(entries: Sequence[Entry], selection: Selection) -> str:
    """Without a party, each record lies within [from, to] (§7.5); completeness is not claimed."""
    for entry in entries:
        at = entry.record.recorded_at
        if selection.from_ is not None and at < selection.from_:
            raise VerifyError(entry.where, f"recorded at {at}, before the selection's 'from' ({selection.from_})")
        if selection.to is not None and at > selection.to:
            raise VerifyError(entry.where, f"recorded at {at}, after the selection's 'to' ({selection.to})")
    return "time range: every record within the selection's bounds"


def check_since(files: dict[str, bytes], key: VerifierKey, checkpoint: Checkpoint) -> Checkpoint | None:
    """An older checkpoint named by the recipient, and the proof the log only grew since (§7.6)."""
    if "since-checkpoint.txt" not in files:
        return None
    since = open_checkpoint(files["since-checkpoint.txt"], key, "since-checkpoint.txt")
    if since.origin != checkpoint.origin:
        raise VerifyError("since-checkpoint.txt", f"origin {since.origin!r} is not checkpoint.txt's {checkpoint.origin!r}")
    if since.size > checkpoint.size:
        raise VerifyError("since-checkpoint.txt", f"tree size {since.size} is larger than checkpoint.txt's {checkpoint.size}")
    proof = parse_consistency_proof(files["consistency.json"], "consistency.json")
    check_consistency(since, checkpoint, proof, "consistency.json")
    return since


def check_trusted(data: bytes, key: VerifierKey, checkpoint: Checkpoint, since: Checkpoint | None) -> str:
    """Ties the bundle to a checkpoint the recipient already trusted (§7.7); returns a summary line."""
    where = "--trusted-checkpoint"
    trusted = open_checkpoint(data, key, where)
    if trusted.origin != checkpoint.origin:
        raise VerifyError(where, f"origin {trusted.origin!r} is not the bundle's {checkpoint.origin!r}")
    if trusted.size > checkpoint.size:
        raise VerifyError(where, f"bundle is older than your trusted checkpoint (bundle tree size {checkpoint.size}, trusted {trusted.size})")
    if trusted.size == checkpoint.size:
        if trusted.root != checkpoint.root:
            raise VerifyError(where, f"rewritten history: your trusted checkpoint and checkpoint.txt both have tree size {trusted.size} but different roots")
        return f"trusted checkpoint: size {trusted.size}, same root as checkpoint.txt"
    if trusted.size == 0:
        return "trusted checkpoint: empty tree, a prefix of every tree"
    if since is None:
        raise VerifyError(where, f"your trusted checkpoint has tree size {trusted.size} < {checkpoint.size}, but the bundle carries "
                                 "no since-checkpoint.txt and consistency.json proving the log only grew since")
    if since.size != trusted.size:
        raise VerifyError("since-checkpoint.txt", f"is for tree size {since.size}, not your trusted checkpoint's {trusted.size}")
    if since.root != trusted.root:
        raise VerifyError("since-checkpoint.txt", f"rewritten history: same tree size {trusted.size} as your trusted checkpoint, but a different root")
    return f"trusted checkpoint: size {trusted.size}, proven a prefix of checkpoint.txt (size {checkpoint.size})"


def verify_bundle(path: str, key: VerifierKey, trusted: bytes | None = None, witnesses: Sequence[VerifierKey] = ()) -> list[str]:
    """All checks of §7.8, in order; returns the summary printed on success."""
    files = read_tar(path)
    manifest = check_manifest(files, key)
    checkpoint = open_checkpoint(files["checkpoint.txt"], key, "checkpoint.txt", witnesses)
    if checkpoint.origin != manifest.origin:
        raise VerifyError("checkpoint.txt", f"origin {checkpoint.origin!r} is not manifest.txt's {manifest.origin!r}")
    if checkpoint.size != manifest.tree_size:
        raise VerifyError("checkpoint.txt", f"tree size {checkpoint.size} is not manifest.txt's tree_size {manifest.tree_size}")
    selection = parse_selection(files["selection.json"], checkpoint.log_id)
    entries = load_entries(files, checkpoint)
    check_party_links(entries)
    scope = check_party_export(entries, selection) if selection.party is not None else check_time_bounds(entries, selection)
    since = check_since(files, key, checkpoint)
    lines = [
        f"OK: {path}",
        f"  log: {checkpoint.log_id} (origin {checkpoint.origin})",
        f"  checkpoint: {checkpoint.describe()}, signed by {key.label}",
        *(f"  witness: cosigned by {w.label}" for w in witnesses),
        f"  selection: party {selection.party or '-'}, from {selection.from_ or '-'}, to {selection.to or '-'}, "
        f"export request {selection.export_request_id}",
        f"  records: {describe_entries(entries)}, each proven in the checkpoint's tree",
        f"  {scope}",
    ]
    if since is not None:
        lines.append(f"  since-checkpoint: size {since.size} -> {checkpoint.size}, consistency proof verified")
    if trusted is not None:
        lines.append(f"  {check_trusted(trusted, key, checkpoint, since)}")
    return lines


def describe_entries(entries: Sequence[Entry]) -> str:
    if not entries:
        return "0"
    return f"{len(entries)} (indices {entries[0].index}..{entries[-1].index})"


# --------------------------------------------------------------------------- single proofs (§6)


def verify_inclusion_answer(key: VerifierKey, checkpoint_data: bytes, proof_data: bytes, witnesses: Sequence[VerifierKey]) -> list[str]:
    """Checks an API inclusion proof (with its record) against a signed checkpoint."""
    checkpoint = open_checkpoint(checkpoint_data, key, "checkpoint", witnesses)
    where = "proof"
    obj = json_object(parse_json(proof_data, where), ("index", "tree_size", "leaf_hash", "hashes", "record"), where, "inclusion proof")
    index = json_int(obj["index"], where, "index")
    tree_size = json_int(obj["tree_size"], where, "tree_size")
    claimed = json_hash(obj["leaf_hash"], where, "leaf_hash")
    hashes = json_list(obj["hashes"], json_hash, where, "hashes")
    record = parse_record(obj["record"], "proof record")
    if tree_size != checkpoint.size:
        raise VerifyError(where, f"tree_size {tree_size} is not the checkpoint's tree size {checkpoint.size}")
    if record.index != index:
        raise VerifyError(where, f"record.index {record.index} is not the proof's index {index}")
    if record.log != checkpoint.log_id:
        raise VerifyError(where, f"record.log {record.log!r} is not the checkpoint's log {checkpoint.log_id!r}")
    leaf = record.leaf_hash()
    if leaf != claimed:
        raise VerifyError(where, f"leaf_hash {b64(claimed)} is not the record's leaf hash {b64(leaf)}: the record was altered")
    try:
        verify_inclusion(index, tree_size, leaf, hashes, checkpoint.root)
    except ProofError as err:
        raise VerifyError(f"proof (record {index})", f"inclusion proof failed ({err})") from None
    return [
        f"OK: record {index} of log {checkpoint.log_id} is in the tree of size {checkpoint.size}",
        f"  checkpoint: {checkpoint.describe()}, signed by {key.label}",
        *(f"  witness: cosigned by {w.label}" for w in witnesses),
        f"  leaf hash: {b64(leaf)}",
    ]


def verify_consistency_answer(key: VerifierKey, old_data: bytes, new_data: bytes, proof_data: bytes, witnesses: Sequence[VerifierKey]) -> list[str]:
    """Checks that the newer signed checkpoint extends the older one."""
    old = open_checkpoint(old_data, key, "old checkpoint")
    new = open_checkpoint(new_data, key, "new checkpoint", witnesses)
    if old.origin != new.origin:
        raise VerifyError("new checkpoint", f"origin {new.origin!r} is not the old checkpoint's {old.origin!r}")
    if old.size > new.size:
        raise VerifyError("old checkpoint", f"tree size {old.size} is larger than the new checkpoint's {new.size}")
    check_consistency(old, new, parse_consistency_proof(proof_data, "proof"), "proof")
    return [
        f"OK: log {new.log_id} only grew from size {old.size} to {new.size}",
        f"  old: {old.describe()}",
        f"  new: {new.describe()}",
        *(f"  witness: cosigned by {w.label}" for w in witnesses),
    ]


# --------------------------------------------------------------------------- command line


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise VerifyError(path, f"cannot read {what}: {err.strerror}") from None


def load_key(argument: str, alg: int, option: str) -> VerifierKey:
    """A key given inline or as @path; a key file may end with a newline."""
    text = argument
    if argument.startswith("@"):
        text = decode_utf8(read_file(argument[1:], "key file"), argument[1:]).strip()
    return parse_verifier_key(text, alg, option)


def load_witnesses(arguments: Iterable[str]) -> list[VerifierKey]:
    return [load_key(arg, ALG_COSIGNATURE_V1, "--witness") for arg in arguments]


def run_bundle(args: argparse.Namespace) -> list[str]:
    key = load_key(args.key, ALG_ED25519, "--key")
    trusted = read_file(args.trusted_checkpoint, "trusted checkpoint") if args.trusted_checkpoint else None
    return verify_bundle(args.file, key, trusted, load_witnesses(args.witness))


def run_inclusion(args: argparse.Namespace) -> list[str]:
    key = load_key(args.key, ALG_ED25519, "--key")
    return verify_inclusion_answer(key, read_file(args.checkpoint, "checkpoint"), read_file(args.proof, "proof"),
                                   load_witnesses(args.witness))


def run_consistency(args: argparse.Namespace) -> list[str]:
    key = load_key(args.key, ALG_ED25519, "--key")
    return verify_consistency_answer(key, read_file(args.old, "old checkpoint"), read_file(args.new, "new checkpoint"),
                                     read_file(args.proof, "proof"), load_witnesses(args.witness))


def run_leaf(args: argparse.Namespace) -> list[str]:
    record = parse_record(parse_json(read_file(args.record, "record"), args.record), args.record)
    encoded = record.encode()
    return ([encoded.hex()] if args.bytes else []) + [b64(leaf_hash(encoded))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verify.py", description="Verify Custodia audit logs (see audit/FORMAT.md).")
    commands = parser.add_subparsers(dest="command", required=True)

    bundle = commands.add_parser("bundle", help="verify a regulator bundle (tar)")
    bundle.add_argument("file", metavar="FILE")
    bundle.add_argument("--trusted-checkpoint", metavar="FILE", help="a signed checkpoint you already trusted")
    bundle.set_defaults(run=run_bundle)

    inclusion = commands.add_parser("inclusion", help="verify an API inclusion proof against a checkpoint")
    inclusion.add_argument("--checkpoint", metavar="FILE", required=True)
    inclusion.add_argument("--proof", metavar="FILE", required=True)
    inclusion.set_defaults(run=run_inclusion)

    consistency = commands.add_parser("consistency", help="verify an API consistency proof between two checkpoints")
    consistency.add_argument("--old", metavar="FILE", required=True)
    consistency.add_argument("--new", metavar="FILE", required=True)
    consistency.add_argument("--proof", metavar="FILE", required=True)
    consistency.set_defaults(run=run_consistency)

    for sub in (bundle, inclusion, consistency):
        sub.add_argument("--key", metavar="KEY", required=True, help="audit verifier key, or @file")
        sub.add_argument("--witness", metavar="KEY", action="append", default=[],
                         help="require a cosignature by this witness (type 0x04 key, or @file); repeatable")

    leaf = commands.add_parser("leaf", help="print a record's base64 leaf hash")
    leaf.add_argument("record", metavar="RECORD_JSON_FILE")
    leaf.add_argument("--bytes", action="store_true", help="also print the canonical encoding in hex")
    leaf.set_defaults(run=run_leaf)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lines = args.run(args)
    except VerifyError as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
