#!/usr/bin/env python3
"""Writes audit/testvectors.json (FORMAT.md §9) from fixed inputs; `--markdown` also prints
the annotated fragments pasted into FORMAT.md. Everything is deterministic (Ed25519
signatures included), so running it again must reproduce the file byte for byte;
test_verify.py checks that it does.

    python3 audit/make_testvectors.py [--markdown]
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from calendar import timegm
from pathlib import Path
from time import strptime
from typing import Any

import testkit as t
import verify as v

HERE = Path(__file__).resolve().parent
OUT = HERE / "testvectors.json"

KEY_NAME = "custodia.local/audit"
KEY_SEED = bytes(range(32))
WITNESS_NAME = "witness.example/w1"
WITNESS_SEED = bytes(range(32, 64))
CHECKPOINT_TIME = "2026-11-23T12:00:00Z"
COSIGNATURE_TIME = timegm(strptime("2026-11-23T12:00:05Z", "%Y-%m-%dT%H:%M:%SZ"))
PARTY_A = "0193a8f2-7c1e-7d4a-9b2f-3c5e6a7b8c9d"
PARTY_B = "0193a8f2-9d04-7e11-8a6b-1f2e3d4c5b6a"
CONSENT_EVENT = b'{"type":"consent","party":"0193a8f2-7c1e-7d4a-9b2f-3c5e6a7b8c9d","channel":"phone"}'


def build_log() -> t.Log:
    """The three records of the worked examples: create, read (with evidence), export."""
    log = t.Log("demo")
    log.append(recorded_at="2026-11-23T11:58:00.000000Z", request_id="req-0001", action="party.create",
               client_id="client-ingest-1", role="ingest", purpose="ingest", resource_id=PARTY_A,
               fields=["names:clear", "national_id:clear", "phones:clear"], status=201, parties=[PARTY_B, PARTY_A])
    log.append(recorded_at="2026-11-23T11:59:30.250000Z", request_id="req-0002", action="party.read",
               client_id="client-agent-1", role="agent", on_behalf_of="agente-peña-17", purpose="collection",
               resource_id=PARTY_A, fields=["names:clear", "phones:masked"],
               evidence_sha256=v.b64(hashlib.sha256(CONSENT_EVENT).digest()), parties=[PARTY_A, PARTY_B])
    log.append(recorded_at="2026-11-23T11:59:59.999999Z", request_id="req-0003", action="audit.export",
               client_id="client-compliance-1", role="compliance", purpose="compliance_review",
               resource_id=PARTY_A, parties=[PARTY_A])
    return log


def gateway_record() -> dict[str, Any]:
    return t.record_json(index=0, log="_gateway", recorded_at="2026-11-23T11:59:00.500000Z", request_id="req-0000",
                         action="party.read", outcome="denied", status=401, error_code="unauthenticated")


def record_vector(description: str, record: dict[str, Any]) -> dict[str, Any]:
    parsed = v.parse_record(record, description)
    encoded = parsed.encode()
    return {
        "description": description,
        "json": record,
        "json_line": t.to_line(record),
        "encoded_hex": encoded.hex(),
        "leaf_hash_b64": v.b64(v.leaf_hash(encoded)),
        "leaf_hash_hex": v.leaf_hash(encoded).hex(),
    }


def invalid_records(valid: dict[str, Any]) -> list[dict[str, Any]]:
    """Records that have no v1 encoding: an encoder must refuse them and a verifier reject them."""
    def variant(description: str, **changes: Any) -> dict[str, Any]:
        record = json.loads(json.dumps(valid))
        for key, value in changes.items():
            if value is _DELETE:
                del record[key]
            else:
                record[key] = value
        return {"description": description, "json": record}

    a, b = valid["parties"]
    return [
        variant("parties not sorted by party id", parties=[b, a]),
        variant("duplicate party", parties=[a, a]),
        variant("prev_leaf_hash set but prev_index null", parties=[{**a, "prev_index": None}, b]),
        variant("recorded_at without microseconds", recorded_at="2026-11-23T11:59:30Z"),
        variant("recorded_at with an offset instead of Z", recorded_at="2026-11-23T06:59:30.250000-05:00"),
        variant("outcome not allowed|denied|failed", outcome="ok"),
        variant("status above u16", status=70000),
        variant("log id with upper case", log="Demo"),
        variant("evidence_sha256 not 32 bytes", evidence_sha256=v.b64(b"short")),
        variant("unknown key", extra="x"),
        variant("missing key (nullable keys must be present as null)", client_id=_DELETE),
    ]


_DELETE = object()


def key_vector(signer: t.Signer) -> dict[str, Any]:
    return {
        "name": signer.name,
        "type": signer.alg,
        "seed_hex": signer.seed.hex(),
        "public_key_hex": signer.public_key.hex(),
        "key_id_hex": signer.verifier.key_id.hex(),
        "verifier_key": signer.vkey,
    }


def build_vectors() -> dict[str, Any]:
    key = t.Signer(KEY_NAME, KEY_SEED)
    witness = t.Signer(WITNESS_NAME, WITNESS_SEED, v.ALG_COSIGNATURE_V1)
    log = build_log()
    leaves = log.leaves
    body = t.checkpoint_text(log.origin, 3, log.root(3), CHECKPOINT_TIME)
    signature_line = key.signature_line(body)
    cosignature_line = witness.signature_line(body, COSIGNATURE_TIME)
    selection = t.selection_json(log, "req-0003", party=PARTY_A)
    files = t.bundle_files(log, key, selection, log.records, size=3, since_size=2, time=CHECKPOINT_TIME)
    manifest = t.manifest_text(files, log.origin, 3)
    return {
        "description": "Custodia audit log v1 test vectors; see audit/FORMAT.md §9. Generated by audit/make_testvectors.py.",
        "key": key_vector(key),
        "witness": key_vector(witness),
        "records": [record_vector(f"demo record {r['index']} ({r['action']})", r) for r in log.records]
        + [record_vector("_gateway record 0 (unauthenticated, denied)", gateway_record())],
        "invalid_records": invalid_records(log.records[1]),
        "tree": {
            "log": log.log_id,
            "origin": log.origin,
            "leaf_hashes_b64": [v.b64(leaf) for leaf in leaves],
            "roots_b64": {str(n): v.b64(log.root(n)) for n in range(4)},
            "inclusion_proofs": [{"index": i, "tree_size": n, "hashes": log.inclusion(i, n)}
                                 for n in (1, 2, 3) for i in range(n)],
            "consistency_proofs": [log.consistency(m, n) for m, n in ((0, 3), (1, 2), (1, 3), (2, 3), (3, 3))],
        },
        "api_inclusion_proof": {"index": 1, "tree_size": 3, "leaf_hash": v.b64(leaves[1]),
                                "hashes": log.inclusion(1, 3), "record": log.records[1]},
        "api_consistency_proof": log.consistency(2, 3),
        "checkpoint": {
            "origin": log.origin,
            "tree_size": 3,
            "root_b64": v.b64(log.root(3)),
            "time": CHECKPOINT_TIME,
            "body": body,
            "signature_line": signature_line,
            "signed_note": t.sign_note(body, [signature_line]).decode(),
            "cosignature_timestamp": COSIGNATURE_TIME,
            "cosigned_message": f"cosignature/v1\ntime {COSIGNATURE_TIME}\n{body}",
            "cosignature_line": cosignature_line,
            "cosigned_note": t.sign_note(body, [signature_line, cosignature_line]).decode(),
            "size_2_signed_note": log.checkpoint(key, 2, CHECKPOINT_TIME).decode(),
        },
        "bundle": {
            "description": "party export of " + PARTY_A + " (no time bounds) with since-checkpoint size 2; "
                           "tar headers are not part of the vector, only the member names and contents",
            "files": {name: data.decode() for name, data in sorted(files.items())},
            "manifest_text": manifest,
            "manifest_signed_note": t.signed(manifest, key).decode(),
        },
    }


def breakdown(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The encoding of one record split per field, for the annotated table in FORMAT.md §2.5."""
    r = v.parse_record(record, "breakdown")
    rows = [("version", v.RECORD_VERSION.hex()), ("log", v.enc_str(r.log).hex()),
            ("recorded_at", v.enc_str(r.recorded_at).hex()), ("request_id", v.enc_str(r.request_id).hex())]
    for name in ("client_id", "role", "on_behalf_of", "purpose"):
        rows.append((name, v.enc_opt(getattr(r, name), v.enc_str).hex()))
    rows += [("action", v.enc_str(r.action).hex()), ("resource_id", v.enc_opt(r.resource_id, v.enc_str).hex()),
             ("fields", v.enc_list(r.fields, v.enc_str).hex()), ("outcome", v.enc_str(r.outcome).hex()),
             ("status", struct.pack(">H", r.status).hex()), ("error_code", v.enc_opt(r.error_code, v.enc_str).hex()),
             ("evidence_sha256", v.enc_opt(r.evidence_sha256, v.enc_b32).hex()),
             ("parties", v.enc_list(r.parties, v.PartyRef.encode).hex())]
    assert "".join(h for _, h in rows) == r.encode().hex()
    return rows


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, ensure_ascii=False, indent=2) + "\n"


def print_markdown(vectors: dict[str, Any]) -> None:
    for vector in vectors["records"]:
        print(f"### {vector['description']}\n\n```json\n{vector['json_line']}\n```\n")
        print("| field | bytes (hex) |\n|---|---|")
        for name, hex_ in breakdown(vector["json"]):
            print(f"| {name} | `{hex_}` |")
        print(f"\nleaf hash: `{vector['leaf_hash_b64']}` (hex `{vector['leaf_hash_hex']}`)\n")


def main() -> None:
    vectors = build_vectors()
    OUT.write_text(render(vectors), encoding="utf-8")
    if "--markdown" in sys.argv[1:]:
        print_markdown(vectors)


if __name__ == "__main__":
    main()
