"""What every importer shares: checking the source, putting irregular times on a regular
grid without inventing values, naming ids, writing one unit per sequence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, SubjectInfo
from musclekit.errors import InputError

STAGE = "import"


@dataclass(frozen=True)
class ImportOptions:
    """Options every kind understands. `source` names the source dataset in
    SequenceInfo.source (default: the kind); `subject` overrides the subject id where the
    source has none (OpenCap sessions without metadata)."""

    source: str | None = None
    subject: str | None = None
    limit: int | None = None  # import at most this many sequences (a quick look)


@dataclass
class ImportResult:
    out: Path
    kind: str
    format_version: str
    written: list[str] = field(default_factory=list)  # sequence ids written now
    skipped: list[str] = field(default_factory=list)  # units already done
    streams: list[str] = field(default_factory=list)


def safe_id(text: str) -> str:
    """A musclekit id (letters, digits, `_ . -`, starting with a letter or digit)."""
    out = re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(text)).strip("_.-")
    return out or "unnamed"


def require_path(src: Path, kind: str, folder: bool) -> Path:
    if not src.exists():
        raise InputError(f"import {kind}: {src} does not exist; give the "
                         f"{'folder' if folder else 'file or folder'} the {kind} data is in")
    if folder and not src.is_dir():
        raise InputError(f"import {kind}: {src} is a file; {kind} imports a folder")
    return src


def on_grid(time_s: np.ndarray, values: np.ndarray, rate_hz: float, where: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """Samples at irregular or gapped times onto the regular grid `t0 + k / rate_hz`.

    A sample lands on the nearest grid time (it must be within a quarter step: a source
    whose times are off its own nominal rate is refused, nothing is resampled); grid times
    without a sample stay NaN, i.e. MISSING gaps. Returns (grid (K,), values (K, ...))."""
    time_s = np.asarray(time_s, dtype=np.float64)
    if time_s.size == 0:
        raise InputError(f"{where}: no frames")
    if not np.all(np.isfinite(time_s)) or (time_s.size > 1 and np.any(np.diff(time_s) <= 0)):
        raise InputError(f"{where}: times are not finite and strictly increasing")
    k = np.rint((time_s - time_s[0]) * rate_hz).astype(np.int64)
    off = np.abs((time_s - time_s[0]) * rate_hz - k)
    if np.any(off > 0.25) or (k.size > 1 and np.any(np.diff(k) == 0)):
        bad = int(np.argmax(off > 0.25)) if np.any(off > 0.25) else int(np.argmax(np.diff(k) == 0))
        raise InputError(f"{where}: frame {bad} at {time_s[bad]:.4f} s is not on the "
                         f"{rate_hz:g} Hz grid of the sequence; the source is not at its "
                         "documented rate")
    grid = time_s[0] + np.arange(int(k[-1]) + 1) / rate_hz
    out = np.full((grid.size,) + values.shape[1:], np.nan, dtype=np.float32)
    out[k] = values
    return grid, out


def open_writer(out: Path, kind: str, streams: Iterable[StreamSpec],
                subjects: Iterable[SubjectInfo] = (), description: str = "") -> DatasetWriter:
    return DatasetWriter.create_or_open(out, name=out.name, streams=list(streams),
                                        description=description or f"imported from {kind}",
                                        subjects=list(subjects))


def provenance(kind: str, format_version: str, src: Path, inputs: list[Path],
               **config: object) -> Provenance:
    return Provenance.for_stage(STAGE, config={"kind": kind, "format_version": format_version,
                                               "source": str(src), **config},
                                inputs=[str(p) for p in inputs])


def sequence(seq_id: str, subject: str, source: str, label: str | None = None,
             **extra: object) -> SequenceInfo:
    return SequenceInfo(id=safe_id(seq_id), subject_id=safe_id(subject), source=source,
                        label=label, extra={k: v for k, v in extra.items() if v is not None})


def sex_code(text: object) -> str | None:
    s = str(text or "").strip().lower()
    if s in ("f", "female", "woman", "w"):
        return "F"
    if s in ("m", "male", "man"):
        return "M"
    return "U" if s else None


def positive(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v > 0 else None
