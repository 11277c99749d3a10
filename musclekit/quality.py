"""Quality a user must hear about: checks of inputs before any work, and of datasets after.

- `check_trc_units` / `marker_mismatch`: a marker file whose numbers cannot be a human in the
  units it declares (a TRC in mm labelled `m`: markers hundreds of metres apart), and markers
  the model has that the file lacks (or the other way round), found before any processing.
- `dataset_quality`: what a finished dataset says about its own quality (stand-in body,
  share of flagged frames, implausible IK errors, markers without values, subjects without
  mass, failed dynamics chunks, empty clip splits). `musclekit inspect` and
  `musclekit validate` print these as warnings (`validate --strict` exits 1 on any), and
  `simulate` prints them at the end of its run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

# A standing adult fits in a 2.5 m box; markers further apart than this in one frame are
# not one human in metres. Below MIN_SPAN_M all markers sit within a few centimetres: a file
# in metres labelled mm.
MAX_SPAN_M = 4.0
MIN_SPAN_M = 0.2
# Share of flagged frames above which a sequence gets a warning.
FLAGGED_WARN_SHARE = 0.2
# IK marker RMS error that no real fit reaches: the markers' units (or the model) are wrong.
IMPLAUSIBLE_IK_RMS_M = 0.1
LIST_AT_MOST = 5


def _some(items: list[str]) -> str:
    head = ", ".join(items[:LIST_AT_MOST])
    return head + (f" and {len(items) - LIST_AT_MOST} more" if len(items) > LIST_AT_MOST else "")


def marker_span_m(positions: np.ndarray) -> float:
    """Median over frames of the largest extent (bounding-box diagonal) of the markers (m)."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[0] == 0 or pos.shape[1] < 2:
        return float("nan")
    lo, hi = np.nanmin(pos, axis=1), np.nanmax(pos, axis=1)
    return float(np.nanmedian(np.linalg.norm(hi - lo, axis=1)))


def check_trc_units(path: Path, positions_m: np.ndarray, declared: str | None = None) -> None:
    """Refuse marker positions (already converted to metres by the reader) that cannot be
    a human body in the units the file declares."""
    span = marker_span_m(positions_m)
    if not np.isfinite(span):
        return
    units = f"'{declared}'" if declared else "its Units"
    if span > MAX_SPAN_M:
        raise InputError(
            f"{path}: the markers are {span:.0f} m apart in a typical frame, which cannot be "
            f"one person: the numbers are not in the units the file declares ({units}). If "
            f"they are millimetres, set Units to mm on line 3 of the file; nothing was written")
    if span < MIN_SPAN_M:
        raise InputError(
            f"{path}: the markers are only {100 * span:.1f} cm apart in a typical frame, which "
            f"cannot be a whole person: the numbers are not in the units the file declares "
            f"({units}). If they are metres, set Units to m on line 3; nothing was written")


def trc_declared_units(path: Path) -> str | None:
    """The Units value of a TRC header (line 3, fifth field), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [fh.readline() for _ in range(3)]
        keys = lines[1].rstrip("\r\n").split("\t")
        values = lines[2].rstrip("\r\n").split("\t")
        return values[keys.index("Units")].strip() or None
    except (OSError, ValueError, IndexError):
        return None


def model_marker_names(model_path: Path) -> list[str]:
    """Names of the markers of an OpenSim model (loads OpenSim)."""
    from musclekit.pipelines.simulate.opensim_model import load_model

    model = load_model(Path(model_path))
    markers = model.getMarkerSet()
    return [markers.get(i).getName() for i in range(markers.getSize())]


@dataclass(frozen=True)
class MarkerMismatch:
    missing: list[str]  # in the model, not in the file: IK cannot use them
    unknown: list[str]  # in the file, not in the model: ignored by IK
    used: list[str]

    def messages(self, trc: Path, model: Path) -> list[str]:
        out = []
        if self.missing:
            out.append(f"{trc}: {len(self.missing)} of the {len(self.missing) + len(self.used)} "
                       f"markers of {model.name} are missing from the file ({_some(self.missing)}); "
                       "inverse kinematics runs on the other markers, so the segments they "
                       "would place are less constrained")
        if self.unknown:
            out.append(f"{trc}: {len(self.unknown)} marker(s) of the file are not in "
                       f"{model.name} and are ignored ({_some(self.unknown)})")
        return out


def marker_mismatch(trc_names: list[str], model_names: list[str], trc: Path, model: Path
                    ) -> MarkerMismatch:
    """Compare the file's markers with the model's; refuse when none is shared."""
    have = set(trc_names)
    used = [n for n in model_names if n in have]
    if not used:
        raise InputError(f"{trc}: none of its {len(trc_names)} markers ({_some(list(trc_names))}) "
                         f"is a marker of the model {model} ({_some(model_names)}); "
                         "name the markers as in the model, or pass the model they belong to "
                         "with --model; nothing was written")
    return MarkerMismatch([n for n in model_names if n not in have],
                          [n for n in trc_names if n not in set(model_names)], used)


# ------------------------------------------------------------------------------------
# datasets


@dataclass(frozen=True)
class QualityWarning:
    kind: str  # standin_body | flagged_frames | implausible_units | missing_markers |
    #            no_mass | failed_chunks | empty_split
    where: str
    message: str


def dataset_quality(path_or_dataset, read_values: bool = True) -> list[QualityWarning]:
    """Quality warnings of a dataset (see module docstring). read_values=False skips the
    checks that read shards (markers without values): metadata only, instant."""
    from musclekit.dataset.reader import Dataset, open_dataset

    ds = path_or_dataset if isinstance(path_or_dataset, Dataset) else open_dataset(path_or_dataset)
    out: list[QualityWarning] = []
    standin, flagged, implausible = [], [], []
    for seq_id, seq in sorted(ds.sequences.items()):
        kin = (seq.extra or {}).get("kinematics") or {}
        kind = str(kin.get("body_model_kind") or "")
        if kind.startswith("standin"):
            standin.append(seq_id)
        frames, n_flagged = kin.get("frames"), kin.get("flagged_frames")
        if isinstance(frames, int) and frames > 0 and isinstance(n_flagged, int):
            share = n_flagged / frames
            if share > FLAGGED_WARN_SHARE:
                flagged.append((seq_id, share, kin.get("flag_rms_m"), kin.get("flag_max_m")))
        rms = kin.get("ik_rms_mean_m")
        if isinstance(rms, int | float) and np.isfinite(rms) and rms > IMPLAUSIBLE_IK_RMS_M:
            implausible.append((seq_id, float(rms)))
    if standin:
        out.append(QualityWarning(
            "standin_body", _some(standin),
            f"{len(standin)} sequence(s) were simulated with musclekit's procedural stand-in "
            "body, not the licensed SMPL-H model: markers, scaling and everything after are "
            f"not a real subject's ({_some(standin)}); rerun with --body-model DIR for real data"))
    for seq_id, share, rms_m, max_m in flagged:
        limits = (f" (IK marker RMS above {1000 * rms_m:.0f} mm or largest error above "
                  f"{1000 * max_m:.0f} mm)" if isinstance(rms_m, int | float)
                  and isinstance(max_m, int | float) else "")
        out.append(QualityWarning(
            "flagged_frames", seq_id,
            f"{100 * share:.0f} % of the frames of sequence {seq_id} are flagged{limits}; "
            "training leaves flagged frames out unless --keep-flagged"))
    for seq_id, rms in implausible:
        out.append(QualityWarning(
            "implausible_units", seq_id,
            f"sequence {seq_id}: IK marker RMS error {rms:.3g} m, which no real fit has: the "
            "marker units are implausible (a file in mm labelled m?) or the model does not "
            "match the markers"))
    for name, spec in ds.streams.items():
        if spec.family != "markers" or not read_values:
            continue
        for seq_id in ds.sequence_ids(name):
            try:
                arr = ds.sequence_array(name, seq_id)
            except Exception:  # noqa: BLE001 - unreadable shards are validate's finding
                continue
            values = arr.values.reshape(arr.values.shape[0], len(arr.channels), -1)
            empty = [c for i, c in enumerate(arr.channels)
                     if not np.isfinite(values[:, i]).any()]
            if empty:
                out.append(QualityWarning(
                    "missing_markers", seq_id,
                    f"sequence {seq_id}: {len(empty)} marker(s) of stream {name!r} have no "
                    f"value in any frame ({_some(empty)})"))
    no_mass = sorted(s for s, info in ds.subjects.items()
                     if info.mass_kg is None and any(q.subject_id == s and (q.extra or {}).get(
                         "kinematics") for q in ds.sequences.values()))
    if no_mass:
        out.append(QualityWarning(
            "no_mass", _some(no_mass),
            f"subject(s) {_some(no_mass)} have no mass in the dataset (marker input gives "
            "none): forces and dynamics scale with it"))
    try:
        chunks = ds.read_table("chunks")
    except Exception:  # noqa: BLE001 - a damaged table is inspect's and validate's finding
        chunks = None
    if chunks is not None and chunks.height and {"sequence_id", "status"} <= set(chunks.columns):
        for seq_id in sorted(set(chunks["sequence_id"].to_list())):
            rows = chunks.filter(chunks["sequence_id"] == seq_id)
            failed = int((rows["status"] != "converged").sum())
            if failed:
                out.append(QualityWarning(
                    "failed_chunks", seq_id,
                    f"sequence {seq_id}: {failed} of {rows.height} muscle-driven chunks failed "
                    "(their time is a gap; `musclekit status` gives the reasons)"))
    splits: dict[str, int] = {"train": 0, "val": 0, "test": 0}
    has_clips = False
    for seq in ds.sequences.values():
        for clip in (seq.extra or {}).get("clips") or []:
            if isinstance(clip, dict) and clip.get("split") in splits:
                has_clips = True
                splits[clip["split"]] += 1
    if has_clips:
        for split in ("train", "test"):
            if splits[split] == 0:
                out.append(QualityWarning(
                    "empty_split", split,
                    f"the dataset's clips hold no {split} clip ({splits['train']} train, "
                    f"{splits['val']} val, {splits['test']} test): `musclekit train --split "
                    "clips` cannot use it"))
    return out
