"""Tests for audit/verify.py: encoding, Merkle proofs, signed notes, and tampered bundles.

Run with `python3 -m unittest discover -s audit`. Bundles are built here from generated
records with a fixed test key (testkit.py is a reference exporter following FORMAT.md),
then damaged one way at a time; each damage must be caught with a message that names
the file, the record and the check.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import make_testvectors as mv
import testkit as t
import verify as v

HERE = Path(__file__).resolve().parent
VECTORS = json.loads((HERE / "testvectors.json").read_text(encoding="utf-8"))

KEY = t.Signer("custodia.local/audit", bytes(range(32)))
IMPOSTOR = t.Signer("custodia.local/audit", bytes(range(1, 33)))  # same name, another key
WITNESS = t.Signer("witness.example/w1", bytes(range(32, 64)), v.ALG_COSIGNATURE_V1)

A, B, C = "0193a8f2-0000-7000-8000-00000000000a", "0193a8f2-0000-7000-8000-00000000000b", "0193a8f2-0000-7000-8000-00000000000c"
EXPORT_ID = "exp-0001"

# (action, parties) of the fixture log, one record a minute from 09:00.
SCRIPT: list[tuple[str, Sequence[str]]] = [
    ("party.create", [A]),      # 0
    ("party.create", [B]),      # 1
    ("party.read", [A]),        # 2
    ("party.search", [A, B]),   # 3
    ("party.read", [C]),        # 4
    ("party.update", [A]),      # 5
    ("party.read", [B]),        # 6
    ("party.read", [A, C]),     # 7
    ("party.read", [A]),        # 8
    ("party.read", []),         # 9 (denied, no party)
    ("party.read", [B]),        # 10
    ("audit.export", [A]),      # 11: the export's own record
]
A_CHAIN = [0, 2, 3, 5, 7, 8, 11]


def minute(i: int) -> str:
    return (datetime(2026, 11, 20, 9, 0) + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_log(rewrite_at: int | None = None) -> t.Log:
    """The fixture log; `rewrite_at` forks history there (same sizes, different records)."""
    log = t.Log("demo")
    for i, (action, parties) in enumerate(SCRIPT):
        extra: dict[str, Any] = {"outcome": "denied", "status": 403, "error_code": "forbidden"} if not parties else {}
        if i == rewrite_at:
            extra["fields"] = ["phones:clear"]
        log.append(recorded_at=minute(i), action=action, parties=parties, role="agent", purpose="collection",
                   request_id=EXPORT_ID if action == "audit.export" else None, **extra)
    return log


# --------------------------------------------------------------------------- helpers


def read_lines(files: dict[str, bytes], name: str) -> list[Any]:
    return [json.loads(line) for line in files[name].decode().splitlines()]


def write_lines(files: dict[str, bytes], name: str, values: Sequence[Any]) -> None:
    files[name] = t.ndjson(values)


def drop(files: dict[str, bytes], *indices: int) -> None:
    """Removes the records with these indices and their proofs."""
    for name in ("records.ndjson", "proofs.ndjson"):
        write_lines(files, name, [x for x in read_lines(files, name) if x["index"] not in indices])


class BundleTestCase(unittest.TestCase):
    """Builds bundles from the fixture log and runs verify_bundle on them as tar files."""

    def setUp(self) -> None:
        self.log = build_log()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name: str, data: bytes) -> str:
        path = os.path.join(self.tmp.name, name)
        Path(path).write_bytes(data)
        return path

    def party_files(self, party: str = A, from_: str | None = None, since: int | None = None,
                    log: t.Log | None = None, **kwargs: Any) -> dict[str, bytes]:
        log = log or self.log
        selection = t.selection_json(log, EXPORT_ID, party=party, from_=from_)
        return t.bundle_files(log, KEY, selection, t.select_party(log, party, from_), since_size=since, **kwargs)

    def range_files(self, from_: str | None, to: str | None, log: t.Log | None = None) -> dict[str, bytes]:
        log = log or self.log
        selection = t.selection_json(log, EXPORT_ID, from_=from_, to=to)
        return t.bundle_files(log, KEY, selection, t.select_range(log, from_, to))

    def bundle(self, files: dict[str, bytes], sign: bool = True, size: int = len(SCRIPT)) -> str:
        """Writes the tar; `sign` (re)signs manifest.txt as the exporter would, over the files as given."""
        if sign:
            files = t.with_manifest(files, KEY, self.log.origin, size)
        return self.path("bundle.tar", t.tar_bytes(files))

    def verify(self, files: dict[str, bytes], sign: bool = True, trusted: bytes | None = None,
               witnesses: Sequence[v.VerifierKey] = (), size: int = len(SCRIPT)) -> list[str]:
        return v.verify_bundle(self.bundle(files, sign, size), KEY.verifier, trusted, witnesses)

    def assertFails(self, files: dict[str, bytes], *fragments: str, sign: bool = True, trusted: bytes | None = None,
                    witnesses: Sequence[v.VerifierKey] = (), size: int = len(SCRIPT)) -> str:
        with self.assertRaises(v.VerifyError) as caught:
            self.verify(files, sign, trusted, witnesses, size)
        message = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


# --------------------------------------------------------------------------- bundles that verify


class ValidBundleTests(BundleTestCase):
    def test_party_export_from_first_record(self) -> None:
        summary = "\n".join(self.verify(self.party_files()))
        self.assertIn("records: 7 (indices 0..11)", summary)
        self.assertIn("from the party's first record (index 0) to the export record (index 11)", summary)

    def test_party_export_with_from_starts_at_boundary_record(self) -> None:
        files = self.party_files(from_=minute(5))
        self.assertEqual([r["index"] for r in read_lines(files, "records.ndjson")], [3, 5, 7, 8, 11])
        self.assertIn("the boundary record before 'from' (index 3)", "\n".join(self.verify(files)))

    def test_range_export(self) -> None:
        summary = "\n".join(self.verify(self.range_files(minute(2), minute(6))))
        self.assertIn("records: 5 (indices 2..6)", summary)

    def test_empty_range_export(self) -> None:
        self.assertIn("records: 0", "\n".join(self.verify(self.range_files(minute(30), None))))

    def test_since_checkpoint_and_trusted_checkpoint(self) -> None:
        files = self.party_files(since=8)
        summary = "\n".join(self.verify(files, trusted=self.log.checkpoint(KEY, 8)))
        self.assertIn("since-checkpoint: size 8 -> 12, consistency proof verified", summary)
        self.assertIn("trusted checkpoint: size 8, proven a prefix of checkpoint.txt (size 12)", summary)

    def test_trusted_checkpoint_of_the_same_size(self) -> None:
        summary = "\n".join(self.verify(self.party_files(), trusted=self.log.checkpoint(KEY, 12)))
        self.assertIn("trusted checkpoint: size 12, same root", summary)

    def test_witness_cosignature(self) -> None:
        files = self.party_files(witnesses=[(WITNESS, 1795435205)])
        self.assertIn(f"witness: cosigned by {WITNESS.verifier.label}", "\n".join(self.verify(files, witnesses=[WITNESS.verifier])))

    def test_signatures_by_unknown_keys_are_ignored(self) -> None:
        files = self.party_files()
        text = v.parse_note(files["checkpoint.txt"], "x").text
        files["checkpoint.txt"] = t.sign_note(text, [t.Signer("other.example/log", bytes(32)).signature_line(text),
                                                     KEY.signature_line(text)])
        self.verify(files)


# --------------------------------------------------------------------------- damaged bundles


class RecordTamperingTests(BundleTestCase):
    def test_modified_record(self) -> None:
        files = self.party_files()
        records = read_lines(files, "records.ndjson")
        records[1]["fields"] = ["names:clear", "phones:clear"]  # hide that phones were read in clear
        write_lines(files, "records.ndjson", records)
        self.assertFails(files, "records.ndjson line 2 (record 2): not in the checkpoint's tree: inclusion proof failed")

    def test_modified_record_without_a_new_manifest(self) -> None:
        files = t.with_manifest(self.party_files(), KEY, self.log.origin, 12)
        records = read_lines(files, "records.ndjson")
        records[1]["status"] = 404
        write_lines(files, "records.ndjson", records)
        self.assertFails(files, "records.ndjson: SHA-256", "does not match manifest.txt", sign=False)

    def test_deleted_record_line_but_not_its_proof(self) -> None:
        files = self.party_files()
        write_lines(files, "records.ndjson", read_lines(files, "records.ndjson")[:-1])
        self.assertFails(files, "proofs.ndjson: has 7 lines for 6 records in records.ndjson")

    def test_deleted_record_from_range_export(self) -> None:
        # A range export does not prove completeness (FORMAT.md §7.5); without the
        # gateway's key a deletion is still caught by the signed manifest.
        files = t.with_manifest(self.range_files(minute(2), minute(6)), KEY, self.log.origin, len(SCRIPT))
        drop(files, 4)
        self.assertFails(files, "does not match manifest.txt", "the file was altered", sign=False)

    def test_inserted_forged_record(self) -> None:
        files = self.party_files()
        records, proofs = read_lines(files, "records.ndjson"), read_lines(files, "proofs.ndjson")
        forged = dict(records[1], index=4, request_id="req-forged", action="party.delete")
        records.insert(2, forged)
        proofs.insert(2, dict(proofs[1], index=4))
        write_lines(files, "records.ndjson", records)
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "records.ndjson line 3 (record 4): not in the checkpoint's tree")

    def test_inserted_real_record_of_another_party(self) -> None:
        files = self.party_files()
        records, proofs = read_lines(files, "records.ndjson"), read_lines(files, "proofs.ndjson")
        records.insert(3, self.log.records[4])
        proofs.insert(3, {"index": 4, "tree_size": 12, "hashes": self.log.inclusion(4, 12)})
        write_lines(files, "records.ndjson", records)
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "records.ndjson line 4 (record 4): does not list the selected party " + A)

    def test_reordered_records(self) -> None:
        files = self.party_files()
        for name in ("records.ndjson", "proofs.ndjson"):
            lines = read_lines(files, name)
            lines[1], lines[2] = lines[2], lines[1]
            write_lines(files, name, lines)
        self.assertFails(files, "records.ndjson line 3 (record 2): index 2 does not follow index 3",
                         "sorted by index, strictly increasing")

    def test_record_of_another_log(self) -> None:
        files = self.party_files()
        records = read_lines(files, "records.ndjson")
        records[0]["log"] = "other"
        write_lines(files, "records.ndjson", records)
        self.assertFails(files, "records.ndjson line 1 (record 0): log 'other' is not the checkpoint's log 'demo'")

    def test_record_beyond_the_tree(self) -> None:
        selection = t.selection_json(self.log, EXPORT_ID, party=A)
        records = [self.log.records[i] for i in A_CHAIN]
        files = t.with_manifest(t.bundle_files(self.log, KEY, selection, records, size=11), KEY, self.log.origin, 11)
        self.assertFails(files, "(record 11): index 11 is outside the checkpoint's tree (size 11)", sign=False)


class ProofTamperingTests(BundleTestCase):
    def test_altered_proof_hash(self) -> None:
        files = self.party_files()
        proofs = read_lines(files, "proofs.ndjson")
        proofs[2]["hashes"][0] = v.b64(hashlib.sha256(b"x").digest())
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "records.ndjson line 3 (record 3): not in the checkpoint's tree",
                         "the proof does not lead to the root")

    def test_truncated_proof(self) -> None:
        files = self.party_files()
        proofs = read_lines(files, "proofs.ndjson")
        proofs[0]["hashes"].pop()
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "(record 0): not in the checkpoint's tree", "fewer hashes")

    def test_proof_for_another_index(self) -> None:
        files = self.party_files()
        proofs = read_lines(files, "proofs.ndjson")
        proofs[1]["index"] = 3
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "proofs.ndjson line 2: proof is for index 3, but line 2 of records.ndjson is record 2")

    def test_proof_against_another_tree_size(self) -> None:
        files = self.party_files()
        proofs = read_lines(files, "proofs.ndjson")
        proofs[0]["tree_size"] = 8
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "proofs.ndjson line 1: proof is against tree size 8, not the checkpoint's 12")

    def test_altered_consistency_proof(self) -> None:
        files = self.party_files(since=8)
        proof = json.loads(files["consistency.json"])
        proof["hashes"][-1] = v.b64(bytes(32))
        files["consistency.json"] = json.dumps(proof).encode()
        self.assertFails(files, "consistency.json: consistency proof from size 8 to 12 failed")


class CheckpointTamperingTests(BundleTestCase):
    def test_forged_checkpoint_signature(self) -> None:
        files = self.party_files()
        text = v.parse_note(files["checkpoint.txt"], "x").text
        impostor_sig = base64.b64decode(IMPOSTOR.signature_line(text).split(" ")[2])[4:]
        claims_key = f"{v.SIG_PREFIX}{KEY.name} {v.b64(KEY.verifier.key_id + impostor_sig)}"  # KEY's name and ID
        files["checkpoint.txt"] = t.sign_note(text, [claims_key])
        self.assertFails(files, f"checkpoint.txt: invalid signature by {KEY.verifier.label}: forged, or the text was altered")

    def test_checkpoint_signed_by_another_key(self) -> None:
        files = self.party_files()
        files["checkpoint.txt"] = self.log.checkpoint(IMPOSTOR)
        self.assertFails(files, f"checkpoint.txt: not signed by {KEY.verifier.label}")

    def test_checkpoint_text_altered_after_signing(self) -> None:
        files = self.party_files()
        files["checkpoint.txt"] = files["checkpoint.txt"].replace(b"time 2026-11-23T12:00:00Z", b"time 2026-11-24T12:00:00Z")
        self.assertFails(files, "checkpoint.txt: invalid signature by")

    def test_replaced_checkpoint_without_a_new_manifest(self) -> None:
        files = t.with_manifest(self.party_files(), KEY, self.log.origin, 12)
        files["checkpoint.txt"] = self.log.checkpoint(KEY, 8)
        self.assertFails(files, "checkpoint.txt: SHA-256", "does not match manifest.txt", sign=False)

    def test_replaced_checkpoint_of_another_size(self) -> None:
        files = self.party_files()
        files["checkpoint.txt"] = self.log.checkpoint(KEY, 8)
        self.assertFails(files, "checkpoint.txt: tree size 8 is not manifest.txt's tree_size 12")

    def test_replaced_checkpoint_of_another_history(self) -> None:
        files = self.party_files()
        files["checkpoint.txt"] = build_log(rewrite_at=5).checkpoint(KEY)
        self.assertFails(files, "records.ndjson line 1 (record 0): not in the checkpoint's tree")

    def test_replaced_checkpoint_of_another_log(self) -> None:
        files = self.party_files()
        other = t.Log("other")
        other.leaves = list(self.log.leaves)
        files["checkpoint.txt"] = other.checkpoint(KEY)
        self.assertFails(files, "checkpoint.txt: origin 'custodia.local/audit/other' is not manifest.txt's 'custodia.local/audit/demo'")

    def test_missing_witness_cosignature(self) -> None:
        self.assertFails(self.party_files(), f"checkpoint.txt: no cosignature by witness {WITNESS.verifier.label}",
                         witnesses=[WITNESS.verifier])

    def test_forged_witness_cosignature(self) -> None:
        files = self.party_files(witnesses=[(WITNESS, 1795435205)])
        text = files["checkpoint.txt"].decode()
        line = text.splitlines()[-1]
        raw = bytearray(base64.b64decode(line.split(" ")[2]))
        raw[11] ^= 1  # a timestamp bit: the cosigned message changes
        files["checkpoint.txt"] = text.replace(line, f"{v.SIG_PREFIX}{WITNESS.name} {v.b64(bytes(raw))}").encode()
        self.assertFails(files, f"checkpoint.txt: invalid cosignature by witness {WITNESS.verifier.label}",
                         witnesses=[WITNESS.verifier])


class ManifestTamperingTests(BundleTestCase):
    def test_hash_mismatch(self) -> None:
        files = t.with_manifest(self.party_files(), KEY, self.log.origin, 12)
        files["selection.json"] = files["selection.json"].replace(b'"party":"', b'"party":"x')
        self.assertFails(files, "selection.json: SHA-256", "does not match manifest.txt (", sign=False)

    def test_unlisted_file(self) -> None:
        files = t.with_manifest(self.party_files(), KEY, self.log.origin, 12)
        files["extra.txt"] = b"hello\n"
        self.assertFails(files, "extra.txt: present in the bundle but not listed in manifest.txt", sign=False)

    def test_listed_file_missing(self) -> None:
        files = t.with_manifest(self.party_files(), KEY, self.log.origin, 12)
        del files["proofs.ndjson"]
        self.assertFails(files, "proofs.ndjson: listed in manifest.txt but missing from the bundle", sign=False)

    def test_listed_file_unknown_to_v1(self) -> None:
        files = self.party_files()
        files["notes.txt"] = b"hello\n"
        self.assertFails(files, "notes.txt: not a file of a v1 bundle")

    def test_required_file_missing_from_manifest_and_bundle(self) -> None:
        files = self.party_files()
        del files["selection.json"]
        self.assertFails(files, "selection.json: missing from the bundle (required)")

    def test_since_checkpoint_without_consistency_proof(self) -> None:
        files = self.party_files(since=8)
        del files["consistency.json"]
        self.assertFails(files, "manifest.txt: since-checkpoint.txt and consistency.json must come together")

    def test_manifest_signed_by_another_key(self) -> None:
        files = self.party_files()
        files = {**files, v.MANIFEST: t.signed(t.manifest_text(files, self.log.origin, 12), IMPOSTOR)}
        self.assertFails(files, f"manifest.txt: not signed by {KEY.verifier.label}", sign=False)

    def test_manifest_missing(self) -> None:
        self.assertFails(self.party_files(), "manifest.txt: missing from the bundle", sign=False)

    def test_not_an_uncompressed_tar(self) -> None:
        path = self.path("bundle.tar.gz", gzip.compress(t.tar_bytes(t.with_manifest(self.party_files(), KEY, self.log.origin, 12))))
        with self.assertRaises(v.VerifyError) as caught:
            v.verify_bundle(path, KEY.verifier)
        self.assertIn("not an uncompressed tar archive", str(caught.exception))


class PartyChainTests(BundleTestCase):
    def test_dropped_party_record(self) -> None:
        files = self.party_files()
        drop(files, 5)
        self.assertFails(files, "records.ndjson line 4 (record 7): chain break for party " + A,
                         "previous record for the party is 5, but the bundle's is 3")

    def test_dropped_first_record_without_from(self) -> None:
        files = self.party_files()
        drop(files, 0)
        self.assertFails(files, "records.ndjson line 1 (record 2): chain break for party " + A,
                         "points back to record 0, which is missing; with no 'from'")

    def test_dropped_boundary_record(self) -> None:
        files = self.party_files(from_=minute(5))
        drop(files, 3)
        self.assertFails(files, "(record 5): chain break", "the first record must be the boundary record from before 'from'")

    def test_missing_export_record(self) -> None:
        files = self.party_files()
        drop(files, 11)
        self.assertFails(files, "records.ndjson line 6 (record 8): the bundle's last record is not the export's own audit record")

    def test_export_record_of_another_request(self) -> None:
        files = self.party_files()
        files["selection.json"] = files["selection.json"].replace(EXPORT_ID.encode(), b"exp-9999")
        self.assertFails(files, "(record 11): the bundle's last record is not the export's own audit record",
                         "'exp-9999'")

    def test_empty_party_export(self) -> None:
        files = self.party_files()
        drop(files, *A_CHAIN)
        self.assertFails(files, "records.ndjson: empty, but a party export must end with the export's own audit record")

    def test_wrong_link_written_by_a_buggy_log(self) -> None:
        log = build_log()
        record = log.records[5]
        record["parties"][0]["prev_leaf_hash"] = v.b64(log.leaves[0])  # should be record 3's leaf
        log.leaves[5] = t.leaf_of(record)
        self.assertFails(self.range_files(None, None, log=log),
                         "records.ndjson line 6 (record 5): party " + A + ": prev_leaf_hash is not the leaf hash of record 3")

    def test_link_that_skips_a_record(self) -> None:
        log = build_log()
        record = log.records[5]
        record["parties"][0].update(prev_index=2, prev_leaf_hash=v.b64(log.leaves[2]))
        log.leaves[5] = t.leaf_of(record)
        self.assertFails(self.range_files(None, None, log=log),
                         "(record 5): party " + A + ": prev_index 2 skips record 3, which also lists the party")


class SelectionTests(BundleTestCase):
    def test_range_export_with_a_record_after_to(self) -> None:
        files = self.range_files(minute(2), minute(6))
        records, proofs = read_lines(files, "records.ndjson"), read_lines(files, "proofs.ndjson")
        records.append(self.log.records[7])
        proofs.append({"index": 7, "tree_size": 12, "hashes": self.log.inclusion(7, 12)})
        write_lines(files, "records.ndjson", records)
        write_lines(files, "proofs.ndjson", proofs)
        self.assertFails(files, "(record 7): recorded at " + minute(7), "after the selection's 'to' (" + minute(6))

    def test_range_export_with_a_record_before_from(self) -> None:
        files = self.range_files(minute(1), minute(6))
        files["selection.json"] = files["selection.json"].replace(minute(1).encode(), minute(2).encode())
        self.assertFails(files, "(record 1): recorded at " + minute(1), "before the selection's 'from'")

    def test_selection_of_another_log(self) -> None:
        files = self.party_files()
        files["selection.json"] = files["selection.json"].replace(b'"log":"demo"', b'"log":"acme"')
        self.assertFails(files, "selection.json: log 'acme' is not the checkpoint's log 'demo'")


class TrustedCheckpointTests(BundleTestCase):
    def test_rewritten_history_since_trusted_checkpoint(self) -> None:
        fork = build_log(rewrite_at=5)
        files = self.party_files(since=8, log=fork)
        self.assertFails(files, "since-checkpoint.txt: rewritten history: same tree size 8 as your trusted checkpoint, but a different root",
                         trusted=self.log.checkpoint(KEY, 8))

    def test_rewritten_history_at_the_same_size(self) -> None:
        fork = build_log(rewrite_at=5)
        self.assertFails(self.party_files(log=fork), "--trusted-checkpoint: rewritten history", "both have tree size 12 but different roots",
                         trusted=self.log.checkpoint(KEY, 12))

    def test_bundle_older_than_trusted_checkpoint(self) -> None:
        files = self.party_files()
        longer = build_log()
        longer.append(recorded_at=minute(20), action="party.read", parties=[B])
        self.assertFails(files, "--trusted-checkpoint: bundle is older than your trusted checkpoint (bundle tree size 12, trusted 13)",
                         trusted=longer.checkpoint(KEY))

    def test_trusted_checkpoint_needs_a_consistency_proof(self) -> None:
        self.assertFails(self.party_files(), "--trusted-checkpoint: your trusted checkpoint has tree size 8 < 12",
                         "no since-checkpoint.txt and consistency.json", trusted=self.log.checkpoint(KEY, 8))

    def test_since_checkpoint_of_another_size(self) -> None:
        self.assertFails(self.party_files(since=6), "since-checkpoint.txt: is for tree size 6, not your trusted checkpoint's 8",
                         trusted=self.log.checkpoint(KEY, 8))

    def test_trusted_checkpoint_of_another_log(self) -> None:
        other = t.Log("acme")
        other.leaves = list(self.log.leaves)
        self.assertFails(self.party_files(), "--trusted-checkpoint: origin 'custodia.local/audit/acme' is not the bundle's",
                         trusted=other.checkpoint(KEY))

    def test_forged_trusted_checkpoint(self) -> None:
        self.assertFails(self.party_files(), "--trusted-checkpoint: not signed by", trusted=self.log.checkpoint(IMPOSTOR, 8))


# --------------------------------------------------------------------------- records, trees, notes


class RecordEncodingTests(unittest.TestCase):
    def test_record_vectors(self) -> None:
        for vector in VECTORS["records"]:
            with self.subTest(vector["description"]):
                record = v.parse_record(vector["json"], "vector")
                self.assertEqual(record.encode().hex(), vector["encoded_hex"])
                self.assertEqual(v.b64(record.leaf_hash()), vector["leaf_hash_b64"])
                self.assertEqual(json.loads(vector["json_line"]), vector["json"])

    def test_gateway_record_encoded_by_hand(self) -> None:
        """An encoding written out field by field, independently of Record.encode."""
        def s(text: str) -> bytes:
            return struct.pack(">I", len(text.encode())) + text.encode()
        expected = (b"\x01" + s("_gateway") + s("2026-11-23T11:59:00.500000Z") + s("req-0000") + b"\x00" * 4
                    + s("party.read") + b"\x00" + struct.pack(">I", 0) + s("denied") + struct.pack(">H", 401)
                    + b"\x01" + s("unauthenticated") + b"\x00" + struct.pack(">I", 0))
        gateway = VECTORS["records"][3]
        self.assertEqual(gateway["encoded_hex"], expected.hex())
        self.assertEqual(gateway["leaf_hash_hex"], hashlib.sha256(b"\x00" + expected).hexdigest())

    def test_invalid_record_vectors_are_rejected(self) -> None:
        for vector in VECTORS["invalid_records"]:
            with self.subTest(vector["description"]), self.assertRaises(v.VerifyError):
                v.parse_record(vector["json"], "vector")

    def test_rejection_messages(self) -> None:
        base = VECTORS["records"][1]["json"]
        cases = {
            "not sorted by party id": {"parties": list(reversed(base["parties"]))},
            "duplicate": {"parties": [base["parties"][0]] * 2},
            "must be UTC like 2026-11-23T12:00:00.000000Z": {"recorded_at": "2026-11-23T11:59:30Z"},
            "not a valid date and time": {"recorded_at": "2026-02-30T11:59:30.000000Z"},
            "status must be an integer from 0 to 65535": {"status": 70000},
            "status must be an integer": {"status": True},
            "lone surrogate": {"request_id": "\ud800"},
            "neither a tenant slug": {"log": "Demo"},
            "prev_leaf_hash and prev_index must be both null or both set": {"parties": [dict(base["parties"][0], prev_index=None), base["parties"][1]]},
            "evidence_sha256 must decode to 32 bytes": {"evidence_sha256": "AAAA"},
            "not canonical base64": {"evidence_sha256": base["evidence_sha256"][:-2] + "t="},
            "unknown key(s) 'extra'": {"extra": 1},
        }
        for fragment, change in cases.items():
            with self.subTest(fragment), self.assertRaises(v.VerifyError) as caught:
                v.parse_record({**base, **change}, "r")
            self.assertIn(fragment, str(caught.exception))

    def test_strict_json(self) -> None:
        for text, fragment in [('{"a":1,"a":2}', "duplicate JSON key 'a'"), ('{"a":NaN}', "NaN is not valid JSON"), ("{", "invalid JSON")]:
            with self.subTest(text), self.assertRaises(v.VerifyError) as caught:
                v.parse_json(text, "x")
            self.assertIn(fragment, str(caught.exception))


class MerkleTests(unittest.TestCase):
    def test_tree_vectors(self) -> None:
        tree = VECTORS["tree"]
        leaves = [base64.b64decode(h) for h in tree["leaf_hashes_b64"]]
        roots = {int(n): base64.b64decode(r) for n, r in tree["roots_b64"].items()}
        self.assertEqual(roots[0], hashlib.sha256(b"").digest())
        self.assertEqual(roots[3], v.node_hash(v.node_hash(leaves[0], leaves[1]), leaves[2]))
        for proof in tree["inclusion_proofs"]:
            i, n = proof["index"], proof["tree_size"]
            v.verify_inclusion(i, n, leaves[i], [base64.b64decode(h) for h in proof["hashes"]], roots[n])
        for proof in tree["consistency_proofs"]:
            m, n = proof["from_size"], proof["to_size"]
            v.verify_consistency(m, n, roots[m], roots[n], [base64.b64decode(h) for h in proof["hashes"]])

    def test_every_proof_up_to_64_leaves(self) -> None:
        """RFC 6962 recursive proofs (testkit) against RFC 9162 iterative verification (verify)."""
        leaves = [v.leaf_hash(bytes([i])) for i in range(64)]
        for n in range(65):
            root = t.mth(leaves[:n])
            for i in range(n):
                v.verify_inclusion(i, n, leaves[i], t.inclusion_path(i, leaves[:n]), root)
            for m in range(n + 1):
                v.verify_consistency(m, n, t.mth(leaves[:m]), root, t.consistency_path(m, leaves[:n]))

    def test_bad_inclusion_proofs(self) -> None:
        leaves = [v.leaf_hash(bytes([i])) for i in range(7)]
        root, path = t.mth(leaves), t.inclusion_path(3, leaves)
        for args in [(3, 7, leaves[4], path), (4, 7, leaves[3], path), (3, 4, leaves[3], path), (3, 7, leaves[3], path[:-1]),
                     (3, 7, leaves[3], path + [root]), (7, 7, leaves[3], path)]:
            with self.subTest(args[:2]), self.assertRaises(v.ProofError):
                v.verify_inclusion(*args, root)

    def test_bad_consistency_proofs(self) -> None:
        leaves = [v.leaf_hash(bytes([i])) for i in range(7)]
        old, new, path = t.mth(leaves[:3]), t.mth(leaves), t.consistency_path(3, leaves)
        for m, n, a, b, p in [(3, 7, new, new, path), (3, 7, old, old, path), (3, 7, old, new, path[:-1]), (3, 7, old, new, []),
                              (4, 7, old, new, path), (7, 3, new, old, path), (7, 7, old, new, []), (0, 7, old, new, [])]:
            with self.subTest((m, n)), self.assertRaises(v.ProofError):
                v.verify_consistency(m, n, a, b, p)


class GoSumdbNoteTests(unittest.TestCase):
    """golang.org/x/mod/sumdb/note test vectors (note_test.go, example_test.go)."""

    PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
    TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

    def peter(self) -> v.VerifierKey:
        return v.parse_verifier_key(self.PETER_VKEY, v.ALG_ED25519, "k")

    def test_verifier_key(self) -> None:
        key = self.peter()
        self.assertEqual((key.name, key.key_id.hex()), ("PeterNeumann", "c74f20a3"))
        self.assertEqual(str(key), self.PETER_VKEY)

    def test_open(self) -> None:
        note = v.parse_note((self.TEXT + "\n" + self.PETER_SIG).encode(), "n")
        v.verify_signed_by(note, self.peter(), "n")
        self.assertEqual(note.text, self.TEXT)

    def test_sign_reproduces_go_signature(self) -> None:
        seed = base64.b64decode(self.PETER_SKEY.split("+", 4)[4])[1:]
        signer = t.Signer("PeterNeumann", seed)
        self.assertEqual(signer.vkey, self.PETER_VKEY)
        self.assertEqual(signer.signature_line(self.TEXT) + "\n", self.PETER_SIG)

    def test_two_signatures_each_key_alone(self) -> None:
        note = v.parse_note((self.TEXT + "\n" + self.PETER_SIG + self.ENOCH_SIG).encode(), "n")
        v.verify_signed_by(note, self.peter(), "n")
        v.verify_signed_by(note, v.parse_verifier_key(self.ENOCH_VKEY, v.ALG_ED25519, "k"), "n")

    def test_unknown_key_only(self) -> None:
        note = v.parse_note((self.TEXT + "\n" + self.ENOCH_SIG).encode(), "n")
        with self.assertRaisesRegex(v.VerifyError, "not signed by PeterNeumann\\+c74f20a3"):
            v.verify_signed_by(note, self.peter(), "n")

    def test_invalid_signature(self) -> None:
        mangled = self.PETER_SIG[:60] + "ABCD" + self.PETER_SIG[60:]
        note = v.parse_note((self.TEXT + "\n" + mangled).encode(), "n")
        with self.assertRaisesRegex(v.VerifyError, "invalid signature by PeterNeumann\\+c74f20a3"):
            v.verify_signed_by(note, self.peter(), "n")

    def test_malformed_notes(self) -> None:
        bad = [self.TEXT, self.TEXT + "\n", self.TEXT + "\n" + self.PETER_SIG[:-1], "\x01" + self.TEXT + "\n" + self.PETER_SIG,
               self.TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
               self.TEXT + "\n" + self.PETER_SIG + "Unexpected line.\n", self.TEXT + "\n" + self.PETER_SIG * 101]
        for message in bad:
            with self.subTest(message[-30:]), self.assertRaises(v.VerifyError):
                v.parse_note(message.encode(), "n")
        with self.assertRaises(v.VerifyError):
            v.parse_note(b"\xff" + (self.TEXT + "\n" + self.PETER_SIG).encode(), "n")

    def test_bad_verifier_keys(self) -> None:
        for key in ["PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
                    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                    "PeterNeumann+c74f20a3", self.PETER_VKEY[1:], "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"]:
            with self.subTest(key), self.assertRaises(v.VerifyError):
                v.parse_verifier_key(key, v.ALG_ED25519, "k")
        with self.assertRaises(v.VerifyError):  # a type 0x01 key is not a witness key
            v.parse_verifier_key(self.PETER_VKEY, v.ALG_COSIGNATURE_V1, "k")


class CheckpointVectorTests(unittest.TestCase):
    def test_key_vector(self) -> None:
        key = VECTORS["key"]
        self.assertEqual(t.Signer(key["name"], bytes.fromhex(key["seed_hex"])).vkey, key["verifier_key"])
        witness = VECTORS["witness"]
        self.assertEqual(t.Signer(witness["name"], bytes.fromhex(witness["seed_hex"]), 4).vkey, witness["verifier_key"])

    def test_signed_and_cosigned_checkpoint(self) -> None:
        vector = VECTORS["checkpoint"]
        key = v.parse_verifier_key(VECTORS["key"]["verifier_key"], v.ALG_ED25519, "key")
        witness = v.parse_verifier_key(VECTORS["witness"]["verifier_key"], v.ALG_COSIGNATURE_V1, "witness")
        checkpoint = v.open_checkpoint(vector["signed_note"].encode(), key, "cp")
        self.assertEqual((checkpoint.origin, checkpoint.size, v.b64(checkpoint.root), checkpoint.time),
                         (vector["origin"], vector["tree_size"], vector["root_b64"], vector["time"]))
        v.open_checkpoint(vector["cosigned_note"].encode(), key, "cp", [witness])
        note = v.parse_note(vector["cosigned_note"].encode(), "cp")
        self.assertEqual(v.verify_cosigned_by(note, witness, "cp"), vector["cosignature_timestamp"])

    def test_malformed_checkpoints(self) -> None:
        body = VECTORS["checkpoint"]["body"]
        for bad in [body.replace("\n3\n", "\n03\n"), body.replace("time ", "time: "), body.replace("12:00:00Z", "12:00:00.000000Z"),
                    body.replace("custodia.local/audit/demo", "demo"), body + "extra\n", body.replace("=\n", "\n", 1)]:
            with self.subTest(bad), self.assertRaises(v.VerifyError):
                v.parse_checkpoint(bad, "cp")


class VectorFileTests(unittest.TestCase):
    def test_file_is_reproducible(self) -> None:
        self.assertEqual((HERE / "testvectors.json").read_text(encoding="utf-8"), mv.render(mv.build_vectors()))

    def test_vector_bundle_verifies(self) -> None:
        files = {name: text.encode() for name, text in VECTORS["bundle"]["files"].items()}
        files[v.MANIFEST] = VECTORS["bundle"]["manifest_signed_note"].encode()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "b.tar")
            Path(path).write_bytes(t.tar_bytes(files))
            key = v.parse_verifier_key(VECTORS["key"]["verifier_key"], v.ALG_ED25519, "key")
            v.verify_bundle(path, key, VECTORS["checkpoint"]["size_2_signed_note"].encode())

    def test_format_md_quotes_the_vectors(self) -> None:
        spec = (HERE / "FORMAT.md").read_text(encoding="utf-8")
        quoted = [VECTORS["key"]["verifier_key"], VECTORS["key"]["seed_hex"], VECTORS["witness"]["verifier_key"],
                  VECTORS["checkpoint"]["signature_line"], VECTORS["checkpoint"]["cosignature_line"],
                  VECTORS["bundle"]["manifest_signed_note"].splitlines()[-1],
                  *(r["leaf_hash_b64"] for r in VECTORS["records"]), *(r["json_line"] for r in VECTORS["records"][:2]),
                  *VECTORS["tree"]["roots_b64"].values()]
        for value in quoted:
            self.assertIn(value, spec)


class CommandLineTests(unittest.TestCase):
    """The CLI as a regulator runs it: exit status and what it prints."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.key = self.write("key.txt", VECTORS["key"]["verifier_key"] + "\n")

    def write(self, name: str, content: str | bytes) -> str:
        path = os.path.join(self.tmp.name, name)
        Path(path).write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(HERE / "verify.py"), *args], capture_output=True, text=True, check=False)

    def vector_bundle(self, change: dict[str, bytes] | None = None) -> str:
        files = {name: text.encode() for name, text in VECTORS["bundle"]["files"].items()}
        files[v.MANIFEST] = VECTORS["bundle"]["manifest_signed_note"].encode()
        files.update(change or {})
        return self.write("bundle.tar", t.tar_bytes(files))

    def test_bundle_ok(self) -> None:
        result = self.run_cli("bundle", self.vector_bundle(), "--key", "@" + self.key)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("OK: "))

    def test_bundle_failure(self) -> None:
        broken = {"records.ndjson": VECTORS["bundle"]["files"]["records.ndjson"].replace('"status":200', '"status":404', 1).encode()}
        result = self.run_cli("bundle", self.vector_bundle(broken), "--key", VECTORS["key"]["verifier_key"])
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, r"^FAIL: records.ndjson: SHA-256 [0-9a-f]{64} does not match manifest.txt")

    def test_inclusion_and_consistency(self) -> None:
        checkpoint = self.write("cp.txt", VECTORS["checkpoint"]["cosigned_note"])
        old = self.write("cp2.txt", VECTORS["checkpoint"]["size_2_signed_note"])
        proof = self.write("proof.json", json.dumps(VECTORS["api_inclusion_proof"]))
        consistency = self.write("consistency.json", json.dumps(VECTORS["api_consistency_proof"]))
        witness = VECTORS["witness"]["verifier_key"]
        result = self.run_cli("inclusion", "--key", "@" + self.key, "--checkpoint", checkpoint, "--proof", proof, "--witness", witness)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.run_cli("consistency", "--key", "@" + self.key, "--old", old, "--new", checkpoint, "--proof", consistency)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.run_cli("consistency", "--key", "@" + self.key, "--old", checkpoint, "--new", old, "--proof", consistency)
        self.assertEqual(result.returncode, 1)

    def test_inclusion_with_altered_record(self) -> None:
        answer = json.loads(json.dumps(VECTORS["api_inclusion_proof"]))
        answer["record"]["fields"] = ["names:clear"]
        checkpoint = self.write("cp.txt", VECTORS["checkpoint"]["signed_note"])
        result = self.run_cli("inclusion", "--key", "@" + self.key, "--checkpoint", checkpoint, "--proof", self.write("p.json", json.dumps(answer)))
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAIL: proof: leaf_hash SHzi3BYgNn2rkYPgzKkK8aewzSTvGrugO26/2CuppOc= is not the record's leaf hash", result.stderr)

    def test_leaf(self) -> None:
        vector = VECTORS["records"][1]
        result = self.run_cli("leaf", self.write("r.json", json.dumps(vector["json"])), "--bytes")
        self.assertEqual(result.stdout.split(), [vector["encoded_hex"], vector["leaf_hash_b64"]])

    def test_bad_key(self) -> None:
        result = self.run_cli("bundle", self.vector_bundle(), "--key", "custodia.local/audit+00000000+AAAA")
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAIL: --key:", result.stderr)


if __name__ == "__main__":
    unittest.main()
