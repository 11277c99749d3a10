"""The run folder: config, data description, normalisation, splits, checkpoints, history.

Layout (format `musclekit-train-run`, version RUN_FORMAT_VERSION):
    run.json            format marker, musclekit version, config, resolved data description,
                        status ("training" | "done"), best step
    normalization.json  per-feature statistics of the training split (inputs, targets)
    split_codes.npz     split code of every frame (0 unused, 1 train, 2 val, 3 test) per sequence
    checkpoints/last.pt model + optimiser state for resuming; checkpoints/best.pt best on val
    history.csv         step, train_loss, val_loss, elapsed_s per evaluation
    report/             metrics.csv, report.md and plots/ written by `musclekit evaluate`
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from musclekit._version import __version__
from musclekit.errors import InputError
from musclekit.pipelines.train.config import TrainConfig
from musclekit.pipelines.train.normalization import Normalizer
from musclekit.pipelines.train.sources import StreamChoice

RUN_FORMAT = "musclekit-train-run"
RUN_FORMAT_VERSION = 1
RUN_FILE = "run.json"
NORMALIZATION_FILE = "normalization.json"
SPLITS_FILE = "split_codes.npz"
HISTORY_FILE = "history.csv"
LAST_CHECKPOINT = "checkpoints/last.pt"
BEST_CHECKPOINT = "checkpoints/best.pt"
REPORT_DIR = "report"


@dataclass
class DataDescription:
    """What the trained model expects and produces; fixed when a run starts."""

    inputs: StreamChoice
    targets: StreamChoice
    rate_hz: float
    window_frames: int
    subjects: list[str]  # order of the subject-conditioning table
    bounded_output: bool  # sigmoid output, targets not normalised
    target_mean: list[float]  # per target feature, training split (constant baseline)

    def to_dict(self) -> dict:
        return {"inputs": self.inputs.to_dict(), "targets": self.targets.to_dict(),
                "rate_hz": self.rate_hz, "window_frames": self.window_frames,
                "subjects": self.subjects, "bounded_output": self.bounded_output,
                "target_mean": self.target_mean}

    @classmethod
    def from_dict(cls, d: dict) -> DataDescription:
        return cls(StreamChoice.from_dict(d["inputs"]), StreamChoice.from_dict(d["targets"]),
                   float(d["rate_hz"]), int(d["window_frames"]), list(d["subjects"]),
                   bool(d["bounded_output"]), list(d["target_mean"]))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class RunFolder:
    """A training run on disk."""

    def __init__(self, path: Path, meta: dict) -> None:
        self.path = path
        self.meta = meta

    # -- creation and opening -------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: TrainConfig, data: DataDescription,
               input_norm: Normalizer, target_norm: Normalizer) -> RunFolder:
        if path.exists() and any(path.iterdir()):
            raise InputError(f"{path} is a non-empty folder that is not a training run; "
                             "choose a new --out folder")
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        meta = {
            "format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION,
            "musclekit_version": __version__,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "training", "best_step": None,
            "config": config.model_dump(), "data": data.to_dict(),
        }
        run = cls(path, meta)
        _atomic_write(path / NORMALIZATION_FILE, json.dumps(
            {"inputs": input_norm.to_dict(), "targets": target_norm.to_dict()}))
        run.save_meta()
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing run; runs of another format version are refused."""
        path = Path(path)
        file = path / RUN_FILE
        if not file.is_file():
            raise InputError(f"{path} is not a training run: {RUN_FILE} is missing "
                             "(a run is the folder `musclekit train --out` wrote)")
        try:
            meta = json.loads(file.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{file} is not valid JSON (line {err.lineno}, column {err.colno}: "
                             f"{err.msg}); the run folder is damaged: retrain") from err
        if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
            raise InputError(f"{file} is not a musclekit training run (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
        version = meta.get("format_version")
        if version != RUN_FORMAT_VERSION:
            raise InputError(
                f"run {path} has run format version {version!r} (written by musclekit "
                f"{meta.get('musclekit_version', '?')}); this musclekit {__version__} reads "
                f"version {RUN_FORMAT_VERSION} only. Retrain it with this version "
                f"(`musclekit train ... --out NEW_RUN`) or use musclekit "
                f"{meta.get('musclekit_version', '?')}")
        return cls(path, meta)

    def save_meta(self) -> None:
        _atomic_write(self.path / RUN_FILE, json.dumps(self.meta, indent=2))

    # -- contents -------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        return TrainConfig.model_validate(self.meta["config"])

    @property
    def data(self) -> DataDescription:
        return DataDescription.from_dict(self.meta["data"])

    def normalizers(self) -> tuple[Normalizer, Normalizer]:
        d = json.loads((self.path / NORMALIZATION_FILE).read_text())
        return Normalizer.from_dict(d["inputs"]), Normalizer.from_dict(d["targets"])

    def save_splits(self, sequence_ids: list[str], offsets: np.ndarray, codes: np.ndarray) -> None:
        np.savez_compressed(self.path / SPLITS_FILE, sequence_ids=np.asarray(sequence_ids),
                            offsets=offsets, codes=codes)

    def load_splits(self) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        file = self.path / SPLITS_FILE
        if not file.is_file():
            return None
        z = np.load(file)
        return [str(s) for s in z["sequence_ids"]], z["offsets"], z["codes"]

    def file(self, name: str) -> Path:
        return self.path / name
