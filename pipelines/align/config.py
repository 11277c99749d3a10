"""Typed options of `musclekit align`: per run (`AlignConfig`), per capture (`Capture`), and
the TOML session file that lists many captures (docs/align.md shows one)."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from musclekit.emg import EmgProcessing
from musclekit.errors import InputError
from musclekit.pipelines.align.emg_csv import EmgCsvOptions
from musclekit.pipelines.align.offset import DriftConfig, RefineConfig


@dataclass
class AlignConfig:
    """How captures are aligned.

    fps: output grid rate (Hz). frame_tolerance_s / emg_tolerance_s: how far the nearest
    video frame / sEMG sample may be from a grid time (None: 1.5 native frame intervals capped
    below half a grid step / 0.75 of the larger of grid step and sEMG sample period).
    clip_frames: cut MIA windows of this many rows (None: no clips); clip_max_missing:
    incomplete rows a window may hold; split_seed, test_fraction: the seeded split.
    write_video: also write the 10 fps clip; qc: write the QC PNG and JSON.
    motion_width: width (px) of the subsampled luma used for motion energy.
    threads: decode with FFmpeg's frame threads.
    emg_kind: `auto` (decided per recording from rate and content), `raw` or `envelope`.
    emg_processing: the raw sEMG chain (band-pass, notch, envelope cut-off, order).
    emd_s: electromechanical delay allowed for in the offset refinement (s): sEMG leads the
    motion it causes, so the correlation peak sits that much early. None: 0.05 s for
    envelopes align computes from raw sEMG (zero lag), 0 for sensor envelopes (their
    on-sensor smoothing lags by a comparable amount; MIA-style input is unchanged).
    write_raw: keep raw sEMG at its native rate in the `emg_raw` stream.
    """

    fps: float = 10.0
    refine: RefineConfig = field(default_factory=RefineConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    frame_tolerance_s: float | None = None
    emg_tolerance_s: float | None = None
    clip_frames: int | None = None
    clip_max_missing: int = 0
    split_seed: int = 0
    test_fraction: float = 0.2
    write_video: bool = False
    qc: bool = True
    motion_width: int = 96
    emg_units: str | None = None
    threads: bool = True
    emg_kind: str = "auto"
    emg_processing: EmgProcessing = field(default_factory=EmgProcessing)
    emd_s: float | None = None
    write_raw: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"--fps {self.fps}: the grid rate must be a positive number of "
                             "frames per second, e.g. --fps 10 (MIA's rate)")
        if self.clip_frames is not None and self.clip_frames < 1:
            raise InputError(f"--clip-frames {self.clip_frames}: must be at least 1")
        if not 0.0 <= self.test_fraction < 1.0:
            raise InputError(f"test fraction {self.test_fraction}: must be in [0, 1)")
        if not (math.isfinite(self.refine.max_lag_s) and self.refine.max_lag_s > 0):
            raise InputError(f"--max-lag {self.refine.max_lag_s}: must be positive")
        if self.emg_kind not in ("auto", "raw", "envelope"):
            raise InputError(f"--emg-kind {self.emg_kind!r}: use auto, raw or envelope")
        if self.emd_s is not None and not 0.0 <= self.emd_s <= 0.3:
            raise InputError(
                f"--emd-ms {self.emd_s * 1e3:g}: the electromechanical delay is 0-300 ms (typically "
                "10-100 ms between sEMG onset and force)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str) -> AlignConfig:
        data = dict(data)
        refine = RefineConfig(**_pick(data.pop("refine", {}) or {}, RefineConfig, f"{where} [align.refine]"))
        drift = DriftConfig(**_pick(data.pop("drift", {}) or {}, DriftConfig, f"{where} [align.drift]"))
        proc = dict(_pick(data.pop("emg_processing", {}) or {}, EmgProcessing,
                          f"{where} [align.emg_processing]"))
        if "band_hz" in proc:
            proc["band_hz"] = tuple(proc["band_hz"])
        proc.setdefault("band_auto", "band_hz" not in proc)  # the default band adapts to slow devices
        return cls(refine=refine, drift=drift, emg_processing=EmgProcessing(**proc),
                   **_pick(data, cls, f"{where} [align]"))


def _pick(data: dict[str, Any], kind: type, where: str) -> dict[str, Any]:
    known = {f.name for f in fields(kind)} - {"refine", "drift", "emg_processing"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return data


_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(text: str) -> str:
    """A dataset-safe id (letters, digits, '_', '.', '-', starting with a letter or digit)."""
    out = _ID_BAD.sub("_", text).strip("_.-")
    return out or "capture"


@dataclass
class Capture:
    """One capture: an sEMG file and a video of the same exercise bout.

    video_start: ISO time of the first video frame, overriding the file's creation time
    (naive times are read in the sEMG time zone `emg.tz`, else UTC). offset_s: added by hand
    to the video times (s), before any refinement.
    """

    emg_path: Path
    video_path: Path
    subject: str = "S01"
    exercise: str = "unknown"
    sequence_id: str | None = None
    video_start: str | None = None
    offset_s: float = 0.0
    emg: EmgCsvOptions = field(default_factory=EmgCsvOptions)

    def __post_init__(self) -> None:
        # A NaN or infinite offset would put every video time at NaN (a date in 1734 in
        # the messages, numpy warnings); a year-sized one is a typo, not a clock offset.
        if not math.isfinite(self.offset_s) or abs(self.offset_s) > 366 * 86400:
            raise InputError(
                f"--offset {self.offset_s}: give the seconds to add to the video times as a "
                "finite number within a year, e.g. --offset 3600 (video clock one hour "
                "behind the sEMG clock) or --offset -0.5")

    @property
    def id(self) -> str:
        if self.sequence_id:
            return safe_id(self.sequence_id)
        return safe_id(f"{self.subject}_{self.exercise}_{Path(self.video_path).stem}")


@dataclass
class Session:
    config: AlignConfig
    captures: list[Capture]


_CAPTURE_KEYS = {"emg", "video", "subject", "exercise", "sequence_id", "video_start", "offset_s",
                 "sensor_config", "emg_options"}


def load_session(path: Path) -> Session:
    """Read a session TOML: `[align]` options, `[emg]` reader options (or `sensor_config`),
    and one `[[capture]]` table per clip; relative paths are relative to the session file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"session file {path} does not exist; check the path (docs/align.md "
                         "shows a session file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"session file {path} is not valid TOML: {err}; fix that line "
                         "(docs/align.md shows a session file)") from err
    except UnicodeDecodeError as err:
        raise InputError(f"session file {path} is not text (byte {err.start} is not UTF-8): give "
                         "the TOML session file (docs/align.md shows one)") from err
    unknown = sorted(set(data) - {"align", "emg", "sensor_config", "capture"})
    if unknown:
        raise InputError(f"session file {path}: unknown table(s) {', '.join(unknown)}; "
                         "known: align, emg, sensor_config, capture")
    base = path.parent
    config = AlignConfig.from_mapping(data.get("align", {}), str(path))
    emg_defaults: dict[str, Any] = {}
    if "sensor_config" in data:
        emg_defaults = asdict(EmgCsvOptions.from_toml(base / data["sensor_config"]))
    emg_defaults.update(data.get("emg", {}))
    EmgCsvOptions.from_mapping(emg_defaults, where=f"session file {path} [emg]")
    captures = []
    entries = data.get("capture", [])
    if not entries:
        raise InputError(f"session file {path} lists no [[capture]] tables; add one per "
                         "capture, with its emg and video paths (docs/align.md shows one)")
    for i, entry in enumerate(entries, start=1):
        where = f"session file {path}, capture {i}"
        bad = sorted(set(entry) - _CAPTURE_KEYS)
        if bad:
            raise InputError(f"{where}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(_CAPTURE_KEYS))}")
        for key in ("emg", "video"):
            if key not in entry:
                raise InputError(f"{where}: the {key!r} path is missing")
        options = dict(emg_defaults)
        if "sensor_config" in entry:
            options = asdict(EmgCsvOptions.from_toml(base / entry["sensor_config"]))
        options.update(entry.get("emg_options", {}))
        captures.append(Capture(
            emg_path=(base / entry["emg"]).resolve(),
            video_path=(base / entry["video"]).resolve(),
            subject=str(entry.get("subject", "S01")),
            exercise=str(entry.get("exercise", "unknown")),
            sequence_id=entry.get("sequence_id"),
            video_start=entry.get("video_start"),
            offset_s=float(entry.get("offset_s", 0.0)),
            emg=EmgCsvOptions.from_mapping(options, where=where),
        ))
    ids = [c.id for c in captures]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"session file {path}: several captures get the sequence id(s) "
                         f"{', '.join(dupes)}; give them distinct sequence_id values")
    return Session(config=config, captures=captures)
