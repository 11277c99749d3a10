"""Factories for tiny datasets used by the format tests (no downloads, built in tmp dirs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec
from musclekit.dataset.atomic import file_sha256


def emg_spec(channels=("a", "b", "c")) -> StreamSpec:
    return StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=list(channels))


def write_emg_dataset(root: Path, n_sequences: int = 2, n_frames: int = 30) -> Path:
    writer = DatasetWriter.create_or_open(root, name="emg-test", streams=[emg_spec()])
    with writer.unit("u0", Provenance.for_stage("test")) as unit:
        for q in range(n_sequences):
            seq = SequenceInfo(id=f"seq{q}", subject_id="S01", label="Squat")
            t = np.arange(n_frames) / 10.0
            unit.write_sequence("emg", seq, t, np.random.default_rng(q).random((n_frames, 3)))
    return root


def rewrite_record(root: Path, unit_id: str, edit) -> None:
    """Apply `edit(dict)` to a completion record (to build damaged datasets on purpose)."""
    file = root / "meta" / "units" / f"{unit_id}.json"
    payload = json.loads(file.read_text())
    edit(payload)
    file.write_text(json.dumps(payload))


def refresh_shard_record(root: Path, unit_id: str, shard_rel: str) -> None:
    """After replacing a shard's bytes, make its record match so only deeper checks can fail."""
    file = root / shard_rel

    def edit(payload):
        for shard in payload["shards"]:
            if shard["path"] == shard_rel:
                shard["sha256"] = file_sha256(file)
                shard["n_bytes"] = file.stat().st_size

    rewrite_record(root, unit_id, edit)
