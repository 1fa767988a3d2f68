"""Near-duplicate detection: MinHash signatures over word n-grams, LSH banding, then a true
Jaccard check of every candidate pair.

Why not datasketch's MinHash objects: they hash every shingle in a Python loop and build one
object per document; on the same documents that is about 3x slower than computing signatures
here for a few hundred documents per numpy call (benchmarks/cleaning.py measures both). The LSH
band/row split still comes from datasketch's optimiser, tilted towards recall because every
candidate is verified with the exact Jaccard similarity, which is what keeps precision high.
Memory: only `bands` 64-bit keys per document are kept, not the signatures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True
# The low k bytes of a little-endian 64-bit load: the part of it that belongs to a word of k bytes.
_KEEP_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_WORDS_PER_BATCH = 1 << 16  # words split and hashed per numpy batch
_CHUNK_SHINGLES = 1 << 16  # shingles per numpy batch (one-permutation hashing keeps num_perm values per document)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser: the linear combinations that build word and n-gram hashes are
    poorly mixed on their own."""
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.1, 0.9)


class MinHasher:
    def __init__(self, ngram: int = 5, num_perm: int = 128, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.ngram, self.num_perm = ngram, num_perm
        self.a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
        self.mult = rng.integers(1, 2**63, ngram, dtype=np.uint64) | np.uint64(1)
        self.byte_mult = rng.integers(1, 2**63, 64, dtype=np.uint64) | np.uint64(1)

    def word_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """64-bit hashes of the lower-cased words of every text, flattened, and the words per text.

        Runs in numpy over the UTF-8 bytes (no Python code per word): a word is a run of ASCII
        letters, digits and '_' or of any non-ASCII bytes. A word's hash mixes its first and last
        8 bytes and its length, read as two 64-bit loads per word (work per word, not per byte);
        words over 16 bytes that agree in both ends and length would share a hash, which only
        nudges a similarity estimate.
        """
        enc = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
        blen = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
        raw = b"\x00".join(enc)
        buf = np.frombuffer(raw + b"\x00" * 8, dtype=np.uint8)
        isw = _WORD_BYTE[buf[: len(raw)]]
        edges = np.diff(isw.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        wstart = np.flatnonzero(edges == 1)
        wlen = np.flatnonzero(edges == -1) - wstart
        doc_start = np.cumsum(blen + 1) - (blen + 1)
        lens = np.bincount(np.searchsorted(doc_start, wstart, side="right") - 1, minlength=len(texts))
        if not len(wstart):
            return np.zeros(0, dtype=np.uint64), lens.astype(np.int64)
        window = np.lib.stride_tricks.sliding_window_view(buf, 8)
        keep = _KEEP_BYTES[np.minimum(wlen, 8)]
        first = np.ascontiguousarray(window[wstart]).view("<u8").ravel() & keep
        last = np.ascontiguousarray(window[wstart + np.maximum(wlen - 8, 0)]).view("<u8").ravel() & keep
        mixed = first * self.byte_mult[0] + last * self.byte_mult[1] + wlen.astype(np.uint64) * self.byte_mult[2]
        return _fmix64(mixed), lens.astype(np.int64)

    def shingles(self, w: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of every word n-gram of every doc (docs shorter than n give one shingle, padded)
        and the number of shingles per doc."""
        n = self.ngram
        padded = np.maximum(lens, n)
        if (lens < n).any():
            starts = np.cumsum(lens) - lens
            rank = np.arange(len(w)) - np.repeat(starts, lens)
            out = np.zeros(int(padded.sum()), dtype=np.uint64)
            out[np.repeat(np.cumsum(padded) - padded, lens) + rank] = w
            w = out
        span = len(w) - n + 1
        acc = w[:span] * self.mult[0]
        for k in range(1, n):
            acc += w[k : span + k] * self.mult[k]
        doc_end = np.repeat(np.cumsum(padded), padded)[:span]
        return _fmix64(acc[np.arange(span) + n <= doc_end]), padded - n + 1

    def minhash(self, sh: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(len(counts), num_perm) signatures of docs whose shingles are `sh`, `counts` per doc."""
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        buf = np.empty((self.num_perm, len(sh)), dtype=np.uint64)
        np.multiply(self.a[:, None], sh[None, :], out=buf)
        np.add(buf, self.b[:, None], out=buf)
        # The shift is monotonic, so taking it after the minimum saves a pass over the matrix.
        return (np.minimum.reduceat(buf, offsets, axis=1) >> np.uint64(32)).T

    def oph(self, sh: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """One-permutation MinHash: each shingle hash falls in one of num_perm bins by its top bits and
        each bin keeps its smallest value, so a document costs one pass over its shingles instead of
        num_perm. Empty bins borrow from the next filled one (rotation densification, Shrivastava & Li
        2014), so similar documents still agree bin by bin with probability close to their Jaccard."""
        k = self.num_perm
        bits = k.bit_length() - 1
        if 1 << bits != k:
            return self.minhash(sh, counts)
        nd = len(counts)
        cell = np.repeat(np.arange(nd, dtype=np.int64) * k, counts) + (sh >> np.uint64(64 - bits)).astype(np.int64)
        sig = np.full(nd * k, _EMPTY, dtype=np.uint64)
        np.minimum.at(sig, cell, sh & np.uint64(0xFFFFFFFF))
        return _densify(sig.reshape(nd, k))

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_perm) MinHash signatures, values < 2**32."""
        return self.minhash(*self.shingles(*self.word_hashes(texts)))

    def shingle_sets(self, texts: Sequence[str]) -> list[np.ndarray]:
        sh, counts = self.shingles(*self.word_hashes(texts))
        bounds = np.cumsum(counts)
        return [np.unique(part) for part in np.split(sh, bounds[:-1])]


_EMPTY = np.uint64(1 << 32)
_ROTATE = np.uint64(0x9E3779B1)  # an odd constant: each step of a borrowed value changes it


def _densify(sig: np.ndarray) -> np.ndarray:
    empty = sig == _EMPTY
    if not empty.any():
        return sig
    nd, k = sig.shape
    cols = np.arange(k)
    pos = np.concatenate([np.where(~empty, cols, 3 * k), np.where(~empty, cols + k, 3 * k)], axis=1)
    nxt = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1][:, :k]  # the next filled bin, circularly
    filled = nxt < 2 * k
    src = np.where(filled, nxt % k, 0)
    borrowed = (sig[np.arange(nd)[:, None], src] + (nxt - cols).astype(np.uint64) * _ROTATE) & np.uint64(0xFFFFFFFF)
    return np.where(empty & filled, borrowed, sig)


def _chunks(texts: Sequence[str], budget: int = _CHUNK_SHINGLES):
    """(start, end) ranges holding about `budget` words each (words ~ shingles), bounding memory."""
    start = 0
    while start < len(texts):
        end, total = start, 0
        while end < len(texts) and (total < budget or end == start):
            total += len(texts[end]) // 6 + 1  # ~6 characters per word incl. the space
            end += 1
        yield start, end
        start = end


def band_keys(hasher: MinHasher, texts: Sequence[str], bands: int, rows: int, min_words: int = 0,
              ids: Sequence[int] | None = None) -> np.ndarray:
    """One 64-bit key per (document, band): documents sharing any key are candidates. Documents
    under `min_words` words get keys of their own (from `ids`, unique across batches, else their
    position), so they are never candidates."""
    uid = np.asarray(ids, dtype=np.uint64) if ids is not None else np.arange(len(texts), dtype=np.uint64)
    rng = np.random.default_rng(12345)
    band_mult = rng.integers(1, 2**63, rows, dtype=np.uint64) | np.uint64(1)
    keys = np.empty((len(texts), bands), dtype=np.uint64)
    for start, end in _chunks(texts, _WORDS_PER_BATCH):
        words, lens = hasher.word_hashes([texts[i] for i in range(start, end)])
        sh, counts = hasher.shingles(words, lens)
        bounds = np.cumsum(counts)
        d0 = 0
        while d0 < len(counts):  # the signature matrix is built a cache-sized slice at a time
            lo = int(bounds[d0 - 1]) if d0 else 0
            d1 = max(d0 + 1, int(np.searchsorted(bounds, lo + _CHUNK_SHINGLES, side="right")))
            sig = hasher.oph(sh[lo : int(bounds[d1 - 1])], counts[d0:d1])
            keys[start + d0 : start + d1] = (sig[:, : bands * rows].reshape(-1, bands, rows) * band_mult).sum(axis=2)
            d0 = d1
        short = np.flatnonzero(lens < min_words)
        if len(short):
            keys[start + short] = (uid[start + short] | np.uint64(1 << 63))[:, None]
    return keys


def candidates(keys: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for j in range(keys.shape[1]):
        col = keys[:, j]
        order = np.argsort(col, kind="stable")
        sorted_keys = col[order]
        same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        if not len(same):
            continue
        # runs of equal keys: consecutive members and first->member pairs
        for pos in same:
            pairs.add((int(order[pos]), int(order[pos + 1])))
        run_start = np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1]))
        first_of_run = np.maximum.accumulate(np.where(run_start, np.arange(len(col)), 0))
        for pos in same + 1:
            first = int(order[first_of_run[pos]])
            member = int(order[pos])
            if first != member:
                pairs.add((first, member))
    return {(min(a, b), max(a, b)) for a, b in pairs}


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.8, ngram: int = 5, num_perm: int = 128, seed: int = 1,
    min_words: int = 0,
) -> list[tuple[int, int, float]]:
    """Every verified pair (i, j, jaccard) with i < j and word-n-gram Jaccard >= threshold, among
    documents of at least `min_words` words."""
    if len(texts) < 2:
        return []
    hasher = MinHasher(ngram, num_perm, seed)
    bands, rows = lsh_params(threshold, num_perm)
    keys = band_keys(hasher, texts, bands, rows, min_words)
    return verify_pairs(hasher, sorted(candidates(keys)), lambda ids: [texts[i] for i in ids], threshold)


def verify_pairs(hasher: MinHasher, cands: list[tuple[int, int]], texts_of: Callable[[list[int]], list[str]],
                 threshold: float) -> list[tuple[int, int, float]]:
    """The candidate pairs whose true word-n-gram Jaccard similarity reaches `threshold`, with it.
    `texts_of(ids)` gives the texts of documents (read in batches, so a spool can serve them)."""
    docs = sorted({i for pair in cands for i in pair})
    sets: dict[int, np.ndarray] = {}
    for start in range(0, len(docs), 256):
        batch = docs[start : start + 256]
        sets.update(zip(batch, hasher.shingle_sets(texts_of(batch))))
    out = []
    for i, j in cands:
        a, b = sets[i], sets[j]
        inter = len(np.intersect1d(a, b, assume_unique=True))
        sim = inter / (len(a) + len(b) - inter)
        if sim >= threshold:
            out.append((i, j, sim))
    return out


def duplicate_of(n: int, pairs: list[tuple[int, int, float]]) -> dict[int, tuple[int, float]]:
    """Cluster the pairs (union-find); every member but the first of its cluster maps to
    (first member, similarity of the edge that joined it)."""
    from tuneui.cleaning.disjoint import DisjointSets

    sets = DisjointSets()
    best: dict[int, float] = {}
    for i, j, sim in pairs:
        sets.union(i, j)
        best[j] = max(best.get(j, 0.0), sim)
        best.setdefault(i, sim)
    out = {}
    for node, sim in best.items():
        root = sets.find(node)
        if root != node:
            out[node] = (root, sim)
    return out
