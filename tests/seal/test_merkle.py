"""RFC 6962 / 9162 tree hashing and proofs against known vectors and a by-hand tree."""

from __future__ import annotations

import hashlib

import pytest

from crawler.archive import merkle

# The leaf inputs of Certificate Transparency's reference test data (RFC 6962 code).
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle.root_hash([]) == sha(b"")
    assert sha(b"").hex().startswith("e3b0c442")


def test_small_trees_by_hand() -> None:
    a, b, c = (sha(b"\x00" + x) for x in (b"a", b"b", b"c"))
    h = [merkle.leaf_hash(x) for x in (b"a", b"b", b"c")]
    assert h == [a, b, c]
    assert merkle.root_hash(h, 1) == a
    assert merkle.root_hash(h, 2) == sha(b"\x01" + a + b)
    # Three leaves split 2 + 1: the lone right leaf is not paired with itself.
    assert merkle.root_hash(h) == sha(b"\x01" + sha(b"\x01" + a + b) + c)


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    assert merkle.root_hash(HASHES, size).hex() == ROOTS[size - 1]


def test_proofs_match_the_reference_vectors() -> None:
    assert [p.hex() for p in merkle.inclusion_proof(HASHES, 0, 8)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in merkle.consistency_proof(HASHES, 6, 8)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in merkle.consistency_proof(HASHES, 2, 5)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]


def test_every_proof_of_every_small_tree_verifies_and_a_wrong_one_does_not() -> None:
    hashes = [merkle.leaf_hash(str(i).encode()) for i in range(33)]
    for n in range(1, 34):
        root = merkle.root_hash(hashes, n)
        for i in range(n):
            proof = merkle.inclusion_proof(hashes, i, n)
            assert merkle.verify_inclusion(hashes[i], i, n, proof, root)
            assert not merkle.verify_inclusion(hashes[(i + 1) % 33], i, n, proof, root)
        for m in range(n + 1):
            proof = merkle.consistency_proof(hashes, m, n)
            old = merkle.root_hash(hashes, m)
            assert merkle.verify_consistency(m, n, proof, old, root)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, proof, sha(b"other"), root)
                assert not merkle.verify_consistency(m, n, proof, old, sha(b"other"))
                assert not merkle.verify_consistency(m, n, proof[:-1], old, root)


def test_a_larger_old_tree_is_never_consistent() -> None:
    assert not merkle.verify_consistency(5, 4, [], merkle.root_hash(HASHES, 5), bytes(32))
