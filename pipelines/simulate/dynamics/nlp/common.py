"""What every NLP shares: activation dynamics, quadrature, the actuator matrix, sparse
matrices into CasADi, and saving / loading problem and solution dataclasses as .npz."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def trapezoid_weights(t: np.ndarray) -> np.ndarray:
    """Quadrature weights of the trapezoidal rule on the mesh `t` (sum = duration)."""
    h = np.diff(t)
    w = np.zeros(len(t))
    w[:-1] += h / 2
    w[1:] += h / 2
    return w


def actuator_matrix(coordinate: np.ndarray, optimal_force: np.ndarray, n: int) -> np.ndarray:
    """(n, K): the generalized force of each coordinate-actuator control (its optimal force
    on its coordinate's equation)."""
    S = np.zeros((n, len(coordinate)))
    for r, j in enumerate(coordinate):
        S[int(j), r] = optimal_force[r]
    return S


def activation_rate(ca, e, a, tau_a, tau_d, b):
    """DeGroote-Fregly (2016) activation dynamics, as OpenSim's DeGrooteFregly2016Muscle:
    a time constant that blends activation and deactivation smoothly through tanh."""
    factor = 0.5 + 1.5 * a
    f = 0.5 * ca.tanh(b * (e - a))
    return (1.0 / (tau_a * factor) * (f + 0.5) + factor / tau_d * (0.5 - f)) * (e - a)


def sparse_dm(ca, matrix):
    """A scipy sparse matrix as a CasADi DM, through its compressed columns (8x faster than
    `ca.DM(matrix)` on the 80-muscle model's dynamics matrix)."""
    c = matrix.tocsc(copy=True)
    c.sum_duplicates()  # also sorts the row indices, as CasADi's Sparsity requires
    return ca.DM(ca.Sparsity(c.shape[0], c.shape[1], c.indptr.tolist(), c.indices.tolist()),
                 c.data)


def save_npz(path: Path, obj: Any, guess: dict[str, np.ndarray] | None = None) -> None:
    """A dataclass of arrays and plain values as one .npz (arrays as entries, the rest as
    JSON in `meta`), written atomically; `guess` arrays are stored with a `guess_` prefix."""
    arrays, meta = {}, {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        else:
            meta[f.name] = value
    extra = {f"guess_{k}": np.asarray(v) for k, v in (guess or {}).items()}
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, meta=json.dumps(meta), **arrays, **extra)
    tmp.replace(path)


def load_npz(cls: type[T], path: Path) -> tuple[T, dict[str, np.ndarray]]:
    """The dataclass saved by `save_npz`, and its guess arrays (empty when none)."""
    with np.load(path) as z:
        data = {k: z[k] for k in z.files if k != "meta" and not k.startswith("guess_")}
        guess = {k[len("guess_"):]: z[k] for k in z.files if k.startswith("guess_")}
        meta = json.loads(str(z["meta"]))
    return cls(**data, **meta), guess
