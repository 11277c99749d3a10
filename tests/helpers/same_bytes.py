"""Two runs' folders hold the same computed bytes: what the staged-versus-graph tests of
`musclekit simulate` and the dynamics stage assert (test_simulate_overlap.py,
test_simulate_upper_graph.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from musclekit.dataset import layout

# Files that record how a run went (logs, locks, the card), not what it computed.
RUN_RECORDS = ("opensim.log", ".lock", "timing.json", "card", "README", "stats.json")
# What differs between any two runs, staged or not: when, how long and on how many workers
# (these keys are left out of JSON, tables and .npz metadata); everything else must be equal.
RUN_KEYS = ("_utc", "timings", "time_s", "seconds", "compute")


def digests(root: Path) -> dict[str, str]:
    """Per file of a run's folder, what it computed: the bytes (hashed) of data shards,
    models, motions and arrays; JSON, tables and .npz metadata without RUN_KEYS; the run's
    own folder path left out (payloads and setups name their files by absolute path)."""
    import pyarrow.parquet as pq

    out = {}
    here = [str(root.resolve()).encode(), str(root).encode()]
    for f in sorted(root.rglob("*")):
        rel = str(f.relative_to(root))
        if not f.is_file() or any(r in rel for r in RUN_RECORDS):
            continue
        data = f.read_bytes()
        for path in here:
            data = data.replace(path, b"<dataset>")
        if f.suffix == ".json":
            value = json.loads(data)
            if rel.startswith(layout.UNITS_DIR):  # a table's digest holds its solve times
                value = {**value, "tables": [t["name"] for t in value.get("tables", [])]}
            out[rel] = _canonical(value)
        elif f.suffix == ".parquet" and rel.startswith("tables/"):
            out[rel] = _canonical(pq.read_table(f).to_pylist())
        elif f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as arrays:  # a zip: its entries carry dates
                out[rel] = _canonical({k: str(arrays[k]) if arrays[k].dtype.kind == "U"
                                       else hashlib.sha256(arrays[k].tobytes()).hexdigest()
                                       for k in arrays.files})
        else:
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def _canonical(value) -> str:
    return json.dumps(_timeless(value), sort_keys=True, default=str)


def same_files(run: Path, staged: Path) -> None:
    a, b = digests(run), digests(staged)
    differ = [f"{k}: {_difference(a.get(k), b.get(k))}"
              for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    assert not differ, "\n".join(differ)
    assert any(k.startswith("data/activations") for k in a)  # the comparison saw the data


def _difference(a: str | None, b: str | None) -> str:
    """The fields in which two canonical JSON texts differ (or the two digests)."""
    def flat(value, at=""):
        if isinstance(value, dict):
            return {k: v for key, x in value.items() for k, v in flat(x, f"{at}.{key}").items()}
        if isinstance(value, list):
            return {k: v for i, x in enumerate(value) for k, v in flat(x, f"{at}[{i}]").items()}
        return {at: value}
    try:
        fa, fb = flat(json.loads(a)), flat(json.loads(b))
    except (TypeError, ValueError):
        return f"{a} != {b}"
    return "; ".join(f"{k}: {fa.get(k)!r} != {fb.get(k)!r}"
                     for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k))[:1500]


def _timeless(value):
    """`value` without RUN_KEYS, JSON text inside it read as JSON."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _timeless(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if not any(t in k for t in RUN_KEYS)}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value
