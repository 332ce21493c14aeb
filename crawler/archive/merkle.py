"""The Merkle tree of RFC 6962 / RFC 9162 §2.1: tree hash, inclusion and consistency proofs.

Pure functions over a list of *leaf hashes* (``leaf_hash`` of each leaf's bytes),
so the seal (``crawler.archive.log``), ``crawler verify`` and ``verify-export``
share one implementation of each algorithm. Generation follows the RFC's
recursive definitions (PATH, PROOF/SUBPROOF); verification its iterative
algorithms (§2.1.3.2, §2.1.4.2), which need nothing but the proof and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the prefix keeps a leaf from passing for a node."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[lo]
    k = _split(n)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def root_hash(hashes: Sequence[bytes], size: int | None = None) -> bytes:
    """MTH of the first ``size`` leaves (all of them by default)."""
    size = len(hashes) if size is None else size
    if not 0 <= size <= len(hashes):
        raise ValueError(f"tree size {size} out of range 0..{len(hashes)}")
    return _mth(hashes, 0, size)


def inclusion_proof(hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path of one leaf in the tree of ``size`` leaves."""
    size = len(hashes) if size is None else size
    if not 0 <= index < size <= len(hashes):
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _path(hashes, index, 0, size)


def _path(hashes: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(hashes, m, lo, lo + k), _mth(hashes, lo + k, hi)]
    return [*_path(hashes, m - k, lo + k, hi), _mth(hashes, lo, lo + k)]


def consistency_proof(hashes: Sequence[bytes], old: int, new: int | None = None) -> list[bytes]:
    """PROOF(old, D[0:new]): what proves the tree of ``old`` leaves a prefix of ``new``."""
    new = len(hashes) if new is None else new
    if not 0 <= old <= new <= len(hashes):
        raise ValueError(f"no consistency proof from size {old} to {new}")
    if old == 0 or old == new:
        return []
    return _subproof(hashes, old, 0, new, True)


def _subproof(hashes: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_mth(hashes, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(hashes, m, lo, lo + k, whole), _mth(hashes, lo + k, hi)]
    return [*_subproof(hashes, m - k, lo + k, hi, False), _mth(hashes, lo, lo + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` lead from leaf hash ``leaf`` at ``index`` to ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (``old``, ``old_root``) a prefix of (``new``, ``new_root``)?"""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)  # a power of two: the old root is a node of the new tree
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
