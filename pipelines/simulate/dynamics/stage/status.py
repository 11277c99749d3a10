"""What a dynamics run has done so far, read from the chunk reports on disk (works while a
run is going on) and from the dataset's finished units."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from musclekit.errors import InputError


@dataclass
class SequenceStatus:
    sequence_id: str
    method: str
    converged: int = 0
    failed: int = 0
    running: int = 0  # started (payload written), no report yet
    solve_times_s: list[float] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # chunk, reason, log, opensim_log
    written: bool = False
    analysed_s: float | None = None
    gap_s: float | None = None


def run_status(dataset_path: str | Path) -> list[SequenceStatus]:
    """Per sequence and method: converged / failed / running chunks, failure reasons and
    logs, and whether the stitched sequence is in the dataset."""
    root = Path(dataset_path)
    if not root.is_dir():
        raise InputError(f"dataset folder not found: {root}; give the folder a `musclekit "
                         "simulate` run wrote (its --out), or run one")
    written: dict[str, dict] = {}
    try:
        from musclekit.dataset import open_dataset

        ds = open_dataset(root)
        for seq_id, seq in ds.sequences.items():
            if "dynamics" in seq.extra:
                written[seq_id] = seq.extra["dynamics"]
    except Exception as err:  # noqa: BLE001 - status still shows chunk progress of a new dataset
        if (root / "meta").exists():
            raise InputError(f"cannot read dataset {root}: {err}") from err
    out = []
    for method_dir in sorted(root.glob("opensim/*/dynamics/*")):
        seq_id, method = method_dir.parent.parent.name, method_dir.name
        st = SequenceStatus(sequence_id=seq_id, method=method)
        reports = {p.name[: -len(".json")] for p in method_dir.glob("chunk????.json")}
        payloads = {p.name[: -len(".payload.json")] for p in method_dir.glob("chunk????.payload.json")}
        st.running = len(payloads - reports)
        for name in sorted(reports):
            rep = json.loads((method_dir / f"{name}.json").read_text())
            if rep["status"] == "converged":
                st.converged += 1
                st.solve_times_s.append(float(rep["solve_time_s"]))
            else:
                st.failed += 1
                st.failures.append({"chunk": name, "reason": rep["reason"],
                                    "log": str(method_dir / f"{name}.log"),
                                    "opensim_log": str(method_dir / f"{name}.opensim.log")})
        info = written.get(seq_id)
        if info and info.get("method") == method:
            st.written = True
            st.analysed_s = info.get("analysed_s")
            st.gap_s = sum(b - a for a, b in info.get("gaps_s", []))
        out.append(st)
    return out
