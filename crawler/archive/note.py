"""C2SP formats for the seal: ``tlog-checkpoint`` bodies, ``signed-note``, Ed25519 keys.

A checkpoint body is three lines (origin, size, base64 root hash); a signed note
is a text ending in a newline, a blank line, and signature lines
``— <name> <base64(key id || signature)>``. The key id is the first 4 bytes of
``SHA-256(name || 0x0A || 0x01 || public key)`` (0x01: the Ed25519 algorithm
byte), and a verifier key is written ``<name>+<hex key id>+<base64(0x01 || key)>``
as the Go reference (golang.org/x/mod/sumdb/note) writes it, so an auditor's
existing tools read ours. See docs/ARCHIVE.md, "The seal".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crawler.errors import SealError

__all__ = [
    "Checkpoint",
    "Verifier",
    "checkpoint_body",
    "key_id",
    "load_private_key",
    "open_note",
    "parse_checkpoint",
    "parse_vkey",
    "public_bytes",
    "sign_note",
    "vkey_of",
    "write_private_key",
]

ALG_ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that starts every signature line


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise SealError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    """A public key with its name: what checks a signed note."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    def __str__(self) -> str:
        return vkey_of(self.name, self.public)


def vkey_of(name: str, public: bytes) -> str:
    _check_name(name)
    blob = base64.b64encode(ALG_ED25519 + public).decode()
    return f"{name}+{key_id(name, public).hex()}+{blob}"


def parse_vkey(text: str) -> Verifier:
    """``<name>+<hex id>+<base64(0x01 || key)>``; SealError saying what is wrong."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise SealError("a verifier key is <name>+<hex key id>+<base64 key>")
    name, hex_id, blob = parts
    try:
        raw = base64.b64decode(blob, validate=True)
    except binascii.Error:
        raise SealError("the verifier key's key is not base64") from None
    if len(raw) != 33 or raw[:1] != ALG_ED25519:
        raise SealError("the verifier key is not an Ed25519 key (algorithm 0x01, 32 bytes)")
    _check_name(name)
    if key_id(name, raw[1:]).hex() != hex_id:
        raise SealError(f"the verifier key's id {hex_id} does not match its name and key")
    return Verifier(name, raw[1:])


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note of ``text`` (which must end in a newline) under ``name``."""
    _check_name(name)
    if not text.endswith("\n"):
        raise SealError("a note's text must end with a newline")
    public = public_bytes(key.public_key())
    sig = key.sign(text.encode())
    line = f"{DASH} {name} {base64.b64encode(key_id(name, public) + sig).decode()}\n"
    return text + "\n" + line


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if ``verifier`` signed it; SealError naming what failed otherwise.

    Signatures by other keys are ignored (a witness may cosign), as the spec says.
    """
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise SealError("not a signed note (no blank line before the signatures)")
    text += "\n"
    found = False
    for line in sigs[:-1].split("\n"):
        head, _, blob = line.rpartition(" ")
        if not head.startswith(DASH + " "):
            raise SealError(f"malformed signature line {line[:80]!r}")
        if head[2:] != verifier.name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise SealError(f"signature line {line[:80]!r} is not base64") from None
        if len(raw) != 68 or raw[:4] != verifier.key_id:
            continue
        found = True
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise SealError(
                f"the signature by {verifier.name} does not verify: the note was altered or forged"
            ) from None
    if not found:
        raise SealError(f"the note has no signature by key {verifier}")
    return text


# -- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise SealError(f"checkpoint origin {origin!r} must be one non-empty line")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise SealError("a checkpoint is at least three lines: origin, size, root hash")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise SealError(f"checkpoint size {size_s!r} is not a decimal number")
    try:
        root = base64.b64decode(root_s, validate=True)
    except binascii.Error:
        raise SealError("checkpoint root hash is not base64") from None
    if len(root) != 32 or not origin:
        raise SealError("checkpoint root hash is not 32 bytes, or its origin is empty")
    return Checkpoint(origin, int(size_s), root, tuple(lines[3:-1]))


# -- the private key ------------------------------------------------------------------------


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """PKCS#8 PEM, created 0600 and never over an existing file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SealError(f"{path} already exists: refusing to overwrite a key") from None
    except OSError as exc:
        raise SealError(f"cannot write the key file {path}: {exc.strerror}") from None
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key; errors name the file, never its content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read the signing key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SealError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealError(f"{path} is not an Ed25519 key")
    return key
