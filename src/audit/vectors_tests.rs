//! Every vector of `audit/testvectors.json` (FORMAT.md §9), computed by the independent
//! Python implementation, checked against this one: records → exact encoding and leaf
//! hash, records that must be rejected, tree roots, inclusion and consistency proofs
//! (generated here from the leaves, compared, verified), the API proof documents, the
//! checkpoint body and its signed note, the witness cosignature, and the bundle (every
//! member as the exporter writes it, the manifest, and the whole bundle through
//! [`verify_bundle`]).
//!
//! The keys are fixed test seeds and Ed25519 is deterministic, so signatures must match
//! byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::bundle::{self, ConsistencyFile, Selection};
use super::bundle_verify::verify_bundle;
use super::http::{ConsistencyProof, InclusionProof};
use super::merkle::{self, Hash, NodeKey, TreeBuilder};
use super::note::{self, Checkpoint, Note, SigningKey, VerifierKey, WitnessKey, WitnessVerifierKey};
use super::record::{decode_hash, Record, RecordJson};
use super::rows::StoredRecord;
use super::signer::AuditSigner;
use super::verify::parse_checkpoint;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

const VECTORS: &str = include_str!("../../audit/testvectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {value}"))
}

fn number(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_else(|| panic!("`{key}` is not an unsigned integer in {value}"))
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().unwrap_or_else(|| panic!("`{key}` is not an array in {value}"))
}

fn hash(b64: &str) -> Hash {
    decode_hash(b64).unwrap()
}

fn hashes(value: &Value) -> Vec<Hash> {
    value.as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect()
}

fn encode_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap()
}

/// A key vector as Go private-key text, `PRIVATE+KEY+<name>+<key id>+base64(type || seed)`:
/// parsing it checks the vector's key ID against its name, type and seed.
fn private_key_text(key: &Value) -> String {
    let mut raw = vec![u8::try_from(number(key, "type")).unwrap()];
    raw.extend(hex::decode(text(key, "seed_hex")).unwrap());
    format!("PRIVATE+KEY+{}+{}+{}", text(key, "name"), text(key, "key_id_hex"), B64.encode(raw))
}

fn audit_key(v: &Value) -> SigningKey {
    SigningKey::parse(&private_key_text(&v["key"])).unwrap()
}

fn witness_key(v: &Value) -> WitnessKey {
    WitnessKey::parse(&private_key_text(&v["witness"])).unwrap()
}

/// The gateway's signer with the vectors' key and origin prefix; returns it with the log id.
fn signer(v: &Value) -> (AuditSigner, String) {
    let origin = text(&v["tree"], "origin");
    let (prefix, log) = origin.rsplit_once('/').unwrap();
    assert_eq!(log, text(&v["tree"], "log"));
    let signer = AuditSigner::new(audit_key(v), prefix);
    assert_eq!(signer.origin(log), origin);
    (signer, log.to_string())
}

/// JSON → [`RecordJson`] → [`Record`], the path every verifier of this crate takes.
fn record_of(json: &Value) -> Result<Record, String> {
    let parsed: RecordJson = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    parsed.to_record().map_err(|e| e.to_string())
}

/// The same from JSON text (duplicate keys, escapes and number forms only exist there).
fn record_of_text(line: &str) -> Result<Record, String> {
    let parsed: RecordJson = serde_json::from_str(line).map_err(|e| e.to_string())?;
    parsed.to_record().map_err(|e| e.to_string())
}

fn leaves(v: &Value) -> Vec<Hash> {
    hashes(&v["tree"]["leaf_hashes_b64"])
}

fn roots(v: &Value) -> HashMap<u64, Hash> {
    let roots = v["tree"]["roots_b64"].as_object().unwrap();
    roots.iter().map(|(size, root)| (size.parse().unwrap(), hash(root.as_str().unwrap()))).collect()
}

/// Every stored node of the tree over `leaves`, as the sealer stores them.
fn nodes_of(leaves: &[Hash]) -> HashMap<NodeKey, Hash> {
    let mut tree = TreeBuilder::new();
    let mut nodes = HashMap::new();
    for leaf in leaves {
        tree.push_with(*leaf, |node| {
            nodes.insert(node.key(), node.hash);
        })
        .unwrap();
    }
    nodes
}

fn inclusion(leaves: &[Hash], index: u64, size: u64) -> Vec<Hash> {
    let nodes = nodes_of(&leaves[..to_usize(size)]);
    for key in merkle::inclusion_proof_nodes(index, size).unwrap() {
        assert!(nodes.contains_key(&key), "node {key:?} of the proof ({index}, {size}) is not stored");
    }
    merkle::inclusion_proof(index, size, &nodes).unwrap()
}

fn consistency(leaves: &[Hash], from: u64, to: u64) -> Vec<Hash> {
    let nodes = nodes_of(&leaves[..to_usize(to)]);
    for key in merkle::consistency_proof_nodes(from, to).unwrap() {
        assert!(nodes.contains_key(&key), "node {key:?} of the proof ({from} → {to}) is not stored");
    }
    merkle::consistency_proof(from, to, &nodes).unwrap()
}

fn checkpoint_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text(&v["checkpoint"], "time")).unwrap().with_timezone(&Utc)
}

/// The base64 part of a signature line, decoded.
fn signature_bytes(line: &str) -> Vec<u8> {
    B64.decode(line.rsplit_once(' ').unwrap().1).unwrap()
}

// ------------------------------------------------------------------------------------ keys

#[test]
fn keys_match_their_seeds() {
    let v = vectors();
    let key = audit_key(&v);
    let vector = &v["key"];
    assert_eq!(number(vector, "type"), u64::from(note::ALG_ED25519));
    assert_eq!(key.name(), text(vector, "name"));
    assert_eq!(format!("{:08x}", key.key_id()), text(vector, "key_id_hex"));
    assert_eq!(hex::encode(key.verifier().public_key()), text(vector, "public_key_hex"));
    assert_eq!(key.verifier().to_text(), text(vector, "verifier_key"));
    assert_eq!(VerifierKey::parse(text(vector, "verifier_key")).unwrap(), key.verifier());
    let public: [u8; 32] = hex::decode(text(vector, "public_key_hex")).unwrap().try_into().unwrap();
    assert_eq!(VerifierKey::new(text(vector, "name"), public).unwrap(), key.verifier());

    let witness = witness_key(&v);
    let vector = &v["witness"];
    assert_eq!(number(vector, "type"), u64::from(note::ALG_COSIGNATURE_V1));
    assert_eq!(witness.name(), text(vector, "name"));
    assert_eq!(format!("{:08x}", witness.key_id()), text(vector, "key_id_hex"));
    assert_eq!(hex::encode(witness.verifier().public_key()), text(vector, "public_key_hex"));
    assert_eq!(witness.verifier().to_text(), text(vector, "verifier_key"));
    assert_eq!(WitnessVerifierKey::parse(text(vector, "verifier_key")).unwrap(), witness.verifier());

    // A key of one type is never accepted as the other.
    assert!(WitnessVerifierKey::parse(text(&v["key"], "verifier_key")).is_err());
    assert!(VerifierKey::parse(text(&v["witness"], "verifier_key")).is_err());
}

// ------------------------------------------------------------------------------------ records

#[test]
fn records_encode_and_hash_exactly() {
    let v = vectors();
    let records = list(&v, "records");
    assert_eq!(records.len(), 4, "three demo records and one _gateway record");
    for vector in records {
        let what = text(vector, "description");
        let record = record_of(&vector["json"]).unwrap_or_else(|e| panic!("{what}: {e}"));
        let encoded = record.encode();
        assert_eq!(hex::encode(&encoded), text(vector, "encoded_hex"), "{what}: encoding");
        assert_eq!(B64.encode(record.leaf_hash()), text(vector, "leaf_hash_b64"), "{what}: leaf hash");
        assert_eq!(hex::encode(record.leaf_hash()), text(vector, "leaf_hash_hex"), "{what}: leaf hash hex");
        assert_eq!(merkle::leaf_hash(&encoded), record.leaf_hash(), "{what}: SHA-256(0x00 || encoding)");

        // The JSON line parses to the same record, and this implementation writes it back
        // byte for byte (key order, escaping, no whitespace).
        let line = text(vector, "json_line");
        assert_eq!(record_of_text(line).unwrap(), record, "{what}: json_line");
        let parsed: RecordJson = serde_json::from_str(line).unwrap();
        let prev: Vec<Option<u64>> = parsed.parties.iter().map(|p| p.prev_index).collect();
        assert_eq!(serde_json::to_string(&record.to_json(parsed.index, &prev)).unwrap(), line, "{what}: written");
    }
}

#[test]
fn invalid_records_are_rejected() {
    let v = vectors();
    let invalid = list(&v, "invalid_records");
    assert_eq!(invalid.len(), 11);
    for vector in invalid {
        let what = text(vector, "description");
        assert!(record_of(&vector["json"]).is_err(), "accepted a record with no v1 encoding: {what}");
        assert!(record_of_text(&vector["json"].to_string()).is_err(), "accepted as text: {what}");
    }
}

/// More of FORMAT.md §1/§2.2's rules, on record 1 of the vectors (the same mutations as
/// test_verify.py's `test_rejection_messages`, plus a few only JSON text can express).
#[test]
fn record_json_is_strict() {
    let v = vectors();
    let line = text(&list(&v, "records")[1], "json_line");
    assert!(record_of_text(line).is_ok());
    let evidence = text(&list(&v, "records")[1]["json"], "evidence_sha256");
    let non_canonical = format!("{}t=", &evidence[..evidence.len() - 2]);
    let url_safe = evidence.replace('/', "_");
    let edits: Vec<(&str, String)> = vec![
        ("duplicate key", line.replacen("\"log\":\"demo\"", "\"log\":\"demo\",\"log\":\"demo\"", 1)),
        ("lone surrogate", line.replacen("\"req-0002\"", "\"\\ud800\"", 1)),
        ("not a calendar date", line.replacen("2026-11-23T11:59:30", "2026-02-30T11:59:30", 1)),
        ("leap second", line.replacen("11:59:30.250000Z", "11:59:60.250000Z", 1)),
        ("hour 24", line.replacen("11:59:30.250000Z", "24:00:00.000000Z", 1)),
        ("lower-case z", line.replacen("30.250000Z", "30.250000z", 1)),
        ("status as boolean", line.replacen("\"status\":200", "\"status\":true", 1)),
        ("status with a fraction", line.replacen("\"status\":200", "\"status\":200.0", 1)),
        ("negative status", line.replacen("\"status\":200", "\"status\":-1", 1)),
        ("index of 2^63", line.replacen("\"index\":1", "\"index\":9223372036854775808", 1)),
        ("index as a string", line.replacen("\"index\":1", "\"index\":\"1\"", 1)),
        ("non-canonical base64", line.replacen(evidence, &non_canonical, 1)),
        ("URL-safe base64", line.replacen(evidence, &url_safe, 1)),
        ("unpadded base64", line.replacen(evidence, evidence.trim_end_matches('='), 1)),
        ("unknown party key", line.replacen("\"prev_index\":0}", "\"prev_index\":0,\"x\":1}", 1)),
        ("missing party key", line.replacen(",\"prev_index\":0}", "}", 1)),
        ("NaN", line.replacen("\"status\":200", "\"status\":NaN", 1)),
        ("log with a space", line.replacen("\"log\":\"demo\"", "\"log\":\"de mo\"", 1)),
        ("log too long", line.replacen("\"log\":\"demo\"", &format!("\"log\":\"{}\"", "d".repeat(41)), 1)),
    ];
    assert!(url_safe != evidence, "the evidence hash has a '/' to turn into '_'");
    for (what, edited) in edits {
        assert_ne!(edited, line, "{what}: the edit changed nothing");
        assert!(record_of_text(&edited).is_err(), "accepted: {what}: {edited}");
    }
}

// ------------------------------------------------------------------------------------ tree

#[test]
fn tree_roots_match_for_every_size() {
    let v = vectors();
    let leaves = leaves(&v);
    let demo: Vec<Hash> = list(&v, "records")
        .iter()
        .filter(|r| r["json"]["log"] == v["tree"]["log"])
        .map(|r| hash(text(r, "leaf_hash_b64")))
        .collect();
    assert_eq!(leaves, demo, "the tree's leaves are the demo records' leaf hashes, in index order");
    let roots = roots(&v);
    assert_eq!(roots.len(), leaves.len() + 1, "a root for every size 0..=n");
    assert_eq!(roots[&0], merkle::empty_root());
    for (size, root) in &roots {
        let prefix = &leaves[..to_usize(*size)];
        assert_eq!(merkle::root_from_leaves(prefix), *root, "root of size {size}");
        assert_eq!(merkle::root(*size, &nodes_of(prefix)).unwrap(), *root, "root of size {size} from stored nodes");
        let mut tree = TreeBuilder::new();
        for leaf in prefix {
            tree.push(*leaf).unwrap();
        }
        assert_eq!(tree.root(), *root, "streamed root of size {size}");
    }
}

#[test]
fn inclusion_proofs_are_generated_identically_and_verify() {
    let v = vectors();
    let (leaves, roots) = (leaves(&v), roots(&v));
    let proofs = list(&v["tree"], "inclusion_proofs");
    let n = leaves.len();
    assert_eq!(proofs.len(), n * (n + 1) / 2, "every index of every non-empty size");
    for proof in proofs {
        let (index, size) = (number(proof, "index"), number(proof, "tree_size"));
        let expected = hashes(&proof["hashes"]);
        assert_eq!(inclusion(&leaves, index, size), expected, "PATH({index}, D[{size}])");
        let leaf = leaves[to_usize(index)];
        merkle::verify_inclusion(&leaf, index, size, &expected, &roots[&size]).unwrap();
        let other = leaves[(to_usize(index) + 1) % to_usize(size)];
        if other != leaf {
            assert!(merkle::verify_inclusion(&other, index, size, &expected, &roots[&size]).is_err());
        }
        if !expected.is_empty() {
            let mut flipped = expected.clone();
            flipped[0][0] ^= 1;
            assert!(merkle::verify_inclusion(&leaf, index, size, &flipped, &roots[&size]).is_err());
        }
    }
}

#[test]
fn consistency_proofs_are_generated_identically_and_verify() {
    let v = vectors();
    let (leaves, roots) = (leaves(&v), roots(&v));
    let proofs = list(&v["tree"], "consistency_proofs");
    assert_eq!(proofs.len(), 5);
    for proof in proofs {
        let (from, to) = (number(proof, "from_size"), number(proof, "to_size"));
        let expected = hashes(&proof["hashes"]);
        assert_eq!(consistency(&leaves, from, to), expected, "PROOF({from}, D[{to}])");
        merkle::verify_consistency(from, to, &roots[&from], &roots[&to], &expected).unwrap();
        if from > 0 && from < to {
            assert!(merkle::verify_consistency(from, to, &roots[&to], &roots[&to], &expected).is_err());
            assert!(merkle::verify_consistency(from, to, &roots[&from], &roots[&from], &expected).is_err());
            assert!(merkle::verify_consistency(from, to, &roots[&from], &roots[&to], &[]).is_err());
        }
    }
}

#[test]
fn api_proof_documents_match() {
    let v = vectors();
    let (leaves, roots) = (leaves(&v), roots(&v));
    let api = &v["api_inclusion_proof"];
    let (index, size) = (number(api, "index"), number(api, "tree_size"));
    let json: RecordJson = serde_json::from_value(api["record"].clone()).unwrap();
    assert_eq!(json.index, Some(index));
    assert_eq!(json.log, text(&v["tree"], "log"));
    let record = json.to_record().unwrap();
    assert_eq!(B64.encode(record.leaf_hash()), text(api, "leaf_hash"));
    let path = inclusion(&leaves, index, size);
    assert_eq!(path, hashes(&api["hashes"]));
    merkle::verify_inclusion(&record.leaf_hash(), index, size, &path, &roots[&size]).unwrap();
    let prev: Vec<Option<u64>> = json.parties.iter().map(|p| p.prev_index).collect();
    let document = InclusionProof {
        index,
        tree_size: size,
        leaf_hash: B64.encode(record.leaf_hash()),
        hashes: encode_all(&path),
        record: record.to_json(Some(index), &prev),
    };
    assert_eq!(serde_json::to_value(&document).unwrap(), *api, "the API's inclusion proof document");

    let api = &v["api_consistency_proof"];
    let (from, to) = (number(api, "from_size"), number(api, "to_size"));
    let path = consistency(&leaves, from, to);
    merkle::verify_consistency(from, to, &roots[&from], &roots[&to], &path).unwrap();
    let document = ConsistencyProof { from_size: from, to_size: to, hashes: encode_all(&path) };
    assert_eq!(serde_json::to_value(&document).unwrap(), *api, "the API's consistency proof document");
}

// ------------------------------------------------------------------------------------ notes

#[test]
fn checkpoint_body_and_signed_note_match() {
    let v = vectors();
    let cp = &v["checkpoint"];
    let (signer, log) = signer(&v);
    let root = hash(text(cp, "root_b64"));
    assert_eq!(root, roots(&v)[&number(cp, "tree_size")]);
    let checkpoint = Checkpoint {
        origin: text(cp, "origin").to_string(),
        size: number(cp, "tree_size"),
        root,
        extensions: vec![format!("time {}", text(cp, "time"))],
    };
    let body = text(cp, "body");
    assert_eq!(checkpoint.to_text(), body);
    assert_eq!(Checkpoint::parse(body).unwrap(), checkpoint);

    // Signed the way the sealer signs: exactly the vector's note and signature line.
    let signed = signer.sign_checkpoint(&log, checkpoint.size, &root, checkpoint_time(&v)).unwrap();
    assert_eq!(signed, text(cp, "signed_note"));
    let line = text(cp, "signature_line");
    assert_eq!(signed, format!("{body}\n{line}\n"));
    let key = audit_key(&v);
    assert_eq!(note::sign_note(body, &[&key]).unwrap(), signed);
    let raw = signature_bytes(line);
    assert_eq!(raw.len(), 4 + 64);
    assert_eq!(raw[..4], key.key_id().to_be_bytes());

    let note = Note::parse(&signed).unwrap();
    assert_eq!(note.text(), body);
    assert_eq!(note.to_text(), signed);
    note.verify(&[key.verifier()]).unwrap();
    let verified = parse_checkpoint(&signed, &key.verifier(), text(cp, "origin")).unwrap();
    assert_eq!(verified, checkpoint);
    let altered = signed.replacen("\n3\n", "\n4\n", 1);
    assert!(parse_checkpoint(&altered, &key.verifier(), text(cp, "origin")).is_err());

    // The size-2 checkpoint (the bundle's since-checkpoint and trusted checkpoint).
    let signed2 = signer.sign_checkpoint(&log, 2, &roots(&v)[&2], checkpoint_time(&v)).unwrap();
    assert_eq!(signed2, text(cp, "size_2_signed_note"));
}

#[test]
fn witness_cosignature_matches() {
    let v = vectors();
    let cp = &v["checkpoint"];
    let witness = witness_key(&v);
    let (body, timestamp) = (text(cp, "body"), number(cp, "cosignature_timestamp"));
    let message = text(cp, "cosigned_message");
    assert_eq!(message, format!("cosignature/v1\ntime {timestamp}\n{body}"));
    let line = text(cp, "cosignature_line");
    assert_eq!(note::cosign(body, timestamp, &witness).unwrap(), format!("{line}\n"));

    // key ID (4) || timestamp (8) || Ed25519 over the cosigned message (64), checked with
    // ring directly rather than through note.rs.
    let raw = signature_bytes(line);
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(raw[..4], witness.key_id().to_be_bytes());
    assert_eq!(raw[4..12], timestamp.to_be_bytes());
    let witness_public = *witness.verifier().public_key();
    let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, witness_public);
    public.verify(message.as_bytes(), &raw[12..]).unwrap();

    // The gateway's note with the witness line appended is the vector's cosigned note.
    let mut note = Note::parse(text(cp, "signed_note")).unwrap();
    note.push_signature_line(line).unwrap();
    assert_eq!(note.to_text(), text(cp, "cosigned_note"));
    let cosigned = Note::parse(text(cp, "cosigned_note")).unwrap();
    let verified = cosigned.verify(&[audit_key(&v).verifier()]).unwrap();
    assert_eq!(verified.unverified_signatures().len(), 1, "the witness line is ignored by the audit key check");
    let cosignatures = cosigned.verify_cosignatures(&[witness.verifier()]).unwrap();
    assert_eq!(cosignatures.len(), 1);
    assert_eq!(cosignatures[0].timestamp, timestamp);
    assert_eq!(cosignatures[0].witness, witness.verifier());
}

// ------------------------------------------------------------------------------------ bundle

fn bundle_files(v: &Value) -> Vec<(String, Vec<u8>)> {
    let files = v["bundle"]["files"].as_object().unwrap();
    let mut files: Vec<(String, Vec<u8>)> =
        files.iter().map(|(name, data)| (name.clone(), data.as_str().unwrap().as_bytes().to_vec())).collect();
    files.sort();
    files
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} is not in the bundle")).1
}

#[test]
fn bundle_members_are_written_identically() {
    let v = vectors();
    let files = bundle_files(&v);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let expected = [
        "checkpoint.txt",
        "consistency.json",
        "proofs.ndjson",
        "records.ndjson",
        "selection.json",
        "since-checkpoint.txt",
    ];
    assert_eq!(names, expected);
    let cp = &v["checkpoint"];
    let size = number(cp, "tree_size");
    let leaves = leaves(&v);

    assert_eq!(file(&files, "checkpoint.txt"), text(cp, "signed_note").as_bytes());
    assert_eq!(file(&files, "since-checkpoint.txt"), text(cp, "size_2_signed_note").as_bytes());

    let selection: Selection = serde_json::from_slice(file(&files, "selection.json")).unwrap();
    assert_eq!(selection.log, text(&v["tree"], "log"));
    assert_eq!(bundle::json_line(&selection).unwrap(), file(&files, "selection.json"));
    let line = std::str::from_utf8(file(&files, "selection.json")).unwrap();
    for edited in [line.replacen("\"to\":null,", "", 1), line.replacen("{", "{\"extra\":1,", 1)] {
        assert!(serde_json::from_str::<Selection>(&edited).is_err(), "accepted {edited}");
    }

    let path = consistency(&leaves, 2, size);
    let consistency_file = ConsistencyFile { from_size: 2, to_size: size, hashes: encode_all(&path) };
    assert_eq!(bundle::json_line(&consistency_file).unwrap(), file(&files, "consistency.json"));

    // records.ndjson as the exporter writes it from stored records, prev_index included.
    let records: Vec<StoredRecord> = std::str::from_utf8(file(&files, "records.ndjson"))
        .unwrap()
        .lines()
        .zip(0..)
        .map(|(line, seq)| {
            let json: RecordJson = serde_json::from_str(line).unwrap();
            StoredRecord { seq, record_id: Vec::new(), leaf_index: json.index, record: json.to_record().unwrap() }
        })
        .collect();
    assert_eq!(records.len(), 3);
    let prev = bundle::prev_indices_within(&records);
    assert_eq!(bundle::records_ndjson(&records, &prev).unwrap(), file(&files, "records.ndjson"));

    let indices: Vec<u64> = records.iter().map(|r| r.leaf_index.unwrap()).collect();
    let proofs: Vec<Vec<Hash>> = indices.iter().map(|i| inclusion(&leaves, *i, size)).collect();
    assert_eq!(bundle::proofs_ndjson(&indices, size, &proofs).unwrap(), file(&files, "proofs.ndjson"));
}

#[test]
fn bundle_manifest_is_signed_identically_and_the_bundle_verifies() {
    let v = vectors();
    let files = bundle_files(&v);
    let (signer, _) = signer(&v);
    let origin = text(&v["tree"], "origin");
    let size = number(&v["checkpoint"], "tree_size");
    let manifest = bundle::manifest_text(origin, size, &files);
    assert_eq!(manifest, text(&v["bundle"], "manifest_text"));
    let signed = signer.sign_text(&manifest).unwrap();
    assert_eq!(signed, text(&v["bundle"], "manifest_signed_note"));

    let mut members = files.clone();
    members.insert(0, ("manifest.txt".to_string(), signed.into_bytes()));
    let tar = bundle::write_tar(&members).unwrap();
    let key = audit_key(&v).verifier();
    let trusted = text(&v["checkpoint"], "size_2_signed_note");
    let report = verify_bundle(&tar, &key, Some(trusted)).unwrap();
    assert_eq!(report.origin, origin);
    assert_eq!(report.tree_size, size);
    assert_eq!(report.records, 3);
    assert!(report.party_complete);
    assert_eq!(report.consistent_with, Some(2));

    // A member changed after signing fails.
    let mut tampered = members.clone();
    tampered[4].1 = tampered[4].1.iter().map(|b| if *b == b'7' { b'8' } else { *b }).collect();
    assert_eq!(tampered[4].0, "records.ndjson");
    assert!(verify_bundle(&bundle::write_tar(&tampered).unwrap(), &key, Some(trusted)).is_err());
}
