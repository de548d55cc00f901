"""RFC 6962 / RFC 9162 Merkle tree: hashing, proofs and their verification.

Pure standard library, usable offline by an auditor. Leaf hash = SHA-256(0x00 || data), node hash =
SHA-256(0x01 || left || right). ``MerkleTree`` keeps every complete ("perfect") subtree hash in one
contiguous buffer per level (64 bytes of memory per leaf in total), which makes the root of any
prefix, inclusion proofs and consistency proofs O(log^2 n).

A *multi-proof* proves many leaves at once against one root: it is the union of their RFC 6962
audit paths with every shared node stored once (see ``multi_proof`` / ``verify_multi_proof``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "root_from_multi_proof",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Append-only tree over leaf hashes. Not thread-safe; one owner appends."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; return its index."""
        if len(leaf) != 32:
            raise ValueError("leaf hash must be 32 bytes")
        index = self._size
        levels = self._levels
        levels[0] += leaf
        self._size += 1
        i, lvl = self._size, 0
        while i & 1 == 0:
            buf = levels[lvl]
            parent = _sha256(b"\x01" + buf[-64:]).digest()
            lvl += 1
            if len(levels) == lvl:
                levels.append(bytearray())
            levels[lvl] += parent
            i >>= 1
        return index

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise IndexError(index)
        return bytes(self._levels[0][index * 32 : index * 32 + 32])

    def subtree_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for 0 <= lo <= hi <= size."""
        n = hi - lo
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            buf = self._levels[n.bit_length() - 1]
            pos = (lo // n) * 32
            return bytes(buf[pos : pos + 32])
        k = _split(n)
        return node_hash(self.subtree_hash(lo, lo + k), self.subtree_hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = self._size if size is None else size
        self._check_size(size)
        return self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size]), deepest sibling first."""
        size = self._size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"index {index} outside tree of size {size}")
        proof: list[bytes] = []
        lo, hi, m = 0, size, index
        # Walk down, collecting siblings top-first, then reverse.
        while hi - lo > 1:
            k = _split(hi - lo)
            if m < k:
                proof.append(self.subtree_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree_hash(lo, lo + k))
                lo, m = lo + k, m - k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[0:new_size])."""
        new_size = self._size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"bad consistency range {old_size}..{new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while True:
            n = hi - lo
            if m == n:
                if not complete:
                    proof.append(self.subtree_hash(lo, hi))
                break
            k = _split(n)
            if m <= k:
                proof.append(self.subtree_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree_hash(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        proof.reverse()
        return proof

    def multi_proof(self, indices: Sequence[int], size: int | None = None) -> list[bytes]:
        """Nodes needed to recompute root(size) from the leaves at ``indices`` (sorted, unique)."""
        size = self._size if size is None else size
        self._check_size(size)

        def sibling(level: int, pos: int) -> bytes:
            lo = pos << level
            return self.subtree_hash(lo, min(lo + (1 << level), size))

        nodes: list[bytes] = []
        positions = list(indices)
        hashes = [self.leaf(i) for i in positions]
        _fold_all(positions, hashes, size, lambda lvl, pos: nodes.append(sibling(lvl, pos)))
        return nodes

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} outside 0..{self._size}")


def _fold_all(
    positions: Sequence[int],
    hashes: list[bytes],
    size: int,
    need: Callable[[int, int], object],
    take: Callable[[], bytes] | None = None,
) -> bytes:
    """Fold known nodes level by level up to the root.

    At each level a known node pairs with its known neighbour, with a node from the proof
    (``take``), or is promoted unchanged when it is the lone last node of the level (RFC 6962's
    unbalanced right edge). ``need(level, pos)`` names each proof node consumed.
    """
    count, level = size, 0
    while count > 1:
        n = len(positions)
        if n and positions[-1] - positions[0] + 1 == n:
            positions, hashes = _fold_run(positions[0], hashes, count, level, need, take)
            count = (count + 1) >> 1
            level += 1
            continue
        out_pos: list[int] = []
        out_h: list[bytes] = []
        i = 0
        while i < n:
            p, h = positions[i], hashes[i]
            if p & 1 == 0:
                if i + 1 < n and positions[i + 1] == p + 1:
                    out_h.append(_sha256(b"\x01" + h + hashes[i + 1]).digest())
                    i += 2
                elif p + 1 < count:
                    need(level, p + 1)
                    sib = take() if take else b""
                    out_h.append(_sha256(b"\x01" + h + sib).digest() if take else h)
                    i += 1
                else:
                    out_h.append(h)
                    i += 1
            else:
                need(level, p - 1)
                sib = take() if take else b""
                out_h.append(_sha256(b"\x01" + sib + h).digest() if take else h)
                i += 1
            out_pos.append(p >> 1)
        positions, hashes = out_pos, out_h
        count = (count + 1) >> 1
        level += 1
    return hashes[0] if hashes else EMPTY_ROOT


def _fold_run(
    p0: int,
    hashes: list[bytes],
    count: int,
    level: int,
    need: Callable[[int, int], object],
    take: Callable[[], bytes] | None,
) -> tuple[range, list[bytes]]:
    """``_fold_all``'s step for one contiguous run of known nodes (the common, bulk case)."""
    n, j = len(hashes), 0
    out: list[bytes] = []
    if p0 & 1:
        need(level, p0 - 1)
        out.append(_sha256(b"\x01" + take() + hashes[0]).digest() if take else hashes[0])
        j = 1
    end = j + ((n - j) & ~1)
    if take:
        out += [_sha256(b"\x01" + hashes[k] + hashes[k + 1]).digest() for k in range(j, end, 2)]
    else:
        out += hashes[j:end:2]
    if end < n:  # a trailing left child: pairs with a proof node, or is the promoted edge
        p = p0 + n - 1
        if p + 1 < count:
            need(level, p + 1)
            out.append(_sha256(b"\x01" + hashes[-1] + take()).digest() if take else hashes[-1])
        else:
            out.append(hashes[-1])
    return range(p0 >> 1, ((p0 + n - 1) >> 1) + 1), out


def root_from_multi_proof(
    indices: Sequence[int], leaf_hashes: Sequence[bytes], size: int, nodes: Sequence[bytes]
) -> bytes:
    """Recompute the root of a tree of ``size`` from some leaves and a multi-proof.

    Raises ValueError when the proof does not fit (wrong node count, unsorted or out-of-range
    indices); a wrong root is the caller's to detect by comparison.
    """
    if len(indices) != len(leaf_hashes):
        raise ValueError("indices and leaf hashes differ in length")
    if not indices:
        raise ValueError("a multi-proof needs at least one leaf")
    prev = -1
    for i in indices:
        if not prev < i < size:
            raise ValueError(f"leaf index {i} not strictly increasing within tree size {size}")
        prev = i
    it = iter(nodes)
    used = 0

    def take() -> bytes:
        nonlocal used
        used += 1
        try:
            return next(it)
        except StopIteration:
            raise ValueError("multi-proof has too few nodes") from None

    root = _fold_all(list(indices), list(leaf_hashes), size, lambda lvl, pos: None, take)
    if used != len(nodes):
        raise ValueError(f"multi-proof has {len(nodes) - used} unused nodes")
    return root


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
