#!/usr/bin/env python3
"""Recomputes the key and handshake test vectors with an independent
implementation (Python's `cryptography` for ed25519, the standard library for
base32), so the Rust tests check against more than themselves.

    pip install cryptography && python3 shared/tests/data/vectors.py
"""
import base64
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


seed = bytes([7] * 32)
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
secret_text = encode(18 << 3, seed)
public_text = encode(15 << 3, pk)
signed = b"".join(
    [
        field(b"pmr-link-auth-v1"),
        field(b"hub-1"),
        field(bytes([9] * 32)),
        field(struct.pack(">I", 1)),
        field(public_text.encode()),
        field(b"m-1"),
        field(b"web-01"),
        field(b"0.1.0"),
        field(struct.pack(">q", 1_700_000_000_000)),
    ]
)
sig = sk.sign(signed)
open(os.path.join(HERE, "secret_key_7.txt"), "w").write(secret_text + "\n")
open(os.path.join(HERE, "public_key_7.txt"), "w").write(public_text + "\n")
open(os.path.join(HERE, "handshake_7.txt"), "w").write(signed.hex() + "\n" + sig.hex() + "\n")
print(secret_text, public_text, sep="\n")
