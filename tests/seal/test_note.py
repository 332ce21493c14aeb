"""Signed notes and checkpoints, checked by an independent reading of the C2SP specs.

``_independent_open`` below is written from c2sp.org/signed-note and
c2sp.org/tlog-checkpoint alone and shares no code with ``crawler.archive.note``:
if both agree on our checkpoints and on the Go reference vector, an auditor's
own tools will too.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crawler.archive import merkle, note
from crawler.errors import SealError

# golang.org/x/mod/sumdb/note's documented example key and note.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _independent_open(signed: str, vkey: str) -> str:
    """The spec, read afresh: vkey = name+hex(keyid)+base64(0x01||pub); sig lines at the end."""
    name, keyid_hex, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 1 and len(raw) == 33
    pub = raw[1:]
    keyid = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + pub).digest()[:4]
    assert keyid.hex() == keyid_hex
    cut = signed.rindex("\n\n")
    text, sig_block = signed[: cut + 1], signed[cut + 2 :]
    for line in sig_block.splitlines():
        prefix = "\u2014 " + name + " "
        if line.startswith(prefix):
            sig = base64.b64decode(line[len(prefix) :])
            if sig[:4] == keyid:
                Ed25519PublicKey.from_public_bytes(pub).verify(sig[4:], text.encode())
                return text
    raise AssertionError("no signature by this key")


def _go_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(GO_SKEY.split("+", 4)[4])[1:])


def test_the_go_reference_note_byte_for_byte() -> None:
    key = _go_key()
    assert note.vkey_of("PeterNeumann", note.public_bytes(key.public_key())) == GO_VKEY
    assert note.sign_note(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    assert note.open_note(GO_NOTE, note.parse_vkey(GO_VKEY)) == GO_TEXT
    assert _independent_open(GO_NOTE, GO_VKEY) == GO_TEXT


def test_our_checkpoint_verifies_with_the_independent_reader() -> None:
    key = Ed25519PrivateKey.generate()
    origin = "crawler-archive/acme/0123456789abcdef"
    root = merkle.root_hash([merkle.leaf_hash(b"x"), merkle.leaf_hash(b"y")])
    body = note.checkpoint_body(origin, 2, root)
    signed = note.sign_note(body, origin, key)
    vkey = note.vkey_of(origin, note.public_bytes(key.public_key()))
    text = _independent_open(signed, vkey)
    lines = text.split("\n")
    assert lines[:3] == [origin, "2", base64.b64encode(root).decode()] and lines[3] == ""
    assert note.parse_checkpoint(note.open_note(signed, note.parse_vkey(vkey))).root == root


def test_an_altered_or_forged_note_fails_both_readers() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = note.vkey_of("log", note.public_bytes(key.public_key()))
    signed = note.sign_note(note.checkpoint_body("log", 3, bytes(32)), "log", key)
    altered = signed.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(SealError, match="altered or forged"):
        note.open_note(altered, note.parse_vkey(vkey))
    with pytest.raises(InvalidSignature):
        _independent_open(altered, vkey)
    other = Ed25519PrivateKey.generate()
    forged = note.sign_note(note.checkpoint_body("log", 3, bytes(32)), "log", other)
    with pytest.raises(SealError, match="no signature by key"):
        note.open_note(forged, note.parse_vkey(vkey))


def test_malformed_keys_and_checkpoints_are_named() -> None:
    with pytest.raises(SealError, match="id"):
        note.parse_vkey(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(SealError, match="size"):
        note.parse_checkpoint("log\n012\n" + base64.b64encode(bytes(32)).decode() + "\n")
    with pytest.raises(SealError, match="three lines"):
        note.parse_checkpoint("log\n1\n")
