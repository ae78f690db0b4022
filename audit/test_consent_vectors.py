"""Independent check of the consent-ledger encodings in CONSENT_PROOF.md §2.

Re-implements the three encodings from the document alone and checks the test
vectors the Rust tests pin (src/consent/event.rs, src/notices/domain.rs,
src/flags/domain.rs). Standard library only.
"""

import hashlib
import struct
import unittest


def s(text):
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def opt(text):
    return b"\x00" if text is None else b"\x01" + s(text)


def opt_hash(digest):
    return b"\x00" if digest is None else b"\x01" + digest


def u64(n):
    return struct.pack(">Q", n)


def strings(items):
    return struct.pack(">I", len(items)) + b"".join(s(i) for i in items)


PARTY = "0190f0e4-0000-7000-8000-0000000000aa"
CLIENT = "0190f0e4-0000-7000-8000-0000000000cc"


class ConsentVectors(unittest.TestCase):
    def test_consent_event(self):
        data = (
            b"\x01" + s("custodia.consent_event") + s("acme") + s(PARTY)
            + s("0190f0e4-0000-7000-8000-000000000001") + u64(3)
            + s("grant") + s("special_hours") + s("collection")
            + opt(None) + opt(None) + opt(None)
            + opt("2026-01-10") + opt("mon,wed 19:00-21:00")
            + s("written") + opt_hash(b"\x11" * 32) + s("2026-02-01T15:00:00.000000Z")
            + s("agent-17") + s("DOC-2026-0042") + opt_hash(b"\x22" * 32)
            + s("2026-02-01T15:00:05.000000Z") + opt(CLIENT)
        )
        self.assertEqual(
            hashlib.sha256(data).hexdigest(),
            "b7b759d81a04736ffb5f924559e6a067798a70939ec9e3276dea682eecea748f",
        )

    def test_privacy_notice(self):
        data = (
            b"\x01" + s("custodia.privacy_notice") + s("acme") + s("autorizacion-cobranza") + u64(2)
            + s("es-CO") + s("Autorización de tratamiento")
            + s("Autorizo a ACME S.A.S. a tratar mis datos\npara la gestión de cobranza.")
            + strings(["collection", "data_processing"]) + strings(["email", "sms"])
        )
        self.assertEqual(
            hashlib.sha256(data).hexdigest(),
            "1e2b3bc3ae114fc1824129e3884c9ccc91aeb7900341b43789a160972aa4a5f4",
        )

    def test_flag_event(self):
        data = (
            b"\x01" + s("custodia.flag_event") + s("acme") + s(PARTY) + s("f2") + u64(2)
            + s("set") + s("insolvency") + s("insolvency_admitted") + opt("RAD-2026-0001")
            + opt("2026-01-20") + opt("2026-01-22")
            + s("2026-02-01T15:00:00.000000Z") + opt(CLIENT) + opt("agent-17")
        )
        self.assertEqual(
            hashlib.sha256(data).hexdigest(),
            "efee24e6167ec1517cb42d298d3c1067da700b845d4b099928e6937a30df5849",
        )


if __name__ == "__main__":
    unittest.main()
