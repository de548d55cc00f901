"""RFC 6962 hashing, proofs and their verification (vectors + property tests)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_multi_proof,
    verify_consistency,
    verify_inclusion,
)

# certificate-transparency merkle_tree_test vectors (RFC 6962 test data).
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
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


def reference_root(data: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written as literally as possible."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1 << ((len(data) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + reference_root(data[:k]) + reference_root(data[k:])).digest()


def tree_of(data: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(d) for d in data)


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_vectors(size: int) -> None:
    tree = tree_of([bytes.fromhex(x) for x in LEAVES])
    assert tree.root(size).hex() == ROOTS[size - 1]


def test_empty_tree_root() -> None:
    assert MerkleTree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


blobs = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


@settings(max_examples=60, deadline=None)
@given(blobs)
def test_every_prefix_root_matches_reference(data: list[bytes]) -> None:
    tree = tree_of(data)
    for n in range(len(data) + 1):
        assert tree.root(n) == reference_root(data[:n])


@settings(max_examples=60, deadline=None)
@given(blobs, st.data())
def test_inclusion_round_trip_and_tamper(data: list[bytes], draw: st.DataObject) -> None:
    tree = tree_of(data)
    size = draw.draw(st.integers(1, len(data)))
    index = draw.draw(st.integers(0, size - 1))
    root, proof = tree.root(size), tree.inclusion_proof(index, size)
    assert verify_inclusion(index, size, tree.leaf(index), proof, root)
    assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)
    if size > 1:
        assert not verify_inclusion((index + 1) % size, size, tree.leaf(index), proof, root)
    if proof:
        bad = [*proof[:-1], node_hash(proof[-1], proof[-1])]
        assert not verify_inclusion(index, size, tree.leaf(index), bad, root)


@settings(max_examples=60, deadline=None)
@given(blobs, st.data())
def test_consistency_round_trip_and_tamper(data: list[bytes], draw: st.DataObject) -> None:
    tree = tree_of(data)
    new = draw.draw(st.integers(1, len(data)))
    old = draw.draw(st.integers(1, new))
    proof = tree.consistency_proof(old, new)
    assert verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    if old < new:
        rewritten = tree_of([*data[: old - 1], b"rewritten", *data[old:new]])
        assert not verify_consistency(old, new, rewritten.root(old), tree.root(new), proof)


@settings(max_examples=60, deadline=None)
@given(blobs, st.data())
def test_multi_proof_round_trip(data: list[bytes], draw: st.DataObject) -> None:
    tree = tree_of(data)
    size = draw.draw(st.integers(1, len(data)))
    idx = sorted(draw.draw(st.sets(st.integers(0, size - 1), min_size=1)))
    nodes = tree.multi_proof(idx, size)
    hashes = [tree.leaf(i) for i in idx]
    assert root_from_multi_proof(idx, hashes, size, nodes) == tree.root(size)
    forged = [*hashes[:-1], leaf_hash(b"forged")]
    assert root_from_multi_proof(idx, forged, size, nodes) != tree.root(size)


def test_multi_proof_rejects_missing_and_extra_nodes() -> None:
    tree = tree_of([bytes([i]) for i in range(10)])
    nodes = tree.multi_proof([3, 7], 10)
    hashes = [tree.leaf(3), tree.leaf(7)]
    with pytest.raises(ValueError, match="too few"):
        root_from_multi_proof([3, 7], hashes, 10, nodes[:-1])
    with pytest.raises(ValueError, match="unused"):
        root_from_multi_proof([3, 7], hashes, 10, [*nodes, nodes[0]])
    with pytest.raises(ValueError, match="increasing"):
        root_from_multi_proof([7, 3], hashes[::-1], 10, nodes)


def test_proof_arguments_are_checked() -> None:
    tree = tree_of([b"a", b"b", b"c"])
    with pytest.raises(ValueError):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        tree.root(4)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 2)
    assert not verify_inclusion(5, 3, tree.leaf(0), [], tree.root())


def test_multi_proof_for_every_contiguous_range() -> None:
    for size in range(1, 20):
        tree = tree_of([bytes([i]) for i in range(size)])
        for lo in range(size):
            for hi in range(lo + 1, size + 1):
                idx = list(range(lo, hi))
                nodes = tree.multi_proof(idx, size)
                leaves = [tree.leaf(i) for i in idx]
                assert root_from_multi_proof(idx, leaves, size, nodes) == tree.root(size)
