"""Producer-side helpers for the tests and the test vectors: keys, signing, trees, bundles.

Kept out of verify.py on purpose: the verifier never signs or builds trees. The tree and
proof builders here follow the recursive definitions of RFC 6962 §2.1 (MTH, PATH, PROOF),
so the tests cross-check them against verify.py's iterative RFC 9162 §2.1.3.2 / §2.1.4.2
verification. The bundle builder is a reference exporter following FORMAT.md §7.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import verify as v

ORIGIN_PREFIX = "custodia.local/audit"


# --------------------------------------------------------------------------- keys and notes


class Signer:
    """An Ed25519 note signer (type 0x01) or witness cosigner (type 0x04) from a fixed seed."""

    def __init__(self, name: str, seed: bytes, alg: int = v.ALG_ED25519) -> None:
        self.name = name
        self.seed = seed
        self.alg = alg
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = v.VerifierKey(name, alg, self.public_key)

    @property
    def vkey(self) -> str:
        return str(self.verifier)

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """`— <name> base64(keyid || sig)`; a cosignature also carries its timestamp (tlog-cosignature)."""
        if self.alg == v.ALG_COSIGNATURE_V1:
            assert timestamp is not None
            message = f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
            payload = timestamp.to_bytes(8, "big") + self._private.sign(message)
        else:
            payload = self._private.sign(text.encode())
        return f"{v.SIG_PREFIX}{self.name} {v.b64(self.verifier.key_id + payload)}"


def sign_note(text: str, lines: Sequence[str]) -> bytes:
    return (text + "\n" + "".join(line + "\n" for line in lines)).encode()


def signed(text: str, signer: Signer, *extra_lines: str) -> bytes:
    return sign_note(text, [signer.signature_line(text), *extra_lines])


# --------------------------------------------------------------------------- trees (RFC 6962 §2.1)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return v.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return v.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def consistency_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); empty when m is 0 or n (FORMAT.md §3.3)."""
    if m == 0 or m == len(leaves):
        return []
    return _subproof(m, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def checkpoint_text(origin: str, size: int, root: bytes, time: str) -> str:
    return f"{origin}\n{size}\n{v.b64(root)}\ntime {time}\n"


# --------------------------------------------------------------------------- records and logs


def record_json(**fields: Any) -> dict[str, Any]:
    """A record JSON object with every key, in the documented order (FORMAT.md §2.2)."""
    defaults: dict[str, Any] = {
        "client_id": None, "role": None, "on_behalf_of": None, "purpose": None, "resource_id": None,
        "fields": [], "outcome": "allowed", "status": 200, "error_code": None, "evidence_sha256": None,
        "parties": [],
    }
    merged = {**defaults, **fields}
    return {key: merged[key] for key in v.RECORD_KEYS}


def to_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def leaf_of(record: dict[str, Any]) -> bytes:
    return v.parse_record(record, "testkit").leaf_hash()


@dataclass
class Log:
    """An in-memory log that links each record to the previous record of each party."""

    log_id: str
    origin_prefix: str = ORIGIN_PREFIX
    records: list[dict[str, Any]] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.origin_prefix}/{self.log_id}"

    def append(self, *, recorded_at: str, action: str, parties: Sequence[str] = (), request_id: str | None = None,
               **other: Any) -> dict[str, Any]:
        index = len(self.records)
        refs = [self._party_ref(p) for p in sorted(set(parties), key=lambda p: p.encode())]
        record = record_json(index=index, log=self.log_id, recorded_at=recorded_at,
                             request_id=request_id or f"req-{self.log_id}-{index:04d}", action=action,
                             parties=refs, **other)
        self.records.append(record)
        self.leaves.append(leaf_of(record))
        return record

    def _party_ref(self, party: str) -> dict[str, Any]:
        for record in reversed(self.records):
            if any(ref["party"] == party for ref in record["parties"]):
                return {"party": party, "prev_leaf_hash": v.b64(self.leaves[record["index"]]), "prev_index": record["index"]}
        return {"party": party, "prev_leaf_hash": None, "prev_index": None}

    def root(self, size: int | None = None) -> bytes:
        return mth(self.leaves[: len(self.leaves) if size is None else size])

    def checkpoint(self, signer: Signer, size: int | None = None, time: str = "2026-11-23T12:00:00Z",
                   witnesses: Sequence[tuple[Signer, int]] = ()) -> bytes:
        size = len(self.leaves) if size is None else size
        text = checkpoint_text(self.origin, size, self.root(size), time)
        cosigs = [w.signature_line(text, ts) for w, ts in witnesses]
        return signed(text, signer, *cosigs)

    def inclusion(self, index: int, size: int) -> list[str]:
        return [v.b64(h) for h in inclusion_path(index, self.leaves[:size])]

    def consistency(self, m: int, n: int) -> dict[str, Any]:
        return {"from_size": m, "to_size": n, "hashes": [v.b64(h) for h in consistency_path(m, self.leaves[:n])]}


# --------------------------------------------------------------------------- selections and bundles (§7)


def select_party(log: Log, party: str, from_: str | None = None, size: int | None = None) -> list[dict[str, Any]]:
    """The party's records, starting at its first record or at the boundary record before `from`."""
    records = log.records[: len(log.records) if size is None else size]
    chain = [r for r in records if any(ref["party"] == party for ref in r["parties"])]
    if from_ is None:
        return chain
    start = next((i for i, r in enumerate(chain) if r["recorded_at"] >= from_), len(chain))
    return chain[max(start - 1, 0):]


def select_range(log: Log, from_: str | None, to: str | None, size: int | None = None) -> list[dict[str, Any]]:
    records = log.records[: len(log.records) if size is None else size]
    return [r for r in records if (from_ is None or r["recorded_at"] >= from_) and (to is None or r["recorded_at"] <= to)]


def selection_json(log: Log, export_request_id: str, party: str | None = None, from_: str | None = None,
                   to: str | None = None) -> dict[str, Any]:
    return {"log": log.log_id, "from": from_, "to": to, "party": party, "export_request_id": export_request_id}


def bundle_files(log: Log, signer: Signer, selection: dict[str, Any], records: Sequence[dict[str, Any]],
                 size: int | None = None, since_size: int | None = None, time: str = "2026-11-23T12:00:00Z",
                 witnesses: Sequence[tuple[Signer, int]] = ()) -> dict[str, bytes]:
    """Every file of a v1 bundle except the manifest, keyed by name."""
    size = len(log.leaves) if size is None else size
    files = {
        "checkpoint.txt": log.checkpoint(signer, size, time, witnesses),
        "records.ndjson": ndjson(records),
        "proofs.ndjson": ndjson([{"index": r["index"], "tree_size": size, "hashes": log.inclusion(r["index"], size)} for r in records]),
        "selection.json": (to_line(selection) + "\n").encode(),
    }
    if since_size is not None:
        files["since-checkpoint.txt"] = log.checkpoint(signer, since_size, time)
        files["consistency.json"] = (to_line(log.consistency(since_size, size)) + "\n").encode()
    return files


def ndjson(values: Sequence[Any]) -> bytes:
    return "".join(to_line(value) + "\n" for value in values).encode()


def manifest_text(files: dict[str, bytes], origin: str, tree_size: int) -> str:
    lines = [v.BUNDLE_HEADER, f"origin {origin}", f"tree_size {tree_size}"]
    lines += [f"{hashlib.sha256(files[name]).hexdigest()}  {name}" for name in sorted(files, key=str.encode) if name != v.MANIFEST]
    return "\n".join(lines) + "\n"


def with_manifest(files: dict[str, bytes], signer: Signer, origin: str, tree_size: int) -> dict[str, bytes]:
    """Adds (or re-signs) manifest.txt over the other files, as the exporter does last."""
    others = {name: data for name, data in files.items() if name != v.MANIFEST}
    return {v.MANIFEST: signed(manifest_text(others, origin, tree_size), signer), **others}


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """An uncompressed POSIX (ustar) tar, manifest first, fixed metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in sorted(files, key=lambda n: (n != v.MANIFEST, n)):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 1795435200
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()
