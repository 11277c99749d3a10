"""One built IPOPT solver reused by the next solve of the same problem structure.

A chunk's `track` rounds solve NLPs that differ only in the local model (the sparse
matrices of the linearised dynamics and the contact maps, their offsets) and in the trust
region's bounds; building IPOPT's solver (`nlpsol`: CasADi deriving the Jacobian and the
Hessian of the Lagrangian) cost ~0.9 CPU s per round on the Rajagopal walk. Here those
matrices enter the NLP as parameters with a fixed sparsity pattern (`SparsePattern`), so a
later round reuses the solver when its matrices fit the pattern; when a round has a
non-zero outside it (a sphere coming into contact, a slope crossing the cut-off) the
solver is built again on the union of both patterns, which later rounds then fit. An entry
of the pattern that a round's matrix does not have is an explicit zero there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class SparsePattern:
    """The non-zero positions of a sparse matrix (CasADi's compressed-column order)."""

    def __init__(self, shape: tuple[int, int], keys: np.ndarray):
        self.shape = (int(shape[0]), int(shape[1]))
        # column * rows + row, ascending: compressed-column order with sorted rows
        self.keys = np.asarray(keys, dtype=np.int64)

    @staticmethod
    def _keys(matrix) -> tuple[np.ndarray, np.ndarray]:
        c = matrix.tocsc(copy=True)
        c.sum_duplicates()
        cols = np.repeat(np.arange(c.shape[1], dtype=np.int64), np.diff(c.indptr))
        return cols * c.shape[0] + c.indices.astype(np.int64), c.data

    @classmethod
    def of(cls, matrix) -> SparsePattern:
        return cls(matrix.shape, cls._keys(matrix)[0])

    def covers(self, matrix) -> bool:
        """Whether every non-zero of `matrix` (same shape) lies in this pattern."""
        if tuple(matrix.shape) != self.shape:
            return False
        keys = self._keys(matrix)[0]
        pos = np.searchsorted(self.keys, keys)
        return bool(np.all(pos < len(self.keys)) and np.all(self.keys[np.minimum(
            pos, len(self.keys) - 1)] == keys))

    def union(self, matrix) -> SparsePattern:
        return SparsePattern(self.shape, np.union1d(self.keys, self._keys(matrix)[0]))

    def values(self, matrix) -> np.ndarray:
        """`matrix`'s entries in this pattern's order (zeros where it has none); the pattern
        must cover it."""
        keys, data = self._keys(matrix)
        out = np.zeros(len(self.keys))
        out[np.searchsorted(self.keys, keys)] = data
        return out

    def symbol(self, ca, nonzeros) -> Any:
        """An MX with this pattern whose non-zeros are the MX vector `nonzeros`."""
        rows = self.keys % self.shape[0]
        cols = self.keys // self.shape[0]
        colind = np.zeros(self.shape[1] + 1, dtype=np.int64)
        np.add.at(colind, cols + 1, 1)
        sp = ca.Sparsity(self.shape[0], self.shape[1], np.cumsum(colind).tolist(),
                         rows.tolist())
        return ca.MX(sp, nonzeros)


def structure_key(arrays: dict[str, Any], settings: dict) -> str:
    """A digest of everything that is built into a solver rather than passed to it."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for name in sorted(arrays):
        value = arrays[name]
        h.update(name.encode())
        if value is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(np.asarray(value) if not isinstance(value, (list, dict))
                                 else np.frombuffer(json.dumps(value, sort_keys=True,
                                                               default=str).encode(),
                                                    dtype=np.uint8))
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class Parameters:
    """The NLP's parameter vector laid out as named sparse matrices (by pattern) and dense
    vectors (by length)."""

    patterns: dict[str, SparsePattern] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)

    def size(self) -> int:
        return sum(len(p.keys) for p in self.patterns.values()) + sum(self.lengths.values())

    def symbols(self, ca) -> tuple[Any, dict[str, Any]]:
        """(the parameter vector p, name -> its MX part: sparse matrices with their patterns,
        dense column vectors)."""
        p = ca.MX.sym("p", self.size())
        parts, start = {}, 0
        for name, pattern in self.patterns.items():
            end = start + len(pattern.keys)
            parts[name] = pattern.symbol(ca, p[start:end])
            start = end
        for name, length in self.lengths.items():
            parts[name] = p[start:start + length]
            start += length
        return p, parts

    def values(self, matrices: dict[str, Any], vectors: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [self.patterns[n].values(matrices[n]) for n in self.patterns]
            + [np.asarray(vectors[n], dtype=float).ravel() for n in self.lengths])

    def covers(self, matrices: dict[str, Any], vectors: dict[str, np.ndarray]) -> bool:
        return (set(matrices) == set(self.patterns) and set(vectors) == set(self.lengths)
                and all(self.patterns[n].covers(m) for n, m in matrices.items())
                and all(np.asarray(v).size == self.lengths[n] for n, v in vectors.items()))

    def widened(self, matrices: dict[str, Any], vectors: dict[str, np.ndarray]) -> Parameters:
        """This layout grown to hold `matrices` too (a fresh one if the names differ)."""
        if set(matrices) != set(self.patterns):
            return Parameters.of(matrices, vectors)
        return Parameters({n: self.patterns[n].union(m) for n, m in matrices.items()},
                          {n: int(np.asarray(v).size) for n, v in vectors.items()})

    @classmethod
    def of(cls, matrices: dict[str, Any], vectors: dict[str, np.ndarray]) -> Parameters:
        return cls({n: SparsePattern.of(m) for n, m in matrices.items()},
                   {n: int(np.asarray(v).size) for n, v in vectors.items()})


@dataclass
class Reusable:
    """A built solver, the structure it was built for and its parameters' layout."""

    key: str
    layout: Parameters
    solver: Any
