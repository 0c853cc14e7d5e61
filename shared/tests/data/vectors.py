#!/usr/bin/env python3
"""Recomputes the key and handshake test vectors with an independent
implementation (Python's `cryptography` for ed25519, the standard library for
base32), so the Rust tests check against more than themselves.

Writes secret_key_7.txt, public_key_7.txt, handshake_7.txt (read by the Rust
unit tests in shared/src/link/) and handshake_7.json (every input and output
of the worked example in docs/protocol.md, read by tests/e2e/outside.rs and
the outside client tests/e2e/outside/client.mjs).

    pip install cryptography && python3 shared/tests/data/vectors.py
"""
import base64
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))


def crc16_xmodem(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode(prefix, key):
    raw = bytes([prefix]) + key
    raw += struct.pack("<H", crc16_xmodem(raw))
    return base64.b32encode(raw).decode().rstrip("=")


def field(b):
    return struct.pack(">I", len(b)) + b


HUB_ID = "hub-1"
NONCE = bytes([9] * 32)
PROTO = 1
MACHINE_ID = "m-1"
MACHINE_NAME = "web-01"
AGENT_VERSION = "0.1.0"
TS = 1_700_000_000_000
HELLO_TS = 1_699_999_999_000

seed = bytes([7] * 32)
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
secret_text = encode(18 << 3, seed)
public_text = encode(15 << 3, pk)
fields = [
    ("domain", b"pmr-link-auth-v1"),
    ("hub_id", HUB_ID.encode()),
    ("nonce", NONCE),
    ("proto", struct.pack(">I", PROTO)),
    ("public_key", public_text.encode()),
    ("machine_id", MACHINE_ID.encode()),
    ("machine_name", MACHINE_NAME.encode()),
    ("agent_version", AGENT_VERSION.encode()),
    ("ts", struct.pack(">q", TS)),
]
signed = b"".join(field(v) for _, v in fields)
sig = sk.sign(signed)
open(os.path.join(HERE, "secret_key_7.txt"), "w").write(secret_text + "\n")
open(os.path.join(HERE, "public_key_7.txt"), "w").write(public_text + "\n")
open(os.path.join(HERE, "handshake_7.txt"), "w").write(signed.hex() + "\n" + sig.hex() + "\n")

hello = {"type": "hello", "proto": PROTO, "hub_id": HUB_ID, "nonce": NONCE.hex(), "ts": HELLO_TS}
auth = {
    "type": "auth",
    "proto": PROTO,
    "public_key": public_text,
    "machine_id": MACHINE_ID,
    "machine_name": MACHINE_NAME,
    "agent_version": AGENT_VERSION,
    "ts": TS,
    "nonce": NONCE.hex(),
    "sig": sig.hex(),
}
compact = {"separators": (",", ":"), "ensure_ascii": False}
example = {
    "about": "The worked handshake of docs/protocol.md; written by vectors.py.",
    "seed_hex": seed.hex(),
    "secret_key": secret_text,
    "public_key_hex": pk.hex(),
    "public_key": public_text,
    "hub_id": HUB_ID,
    "nonce_hex": NONCE.hex(),
    "proto": PROTO,
    "machine_id": MACHINE_ID,
    "machine_name": MACHINE_NAME,
    "agent_version": AGENT_VERSION,
    "ts": TS,
    "hello_json": json.dumps(hello, **compact),
    "signed_fields": [
        {"field": name, "length_hex": struct.pack(">I", len(v)).hex(), "value_hex": v.hex()}
        for name, v in fields
    ],
    "signed_bytes_hex": signed.hex(),
    "signature_hex": sig.hex(),
    "auth_json": json.dumps(auth, **compact),
}
with open(os.path.join(HERE, "handshake_7.json"), "w") as f:
    json.dump(example, f, indent=2)
    f.write("\n")
print(secret_text, public_text, sep="\n")
