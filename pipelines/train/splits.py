"""Train / validation / test splits, as one split code per frame.

A window belongs to a split only if every one of its frames carries that split's code, so
training windows never overlap evaluation frames. Kinds:
- `random`: MIA's protocol. Each sequence is cut into consecutive blocks of one window;
  per (subject, exercise) a seeded random `test_fraction` of the blocks goes to test and
  `val_fraction` of the rest to validation.
- `clips`: the split align wrote in SequenceInfo.extra["clips"].
- `leave-exercise-out:LABEL` / `leave-subject-out:SUBJECT`: every sequence of that exercise
  (action label) or subject is test (out-of-distribution evaluation).
- `leave-source-out:NAME`: every sequence of that source dataset is test (leave one
  dataset out; with several datasets the source is the dataset's folder name).
- `file:PATH`: a JSON file {"train": [sequence ids], "val": [...], "test": [...]} or a CSV
  with columns sequence_id,split.
When a kind does not name validation frames, `val_fraction` of the training blocks are used.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.train.table import FrameTable

UNUSED, TRAIN, VAL, TEST = 0, 1, 2, 3
SPLIT_CODES = {"train": TRAIN, "val": VAL, "test": TEST}
KINDS = ("random", "clips", "leave-exercise-out", "leave-subject-out", "leave-source-out",
         "file")


@dataclass(frozen=True)
class SplitSpec:
    kind: str = "random"
    value: str | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def parse(cls, text: str, **kw: float | int) -> SplitSpec:
        """From the command-line form `KIND[:VALUE]`, e.g. `leave-subject-out:S03`."""
        kind, _, value = text.partition(":")
        if kind not in KINDS:
            raise InputError(
                f"unknown split {text!r}: use one of random, clips, leave-exercise-out:LABEL, "
                "leave-subject-out:SUBJECT, leave-source-out:SOURCE, file:PATH"
            )
        if kind in ("leave-exercise-out", "leave-subject-out", "leave-source-out",
                    "file") and not value:
            what = {"file": "PATH", "leave-source-out": "SOURCE"}.get(
                kind, "LABEL" if "exercise" in kind else "SUBJECT")
            raise InputError(f"split {kind!r} needs a value: write {kind}:{what}")
        return cls(kind=kind, value=value or None, **kw)  # type: ignore[arg-type]

    def describe(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


def _blocks(table: FrameTable, window_frames: int, seqs: np.ndarray) -> list[tuple[int, int, int]]:
    """(sequence, start row, end row) of consecutive one-window blocks of `seqs`."""
    out = []
    for i in seqs.tolist():
        lo, hi = int(table.offsets[i]), int(table.offsets[i + 1])
        for s in range(lo, hi, window_frames):
            out.append((i, s, min(s + window_frames, hi)))
    return out


def _carve(codes: np.ndarray, table: FrameTable, window_frames: int, seqs: np.ndarray,
           fraction: float, rng: np.random.Generator, take_from: int, give_to: int) -> None:
    """Move a random `fraction` of the `take_from` blocks of `seqs`, per (subject, label),
    to `give_to`."""
    groups: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for blk in _blocks(table, window_frames, seqs):
        i, lo, hi = blk
        if np.all(codes[lo:hi] == take_from):
            groups.setdefault((table.subject_ids[i], table.labels[i]), []).append(blk)
    for key in sorted(groups):
        blocks = groups[key]
        n_move = int(round(fraction * len(blocks)))
        if fraction > 0 and n_move == 0 and len(blocks) >= 3:
            n_move = 1  # short groups still contribute one block rather than none
        for j in rng.permutation(len(blocks))[:n_move]:
            _, lo, hi = blocks[j]
            codes[lo:hi] = give_to


def _read_split_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError(f"split file {path} does not exist")
    mapping: dict[str, str] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"split file {path}: invalid JSON at line {err.lineno}, column "
                             f"{err.colno}: {err.msg}") from err
        if not isinstance(data, dict):
            raise InputError(f"split file {path} must hold an object "
                             '{"train": [...], "val": [...], "test": [...]}')
        for split, ids in data.items():
            if split not in SPLIT_CODES or not isinstance(ids, list):
                raise InputError(f"split file {path}: key {split!r} must be one of train, val, "
                                 "test and map to a list of sequence ids")
            mapping.update({str(s): split for s in ids})
    else:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or {"sequence_id", "split"} - set(reader.fieldnames):
                raise InputError(f"split file {path} must be a CSV with columns "
                                 "sequence_id,split (or a .json file)")
            for line, row in enumerate(reader, start=2):
                if row["split"] not in SPLIT_CODES:
                    raise InputError(f"split file {path}, line {line}: split "
                                     f"{row['split']!r} is not one of train, val, test")
                mapping[row["sequence_id"]] = row["split"]
    return mapping


def assign_splits(table: FrameTable, spec: SplitSpec, window_frames: int) -> np.ndarray:
    """Split code per frame (N,) int8: 0 unused, 1 train, 2 val, 3 test."""
    codes = np.zeros(table.n_frames, dtype=np.int8)
    rng = np.random.default_rng(spec.seed)
    all_seqs = np.arange(len(table.sequence_ids))
    carve_val = True
    if spec.kind == "random":
        codes[:] = TRAIN
        _carve(codes, table, window_frames, all_seqs, spec.test_fraction, rng, TRAIN, TEST)
    elif spec.kind in ("leave-exercise-out", "leave-subject-out", "leave-source-out"):
        keys = {"leave-subject-out": table.subject_ids, "leave-exercise-out": table.labels,
                "leave-source-out": table.sources}[spec.kind]
        if spec.value not in keys:
            what = {"leave-subject-out": "subject", "leave-exercise-out": "exercise label",
                    "leave-source-out": "source"}[spec.kind]
            raise InputError(f"split {spec.describe()}: no sequence has {what} {spec.value!r}; "
                             f"the dataset has {sorted(set(keys))}")
        for i, key in enumerate(keys):
            codes[table.sequence_slice(i)] = TEST if key == spec.value else TRAIN
    elif spec.kind == "clips":
        if not any(table.clips):
            raise InputError("split 'clips': no sequence has extra['clips'] (written by "
                             "`musclekit align --clip-frames`); use --split random instead")
        for i, clips in enumerate(table.clips):
            sl = table.sequence_slice(i)
            t = table.time_s[sl]
            half = 0.5 / table.rate_hz
            for clip in clips:
                inside = (t >= clip.start_s - half) & (t <= clip.end_s + half)
                codes[sl][inside] = SPLIT_CODES[clip.split]
        carve_val = not np.any(codes == VAL)
    else:
        mapping = _read_split_file(Path(str(spec.value)))
        unknown = sorted(set(mapping) - set(table.sequence_ids))
        if unknown:
            raise InputError(f"split file {spec.value}: sequence ids not in the dataset: "
                             f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''}")
        for i, seq in enumerate(table.sequence_ids):
            if seq in mapping:
                codes[table.sequence_slice(i)] = SPLIT_CODES[mapping[seq]]
        carve_val = not np.any(codes == VAL)
    if carve_val:
        _carve(codes, table, window_frames, all_seqs, spec.val_fraction, rng, TRAIN, VAL)
    return codes
