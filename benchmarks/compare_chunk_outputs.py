"""Activations of two runs of the same chunks, compared: per chunk and over all, the largest
absolute difference and the Pearson correlation per muscle (its minimum and median), and
whether the streams are bit-identical. For before/after checks of a solver change
(docs/benchmarks.md, issue 24): point it at two `out-<label>` folders of
bench_simulate_dynamics.py.

    python benchmarks/compare_chunk_outputs.py BEFORE_DIR AFTER_DIR
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np


def pcc_per_muscle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of a with the same column of b (NaN where either
    is constant)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a ** 2).sum(axis=0) * (b ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=0) / den, np.nan)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()

    from musclekit.pipelines.simulate.dynamics.kernel.result import load_output

    names = sorted(p.stem for p in args.before.glob("chunk*.json")
                   if re.fullmatch(r"chunk\d+\.json", p.name))
    all_diff, all_pcc, rows = [], [], []
    for name in names:
        a, b = load_output(args.before, name), load_output(args.after, name)
        if a is None or b is None:
            rows.append({"chunk": name, "missing": [k for k, o in (("before", a), ("after", b))
                                                   if o is None]})
            continue
        act_a, act_b = a.values["activations"], b.values["activations"]
        diff = float(np.abs(act_a - act_b).max())
        pcc = pcc_per_muscle(act_a, act_b)
        all_diff.append(diff)
        all_pcc.append(pcc)
        rows.append({"chunk": name, "muscles": act_a.shape[1],
                     "max_abs_diff": diff, "min_pcc": float(np.nanmin(pcc)),
                     "median_pcc": float(np.nanmedian(pcc)),
                     "bit_identical": {k: bool(np.array_equal(a.values[k], b.values[k],
                                                              equal_nan=True))
                                       for k in a.values}})
    for r in rows:
        print(json.dumps(r))
    if all_diff:
        pcc = np.concatenate(all_pcc)
        print(f"{len(all_diff)} chunks: activations max abs difference {max(all_diff):.3g}; "
              f"PCC per muscle min {np.nanmin(pcc):.6f}, median {np.nanmedian(pcc):.6f}")


if __name__ == "__main__":
    main()
